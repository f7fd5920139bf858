//! Step 3 of the search: the address table, near the other tables or
//! anywhere, checked in each of the four encodings ([`AddressEncoding`]).

use super::elf::ElfInfo;
use super::names::Names;
use super::search::{align_up, Rd};
use super::tokens::Tokens;
use super::AddressEncoding;

/// Finds and decodes the addresses (step 3): (encoding, offset, addresses).
pub(super) fn find_addresses(
    rd: Rd<'_>,
    tokens: &Tokens,
    names: &Names,
    kinds: &[u8],
    elf: Option<&ElfInfo>,
) -> Option<(AddressEncoding, usize, Vec<u64>)> {
    let n = names.n;
    let ptr_sizes: &[usize] = match elf {
        Some(e) if e.ptr_size == 4 => &[4],
        Some(_) => &[8],
        None => &[8, 4],
    };
    let markers_end = names.markers + names.n.div_ceil(256) * names.marker_size;
    let mut anchored = Vec::new();
    for &ptr in ptr_sizes {
        // 6.4+: after the token index (or, some day, the markers).
        for after in [tokens.index + 512, markers_end] {
            anchored.push(align_up(after, 4));
            anchored.push(align_up(after, ptr));
        }
        // Before 6.4: offsets, the base, then the count.
        let num = names.num_syms_at;
        if let Some(base_at) = num.checked_sub(ptr) {
            for pad in [0, 4] {
                if let Some(s) = base_at.checked_sub(pad + 4 * n) {
                    anchored.push(s);
                }
            }
        }
        if let Some(s) = num.checked_sub(ptr * n) {
            anchored.push(s);
        }
    }
    anchored.dedup();
    // The other tables: the addresses cannot overlap them (a token index
    // read as `u32`s rises like offsets do).
    let ctx = AddrCtx {
        kinds,
        elf,
        taken: [
            (names.num_syms_at, names.num_syms_at + 4),
            (names.start, names.end),
            (names.markers, markers_end),
            (tokens.table, tokens.end()),
            (tokens.index, tokens.index + 512),
        ],
    };
    for &at in &anchored {
        for &ptr in ptr_sizes {
            if let Some(found) = try_encodings(rd, at, n, ptr, &ctx) {
                return Some(found);
            }
        }
    }
    // Anywhere: a quick look at the first entries, then the full check.
    let d = rd.d;
    let quick = QUICK.min(n);
    for &ptr in ptr_sizes {
        let mut at = 0;
        while at + 4 * n <= d.len() {
            if quick_sorted(rd, at, quick, 4, elf.is_some())
                || (at.is_multiple_of(ptr)
                    && at + ptr * n <= d.len()
                    && quick_sorted(rd, at, quick, ptr, false))
            {
                if let Some(found) = try_encodings(rd, at, n, ptr, &ctx) {
                    return Some(found);
                }
            }
            at += 4;
        }
    }
    None
}

/// How many entries the quick look of the search anywhere reads.
const QUICK: usize = 16;

/// Whether `count` words of `width` bytes at `at` could start an address
/// table: not all equal, and in order as unsigned values, as absolute-percpu
/// keys, or (`place`) as offsets from their own addresses.
fn quick_sorted(rd: Rd<'_>, at: usize, count: usize, width: usize, place: bool) -> bool {
    let Some(words) = (0..count)
        .map(|i| rd.word(at + i * width, width))
        .collect::<Option<Vec<u64>>>()
    else {
        return false;
    };
    if words.iter().all(|&w| w == words[0]) {
        return false;
    }
    let sorted_by = |key: &dyn Fn(usize, u64) -> i128| {
        words
            .windows(2)
            .enumerate()
            .all(|(i, w)| key(i, w[0]) <= key(i + 1, w[1]))
    };
    if sorted_by(&|_, w| w as i128) {
        return true;
    }
    if width != 4 {
        return false;
    }
    // Absolute per-cpu: non-negative values first, then negative ones falling.
    let percpu = |_: usize, w: u64| {
        let v = w as u32 as i32;
        if v >= 0 {
            v as i128
        } else {
            (1i128 << 33) - v as i128
        }
    };
    sorted_by(&percpu) || (place && sorted_by(&|i, w| (w as u32 as i32) as i128 + 4 * i as i128))
}

/// What the checks of an address table candidate need.
struct AddrCtx<'a> {
    kinds: &'a [u8],
    elf: Option<&'a ElfInfo>,
    /// Byte ranges of the other tables.
    taken: [(usize, usize); 5],
}

impl AddrCtx<'_> {
    fn free(&self, lo: usize, hi: usize) -> bool {
        self.taken.iter().all(|&(a, b)| hi <= a || b <= lo)
    }
}

/// Tries each encoding of `n` addresses at `at`.
fn try_encodings(
    rd: Rd<'_>,
    at: usize,
    n: usize,
    ptr: usize,
    ctx: &AddrCtx<'_>,
) -> Option<(AddressEncoding, usize, Vec<u64>)> {
    let (kinds, elf) = (ctx.kinds, ctx.elf);
    let end4 = at.checked_add(4 * n)?;
    let mask = if ptr == 4 { u32::MAX as u64 } else { u64::MAX };
    let in_span = |addrs: &[u64]| -> bool {
        let Some((lo, hi)) = elf.and_then(|e| e.span) else {
            return true;
        };
        addrs
            .iter()
            .zip(kinds)
            .all(|(&a, &k)| k == b'A' || (lo..=hi).contains(&a))
    };
    let sorted_distinct =
        |addrs: &[u64]| addrs.windows(2).all(|w| w[0] <= w[1]) && addrs.first() != addrs.last();
    let base_at = align_up(end4, ptr);
    if end4 <= rd.d.len() && ctx.free(at, end4) {
        let offs: Vec<u32> = (0..n).map(|i| rd.u32(at + 4 * i)).collect::<Option<_>>()?;
        let base = rd
            .word(base_at, ptr)
            .filter(|_| ctx.free(base_at, base_at + ptr));
        // Absolute per-cpu: first negative is -1, only `A` non-negative.
        if let Some(base) = base {
            let neg = offs.iter().position(|&o| (o as i32) < 0);
            if neg.is_some_and(|i| offs[i] == u32::MAX)
                && offs
                    .iter()
                    .zip(kinds)
                    .all(|(&o, &k)| (o as i32) < 0 || k == b'A')
            {
                let addrs: Vec<u64> = offs
                    .iter()
                    .map(|&o| {
                        if (o as i32) >= 0 {
                            u64::from(o)
                        } else {
                            base.wrapping_sub(1).wrapping_sub(o as i32 as i64 as u64) & mask
                        }
                    })
                    .collect();
                if sorted_distinct(&addrs) && in_span(&addrs) {
                    return Some((AddressEncoding::AbsolutePercpu { base }, at, addrs));
                }
            }
            // Unsigned offsets from the lowest address.
            let top = offs.iter().max().map_or(0, |&o| u64::from(o));
            if offs[0] == 0 && base.checked_add(top).is_some_and(|t| t <= mask) {
                let addrs: Vec<u64> = offs.iter().map(|&o| base + u64::from(o)).collect();
                if sorted_distinct(&addrs) && in_span(&addrs) {
                    return Some((AddressEncoding::Relative { base }, at, addrs));
                }
            }
        }
        // Offsets from their own address (needs the ELF's addresses).
        if let Some(va) = elf.and_then(|e| e.address_of(at)) {
            let last = va.checked_add(4 * n as u64 - 1);
            if last.is_some() && elf.and_then(|e| e.address_of(end4 - 1)) == last {
                let addrs: Vec<u64> = offs
                    .iter()
                    .enumerate()
                    .map(|(i, &o)| {
                        va.wrapping_add(4 * i as u64)
                            .wrapping_add(o as i32 as i64 as u64)
                            & mask
                    })
                    .collect();
                if sorted_distinct(&addrs)
                    && elf.is_some_and(|e| e.span.is_some())
                    && in_span(&addrs)
                {
                    return Some((AddressEncoding::PlaceRelative, at, addrs));
                }
            }
        }
    }
    // Pointers.
    let endp = at.checked_add(ptr * n)?;
    if endp <= rd.d.len() && at.is_multiple_of(ptr) && ctx.free(at, endp) {
        let addrs: Vec<u64> = (0..n)
            .map(|i| rd.word(at + ptr * i, ptr))
            .collect::<Option<_>>()?;
        // Kernel addresses, not small numbers: the first non-`A` symbol is
        // above the first 64 KiB.
        let first_code = addrs.iter().zip(kinds).find(|(_, &k)| k != b'A');
        if sorted_distinct(&addrs)
            && first_code.is_some_and(|(&a, _)| a >= 1 << 16)
            && in_span(&addrs)
        {
            return Some((AddressEncoding::Absolute, at, addrs));
        }
    }
    None
}
