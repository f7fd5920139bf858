//! Where the symbols come from: the options that choose and enrich a symbol
//! source (`--kallsyms`, `--snapshot`, `--image`, `--ko`, ...), defined once,
//! and the one place that turns them into a loaded table.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ksym::cache::CacheOutcome;
use ksym::live::{KernelSymbols, LiveConfig};
use ksym::load::file_cache;
use ksym::load::sizes::{with_real_sizes, SizeFiles};
use ksym::read::Limit;
use ksym::snapshot::{Identity, OpenOptions};
use ksym::{HostKernel, LoadOptions, ModuleMap, SymbolTable};

use crate::CliResult;

/// The options, global to every subcommand, that say which symbols to read
/// and what to add to them.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct SourceArgs {
    /// Read symbols from this file (kallsyms, System.map or kallmodsyms;
    /// plain, .xz, .gz or .zst) instead of the live /proc/kallsyms.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) kallsyms: Option<PathBuf>,
    /// Module extents: a /proc/modules copy or a `module area start size`
    /// layout table (live default: /proc/modules).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) modules: Option<PathBuf>,
    /// Read symbols from a snapshot file (`ksym snapshot save`), which may
    /// come from another machine.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "kallsyms")]
    pub(crate) snapshot: Option<PathBuf>,
    /// Read the core kernel's symbols from a kernel image (vmlinuz, vmlinux):
    /// link-time addresses, or the running kernel's when the image's build-id
    /// is the running kernel's (the KASLR slide from `_text` in /proc/kallsyms).
    #[arg(long, global = true, value_name = "FILE", conflicts_with_all = ["kallsyms", "snapshot"])]
    pub(crate) image: Option<PathBuf>,
    /// Do not use the private cache: the live kernel's snapshot, the real
    /// sizes of a --vmlinux, line tables (also: KSYM_CACHE_DIR=off).
    #[arg(long, global = true)]
    pub(crate) no_cache: bool,
    /// Stop at the first bad input line instead of skipping it.
    #[arg(long, global = true)]
    pub(crate) strict: bool,
    /// Threads a load may use (default: as many as help, up to one per CPU;
    /// 1: none besides the main one).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) threads: Option<u16>,
    /// A module's .ko (also .ko.xz, .ko.zst, .ko.gz): its symbols' real
    /// sizes replace the guessed ones, and with --lines its DWARF (each
    /// section placed where the module's symbols put it when no layout
    /// says). Repeatable.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) ko: Vec<PathBuf>,
    /// A vmlinux with a symbol table: real sizes for the core symbols
    /// (matched through the KASLR slide), and with --lines its DWARF. To
    /// read its symbols instead of kallsyms, pass it as --kallsyms.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) vmlinux: Option<PathBuf>,
    /// Find the loaded modules' .ko files through DIR/modules.dep (default
    /// /lib/modules/$(uname -r); the live kernel uses it by itself when
    /// present).
    #[arg(long, global = true, value_name = "DIR", num_args = 0..=1)]
    pub(crate) ko_from_modules_dep: Option<Option<PathBuf>>,
    /// A debuginfod server to fetch debug info from by build-id, for
    /// --lines (added to DEBUGINFOD_URLS). Repeatable.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) debuginfod: Vec<String>,
    /// modules.builtin.ranges: attribute core symbols to built-in modules
    /// (`name [ext4]`).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) builtin_ranges: Option<PathBuf>,
    /// modules.builtin (and FILE.modinfo beside it) for `info` (live
    /// default: /lib/modules/$(uname -r)/modules.builtin).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) modules_builtin: Option<PathBuf>,
    /// The most bytes one input may bring in after decompression (e.g.
    /// 512M, 8G). Default: 256 MiB of symbol text, 4 GiB of a binary file
    /// (vmlinux, .ko, image, snapshot), and compressed input may expand at
    /// most 64 times past 16 MiB.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_input_size: Option<u64>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    ksym::read::limit::parse_size(text)
        .ok_or_else(|| format!("{text:?} is not a size (a number of bytes, or with K, M, G)"))
}

impl SourceArgs {
    /// The bound on a binary input (an image, an ELF file, a snapshot).
    fn binary_limit(&self) -> Limit {
        Limit::binary(self.max_input_size)
    }

    /// The private cache, unless --no-cache or KSYM_CACHE_DIR=off.
    pub(crate) fn cache_dir(&self) -> Option<PathBuf> {
        (!self.no_cache).then(ksym::cache::default_dir).flatten()
    }

    /// Refuses two options reading standard input (`-`): only one can.
    fn check_stdin(&self) -> CliResult<()> {
        let dash = |p: &Option<PathBuf>| p.as_deref() == Some(Path::new(ksym::read::STDIN));
        let readers = [&self.kallsyms, &self.modules, &self.snapshot, &self.image]
            .into_iter()
            .filter(|p| dash(p))
            .count();
        if readers > 1 {
            return Err("standard input (`-`) can feed one option only".into());
        }
        Ok(())
    }
}

/// The table and, for the live kernel, what the snapshot cache did.
pub(crate) struct Loaded {
    pub(crate) table: Arc<SymbolTable>,
    pub(crate) identity: Option<Identity>,
    pub(crate) cache: Option<CacheOutcome>,
    /// For --image: what the image is and which addresses it gave.
    pub(crate) image_note: Option<String>,
}

/// The symbols the options choose, with what --vmlinux, --ko,
/// --ko-from-modules-dep and --builtin-ranges add to them.
pub(crate) fn load(args: &SourceArgs) -> CliResult<Loaded> {
    let loaded = load_source(args)?;
    Ok(Loaded {
        table: enrich(args, loaded.table)?,
        ..loaded
    })
}

fn load_source(cli: &SourceArgs) -> CliResult<Loaded> {
    cli.check_stdin()?;
    if let Some(path) = &cli.snapshot {
        let (table, identity) =
            ksym::snapshot::open_within(path, OpenOptions { verify: true }, cli.binary_limit())?;
        return Ok(Loaded {
            table: Arc::new(table),
            identity: Some(identity),
            cache: None,
            image_note: None,
        });
    }
    let mut opts = LoadOptions {
        strict: cli.strict,
        threads: cli.threads.map(usize::from),
        max_input_bytes: cli.max_input_size,
        ..LoadOptions::default()
    };
    if let Some(path) = &cli.modules {
        opts.modules = Some(ModuleMap::read(path, Limit::text(cli.max_input_size))?);
    }
    if let Some(path) = &cli.kallsyms {
        let (table, cache) = if is_elf(path) {
            let elf = ksym::elf::read_elf_within(path, cli.binary_limit())?;
            (ksym::elf::vmlinux_table(&elf)?, None)
        } else {
            // Kept in the cache by the file's bytes: the next run over
            // them maps the table instead of parsing it.
            let dir = cli.cache_dir();
            let modules = cli.modules.as_deref();
            let (table, outcome) =
                file_cache::load_file_cached(path, modules, &opts, dir.as_deref())?;
            (table, Some(outcome))
        };
        return Ok(Loaded {
            table: Arc::new(table),
            identity: None,
            cache,
            image_note: None,
        });
    }
    if let Some(path) = &cli.image {
        return load_image(path, &opts, cli.binary_limit());
    }
    // The live kernel: one load (or a mapped snapshot from the cache), no
    // watcher for a one-shot command. A --modules override bypasses the cache.
    let mut config = LiveConfig::new().watch(false);
    if opts.modules.is_some() {
        config = config.loader(move |_| ksym::load_live(&opts));
    } else if !cli.no_cache {
        config = config.cache_dir(ksym::cache::default_dir());
    }
    // Real sizes from the modules' .ko files when modules.dep is there (the
    // cache keeps them); silently nothing when it is not.
    if let Some(dir) = live_modules_dir().filter(|_| cli.ko_from_modules_dep.is_none()) {
        config = config.module_sizes_from(dir);
    }
    let syms = KernelSymbols::open(config)?;
    Ok(Loaded {
        table: syms.snapshot(),
        identity: Some(syms.identity()),
        cache: Some(syms.cache_outcome()),
        image_note: None,
    })
}

/// A kernel image: at the running kernel's addresses when it is the running
/// kernel (same build-id), else at link-time addresses.
fn load_image(path: &Path, opts: &LoadOptions, limit: Limit) -> CliResult<Loaded> {
    let (table, image, how) = ksym::load::image::load_image_placed(path, opts, limit)?;
    let note = format!(
        "{}; {} symbols, {}; build-id {}; {}; addresses {how}",
        image.container.describe(),
        image.symbols.len(),
        image.encoding.describe(),
        image.build_id.as_deref().unwrap_or("unknown"),
        image.banner.as_deref().unwrap_or("no version banner"),
    );
    Ok(Loaded {
        table: Arc::new(table),
        identity: None,
        cache: None,
        image_note: Some(note),
    })
}

/// Whether a file is an ELF object (a vmlinux given as --kallsyms).
fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// `/lib/modules/$(uname -r)` of the running kernel, for the live source.
pub(crate) fn live_modules_dir() -> Option<PathBuf> {
    HostKernel::release().map(|r| ksym::elf::modules_dir(&r))
}

/// Attaches what --vmlinux, --ko, --ko-from-modules-dep and
/// --builtin-ranges give to the loaded table.
fn enrich(cli: &SourceArgs, table: Arc<SymbolTable>) -> CliResult<Arc<SymbolTable>> {
    if cli.ko.is_empty()
        && cli.vmlinux.is_none()
        && cli.ko_from_modules_dep.is_none()
        && cli.builtin_ranges.is_none()
    {
        return Ok(table);
    }
    let t = Arc::try_unwrap(table).unwrap_or_else(|shared| (*shared).clone());
    let files = SizeFiles {
        vmlinux: cli.vmlinux.clone(),
        ko: cli.ko.clone(),
        // Kept per build-id in the cache: a warm run maps a few MB of
        // sizes instead of parsing the vmlinux's 150k symbols.
        cache_dir: cli.cache_dir(),
        limit: cli.max_input_size,
    };
    let (mut t, notes) = with_real_sizes(t, &files)?;
    for note in notes {
        eprintln!("ksym: {note}");
    }
    if let Some(dir) = &cli.ko_from_modules_dep {
        let dir = match dir {
            Some(d) => d.clone(),
            None => live_modules_dir().ok_or("cannot tell the kernel release")?,
        };
        let (sized, _, errors) = ksym::elf::apply_modules_dep(t, &dir)?;
        for e in errors {
            eprintln!("ksym: skipped: {e}");
        }
        t = sized;
    }
    if let Some(path) = &cli.builtin_ranges {
        let ranges = ksym::builtin::BuiltinRanges::read(path)?;
        let (with, resolved) = ranges.apply(t);
        for why in resolved.skipped {
            eprintln!("ksym: {}: skipped {why}", path.display());
        }
        t = with;
    }
    Ok(Arc::new(t))
}
