//! Batches: addresses in (a buffer of uint64 read in place, or any iterable
//! of ints), one frame per address out. The frames of a batch stay compact
//! (no Python object per frame) until they are read.

use std::sync::Arc;

use ksym::stack::{AddrKind, Frame as LibFrame, Frames as LibFrames, Symbolizer};
use ksym::symbolize::json::raw_reason;
use ksym::{SymbolId, SymbolTable};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::buffer::U64Buffer;
use crate::errors::bad_input;
use crate::objects::Frame;
use crate::open::Source;

/// A batch's addresses: a buffer held in place, or read into a vector.
pub(crate) enum Addresses {
    Buffer(U64Buffer),
    Owned(Vec<u64>),
}

impl Addresses {
    pub(crate) fn of(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Some(buffer) = U64Buffer::get(obj)? {
            return Ok(Addresses::Buffer(buffer));
        }
        if obj.is_instance_of::<PyString>() || obj.extract::<u64>().is_ok() {
            return Err(bad_input(
                "symbolize takes a sequence of addresses (lookup takes one)",
            ));
        }
        let iter = obj.try_iter().map_err(|_| {
            bad_input(format!(
                "symbolize takes a sequence of ints or a buffer of uint64, not {}",
                type_name(obj)
            ))
        })?;
        let mut out = Vec::with_capacity(obj.len().unwrap_or(0));
        for (i, item) in iter.enumerate() {
            let item = item?;
            let addr = item.extract::<u64>().map_err(|_| {
                bad_input(format!(
                    "address {i} is not an int from 0 to 2**64-1: {}",
                    item.repr().map_or_else(|_| "?".into(), |r| r.to_string())
                ))
            })?;
            out.push(addr);
        }
        Ok(Addresses::Owned(out))
    }

    pub(crate) fn as_slice(&self) -> &[u64] {
        match self {
            Addresses::Buffer(b) => b.as_slice(),
            Addresses::Owned(v) => v,
        }
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string())
}

/// `kind=` of `symbolize`.
pub(crate) fn addr_kind(kind: &str) -> PyResult<AddrKind> {
    match kind {
        "exact" => Ok(AddrKind::Exact),
        "return" => Ok(AddrKind::Return),
        "stack" => Ok(AddrKind::Stack),
        other => Err(bad_input(format!(
            "kind must be \"exact\", \"return\" or \"stack\", not {other:?}"
        ))),
    }
}

/// One frame as kept: the address, and its symbol's id, bounds and type
/// (`id` u32::MAX: a raw address).
#[derive(Clone, Copy)]
struct Slot {
    addr: u64,
    start: u64,
    size: u64,
    id: u32,
    kind: char,
}

const RAW: u32 = u32::MAX;

/// The frames of one batch, one per address, in input order: a sequence
/// of `ksym.Frame`, each made when it is read. Holds the table it was
/// answered from, so the frames stay right after a live table moves on.
#[pyclass(frozen, module = "ksym", sequence)]
pub(crate) struct Frames {
    table: Option<Arc<SymbolTable>>,
    slots: Vec<Slot>,
    /// Why raw frames are raw (`no_symbol` when the table was there).
    raw_reason: &'static str,
    resolved: usize,
}

impl Frames {
    /// Runs one batch (call without the GIL).
    pub(crate) fn symbolize(s: &Symbolizer<Source>, ips: &[u64], kind: AddrKind) -> Frames {
        let mut frames = LibFrames::with_capacity(ips.len());
        s.symbolize_as(ips, kind, &mut frames);
        let mut raw_why = "no_symbol";
        let mut resolved = 0;
        let slots = frames
            .iter()
            .map(|f| match f {
                LibFrame::Symbol(sym) => {
                    resolved += 1;
                    Slot {
                        addr: sym.addr(),
                        start: sym.start,
                        size: sym.size,
                        id: sym.id.0,
                        kind: sym.kind,
                    }
                }
                LibFrame::Raw { addr, why } => {
                    raw_why = raw_reason(why);
                    Slot {
                        addr,
                        start: 0,
                        size: 0,
                        id: RAW,
                        kind: '?',
                    }
                }
            })
            .collect();
        Frames {
            table: frames.shared_table(),
            slots,
            raw_reason: raw_why,
            resolved,
        }
    }

    fn frame(&self, slot: &Slot) -> Frame {
        let sym = match (&self.table, slot.id) {
            (Some(t), id) if id != RAW => t.symbol(SymbolId(id)),
            _ => None,
        };
        match sym {
            Some(mut s) => {
                // The batch's bounds (as found for this address), the
                // table's strings.
                s.start = slot.start;
                s.size = slot.size;
                s.kind = slot.kind;
                Frame::symbol(slot.addr, &s)
            }
            None => Frame::raw(slot.addr, self.raw_reason),
        }
    }
}

#[pymethods]
impl Frames {
    fn __len__(&self) -> usize {
        self.slots.len()
    }

    fn __getitem__(&self, index: isize) -> PyResult<Frame> {
        let n = self.slots.len() as isize;
        let i = if index < 0 { index + n } else { index };
        if !(0..n).contains(&i) {
            return Err(PyIndexError::new_err("frame index out of range"));
        }
        Ok(self.frame(&self.slots[i as usize]))
    }

    fn __iter__(slf: Py<Self>) -> FrameIter {
        FrameIter {
            frames: slf,
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many frames have a symbol.
    #[getter]
    fn resolved(&self) -> usize {
        self.resolved
    }

    /// The addresses, as given.
    #[getter]
    fn addrs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.slots.iter().map(|s| s.addr))
    }

    fn __repr__(&self) -> String {
        format!(
            "<ksym.Frames {} frames, {} with a symbol>",
            self.slots.len(),
            self.resolved
        )
    }
}

/// Iterates a batch's frames.
#[pyclass(frozen, module = "ksym")]
pub(crate) struct FrameIter {
    frames: Py<Frames>,
    next: std::sync::atomic::AtomicUsize,
}

#[pymethods]
impl FrameIter {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self) -> Option<Frame> {
        let frames = self.frames.get();
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        frames.slots.get(i).map(|slot| frames.frame(slot))
    }
}
