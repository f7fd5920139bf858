//! Sizes kept apart from the ELF file: the same answers as matching the
//! ELF symbols one by one (the oracle below, the matching ksym did before),
//! through a round trip of the bytes, and refusals of damaged bytes.

use proptest::prelude::*;

use super::*;
use crate::parse::elf::ElfSymbol;
use crate::table::table_of;

/// The oracle: every sized, non-absolute ELF symbol, slid, against every
/// address-answering table symbol at that address with its name.
fn oracle(table: &SymbolTable, elf: &ElfSymbols) -> Vec<(SymbolId, u64)> {
    let table_text = table.find_in(None, "_text").next().map(|s| s.start);
    let elf_text = elf
        .symbols
        .iter()
        .find(|s| s.name == "_text")
        .map(|s| s.value);
    let slide = match (table_text, elf_text) {
        (Some(t), Some(e)) => t.wrapping_sub(e),
        _ => 0,
    };
    let mut out = Vec::new();
    for s in elf
        .symbols
        .iter()
        .filter(|s| s.size > 0 && !matches!(s.kind, 'a' | 'A'))
    {
        for t in table.aliases(s.value.wrapping_add(slide)) {
            if t.name == s.name {
                out.push((t.id, s.size));
            }
        }
    }
    out
}

/// Each id's size once the sizes are attached (the last given wins).
fn attached(table: &SymbolTable, sizes: &[(SymbolId, u64)]) -> Vec<Option<u64>> {
    let t = table.clone().with_real_sizes(sizes);
    (0..t.len() as u32)
        .map(|i| t.real_size(SymbolId(i)))
        .collect()
}

fn elf_symbol(name: &str, value: u64, size: u64, kind: char) -> ElfSymbol {
    ElfSymbol {
        name: name.to_string(),
        value,
        size,
        section: (kind != 'A').then_some(1),
        kind,
        function: kind == 't' || kind == 'T',
    }
}

fn elf_of(symbols: Vec<ElfSymbol>) -> ElfSymbols {
    ElfSymbols {
        source: "vmlinux".into(),
        build_id: Some(vec![0xab, 0x01, 0xff]),
        symbols,
        ..ElfSymbols::default()
    }
}

#[test]
fn a_round_trip_keeps_what_matching_needs() {
    let elf = elf_of(vec![
        elf_symbol("_text", 0x1000, 0, 'T'),
        elf_symbol("f", 0x1000, 0x40, 't'),
        elf_symbol("g", 0x1040, 0x30, 't'),
        elf_symbol("abs", 0x1080, 0x8, 'A'),
    ]);
    let kept = SizedSymbols::from_elf(&elf);
    let again = SizedSymbols::from_bytes("copy", kept.as_bytes().to_vec()).expect("reads back");
    assert_eq!(
        again.len(),
        2,
        "the absolute and the no_size symbol are left out"
    );
    assert_eq!(again.text(), Some(0x1000));
    assert_eq!(again.build_id_hex().as_deref(), Some("ab01ff"));
    let slide = 0xffff_ffff_a000_0000;
    let table = table_of(&[
        (slide + 0x1000, 'T', "_text", None),
        (slide + 0x1000, 't', "f", None),
        (slide + 0x1040, 't', "g", None),
        (slide + 0x1080, 't', "h", None),
    ]);
    let f = table.find_in(None, "f").next().expect("f").id;
    let g = table.find_in(None, "g").next().expect("g").id;
    assert_eq!(again.sizes_for(&table), vec![(f, 0x40), (g, 0x30)]);
}

#[test]
fn damaged_bytes_are_refused_saying_where() {
    let elf = elf_of(vec![
        elf_symbol("a", 0x2000, 0x10, 't'),
        elf_symbol("b", 0x3000, 0x10, 't'),
    ]);
    let good = SizedSymbols::from_elf(&elf).as_bytes().to_vec();
    let refused = |bytes: Vec<u8>| match SizedSymbols::from_bytes("x", bytes) {
        Ok(_) => panic!("damaged bytes were taken"),
        Err(e) => e.to_string(),
    };
    assert!(refused(good[..50].to_vec()).contains("too short"));
    assert!(refused(good[..good.len() - 1].to_vec()).contains("the file has"));
    let mut flipped = good.clone();
    *flipped.last_mut().expect("bytes") ^= 1;
    assert!(refused(flipped).contains("checksum"));
    let mut version = good.clone();
    version[8] = 9;
    assert!(refused(version).contains("version 9"));
    // Records out of address order, checksum made right: refused by record.
    let mut swapped = good.clone();
    let second = HEADER_LEN + RECORD_LEN;
    swapped[second..second + 8].copy_from_slice(&0x1000u64.to_le_bytes());
    let sum = checksum(&swapped);
    swapped[32..40].copy_from_slice(&sum.to_le_bytes());
    let why = refused(swapped);
    assert!(
        why.contains("record 1") && why.contains(&format!("byte {second}")),
        "{why}"
    );
    // A record without a size (the fuzzer's first find), sealed too.
    let mut no_size = good.clone();
    no_size[second + 8..second + 12].copy_from_slice(&0u32.to_le_bytes());
    let sum = checksum(&no_size);
    no_size[32..40].copy_from_slice(&sum.to_le_bytes());
    assert!(refused(no_size).contains("record 1 (byte 120) has no size"));
}

/// A table and an ELF symbol table that overlap in part: shared names at
/// shared addresses (the ELF's slid by a KASLR slide), names only one
/// side has, names repeated at one address with other sizes, absolute
/// and no_size symbols.
fn case() -> impl Strategy<Value = (SymbolTable, ElfSymbols)> {
    let symbol = (
        0u64..64,
        0usize..12,
        0u64..3,
        prop::sample::select(vec!['t', 'T', 'd', 'A']),
    );
    (
        prop::collection::vec(symbol, 1..80),
        any::<bool>(),
        // The last puts half the table past zero, half below.
        prop::sample::select(vec![0u64, 0x3e00_0000, 0xffff_ffff_8000_0000, 0xffff_fe00]),
    )
        .prop_map(|(symbols, with_text, slide)| {
            let base = 0xffff_ffff_0000_0000u64;
            let name = |n: usize| format!("s{n}");
            let mut table_syms = Vec::new();
            let mut elf_syms = Vec::new();
            if with_text {
                table_syms.push((base.wrapping_add(slide), 'T', "_text".to_string()));
                elf_syms.push(elf_symbol("_text", base, 0, 'T'));
            }
            for (i, &(at, n, size, kind)) in symbols.iter().enumerate() {
                let addr = base + at * 0x10;
                // Some on one side only, most on both.
                if i % 5 != 0 {
                    let table_kind = if kind == 'A' { 't' } else { kind };
                    table_syms.push((addr.wrapping_add(slide), table_kind, name(n)));
                }
                if i % 7 != 1 {
                    elf_syms.push(elf_symbol(&name(n), addr, size * 0x8, kind));
                }
            }
            table_syms.sort_by_key(|s| s.0);
            let rows: Vec<(u64, char, &str, Option<&str>)> = table_syms
                .iter()
                .map(|(a, k, n)| (*a, *k, n.as_str(), None))
                .collect();
            (table_of(&rows), elf_of(elf_syms))
        })
}

proptest! {
    #[test]
    fn sizes_are_the_oracles((table, elf) in case()) {
        let kept = SizedSymbols::from_elf(&elf);
        let read = SizedSymbols::from_bytes("copy", kept.as_bytes().to_vec()).expect("reads back");
        let want = attached(&table, &oracle(&table, &elf));
        prop_assert_eq!(attached(&table, &kept.sizes_for(&table)), want.clone());
        prop_assert_eq!(attached(&table, &read.sizes_for(&table)), want);
    }

    /// Past the magic, the version and the checksum (made right), any
    /// bytes are read or refused, never a panic.
    #[test]
    fn any_bytes_are_read_or_refused(tail in prop::collection::vec(any::<u8>(), 0..400)) {
        let table = table_of(&[(0x1000, 't', "a", None)]);
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&SIZED_SYMBOLS_VERSION.to_le_bytes());
        bytes.extend_from_slice(&tail);
        if bytes.len() >= HEADER_LEN {
            let sum = checksum(&bytes);
            bytes[32..40].copy_from_slice(&sum.to_le_bytes());
        }
        if let Ok(s) = SizedSymbols::from_bytes("x", bytes) {
            let _ = s.sizes_for(&table);
        }
    }
}
