//! Kernel image decoding (`ksym::image`): any bytes, as a vmlinuz, an ELF
//! vmlinux or a raw kernel. It must return symbols or an error, never panic
//! or hang; symbols it returns are in address order and build a table.
//!
//!   cargo +nightly fuzz run image fuzz/corpus/image fuzz/seeds/image -- -max_len=65536
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ksym::image::kallsyms_from_image(data) {
        Ok(image) => {
            assert!(!image.symbols.is_empty());
            assert!(image.symbols.windows(2).all(|w| w[0].addr <= w[1].addr));
            let table = image
                .to_table("fuzz", &ksym::LoadOptions::default(), 0)
                .expect("decoded symbols build a table");
            assert_eq!(table.len(), image.symbols.len());
            let mut out = Vec::new();
            ksym::dump::write(&table, ksym::dump::DumpFormat::SystemMap, &mut out).unwrap();
            assert_eq!(
                out.iter().filter(|&&b| b == b'\n').count(),
                image.symbols.len()
            );
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
        }
    }
});
