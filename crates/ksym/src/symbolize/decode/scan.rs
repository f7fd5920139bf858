//! Finding things in log text: stack markers, the kernel release of a `CPU:`
//! line, and the spans of `name+0xoff/0xsize [module]` references and
//! `[<hex>]` raw addresses.

use std::ops::Range;

use memchr::memmem;

/// Known stack markers (`<TASK>`, `</IRQ>`, ...), as x86 and others print them.
const CONTEXTS: &[&str] = &[
    "TASK",
    "IRQ",
    "SOFTIRQ",
    "NMI",
    "#DF",
    "#DB",
    "#MC",
    "#VC",
    "#VC2",
    "#HV",
    "ENTRY_TRAMPOLINE",
    "SYSENTER",
    "EOI",
    "EOE",
];

/// `<TASK>` / `</IRQ>` as the line's last token: (closing, name).
#[inline]
pub(super) fn marker(text: &str) -> Option<(bool, &'static str)> {
    let last = text.split_ascii_whitespace().next_back()?;
    let inner = last.strip_prefix('<')?.strip_suffix('>')?;
    let (closing, name) = match inner.strip_prefix('/') {
        Some(n) => (true, n),
        None => (false, inner),
    };
    let ctx = CONTEXTS.iter().find(|&&c| c == name)?;
    Some((closing, ctx))
}

/// The kernel release of a `CPU: 2 UID: 0 PID: 1 Comm: x Not tainted
/// 6.12.117+deb12-amd64 #1 ...` line (also `Tainted: G   W   <release>`).
#[inline]
pub fn release_of(text: &str) -> Option<&str> {
    if !text.contains("Comm:") {
        return None;
    }
    let after = text
        .find("Not tainted")
        .map(|i| i + "Not tainted".len())
        .or_else(|| text.find("Tainted:").map(|i| i + "Tainted:".len()))?;
    text[after..]
        .split_ascii_whitespace()
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'$'
}

fn hex_run(b: &[u8], from: usize) -> usize {
    let mut e = from;
    while e < b.len() && b[e].is_ascii_hexdigit() {
        e += 1;
    }
    e
}

/// A `[module]` or `[module buildid]` tag's inside.
fn is_module_tag(inner: &str) -> bool {
    let mut parts = inner.split(' ');
    let Some(name) = parts.next() else {
        return false;
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
    let rest_ok = match (parts.next(), parts.next()) {
        (None, _) => true,
        (Some(id), None) => !id.is_empty() && id.bytes().all(|c| c.is_ascii_hexdigit()),
        _ => false,
    };
    name_ok && rest_ok
}

/// The spans of every `name+0xoff/0xsize` (with its `[module]` tag, if any).
pub(super) fn scan_refs(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = memmem::find(&b[from..], b"+0x") {
        let plus = from + p;
        from = plus + 3;
        let mut s = plus;
        while s > 0 && is_name_byte(b[s - 1]) {
            s -= 1;
        }
        if s == plus || b[s].is_ascii_digit() {
            continue;
        }
        let e = hex_run(b, plus + 3);
        if e == plus + 3 || !b[e..].starts_with(b"/0x") {
            continue;
        }
        let size_end = hex_run(b, e + 3);
        if size_end == e + 3 || b.get(size_end).is_some_and(|&c| is_name_byte(c)) {
            continue;
        }
        let mut end = size_end;
        if b[end..].starts_with(b" [") {
            if let Some(close) = memchr::memchr(b']', &b[end + 2..]) {
                if is_module_tag(&text[end + 2..end + 2 + close]) {
                    end += 2 + close + 1;
                }
            }
        }
        out.push(s..end);
        from = end;
    }
    out
}

/// The spans and values of every `[<hex>]`.
pub(super) fn scan_raw(text: &str) -> Vec<(Range<usize>, u64)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = memmem::find(&b[from..], b"[<") {
        let s = from + p;
        from = s + 2;
        let e = hex_run(b, s + 2);
        if e == s + 2 || e - (s + 2) > 16 || !b[e..].starts_with(b">]") {
            continue;
        }
        if let Ok(v) = u64::from_str_radix(&text[s + 2..e], 16) {
            out.push((s..e + 2, v));
            from = e + 2;
        }
    }
    out
}
