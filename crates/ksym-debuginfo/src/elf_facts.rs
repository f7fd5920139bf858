//! The two facts a candidate file must show before it is returned: its GNU
//! build-id and whether it carries DWARF. Plain files are mapped and only
//! their headers read; `.ko.xz`/`.zst`/`.gz` are decompressed through
//! ksym's bounded reader first.

use std::fs::File;
use std::path::Path;

use object::{Object, ObjectSection};

/// What a candidate file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFacts {
    /// The GNU build-id note, if the file has one.
    pub build_id: Option<Vec<u8>>,
    /// Whether it has a non-empty `.debug_info` (or `.zdebug_info`).
    pub has_dwarf: bool,
}

/// Reads the facts of `path`; the error says what is wrong with the file.
pub fn elf_facts(path: &Path) -> Result<ElfFacts, String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let compressed = ksym::read::Compression::of_file(&mut file).map_err(|e| e.to_string())?;
    if compressed.is_some() {
        let bytes = ksym::read::read_file(path).map_err(|e| e.to_string())?;
        return facts_of(&bytes);
    }
    // SAFETY: the map is read-only and dropped before this returns; a file
    // truncated meanwhile can fault, as for every reader of mapped files.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
    facts_of(&map)
}

/// The facts of an ELF file in memory.
pub fn facts_of(bytes: &[u8]) -> Result<ElfFacts, String> {
    let elf = object::File::parse(bytes).map_err(|e| format!("not an ELF file: {e}"))?;
    let build_id = elf
        .build_id()
        .map_err(|e| format!("unreadable build-id note: {e}"))?
        .map(<[u8]>::to_vec);
    let has_dwarf = [".debug_info", ".zdebug_info"].iter().any(|name| {
        elf.section_by_name(name)
            .is_some_and(|s| s.size() > 0 && s.kind() != object::SectionKind::UninitializedData)
    });
    Ok(ElfFacts {
        build_id,
        has_dwarf,
    })
}

/// Parses a build-id written as hex (`01d2640d...`).
pub fn parse_build_id(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim();
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

pub use ksym::parse::notes::hex;
