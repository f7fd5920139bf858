//! `ksym name`: every address of a symbol name (or of one unique spelling
//! such as `name [ext4]`), optionally held to one module.

use std::io::Write;
use std::process::ExitCode;

use ksym::SymbolTable;
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
    let found = table.find_named(name, module);
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
