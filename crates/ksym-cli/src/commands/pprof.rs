//! `ksym pprof` (the `pprof` feature): name the kernel frames of a pprof
//! profile and write it back gzip'd, counts to standard error.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ksym::SymbolTable;
use ksym_pprof::SourceLine;

use crate::lines::Lines;
use crate::CliResult;

/// `-` is standard input or output (`out`). With `lines`, each named
/// location gets a line per source frame (file and line, inlined calls).
pub(crate) fn run(
    table: &SymbolTable,
    input: &Path,
    output: &Path,
    lines: Option<&mut Lines<'_>>,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    // Bounded like every other binary input (`-` is standard input).
    let bytes = ksym::read::read_raw_within(input, ksym::read::Limit::binary(None))?;
    let bad = |e: ksym_pprof::Error| format!("{}: {e}", input.display());
    let mut profile = ksym_pprof::decode(&bytes).map_err(bad)?;
    let mut provider = lines.map(|lines| {
        move |addr: u64, sym: &ksym::Symbol<'_>| -> Vec<SourceLine> {
            lines
                .frames(addr, Some(sym))
                .into_iter()
                .map(|f| SourceLine {
                    function: f.function.unwrap_or_else(|| sym.name.to_string()),
                    file: f.file.unwrap_or_default(),
                    line: f.line.map_or(0, i64::from),
                })
                .collect()
        }
    });
    let provider = provider
        .as_mut()
        .map(|p| p as &mut ksym_pprof::LineProvider<'_>);
    let stats = ksym_pprof::symbolize_with(&mut profile, table, &Default::default(), provider)
        .map_err(bad)?;
    let named = ksym_pprof::encode(&profile);
    if output == Path::new("-") {
        out.write_all(&named)?;
    } else {
        std::fs::write(output, &named).map_err(|e| format!("writing {}: {e}", output.display()))?;
    }
    eprintln!("ksym pprof: {stats}");
    Ok(ExitCode::SUCCESS)
}
