//! `ksym dups`: names that several symbols carry, how many each, and what
//! tells them apart in their unique names.

use std::io::Write;
use std::process::ExitCode;

use ksym::SymbolTable;
use serde_json::json;

use crate::CliResult;

pub(crate) fn run(table: &SymbolTable, json: bool, out: &mut dyn Write) -> CliResult<ExitCode> {
    for d in table.duplicates() {
        let by: Vec<String> = d.by.iter().map(|q| q.to_string()).collect();
        if json {
            let spellings: Vec<String> = d
                .ids
                .iter()
                .map(|&id| table.unique_name(id).into_owned())
                .collect();
            writeln!(
                out,
                "{}",
                json!({"name": d.name, "count": d.count, "modules": d.modules,
                       "by": by, "spellings": spellings})
            )?;
        } else {
            writeln!(
                out,
                "{:>5}  {}  ({} module{}; told apart by {})",
                d.count,
                d.name,
                d.modules,
                if d.modules == 1 { "" } else { "s" },
                by.join(", ")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
