//! Snapshot files: a built [`SymbolTable`] saved as one file that loads by
//! `mmap` with no parsing. The table's arrays are stored as they are in
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

pub mod cache;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use xxhash_rust::xxh3::Xxh3;

use crate::error::{Error, LineError, LineErrorKind, Result};
use crate::parse::{FormatSeen, SkippedLines};
use crate::parse::{ModuleArea, ModuleInfo, ModuleMap};
use crate::table::column::{Backing, Column};
use crate::table::{NameIndex, SymbolTable, TableInfo, FENCE, NONE};

const MAGIC: &[u8; 8] = b"KSYMSNAP";
/// Bumped whenever the layout of any section changes.
pub const FORMAT_VERSION: u32 = 5;
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
}

const ALL_SECTIONS: [SectionId; 18] = [
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
];

impl SectionId {
    fn elem_size(self) -> usize {
        use std::mem::size_of;
        match self {
            SectionId::Meta | SectionId::Kind | SectionId::Names => 1,
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

// ---------------------------------------------------------------- writing

/// Writes `table` as a snapshot into `out`. The name index is built first
/// (if it was not yet) so that the snapshot serves name lookups at once.
pub fn write(table: &SymbolTable, identity: &Identity, out: &mut impl Write) -> Result<()> {
    let bytes = to_bytes(table, identity);
    out.write_all(&bytes).map_err(|source| Error::Io {
        path: PathBuf::from("<snapshot>"),
        source,
    })
}

/// The snapshot of `table` as bytes.
pub fn to_bytes(table: &SymbolTable, identity: &Identity) -> Vec<u8> {
    let index = table.name_index_built();
    let meta = meta_text(table, identity, index.tagged);
    let sections: Vec<(SectionId, &[u8])> = vec![
        (SectionId::Meta, meta.as_bytes()),
        (SectionId::Blocks, table.blocks.as_bytes()),
        (SectionId::Fences, table.fences.as_bytes()),
        (SectionId::BucketSpans, table.bucket_spans.as_bytes()),
        (SectionId::BucketFirst, table.bucket_first.as_bytes()),
        (SectionId::AddrLo, table.addr_lo.as_bytes()),
        (SectionId::NameOff, table.name_off.as_bytes()),
        (SectionId::Kind, table.kind.as_bytes()),
        (SectionId::Runs, table.runs.as_bytes()),
        (SectionId::Segments, table.segments.as_bytes()),
        (SectionId::SectionEnds, table.section_ends.as_bytes()),
        (SectionId::NameOnly, table.name_only.as_bytes()),
        (SectionId::Names, table.names.as_bytes()),
        (SectionId::Slots, table.slots.as_bytes()),
        (SectionId::SlotNames, table.slot_names.as_bytes()),
        (SectionId::Extras, table.extras.as_bytes()),
        (SectionId::RealSizes, table.real_sizes.as_bytes()),
        (SectionId::NameIndex, index.slots.as_bytes()),
    ];
    let header_len = HEADER_LEN + DIR_ENTRY_LEN * sections.len();
    let mut offset = align_up(header_len);
    let mut directory = Vec::with_capacity(DIR_ENTRY_LEN * sections.len());
    let mut file_len = offset;
    for (id, bytes) in &sections {
        directory.extend((*id as u32).to_ne_bytes());
        directory.extend((id.elem_size() as u32).to_ne_bytes());
        directory.extend((offset as u64).to_ne_bytes());
        directory.extend((bytes.len() as u64).to_ne_bytes());
        directory.extend(0u64.to_ne_bytes());
        file_len = offset + bytes.len();
        offset = align_up(file_len);
    }
    let mut out = vec![0u8; file_len];
    out[0..8].copy_from_slice(MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_ne_bytes());
    out[12..16].copy_from_slice(&BYTE_ORDER_MARK.to_ne_bytes());
    out[16..20].copy_from_slice(&(header_len as u32).to_ne_bytes());
    out[20..24].copy_from_slice(&(sections.len() as u32).to_ne_bytes());
    out[24..32].copy_from_slice(&(file_len as u64).to_ne_bytes());
    out[HEADER_LEN..header_len].copy_from_slice(&directory);
    let mut at = align_up(header_len);
    for (_, bytes) in &sections {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at = align_up(at + bytes.len());
    }
    let (meta_sum, data_sum) = checksums(&out, header_len, &sections_of(&out, header_len));
    out[32..40].copy_from_slice(&meta_sum.to_ne_bytes());
    out[40..48].copy_from_slice(&data_sum.to_ne_bytes());
    out
}

fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
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

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn kind_code(kind: LineErrorKind) -> String {
    match kind {
        LineErrorKind::BadAddress => "bad-address".into(),
        LineErrorKind::TooFewFields => "too-few-fields".into(),
        LineErrorKind::BadType => "bad-type".into(),
        LineErrorKind::NameTooLong(n) => format!("name-too-long:{n}"),
        LineErrorKind::NotUtf8 => "not-utf8".into(),
        LineErrorKind::UnexpectedField => "unexpected-field".into(),
        LineErrorKind::NulByte => "nul-byte".into(),
    }
}

fn kind_from_code(code: &str) -> Option<LineErrorKind> {
    Some(match code {
        "bad-address" => LineErrorKind::BadAddress,
        "too-few-fields" => LineErrorKind::TooFewFields,
        "bad-type" => LineErrorKind::BadType,
        "not-utf8" => LineErrorKind::NotUtf8,
        "unexpected-field" => LineErrorKind::UnexpectedField,
        "nul-byte" => LineErrorKind::NulByte,
        other => LineErrorKind::NameTooLong(other.strip_prefix("name-too-long:")?.parse().ok()?),
    })
}

fn meta_text(table: &SymbolTable, id: &Identity, tagged: bool) -> String {
    use std::fmt::Write as _;
    let mut m = String::new();
    let info = table.info();
    let _ = writeln!(m, "source\t{}", escape(&info.source));
    let f = info.format;
    let _ = writeln!(
        m,
        "format\t{}\t{}\t{}",
        f.module_tags, f.kallmodsyms_fields, f.path_names
    );
    let _ = writeln!(m, "skipped\t{}", info.skipped.count);
    for e in &info.skipped.first {
        let _ = writeln!(
            m,
            "skipped-line\t{}\t{}\t{}",
            e.line,
            kind_code(e.kind),
            escape(&e.text)
        );
    }
    let _ = writeln!(m, "name-index-tagged\t{}", u8::from(tagged));
    let _ = writeln!(m, "packed-names\t{}", u8::from(table.packed_names));
    let opt = |v: &Option<String>| v.as_deref().map(escape).unwrap_or_default();
    let _ = writeln!(m, "release\t{}", opt(&id.release));
    let _ = writeln!(m, "build-id\t{}", opt(&id.build_id));
    let _ = writeln!(m, "boot-id\t{}", opt(&id.boot_id));
    let num = |v: Option<u64>| v.map(|v| format!("{v:x}")).unwrap_or_default();
    let _ = writeln!(m, "modules-fingerprint\t{}", num(id.modules));
    let _ = writeln!(m, "bpf-fingerprint\t{}", num(id.bpf));
    let _ = writeln!(
        m,
        "kaslr-slide\t{}",
        id.kaslr_slide.map(|v| v.to_string()).unwrap_or_default()
    );
    let _ = writeln!(
        m,
        "created\t{}",
        id.created.map(|v| v.to_string()).unwrap_or_default()
    );
    for module in &table.module_map().modules {
        let _ = writeln!(
            m,
            "module\t{}\t{}\t{}\t{}",
            escape(&module.name),
            num(module.base),
            num(module.size),
            module.state.as_deref().map(escape).unwrap_or_default()
        );
        for a in &module.areas {
            let _ = writeln!(
                m,
                "area\t{}\t{}\t{:x}\t{:x}",
                escape(&module.name),
                escape(&a.kind),
                a.start,
                a.size
            );
        }
        if let Some(a) = &module.text_area {
            let _ = writeln!(
                m,
                "text-area\t{}\t{:x}\t{:x}",
                escape(&module.name),
                a.start,
                a.size
            );
        }
    }
    m
}

fn module_named<'m>(modules: &'m mut ModuleMap, name: &str) -> Option<&'m mut ModuleInfo> {
    modules.modules.iter_mut().find(|m| m.name == name)
}

struct Meta {
    info: TableInfo,
    identity: Identity,
    modules: ModuleMap,
    tagged: bool,
    packed_names: bool,
}

fn parse_meta(source: &str, text: &[u8]) -> Result<Meta> {
    let text = std::str::from_utf8(text).map_err(|_| corrupt(source, "META is not UTF-8"))?;
    let mut info = TableInfo {
        source: String::new(),
        format: FormatSeen::default(),
        skipped: SkippedLines::default(),
    };
    let mut identity = Identity::default();
    let mut modules = ModuleMap::default();
    let mut tagged = false;
    let mut packed_names = false;
    let hex = |v: &str| -> Result<Option<u64>> {
        if v.is_empty() {
            return Ok(None);
        }
        u64::from_str_radix(v, 16)
            .map(Some)
            .map_err(|_| corrupt(source, format!("META: bad number {v:?}")))
    };
    let text_opt = |v: &str| (!v.is_empty()).then(|| unescape(v));
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let bad = || corrupt(source, format!("META: bad line {line:?}"));
        match f.as_slice() {
            ["source", v] => info.source = unescape(v),
            ["format", a, b, c] => {
                info.format = FormatSeen {
                    module_tags: a.parse().map_err(|_| bad())?,
                    kallmodsyms_fields: b.parse().map_err(|_| bad())?,
                    path_names: c.parse().map_err(|_| bad())?,
                }
            }
            ["skipped", n] => info.skipped.count = n.parse().map_err(|_| bad())?,
            ["skipped-line", n, kind, text] => info.skipped.first.push(LineError {
                line: n.parse().map_err(|_| bad())?,
                kind: kind_from_code(kind).ok_or_else(bad)?,
                text: unescape(text),
            }),
            ["name-index-tagged", v] => tagged = *v == "1",
            ["packed-names", v] => packed_names = *v == "1",
            ["release", v] => identity.release = text_opt(v),
            ["build-id", v] => identity.build_id = text_opt(v),
            ["boot-id", v] => identity.boot_id = text_opt(v),
            ["modules-fingerprint", v] => identity.modules = hex(v)?,
            ["bpf-fingerprint", v] => identity.bpf = hex(v)?,
            ["kaslr-slide", v] => {
                identity.kaslr_slide = (!v.is_empty())
                    .then(|| v.parse())
                    .transpose()
                    .map_err(|_| bad())?
            }
            ["created", v] => {
                identity.created = (!v.is_empty())
                    .then(|| v.parse())
                    .transpose()
                    .map_err(|_| bad())?
            }
            ["module", name, base, size, state] => modules.modules.push(ModuleInfo {
                name: unescape(name),
                base: hex(base)?,
                size: hex(size)?,
                state: text_opt(state),
                areas: Vec::new(),
                text_area: None,
            }),
            ["area", name, kind, start, size] => {
                let area = ModuleArea {
                    kind: unescape(kind),
                    start: hex(start)?.ok_or_else(bad)?,
                    size: hex(size)?.ok_or_else(bad)?,
                };
                module_named(&mut modules, &unescape(name))
                    .ok_or_else(bad)?
                    .areas
                    .push(area);
            }
            ["text-area", name, start, size] => {
                let area = ModuleArea {
                    kind: "text".into(),
                    start: hex(start)?.ok_or_else(bad)?,
                    size: hex(size)?.ok_or_else(bad)?,
                };
                module_named(&mut modules, &unescape(name))
                    .ok_or_else(bad)?
                    .text_area = Some(area);
            }
            [""] => {}
            _ => return Err(bad()),
        }
    }
    Ok(Meta {
        info,
        identity,
        modules,
        tagged,
        packed_names,
    })
}

// ---------------------------------------------------------------- reading

/// How to open a snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Also check the data checksum (reads every byte of the file once).
    pub verify: bool,
}

/// Opens a snapshot file by mapping it.
pub fn open(path: &Path, opts: OpenOptions) -> Result<(SymbolTable, Identity)> {
    let source = path.display().to_string();
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: the mapping is read-only and private. The file could still be
    // changed by another process while mapped; ksym writes snapshots only by
    // rename (never in place), so its own files never change under a reader.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_backing(&source, Arc::new(Backing::Map(map)), opts)
}

/// Opens a snapshot held in memory (copied into an aligned buffer).
pub fn from_bytes(
    source: &str,
    bytes: &[u8],
    opts: OpenOptions,
) -> Result<(SymbolTable, Identity)> {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
    from_backing(
        source,
        Arc::new(Backing::Words(words.into_boxed_slice(), bytes.len())),
        opts,
    )
}

fn from_backing(
    source: &str,
    backing: Arc<Backing>,
    opts: OpenOptions,
) -> Result<(SymbolTable, Identity)> {
    let bytes = backing.bytes();
    if bytes.len() < HEADER_LEN {
        return Err(corrupt(
            source,
            format!("truncated: {} bytes, not even a header", bytes.len()),
        ));
    }
    if &bytes[0..8] != MAGIC {
        return Err(corrupt(source, "not a ksym snapshot (bad magic)"));
    }
    let u32_at = |o: usize| u32::from_ne_bytes(bytes[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_ne_bytes(bytes[o..o + 8].try_into().unwrap());
    let bom = u32_at(12);
    if bom != BYTE_ORDER_MARK {
        return Err(corrupt(
            source,
            if bom == BYTE_ORDER_MARK.swap_bytes() {
                "written on a machine of the other byte order".to_string()
            } else {
                format!("bad byte-order mark {bom:#x}")
            },
        ));
    }
    let version = u32_at(8);
    if version != FORMAT_VERSION {
        return Err(corrupt(
            source,
            format!(
                "format version {version}, this ksym reads version {FORMAT_VERSION}: save it again"
            ),
        ));
    }
    let header_len = u32_at(16) as usize;
    let count = u32_at(20) as usize;
    if count > 64 || header_len != HEADER_LEN + DIR_ENTRY_LEN * count {
        return Err(corrupt(source, "bad header length or section count"));
    }
    let file_len = u64_at(24);
    if file_len != bytes.len() as u64 {
        return Err(corrupt(
            source,
            format!(
                "truncated or extended: header says {file_len} bytes, file has {}",
                bytes.len()
            ),
        ));
    }
    if header_len > bytes.len() {
        return Err(corrupt(source, "truncated directory"));
    }
    let dir = sections_of(bytes, header_len);
    let mut ranges: [Option<std::ops::Range<usize>>; ALL_SECTIONS.len() + 1] = Default::default();
    for &(id, elem, off, len) in &dir {
        let Some(sid) = ALL_SECTIONS.iter().find(|s| **s as u32 == id) else {
            return Err(corrupt(source, format!("unknown section id {id}")));
        };
        let end = off.checked_add(len).filter(|&e| e <= file_len);
        if end.is_none() || (off as usize) < header_len {
            return Err(corrupt(
                source,
                format!("section {sid:?} lies outside the file"),
            ));
        }
        if !(off as usize).is_multiple_of(ALIGN)
            || elem as usize != sid.elem_size()
            || !len.is_multiple_of(u64::from(elem.max(1)))
        {
            return Err(corrupt(
                source,
                format!("section {sid:?} is misaligned or ragged"),
            ));
        }
        let slot = &mut ranges[id as usize];
        if slot.is_some() {
            return Err(corrupt(source, format!("section {sid:?} appears twice")));
        }
        *slot = Some(off as usize..(off + len) as usize);
    }
    let (meta_sum, data_sum) = if opts.verify {
        checksums(bytes, header_len, &dir)
    } else {
        let mut meta = Xxh3::new();
        meta.update(&bytes[0..32]);
        meta.update(&bytes[HEADER_LEN..header_len]);
        if let Some(r) = &ranges[SectionId::Meta as usize] {
            meta.update(&bytes[r.clone()]);
        }
        (meta.digest(), u64_at(40))
    };
    if meta_sum != u64_at(32) {
        return Err(corrupt(
            source,
            "header checksum mismatch: the file is damaged",
        ));
    }
    if data_sum != u64_at(40) {
        return Err(corrupt(
            source,
            "data checksum mismatch: the file is damaged",
        ));
    }
    let range = |id: SectionId| {
        ranges[id as usize]
            .clone()
            .ok_or_else(|| corrupt(source, format!("section {id:?} is missing")))
    };
    let meta = parse_meta(source, &bytes[range(SectionId::Meta)?])?;

    macro_rules! column {
        ($id:expr) => {
            Column::mapped(&backing, range($id)?)
                .ok_or_else(|| corrupt(source, format!("section {:?} is misaligned", $id)))?
        };
    }
    let index_slots: Column<u32> = column!(SectionId::NameIndex);
    let name_index = OnceLock::new();
    let table = SymbolTable {
        blocks: column!(SectionId::Blocks),
        fences: column!(SectionId::Fences),
        fences_lo: Box::default(),
        bucket_spans: column!(SectionId::BucketSpans),
        bucket_first: column!(SectionId::BucketFirst),
        addr_lo: column!(SectionId::AddrLo),
        name_off: column!(SectionId::NameOff),
        packed_names: meta.packed_names,
        names_ascii: OnceLock::new(),
        kind: column!(SectionId::Kind),
        runs: column!(SectionId::Runs),
        segments: column!(SectionId::Segments),
        section_ends: column!(SectionId::SectionEnds),
        name_only: column!(SectionId::NameOnly),
        names: column!(SectionId::Names),
        slots: column!(SectionId::Slots),
        slot_names: column!(SectionId::SlotNames),
        extras: column!(SectionId::Extras),
        real_sizes: column!(SectionId::RealSizes),
        modules: meta.modules,
        info: meta.info,
        name_index: OnceLock::new(),
    };
    check_structure(source, &table, &index_slots)?;
    if !index_slots.is_empty() {
        let _ = name_index.set(NameIndex {
            slots: index_slots,
            tagged: meta.tagged,
        });
    }
    let table = SymbolTable {
        name_index,
        fences_lo: crate::table::fences_lo(&table.blocks, &table.fences),
        ..table
    };
    Ok((table, meta.identity))
}

/// Checks what lookups rely on for their shape (not their answers).
fn check_structure(source: &str, t: &SymbolTable, index: &Column<u32>) -> Result<()> {
    let bad = |what: &str| Err(corrupt(source, format!("inconsistent snapshot: {what}")));
    let n = t.addr_lo.len();
    if t.name_off.len() != n || t.kind.len() != n {
        return bad("address, name and type arrays differ in length");
    }
    if n + t.name_only.len() >= NONE as usize {
        return bad("too many symbols");
    }
    if t.fences.len() != n.div_ceil(FENCE) {
        return bad("fence count");
    }
    // Lookups clamp what the buckets hold; each span must stay in one
    // block and give a shift that is a shift.
    let spans_ok = t.bucket_spans.len() <= 64
        && t.bucket_spans.iter().all(|span| {
            span.shift < 64
                && t.blocks.get(span.block as usize).is_some()
                && span.len > 0
                && span
                    .base
                    .checked_add(span.len - 1)
                    .is_some_and(|last| last >> 32 == span.base >> 32)
        });
    if !spans_ok {
        return bad("address buckets");
    }
    let blocks_ok = t.blocks.first().map_or(n == 0, |b| b.first == 0)
        && t.blocks
            .windows(2)
            .all(|w| w[0].first < w[1].first && w[0].hi < w[1].hi)
        && t.blocks.last().is_none_or(|b| (b.first as usize) < n);
    if !blocks_ok {
        return bad("address blocks");
    }
    if t.slots.is_empty() {
        return bad("no module slots");
    }
    let runs_ok = t.runs.first().map_or(n == 0, |r| r.first == 0)
        && t.runs.windows(2).all(|w| w[0].first < w[1].first)
        && t.runs.last().is_none_or(|r| (r.first as usize) < n)
        && t.runs.iter().all(|r| (r.slot as usize) < t.slots.len());
    if !runs_ok {
        return bad("module runs");
    }
    let slots_ok = t
        .slots
        .iter()
        .all(|s| (s.names_first as usize + usize::from(s.names_count)) <= t.slot_names.len());
    if !slots_ok {
        return bad("module slots");
    }
    if t.names.last().is_some_and(|&b| b != 0) {
        return bad("names do not end in NUL");
    }
    let sizes_ok = t.real_sizes.windows(2).all(|w| w[0].id < w[1].id)
        && t.real_sizes
            .last()
            .is_none_or(|r| (r.id as usize) < t.len());
    if !sizes_ok {
        return bad("real sizes");
    }
    if !index.is_empty() && index.len() <= t.len() {
        return bad("name index too small");
    }
    Ok(())
}

// ---------------------------------------------------------------- saving

/// Writes `table` to `path` safely: into a new 0600 file beside it (never
/// following a symlink), synced, then renamed over `path`. A `path` that is
/// a symlink is refused.
pub fn save(table: &SymbolTable, identity: &Identity, path: &Path) -> Result<()> {
    write_atomically(path, &to_bytes(table, identity))
}

/// Creates or replaces `path` with `bytes` atomically, mode 0600, refusing a
/// symlink at `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return Err(Error::UnsafePath {
                path: path.to_path_buf(),
                reason: "it is a symbolic link",
            });
        }
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path.file_name().ok_or_else(|| Error::UnsafePath {
        path: path.to_path_buf(),
        reason: "it names no file",
    })?;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{nonce:x}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    // create_new is O_CREAT|O_EXCL: it never follows a symlink, nor opens a
    // file someone else put there.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_bytes, LoadOptions};

    fn sample() -> SymbolTable {
        let text = "\
0000000000000000 A fixed_percpu_data
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81000010 t __pfx_foo
ffffffff81000020 t foo
ffffffff81000040 T _etext
ffffffffc0000000 t modfn\t[m]
ffffffffc0000100 t fs/ext4/x.c:pathfn\t[m]
";
        let mut opts = LoadOptions::default();
        let mut mods = ModuleMap::default();
        mods.add_text("t", b"m 8192 0 - Live 0xffffffffc0000000\n")
            .unwrap();
        // A text area from /sys/module/m/sections, kept in META.
        let section = |name: &str, addr: u64| ("m".to_string(), name.to_string(), addr);
        mods.set_text_areas(
            &[
                section(".text", 0xffffffffc0000000),
                section(".data", 0xffffffffc0002000),
            ],
            true,
        );
        assert!(mods.get("m").unwrap().text_area.is_some());
        opts.modules = Some(mods);
        parse_bytes("sample", text.as_bytes(), &opts).unwrap()
    }

    #[test]
    fn round_trip_answers_the_same() {
        let t = sample();
        let id = Identity {
            release: Some("6.12.0".into()),
            boot_id: Some("abc\tdef".into()),
            modules: Some(0x1234),
            kaslr_slide: Some(-4096),
            ..Identity::default()
        };
        let bytes = to_bytes(&t, &id);
        let (m, id2) = from_bytes("mem", &bytes, OpenOptions { verify: true }).unwrap();
        assert_eq!(id, id2);
        assert_eq!(m.len(), t.len());
        for addr in [
            0,
            0xffffffff81000000,
            0xffffffff81000025,
            0xffffffff81000040,
            0xffffffffc0000050,
            0xffffffffc0000150,
            u64::MAX,
        ] {
            assert_eq!(
                t.lookup(addr).map(|s| s.to_string()),
                m.lookup(addr).map(|s| s.to_string()),
                "{addr:#x}"
            );
        }
        assert_eq!(m.find("foo").count(), 1);
        assert_eq!(m.find("pathfn").next().unwrap().path, Some("fs/ext4/x.c"));
        assert_eq!(m.module_map(), t.module_map());
        assert_eq!(m.info().source, "sample");
        assert_eq!(
            m.heap_bytes(),
            4 * m.fences.len(),
            "a mapped table owns no arrays but the derived low fences"
        );
    }

    #[test]
    fn real_sizes_and_builtin_slots_round_trip() {
        let t = sample();
        let foo = t.find("foo").next().unwrap().id;
        let modfn = t.find("modfn").next().unwrap().id;
        let t = t
            .with_real_sizes(&[(foo, 0x8), (modfn, 0x20)])
            .with_module_ranges(&[crate::ModuleRange {
                start: 0xffffffff81000010,
                end: 0xffffffff81000040,
                modules: vec!["ext4".into()],
            }]);
        let bytes = to_bytes(&t, &Identity::default());
        assert_eq!(
            u32::from_ne_bytes(bytes[8..12].try_into().unwrap()),
            FORMAT_VERSION
        );
        let (m, _) = from_bytes("mem", &bytes, OpenOptions { verify: true }).unwrap();
        assert_eq!(m.real_size(foo), Some(0x8));
        assert_eq!(m.real_size(modfn), Some(0x20));
        for addr in [
            0xffffffff81000021,
            0xffffffff81000028,
            0xffffffffc0000010,
            0xffffffffc0000030,
        ] {
            assert_eq!(
                t.lookup(addr).map(|s| s.to_string()),
                m.lookup(addr).map(|s| s.to_string()),
                "{addr:#x}"
            );
        }
        assert_eq!(
            m.lookup(0xffffffff81000021).unwrap().to_string(),
            "foo+0x1/0x8 [ext4]"
        );
        assert!(
            m.lookup(0xffffffff81000028).is_none(),
            "past foo's real end"
        );
        assert!(
            m.lookup(0xffffffffc0000030).is_none(),
            "past modfn's real end"
        );
        assert_eq!(m.unique_name(foo), t.unique_name(foo));
        // A file of the previous format is refused with a clear message.
        let mut old = bytes.clone();
        old[8..12].copy_from_slice(&1u32.to_ne_bytes());
        let err = from_bytes("mem", &old, OpenOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("format version 1"), "{err}");
    }

    #[test]
    fn damage_is_a_clear_error() {
        let bytes = to_bytes(&sample(), &Identity::default());
        let err = |b: &[u8], verify| {
            from_bytes("mem", b, OpenOptions { verify })
                .unwrap_err()
                .to_string()
        };
        assert!(err(&bytes[..10], false).contains("truncated"));
        assert!(err(&bytes[..bytes.len() - 64], false).contains("truncated"));
        let mut b = bytes.clone();
        b[0] = b'X';
        assert!(err(&b, false).contains("magic"));
        let mut b = bytes.clone();
        b[8] = 99;
        assert!(err(&b, false).contains("version"));
        let mut b = bytes.clone();
        b[12..16].copy_from_slice(&BYTE_ORDER_MARK.swap_bytes().to_ne_bytes());
        assert!(err(&b, false).contains("byte order"));
        let mut b = bytes.clone();
        let last = b.len() - 1;
        b[last] ^= 0xff;
        assert!(err(&b, true).contains("checksum"));
    }
}
