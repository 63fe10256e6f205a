fn main() {
    std::process::exit(ordertrail::cli::main());
}
