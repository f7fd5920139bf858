//! JSON rendering of decoded lines: one object per frame or warning of a
//! line (symbols as [`crate::symbolize::json`] writes them).

use std::fmt::Write as _;
use std::ops::Range;

use super::{DecodedFrame, Line, Status, Warning};
use crate::symbolize::json::{json_opt_str, json_str, symbol_json};

/// One JSON object (one line, no newline) per frame of `line`, then one per
/// warning:
///
/// - `{"type":"frame","line":N,"text":..,"form":"trace","context":"TASK"|null,
///   "reliable":bool,"ref":"name+0x1/0x2 [m]"|null,"addr":"0x.."|null,
///   "symbol":{..}|null,"status":"ok"|"mismatch"|"unresolved"|"raw",
///   "reason":".."|null,"candidates":N,"caller":{..}|null}` (`caller`: the
///   function that made the call, for an arm64 return address at `+0x0`)
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
        let _ = write!(s, ",\"candidates\":{},\"caller\":", f.candidates);
        match &f.caller {
            Some(sym) => symbol_json(&mut s, sym),
            None => s.push_str("null"),
        }
        s.push('}');
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
