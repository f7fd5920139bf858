//! The real-sizes loader (`ksym::elf::SizedSymbols`, the cached sizes of a
//! vmlinux): any bytes, once as they are and once with the checksum made
//! right (so the fuzzer gets past it to the records and names: the format
//! is documented in `crates/ksym/src/table/sized_symbols.rs`), then
//! matched to a small table. Opening must refuse or succeed, naming the
//! input; matching must give only ids of the table; never a panic, hang or
//! unbounded memory.
//!
//!   cargo +nightly fuzz run sized_symbols fuzz/corpus/sized_symbols fuzz/seeds/sized_symbols
#![no_main]

use std::sync::OnceLock;

use ksym::elf::SizedSymbols;
use ksym::{LoadOptions, SymbolTable};
use libfuzzer_sys::fuzz_target;
use xxhash_rust::xxh3::Xxh3;

const HEADER_LEN: usize = 104;

/// Symbols at the addresses the seeds use, `_text` among them.
fn table() -> &'static SymbolTable {
    static TABLE: OnceLock<SymbolTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let text = "ffffffff81000000 T _text\nffffffff81000000 T startup_64\n\
                    ffffffff81000040 t f\nffffffff81000040 t g\nffffffff81000080 t h\n\
                    ffffffffc0000000 t m\t[mod]\n";
        ksym::parse_bytes("fuzz", text.as_bytes(), &LoadOptions::default()).expect("table")
    })
}

fuzz_target!(|data: &[u8]| {
    ask(SizedSymbols::from_bytes("fuzz.sizes", data.to_vec()));
    if data.len() >= HEADER_LEN {
        let mut sealed = data.to_vec();
        let mut sum = Xxh3::new();
        sum.update(&sealed[..32]);
        sum.update(&sealed[40..]);
        sealed[32..40].copy_from_slice(&sum.digest().to_le_bytes());
        ask(SizedSymbols::from_bytes("fuzz.sizes", sealed));
    }
});

fn ask(sizes: ksym::Result<SizedSymbols>) {
    let sizes = match sizes {
        Ok(s) => s,
        Err(e) => {
            assert!(e.to_string().contains("fuzz.sizes"), "{e}");
            return;
        }
    };
    let table = table();
    let _ = (sizes.build_id_hex(), sizes.text());
    for (id, size) in sizes.sizes_for(table) {
        assert!((id.0 as usize) < table.answering_len() && size > 0);
    }
}
