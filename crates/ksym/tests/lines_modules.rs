//! Source lines of real modules (`../shared/data/debian-6.1.0-57-cloud/
//! ko-debug/*.ko.xz`, DWARF 5 from GCC 12) against the reference tools:
//! every executable section of every module, at function starts, inside
//! functions and on a sweep, placed where the 6.1 loader put them.

#![cfg(feature = "dwarf")]

mod common;
mod line_oracles;

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// `ko` linked (by `ld`, which applies its relocations) with each code
/// section at its load address: llvm-symbolizer cannot be told a section,
/// and on a relocatable object it takes every section to start at 0.
fn linked_copy(ko: &Path, sections: &[(String, u64)], dir: &Path) -> PathBuf {
    let name = ko.file_name().unwrap().to_string_lossy();
    let script = dir.join(format!("{name}.lds"));
    let mut text = String::from("SECTIONS {\n");
    for (section, addr) in sections {
        text.push_str(&format!("  {section} {addr:#x} : {{ *({section}) }}\n"));
    }
    text.push_str("}\n");
    std::fs::write(&script, text).unwrap();
    let out = dir.join(format!("{name}.linked"));
    let result = Command::new("ld")
        .args([
            "--unresolved-symbols=ignore-all",
            "-e",
            "0",
            "--no-check-sections",
            "-T",
        ])
        .arg(&script)
        .arg("-o")
        .arg(&out)
        .arg(ko)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "ld on {}: {}",
        ko.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

#[test]
fn module_lines_agree_with_eu_addr2line_llvm_symbolizer_and_binutils() {
    for tool in ["eu-addr2line", "llvm-symbolizer", "addr2line", "ld"] {
        if installed(tool).is_none() {
            eprintln!("SKIP: {tool} is not installed (.ci/install-deps installs it)");
            return;
        }
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
        let llvm_copy = linked_copy(&plain, &code_at, &tmp);
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
                judge(
                    &mut tally,
                    &place,
                    &ours,
                    as_lines(&eu[k]),
                    as_lines(&llvm[k]),
                    as_lines(&bin[k]),
                );
            }
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
    tally.finish("modules", 5000);
}
