//! The frames of a batch: [`Frame`] (a symbol or a raw address) and the
//! reusable [`Frames`] buffer that holds one per pointer, in input order.

use std::fmt;

use super::fill::Scratch;
use super::{AddrKind, FailureCause, RawReason, TableRef};
use crate::table::{PackedSymbol, Symbol, SymbolTable, NONE};

/// One frame: a symbol, or the raw address when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'t> {
    /// The symbol holding the address. `symbol.offset` is measured from the
    /// address given (so `symbol.addr()` is that address), whatever
    /// [`AddrKind`](super::AddrKind) found it.
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

/// The frames of the last batch, one per pointer, in input order, with the
/// table they were found in. Reuse one buffer across batches: it keeps its
/// capacity, so a steady stream of batches allocates nothing.
///
/// Per pointer it holds the address and the index of its symbol among the
/// symbols of the batch (12 bytes); per symbol, its bounds and where its
/// strings are (32 bytes).
#[derive(Default)]
pub struct Frames<'s> {
    pub(super) table: Option<TableRef<'s>>,
    /// Why the source gave no table (every frame raw).
    pub(super) failure: Option<FailureCause>,
    pub(super) addrs: Vec<u64>,
    /// Index into `found`, `NONE` for a raw frame.
    pub(super) which: Vec<u32>,
    pub(super) found: Vec<PackedSymbol>,
    pub(super) scratch: Scratch,
    /// How the batch was looked up (which pointers are return addresses).
    pub(super) kind: AddrKind,
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
            addrs: Vec::with_capacity(n),
            which: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// As many frames as the batch had pointers.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The table the frames were found in (`None` when the source gave none).
    pub fn table(&self) -> Option<&SymbolTable> {
        self.table.as_deref()
    }

    /// The table, when the source shares it (a live handle, a table behind
    /// an `Arc`): to keep it, and what the frames borrow from it, alive
    /// after the frames are reused.
    pub fn shared_table(&self) -> Option<std::sync::Arc<SymbolTable>> {
        match &self.table {
            Some(TableRef::Shared(t)) => Some(t.clone()),
            _ => None,
        }
    }

    /// How many symbols the batch looked up (each distinct symbol once, or
    /// a few times when met far apart in a small batch).
    pub fn symbols_looked_up(&self) -> usize {
        self.found.len()
    }

    /// Frame `i`, its names borrowed from the table.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Frame<'_>> {
        Some(self.frame_of(*self.addrs.get(i)?, self.which[i]))
    }

    #[inline]
    fn frame_of(&self, addr: u64, which: u32) -> Frame<'_> {
        match (&self.table, self.found.get(which as usize)) {
            (Some(table), Some(f)) => Frame::Symbol(table.unpack(f, addr.wrapping_sub(f.start))),
            _ => Frame::Raw {
                addr,
                why: self
                    .failure
                    .map_or(RawReason::NoSymbol, RawReason::Unavailable),
            },
        }
    }

    /// Every frame, in input order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Frame<'_>> + '_ {
        self.addrs
            .iter()
            .zip(&self.which)
            .enumerate()
            .map(move |(i, (&a, &w))| {
                // Frames name their symbols in input order, which is random
                // order in `found`: ask for the symbol a few frames ahead now,
                // so that its cache miss overlaps with this frame's work.
                if let Some(&ahead) = self.which.get(i + READ_AHEAD) {
                    if let Some(f) = self.found.get(ahead as usize) {
                        crate::table::column::prefetch(f);
                    }
                }
                self.frame_of(a, w)
            })
    }

    /// Whether frame `i` has a symbol (cheaper than [`get`](Self::get)).
    pub fn is_resolved(&self, i: usize) -> bool {
        self.which.get(i).is_some_and(|&w| w != NONE)
    }

    /// The address the code of frame `i` is at: a return address less one
    /// (the call), as the batch looked it up.
    pub fn code_addr(&self, i: usize) -> Option<u64> {
        let addr = *self.addrs.get(i)?;
        Some(if self.kind.is_return(i) {
            addr.wrapping_sub(1)
        } else {
            addr
        })
    }

    /// The buffer without its frames or its hold on the table, ready for
    /// another source: keeps the capacity. For callers that store one
    /// buffer across calls on sources of shorter life (the C ABI's result).
    pub fn recycle(mut self) -> Frames<'static> {
        self.clear();
        Frames {
            table: None,
            failure: None,
            addrs: std::mem::take(&mut self.addrs),
            which: std::mem::take(&mut self.which),
            found: std::mem::take(&mut self.found),
            scratch: std::mem::take(&mut self.scratch),
            kind: AddrKind::Exact,
        }
    }

    /// Drops the frames and the hold on the table, keeping the capacity.
    pub fn clear(&mut self) {
        self.addrs.clear();
        self.which.clear();
        self.found.clear();
        self.table = None;
        self.failure = None;
    }
}

/// How many frames ahead [`Frames::iter`] starts loading a frame's symbol.
const READ_AHEAD: usize = 16;
