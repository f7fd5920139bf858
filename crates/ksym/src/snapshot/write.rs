//! Writing a snapshot: the table's arrays laid out in aligned sections
//! behind a header and directory, and saving that file atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::meta::meta_text;
use super::{
    checksums, sections_of, Identity, SectionId, ALIGN, BYTE_ORDER_MARK, DIR_ENTRY_LEN,
    FORMAT_VERSION, HEADER_LEN, MAGIC,
};
use crate::error::{Error, Result};
use crate::table::SymbolTable;

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
    let bpf_lines = super::bpf_lines::encode(table.bpf_lines.as_deref());
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
        (SectionId::BpfLines, &bpf_lines),
        // Last: the file ends where its data does (no padding after).
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
