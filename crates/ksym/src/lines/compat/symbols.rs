//! The symbol table as the tools fall back on it where DWARF says nothing.
//! GNU's BFD takes, in the allocated section holding the address, the
//! function-like symbol (any type but object, section, file, TLS, common;
//! no hidden local size-0 no-type marker) with the highest value at or
//! below it, the larger on a tie, and names its file from the `STT_FILE`
//! symbol before it when the symbol is local (or no file symbol came after
//! other symbols). BFD keeps the last symbol it found and answers with it
//! again while an address falls in its size (so a size-0 label inside a
//! sized assembler function loses to the function when asked after it):
//! so does this, as answers depend on the order of the questions. llvm takes the symbol whose range holds the address, a
//! size-0 one reaching to the next, and names a local symbol's file.

use object::elf;
use object::{Object, ObjectSection, ObjectSymbol, SectionIndex, SymbolFlags};

use super::super::file::{parse_object, DebugFile};
use crate::error::Result;

/// One symbol as the fallback answers it.
#[derive(Debug, Clone)]
pub(super) struct Symbol {
    pub(super) name: String,
    pub(super) file: Option<String>,
    pub(super) start: u64,
    /// As the symbol table gives it (0: none).
    pub(super) size: u64,
}

/// Sorted `(section, start, larger size first, table order)` for GNU's
/// choice; by start for llvm's.
pub(super) struct Symbols {
    /// Allocated sections: `(index, start, end)`, in header order.
    sections: Vec<(usize, u64, u64)>,
    gnu: Vec<(usize, Symbol)>,
    llvm: Vec<Symbol>,
    /// BFD's last answer: its section and index in `gnu`.
    last: Option<(usize, usize)>,
}

impl Symbols {
    /// The `.symtab` of `file` (none: no fallback).
    pub(super) fn read(file: &DebugFile) -> Result<Symbols> {
        let elf = parse_object(file.source(), file.bytes())?;
        let sections = elf
            .sections()
            .filter(|s| {
                matches!(s.flags(), object::SectionFlags::Elf { sh_flags }
                    if sh_flags & u64::from(elf::SHF_ALLOC) != 0)
            })
            .map(|s| {
                (
                    s.index().0,
                    s.address(),
                    s.address().saturating_add(s.size()),
                )
            })
            .collect();
        let mut gnu = Vec::new();
        let mut llvm = Vec::new();
        let mut file_name: Option<String> = None;
        // BFD's states: no symbol yet, a symbol seen, a file symbol after
        // a symbol (then only local symbols are named with a file).
        let (mut symbol_seen, mut file_after_symbol) = (false, false);
        for (order, sym) in elf.symbols().enumerate() {
            let SymbolFlags::Elf { st_info, st_other } = sym.flags() else {
                continue;
            };
            let kind = st_info & 0xf;
            let name = sym.name().unwrap_or("");
            if kind == elf::STT_FILE {
                file_name = Some(name.to_string());
                file_after_symbol |= symbol_seen;
                continue;
            }
            symbol_seen = true;
            let Some(SectionIndex(section)) = sym.section_index() else {
                continue;
            };
            if matches!(kind, elf::STT_SECTION) || name.is_empty() {
                continue;
            }
            let symbol = Symbol {
                name: name.to_string(),
                // llvm's: a local symbol's file.
                file: file_name.clone().filter(|_| sym.is_local()),
                start: sym.address(),
                size: sym.size(),
            };
            llvm.push(symbol.clone());
            let hidden_marker = sym.size() == 0
                && sym.is_local()
                && kind == elf::STT_NOTYPE
                && st_other & 3 == elf::STV_HIDDEN;
            if matches!(
                kind,
                elf::STT_OBJECT | elf::STT_TLS | elf::STT_COMMON | elf::STT_SECTION
            ) || hidden_marker
            {
                continue;
            }
            let file = (sym.is_local() || !file_after_symbol)
                .then(|| file_name.clone())
                .flatten();
            gnu.push((section, Symbol { file, ..symbol }, order));
        }
        gnu.sort_by(|a, b| {
            (a.0, a.1.start, std::cmp::Reverse(a.1.size.max(1)), a.2).cmp(&(
                b.0,
                b.1.start,
                std::cmp::Reverse(b.1.size.max(1)),
                b.2,
            ))
        });
        llvm.sort_by_key(|s| s.start);
        Ok(Symbols {
            sections,
            gnu: gnu.into_iter().map(|(sec, s, _)| (sec, s)).collect(),
            llvm,
            last: None,
        })
    }

    /// The first allocated section holding `addr` (its index).
    pub(super) fn section_of(&self, addr: u64) -> Option<usize> {
        self.sections
            .iter()
            .find(|(_, start, end)| *start <= addr && addr < *end)
            .map(|s| s.0)
    }

    /// GNU's choice: see the module documentation.
    pub(super) fn before(&mut self, addr: u64) -> Option<&Symbol> {
        let section = self.section_of(addr)?;
        if let Some((sec, i)) = self.last {
            let s = &self.gnu[i].1;
            if sec == section && s.start <= addr && addr - s.start < s.size.max(1) {
                return Some(&self.gnu[i].1);
            }
        }
        let upto = self
            .gnu
            .partition_point(|(sec, s)| (*sec, s.start) <= (section, addr));
        let (sec, last) = self.gnu.get(upto.checked_sub(1)?)?;
        if *sec != section {
            return None;
        }
        // The first of those starting there: the largest, then the first.
        let first =
            self.gnu[..upto].partition_point(|(sec, s)| (*sec, s.start) < (section, last.start));
        self.last = Some((section, first));
        Some(&self.gnu[first].1)
    }

    /// llvm's choice: see the module documentation.
    pub(super) fn holding(&self, addr: u64) -> Option<&Symbol> {
        let upto = self.llvm.partition_point(|s| s.start <= addr);
        let s = self.llvm.get(upto.checked_sub(1)?)?;
        (s.size == 0 || addr - s.start < s.size).then_some(s)
    }
}
