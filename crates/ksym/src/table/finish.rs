//! The table builder's last stage, [`TableBuilder::build`]: sorting the
//! symbols by address and laying out the columns, the address index and the
//! size bounds of a [`SymbolTable`].

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::table::address_index::{buckets, fences_lo};
use crate::table::bounds::flatten_bounds;
use crate::table::build::CORE_SECTIONS;
use crate::table::column::Column;
use crate::table::{
    Block, Extra, ModuleRun, NameOnly, SlotRec, SymbolTable, TableBuilder, TableInfo, FENCE, NONE,
};

impl TableBuilder {
    /// Sorts, lays out and indexes what was pushed.
    pub fn build(mut self, info: TableInfo) -> Result<SymbolTable> {
        let n = self.addrs.len();
        if self.overflow || n >= NONE as usize {
            return Err(Error::TooLarge {
                source_name: info.source,
                what: "more than 4 GiB of names or 2^32 symbols",
            });
        }
        self.unname_outside_kernel_ranges();
        let mut order: Vec<u32> = Vec::with_capacity(n);
        let mut others: Vec<u32> = Vec::new();
        for i in 0..n {
            if self.answers[i] {
                order.push(i as u32);
            } else {
                others.push(i as u32);
            }
        }
        // Stable: aliases keep input order. kallsyms is the sorted core
        // followed by modules in their own order: only the part after the
        // sorted prefix is sorted, then merged with it (prefix first on ties).
        let addr = |i: u32| self.addrs[i as usize];
        let prefix = order
            .windows(2)
            .position(|w| addr(w[0]) > addr(w[1]))
            .map_or(order.len(), |p| p + 1);
        if prefix < order.len() {
            let rest = sort_by_address(&order[prefix..], &self.addrs);
            order.truncate(prefix);
            let mut merged = Vec::with_capacity(order.len() + rest.len());
            let (mut a, mut b) = (0, 0);
            while a < order.len() && b < rest.len() {
                if addr(rest[b]) < addr(order[a]) {
                    merged.push(rest[b]);
                    b += 1;
                } else {
                    merged.push(order[a]);
                    a += 1;
                }
            }
            merged.extend_from_slice(&order[a..]);
            merged.extend_from_slice(&rest[b..]);
            order = merged;
        }
        others.sort_by_key(|&i| self.addrs[i as usize]);

        let mut blocks: Vec<Block> = Vec::new();
        let mut addr_lo = Vec::with_capacity(order.len());
        let mut name_off = Vec::with_capacity(order.len());
        let mut name_len: Vec<u8> = Vec::with_capacity(order.len());
        let mut kind = Vec::with_capacity(order.len());
        let mut runs: Vec<ModuleRun> = Vec::new();
        for (id, &i) in order.iter().enumerate() {
            let i = i as usize;
            let addr = self.addrs[i];
            let hi = (addr >> 32) as u32;
            if blocks.last().is_none_or(|b| b.hi != hi) {
                blocks.push(Block {
                    hi,
                    first: id as u32,
                });
            }
            addr_lo.push(addr as u32);
            name_off.push(self.name_offs[i]);
            name_len.push(self.name_lens[i]);
            kind.push(self.kinds[i]);
            let slot = self.slot_of[i];
            if runs.last().is_none_or(|r| r.slot != slot) {
                runs.push(ModuleRun {
                    first: id as u32,
                    slot,
                });
            }
        }
        let name_only: Vec<NameOnly> = others
            .iter()
            .map(|&i| {
                let i = i as usize;
                NameOnly {
                    addr: self.addrs[i],
                    name: self.name_offs[i],
                    meta: self.slot_of[i] << 8 | u32::from(self.kinds[i]),
                }
            })
            .collect();

        // Extras move from input index to symbol id.
        let mut extras: Vec<Extra> = Vec::new();
        if !self.extras.is_empty() {
            let mut id_of = vec![NONE; n];
            for (id, &i) in order.iter().chain(others.iter()).enumerate() {
                id_of[i as usize] = id as u32;
            }
            extras = self
                .extras
                .iter()
                .map(|e| Extra {
                    id: id_of[e.id as usize],
                    ..*e
                })
                .collect();
            extras.sort_by_key(|e| e.id);
        }

        // Bounds: core sections from their markers, modules from their areas.
        let mut bounds: Vec<(u64, u64)> = Vec::new();
        let mut section_ends = Vec::new();
        for [s, e] in self.markers {
            if let (Some(s), Some(e)) = (s, e) {
                if s < e {
                    bounds.push((s, e));
                    section_ends.push(e);
                }
            }
        }
        for slot in &self.slots {
            if !slot.loadable {
                continue;
            }
            if let Some(m) = slot.names.first().and_then(|n| self.modules.get(n)) {
                bounds.extend(m.bounds());
            }
        }
        section_ends.sort_unstable();
        section_ends.dedup();

        // Module names join the arena, so a snapshot needs no other strings.
        let mut slots = Vec::with_capacity(self.slots.len());
        let mut slot_names = Vec::new();
        for slot in std::mem::take(&mut self.slots) {
            let first_len = slot.names.first().map_or(0, |n| n.len());
            slots.push(SlotRec::new(
                slot_names.len(),
                slot.names.len(),
                first_len,
                slot.loadable,
            ));
            for name in slot.names.iter().take(u16::MAX as usize) {
                slot_names.push(self.intern_string(name.as_bytes()));
            }
        }
        if self.overflow {
            return Err(Error::TooLarge {
                source_name: info.source,
                what: "more than 4 GiB of names",
            });
        }
        let segments = flatten_bounds(&bounds);
        let packed_names = self.arena.len() < 1 << 24;
        if packed_names {
            for (off, &len) in name_off.iter_mut().zip(&name_len) {
                *off |= u32::from(len) << 24;
            }
        }
        drop(name_len);
        let names_ascii = OnceLock::new();
        let _ = names_ascii.set(self.arena_ascii);
        let fences: Vec<u64> = order
            .iter()
            .step_by(FENCE)
            .map(|&i| self.addrs[i as usize])
            .collect();
        let (bucket_spans, bucket_first) = buckets(&blocks, &addr_lo);
        let mut table = SymbolTable {
            bucket_spans: bucket_spans.into(),
            bucket_first: bucket_first.into(),
            fences_lo: fences_lo(&blocks, &fences),
            fences: fences.into(),
            blocks: blocks.into(),
            addr_lo: addr_lo.into(),
            name_off: name_off.into(),
            packed_names,
            names_ascii,
            kind: kind.into(),
            runs: runs.into(),
            segments: segments.into(),
            section_ends: section_ends.into(),
            name_only: name_only.into(),
            names: std::mem::take(&mut self.arena).into(),
            slots: slots.into(),
            slot_names: slot_names.into(),
            extras: extras.into(),
            real_sizes: Column::default(),
            modules: self.modules,
            info,
            name_index: OnceLock::new(),
            serial: crate::table::next_serial(),
            // Every name is NUL-terminated in the arena; one that is not
            // UTF-8 is handed out as `?`, so only an ASCII arena is sure.
            c_strings: match self.arena_ascii {
                true => OnceLock::from(true),
                false => OnceLock::new(),
            },
            section_spans: OnceLock::new(),
            bpf_lines: None,
        };
        table.mark_bounded();
        Ok(table)
    }
}

/// `ids` (input indexes, in input order) sorted by their address in
/// `addrs`, stably: equal addresses keep input order.
///
/// When they share their high 32 bits (every module symbol on x86_64), a
/// radix sort of the low halves in 11-bit digits, as few passes as their
/// span needs (three for 6.12's 75k module symbols); else a comparison sort
/// of (address, index) pairs.
fn sort_by_address(ids: &[u32], addrs: &[u64]) -> Vec<u32> {
    const BITS: u32 = 11;
    const DIGITS: usize = 1 << BITS;
    let addr = |i: u32| addrs[i as usize];
    let Some(&first) = ids.first() else {
        return Vec::new();
    };
    let hi = addr(first) >> 32;
    if ids.iter().any(|&i| addr(i) >> 32 != hi) {
        let mut keyed: Vec<(u64, u32)> = ids.iter().map(|&i| (addr(i), i)).collect();
        keyed.sort_unstable();
        return keyed.into_iter().map(|(_, i)| i).collect();
    }
    let low = ids.iter().map(|&i| addr(i) as u32).min().unwrap_or(0);
    let high = ids.iter().map(|&i| addr(i) as u32).max().unwrap_or(0);
    let passes = (32 - (high - low).leading_zeros()).div_ceil(BITS);
    // Keys: the distance from `low` above, the index below.
    let mut keys: Vec<u64> = ids
        .iter()
        .map(|&i| (u64::from(addr(i) as u32 - low) << 32) | u64::from(i))
        .collect();
    let mut spare = vec![0u64; keys.len()];
    for pass in 0..passes {
        let shift = 32 + BITS * pass;
        let digit = |k: u64| (k >> shift) as usize & (DIGITS - 1);
        let mut next = [0usize; DIGITS];
        for &k in &keys {
            next[digit(k)] += 1;
        }
        let mut sum = 0;
        for slot in next.iter_mut() {
            (*slot, sum) = (sum, sum + *slot);
        }
        for &k in &keys {
            let d = digit(k);
            spare[next[d]] = k;
            next[d] += 1;
        }
        std::mem::swap(&mut keys, &mut spare);
    }
    keys.into_iter().map(|k| k as u32).collect()
}

impl TableBuilder {
    /// The core addresses the kernel names (see "Which addresses name a
    /// symbol" in the module doc): `[_stext, _end)` when the symbols reach
    /// `_end` (`CONFIG_KALLSYMS_ALL`), else the text and init text; `None`
    /// when the markers are missing (a partial or synthetic input).
    fn kernel_ranges(&self) -> Option<Vec<(u64, u64)>> {
        let marker = |name: &str| {
            CORE_SECTIONS
                .iter()
                .enumerate()
                .find_map(|(k, (start, end))| match name {
                    n if n == *start => self.markers[k][0],
                    n if n == *end => self.markers[k][1],
                    _ => None,
                })
        };
        let stext = marker("_stext")?;
        if let Some(end) = marker("_end").filter(|&e| e > stext) {
            return Some(vec![(stext, end)]);
        }
        let mut ranges = vec![(stext, marker("_etext").filter(|&e| e > stext)?)];
        if let (Some(s), Some(e)) = (marker("_sinittext"), marker("_einittext")) {
            ranges.push((s, e));
        }
        Some(ranges)
    }

    /// Core symbols outside the addresses the kernel names are kept, found
    /// by name, but answer no address (as `%pS` prints those raw).
    fn unname_outside_kernel_ranges(&mut self) {
        let Some(ranges) = self.kernel_ranges() else {
            return;
        };
        let inside = |a: u64| ranges.iter().any(|&(s, e)| s <= a && a < e);
        for i in 0..self.addrs.len() {
            let core = !self.slots[self.slot_of[i] as usize].loadable;
            if self.answers[i] && core && !inside(self.addrs[i]) {
                self.answers[i] = false;
            }
        }
    }
}
