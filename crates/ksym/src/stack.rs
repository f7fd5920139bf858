//! Batch symbolization: a slice of instruction pointers in, one frame per
//! pointer out, never dropped.
//!
//! A [`Symbolizer`] works over any [`SymbolSource`]: a [`SymbolTable`] (owned,
//! borrowed or in an `Arc`), the live [`KernelSymbols`] handle, or the
//! `Result` of loading one (so a profiler that could not read the kernel's
//! symbols still gets every frame, as a raw address, and a count of why).
//!
//! ```no_run
//! use ksym::stack::{AddrKind, Frames, Symbolizer};
//!
//! let table = ksym::load_live(&ksym::LoadOptions::default())?;
//! let symbolizer = Symbolizer::new(&table).addr_kind(AddrKind::Stack);
//! let mut frames = Frames::new(); // reuse it: no allocation once it is big enough
//! symbolizer.symbolize(&[0xffffffff81000000, 0xffffffff81000123], &mut frames);
//! for frame in frames.iter() {
//!     println!("{frame}"); // `name+0x1b/0x30 [module]`, or `0xffffffffc0001234`
//! }
//! println!("{:?}", symbolizer.stats());
//! # Ok::<(), ksym::Error>(())
//! ```
//!
//! # Cost
//!
//! A batch takes the source's table once (for [`KernelSymbols`], one atomic
//! reference count), then does one address search per pointer, skipped when
//! the pointer falls in the same symbol as the one before (stacks and
//! profiles repeat themselves). A frame is stored as the symbol's id, start
//! and size; its name, module and type are read from the table only when the
//! frame is looked at, as borrowed `&str`s. Nothing is allocated per pointer:
//! [`Frames`] grows to the largest batch seen and then stays.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::error::Error;
use crate::live::KernelSymbols;
use crate::table::{Symbol, SymbolTable, NONE};

/// A table to answer one batch from: borrowed from the source, or a
/// reference count on a table the source may replace later.
pub enum TableRef<'a> {
    Borrowed(&'a SymbolTable),
    Shared(Arc<SymbolTable>),
}

impl Deref for TableRef<'_> {
    type Target = SymbolTable;

    #[inline]
    fn deref(&self) -> &SymbolTable {
        match self {
            TableRef::Borrowed(t) => t,
            TableRef::Shared(t) => t,
        }
    }
}

impl fmt::Debug for TableRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Why a source could give no table, so frames stayed raw addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCause {
    /// The kernel hid its addresses from this reader (`kptr_restrict`: every
    /// address read as zero).
    Redacted,
    /// The symbols could not be opened: permission denied.
    PermissionDenied,
    /// Anything else (missing file, bad input, ...).
    Other,
}

impl FailureCause {
    /// Classifies an error of this crate.
    pub fn of(error: &Error) -> FailureCause {
        match error {
            Error::Redacted { .. } => FailureCause::Redacted,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                FailureCause::PermissionDenied
            }
            _ => FailureCause::Other,
        }
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureCause::Redacted => "the kernel hides its addresses (kptr_restrict)",
            FailureCause::PermissionDenied => "permission denied reading the symbols",
            FailureCause::Other => "the symbols could not be read",
        })
    }
}

/// Where a [`Symbolizer`] gets the table for a batch.
pub trait SymbolSource {
    /// The table to answer the next batch from, or why there is none.
    fn table(&self) -> Result<TableRef<'_>, FailureCause>;
}

impl SymbolSource for SymbolTable {
    #[inline]
    fn table(&self) -> Result<TableRef<'_>, FailureCause> {
        Ok(TableRef::Borrowed(self))
    }
}

impl<T: SymbolSource + ?Sized> SymbolSource for &T {
    #[inline]
    fn table(&self) -> Result<TableRef<'_>, FailureCause> {
        (**self).table()
    }
}

impl<T: SymbolSource + ?Sized> SymbolSource for Arc<T> {
    #[inline]
    fn table(&self) -> Result<TableRef<'_>, FailureCause> {
        (**self).table()
    }
}

impl<T: SymbolSource + ?Sized> SymbolSource for Box<T> {
    #[inline]
    fn table(&self) -> Result<TableRef<'_>, FailureCause> {
        (**self).table()
    }
}

/// The live handle: each batch answers from the table current when it starts.
impl SymbolSource for KernelSymbols {
    #[inline]
    fn table(&self) -> Result<TableRef<'_>, FailureCause> {
        Ok(TableRef::Shared(self.snapshot()))
    }
}

/// The outcome of loading a source: when it failed, every frame stays a raw
/// address and the failure is counted by its cause.
impl<S: SymbolSource> SymbolSource for Result<S, Error> {
    #[inline]
    fn table(&self) -> Result<TableRef<'_>, FailureCause> {
        match self {
            Ok(s) => s.table(),
            Err(e) => Err(FailureCause::of(e)),
        }
    }
}

/// How the pointers of a batch are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddrKind {
    /// Each pointer as it is: sampled IPs, a `RIP`, the kernel's `%pS`.
    #[default]
    Exact,
    /// Each pointer is a return address: look up `ip - 1`, as the kernel's
    /// `%pB` does, so a call that ends its function is named after that
    /// function and not the next one. The offset stays relative to `ip` (it
    /// may equal the size, as `%pB` prints it).
    Return,
    /// A stack as unwound: the first pointer exact (where the CPU was), the
    /// others return addresses.
    Stack,
}

impl AddrKind {
    #[inline]
    fn is_return(self, index: usize) -> bool {
        match self {
            AddrKind::Exact => false,
            AddrKind::Return => true,
            AddrKind::Stack => index > 0,
        }
    }
}

/// Why a frame is a raw address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawReason {
    /// No symbol holds the address (a gap, user space, an unknown JIT image).
    NoSymbol,
    /// The source gave no table.
    Unavailable(FailureCause),
}

/// One frame: a symbol, or the raw address when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'t> {
    /// The symbol holding the address. `symbol.offset` is measured from the
    /// address given (so `symbol.addr()` is that address), whatever
    /// [`AddrKind`] found it.
    Symbol(Symbol<'t>),
    /// The address as given.
    Raw { addr: u64, why: RawReason },
}

impl<'t> Frame<'t> {
    /// The address this frame stands for, as given.
    pub fn addr(&self) -> u64 {
        match self {
            Frame::Symbol(s) => s.addr(),
            Frame::Raw { addr, .. } => *addr,
        }
    }

    pub fn symbol(&self) -> Option<&Symbol<'t>> {
        match self {
            Frame::Symbol(s) => Some(s),
            Frame::Raw { .. } => None,
        }
    }
}

/// `name+0x1b/0x30 [module]` like `%pS`, or `0xffffffffc0001234` as `%pS`
/// prints an address without a symbol.
impl fmt::Display for Frame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Symbol(s) => fmt::Display::fmt(s, f),
            Frame::Raw { addr, .. } => write!(f, "{addr:#x}"),
        }
    }
}

/// What a batch leaves per pointer: 24 bytes, names read on demand.
#[derive(Debug, Clone, Copy)]
struct Slot {
    addr: u64,
    start: u64,
    /// The symbol's size, or for a raw frame the [`RawReason`] code.
    size: u64,
    id: u32,
}

const RAW_NO_SYMBOL: u64 = 0;

fn raw_code(why: RawReason) -> u64 {
    match why {
        RawReason::NoSymbol => RAW_NO_SYMBOL,
        RawReason::Unavailable(FailureCause::Redacted) => 1,
        RawReason::Unavailable(FailureCause::PermissionDenied) => 2,
        RawReason::Unavailable(FailureCause::Other) => 3,
    }
}

fn raw_reason(code: u64) -> RawReason {
    match code {
        RAW_NO_SYMBOL => RawReason::NoSymbol,
        1 => RawReason::Unavailable(FailureCause::Redacted),
        2 => RawReason::Unavailable(FailureCause::PermissionDenied),
        _ => RawReason::Unavailable(FailureCause::Other),
    }
}

/// The frames of the last batch, one per pointer, in input order, with the
/// table they were found in. Reuse one buffer across batches: it keeps its
/// capacity, so a steady stream of batches allocates nothing.
#[derive(Default)]
pub struct Frames<'s> {
    table: Option<TableRef<'s>>,
    slots: Vec<Slot>,
}

impl fmt::Debug for Frames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'s> Frames<'s> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A buffer with room for batches of `n` pointers.
    pub fn with_capacity(n: usize) -> Self {
        Frames {
            table: None,
            slots: Vec::with_capacity(n),
        }
    }

    /// As many frames as the batch had pointers.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The table the frames were found in (`None` when the source gave none).
    pub fn table(&self) -> Option<&SymbolTable> {
        self.table.as_deref()
    }

    /// Frame `i`, its names borrowed from the table.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Frame<'_>> {
        let slot = *self.slots.get(i)?;
        Some(self.frame_of(slot))
    }

    #[inline]
    fn frame_of(&self, slot: Slot) -> Frame<'_> {
        match (&self.table, slot.id) {
            (Some(table), id) if id != NONE => Frame::Symbol(table.make_symbol(
                id as usize,
                slot.start,
                slot.addr.wrapping_sub(slot.start),
                slot.size,
            )),
            _ => Frame::Raw {
                addr: slot.addr,
                why: raw_reason(slot.size),
            },
        }
    }

    /// Every frame, in input order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Frame<'_>> + '_ {
        self.slots.iter().map(move |&s| self.frame_of(s))
    }

    /// Whether frame `i` has a symbol (cheaper than [`get`](Self::get)).
    pub fn is_resolved(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(|s| s.id != NONE)
    }

    /// Drops the frames and the hold on the table, keeping the capacity.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.table = None;
    }
}

/// Running counts, updated once per batch; read them at any time with
/// [`Symbolizer::stats`].
#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    ips: AtomicU64,
    resolved: AtomicU64,
    raw: AtomicU64,
    no_symbol: AtomicU64,
    redacted: AtomicU64,
    permission_denied: AtomicU64,
    other: AtomicU64,
}

/// A reading of a [`Symbolizer`]'s counters. `ips == resolved + raw` and
/// `raw == no_symbol + failed_redacted + failed_permission + failed_other`
/// for every completed batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Batches symbolized.
    pub batches: u64,
    /// Pointers given, over all batches (equal to the frames returned).
    pub ips: u64,
    /// Frames that got a symbol.
    pub resolved: u64,
    /// Frames left as raw addresses, for any reason.
    pub raw: u64,
    /// Raw frames whose address no symbol holds.
    pub no_symbol: u64,
    /// Raw frames because the source was redacted (`kptr_restrict`).
    pub failed_redacted: u64,
    /// Raw frames because reading the symbols was not permitted.
    pub failed_permission: u64,
    /// Raw frames because the source failed otherwise.
    pub failed_other: u64,
}

/// Names batches of instruction pointers from a [`SymbolSource`]. `Sync`
/// when the source is: share one between threads, each with its own
/// [`Frames`] buffer.
pub struct Symbolizer<S> {
    source: S,
    kind: AddrKind,
    counters: Counters,
}

impl<S: fmt::Debug> fmt::Debug for Symbolizer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Symbolizer")
            .field("source", &self.source)
            .field("kind", &self.kind)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<S: SymbolSource> Symbolizer<S> {
    /// A symbolizer that looks pointers up as they are ([`AddrKind::Exact`]).
    pub fn new(source: S) -> Self {
        Symbolizer {
            source,
            kind: AddrKind::Exact,
            counters: Counters::default(),
        }
    }

    /// Sets how [`symbolize`](Self::symbolize) looks pointers up.
    pub fn addr_kind(mut self, kind: AddrKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    /// Fills `out` with one frame per pointer of `ips` (replacing what it
    /// held), looked up the way [`addr_kind`](Self::addr_kind) set.
    pub fn symbolize<'s>(&'s self, ips: &[u64], out: &mut Frames<'s>) {
        self.symbolize_as(ips, self.kind, out);
    }

    /// Like [`symbolize`](Self::symbolize), with the lookup kind given for
    /// this batch.
    pub fn symbolize_as<'s>(&'s self, ips: &[u64], kind: AddrKind, out: &mut Frames<'s>) {
        out.slots.clear();
        out.table = None;
        out.slots.reserve(ips.len());
        let c = &self.counters;
        c.batches.fetch_add(1, Relaxed);
        c.ips.fetch_add(ips.len() as u64, Relaxed);
        let table = match self.source.table() {
            Ok(t) => t,
            Err(cause) => {
                let code = raw_code(RawReason::Unavailable(cause));
                out.slots.extend(ips.iter().map(|&addr| Slot {
                    addr,
                    start: 0,
                    size: code,
                    id: NONE,
                }));
                let n = ips.len() as u64;
                c.raw.fetch_add(n, Relaxed);
                match cause {
                    FailureCause::Redacted => &c.redacted,
                    FailureCause::PermissionDenied => &c.permission_denied,
                    FailureCause::Other => &c.other,
                }
                .fetch_add(n, Relaxed);
                return;
            }
        };
        let resolved = fill(&table, ips, kind, &mut out.slots);
        out.table = Some(table);
        let raw = ips.len() as u64 - resolved;
        c.resolved.fetch_add(resolved, Relaxed);
        c.raw.fetch_add(raw, Relaxed);
        c.no_symbol.fetch_add(raw, Relaxed);
    }

    /// A new buffer holding the frames of `ips` (for one-off calls; reuse a
    /// [`Frames`] with [`symbolize`](Self::symbolize) in a loop).
    pub fn symbolize_new(&self, ips: &[u64]) -> Frames<'_> {
        let mut out = Frames::with_capacity(ips.len());
        self.symbolize(ips, &mut out);
        out
    }
}

impl<S> Symbolizer<S> {
    /// The counters now. Each is read on its own (relaxed): a reading taken
    /// while a batch runs on another thread may be between two updates.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            batches: c.batches.load(Relaxed),
            ips: c.ips.load(Relaxed),
            resolved: c.resolved.load(Relaxed),
            raw: c.raw.load(Relaxed),
            no_symbol: c.no_symbol.load(Relaxed),
            failed_redacted: c.redacted.load(Relaxed),
            failed_permission: c.permission_denied.load(Relaxed),
            failed_other: c.other.load(Relaxed),
        }
    }
}

/// The lookups of one batch; returns how many resolved.
#[inline]
fn fill(table: &SymbolTable, ips: &[u64], kind: AddrKind, slots: &mut Vec<Slot>) -> u64 {
    let mut resolved = 0u64;
    // The last symbol found, `[start, start + size)` (a zero-size symbol
    // answers its start only): a pointer inside it needs no search.
    let (mut id, mut start, mut size) = (NONE, 1u64, 0u64);
    for (i, &addr) in ips.iter().enumerate() {
        let look = if kind.is_return(i) {
            addr.wrapping_sub(1)
        } else {
            addr
        };
        let inside = look.wrapping_sub(start) < size || (look == start && size == 0);
        if !(inside && id != NONE) {
            match table.locate(look) {
                Some((i, s, z)) => (id, start, size) = (i as u32, s, z),
                None => {
                    (id, start, size) = (NONE, 1, 0);
                    slots.push(Slot {
                        addr,
                        start: 0,
                        size: RAW_NO_SYMBOL,
                        id: NONE,
                    });
                    continue;
                }
            }
        }
        resolved += 1;
        slots.push(Slot {
            addr,
            start,
            size,
            id,
        });
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{TableBuilder, TableInfo};

    fn table() -> SymbolTable {
        let mut b = TableBuilder::new();
        for (a, k, n, m) in [
            (0xffffffff81000000u64, 'T', "_stext", None),
            (0xffffffff81000000, 'T', "_text", None),
            (0xffffffff81000100, 't', "__pfx_foo", None),
            (0xffffffff81000110, 't', "foo", None),
            (0xffffffff81000140, 'T', "bar", None),
            (0xffffffff81000200, 'T', "_etext", None),
            (0xffffffffc0000000, 't', "modfn", Some("m")),
        ] {
            b.add(a, k, n, m);
        }
        b.build(TableInfo::default()).unwrap()
    }

    #[test]
    fn frames_kinds_and_counts() {
        let t = table();
        let s = Symbolizer::new(&t);
        let ips = [
            0xffffffff81000115,
            0xffffffff81000116,
            0xffffffff81000140,
            0x1234,
            0xffffffffc0000010,
            0xffffffff81000200,
            0xffffffff81000201,
        ];
        let f = s.symbolize_new(&ips);
        assert_eq!(f.len(), ips.len());
        let text: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            text,
            [
                "foo+0x5/0x30",
                "foo+0x6/0x30",
                "bar+0x0/0xc0",
                "0x1234",
                "modfn+0x10/0x10000 [m]",
                "_etext+0x0/0x0",
                "0xffffffff81000201",
            ]
        );
        for (f, &ip) in f.iter().zip(&ips) {
            assert_eq!(f.addr(), ip);
        }
        // Return addresses: the start of `bar` is the end of `foo`, and the
        // start of `foo` the end of its padding.
        let mut out = Frames::new();
        s.symbolize_as(
            &[0xffffffff81000140, 0xffffffff81000110],
            AddrKind::Return,
            &mut out,
        );
        let text: Vec<String> = out.iter().map(|f| f.to_string()).collect();
        assert_eq!(text, ["foo+0x30/0x30", "__pfx_foo+0x10/0x10"]);
        s.symbolize_as(
            &[0xffffffff81000140, 0xffffffff81000140],
            AddrKind::Stack,
            &mut out,
        );
        let text: Vec<String> = out.iter().map(|f| f.to_string()).collect();
        assert_eq!(text, ["bar+0x0/0xc0", "foo+0x30/0x30"]);
        let st = s.stats();
        assert_eq!(st.batches, 3);
        assert_eq!(st.ips, 11);
        assert_eq!(st.resolved, 9);
        assert_eq!((st.raw, st.no_symbol), (2, 2));
        assert_eq!(st.ips, st.resolved + st.raw);
    }

    #[test]
    fn failed_sources_keep_raw_frames() {
        let src: Result<SymbolTable, Error> = Err(Error::Redacted {
            source_name: "/proc/kallsyms".into(),
            kptr_restrict: Some(1),
        });
        let s = Symbolizer::new(src);
        let f = s.symbolize_new(&[1, 2, 3]);
        assert_eq!(f.len(), 3);
        assert!(f.table().is_none());
        assert_eq!(
            f.get(2),
            Some(Frame::Raw {
                addr: 3,
                why: RawReason::Unavailable(FailureCause::Redacted)
            })
        );
        let denied: Result<SymbolTable, Error> = Err(Error::Io {
            path: "/proc/kallsyms".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        let d = Symbolizer::new(denied);
        d.symbolize_new(&[7; 5]);
        let other: Result<SymbolTable, Error> = Err(Error::Empty {
            source_name: "x".into(),
        });
        let o = Symbolizer::new(other);
        o.symbolize_new(&[7; 2]);
        assert_eq!(s.stats().failed_redacted, 3);
        assert_eq!(d.stats().failed_permission, 5);
        assert_eq!((o.stats().failed_other, o.stats().raw), (2, 2));
        assert_eq!(o.stats().resolved, 0);
    }
}
