//! The row stream and the table's checks, against a plain list of rows.

use super::encode::TableWriter;
use super::{checksum, partition_point, BlockBuckets, FrameKey, LineTable, HEADER_LEN};

/// A pseudo-random table: rows (address, frames) where `None` is a gap;
/// the oracle is a search in this list.
fn rows(seed: u64, n: usize) -> Vec<(u64, Option<Vec<FrameKey>>)> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut addr = 0xffff_ffff_8100_0000u64;
    (0..n)
        .map(|_| {
            addr += 1 + next() % 40;
            let frames = (next() % 7 != 0).then(|| {
                // Some chains deeper than the frames held inline.
                let depth = if next() % 5 == 0 {
                    1 + next() % 14
                } else {
                    1 + next() % 4
                };
                (0..depth)
                    .map(|_| FrameKey {
                        function: (next() % 5) as u32,
                        file: (next() % 5) as u32,
                        line: (next() % 3000) as u32,
                        column: (next() % 30) as u32,
                        ..FrameKey::default()
                    })
                    .collect()
            });
            (addr, frames)
        })
        .collect()
}

/// [`rows`] with what a tools' table adds: second paths everywhere, and
/// discriminators and rows past their unit's ranges innermost.
fn tools_rows(seed: u64, n: usize) -> Vec<(u64, Option<Vec<FrameKey>>)> {
    let mut x = seed;
    let mut rows = rows(seed, n);
    for keys in rows.iter_mut().filter_map(|r| r.1.as_mut()) {
        for (i, k) in keys.iter_mut().enumerate() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            k.alt_file = ((x >> 33) % 5) as u32;
            if i == 0 {
                k.discriminator = [0, 0, 1, 3, 200][((x >> 40) % 5) as usize];
                k.past_ranges = (x >> 50).is_multiple_of(4);
            }
        }
    }
    rows
}

/// The oracle: the frames of the last row at or below `addr` (none in a
/// gap or before the first row).
fn frames_at(rows: &[(u64, Option<Vec<FrameKey>>)], addr: u64) -> Vec<FrameKey> {
    rows.iter()
        .rev()
        .find(|r| r.0 <= addr)
        .and_then(|r| r.1.clone())
        .unwrap_or_default()
}

fn table_of(rows: &[(u64, Option<Vec<FrameKey>>)]) -> Vec<u8> {
    write_table(rows, false)
}

fn write_table(rows: &[(u64, Option<Vec<FrameKey>>)], tools: bool) -> Vec<u8> {
    let mut writer = TableWriter::new(tools);
    for (addr, frames) in rows {
        writer
            .push(*addr, frames.as_deref().and_then(<[_]>::split_first))
            .unwrap();
    }
    let strings: Vec<String> = ["0123abcd", "f", "g", "a.c", "b.h"]
        .map(String::from)
        .to_vec();
    writer.finish(&strings, 0xffff_ffff_8100_0000).unwrap()
}

#[test]
fn every_address_answers_what_the_rows_say() {
    for seed in [1, 7, 99] {
        let rows = rows(seed, 500);
        let table = LineTable::from_bytes("test", table_of(&rows)).unwrap();
        assert_eq!(table.build_id(), "0123abcd");
        let (first, last) = (rows[0].0 - 3, rows.last().unwrap().0 + 3);
        for addr in first..last {
            let want = frames_at(&rows, addr);
            let got = table.frames(addr).unwrap();
            assert_eq!(got.len(), want.len(), "at {addr:#x}");
            let borrowed = table.frames_ref(addr).unwrap();
            assert_eq!(borrowed.len(), want.len(), "at {addr:#x}");
            let borrowed: Vec<_> = borrowed.map(|f| f.to_frame()).collect();
            assert_eq!(borrowed, got, "borrowed at {addr:#x}");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let name = |id: u32| {
                    (id != 0)
                        .then(|| ["0123abcd", "f", "g", "a.c", "b.h"][id as usize - 1].to_string())
                };
                assert_eq!(g.function, name(w.function), "at {addr:#x}");
                assert_eq!(g.file, name(w.file), "at {addr:#x}");
                assert_eq!(g.line.unwrap_or(0), w.line);
                assert_eq!(g.column.unwrap_or(0), w.column);
                assert_eq!(g.inlined, i + 1 < want.len());
            }
        }
    }
}

#[test]
fn damage_is_refused_when_opened_or_asked() {
    let bytes = table_of(&rows(3, 300));
    for cut in [
        0,
        7,
        HEADER_LEN - 1,
        HEADER_LEN,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        assert!(
            LineTable::from_bytes("cut", bytes[..cut].to_vec()).is_err(),
            "cut at {cut}"
        );
    }
    for at in (0..bytes.len()).step_by(7) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x5a;
        assert!(
            LineTable::from_bytes("flip", bad).is_err(),
            "byte {at} flipped"
        );
    }
    let mut old = bytes.clone();
    old[8] = 99;
    let err = LineTable::from_bytes("old", old).unwrap_err().to_string();
    assert!(err.contains("version 99"), "{err}");
}

#[test]
fn a_tools_table_gives_back_every_part_of_its_frames() {
    for seed in [2, 11] {
        let rows = tools_rows(seed, 400);
        let table = LineTable::from_bytes("tools", write_table(&rows, true)).unwrap();
        assert!(table.is_tools());
        let (first, last) = (rows[0].0 - 3, rows.last().unwrap().0 + 3);
        for addr in first..last {
            let want = frames_at(&rows, addr);
            let found = table.frames_ref(addr).unwrap();
            let got: Vec<FrameKey> = found.keys().copied().collect();
            assert_eq!(got, want, "at {addr:#x}");
        }
    }
    // A kernel table has no room for them: refused when written, not lost.
    let rows = tools_rows(2, 50);
    let mut writer = TableWriter::new(false);
    let refused = rows
        .iter()
        .map(|(addr, frames)| writer.push(*addr, frames.as_deref().and_then(<[_]>::split_first)))
        .any(|r| r.is_err());
    assert!(refused);
    // Their tag bits in a kernel table are damage.
    let mut bytes = write_table(&rows, true);
    bytes[28] = 0;
    let sum = checksum(&bytes);
    bytes[40..48].copy_from_slice(&sum.to_le_bytes());
    let table = LineTable::from_bytes("unflagged", bytes).unwrap();
    assert!(rows.iter().any(|(addr, _)| table.frames(*addr).is_err()));
}

/// Damage the checksum cannot see (a writer's bug, a fuzzer fixing the
/// sum): every lookup is an answer or an error, never a panic.
#[test]
fn damaged_rows_with_a_good_checksum_never_panic() {
    let bytes = table_of(&rows(5, 200));
    let stream_at = bytes.len() - 1500.min(bytes.len() - HEADER_LEN);
    for at in stream_at..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] = bad[at].wrapping_add(0x81);
        let sum = checksum(&bad);
        bad[40..48].copy_from_slice(&sum.to_le_bytes());
        let Ok(table) = LineTable::from_bytes("fuzzed", bad) else {
            continue;
        };
        for addr in (0xffff_ffff_8100_0000u64..).step_by(97).take(100) {
            let _ = table.frames(addr);
        }
    }
}

/// A table of one block at `start` whose row stream is `stream` as given
/// (header, index and checksum made right around it).
fn raw_table(start: u64, stream: &[u8]) -> Vec<u8> {
    let build_id = b"0123abcd";
    let mut out = b"KSYMLINE".to_vec();
    for v in [1u32, 1, 1, build_id.len() as u32, stream.len() as u32, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(build_id.len() as u32).to_le_bytes());
    out.extend_from_slice(build_id);
    out.extend_from_slice(stream);
    let sum = checksum(&out);
    out[40..48].copy_from_slice(&sum.to_le_bytes());
    out
}

/// The `line_table` fuzzer's first crash (`fuzz/seeds/line_table/
/// regress-line-delta-overflow`): a zigzag line delta near `i64::MAX`
/// added to a line overflowed (a panic with debug assertions, a wrapped
/// line without). It is refused, naming the byte.
#[test]
fn a_line_delta_past_the_line_range_is_refused() {
    let start = 0x40_1000;
    // Row 1: line 3. Row 2 at +7: line delta +1, then zigzag(2^63 - 1)
    // in 10 bytes.
    let rows = |delta: &[u8]| {
        let mut stream = vec![0x00, 0x00, 0x06, 0x00, 0x07, 0x00];
        stream.extend_from_slice(delta);
        stream.push(0x00);
        LineTable::from_bytes("delta.table", raw_table(start, &stream)).unwrap()
    };
    let table = rows(&[0x02]);
    assert_eq!(table.frames(start).unwrap()[0].line, Some(3));
    assert_eq!(table.frames(start + 7).unwrap()[0].line, Some(4));
    let table = rows(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    let err = table.frames(start + 7).unwrap_err().to_string();
    assert!(
        err.contains("delta.table") && err.contains("at byte 82"),
        "{err}"
    );
    // The smallest delta: past line 0 the other way.
    let table = rows(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(table.frames(start + 7).is_err());
}

/// A tenth LEB128 byte above 1 holds bits past 64: refused, not dropped.
#[test]
fn a_number_past_64_bits_is_refused() {
    let start = 0x40_1000;
    let mut stream = vec![0x00, 0x00, 0x06, 0x00];
    // An address delta of 2^64 + 7, which would read as 7 with the bits dropped.
    stream.extend_from_slice(&[0x87, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]);
    stream.extend_from_slice(&[0x00, 0x00, 0x00]);
    let table = LineTable::from_bytes("wide.table", raw_table(start, &stream)).unwrap();
    let err = table.frames(start + 7).unwrap_err().to_string();
    assert!(
        err.contains("wide.table") && err.contains("at byte 89"),
        "{err}"
    );
}

/// What the `lines` fuzz target checks, on its finds: a linked file's line
/// table answers as its DWARF at every address around its code.
fn table_answers_as_the_dwarf(seed: &str) {
    use crate::lines::{DebugFile, LineContext, Placement};
    let path = format!(
        "{}/../../fuzz/seeds/lines/{seed}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let table = super::build(DebugFile::from_bytes(seed, bytes.clone()).unwrap()).unwrap();
    let file = DebugFile::from_bytes(seed, bytes).unwrap();
    let context = LineContext::new(file, Placement::Slide(0)).unwrap();
    for addr in 0x40_0ff0..0x40_1050 {
        if let Ok(want) = context.frames(addr) {
            assert_eq!(table.frames(addr).unwrap(), want, "{seed} at {addr:#x}");
        }
    }
}

/// A line row ran past its unit's `DW_AT_ranges` where no function ended
/// (main's range dropped: its `high_pc` offset overflows).
#[test]
fn a_row_past_the_units_range_is_cut() {
    table_answers_as_the_dwarf("regress-row-past-unit-range");
}

/// A line row ran past the unit's `.debug_aranges` entry: lookups do not
/// ask the unit there, the table answered from the row.
#[test]
fn a_row_past_the_units_arange_is_cut() {
    table_answers_as_the_dwarf("regress-row-past-arange");
}

/// The buckets narrow the search to exactly where a search of the whole
/// block index lands, for any spread of block starts (dense, a few far
/// apart, one block) and any address (before, inside, past, at the ends).
#[test]
fn buckets_bound_the_block_search_exactly() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for case in 0..200u64 {
        let n = 1 + (next() % 300) as usize;
        let mut starts = Vec::with_capacity(n);
        // Kernel addresses near the top (jumps up to 2^20), or low ones
        // with jumps up to 2^40.
        let (base, jump) = match case % 2 {
            0 => (0xffff_ffff_8100_0000u64, 1u64 << 20),
            _ => (0x40_0000, 1 << 40),
        };
        let mut at = base + next() % 0x1000;
        for _ in 0..n {
            starts.push(at);
            // Mostly small steps; now and then a jump.
            at += 1 + if next() % 50 == 0 {
                next() % jump
            } else {
                next() % 200
            };
        }
        let b = BlockBuckets::new(n, |i| starts[i]);
        let mut probes: Vec<u64> = vec![0, u64::MAX, starts[0] - 1, at];
        for _ in 0..200 {
            let s = starts[(next() % n as u64) as usize];
            probes.extend([s, s - 1, s + 1, s + next() % 300]);
        }
        for addr in probes {
            let want = partition_point(n, |i| starts[i] <= addr);
            let (lo, hi) = b.range(addr, n);
            assert!(
                lo <= want && want <= hi,
                "case {case}: {addr:#x}: {lo}..{hi} misses {want}"
            );
            let got = lo + partition_point(hi - lo, |i| starts[lo + i] <= addr);
            assert_eq!(got, want, "case {case}: {addr:#x}");
        }
        assert!(
            b.counts.len() <= n / 4 + 2,
            "case {case}: {} buckets for {n}",
            b.counts.len()
        );
    }
    // A damaged table's blocks may span the whole address space.
    for starts in [
        vec![0, u64::MAX],
        vec![0, 1, u64::MAX - 1, u64::MAX],
        vec![5, 1 << 63, u64::MAX],
        vec![u64::MAX],
        vec![0],
        vec![7],
    ] {
        let n = starts.len();
        let b = BlockBuckets::new(n, |i| starts[i]);
        for addr in [0, 1, 4, 5, 6, 1 << 62, 1 << 63, u64::MAX - 1, u64::MAX] {
            let want = partition_point(n, |i| starts[i] <= addr);
            let (lo, hi) = b.range(addr, n);
            let got = lo + partition_point(hi - lo, |i| starts[lo + i] <= addr);
            assert_eq!(got, want, "{starts:x?}: {addr:#x}");
        }
    }
}

/// The last address of the address space: the addr2line crate's lookup
/// of `[probe, probe + 1)` overflowed there (the lines fuzz target's find,
/// `regress-probe-at-last-address`); it has no line, in any seed.
#[test]
fn the_last_address_has_no_line() {
    use crate::lines::{DebugFile, LineContext, Placement};
    for seed in ["small-exec", "regress-probe-at-last-address"] {
        let path = format!(
            "{}/../../fuzz/seeds/lines/{seed}",
            env!("CARGO_MANIFEST_DIR")
        );
        let file = DebugFile::from_bytes(seed, std::fs::read(&path).unwrap()).unwrap();
        let context = LineContext::new(file, Placement::Slide(0)).unwrap();
        assert_eq!(context.frames(u64::MAX).ok(), Some(Vec::new()), "{seed}");
    }
}
