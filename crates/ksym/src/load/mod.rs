//! The loads: each source run through read -> parse -> build once, with its
//! options carried down the stages in one direction.
//!
//! - text in memory or in a file (kallsyms, `System.map`, kallmodsyms, plain
//!   or compressed): [`parse_bytes`], [`load_file`];
//! - the live `/proc/kallsyms` with `/proc/modules` and `/sys/module`:
//!   [`load_live`], [`load_procfs`], [`load_streaming`]; the BPF ksym
//!   iterator in its place when kallsyms is redacted (`bpf_iter`);
//! - a kernel image's own kallsyms tables: [`load_image`];
//! - ELF: a vmlinux's `.symtab` ([`load_vmlinux`]) and the `.ko` files of
//!   `modules.dep` attached to a table ([`apply_modules_dep`]).
//!
//! Not a stage of its own: the place where the stages meet.

pub mod bpf_iter;
pub mod bpf_lines;
pub mod elf;
pub mod file_cache;
pub mod image;
pub mod procfs;
pub mod sizes;
pub mod text;

use std::path::Path;

use crate::error::{Error, Result};
use crate::parse::ModuleMap;
use crate::read::{kptr_restrict, source_name, Limit, PROC_KALLSYMS};
use crate::table::SymbolTable;

pub use bpf_iter::load_ksym_iter;
pub use elf::{apply_modules_dep, load_vmlinux, vmlinux_table};
pub use image::load_image;
pub use procfs::{load_procfs, load_streaming, read_live_modules, read_proc_modules};
pub use text::parse_bytes;

/// How to read symbol text.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Stop at the first bad line instead of skipping and counting it.
    pub strict: bool,
    /// Module extents or areas that bound module symbols.
    pub modules: Option<ModuleMap>,
    /// How many threads a load may use: `None` for as many as help (a
    /// reader beside the parser for the live kernel; up to four parsers for
    /// a megabyte of text or more, one per CPU); `Some(1)` for the calling
    /// thread alone; `Some(n)` for text in memory cut in `n` parts (at most
    /// 64), whatever its size.
    pub threads: Option<usize>,
    /// The most bytes one source may bring in after decompression: `None`
    /// for the defaults (256 MiB of text, 4 GiB of a binary file, and no
    /// more than 64 times the compressed size past 16 MiB; see
    /// [`crate::read::limit`]).
    pub max_input_bytes: Option<u64>,
}

impl LoadOptions {
    /// The threads a load may use, given the CPUs (at least one).
    fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// Builds a table from a file of symbol text (or standard input for `-`),
/// plain or compressed, held to `opts.max_input_bytes`; a source whose
/// first megabyte holds no symbol line is refused without reading the rest.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<SymbolTable> {
    let name = source_name(path);
    let limit = Limit::text(opts.max_input_bytes);
    let bytes =
        crate::read::mapped::map_checked(path, limit, &mut |head| text::check_head(&name, head))?;
    parse_bytes(&name, bytes.bytes(), opts)
}

/// Builds a table from the running kernel's `/proc/kallsyms`, bounding
/// module symbols with `/proc/modules` when it exists (a kernel without
/// module support has none, which is fine).
///
/// When `/proc/kallsyms` shows every address as zero (`kptr_restrict=2`,
/// or a reader without `CAP_SYSLOG`), the BPF ksym iterator stands in
/// where it can ([`bpf_iter`]: Linux 6.0+, `CAP_BPF` and `CAP_PERFMON`);
/// the table's source then says so. Where it cannot, the redaction error
/// says why.
pub fn load_live(opts: &LoadOptions) -> Result<SymbolTable> {
    let mut opts = opts.clone();
    if opts.modules.is_none() {
        opts.modules = read_live_modules(Path::new("/"))?;
    }
    let loaded = load_procfs(Path::new(PROC_KALLSYMS), &opts, kptr_restrict());
    or_bpf_iter(loaded, &opts)
}

/// `loaded` (the running kernel's `/proc/kallsyms`), or where it was
/// redacted, the BPF ksym iterator's table; where that cannot be had
/// either, the redaction error with the reason added.
pub fn or_bpf_iter(loaded: Result<SymbolTable>, opts: &LoadOptions) -> Result<SymbolTable> {
    match loaded {
        Err(Error::Redacted {
            source_name,
            kptr_restrict,
            perf_event_paranoid,
            bpf_iter: None,
        }) => {
            let mut why = format!("{source_name} redacted for this reader");
            if let Some(k) = kptr_restrict {
                why += &format!(": kptr_restrict={k}");
            }
            if let Some(p) = perf_event_paranoid {
                why += &format!(", perf_event_paranoid={p}");
            }
            let source = format!("BPF ksym iterator ({why})");
            bpf_iter::load_ksym_iter(opts, &source).map_err(|reason| Error::Redacted {
                source_name,
                kptr_restrict,
                perf_event_paranoid,
                bpf_iter: Some(reason),
            })
        }
        other => other,
    }
}
