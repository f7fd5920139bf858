//! Finds debug info from the command line, with elfutils' environment
//! (`DEBUGINFOD_URLS`, `DEBUGINFOD_CACHE_PATH`, ...) and, after `--root
//! DIR`, another root:
//!
//! ```text
//! cargo run -p ksym-debuginfo --example find -- vmlinux "$(uname -r)" [BUILD-ID]
//! cargo run -p ksym-debuginfo --example find -- module "$(uname -r)" xfs [BUILD-ID]
//! cargo run -p ksym-debuginfo --example find -- buildid BUILD-ID
//! ```

use std::process::ExitCode;
use std::time::Instant;

use ksym_debuginfo::{parse_build_id, Config, DebugInfoFinder};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = Config::from_env();
    if args.first().is_some_and(|a| a == "--root") && args.len() > 1 {
        config.root = args[1].clone().into();
        args.drain(..2);
    }
    let id = |at: usize| args.get(at).map(|h| parse_build_id(h).ok_or(h.clone()));
    let finder = DebugInfoFinder::new(config);
    let start = Instant::now();
    let found = match (args.first().map(String::as_str), args.len()) {
        (Some("vmlinux"), 2 | 3) => match id(2).transpose() {
            Ok(b) => finder.find_vmlinux(&args[1], b.as_deref()),
            Err(h) => return bad(&format!("build-id {h:?} is not hex")),
        },
        (Some("module"), 3 | 4) => match id(3).transpose() {
            Ok(b) => finder.find_module(&args[1], &args[2], b.as_deref()),
            Err(h) => return bad(&format!("build-id {h:?} is not hex")),
        },
        (Some("buildid"), 2) => match id(1).transpose() {
            Ok(Some(b)) => finder.fetch_debuginfo(&b),
            _ => return bad(&format!("build-id {:?} is not hex", args[1])),
        },
        _ => return bad("usage: find [--root DIR] vmlinux RELEASE [BUILD-ID] | module RELEASE NAME [BUILD-ID] | buildid BUILD-ID"),
    };
    match found {
        Ok(f) => {
            println!("{}", f.path.display());
            eprintln!("{} in {:?}", f.origin, start.elapsed());
            ExitCode::SUCCESS
        }
        Err(e) => bad(&e.to_string()),
    }
}

fn bad(message: &str) -> ExitCode {
    eprintln!("find: {message}");
    ExitCode::FAILURE
}
