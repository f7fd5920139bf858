//! `ksym resolve`: turn `name+0x1b/0x30 [module]` references into addresses.

use std::io::Write;
use std::process::ExitCode;

use ksym::SymbolTable;

use crate::CliResult;

pub(crate) fn run(
    table: &SymbolTable,
    refs: &[String],
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    let mut failed = false;
    for r in refs {
        match table.resolve(r) {
            Ok(addr) => writeln!(out, "{addr:#018x} {r}")?,
            Err(e) => {
                eprintln!("ksym: {e}");
                failed = true;
            }
        }
    }
    if failed {
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
