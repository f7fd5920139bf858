//! The structure search: the byte-order reader, and the driver that finds
//! the token tables, then the names, then the addresses, and joins them.

use super::addresses::find_addresses;
use super::elf::ElfInfo;
use super::names::{decode_names, find_names};
use super::tokens::{token_indexes, token_table_for, Tokens};
use super::{AddressEncoding, ImageSymbol, TableLayout, MAX_INDEX_CANDIDATES, MAX_TOKEN_TABLES};

/// Reads words of one byte order, `None` past the end.
#[derive(Clone, Copy)]
pub(super) struct Rd<'a> {
    pub(super) d: &'a [u8],
    pub(super) be: bool,
}

impl Rd<'_> {
    #[inline]
    pub(super) fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.d.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.be {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    #[inline]
    pub(super) fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.d.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    #[inline]
    fn u64(&self, at: usize) -> Option<u64> {
        let b: [u8; 8] = self.d.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(if self.be {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// A word of `size` bytes (4 or 8).
    #[inline]
    pub(super) fn word(&self, at: usize, size: usize) -> Option<u64> {
        if size == 8 {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }
}

#[inline]
pub(super) fn align_up(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

pub(super) struct Found {
    pub(super) encoding: AddressEncoding,
    pub(super) layout: TableLayout,
    pub(super) symbols: Vec<ImageSymbol>,
}

/// Finds and decodes the tables (see the module documentation). The error
/// says which step found nothing.
pub(super) fn find_tables(
    data: &[u8],
    elf: Option<&ElfInfo>,
) -> std::result::Result<Found, String> {
    let orders: &[bool] = match elf {
        Some(e) if e.big_endian => &[true],
        Some(_) => &[false],
        None => &[false, true],
    };
    let mut why = String::from("no kallsyms_token_index (256 rising offsets of a token table)");
    for &be in orders {
        let rd = Rd { d: data, be };
        // `.rodata` first, where the tables are; then the whole file.
        let whole = (0, data.len());
        let mut scopes = vec![whole];
        if let Some(r) = elf
            .and_then(|e| e.rodata)
            .filter(|&(lo, hi)| lo < hi && hi <= data.len())
        {
            scopes.insert(0, r);
        }
        for (i, &scope) in scopes.iter().enumerate() {
            let indexes = token_indexes(rd, scope);
            // Tables right before their index first; anywhere only if none
            // fit (and only in the last scope: that search is the slowest).
            // Real kernels have one or two candidates: a file with many is
            // made to cost time, and gets a few tries only.
            let last = i + 1 == scopes.len();
            for anywhere in [false, true].into_iter().filter(|&a| !a || last) {
                let tries = if anywhere { 4 } else { MAX_TOKEN_TABLES };
                let tables = indexes
                    .iter()
                    .take(MAX_INDEX_CANDIDATES)
                    .filter_map(|(p, idx)| token_table_for(data, *p, idx, anywhere))
                    .take(tries);
                for tokens in tables {
                    match decode_with(rd, &tokens, elf, scope) {
                        Ok(found) => return Ok(found),
                        Err(w) => why = w,
                    }
                }
            }
        }
    }
    Err(why)
}

fn decode_with(
    rd: Rd<'_>,
    tokens: &Tokens,
    elf: Option<&ElfInfo>,
    scope: (usize, usize),
) -> std::result::Result<Found, String> {
    let Some(names) = find_names(rd, tokens, scope) else {
        return Err(format!(
            "a token table at {:#x}, but no kallsyms_names, kallsyms_markers and \
             kallsyms_num_syms that fit it",
            tokens.table
        ));
    };
    let (kinds, names_text) = decode_names(rd, tokens, &names);
    let Some((encoding, at, addrs)) = find_addresses(rd, tokens, &names, &kinds, elf) else {
        return Err(format!(
            "{} names at {:#x}, but no address table (kallsyms_offsets or \
             kallsyms_addresses) of that many sorted entries",
            names.n, names.start
        ));
    };
    let symbols = addrs
        .into_iter()
        .zip(kinds)
        .zip(names_text)
        .map(|((addr, kind), name)| ImageSymbol { addr, kind, name })
        .collect();
    Ok(Found {
        encoding,
        layout: TableLayout {
            num_syms: names.num_syms_at,
            names: names.start,
            markers: names.markers,
            token_table: tokens.table,
            token_index: tokens.index,
            addresses: at,
            big_endian: rd.be,
            long_lengths: names.long_lengths,
        },
        symbols,
    })
}
