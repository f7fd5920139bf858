//! A module's `.ko` read as ELF (`ksym::elf::parse_elf`): its symbols and
//! its code laid out as the module loader does (`module_text`: section
//! order, alignment, arm64's `.plt` sized from the branch relocations),
//! then applied to a small table of that module known from
//! `/proc/modules` alone. The parse refuses or succeeds naming the input;
//! a layout is sections in order, none past the end; the applied table
//! answers every address of the module's area with a symbol of the
//! module, inside it; never a panic, hang or unbounded memory.
//!
//!   cargo +nightly fuzz run ko corpus/ko seeds/ko -- -max_len=65536
#![no_main]

use std::sync::OnceLock;

use ksym::{LoadOptions, ModuleMap, SymbolTable};
use libfuzzer_sys::fuzz_target;

const BASE: u64 = 0xffff_d5fb_8480_6000;
const SIZE: u64 = 16384;

/// 6.1 arm64's `stp` as kallsyms and `/proc/modules` showed it (the seeds
/// are its `.ko`, and others).
fn table() -> &'static SymbolTable {
    static TABLE: OnceLock<SymbolTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = ModuleMap::default();
        map.add_text("fuzz", format!("stp {SIZE} 1 bridge, Live {BASE:#x}\n").as_bytes())
            .expect("map");
        let text = "ffffd5fb848060c0 t stp_pdu_rcv\t[stp]\n\
                    ffffd5fb84806000 t stp_proto_register\t[stp]\n\
                    ffffd5fb848061a0 t stp_proto_unregister\t[stp]\n";
        let opts = LoadOptions {
            modules: Some(map),
            ..LoadOptions::default()
        };
        ksym::parse_bytes("fuzz", text.as_bytes(), &opts).expect("table")
    })
}

fuzz_target!(|data: &[u8]| {
    let elf = match ksym::elf::parse_elf("fuzz.ko", data) {
        Ok(e) => e,
        Err(e) => {
            assert!(e.to_string().contains("fuzz.ko"), "{e}");
            return;
        }
    };
    if let Some(Ok(text)) = &elf.module_text {
        let mut at = 0;
        for s in &text.sections {
            assert!(s.offset >= at, "{text:?}");
            at = s.offset + s.size;
        }
        assert!(at <= text.end, "{text:?}");
    }
    let (table, reports) = ksym::elf::apply_modules(table().clone(), &[elf]);
    for r in &reports {
        if let Some(area) = &r.text_area {
            assert!(area.start == BASE && area.size <= SIZE, "{area:?}");
        }
    }
    for addr in (BASE - 16..BASE + SIZE + 16).step_by(4) {
        if let Some(s) = table.lookup(addr) {
            assert!(s.start <= addr && addr - s.start < s.size.max(1), "{addr:#x} {s}");
            let _ = table.with_section(s);
        }
    }
});
