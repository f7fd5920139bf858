//! A linked kernel's real symbol sizes, apart from its ELF file: what
//! `--vmlinux` adds to a table, in a form kept per build-id in the private
//! cache and mapped, so a warm run reads neither the vmlinux nor its
//! `.symtab` (150k symbols, 30 ms of parsing and 10 MB of heap for Debian's).
//!
//! Only what matching needs is kept: each sized, non-absolute symbol's
//! link-time address, size and name, sorted by address (ties in ELF order),
//! and the link-time `_text` that gives the KASLR slide. Matching
//! ([`SizedSymbols::sizes_for`]) walks the table's address-answering symbols
//! and the records together in address order: a symbol gets the size of every record at its (slid) address
//! with its name, the last one winning, as [`super::elf_sizes`] did from the
//! ELF file itself.
//!
//! Layout, little-endian:
//!
//! | bytes    | what                                                      |
//! |----------|-----------------------------------------------------------|
//! | 0..8     | magic `KSYMSIZE`                                          |
//! | 8..12    | version ([`SIZED_SYMBOLS_VERSION`])                       |
//! | 12..16   | record count                                              |
//! | 16..20   | name arena length                                         |
//! | 20..24   | build-id length (at most 64), then 0..64 the build-id     |
//! | 24..32   | link-time `_text`, `u64::MAX` when the ELF file has none  |
//! | 32..40   | xxh3 of every other byte of the file                      |
//! | 40..104  | build-id bytes, zero-padded                               |
//! | records  | 16 bytes each: address `u64`, size `u32` (capped), end of |
//! |          | the name in the arena `u32` (names follow record order)   |
//! | arena    | names, back to back                                       |

use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use crate::error::{Error, Result};
use crate::parse::elf::ElfSymbols;
use crate::read::FileBytes;
use crate::table::{SymbolId, SymbolTable};

/// The format this ksym writes and reads.
pub const SIZED_SYMBOLS_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"KSYMSIZE";
const HEADER_LEN: usize = 104;
const RECORD_LEN: usize = 16;
const MAX_BUILD_ID: usize = 64;
const NO_TEXT: u64 = u64::MAX;

/// The real sizes of a linked kernel's symbols (see the module doc).
pub struct SizedSymbols {
    source: String,
    bytes: Storage,
    count: usize,
}

enum Storage {
    File(FileBytes),
    Owned(Vec<u8>),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn checksum(b: &[u8]) -> u64 {
    let mut sum = Xxh3::new();
    sum.update(&b[..32]);
    sum.update(&b[40..]);
    sum.digest()
}

impl SizedSymbols {
    /// The sizes an ELF symbol table (a vmlinux's) gives.
    pub fn from_elf(elf: &ElfSymbols) -> SizedSymbols {
        let mut kept: Vec<(u64, u32, &str)> = elf
            .symbols
            .iter()
            .filter(|s| s.size > 0 && !matches!(s.kind, 'a' | 'A'))
            .map(|s| (s.value, s.size.min(u64::from(u32::MAX)) as u32, &*s.name))
            .collect();
        kept.sort_by_key(|k| k.0); // stable: ties stay in ELF order
        let text = elf.symbols.iter().find(|s| s.name == "_text");
        let id = elf.build_id.as_deref().unwrap_or_default();
        let id = &id[..id.len().min(MAX_BUILD_ID)];
        let arena: usize = kept.iter().map(|k| k.2.len()).sum();
        let mut b = Vec::with_capacity(HEADER_LEN + kept.len() * RECORD_LEN + arena);
        b.extend_from_slice(MAGIC);
        for field in [
            SIZED_SYMBOLS_VERSION,
            kept.len() as u32,
            arena as u32,
            id.len() as u32,
        ] {
            b.extend_from_slice(&field.to_le_bytes());
        }
        b.extend_from_slice(&text.map_or(NO_TEXT, |s| s.value).to_le_bytes());
        b.extend_from_slice(&[0; 8]); // the checksum, below
        b.extend_from_slice(id);
        b.resize(HEADER_LEN, 0);
        let mut end = 0u32;
        for &(addr, size, name) in &kept {
            end += name.len() as u32;
            b.extend_from_slice(&addr.to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
            b.extend_from_slice(&end.to_le_bytes());
        }
        for k in &kept {
            b.extend_from_slice(k.2.as_bytes());
        }
        let sum = checksum(&b);
        b[32..40].copy_from_slice(&sum.to_le_bytes());
        SizedSymbols {
            source: elf.source.clone(),
            count: kept.len(),
            bytes: Storage::Owned(b),
        }
    }

    /// Opens a file written from [`SizedSymbols::as_bytes`], mapped and
    /// checked in full.
    pub fn open(path: &Path) -> Result<SizedSymbols> {
        let name = crate::read::source_name(path);
        let bytes = crate::read::map_within(path, crate::read::Limit::binary(None))?;
        SizedSymbols::from_storage(&name, Storage::File(bytes))
    }

    /// Sizes from bytes in memory, checked in full.
    pub fn from_bytes(source: &str, bytes: Vec<u8>) -> Result<SizedSymbols> {
        SizedSymbols::from_storage(source, Storage::Owned(bytes))
    }

    fn from_storage(source: &str, bytes: Storage) -> Result<SizedSymbols> {
        let b = match &bytes {
            Storage::File(f) => f.bytes(),
            Storage::Owned(v) => v,
        };
        let bad = |reason: String| Error::Sizes {
            source_name: source.to_string(),
            reason,
        };
        if b.len() < HEADER_LEN || &b[..8] != MAGIC {
            return Err(bad("not a ksym sizes file (too short or bad magic)".into()));
        }
        let version = u32_at(b, 8);
        if version != SIZED_SYMBOLS_VERSION {
            return Err(bad(format!(
                "version {version}, this ksym reads version {SIZED_SYMBOLS_VERSION}"
            )));
        }
        let (count, arena, id_len) = (
            u32_at(b, 12) as usize,
            u32_at(b, 16) as usize,
            u32_at(b, 20),
        );
        let expected = count
            .checked_mul(RECORD_LEN)
            .and_then(|n| n.checked_add(HEADER_LEN)?.checked_add(arena));
        if expected != Some(b.len()) {
            return Err(bad(format!(
                "its header describes {count} records and a {arena}-byte arena; the file has {} bytes",
                b.len()
            )));
        }
        if id_len as usize > MAX_BUILD_ID {
            return Err(bad(format!(
                "a build-id of {id_len} bytes (at most {MAX_BUILD_ID})"
            )));
        }
        if checksum(b) != u64_at(b, 32) {
            return Err(bad("checksum mismatch (damaged or truncated)".into()));
        }
        // Records in address order, name ends never going back nor past
        // the arena, sizes not zero: what matching relies on.
        let (mut last_addr, mut last_end) = (0u64, 0u32);
        for i in 0..count {
            let at = HEADER_LEN + i * RECORD_LEN;
            let (addr, size, end) = (u64_at(b, at), u32_at(b, at + 8), u32_at(b, at + 12));
            if addr < last_addr || end < last_end || end as usize > arena {
                return Err(bad(format!(
                    "record {i} (byte {at}) is out of address or name order"
                )));
            }
            if size == 0 {
                return Err(bad(format!("record {i} (byte {at}) has no size")));
            }
            (last_addr, last_end) = (addr, end);
        }
        if last_end as usize != arena {
            return Err(bad(format!(
                "the names end at {last_end}, the arena at {arena}"
            )));
        }
        Ok(SizedSymbols {
            source: source.to_string(),
            bytes,
            count,
        })
    }

    /// The file's bytes (to keep in the cache).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.bytes {
            Storage::File(f) => f.bytes(),
            Storage::Owned(v) => v,
        }
    }

    /// Where these sizes came from (a path, or the cache file).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many sized symbols there are.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The ELF file's GNU build-id, in lowercase hex (`None` when it had none).
    pub fn build_id_hex(&self) -> Option<String> {
        let b = self.as_bytes();
        let id = &b[40..40 + u32_at(b, 20) as usize];
        (!id.is_empty()).then(|| id.iter().map(|x| format!("{x:02x}")).collect())
    }

    /// The link-time address of `_text`, when the ELF file has one.
    pub fn text(&self) -> Option<u64> {
        Some(u64_at(self.as_bytes(), 24)).filter(|&t| t != NO_TEXT)
    }

    /// The records and the names, as slices.
    fn view(&self) -> View<'_> {
        let b = self.as_bytes();
        let (records, arena) = b[HEADER_LEN..].split_at(self.count * RECORD_LEN);
        View {
            records: bytemuck::cast_slice(records),
            arena,
        }
    }

    /// The real sizes these give `table`'s address-answering symbols,
    /// through the KASLR slide that `_text` in both tells (the table's
    /// derived from `_stext` where it lists none; no slide when either
    /// lacks it), to hand to [`SymbolTable::with_real_sizes`].
    pub fn sizes_for(&self, table: &SymbolTable) -> Vec<(SymbolId, u64)> {
        let table_text = table.text_anchor();
        let slide = match (table_text, self.text()) {
            (Some(t), Some(e)) => t.wrapping_sub(e),
            _ => 0,
        };
        // One walk of both in address order: the table's addresses less
        // the slide rise with its ids (a slide that wraps past zero starts
        // them over once: the cursor is then searched for again).
        let view = self.view();
        let mut out = Vec::new();
        let (mut cursor, mut last_link) = (0, None);
        for id in 0..table.answering_len() {
            let link = table.start_of(id).wrapping_sub(slide);
            if last_link.is_some_and(|last| link < last) {
                cursor = view.records.partition_point(|r| address(r) < link);
            }
            last_link = Some(link);
            while view.records.get(cursor).is_some_and(|r| address(r) < link) {
                cursor += 1;
            }
            for i in cursor..view.records.len() {
                if address(&view.records[i]) != link {
                    break;
                }
                if view.name(i) == table.name_of_id(id as u32).as_bytes() {
                    out.push((SymbolId(id as u32), u64::from(view.size(i))));
                }
            }
        }
        out
    }
}

/// The records (16 bytes each) and the name arena of [`SizedSymbols`].
struct View<'a> {
    records: &'a [[u8; RECORD_LEN]],
    arena: &'a [u8],
}

fn address(record: &[u8; RECORD_LEN]) -> u64 {
    u64_at(record, 0)
}

impl View<'_> {
    fn size(&self, i: usize) -> u32 {
        u32_at(&self.records[i], 8)
    }

    /// Record `i`'s name: from the end of the one before to its own end.
    fn name(&self, i: usize) -> &[u8] {
        let end = |i: usize| u32_at(&self.records[i], 12) as usize;
        let start = if i == 0 { 0 } else { end(i - 1) };
        &self.arena[start..end(i)]
    }
}

#[cfg(test)]
#[path = "sized_symbols_tests.rs"]
mod tests;
