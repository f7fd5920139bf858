//! ELF symbol tables: a `vmlinux` with `.symtab`, and module `.ko` files
//! (plain or compressed with xz, zstd or gzip), for real symbol sizes.
//!
//! kallsyms gives no sizes, so the table derives them (up to the next
//! symbol, bounded by sections and module areas), and an address in the
//! padding after a function is named as part of it. An ELF symbol table has
//! the real `st_size`: attached to the table
//! ([`SymbolTable::with_real_sizes`]), it wins over the derived size, and an
//! address past a known end is no longer attributed to the symbol.
//!
//! # Matching a module's `.ko` to its loaded symbols
//!
//! The module loader copies each allocated section into one of the
//! module's memory areas (text, rodata, ro_after_init, data), so a symbol's
//! address is `section base + st_value`, where the section base depends on
//! the loader's layout. Rather than reproduce that layout, [`match_module`]
//! learns each section's base from the symbols themselves: every pairing of
//! an ELF symbol with a loaded symbol of the same name votes for
//! `loaded address - st_value` as its section's base, and the base with the
//! most votes wins. Names that repeat only add scattered wrong votes, so
//! the answer does not depend on symbol order, on duplicates, or on the
//! loader version; a symbol then matches only at exactly `base + st_value`.

use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SectionKind, SymbolSection};
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::source::decompress;
use crate::table::{SymbolId, SymbolTable, TableBuilder, TableInfo};

const SHF_WRITE: u64 = 0x1;
const SHF_ALLOC: u64 = 0x2;
const SHF_EXECINSTR: u64 = 0x4;

/// One section of an ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfSection {
    pub name: String,
    /// `sh_addr` (0 in a relocatable `.ko`).
    pub addr: u64,
    pub size: u64,
    /// `sh_addralign`.
    pub align: u64,
    /// `sh_flags`.
    pub flags: u64,
    /// `SHT_NOBITS` (`.bss`).
    pub nobits: bool,
}

impl ElfSection {
    pub fn is_alloc(&self) -> bool {
        self.flags & SHF_ALLOC != 0
    }

    pub fn is_exec(&self) -> bool {
        self.flags & SHF_EXECINSTR != 0
    }

    /// Sections whose symbols a loaded module keeps in kallsyms: allocated,
    /// not init code or data (freed after init), and not `.modinfo` or
    /// `__versions` (which the loader does not allocate).
    pub fn kept_by_loaded_module(&self) -> bool {
        self.is_alloc()
            && !self.name.starts_with(".init")
            && !matches!(self.name.as_str(), ".modinfo" | "__versions")
    }
}

/// One defined symbol of an ELF symbol table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfSymbol {
    pub name: String,
    /// `st_value`: an address in a vmlinux, an offset into its section in a `.ko`.
    pub value: u64,
    /// `st_size` (0 when the symbol has none, as many assembly labels).
    pub size: u64,
    /// The section index, `None` for absolute symbols.
    pub section: Option<usize>,
    /// The `nm`-style type letter (`T`, `t`, `D`, `r`, `b`, `W`, `A`, ...).
    pub kind: char,
    /// `STT_FUNC`.
    pub function: bool,
}

/// The symbol table of one ELF file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfSymbols {
    /// Where it came from, for messages.
    pub source: String,
    /// A relocatable object (a `.ko`), rather than a linked vmlinux.
    pub relocatable: bool,
    /// The module's name from `.modinfo` (`name=`), or from the file name.
    pub module_name: Option<String>,
    /// The GNU build-id, when the file has one.
    pub build_id: Option<Vec<u8>>,
    /// Sections by ELF index (index 0 is the null section).
    pub sections: Vec<ElfSection>,
    /// Defined, named symbols (no section or file symbols), in symbol-table order.
    pub symbols: Vec<ElfSymbol>,
}

impl ElfSymbols {
    pub fn section(&self, index: usize) -> Option<&ElfSection> {
        self.sections.get(index)
    }
}

/// Reads an ELF file, plain or compressed (`.ko.xz`, `.ko.zst`, `.ko.gz`:
/// told apart by magic bytes).
pub fn read_elf(path: &Path) -> Result<ElfSymbols> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = decompress(&name, bytes)?;
    let mut elf = parse_elf(&name, &bytes)?;
    if elf.module_name.is_none() && elf.relocatable {
        elf.module_name = Some(module_name_from_path(path));
    }
    Ok(elf)
}

/// The module name a `.ko` path implies: the file name without `.ko` and
/// compression suffixes, with `-` as `_` (as the kernel names modules).
pub fn module_name_from_path(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = file.split(".ko").next().unwrap_or(&file);
    base.replace('-', "_")
}

/// Reads an ELF file already in memory (not compressed).
pub fn parse_elf(source: &str, bytes: &[u8]) -> Result<ElfSymbols> {
    let bad = |reason: String| Error::Elf {
        source_name: source.to_string(),
        reason,
    };
    let file = object::File::parse(bytes).map_err(|e| bad(e.to_string()))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(bad(format!("a {:?} file, not ELF", file.format())));
    }
    let relocatable = file.kind() == object::ObjectKind::Relocatable;
    let mut sections: Vec<ElfSection> = Vec::new();
    for s in file.sections() {
        let i = s.index().0;
        if sections.len() <= i {
            sections.resize(
                i + 1,
                ElfSection {
                    name: String::new(),
                    addr: 0,
                    size: 0,
                    align: 0,
                    flags: 0,
                    nobits: false,
                },
            );
        }
        let flags = match s.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags,
            _ => 0,
        };
        sections[i] = ElfSection {
            name: s.name().unwrap_or("").to_string(),
            addr: s.address(),
            size: s.size(),
            align: s.align(),
            flags,
            nobits: s.kind() == SectionKind::UninitializedData
                || s.kind() == SectionKind::UninitializedTls,
        };
    }
    let module_name = file
        .section_by_name(".modinfo")
        .and_then(|s| s.data().ok())
        .and_then(|data| {
            data.split(|&b| b == 0)
                .find_map(|kv| kv.strip_prefix(b"name="))
                .and_then(|n| std::str::from_utf8(n).ok())
                .filter(|n| !n.is_empty())
                .map(str::to_string)
        });
    let mut symbols = Vec::new();
    for sym in file.symbols() {
        if matches!(
            sym.kind(),
            object::SymbolKind::Section | object::SymbolKind::File
        ) {
            continue;
        }
        let section = match sym.section() {
            SymbolSection::Section(i) => Some(i.0),
            SymbolSection::Absolute => None,
            _ => continue, // undefined, common
        };
        let Ok(name) = sym.name() else { continue };
        if name.is_empty() {
            continue;
        }
        let sec = section.and_then(|i| sections.get(i));
        let mut kind = match sec {
            None => 'a',
            Some(s) if !relocatable && s.name == ".data..percpu" => 'a',
            Some(s) if s.is_exec() => 't',
            Some(s) if !s.is_alloc() => 'n',
            Some(s) if s.flags & SHF_WRITE != 0 && s.nobits => 'b',
            Some(s) if s.flags & SHF_WRITE != 0 => 'd',
            Some(_) => 'r',
        };
        if sym.is_weak() && kind != 'a' {
            kind = if sym.kind() == object::SymbolKind::Data {
                'V'
            } else {
                'W'
            };
        } else if sym.is_global() {
            kind = kind.to_ascii_uppercase();
        }
        symbols.push(ElfSymbol {
            name: name.to_string(),
            value: sym.address(),
            size: sym.size(),
            section,
            kind,
            function: sym.kind() == object::SymbolKind::Text,
        });
    }
    Ok(ElfSymbols {
        source: source.to_string(),
        relocatable,
        module_name,
        build_id: file.build_id().ok().flatten().map(<[u8]>::to_vec),
        sections,
        symbols,
    })
}

/// How a module's `.ko` matched its loaded symbols.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleMatch {
    pub module: String,
    /// Real sizes for the table's symbols of this module.
    pub sizes: Vec<(SymbolId, u64)>,
    /// ELF symbols in sections a loaded module keeps.
    pub considered: usize,
    /// Of those, how many were found at `section base + st_value`.
    pub matched: usize,
    /// ELF symbols not found where their section's base puts them (or whose
    /// section's base could not be learned), by name.
    pub unmatched: Vec<String>,
    /// The learned load address of each section, by ELF index.
    pub section_bases: Vec<(usize, u64)>,
}

/// Votes per name pair beyond which a name is too common to vote (it would
/// only add noise and work).
const MAX_PAIRS_PER_NAME: usize = 16;

/// Matches a module's ELF symbols to the table's symbols of `module` (see
/// the module doc): section bases by vote, then each ELF symbol at exactly
/// `base + st_value` under its own name.
pub fn match_module(table: &SymbolTable, module: &str, elf: &ElfSymbols) -> ModuleMatch {
    let mut loaded: FxHashMap<&str, Vec<(SymbolId, u64)>> = FxHashMap::default();
    // Name-only symbols (`.LC` string labels) vote and match too.
    for id in table.module_symbol_ids(module) {
        if let Some(s) = table.symbol(id) {
            loaded.entry(s.name).or_default().push((id, s.start));
        }
    }
    let kept: Vec<&ElfSymbol> = elf
        .symbols
        .iter()
        .filter(|s| {
            s.section
                .and_then(|i| elf.section(i))
                .is_some_and(ElfSection::kept_by_loaded_module)
        })
        .collect();
    let mut elf_count: FxHashMap<&str, usize> = FxHashMap::default();
    for s in &kept {
        *elf_count.entry(s.name.as_str()).or_default() += 1;
    }
    let mut votes: FxHashMap<(usize, u64), u32> = FxHashMap::default();
    for s in &kept {
        let Some(there) = loaded.get(s.name.as_str()) else {
            continue;
        };
        if elf_count[s.name.as_str()] * there.len() > MAX_PAIRS_PER_NAME {
            continue;
        }
        let sec = s.section.expect("kept symbols have sections");
        for &(_, addr) in there {
            *votes.entry((sec, addr.wrapping_sub(s.value))).or_default() += 1;
        }
    }
    // Per section, the base with the most votes; a tie is no answer.
    let mut best: FxHashMap<usize, (u64, u32, bool)> = FxHashMap::default();
    for (&(sec, base), &n) in &votes {
        let e = best.entry(sec).or_insert((base, 0, false));
        if n > e.1 {
            *e = (base, n, false);
        } else if n == e.1 && base != e.0 {
            e.2 = true;
        }
    }
    let mut section_bases: Vec<(usize, u64)> = best
        .into_iter()
        .filter(|(_, (_, _, tie))| !tie)
        .map(|(sec, (base, _, _))| (sec, base))
        .collect();
    section_bases.sort_unstable();
    let base_of = |sec: usize| {
        section_bases
            .binary_search_by_key(&sec, |&(s, _)| s)
            .ok()
            .map(|i| section_bases[i].1)
    };
    let mut out = ModuleMatch {
        module: module.to_string(),
        considered: kept.len(),
        ..ModuleMatch::default()
    };
    for s in &kept {
        let sec = s.section.expect("kept symbols have sections");
        let found = base_of(sec).and_then(|base| {
            let addr = base.wrapping_add(s.value);
            loaded
                .get(s.name.as_str())?
                .iter()
                .find(|&&(_, a)| a == addr)
                .map(|&(id, _)| id)
        });
        match found {
            Some(id) => {
                out.matched += 1;
                if s.size > 0 {
                    out.sizes.push((id, s.size));
                }
            }
            None => out.unmatched.push(s.name.clone()),
        }
    }
    out.section_bases = section_bases;
    out
}

/// Real sizes for the table's symbols of `module` from its `.ko`.
pub fn module_sizes(table: &SymbolTable, module: &str, elf: &ElfSymbols) -> Vec<(SymbolId, u64)> {
    match_module(table, module, elf).sizes
}

/// Attaches the real sizes of every `.ko` given (each matched to the
/// module its `.modinfo` names) and reports how each matched.
pub fn apply_modules(table: SymbolTable, kos: &[ElfSymbols]) -> (SymbolTable, Vec<ModuleMatch>) {
    let mut reports = Vec::with_capacity(kos.len());
    let mut sizes = Vec::new();
    for ko in kos {
        let module = ko
            .module_name
            .clone()
            .unwrap_or_else(|| module_name_from_path(Path::new(&ko.source)));
        let m = match_module(&table, &module, ko);
        sizes.extend_from_slice(&m.sizes);
        reports.push(m);
    }
    (table.with_real_sizes(&sizes), reports)
}

/// Real sizes for the table's core symbols from a vmlinux symbol table,
/// matched by name at the link-time address shifted by the KASLR slide
/// (the table's `_text` against the vmlinux's).
pub fn vmlinux_sizes(table: &SymbolTable, elf: &ElfSymbols) -> Vec<(SymbolId, u64)> {
    let table_text = table.find_in(None, "_text").next().map(|s| s.start);
    let elf_text = elf
        .symbols
        .iter()
        .find(|s| s.name == "_text")
        .map(|s| s.value);
    let slide = match (table_text, elf_text) {
        (Some(t), Some(e)) => t.wrapping_sub(e),
        _ => 0,
    };
    let mut out = Vec::new();
    for s in &elf.symbols {
        if s.size == 0 || matches!(s.kind, 'a' | 'A') {
            continue;
        }
        let addr = s.value.wrapping_add(slide);
        for t in table.aliases(addr) {
            if t.name == s.name {
                out.push((t.id, s.size));
            }
        }
    }
    out
}

/// A vmlinux's `.symtab` as a table, at link-time addresses, with real sizes.
pub fn vmlinux_table(elf: &ElfSymbols) -> Result<SymbolTable> {
    if elf.symbols.is_empty() {
        return Err(Error::Elf {
            source_name: elf.source.clone(),
            reason: "no symbol table (a stripped vmlinux?)".to_string(),
        });
    }
    let mut b = TableBuilder::new();
    b.reserve(elf.symbols.len(), elf.symbols.len() * 24);
    let mut by_addr: Vec<&ElfSymbol> = elf.symbols.iter().collect();
    // The kernel's kallsyms lists the core sorted by address (`nm -n`).
    by_addr.sort_by_key(|s| s.value);
    for s in by_addr {
        if s.kind == 'n' || s.kind == 'N' {
            continue; // not allocated: debugging sections
        }
        b.add(s.value, s.kind, &s.name, None);
    }
    let table = b.build(TableInfo {
        source: elf.source.clone(),
        ..TableInfo::default()
    })?;
    let sizes = vmlinux_sizes(&table, elf);
    Ok(table.with_real_sizes(&sizes))
}

/// Reads a vmlinux (plain or compressed) as a table at link-time addresses.
pub fn load_vmlinux(path: &Path) -> Result<SymbolTable> {
    vmlinux_table(&read_elf(path)?)
}

/// The default `modules.dep` directory of a release: `/lib/modules/R`.
pub fn modules_dir(release: &str) -> PathBuf {
    Path::new("/lib/modules").join(release)
}

/// Reads `DIR/modules.dep` and returns the `.ko` path of each of `modules`
/// that it lists (module names compare with `-` as `_`).
pub fn modules_dep_paths<'m>(
    dir: &Path,
    modules: impl IntoIterator<Item = &'m str>,
) -> Result<Vec<(String, PathBuf)>> {
    let dep = dir.join("modules.dep");
    let text = std::fs::read_to_string(&dep).map_err(|source| Error::Io {
        path: dep.clone(),
        source,
    })?;
    let mut by_name: FxHashMap<String, &str> = FxHashMap::default();
    for line in text.lines() {
        let Some((ko, _deps)) = line.split_once(':') else {
            continue;
        };
        let ko = ko.trim();
        if !ko.is_empty() {
            by_name
                .entry(module_name_from_path(Path::new(ko)))
                .or_insert(ko);
        }
    }
    Ok(modules
        .into_iter()
        .filter_map(|m| {
            let rel = by_name.get(&m.replace('-', "_"))?;
            Some((m.to_string(), dir.join(rel)))
        })
        .collect())
}

/// The `.ko` files of the table's loadable modules found through
/// `DIR/modules.dep`, read and applied. Files that cannot be read are
/// skipped (and named in the returned list with the error).
pub fn apply_modules_dep(
    table: SymbolTable,
    dir: &Path,
) -> Result<(SymbolTable, Vec<ModuleMatch>, Vec<String>)> {
    let loadable = table.loadable_module_names();
    let paths = modules_dep_paths(dir, loadable.iter().map(String::as_str))?;
    let mut kos = Vec::new();
    let mut errors = Vec::new();
    for (module, path) in paths {
        match read_elf(&path) {
            Ok(mut elf) => {
                elf.module_name = Some(module);
                kos.push(elf);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let (table, reports) = apply_modules(table, &kos);
    Ok((table, reports, errors))
}

impl SymbolTable {
    /// Names of the loadable modules (kallsyms' `\t[module]`) with symbols
    /// here, pseudo-modules (`bpf`, `__builtin__*`) left out.
    pub fn loadable_module_names(&self) -> Vec<String> {
        let mut out: Vec<String> = (1..self.slots.len() as u32)
            .filter(|&s| self.slots[s as usize].loadable != 0)
            .filter_map(|s| self.slot_names_of(s).next())
            .filter(|n| *n != "bpf" && !n.starts_with("__builtin__"))
            .map(str::to_string)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_from_paths() {
        for (p, n) in [
            ("kernel/fs/ext4/ext4.ko.xz", "ext4"),
            ("/x/virtio-net.ko", "virtio_net"),
            ("nvme.ko.zst", "nvme"),
            ("a/b/snd-hda-intel.ko.gz", "snd_hda_intel"),
        ] {
            assert_eq!(module_name_from_path(Path::new(p)), n);
        }
    }

    /// A minimal x86_64 `ET_EXEC` vmlinux: `.text` at the default link
    /// address, a per-cpu section at 0, a symbol table.
    fn tiny_vmlinux() -> Vec<u8> {
        const TEXT: u64 = 0xffff_ffff_8100_0000;
        let shstr = b"\0.text\0.data..percpu\0.symtab\0.strtab\0.shstrtab\0";
        let sh_name = |n: &str| {
            let pat = format!("\0{n}\0");
            shstr
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .unwrap() as u32
                + 1
        };
        // (name, info (bind << 4 | type), shndx, value, size); locals first.
        let syms: [(&str, u8, u16, u64, u64); 8] = [
            ("", 0, 0, 0, 0),
            ("local_fn", 0x02, 1, TEXT + 0x40, 0x20),
            ("pad_label", 0x00, 1, TEXT + 0x80, 0),
            ("_text", 0x10, 1, TEXT, 0),
            ("startup_64", 0x12, 1, TEXT, 0x30),
            ("weak_fn", 0x22, 1, TEXT + 0xc0, 0x10),
            ("_etext", 0x10, 1, TEXT + 0x100, 0),
            ("fixed_percpu_data", 0x11, 2, 0, 0x28),
        ];
        let mut strtab = vec![0u8];
        let mut symtab = Vec::new();
        for (name, info, shndx, value, size) in syms {
            let off = if name.is_empty() {
                0
            } else {
                strtab.len() as u32
            };
            if !name.is_empty() {
                strtab.extend_from_slice(name.as_bytes());
                strtab.push(0);
            }
            symtab.extend(off.to_le_bytes());
            symtab.push(info);
            symtab.push(0);
            symtab.extend(shndx.to_le_bytes());
            symtab.extend(value.to_le_bytes());
            symtab.extend(size.to_le_bytes());
        }
        let mut out = vec![0u8; 64];
        let place = |out: &mut Vec<u8>, data: &[u8]| {
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
            let at = out.len() as u64;
            out.extend_from_slice(data);
            at
        };
        let text_off = place(&mut out, &[0xcc; 0x100]);
        let pcpu_off = place(&mut out, &[0; 0x40]);
        let sym_off = place(&mut out, &symtab);
        let str_off = place(&mut out, &strtab);
        let shstr_off = place(&mut out, shstr);
        let sh_off = place(&mut out, &[]);
        // (name, type, flags, addr, offset, size, link, info, align, entsize)
        #[allow(clippy::type_complexity)]
        let headers: [(u32, u32, u64, u64, u64, u64, u32, u32, u64, u64); 6] = [
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
            (sh_name(".text"), 1, 0x6, TEXT, text_off, 0x100, 0, 0, 16, 0),
            (
                sh_name(".data..percpu"),
                1,
                0x3,
                0,
                pcpu_off,
                0x40,
                0,
                0,
                64,
                0,
            ),
            (
                sh_name(".symtab"),
                2,
                0,
                0,
                sym_off,
                symtab.len() as u64,
                4,
                3,
                8,
                24,
            ),
            (
                sh_name(".strtab"),
                3,
                0,
                0,
                str_off,
                strtab.len() as u64,
                0,
                0,
                1,
                0,
            ),
            (
                sh_name(".shstrtab"),
                3,
                0,
                0,
                shstr_off,
                shstr.len() as u64,
                0,
                0,
                1,
                0,
            ),
        ];
        for (name, ty, flags, addr, off, size, link, info, align, entsize) in headers {
            out.extend(name.to_le_bytes());
            out.extend(ty.to_le_bytes());
            out.extend(flags.to_le_bytes());
            out.extend(addr.to_le_bytes());
            out.extend(off.to_le_bytes());
            out.extend(size.to_le_bytes());
            out.extend(link.to_le_bytes());
            out.extend(info.to_le_bytes());
            out.extend(align.to_le_bytes());
            out.extend(entsize.to_le_bytes());
        }
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // 64-bit
        out[5] = 1; // little-endian
        out[6] = 1;
        out[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        out[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86_64
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[40..48].copy_from_slice(&sh_off.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[58..60].copy_from_slice(&64u16.to_le_bytes());
        out[60..62].copy_from_slice(&6u16.to_le_bytes());
        out[62..64].copy_from_slice(&5u16.to_le_bytes());
        out
    }

    #[test]
    fn vmlinux_symtab_as_a_table_and_as_sizes() {
        let elf = parse_elf("vmlinux", &tiny_vmlinux()).unwrap();
        assert!(!elf.relocatable);
        let kinds: Vec<(&str, char)> = elf
            .symbols
            .iter()
            .map(|s| (s.name.as_str(), s.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("local_fn", 't'),
                ("pad_label", 't'),
                ("_text", 'T'),
                ("startup_64", 'T'),
                ("weak_fn", 'W'),
                ("_etext", 'T'),
                ("fixed_percpu_data", 'A'),
            ]
        );
        let t = vmlinux_table(&elf).unwrap();
        let s = t.lookup(0xffffffff81000050).unwrap();
        assert_eq!(s.to_string(), "local_fn+0x10/0x20");
        assert!(t.lookup(0xffffffff81000060).is_none(), "past local_fn");
        // No size for the label: up to the next symbol.
        assert_eq!(t.lookup(0xffffffff81000090).unwrap().name, "pad_label");
        assert_eq!(
            t.lookup(0xffffffff81000010).unwrap().to_string(),
            "_text+0x10/0x30"
        );
        assert!(t.lookup(0xffffffff81000035).is_none());
        assert_eq!(t.find("fixed_percpu_data").next().unwrap().kind, 'A');
        assert!(
            t.lookup(0x10).is_none(),
            "per-cpu symbols answer no address"
        );

        // The same vmlinux gives sizes to a KASLR-slid kallsyms.
        let text = "\
ffffffff9b000000 T _text
ffffffff9b000000 T startup_64
ffffffff9b000040 t local_fn
ffffffff9b000080 t pad_label
ffffffff9b0000c0 W weak_fn
ffffffff9b000100 T _etext
";
        let k = crate::parse_bytes("k", text.as_bytes(), &Default::default()).unwrap();
        assert_eq!(k.lookup(0xffffffff9b000070).unwrap().name, "local_fn");
        let sizes = vmlinux_sizes(&k, &elf);
        assert_eq!(sizes.len(), 3, "{sizes:?}");
        let k = k.with_real_sizes(&sizes);
        assert!(k.lookup(0xffffffff9b000070).is_none());
        assert_eq!(
            k.lookup(0xffffffff9b0000c8).unwrap().to_string(),
            "weak_fn+0x8/0x10"
        );
    }

    #[cfg(feature = "compression")]
    #[test]
    fn compressed_files_read_the_same() {
        use std::io::Write;
        let raw = tiny_vmlinux();
        let plain = parse_elf("x", &raw).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&raw).unwrap();
        let dir = std::env::temp_dir().join(format!("ksym-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in [
            ("m.ko", raw.clone()),
            ("m.ko.gz", gz.finish().unwrap()),
            ("m.ko.zst", zstd::encode_all(&raw[..], 1).unwrap()),
            ("m.ko.xz", xz.finish().unwrap()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            let read = read_elf(&path).unwrap();
            assert_eq!(read.symbols, plain.symbols, "{name}");
            assert_eq!(read.sections, plain.sections, "{name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn not_elf_is_a_clear_error() {
        let e = parse_elf("x", b"hello").unwrap_err().to_string();
        assert!(e.contains("x: not a usable ELF"), "{e}");
    }
}
