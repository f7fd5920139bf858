//! Lookups by name: `find`, `find_in`, `repeated_names`, and the name index
//! (a hash table of ids) they build on first use.

use rustc_hash::FxHashMap;

use crate::table::build::is_mapping_symbol;
use crate::table::column::Column;
use crate::table::{hash_bytes, Symbol, SymbolId, SymbolTable, NONE};

impl SymbolTable {
    /// The name index, built now if it was not yet.
    pub(crate) fn name_index_built(&self) -> &NameIndex {
        self.name_index()
    }

    fn name_index(&self) -> &NameIndex {
        self.name_index.get_or_init(|| NameIndex::build(self))
    }

    pub(crate) fn name_of_id(&self, id: u32) -> &str {
        let id = id as usize;
        match id.checked_sub(self.name_off.len()) {
            None => self.name_ref(self.name_off[id]),
            Some(i) => self.name_at(self.name_only.get(i).map_or(NONE, |s| s.name)),
        }
    }

    /// Every symbol of this name, in address order. Mapping symbols (`$x`,
    /// `$d`, `.L*`) are never found: they name no code or data, and arm64
    /// modules have one at every section start.
    pub fn find<'t, 'n>(&'t self, name: &'n str) -> impl Iterator<Item = Symbol<'t>> + use<'t, 'n> {
        let index = self.name_index();
        let mapping = is_mapping_symbol(name.as_bytes());
        index
            .probe(name)
            .filter(move |_| !mapping)
            .filter(move |&id| self.name_of_id(id) == name)
            .filter_map(move |id| self.symbol(SymbolId(id)))
    }

    /// Every symbol of this name in this module (`None` for the core kernel).
    pub fn find_in<'t, 'n>(
        &'t self,
        module: Option<&'n str>,
        name: &'n str,
    ) -> impl Iterator<Item = Symbol<'t>> + use<'t, 'n> {
        self.find(name).filter(move |s| match module {
            None => s.module.is_none(),
            Some(m) => self.modules_of(s.id).any(|n| n == m),
        })
    }

    /// Where the core kernel's `_text` is (the KASLR slide's anchor), the
    /// first in address order. Found without the name index, which a
    /// table only asked by address never needs: `_text` is among the first
    /// core symbols (scanned by name alone until then).
    pub fn core_text(&self) -> Option<u64> {
        let id = (0..self.len() as u32).find(|&id| self.name_of_id(id) == "_text")?;
        let first = self.symbol(SymbolId(id)).filter(|s| s.module.is_none());
        match first {
            Some(s) => Some(s.start),
            // A module's `_text` first (no kernel has one): ask the index.
            None => self.find_in(None, "_text").next().map(|s| s.start),
        }
    }

    /// Where the core kernel's `_text` is for these symbols (the KASLR
    /// slide's anchor against a vmlinux, a line table or a known link
    /// address): [`SymbolTable::core_text`], else worked out from `_stext`
    /// by its architecture's fixed distance between the two (arm64 6.1
    /// lists only `[_stext, _etext)`).
    pub fn text_anchor(&self) -> Option<u64> {
        self.core_text().or_else(|| {
            let stext = self.find_in(None, "_stext").next()?.start;
            let arch = crate::parse::arch::arch_of_text(stext)?;
            Some(stext.wrapping_sub(arch.stext_after_text))
        })
    }

    /// Names that more than one symbol carries, with their counts, sorted
    /// by name (mapping symbols aside).
    pub fn repeated_names(&self) -> Vec<(&str, usize)> {
        let mut counts: FxHashMap<&str, usize> = FxHashMap::default();
        for id in 0..self.len() as u32 {
            let name = self.name_of_id(id);
            // Mapping symbols are never looked up: their repeats are no
            // ambiguity.
            if !is_mapping_symbol(name.as_bytes()) {
                *counts.entry(name).or_default() += 1;
            }
        }
        let mut v: Vec<(&str, usize)> = counts.into_iter().filter(|&(_, c)| c > 1).collect();
        v.sort_unstable();
        v
    }
}

/// An open-addressing hash table of symbol ids keyed by name, about 5.3
/// bytes a symbol.
///
/// - Load factor 3/4 with any table size (no rounding to a power of two:
///   the home slot is `hash * len >> 64`).
/// - A slot holds a 24-bit id and an 8-bit tag from the name's hash, so a
///   probe rejects 255 of 256 strangers without touching the name arena.
///   Tables of 2^24 symbols or more use whole 32-bit ids and no tags.
/// - Ids are inserted in address order, and linear probing keeps that order
///   along a probe sequence, so `find` yields duplicates in address order
///   without sorting.
#[derive(Clone)]
pub(crate) struct NameIndex {
    pub(crate) slots: Column<u32>,
    /// Whether slots carry tags (`id < 2^24`).
    pub(crate) tagged: bool,
}

const ID_BITS: u32 = 24;
const ID_MASK: u32 = (1 << ID_BITS) - 1;

impl NameIndex {
    fn build(table: &SymbolTable) -> NameIndex {
        let n = table.len();
        let cap = (n + n / 3 + 1).max(8);
        let mut slots = vec![NONE; cap];
        let tagged = n < ID_MASK as usize;
        let probe = NameIndex {
            slots: Column::default(),
            tagged,
        };
        // Merge the two address-ordered id ranges.
        let answering = table.addr_lo.len();
        let mut a = 0usize;
        let mut o = 0usize;
        let mut a_block = 0usize;
        while a < answering || o < table.name_only.len() {
            let take_a = if a < answering && o < table.name_only.len() {
                while a >= table.block_end(a_block) {
                    a_block += 1;
                }
                table.addr_in_block(a_block, a) <= table.name_only[o].addr
            } else {
                a < answering
            };
            let id = if take_a {
                a += 1;
                a - 1
            } else {
                o += 1;
                answering + o - 1
            };
            let name = table.name_of_id(id as u32);
            if is_mapping_symbol(name.as_bytes()) {
                continue; // never found (see `find`)
            }
            let (mut pos, tag) = probe.home(name, cap);
            while slots[pos] != NONE {
                pos += 1;
                if pos == cap {
                    pos = 0;
                }
            }
            slots[pos] = tag | id as u32;
        }
        NameIndex {
            slots: slots.into(),
            tagged,
        }
    }

    /// The home slot and the tag bits of a name.
    #[inline]
    fn home(&self, name: &str, len: usize) -> (usize, u32) {
        let h = hash_bytes(name.as_bytes()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let home = ((u128::from(h) * len as u128) >> 64) as usize;
        let tag = if self.tagged {
            ((h >> 24) as u32 & 0xff) << ID_BITS
        } else {
            0
        };
        (home, tag)
    }

    /// Ids along `name`'s probe sequence whose tag matches, up to the first
    /// empty slot. The caller compares the names.
    pub(crate) fn probe(&self, name: &str) -> impl Iterator<Item = u32> + '_ {
        let (home, tag) = self.home(name, self.slots.len());
        let (high, low) = self.slots.split_at(home.min(self.slots.len()));
        let tagged = self.tagged;
        low.iter()
            .chain(high)
            .take_while(|&&slot| slot != NONE)
            .filter_map(move |&slot| match tagged {
                true => (slot & !ID_MASK == tag).then_some(slot & ID_MASK),
                false => Some(slot),
            })
    }
}
