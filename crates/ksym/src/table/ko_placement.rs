//! Where a loaded module's `.ko` sections lie, learned from the table's own
//! symbols of that module, for source lines when nothing else says:
//! off-line, a bug report carries kallsyms and maybe `/proc/modules`, but
//! neither `/sys/module/M/sections` nor the loader's areas.
//!
//! decode_stacktrace.sh finds `func` in the `.ko` and adds the offset; this
//! does the same for every symbol at once. The section bases come from
//! [`match_module`]'s votes (every same-named pair of `.ko` and loaded
//! symbol votes for `address - st_value` as its section's base), so a name
//! that appears twice in the `.ko`, or a `.cold` part in `.text.unlikely`,
//! cannot move a section: the other symbols outvote it. Where the votes do
//! not settle (a tie), or a symbol of the table sits elsewhere than its
//! `.ko` namesake under the settled bases, the disagreement is reported
//! and no line is given there: a conflict is never guessed through.

use crate::parse::elf::ElfSymbols;
use crate::parse::ModuleArea;
use crate::table::elf_sizes::match_module;
use crate::table::SymbolTable;

/// A module's `.ko` sections placed by its loaded symbols.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KoPlacement {
    pub module: String,
    /// Each section the votes placed (kind: the section's name, as
    /// `/sys/module/M/sections` names it), in address order.
    pub sections: Vec<ModuleArea>,
    /// Code sections of the loaded module whose symbols voted without a
    /// winner, or that two placed sections would share: left out, by name.
    /// (Data sections that tie, such as string-literal sections whose `.LC`
    /// labels repeat, are left out without a word: lines never need them.)
    pub unplaced: Vec<String>,
    /// Table symbols the `.ko` names but places elsewhere: no lines there.
    pub conflicts: Vec<PlacementConflict>,
}

/// A table symbol that its `.ko` namesake, placed by the section votes,
/// does not land on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementConflict {
    pub name: String,
    /// The symbol's range in the table.
    pub start: u64,
    pub end: u64,
    /// What the `.ko` says instead.
    pub reason: String,
}

impl KoPlacement {
    /// One line for a reader: how many sections were placed, and what was
    /// left out or found in conflict (the first few named).
    pub fn summary(&self) -> String {
        let mut out = format!(
            "module {}: {} sections placed by its symbols",
            self.module,
            self.sections.len()
        );
        if !self.unplaced.is_empty() {
            out += &format!("; not placed: {}", self.unplaced.join(", "));
        }
        if !self.conflicts.is_empty() {
            let first: Vec<&str> = self
                .conflicts
                .iter()
                .take(3)
                .map(|c| c.name.as_str())
                .collect();
            out += &format!(
                "; {} symbols placed elsewhere by the .ko, no lines for them ({})",
                self.conflicts.len(),
                first.join(", ")
            );
        }
        out
    }
}

/// Places the sections of `module`'s `.ko` (its symbol table `elf`) by the
/// table's symbols of that module (see the module doc).
pub fn place_ko_sections(table: &SymbolTable, module: &str, elf: &ElfSymbols) -> KoPlacement {
    let matched = match_module(table, module, elf);
    let section_name = |i: usize| elf.section(i).map_or("?", |s| s.name.as_str());
    let mut placed: Vec<(usize, ModuleArea)> = matched
        .section_bases
        .iter()
        .filter_map(|&(i, base)| {
            let s = elf.section(i)?;
            Some((
                i,
                ModuleArea {
                    kind: s.name.clone(),
                    start: base,
                    size: s.size,
                },
            ))
        })
        .collect();
    placed.sort_by_key(|(_, a)| a.start);
    // Two sections over the same bytes: at least one base is wrong, and
    // which one cannot be told, so neither answers.
    let mut overlapping = vec![false; placed.len()];
    for i in 1..placed.len() {
        let (prev, this) = (&placed[i - 1].1, &placed[i].1);
        if prev.size > 0 && this.size > 0 && prev.start.saturating_add(prev.size) > this.start {
            overlapping[i - 1] = true;
            overlapping[i] = true;
        }
    }
    let mut out = KoPlacement {
        module: module.to_string(),
        ..KoPlacement::default()
    };
    out.unplaced = matched
        .tied_sections
        .iter()
        .filter(|&&i| elf.section(i).is_some_and(|s| s.is_exec()))
        .map(|&i| section_name(i).to_string())
        .collect();
    let mut bases: Vec<(usize, u64)> = Vec::new();
    for ((i, area), overlaps) in placed.into_iter().zip(overlapping) {
        if overlaps {
            if elf.section(i).is_some_and(|s| s.is_exec()) {
                out.unplaced.push(area.kind);
            }
        } else {
            bases.push((i, area.start));
            out.sections.push(area);
        }
    }
    bases.sort_unstable();
    out.conflicts = conflicts(table, module, elf, &bases);
    out
}

/// The table's symbols of `module` that some `.ko` symbol names, yet none
/// of that name lands on under `bases` (ELF index, load address).
fn conflicts(
    table: &SymbolTable,
    module: &str,
    elf: &ElfSymbols,
    bases: &[(usize, u64)],
) -> Vec<PlacementConflict> {
    let base_of = |sec: usize| {
        bases
            .binary_search_by_key(&sec, |&(s, _)| s)
            .ok()
            .map(|i| bases[i].1)
    };
    let mut by_name: rustc_hash::FxHashMap<&str, Vec<(usize, u64)>> = Default::default();
    for s in &elf.symbols {
        let Some(sec) = s.section else { continue };
        if elf.section(sec).is_some_and(|e| e.kept_by_loaded_module()) {
            by_name
                .entry(s.name.as_str())
                .or_default()
                .push((sec, s.value));
        }
    }
    let mut out = Vec::new();
    for id in table.module_symbol_ids(module) {
        let Some(sym) = table.symbol(id) else {
            continue;
        };
        let Some(copies) = by_name.get(sym.name) else {
            continue;
        };
        if sym.size == 0 {
            continue;
        }
        let lands = |&(sec, value): &(usize, u64)| {
            base_of(sec).is_some_and(|b| b.wrapping_add(value) == sym.start)
        };
        if copies.iter().any(lands) {
            continue;
        }
        let (sec, value) = copies[0];
        let section = elf.section(sec).map_or("?", |s| s.name.as_str());
        let reason = match base_of(sec) {
            Some(b) => format!(
                "{} is at {:#x} in the table, but its .ko puts it at {section}+{value:#x}, \
                 which the module's other symbols place at {:#x}{}: a conflict, no lines given",
                sym.name,
                sym.start,
                b.wrapping_add(value),
                if copies.len() > 1 {
                    format!(" ({} copies of the name, none there)", copies.len())
                } else {
                    String::new()
                }
            ),
            None => format!(
                "{} is in {section} of its .ko, which the module's symbols could not place \
                 (their votes tied): no lines given",
                sym.name
            ),
        };
        out.push(PlacementConflict {
            name: sym.name.to_string(),
            start: sym.start,
            end: sym.start.saturating_add(sym.size),
            reason,
        });
    }
    out.sort_by_key(|c| c.start);
    out
}

/// Adds module `module`'s source lines to `lines` from its `.ko` at `path`
/// (plain or compressed), placed as well as is known: each section where
/// `/sys/module/M/sections` says (live), else where the 6.1 loader puts it
/// in the module's areas (a layout file), else by the table's symbols
/// ([`place_ko_sections`]; the placement is returned, to be reported).
/// `info` is the table's [`crate::parse::ModuleInfo`] of the module, when
/// it has one; `build_id` (hex) is checked against the file's.
#[cfg(feature = "dwarf")]
pub fn add_module_lines(
    lines: &mut crate::lines::SourceLines,
    table: &SymbolTable,
    module: &str,
    path: &std::path::Path,
    build_id: Option<&str>,
) -> crate::error::Result<Option<KoPlacement>> {
    use crate::lines::{check_build_id, DebugFile};
    let info = table.module_map().get(module);
    // Sections the kernel gave (sysfs, a layout file); not those laid out
    // from the `.ko` itself, which the votes below check symbol by symbol.
    let from_kernel = |i: &&crate::parse::ModuleInfo| {
        !i.laid_out_from_ko && (!i.section_areas.is_empty() || !i.areas.is_empty())
    };
    if let Some(info) = info.filter(from_kernel) {
        lines.add_module_info(info, path, build_id)?;
        return Ok(None);
    }
    let file = DebugFile::open(path)?;
    if let Some(id) = build_id {
        check_build_id(&file, id)?;
    }
    let elf = crate::parse::elf::parse_elf(file.source(), file.bytes())?;
    let placement = place_ko_sections(table, module, &elf);
    if placement.sections.is_empty() {
        return Err(crate::error::Error::DebugInfo {
            source_name: format!("module {module}"),
            reason: format!(
                "none of its sections could be placed: the table has no symbol of \
                 {module} that {} has",
                file.source()
            ),
        });
    }
    lines.add_module_file(module, file, &placement.sections);
    for c in &placement.conflicts {
        lines.refuse(module, c.start, c.end, c.reason.clone());
    }
    Ok(Some(placement))
}
