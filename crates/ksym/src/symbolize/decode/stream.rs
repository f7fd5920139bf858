//! [`decode_stream`]: a [`Decoder`] run over a whole input, written back
//! annotated in place or as JSON lines, with counts of what it found.

use std::io::{self, BufRead, Write};

use super::json::line_json;
use super::{Decoder, Status, Warning};

/// How [`decode_stream`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// The input, frame lines with `  # ` and a note appended.
    #[default]
    Annotated,
    /// JSON lines: frames and warnings (see [`line_json`]).
    Json,
}

/// Counts over a decoded stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub lines: u64,
    pub frames: u64,
    pub ok: u64,
    pub mismatched: u64,
    pub unresolved: u64,
    pub raw: u64,
    /// Warnings with their line numbers.
    pub warnings: Vec<(u64, Warning)>,
}

/// Splits a line read with `read_until(b'\n')` into text and ending.
#[inline]
pub(super) fn split_ending(buf: &[u8]) -> (&[u8], &[u8]) {
    let n = if buf.ends_with(b"\r\n") {
        2
    } else if buf.ends_with(b"\n") {
        1
    } else {
        0
    };
    buf.split_at(buf.len() - n)
}

/// Decodes `input` line by line into `output`. Annotated output holds every
/// input byte, in order: frame lines get their note appended before the
/// line ending. Lines that are not UTF-8 are decoded lossily (and still
/// written as they were). With `flush_lines`, output is flushed after each
/// line (for following a live log).
pub fn decode_stream(
    decoder: &mut Decoder<'_>,
    mut input: impl BufRead,
    mut output: impl Write,
    how: Output,
    flush_lines: bool,
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let (body, ending) = split_ending(&buf);
        let text = String::from_utf8_lossy(body);
        let line = decoder.decode_line(&text);
        summary.lines += 1;
        for f in &line.frames {
            summary.frames += 1;
            match f.status {
                Status::Ok => summary.ok += 1,
                Status::Mismatch(_) => summary.mismatched += 1,
                Status::Unresolved => summary.unresolved += 1,
                Status::Raw => summary.raw += 1,
            }
        }
        if let Some(w) = &line.warning {
            summary.warnings.push((line.number, w.clone()));
        }
        match how {
            Output::Annotated => {
                output.write_all(body)?;
                if let Some(note) = line.annotation() {
                    output.write_all(note.as_bytes())?;
                }
                output.write_all(ending)?;
            }
            Output::Json => {
                for obj in line_json(&line) {
                    output.write_all(obj.as_bytes())?;
                    output.write_all(b"\n")?;
                }
            }
        }
        if flush_lines {
            output.flush()?;
        }
    }
    output.flush()?;
    Ok(summary)
}
