//! Oops and stack-trace decoding, and naming raw addresses in profiler output.
//!
//! [`Decoder`] reads kernel log text (dmesg, the serial console, journal
//! lines with their prefixes) one line at a time and finds the frames in it:
//!
//! - `name+0x1b/0x30`, `name+0x1b/0x30 [module]` and `[module buildid]`
//!   references anywhere in a line: `RIP: 0010:...`, arm64's `pc : `/`lr : `,
//!   call trace frames (with `? ` for unreliable ones), the `at file:line
//!   name+off/size` of a WARNING, `(%pS)` text in messages;
//! - raw `[<ffffffff81234567>]` addresses, alone or before a reference (the
//!   older format, where both must agree);
//! - `0xffffffffc0123456` addresses that `%pB` prints when it finds no
//!   symbol, as a call trace frame or after `RIP: 0010:`.
//!
//! Every reference is checked against the table: the name must exist (in
//! the module given, or in the core kernel when none is), the size must be
//! the table's, and the offset must not pass the end (`offset == size` is
//! fine: `%pB` prints a return address that ends its function that way, as
//! in `? __pfx_foo+0x10/0x10`). A disagreement means the trace comes from
//! another kernel build, and is said so. Raw addresses are named: in a call
//! trace the way `%pB` does (the symbol of `addr - 1`, the offset from
//! `addr`), elsewhere the way `%pS` does. The `CPU: ... Not tainted <release>`
//! line gives the trace's kernel release; when the table's release is known
//! and differs, the line carries a [`Warning`].
//!
//! [`decode_stream`] renders the result as the input annotated in place
//! (each frame line gets `  # ` and what was found appended; every other
//! line comes out byte for byte), or as JSON lines. [`rewrite_stream`]
//! gives names to the raw kernel addresses of `perf script` and bpftrace
//! `kstack` output.

use std::fmt::{self, Write as _};
use std::io::{self, BufRead, Write};
use std::ops::Range;

use memchr::memmem;

use crate::table::{Symbol, SymbolRef, SymbolTable};

/// Where in the text a frame stands, which decides how a raw address in it
/// is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameForm {
    /// A register line (`RIP: 0010:`, `pc : `, `lr : `): the exact address.
    Register,
    /// A frame of a call trace: a return address, printed with `%pB`.
    Trace,
    /// A reference elsewhere (a WARNING's `at ... name+off/size`, `(%pS)`
    /// text): the exact address.
    Text,
}

impl FrameForm {
    fn as_str(self) -> &'static str {
        match self {
            FrameForm::Register => "register",
            FrameForm::Trace => "trace",
            FrameForm::Text => "text",
        }
    }
}

/// Why a frame's reference disagrees with the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch<'t> {
    /// No symbol of that name in the table.
    NoSuchName,
    /// The name exists, but not where the trace says: the modules the table
    /// has it in (`None` for the core kernel).
    OtherModule {
        trace: Option<String>,
        table: Vec<Option<&'t str>>,
    },
    /// Symbols of that name exist with other sizes.
    Size { trace: u64, table: Vec<u64> },
    /// The offset is past the symbol's end.
    OffsetPastEnd { offset: u64, size: u64 },
    /// A raw address given with the reference is not where the reference
    /// points in this table: what the table has there.
    Address {
        addr: u64,
        table: Option<Symbol<'t>>,
    },
}

impl fmt::Display for Mismatch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::NoSuchName => f.write_str(
                "no symbol of that name in this table: the trace comes from another kernel or build",
            ),
            Mismatch::OtherModule { trace, table } => {
                let place = |m: Option<&str>| match m {
                    Some(m) => format!("[{m}]"),
                    None => "the core kernel".to_string(),
                };
                let mut seen: Vec<String> = table.iter().map(|&m| place(m)).collect();
                seen.dedup();
                write!(
                    f,
                    "the name is in {} in this table, not in {}",
                    seen.join(", "),
                    place(trace.as_deref())
                )
            }
            Mismatch::Size { trace, table } => {
                let sizes: Vec<String> = table.iter().map(|s| format!("{s:#x}")).collect();
                write!(
                    f,
                    "size {trace:#x} in the trace, {} in this table: the trace comes from another build",
                    sizes.join(" or ")
                )
            }
            Mismatch::OffsetPastEnd { offset, size } => {
                write!(f, "offset {offset:#x} is past the symbol's end ({size:#x})")
            }
            Mismatch::Address { addr, table } => match table {
                Some(s) => write!(f, "{addr:#x} is {s} in this table"),
                None => write!(f, "no symbol holds {addr:#x} in this table"),
            },
        }
    }
}

/// What the table says about one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<'t> {
    /// The reference agrees with the table.
    Ok,
    /// The reference disagrees with the table.
    Mismatch(Mismatch<'t>),
    /// A raw address that no symbol holds.
    Unresolved,
    /// A raw address (no reference given) that the table names.
    Raw,
}

impl Status<'_> {
    /// `ok`, `mismatch`, `unresolved` or `raw`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Mismatch(_) => "mismatch",
            Status::Unresolved => "unresolved",
            Status::Raw => "raw",
        }
    }
}

/// One frame found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame<'a, 't> {
    /// Where the frame's text is in the line (bytes).
    pub span: Range<usize>,
    pub form: FrameForm,
    /// The stack the call trace was on (`TASK`, `IRQ`, `NMI`, ...), from the
    /// last `<TASK>`-style marker.
    pub context: Option<&'static str>,
    /// `false` for `? ` frames, which the unwinder found on the stack but
    /// could not prove part of the call chain.
    pub reliable: bool,
    /// The `name+off/size [module]` the text gave.
    pub reference: Option<SymbolRef<'a>>,
    /// The raw address the text gave.
    pub given_addr: Option<u64>,
    /// The address the frame stands for (`None` when the reference does not
    /// resolve to one address).
    pub addr: Option<u64>,
    /// The table's symbol for the frame, its offset measured from `addr`.
    pub symbol: Option<Symbol<'t>>,
    pub status: Status<'t>,
    /// How many symbols of the table fit the reference (more than one:
    /// `addr` is `None`, `symbol` the first of them).
    pub candidates: usize,
}

impl DecodedFrame<'_, '_> {
    /// What the annotated output appends for this frame.
    pub fn note(&self) -> String {
        match &self.status {
            Status::Ok => match self.addr {
                Some(a) if self.candidates <= 1 => format!("{a:#x}"),
                _ => format!(
                    "one of {} symbols of that name and size, address unknown",
                    self.candidates
                ),
            },
            Status::Raw => self.symbol.map_or_else(String::new, |s| format!("{s}")),
            Status::Unresolved => format!(
                "no symbol at {:#x}",
                self.given_addr.or(self.addr).unwrap_or(0)
            ),
            Status::Mismatch(m) => format!("MISMATCH: {m}"),
        }
    }
}

/// Something about a line worth telling the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The trace's kernel release is not the table's.
    ReleaseDiffers { trace: String, table: String },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::ReleaseDiffers { trace, table } => write!(
                f,
                "the trace is from kernel {trace}, the symbols from {table}: \
                 frames will disagree or name the wrong functions"
            ),
        }
    }
}

/// One decoded line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a, 't> {
    /// From 1.
    pub number: u64,
    /// The line as given, without its line ending.
    pub text: &'a str,
    /// Its frames, in the order they appear.
    pub frames: Vec<DecodedFrame<'a, 't>>,
    pub warning: Option<Warning>,
}

impl Line<'_, '_> {
    /// What the annotated output appends to the line (`None`: the line
    /// stays as it was).
    pub fn annotation(&self) -> Option<String> {
        if self.frames.is_empty() {
            return None;
        }
        let notes: Vec<String> = self.frames.iter().map(|f| f.note()).collect();
        Some(format!("  # {}", notes.join("; ")))
    }
}

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

/// Reads kernel log lines against a table. Keeps what spans lines: whether a
/// call trace is going on and on which stack, and the trace's release.
#[derive(Debug)]
pub struct Decoder<'t> {
    table: &'t SymbolTable,
    table_release: Option<String>,
    line: u64,
    in_trace: bool,
    context: Option<&'static str>,
    trace_release: Option<String>,
}

impl<'t> Decoder<'t> {
    pub fn new(table: &'t SymbolTable) -> Self {
        Decoder {
            table,
            table_release: None,
            line: 0,
            in_trace: false,
            context: None,
            trace_release: None,
        }
    }

    /// The kernel release the table belongs to (`uname -r` of the kernel
    /// it was read from), to compare with the trace's.
    pub fn table_release(mut self, release: Option<String>) -> Self {
        self.table_release = release.filter(|r| !r.is_empty());
        self
    }

    /// The release of the last `CPU: ... tainted <release>` line seen.
    pub fn trace_release(&self) -> Option<&str> {
        self.trace_release.as_deref()
    }

    pub fn table(&self) -> &'t SymbolTable {
        self.table
    }

    /// Decodes the next line (`text` without its line ending).
    pub fn decode_line<'a>(&mut self, text: &'a str) -> Line<'a, 't> {
        self.line += 1;
        let mut line = Line {
            number: self.line,
            text,
            frames: Vec::new(),
            warning: None,
        };
        if text.contains("Call Trace:") || text.contains("Call trace:") {
            self.in_trace = true;
            self.context = None;
            return line;
        }
        if let Some((closing, ctx)) = marker(text) {
            if closing {
                if ctx == "TASK" {
                    self.in_trace = false;
                }
                self.context = None;
            } else {
                self.in_trace = true;
                self.context = Some(ctx);
            }
            return line;
        }
        if let Some(release) = release_of(text) {
            self.trace_release = Some(release.to_string());
            if let Some(table) = &self.table_release {
                if table != release {
                    line.warning = Some(Warning::ReleaseDiffers {
                        trace: release.to_string(),
                        table: table.clone(),
                    });
                }
            }
        }
        if text.contains("Modules linked in")
            || text.contains("---[ end trace")
            || (self.context.is_none() && text.contains("Code: "))
        {
            self.in_trace = false;
            self.context = None;
        }
        // Quick exit for the common line without any frame.
        let b = text.as_bytes();
        let has_ref = memmem::find(b, b"+0x").is_some();
        let has_raw = memmem::find(b, b"[<").is_some();
        let has_hex = memmem::find(b, b"0x").is_some();
        if !(has_ref || has_raw || has_hex) {
            return line;
        }
        self.find_frames(text, &mut line.frames);
        line
    }

    fn find_frames<'a>(&self, text: &'a str, frames: &mut Vec<DecodedFrame<'a, 't>>) {
        let refs = scan_refs(text);
        let raws = scan_raw(text);
        let b = text.as_bytes();
        let mut used_refs = vec![false; refs.len()];
        let mut paired: Vec<u64> = Vec::new();
        // `[<addr>] ? name+off/size`: one frame.
        let mut found: Vec<(Range<usize>, Option<u64>, Option<usize>)> = Vec::new();
        for (r, addr) in &raws {
            let mut next = r.end;
            while next < b.len() && b[next] == b' ' {
                next += 1;
            }
            if b[next..].starts_with(b"? ") {
                next += 2;
            }
            let pair = refs
                .iter()
                .position(|x| x.start == next)
                .filter(|&i| !used_refs[i]);
            if let Some(i) = pair {
                used_refs[i] = true;
                paired.push(*addr);
                found.push((r.start..refs[i].end, Some(*addr), Some(i)));
            } else {
                found.push((r.clone(), Some(*addr), None));
            }
        }
        // An old-style `RIP: [<a>]  [<a>] name+...` gives the address twice.
        found.retain(|(_, a, i)| i.is_some() || !a.is_some_and(|a| paired.contains(&a)));
        for (i, r) in refs.iter().enumerate() {
            if !used_refs[i] {
                found.push((r.clone(), None, Some(i)));
            }
        }
        if found.is_empty() {
            if let Some((r, addr)) = self.bare_address(text) {
                found.push((r, Some(addr), None));
            }
        }
        found.sort_by_key(|(r, _, _)| r.start);
        for (span, addr, ref_i) in found {
            let reference = ref_i.and_then(|i| SymbolRef::parse(&text[refs[i].clone()]).ok());
            let form = self.form_of(&text[..span.start]);
            let reliable =
                !preceded_by_question(&text[..span.start]) && !text[span.clone()].contains("] ? ");
            frames.push(self.check(span, form, reliable, reference, addr));
        }
    }

    /// `? 0xffffffffc0123456` in a call trace, or `RIP: 0010:0x...`.
    fn bare_address(&self, text: &str) -> Option<(Range<usize>, u64)> {
        let trimmed = text.trim_end();
        let start = trimmed
            .rfind(|c: char| c.is_ascii_whitespace() || c == ':')
            .map_or(0, |i| i + 1);
        let token = &trimmed[start..];
        let hex = token.strip_prefix("0x")?;
        if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let addr = u64::from_str_radix(hex, 16).ok()?;
        let before = &trimmed[..start];
        // A kernel `RIP: 0010:` (not a user one, `RIP: 0033:`), `pc : `, `lr : `.
        let register = is_register_prefix(before)
            && (before.ends_with("0010:") || before.trim_end().ends_with(" :"));
        if register {
            return Some((start..trimmed.len(), addr));
        }
        if !self.in_trace {
            return None;
        }
        // What precedes must be the line's prefix, maybe `? `: a timestamp
        // `[...]`, a syslog `kernel:`, or nothing.
        let head = before.trim_end();
        let head = head.strip_suffix('?').unwrap_or(head).trim_end();
        let prefix_only = head.is_empty() || head.ends_with(']') || head.ends_with(':');
        prefix_only.then_some((start..trimmed.len(), addr))
    }

    fn form_of(&self, before: &str) -> FrameForm {
        if is_register_prefix(before) {
            FrameForm::Register
        } else if self.in_trace {
            FrameForm::Trace
        } else {
            FrameForm::Text
        }
    }

    /// Looks a raw address up the way the form prints it.
    fn name_addr(&self, addr: u64, form: FrameForm) -> Option<Symbol<'t>> {
        let look = match form {
            FrameForm::Trace => addr.checked_sub(1)?,
            _ => addr,
        };
        let s = self.table.lookup(look)?;
        Some(Symbol {
            offset: addr - s.start,
            ..s
        })
    }

    fn check<'a>(
        &self,
        span: Range<usize>,
        form: FrameForm,
        reliable: bool,
        reference: Option<SymbolRef<'a>>,
        given_addr: Option<u64>,
    ) -> DecodedFrame<'a, 't> {
        let mut frame = DecodedFrame {
            span,
            form,
            context: if form == FrameForm::Trace {
                self.context
            } else {
                None
            },
            reliable,
            reference,
            given_addr,
            addr: given_addr,
            symbol: None,
            status: Status::Unresolved,
            candidates: 0,
        };
        let Some(r) = reference else {
            let addr = given_addr.unwrap_or(0);
            frame.symbol = self.name_addr(addr, form);
            frame.candidates = usize::from(frame.symbol.is_some());
            if frame.symbol.is_some() {
                frame.status = Status::Raw;
            }
            return frame;
        };
        let table = self.table;
        let candidates: Vec<Symbol<'t>> = match r.module {
            Some(m) => table.find_in(Some(m), r.name).collect(),
            None => table
                .find(r.name)
                .filter(|s| s.module.is_none_or(is_pseudo_module))
                .collect(),
        };
        let mismatch = |frame: &mut DecodedFrame<'a, 't>, m| frame.status = Status::Mismatch(m);
        if candidates.is_empty() {
            let elsewhere: Vec<Option<&'t str>> = table.find(r.name).map(|s| s.module).collect();
            if elsewhere.is_empty() {
                mismatch(&mut frame, Mismatch::NoSuchName);
            } else {
                mismatch(
                    &mut frame,
                    Mismatch::OtherModule {
                        trace: r.module.map(str::to_string),
                        table: elsewhere,
                    },
                );
            }
            return frame;
        }
        let fitting: Vec<Symbol<'t>> = match r.size {
            Some(size) => candidates
                .iter()
                .filter(|s| s.size == size)
                .copied()
                .collect(),
            None => candidates.clone(),
        };
        if fitting.is_empty() {
            let mut sizes: Vec<u64> = candidates.iter().map(|s| s.size).collect();
            sizes.sort_unstable();
            sizes.dedup();
            // The table's symbol of that name, for the reader to compare.
            frame.symbol = Some(Symbol {
                offset: r.offset,
                ..candidates[0]
            });
            mismatch(
                &mut frame,
                Mismatch::Size {
                    trace: r.size.unwrap_or(0),
                    table: sizes,
                },
            );
            return frame;
        }
        let with_offset = |s: &Symbol<'t>| Symbol {
            offset: r.offset,
            ..*s
        };
        frame.symbol = Some(with_offset(&fitting[0]));
        frame.candidates = fitting.len();
        let size = fitting[0].size;
        if r.offset > size {
            mismatch(
                &mut frame,
                Mismatch::OffsetPastEnd {
                    offset: r.offset,
                    size,
                },
            );
            return frame;
        }
        match given_addr {
            Some(addr) => match fitting
                .iter()
                .find(|s| s.start.wrapping_add(r.offset) == addr)
            {
                Some(s) => {
                    frame.symbol = Some(with_offset(s));
                    frame.candidates = 1;
                    frame.status = Status::Ok;
                }
                None => {
                    let there = self.name_addr(addr, form);
                    mismatch(&mut frame, Mismatch::Address { addr, table: there });
                }
            },
            None => {
                frame.addr = (fitting.len() == 1).then(|| fitting[0].start.wrapping_add(r.offset));
                frame.status = Status::Ok;
            }
        }
        frame
    }
}

fn is_pseudo_module(m: &str) -> bool {
    m == "bpf" || m.starts_with("__builtin__")
}

/// Whether `before` (the text up to a frame) ends in a register label:
/// `RIP: 0010:`, `pc : `, `lr : `, `PC is at `, `LR is at `.
fn is_register_prefix(before: &str) -> bool {
    let t = before.trim_end();
    if let Some(i) = t.rfind("RIP: ") {
        // `RIP: 0010:` then the frame, or the older `RIP: 0010:[<addr>]  `.
        let rest = &t[i + 5..];
        return rest.starts_with("0010:");
    }
    t.ends_with("pc :") || t.ends_with("lr :") || t.ends_with("PC is at") || t.ends_with("LR is at")
}

fn preceded_by_question(before: &str) -> bool {
    let t = before.trim_end();
    t.ends_with(" ?") || t == "?" || t.ends_with("]?")
}

/// `<TASK>` / `</IRQ>` as the line's last token: (closing, name).
fn marker(text: &str) -> Option<(bool, &'static str)> {
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
fn scan_refs(text: &str) -> Vec<Range<usize>> {
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
fn scan_raw(text: &str) -> Vec<(Range<usize>, u64)> {
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

// ---------------------------------------------------------------------------
// Rendering.

/// Appends `s` as a JSON string.
fn json_str(out: &mut String, s: &str) {
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
fn split_ending(buf: &[u8]) -> (&[u8], &[u8]) {
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

// ---------------------------------------------------------------------------
// perf script and bpftrace output.

/// Which profiler output [`rewrite_line`] expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RewriteFormat {
    /// `perf script`: `ffffffff81234567 [unknown] ([kernel.kallsyms])`
    /// frames get `name+0xoff`, and a `([unknown])` object the kernel's or
    /// the module's.
    Perf,
    /// bpftrace `kstack`: a line holding only a raw address
    /// (`0xffffffff81234567`, or 16 hex digits) becomes `name+off`, bpftrace's
    /// own form (decimal offset).
    Bpftrace,
    /// Both rules, line by line.
    #[default]
    Auto,
}

/// The line with its raw kernel addresses named, or `None` when nothing in
/// it changes. Addresses are looked up exactly (as the tools do).
pub fn rewrite_line(table: &SymbolTable, format: RewriteFormat, line: &str) -> Option<String> {
    match format {
        RewriteFormat::Perf => rewrite_perf(table, line),
        RewriteFormat::Bpftrace => rewrite_bpftrace(table, line),
        RewriteFormat::Auto => rewrite_perf(table, line).or_else(|| rewrite_bpftrace(table, line)),
    }
}

fn rewrite_perf(table: &SymbolTable, line: &str) -> Option<String> {
    const UNKNOWN: &str = "[unknown]";
    const UNKNOWN_DSO: &str = " ([unknown])";
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(p) = line[from..].find(UNKNOWN) {
        let at = from + p;
        from = at + UNKNOWN.len();
        // The symbol field follows the address after spaces.
        let before = line[..at].trim_end_matches(' ');
        if before.len() == at {
            continue;
        }
        let tok_start = before
            .rfind(|c: char| c.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let tok = &before[tok_start..];
        let hex = tok.strip_prefix("0x").unwrap_or(tok);
        if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let Some(s) = u64::from_str_radix(hex, 16)
            .ok()
            .and_then(|a| table.lookup(a))
        else {
            continue;
        };
        out.push_str(&line[copied..at]);
        let _ = write!(out, "{}+{:#x}", s.name, s.offset);
        let mut end = at + UNKNOWN.len();
        if line[end..].starts_with(UNKNOWN_DSO) {
            match s.module {
                Some(m) => {
                    let _ = write!(out, " ([{m}])");
                }
                None => out.push_str(" ([kernel.kallsyms])"),
            }
            end += UNKNOWN_DSO.len();
        }
        copied = end;
        from = end;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&line[copied..]);
    Some(out)
}

fn rewrite_bpftrace(table: &SymbolTable, line: &str) -> Option<String> {
    let token = line.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return None;
    }
    let hex = match token.strip_prefix("0x") {
        Some(h) => h,
        None if token.len() == 16 => token,
        None => return None,
    };
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let s = table.lookup(u64::from_str_radix(hex, 16).ok()?)?;
    let at = line.find(token)?;
    Some(format!(
        "{}{}+{}{}",
        &line[..at],
        s.name,
        s.offset,
        &line[at + token.len()..]
    ))
}

/// Counts over a rewritten stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewriteSummary {
    pub lines: u64,
    /// Lines where at least one address got a name.
    pub rewritten: u64,
}

/// [`rewrite_line`] over a stream; unchanged lines are copied byte for byte.
pub fn rewrite_stream(
    table: &SymbolTable,
    format: RewriteFormat,
    mut input: impl BufRead,
    mut output: impl Write,
    flush_lines: bool,
) -> io::Result<RewriteSummary> {
    let mut summary = RewriteSummary::default();
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        summary.lines += 1;
        let (body, ending) = split_ending(&buf);
        let new = std::str::from_utf8(body)
            .ok()
            .and_then(|t| rewrite_line(table, format, t));
        match new {
            Some(t) => {
                summary.rewritten += 1;
                output.write_all(t.as_bytes())?;
                output.write_all(ending)?;
            }
            None => output.write_all(&buf)?,
        }
        if flush_lines {
            output.flush()?;
        }
    }
    output.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SymbolTable {
        crate::table::table_of(&[
            (0xffffffff81000000u64, 'T', "_stext", None),
            (0xffffffff81000100, 't', "__pfx_foo", None),
            (0xffffffff81000110, 't', "foo", None),
            (0xffffffff81000140, 'T', "bar", None),
            (0xffffffff81000180, 'T', "dup", None),
            (0xffffffff810001a0, 'T', "dup", None),
            (0xffffffff810001c0, 'T', "baz", None),
            (0xffffffff81000200, 'T', "_etext", None),
            (0xffffffffc0000000, 't', "modfn", Some("m")),
            (0xffffffffc0000100, 't', "modfn2", Some("m")),
        ])
    }

    #[test]
    fn scanning() {
        let t = "[ 1.0] RIP: 0010:foo+0x5/0x30 [ext4 0123abcd] (bar.isra.0+0x1/0x2)";
        let r: Vec<&str> = scan_refs(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(r, ["foo+0x5/0x30 [ext4 0123abcd]", "bar.isra.0+0x1/0x2"]);
        assert!(scan_refs("x+0x/0x1 y+0x1/ z+0x1/0x2q").is_empty());
        let raw = scan_raw("[<ffffffff81000115>] [<zz>] [<1>]");
        assert_eq!(raw.len(), 2);
        assert_eq!(raw[0].1, 0xffffffff81000115);
        assert_eq!(
            release_of("CPU: 0 PID: 1 Comm: x Tainted: G        W  OE   6.1.0-56-amd64 #1 Debian"),
            Some("6.1.0-56-amd64")
        );
        assert_eq!(release_of("Tainted: [W]=WARN"), None);
        assert_eq!(marker("[ 1.0]  </IRQ>"), Some((true, "IRQ")));
        assert_eq!(marker("[ 1.0] Code: 00 <48> 8b"), None);
    }

    #[test]
    fn checks() {
        let t = table();
        let mut d = Decoder::new(&t);
        let l = d.decode_line("RIP: 0010:foo+0x5/0x30");
        assert_eq!(l.frames.len(), 1);
        let f = &l.frames[0];
        assert_eq!((f.form, &f.status), (FrameForm::Register, &Status::Ok));
        assert_eq!(f.addr, Some(0xffffffff81000115));
        d.decode_line("Call Trace:");
        d.decode_line(" <TASK>");
        let l = d.decode_line(" ? __pfx_foo+0x10/0x10");
        let f = &l.frames[0];
        assert_eq!(f.status, Status::Ok);
        assert!(!f.reliable);
        assert_eq!((f.form, f.context), (FrameForm::Trace, Some("TASK")));
        let l = d.decode_line(" foo+0x5/0x31");
        assert!(matches!(
            l.frames[0].status,
            Status::Mismatch(Mismatch::Size { trace: 0x31, .. })
        ));
        let l = d.decode_line(" foo+0x31/0x30");
        assert!(matches!(
            l.frames[0].status,
            Status::Mismatch(Mismatch::OffsetPastEnd { .. })
        ));
        let l = d.decode_line(" nosuch+0x1/0x2");
        assert_eq!(l.frames[0].status, Status::Mismatch(Mismatch::NoSuchName));
        let l = d.decode_line(" modfn+0x1/0x100");
        assert!(matches!(
            l.frames[0].status,
            Status::Mismatch(Mismatch::OtherModule { .. })
        ));
        let l = d.decode_line(" modfn+0x1/0x100 [m]");
        assert_eq!(l.frames[0].status, Status::Ok);
        let l = d.decode_line(" dup+0x1/0x20");
        assert_eq!((l.frames[0].candidates, l.frames[0].addr), (2, None));
        // Raw addresses in a trace are return addresses (%pB).
        let l = d.decode_line(" [<ffffffff81000140>]");
        assert_eq!(l.frames[0].status, Status::Raw);
        assert_eq!(l.frames[0].symbol.unwrap().to_string(), "foo+0x30/0x30");
        let l = d.decode_line(" ? 0xffffffff90000000");
        assert_eq!(l.frames[0].status, Status::Unresolved);
        assert!(!l.frames[0].reliable);
        // Address and reference together: they must agree.
        let l = d.decode_line(" [<ffffffff81000115>] ? foo+0x5/0x30");
        assert_eq!(l.frames.len(), 1);
        assert_eq!(l.frames[0].status, Status::Ok);
        assert!(!l.frames[0].reliable);
        let l = d.decode_line(" [<ffffffff81000116>] foo+0x5/0x30");
        assert!(matches!(
            l.frames[0].status,
            Status::Mismatch(Mismatch::Address { .. })
        ));
        let l = d.decode_line(" </TASK>");
        assert!(l.frames.is_empty());
        // Out of the trace, bare hex is no frame.
        assert!(d.decode_line(" 0xffffffff81000115").frames.is_empty());
        let l = d.decode_line("RIP: 0010:0xffffffff81000115");
        assert_eq!(l.frames[0].status, Status::Raw);
        assert_eq!(l.frames[0].form, FrameForm::Register);
        assert!(d.decode_line("RIP: 0033:0x7f0123456789").frames.is_empty());
        let l = d.decode_line("RIP: 0010:[<ffffffff81000115>]  [<ffffffff81000115>] foo+0x5/0x30");
        assert_eq!(l.frames.len(), 1);
        assert_eq!(
            (l.frames[0].form, &l.frames[0].status),
            (FrameForm::Register, &Status::Ok)
        );
        let l = d.decode_line("pc : foo+0x5/0x30");
        assert_eq!(l.frames[0].form, FrameForm::Register);
    }

    #[test]
    fn release_warning() {
        let t = table();
        let mut d = Decoder::new(&t).table_release(Some("6.18.44".into()));
        let l = d.decode_line("CPU: 2 UID: 0 PID: 1 Comm: x Not tainted 6.12.117+deb12-amd64 #1");
        assert!(matches!(l.warning, Some(Warning::ReleaseDiffers { .. })));
        assert_eq!(d.trace_release(), Some("6.12.117+deb12-amd64"));
        let l = d.decode_line("CPU: 2 UID: 0 PID: 1 Comm: x Not tainted 6.18.44 #1");
        assert_eq!(l.warning, None);
    }

    #[test]
    fn rewrites() {
        let t = table();
        let perf = "\t ffffffff81000115 [unknown] ([unknown])";
        assert_eq!(
            rewrite_line(&t, RewriteFormat::Perf, perf).unwrap(),
            "\t ffffffff81000115 foo+0x5 ([kernel.kallsyms])"
        );
        let two = "ffffffffc0000001 [unknown] ([kernel.kallsyms]) ffffffff81000141 [unknown]";
        assert_eq!(
            rewrite_line(&t, RewriteFormat::Auto, two).unwrap(),
            "ffffffffc0000001 modfn+0x1 ([kernel.kallsyms]) ffffffff81000141 bar+0x1"
        );
        assert_eq!(
            rewrite_line(&t, RewriteFormat::Perf, "1234 [unknown]"),
            None
        );
        assert_eq!(
            rewrite_line(&t, RewriteFormat::Bpftrace, "        0xffffffff81000141").unwrap(),
            "        bar+1"
        );
        assert_eq!(
            rewrite_line(&t, RewriteFormat::Bpftrace, "@[12345]: 3"),
            None
        );
        assert_eq!(rewrite_line(&t, RewriteFormat::Bpftrace, "  0x1234"), None);
    }

    #[test]
    fn json_escapes() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\n\u{1}");
        assert_eq!(s, r#""a\"b\\c\n\u0001""#);
    }
}
