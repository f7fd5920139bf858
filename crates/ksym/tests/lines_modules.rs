//! Source lines of real modules (`../shared/data/debian-6.1.0-57-cloud/
//! ko-debug/*.ko.xz`, DWARF 5 from GCC 12) against the reference tools:
//! every executable section of every module, at function starts, inside
//! functions and on a sweep, placed where the 6.1 loader put them.

#![cfg(feature = "dwarf")]

mod common;
mod line_oracles;

use std::path::{Path, PathBuf};

use ksym::lines::{module_section_addresses, DebugFile, SourceLines};
use ksym::{ModuleArea, ModuleMap};
use line_oracles::*;

fn set_dir() -> PathBuf {
    common::data_dir().join("debian-6.1.0-57-cloud")
}

/// The modules with DWARF: (name, path of the `.ko.xz`).
fn modules() -> Vec<(String, PathBuf)> {
    let dir = set_dir().join("ko-debug");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".ko.xz"))
        .map(|p| {
            let name = p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".ko.xz", "");
            (name, p)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 15, "ko-debug holds {} modules", out.len());
    out
}

fn layout() -> ModuleMap {
    let path = set_dir().join("module-layout.tsv");
    let mut map = ModuleMap::default();
    map.add_text("module-layout.tsv", &std::fs::read(path).unwrap())
        .unwrap();
    map
}

/// Where each section of module `name` is: derived from its areas as the
/// 6.1 loader lays them out, and init code (freed after load, so in no
/// area) put at `init_at`, apart from everything, to be asked too.
fn placed(file: &DebugFile, map: &ModuleMap, name: &str, init_at: u64) -> Vec<ModuleArea> {
    let info = map.modules.iter().find(|m| m.name == name).unwrap();
    let mut sections = module_section_addresses(file, &info.areas);
    let mut at = init_at;
    for s in file.code_sections().filter(|s| s.name.starts_with(".init")) {
        sections.push(ModuleArea {
            kind: s.name.clone(),
            start: at,
            size: s.size,
        });
        at += s.size.next_multiple_of(0x1000);
    }
    sections
}

#[test]
fn derived_section_addresses_put_every_function_where_kallsyms_has_it() {
    let map = layout();
    let kallsyms = common::parse_kallsyms(&common::xz_text(&set_dir().join("kallsyms.xz")));
    let mut checked = 0;
    for (name, path) in modules() {
        let file = DebugFile::open(&path).unwrap();
        let sections = module_section_addresses(
            &file,
            &map.modules.iter().find(|m| m.name == name).unwrap().areas,
        );
        let elf = ksym::elf::read_elf(&path).unwrap();
        for sym in elf.symbols.iter().filter(|s| s.function) {
            let section = &elf.sections[sym.section.unwrap()];
            let Some(at) = sections.iter().find(|s| s.kind == section.name) else {
                assert!(
                    section.name.starts_with(".init"),
                    "{name}: {} unplaced",
                    section.name
                );
                continue;
            };
            let want = at.start + sym.value;
            let found = kallsyms.iter().any(|l| {
                l.module.as_deref() == Some(name.as_str()) && l.name == sym.name && l.addr == want
            });
            assert!(found, "{name}: {} not at {want:#x} in kallsyms", sym.name);
            checked += 1;
        }
    }
    assert!(checked > 3000, "only {checked} functions checked");
}

#[test]
fn cold_parts_are_named_after_their_function_from_kallsyms_addresses() {
    // `foo.cold` in kallsyms is code of `foo` in `.text.unlikely`, at an
    // offset that in `.text` would be some other function: right only when
    // the address is mapped through the section it is in.
    let map = layout();
    let kallsyms = common::parse_kallsyms(&common::xz_text(&set_dir().join("kallsyms.xz")));
    let lines = module_lines(&map);
    let mut checked = 0;
    for l in kallsyms.iter().filter(|l| l.module.is_some()) {
        // `foo.cold`, `foo.constprop.0.cold`, `foo.isra.0.cold`: DWARF says `foo`.
        if !l.name.ends_with(".cold") {
            continue;
        }
        let function = l.name.split('.').next().unwrap();
        assert_eq!(lines.module_at(l.addr), l.module.as_deref());
        // The first bytes of a cold part may have no line row (eu-addr2line
        // says `??:0` there too): the first address in it that has one.
        let Some(frames) = (l.addr..l.addr + 16)
            .map(|a| lines.frames(a).unwrap())
            .find(|f| !f.is_empty())
        else {
            continue;
        };
        let outer = frames.last().unwrap();
        assert_eq!(outer.function.as_deref(), Some(function), "{}", l.name);
        assert!(!outer.inlined);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} .cold symbols");
}

fn module_lines(map: &ModuleMap) -> SourceLines {
    let mut lines = SourceLines::new();
    for (name, path) in modules() {
        let info = map.modules.iter().find(|m| m.name == name).unwrap();
        lines.add_module_info(info, &path, None).unwrap();
    }
    lines
}

#[test]
fn the_batch_symbolizer_gives_source_frames_and_counts_them() {
    use ksym::{AddrKind, Symbolizer};
    let map = layout();
    let opts = ksym::LoadOptions {
        modules: Some(map.clone()),
        ..Default::default()
    };
    let table = ksym::load_file(&set_dir().join("kallsyms.xz"), &opts).unwrap();
    let kallsyms = common::parse_kallsyms(&common::xz_text(&set_dir().join("kallsyms.xz")));
    // A stack: module code (every 7th module function, 4 bytes in), then
    // user-space addresses no symbol or DWARF has.
    let mut ips: Vec<u64> = kallsyms
        .iter()
        .filter(|l| l.module.is_some() && l.kind.eq_ignore_ascii_case(&'t'))
        .step_by(7)
        .map(|l| l.addr + 4)
        .collect();
    ips.extend((1..=10).map(|i| i * 0x1000));
    let symbolizer = Symbolizer::new(&table)
        .addr_kind(AddrKind::Stack)
        .with_lines(module_lines(&map));
    let oracle = module_lines(&map);
    let frames = symbolizer.symbolize_new(&ips);
    let mut with_lines = 0;
    for (i, ip) in ips.iter().enumerate() {
        let got = symbolizer.source_frames(&frames, i).unwrap();
        // The first pointer is where the CPU was; the rest are return
        // addresses, whose code is the call before them.
        let want = oracle.frames(if i == 0 { *ip } else { ip - 1 }).unwrap();
        assert_eq!(got, want, "frame {i} at {ip:#x}");
        with_lines += usize::from(!got.is_empty());
    }
    let stats = symbolizer.stats();
    assert_eq!(stats.lines_found, with_lines as u64);
    assert_eq!(stats.lines_found + stats.lines_missing, ips.len() as u64);
    assert!(
        with_lines > ips.len() / 2,
        "{with_lines} of {} with lines",
        ips.len()
    );
    assert!(stats.lines_missing >= 10, "{stats:?}");
}

/// The addresses asked in one section of `size` bytes: every function's
/// start, a third and two thirds in, and a sweep of about 300 steps.
fn offsets_in(elf: &ksym::elf::ElfSymbols, index: usize, size: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for s in elf
        .symbols
        .iter()
        .filter(|s| s.function && s.section == Some(index))
    {
        out.extend([s.value, s.value + s.size / 3, s.value + 2 * s.size / 3]);
    }
    let step = (size / 300).max(1);
    out.extend((0..size).step_by(step as usize));
    out.retain(|o| *o < size);
    out.sort_unstable();
    out.dedup();
    out
}

fn decompressed(path: &Path, dir: &Path) -> PathBuf {
    let bytes = std::fs::read(path).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut xz2::read::XzDecoder::new(&bytes[..]), &mut plain).unwrap();
    let out = dir.join(
        path.file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".xz", ""),
    );
    std::fs::write(&out, plain).unwrap();
    out
}

#[test]
fn module_lines_agree_with_eu_addr2line_llvm_symbolizer_and_binutils() {
    if tools_missing() {
        return;
    }
    let map = layout();
    let tmp = std::env::temp_dir().join(format!("ksym-lines-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut tally = Tally::default();
    for (i, (name, path)) in modules().into_iter().enumerate() {
        let file = DebugFile::open(&path).unwrap();
        let sections = placed(
            &file,
            &map,
            &name,
            0xffff_ffff_d000_0000 + (i as u64) * 0x10_0000,
        );
        let code: Vec<_> = file.code_sections().cloned().collect();
        let mut lines = SourceLines::new();
        lines.add_module(&name, &path, &sections, file.build_id_hex().as_deref());
        let plain = decompressed(&path, &tmp);
        let elf = ksym::elf::read_elf(&path).unwrap();
        let code_at: Vec<(String, u64)> = code
            .iter()
            .filter_map(|c| sections.iter().find(|s| s.kind == c.name))
            .map(|s| (s.kind.clone(), s.start))
            .collect();
        let llvm_copy = linked_copy("ld", &plain, &code_at, &tmp);
        for section in &code {
            let base = sections
                .iter()
                .find(|s| s.kind == section.name)
                .unwrap()
                .start;
            let offsets = offsets_in(&elf, section.index, section.size);
            let addrs: Vec<u64> = offsets.iter().map(|o| base + o).collect();
            let eu = eu_addr2line(&plain, Some(&section.name), &offsets);
            let bin = binutils_addr2line(&plain, Some(&section.name), &offsets);
            let llvm = llvm_symbolizer(&llvm_copy, &addrs);
            let tools = ToolAnswers { eu, llvm, bin };
            for (k, &addr) in addrs.iter().enumerate() {
                let ours = ours(&lines.frames(addr).unwrap());
                let place = format!("{name} {}+{:#x}", section.name, offsets[k]);
                // Static-call trampolines and alternative instructions have
                // no line rows: no frames, whatever the tools make of them.
                if matches!(
                    section.name.as_str(),
                    ".static_call.text" | ".altinstr_replacement"
                ) {
                    assert!(ours.is_empty(), "{place}: {}", show(&ours));
                }
                tools.judge_at(&mut tally, k, &place, &ours);
            }
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
    tally.finish("modules", 5000);
}

/// Whether a reference tool is missing (said, for the test to skip).
fn tools_missing() -> bool {
    let missing = ["eu-addr2line", "llvm-symbolizer", "addr2line", "ld"]
        .into_iter()
        .find(|t| installed(t).is_none());
    if let Some(tool) = missing {
        eprintln!("SKIP: {tool} is not installed (.ci/install-deps installs it)");
    }
    missing.is_some()
}

/// Load options with the 6.1 cloud `/proc/modules` (no layout).
fn proc_modules() -> ksym::LoadOptions {
    let mut map = ModuleMap::default();
    map.add_text(
        "proc-modules",
        &std::fs::read(set_dir().join("proc-modules")).unwrap(),
    )
    .unwrap();
    assert!(map.modules.iter().all(|m| m.areas.is_empty()));
    ksym::LoadOptions {
        modules: Some(map),
        ..Default::default()
    }
}

/// The 6.1 cloud table as a bug report carries it: kallsyms and
/// `/proc/modules`, no layout of the loader's areas.
fn table_from_proc_modules() -> ksym::SymbolTable {
    ksym::load_file(&set_dir().join("kallsyms.xz"), &proc_modules()).unwrap()
}

#[test]
fn sections_placed_by_symbols_are_where_the_loader_put_them() {
    use ksym::table::ko_placement::place_ko_sections;
    let table = table_from_proc_modules();
    let map = layout();
    let mut placed = 0;
    for (name, path) in modules() {
        let elf = ksym::elf::read_elf(&path).unwrap();
        let p = place_ko_sections(&table, &name, &elf);
        assert!(
            p.unplaced.is_empty() && p.conflicts.is_empty(),
            "{}",
            p.summary()
        );
        let file = DebugFile::open(&path).unwrap();
        let truth = module_section_addresses(
            &file,
            &map.modules.iter().find(|m| m.name == name).unwrap().areas,
        );
        for s in &p.sections {
            let t = truth.iter().find(|t| t.kind == s.kind);
            assert_eq!(t.map(|t| t.start), Some(s.start), "{name} {}", s.kind);
            placed += 1;
        }
        // Every code section the loader keeps and a symbol is in is placed.
        for c in file
            .code_sections()
            .filter(|c| !c.name.starts_with(".init"))
        {
            let has_symbol = elf.symbols.iter().any(|s| s.section == Some(c.index));
            let found = p.sections.iter().any(|s| s.kind == c.name);
            assert_eq!(found, has_symbol, "{name} {}", c.name);
        }
    }
    assert!(placed >= 60, "only {placed} sections placed");
}

/// Every address of every module function in the 6.1 cloud kallsyms (start,
/// a third and two thirds in), with only kallsyms + `/proc/modules` + the
/// `.ko` files, against the tools asked at (section, offset) where the
/// layout file says the loader put the section: no layout is used for ours.
#[test]
fn module_lines_from_symbols_alone_agree_with_the_tools() {
    if tools_missing() {
        return;
    }
    let table = table_from_proc_modules();
    let map = layout();
    let tmp = std::env::temp_dir().join(format!("ksym-lines-sym-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut lines = SourceLines::new();
    for (name, path) in modules() {
        let placed =
            ksym::table::ko_placement::add_module_lines(&mut lines, &table, &name, &path, None)
                .unwrap();
        assert!(
            placed.is_some(),
            "{name}: placed by its areas, not its symbols"
        );
    }
    let mut tally = Tally::default();
    for (name, path) in modules() {
        let file = DebugFile::open(&path).unwrap();
        let truth = module_section_addresses(
            &file,
            &map.modules.iter().find(|m| m.name == name).unwrap().areas,
        );
        // (section, offset, address) of each address asked.
        let mut asked: Vec<(String, u64, u64)> = Vec::new();
        for id in table.module_symbol_ids(&name) {
            let Some(s) = table.symbol(id) else { continue };
            if !s.kind.eq_ignore_ascii_case(&'t') || s.size == 0 {
                continue;
            }
            // The table's sizes are derived (up to the next symbol, the
            // area's end): points past the symbol's section are not its.
            let Some(t) = truth
                .iter()
                .find(|t| t.start <= s.start && s.start < t.end())
            else {
                panic!("{name}: {:#x} ({}) in no section", s.start, s.name);
            };
            for addr in [s.start, s.start + s.size / 3, s.start + 2 * s.size / 3] {
                if addr < t.end() {
                    asked.push((t.kind.clone(), addr - t.start, addr));
                }
            }
        }
        let plain = decompressed(&path, &tmp);
        let mut sections: Vec<&String> = asked.iter().map(|a| &a.0).collect();
        sections.sort();
        sections.dedup();
        for section in sections {
            let here: Vec<&(String, u64, u64)> = asked.iter().filter(|a| &a.0 == section).collect();
            let offsets: Vec<u64> = here.iter().map(|a| a.1).collect();
            let addrs: Vec<(String, u64)> = vec![(
                section.clone(),
                truth.iter().find(|t| &t.kind == section).unwrap().start,
            )];
            let eu = eu_addr2line(&plain, Some(section), &offsets);
            let bin = binutils_addr2line(&plain, Some(section), &offsets);
            let llvm_copy = linked_copy("ld", &plain, &addrs, &tmp);
            let at: Vec<u64> = here.iter().map(|a| a.2).collect();
            let llvm = llvm_symbolizer(&llvm_copy, &at);
            let tools = ToolAnswers { eu, llvm, bin };
            for (k, a) in here.iter().enumerate() {
                let ours = ours(&lines.frames(a.2).unwrap());
                let place = format!("{name} {}+{:#x} ({:#x})", a.0, a.1, a.2);
                tools.judge_at(&mut tally, k, &place, &ours);
            }
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
    tally.finish("modules placed by their symbols", 9000);
}

/// A symbol moved in kallsyms (the `.ko` puts `vfat_cmpi` 0x10 earlier
/// than the table has it): the section stays where the other symbols put
/// it, the conflict is reported, and no line is given inside the moved
/// symbol, while the rest of the module keeps its lines.
#[test]
fn a_symbol_the_ko_places_elsewhere_is_a_reported_conflict() {
    let text = common::xz_text(&set_dir().join("kallsyms.xz"));
    let moved = text.replace(
        "ffffffffc0233090 t vfat_cmpi\t[vfat]",
        "ffffffffc02330a0 t vfat_cmpi\t[vfat]",
    );
    assert_ne!(moved, text);
    let table = ksym::parse_bytes("kallsyms", moved.as_bytes(), &proc_modules()).unwrap();
    let path = set_dir().join("ko-debug/vfat.ko.xz");
    let mut lines = SourceLines::new();
    let placement =
        ksym::table::ko_placement::add_module_lines(&mut lines, &table, "vfat", &path, None)
            .unwrap()
            .unwrap();
    let text_at = placement
        .sections
        .iter()
        .find(|s| s.kind == ".text")
        .unwrap();
    assert_eq!(text_at.start, 0xffffffffc0233000, "{}", placement.summary());
    assert_eq!(placement.conflicts.len(), 1, "{}", placement.summary());
    let c = &placement.conflicts[0];
    assert_eq!(
        (c.name.as_str(), c.start),
        ("vfat_cmpi", 0xffffffffc02330a0)
    );
    assert!(
        c.reason.contains(".text+0x90") && c.reason.contains("conflict"),
        "{}",
        c.reason
    );
    assert!(placement.summary().contains("vfat_cmpi"));
    let err = lines.frames(0xffffffffc02330a4).unwrap_err().to_string();
    assert!(
        err.contains("vfat_cmpi") && err.contains("module vfat"),
        "{err}"
    );
    // Before the moved symbol (the end of vfat_hashi) and elsewhere: lines.
    for addr in [0xffffffffc0233004, 0xffffffffc02333c4] {
        assert!(!lines.frames(addr).unwrap().is_empty(), "{addr:#x}");
    }
}

/// Names that repeat in the `.ko`, and a part in another section, cannot
/// move a section: the other symbols outvote them; a section whose symbols
/// tie is left out and said so, its symbols conflicts, not guesses.
#[test]
fn repeated_names_are_outvoted_and_ties_reported() {
    use ksym::elf::{ElfSection, ElfSymbol, ElfSymbols};
    use ksym::table::ko_placement::place_ko_sections;
    let kallsyms = "\
ffffffff81000000 T _stext
ffffffff81100000 T _etext
ffffffffc0001000 t f1\t[m]
ffffffffc0001040 t f2\t[m]
ffffffffc0001080 t dup\t[m]
ffffffffc00010c0 t f3\t[m]
ffffffffc0002000 t c1.cold\t[m]
ffffffffc0002100 t c1.cold\t[m]
";
    let table = ksym::parse_bytes("k", kallsyms.as_bytes(), &Default::default()).unwrap();
    let section = |name: &str, size| ElfSection {
        name: name.into(),
        addr: 0,
        size,
        align: 16,
        flags: 0x6, // SHF_ALLOC | SHF_EXECINSTR
        nobits: false,
    };
    let sym = |name: &str, value, section| ElfSymbol {
        name: name.into(),
        value,
        size: 0x20,
        section: Some(section),
        kind: 't',
        function: true,
    };
    let elf = ElfSymbols {
        source: "m.ko".into(),
        relocatable: true,
        module_name: Some("m".into()),
        build_id: None,
        sections: vec![
            section("", 0),
            section(".text", 0x100),
            section(".text.unlikely", 0x200),
        ],
        symbols: vec![
            sym("f1", 0x0, 1),
            sym("f2", 0x40, 1),
            sym("dup", 0x10, 1), // a second `dup`, where kallsyms has none
            sym("dup", 0x80, 1),
            sym("f3", 0xc0, 1),
            sym("c1.cold", 0x0, 2), // one copy, two places in kallsyms: a tie
        ],
        module_text: None,
    };
    let p = place_ko_sections(&table, "m", &elf);
    assert_eq!(p.sections.len(), 1, "{}", p.summary());
    assert_eq!(
        (p.sections[0].kind.as_str(), p.sections[0].start),
        (".text", 0xffffffffc0001000)
    );
    assert_eq!(p.unplaced, [".text.unlikely"]);
    let names: Vec<&str> = p.conflicts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["c1.cold", "c1.cold"], "{}", p.summary());
    assert!(
        p.conflicts[0].reason.contains("tied"),
        "{}",
        p.conflicts[0].reason
    );
}
