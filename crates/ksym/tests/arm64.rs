//! arm64 kallsyms as the Debian arm64 guests showed them
//! (../shared/data/*-cloud-arm64): mapping symbols (`$x`, `$d`, `.L*`)
//! never answer an address nor cut the symbol before them short (6.12's
//! `$x` sits 8 bytes before a function, on its ftrace NOPs), `dump` gives
//! them back as the kernel showed them, and a module's data, which 6.4+
//! kernels keep apart from its text, never runs on into the next module.

mod common;

use std::io::Read;
use std::path::PathBuf;

use ksym::dump::{self, DumpFormat};
use ksym::{LoadOptions, ModuleMap, SymbolTable};

fn dir(kernel: &str) -> PathBuf {
    ksym_testdata::data_dir().join(kernel)
}

const KERNELS: [&str; 2] = ["debian-6.1.0-57-cloud-arm64", "debian-6.12.118-cloud-arm64"];

fn kallsyms(kernel: &str) -> String {
    let mut s = String::new();
    xz2::read::XzDecoder::new(std::fs::File::open(dir(kernel).join("kallsyms.xz")).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn load(kernel: &str) -> SymbolTable {
    let mut map = ModuleMap::default();
    let modules = std::fs::read(dir(kernel).join("proc-modules")).unwrap();
    map.add_text("proc-modules", &modules).unwrap();
    let opts = LoadOptions {
        modules: Some(map),
        ..LoadOptions::default()
    };
    ksym::load_file(&dir(kernel).join("kallsyms.xz"), &opts).unwrap()
}

fn is_mapping(name: &str) -> bool {
    name.starts_with(".L") || name.starts_with('$')
}

#[test]
fn mapping_symbols_answer_no_address_no_name_and_size_nothing() {
    for kernel in KERNELS {
        let text = kallsyms(kernel);
        let table = load(kernel);
        let mut seen = 0;
        for line in text.lines() {
            let mut f = line.split_whitespace();
            let (Some(addr), Some(_), Some(name)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if !is_mapping(name) {
                continue;
            }
            seen += 1;
            // By name: nothing (the kernel's own lookups skip them too).
            assert_eq!(table.find(name).count(), 0, "{kernel}: {name} found");
            assert!(table.resolve(name).is_err(), "{kernel}: {name} resolved");
            let addr = u64::from_str_radix(addr, 16).unwrap();
            if let Some(s) = table.lookup(addr) {
                assert!(!is_mapping(s.name), "{kernel}: {addr:#x} answered {s}");
                // Whatever answers runs past the mapping symbol: it cut
                // nothing short.
                assert!(s.start + s.size > addr, "{kernel}: {addr:#x} ends {s}");
            }
        }
        assert!(seen > 100, "{kernel}: {seen} mapping symbols");
        // `dump` gives every line back, mapping symbols included.
        let mut out = Vec::new();
        dump::write(&table, DumpFormat::Kallsyms, &mut out).unwrap();
        let mut want: Vec<&str> = text.lines().collect();
        let got = String::from_utf8(out).unwrap();
        let mut got: Vec<&str> = got.lines().collect();
        want.sort_unstable();
        got.sort_unstable();
        assert!(
            want == got,
            "{kernel}: dump differs from the kallsyms it read"
        );
    }
}

/// 6.12 keeps a module's text and data in separate areas: bridge's last
/// note lies just below vfat's text, whose first word is a `$x` (no named
/// symbol there, so the kernel names nothing); bridge's note must not run
/// on into it.
#[test]
fn a_module_symbol_stops_where_the_next_module_begins() {
    let table = load("debian-6.12.118-cloud-arm64");
    let vfat = 0xffff_b067_307e_5000;
    assert_eq!(table.lookup(vfat).map(|s| s.to_string()), None);
    let note = table.lookup(vfat - 1).unwrap();
    assert_eq!((note.name, note.module), ("_note_18", Some("bridge")));
    assert_eq!(note.start + note.size, vfat);
    let first = table.lookup(vfat + 8).unwrap();
    assert_eq!((first.name, first.module), ("vfat_hashi", Some("vfat")));
}

/// The table of `kernel` with its modules as a live kernel shows them.
fn load_with_sysfs(kernel: &str) -> SymbolTable {
    let opts = LoadOptions {
        modules: Some(common::sysfs_module_map(&dir(kernel))),
        ..LoadOptions::default()
    };
    ksym::load_file(&dir(kernel).join("kallsyms.xz"), &opts).unwrap()
}

/// A module's `.plt` and ftrace trampoline follow its last function and
/// carry no symbols: an address there is named as that function, sized to
/// the end of the page-aligned text area as `%pS` does
/// (module-text-areas.tsv), and the answer says which section it is in;
/// so do the JSON objects `ksym addr --json` and `ksym serve` give.
#[test]
fn plt_and_ftrace_trampoline_addresses_say_their_section() {
    for (kernel, sized) in KERNELS.into_iter().flat_map(|k| [(k, false), (k, true)]) {
        let mut table = load_with_sysfs(kernel);
        if sized {
            // With the shipped .ko files' real sizes the last function
            // ends before `.plt`: the answer there is still that function,
            // as `%pS` gives it.
            let kos: Vec<_> = std::fs::read_dir(dir(kernel).join("ko"))
                .unwrap()
                .map(|e| ksym::elf::read_elf(&e.unwrap().path()).unwrap())
                .collect();
            table = ksym::elf::apply_modules(table, &kos).0;
            assert!(table.real_size_count() > 1000, "{kernel}: sizes applied");
        }
        let areas = std::fs::read_to_string(dir(kernel).join("module-text-areas.tsv")).unwrap();
        let text_end = |m: &str| {
            let line = areas
                .lines()
                .find(|l| l.starts_with(&format!("{m}\t")))
                .unwrap();
            u64::from_str_radix(
                line.split('\t').nth(2).unwrap().trim_start_matches("0x"),
                16,
            )
            .unwrap()
        };
        let tsv = std::fs::read_to_string(dir(kernel).join("sysfs-sections.tsv")).unwrap();
        let mut checked = 0;
        for line in tsv.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split('\t').collect();
            let (module, section) = (f[0], f[1]);
            let at = u64::from_str_radix(f[2].trim_start_matches("0x"), 16).unwrap();
            if !matches!(section, ".plt" | ".text.ftrace_trampoline" | ".text") {
                continue;
            }
            // (6.12 puts a function 8 bytes into `.text`, after its ftrace
            // NOPs: the kernel names nothing before it)
            let probe = if section == ".text" { at + 8 } else { at + 4 };
            let s = table
                .lookup(probe)
                .unwrap_or_else(|| panic!("{kernel}: {module} {section}"));
            assert_eq!(s.module, Some(module), "{kernel}: {section}");
            let with = table.with_section(s);
            assert_eq!(with.section, Some(section), "{kernel}: {module} {s}");
            if section != ".text" {
                assert_eq!(
                    s.start + s.size,
                    text_end(module),
                    "{kernel}: {module} {section} {s}"
                );
                let mut json = String::new();
                ksym::symbolize::json::symbol_json(&mut json, &with);
                assert!(
                    json.contains(&format!(",\"section\":\"{section}\"")),
                    "{json}"
                );
            }
            checked += 1;
        }
        assert!(checked >= 27, "{kernel}: {checked} sections checked");
        // The core kernel has no module section; a lookup leaves it out.
        let core = table
            .lookup(table.text_anchor().unwrap() + 0x10_0000)
            .unwrap();
        assert_eq!(
            (core.section, table.with_section(core).section),
            (None, None)
        );
    }
}
