//! The [`Decoder`]: one kernel log line at a time, its frames found and each
//! checked against the table (name, module, size, offset, given address).

use std::ops::Range;

use memchr::memmem;

use super::scan::{marker, release_of, scan_raw, scan_refs};
use super::{DecodedFrame, FrameForm, Line, Mismatch, Status, Warning};
use crate::symbolize::pointer_auth::PointerAuth;
use crate::table::{Symbol, SymbolRef, SymbolTable};

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
    /// The kernel's traces print return addresses as they are (see
    /// [`DecodedFrame::caller`]).
    returns_as_they_are: bool,
    /// Raw addresses lose their authentication code (arm64) before a lookup.
    pointer_auth: PointerAuth,
}

impl<'t> Decoder<'t> {
    pub fn new(table: &'t SymbolTable) -> Self {
        let arch = crate::live::host::arch_of_table(table);
        Decoder {
            table,
            table_release: None,
            line: 0,
            in_trace: false,
            context: None,
            trace_release: None,
            returns_as_they_are: arch.is_some_and(|a| a.trace_frames_print_return_addresses),
            pointer_auth: PointerAuth::of_arch(arch),
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
        // SysRq `t` heads each task's trace with `task:NAME state:S ...
        // flags:0x00000002`; its fields are no frames, wherever it falls.
        if is_task_header(text) {
            return line;
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
            let mut frame = self.check(span, form, reliable, reference, addr);
            // A module frame says which section it is in (`.plt`, ...).
            frame.symbol = frame.symbol.map(|s| self.table.with_section(s));
            frames.push(frame);
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
        // A user-space register line inside a trace (`RIP: 0033:0x7f...`
        // after SysRq `l`) is no kernel frame.
        if !self.in_trace || before.contains("RIP: ") {
            return None;
        }
        // A `key:0x...` field (`flags:0x00000002`, `mask:0x...`) is a
        // value, not a frame: a trace frame's address follows blank space.
        if before.ends_with(':') {
            return None;
        }
        // Nor is a number no kernel code could be at: kernel addresses,
        // x86_64's and arm64's (signed with a PAC code too), have bit 55
        // set, user ones not (a `0xc0` that a SysRq `t` dump on 6.12 arm64
        // left on a line of its own, inside a trace, was taken for one).
        if addr >> 55 & 1 == 0 {
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
        let stripped = given_addr.map(|a| self.pointer_auth.strip(a));
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
            addr: stripped,
            symbol: None,
            status: Status::Unresolved,
            candidates: 0,
            caller: None,
        };
        let Some(r) = reference else {
            let addr = stripped.unwrap_or(0);
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
        match stripped {
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
        if form == FrameForm::Trace && r.offset == 0 && self.returns_as_they_are {
            frame.caller = frame.addr.and_then(|a| self.name_addr(a, FrameForm::Trace));
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

/// Whether the line, after its log prefix (`[  7.5] `, a journal's
/// `host kernel: `), is a SysRq `t` task header: `task:NAME state:...`.
fn is_task_header(text: &str) -> bool {
    let Some(at) = text.find("task:") else {
        return false;
    };
    let head = text[..at].trim_end();
    (head.is_empty() || head.ends_with(']') || head.ends_with(':'))
        && text[at..].contains(" state:")
}

fn preceded_by_question(before: &str) -> bool {
    let t = before.trim_end();
    t.ends_with(" ?") || t == "?" || t.ends_with("]?")
}
