//! One ELF file with DWARF (a vmlinux, a `.ko`), opened: mapped when it is
//! plain, decompressed (bounded) when it is `.xz`/`.zst`/`.gz`; its section
//! headers, GNU build-id and kind read, nothing of its DWARF yet.

use std::path::Path;

use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SectionKind};

use crate::error::{Error, Result};
use crate::parse::notes::gnu_build_id_in;
use crate::read::file::io_err;
use crate::read::{map_within, source_name, Limit};

/// The bytes of a file or of one decompressed section: a plain file
/// mapped, anything else in memory.
pub(crate) use crate::read::FileBytes as Storage;

/// One section header of a [`DebugFile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSection {
    /// The ELF section index.
    pub index: usize,
    pub name: String,
    /// `sh_addr` (0 for every section of a `.ko`).
    pub addr: u64,
    pub size: u64,
    /// `sh_addralign`.
    pub align: u64,
    /// `sh_flags`.
    pub flags: u64,
    /// Where its bytes are in the (decompressed) file (`sh_offset`; 0 for
    /// `.bss`-like sections).
    pub file_offset: u64,
}

const SHF_WRITE: u64 = 0x1;
const SHF_ALLOC: u64 = 0x2;
const SHF_EXECINSTR: u64 = 0x4;

impl FileSection {
    pub fn is_alloc(&self) -> bool {
        self.flags & SHF_ALLOC != 0
    }

    pub fn is_exec(&self) -> bool {
        self.flags & SHF_EXECINSTR != 0
    }

    pub fn is_write(&self) -> bool {
        self.flags & SHF_WRITE != 0
    }
}

/// An ELF file with (or without) DWARF: a linked kernel (`ET_EXEC`,
/// `ET_DYN`) or a relocatable module (`ET_REL`).
pub struct DebugFile {
    pub(crate) source: String,
    pub(crate) storage: Storage,
    relocatable: bool,
    build_id: Option<Vec<u8>>,
    sections: Vec<FileSection>,
}

impl std::fmt::Debug for DebugFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugFile")
            .field("source", &self.source)
            .field("bytes", &self.storage.bytes().len())
            .field("relocatable", &self.relocatable)
            .field("build_id", &self.build_id_hex())
            .finish()
    }
}

impl DebugFile {
    /// Opens an ELF file: plain files are mapped, compressed ones (told by
    /// their magic bytes) decompressed within the crate's bound on binary
    /// files. Reads the section headers and the build-id only.
    pub fn open(path: &Path) -> Result<DebugFile> {
        let name = source_name(path);
        let limit = Limit::binary(None);
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        if !meta.is_file() {
            return Err(debug_error(&name, "not a regular file"));
        }
        let storage = map_within(path, limit)?;
        if let Storage::Map(map, _) = &storage {
            // A lookup reads a few KB here and there of hundreds of MB:
            // no read-ahead around each (a hint; refused is fine).
            let _ = map.advise(memmap2::Advice::Random);
        }
        DebugFile::from_storage(name, storage)
    }

    /// Reads an ELF file held in memory (`source` names it in errors).
    pub fn from_bytes(source: &str, bytes: Vec<u8>) -> Result<DebugFile> {
        DebugFile::from_storage(source.to_string(), Storage::Owned(bytes))
    }

    fn from_storage(source: String, storage: Storage) -> Result<DebugFile> {
        let (relocatable, build_id, sections) = {
            let elf = parse_object(&source, storage.bytes())?;
            let relocatable = match elf.kind() {
                object::ObjectKind::Relocatable => true,
                object::ObjectKind::Executable | object::ObjectKind::Dynamic => false,
                kind => {
                    return Err(debug_error(
                        &source,
                        &format!("an ELF file of kind {kind:?}, not a kernel or module"),
                    ))
                }
            };
            let mut build_id = None;
            let mut sections = Vec::new();
            for s in elf.sections() {
                let name = s.name().unwrap_or("").to_string();
                let SectionFlags::Elf { sh_flags } = s.flags() else {
                    continue;
                };
                if build_id.is_none() && s.kind() == SectionKind::Note {
                    if let Ok(data) = s.data() {
                        build_id = gnu_build_id_in(data, elf.is_little_endian());
                    }
                }
                sections.push(FileSection {
                    index: s.index().0,
                    name,
                    addr: s.address(),
                    size: s.size(),
                    align: s.align(),
                    flags: sh_flags,
                    file_offset: s.file_range().map_or(0, |r| r.0),
                });
            }
            (relocatable, build_id, sections)
        };
        // A module is patched in place by its relocations: it needs its own
        // copy (modules are tens of MiB; a vmlinux is never patched).
        let storage = match storage {
            Storage::Map(m, _) if relocatable => Storage::Owned(m.to_vec()),
            s => s,
        };
        Ok(DebugFile {
            source,
            storage,
            relocatable,
            build_id,
            sections,
        })
    }

    /// The name errors give this file (its path).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The GNU build-id, when the file has one.
    pub fn build_id(&self) -> Option<&[u8]> {
        self.build_id.as_deref()
    }

    /// The build-id in lower-case hex.
    pub fn build_id_hex(&self) -> Option<String> {
        self.build_id.as_deref().map(crate::parse::notes::hex)
    }

    /// A relocatable object (`ET_REL`, a `.ko`): its sections are placed
    /// one by one ([`super::Placement::Sections`]).
    pub fn is_relocatable(&self) -> bool {
        self.relocatable
    }

    /// The file's bytes (decompressed when the file was compressed).
    pub fn bytes(&self) -> &[u8] {
        self.storage.bytes()
    }

    /// The section headers in index order (index 0, the null section, left out).
    pub fn sections(&self) -> &[FileSection] {
        &self.sections
    }

    /// The executable sections (`.text`, `.text.unlikely`, `.init.text`, ...).
    pub fn code_sections(&self) -> impl Iterator<Item = &FileSection> {
        self.sections.iter().filter(|s| s.is_alloc() && s.is_exec())
    }

    /// Whether the file has DWARF line tables.
    pub fn has_lines(&self) -> bool {
        self.sections
            .iter()
            .any(|s| s.name == ".debug_line" && s.size > 0)
    }

    /// The bytes of its `.debug_*` sections (as stored), what a line table
    /// is measured against.
    pub fn dwarf_bytes(&self) -> u64 {
        self.sections
            .iter()
            .filter(|s| s.name.starts_with(".debug_"))
            .map(|s| s.size)
            .sum()
    }

    /// The value of the first defined symbol called `name` in `.symtab`
    /// (`_text` for a vmlinux's KASLR slide). Walks the symbol table once.
    pub fn symbol_value(&self, name: &str) -> Result<Option<u64>> {
        let elf = parse_object(&self.source, self.storage.bytes())?;
        Ok(elf
            .symbols()
            .find(|s| !s.is_undefined() && s.name() == Ok(name))
            .map(|s| s.address()))
    }
}

/// Parses the ELF headers of `bytes`.
pub(crate) fn parse_object<'a>(source: &str, bytes: &'a [u8]) -> Result<object::File<'a>> {
    let elf = object::File::parse(bytes)
        .map_err(|e| debug_error(source, &format!("not a readable ELF file: {e}")))?;
    if elf.format() != object::BinaryFormat::Elf {
        return Err(debug_error(source, "not an ELF file"));
    }
    Ok(elf)
}

/// The error of a debug file that cannot be used.
pub(crate) fn debug_error(source: &str, reason: &str) -> Error {
    Error::DebugInfo {
        source_name: source.to_string(),
        reason: reason.to_string(),
    }
}
