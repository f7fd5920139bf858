//! The symbol table: built once from parsed lines, then immutable and shared.
//!
//! # Layout
//!
//! Laid out like the kernel's own kallsyms, for the cache rather than for
//! the programmer:
//!
//! - Symbols that can answer an address lookup are sorted by address (ties
//!   keep input order: the kernel prints the first alias) and take ids
//!   `0..answerable`. Their addresses are stored as `u32` low halves in
//!   `addr_lo`, grouped in `Block`s that share the high 32 bits: on x86_64
//!   the whole kernel and its modules are one block, so the array that the
//!   binary search walks is 4 bytes a symbol (0.5-1 MB for 120k-240k symbols).
//! - Over the dense stretches of addresses (runs of symbols without a wide
//!   gap: the core kernel, the module area), a direct index of buckets
//!   (`BucketSpan`, `bucket_first`) replaces the binary search: an
//!   address's bucket gives the few symbols that can hold it. Elsewhere a
//!   search of `fences` (every 32nd address) narrows the search of `addr_lo`
//!   to one window.
//! - Names live in one arena of NUL-terminated strings addressed by `u32`
//!   offsets. `__pfx_foo` and `foo` share bytes: `foo`'s offset points six
//!   bytes into `__pfx_foo` (74k of the 6.12 kernel's 239k names are such
//!   padding symbols).
//! - A symbol's module is a run of the address order (`ModuleRun`), not a
//!   field per symbol.
//! - A symbol's size is derived, not stored: it runs to the next higher
//!   start, bounded by the section or module area holding it (`Segment`),
//!   or by a cap when nothing is known. Real sizes from ELF symbol tables
//!   (see [`elf_sizes`]) are a sparse column by id (`SizeRec`) and win
//!   where known: an address past a known end is no symbol's.
//! - Symbols that must not answer an address lookup (absolute and per-cpu
//!   `A` symbols, `.L` local labels, mapping symbols) are kept apart, sorted by
//!   address, with ids after the others: found by name, never by address
//!   unless asked for.
//! - The name index (a hash table of `u32` ids, ~8 bytes a symbol) is built
//!   on the first name lookup: a profiler that only maps addresses never pays
//!   for it.

use std::fmt;
use std::hash::Hasher;
use std::sync::OnceLock;

use bytemuck::{Pod, Zeroable};
use rustc_hash::{FxHashMap, FxHasher};

mod attach;
pub(crate) mod column;
pub mod elf_sizes;
mod names;

use column::Column;

use crate::error::{Error, ResolveErrorKind, Result};
use crate::parse::{FormatSeen, ModuleMap, RawSymbol, SkippedLines, SymbolSink};

pub use names::{DupInfo, Qualifier, CORE_MODULE};

/// The largest size a core kernel symbol may have when no section bounds it.
pub const CORE_SIZE_CAP: u64 = 16 << 20;
/// The largest size a module symbol may have when no module area bounds it.
pub const MODULE_SIZE_CAP: u64 = 64 << 10;
/// Pseudo-modules (`[bpf]`, `[__builtin__ftrace]`, `[__builtin__kprobes]`)
/// are pages of generated code: their last symbol ends at its page's end.
const PAGE_SIZE: u64 = 4096;

/// Pairs of core kernel markers that delimit sections: a core symbol inside
/// one never extends past its end.
const CORE_SECTIONS: &[(&str, &str)] = &[
    ("_stext", "_etext"),
    ("_sinittext", "_einittext"),
    ("__start_rodata", "__end_rodata"),
    ("_sdata", "_edata"),
    ("__init_begin", "__init_end"),
    ("__bss_start", "__bss_stop"),
    ("_text", "_end"),
];

/// In the type column, the bit (free: types are ASCII letters) that marks
/// the last symbol of an alias group whose end comes from a section, module
/// or cap limit rather than from the next symbol's start.
pub(crate) const BOUNDED: u8 = 0x80;

/// One fence every this many symbols: 32 `u32`s are two cache lines.
pub(crate) const FENCE: usize = 32;

/// Identifies a symbol within one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymbolId(pub u32);

/// One symbol, as a small value borrowing from its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol<'t> {
    pub id: SymbolId,
    pub name: &'t str,
    /// The symbol's first address.
    pub start: u64,
    /// How far into the symbol the looked-up address is (0 from name lookups).
    pub offset: u64,
    /// The symbol's size: its real size when an ELF symbol table gave one,
    /// else up to the next symbol, bounded (see the module doc).
    pub size: u64,
    /// The type letter (`T`, `t`, `d`, ...).
    pub kind: char,
    /// The (first) module, `None` for the core kernel.
    pub module: Option<&'t str>,
    /// The object file, from kallmodsyms' `{object.o}`.
    pub object: Option<&'t str>,
    /// The source path, from the `path/file.c:name` form.
    pub path: Option<&'t str>,
}

impl Symbol<'_> {
    /// The address this symbol was found for: `start + offset`.
    pub fn addr(&self) -> u64 {
        self.start.wrapping_add(self.offset)
    }
}

/// Formats the way the kernel's `%pS` does: `name+0x1b/0x30 [module]`.
impl fmt::Display for Symbol<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:#x}/{:#x}", self.name, self.offset, self.size)?;
        if let Some(m) = self.module {
            write!(f, " [{m}]")?;
        }
        Ok(())
    }
}

// The records below are `repr(C)` and `Pod` without padding: a snapshot
// file holds them as they are in memory.

/// Symbols whose addresses share their high 32 bits: ids `first..` up to the
/// next block's `first`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct Block {
    pub hi: u32,
    pub first: u32,
}

/// From id `first` on (in address order), symbols belong to module slot `slot`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct ModuleRun {
    pub first: u32,
    pub slot: u32,
}

/// Address range `[start, end)` where a symbol starting inside may not end
/// past `limit` (a section end or module area end).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct Segment {
    pub start: u64,
    pub end: u64,
    pub limit: u64,
}

/// One stretch of addresses under the direct address index: addresses
/// `base..base + len`, all in block `block`. Bucket `i` covers
/// `base + (i << shift)` up to the next bucket's start; its entry is
/// `bucket_first[first + i]`, and the entry after it ends it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct BucketSpan {
    pub base: u64,
    pub len: u64,
    pub shift: u32,
    pub block: u32,
    pub first: u32,
    /// The id after the last symbol under this span.
    pub end: u32,
}

/// What a lookup learns from the direct index: the ids `lo..hi` start in
/// the address's bucket (the answer is the last of them at or below the
/// address, else `lo - 1`), all in block `block`; the span's symbols end at
/// id `end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    block: usize,
    lo: usize,
    hi: usize,
    end: usize,
}

/// The direct index covers runs of symbols with no gap wider than this
/// between neighbours (the core kernel is one, the module area another).
const BUCKET_MAX_GAP: u64 = 16 << 20;
/// Runs of fewer symbols are left to the binary search.
const BUCKET_MIN_RUN: usize = 64;
/// Buckets are scanned in groups of this many symbols, counted in one
/// fixed-width pass; buckets of more than `BUCKET_SCAN_MAX` are searched.
const BUCKET_SCAN: usize = 8;
const BUCKET_SCAN_MAX: usize = 128;
/// At most this many runs get buckets (the largest): a lookup checks each.
const BUCKET_MAX_SPANS: usize = 4;

/// A symbol kept for name lookups only. `meta` is `slot << 8 | type letter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct NameOnly {
    pub addr: u64,
    pub name: u32,
    pub meta: u32,
}

impl NameOnly {
    fn kind(&self) -> u8 {
        self.meta as u8
    }

    fn slot(&self) -> u32 {
        self.meta >> 8
    }
}

/// A module slot: the module names a symbol carries (none for the core,
/// one from kallsyms, several from kallmodsyms), as a range of
/// `slot_names` (arena offsets).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct SlotRec {
    pub names_first: u32,
    pub names_count: u16,
    /// 1 when tagged the kallsyms way (`\t[mod]`): a loadable module or a
    /// pseudo-module like `[bpf]`, not a built-in one.
    pub loadable: u8,
    /// The length of the first name (255: as long or longer, find the NUL),
    /// so that a lookup hands out the module name without a scan.
    pub first_len: u8,
}

impl SlotRec {
    /// A slot of `names`, the first of which is `first_len` bytes long.
    pub(crate) fn new(names_first: usize, names: usize, first_len: usize, loadable: bool) -> Self {
        SlotRec {
            names_first: names_first as u32,
            names_count: names.min(u16::MAX as usize) as u16,
            loadable: u8::from(loadable),
            first_len: first_len.min(255) as u8,
        }
    }
}

/// A module slot while building.
#[derive(Debug, Clone, Default)]
struct BuilderSlot {
    names: Box<[Box<str>]>,
    loadable: bool,
}

/// Object file and source path (arena offsets, `NONE` when absent) of
/// symbol `id`, when the input had them.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct Extra {
    pub id: u32,
    pub object: u32,
    pub path: u32,
}

pub(crate) const NONE: u32 = u32::MAX;

/// The real size of symbol `id` (from an ELF symbol table), when known.
/// Sparse, sorted by id: a known real size wins over the derived one.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct SizeRec {
    pub id: u32,
    pub size: u32,
}

/// How many symbols below an address lookup looks back, when the symbol
/// there ends (by its real size) before the address, for an earlier symbol
/// whose real size still covers it.
pub(crate) const COVER_LOOKBACK: usize = 16;

/// A found symbol in 32 bytes (an aligned half cache line), to rebuild its
/// [`Symbol`] later without a search: batches keep one per symbol met and
/// read it back once per frame. Names are arena spans; a length of all ones
/// (a name of 65,535 bytes or more, a module name of 255 or more) means
/// "up to the NUL".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(32))]
pub(crate) struct PackedSymbol {
    pub start: u64,
    pub size: u64,
    pub id: u32,
    name_off: u32,
    /// `NONE` for the core kernel.
    module_off: u32,
    name_len: u16,
    module_len: u8,
    kind: u8,
}

/// Counts about a table and how it was read.
#[derive(Debug, Clone, Default)]
pub struct TableInfo {
    /// Where the symbols came from (a path or `/proc/kallsyms`).
    pub source: String,
    pub format: FormatSeen,
    pub skipped: SkippedLines,
}

/// The immutable symbol table. `Send + Sync`; lookups take `&self`.
///
/// Its arrays are `Column`s: owned when built here, views into the file
/// when mapped from a snapshot; the lookups are the same code either way.
pub struct SymbolTable {
    pub(crate) blocks: Column<Block>,
    /// The full address of every `FENCE`-th symbol: a first search here (a
    /// few KiB, stays in L1/L2) narrows the search of `addr_lo` to one or
    /// two cache lines.
    pub(crate) fences: Column<u64>,
    /// The low halves of `fences` when every symbol is in one block (x86_64:
    /// the kernel and its modules): 4 bytes a fence, so the whole first
    /// search (30 KiB for 240k symbols) stays in L1. Derived, never saved.
    pub(crate) fences_lo: Box<[u32]>,
    /// The direct address index: over the dense stretches of addresses
    /// (the core kernel, the module area), `bucket_first[i]` is the first id
    /// starting at or after bucket `i`'s first address, so a lookup there
    /// reads one entry pair and searches the few symbols between them,
    /// instead of a binary search's dozen dependent loads. About 1.5 bytes
    /// a symbol.
    pub(crate) bucket_spans: Column<BucketSpan>,
    pub(crate) bucket_first: Column<u32>,
    pub(crate) addr_lo: Column<u32>,
    /// Where each name is in `names`. When `packed_names` (an arena under
    /// 16 MiB, every real kernel), the high 8 bits hold the name's length
    /// (255: as long or longer, find the NUL) and the low 24 the offset, so a
    /// lookup hands out the name without touching the arena at all.
    pub(crate) name_off: Column<u32>,
    pub(crate) packed_names: bool,
    /// Whether the whole arena is ASCII (so any name in it is UTF-8 without a
    /// check): known at build, checked once on first use for a mapped table.
    pub(crate) names_ascii: OnceLock<bool>,
    pub(crate) kind: Column<u8>,
    pub(crate) runs: Column<ModuleRun>,
    pub(crate) segments: Column<Segment>,
    /// Addresses that are the end marker of a core section: a symbol there
    /// (like `_etext` or `_end`) has size zero.
    pub(crate) section_ends: Column<u64>,
    pub(crate) name_only: Column<NameOnly>,
    /// NUL-terminated names (and module names, objects, paths), one arena.
    pub(crate) names: Column<u8>,
    pub(crate) slots: Column<SlotRec>,
    pub(crate) slot_names: Column<u32>,
    /// Sparse, sorted by id; empty for plain kallsyms.
    pub(crate) extras: Column<Extra>,
    /// Real sizes (ELF `st_size`), sparse, sorted by id; empty unless an
    /// ELF symbol table was applied.
    pub(crate) real_sizes: Column<SizeRec>,
    pub(crate) modules: ModuleMap,
    pub(crate) info: TableInfo,
    pub(crate) name_index: OnceLock<NameIndex>,
}

impl Clone for SymbolTable {
    /// Owned arrays are copied; a mapped table's arrays keep sharing the mapping.
    fn clone(&self) -> Self {
        SymbolTable {
            blocks: self.blocks.clone(),
            fences: self.fences.clone(),
            fences_lo: self.fences_lo.clone(),
            bucket_spans: self.bucket_spans.clone(),
            bucket_first: self.bucket_first.clone(),
            addr_lo: self.addr_lo.clone(),
            name_off: self.name_off.clone(),
            packed_names: self.packed_names,
            names_ascii: self.names_ascii.clone(),
            kind: self.kind.clone(),
            runs: self.runs.clone(),
            segments: self.segments.clone(),
            section_ends: self.section_ends.clone(),
            name_only: self.name_only.clone(),
            names: self.names.clone(),
            slots: self.slots.clone(),
            slot_names: self.slot_names.clone(),
            extras: self.extras.clone(),
            real_sizes: self.real_sizes.clone(),
            modules: self.modules.clone(),
            info: self.info.clone(),
            name_index: self.name_index.clone(),
        }
    }
}

impl fmt::Debug for SymbolTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymbolTable")
            .field("symbols", &self.len())
            .field("source", &self.info.source)
            .finish_non_exhaustive()
    }
}

/// Collects parsed symbols, then builds a [`SymbolTable`].
pub struct TableBuilder {
    addrs: Vec<u64>,
    kinds: Vec<u8>,
    name_offs: Vec<u32>,
    /// Name lengths, capped at 255, for packing into `name_off`.
    name_lens: Vec<u8>,
    /// Whether each symbol may answer an address lookup (decided while its
    /// name is at hand, not by reading the arena again).
    answers: Vec<bool>,
    /// The first address of each core section marker, by its index in
    /// `CORE_SECTIONS` (start, end).
    markers: [[Option<u64>; 2]; CORE_SECTIONS.len()],
    slot_of: Vec<u32>,
    arena: Vec<u8>,
    /// The last name pushed, if it was `__pfx_*`: (arena offset, length).
    last_pfx: Option<(u32, u32)>,
    /// `__pfx_` names of module symbols, by the hash of the name they pad:
    /// module symbol tables do not keep the pair adjacent.
    pfx_by_hash: FxHashMap<u64, u32>,
    slots: Vec<BuilderSlot>,
    slot_ids: FxHashMap<(Box<str>, bool), u32>,
    last_slot: Option<u32>,
    /// Extras by input index.
    extras: Vec<Extra>,
    strings: FxHashMap<Box<[u8]>, u32>,
    modules: ModuleMap,
    overflow: bool,
    any_nonzero: bool,
    /// Whether every string in the arena is ASCII (checked as each is
    /// added, on the parse threads, rather than over the arena at the end).
    arena_ascii: bool,
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

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(b);
    h.finish()
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
        self.arena.extend_from_slice(name);
        self.arena.push(0);
        if self.arena.len() > u32::MAX as usize {
            self.overflow = true;
        }
        off as u32
    }

    fn intern_string(&mut self, s: &[u8]) -> u32 {
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

    /// Sorts, lays out and indexes what was pushed.
    pub fn build(mut self, info: TableInfo) -> Result<SymbolTable> {
        let n = self.addrs.len();
        if self.overflow || n >= NONE as usize {
            return Err(Error::TooLarge {
                source_name: info.source,
                what: "more than 4 GiB of names or 2^32 symbols",
            });
        }
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

/// A table of `(address, type, name, module)` symbols, for the crate's tests.
#[cfg(test)]
pub(crate) fn table_of(symbols: &[(u64, char, &str, Option<&str>)]) -> SymbolTable {
    let mut b = TableBuilder::new();
    for &(a, k, n, m) in symbols {
        b.add(a, k, n, m);
    }
    b.build(TableInfo::default()).expect("a test table builds")
}

/// The low halves of `fences` when the table is one block (else empty).
pub(crate) fn fences_lo(blocks: &[Block], fences: &[u64]) -> Box<[u32]> {
    if blocks.len() == 1 {
        fences.iter().map(|&f| f as u32).collect()
    } else {
        Box::default()
    }
}

/// Builds the direct address index: over each of the largest runs of
/// symbols (in one block) with no gap over [`BUCKET_MAX_GAP`], buckets of
/// the smallest power-of-two width that keeps them at most one per two
/// symbols of the run.
pub(crate) fn buckets(blocks: &[Block], addr_lo: &[u32]) -> (Vec<BucketSpan>, Vec<u32>) {
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // (block, first id, end id)
    for (b, block) in blocks.iter().enumerate() {
        let first = block.first as usize;
        let end = blocks
            .get(b + 1)
            .map_or(addr_lo.len(), |n| n.first as usize);
        let lows = &addr_lo[first..end];
        let mut run = 0usize;
        for i in 1..=lows.len() {
            if i == lows.len() || u64::from(lows[i] - lows[i - 1]) > BUCKET_MAX_GAP {
                if i - run >= BUCKET_MIN_RUN {
                    runs.push((b, first + run, first + i));
                }
                run = i;
            }
        }
    }
    runs.sort_by_key(|&(_, first, end)| std::cmp::Reverse(end - first));
    runs.truncate(BUCKET_MAX_SPANS);
    let mut spans = Vec::with_capacity(runs.len());
    let mut bucket_first = Vec::new();
    for (block, first, end) in runs {
        let base = addr_lo[first];
        let len = u64::from(addr_lo[end - 1] - base) + 1;
        let budget = ((end - first) / 2) as u64;
        let shift = (0..32).find(|&s| (len >> s) < budget).unwrap_or(32);
        spans.push(BucketSpan {
            base: (u64::from(blocks[block].hi) << 32) | u64::from(base),
            len,
            shift,
            block: block as u32,
            first: bucket_first.len() as u32,
            end: end as u32,
        });
        let mut id = first;
        for i in 0..=((len - 1) >> shift) {
            let bucket_start = u64::from(base) + (i << shift);
            while id < end && u64::from(addr_lo[id]) < bucket_start {
                id += 1;
            }
            bucket_first.push(id as u32);
        }
        bucket_first.push(end as u32);
    }
    (spans, bucket_first)
}

/// The kernel's `is_mapping_symbol`: `.L*` local labels, `L0*` and `$x`-style
/// ARM mapping symbols never name an address.
fn is_mapping_symbol(name: &[u8]) -> bool {
    name.starts_with(b".L") || name.starts_with(b"L0") || name.first() == Some(&b'$')
}

/// Turns possibly nested or overlapping ranges into sorted disjoint segments,
/// each with the nearest end of the ranges covering it.
fn flatten_bounds(bounds: &[(u64, u64)]) -> Vec<Segment> {
    let mut points: Vec<u64> = bounds.iter().flat_map(|&(s, e)| [s, e]).collect();
    points.sort_unstable();
    points.dedup();
    let mut segments: Vec<Segment> = Vec::new();
    for w in points.windows(2) {
        let (s, e) = (w[0], w[1]);
        let limit = bounds
            .iter()
            .filter(|&&(bs, be)| bs <= s && e <= be && bs < be)
            .map(|&(_, be)| be)
            .min();
        if let Some(limit) = limit {
            match segments.last_mut() {
                Some(last) if last.end == s && last.limit == limit => last.end = e,
                _ => segments.push(Segment {
                    start: s,
                    end: e,
                    limit,
                }),
            }
        }
    }
    segments
}

impl SymbolTable {
    /// Every symbol, address-answering or not.
    pub fn len(&self) -> usize {
        self.addr_lo.len() + self.name_only.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many symbols can answer an address lookup.
    pub fn answering_len(&self) -> usize {
        self.addr_lo.len()
    }

    /// Where the table came from and what was skipped.
    pub fn info(&self) -> &TableInfo {
        &self.info
    }

    /// Module extents known to the table.
    pub fn module_map(&self) -> &ModuleMap {
        &self.modules
    }

    /// Names of every module that has symbols here, loadable and built-in.
    pub fn module_names(&self) -> impl Iterator<Item = &str> {
        let mut seen: Vec<&str> = (0..self.slots.len() as u32)
            .flat_map(|s| self.slot_names_of(s))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.into_iter()
    }

    // Accessors below never panic, whatever a mapped snapshot holds: the
    // loader checks the structure (lengths, block and run order, ranges),
    // and what it does not check (names, address order) can only give a
    // wrong answer, never an out-of-bounds access.

    #[inline]
    fn block_of(&self, id: usize) -> usize {
        self.blocks
            .partition_point(|b| b.first as usize <= id)
            .saturating_sub(1)
    }

    #[inline]
    fn addr_in_block(&self, block: usize, id: usize) -> u64 {
        let hi = self.blocks.get(block).map_or(0, |b| b.hi);
        (u64::from(hi) << 32) | u64::from(self.addr_lo.get(id).copied().unwrap_or(0))
    }

    #[inline]
    fn block_end(&self, block: usize) -> usize {
        self.blocks
            .get(block + 1)
            .map_or(self.addr_lo.len(), |b| b.first as usize)
    }

    /// The start address of an address-answering symbol.
    #[inline]
    pub(crate) fn start_of(&self, id: usize) -> u64 {
        self.addr_in_block(self.block_of(id), id)
    }

    /// The name a `name_off` entry points at (packed or not).
    #[inline]
    fn name_ref(&self, r: u32) -> &str {
        let (off, len) = self.name_span(r);
        self.span_str(off, usize::from(len), usize::from(u16::MAX))
    }

    /// Where a `name_off` entry's name is in the arena, and its length
    /// (`u16::MAX`: not packed or too long, find the NUL).
    #[inline]
    fn name_span(&self, r: u32) -> (u32, u16) {
        match (self.packed_names, r >> 24) {
            (true, 255) => (r & 0xff_ffff, u16::MAX),
            (true, len) => (r & 0xff_ffff, len as u16),
            (false, _) => (r, u16::MAX),
        }
    }

    /// `len` bytes of the arena at `off` as text, without reading them when
    /// the arena is known to be ASCII; `?` when out of range or not UTF-8.
    #[inline]
    fn str_at(&self, off: usize, len: usize) -> &str {
        let Some(bytes) = self.names.get(off..off + len) else {
            return "?";
        };
        if *self.names_ascii.get_or_init(|| self.names.is_ascii()) {
            // SAFETY: every byte of the arena is ASCII, so any slice of it is UTF-8.
            return unsafe { std::str::from_utf8_unchecked(bytes) };
        }
        std::str::from_utf8(bytes).unwrap_or("?")
    }

    #[inline]
    fn name_at(&self, off: u32) -> &str {
        let s = self.names.get(off as usize..).unwrap_or_default();
        let len = memchr::memchr(0, s).unwrap_or(s.len());
        self.str_at(off as usize, len)
    }

    #[inline]
    fn slot_of(&self, id: usize) -> u32 {
        // The core kernel is the first run in most tables: skip the search.
        let r = match self.runs.get(1) {
            Some(r) if id >= r.first as usize => {
                self.runs.partition_point(|r| r.first as usize <= id)
            }
            _ => 1,
        };
        self.runs.get(r.wrapping_sub(1)).map_or(0, |r| r.slot)
    }

    fn slot_rec(&self, slot: u32) -> SlotRec {
        self.slots
            .get(slot as usize)
            .copied()
            .unwrap_or(SlotRec::new(0, 0, 0, false))
    }

    pub(crate) fn slot_names_of(&self, slot: u32) -> impl Iterator<Item = &str> {
        let rec = self.slot_rec(slot);
        let first = rec.names_first as usize;
        let names = self
            .slot_names
            .get(first..first + usize::from(rec.names_count))
            .unwrap_or_default();
        names.iter().map(|&off| self.name_at(off))
    }

    #[inline]
    fn first_module(&self, slot: u32) -> Option<&str> {
        let (off, len) = self.first_module_span(slot)?;
        Some(self.span_str(off, usize::from(len), 255))
    }

    /// Where the (first) module name of `slot` is in the arena and its
    /// length (255: find the NUL); `None` for the core kernel.
    #[inline]
    fn first_module_span(&self, slot: u32) -> Option<(u32, u8)> {
        if slot == 0 {
            return None; // the core kernel
        }
        let rec = self.slots.get(slot as usize)?;
        if rec.names_count == 0 {
            return None;
        }
        let off = self.slot_names.get(rec.names_first as usize)?;
        Some((*off, rec.first_len))
    }

    /// The arena string at `off` of length `len`, or up to its NUL when
    /// `len` is `long` (the length did not fit).
    #[inline]
    fn span_str(&self, off: u32, len: usize, long: usize) -> &str {
        if len == long {
            self.name_at(off)
        } else {
            self.str_at(off as usize, len)
        }
    }

    #[inline]
    pub(crate) fn extra_of(&self, id: u32) -> (Option<&str>, Option<&str>) {
        if self.extras.is_empty() {
            return (None, None); // plain kallsyms: no objects or paths
        }
        self.extra_search(id)
    }

    #[cold]
    #[inline(never)]
    fn extra_search(&self, id: u32) -> (Option<&str>, Option<&str>) {
        match self.extras.binary_search_by_key(&id, |e| e.id) {
            Ok(i) => {
                let e = self.extras[i];
                let get = |off: u32| (off != NONE).then(|| self.name_at(off));
                (get(e.object), get(e.path))
            }
            Err(_) => (None, None),
        }
    }

    /// The bucket of `addr`, when `addr` is under the direct index.
    #[inline]
    fn bucket_of(&self, addr: u64) -> Option<Bucket> {
        let (span, bucket) = self.bucket_index(addr)?;
        let (&lo, &hi) = (
            self.bucket_first.get(bucket)?,
            self.bucket_first.get(bucket.wrapping_add(1))?,
        );
        // Clamped, so that a damaged snapshot gives wrong answers at worst.
        let end = (span.end as usize).min(self.addr_lo.len());
        let hi = (hi as usize).min(end);
        let lo = (lo as usize).min(hi);
        Some(Bucket {
            block: span.block as usize,
            lo,
            hi,
            end,
        })
    }

    /// The span holding `addr` and the index of its bucket in `bucket_first`.
    #[inline]
    fn bucket_index(&self, addr: u64) -> Option<(&BucketSpan, usize)> {
        self.bucket_spans.iter().find_map(|span| {
            let off = addr.wrapping_sub(span.base);
            // Wrapping: a damaged snapshot's span may be long; the bucket
            // lookup that follows is checked.
            (off < span.len).then(|| {
                let bucket = (span.first as usize).wrapping_add((off >> span.shift) as usize);
                (span, bucket)
            })
        })
    }

    /// The index of the last address-answering symbol starting at or below
    /// `addr`, with its block.
    #[inline]
    fn last_at_or_below(&self, addr: u64) -> Option<(usize, usize)> {
        match self.bucket_of(addr) {
            Some(bucket) => self.last_in_bucket(addr, bucket),
            None => self.last_by_search(addr),
        }
    }

    /// [`last_at_or_below`](Self::last_at_or_below) in the bucket that
    /// [`bucket_of`](Self::bucket_of) gave for `addr`.
    #[inline]
    fn last_in_bucket(&self, addr: u64, bucket: Bucket) -> Option<(usize, usize)> {
        let Bucket {
            block,
            mut lo,
            hi,
            end,
        } = bucket;
        let key = addr as u32;
        if hi - lo <= BUCKET_SCAN_MAX {
            // Buckets hold a few symbols: step over whole groups at or below
            // `key` (adjacent cache lines), then count the last group's in
            // one fixed-width pass without a branch. Up to the span's end,
            // entries past `hi` start past `addr` (the same block, higher
            // addresses), so they do not count.
            while hi - lo > BUCKET_SCAN && self.addr_lo[lo + BUCKET_SCAN] <= key {
                lo += BUCKET_SCAN;
            }
            if let Some(group) = self.addr_lo[..end].get(lo..lo + BUCKET_SCAN) {
                let group: &[u32; BUCKET_SCAN] = group.try_into().ok()?;
                let n: u32 = group.iter().map(|&a| u32::from(a <= key)).sum();
                return Some((block, (lo + n as usize).checked_sub(1)?));
            }
        }
        let n = self.addr_lo[lo..hi].partition_point(|&a| a <= key);
        Some((block, (lo + n).checked_sub(1)?))
    }

    /// [`last_at_or_below`](Self::last_at_or_below) outside the direct
    /// index: a search of the fences, then of one window of `addr_lo`.
    #[inline]
    fn last_by_search(&self, addr: u64) -> Option<(usize, usize)> {
        let k = if self.fences_lo.is_empty() {
            self.fences.partition_point(|&f| f <= addr)
        } else {
            // One block: compare low halves once the high half matches.
            let only = self.blocks.first()?.hi;
            match ((addr >> 32) as u32).cmp(&only) {
                std::cmp::Ordering::Less => return None,
                std::cmp::Ordering::Greater => {
                    return Some((0, self.addr_lo.len().checked_sub(1)?));
                }
                std::cmp::Ordering::Equal => self.fences_lo.partition_point(|&f| f <= addr as u32),
            }
        };
        if k == 0 {
            return None; // below the first symbol
        }
        // The answer lies in the window between two fences.
        let lo = (k - 1) * FENCE;
        let hi = (lo + FENCE).min(self.addr_lo.len());
        let block = self.block_of(lo);
        if hi <= self.block_end(block) && (addr >> 32) as u32 == self.blocks.get(block)?.hi {
            let n = self
                .addr_lo
                .get(lo..hi)?
                .partition_point(|&a| a <= addr as u32);
            return Some((block, (lo + n).checked_sub(1)?));
        }
        // The window spans blocks or `addr` is past its block: compare full
        // addresses (rare: at most once per block boundary).
        let id = (lo..hi)
            .take_while(|&id| self.start_of(id) <= addr)
            .last()?;
        Some((self.block_of(id), id))
    }

    /// The end of the symbol group whose last member is `last` and which
    /// starts at `start`.
    #[inline]
    fn end_of(&self, block: usize, last: usize, start: u64) -> u64 {
        let next = if last + 1 < self.addr_lo.len() {
            let nb = if last + 1 < self.block_end(block) {
                block
            } else {
                block + 1
            };
            self.addr_in_block(nb, last + 1)
        } else {
            u64::MAX
        };
        // Most symbols end where the next begins: the build marked the few a
        // section or module end cuts short, so only those pay for the search.
        if self.kind.get(last).is_some_and(|k| k & BOUNDED == 0) {
            return next.max(start);
        }
        next.min(self.limit_of(last, start)).max(start)
    }

    /// Sets [`BOUNDED`] on the last symbol of every alias group whose next
    /// higher start lies past its limit. One pass in address order, walking
    /// the segments alongside.
    #[allow(clippy::needless_range_loop)] // `id` indexes several columns
    fn mark_bounded(&mut self) {
        let n = self.addr_lo.len();
        let mut kinds: Vec<u8> = self.kind.to_vec();
        let mut seg = 0usize;
        let mut block = 0usize;
        for id in 0..n {
            while id >= self.block_end(block) {
                block += 1;
            }
            let start = self.addr_in_block(block, id);
            let next = if id + 1 < n {
                let nb = if id + 1 < self.block_end(block) {
                    block
                } else {
                    block + 1
                };
                self.addr_in_block(nb, id + 1)
            } else {
                u64::MAX
            };
            kinds[id] &= !BOUNDED;
            if next == start {
                continue; // not the last of its alias group
            }
            while self.segments.get(seg + 1).is_some_and(|s| s.start <= start) {
                seg += 1;
            }
            let candidate = self.segments.get(seg).filter(|s| s.start <= start);
            // Outside every segment, no cap ends a symbol before the end of
            // its page: a next start within the page needs no module lookup,
            // unless `start` is a section's end marker (size zero).
            let in_segment = candidate.is_some_and(|s| start < s.end);
            if !in_segment
                && next <= (start | (PAGE_SIZE - 1)).saturating_add(1)
                && self.section_ends.binary_search(&start).is_err()
            {
                continue;
            }
            if next > self.limit_in(id, start, candidate) {
                kinds[id] |= BOUNDED;
            }
        }
        self.kind = kinds.into();
    }

    /// How far a symbol starting at `start` may reach, whatever follows it.
    #[inline]
    fn limit_of(&self, id: usize, start: u64) -> u64 {
        let s = self.segments.partition_point(|s| s.start <= start);
        self.limit_in(
            id,
            start,
            s.checked_sub(1).and_then(|s| self.segments.get(s)),
        )
    }

    /// [`limit_of`](Self::limit_of) given the last segment starting at or
    /// below `start`.
    fn limit_in(&self, id: usize, start: u64, seg: Option<&Segment>) -> u64 {
        if let Some(seg) = seg {
            if start < seg.end {
                return seg.limit;
            }
        }
        if self.section_ends.binary_search(&start).is_ok() {
            return start; // an end marker: `_etext`, `_end`
        }
        let slot = self.slot_of(id);
        if self.slot_rec(slot).loadable == 0 {
            return start.saturating_add(CORE_SIZE_CAP);
        }
        let pseudo = self
            .first_module(slot)
            .is_some_and(|n| n.starts_with("__builtin__") || n == "bpf");
        if pseudo {
            (start | (PAGE_SIZE - 1)).saturating_add(1)
        } else {
            start.saturating_add(MODULE_SIZE_CAP)
        }
    }

    #[inline]
    pub(crate) fn make_symbol(&self, id: usize, start: u64, offset: u64, size: u64) -> Symbol<'_> {
        let (object, path) = self.extra_of(id as u32);
        Symbol {
            id: SymbolId(id as u32),
            name: self.name_ref(self.name_off.get(id).copied().unwrap_or(NONE)),
            start,
            offset,
            size,
            kind: char::from(self.kind.get(id).map_or(b'?', |k| k & !BOUNDED)),
            module: self.first_module(self.slot_of(id)),
            object,
            path,
        }
    }

    /// Finds the group of aliases around `last` (which starts at `start`).
    #[inline]
    fn group_first(&self, last: usize, start: u64) -> usize {
        // Aliases are neighbours in one block: compare low halves there.
        let lo = start as u32;
        let block_first = self
            .blocks
            .get(self.block_of(last))
            .map_or(0, |b| b.first as usize);
        let mut first = last;
        while first > block_first && self.addr_lo.get(first - 1) == Some(&lo) {
            first -= 1;
        }
        first
    }

    /// The symbol containing `addr`, as the kernel's `%pS` would name it (the
    /// first alias in input order). `None` in a gap, past the end, below the
    /// first symbol, or for addresses only absolute symbols hold.
    ///
    /// A symbol's size is its real size when one is known (see
    /// [`with_real_sizes`](Self::with_real_sizes)), else derived: an address
    /// past a known end answers `None`, unless an earlier symbol's real size
    /// covers it.
    pub fn lookup(&self, addr: u64) -> Option<Symbol<'_>> {
        let (block, last) = self.last_at_or_below(addr)?;
        let start = self.addr_in_block(block, last);
        if addr < start {
            return None;
        }
        let end = self.end_of(block, last, start);
        let first = self.group_first(last, start);
        if self.real_sizes.is_empty() {
            if !(addr < end || (addr == start && end == start)) {
                return None;
            }
            return Some(self.make_symbol(first, start, addr - start, end - start));
        }
        let size = self.group_size(first, last, end - start);
        if addr - start < size || (addr == start && size == 0) {
            return Some(self.make_symbol(first, start, addr - start, size));
        }
        self.covering_before(first, addr)
    }

    /// The real size of symbol `id`, when an ELF symbol table gave one.
    pub fn real_size(&self, id: SymbolId) -> Option<u64> {
        if self.real_sizes.is_empty() {
            return None;
        }
        self.real_sizes
            .binary_search_by_key(&id.0, |r| r.id)
            .ok()
            .map(|i| u64::from(self.real_sizes[i].size))
    }

    /// How many symbols have a real size.
    pub fn real_size_count(&self) -> usize {
        self.real_sizes.len()
    }

    /// The size of the alias group `first..=last`: the largest real size of
    /// its members when any is known, else `derived`.
    #[inline]
    fn group_size(&self, first: usize, last: usize, derived: u64) -> u64 {
        if self.real_sizes.is_empty() {
            return derived;
        }
        (first..=last)
            .filter_map(|id| self.real_size(SymbolId(id as u32)))
            .max()
            .unwrap_or(derived)
    }

    /// An earlier symbol (below the group starting at `first`) whose real
    /// size reaches `addr`.
    fn covering_before(&self, first: usize, addr: u64) -> Option<Symbol<'_>> {
        let mut id = first;
        for _ in 0..COVER_LOOKBACK {
            id = id.checked_sub(1)?;
            let Some(size) = self.real_size(SymbolId(id as u32)) else {
                continue;
            };
            let start = self.start_of(id);
            if addr.wrapping_sub(start) < size {
                let g = self.group_first(id, start);
                return Some(self.make_symbol(g, start, addr - start, size));
            }
        }
        None
    }

    /// What [`lookup`](Self::lookup) finds, without building the
    /// [`Symbol`]: the id of the first alias, its start and its size. For
    /// batch lookups that name frames only when asked.
    #[inline]
    pub(crate) fn locate(&self, addr: u64) -> Option<(usize, u64, u64)> {
        self.locate_from(addr, self.last_at_or_below(addr)?)
    }

    /// For batches: the first step of [`locate`](Self::locate) for `addr`
    /// (reading the direct index), and a request to the CPU for the
    /// `addr_lo` and type entries the next step reads. Several probes in a
    /// row overlap their cache misses; [`locate_probed`](Self::locate_probed)
    /// finishes each.
    #[inline]
    pub(crate) fn probe(&self, addr: u64) -> Option<Bucket> {
        let bucket = self.bucket_of(addr)?;
        let first = bucket.lo.saturating_sub(1);
        if let (Some(a), Some(k)) = (self.addr_lo.get(first), self.kind.get(first)) {
            column::prefetch(a);
            column::prefetch(k);
        }
        Some(bucket)
    }

    /// [`locate`](Self::locate) given what [`probe`](Self::probe) said.
    #[inline]
    pub(crate) fn locate_probed(
        &self,
        addr: u64,
        probe: Option<Bucket>,
    ) -> Option<(usize, u64, u64)> {
        let last = match probe {
            Some(bucket) => self.last_in_bucket(addr, bucket),
            None => self.last_by_search(addr),
        };
        self.locate_from(addr, last?)
    }

    #[inline]
    fn locate_from(&self, addr: u64, (block, last): (usize, usize)) -> Option<(usize, u64, u64)> {
        let start = self.addr_in_block(block, last);
        let end = self.end_of(block, last, start);
        if !(addr < end || (addr == start && end == start)) || addr < start {
            return None;
        }
        Some((self.group_first(last, start), start, end - start))
    }

    /// What [`locate`](Self::locate) found, packed for
    /// [`unpack`](Self::unpack).
    #[inline]
    pub(crate) fn pack(&self, (id, start, size): (usize, u64, u64)) -> PackedSymbol {
        let (name_off, name_len) = self.name_span(self.name_off.get(id).copied().unwrap_or(NONE));
        let (module_off, module_len) = self
            .first_module_span(self.slot_of(id))
            .unwrap_or((NONE, 0));
        PackedSymbol {
            start,
            size,
            id: id as u32,
            name_off,
            module_off,
            name_len,
            module_len,
            kind: self.kind.get(id).map_or(b'?', |k| k & !BOUNDED),
        }
    }

    /// The symbol [`pack`](Self::pack) packed, found at `offset` into it.
    #[inline]
    pub(crate) fn unpack(&self, p: &PackedSymbol, offset: u64) -> Symbol<'_> {
        let name = self.span_str(p.name_off, usize::from(p.name_len), usize::from(u16::MAX));
        let module = (p.module_off != NONE)
            .then(|| self.span_str(p.module_off, usize::from(p.module_len), 255));
        let (object, path) = self.extra_of(p.id);
        Symbol {
            id: SymbolId(p.id),
            name,
            start: p.start,
            offset,
            size: p.size,
            kind: char::from(p.kind),
            module,
            object,
            path,
        }
    }

    /// Like [`lookup`](Self::lookup), but also answers from absolute symbols
    /// (per-cpu variables on x86_64, type `A`) when no other symbol holds the
    /// address. `%pS` prints a raw address there; a per-cpu offset is
    /// what a caller decoding per-cpu data needs.
    pub fn lookup_absolute(&self, addr: u64) -> Option<Symbol<'_>> {
        if let Some(s) = self.lookup(addr) {
            return Some(s);
        }
        let is_abs = |o: &NameOnly| matches!(o.kind(), b'A' | b'a');
        let n = self.name_only.partition_point(|s| s.addr <= addr);
        // The last absolute symbol at or below addr, then the first of its aliases.
        let i = (0..n).rev().find(|&i| is_abs(&self.name_only[i]))?;
        let start = self.name_only[i].addr;
        let first = (0..=i)
            .rev()
            .take_while(|&j| self.name_only[j].addr == start)
            .filter(|&j| is_abs(&self.name_only[j]))
            .last()
            .unwrap_or(i);
        let offset = addr.checked_sub(start)?;
        (offset < self.name_only_size(first).max(1)).then(|| self.name_only_symbol(first, offset))
    }

    fn name_only_size(&self, i: usize) -> u64 {
        let Some(s) = self.name_only.get(i) else {
            return 0;
        };
        if !matches!(s.kind(), b'A' | b'a') {
            return 0;
        }
        let next = self.name_only[i + 1..]
            .iter()
            .find(|o| o.addr > s.addr && matches!(o.kind(), b'A' | b'a'))
            .map_or(s.addr.saturating_add(1), |o| o.addr);
        (next - s.addr).min(CORE_SIZE_CAP)
    }

    fn name_only_symbol(&self, i: usize, offset: u64) -> Symbol<'_> {
        let s = self.name_only[i];
        let id = self.addr_lo.len() + i;
        let (object, path) = self.extra_of(id as u32);
        Symbol {
            id: SymbolId(id as u32),
            name: self.name_at(s.name),
            start: s.addr,
            offset,
            size: self
                .real_size(SymbolId(id as u32))
                .unwrap_or_else(|| self.name_only_size(i)),
            kind: char::from(s.kind()),
            module: self.first_module(s.slot()),
            object,
            path,
        }
    }

    /// The symbol with this id (offset 0).
    pub fn symbol(&self, id: SymbolId) -> Option<Symbol<'_>> {
        let id = id.0 as usize;
        if id < self.addr_lo.len() {
            let block = self.block_of(id);
            let start = self.addr_in_block(block, id);
            // The size is the group's: find the group's last member.
            let mut last = id;
            while last + 1 < self.addr_lo.len() && self.start_of(last + 1) == start {
                last += 1;
            }
            let end = self.end_of(self.block_of(last), last, start);
            let size = match self.real_size(SymbolId(id as u32)) {
                Some(real) => real,
                None => self.group_size(self.group_first(id, start), last, end - start),
            };
            Some(self.make_symbol(id, start, 0, size))
        } else if id - self.addr_lo.len() < self.name_only.len() {
            Some(self.name_only_symbol(id - self.addr_lo.len(), 0))
        } else {
            None
        }
    }

    fn slot_of_id(&self, id: SymbolId) -> u32 {
        let id = id.0 as usize;
        if id < self.addr_lo.len() {
            self.slot_of(id)
        } else {
            self.name_only
                .get(id - self.addr_lo.len())
                .map_or(0, |s| s.slot())
        }
    }

    /// Every module name of a symbol (kallmodsyms can give several).
    pub fn modules_of(&self, id: SymbolId) -> impl Iterator<Item = &str> {
        self.slot_names_of(self.slot_of_id(id))
    }

    /// Whether a symbol's module is a loadable one (tagged `\t[mod]` in
    /// kallsyms, or a pseudo-module like `[bpf]`), not the core kernel or a
    /// built-in module.
    pub fn in_loadable_module(&self, id: SymbolId) -> bool {
        self.slot_rec(self.slot_of_id(id)).loadable != 0
    }

    /// Every address-answering symbol that starts exactly at `addr`, in input order.
    pub fn aliases(&self, addr: u64) -> impl Iterator<Item = Symbol<'_>> {
        let group = match self.last_at_or_below(addr) {
            Some((block, last)) if self.addr_in_block(block, last) == addr => {
                let first = self.group_first(last, addr);
                let end = self.end_of(block, last, addr);
                Some((first..=last, self.group_size(first, last, end - addr)))
            }
            _ => None,
        };
        group.into_iter().flat_map(move |(ids, size)| {
            ids.map(move |id| {
                let size = self.real_size(SymbolId(id as u32)).unwrap_or(size);
                self.make_symbol(id, addr, 0, size)
            })
        })
    }

    /// Every symbol, in address order: those that answer address lookups
    /// first, then the name-only ones.
    pub fn iter(&self) -> impl Iterator<Item = Symbol<'_>> {
        (0..self.len() as u32).filter_map(move |id| self.symbol(SymbolId(id)))
    }

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

    /// Every symbol of this name, in address order.
    pub fn find<'t, 'n>(&'t self, name: &'n str) -> impl Iterator<Item = Symbol<'t>> + use<'t, 'n> {
        let index = self.name_index();
        index
            .probe(name)
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

    /// Names that more than one symbol carries, with their counts, sorted by name.
    pub fn repeated_names(&self) -> Vec<(&str, usize)> {
        let mut counts: FxHashMap<&str, usize> = FxHashMap::default();
        for id in 0..self.len() as u32 {
            *counts.entry(self.name_of_id(id)).or_default() += 1;
        }
        let mut v: Vec<(&str, usize)> = counts.into_iter().filter(|&(_, c)| c > 1).collect();
        v.sort_unstable();
        v
    }

    /// Turns `name`, `name+0x1b`, `name+0x1b/0x30` or
    /// `name+0x1b/0x30 [module]` (also `[module buildid]`) into an address,
    /// checking the size when it is given. The name may be any spelling
    /// [`unique_name`](Self::unique_name) gives (`name#2 [ext4]`,
    /// `path/file.c:name [vmlinux]`, `name [ext4] {fs/ext4/inode.o}`).
    pub fn resolve(&self, text: &str) -> Result<u64> {
        let err = |kind| Error::Resolve {
            text: text.to_string(),
            kind,
        };
        let r = SymbolRef::parse(text).map_err(|why| err(ResolveErrorKind::Syntax(why)))?;
        let candidates = self.candidates(&r);
        if candidates.is_empty() {
            return Err(err(ResolveErrorKind::NotFound));
        }
        let fitting: Vec<&Symbol<'_>> = match r.size {
            Some(size) => candidates.iter().filter(|s| s.size == size).collect(),
            None => candidates.iter().collect(),
        };
        match fitting.as_slice() {
            [] => Err(err(ResolveErrorKind::SizeMismatch {
                given: r.size.unwrap_or(0),
                found: candidates.iter().map(|s| s.size).collect(),
            })),
            [s] => {
                // `%pB` prints return addresses as `offset == size` (the call was
                // the last instruction), so the end itself is allowed.
                if r.offset > s.size && s.size > 0 {
                    return Err(err(ResolveErrorKind::OffsetOutside {
                        offset: r.offset,
                        size: s.size,
                    }));
                }
                Ok(s.start.wrapping_add(r.offset))
            }
            many => Err(err(ResolveErrorKind::Ambiguous(
                many.iter().map(|s| s.start).collect(),
            ))),
        }
    }

    /// Bytes of heap this table holds, names and indexes included (the name
    /// index only once it has been built).
    pub fn heap_bytes(&self) -> usize {
        self.blocks.heap_bytes()
            + self.fences.heap_bytes()
            + std::mem::size_of_val(&*self.fences_lo)
            + self.bucket_first.heap_bytes()
            + self.addr_lo.heap_bytes()
            + self.name_off.heap_bytes()
            + self.kind.heap_bytes()
            + self.runs.heap_bytes()
            + self.segments.heap_bytes()
            + self.section_ends.heap_bytes()
            + self.name_only.heap_bytes()
            + self.names.heap_bytes()
            + self.slots.heap_bytes()
            + self.slot_names.heap_bytes()
            + self.extras.heap_bytes()
            + self.real_sizes.heap_bytes()
            + self.name_index.get().map_or(0, |i| i.slots.heap_bytes())
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
            let (mut pos, tag) = probe.home(table.name_of_id(id as u32), cap);
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

/// A parsed `name+0xoff/0xsize [module]` reference, or any unique
/// spelling of a symbol (see [`SymbolTable::unique_name`]):
///
/// ```text
/// [path ':'] name ['#' N] ['+' off ['/' size]] [' [' module [buildid] ']'] [' {' object '}']
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolRef<'a> {
    pub name: &'a str,
    pub offset: u64,
    pub size: Option<u64>,
    /// `vmlinux` names the core kernel (symbols of no module).
    pub module: Option<&'a str>,
    /// The object file, from `{object.o}`.
    pub object: Option<&'a str>,
    /// The source path, from `path/file.c:name`.
    pub path: Option<&'a str>,
    /// `name#N`: the N-th (from 1, in address order) of the symbols of that
    /// name in the module (or in the whole table without a module).
    pub ordinal: Option<u32>,
}

impl<'a> SymbolRef<'a> {
    /// Parses `name`, `name+0x1b`, `name+0x1b/0x30`, each optionally followed
    /// by ` [module]` or ` [module buildid]` and ` {object.o}`, the name
    /// optionally as `path/file.c:name` or with a `#N` ordinal.
    pub fn parse(text: &'a str) -> std::result::Result<Self, &'static str> {
        let text = text.trim();
        let split = text
            .find(|c: char| c == '[' || c == '{' || c.is_whitespace())
            .unwrap_or(text.len());
        let (sym, mut rest) = (&text[..split], text[split..].trim_start());
        let mut module = None;
        let mut object = None;
        while !rest.is_empty() {
            if let Some(inner) = rest.strip_prefix('[') {
                let close = inner.find(']').ok_or("`[` without a closing `]`")?;
                let m = inner[..close]
                    .split_ascii_whitespace()
                    .next()
                    .ok_or("empty `[]`")?;
                if module.replace(m).is_some() {
                    return Err("two `[module]` fields");
                }
                rest = inner[close + 1..].trim_start();
            } else if let Some(inner) = rest.strip_prefix('{') {
                let close = inner.find('}').ok_or("`{` without a closing `}`")?;
                let o = inner[..close].trim();
                if o.is_empty() {
                    return Err("empty `{}`");
                }
                if object.replace(o).is_some() {
                    return Err("two `{object}` fields");
                }
                rest = inner[close + 1..].trim_start();
            } else {
                return Err("spaces in the name");
            }
        }
        if sym.is_empty() {
            return Err("no name");
        }
        let (name, offset, size) = match sym.rfind('+') {
            Some(plus) if plus > 0 => {
                let (off, size) = match sym[plus + 1..].split_once('/') {
                    Some((o, s)) => (o, Some(s)),
                    None => (&sym[plus + 1..], None),
                };
                let offset = parse_num(off).ok_or("the offset is not a number")?;
                let size = size
                    .map(|s| parse_num(s).ok_or("the size is not a number"))
                    .transpose()?;
                (&sym[..plus], offset, size)
            }
            _ => (sym, 0, None),
        };
        let (path, name) = match memchr::memchr(b':', name.as_bytes()) {
            Some(_) => match crate::parse::split_path_name(name.as_bytes()) {
                // Both halves are slices of a `&str` split at an ASCII `:`.
                (Some(p), n) => (Some(&name[..p.len()]), &name[name.len() - n.len()..]),
                (None, _) => (None, name),
            },
            None => (None, name),
        };
        let (name, ordinal) = match name.rsplit_once('#') {
            Some((n, k))
                if !n.is_empty() && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let k: u32 = k.parse().map_err(|_| "the ordinal is too large")?;
                if k == 0 {
                    return Err("ordinals count from 1");
                }
                (n, Some(k))
            }
            _ => (name, None),
        };
        if name.is_empty() {
            return Err("no name");
        }
        Ok(SymbolRef {
            name,
            offset,
            size,
            module,
            object,
            path,
            ordinal,
        })
    }
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !s.is_empty() => s.parse().ok(),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::table_of as table;

    /// The direct index covers the core (a run without a wide gap, of
    /// enough symbols), and answers exactly what the fence search answers,
    /// at every symbol's edges and in between.
    #[test]
    fn buckets_answer_like_the_fence_search() {
        let mut syms = Vec::new();
        let mut names = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut at = 0xffff_ffff_8100_0000u64;
        // Fewer under miri, which runs this a thousand times slower.
        for i in 0..if cfg!(miri) { 300 } else { 3000 } {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            names.push((at, format!("f{i}")));
            // Mostly small symbols, some aliases, an occasional big one.
            at += [0, 0x10, 0x40, 0x200, 0x3000][(x % 5) as usize];
        }
        for (i, &(a, ref n)) in names.iter().enumerate() {
            syms.push((a, if i % 7 == 0 { 'd' } else { 't' }, n.as_str(), None));
        }
        // A module area far above: its own span. Two more symbols further
        // up are too few for one (binary search).
        let module_names: Vec<(u64, String)> = (0..200u64)
            .map(|i| (0xffff_ffff_c000_0000 + i * i * 8, format!("m{i}")))
            .collect();
        for (a, n) in &module_names {
            syms.push((*a, 't', n.as_str(), Some("m")));
        }
        syms.push((0xffff_ffff_e000_0000, 't', "far", Some("n")));
        syms.push((0xffff_ffff_e000_0100, 't', "far2", Some("n")));
        let t = table(&syms);
        let bases: Vec<u64> = t.bucket_spans.iter().map(|s| s.base).collect();
        assert_eq!(bases, [0xffff_ffff_8100_0000, 0xffff_ffff_c000_0000]);
        assert!(
            t.bucket_first.len() > 100,
            "{} buckets",
            t.bucket_first.len()
        );
        let mut plain = t.clone();
        plain.bucket_spans = Column::default();
        plain.bucket_first = Column::default();
        let mut probes: Vec<u64> = vec![0, u64::MAX, 0xffff_ffff_e000_0100, 0xffff_ffff_e000_0150];
        for &(a, _) in names.iter().chain(&module_names) {
            probes.extend([a.wrapping_sub(1), a, a + 1, a + 0x1ff]);
        }
        for addr in probes {
            assert_eq!(t.lookup(addr), plain.lookup(addr), "at {addr:#x}");
        }
    }

    /// Names are handed out unchecked only when the whole arena is ASCII:
    /// one non-ASCII name (or module name) anywhere turns that off.
    #[test]
    fn arena_ascii_tracks_every_string() {
        let ascii = table(&[(0x1000, 't', "plain", None), (0x1010, 't', "x", Some("m"))]);
        assert_eq!(ascii.names_ascii.get(), Some(&true));
        for syms in [
            [(0x1000, 't', "plain", None), (0x1010, 't', "ünïcode", None)],
            [
                (0x1000, 't', "plain", None),
                (0x1010, 't', "x", Some("mödule")),
            ],
        ] {
            let t = table(&syms);
            assert_eq!(t.names_ascii.get(), Some(&false));
            assert_eq!(
                t.lookup(0x1010).unwrap().to_string().contains('ü'),
                syms[1].2 == "ünïcode"
            );
            assert_eq!(t.names_ascii.get(), Some(&t.names.is_ascii()));
        }
    }

    #[test]
    fn sizes_aliases_and_bounds() {
        let t = table(&[
            (0x0, 'A', "fixed_percpu_data", None),
            (0x1000, 'A', "cpu_debug_store", None),
            (0xffffffff81000000, 'T', "_text", None),
            (0xffffffff81000000, 'T', "_stext", None),
            (0xffffffff81000010, 't', "__pfx_foo", None),
            (0xffffffff81000020, 't', "foo", None),
            (0xffffffff81000030, 't', ".L123", None),
            (0xffffffff81000040, 'T', "_etext", None),
            (0xffffffffc0000000, 't', "modfn", Some("m")),
        ]);
        assert_eq!(t.lookup(0xffffffff81000000).unwrap().name, "_text");
        let s = t.lookup(0xffffffff81000035).unwrap();
        assert_eq!((s.name, s.offset, s.size), ("foo", 0x15, 0x20));
        assert_eq!(s.to_string(), "foo+0x15/0x20");
        // `_etext` ends the text section: zero size, answers itself only.
        assert_eq!(t.lookup(0xffffffff81000040).unwrap().size, 0);
        assert!(t.lookup(0xffffffff81000041).is_none());
        assert!(t.lookup(0xffffffff80000000).is_none());
        assert!(t.lookup(0x10).is_none());
        assert_eq!(t.lookup_absolute(0x10).unwrap().name, "fixed_percpu_data");
        let m = t.lookup(0xffffffffc0000010).unwrap();
        assert_eq!(m.to_string(), "modfn+0x10/0x10000 [m]");
        assert!(t.lookup(u64::MAX).is_none());
        // With `_end` known (CONFIG_KALLSYMS_ALL), `_etext` lies inside
        // `[_text, _end)` and reaches the next symbol; `_end` itself is a marker.
        let t2 = table(&[
            (0xffffffff81000000, 'T', "_text", None),
            (0xffffffff81000000, 'T', "_stext", None),
            (0xffffffff81000040, 'T', "_etext", None),
            (0xffffffff81000080, 'D', "_end", None),
        ]);
        assert_eq!(t2.lookup(0xffffffff81000050).unwrap().size, 0x40);
        assert_eq!(t2.lookup(0xffffffff81000080).unwrap().size, 0);
        assert!(t2.lookup(0xffffffff81000081).is_none());
        let a: Vec<_> = t.aliases(0xffffffff81000000).map(|s| s.name).collect();
        assert_eq!(a, ["_text", "_stext"]);
        assert_eq!(t.find(".L123").count(), 1);
        assert_eq!(t.find("foo").next().unwrap().start, 0xffffffff81000020);
        assert_eq!(t.resolve("foo+0x4/0x20").unwrap(), 0xffffffff81000024);
        assert!(t.resolve("foo+0x4/0x30").is_err());
        assert_eq!(t.resolve("modfn+0x1 [m]").unwrap(), 0xffffffffc0000001);
    }

    #[test]
    fn symbol_refs() {
        let r = SymbolRef::parse("ext4_writepages+0xab/0x170 [ext4]").unwrap();
        assert_eq!(
            r,
            SymbolRef {
                name: "ext4_writepages",
                offset: 0xab,
                size: Some(0x170),
                module: Some("ext4"),
                object: None,
                path: None,
                ordinal: None,
            }
        );
        let r = SymbolRef::parse("fs/ext4/inode.c:show#2+0x4 [ext4] {fs/ext4/inode.o}").unwrap();
        assert_eq!(
            (r.path, r.name, r.ordinal, r.offset, r.module, r.object),
            (
                Some("fs/ext4/inode.c"),
                "show",
                Some(2),
                4,
                Some("ext4"),
                Some("fs/ext4/inode.o")
            )
        );
        assert_eq!(SymbolRef::parse("foo+0x1[m]").unwrap().module, Some("m"));
        assert!(SymbolRef::parse("foo#0").is_err());
        assert!(SymbolRef::parse("foo bar").is_err());
        assert!(SymbolRef::parse("foo [m] [n]").is_err());
        let r = SymbolRef::parse("foo+0x1 [mod 1234abcd]").unwrap();
        assert_eq!(r.module, Some("mod"));
        assert!(SymbolRef::parse("foo+zz").is_err());
        assert!(SymbolRef::parse("").is_err());
    }
}
