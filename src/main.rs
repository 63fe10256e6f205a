// jemalloc, with its background threads returning freed memory to the OS. At 1M orders, side
// by side with mimalloc (returning memory after 10 ms) and glibc malloc, it gave the lowest
// peak RSS and the shortest time; the checks under a 200M limit peaked at 380 MiB against
// mimalloc's 861 MiB (bench/NOTES.md has the measurements).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    std::process::exit(ordertrail::cli::main());
}

#[cfg(test)]
mod tests {
    /// The memory figures above were measured with background purging; without it jemalloc
    /// returns freed memory only from inside later allocations and frees.
    #[test]
    fn jemalloc_purges_in_background_threads() {
        let enabled = tikv_jemalloc_ctl::opt::background_thread::read()
            .expect("jemalloc answers mallctl(opt.background_thread)");
        assert!(enabled, "jemalloc was built without background_thread:true");
    }
}
