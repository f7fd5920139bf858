//! `ksym dump` in every format reads back into the same table (real 6.12 data).

use std::path::PathBuf;

use ksym::dump::{self, DumpFormat};
use ksym::{LoadOptions, ModuleMap, SymbolTable};

fn data() -> PathBuf {
    ksym_testdata::data_dir().join("debian-6.12.117")
}

fn opts() -> LoadOptions {
    let mut modules = ModuleMap::default();
    let path = data().join("proc-modules");
    modules
        .add_text("proc-modules", &std::fs::read(path).expect("proc-modules"))
        .unwrap();
    LoadOptions {
        modules: Some(modules),
        ..LoadOptions::default()
    }
}

fn table() -> SymbolTable {
    ksym::load_file(&data().join("kallsyms.xz"), &opts()).expect("6.12 data")
}

fn dumped(t: &SymbolTable, format: DumpFormat) -> Vec<u8> {
    let mut out = Vec::new();
    dump::write(t, format, &mut out).unwrap();
    out
}

/// Everything a symbol answers, in address order.
fn facts(t: &SymbolTable) -> Vec<(u64, char, String, u64, Option<String>)> {
    dump::by_address(t)
        .map(|s| {
            (
                s.start,
                s.kind,
                s.name.to_string(),
                s.size,
                s.module.map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn kallsyms_and_kallmodsyms_round_trip() {
    let t = table();
    let want = facts(&t);
    for format in [DumpFormat::Kallsyms, DumpFormat::Kallmodsyms] {
        let text = dumped(&t, format);
        let back = ksym::parse_bytes("dump", &text, &opts()).unwrap();
        assert_eq!(back.info().skipped.count, 0, "{format:?}");
        assert_eq!(facts(&back), want, "{format:?}");
        // And the text itself is stable.
        assert_eq!(dumped(&back, format), text, "{format:?}");
    }
}

#[test]
fn system_map_round_trip_keeps_the_core() {
    let t = table();
    let text = dumped(&t, DumpFormat::SystemMap);
    let back = ksym::parse_bytes("dump", &text, &LoadOptions::default()).unwrap();
    let strip = |v: Vec<(u64, char, String, u64, Option<String>)>| {
        v.into_iter()
            .map(|(a, k, n, _, _)| (a, k, n))
            .collect::<Vec<_>>()
    };
    // System.map has no modules: same addresses, types and names, in order.
    assert_eq!(strip(facts(&back)), strip(facts(&t)));
    assert_eq!(dumped(&back, DumpFormat::SystemMap), text);
}

#[test]
fn json_lines_carry_every_symbol() {
    let t = table();
    let text = String::from_utf8(dumped(&t, DumpFormat::Json)).unwrap();
    let want = facts(&t);
    let mut n = 0;
    for (line, (addr, kind, name, size, module)) in text.lines().zip(&want) {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        let a = v["addr"].as_str().unwrap();
        assert_eq!(u64::from_str_radix(&a[2..], 16).unwrap(), *addr, "{line}");
        assert_eq!(v["type"].as_str().unwrap(), kind.to_string());
        assert_eq!(v["name"].as_str().unwrap(), name);
        assert_eq!(v["size"].as_u64().unwrap(), *size);
        assert_eq!(v["module"].as_str().map(str::to_string), *module);
        n += 1;
    }
    assert_eq!(n, want.len());
    assert_eq!(text.lines().count(), t.len());
}
