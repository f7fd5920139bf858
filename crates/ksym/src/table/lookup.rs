//! Lookups by address and by id: `lookup`, `lookup_absolute`, `aliases`,
//! `symbol`, real sizes, and the batch path (`locate`, `probe`, `pack`,
//! `unpack`) that names frames only when asked.

use crate::table::column;
use crate::table::{
    Bucket, NameOnly, PackedSymbol, Symbol, SymbolId, SymbolTable, BOUNDED, CORE_SIZE_CAP,
    COVER_LOOKBACK, NONE,
};

impl SymbolTable {
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
            section: None,
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
        // A symbol of size zero (a section end marker) holds no address.
        if self.real_sizes.is_empty() {
            if addr >= end {
                return None;
            }
            return Some(self.make_symbol(first, start, addr - start, end - start));
        }
        let size = self.group_size(first, last, end - start);
        if addr - start < size {
            return Some(self.make_symbol(first, start, addr - start, size));
        }
        self.covering_before(first, addr).or_else(|| {
            self.in_veneers(addr, end)
                .then(|| self.make_symbol(first, start, addr - start, end - start))
        })
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
        if addr < start {
            return None;
        }
        if self.real_sizes.is_empty() {
            if addr >= end {
                return None;
            }
            return Some((self.group_first(last, start), start, end - start));
        }
        // Real sizes: as `lookup` answers (a batch and a lookup must agree).
        let first = self.group_first(last, start);
        let size = self.group_size(first, last, end - start);
        if addr - start < size {
            return Some((first, start, size));
        }
        match self.covering_before(first, addr) {
            Some(s) => Some((s.id.0 as usize, s.start, s.size)),
            None => self
                .in_veneers(addr, end)
                .then_some((first, start, end - start)),
        }
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
            section: None,
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
            section: None,
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
}
