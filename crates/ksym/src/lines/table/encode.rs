//! The row stream of a line table, both ways: rows written as changes from
//! the row before (LEB128 numbers), and read back with every number
//! checked.

use super::frames::KeyStack;
use super::{
    checksum, FrameKey, FLAG_TOOLS, HEADER_LEN, LINE_TABLE_VERSION, MAGIC, MAX_DEPTH,
    ROWS_PER_BLOCK, TAG_ALT_FILE, TAG_DISCRIMINATOR, TAG_FILE, TAG_FUNCTION, TAG_GAP, TAG_OUTER,
    TAG_PAST_RANGES,
};

/// What the rows so far leave behind; a block starts from the default.
#[derive(Default)]
struct State {
    addr: u64,
    inner: FrameKey,
    outer: KeyStack,
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// An outer frame: its second path too in a tools' table.
fn put_key(out: &mut Vec<u8>, k: &FrameKey, tools: bool) {
    for v in [k.function, k.file, k.line, k.column] {
        put(out, v.into());
    }
    if tools {
        put(out, k.alt_file.into());
    }
}

/// Writes rows (by rising address) into blocks.
#[derive(Default)]
pub(super) struct TableWriter {
    blocks: Vec<(u64, u32)>,
    stream: Vec<u8>,
    in_block: usize,
    state: State,
    /// Writes a tools' table ([`FLAG_TOOLS`]).
    tools: bool,
}

impl TableWriter {
    /// No rows yet; `tools`: a tools' table ([`FLAG_TOOLS`]).
    pub(super) fn new(tools: bool) -> TableWriter {
        TableWriter {
            tools,
            ..TableWriter::default()
        }
    }

    /// A row from `addr`: `None` for a gap, else the innermost frame and
    /// the outer ones (innermost first). Rows come by rising address; a
    /// row out of order, or rows past 4 GiB, are refused.
    pub(super) fn push(
        &mut self,
        addr: u64,
        frames: Option<(&FrameKey, &[FrameKey])>,
    ) -> Result<(), String> {
        if self.in_block == ROWS_PER_BLOCK || self.blocks.is_empty() {
            let at = u32::try_from(self.stream.len())
                .map_err(|_| format!("rows past 4 GiB at {addr:#x}"))?;
            self.blocks.push((addr, at));
            self.state = State {
                addr,
                ..State::default()
            };
            self.in_block = 0;
        }
        let delta = addr
            .checked_sub(self.state.addr)
            .ok_or_else(|| format!("row at {addr:#x} after one at {:#x}", self.state.addr))?;
        put(&mut self.stream, delta);
        self.state.addr = addr;
        self.in_block += 1;
        let Some((inner, outer)) = frames else {
            self.stream.push(TAG_GAP);
            return Ok(());
        };
        let s = &mut self.state;
        let mut tag = 0;
        if inner.function != s.inner.function {
            tag |= TAG_FUNCTION;
        }
        if inner.file != s.inner.file {
            tag |= TAG_FILE;
        }
        if outer != s.outer.as_slice() {
            tag |= TAG_OUTER;
        }
        let extras = [
            (inner.alt_file != s.inner.alt_file, TAG_ALT_FILE),
            (inner.discriminator != 0, TAG_DISCRIMINATOR),
            (inner.past_ranges, TAG_PAST_RANGES),
        ];
        for (set, bit) in extras {
            if set {
                if !self.tools {
                    return Err(format!("a tools' frame at {addr:#x} in a kernel table"));
                }
                tag |= bit;
            }
        }
        self.stream.push(tag);
        if tag & TAG_FUNCTION != 0 {
            put(&mut self.stream, inner.function.into());
        }
        if tag & TAG_FILE != 0 {
            put(&mut self.stream, inner.file.into());
        }
        if tag & TAG_ALT_FILE != 0 {
            put(&mut self.stream, inner.alt_file.into());
        }
        if tag & TAG_DISCRIMINATOR != 0 {
            put(&mut self.stream, inner.discriminator.into());
        }
        put(
            &mut self.stream,
            zigzag(i64::from(inner.line) - i64::from(s.inner.line)),
        );
        put(&mut self.stream, inner.column.into());
        if tag & TAG_OUTER != 0 {
            put(&mut self.stream, outer.len() as u64);
            for k in outer {
                put_key(&mut self.stream, k, self.tools);
            }
            s.outer.set(outer);
        }
        s.inner = *inner;
        Ok(())
    }

    /// The whole table: header, block index, strings (`strings[0]` the
    /// build-id), rows; refused when a count or length passes 32 bits.
    pub(super) fn finish(self, strings: &[String], text: u64) -> Result<Vec<u8>, String> {
        let arena: usize = strings.iter().map(String::len).sum();
        let mut out = Vec::with_capacity(
            HEADER_LEN + self.blocks.len() * 12 + strings.len() * 4 + arena + self.stream.len() + 4,
        );
        out.extend_from_slice(MAGIC);
        let len32 = |n: usize, what: &str| {
            u32::try_from(n).map_err(|_| format!("{n} {what}, past the format's 32 bits"))
        };
        for v in [
            LINE_TABLE_VERSION,
            len32(self.blocks.len(), "blocks")?,
            len32(strings.len(), "strings")?,
            len32(arena, "bytes of strings")?,
            len32(self.stream.len(), "bytes of rows")?,
            if self.tools { FLAG_TOOLS } else { 0 },
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&text.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // checksum, below
        for (addr, at) in &self.blocks {
            out.extend_from_slice(&addr.to_le_bytes());
            out.extend_from_slice(&at.to_le_bytes());
        }
        let mut offset = 0;
        out.extend_from_slice(&0u32.to_le_bytes());
        for s in strings {
            offset += s.len();
            out.extend_from_slice(&len32(offset, "bytes of strings")?.to_le_bytes());
        }
        for s in strings {
            out.extend_from_slice(s.as_bytes());
        }
        out.extend_from_slice(&self.stream);
        let sum = checksum(&out);
        out[40..48].copy_from_slice(&sum.to_le_bytes());
        Ok(out)
    }
}

/// One row read back: its innermost frame (`None`: a gap).
pub(super) struct Row {
    pub(super) frames: Option<FrameKey>,
}

/// Reads one block's rows.
pub(super) struct RowReader<'a> {
    bytes: &'a [u8],
    /// Where `bytes` start in the table (errors name table offsets).
    base: usize,
    pos: usize,
    state: State,
    /// A tools' table: its tag bits and second paths are read.
    tools: bool,
}

impl<'a> RowReader<'a> {
    /// The rows in `bytes` (at offset `base` of the table) of a block
    /// whose first row is at `start`.
    pub(super) fn new(bytes: &'a [u8], base: usize, start: u64, tools: bool) -> RowReader<'a> {
        RowReader {
            bytes,
            base,
            pos: 0,
            tools,
            state: State {
                addr: start,
                ..State::default()
            },
        }
    }

    /// The outer frames of the last row read, taken.
    pub(super) fn into_outer(self) -> KeyStack {
        self.state.outer
    }

    /// The table offset of `pos` in this block.
    fn byte(&self, pos: usize) -> usize {
        self.base.saturating_add(pos)
    }

    #[inline]
    fn number(&mut self) -> Result<u64, String> {
        // Most numbers of a row fit one byte.
        if let Some(&b) = self.bytes.get(self.pos) {
            if b & 0x80 == 0 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.number_long()
    }

    #[cold]
    fn number_long(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(format!("rows cut short at byte {}", self.byte(self.pos)));
            };
            // The tenth byte holds bit 63 only: more is a number past
            // 64 bits, refused rather than cut.
            if shift == 63 && b & 0x7e != 0 {
                return Err(format!(
                    "a number past 64 bits at byte {}",
                    self.byte(self.pos)
                ));
            }
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("a number too long at byte {}", self.byte(self.pos)))
    }

    fn number32(&mut self) -> Result<u32, String> {
        let v = self.number()?;
        u32::try_from(v).map_err(|_| format!("{v} too large at byte {}", self.byte(self.pos)))
    }

    fn key(&mut self) -> Result<FrameKey, String> {
        Ok(FrameKey {
            function: self.number32()?,
            file: self.number32()?,
            line: self.number32()?,
            column: self.number32()?,
            alt_file: if self.tools { self.number32()? } else { 0 },
            ..FrameKey::default()
        })
    }

    /// The next row if it starts at or below `limit` (`u64::MAX`: any),
    /// `None` at the end of the block or when it starts past `limit` (then
    /// nothing is read: the reader stays on the row before).
    pub(super) fn next_row_upto(&mut self, limit: u64) -> Result<Option<Row>, String> {
        if self.pos == self.bytes.len() {
            return Ok(None);
        }
        let pos = self.pos;
        let delta = self.number()?;
        let at = self.byte(self.pos);
        let addr = self
            .state
            .addr
            .checked_add(delta)
            .ok_or_else(|| format!("an address past the end at byte {at}"))?;
        if addr > limit {
            self.pos = pos;
            return Ok(None);
        }
        self.state.addr = addr;
        let Some(&tag) = self.bytes.get(self.pos) else {
            return Err(format!("rows cut short at byte {}", self.byte(self.pos)));
        };
        self.pos += 1;
        if tag == TAG_GAP {
            return Ok(Some(Row { frames: None }));
        }
        let known = if self.tools {
            TAG_FUNCTION | TAG_FILE | TAG_OUTER | TAG_ALT_FILE | TAG_DISCRIMINATOR | TAG_PAST_RANGES
        } else {
            TAG_FUNCTION | TAG_FILE | TAG_OUTER
        };
        if tag & !known != 0 {
            return Err(format!(
                "bad row tag {tag:#x} at byte {}",
                self.byte(self.pos - 1)
            ));
        }
        let mut inner = self.state.inner;
        if tag & TAG_FUNCTION != 0 {
            inner.function = self.number32()?;
        }
        if tag & TAG_FILE != 0 {
            inner.file = self.number32()?;
        }
        if tag & TAG_ALT_FILE != 0 {
            inner.alt_file = self.number32()?;
        }
        inner.discriminator = if tag & TAG_DISCRIMINATOR != 0 {
            self.number32()?
        } else {
            0
        };
        inner.past_ranges = tag & TAG_PAST_RANGES != 0;
        let at = self.pos;
        let delta = self.number()?;
        // Zigzag: 2n is n, 2n + 1 is -n - 1 (no overflow for any u64).
        let step = (delta >> 1) as i64 ^ -((delta & 1) as i64);
        inner.line = i64::from(inner.line)
            .checked_add(step)
            .and_then(|line| u32::try_from(line).ok())
            .ok_or_else(|| {
                format!(
                    "line delta {step} from line {} out of range at byte {}",
                    inner.line,
                    self.byte(at)
                )
            })?;
        inner.column = self.number32()?;
        if tag & TAG_OUTER != 0 {
            let depth = self.number()?;
            if depth > MAX_DEPTH {
                return Err(format!(
                    "{depth} inlined frames at byte {}",
                    self.byte(self.pos)
                ));
            }
            self.state.outer.clear();
            for _ in 0..depth {
                let key = self.key()?;
                self.state.outer.push(key);
            }
        }
        self.state.inner = inner;
        Ok(Some(Row {
            frames: Some(inner),
        }))
    }
}
