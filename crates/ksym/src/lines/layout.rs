//! Where a loaded module's sections lie, worked out off-line from its
//! memory areas (`module-layout.tsv`: text, rodata, ro_after_init, data) and
//! its `.ko`, the way the 6.1 loader lays them out (`layout_sections()` in
//! kernel/module/main.c). A live kernel tells each section's address in
//! `/sys/module/M/sections/` instead ([`crate::parse::ModuleInfo::section_areas`]).

use super::file::{DebugFile, FileSection};
use crate::parse::ModuleArea;

/// The classes the loader walks the section headers in, each with the
/// area it fills: (flags wanted, flags refused, area).
const CLASSES: &[(Want, &str)] = &[
    (Want::Code, "text"),
    (Want::ReadOnly, "rodata"),
    (Want::RoAfterInit, "ro_after_init"),
    (Want::Writable, "data"),
    (Want::Other, "data"),
];

#[derive(Clone, Copy)]
enum Want {
    Code,
    ReadOnly,
    RoAfterInit,
    Writable,
    Other,
}

/// Sections the loader marks `SHF_RO_AFTER_INIT`.
fn ro_after_init(s: &FileSection) -> bool {
    matches!(s.name.as_str(), ".data..ro_after_init" | "__jump_table")
}

fn in_class(s: &FileSection, want: Want) -> bool {
    match want {
        Want::Code => s.is_exec(),
        Want::ReadOnly => !s.is_write() && !ro_after_init(s),
        Want::RoAfterInit => ro_after_init(s),
        Want::Writable => s.is_write(),
        Want::Other => true,
    }
}

/// Whether the loader allocates the section in the module's core (init
/// sections are freed after init; `.modinfo`, `__versions` and
/// `.data..percpu` lose `SHF_ALLOC`).
fn laid_out(s: &FileSection) -> bool {
    s.is_alloc()
        && !s.name.starts_with(".init")
        && !matches!(s.name.as_str(), ".modinfo" | "__versions" | ".data..percpu")
}

/// The address and size of each section of `file` the 6.1 loader places
/// in the module's core, given the module's `areas` (by kind: `text`,
/// `rodata`, `ro_after_init`, `data`), as [`ModuleArea`]s named after the
/// section (as `/sys/module/M/sections` names them). A class whose area is
/// not given is left out.
pub fn module_section_addresses(file: &DebugFile, areas: &[ModuleArea]) -> Vec<ModuleArea> {
    let mut placed = vec![false; file.sections().len()];
    let mut offsets: Vec<(&str, u64)> = Vec::new();
    let mut out = Vec::new();
    for &(want, area_kind) in CLASSES {
        let area = areas.iter().find(|a| a.kind == area_kind);
        let at = match offsets.iter().position(|(k, _)| *k == area_kind) {
            Some(i) => i,
            None => {
                offsets.push((area_kind, 0));
                offsets.len() - 1
            }
        };
        for (i, s) in file.sections().iter().enumerate() {
            if placed[i] || !laid_out(s) || !in_class(s, want) {
                continue;
            }
            placed[i] = true;
            let offset = &mut offsets[at].1;
            let start = align_up(*offset, s.align.max(1));
            *offset = start.saturating_add(s.size);
            if let Some(area) = area {
                out.push(ModuleArea {
                    kind: s.name.clone(),
                    start: area.start.saturating_add(start),
                    size: s.size,
                });
            }
        }
    }
    out
}

fn align_up(n: u64, align: u64) -> u64 {
    if align.is_power_of_two() {
        n.saturating_add(align - 1) & !(align - 1)
    } else {
        n.div_ceil(align).saturating_mul(align)
    }
}
