//! `ksym decode`: check and name the frames of an oops or stack trace,
//! annotated text or JSON lines, warnings to standard error.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ksym::decode::{decode_stream, Decoder, Output};

use super::common::open_input;
use crate::source::Loaded;
use crate::CliResult;

/// `release` (--release) falls back to the loaded symbols' own release.
pub(crate) fn run(
    loaded: &Loaded,
    file: Option<&Path>,
    json: bool,
    release: Option<String>,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    let release = release.or_else(|| loaded.identity.as_ref().and_then(|i| i.release.clone()));
    let (input, follow) = open_input(file)?;
    let mut decoder = Decoder::new(&loaded.table).table_release(release);
    let how = if json {
        Output::Json
    } else {
        Output::Annotated
    };
    let summary = decode_stream(&mut decoder, input, out, how, follow)?;
    for (line, w) in &summary.warnings {
        eprintln!("ksym: warning: line {line}: {w}");
    }
    if summary.mismatched > 0 {
        eprintln!(
            "ksym: {} of {} frames disagree with the symbols: the trace comes from another kernel build",
            summary.mismatched, summary.frames
        );
    }
    Ok(ExitCode::SUCCESS)
}
