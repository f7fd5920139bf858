//! Where a symbol ends when no real size is known: section and module
//! bounds flattened into segments, the [`BOUNDED`] mark the build sets, and
//! the limits a lookup applies.

use crate::table::{Segment, SymbolTable, BOUNDED, CORE_SIZE_CAP, MODULE_SIZE_CAP};

/// Pseudo-modules (`[bpf]`, `[__builtin__ftrace]`, `[__builtin__kprobes]`)
/// are pages of generated code: their last symbol ends at its page's end.
const PAGE_SIZE: u64 = 4096;

/// Turns possibly nested or overlapping ranges into sorted disjoint segments,
/// each with the nearest end of the ranges covering it.
pub(super) fn flatten_bounds(bounds: &[(u64, u64)]) -> Vec<Segment> {
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
    /// The end of the symbol group whose last member is `last` and which
    /// starts at `start`.
    #[inline]
    pub(super) fn end_of(&self, block: usize, last: usize, start: u64) -> u64 {
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
    pub(super) fn mark_bounded(&mut self) {
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
            let upto = if candidate.is_some() { seg + 1 } else { 0 };
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
            if next > self.limit_in(id, start, upto) {
                kinds[id] |= BOUNDED;
            }
        }
        self.kind = kinds.into();
    }

    /// How far a symbol starting at `start` may reach, whatever follows it.
    #[inline]
    fn limit_of(&self, id: usize, start: u64) -> u64 {
        let upto = self.segments.partition_point(|s| s.start <= start);
        self.limit_in(id, start, upto)
    }

    /// [`limit_of`](Self::limit_of) given how many segments start at or
    /// below `start`. Outside every segment a symbol stops at the next
    /// one: that area is another module's or section's (6.4+ modules keep
    /// their data apart from their text, so a module's last data symbol
    /// would otherwise run on into the next module's text).
    fn limit_in(&self, id: usize, start: u64, upto: usize) -> u64 {
        if let Some(seg) = upto.checked_sub(1).and_then(|s| self.segments.get(s)) {
            if start < seg.end {
                return seg.limit;
            }
        }
        let next_area = self.segments.get(upto).map_or(u64::MAX, |s| s.start);
        self.limit_outside(id, start).min(next_area)
    }

    /// How far a symbol outside every segment may reach by its kind.
    fn limit_outside(&self, id: usize, start: u64) -> u64 {
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
}
