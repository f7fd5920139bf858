//! The kernel's BTF as the BPF ksym iterator reads it
//! (`ksym::parse::btf::ksym_iter_layout`): any bytes give a layout or an
//! error that names a byte or what is missing; never a panic, a hang or
//! unbounded memory (anonymous members are looked into at most 8 deep).
//!
//!   cargo +nightly fuzz run btf corpus/btf seeds/btf -- -max_len=65536
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ksym::parse::btf::ksym_iter_layout(data) {
        Ok(l) => assert!(l.target_btf_id > 0, "{l:?}"),
        Err(e) => assert!(!e.is_empty()),
    }
});
