//! Step 2 of the search: `kallsyms_markers`, the `kallsyms_names` entries
//! that end before them and `kallsyms_num_syms` before those; and the
//! expansion of every name through the token table.

use super::search::{align_up, Rd};
use super::tokens::Tokens;
use super::{KSYM_NAME_LEN, MAX_ENTRY, MIN_ENTRY, NAMES_BUDGET_PER_BYTE};

/// The names table and what locates it.
pub(super) struct Names {
    pub(super) num_syms_at: usize,
    pub(super) n: usize,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) markers: usize,
    pub(super) marker_size: usize,
    pub(super) long_lengths: bool,
}

/// Reads an entry's length at `at`: (length, bytes it took).
#[inline]
fn entry_len(d: &[u8], at: usize, long: bool) -> Option<(usize, usize)> {
    let b = *d.get(at)? as usize;
    if long && b & 0x80 != 0 {
        let b2 = *d.get(at + 1)? as usize;
        Some(((b & 0x7f) | (b2 << 7), 2))
    } else {
        Some((b, 1))
    }
}

/// Finds markers, names and the count (step 2).
pub(super) fn find_names(rd: Rd<'_>, tokens: &Tokens, (lo, hi): (usize, usize)) -> Option<Names> {
    let d = rd.d;
    let mut budget =
        (hi.saturating_sub(lo) as u64).saturating_mul(NAMES_BUDGET_PER_BYTE) + (1 << 20);
    let lo_step = (256 * MIN_ENTRY) as u64;
    let hi_step = (256 * MAX_ENTRY) as u64;
    for size in [4usize, 8] {
        let mut k = align_up(lo, 4);
        while k + 3 * size <= hi.min(d.len()) {
            if rd.word(k, size) != Some(0) {
                k += 4;
                continue;
            }
            // The run of rising marker values from k.
            let mut run = 1;
            let mut prev = 0u64;
            let mut max_step = 0u64;
            while let Some(v) = rd.word(k + run * size, size) {
                let step = v.wrapping_sub(prev);
                if v <= prev || !(lo_step..=hi_step).contains(&step) {
                    break;
                }
                max_step = max_step.max(step);
                prev = v;
                run += 1;
            }
            if run >= 2 {
                if let Some(names) =
                    names_before(rd, tokens, k, size, run, max_step as usize, &mut budget)
                {
                    return Some(names);
                }
                if budget == 0 {
                    return None;
                }
            }
            k += 4;
        }
    }
    None
}

/// Given markers at `k` (`run` rising values of `size` bytes), finds the
/// names that end just before them and the count just before the names.
fn names_before(
    rd: Rd<'_>,
    tokens: &Tokens,
    k: usize,
    size: usize,
    run: usize,
    max_step: usize,
    budget: &mut u64,
) -> Option<Names> {
    let d = rd.d;
    // A markers run may go on into whatever follows it.
    for m in (run.saturating_sub(2).max(2)..=run).rev() {
        let Some(last) = rd.word(k + (m - 1) * size, size) else {
            continue;
        };
        // The last chunk holds 1 to 256 entries.
        let Some(hi) = k.checked_sub(last as usize + MIN_ENTRY) else {
            continue;
        };
        let last = last as usize;
        let lo = k.saturating_sub(last + 2 * max_step + 4096);
        let mut start = hi - hi % 4;
        while start >= lo.max(4) {
            *budget = budget.checked_sub(1)?;
            for num_at in [start - 4, start.wrapping_sub(8)] {
                let Some(n) = rd.u32(num_at) else { continue };
                let n = n as usize;
                if n == 0 || n.div_ceil(256) != m {
                    continue;
                }
                for long in [true, false] {
                    *budget = budget.saturating_sub(n.min(256) as u64);
                    if let Some(end) = walk_names(d, start, n, rd, k, size, long) {
                        if k - end < 8 && types_ok(d, tokens, start, n, long) {
                            return Some(Names {
                                num_syms_at: num_at,
                                n,
                                start,
                                end,
                                markers: k,
                                marker_size: size,
                                long_lengths: long,
                            });
                        }
                    }
                }
            }
            if start < 4 {
                break;
            }
            start -= 4;
        }
    }
    None
}

/// Walks `n` entries from `start`, checking each 256th against its marker;
/// returns where the names end.
fn walk_names(
    d: &[u8],
    start: usize,
    n: usize,
    rd: Rd<'_>,
    markers: usize,
    size: usize,
    long: bool,
) -> Option<usize> {
    let mut at = start;
    for i in 0..n {
        if i.is_multiple_of(256)
            && rd.word(markers + (i / 256) * size, size)? != (at - start) as u64
        {
            return None;
        }
        let (len, took) = entry_len(d, at, long)?;
        if len == 0 {
            return None;
        }
        at += took + len;
        if at > markers {
            return None;
        }
    }
    Some(at)
}

/// Every entry's type (first character) is an ASCII letter.
fn types_ok(d: &[u8], tokens: &Tokens, start: usize, n: usize, long: bool) -> bool {
    let mut at = start;
    for _ in 0..n {
        let Some((len, took)) = entry_len(d, at, long) else {
            return false;
        };
        let Some(&first) = d.get(at + took) else {
            return false;
        };
        if !d[tokens.spans[first as usize].0].is_ascii_alphabetic() {
            return false;
        }
        at += took + len;
    }
    true
}

/// Expands every name: (type letters, names).
pub(super) fn decode_names(rd: Rd<'_>, tokens: &Tokens, names: &Names) -> (Vec<u8>, Vec<String>) {
    let d = rd.d;
    let mut kinds = Vec::with_capacity(names.n);
    let mut out = Vec::with_capacity(names.n);
    let mut buf = Vec::with_capacity(KSYM_NAME_LEN);
    let mut at = names.start;
    for _ in 0..names.n {
        // The walk checked these bounds.
        let (len, took) = entry_len(d, at, names.long_lengths).unwrap_or((0, 1));
        buf.clear();
        for &b in &d[at + took..(at + took + len).min(names.end)] {
            let (s, e) = tokens.spans[b as usize];
            buf.extend_from_slice(&d[s..e]);
        }
        at += took + len;
        kinds.push(buf.first().copied().unwrap_or(b'?'));
        // Tokens are printable ASCII.
        out.push(String::from_utf8_lossy(buf.get(1..).unwrap_or_default()).into_owned());
    }
    (kinds, out)
}
