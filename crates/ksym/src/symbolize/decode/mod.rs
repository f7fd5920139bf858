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

mod annotate;
mod decoder;
mod json;
mod scan;
mod stream;

use std::fmt;
use std::ops::Range;

use crate::table::{Symbol, SymbolRef};

pub use crate::symbolize::json::symbol_json;
pub use annotate::{
    rewrite_line, rewrite_stream, rewrite_stream_with, RewriteFormat, RewriteSummary,
};
pub use decoder::Decoder;
pub use json::line_json;
pub use scan::release_of;
pub use stream::{decode_stream, decode_stream_with, FrameExtra, Output, Summary};

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
    /// A call trace frame at `+0x0` of a kernel whose traces print return
    /// addresses as they are (arm64's `%pS`): the function holding the
    /// address less one, which made the call (`%pB`'s reading, offset
    /// from the address).
    pub caller: Option<Symbol<'t>>,
}

impl DecodedFrame<'_, '_> {
    /// What the annotated output appends for this frame.
    pub fn note(&self) -> String {
        match &self.status {
            Status::Ok => match self.addr {
                Some(a) if self.candidates <= 1 => match self.caller {
                    Some(c) => format!("{a:#x}, a return address: the call is in {c}"),
                    None => format!("{a:#x}"),
                },
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

#[cfg(test)]
mod tests;
