//! The table builder's first stage: taking parsed lines one by one (or whole
//! parts parsed on other threads), interning names and module slots into one
//! arena. [`TableBuilder::build`] (in `finish.rs`) lays out the table.

use rustc_hash::FxHashMap;

use crate::parse::{ModuleMap, RawSymbol, SymbolSink};
use crate::table::{hash_bytes, Extra, NONE};

/// Pairs of core kernel markers that delimit sections: a core symbol inside
/// one never extends past its end.
pub(super) const CORE_SECTIONS: &[(&str, &str)] = &[
    ("_stext", "_etext"),
    ("_sinittext", "_einittext"),
    ("__start_rodata", "__end_rodata"),
    ("_sdata", "_edata"),
    ("__init_begin", "__init_end"),
    ("__bss_start", "__bss_stop"),
    ("_text", "_end"),
];

/// A module slot while building.
#[derive(Debug, Clone, Default)]
pub(super) struct BuilderSlot {
    pub(super) names: Box<[Box<str>]>,
    pub(super) loadable: bool,
}

/// Collects parsed symbols, then builds a [`SymbolTable`](crate::table::SymbolTable).
pub struct TableBuilder {
    pub(super) addrs: Vec<u64>,
    pub(super) kinds: Vec<u8>,
    pub(super) name_offs: Vec<u32>,
    /// Name lengths, capped at 255, for packing into `name_off`.
    pub(super) name_lens: Vec<u8>,
    /// Whether each symbol may answer an address lookup (decided while its
    /// name is at hand, not by reading the arena again).
    pub(super) answers: Vec<bool>,
    /// The first address of each core section marker, by its index in
    /// `CORE_SECTIONS` (start, end).
    pub(super) markers: [[Option<u64>; 2]; CORE_SECTIONS.len()],
    pub(super) slot_of: Vec<u32>,
    pub(super) arena: Vec<u8>,
    /// The last name pushed, if it was `__pfx_*`: (arena offset, length).
    last_pfx: Option<(u32, u32)>,
    /// `__pfx_` names of module symbols, by the hash of the name they pad:
    /// module symbol tables do not keep the pair adjacent.
    pfx_by_hash: FxHashMap<u64, u32>,
    pub(super) slots: Vec<BuilderSlot>,
    slot_ids: FxHashMap<(Box<str>, bool), u32>,
    last_slot: Option<u32>,
    /// Extras by input index.
    pub(super) extras: Vec<Extra>,
    strings: FxHashMap<Box<[u8]>, u32>,
    pub(super) modules: ModuleMap,
    pub(super) overflow: bool,
    any_nonzero: bool,
    /// Whether every string in the arena is ASCII (checked as each is
    /// added, on the parse threads, rather than over the arena at the end).
    pub(super) arena_ascii: bool,
}

impl Default for TableBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SymbolSink for TableBuilder {
    #[inline]
    fn push(&mut self, sym: &RawSymbol<'_>) {
        self.push_line(sym)
    }
}

impl TableBuilder {
    pub fn new() -> Self {
        TableBuilder {
            addrs: Vec::new(),
            kinds: Vec::new(),
            name_offs: Vec::new(),
            name_lens: Vec::new(),
            answers: Vec::new(),
            markers: [[None; 2]; CORE_SECTIONS.len()],
            slot_of: Vec::new(),
            arena: Vec::new(),
            last_pfx: None,
            pfx_by_hash: FxHashMap::default(),
            slots: vec![BuilderSlot::default()],
            slot_ids: FxHashMap::default(),
            last_slot: None,
            extras: Vec::new(),
            strings: FxHashMap::default(),
            modules: ModuleMap::default(),
            overflow: false,
            any_nonzero: false,
            arena_ascii: true,
        }
    }

    /// Reserves room for about `lines` symbols of `bytes` input.
    pub fn reserve(&mut self, lines: usize, bytes: usize) {
        self.addrs.reserve(lines);
        self.kinds.reserve(lines);
        self.name_offs.reserve(lines);
        self.name_lens.reserve(lines);
        self.answers.reserve(lines);
        self.slot_of.reserve(lines);
        // Names are 40-56% of real kallsyms text (less where `__pfx_foo`
        // shares `foo`'s bytes); past that, `append_name` grows by a
        // quarter, not twice over.
        self.arena.reserve(bytes / 2);
    }

    /// Appends what `other` collected, as if its lines had been pushed here
    /// after ours (for input parsed in parts on several threads). Only the
    /// sharing of bytes between names may differ: `__pfx_foo` in one part
    /// and `foo` in another keep their own copies.
    pub(crate) fn append(&mut self, other: TableBuilder) {
        let base_id = self.addrs.len() as u32;
        let base = self.arena.len() as u64;
        let shift = |off: u32| {
            if off == NONE {
                NONE
            } else {
                u32::try_from(u64::from(off) + base).unwrap_or(NONE)
            }
        };
        if base + other.arena.len() as u64 > u64::from(u32::MAX) {
            self.overflow = true;
        }
        // Exactly the room needed: `Vec` would double a megabytes-long
        // arena that the first part's estimate fell short of.
        self.arena.reserve_exact(other.arena.len());
        self.addrs.reserve_exact(other.addrs.len());
        self.arena.extend_from_slice(&other.arena);
        self.addrs.extend_from_slice(&other.addrs);
        self.kinds.extend_from_slice(&other.kinds);
        self.name_offs
            .extend(other.name_offs.iter().map(|&o| shift(o)));
        self.name_lens.extend_from_slice(&other.name_lens);
        self.answers.extend_from_slice(&other.answers);
        for (mine, theirs) in self.markers.iter_mut().zip(other.markers) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m = match (*m, t) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        // Their slots become ours, matched by their names and kind.
        let slot_map: Vec<u32> = other
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                if i == 0 {
                    return 0; // the core kernel
                }
                self.slot_id(&slot.names, slot.loadable)
            })
            .collect();
        self.slot_of
            .extend(other.slot_of.iter().map(|&s| slot_map[s as usize]));
        self.last_slot = other.last_slot.map(|s| slot_map[s as usize]);
        self.extras.extend(other.extras.iter().map(|e| Extra {
            id: e.id + base_id,
            object: shift(e.object),
            path: shift(e.path),
        }));
        for (string, off) in other.strings {
            self.strings.entry(string).or_insert(shift(off));
        }
        // Their `__pfx_` names by hash are not taken in (a third of the join's
        // time): names pushed after this share bytes with ours only.
        self.last_pfx = other.last_pfx.map(|(off, len)| (shift(off), len));
        self.overflow |= other.overflow;
        self.any_nonzero |= other.any_nonzero;
        self.arena_ascii &= other.arena_ascii;
    }

    /// Module extents or areas that bound module symbols.
    pub fn set_modules(&mut self, modules: ModuleMap) {
        self.modules = modules;
    }

    /// How many symbols so far.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// Whether symbols were pushed and every one is at address zero: what a
    /// reader without CAP_SYSLOG (or under `kptr_restrict`) sees.
    pub fn all_addresses_zero(&self) -> bool {
        !self.addrs.is_empty() && !self.any_nonzero
    }

    fn append_name(&mut self, name: &[u8]) -> u32 {
        self.arena_ascii &= name.is_ascii();
        let off = self.arena.len();
        if self.arena.capacity() - off <= name.len() {
            // A quarter more, where `Vec` would double: the arena of a
            // large input is megabytes (arm64 6.12: 3.4 MB, not 5.5).
            self.arena.reserve_exact((off / 4).max(name.len() + 1));
        }
        self.arena.extend_from_slice(name);
        self.arena.push(0);
        if self.arena.len() > u32::MAX as usize {
            self.overflow = true;
        }
        off as u32
    }

    pub(super) fn intern_string(&mut self, s: &[u8]) -> u32 {
        if let Some(&off) = self.strings.get(s) {
            return off;
        }
        let off = self.append_name(s);
        self.strings.insert(s.into(), off);
        off
    }

    fn name_offset(&mut self, bytes: &[u8], loadable_module: bool, kind: u8) -> u32 {
        if let Some(stripped) = bytes.strip_prefix(b"__pfx_") {
            let off = self.append_name(bytes);
            self.last_pfx = Some((off, bytes.len() as u32));
            if loadable_module {
                self.pfx_by_hash.insert(hash_bytes(stripped), off);
            }
            return off;
        }
        let last_pfx = self.last_pfx.take();
        // The core is sorted by address, so `__pfx_foo` comes right before `foo`.
        if let Some((off, len)) = last_pfx {
            if len as usize == bytes.len() + 6 && self.pfx_suffix_is(off, bytes) {
                return off + 6;
            }
        }
        if loadable_module && matches!(kind, b't' | b'T' | b'w' | b'W') {
            if let Some(&off) = self.pfx_by_hash.get(&hash_bytes(bytes)) {
                let s = (off + 6) as usize;
                if self.arena.get(s + bytes.len()) == Some(&0) && self.pfx_suffix_is(off, bytes) {
                    return off + 6;
                }
            }
        }
        self.append_name(bytes)
    }

    fn pfx_suffix_is(&self, pfx_off: u32, name: &[u8]) -> bool {
        let s = pfx_off as usize + 6;
        self.arena.get(s..s + name.len()) == Some(name)
    }

    /// The module slot of a line: the last one again when the line names the
    /// same single module (lines of one module come together), else found or
    /// made by name.
    fn slot_for(&mut self, sym: &RawSymbol<'_>) -> u32 {
        let Some(first) = sym.modules.first() else {
            return 0;
        };
        if sym.modules.count == 1 {
            if let Some(id) = self.last_slot {
                let s = &self.slots[id as usize];
                if s.names.len() == 1 && *s.names[0] == *first && s.loadable == sym.has_tab_module {
                    return id;
                }
            }
        }
        let names: Vec<&str> = sym.modules.iter().collect();
        let id = self.slot_id(&names, sym.has_tab_module);
        self.last_slot = Some(id);
        id
    }

    /// The slot of these module names of this kind, made if new.
    fn slot_id<S: AsRef<str>>(&mut self, names: &[S], loadable: bool) -> u32 {
        let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        let key: Box<str> = names.join(" ").into();
        let next_id = self.slots.len() as u32;
        let id = *self.slot_ids.entry((key, loadable)).or_insert(next_id);
        if id == next_id {
            self.slots.push(BuilderSlot {
                names: names.iter().map(|&n| n.into()).collect(),
                loadable,
            });
        }
        id
    }

    /// Adds one parsed line.
    pub(crate) fn push(&mut self, sym: &RawSymbol<'_>) {
        self.push_line(sym)
    }

    fn push_line(&mut self, sym: &RawSymbol<'_>) {
        let slot = self.slot_for(sym);
        let loadable = slot != 0 && self.slots[slot as usize].loadable;
        let name = self.name_offset(sym.name, loadable, sym.kind);
        if sym.object.is_some() || sym.path.is_some() {
            let object = sym
                .object
                .map_or(NONE, |o| self.intern_string(o.as_bytes()));
            let path = sym.path.map_or(NONE, |p| self.intern_string(p));
            self.extras.push(Extra {
                id: self.addrs.len() as u32,
                object,
                path,
            });
        }
        self.any_nonzero |= sym.addr != 0;
        self.addrs.push(sym.addr);
        self.kinds.push(sym.kind);
        self.name_offs.push(name);
        self.name_lens.push(sym.name.len().min(255) as u8);
        self.answers.push(
            !(matches!(sym.kind, b'A' | b'a' | b'U' | b'u' | b'N' | b'n')
                || is_mapping_symbol(sym.name)),
        );
        // Section markers are short `_` names of the core (or of a built-in
        // module in kallmodsyms): most names fail the first tests.
        let answers = *self.answers.last().expect("just pushed");
        if answers && sym.name.len() <= 16 && sym.name.first() == Some(&b'_') && !loadable {
            for (k, pair) in CORE_SECTIONS.iter().enumerate() {
                for (j, m) in [pair.0, pair.1].into_iter().enumerate() {
                    if m.as_bytes() == sym.name {
                        // A repeated marker counts at its lowest address.
                        let at = &mut self.markers[k][j];
                        *at = Some(at.map_or(sym.addr, |a| a.min(sym.addr)));
                    }
                }
            }
        }
        self.slot_of.push(slot);
    }

    /// Adds one symbol given by its parts (for tests and other sources).
    pub fn add(&mut self, addr: u64, kind: char, name: &str, module: Option<&str>) {
        let line = match module {
            Some(m) => format!("{addr:016x} {kind} {name}\t[{m}]"),
            None => format!("{addr:016x} {kind} {name}"),
        };
        if let Ok(sym) = crate::parse::parse_checked_line(line.as_bytes()) {
            self.last_slot = None;
            self.push(&sym);
        }
    }
}

/// The kernel's `is_mapping_symbol`: `.L*` local labels, `L0*` and `$x`-style
/// ARM mapping symbols never name an address.
pub(crate) fn is_mapping_symbol(name: &[u8]) -> bool {
    name.starts_with(b".L") || name.starts_with(b"L0") || name.first() == Some(&b'$')
}
