//! The relocations of a relocatable object's (`.ko`'s) debug sections,
//! computed as patches: `.rela.debug_info` says which bytes of
//! `.debug_info` hold which section's address or which string's offset.
//! Only what a loaded module's DWARF needs on the machines ksym knows;
//! any other relocation type is an error naming the file, never a guess.

use object::{
    Architecture, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget,
    SectionIndex, SymbolSection,
};

use super::file::debug_error;
use crate::error::Result;

/// Bytes to overwrite in one section: `width` bytes at `offset` (from the
/// section's start), little- or big-endian as the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Patch {
    pub offset: u64,
    pub width: u8,
    pub value: u64,
}

/// How one relocation type writes its value.
enum Write {
    Skip,
    /// `S + A` in 8 bytes.
    Abs64,
    /// `S + A` in 4 bytes, which must hold it unsigned.
    Abs32,
    /// `S + A` in 4 bytes, which must hold it sign-extended.
    Abs32Signed,
}

fn write_of(arch: Architecture, r_type: u32) -> Option<Write> {
    use object::elf::*;
    Some(match (arch, r_type) {
        (Architecture::X86_64, R_X86_64_NONE) => Write::Skip,
        (Architecture::X86_64, R_X86_64_64) => Write::Abs64,
        (Architecture::X86_64, R_X86_64_32) => Write::Abs32,
        (Architecture::X86_64, R_X86_64_32S) => Write::Abs32Signed,
        (Architecture::Aarch64, R_AARCH64_NONE) => Write::Skip,
        (Architecture::Aarch64, R_AARCH64_ABS64) => Write::Abs64,
        (Architecture::Aarch64, R_AARCH64_ABS32) => Write::Abs32,
        _ => return None,
    })
}

/// The patches the relocations of `section` call for, within its `size`
/// bytes (decompressed). `base_of` gives the address a section of the file
/// is placed at (0 for debug sections, whose symbols are offsets into them).
pub(crate) fn section_patches(
    source: &str,
    elf: &object::File<'_>,
    section: &object::Section<'_, '_>,
    size: u64,
    base_of: &dyn Fn(SectionIndex) -> u64,
) -> Result<Vec<Patch>> {
    let name = section.name().unwrap_or("?");
    let arch = elf.architecture();
    let mut patches = Vec::new();
    for (offset, reloc) in section.relocations() {
        let bad = |what: String| debug_error(source, &format!("{name}: {what}"));
        let RelocationFlags::Elf { r_type } = reloc.flags() else {
            return Err(bad("a relocation that is not ELF".into()));
        };
        if reloc.has_implicit_addend() {
            return Err(bad(format!(
                "REL relocations (implicit addends) are not supported (type {r_type} at {offset:#x})"
            )));
        }
        let Some(write) = write_of(arch, r_type) else {
            return Err(bad(format!(
                "relocation type {r_type} for {arch:?} at {offset:#x} is not supported"
            )));
        };
        let symbol_value = match reloc.target() {
            RelocationTarget::Symbol(index) => {
                let sym = elf
                    .symbol_by_index(index)
                    .map_err(|e| bad(format!("relocation at {offset:#x}: {e}")))?;
                let base = match sym.section() {
                    SymbolSection::Section(i) => base_of(i),
                    _ => 0,
                };
                sym.address().wrapping_add(base)
            }
            RelocationTarget::Absolute => 0,
            _ => return Err(bad(format!("relocation at {offset:#x}: unknown target"))),
        };
        let value = symbol_value.wrapping_add(reloc.addend() as u64);
        let width = match write {
            Write::Skip => continue,
            Write::Abs64 => 8,
            Write::Abs32 if value <= u64::from(u32::MAX) => 4,
            Write::Abs32Signed if (value as i64) == i64::from(value as i32) => 4,
            Write::Abs32 | Write::Abs32Signed => {
                return Err(bad(format!(
                    "relocation at {offset:#x}: {value:#x} does not fit in 32 bits"
                )))
            }
        };
        if offset.checked_add(width).is_none_or(|end| end > size) {
            return Err(bad(format!(
                "relocation at {offset:#x} writes past the section's {size} bytes"
            )));
        }
        patches.push(Patch {
            offset,
            width: width as u8,
            value,
        });
    }
    Ok(patches)
}

/// Writes `patches` into `bytes` (a section's data, bounds checked when
/// the patches were made).
pub(crate) fn apply(bytes: &mut [u8], patches: &[Patch], little: bool) {
    for p in patches {
        let at = p.offset as usize;
        let width = usize::from(p.width);
        let Some(dest) = bytes.get_mut(at..at + width) else {
            continue;
        };
        if little {
            dest.copy_from_slice(&p.value.to_le_bytes()[..width]);
        } else {
            dest.copy_from_slice(&p.value.to_be_bytes()[8 - width..]);
        }
    }
}
