//! JSON for symbols and frames, written straight into a `String` (no JSON
//! library in the core crate): the objects `ksym addr --json` prints, one
//! per address, and that `ksym serve` answers in its `frames` arrays.
//!
//! An address is `{"addr":"0x..","symbol":{..}}` when a symbol holds it,
//! and `{"addr":"0x..","symbol":null,"reason":".."}` when it stays a raw
//! address, the reason one of [`raw_reason`]'s codes.

use std::fmt::Write as _;

use super::stack::{FailureCause, Frame, RawReason};
use crate::parse::bpf_lines::BpfLine;
use crate::table::Symbol;

/// Appends `v` as `{v:#x}` writes it, without the formatting machinery
/// (a server writes three numbers per frame).
fn push_hex(out: &mut String, v: u64) {
    out.push_str("0x");
    push_radix(out, v, 16);
}

/// Appends `v` in decimal, as `{v}` writes it.
fn push_dec(out: &mut String, v: u64) {
    push_radix(out, v, 10);
}

#[inline]
fn push_radix(out: &mut String, mut v: u64, radix: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(v % radix) as usize];
        v /= radix;
        if v == 0 {
            break;
        }
    }
    out.extend(buf[i..].iter().map(|&b| b as char));
}

/// Appends `s` as a JSON string.
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    // Symbol names almost never need escaping: copy them whole.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
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

/// Appends `s` as a JSON string, or `null`.
pub fn json_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.push_str("null"),
    }
}

/// A symbol as `ksym addr --json` prints it: `name`, `start` (hex string),
/// `offset`, `size`, `module`, `type`, and `object`/`path`/`section` when
/// known (`section`: the module section the address is in, see
/// [`SymbolTable::with_section`](crate::SymbolTable::with_section)).
pub fn symbol_json(out: &mut String, s: &Symbol<'_>) {
    out.push_str("{\"name\":");
    json_str(out, s.name);
    out.push_str(",\"start\":\"");
    push_hex(out, s.start);
    out.push_str("\",\"offset\":");
    push_dec(out, s.offset);
    out.push_str(",\"size\":");
    push_dec(out, s.size);
    out.push_str(",\"module\":");
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
    if let Some(section) = s.section {
        out.push_str(",\"section\":");
        json_str(out, section);
    }
    out.push('}');
}

/// Why a frame is a raw address, as a short code: `no_symbol` (no symbol
/// holds it), `redacted` (`kptr_restrict` hid the kernel's addresses),
/// `permission_denied`, `unavailable` (the symbols could not be read).
pub fn raw_reason(why: RawReason) -> &'static str {
    match why {
        RawReason::NoSymbol => "no_symbol",
        RawReason::Unavailable(FailureCause::Redacted) => "redacted",
        RawReason::Unavailable(FailureCause::PermissionDenied) => "permission_denied",
        RawReason::Unavailable(FailureCause::Other) => "unavailable",
    }
}

/// One address and what holds it (the object `ksym addr --json` prints);
/// `symbol` `None` is a raw address, for the reason `why`.
pub fn addr_json(out: &mut String, addr: u64, symbol: Option<&Symbol<'_>>, why: RawReason) {
    out.push_str("{\"addr\":\"");
    push_hex(out, addr);
    out.push_str("\",\"symbol\":");
    match symbol {
        Some(s) => symbol_json(out, s),
        None => {
            out.push_str("null,\"reason\":");
            json_str(out, raw_reason(why));
        }
    }
    out.push('}');
}

/// `,"frames":[..]` for an address in a BPF program, as `ksym addr --lines
/// --json` adds it inside the address's object: one frame (BPF line
/// records know no inlining) with the BPF function, file, line, column and
/// the line's text, or none where the program has no line there.
pub fn bpf_frames_json(out: &mut String, l: &BpfLine<'_>) {
    out.push_str(",\"frames\":[");
    if let Some(file) = l.file {
        out.push_str("{\"function\":");
        json_str(out, l.function);
        out.push_str(",\"file\":");
        json_str(out, file);
        for (key, v) in [("line", l.line), ("column", l.column)] {
            let _ = write!(out, ",\"{key}\":");
            match v {
                0 => out.push_str("null"),
                v => push_dec(out, v.into()),
            }
        }
        out.push_str(",\"inlined\":false");
        if let Some(source) = l.source {
            out.push_str(",\"source\":");
            json_str(out, source);
        }
        out.push('}');
    }
    out.push(']');
}

/// A frame of a batch ([`Frame`]) as [`addr_json`] writes it.
pub fn frame_json(out: &mut String, frame: &Frame<'_>) {
    match frame {
        Frame::Symbol(s) => addr_json(out, s.addr(), Some(s), RawReason::NoSymbol),
        Frame::Raw { addr, why } => addr_json(out, *addr, None, *why),
    }
}

/// An address as these objects spell it and as `ksym addr` and `ksym serve`
/// take it: hex, with or without `0x`, 1 to 16 digits.
pub fn parse_addr(text: &str) -> Option<u64> {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_format_writes_them() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut values = vec![0, 1, 9, 10, 15, 16, 255, u64::MAX, u64::MAX - 1, 1 << 63];
        for _ in 0..1000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            values.push(seed >> (seed % 64));
        }
        for v in values {
            let (mut hex, mut dec) = (String::new(), String::new());
            push_hex(&mut hex, v);
            push_dec(&mut dec, v);
            assert_eq!(hex, format!("{v:#x}"));
            assert_eq!(dec, format!("{v}"));
            assert_eq!(parse_addr(&hex), Some(v));
        }
    }

    #[test]
    fn addresses_parse_as_ksym_addr_takes_them() {
        for (text, want) in [
            ("ffffffff81000000", Some(0xffff_ffff_8100_0000)),
            ("0XFF", Some(0xff)),
            ("0x", None),
            ("", None),
            ("+1", None),
            ("0x+1", None),
            ("11112222333344445", None),
            ("0xfffffffffffffffff", None),
            ("xyz", None),
        ] {
            assert_eq!(parse_addr(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_raw_address_carries_its_reason() {
        let mut out = String::new();
        addr_json(&mut out, 0x1234, None, RawReason::NoSymbol);
        assert_eq!(
            out,
            r#"{"addr":"0x1234","symbol":null,"reason":"no_symbol"}"#
        );
        out.clear();
        let why = RawReason::Unavailable(FailureCause::Redacted);
        frame_json(&mut out, &Frame::Raw { addr: 0, why });
        assert_eq!(out, r#"{"addr":"0x0","symbol":null,"reason":"redacted"}"#);
    }
}
