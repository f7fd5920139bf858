//! The address index: the direct index of buckets over dense stretches of
//! addresses, and the fence search elsewhere; how each is built and how a
//! lookup finds the last symbol at or below an address.

use crate::table::{Block, BucketSpan, SymbolTable, FENCE};

/// What a lookup learns from the direct index: the ids `lo..hi` start in
/// the address's bucket (the answer is the last of them at or below the
/// address, else `lo - 1`), all in block `block`; the span's symbols end at
/// id `end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    block: usize,
    pub(super) lo: usize,
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

impl SymbolTable {
    /// The bucket of `addr`, when `addr` is under the direct index.
    #[inline]
    pub(super) fn bucket_of(&self, addr: u64) -> Option<Bucket> {
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
    pub(super) fn last_at_or_below(&self, addr: u64) -> Option<(usize, usize)> {
        match self.bucket_of(addr) {
            Some(bucket) => self.last_in_bucket(addr, bucket),
            None => self.last_by_search(addr),
        }
    }

    /// [`last_at_or_below`](Self::last_at_or_below) in the bucket that
    /// [`bucket_of`](Self::bucket_of) gave for `addr`.
    #[inline]
    pub(super) fn last_in_bucket(&self, addr: u64, bucket: Bucket) -> Option<(usize, usize)> {
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
    pub(super) fn last_by_search(&self, addr: u64) -> Option<(usize, usize)> {
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
}
