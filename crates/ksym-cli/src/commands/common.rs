//! What several subcommands share: hex and JSON renderings of symbols, a
//! snapshot's identity, and opening a file or standard input.

use std::io::{BufRead, Write};
use std::path::Path;

use ksym::snapshot::Identity;
use ksym::Symbol;
use serde_json::Value;

use crate::CliResult;

/// A symbol as the library writes it for `ksym addr --json`, as a value.
pub(super) fn symbol_json(s: &Symbol<'_>) -> Value {
    let mut text = String::with_capacity(160);
    ksym::symbolize::json::symbol_json(&mut text, s);
    serde_json::from_str(&text).expect("the library writes valid JSON")
}

pub(super) fn print_identity(out: &mut dyn Write, id: &Identity) -> std::io::Result<()> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_string());
    writeln!(out, "snapshot of:       release {}", show(&id.release))?;
    writeln!(out, "  build-id:        {}", show(&id.build_id))?;
    writeln!(out, "  boot id:         {}", show(&id.boot_id))?;
    if let Some(slide) = id.kaslr_slide {
        writeln!(out, "  KASLR slide:     {slide:#x}")?;
    }
    if let Some(created) = id.created {
        writeln!(
            out,
            "  created:         {created} (seconds since the epoch)"
        )?;
    }
    Ok(())
}

/// A file, or standard input for `-` or none; whether it is standard input.
pub(super) fn open_input(file: Option<&Path>) -> CliResult<(Box<dyn BufRead>, bool)> {
    match file {
        Some(p) if p != Path::new("-") => {
            let f = std::fs::File::open(p).map_err(|source| ksym::Error::Io {
                path: p.to_path_buf(),
                source,
            })?;
            Ok((Box::new(std::io::BufReader::new(f)), false))
        }
        _ => Ok((Box::new(std::io::stdin().lock()), true)),
    }
}
