//! The line table loader (`ksym::lines::LineTable`): any bytes as a table,
//! once as they are and once with the checksum made right (so the fuzzer
//! gets past it to the structure and the rows: the format is documented in
//! `crates/ksym/src/lines/table/mod.rs`), then asked along its addresses.
//! Opening must refuse or succeed, a lookup answer or fail, naming the
//! table; never a panic, hang or unbounded memory.
//!
//!   cargo +nightly fuzz run line_table fuzz/corpus/line_table fuzz/seeds/line_table -- -max_len=65536
#![no_main]

use ksym::lines::LineTable;
use libfuzzer_sys::fuzz_target;
use xxhash_rust::xxh3::Xxh3;

const HEADER_LEN: usize = 48;

fuzz_target!(|data: &[u8]| {
    ask(LineTable::from_bytes("fuzz.table", data.to_vec()));
    if data.len() >= HEADER_LEN {
        let mut sealed = data.to_vec();
        let mut sum = Xxh3::new();
        sum.update(&sealed[..40]);
        sum.update(&sealed[HEADER_LEN..]);
        sealed[40..48].copy_from_slice(&sum.digest().to_le_bytes());
        ask(LineTable::from_bytes("fuzz.table", sealed));
    }
});

fn ask(table: ksym::Result<LineTable>) {
    let Ok(table) = table else { return };
    // Addresses around `_text` and spread over the address space.
    let text = table.text();
    let asks = (0..64u64)
        .map(|i| text.wrapping_add(i * 7))
        .chain((0..16u64).map(|i| i << 60));
    for addr in asks {
        match table.frames(addr) {
            Ok(frames) => {
                if let Some(outer) = frames.last() {
                    assert!(!outer.inlined);
                    assert!(frames[..frames.len() - 1].iter().all(|f| f.inlined));
                }
            }
            Err(e) => assert!(e.to_string().contains("fuzz.table"), "{e}"),
        }
    }
}
