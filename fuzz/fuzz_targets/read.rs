//! Arbitrary bytes through the bounded reader: plain, or xz, gzip or zstd
//! by their magic bytes. Decompression never passes the bound it is given
//! (the production defaults, then a small chosen one), and what comes out
//! parses as symbol text without a panic.
#![no_main]

use ksym::read::{decompress_within, Limit};
use ksym::LoadOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for limit in [Limit::text(None), Limit::chosen(64 << 10)] {
        match decompress_within("fuzz", data.to_vec(), limit) {
            Ok(out) => {
                let max = limit.expanded_max(data.len() as u64);
                assert!(out.len() as u64 <= max, "{} > {max}", out.len());
                let _ = ksym::parse_bytes("fuzz", &out, &LoadOptions::default());
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
