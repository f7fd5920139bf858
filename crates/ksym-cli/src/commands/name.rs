//! `ksym name`: every address of a symbol name (or of one unique spelling
//! such as `name [ext4]`), optionally held to one module.

use std::io::Write;
use std::process::ExitCode;

use ksym::{Symbol, SymbolTable};
use serde_json::json;

use super::common::symbol_json;
use crate::CliResult;

pub(crate) fn run(
    table: &SymbolTable,
    name: &str,
    module: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    let module = module.map(|m| {
        if m == "vmlinux" || m == "core" {
            None
        } else {
            Some(m)
        }
    });
    let mut found: Vec<Symbol<'_>> = match module {
        Some(m) => table.find_in(m, name).collect(),
        None => table.find(name).collect(),
    };
    if found.is_empty() {
        // A unique spelling: `name [ext4]`, `name#2 [vmlinux]`, ...
        // still held to --module when one was given.
        found = table.find_spelling(name).unwrap_or_default();
        if let Some(m) = module {
            found.retain(|s| s.module == m);
        }
    }
    if found.is_empty() {
        return Err(format!("no symbol named {name:?}").into());
    }
    for s in &found {
        if json {
            writeln!(
                out,
                "{}",
                json!({"addr": format!("{:#x}", s.start), "symbol": symbol_json(s),
                       "unique_name": table.unique_name(s.id)})
            )?;
        } else {
            write!(
                out,
                "{:016x} {} {} size {:#x}",
                s.start, s.kind, s.name, s.size
            )?;
            if let Some(m) = s.module {
                write!(out, " [{m}]")?;
            }
            let unique = table.unique_name(s.id);
            if unique != s.name {
                write!(out, " = {unique}")?;
            }
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
