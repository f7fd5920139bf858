//! The ELF sections and notes of a `vmlinux`: where its bytes load, its
//! build-id and `.rodata`, and the refusal of modules and core dumps.

use super::image_err;
use crate::error::{Error, Result};
use crate::parse::notes::{gnu_build_id_in, hex};

/// What an ELF kernel tells about where its bytes load.
#[derive(Debug, Clone)]
pub(crate) struct ElfInfo {
    /// Allocated sections with file data: (file offset, size, address).
    pub(super) sections: Vec<(usize, usize, u64)>,
    /// Lowest and highest (end) address of allocated sections, ignoring
    /// those at address 0 (x86_64's zero-based per-cpu section).
    pub(super) span: Option<(u64, u64)>,
    pub(super) ptr_size: usize,
    pub(super) big_endian: bool,
    pub(super) build_id: Option<String>,
    /// The file range of `.rodata`, where `scripts/kallsyms.c` puts the
    /// tables: searched first.
    pub(super) rodata: Option<(usize, usize)>,
}

impl ElfInfo {
    pub(super) fn address_of(&self, offset: usize) -> Option<u64> {
        self.sections
            .iter()
            .find(|&&(off, size, _)| offset >= off && offset - off < size)
            .map(|&(off, _, addr)| addr.wrapping_add((offset - off) as u64))
    }
}

pub(super) fn elf_info(source_name: &str, data: &[u8]) -> Result<Option<ElfInfo>> {
    use object::{Object, ObjectKind, ObjectSection, SectionFlags, SectionKind};
    if !data.starts_with(b"\x7fELF") {
        return Ok(None);
    }
    let file = object::File::parse(data)
        .map_err(|e| image_err(source_name, format!("a damaged or truncated ELF file: {e}")))?;
    match file.kind() {
        ObjectKind::Executable | ObjectKind::Dynamic => {}
        ObjectKind::Relocatable => {
            return Err(Error::NotKernelImage {
                source_name: source_name.to_string(),
                found: "an ELF relocatable object (a kernel module `.ko` or an `.o`): its \
                        symbols are in its own symbol table, not in kallsyms tables; pass a \
                        vmlinuz or vmlinux"
                    .to_string(),
            })
        }
        ObjectKind::Core => {
            return Err(Error::NotKernelImage {
                source_name: source_name.to_string(),
                found: "an ELF core dump, not a kernel image".to_string(),
            })
        }
        _ => {}
    }
    let mut sections = Vec::new();
    let mut span: Option<(u64, u64)> = None;
    let mut build_id = None;
    let mut rodata = None;
    for s in file.sections() {
        let alloc = match s.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_ALLOC) != 0,
            _ => true,
        };
        if s.kind() == SectionKind::Note && build_id.is_none() {
            if let Ok(notes) = s.data() {
                build_id = gnu_build_id_in(notes, file.is_little_endian()).map(|id| hex(&id));
            }
        }
        if !alloc {
            continue;
        }
        let addr = s.address();
        if addr != 0 {
            let end = addr.saturating_add(s.size());
            span = Some(match span {
                None => (addr, end),
                Some((lo, hi)) => (lo.min(addr), hi.max(end)),
            });
        }
        if let Some((off, size)) = s.file_range() {
            if s.name() == Ok(".rodata") {
                rodata = Some((off as usize, (off + size) as usize));
            }
            if s.kind() != SectionKind::UninitializedData {
                sections.push((off as usize, size as usize, addr));
            }
        }
    }
    Ok(Some(ElfInfo {
        sections,
        span,
        ptr_size: if file.is_64() { 8 } else { 4 },
        big_endian: !file.is_little_endian(),
        build_id,
        rodata,
    }))
}
