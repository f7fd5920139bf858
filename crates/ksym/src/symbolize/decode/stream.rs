//! [`decode_stream`]: a [`Decoder`] run over a whole input, written back
//! annotated in place or as JSON lines, with counts of what it found.

use std::fmt::Write as _;
use std::io::{self, BufRead, Write};

use super::json::line_json;
use super::{DecodedFrame, Decoder, Status, Warning};

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

/// What a caller adds to a decoded frame (source lines, say): `note` goes
/// after the frame's note in annotated output, `json` (a JSON value, as
/// text) into the frame's object under `key`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameExtra {
    pub note: String,
    pub json: Option<(&'static str, String)>,
}

/// Decodes `input` line by line into `output`. Annotated output holds every
/// input byte, in order: frame lines get their note appended before the
/// line ending. Lines that are not UTF-8 are decoded lossily (and still
/// written as they were). With `flush_lines`, output is flushed after each
/// line (for following a live log).
pub fn decode_stream(
    decoder: &mut Decoder<'_>,
    input: impl BufRead,
    output: impl Write,
    how: Output,
    flush_lines: bool,
) -> io::Result<Summary> {
    decode_stream_with(decoder, input, output, how, flush_lines, &mut |_| {
        FrameExtra::default()
    })
}

/// [`decode_stream`] with `extra` asked for what to add to each frame.
pub fn decode_stream_with(
    decoder: &mut Decoder<'_>,
    mut input: impl BufRead,
    mut output: impl Write,
    how: Output,
    flush_lines: bool,
    extra: &mut dyn FnMut(&DecodedFrame<'_, '_>) -> FrameExtra,
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
        let extras: Vec<FrameExtra> = line.frames.iter().map(&mut *extra).collect();
        match how {
            Output::Annotated => {
                output.write_all(body)?;
                if !line.frames.is_empty() {
                    let notes: Vec<String> = line
                        .frames
                        .iter()
                        .zip(&extras)
                        .map(|(f, x)| f.note() + &x.note)
                        .collect();
                    write!(output, "  # {}", notes.join("; "))?;
                }
                output.write_all(ending)?;
            }
            Output::Json => {
                let mut frames = extras.iter();
                for mut obj in line_json(&line) {
                    if obj.starts_with("{\"type\":\"frame\"") {
                        if let Some((key, value)) = frames.next().and_then(|x| x.json.as_ref()) {
                            obj.pop(); // the closing brace
                            write!(obj, ",\"{key}\":{value}}}").expect("a String");
                        }
                    }
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
