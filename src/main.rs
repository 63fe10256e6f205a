// mimalloc, as datafusion-cli uses: at 1M orders every stage ran 4-15% faster than with glibc
// malloc (the README's performance section has the measurement).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tune_allocator();
    std::process::exit(ordertrail::cli::main());
}

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_t`, mimalloc.h of the v3
/// sources that libmimalloc-sys 0.1.49 builds; the test below checks it by its default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds mimalloc keeps freed memory before returning it to the OS. mimalloc 3 waits
/// 1000 ms, and DataFusion frees hundreds of MB a second: at 1M orders under 2G the process
/// peaked at 2100 MiB (session_fill) and the checks started from 780 MiB of freed memory. With
/// 10 ms (mimalloc 2's default) the peak was 1746 MiB and the checks started from 504 MiB,
/// for 3-11% more time in the stages; 0 saved little more, for 14-23%. The runs are in the
/// README's performance section.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Return freed memory to the OS sooner, unless MIMALLOC_PURGE_DELAY says otherwise.
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's global options; any value is valid.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_delay_is_the_option_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads one of mimalloc's global options.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // 1000 is purge_delay's default in mimalloc 3 and no other option's: a different
        // libmimalloc-sys that moved the option fails here, not silently.
        assert_eq!(
            get(),
            1000,
            "option {MI_OPTION_PURGE_DELAY} is not purge_delay"
        );
        tune_allocator();
        assert_eq!(get(), PURGE_DELAY_MS);
    }
}
