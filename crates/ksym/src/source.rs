//! Where symbol text comes from: a byte buffer, a file (plain or compressed
//! with xz, gzip or zstd, told apart by their magic bytes), or the live
//! `/proc/kallsyms`.
//!
//! The live file costs the kernel tens of milliseconds to produce. We read it
//! on one thread and parse on another, chunk by chunk, so the parse hides
//! behind the kernel's work and a load costs little more than the read
//! (1.12x here, the rest being the table's build after the last chunk).

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;

use crate::error::{Error, Result};
use crate::modules::ModuleMap;
use crate::parse::Parser;
use crate::table::{SymbolTable, TableBuilder, TableInfo};

/// The live kernel's symbol list.
pub const PROC_KALLSYMS: &str = "/proc/kallsyms";
/// The live kernel's loaded modules.
pub const PROC_MODULES: &str = "/proc/modules";
/// Whether the kernel hides addresses (0, 1 or 2).
pub const KPTR_RESTRICT: &str = "/proc/sys/kernel/kptr_restrict";

/// How much of `/proc/kallsyms` one read asks for. The kernel's seq_file
/// fills what it is asked; far larger buffers were measured slower here.
const LIVE_CHUNK: usize = 64 << 10;

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
}

impl LoadOptions {
    /// The threads a load may use, given the CPUs (at least one).
    fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// A compression format recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Xz,
    Gzip,
    Zstd,
}

impl Compression {
    /// Recognises compressed data by its first bytes.
    pub fn detect(bytes: &[u8]) -> Option<Compression> {
        if bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if bytes.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Xz => "xz",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Decompresses `bytes` if they carry a known magic; else returns them as they are.
pub fn decompress(source_name: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let Some(format) = Compression::detect(&bytes) else {
        return Ok(bytes);
    };
    #[cfg(feature = "compression")]
    {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        let res = match format {
            Compression::Xz => xz2::read::XzDecoder::new_multi_decoder(&bytes[..])
                .read_to_end(&mut out)
                .map(|_| ()),
            Compression::Gzip => flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .map(|_| ()),
            Compression::Zstd => zstd::stream::read::Decoder::new(&bytes[..])
                .and_then(|mut d| d.read_to_end(&mut out))
                .map(|_| ()),
        };
        res.map_err(|e| Error::Decompress {
            source_name: source_name.to_string(),
            format: format.name(),
            message: e.to_string(),
        })?;
        Ok(out)
    }
    #[cfg(not(feature = "compression"))]
    {
        Err(Error::CompressionDisabled {
            source_name: source_name.to_string(),
            format: format.name(),
        })
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the current `kernel.kptr_restrict`, if readable.
pub fn kptr_restrict() -> Option<u8> {
    std::fs::read_to_string(KPTR_RESTRICT)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads the current `kernel.perf_event_paranoid`, if readable.
pub fn perf_event_paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Builds a table from symbol text already in memory (not compressed).
pub fn parse_bytes(source_name: &str, bytes: &[u8], opts: &LoadOptions) -> Result<SymbolTable> {
    let parts = match opts.threads {
        Some(n) => n.min(MAX_ASKED_PARTS),
        None if bytes.len() >= PARALLEL_MIN => opts.threads().min(MAX_PARTS),
        None => 1,
    };
    let (parser, fed, builder) = parse_in_parts(bytes, opts, parts);
    finish(source_name, parser, fed, builder, opts, None)
}

/// How the parse of some text went: every line read (`Ok`), or the first
/// bad one in strict mode.
type Fed = std::result::Result<(), crate::error::LineError>;

/// From this many bytes, text in memory is parsed in parts on several
/// threads (a thread costs tens of microseconds; a megabyte, about two
/// milliseconds of parsing).
const PARALLEL_MIN: usize = 1 << 20;
/// At most this many parts unless asked (each holds its own copy of the
/// table's arrays until they are joined), and at most this many when asked.
const MAX_PARTS: usize = 4;
const MAX_ASKED_PARTS: usize = 64;

/// [`parse_bytes`] in `parts` pieces cut at line ends, each parsed on its
/// own thread into its own builder, then joined in input order: the same
/// table, line numbers and errors as one parse. The 6.12 data on two CPUs:
/// 410 MB/s on one thread, 600 MB/s in two parts (the table's build after
/// the join stays on one thread: a third of the time).
fn parse_in_parts(bytes: &[u8], opts: &LoadOptions, parts: usize) -> (Parser, Fed, TableBuilder) {
    let pieces = split_at_lines(bytes, parts.max(1));
    // The first part's builder takes in the others: it gets room for all.
    let parse_piece = |piece: &[u8], room: usize| {
        let mut builder = TableBuilder::new();
        // ~45 bytes a line in real kallsyms.
        builder.reserve(room / 40, room);
        let mut parser = Parser::new(opts.strict);
        let fed = parser
            .feed(piece, &mut builder)
            .and_then(|()| parser.finish(&mut builder));
        (parser, fed, builder)
    };
    let mut results = std::thread::scope(|scope| {
        let others: Vec<_> = pieces[1..]
            .iter()
            .map(|&piece| scope.spawn(move || parse_piece(piece, piece.len())))
            .collect();
        let mut results = vec![parse_piece(pieces[0], bytes.len())];
        for handle in others {
            results.push(handle.join().expect("a parse thread does not panic"));
        }
        results
    })
    .into_iter();
    let (mut parser, mut fed, mut builder) = results.next().expect("one part at least");
    for (next_parser, next_fed, next_builder) in results {
        if fed.is_err() {
            break; // strict mode: the first bad line in input order stops
        }
        let before = parser.lines();
        parser.absorb(next_parser);
        builder.append(next_builder);
        fed = next_fed.map_err(|mut e| {
            e.line += before;
            e
        });
    }
    (parser, fed, builder)
}

/// `bytes` in `parts` pieces of about equal size, each but the last ending
/// with a newline (fewer pieces when the lines are too few or too long).
fn split_at_lines(bytes: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(parts);
    let mut rest = bytes;
    for k in (1..parts).rev() {
        // Aim for an equal share of what is left among the pieces left.
        let aim = rest.len() / (k + 1);
        match memchr::memchr(b'\n', &rest[aim..]) {
            Some(nl) if aim + nl + 1 < rest.len() => {
                let (piece, tail) = rest.split_at(aim + nl + 1);
                pieces.push(piece);
                rest = tail;
            }
            _ => break,
        }
    }
    pieces.push(rest);
    pieces
}

/// Builds a table from a file of symbol text, plain or compressed.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<SymbolTable> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let bytes = decompress(&name, bytes)?;
    parse_bytes(&name, &bytes, opts)
}

/// Builds a table from the running kernel's `/proc/kallsyms`, bounding
/// module symbols with `/proc/modules` when it exists (a kernel without
/// module support has none, which is fine).
pub fn load_live(opts: &LoadOptions) -> Result<SymbolTable> {
    let mut opts = opts.clone();
    if opts.modules.is_none() {
        opts.modules = read_live_modules(Path::new("/"))?;
    }
    load_procfs(Path::new(PROC_KALLSYMS), &opts, kptr_restrict())
}

/// Reads a procfs symbol file the faster way for this machine: with two
/// threads allowed (and CPUs for them), parsing on this thread while another
/// reads ([`load_streaming`]); else reading it whole, then parsing.
pub fn load_procfs(
    path: &Path,
    opts: &LoadOptions,
    kptr_restrict: Option<u8>,
) -> Result<SymbolTable> {
    if opts.threads() >= 2 {
        return load_streaming(path, opts, kptr_restrict);
    }
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let (parser, fed, builder) = parse_in_parts(&bytes, opts, 1);
    let name = path.display().to_string();
    finish(&name, parser, fed, builder, opts, Some(kptr_restrict))
}

/// `<root>/proc/modules`, with each module's text area bounded by its
/// sections under `<root>/sys/module` when they can be read. The release in
/// `<root>/proc/sys/kernel/osrelease` tells how the kernel lays modules
/// out; without it the bounds stay loose (never too tight). `None` without
/// `/proc/modules`. `root` is `/` for the running kernel.
pub fn read_live_modules(root: &Path) -> Result<Option<ModuleMap>> {
    let Some(mut map) = read_proc_modules(&root.join("proc/modules"))? else {
        return Ok(None);
    };
    let release = std::fs::read_to_string(root.join("proc/sys/kernel/osrelease"));
    let separate = release.is_ok_and(|r| crate::modules::separate_module_areas(r.trim()));
    map.add_sysfs_sections(&root.join("sys/module"), separate)?;
    Ok(Some(map))
}

/// Reads a `/proc/modules`-like file; a missing file is `None`, not an error.
pub fn read_proc_modules(path: &Path) -> Result<Option<ModuleMap>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let mut map = ModuleMap::default();
            map.add_text(&path.display().to_string(), &bytes)?;
            Ok(Some(map))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Reads symbol text from a file that is produced as it is read (procfs),
/// parsing on this thread while another thread reads.
pub fn load_streaming(
    path: &Path,
    opts: &LoadOptions,
    kptr_restrict: Option<u8>,
) -> Result<SymbolTable> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut builder = TableBuilder::new();
    // The live kernel here has ~120k-240k symbols.
    builder.reserve(1 << 17, 6 << 20);
    let mut parser = Parser::new(opts.strict);
    // Buffers travel full-size with the length read, and come back to be
    // reused: nothing is allocated or zeroed per chunk.
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(16);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    let (read_result, fed) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> std::io::Result<()> {
            loop {
                let mut buf = empty_rx.try_recv().unwrap_or_else(|_| vec![0; LIVE_CHUNK]);
                let n = loop {
                    match file.read(&mut buf) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        r => break r?,
                    }
                };
                if n == 0 {
                    return Ok(());
                }
                if full_tx.send((buf, n)).is_err() {
                    return Ok(()); // the parser stopped (strict mode)
                }
            }
        });
        // The parser waits for chunks by yielding, never by sleeping: woken
        // from a sleep, it was put on the reader's CPU and the two shared it
        // while the other CPU idled (2 vCPUs here: 33.2 ms against 27.2 ms
        // polling, for a 24.3 ms read).
        let mut fed = Ok(());
        loop {
            let (chunk, n) = match full_rx.try_recv() {
                Ok(full) => full,
                Err(mpsc::TryRecvError::Empty) => {
                    std::thread::yield_now();
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
            };
            fed = parser.feed(&chunk[..n], &mut builder);
            if fed.is_err() {
                break;
            }
            let _ = empty_tx.send(chunk);
        }
        drop(full_rx);
        let read_result = reader.join().expect("the reader thread does not panic");
        (read_result, fed)
    });
    read_result.map_err(io_err(path))?;
    let fed = fed.and_then(|()| parser.finish(&mut builder));
    let name = path.display().to_string();
    finish(&name, parser, fed, builder, opts, Some(kptr_restrict))
}

fn finish(
    source_name: &str,
    parser: Parser,
    fed: Fed,
    mut builder: TableBuilder,
    opts: &LoadOptions,
    live_kptr: Option<Option<u8>>,
) -> Result<SymbolTable> {
    if let Err(error) = fed {
        return Err(Error::BadLine {
            source_name: source_name.to_string(),
            error,
        });
    }
    if builder.is_empty() {
        if parser.nonblank_lines == 0 {
            return Err(Error::Empty {
                source_name: source_name.to_string(),
            });
        }
        let first = parser.skipped.first[0].clone();
        let hint = if looks_like_proc_modules(&first.text) {
            " (this looks like /proc/modules: pass it with --modules)"
        } else {
            ""
        };
        return Err(Error::NoSymbols {
            source_name: source_name.to_string(),
            first,
            hint,
        });
    }
    if builder.all_addresses_zero() {
        return Err(Error::Redacted {
            source_name: source_name.to_string(),
            kptr_restrict: live_kptr.flatten(),
            perf_event_paranoid: live_kptr.and_then(|_| perf_event_paranoid()),
        });
    }
    if let Some(m) = &opts.modules {
        builder.set_modules(m.clone());
    }
    builder.build(TableInfo {
        source: source_name.to_string(),
        format: parser.format,
        skipped: parser.skipped,
    })
}

fn looks_like_proc_modules(line: &str) -> bool {
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    f.len() >= 6
        && f[1].bytes().all(|b| b.is_ascii_digit())
        && matches!(f[4], "Live" | "Loading" | "Unloading")
}
