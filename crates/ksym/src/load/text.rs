//! Symbol text in memory to a table: parsed in parts on several threads
//! when it is large, the parts' builders joined in input order, then the
//! checks every load ends with (empty, unreadable, redacted).

use super::LoadOptions;
use crate::error::{Error, LineError, LineErrorKind, Result};
use crate::parse::{Parser, RawSymbol, SymbolSink};
use crate::read::limit::HEAD_BYTES;
use crate::read::perf_event_paranoid;
use crate::table::{SymbolTable, TableBuilder, TableInfo};

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

/// Refuses text whose first [`HEAD_BYTES`] hold no symbol line (zeros from
/// a decompression bomb, a binary file, one endless line), before the rest
/// is read. Shorter input is left to the parse, which says what is wrong.
pub(super) fn check_head(source_name: &str, head: &[u8]) -> Result<()> {
    struct Found(bool);
    impl SymbolSink for Found {
        fn push(&mut self, _: &RawSymbol<'_>) {
            self.0 = true;
        }
    }
    if head.len() < HEAD_BYTES {
        return Ok(());
    }
    let mut parser = Parser::new(false);
    let mut found = Found(false);
    // Small steps: a real file shows a symbol in its first line or two.
    for piece in head.chunks(4 << 10) {
        let _ = parser.feed(piece, &mut found);
        if found.0 {
            return Ok(());
        }
    }
    let _ = parser.finish(&mut found);
    if found.0 {
        return Ok(());
    }
    Err(no_symbols_ahead(source_name, head.len() as u64, &parser))
}

/// The refusal of text whose first `looked_at` bytes gave `parser` no
/// symbol: it names the first line given up on (for blank lines only, the
/// last one).
pub(super) fn no_symbols_ahead(source_name: &str, looked_at: u64, parser: &Parser) -> Error {
    let first =
        parser.skipped.first.first().cloned().unwrap_or_else(|| {
            LineError::new(parser.lines().max(1), LineErrorKind::TooFewFields, b"")
        });
    Error::NoSymbolsAhead {
        source_name: source_name.to_string(),
        looked_at,
        first,
    }
}

/// How the parse of some text went: every line read (`Ok`), or the first
/// bad one in strict mode.
pub(super) type Fed = std::result::Result<(), LineError>;

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
pub(super) fn parse_in_parts(
    bytes: &[u8],
    opts: &LoadOptions,
    parts: usize,
) -> (Parser, Fed, TableBuilder) {
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

pub(super) fn finish(
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
            bpf_iter: None,
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
