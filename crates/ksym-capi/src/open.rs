//! Opening a symbol source: the live kernel (through the snapshot cache,
//! with or without the watcher that follows modules and BPF), a kallsyms
//! or System.map file, a snapshot, a kernel image. The handle,
//! `ksym_symbolizer`, answers every later call.

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ksym_core::live::LiveConfig;
use ksym_core::{KernelSymbols, LoadOptions, SymbolTable, Symbolizer};

use crate::error::*;

/// `ksym_open_options.cache`: the default private cache
/// (`$KSYM_CACHE_DIR`, else `$XDG_CACHE_HOME/ksym` or `~/.cache/ksym`).
pub const KSYM_CACHE_DEFAULT: u8 = 0;
/// `ksym_open_options.cache`: no snapshot cache.
pub const KSYM_CACHE_OFF: u8 = 1;
/// `ksym_open_options.cache`: the directory in `cache_dir`.
pub const KSYM_CACHE_DIR: u8 = 2;

/// How to open a source. Zero it, set `size = sizeof(ksym_open_options)`,
/// then the fields wanted; a NULL pointer means all defaults.
#[repr(C)]
pub struct ksym_open_options {
    /// `sizeof(ksym_open_options)` as the caller was compiled with.
    pub size: usize,
    /// Live kernel: follow module loads and unloads and BPF programs (a
    /// watcher thread, woken by uevents and perf ksymbol events). 0: the
    /// table of the moment.
    pub watch: u8,
    /// Live kernel: `KSYM_CACHE_DEFAULT`, `KSYM_CACHE_OFF` or
    /// `KSYM_CACHE_DIR`.
    pub cache: u8,
    /// 1: source file, line and inlined frames in every frame, from the
    /// cached line table of the kernel's build (`ksym line-table` makes
    /// it), else the DWARF of `vmlinux` or of the vmlinux found where
    /// distributions put it or through `DEBUGINFOD_URLS`; live modules'
    /// `.ko` files are found the same way. Nothing found: frames without
    /// lines. Needs a library built with source lines (the default).
    pub lines: u8,
    pub reserved0: [u8; 5],
    /// With `KSYM_CACHE_DIR`: the cache directory (made 0700 if missing).
    pub cache_dir: *const c_char,
    /// The most bytes an input may hold after decompression; 0 for the
    /// library's bounds (256 MiB of text, 4 GiB of binary input).
    pub max_input_bytes: u64,
    /// With `lines`: a vmlinux with DWARF to use (NULL: look for one).
    pub vmlinux: *const c_char,
    /// `ksym_open_file` of a kallsyms text: a saved `/proc/modules` or a
    /// module layout file bounding the modules' symbols (NULL: none).
    pub modules: *const c_char,
    /// `ksym_open_file`: a NULL-terminated array of paths of modules' `.ko`
    /// files (plain or compressed; at most 4096): their real symbol sizes,
    /// and with `lines` their source lines, each section placed where the
    /// module's own symbols in the table put it when nothing else says
    /// (NULL: none).
    pub ko: *const *const c_char,
    /// Must be zero.
    pub reserved: [u8; 8],
}

/// The most `.ko` paths `ksym_open_options.ko` may list.
const MAX_KO_FILES: usize = 4096;

/// Where a handle's tables come from.
pub(crate) use ksym_core::stack::TableSource as Source;

/// An open symbol source and its counters. Every function taking a
/// `const ksym_symbolizer *` may be called from many threads at once on one
/// handle (the live handle is lock-free for readers); `ksym_close` must not
/// race with any of them.
pub struct ksym_symbolizer {
    pub(crate) symbolizer: Symbolizer<Source>,
}

pub(crate) struct Options {
    pub(crate) watch: bool,
    pub(crate) cache: Option<PathBuf>,
    pub(crate) max_input_bytes: Option<u64>,
    pub(crate) lines: bool,
    pub(crate) vmlinux: Option<PathBuf>,
    pub(crate) modules: Option<PathBuf>,
    pub(crate) ko: Vec<PathBuf>,
}

/// The options as given, checked.
///
/// # Safety
/// `opts` is NULL or points at `opts->size` readable bytes.
unsafe fn options(opts: *const ksym_open_options) -> Result<Options, Failure> {
    // SAFETY: as the caller promises.
    let Some(size) = (unsafe { declared_size(opts) }) else {
        return Ok(Options {
            watch: false,
            cache: ksym_core::cache::default_dir(),
            max_input_bytes: None,
            lines: false,
            vmlinux: None,
            modules: None,
            ko: Vec::new(),
        });
    };
    let known = std::mem::size_of::<ksym_open_options>();
    if size < known {
        return Err(Failure::invalid(format!(
            "ksym_open_options.size is {size}, less than {known}: set it to sizeof(ksym_open_options)"
        )));
    }
    // SAFETY: at least the whole struct is there (checked just above).
    let o = unsafe { &*opts };
    let mut reserved = o.reserved0.to_vec();
    reserved.extend_from_slice(&o.reserved);
    // SAFETY: `size` bytes are readable, as the caller promises.
    unsafe {
        check_input(
            opts.cast(),
            o.size,
            known,
            known,
            &reserved,
            "ksym_open_options",
        )?
    };
    let cache = match o.cache {
        KSYM_CACHE_DEFAULT => ksym_core::cache::default_dir(),
        KSYM_CACHE_OFF => None,
        KSYM_CACHE_DIR => {
            // SAFETY: a NUL-terminated string or NULL, as documented.
            Some(PathBuf::from(unsafe { str_arg(o.cache_dir, "cache_dir") }?))
        }
        other => return Err(Failure::invalid(format!("unknown cache mode {other}"))),
    };
    let vmlinux = match o.vmlinux.is_null() {
        true => None,
        // SAFETY: a NUL-terminated string, as documented.
        false => Some(PathBuf::from(unsafe { str_arg(o.vmlinux, "vmlinux") }?)),
    };
    if o.lines > 1 || (o.lines == 0 && vmlinux.is_some()) {
        return Err(Failure::invalid(format!(
            "ksym_open_options.lines is {}: 0 or 1 (and 1 to use vmlinux)",
            o.lines
        )));
    }
    if o.lines == 1 && !cfg!(feature = "lines") {
        return Err(Failure::invalid(
            "this libksym was built without source lines (cargo feature `lines`)",
        ));
    }
    let modules = match o.modules.is_null() {
        true => None,
        // SAFETY: a NUL-terminated string, as documented.
        false => Some(PathBuf::from(unsafe { str_arg(o.modules, "modules") }?)),
    };
    // SAFETY: NULL or a NULL-terminated array of strings, as documented.
    let ko = unsafe { ko_paths(o.ko) }?;
    Ok(Options {
        watch: o.watch != 0,
        cache,
        max_input_bytes: (o.max_input_bytes != 0).then_some(o.max_input_bytes),
        lines: o.lines == 1,
        vmlinux,
        modules,
        ko,
    })
}

/// The paths of a NULL-terminated array (NULL: none), at most
/// [`MAX_KO_FILES`] of them.
///
/// # Safety
/// `ko` is NULL or points at NUL-terminated strings ending with a NULL.
unsafe fn ko_paths(ko: *const *const c_char) -> Result<Vec<PathBuf>, Failure> {
    let mut out = Vec::new();
    if ko.is_null() {
        return Ok(out);
    }
    for i in 0.. {
        // SAFETY: the array goes on to its NULL, as the caller promises.
        let p = unsafe { *ko.add(i) };
        if p.is_null() {
            break;
        }
        if i == MAX_KO_FILES {
            return Err(Failure::invalid(format!(
                "ksym_open_options.ko lists more than {MAX_KO_FILES} files (or lacks its NULL)"
            )));
        }
        // SAFETY: a NUL-terminated string, as documented.
        out.push(PathBuf::from(unsafe { str_arg(p, "ko[i]") }?));
    }
    Ok(out)
}

fn into_handle(source: Source, o: &Options, out: *mut *mut ksym_symbolizer) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::invalid("out is NULL"));
    }
    // A mapped table's names are checked once here, not in the first batch.
    source.current().names_are_c_strings();
    let symbolizer = Symbolizer::new(source);
    #[cfg(feature = "lines")]
    let symbolizer = match o.lines {
        true => {
            let live = matches!(symbolizer.source(), Source::Live(_));
            let table = symbolizer.source().current();
            let lines = crate::lines::source_lines(&table, live, o)?;
            symbolizer.with_lines(lines)
        }
        false => symbolizer,
    };
    #[cfg(not(feature = "lines"))]
    let _ = o;
    let handle = Box::new(ksym_symbolizer { symbolizer });
    // SAFETY: `out` is a valid pointer to write the handle to.
    unsafe { *out = Box::into_raw(handle) };
    Ok(())
}

/// Opens the running kernel's symbols (`/proc/kallsyms`, `/proc/modules`,
/// `/sys/module`), through the snapshot cache unless told otherwise, and
/// stores a new handle in `*out`; loaded modules' symbols get their real
/// sizes from their `.ko` files when `/lib/modules/$(uname -r)/modules.dep`
/// finds them, as the `ksym` command's do. Needs root (CAP_SYSLOG) or a
/// kernel that shows addresses: else `KSYM_ERR_REDACTED` with the setting
/// to change. Thread-safe.
///
/// # Safety
/// `opts` is NULL or a valid `ksym_open_options`; `out` is writable; `err`
/// is NULL or a `ksym_error` with its `size` set.
#[no_mangle]
pub unsafe extern "C" fn ksym_open_live(
    opts: *const ksym_open_options,
    out: *mut *mut ksym_symbolizer,
    err: *mut ksym_error,
) -> ksym_status {
    guard(err, || {
        // SAFETY: as the caller promises.
        let o = unsafe { options(opts) }?;
        if o.modules.is_some() || !o.ko.is_empty() {
            return Err(Failure::invalid(
                "ksym_open_options.modules and .ko are for ksym_open_file: the live \
                 kernel's come from /proc/modules, /sys/module and modules.dep",
            ));
        }
        let mut config = LiveConfig::new().watch(o.watch).cache_dir(o.cache.clone());
        // Real module sizes from the .ko files, as the `ksym` command
        // gives them (such tables are cached apart from those without:
        // LiveConfig::snapshot_cache_dir).
        if let Some(release) = ksym_core::HostKernel::discover().release {
            config = config.module_sizes_from(ksym_core::elf::modules_dir(&release));
        }
        let live = KernelSymbols::open(config)?;
        into_handle(Source::Live(live), &o, out)
    })
}

/// Opens a file: a kallsyms or System.map text (plain or compressed), a
/// ksym snapshot, or a kernel image (`vmlinuz`, `vmlinux`), told apart by
/// their first bytes, and stores a new handle in `*out`. Thread-safe.
///
/// # Safety
/// `path` is a NUL-terminated string; the rest as for `ksym_open_live`.
#[no_mangle]
pub unsafe extern "C" fn ksym_open_file(
    path: *const c_char,
    opts: *const ksym_open_options,
    out: *mut *mut ksym_symbolizer,
    err: *mut ksym_error,
) -> ksym_status {
    guard(err, || {
        // SAFETY: as the caller promises.
        let (path, o) = unsafe { (str_arg(path, "path")?, options(opts)?) };
        let table = open_path(Path::new(path), &o)?;
        let table = with_ko_sizes(table, &o)?;
        into_handle(Source::Fixed(Arc::new(table)), &o, out)
    })
}

/// The table with the real sizes of the `.ko` files given.
fn with_ko_sizes(table: SymbolTable, o: &Options) -> Result<SymbolTable, Failure> {
    if o.ko.is_empty() {
        return Ok(table);
    }
    let limit = ksym_core::read::limit::Limit::binary(o.max_input_bytes);
    let kos =
        o.ko.iter()
            .map(|p| ksym_core::elf::read_elf_within(p, limit))
            .collect::<Result<Vec<_>, _>>()?;
    Ok(ksym_core::elf::apply_modules(table, &kos).0)
}

/// A file of any kind the library reads, by its first bytes.
fn open_path(path: &Path, o: &Options) -> Result<SymbolTable, Failure> {
    let max_input_bytes = o.max_input_bytes;
    let mut head = [0u8; 8];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|source| ksym_core::Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        f.read(&mut head).unwrap_or(0)
    };
    let mut opts = LoadOptions {
        max_input_bytes,
        ..LoadOptions::default()
    };
    if let Some(m) = &o.modules {
        let limit = ksym_core::read::limit::Limit::text(max_input_bytes);
        let bytes = ksym_core::read::read_file_within(m, limit, &mut |_| Ok(()))?;
        let mut map = ksym_core::ModuleMap::default();
        map.add_text(&ksym_core::read::source_name(m), &bytes)?;
        opts.modules = Some(map);
    }
    let limit = ksym_core::read::limit::Limit::binary(max_input_bytes);
    Ok(if head[..n].starts_with(b"KSYMSNAP") {
        let verify = ksym_core::snapshot::OpenOptions { verify: true };
        ksym_core::snapshot::open_within(path, verify, limit)?.0
    } else if is_kernel_image(&head[..n]) {
        ksym_core::load_image(path, &opts)?
    } else {
        ksym_core::load_file(path, &opts)?
    })
}

/// An ELF file (`vmlinux`) or a boot image (`vmlinuz`: the bzImage boot
/// sector's `MZ`, or the ELF or compressed payload the image reader finds).
fn is_kernel_image(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF") || head.starts_with(b"MZ")
}

/// Closes a handle and frees what it holds (the watcher thread stops).
/// NULL is allowed. No call on the handle may run at the same time or
/// after.
///
/// # Safety
/// `handle` is NULL or came from a `ksym_open_*` call and is not used again.
#[no_mangle]
pub unsafe extern "C" fn ksym_close(handle: *mut ksym_symbolizer) {
    if !handle.is_null() {
        // SAFETY: a handle from Box::into_raw, closed once.
        drop(unsafe { Box::from_raw(handle) });
    }
}

/// The handle behind a `const ksym_symbolizer *`.
///
/// # Safety
/// `h` is NULL or a live handle.
pub(crate) unsafe fn handle<'a>(h: *const ksym_symbolizer) -> Result<&'a ksym_symbolizer, Failure> {
    // SAFETY: as the caller promises.
    unsafe { h.as_ref() }.ok_or_else(|| Failure::invalid("the handle is NULL"))
}
