//! Opening a source, as the `ksym` command's `--kallsyms`, `--image`,
//! `--snapshot`, `--modules`, `--ko` and `--vmlinux` do (the same library
//! calls, in the same order), and the live kernel as its default does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ksym::live::{KernelSymbols, LiveConfig};
use ksym::load::file_cache;
use ksym::load::sizes::SizeFiles;
use ksym::read::Limit;
use ksym::snapshot::OpenOptions;
use ksym::{HostKernel, LoadOptions, ModuleMap, SymbolTable};

/// Where a table's symbols come from.
pub(crate) use ksym::stack::TableSource as Source;

/// A source opened, with what else it knows, and what was said on the way
/// (the command's warnings on standard error: given to Python as warnings).
pub(crate) struct Opened {
    pub(crate) source: Source,
    pub(crate) release: Option<String>,
    pub(crate) build_id: Option<String>,
    pub(crate) notes: Vec<String>,
}

/// The private cache directory, when `cache` is on.
pub(crate) fn cache_dir(cache: bool) -> Option<PathBuf> {
    cache.then(ksym::cache::default_dir).flatten()
}

/// The running kernel, through the snapshot cache (as `ksym` with no
/// source option), watched for module and BPF changes when asked.
pub(crate) fn live(watch: bool, cache: Option<PathBuf>) -> ksym::Result<Opened> {
    let mut config = LiveConfig::new().watch(watch).cache_dir(cache);
    // Real module sizes from the .ko files that modules.dep finds, as the
    // command's live default gives them.
    let host = HostKernel::discover();
    if let Some(release) = &host.release {
        config = config.module_sizes_from(ksym::elf::modules_dir(release));
    }
    let syms = KernelSymbols::open(config)?;
    let identity = syms.identity();
    Ok(Opened {
        release: identity.release.or(host.release),
        build_id: identity.build_id.or(host.build_id),
        source: Source::Live(syms),
        notes: Vec::new(),
    })
}

/// A snapshot file (`ksym snapshot save`), every checksum verified.
pub(crate) fn snapshot(path: &Path) -> ksym::Result<Opened> {
    let verify = OpenOptions { verify: true };
    let (table, identity) = ksym::snapshot::open_within(path, verify, Limit::binary(None))?;
    Ok(Opened {
        source: Source::Fixed(Arc::new(table)),
        release: identity.release,
        build_id: identity.build_id,
        notes: Vec::new(),
    })
}

/// What `open_file` was given.
pub(crate) struct FileArgs {
    pub(crate) path: PathBuf,
    pub(crate) modules: Option<PathBuf>,
    pub(crate) ko: Vec<PathBuf>,
    pub(crate) vmlinux: Option<PathBuf>,
    pub(crate) cache: Option<PathBuf>,
}

/// A symbol file (`--kallsyms`: kallsyms, System.map, kallmodsyms, plain
/// or compressed, or a vmlinux's symbol table), a kernel image (`--image`:
/// a vmlinuz or raw Image) or a snapshot, told apart by their first bytes,
/// with the real sizes of `--vmlinux` and `--ko` attached.
pub(crate) fn file(args: &FileArgs) -> ksym::Result<Opened> {
    let head = first_bytes(&args.path)?;
    if head.starts_with(b"KSYMSNAP") {
        let mut opened = snapshot(&args.path)?;
        let table = match opened.source {
            Source::Fixed(t) => t,
            Source::Live(_) => unreachable!("a snapshot is a fixed table"),
        };
        let table = with_real_sizes(args, table, &mut opened.notes)?;
        opened.source = Source::Fixed(table);
        return Ok(opened);
    }
    let mut opts = LoadOptions::default();
    if let Some(path) = &args.modules {
        opts.modules = Some(ModuleMap::read(path, Limit::text(None))?);
    }
    let table = if head.starts_with(b"\x7fELF") {
        // A vmlinux as --kallsyms: its ELF symbol table.
        let elf = ksym::elf::read_elf_within(&args.path, Limit::binary(None))?;
        ksym::elf::vmlinux_table(&elf)?
    } else if is_boot_image(&head) {
        ksym::load::image::load_image_placed(&args.path, &opts, Limit::binary(None))?.0
    } else {
        // Kept in the cache by the file's bytes, as the command keeps it.
        let modules = args.modules.as_deref();
        file_cache::load_file_cached(&args.path, modules, &opts, args.cache.as_deref())?.0
    };
    let mut notes = Vec::new();
    let table = with_real_sizes(args, Arc::new(table), &mut notes)?;
    Ok(Opened {
        source: Source::Fixed(table),
        release: None,
        build_id: None,
        notes,
    })
}

/// Up to 64 bytes from the start of a file.
fn first_bytes(path: &Path) -> ksym::Result<Vec<u8>> {
    use std::io::Read;
    let io = |source| ksym::Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .map_err(io)?
        .take(64)
        .read_to_end(&mut head)
        .map_err(io)?;
    Ok(head)
}

/// A bzImage or EFI zboot image (`MZ`), or arm64's raw `Image` (its magic
/// `ARM\x64` at byte 56).
fn is_boot_image(head: &[u8]) -> bool {
    head.starts_with(b"MZ") || head.get(56..60) == Some(b"ARM\x64")
}

/// The table with the real sizes of `--vmlinux` (kept per build-id in the
/// cache) and of the `--ko` files, as the command attaches them.
fn with_real_sizes(
    args: &FileArgs,
    table: Arc<SymbolTable>,
    notes: &mut Vec<String>,
) -> ksym::Result<Arc<SymbolTable>> {
    let files = SizeFiles {
        vmlinux: args.vmlinux.clone(),
        ko: args.ko.clone(),
        cache_dir: args.cache.clone(),
        limit: None,
    };
    if files.is_empty() {
        return Ok(table);
    }
    let t = Arc::try_unwrap(table).unwrap_or_else(|shared| (*shared).clone());
    let (t, said) = ksym::load::sizes::with_real_sizes(t, &files)?;
    notes.extend(said);
    Ok(Arc::new(t))
}
