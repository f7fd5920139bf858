//! `ksym annotate`: name the raw kernel addresses in `perf script` or
//! bpftrace `kstack` output, every other byte kept.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ksym::decode::{rewrite_stream, RewriteFormat};
use ksym::SymbolTable;

use super::common::open_input;
use crate::cli::AnnotateFormat;
use crate::CliResult;

pub(crate) fn run(
    table: &SymbolTable,
    file: Option<&Path>,
    format: AnnotateFormat,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    let format = match format {
        AnnotateFormat::Auto => RewriteFormat::Auto,
        AnnotateFormat::Perf => RewriteFormat::Perf,
        AnnotateFormat::Bpftrace => RewriteFormat::Bpftrace,
    };
    let (input, follow) = open_input(file)?;
    rewrite_stream(table, format, input, out, follow)?;
    Ok(ExitCode::SUCCESS)
}
