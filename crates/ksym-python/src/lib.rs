//! `ksym._ksym`: the Python extension module behind the `ksym` package, for
//! people who read kernels from Python (drgn, bcc tools, crash scripts,
//! notebooks). It opens a source as the `ksym` command does and answers
//! with the library's own calls, so every answer equals `ksym addr --json`:
//!
//! - `open_live`, `open_file`, `open_snapshot` ([`open`]) give a `Table`
//!   ([`table`]): `lookup`, `symbolize` ([`batch`]: a numpy array read in
//!   place, the GIL released), `find`, `resolve`, `lines` ([`lines`]),
//!   `decode`, `stats`;
//! - the values ([`objects`]) own their strings;
//! - errors are `ksym.Error` and its subclasses ([`errors`]), with the
//!   command's sentence.
//!
//! `python/ksym/__init__.py` re-exports it; `__init__.pyi` types it.

mod batch;
mod buffer;
mod errors;
mod lines;
mod objects;
mod open;
mod table;

use std::collections::HashMap;
use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors::to_py;
use crate::lines::{LineSetup, Lines};
use crate::open::{cache_dir, FileArgs, Opened};
use crate::table::{warn_all, Table};

/// Turns an opened source into a table, saying its notes as warnings.
fn table_of(py: Python<'_>, opened: ksym::Result<Opened>, mut setup: LineSetup) -> PyResult<Table> {
    let opened = opened.map_err(to_py)?;
    warn_all(py, &opened.notes)?;
    setup.release = opened.release.clone();
    setup.build_id = opened.build_id.clone();
    Ok(Table::new(opened, Lines::new(setup)))
}

/// The running kernel's symbols (`/proc/kallsyms`, `/proc/modules`,
/// `/sys/module`), mapped from the private snapshot cache when it holds
/// this boot's (`cache=False`: read afresh, nothing stored). With `watch`,
/// a thread follows module loads and BPF programs and the table moves on.
/// `vmlinux`: a vmlinux with DWARF for `lines()` (else one is looked for).
/// Raises Redacted where the kernel hides its addresses from this reader.
#[pyfunction]
#[pyo3(signature = (watch = true, cache = true, vmlinux = None))]
fn open_live(
    py: Python<'_>,
    watch: bool,
    cache: bool,
    vmlinux: Option<PathBuf>,
) -> PyResult<Table> {
    let dir = cache_dir(cache);
    let setup = LineSetup {
        vmlinux,
        ko: HashMap::new(),
        live: true,
        release: None,
        build_id: None,
        cache_dir: dir.clone(),
    };
    let opened = py.detach(|| open::live(watch, dir));
    table_of(py, opened, setup)
}

/// A saved symbol file, as the command's `--kallsyms FILE` (kallsyms,
/// System.map, kallmodsyms; plain, .xz, .gz, .zst; a vmlinux's ELF symbol
/// table) or `--image FILE` (a vmlinuz or raw arm64 Image), told apart by
/// its first bytes (a snapshot too). `modules`: a /proc/modules copy or
/// module layout table bounding module symbols (`--modules`); `ko`: module
/// .ko files whose real sizes replace the guessed ones and whose DWARF
/// serves `lines()` (`--ko`); `vmlinux`: real sizes for the core, and its
/// DWARF for `lines()` (`--vmlinux`). `cache=False`: the file's table is
/// not kept in the private cache.
#[pyfunction]
#[pyo3(signature = (path, modules = None, ko = Vec::new(), vmlinux = None, cache = true))]
fn open_file(
    py: Python<'_>,
    path: PathBuf,
    modules: Option<PathBuf>,
    ko: Vec<PathBuf>,
    vmlinux: Option<PathBuf>,
    cache: bool,
) -> PyResult<Table> {
    let args = FileArgs {
        path,
        modules,
        ko,
        vmlinux,
        cache: cache_dir(cache),
    };
    let setup = LineSetup {
        vmlinux: args.vmlinux.clone(),
        ko: args
            .ko
            .iter()
            .map(|p| (ksym::elf::module_name_from_path(p), p.clone()))
            .collect(),
        live: false,
        release: None,
        build_id: None,
        cache_dir: args.cache.clone(),
    };
    let opened = py.detach(|| open::file(&args));
    table_of(py, opened, setup)
}

/// A snapshot file (`ksym snapshot save`, from any machine), mapped in
/// place with every checksum verified.
#[pyfunction]
fn open_snapshot(py: Python<'_>, path: PathBuf) -> PyResult<Table> {
    let setup = LineSetup {
        vmlinux: None,
        ko: HashMap::new(),
        live: false,
        release: None,
        build_id: None,
        cache_dir: cache_dir(true),
    };
    let opened = py.detach(|| open::snapshot(&path));
    table_of(py, opened, setup)
}

#[pymodule]
fn _ksym(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(open_live, m)?)?;
    m.add_function(wrap_pyfunction!(open_file, m)?)?;
    m.add_function(wrap_pyfunction!(open_snapshot, m)?)?;
    m.add_class::<Table>()?;
    m.add_class::<objects::Symbol>()?;
    m.add_class::<objects::Frame>()?;
    m.add_class::<objects::SourceLine>()?;
    m.add_class::<batch::Frames>()?;
    errors::register(m)?;
    Ok(())
}
