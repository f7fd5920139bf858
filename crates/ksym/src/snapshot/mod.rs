//! Stage 4, snapshots. Takes a built table and its [`Identity`]; gives a
//! file, and back from it a mapped table ([`cache`]: the private cache of
//! them behind the live kernel).
//!
//! Snapshot files: a built [`SymbolTable`](crate::table::SymbolTable) saved
//! as one file that loads by `mmap` with no parsing. The table's arrays are stored as they are in
//! memory, each in an aligned section, and the same lookup code reads them in
//! place.
//!
//! ```text
//! offset 0   header (64 bytes)
//!            magic "KSYMSNAP", version u32, byte-order mark u32 (0x01020304),
//!            header length u32, section count u32, file length u64,
//!            meta checksum u64 (header, directory, META), data checksum u64
//!            (every other section), 16 reserved bytes
//! offset 64  directory: per section {id u32, element size u32, offset u64,
//!            length in bytes u64, reserved u64}
//! then       sections, each at a 64-byte aligned offset
//! ```
//!
//! Checksums are XXH3-64. The META section is UTF-8 `key\tvalue` lines: the
//! identity of the kernel the table describes (release, build-id, boot id,
//! module and BPF fingerprints, KASLR slide), where the symbols came from,
//! and the module extents.
//!
//! A snapshot is untrusted input: every offset, length, alignment and the
//! structure the lookups rely on (lengths that agree, block and run order,
//! ranges into other sections) are checked before use, so a truncated,
//! corrupted, foreign or wrong-version file is a clear error. What is not
//! checked without `verify` (the contents of the large arrays) can only make
//! an answer wrong, never a lookup crash: the lookups never index without a
//! check. `verify` also checks the data checksum.

mod bpf_lines;
pub mod cache;
mod meta;
mod open;
pub mod parts;
mod write;

use xxhash_rust::xxh3::Xxh3;

use crate::error::Error;

pub use open::{from_bytes, open, open_within, OpenOptions};
pub use write::{save, to_bytes, write, write_atomically};

const MAGIC: &[u8; 8] = b"KSYMSNAP";
/// Bumped whenever the layout of any section changes, or what the sections
/// mean (6: core symbols outside the addresses the kernel names moved to the
/// name-only group; 7: module section areas in META, and the bounds they
/// add; 8: BPF programs' functions and lines).
pub const FORMAT_VERSION: u32 = 8;
const BYTE_ORDER_MARK: u32 = 0x0102_0304;
const HEADER_LEN: usize = 64;
const DIR_ENTRY_LEN: usize = 32;
const ALIGN: usize = 64;

/// What a snapshot describes: enough to tell whether it still matches the
/// running kernel. Every field is optional: a snapshot of a saved file knows
/// less than one of the live kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `uname -r`.
    pub release: Option<String>,
    /// GNU build-id of the kernel, hex.
    pub build_id: Option<String>,
    /// Boot id: a snapshot of the live kernel is stale after a reboot.
    pub boot_id: Option<String>,
    /// Fingerprint of the set of loaded modules (names, sizes, addresses).
    pub modules: Option<u64>,
    /// Fingerprint of the set of loaded BPF programs.
    pub bpf: Option<u64>,
    /// `_text` against its link-time address.
    pub kaslr_slide: Option<i64>,
    /// Seconds since the epoch when the snapshot was written.
    pub created: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
enum SectionId {
    Meta = 1,
    Blocks,
    Fences,
    AddrLo,
    NameOff,
    Kind,
    Runs,
    Segments,
    SectionEnds,
    NameOnly,
    Names,
    Slots,
    SlotNames,
    Extras,
    NameIndex,
    /// Since version 2: real sizes from ELF symbol tables.
    RealSizes,
    /// Since version 5: the direct address index.
    BucketSpans,
    BucketFirst,
    /// Since version 8: BPF programs' functions and lines ([`bpf_lines`]).
    BpfLines,
}

const ALL_SECTIONS: [SectionId; 19] = [
    SectionId::Meta,
    SectionId::Blocks,
    SectionId::Fences,
    SectionId::AddrLo,
    SectionId::NameOff,
    SectionId::Kind,
    SectionId::Runs,
    SectionId::Segments,
    SectionId::SectionEnds,
    SectionId::NameOnly,
    SectionId::Names,
    SectionId::Slots,
    SectionId::SlotNames,
    SectionId::Extras,
    SectionId::NameIndex,
    SectionId::RealSizes,
    SectionId::BucketSpans,
    SectionId::BucketFirst,
    SectionId::BpfLines,
];

impl SectionId {
    fn elem_size(self) -> usize {
        use std::mem::size_of;
        match self {
            SectionId::Meta | SectionId::Kind | SectionId::Names | SectionId::BpfLines => 1,
            SectionId::Blocks => size_of::<crate::table::Block>(),
            SectionId::Fences | SectionId::SectionEnds => 8,
            SectionId::AddrLo
            | SectionId::NameOff
            | SectionId::SlotNames
            | SectionId::NameIndex
            | SectionId::BucketFirst => 4,
            SectionId::BucketSpans => size_of::<crate::table::BucketSpan>(),
            SectionId::Runs => size_of::<crate::table::ModuleRun>(),
            SectionId::Segments => size_of::<crate::table::Segment>(),
            SectionId::NameOnly => size_of::<crate::table::NameOnly>(),
            SectionId::Slots => size_of::<crate::table::SlotRec>(),
            SectionId::Extras => size_of::<crate::table::Extra>(),
            SectionId::RealSizes => size_of::<crate::table::SizeRec>(),
        }
    }
}

fn corrupt(source: &str, why: impl Into<String>) -> Error {
    Error::Snapshot {
        source_name: source.to_string(),
        reason: why.into(),
    }
}

/// Directory entries as (id, elem size, offset, len), unchecked.
fn sections_of(bytes: &[u8], header_len: usize) -> Vec<(u32, u32, u64, u64)> {
    bytes[HEADER_LEN..header_len]
        .chunks_exact(DIR_ENTRY_LEN)
        .map(|e| {
            (
                u32::from_ne_bytes(e[0..4].try_into().unwrap()),
                u32::from_ne_bytes(e[4..8].try_into().unwrap()),
                u64::from_ne_bytes(e[8..16].try_into().unwrap()),
                u64::from_ne_bytes(e[16..24].try_into().unwrap()),
            )
        })
        .collect()
}

/// (meta checksum, data checksum) of a snapshot whose directory is in range.
fn checksums(bytes: &[u8], header_len: usize, dir: &[(u32, u32, u64, u64)]) -> (u64, u64) {
    let mut meta = Xxh3::new();
    meta.update(&bytes[0..32]);
    meta.update(&bytes[HEADER_LEN..header_len]);
    let mut data = Xxh3::new();
    for &(id, _, off, len) in dir {
        let s = &bytes[off as usize..(off + len) as usize];
        if id == SectionId::Meta as u32 {
            meta.update(s);
        } else {
            data.update(s);
        }
    }
    (meta.digest(), data.digest())
}

#[cfg(test)]
mod tests;
