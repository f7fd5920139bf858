//! `ksym addr2line`, and the same program run as `addr2line` or
//! `llvm-addr2line` (a symlink, as busybox does): GNU addr2line's options
//! and answers, byte for byte, for the programs that run it as a child and
//! read its output (perf's srcline, `decode_stacktrace.sh`). Addresses come
//! from the arguments, or one a line from standard input, each answer
//! flushed before the next line is read (perf writes one, then waits).
//!
//! Answers come from the file's tools' line table in the private cache
//! (by build-id) when there is one; else from its DWARF, and the table is
//! built in the background for the next run, as `--lines` does.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ksym::lines::{parse_address, DebugFile, Flavour, Style, ToolAnswer, ToolLines};
use ksym::snapshot::cache;

use crate::CliResult;

/// GNU addr2line's options (those its callers use; the rest are refused).
#[derive(clap::Args, Debug)]
pub(crate) struct Addr2lineArgs {
    /// The ELF file with DWARF (an executable, a shared object, a vmlinux, a
    /// `.ko`, whose addresses are `.text` offsets).
    #[arg(short = 'e', long = "exe", default_value = "a.out")]
    exe: PathBuf,
    /// Print the address before each answer.
    #[arg(short = 'a', long = "addresses")]
    addresses: bool,
    /// Print the function name before each place.
    #[arg(short = 'f', long = "functions")]
    functions: bool,
    /// Print the calls inlined code is inlined into.
    #[arg(short = 'i', long = "inlines")]
    inlines: bool,
    /// One line an answer (`func at file:line`, ` (inlined by) ...`).
    #[arg(short = 'p', long = "pretty-print")]
    pretty: bool,
    /// Demangle names (Rust's; C++ names are printed as they are).
    #[arg(short = 'C', long = "demangle", num_args = 0..=1, require_equals = true, default_missing_value = "auto")]
    demangle: Option<String>,
    /// File names without their directories.
    #[arg(short = 's', long = "basenames")]
    basenames: bool,
    /// Answer as llvm-addr2line does (as when run under that name).
    #[arg(long)]
    llvm: bool,

    /// Hex addresses (`0x` optional); none: one a line from standard input.
    addrs: Vec<String>,
}

/// Run as `addr2line` or `llvm-addr2line`: the whole command line is
/// addr2line's.
#[derive(clap::Parser, Debug)]
#[command(
    name = "addr2line",
    version,
    about = "ksym's addr2line: source lines of addresses in an ELF file, as GNU addr2line prints them"
)]
pub(crate) struct MultiCall {
    #[command(flatten)]
    pub(crate) args: Addr2lineArgs,
}

/// Which flavour the program's name asks for (`None`: not addr2line).
pub(crate) fn called_as(argv0: &str) -> Option<Flavour> {
    match Path::new(argv0).file_name()?.to_str()? {
        "addr2line" => Some(Flavour::Gnu),
        "llvm-addr2line" => Some(Flavour::Llvm),
        _ => None,
    }
}

/// Runs with `args`, flavour from the program's name or `--llvm`;
/// `use_cache` false (`ksym --no-cache addr2line`, or KSYM_CACHE_DIR=off):
/// answers from the DWARF, no line table read or built.
pub(crate) fn run(args: &Addr2lineArgs, flavour: Flavour, use_cache: bool) -> CliResult<ExitCode> {
    let flavour = if args.llvm { Flavour::Llvm } else { flavour };
    let style = Style {
        flavour,
        addresses: args.addresses,
        functions: args.functions,
        inlines: args.inlines,
        pretty: args.pretty,
        demangle: args.demangle.is_some(),
        basenames: args.basenames,
    };
    let mut lines = open(&args.exe, use_cache)?;
    if lines.is_relocatable() && flavour == Flavour::Llvm {
        return Err(format!(
            "{}: a relocatable object (.ko, .o): llvm-addr2line's reading of its \
             addresses is not supported (GNU's, .text offsets, is)",
            args.exe.display()
        )
        .into());
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if !args.addrs.is_empty() {
        for text in &args.addrs {
            answer(&mut lines, style, text, &mut out)?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        answer(&mut lines, style, line.trim_end_matches('\n'), &mut out)?;
        // The caller waits for this answer before it writes the next.
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The file's lines: from its cached tools' table, else from its DWARF
/// (then the table is built in the background when the file has DWARF and
/// a build-id). A damaged table is said and passed by: the caller keeps
/// getting answers.
fn open(path: &Path, use_cache: bool) -> CliResult<ToolLines> {
    let file = DebugFile::open(path)?;
    let dir = cache::default_dir().filter(|_| use_cache);
    let (Some(dir), Some(id)) = (dir, file.build_id_hex()) else {
        return Ok(ToolLines::new(file)?);
    };
    match cache::lookup_tool_table(&dir, &id) {
        Ok(Some(table)) => match ToolLines::with_table(&file, table) {
            Ok(lines) => return Ok(lines),
            Err(e) => eprintln!("addr2line: {e}"),
        },
        Ok(None) if file.dwarf_bytes() > 0 => {
            super::line_table::build_in_background(path, super::line_table::Kind::Tools);
        }
        Ok(None) => {}
        Err(e) => eprintln!("addr2line: {e}"),
    }
    Ok(ToolLines::new(file)?)
}

fn answer(lines: &mut ToolLines, style: Style, text: &str, out: &mut impl Write) -> CliResult<()> {
    match parse_address(style.flavour, text) {
        Some(addr) => {
            // A unit whose DWARF cannot be read answers as nothing found
            // (said on standard error): the caller keeps its child.
            let answer = lines.answer(addr).unwrap_or_else(|e| {
                eprintln!("addr2line: {e}");
                ToolAnswer::default()
            });
            style.write(out, addr, &answer)?
        }
        // llvm prints back what is not an address (perf's `,` sentinel).
        None => writeln!(out, "{text}")?,
    }
    Ok(())
}
