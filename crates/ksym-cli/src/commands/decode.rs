//! `ksym decode`: check and name the frames of an oops or stack trace,
//! annotated text or JSON lines, warnings to standard error.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ksym::decode::{decode_stream_with, DecodedFrame, Decoder, FrameExtra, FrameForm, Output};

use super::common::open_input;
use crate::lines::{at, frames_json, inlined_lines, Lines};
use crate::source::Loaded;
use crate::CliResult;

/// `release` (--release) falls back to the loaded symbols' own release.
pub(crate) fn run(
    loaded: &Loaded,
    file: Option<&Path>,
    json: bool,
    release: Option<String>,
    mut lines: Option<&mut Lines<'_>>,
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
    let mut extra = |f: &DecodedFrame<'_, '_>| match lines.as_deref_mut() {
        Some(lines) => source_lines(lines, f),
        None => FrameExtra::default(),
    };
    let summary = decode_stream_with(&mut decoder, input, out, how, follow, &mut extra)?;
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

/// A frame's source lines, the way decode_stacktrace.sh adds them: ` at
/// file:line` and each inlined call, for the call itself in a call trace
/// (its return address less one, as the kernel's `%pB` looks it up).
fn source_lines(lines: &mut Lines<'_>, f: &DecodedFrame<'_, '_>) -> FrameExtra {
    let (Some(sym), Some(addr)) = (&f.symbol, f.addr) else {
        return FrameExtra {
            note: String::new(),
            json: Some(("frames", "[]".to_string())),
        };
    };
    let look = match f.form {
        FrameForm::Trace => addr.wrapping_sub(1),
        _ => addr,
    };
    let frames = lines.frames(look, Some(sym));
    let mut note = at(&frames);
    for inlined in inlined_lines(&frames) {
        note.push_str(", ");
        note.push_str(&inlined);
    }
    FrameExtra {
        note,
        json: Some(("frames", frames_json(&frames).to_string())),
    }
}
