//! `ksym.Table`: an open source's symbols, asked from any thread.

use std::sync::{Arc, RwLock};

use ksym::decode::{decode_stream, Decoder, Output};
use ksym::symbolize::json::parse_addr;
use ksym::{SymbolTable, Symbolizer};
use pyo3::exceptions::PyRuntimeWarning;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyIterator, PyList, PyString};

use crate::batch::{addr_kind, Addresses, Frames};
use crate::errors::{bad_input, to_py, Error};
use crate::lines::Lines;
use crate::objects::{SourceLine, Symbol};
use crate::open::{Opened, Source};

/// What a table answers from: closing drops it (a live handle's watcher
/// stops once no call is using it).
struct Inner {
    symbolizer: Symbolizer<Source>,
    lines: Lines,
    release: Option<String>,
}

/// The symbols of one source: the live kernel (`ksym.open_live`), a file
/// (`ksym.open_file`) or a snapshot (`ksym.open_snapshot`). Safe to share
/// between threads; batches and loads run without the GIL. A context
/// manager (closing it on exit) and an iterable of its symbols.
#[pyclass(frozen, module = "ksym", name = "Table")]
pub(crate) struct Table {
    inner: RwLock<Option<Arc<Inner>>>,
}

impl Table {
    pub(crate) fn new(opened: Opened, lines: Lines) -> Self {
        Table {
            inner: RwLock::new(Some(Arc::new(Inner {
                symbolizer: Symbolizer::new(opened.source),
                lines,
                release: opened.release,
            }))),
        }
    }

    fn inner(&self) -> PyResult<Arc<Inner>> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| Error::new_err("the table is closed"))
    }

    fn current(&self) -> PyResult<Arc<SymbolTable>> {
        Ok(self.inner()?.symbolizer.source().current())
    }
}

/// An address given as an int, or as hex text as `ksym addr` takes it.
fn address(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_cow()?;
        return parse_addr(text.trim())
            .ok_or_else(|| bad_input(format!("{text:?} is not a hex address")));
    }
    obj.extract::<u64>().map_err(|_| {
        bad_input(format!(
            "an address is an int from 0 to 2**64-1 (or hex text), not {}",
            obj.repr().map_or_else(|_| "?".into(), |r| r.to_string())
        ))
    })
}

/// Says each note as a Python warning.
pub(crate) fn warn_all(py: Python<'_>, notes: &[String]) -> PyResult<()> {
    let category = py.get_type::<PyRuntimeWarning>();
    for note in notes {
        let text = std::ffi::CString::new(note.replace('\0', " "))
            .map_err(|_| bad_input("a note held a NUL"))?;
        PyErr::warn(py, &category, &text, 1)?;
    }
    Ok(())
}

#[pymethods]
impl Table {
    /// The symbol holding `addr` (an int, or hex text), as the kernel's
    /// `%pS` names it, or None. Absolute symbols never answer.
    fn lookup(&self, addr: &Bound<'_, PyAny>) -> PyResult<Option<Symbol>> {
        let addr = address(addr)?;
        let table = self.current()?;
        Ok(table
            .lookup(addr)
            .map(|s| Symbol::of(&table.with_section(s))))
    }

    /// One frame per address, in order: `addrs` is any sequence of ints or
    /// a buffer of uint64 (a numpy array, read in place). `kind`: "exact"
    /// (as given), "return" (return addresses: the symbol of `addr - 1`, as
    /// `%pB`), "stack" (the first exact, the rest return addresses).
    #[pyo3(signature = (addrs, kind = "exact"))]
    fn symbolize(&self, py: Python<'_>, addrs: &Bound<'_, PyAny>, kind: &str) -> PyResult<Frames> {
        let kind = addr_kind(kind)?;
        let addrs = Addresses::of(addrs)?;
        let inner = self.inner()?;
        let ips = addrs.as_slice();
        Ok(py.detach(|| Frames::symbolize(&inner.symbolizer, ips, kind)))
    }

    /// Every symbol named `name` (or the one a unique spelling such as
    /// `name [ext4]` or `name#2 [vmlinux]` names), in address order; held to
    /// `module` when given (`"vmlinux"`: the core kernel). Empty when none.
    #[pyo3(signature = (name, module = None))]
    fn find(&self, name: &str, module: Option<&str>) -> PyResult<Vec<Symbol>> {
        let table = self.current()?;
        let found = table.find_named(name, module);
        Ok(found.iter().map(Symbol::of).collect())
    }

    /// The address of a reference such as `func+0x1b/0x30 [mod]`, its size
    /// checked against the table; raises NotFound, Mismatch, Ambiguous or
    /// BadInput with the command's sentence.
    fn resolve(&self, reference: &str) -> PyResult<u64> {
        self.current()?.resolve(reference).map_err(to_py)
    }

    /// The source lines of `addr`, innermost first (inlined frames, then the
    /// function): from the cached line table or DWARF of the kernel's build
    /// (`vmlinux=` when opened, else found), modules from their `.ko`.
    /// Empty where there is none (why is said once, as a RuntimeWarning).
    fn lines(&self, py: Python<'_>, addr: &Bound<'_, PyAny>) -> PyResult<Vec<SourceLine>> {
        let addr = address(addr)?;
        let inner = self.inner()?;
        let mut notes = Vec::new();
        let found = py.detach(|| {
            let table = inner.symbolizer.source().current();
            inner.lines.frames(&table, addr, &mut notes)
        });
        warn_all(py, &notes)?;
        Ok(found
            .map_err(to_py)?
            .into_iter()
            .map(SourceLine::from)
            .collect())
    }

    /// Counters of the batches so far and the table's size: `symbols`,
    /// `batches`, `ips`, `resolved`, `raw`, `no_symbol`, `failed_redacted`,
    /// `failed_permission`, `failed_other`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = self.inner()?;
        let s = inner.symbolizer.stats();
        let d = PyDict::new(py);
        d.set_item("symbols", inner.symbolizer.source().current().len())?;
        for (k, v) in [
            ("batches", s.batches),
            ("failed_batches", s.failed_batches),
            ("ips", s.ips),
            ("resolved", s.resolved),
            ("raw", s.raw),
            ("no_symbol", s.no_symbol),
            ("failed_redacted", s.failed_redacted),
            ("failed_permission", s.failed_permission),
            ("failed_other", s.failed_other),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// The frames and warnings of kernel log text (an oops, a call trace),
    /// each the object `ksym decode --json` prints for it, as a dict.
    fn decode<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyIterator>> {
        let inner = self.inner()?;
        let out = py.detach(|| {
            let table = inner.symbolizer.source().current();
            let mut decoder = Decoder::new(&table).table_release(inner.release.clone());
            let mut out = Vec::with_capacity(text.len());
            decode_stream(&mut decoder, text.as_bytes(), &mut out, Output::Json, false).map(|_| out)
        });
        let out = out.map_err(|e| bad_input(format!("decoding failed: {e}")))?;
        let loads = py.import("json")?.getattr("loads")?;
        let items = String::from_utf8_lossy(&out)
            .lines()
            .map(|l| loads.call1((l,)))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)?.try_iter()
    }

    /// The release of the kernel the symbols are of, when known (live, a
    /// snapshot).
    #[getter]
    fn release(&self) -> PyResult<Option<String>> {
        Ok(self.inner()?.release.clone())
    }

    /// How many symbols the table holds (the live table of the moment).
    fn __len__(&self) -> PyResult<usize> {
        Ok(self.current()?.len())
    }

    /// Every symbol, in address order (name-only ones after), from the
    /// table of the moment.
    fn __iter__(&self) -> PyResult<SymbolIter> {
        Ok(SymbolIter {
            table: self.current()?,
            next: std::sync::atomic::AtomicU32::new(0),
        })
    }

    /// Closes the table: later calls raise ksym.Error; a live table's
    /// watcher stops when no call is using it any more.
    fn close(&self) {
        self.inner.write().unwrap_or_else(|e| e.into_inner()).take();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _kind: &Bound<'_, PyAny>,
        _value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        match self.inner() {
            Ok(inner) => {
                let kind = match inner.symbolizer.source() {
                    Source::Live(_) => "live",
                    Source::Fixed(_) => "fixed",
                };
                format!(
                    "<ksym.Table {kind}, {} symbols>",
                    inner.symbolizer.source().current().len()
                )
            }
            Err(_) => "<ksym.Table closed>".to_string(),
        }
    }
}

/// Iterates a table's symbols.
#[pyclass(frozen, module = "ksym")]
pub(crate) struct SymbolIter {
    table: Arc<SymbolTable>,
    next: std::sync::atomic::AtomicU32,
}

#[pymethods]
impl SymbolIter {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self) -> Option<Symbol> {
        use std::sync::atomic::Ordering::Relaxed;
        loop {
            let id = self.next.fetch_add(1, Relaxed);
            if id as usize >= self.table.len() {
                return None;
            }
            if let Some(s) = self.table.symbol(ksym::SymbolId(id)) {
                return Some(Symbol::of(&s));
            }
        }
    }
}
