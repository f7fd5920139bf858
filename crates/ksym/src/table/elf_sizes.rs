//! Real symbol sizes from ELF symbol tables (a `vmlinux`, module `.ko`
//! files, read by [`crate::parse::elf`]) matched to a table's symbols.
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

use std::path::Path;

use rustc_hash::FxHashMap;

use crate::parse::elf::{module_name_from_path, ElfSection, ElfSymbol, ElfSymbols};
use crate::parse::ModuleArea;
use crate::table::ko_text_area::text_from_ko;
use crate::table::sized_symbols::SizedSymbols;
use crate::table::{SymbolId, SymbolTable};

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
    /// Sections whose votes tied between two bases (no base learned), by
    /// ELF index.
    pub tied_sections: Vec<usize>,
    /// The module's text area as the `.ko` laid out by the loader's rules
    /// places it, when [`apply_modules`] set it (the table knew only
    /// `/proc/modules`); see [`crate::table`]'s `ko_text_area`.
    pub text_area: Option<ModuleArea>,
    /// Why the `.ko` could not place the text area, when it could not.
    pub text_area_problem: Option<String>,
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
    let mut tied_sections: Vec<usize> = best
        .iter()
        .filter(|(_, (_, _, tie))| *tie)
        .map(|(&sec, _)| sec)
        .collect();
    tied_sections.sort_unstable();
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
    out.tied_sections = tied_sections;
    out
}

/// Real sizes for the table's symbols of `module` from its `.ko`.
pub fn module_sizes(table: &SymbolTable, module: &str, elf: &ElfSymbols) -> Vec<(SymbolId, u64)> {
    match_module(table, module, elf).sizes
}

/// Attaches the real sizes of every `.ko` given (each matched to the
/// module its `.modinfo` names) and reports how each matched. Where the
/// table knows a module from `/proc/modules` alone, the `.ko`'s code laid
/// out as the loader does also gives its text area and code sections.
pub fn apply_modules(table: SymbolTable, kos: &[ElfSymbols]) -> (SymbolTable, Vec<ModuleMatch>) {
    let mut reports = Vec::with_capacity(kos.len());
    let mut sizes = Vec::new();
    let mut placed = Vec::new();
    for ko in kos {
        let module = ko
            .module_name
            .clone()
            .unwrap_or_else(|| module_name_from_path(Path::new(&ko.source)));
        let mut m = match_module(&table, &module, ko);
        sizes.extend_from_slice(&m.sizes);
        match text_from_ko(&table, ko, &m) {
            Ok(Some(p)) => {
                m.text_area = Some(p.area.clone());
                placed.push(p);
            }
            Ok(None) => {}
            Err(why) => m.text_area_problem = Some(why),
        }
        reports.push(m);
    }
    let table = table.with_real_sizes(&sizes).with_placed_text(placed);
    (table, reports)
}

/// Real sizes for the table's core symbols from a vmlinux symbol table,
/// matched by name at the link-time address shifted by the KASLR slide
/// (the table's `_text` against the vmlinux's).
pub fn vmlinux_sizes(table: &SymbolTable, elf: &ElfSymbols) -> Vec<(SymbolId, u64)> {
    SizedSymbols::from_elf(elf).sizes_for(table)
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
