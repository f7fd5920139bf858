//! The values handed to Python: a `Symbol` (what holds an address, or a
//! name's symbol), a `Frame` (one address of a batch) and a `SourceLine`
//! (one file:line frame from DWARF). Each owns its strings, so it outlives
//! the table it came from.

use pyo3::prelude::*;

/// A kernel symbol, as `ksym addr --json` describes it. `str()` gives
/// `name+0x1b/0x30 [module]`, as the kernel's `%pS` prints it.
#[pyclass(frozen, module = "ksym", eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Symbol {
    /// The symbol's name.
    #[pyo3(get)]
    name: String,
    /// The module, None for the core kernel.
    #[pyo3(get)]
    module: Option<String>,
    /// The symbol's first address.
    #[pyo3(get)]
    start: u64,
    /// The symbol's size (real when an ELF symbol table gave it).
    #[pyo3(get)]
    size: u64,
    /// How far into the symbol the address looked up is (0 from find).
    #[pyo3(get)]
    offset: u64,
    /// The type letter (`T`, `t`, `d`, ...).
    #[pyo3(get, name = "type")]
    kind: char,
    /// The object file, from kallmodsyms' `{object.o}`.
    #[pyo3(get)]
    object: Option<String>,
    /// The source path, from the `path/file.c:name` form.
    #[pyo3(get)]
    path: Option<String>,
    /// The module section the address is in (`.text`, `.plt`, ...), where known.
    #[pyo3(get)]
    section: Option<String>,
}

impl Symbol {
    pub(crate) fn of(s: &ksym::Symbol<'_>) -> Self {
        Symbol {
            name: s.name.to_owned(),
            module: s.module.map(str::to_owned),
            start: s.start,
            size: s.size,
            offset: s.offset,
            kind: s.kind,
            object: s.object.map(str::to_owned),
            path: s.path.map(str::to_owned),
            section: s.section.map(str::to_owned),
        }
    }
}

/// `name+0x1b/0x30 [module]`.
fn percent_ps(name: &str, offset: u64, size: u64, module: Option<&str>) -> String {
    match module {
        Some(m) => format!("{name}+{offset:#x}/{size:#x} [{m}]"),
        None => format!("{name}+{offset:#x}/{size:#x}"),
    }
}

#[pymethods]
impl Symbol {
    /// The address this symbol was found for: `start + offset`.
    #[getter]
    fn addr(&self) -> u64 {
        self.start.wrapping_add(self.offset)
    }

    fn __str__(&self) -> String {
        percent_ps(&self.name, self.offset, self.size, self.module.as_deref())
    }

    fn __repr__(&self) -> String {
        format!(
            "<ksym.Symbol {} at {:#x}, type {:?}>",
            self.__str__(),
            self.start,
            self.kind
        )
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.name, &self.module, self.start, self.offset).hash(&mut h);
        h.finish()
    }
}

/// One address of a batch: its symbol's `name`, `module`, `start`,
/// `offset`, `size` and `type`, or `name` None and a `reason` (`no_symbol`,
/// `redacted`, `permission_denied`, `unavailable`) where it stays raw.
/// `str()` is `name+0x1b/0x30 [module]`, or the address in hex.
#[pyclass(frozen, module = "ksym", eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The address as given.
    #[pyo3(get)]
    addr: u64,
    #[pyo3(get)]
    name: Option<String>,
    #[pyo3(get)]
    module: Option<String>,
    #[pyo3(get)]
    start: Option<u64>,
    /// From the address given, also for return addresses (as `%pB`).
    #[pyo3(get)]
    offset: Option<u64>,
    #[pyo3(get)]
    size: Option<u64>,
    #[pyo3(get, name = "type")]
    kind: Option<char>,
    /// Why the frame is a raw address; None when it has a symbol.
    #[pyo3(get)]
    reason: Option<&'static str>,
}

impl Frame {
    pub(crate) fn symbol(addr: u64, s: &ksym::Symbol<'_>) -> Self {
        Frame {
            addr,
            name: Some(s.name.to_owned()),
            module: s.module.map(str::to_owned),
            start: Some(s.start),
            offset: Some(addr.wrapping_sub(s.start)),
            size: Some(s.size),
            kind: Some(s.kind),
            reason: None,
        }
    }

    pub(crate) fn raw(addr: u64, reason: &'static str) -> Self {
        Frame {
            addr,
            name: None,
            module: None,
            start: None,
            offset: None,
            size: None,
            kind: None,
            reason: Some(reason),
        }
    }
}

#[pymethods]
impl Frame {
    fn __str__(&self) -> String {
        match (&self.name, self.offset, self.size) {
            (Some(name), Some(offset), Some(size)) => {
                percent_ps(name, offset, size, self.module.as_deref())
            }
            _ => format!("{:#x}", self.addr),
        }
    }

    fn __repr__(&self) -> String {
        match self.reason {
            Some(why) => format!("<ksym.Frame {:#x} raw: {why}>", self.addr),
            None => format!("<ksym.Frame {:#x} {}>", self.addr, self.__str__()),
        }
    }
}

/// One source frame of an address, innermost first: the function, file,
/// line and column, and whether it is inlined into the next one.
#[pyclass(frozen, module = "ksym", eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SourceLine {
    /// DWARF's name of the subprogram or inlined subroutine.
    #[pyo3(get)]
    function: Option<String>,
    /// The file, relative to the build directory where it is in it.
    #[pyo3(get)]
    file: Option<String>,
    #[pyo3(get)]
    line: Option<u32>,
    #[pyo3(get)]
    column: Option<u32>,
    /// Inlined into the next frame (every frame but the last).
    #[pyo3(get)]
    inlined: bool,
    /// The line's text, where the debug info keeps it (a BPF program's BTF).
    #[pyo3(get)]
    source: Option<String>,
}

impl From<ksym::lines::SourceFrame> for SourceLine {
    fn from(f: ksym::lines::SourceFrame) -> Self {
        SourceLine {
            function: f.function,
            file: f.file,
            line: f.line,
            column: f.column,
            inlined: f.inlined,
            source: f.source,
        }
    }
}

#[pymethods]
impl SourceLine {
    /// `foo at fs/xfs/xfs_inode.c:123:4`, `inlined ` before an inlined one.
    fn __str__(&self) -> String {
        let f = ksym::lines::SourceFrame {
            function: self.function.clone(),
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            inlined: self.inlined,
            source: self.source.clone(),
        };
        f.to_string()
    }

    fn __repr__(&self) -> String {
        format!("<ksym.SourceLine {}>", self.__str__())
    }
}
