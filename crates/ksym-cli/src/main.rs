//! `ksym`: the command, without the subcommands that need the heavy crates
//! (it hands those to `ksym-full`; see the crate documentation).
//!
//! It starts without std's runtime set-up (`no_main`): a one-shot `ksym
//! addr` is mostly start-up, and that set-up reads and parses
//! `/proc/self/maps` to find the main thread's stack guard (a seventh of
//! the run's instructions). What else it does is done here: `SIGPIPE`
//! ignored (a closed pipe is an error that each command handles), panics
//! caught (status 101), standard output flushed at exit. Arguments and
//! the environment std reads from glibc's start-up either way.

// Not under `cargo test`, whose harness brings its own `main`.
#![cfg_attr(not(test), no_main)]

use std::ffi::c_int;
use std::process::ExitCode;

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const std::ffi::c_char) -> c_int {
    ignore_sigpipe();
    let code = std::panic::catch_unwind(ksym_cli::run_command::<false>).map_or(101, status);
    // Runs std's clean-up (standard output flushed) before exiting.
    std::process::exit(code)
}

/// `code`'s exit status (an `ExitCode` says it only to the runtime).
#[cfg_attr(test, allow(dead_code))]
fn status(code: ExitCode) -> c_int {
    (0..=u8::MAX)
        .find(|k| ExitCode::from(*k) == code)
        .map_or(1, c_int::from)
}

/// As std's runtime does: writes to a closed pipe fail with `EPIPE`.
#[cfg_attr(test, allow(dead_code))]
fn ignore_sigpipe() {
    const SIGPIPE: c_int = 13;
    const SIG_IGN: usize = 1;
    unsafe extern "C" {
        fn signal(signum: c_int, handler: usize) -> usize;
    }
    // SAFETY: glibc's `signal`, setting a disposition (no handler of ours
    // runs); called before any other thread exists.
    unsafe {
        signal(SIGPIPE, SIG_IGN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exit_code_keeps_its_status() {
        for k in 0..=u8::MAX {
            assert_eq!(status(ExitCode::from(k)), c_int::from(k));
        }
        assert_eq!(status(ExitCode::SUCCESS), 0);
        assert_eq!(status(ExitCode::FAILURE), 1);
    }
}
