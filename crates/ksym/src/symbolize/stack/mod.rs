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
//! reference count). Each symbol met is looked up once per batch: its
//! bounds, and where its name, module and type are in the table, are kept
//! in the [`Frames`] buffer, and every frame in it is rebuilt from there as
//! borrowed `&str`s.
//!
//! - A small batch (a stack, under 512 pointers) does one address search
//!   per pointer, skipped when the pointer falls in the same symbol as the
//!   one before.
//! - A large batch (a profile) first folds repeated pointers through a
//!   small hash table (while they are few: at most one distinct pointer in
//!   16, up to 32,768), then looks up each distinct pointer once (the
//!   table's direct index makes each search two loads and a short scan),
//!   each symbol's bounds and strings worked out once however many pointers
//!   fall in it (a symbol met again is found by its id). Frames stay in
//!   input order.
//!
//! Nothing is allocated per pointer: [`Frames`] (12 bytes a frame, and for
//! large batches up to 12 bytes a pointer and 4 bytes a table symbol of
//! scratch) grows to the largest batch seen and then stays.

mod fill;
mod frames;
mod symbolizer;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::error::Error;
use crate::live::KernelSymbols;
use crate::table::SymbolTable;

pub use frames::{Frame, Frames};
pub use symbolizer::{Stats, Symbolizer};

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

/// What a long-lived handle answers from (the C ABI's, Python's): the live
/// kernel, followed, or one table that never changes. Batches get the
/// table shared, not borrowed, so their frames keep it after the live
/// table has moved on.
pub enum TableSource {
    Live(KernelSymbols),
    Fixed(Arc<SymbolTable>),
}

impl SymbolSource for TableSource {
    #[inline]
    fn table(&self) -> Result<TableRef<'_>, FailureCause> {
        match self {
            TableSource::Live(k) => k.table(),
            TableSource::Fixed(t) => Ok(TableRef::Shared(t.clone())),
        }
    }
}

impl TableSource {
    /// The table of the moment.
    pub fn current(&self) -> Arc<SymbolTable> {
        match self {
            TableSource::Live(k) => k.snapshot(),
            TableSource::Fixed(t) => t.clone(),
        }
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
    pub(crate) fn is_return(self, index: usize) -> bool {
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

#[cfg(test)]
mod tests;
