//! ELF symbol tables: a `vmlinux` with `.symtab`, and module `.ko` files
//! (plain or compressed with xz, zstd or gzip), read for their real symbol
//! sizes; `modules.dep`, which says where each module's `.ko` lies.
//!
//! kallsyms gives no sizes, so the table derives them (up to the next
//! symbol, bounded by sections and module areas), and an address in the
//! padding after a function is named as part of it. An ELF symbol table has
//! the real `st_size`; [`crate::table`] attaches it to a table
//! (`match_module`, `vmlinux_sizes`).

use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SectionKind, SymbolSection};
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::parse::lists::check_list_head;
use crate::parse::module_text::{module_text, release_of_vermagic, ModuleText};
use crate::read::limit::LIST_LIMIT;
use crate::read::{map_within, read_list, source_name, Limit};

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
    /// For a module of a known architecture, its code as the loader lays
    /// it out, or why that could not be told (a damaged relocation section).
    pub module_text: Option<std::result::Result<ModuleText, String>>,
}

impl ElfSymbols {
    pub fn section(&self, index: usize) -> Option<&ElfSection> {
        self.sections.get(index)
    }
}

/// Reads an ELF file, plain or compressed (`.ko.xz`, `.ko.zst`, `.ko.gz`:
/// told apart by magic bytes).
pub fn read_elf(path: &Path) -> Result<ElfSymbols> {
    read_elf_within(path, Limit::binary(None))
}

/// [`read_elf`] held to `limit` (`Limit::binary(opts.max_input_bytes)`).
///
/// A plain file is mapped, not read: the parse touches its section
/// headers, `.symtab`, `.strtab`, `.modinfo` and notes, a few MB of a
/// 600 MB vmlinux with DWARF. A compressed file is decompressed whole
/// within `limit`.
pub fn read_elf_within(path: &Path, limit: Limit) -> Result<ElfSymbols> {
    let name = source_name(path);
    let bytes = map_within(path, limit)?;
    let mut elf = parse_elf(&name, bytes.bytes())?;
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
        // A name outside the section name table is a damaged file, never
        // an empty name.
        let name = s
            .name_bytes()
            .map_err(|e| bad(format!("section {i}: {e}")))?;
        sections[i] = ElfSection {
            name: String::from_utf8_lossy(name).into_owned(),
            addr: s.address(),
            size: s.size(),
            align: s.align(),
            flags,
            nobits: s.kind() == SectionKind::UninitializedData
                || s.kind() == SectionKind::UninitializedTls,
        };
    }
    let modinfo = |key: &[u8]| {
        file.section_by_name(".modinfo")
            .and_then(|s| s.data().ok())
            .and_then(|data| {
                data.split(|&b| b == 0)
                    .find_map(|kv| kv.strip_prefix(key))
                    .and_then(|n| std::str::from_utf8(n).ok())
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
            })
    };
    let module_name = modinfo(b"name=");
    let module_text = if relocatable {
        let release = modinfo(b"vermagic=").and_then(|v| release_of_vermagic(&v));
        module_text(bytes, release).transpose()
    } else {
        None
    };
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
        // Likewise a symbol name outside the string table; a name that is
        // not UTF-8 (no kernel symbol's) is skipped.
        let name = sym
            .name_bytes()
            .map_err(|e| bad(format!("symbol {}: {e}", sym.index().0)))?;
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
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
        module_text,
    })
}

/// The GNU build-id of an ELF file in memory, in lowercase hex, read from
/// its notes alone (its symbols are not parsed).
pub fn build_id_hex(source: &str, bytes: &[u8]) -> Result<Option<String>> {
    let file = object::File::parse(bytes).map_err(|e| Error::Elf {
        source_name: source.to_string(),
        reason: e.to_string(),
    })?;
    let id = file.build_id().ok().flatten();
    Ok(id.map(|id| id.iter().map(|b| format!("{b:02x}")).collect()))
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
    let name = source_name(&dep);
    let bytes = read_list(&dep, LIST_LIMIT, &mut |head| {
        check_list_head(&name, head, "modules.dep", |line| {
            dep_line(line).map(|_| ())
        })
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut by_name: FxHashMap<String, &str> = FxHashMap::default();
    for line in text.lines() {
        if let Ok(ko) = dep_line(line) {
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

/// The `.ko` path of a `modules.dep` line (`kernel/fs/xfs/xfs.ko.xz: deps`).
fn dep_line(line: &str) -> std::result::Result<&str, &'static str> {
    match line.split_once(':') {
        Some((ko, _deps)) if !ko.trim().is_empty() => Ok(ko.trim()),
        _ => Err("not a `path.ko: dependencies` line"),
    }
}
