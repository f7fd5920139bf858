//! The [`Symbolizer`]: a [`SymbolSource`] and a lookup kind, answering batches
//! into [`Frames`], with running counts read as [`Stats`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::fill::{fill, fill_large, FOLD_MIN};
use super::{AddrKind, FailureCause, Frames, SymbolSource};
use crate::table::NONE;

/// Running counts, updated once per batch; read them at any time with
/// [`Symbolizer::stats`].
#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    failed_batches: AtomicU64,
    ips: AtomicU64,
    resolved: AtomicU64,
    raw: AtomicU64,
    no_symbol: AtomicU64,
    redacted: AtomicU64,
    permission_denied: AtomicU64,
    other: AtomicU64,
    lines_found: AtomicU64,
    lines_missing: AtomicU64,
}

/// A reading of a [`Symbolizer`]'s counters. `ips == resolved + raw` and
/// `raw == no_symbol + failed_redacted + failed_permission + failed_other`
/// for every completed batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Batches symbolized.
    pub batches: u64,
    /// Batches the source gave no table for (every frame raw).
    pub failed_batches: u64,
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
    /// Frames whose source lines were asked and found
    /// (`Symbolizer::source_frames`, with the `dwarf` feature).
    pub lines_found: u64,
    /// Frames whose source lines were asked and not there (no debug info
    /// for the address, or it could not be read).
    pub lines_missing: u64,
}

/// Names batches of instruction pointers from a [`SymbolSource`]. `Sync`
/// when the source is: share one between threads, each with its own
/// [`Frames`] buffer.
pub struct Symbolizer<S> {
    source: S,
    kind: AddrKind,
    counters: Counters,
    #[cfg(feature = "dwarf")]
    lines: Option<crate::lines::SourceLines>,
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
            #[cfg(feature = "dwarf")]
            lines: None,
        }
    }

    /// Gives the symbolizer source lines to answer
    /// [`source_frames`](Self::source_frames) from.
    #[cfg(feature = "dwarf")]
    pub fn with_lines(mut self, lines: crate::lines::SourceLines) -> Self {
        self.lines = Some(lines);
        self
    }

    /// Whether source lines were given ([`with_lines`](Self::with_lines)).
    #[cfg(feature = "dwarf")]
    pub fn has_lines(&self) -> bool {
        self.lines.is_some()
    }

    /// The source frames of frame `i` of `frames` (a batch of this
    /// symbolizer's), innermost first: the DWARF's file, line and inlined
    /// calls where its code is (one byte before a return address). Empty
    /// when there is no line information there, or no source lines were
    /// given; the frame keeps its symbol either way. An error (a debug
    /// file that cannot be read) counts as missing too.
    #[cfg(feature = "dwarf")]
    pub fn source_frames(
        &self,
        frames: &Frames<'_>,
        i: usize,
    ) -> crate::error::Result<Vec<crate::lines::SourceFrame>> {
        let c = &self.counters;
        let found = match (&self.lines, frames.code_addr(i)) {
            (Some(lines), Some(addr)) => lines.frames(addr),
            _ => Ok(Vec::new()),
        };
        match &found {
            Ok(f) if !f.is_empty() => &c.lines_found,
            _ => &c.lines_missing,
        }
        .fetch_add(1, Relaxed);
        found
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
        out.clear();
        let c = &self.counters;
        c.batches.fetch_add(1, Relaxed);
        c.ips.fetch_add(ips.len() as u64, Relaxed);
        out.addrs.extend_from_slice(ips);
        out.kind = kind;
        out.which.resize(ips.len(), NONE);
        let table = match self.source.table() {
            Ok(t) => t,
            Err(cause) => {
                out.failure = Some(cause);
                c.failed_batches.fetch_add(1, Relaxed);
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
        let look = |i: usize| {
            if kind.is_return(i) {
                ips[i].wrapping_sub(1)
            } else {
                ips[i]
            }
        };
        let resolved = if ips.len() < FOLD_MIN || ips.len() >= NONE as usize {
            fill(&table, ips.len(), look, &mut out.which, &mut out.found)
        } else {
            fill_large(&table, ips.len(), look, out)
        };
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
            failed_batches: c.failed_batches.load(Relaxed),
            ips: c.ips.load(Relaxed),
            resolved: c.resolved.load(Relaxed),
            raw: c.raw.load(Relaxed),
            no_symbol: c.no_symbol.load(Relaxed),
            failed_redacted: c.redacted.load(Relaxed),
            failed_permission: c.permission_denied.load(Relaxed),
            failed_other: c.other.load(Relaxed),
            lines_found: c.lines_found.load(Relaxed),
            lines_missing: c.lines_missing.load(Relaxed),
        }
    }
}
