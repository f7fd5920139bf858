//! Stage 3, the table. Takes raw symbols (from [`crate::parse`], through
//! [`TableBuilder`]), module areas, real sizes and built-in ranges; gives
//! an immutable [`SymbolTable`] and its lookups by address and by name.
//!
//! The symbol table: built once from parsed lines, then immutable and shared.
//!
//! # Which addresses name a symbol
//!
//! As the kernel's `%pS` draws it (`kallsyms_lookup_buildid` in
//! kernel/kallsyms.c):
//! - Core kernel: only addresses `is_ksym_addr` accepts
//!   (include/linux/kallsyms.h; half-open since 5.16, "kallsyms: Fix
//!   address-checks for kernel related range"). With
//!   `CONFIG_KALLSYMS_ALL`, `[_stext, _end)` (`is_kernel`,
//!   include/asm-generic/sections.h); without it, `[_stext, _etext)` and
//!   `[_sinittext, _einittext)` (`is_kernel_text`, `is_kernel_inittext`).
//!   The table tells the two apart by whether its symbols reach `_end`
//!   (scripts/kallsyms.c keeps only text symbols without `--all-symbols`).
//!   Core symbols outside are kept, found by name, and answer no address:
//!   `_end` itself, `[_text, _stext)` where it is not empty, and the
//!   symbols some kernels place past `_end` (`sme_workarea` on x86_64).
//!   Inside, a symbol runs to the next higher start (`get_symbol_pos`),
//!   bounded by the section holding it.
//! - Modules (`module_address_lookup`, kernel/module/kallsyms.c): the
//!   module's highest symbol at or below the address, `.L` labels and
//!   mapping symbols aside, up to the next one or the end of its area. The
//!   kernel sizes every module symbol against the end of the text area
//!   (`find_kallsyms_symbol`), which makes sizes of data symbols smaller
//!   than their offsets; the table bounds each by its own area instead, so
//!   text answers are the kernel's and data answers are self-consistent.
//! - `[bpf]` (`bpf_address_lookup`) and `[__builtin__*]` pseudo-modules
//!   (ftrace trampolines, kprobe instruction pages): their lines, each up to
//!   the next or the end of its page.
//! - A symbol of size zero (a section end marker with nothing after it)
//!   holds no address.
//!
//! `tests/edges.rs` checks every edge of the real Debian 6.12 and 6.1 data
//! (and the live 6.18 capture, built without `CONFIG_KALLSYMS_ALL`) against
//! the kernel's algorithm.
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
use rustc_hash::FxHasher;

mod access;
mod address_index;
mod attach;
mod bounds;
mod build;
mod c_strings;
pub(crate) mod column;
pub mod elf_sizes;
mod find;
mod finish;
pub mod ko_placement;
mod ko_text_area;
mod lookup;
mod names;
mod sections;
pub mod sized_symbols;
mod symbol_ref;

use column::Column;

use crate::parse::{FormatSeen, ModuleMap, SkippedLines};

pub(crate) use address_index::{fences_lo, Bucket};
pub use build::TableBuilder;
pub(crate) use c_strings::next_serial;
pub(crate) use find::NameIndex;
pub use names::{DupInfo, Qualifier, CORE_MODULE};
pub use symbol_ref::SymbolRef;

/// The largest size a core kernel symbol may have when no section bounds it.
pub const CORE_SIZE_CAP: u64 = 16 << 20;
/// The largest size a module symbol may have when no module area bounds it.
pub const MODULE_SIZE_CAP: u64 = 64 << 10;

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
    /// The module section the address is in (`.text`, `.plt`, ...):
    /// lookups leave it `None`, [`SymbolTable::with_section`] fills it in.
    pub section: Option<&'t str>,
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
    /// Tells this table apart from every other of the process (see
    /// [`SymbolTable::serial`]).
    pub(crate) serial: u64,
    /// Whether lookups' names are C strings in place: known at build,
    /// checked once on first use for a mapped table.
    pub(crate) c_strings: OnceLock<bool>,
    /// Module sections by address, made on first use from `modules`.
    pub(crate) section_spans: OnceLock<sections::SectionIndex>,
    /// The BPF programs' functions and lines, where the source read them
    /// ([`SymbolTable::with_bpf_lines`]); kept by snapshots.
    pub(crate) bpf_lines: Option<std::sync::Arc<crate::parse::bpf_lines::BpfLinesSet>>,
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
            serial: self.serial,
            c_strings: self.c_strings.clone(),
            section_spans: self.section_spans.clone(),
            bpf_lines: self.bpf_lines.clone(),
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

/// The hash of a name, for the builder's `__pfx_` matching and the name
/// index.
#[inline]
fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(b);
    h.finish()
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

#[cfg(test)]
mod tests;
