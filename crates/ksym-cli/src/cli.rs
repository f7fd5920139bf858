//! The command line: the `Cli` struct, its subcommands and their small value
//! enums, as clap derives them. The symbol-source options are in `source.rs`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::source::SourceArgs;

/// The command line: the source options (global: they go before or after
/// the subcommand) and one subcommand. Its tree is [`root`] with these
/// added ([`Cli::full_command`], or the quicker tree of `args.rs`).
#[derive(clap::Args)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The root command's own name, version and texts.
pub(crate) fn root() -> clap::Command {
    clap::Command::new("ksym")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Linux kernel symbols: addresses to names and names to addresses")
        .after_help(
            "FILE arguments take `-` for standard input (one of them at most).\n\n\
             Exit status: 0 answered (an address no symbol holds is an answer); \
             1 an error (an input that cannot be read or is refused, a reference \
             that does not resolve, a name not found); 2 a usage error (a bad \
             option, an input that is not an address).",
        )
}

impl Cli {
    /// The whole tree: every subcommand.
    pub(crate) fn full_command() -> clap::Command {
        <Cli as clap::Args>::augment_args(root())
    }
}

/// Each subcommand's arguments are made only when it is the one parsed
/// (`defer`: a one-shot `ksym addr` does not build `serve`'s).
#[derive(Subcommand)]
#[command(defer = true)]
pub(crate) enum Command {
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
        /// Source file and line from DWARF (`at fs/xfs/xfs_inode.c:123`,
        /// and an `inlined ...` line per inlined call; with --json, a
        /// `frames` array, innermost first).
        #[arg(long)]
        lines: bool,
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
    /// Boil the vmlinux's DWARF (--vmlinux, or found as --lines finds it)
    /// down to a line table in the private cache, once per build-id:
    /// `--lines` then answers the core kernel from it without reading
    /// DWARF. The first `--lines` run that reads DWARF starts this itself.
    LineTable {
        /// Say nothing; leave quietly when another build is under way.
        #[arg(long)]
        quiet: bool,
        /// Build `ksym addr2line`'s table for this ELF file (any with DWARF
        /// and a build-id) instead. Its first run starts this itself.
        #[arg(long, value_name = "FILE")]
        for_addr2line: Option<PathBuf>,
    },
    /// Name the kernel frames of a pprof profile (gzip'd or plain
    /// profile.proto); writes a gzip'd profile, counts to standard error.
    #[cfg(feature = "pprof")]
    Pprof {
        /// The profile to read, `-` for standard input.
        input: PathBuf,
        /// Where to write the profile, `-` for standard output.
        #[arg(short, long)]
        output: PathBuf,
        /// Source file and line from DWARF: a pprof Line per source frame
        /// (inlined calls first, then their caller).
        #[arg(long)]
        lines: bool,
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
        /// Source file and line from DWARF for every frame, and its
        /// inlined calls (with --json, a `frames` array per frame).
        #[arg(long)]
        lines: bool,
    },
    /// Name the raw kernel addresses in `perf script` or bpftrace `kstack`
    /// output.
    Annotate {
        /// The text to read; `-` or nothing for standard input.
        file: Option<PathBuf>,
        /// Which tool's output: `perf`, `bpftrace`, or `auto` (both rules).
        #[arg(long, value_enum, default_value_t = AnnotateFormat::Auto)]
        format: AnnotateFormat,
        /// Source file and line from DWARF after each named frame, and its
        /// inlined calls, on lines of their own.
        #[arg(long)]
        lines: bool,
    },
    /// Serve kernel symbols over HTTP from snapshots in a store: POST
    /// /v1/symbolize, /v1/snapshots, /v1/pprof, pprof's /pprof/symbol,
    /// /metrics, /healthz, /readyz.
    #[cfg(feature = "serve")]
    Serve(crate::commands::serve::ServeArgs),
    /// Source lines of addresses in any ELF file with DWARF, printed byte
    /// for byte as GNU addr2line prints them (`-e -a -f -i -p -C -s`), for
    /// perf's srcline and `decode_stacktrace.sh`: run as `addr2line` or
    /// `llvm-addr2line` (a symlink to ksym), ksym is that command.
    Addr2line(crate::commands::addr2line::Addr2lineArgs),
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
pub(crate) enum AnnotateFormat {
    Auto,
    Perf,
    Bpftrace,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum DumpFormatArg {
    SystemMap,
    Kallsyms,
    Kallmodsyms,
    Json,
}

#[derive(Subcommand)]
#[command(defer = true)]
pub(crate) enum SnapshotCommand {
    /// Save the symbols (live kernel, --kallsyms or --snapshot) as a snapshot
    /// file that loads by mmap; created 0600, atomically.
    Save {
        /// Where to write it.
        #[arg(short, long, default_value = "kallsyms.ksym")]
        output: PathBuf,
    },
    /// Check a snapshot file (every checksum) and print what it describes.
    Check { file: PathBuf },
    /// Push the snapshot (the one `save` writes) into a snapshot store:
    /// the core table once per kernel build, each module once, and a small
    /// record of this boot.
    #[cfg(feature = "store")]
    Push {
        /// `file:///dir`, `s3://bucket/prefix` (endpoint and credentials from
        /// the `AWS_*` variables) or `memory://` (default:
        /// `$XDG_DATA_HOME/ksym/store`, else `~/.local/share/ksym/store`).
        #[arg(long)]
        store: Option<String>,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Write the snapshot of a boot from a snapshot store to FILE (0600,
    /// atomically).
    #[cfg(feature = "store")]
    Pull {
        /// The boot id (`/proc/sys/kernel/random/boot_id` of that boot).
        boot_id: String,
        file: PathBuf,
        /// As for `push`.
        #[arg(long)]
        store: Option<String>,
    },
}
