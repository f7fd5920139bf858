//! A table split into parts (core at link time, modules relative to their
//! areas, the boot's rest) and joined back answers exactly as before: every
//! symbol of the real 6.12, 6.1 and 6.18 data and of the live kernel, looked
//! up at its address, inside it and just past it, by id and by name; each
//! part also round-trips through the snapshot format first, as a store
//! keeps it.

mod common;

use common::data_dir;
use ksym::snapshot::parts::{join, split, ModulePart, TableParts};
use ksym::snapshot::{from_bytes, to_bytes, Identity, OpenOptions};
use ksym::{LoadOptions, ModuleMap, SymbolTable};

/// x86_64's link-time `_text`: the KASLR slide is `_text` less this.
const LINK_TEXT: u64 = ksym::host::X86_64_TEXT_LINK_ADDR;

fn slide_of(table: &SymbolTable) -> i64 {
    table
        .find("_text")
        .find(|s| s.module.is_none())
        .map_or(0, |s| s.start.wrapping_sub(LINK_TEXT) as i64)
}

fn load(dir: &str) -> SymbolTable {
    let base = data_dir().join(dir);
    let mut map = ModuleMap::default();
    for name in ["proc-modules", "module-layout.tsv"] {
        if let Ok(bytes) = std::fs::read(base.join(name)) {
            map.add_text(name, &bytes).unwrap();
        }
    }
    let opts = LoadOptions {
        modules: (!map.modules.is_empty()).then_some(map),
        ..LoadOptions::default()
    };
    ksym::load_file(&base.join("kallsyms.xz"), &opts).unwrap()
}

/// Each part through snapshot bytes and back, as the store keeps it.
fn stored(parts: TableParts) -> TableParts {
    let again = |t: &SymbolTable| {
        let bytes = to_bytes(t, &Identity::default());
        let opts = OpenOptions { verify: true };
        from_bytes("part", &bytes, opts).unwrap().0
    };
    TableParts {
        core: again(&parts.core),
        modules: parts
            .modules
            .iter()
            .map(|m| ModulePart {
                name: m.name.clone(),
                anchors: m.anchors.clone(),
                table: again(&m.table),
            })
            .collect(),
        boot: again(&parts.boot),
    }
}

/// Every answer `joined` gives is `table`'s: each symbol by id, by name,
/// and looked up at its start, middle, last byte and end.
fn assert_same_answers(what: &str, table: &SymbolTable, joined: &SymbolTable) {
    assert_eq!(table.len(), joined.len(), "{what}: symbol count");
    assert_eq!(table.answering_len(), joined.answering_len(), "{what}");
    assert_eq!(
        table.module_map(),
        joined.module_map(),
        "{what}: module map"
    );
    let names = |t: &SymbolTable| t.module_names().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(names(table), names(joined), "{what}: module names");
    let mut lookups = 0usize;
    for (a, b) in table.iter().zip(joined.iter()) {
        assert_eq!(a, b, "{what}: symbol by id");
        assert_eq!(
            table.modules_of(a.id).collect::<Vec<_>>(),
            joined.modules_of(b.id).collect::<Vec<_>>(),
            "{what}: modules of {a}"
        );
        assert!(
            table.find(a.name).eq(joined.find(a.name)),
            "{what}: find {}",
            a.name
        );
        for addr in [
            a.start,
            a.start + a.size / 2,
            a.start + a.size.saturating_sub(1),
            a.start + a.size,
        ] {
            assert_eq!(table.lookup(addr), joined.lookup(addr), "{what}: {addr:#x}");
            lookups += 1;
        }
    }
    eprintln!(
        "{what}: {} symbols, {lookups} lookups the same",
        table.len()
    );
}

fn check(what: &str, table: &SymbolTable) {
    let slide = slide_of(table);
    let parts = stored(split(table, slide).unwrap());
    let joined = join(&parts.core, &parts.modules, &parts.boot, slide).unwrap();
    eprintln!(
        "{what}: slide {slide:#x}, core {} symbols, {} module parts, {} boot symbols",
        parts.core.len(),
        parts.modules.len(),
        parts.boot.len()
    );
    assert_same_answers(what, table, &joined);
}

#[test]
fn debian_6_12_joins_back() {
    let table = load("debian-6.12.117");
    assert_eq!(slide_of(&table), 0x1a00_0000);
    let parts = split(&table, slide_of(&table)).unwrap();
    // Every module with symbols has a part (66 of them), none left to the
    // boot but the pseudo-modules.
    let pseudo = |m: &str| m == "bpf" || m.starts_with("__builtin__");
    let mut with_symbols: Vec<&str> = table
        .iter()
        .filter(|s| table.in_loadable_module(s.id))
        .filter_map(|s| s.module)
        .filter(|m| !pseudo(m))
        .collect();
    with_symbols.sort_unstable();
    with_symbols.dedup();
    let mut parted: Vec<&str> = parts.modules.iter().map(|m| m.name.as_str()).collect();
    parted.sort_unstable();
    assert_eq!(parted, with_symbols);
    assert!(parts.boot.iter().all(|s| s.module.is_some_and(pseudo)));
    check("debian-6.12.117", &table);
}

#[test]
fn debian_6_1_joins_back() {
    check("debian-6.1.0-56", &load("debian-6.1.0-56"));
    check("debian-6.1.0-57-cloud", &load("debian-6.1.0-57-cloud"));
}

#[test]
fn live_6_18_capture_joins_back() {
    check("live-6.18", &load("live-6.18"));
}

#[test]
fn the_live_kernel_joins_back() {
    match ksym::load_live(&LoadOptions::default()) {
        Ok(table) => check("live kernel", &table),
        Err(e) => eprintln!("skipped: the live kernel's symbols cannot be read here: {e}"),
    }
}
