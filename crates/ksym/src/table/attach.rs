//! Steps after a build that attach what other sources know to a table:
//! real symbol sizes (from ELF symbol tables) and module slots for core
//! symbols (from built-in module address ranges).
//!
//! Each step takes the table by value and returns a new one with the same
//! symbol ids: ids stay in address order, so nothing that was learned
//! about a table by id goes stale.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::parse::builtin::{BuiltinRanges, ModuleRange, ResolvedRanges};
use crate::table::{ModuleRun, SizeRec, SlotRec, SymbolId, SymbolTable};

impl SymbolTable {
    /// The table with these real sizes attached (an ELF `st_size` per
    /// symbol id). A real size wins over the derived one in lookups; a
    /// size of zero means "unknown" and is ignored, ids out of range too.
    /// Sizes already attached stay unless given again.
    pub fn with_real_sizes(mut self, sizes: &[(SymbolId, u64)]) -> SymbolTable {
        let n = self.len() as u32;
        let mut merged: Vec<SizeRec> = self.real_sizes.to_vec();
        merged.extend(
            sizes
                .iter()
                .filter(|&&(id, size)| id.0 < n && size > 0)
                .map(|&(id, size)| SizeRec {
                    id: id.0,
                    size: size.min(u64::from(u32::MAX)) as u32,
                }),
        );
        // Stable: of two sizes for one id, the later (given now) wins.
        merged.sort_by_key(|r| r.id);
        let mut out: Vec<SizeRec> = Vec::with_capacity(merged.len());
        for r in merged {
            match out.last_mut() {
                Some(last) if last.id == r.id => *last = r,
                _ => out.push(r),
            }
        }
        self.real_sizes = out.into();
        self
    }

    /// The table with its BPF programs (`bpf_prog_<tag>_<name> [bpf]`, one
    /// symbol per JITed function) given their real sizes, the JITed lengths
    /// the kernel keeps (kallsyms has none: without them a program's last
    /// function runs to its page's end), and their lines kept for
    /// [`SymbolTable::bpf_line`] (and by a snapshot of the table).
    pub fn with_bpf_lines(self, set: crate::parse::bpf_lines::BpfLinesSet) -> SymbolTable {
        let sizes: Vec<(SymbolId, u64)> = set
            .programs()
            .iter()
            .flat_map(|p| p.functions())
            .filter_map(|(_, start, size)| {
                let s = self.lookup(start)?;
                (s.start == start && s.module == Some("bpf")).then_some((s.id, size))
            })
            .collect();
        let table = if sizes.is_empty() {
            self
        } else {
            self.with_real_sizes(&sizes)
        };
        SymbolTable {
            bpf_lines: (!set.programs().is_empty()).then(|| std::sync::Arc::new(set)),
            ..table
        }
    }

    /// The BPF programs this table keeps lines for, if any.
    pub fn bpf_lines(&self) -> Option<&std::sync::Arc<crate::parse::bpf_lines::BpfLinesSet>> {
        self.bpf_lines.as_ref()
    }

    /// What `addr` is in a BPF program this table keeps lines for: the
    /// program, its BPF function and real size, file, line, column and the
    /// line's text.
    pub fn bpf_line(&self, addr: u64) -> Option<crate::parse::bpf_lines::BpfLine<'_>> {
        self.bpf_lines.as_ref()?.lookup(addr)
    }

    /// Ids of every symbol that carries `module` (loadable or built-in), in
    /// id order: address-answering symbols first, then name-only ones.
    pub fn module_symbol_ids(&self, module: &str) -> Vec<SymbolId> {
        let has = |slot: u32| self.slot_names_of(slot).any(|n| n == module);
        let mut ids = Vec::new();
        let answering = self.addr_lo.len() as u32;
        for (i, run) in self.runs.iter().enumerate() {
            if run.slot == 0 || !has(run.slot) {
                continue;
            }
            let end = self.runs.get(i + 1).map_or(answering, |r| r.first);
            ids.extend((run.first..end.min(answering)).map(SymbolId));
        }
        for (i, s) in self.name_only.iter().enumerate() {
            let slot = s.meta >> 8;
            if slot != 0 && has(slot) {
                ids.push(SymbolId(answering + i as u32));
            }
        }
        ids
    }

    /// The table with core symbols (those of no module) inside `ranges`
    /// attributed to the ranges' built-in modules, so they print as
    /// `name [ext4]` the way kallmodsyms shows them. Symbols that already
    /// carry a module, absolute symbols, and symbols outside every range
    /// keep what they have. Sizes are unchanged: a built-in module's
    /// symbols stay bounded by the core's sections.
    pub fn with_module_ranges(mut self, ranges: &[ModuleRange]) -> SymbolTable {
        let mut ranges: Vec<&ModuleRange> = ranges
            .iter()
            .filter(|r| r.start < r.end && !r.modules.is_empty())
            .collect();
        if ranges.is_empty() {
            return self;
        }
        ranges.sort_by_key(|r| (r.start, r.end));

        let mut names: Vec<u8> = self.names.to_vec();
        let mut slots: Vec<SlotRec> = self.slots.to_vec();
        let mut slot_names: Vec<u32> = self.slot_names.to_vec();
        // Existing built-in slots are reused (kallmodsyms input has them).
        let mut slot_of_list: FxHashMap<Vec<String>, u32> = FxHashMap::default();
        for s in 1..slots.len() as u32 {
            if slots[s as usize].loadable == 0 {
                let list: Vec<String> = self.slot_names_of(s).map(str::to_string).collect();
                slot_of_list.entry(list).or_insert(s);
            }
        }
        let mut range_slot: Vec<u32> = Vec::with_capacity(ranges.len());
        for r in &ranges {
            let next = slots.len() as u32;
            let slot = *slot_of_list.entry(r.modules.clone()).or_insert(next);
            if slot == next {
                let first_len = r.modules.first().map_or(0, |m| m.len());
                slots.push(SlotRec::new(
                    slot_names.len(),
                    r.modules.len(),
                    first_len,
                    false,
                ));
                for m in r.modules.iter().take(u16::MAX as usize) {
                    slot_names.push(names.len() as u32);
                    names.extend_from_slice(m.as_bytes());
                    names.push(0);
                }
            }
            range_slot.push(slot);
        }
        if names.len() > u32::MAX as usize {
            return self; // cannot address the names: leave the table as it is
        }
        // The last range starting at or below `addr` that holds it.
        let slot_at = |addr: u64| -> Option<u32> {
            let k = ranges.partition_point(|r| r.start <= addr);
            (0..k)
                .rev()
                .take(4)
                .find(|&i| addr < ranges[i].end)
                .map(|i| range_slot[i])
        };

        let n = self.addr_lo.len();
        let mut runs: Vec<ModuleRun> = Vec::with_capacity(self.runs.len() + ranges.len() * 2);
        let mut run = 0usize;
        for id in 0..n {
            while run + 1 < self.runs.len() && self.runs[run + 1].first as usize <= id {
                run += 1;
            }
            let old = self.runs.get(run).map_or(0, |r| r.slot);
            let slot = if old == 0 {
                slot_at(self.start_of(id)).unwrap_or(0)
            } else {
                old
            };
            if runs.last().is_none_or(|r| r.slot != slot) {
                runs.push(ModuleRun {
                    first: id as u32,
                    slot,
                });
            }
        }
        let name_only: Vec<_> = self
            .name_only
            .iter()
            .map(|s| {
                let mut s = *s;
                let absolute = matches!(s.meta as u8, b'A' | b'a');
                if s.meta >> 8 == 0 && !absolute {
                    if let Some(slot) = slot_at(s.addr) {
                        s.meta = slot << 8 | (s.meta & 0xff);
                    }
                }
                s
            })
            .collect();
        self.runs = runs.into();
        self.name_only = name_only.into();
        self.names = names.into();
        self.slots = slots.into();
        self.slot_names = slot_names.into();
        // Names and ids are unchanged: a built name index stays valid. Ids
        // now name other modules: a new serial, and the new module names
        // are checked again.
        self.serial = crate::table::next_serial();
        self.c_strings = OnceLock::new();
        self
    }
}

impl BuiltinRanges {
    /// Turns offsets into addresses of `table`'s kernel: each section's
    /// base is its anchor symbol's address in the table (a core symbol,
    /// KASLR slide included) minus the anchor's offset.
    pub fn resolve(&self, table: &SymbolTable) -> ResolvedRanges {
        let mut out = ResolvedRanges::default();
        for s in &self.sections {
            let Some((anchor, off)) = &s.anchor else {
                out.skipped.push(format!("{}: no anchor line", s.name));
                continue;
            };
            // A core symbol: of no module, or (when ranges were applied
            // before) of a built-in one.
            let Some(sym) = table
                .find(anchor)
                .find(|x| x.module.is_none())
                .or_else(|| table.find(anchor).next())
            else {
                out.skipped.push(format!(
                    "{}: anchor symbol {anchor} is not in the table",
                    s.name
                ));
                continue;
            };
            let base = sym.start.wrapping_sub(*off);
            out.ranges.extend(s.ranges.iter().map(|r| ModuleRange {
                start: base.wrapping_add(r.start),
                end: base.wrapping_add(r.end),
                modules: r.modules.clone(),
            }));
        }
        out.ranges.sort_by_key(|r| (r.start, r.end));
        out
    }

    /// `table` with its core symbols attributed to built-in modules (see
    /// [`SymbolTable::with_module_ranges`]), and what was skipped.
    pub fn apply(&self, table: SymbolTable) -> (SymbolTable, ResolvedRanges) {
        let resolved = self.resolve(&table);
        (table.with_module_ranges(&resolved.ranges), resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SymbolTable {
        crate::table::table_of(&[
            (0xffffffff81000000u64, 'T', "_text", None),
            (0xffffffff81000000, 'T', "_stext", None),
            (0xffffffff81000100, 't', "core_fn", None),
            (0xffffffff81000200, 't', "ext4_fn", None),
            (0xffffffff81000300, 't', "ext4_fn2", None),
            (0xffffffff81000400, 't', "after", None),
            (0xffffffff81001000, 'T', "_etext", None),
            (0xffffffffc0000000, 't', "modfn", Some("m")),
            (0xffffffffc0000100, 't', "modfn2", Some("m")),
        ])
    }

    #[test]
    fn real_sizes_bound_lookups() {
        let t = table();
        let modfn = t.find("modfn").next().unwrap().id;
        assert_eq!(t.lookup(0xffffffffc0000080).unwrap().name, "modfn");
        let t = t.with_real_sizes(&[(modfn, 0x40), (SymbolId(u32::MAX), 5)]);
        assert_eq!(t.real_size(modfn), Some(0x40));
        assert_eq!(t.real_size_count(), 1);
        let s = t.lookup(0xffffffffc0000010).unwrap();
        assert_eq!(s.to_string(), "modfn+0x10/0x40 [m]");
        assert!(t.lookup(0xffffffffc0000040).is_none(), "past the real end");
        assert_eq!(t.find("modfn").next().unwrap().size, 0x40);
        // A nested symbol inside a bigger one: the bigger one covers past it.
        let inner = t.find("ext4_fn2").next().unwrap().id;
        let outer = t.find("ext4_fn").next().unwrap().id;
        let t = t.with_real_sizes(&[(outer, 0x180), (inner, 0x10)]);
        assert_eq!(t.lookup(0xffffffff81000308).unwrap().name, "ext4_fn2");
        let s = t.lookup(0xffffffff81000318).unwrap();
        assert_eq!((s.name, s.offset, s.size), ("ext4_fn", 0x118, 0x180));
        assert!(t.lookup(0xffffffff81000380).is_none());
        // Clones answer the same.
        let c = t.clone();
        assert_eq!(c.lookup(0xffffffff81000318).unwrap().name, "ext4_fn");
    }

    proptest::proptest! {
        /// Lookups with random real sizes against a naive oracle of the
        /// documented rule (no section markers: derived sizes run to the
        /// next start, the last one to the core cap).
        #[test]
        fn real_size_rule_matches_an_oracle(
            gaps in proptest::collection::vec(0u64..0x40, 1..40),
            sizes in proptest::collection::vec(proptest::option::of(0u64..0x90), 40),
            probes in proptest::collection::vec(0u64..0x800, 64),
        ) {
            const BASE: u64 = 0xffff_ffff_8100_0000;
            let mut addrs = Vec::new();
            let mut a = BASE;
            for g in &gaps {
                a += g; // a zero gap makes an alias
                addrs.push(a);
            }
            let names: Vec<String> = (0..addrs.len()).map(|i| format!("s{i}")).collect();
            let symbols: Vec<(u64, char, &str, Option<&str>)> = addrs
                .iter()
                .zip(&names)
                .map(|(&a, n)| (a, 't', n.as_str(), None))
                .collect();
            let t = crate::table::table_of(&symbols);
            let given: Vec<(SymbolId, u64)> = (0..addrs.len())
                .filter_map(|i| sizes[i].map(|s| (SymbolId(i as u32), s)))
                .collect();
            let t = t.with_real_sizes(&given);
            let real = |i: usize| sizes[i].filter(|&s| s > 0);
            let n = addrs.len();
            let group_of = |i: usize| {
                let first = (0..=i).rev().take_while(|&j| addrs[j] == addrs[i]).last().unwrap();
                let last = (i..n).take_while(|&j| addrs[j] == addrs[i]).last().unwrap();
                (first, last)
            };
            let group_size = |first: usize, last: usize| {
                let derived = addrs.get(last + 1).map_or(crate::table::CORE_SIZE_CAP, |&nx| nx - addrs[first]);
                (first..=last).filter_map(real).max().unwrap_or(derived)
            };
            for &p in &probes {
                let addr = BASE + p;
                let expect = match (0..n).rev().find(|&i| addrs[i] <= addr) {
                    None => None,
                    Some(i) => {
                        let (first, last) = group_of(i);
                        let size = group_size(first, last);
                        let start = addrs[first];
                        if addr - start < size {
                            Some((first, start, size))
                        } else {
                            (first.saturating_sub(COVER)..first)
                                .rev()
                                .find(|&j| real(j).is_some_and(|s| addr - addrs[j] < s))
                                .map(|j| (group_of(j).0, addrs[j], real(j).unwrap()))
                        }
                    }
                };
                let got = t.lookup(addr).map(|s| (s.id.0 as usize, s.start, s.size));
                proptest::prop_assert_eq!(got, expect, "addr {:#x}", addr);
            }
            for i in 0..n {
                let (first, last) = group_of(i);
                let expect = real(i).unwrap_or_else(|| group_size(first, last));
                proptest::prop_assert_eq!(t.symbol(SymbolId(i as u32)).unwrap().size, expect);
            }
        }
    }

    const COVER: usize = crate::table::COVER_LOOKBACK;

    #[test]
    fn ranges_give_core_symbols_modules() {
        let t = table();
        let t = t.with_module_ranges(&[
            ModuleRange {
                start: 0xffffffff81000200,
                end: 0xffffffff81000400,
                modules: vec!["ext4".into()],
            },
            // Loadable module symbols keep their module.
            ModuleRange {
                start: 0xffffffffc0000000,
                end: 0xffffffffc0001000,
                modules: vec!["other".into()],
            },
        ]);
        let s = t.lookup(0xffffffff81000210).unwrap();
        assert_eq!(s.to_string(), "ext4_fn+0x10/0x100 [ext4]");
        assert_eq!(t.lookup(0xffffffff81000410).unwrap().module, None);
        assert_eq!(t.lookup(0xffffffff81000110).unwrap().module, None);
        assert_eq!(t.lookup(0xffffffffc0000010).unwrap().module, Some("m"));
        assert_eq!(t.find_in(Some("ext4"), "ext4_fn2").count(), 1);
        let ids: Vec<_> = t
            .module_symbol_ids("ext4")
            .iter()
            .map(|&id| t.symbol(id).unwrap().name)
            .collect();
        assert_eq!(ids, ["ext4_fn", "ext4_fn2"]);
        assert!(t.module_names().any(|m| m == "ext4"));
    }
}
