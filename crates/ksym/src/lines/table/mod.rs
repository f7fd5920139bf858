//! The line table: a vmlinux's DWARF answers (file, line, column and the
//! chain of inlined calls for every line row) boiled down once per
//! build-id into a small file that later processes map and ask without
//! touching DWARF. Building a DWARF context for a distro vmlinux costs
//! most of a second and a few hundred MB each time; opening this costs a
//! checksum over a few MB.
//!
//! ```text
//! offset 0   header (48 bytes, little-endian)
//!            magic "KSYMLINE", version u32, block count u32, string
//!            count u32, arena length u32, stream length u32, flags u32
//!            (version 1: reserved, 0), link-time `_text` u64, checksum
//!            u64 (XXH3-64 of every other byte of the file)
//! then       block index: per block {first row's address u64, its offset
//!            in the row stream u32}, by address
//! then       string offsets: (count + 1) u32 into the arena; string 0 is
//!            the build-id
//! then       the arena: every function name and path, once
//! then       the row stream
//! ```
//!
//! The rows are the DWARF line rows at link-time addresses, sorted; a row
//! holds from its address to the next row's. Each is written as the
//! change from the row before it (LEB128 numbers): the address delta, a
//! tag (a gap where no line is, or which of function, file and outer
//! frames change), then what changed: most rows cost 3-4 bytes. Rows come
//! in blocks of [`ROWS_PER_BLOCK`] whose first row starts afresh, so a
//! lookup is a binary search over the block index and the decoding of at
//! most one block.
//!
//! A table with [`FLAG_TOOLS`] holds what `addr2line` prints instead
//! ([`crate::lines::ToolLines`] answers from it): linkage names, paths
//! joined as BFD joins them and, beside each, as the DWARF standard reads
//! them; the discriminator of the innermost row; rows past their unit's
//! ranges, marked. Those parts are tag bits and numbers a kernel table
//! never writes.
//!
//! A table is untrusted input: the checksum, every length and offset, the
//! order of the blocks and of the string offsets are checked when it is
//! opened; each number and string id is checked as it is decoded, so a
//! damaged table is an error, never a panic or a read out of bounds.

mod build;
mod encode;
mod frames;
#[cfg(test)]
mod tests;

use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use super::file::debug_error;
use super::SourceFrame;
use crate::error::{Error, Result};

pub use build::build;
pub(crate) use build::Collected;
pub use frames::{FrameRef, TableFrames, INLINE_DEPTH};

const MAGIC: &[u8; 8] = b"KSYMLINE";
/// Bumped whenever what the bytes mean changes.
pub const LINE_TABLE_VERSION: u32 = 2;
/// Header flag: the table holds the tools' view (see the module docs).
pub(crate) const FLAG_TOOLS: u32 = 1;
const HEADER_LEN: usize = 48;
const BLOCK_ENTRY_LEN: usize = 12;
/// Rows per block: a lookup decodes at most this many. Earlier writers
/// used 32, then 8 (their tables read the same). On Debian's 6.1 vmlinux
/// a lookup ([`LineTable::frames_ref`]) costs 5,000 instructions with 32
/// rows a block (17.2 MB), 1,810 with 8 (19.5 MB), 1,470 with 5 (21.4
/// MB) and 1,280 with 4 (22.6 MB, past a tenth of the DWARF).
pub const ROWS_PER_BLOCK: usize = 5;

/// Row tags: a gap (no line from here), or which parts of a line row are
/// written because they changed.
const TAG_GAP: u8 = 1;
const TAG_FUNCTION: u8 = 2;
const TAG_FILE: u8 = 4;
const TAG_OUTER: u8 = 8;
/// Tools' tables only: the second path changed, the innermost row has a
/// discriminator, the row is past its unit's ranges.
const TAG_ALT_FILE: u8 = 16;
const TAG_DISCRIMINATOR: u8 = 32;
const TAG_PAST_RANGES: u8 = 64;
/// Deeper inline chains than this are damage, not code.
const MAX_DEPTH: u64 = 256;

/// One frame as stored: string ids plus one (0 for none), line and column
/// (0 for none); in a tools' table also the path as the standard reads it
/// and, for the innermost frame, its discriminator and whether its row is
/// past its unit's ranges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct FrameKey {
    pub(crate) function: u32,
    pub(crate) file: u32,
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) alt_file: u32,
    pub(crate) discriminator: u32,
    pub(crate) past_ranges: bool,
}

enum Bytes {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// A line table, opened and checked: see the module documentation.
pub struct LineTable {
    source: String,
    bytes: Bytes,
    blocks: usize,
    strings: usize,
    /// The string arena, checked as UTF-8 once when opened (a copy: a
    /// few MB, where checking each name at each lookup was a fifth of the
    /// lookups' instructions).
    arena: Box<str>,
    stream_at: usize,
    text: u64,
    /// Holds the tools' view ([`FLAG_TOOLS`]).
    tools: bool,
    /// Where a lookup's binary search over the blocks starts and ends:
    /// see [`BlockBuckets`].
    buckets: BlockBuckets,
}

/// A direct index over the block index, built when a table is opened (the
/// checks walk every block then anyway): bucket `k` counts the blocks
/// that start below `first + (k << shift)`, so the block holding an
/// address lies between two neighbouring counts and a lookup searches a
/// handful of blocks, not 17 levels of a 1.2 MB index (a cache miss each).
#[derive(Debug, Default)]
struct BlockBuckets {
    first: u64,
    shift: u32,
    counts: Vec<u32>,
}

/// About this many blocks a bucket: the counts stay a quarter of the
/// block index's entries (and a tenth of its bytes).
const BLOCKS_PER_BUCKET: u64 = 4;

impl BlockBuckets {
    /// The buckets of blocks starting at `starts` (sorted, checked).
    fn new(blocks: usize, start: impl Fn(usize) -> u64) -> BlockBuckets {
        if blocks == 0 {
            return BlockBuckets::default();
        }
        let first = start(0);
        // Sorted (checked before): no underflow. Any span, up to the whole
        // address space of a damaged table, is reckoned without overflow.
        let span = start(blocks - 1) - first;
        // The smallest power-of-two bucket width (up to 2^64) that keeps
        // the count of buckets within blocks / BLOCKS_PER_BUCKET.
        let want = (blocks as u64 / BLOCKS_PER_BUCKET).max(1);
        let mut shift = 0u32;
        while span.checked_shr(shift).is_some_and(|s| s >= want) {
            shift += 1;
        }
        let buckets = span.checked_shr(shift).unwrap_or(0) as usize + 1;
        let mut counts = Vec::with_capacity(buckets + 1);
        let mut i = 0usize;
        for k in 0..=buckets as u128 {
            let from = u128::from(first) + (k << shift);
            while i < blocks && u128::from(start(i)) < from {
                i += 1;
            }
            counts.push(i as u32);
        }
        BlockBuckets {
            first,
            shift,
            counts,
        }
    }

    /// The range of block counts `upto` (blocks starting at or below
    /// `addr`) may take.
    fn range(&self, addr: u64, blocks: usize) -> (usize, usize) {
        let Some(off) = addr.checked_sub(self.first) else {
            return (0, 0);
        };
        // Past the last bucket (any address, for a one-block table): all.
        let k = usize::try_from(off.checked_shr(self.shift).unwrap_or(0)).unwrap_or(usize::MAX);
        let next = k.checked_add(1).and_then(|n| self.counts.get(n));
        match (self.counts.get(k), next) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => (blocks, blocks),
        }
    }
}

impl std::fmt::Debug for LineTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineTable")
            .field("source", &self.source)
            .field("bytes", &self.as_bytes().len())
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl LineTable {
    /// Opens the table at `path` by mapping it (checked in full).
    pub fn open(path: &Path) -> Result<LineTable> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // SAFETY: read-only private mapping; ksym replaces these files only
        // by rename, never in place, so its own files never change under it.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        LineTable::from_storage(&path.display().to_string(), Bytes::Map(map))
    }

    /// A table from bytes in memory (checked in full).
    pub fn from_bytes(source: &str, bytes: Vec<u8>) -> Result<LineTable> {
        LineTable::from_storage(source, Bytes::Owned(bytes))
    }

    fn from_storage(source: &str, bytes: Bytes) -> Result<LineTable> {
        let b = match &bytes {
            Bytes::Map(m) => &m[..],
            Bytes::Owned(v) => &v[..],
        };
        let bad = |why: String| debug_error(source, &format!("line table refused: {why}"));
        if b.len() < HEADER_LEN || &b[..8] != MAGIC {
            return Err(bad("not a ksym line table (too short or bad magic)".into()));
        }
        // Version 1 is version 2 without flags (its reserved field 0).
        let version = u32_at(b, 8);
        if version != LINE_TABLE_VERSION && version != 1 {
            return Err(bad(format!(
                "version {version}, this ksym reads versions 1 to {LINE_TABLE_VERSION}"
            )));
        }
        let field = |at| u32_at(b, at) as usize;
        let (blocks, strings, arena, stream) = (field(12), field(16), field(20), field(24));
        let text = u64_at(b, 32);
        // Lengths from the file: checked, so a 32-bit `usize` cannot wrap.
        let sized = blocks
            .checked_mul(BLOCK_ENTRY_LEN)
            .and_then(|n| n.checked_add(HEADER_LEN))
            .and_then(|n| n.checked_add(strings.checked_add(1)?.checked_mul(4)?))
            .and_then(|arena_at| {
                let stream_at = arena_at.checked_add(arena)?;
                Some((arena_at, stream_at, stream_at.checked_add(stream)?))
            });
        let Some((arena_at, stream_at, _)) = sized.filter(|s| s.2 == b.len()) else {
            return Err(bad(format!(
                "its header describes {blocks} blocks, {strings} strings, a {arena}-byte \
                 arena and {stream} bytes of rows; the file has {} bytes",
                b.len()
            )));
        };
        let flags = u32_at(b, 28);
        if flags & !FLAG_TOOLS != 0 || (version == 1 && flags != 0) {
            return Err(bad(format!("unknown header flags {flags:#x}")));
        }
        if checksum(b) != u64_at(b, 40) {
            return Err(bad("checksum mismatch (damaged or truncated)".into()));
        }
        let names: Box<str> = std::str::from_utf8(&b[arena_at..stream_at])
            .map_err(|e| {
                bad(format!(
                    "its names are not UTF-8 (byte {} of the arena)",
                    e.valid_up_to()
                ))
            })?
            .into();
        let table = LineTable {
            source: source.to_string(),
            bytes,
            blocks,
            strings,
            arena: names,
            stream_at,
            text,
            tools: flags & FLAG_TOOLS != 0,
            buckets: BlockBuckets::default(),
        };
        table.check_index(stream, arena).map_err(bad)?;
        let buckets = BlockBuckets::new(table.blocks, |i| table.block(i).0);
        Ok(LineTable { buckets, ..table })
    }

    /// Blocks by address with offsets in the stream; string offsets in
    /// order and inside the arena; a build-id.
    fn check_index(&self, stream: usize, arena: usize) -> std::result::Result<(), String> {
        let mut last: Option<(u64, usize)> = None;
        for i in 0..self.blocks {
            let (addr, at) = self.block(i);
            if at > stream || last.is_some_and(|(a, o)| addr <= a || at < o) {
                return Err(format!("block {i} is out of order or past the rows"));
            }
            last = Some((addr, at));
        }
        if self.blocks > 0 && self.block(0).1 != 0 {
            return Err("the first block does not start the rows".into());
        }
        let mut prev = 0;
        for i in 0..=self.strings {
            let at = self.string_offset(i);
            if at < prev || at > arena {
                return Err(format!("string {i} is out of order or past the arena"));
            }
            prev = at;
        }
        if self.strings == 0 {
            return Err("no build-id".into());
        }
        Ok(())
    }

    /// All of the table, as written.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }

    /// Where the table came from (for messages).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The GNU build-id (hex) of the vmlinux the table was built from.
    pub fn build_id(&self) -> &str {
        self.string(0).unwrap_or("")
    }

    /// The vmlinux's own `_text` (or `_stext`): the KASLR slide is where
    /// kallsyms puts it less this.
    pub fn text(&self) -> u64 {
        self.text
    }

    fn block(&self, i: usize) -> (u64, usize) {
        let at = HEADER_LEN + i * BLOCK_ENTRY_LEN;
        let b = self.as_bytes();
        (u64_at(b, at), u32_at(b, at + 8) as usize)
    }

    fn string_offset(&self, i: usize) -> usize {
        let at = HEADER_LEN + self.blocks * BLOCK_ENTRY_LEN + i * 4;
        u32_at(self.as_bytes(), at) as usize
    }

    fn string(&self, id: usize) -> Option<&str> {
        if id >= self.strings {
            return None;
        }
        let (from, to) = (self.string_offset(id), self.string_offset(id + 1));
        self.arena.get(from..to)
    }

    fn stream(&self) -> &[u8] {
        &self.as_bytes()[self.stream_at..]
    }

    /// Whether the table holds the tools' view (built by
    /// [`crate::lines::build_tool_table`]) rather than the kernel's.
    pub fn is_tools(&self) -> bool {
        self.tools
    }

    /// How many blocks of at most [`ROWS_PER_BLOCK`] rows the table holds.
    pub fn block_count(&self) -> usize {
        self.blocks
    }

    /// The source frames at `addr` (a link-time address: less the KASLR
    /// slide), innermost first, as [`super::LineContext::frames`] gives
    /// them; empty where the DWARF had no line.
    pub fn frames(&self, addr: u64) -> Result<Vec<SourceFrame>> {
        Ok(self.frames_ref(addr)?.map(|f| f.to_frame()).collect())
    }

    /// [`LineTable::frames`] borrowed from the table: nothing allocated
    /// (for inline chains up to [`INLINE_DEPTH`] deep), for callers that
    /// look at each answer and move on.
    pub fn frames_ref(&self, addr: u64) -> Result<TableFrames<'_>> {
        let bad = |why: &str| debug_error(&self.source, &format!("line table at {addr:#x}: {why}"));
        let (inner, outer) = match self.row_at(addr).map_err(|why| bad(&why))? {
            Some((inner, outer)) => (Some(inner), outer),
            None => (None, frames::KeyStack::default()),
        };
        TableFrames::new(self, inner, outer).ok_or_else(|| bad("bad string id"))
    }

    /// The row holding `addr`: its innermost frame and outer ones, or
    /// `None` in a gap.
    fn row_at(
        &self,
        addr: u64,
    ) -> std::result::Result<Option<(FrameKey, frames::KeyStack)>, String> {
        let (lo, hi) = self.buckets.range(addr, self.blocks);
        let upto = lo + partition_point(hi - lo, |i| self.block(lo + i).0 <= addr);
        if upto == 0 {
            return Ok(None);
        }
        let (start, from) = self.block(upto - 1);
        let to = if upto < self.blocks {
            self.block(upto).1
        } else {
            self.stream().len()
        };
        let mut rows = encode::RowReader::new(
            &self.stream()[from..to],
            self.stream_at + from,
            start,
            self.tools,
        );
        // Rows are read up to the last one at or below `addr` (the next
        // one's address is read, not its frames), and only its outer
        // frames copied.
        let mut found = None;
        while let Some(row) = rows.next_row_upto(addr)? {
            found = row.frames;
        }
        Ok(found.map(|inner| (inner, rows.into_outer())))
    }
}

/// XXH3-64 of the table but its checksum field (header bytes 40..48).
fn checksum(bytes: &[u8]) -> u64 {
    let mut sum = Xxh3::new();
    sum.update(&bytes[..40]);
    sum.update(&bytes[HEADER_LEN..]);
    sum.digest()
}

/// `slice::partition_point` over indices `0..len`.
fn partition_point(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}
