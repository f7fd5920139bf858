//! `ksym pprof` (the `pprof` feature): name the kernel frames of a pprof
//! profile and write it back gzip'd, counts to standard error.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ksym::SymbolTable;

use crate::CliResult;

/// `-` is standard input or output (`out`).
pub(crate) fn run(
    table: &SymbolTable,
    input: &Path,
    output: &Path,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    // Bounded like every other binary input (`-` is standard input).
    let bytes = ksym::read::read_raw_within(input, ksym::read::Limit::binary(None))?;
    let (named, stats) = ksym_pprof::symbolize_bytes(&bytes, table, &Default::default())
        .map_err(|e| format!("{}: {e}", input.display()))?;
    if output == Path::new("-") {
        out.write_all(&named)?;
    } else {
        std::fs::write(output, &named).map_err(|e| format!("writing {}: {e}", output.display()))?;
    }
    eprintln!("ksym pprof: {stats}");
    Ok(ExitCode::SUCCESS)
}
