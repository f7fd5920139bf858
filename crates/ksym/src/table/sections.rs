//! Which section of a loaded module an address is in, from the sections
//! `/sys/module/<m>/sections` lists (kept in the table's module map and in
//! its snapshots).
//!
//! A module's `.plt`, `.init.plt` and `.text.ftrace_trampoline` (arm64) sit
//! after its last function and carry no symbols: `%pS`, and a lookup here,
//! names an address in them as that function. The section name is what
//! tells a profiler it sampled a PLT veneer or the ftrace trampoline, not
//! the function. Lookups leave it out (it costs a search);
//! [`SymbolTable::with_section`] adds it.

use std::ffi::CStr;

use super::{Symbol, SymbolTable};

/// Every module's sections with a known extent, sorted by start, and their
/// names as C strings in one arena (the C ABI hands them out in place).
/// Sections of different modules may overlap: `/sys/module` keeps listing
/// a module's freed init sections, where a later module may now be.
#[derive(Debug, Clone, Default)]
pub(crate) struct SectionIndex {
    spans: Vec<SectionSpan>,
    names: Vec<u8>,
}

/// One module section's span; `module` indexes the table's
/// [`ModuleMap`](crate::ModuleMap), `name` the arena.
#[derive(Debug, Clone, Copy)]
struct SectionSpan {
    start: u64,
    end: u64,
    module: u32,
    name: u32,
    /// Code without symbols (see [`SymbolTable::in_veneers`]).
    veneers: bool,
}

impl SectionIndex {
    fn build(table: &SymbolTable) -> SectionIndex {
        let mut index = SectionIndex::default();
        for (m, info) in table.modules.modules.iter().enumerate() {
            for area in info.section_areas.iter().filter(|a| a.size > 0) {
                // Section names come from sysfs file names: no NUL inside.
                let name = index.names.len() as u32;
                index.names.extend(area.kind.bytes().filter(|&b| b != 0));
                index.names.push(0);
                index.spans.push(SectionSpan {
                    start: area.start,
                    end: area.end(),
                    module: m as u32,
                    name,
                    // A freed `.init.plt` is still listed, maybe inside
                    // another module's text now (6.1 arm64: bridge's in
                    // vfat's): veneers only while its module loads.
                    veneers: match area.kind.as_str() {
                        ".plt" | ".text.ftrace_trampoline" => true,
                        ".init.plt" => info.state.as_deref() == Some("Loading"),
                        _ => false,
                    },
                });
            }
        }
        index.spans.sort_by_key(|s| (s.start, s.end));
        index
    }
}

impl SymbolTable {
    /// The section of `sym`'s module that holds its address (`.text`,
    /// `.plt`, `.text.ftrace_trampoline`, `.rodata`, ...), when the table
    /// knows the module's sections (a live kernel's `/sys/module`, or a
    /// layout given with them); `None` for the core kernel. A C string that
    /// lives as long as the table (the C ABI hands it out in place).
    pub fn section_of(&self, sym: &Symbol<'_>) -> Option<&CStr> {
        let module = sym.module.filter(|_| self.in_loadable_module(sym.id))?;
        let (index, mut holding) = self.spans_holding(sym.addr());
        let span = holding.find(|s| self.modules.modules[s.module as usize].name == module)?;
        CStr::from_bytes_until_nul(&index.names[span.name as usize..]).ok()
    }

    /// Whether `addr`, below `end` (where the symbol before it ends when
    /// sized to the next one), is in a module section the linker or loader
    /// made without symbols: `.plt`, `.init.plt`, `.text.ftrace_trampoline`.
    /// `%pS` names such an address as the function before it, whatever
    /// that function's real size, and so do lookups.
    pub(crate) fn in_veneers(&self, addr: u64, end: u64) -> bool {
        if addr >= end || self.modules.modules.is_empty() {
            return false;
        }
        self.spans_holding(addr).1.any(|s| s.veneers)
    }

    /// The section index (made on first use), and the spans that hold
    /// `addr`, nearest start first. Overlaps are rare (stale init
    /// sections): the walk back over the spans starting at or below `addr`
    /// stops after 64.
    fn spans_holding(&self, addr: u64) -> (&SectionIndex, impl Iterator<Item = &SectionSpan> + '_) {
        let index = self.section_spans.get_or_init(|| SectionIndex::build(self));
        let below = index.spans.partition_point(|s| s.start <= addr);
        let holding = index.spans[..below]
            .iter()
            .rev()
            .take(64)
            .filter(move |s| addr < s.end);
        (index, holding)
    }

    /// `sym` with [`Symbol::section`] filled in from
    /// [`section_of`](Self::section_of).
    pub fn with_section<'t>(&'t self, mut sym: Symbol<'t>) -> Symbol<'t> {
        sym.section = self.section_of(&sym).and_then(|c| c.to_str().ok());
        sym
    }
}
