//! Reading a table's columns: counts, an id's block, address, name and
//! module, the name arena, the sparse extras, and heap accounting. None of
//! these panics, whatever a mapped snapshot holds.

use crate::parse::ModuleMap;
use crate::table::{SlotRec, SymbolTable, TableInfo, NONE};

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
    pub(super) fn block_of(&self, id: usize) -> usize {
        self.blocks
            .partition_point(|b| b.first as usize <= id)
            .saturating_sub(1)
    }

    #[inline]
    pub(super) fn addr_in_block(&self, block: usize, id: usize) -> u64 {
        let hi = self.blocks.get(block).map_or(0, |b| b.hi);
        (u64::from(hi) << 32) | u64::from(self.addr_lo.get(id).copied().unwrap_or(0))
    }

    #[inline]
    pub(super) fn block_end(&self, block: usize) -> usize {
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
    pub(super) fn name_ref(&self, r: u32) -> &str {
        let (off, len) = self.name_span(r);
        self.span_str(off, usize::from(len), usize::from(u16::MAX))
    }

    /// Where a `name_off` entry's name is in the arena, and its length
    /// (`u16::MAX`: not packed or too long, find the NUL).
    #[inline]
    pub(super) fn name_span(&self, r: u32) -> (u32, u16) {
        match (self.packed_names, r >> 24) {
            (true, 255) => (r & 0xff_ffff, u16::MAX),
            (true, len) => (r & 0xff_ffff, len as u16),
            (false, _) => (r, u16::MAX),
        }
    }

    /// `len` bytes of the arena at `off` as text, without reading them when
    /// the arena is known to be ASCII (a table built here knows); else the
    /// name alone is checked, never the whole arena: a mapped snapshot asked
    /// one address must not read megabytes of names (a fifth of a one-shot
    /// `ksym addr`). `?` when out of range or not UTF-8.
    #[inline]
    fn str_at(&self, off: usize, len: usize) -> &str {
        let Some(bytes) = self.names.get(off..off + len) else {
            return "?";
        };
        if self.names_ascii.get() == Some(&true) || bytes.is_ascii() {
            // SAFETY: every byte of the arena, or of this name, is ASCII,
            // so the slice is UTF-8.
            return unsafe { std::str::from_utf8_unchecked(bytes) };
        }
        std::str::from_utf8(bytes).unwrap_or("?")
    }

    #[inline]
    pub(super) fn name_at(&self, off: u32) -> &str {
        let s = self.names.get(off as usize..).unwrap_or_default();
        let len = memchr::memchr(0, s).unwrap_or(s.len());
        self.str_at(off as usize, len)
    }

    #[inline]
    pub(super) fn slot_of(&self, id: usize) -> u32 {
        // The core kernel is the first run in most tables: skip the search.
        let r = match self.runs.get(1) {
            Some(r) if id >= r.first as usize => {
                self.runs.partition_point(|r| r.first as usize <= id)
            }
            _ => 1,
        };
        self.runs.get(r.wrapping_sub(1)).map_or(0, |r| r.slot)
    }

    #[inline]
    pub(super) fn slot_rec(&self, slot: u32) -> SlotRec {
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
    pub(super) fn first_module(&self, slot: u32) -> Option<&str> {
        let (off, len) = self.first_module_span(slot)?;
        Some(self.span_str(off, usize::from(len), 255))
    }

    /// Where the (first) module name of `slot` is in the arena and its
    /// length (255: find the NUL); `None` for the core kernel.
    #[inline]
    pub(super) fn first_module_span(&self, slot: u32) -> Option<(u32, u8)> {
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
    pub(super) fn span_str(&self, off: u32, len: usize, long: usize) -> &str {
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
