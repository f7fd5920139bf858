//! Opening a snapshot: mapping the file (or copying bytes into an aligned
//! buffer), checking the header, directory, checksums and the structure the
//! lookups rely on, and building a table over the mapped sections.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use xxhash_rust::xxh3::Xxh3;

use super::meta::parse_meta;
use super::{
    checksums, corrupt, sections_of, Identity, SectionId, ALIGN, ALL_SECTIONS, BYTE_ORDER_MARK,
    DIR_ENTRY_LEN, FORMAT_VERSION, HEADER_LEN, MAGIC,
};
use crate::error::{Error, Result};
use crate::read::{read_raw_within, source_name, Limit, STDIN};
use crate::table::column::{Backing, Column};
use crate::table::{NameIndex, SymbolTable, FENCE, NONE};

/// How to open a snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Also check the data checksum (reads every byte of the file once).
    pub verify: bool,
}

/// Opens a snapshot file by mapping it (standard input for `-`, or a pipe,
/// is read into memory), held to the default bound of a binary file.
pub fn open(path: &Path, opts: OpenOptions) -> Result<(SymbolTable, Identity)> {
    open_within(path, opts, Limit::binary(None))
}

/// [`open`] held to `limit` (`Limit::binary(opts.max_input_bytes)`): a
/// larger file is refused before it is mapped.
pub fn open_within(
    path: &Path,
    opts: OpenOptions,
    limit: Limit,
) -> Result<(SymbolTable, Identity)> {
    let source = source_name(path);
    let file = if path == Path::new(STDIN) {
        None
    } else {
        Some(File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?)
    };
    let meta = file.as_ref().map(|f| f.metadata()).transpose();
    let meta = meta.map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (Some(file), Some(meta)) = (file, meta.filter(|m| m.is_file())) else {
        // Not a file that can be mapped: read it, bounded.
        let bytes = read_raw_within(path, limit)?;
        return from_bytes(&source, &bytes, opts);
    };
    if meta.len() > limit.max_bytes {
        return Err(limit.exceeded(&source, None));
    }
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
    let bpf_lines = super::bpf_lines::decode(&bytes[range(SectionId::BpfLines)?])
        .map_err(|e| corrupt(source, format!("BPF lines: {e}")))?;
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
        serial: crate::table::next_serial(),
        c_strings: OnceLock::new(),
        section_spans: OnceLock::new(),
        bpf_lines: bpf_lines.map(Arc::new),
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
