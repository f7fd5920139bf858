//! Step 1 of the search: `kallsyms_token_index` (256 rising `u16`) and the
//! `kallsyms_token_table` of NUL-terminated strings it points into.

use super::search::{align_up, Rd};
use super::KSYM_NAME_LEN;

/// The token table and index.
pub(super) struct Tokens {
    pub(super) table: usize,
    pub(super) index: usize,
    /// Each token's bytes, as (start, end) in the data.
    pub(super) spans: [(usize, usize); 256],
}

impl Tokens {
    pub(super) fn end(&self) -> usize {
        self.spans[255].1 + 1
    }
}

/// Candidate token indexes: 256 `u16` from 0, rising by 2 to 513 (step 1).
pub(super) fn token_indexes(rd: Rd<'_>, (lo, hi): (usize, usize)) -> Vec<(usize, [u16; 256])> {
    let d = rd.d;
    let max_step = (KSYM_NAME_LEN + 1) as u16;
    let mut found = Vec::new();
    let mut p = align_up(lo, 2);
    while p + 512 <= hi {
        // Quick: 0, then a first token of 1 to 512 bytes.
        if d[p] == 0 && d[p + 1] == 0 && rd.u16(p + 2).is_some_and(|v| (2..=max_step).contains(&v))
        {
            let mut idx = [0u16; 256];
            let mut ok = true;
            for k in 1..256 {
                let v = rd.u16(p + 2 * k).unwrap_or(0);
                match v.checked_sub(idx[k - 1]) {
                    Some(step) if (2..=max_step).contains(&step) => idx[k] = v,
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                found.push((p, idx));
            }
        }
        p += 2;
    }
    found
}

/// Finds the token table an index points into: first ending within 7 bytes
/// before the index, else anywhere.
pub(super) fn token_table_for(
    d: &[u8],
    p: usize,
    idx: &[u16; 256],
    anywhere: bool,
) -> Option<Tokens> {
    let last = idx[255] as usize;
    if anywhere {
        let first_end = idx[1] as usize - 1;
        return (0..d.len().saturating_sub(last + 2))
            .filter(|&q| d[q + first_end] == 0 && d[q] != 0)
            .find_map(|q| check_token_table(d, q, p, idx));
    }
    // Adjacent: the table's last NUL at e - 1, e in p-7..=p.
    for e in (p.saturating_sub(7)..=p).rev() {
        if e < 2 || d[e - 1] != 0 || d[e - 2] == 0 {
            continue;
        }
        let Some(z) = memchr::memrchr(0, &d[..e - 1]) else {
            continue;
        };
        let Some(q) = (z + 1).checked_sub(last) else {
            continue;
        };
        if let Some(t) = check_token_table(d, q, p, idx) {
            return Some(t);
        }
    }
    None
}

fn check_token_table(d: &[u8], q: usize, p: usize, idx: &[u16; 256]) -> Option<Tokens> {
    let mut spans = [(0usize, 0usize); 256];
    let mut singles = 0;
    for k in 0..256 {
        let s = q + idx[k] as usize;
        let e = if k < 255 {
            q + idx[k + 1] as usize - 1
        } else {
            let rest = d.get(s..)?;
            s + memchr::memchr(0, &rest[..rest.len().min(KSYM_NAME_LEN + 1)])?
        };
        let tok = d.get(s..e)?;
        if tok.is_empty() || d.get(e) != Some(&0) || !tok.iter().all(|b| (0x21..0x7f).contains(b)) {
            return None;
        }
        if tok.len() == 1 {
            if tok[0] as usize != k {
                return None;
            }
            singles += 1;
        }
        spans[k] = (s, e);
    }
    // The table must not overlap its index.
    let end = spans[255].1 + 1;
    if singles < 10 || (q < p + 512 && end > p) {
        return None;
    }
    Some(Tokens {
        table: q,
        index: p,
        spans,
    })
}
