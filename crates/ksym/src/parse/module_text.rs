//! A `.ko`'s code as the module loader lays it out in the module's text
//! area: which sections, in what order, at what offsets, and where the
//! last one ends. `%pS` sizes a module's last function to the end of that
//! area (page-aligned), and arm64 puts `.plt` and the ftrace trampoline,
//! which carry no symbols, after the `.ko`'s own code. A live kernel shows
//! all this in `/sys/module/M/sections`; off-line, with only
//! `/proc/modules` and the `.ko`, this is how it is known.
//!
//! The loader (`layout_sections`, kernel/module/main.c, the same before
//! and after 6.4) walks the section headers in file order and appends every
//! allocated code section that is not init code (`.init*`), each at its
//! `sh_addralign`. Before that, arm64's `module_frob_arch_sections` sizes
//! the empty `.plt` and `.text.ftrace_trampoline` sections the `.ko`
//! carries (see [`ModuleVeneers`]); that is the only architecture step.

use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHT_RELA};
use object::read::elf::{ElfFile64, FileHeader, Rela, SectionHeader, Sym};
use object::{Endianness, SymbolIndex};

use crate::parse::arch::{arch_of_elf_machine, ModuleVeneers};

/// A module's code sections as the loader lays them out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleText {
    /// In loader order, each at its offset from the text area's start.
    pub sections: Vec<LaidSection>,
    /// Where the last section ends; the area ends at the next page
    /// boundary (the page size is the running kernel's, not the file's).
    pub end: u64,
}

/// One code section placed in the text area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaidSection {
    pub name: String,
    pub offset: u64,
    pub size: u64,
}

/// The text layout of the module in `bytes` (a 64-bit ELF `.ko` of an
/// architecture [`crate::parse::arch`] knows), for kernel `release`
/// (major, minor) when known, else the newest rules; `Ok(None)` for any
/// other file. A damaged section table or relocation section is an error
/// naming the section.
pub(crate) fn module_text(
    bytes: &[u8],
    release: Option<(u32, u32)>,
) -> Result<Option<ModuleText>, String> {
    let Ok(file) = ElfFile64::<Endianness>::parse(bytes) else {
        return Ok(None);
    };
    let endian = file.endian();
    let header = file.elf_header();
    let Some(arch) = arch_of_elf_machine(header.e_machine(endian)) else {
        return Ok(None);
    };
    let sections = file.elf_section_table();
    let name_of =
        |i: usize, h: &<object::elf::FileHeader64<Endianness> as FileHeader>::SectionHeader| {
            sections
                .section_name(endian, h)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .map_err(|e| format!("section {i}: {e}"))
        };
    let mut names = Vec::with_capacity(sections.len());
    for (i, h) in sections.iter().enumerate() {
        names.push(name_of(i, h)?);
    }
    if !names.iter().any(|n| n == ".gnu.linkonce.this_module") {
        return Ok(None); // not a module
    }
    let veneer_sizes = match arch.module_veneers {
        Some(v) => Some((v, core_plt_entries(&file, &v, &names)?)),
        None => None,
    };
    let mut text = ModuleText::default();
    for (i, h) in sections.iter().enumerate().skip(1) {
        let name = &names[i];
        let (mut flags, mut size, mut align) = (
            h.sh_flags(endian),
            h.sh_size(endian),
            h.sh_addralign(endian),
        );
        if let Some((v, plts)) = veneer_sizes {
            // What module_frob_arch_sections makes of the empty sections
            // the .ko carries (one spare PLT entry beyond those counted).
            let sized = match name.as_str() {
                ".plt" => Some((plts + 1, v.plt_align)),
                ".text.ftrace_trampoline" => {
                    let n = v.ftrace_entries_for(release.unwrap_or((u32::MAX, 0)));
                    Some((n, 4)) // __alignof__(struct plt_entry)
                }
                _ => None,
            };
            if let Some((entries, a)) = sized {
                flags = u64::from(SHF_EXECINSTR | SHF_ALLOC);
                size = entries.saturating_mul(v.entry_size);
                align = a;
            }
        }
        let code = u64::from(SHF_EXECINSTR | SHF_ALLOC);
        if flags & code != code || name.starts_with(".init") {
            continue;
        }
        // The kernel's ALIGN(), with `sh_addralign ?: 1`.
        let mask = align.max(1) - 1;
        let offset = text
            .end
            .checked_add(mask)
            .map(|x| x & !mask)
            .and_then(|o| o.checked_add(size).map(|end| (o, end)));
        let Some((offset, end)) = offset else {
            return Err(format!(
                "section {i} ({name}): the text area overflows 64 bits"
            ));
        };
        text.sections.push(LaidSection {
            name: name.clone(),
            offset,
            size,
        });
        text.end = end;
    }
    Ok(Some(text))
}

/// How many `.plt` entries arm64's loader reserves for a module's core
/// code (`count_plts`): per relocation section of a code section outside
/// `.init*`, one per branch to a symbol of another section, those with a
/// zero addend counted once per (type, symbol).
fn core_plt_entries(
    file: &ElfFile64<'_, Endianness>,
    v: &ModuleVeneers,
    names: &[String],
) -> Result<u64, String> {
    let endian = file.endian();
    let data = file.data();
    let sections = file.elf_section_table();
    let symbols = file.elf_symbol_table();
    let mut count = 0u64;
    for (i, h) in sections.iter().enumerate() {
        if h.sh_type(endian) != SHT_RELA {
            continue;
        }
        let dst = h.sh_info(endian) as usize;
        let Ok(target) = sections.section(object::SectionIndex(dst)) else {
            return Err(format!(
                "section {i} ({}): relocates section {dst}, which is not there",
                names[i]
            ));
        };
        let exec = target.sh_flags(endian) & u64::from(SHF_EXECINSTR) != 0;
        if !exec || names[dst].starts_with(".init") {
            continue;
        }
        let relas: &[object::elf::Rela64<Endianness>] = match h.rela(endian, data) {
            Ok(Some((r, _))) => r,
            Ok(None) => continue,
            Err(e) => return Err(format!("section {i} ({}): {e}", names[i])),
        };
        let mut zero_addend: Vec<(u32, u32)> = Vec::new();
        for (k, r) in relas.iter().enumerate() {
            let kind = r.r_type(endian, false);
            if !v.branch_relocations.contains(&kind) {
                continue;
            }
            let sym = r.r_sym(endian, false);
            // The null symbol (index 0) is in no section.
            let shndx = if sym == 0 {
                0
            } else {
                symbols
                    .symbol(SymbolIndex(sym as usize))
                    .map_err(|e| format!("section {i} ({}), relocation {k}: {e}", names[i]))?
                    .st_shndx(endian)
            };
            if usize::from(shndx) == dst {
                continue; // within reach: the same section
            }
            if r.r_addend(endian) != 0 {
                count += 1;
            } else {
                zero_addend.push((kind, sym));
            }
        }
        zero_addend.sort_unstable();
        zero_addend.dedup();
        count += zero_addend.len() as u64;
    }
    Ok(count)
}

/// The (major, minor) release in a `.modinfo` `vermagic=` value
/// (`6.1.0-57-cloud-arm64 SMP mod_unload modversions aarch64`).
pub(crate) fn release_of_vermagic(vermagic: &str) -> Option<(u32, u32)> {
    let mut parts = vermagic.split([' ', '.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
