//! `ksym annotate`: name the raw kernel addresses in `perf script` or
//! bpftrace `kstack` output, every other byte kept.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ksym::decode::{rewrite_stream_with, RewriteFormat};
use ksym::SymbolTable;

use super::common::open_input;
use crate::cli::AnnotateFormat;
use crate::lines::{inlined_lines, place, Lines};
use crate::CliResult;

/// With `lines`, each named frame is followed by its source place (and
/// its inlined calls) on lines of their own, as `perf script -F +srcline`
/// prints them.
pub(crate) fn run(
    table: &SymbolTable,
    file: Option<&Path>,
    format: AnnotateFormat,
    mut lines: Option<&mut Lines<'_>>,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    let format = match format {
        AnnotateFormat::Auto => RewriteFormat::Auto,
        AnnotateFormat::Perf => RewriteFormat::Perf,
        AnnotateFormat::Bpftrace => RewriteFormat::Bpftrace,
    };
    let (input, follow) = open_input(file)?;
    let mut extra = |s: &ksym::Symbol<'_>| -> Vec<String> {
        let Some(lines) = lines.as_deref_mut() else {
            return Vec::new();
        };
        let frames = lines.frames(s.addr(), Some(s));
        let Some(outer) = frames.last() else {
            return Vec::new();
        };
        std::iter::once(place(outer))
            .chain(inlined_lines(&frames))
            .collect()
    };
    rewrite_stream_with(table, format, input, out, follow, &mut extra)?;
    Ok(ExitCode::SUCCESS)
}
