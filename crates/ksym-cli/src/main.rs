//! The `ksym` command: a thin layer of argument parsing and printing over the
//! `ksym` library, where all the logic lives.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ksym::cache::CacheOutcome;
use ksym::live::{KernelSymbols, LiveConfig};
use ksym::snapshot::{Identity, OpenOptions};
use ksym::{HostKernel, LoadOptions, ModuleMap, Symbol, SymbolTable};
use serde_json::{json, Value};

mod extras;
use extras::{enrich, is_elf, live_modules_dir, print_builtin};

#[derive(Parser)]
#[command(
    name = "ksym",
    version,
    about = "Linux kernel symbols: addresses to names and names to addresses"
)]
struct Cli {
    /// Read symbols from this file (kallsyms, System.map or kallmodsyms;
    /// plain, .xz, .gz or .zst) instead of the live /proc/kallsyms.
    #[arg(long, global = true, value_name = "FILE")]
    kallsyms: Option<PathBuf>,
    /// Module extents: a /proc/modules copy or a `module area start size`
    /// layout table (live default: /proc/modules).
    #[arg(long, global = true, value_name = "FILE")]
    modules: Option<PathBuf>,
    /// Read symbols from a snapshot file (`ksym snapshot save`), which may
    /// come from another machine.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "kallsyms")]
    snapshot: Option<PathBuf>,
    /// Read the core kernel's symbols from a kernel image (vmlinuz, vmlinux):
    /// link-time addresses, or the running kernel's when the image's build-id
    /// is the running kernel's (the KASLR slide from `_text` in /proc/kallsyms).
    #[arg(long, global = true, value_name = "FILE", conflicts_with_all = ["kallsyms", "snapshot"])]
    image: Option<PathBuf>,
    /// Do not use the snapshot cache for the live kernel (also:
    /// KSYM_CACHE_DIR=off).
    #[arg(long, global = true)]
    no_cache: bool,
    /// Stop at the first bad input line instead of skipping it.
    #[arg(long, global = true)]
    strict: bool,
    /// Threads a load may use (default: as many as help, up to one per CPU;
    /// 1: none besides the main one).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// A module's .ko (also .ko.xz, .ko.zst, .ko.gz): its symbols' real
    /// sizes replace the guessed ones. Repeatable.
    #[arg(long, global = true, value_name = "FILE")]
    ko: Vec<PathBuf>,
    /// A vmlinux with a symbol table: real sizes for the core symbols
    /// (matched through the KASLR slide). To read its symbols instead of
    /// kallsyms, pass it as --kallsyms.
    #[arg(long, global = true, value_name = "FILE")]
    vmlinux: Option<PathBuf>,
    /// Find the loaded modules' .ko files through DIR/modules.dep (default
    /// /lib/modules/$(uname -r); the live kernel uses it by itself when
    /// present).
    #[arg(long, global = true, value_name = "DIR", num_args = 0..=1)]
    ko_from_modules_dep: Option<Option<PathBuf>>,
    /// modules.builtin.ranges: attribute core symbols to built-in modules
    /// (`name [ext4]`).
    #[arg(long, global = true, value_name = "FILE")]
    builtin_ranges: Option<PathBuf>,
    /// modules.builtin (and FILE.modinfo beside it) for `info` (live
    /// default: /lib/modules/$(uname -r)/modules.builtin).
    #[arg(long, global = true, value_name = "FILE")]
    modules_builtin: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Name addresses the way the kernel's %pS does (from the arguments, or
    /// one per line on standard input).
    Addr {
        /// Hex addresses, with or without 0x.
        addrs: Vec<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Also answer from absolute (per-cpu) symbols.
        #[arg(long)]
        absolute: bool,
    },
    /// Every address of a symbol name.
    Name {
        name: String,
        /// Only symbols of this module (`vmlinux` or `core` for the kernel itself).
        #[arg(long)]
        module: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Turn `name+0x1b/0x30 [module]` references into addresses.
    Resolve { refs: Vec<String> },
    /// Where the symbols came from and what the host offers.
    Info,
    /// Names that several symbols carry: how many each, and what tells
    /// them apart in their unique names.
    Dups {
        /// One JSON object per line, with every unique spelling.
        #[arg(long)]
        json: bool,
    },
    /// Save or inspect snapshot files.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Name the kernel frames of a pprof profile (gzip'd or plain
    /// profile.proto); writes a gzip'd profile, counts to standard error.
    #[cfg(feature = "pprof")]
    Pprof {
        /// The profile to read, `-` for standard input.
        input: PathBuf,
        /// Where to write the profile, `-` for standard output.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Decode an oops or stack trace (dmesg text): check every frame against
    /// the symbols, name raw addresses, keep every other line as it was.
    Decode {
        /// The text to read; `-` or nothing for standard input.
        file: Option<PathBuf>,
        /// JSON lines (one object per frame or warning) instead of the
        /// annotated text.
        #[arg(long)]
        json: bool,
        /// The kernel release of the symbols, to compare with the trace's
        /// (default: the live kernel's, or the snapshot's).
        #[arg(long)]
        release: Option<String>,
    },
    /// Name the raw kernel addresses in `perf script` or bpftrace `kstack`
    /// output.
    Annotate {
        /// The text to read; `-` or nothing for standard input.
        file: Option<PathBuf>,
        /// Which tool's output: `perf`, `bpftrace`, or `auto` (both rules).
        #[arg(long, value_enum, default_value_t = AnnotateFormat::Auto)]
        format: AnnotateFormat,
    },
    /// Print every symbol, `%016x %c %s` a line, in address order.
    Dump {
        /// `system-map`, `kallsyms` (module symbols with `\t[module]`),
        /// `kallmodsyms` (built-in modules and objects too) or `json` (one
        /// object a line).
        #[arg(long, value_enum, default_value = "kallsyms")]
        format: DumpFormatArg,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AnnotateFormat {
    Auto,
    Perf,
    Bpftrace,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DumpFormatArg {
    SystemMap,
    Kallsyms,
    Kallmodsyms,
    Json,
}

#[derive(Subcommand)]
enum SnapshotCommand {
    /// Save the symbols (live kernel, --kallsyms or --snapshot) as a snapshot
    /// file that loads by mmap; created 0600, atomically.
    Save {
        /// Where to write it.
        #[arg(short, long, default_value = "kallsyms.ksym")]
        output: PathBuf,
    },
    /// Check a snapshot file (every checksum) and print what it describes.
    Check { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ksym: {e}");
            ExitCode::from(1)
        }
    }
}

type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The table and, for the live kernel, what the snapshot cache did.
struct Loaded {
    table: Arc<SymbolTable>,
    identity: Option<Identity>,
    cache: Option<CacheOutcome>,
    /// For --image: what the image is and which addresses it gave.
    image_note: Option<String>,
}

fn load(cli: &Cli) -> CliResult<Loaded> {
    if let Some(path) = &cli.snapshot {
        let (table, identity) = ksym::snapshot::open(path, OpenOptions { verify: true })?;
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
        ..LoadOptions::default()
    };
    if let Some(path) = &cli.modules {
        let bytes = std::fs::read(path).map_err(|source| ksym::Error::Io {
            path: path.clone(),
            source,
        })?;
        let name = path.display().to_string();
        let bytes = ksym::source::decompress(&name, bytes)?;
        let mut map = ModuleMap::default();
        map.add_text(&name, &bytes)?;
        opts.modules = Some(map);
    }
    if let Some(path) = &cli.kallsyms {
        let table = if is_elf(path) {
            ksym::elf::load_vmlinux(path)?
        } else {
            ksym::load_file(path, &opts)?
        };
        return Ok(Loaded {
            table: Arc::new(table),
            identity: None,
            cache: None,
            image_note: None,
        });
    }
    if let Some(path) = &cli.image {
        return load_image(path, &opts);
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
        if dir.join("modules.dep").is_file() {
            let inner = config.loader.clone();
            config = config.loader(move |c| {
                let table = inner(c)?;
                Ok(match ksym::elf::apply_modules_dep(table.clone(), &dir) {
                    Ok((sized, _, _)) => sized,
                    Err(_) => table,
                })
            });
        }
    }
    let syms = KernelSymbols::open(config)?;
    Ok(Loaded {
        table: syms.snapshot(),
        identity: Some(ksym::live::identity_of(&syms.fingerprint(), Path::new("/"))),
        cache: Some(syms.cache_outcome()),
        image_note: None,
    })
}

/// A kernel image: at the running kernel's addresses when it is the running
/// kernel (same build-id), else at link-time addresses.
fn load_image(path: &Path, opts: &LoadOptions) -> CliResult<Loaded> {
    let image = ksym::image::read_image(path)?;
    let (slide, how) = match ksym::image::matches_running_kernel(&image) {
        Some(true) => match ksym::image::slide_from_live(&image) {
            Ok(slide) => (
                slide,
                format!("the running kernel's (KASLR slide {slide:#x})"),
            ),
            Err(e) => (
                0,
                format!("link-time (the running kernel's slide is unknown: {e})"),
            ),
        },
        _ => (0, "link-time (not the running kernel)".to_string()),
    };
    let table = image.to_table(&path.display().to_string(), opts, slide)?;
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

fn run(cli: Cli) -> CliResult<ExitCode> {
    if let Command::Snapshot(SnapshotCommand::Check { file }) = &cli.command {
        let (table, identity) = ksym::snapshot::open(file, OpenOptions { verify: true })?;
        println!(
            "{}: a valid snapshot of {} symbols",
            file.display(),
            table.len()
        );
        print_identity(&mut std::io::stdout(), &identity)?;
        return Ok(ExitCode::SUCCESS);
    }
    let loaded = load(&cli)?;
    let loaded = Loaded {
        table: enrich(&cli, loaded.table)?,
        ..loaded
    };
    let table = &loaded.table;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let code = match &cli.command {
        Command::Addr {
            addrs,
            json,
            absolute,
        } => {
            let mut bad = 0u64;
            let mut one = |text: &str, out: &mut dyn Write| -> std::io::Result<()> {
                let text = text.trim();
                if text.is_empty() {
                    return Ok(());
                }
                match parse_addr(text) {
                    Some(addr) => {
                        let sym = if *absolute {
                            table.lookup_absolute(addr)
                        } else {
                            table.lookup(addr)
                        };
                        print_addr(out, addr, sym.as_ref(), *json)
                    }
                    None => {
                        bad += 1;
                        if *json {
                            writeln!(
                                out,
                                "{}",
                                json!({"input": text, "error": "not a hex address"})
                            )
                        } else {
                            writeln!(out, "{text} (not an address)")
                        }
                    }
                }
            };
            if addrs.is_empty() {
                for line in std::io::stdin().lock().lines() {
                    one(&line?, &mut out)?;
                }
            } else {
                for a in addrs {
                    one(a, &mut out)?;
                }
            }
            if bad > 0 {
                eprintln!("ksym: {bad} input(s) were not hex addresses");
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Name { name, module, json } => {
            let module = module.as_deref().map(|m| {
                if m == "vmlinux" || m == "core" {
                    None
                } else {
                    Some(m)
                }
            });
            let mut found: Vec<Symbol<'_>> = match module {
                Some(m) => table.find_in(m, name).collect(),
                None => table.find(name).collect(),
            };
            if found.is_empty() {
                // A unique spelling: `name [ext4]`, `name#2 [vmlinux]`, ...
                // still held to --module when one was given.
                found = table.find_spelling(name).unwrap_or_default();
                if let Some(m) = module {
                    found.retain(|s| s.module == m);
                }
            }
            if found.is_empty() {
                return Err(format!("no symbol named {name:?}").into());
            }
            for s in &found {
                if *json {
                    writeln!(
                        out,
                        "{}",
                        json!({"addr": hex(s.start), "symbol": symbol_json(s),
                               "unique_name": table.unique_name(s.id)})
                    )?;
                } else {
                    write!(
                        out,
                        "{:016x} {} {} size {:#x}",
                        s.start, s.kind, s.name, s.size
                    )?;
                    if let Some(m) = s.module {
                        write!(out, " [{m}]")?;
                    }
                    let unique = table.unique_name(s.id);
                    if unique != s.name {
                        write!(out, " = {unique}")?;
                    }
                    writeln!(out)?;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Resolve { refs } => {
            let mut failed = false;
            for r in refs {
                match table.resolve(r) {
                    Ok(addr) => writeln!(out, "{addr:#018x} {r}")?,
                    Err(e) => {
                        eprintln!("ksym: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Info => {
            let live = cli.kallsyms.is_none() && cli.snapshot.is_none() && cli.image.is_none();
            print_info(&mut out, table, live)?;
            print_builtin(&mut out, &cli, table, live)?;
            if let Some(note) = &loaded.image_note {
                writeln!(out, "image:             {note}")?;
            }
            if let Some(identity) = &loaded.identity {
                if !live {
                    print_identity(&mut out, identity)?;
                }
            }
            if let Some(outcome) = &loaded.cache {
                let text = match outcome {
                    CacheOutcome::Disabled => "off".to_string(),
                    CacheOutcome::Hit(p) => format!("hit, mapped {}", p.display()),
                    CacheOutcome::Stored(p) => {
                        format!("miss, read /proc/kallsyms, stored {}", p.display())
                    }
                    CacheOutcome::Unusable(why) => format!("not used: {why}"),
                };
                writeln!(out, "snapshot cache:    {text}")?;
            }
            ExitCode::SUCCESS
        }
        Command::Dups { json } => {
            for d in table.duplicates() {
                let by: Vec<String> = d.by.iter().map(|q| q.to_string()).collect();
                if *json {
                    let spellings: Vec<String> = d
                        .ids
                        .iter()
                        .map(|&id| table.unique_name(id).into_owned())
                        .collect();
                    writeln!(
                        out,
                        "{}",
                        json!({"name": d.name, "count": d.count, "modules": d.modules,
                               "by": by, "spellings": spellings})
                    )?;
                } else {
                    writeln!(
                        out,
                        "{:>5}  {}  ({} module{}; told apart by {})",
                        d.count,
                        d.name,
                        d.modules,
                        if d.modules == 1 { "" } else { "s" },
                        by.join(", ")
                    )?;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Snapshot(SnapshotCommand::Save { output }) => {
            let mut identity = loaded.identity.clone().unwrap_or_default();
            if identity.kaslr_slide.is_none() {
                identity.kaslr_slide = kaslr_slide(table);
            }
            ksym::snapshot::save(table, &identity, output)?;
            writeln!(
                out,
                "saved {} symbols to {} (mode 0600)",
                table.len(),
                output.display()
            )?;
            ExitCode::SUCCESS
        }
        Command::Snapshot(SnapshotCommand::Check { .. }) => unreachable!("handled above"),
        #[cfg(feature = "pprof")]
        Command::Pprof { input, output } => {
            pprof(table, input, output, &mut out)?;
            ExitCode::SUCCESS
        }
        Command::Decode {
            file,
            json,
            release,
        } => {
            let release = release
                .clone()
                .or_else(|| loaded.identity.as_ref().and_then(|i| i.release.clone()));
            run_decode(table, file.as_deref(), *json, release, &mut out)?
        }
        Command::Annotate { file, format } => {
            run_annotate(table, file.as_deref(), *format, &mut out)?
        }
        Command::Dump { format } => {
            let format = match format {
                DumpFormatArg::SystemMap => ksym::dump::DumpFormat::SystemMap,
                DumpFormatArg::Kallsyms => ksym::dump::DumpFormat::Kallsyms,
                DumpFormatArg::Kallmodsyms => ksym::dump::DumpFormat::Kallmodsyms,
                DumpFormatArg::Json => ksym::dump::DumpFormat::Json,
            };
            // `ksym dump | head` is fine: a closed pipe ends the dump quietly.
            match ksym::dump::write(table, format, &mut out).and_then(|()| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    return Ok(ExitCode::SUCCESS)
                }
                r => r?,
            }
            ExitCode::SUCCESS
        }
    };
    out.flush()?;
    Ok(code)
}

/// `ksym pprof`: `-` is standard input or output (`out`).
#[cfg(feature = "pprof")]
fn pprof(table: &SymbolTable, input: &Path, output: &Path, out: &mut dyn Write) -> CliResult<()> {
    let read_err = |e| format!("reading {}: {e}", input.display());
    let bytes = if input == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf).map_err(read_err)?;
        buf
    } else {
        std::fs::read(input).map_err(read_err)?
    };
    let (named, stats) = ksym_pprof::symbolize_bytes(&bytes, table, &Default::default())
        .map_err(|e| format!("{}: {e}", input.display()))?;
    if output == Path::new("-") {
        out.write_all(&named)?;
    } else {
        std::fs::write(output, &named).map_err(|e| format!("writing {}: {e}", output.display()))?;
    }
    eprintln!("ksym pprof: {stats}");
    Ok(())
}

fn parse_addr(text: &str) -> Option<u64> {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn symbol_json(s: &Symbol<'_>) -> Value {
    let mut v = json!({
        "name": s.name,
        "start": hex(s.start),
        "offset": s.offset,
        "size": s.size,
        "module": s.module,
        "type": s.kind.to_string(),
    });
    if let Some(o) = s.object {
        v["object"] = json!(o);
    }
    if let Some(p) = s.path {
        v["path"] = json!(p);
    }
    v
}

fn print_addr(
    out: &mut dyn Write,
    addr: u64,
    sym: Option<&Symbol<'_>>,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let symbol = sym.map_or(Value::Null, symbol_json);
        return writeln!(out, "{}", json!({"addr": hex(addr), "symbol": symbol}));
    }
    match sym {
        Some(s) => writeln!(out, "{addr:#018x} {s}"),
        None => writeln!(out, "{addr:#018x} (no symbol)"),
    }
}

/// `_text` against x86_64's default link address.
fn kaslr_slide(table: &SymbolTable) -> Option<i64> {
    let text = table.find_in(None, "_text").next()?;
    Some(text.start.wrapping_sub(ksym::host::X86_64_TEXT_LINK_ADDR) as i64)
}

fn print_identity(out: &mut dyn Write, id: &Identity) -> std::io::Result<()> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_string());
    writeln!(out, "snapshot of:       release {}", show(&id.release))?;
    writeln!(out, "  build-id:        {}", show(&id.build_id))?;
    writeln!(out, "  boot id:         {}", show(&id.boot_id))?;
    if let Some(slide) = id.kaslr_slide {
        writeln!(out, "  KASLR slide:     {slide:#x}")?;
    }
    if let Some(created) = id.created {
        writeln!(
            out,
            "  created:         {created} (seconds since the epoch)"
        )?;
    }
    Ok(())
}

fn print_info(out: &mut dyn Write, table: &SymbolTable, live: bool) -> std::io::Result<()> {
    let info = table.info();
    let modules: Vec<&str> = table.module_names().collect();
    let repeated = table.repeated_names();
    writeln!(out, "source:            {}", info.source)?;
    writeln!(out, "format:            {}", info.format.describe())?;
    writeln!(out, "symbols:           {}", table.len())?;
    writeln!(
        out,
        "  by address:      {} (the rest are absolute or local labels)",
        table.answering_len()
    )?;
    writeln!(out, "modules:           {}", modules.len())?;
    let map = &table.module_map().modules;
    if !map.is_empty() {
        let count = |f: fn(&ksym::ModuleInfo) -> bool| map.iter().filter(|m| f(m)).count();
        writeln!(
            out,
            "  bounded by:      {} /proc/modules extents, {} text areas from /sys/module sections, {} exact layouts",
            count(|m| m.base.is_some_and(|b| b != 0)),
            count(|m| m.text_area.is_some()),
            count(|m| !m.areas.is_empty()),
        )?;
    }
    writeln!(out, "repeated names:    {}", repeated.len())?;
    writeln!(out, "skipped lines:     {}", info.skipped.count)?;
    for e in &info.skipped.first {
        writeln!(out, "  {e}")?;
    }
    // A table mapped from a snapshot owns (almost) no heap: say so rather
    // than print a misleadingly small figure.
    let heap = table.heap_bytes();
    if heap < table.len() {
        writeln!(
            out,
            "table memory:      mapped from a snapshot ({heap} bytes of heap)"
        )?;
    } else {
        writeln!(
            out,
            "table memory:      {heap} bytes of heap ({:.1} bytes/symbol, name index included once built)",
            heap as f64 / table.len().max(1) as f64
        )?;
    }
    let text = table.find_in(None, "_text").next();
    match text {
        Some(t) => {
            writeln!(out, "_text:             {:#x}", t.start)?;
            if std::env::consts::ARCH == "x86_64" || !live {
                let slide = t.start.wrapping_sub(ksym::host::X86_64_TEXT_LINK_ADDR) as i64;
                writeln!(
                    out,
                    "KASLR slide:       {}{:#x} (against x86_64's default link address {:#x})",
                    if slide < 0 { "-" } else { "" },
                    slide.unsigned_abs(),
                    ksym::host::X86_64_TEXT_LINK_ADDR
                )?;
            }
        }
        None => writeln!(out, "_text:             not in the symbols")?,
    }
    if !live {
        return Ok(());
    }
    let host = HostKernel::discover();
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_string());
    writeln!(out, "kernel release:    {}", show(&host.release))?;
    writeln!(out, "boot id:           {}", show(&host.boot_id))?;
    writeln!(out, "build-id:          {}", show(&host.build_id))?;
    writeln!(
        out,
        "kptr_restrict:     {}",
        host.kptr_restrict
            .map_or("unknown".to_string(), |v| v.to_string())
    )?;
    writeln!(
        out,
        "perf_event_paranoid: {}",
        host.perf_event_paranoid
            .map_or("unknown".to_string(), |v| v.to_string())
    )?;
    writeln!(out, "lockdown:          {}", show(&host.lockdown))?;
    writeln!(
        out,
        "/proc/modules:     {}",
        if host.has_modules {
            "present"
        } else {
            "absent (kernel without loadable modules)"
        }
    )?;
    let path_or = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or("none".to_string(), |p| p.display().to_string())
    };
    let paths = |v: &[PathBuf]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    writeln!(out, "BTF:               {}", path_or(&host.btf))?;
    writeln!(out, "vmlinux:           {}", paths(&host.vmlinux))?;
    writeln!(out, "System.map:        {}", paths(&host.system_map))?;
    writeln!(out, "vmlinuz:           {}", path_or(&host.vmlinuz))?;
    for a in host.advice() {
        writeln!(out, "note: {a}")?;
    }
    Ok(())
}

/// A file, or standard input for `-` or none; whether it is standard input.
fn open_input(file: Option<&Path>) -> CliResult<(Box<dyn BufRead>, bool)> {
    match file {
        Some(p) if p != Path::new("-") => {
            let f = std::fs::File::open(p).map_err(|source| ksym::Error::Io {
                path: p.to_path_buf(),
                source,
            })?;
            Ok((Box::new(std::io::BufReader::new(f)), false))
        }
        _ => Ok((Box::new(std::io::stdin().lock()), true)),
    }
}

fn run_decode(
    table: &SymbolTable,
    file: Option<&Path>,
    json: bool,
    release: Option<String>,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    use ksym::decode::{decode_stream, Decoder, Output};
    let (input, follow) = open_input(file)?;
    let mut decoder = Decoder::new(table).table_release(release);
    let how = if json {
        Output::Json
    } else {
        Output::Annotated
    };
    let summary = decode_stream(&mut decoder, input, out, how, follow)?;
    for (line, w) in &summary.warnings {
        eprintln!("ksym: warning: line {line}: {w}");
    }
    if summary.mismatched > 0 {
        eprintln!(
            "ksym: {} of {} frames disagree with the symbols: the trace comes from another kernel build",
            summary.mismatched, summary.frames
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_annotate(
    table: &SymbolTable,
    file: Option<&Path>,
    format: AnnotateFormat,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    use ksym::decode::{rewrite_stream, RewriteFormat};
    let format = match format {
        AnnotateFormat::Auto => RewriteFormat::Auto,
        AnnotateFormat::Perf => RewriteFormat::Perf,
        AnnotateFormat::Bpftrace => RewriteFormat::Bpftrace,
    };
    let (input, follow) = open_input(file)?;
    rewrite_stream(table, format, input, out, follow)?;
    Ok(ExitCode::SUCCESS)
}
