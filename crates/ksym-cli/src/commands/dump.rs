//! `ksym dump`: every symbol in address order, as System.map, kallsyms,
//! kallmodsyms or JSON lines.

use std::io::Write;
use std::process::ExitCode;

use ksym::dump::DumpFormat;
use ksym::SymbolTable;

use crate::cli::DumpFormatArg;
use crate::CliResult;

/// Writes and flushes `out`; a closed pipe (`ksym dump | head`) ends the
/// dump quietly.
pub(crate) fn run(
    table: &SymbolTable,
    format: DumpFormatArg,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    let format = match format {
        DumpFormatArg::SystemMap => DumpFormat::SystemMap,
        DumpFormatArg::Kallsyms => DumpFormat::Kallsyms,
        DumpFormatArg::Kallmodsyms => DumpFormat::Kallmodsyms,
        DumpFormatArg::Json => DumpFormat::Json,
    };
    // `ksym dump | head` is fine: a closed pipe ends the dump quietly.
    match ksym::dump::write(table, format, out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        r => r?,
    }
    Ok(ExitCode::SUCCESS)
}
