// mimalloc, as datafusion-cli uses: at 1M orders every stage ran 4-15% faster than with glibc
// malloc (the README's performance section has the measurement).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(ordertrail::cli::main());
}
