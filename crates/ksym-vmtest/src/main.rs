//! `ksym-vmtest`: scenarios run against the live kernel this program runs
//! on, through the `ksym` library (not the CLI). Used in the guest of
//! `scripts/vm-tests.sh`, and runnable on any host, where the scenarios that
//! cannot run there say `SKIP` and why.
//!
//! ```text
//! ksym-vmtest [--guest] [--ksym PATH] [--state DIR] PREFIX [SCENARIO...]
//! ```
//!
//! Prints `KSYM-TEST PASS PREFIX/NAME`, `KSYM-TEST FAIL PREFIX/NAME: why` or
//! `KSYM-TEST SKIP PREFIX/NAME: why` for each scenario (all, or the ones
//! named), with `KSYM-INFO` lines of measurements; exits 1 when one failed,
//! 2 on a usage error. `--guest` allows changing the kernel: `insmod` and
//! `rmmod` (busybox's, from `PATH`) of the `dummy` and `loop` modules found
//! through `/lib/modules/$(uname -r)/modules.dep`, a BPF program, SysRq
//! triggers, `kptr_restrict`. Without it, only what reads the kernel runs.
//! `--ksym` names the `ksym` binary the CLI scenarios run; `--state` a
//! directory kept across boots (the cache-across-boots scenario).

mod agent;
mod boots;
mod bpf;
mod bpf_lines;
mod cli;
mod guest_lines;
mod kernel;
mod lifecycle;
mod report;
mod restrict;
mod scenarios;
mod symbols;
mod traces;

use std::process::ExitCode;

use report::Reporter;
use scenarios::{Options, SCENARIOS};

const USAGE: &str = "usage: ksym-vmtest [--guest] [--ksym PATH] [--state DIR] PREFIX [SCENARIO...]";

fn main() -> ExitCode {
    let mut opts = Options::default();
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--guest" => opts.guest = true,
            "--ksym" | "--state" => {
                let Some(v) = args.next() else {
                    eprintln!("ksym-vmtest: {arg} needs a path\n{USAGE}");
                    return ExitCode::from(2);
                };
                let v = Some(std::path::PathBuf::from(v));
                if arg == "--ksym" {
                    opts.ksym = v;
                } else {
                    opts.state = v;
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}\nscenarios:");
                for (name, about, _) in SCENARIOS {
                    println!("  {name:20} {about}");
                }
                return ExitCode::SUCCESS;
            }
            a if a.starts_with('-') => {
                eprintln!("ksym-vmtest: unknown option {a}\n{USAGE}");
                return ExitCode::from(2);
            }
            _ => rest.push(arg),
        }
    }
    let Some(prefix) = rest.first().cloned() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let wanted = &rest[1..];
    if let Some(bad) = wanted
        .iter()
        .find(|w| !SCENARIOS.iter().any(|(n, _, _)| n == w))
    {
        eprintln!("ksym-vmtest: no scenario {bad}\n{USAGE}");
        return ExitCode::from(2);
    }
    let mut out = Reporter::new(prefix, std::io::stdout());
    scenarios::run(&opts, wanted, &mut out);
    eprintln!(
        "ksym-vmtest: {} passed, {} failed, {} skipped",
        out.passed(),
        out.failed(),
        out.skipped()
    );
    if out.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
