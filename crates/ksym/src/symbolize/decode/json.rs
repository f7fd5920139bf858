//! JSON rendering of decoded lines: a symbol as `ksym addr --json` prints it,
//! and one object per frame or warning of a line.

use std::fmt::Write as _;
use std::ops::Range;

use super::{DecodedFrame, Line, Status, Warning};
use crate::table::Symbol;

/// Appends `s` as a JSON string.
pub(super) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.push_str("null"),
    }
}

/// A symbol as `ksym addr --json` prints it: `name`, `start` (hex string),
/// `offset`, `size`, `module`, `type`, and `object`/`path` when known.
pub fn symbol_json(out: &mut String, s: &Symbol<'_>) {
    out.push_str("{\"name\":");
    json_str(out, s.name);
    let _ = write!(
        out,
        ",\"start\":\"{:#x}\",\"offset\":{},\"size\":{},\"module\":",
        s.start, s.offset, s.size
    );
    json_opt_str(out, s.module);
    out.push_str(",\"type\":");
    json_str(out, s.kind.encode_utf8(&mut [0; 4]));
    if let Some(o) = s.object {
        out.push_str(",\"object\":");
        json_str(out, o);
    }
    if let Some(p) = s.path {
        out.push_str(",\"path\":");
        json_str(out, p);
    }
    out.push('}');
}

/// One JSON object (one line, no newline) per frame of `line`, then one per
/// warning:
///
/// - `{"type":"frame","line":N,"text":..,"form":"trace","context":"TASK"|null,
///   "reliable":bool,"ref":"name+0x1/0x2 [m]"|null,"addr":"0x.."|null,
///   "symbol":{..}|null,"status":"ok"|"mismatch"|"unresolved"|"raw",
///   "reason":".."|null,"candidates":N}`
/// - `{"type":"warning","line":N,"text":..,"warning":..,
///   "trace_release":..,"table_release":..}`
pub fn line_json(line: &Line<'_, '_>) -> Vec<String> {
    let mut out = Vec::new();
    for f in &line.frames {
        let mut s = String::with_capacity(256);
        let _ = write!(s, "{{\"type\":\"frame\",\"line\":{},\"text\":", line.number);
        json_str(&mut s, line.text);
        let _ = write!(s, ",\"form\":\"{}\",\"context\":", f.form.as_str());
        json_opt_str(&mut s, f.context);
        let _ = write!(s, ",\"reliable\":{},\"ref\":", f.reliable);
        json_opt_str(
            &mut s,
            f.reference.map(|_| &line.text[ref_span(line.text, f)]),
        );
        s.push_str(",\"addr\":");
        match f.addr {
            Some(a) => {
                let _ = write!(s, "\"{a:#x}\"");
            }
            None => s.push_str("null"),
        }
        s.push_str(",\"symbol\":");
        match &f.symbol {
            Some(sym) => symbol_json(&mut s, sym),
            None => s.push_str("null"),
        }
        let _ = write!(s, ",\"status\":\"{}\",\"reason\":", f.status.as_str());
        match &f.status {
            Status::Mismatch(m) => json_str(&mut s, &m.to_string()),
            _ => s.push_str("null"),
        }
        let _ = write!(s, ",\"candidates\":{}}}", f.candidates);
        out.push(s);
    }
    if let Some(w) = &line.warning {
        let mut s = String::with_capacity(256);
        let _ = write!(
            s,
            "{{\"type\":\"warning\",\"line\":{},\"text\":",
            line.number
        );
        json_str(&mut s, line.text);
        s.push_str(",\"warning\":");
        json_str(&mut s, &w.to_string());
        let Warning::ReleaseDiffers { trace, table } = w;
        s.push_str(",\"trace_release\":");
        json_str(&mut s, trace);
        s.push_str(",\"table_release\":");
        json_str(&mut s, table);
        s.push('}');
        out.push(s);
    }
    out
}

/// The part of a frame's span that is the reference (after any `[<addr>]`).
fn ref_span(text: &str, f: &DecodedFrame<'_, '_>) -> Range<usize> {
    let span = f.span.clone();
    match text[span.clone()].rfind(">] ") {
        Some(i) if f.given_addr.is_some() => {
            let mut s = span.start + i + 3;
            if text[s..].starts_with("? ") {
                s += 2;
            }
            s..span.end
        }
        _ => span,
    }
}
