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

/// The shipped `.ko` files of `kernel`'s modules.
fn kos(kernel: &str) -> Vec<ksym::elf::ElfSymbols> {
    std::fs::read_dir(dir(kernel).join("ko"))
        .unwrap()
        .map(|e| ksym::elf::read_elf(&e.unwrap().path()).unwrap())
        .collect()
}

/// What a table knows of the modules' code.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Knows {
    /// `/sys/module/M/sections`, as live.
    Sysfs,
    /// That, and the `.ko` files' real sizes: the last function then ends
    /// before `.plt`, yet the answer there is still that function.
    SysfsAndKo,
    /// Off-line: `/proc/modules` and the `.ko` files, laid out as the
    /// loader does.
    ProcModulesAndKo,
}

fn load_knowing(kernel: &str, knows: Knows) -> SymbolTable {
    let table = match knows {
        Knows::Sysfs | Knows::SysfsAndKo => load_with_sysfs(kernel),
        Knows::ProcModulesAndKo => load(kernel),
    };
    if knows == Knows::Sysfs {
        return table;
    }
    let (table, reports) = ksym::elf::apply_modules(table, &kos(kernel));
    assert!(table.real_size_count() > 1000, "{kernel}: sizes applied");
    for r in reports {
        assert_eq!(r.text_area_problem, None, "{kernel}: {}", r.module);
        // Laid out only where sysfs did not say.
        assert_eq!(
            r.text_area.is_some(),
            knows == Knows::ProcModulesAndKo,
            "{kernel}: {}",
            r.module
        );
    }
    table
}

/// A module's `.plt` and ftrace trampoline follow its last function and
/// carry no symbols: an address there is named as that function, sized to
/// the end of the page-aligned text area as `%pS` does
/// (module-text-areas.tsv), and the answer says which section it is in;
/// so do the JSON objects `ksym addr --json` and `ksym serve` give. Live
/// (sysfs), and off-line with `/proc/modules` and the `.ko` files.
#[test]
fn plt_and_ftrace_trampoline_addresses_say_their_section() {
    let all = [Knows::Sysfs, Knows::SysfsAndKo, Knows::ProcModulesAndKo];
    for (kernel, knows) in KERNELS.into_iter().flat_map(|k| all.map(|n| (k, n))) {
        let table = load_knowing(kernel, knows);
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
                .unwrap_or_else(|| panic!("{kernel} {knows:?}: {module} {section}"));
            assert_eq!(s.module, Some(module), "{kernel} {knows:?}: {section}");
            let with = table.with_section(s);
            assert_eq!(
                with.section,
                Some(section),
                "{kernel} {knows:?}: {module} {s}"
            );
            if section != ".text" {
                assert_eq!(
                    s.start + s.size,
                    text_end(module),
                    "{kernel} {knows:?}: {module} {section} {s}"
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

/// Off-line, `/proc/modules` and the `.ko` files answer every address of
/// every module's text area (each 4 bytes) as the live kernel's sysfs
/// sections with the same `.ko` files do: name, start, size, section.
#[test]
fn off_line_ko_layout_answers_as_sysfs_does() {
    for kernel in KERNELS {
        let live = load_knowing(kernel, Knows::SysfsAndKo);
        let off_line = load_knowing(kernel, Knows::ProcModulesAndKo);
        let areas = std::fs::read_to_string(dir(kernel).join("module-text-areas.tsv")).unwrap();
        let mut checked = 0u64;
        for line in areas.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split('\t').collect();
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            for addr in (hex(f[1])..hex(f[2])).step_by(4) {
                let answer = |t: &SymbolTable| {
                    t.lookup(addr).map(|s| {
                        let s = t.with_section(s);
                        (s.to_string(), s.size, s.section.map(str::to_string))
                    })
                };
                assert_eq!(answer(&off_line), answer(&live), "{kernel}: {addr:#x}");
                checked += 1;
            }
        }
        assert!(checked > 200_000, "{kernel}: {checked} addresses");
    }
    // Padding after a function's real end, where bridge's freed
    // `.init.plt` is still listed inside vfat's text: no veneer there.
    let live = load_knowing(KERNELS[0], Knows::SysfsAndKo);
    let s = live.lookup(0xffff_d5fb_8485_04d8).unwrap();
    assert_eq!(
        (s.name, s.start + s.size),
        ("vfat_revalidate_ci", 0xffff_d5fb_8485_04dc)
    );
    assert_eq!(
        live.lookup(0xffff_d5fb_8485_04dc).map(|s| s.to_string()),
        None
    );
}
