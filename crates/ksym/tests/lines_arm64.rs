//! Source lines on arm64: Debian's 6.1 cloud-arm64 vmlinux and modules
//! with DWARF (the `-dbg` package, fetched by
//! `scripts/fetch-arm64-debug.sh` into `~/.cache/ksym-test-data/`; the
//! tests skip, saying so, without it), asked at the addresses of the boot
//! in `../shared/data/debian-6.1.0-57-cloud-arm64/` and compared with the
//! reference tools at link-time addresses (modules: section offsets).
//!
//! The arm64 traps: the vmlinux is `ET_DYN` (its relocations already
//! applied), this kallsyms lists no `_text` (only `[_stext, _etext)`), and
//! the `.ko` debug sections carry `R_AARCH64_ABS64`/`ABS32` relocations.

#![cfg(feature = "dwarf")]

mod common;
mod line_oracles;

use std::path::PathBuf;

use ksym::lines::{DebugFile, KernelFacts, SourceLines};
use ksym::SymbolTable;
use line_oracles::*;

fn set_dir() -> PathBuf {
    common::data_dir().join("debian-6.1.0-57-cloud-arm64")
}

/// The boot's KASLR offset (its panic.txt: `Kernel Offset`).
const SLIDE: u64 = 0x55fb_d560_0000;

/// `~/.cache/ksym-test-data/<name>`, or `None`, saying so.
fn cached(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("HOME")?)
        .join(".cache/ksym-test-data")
        .join(name);
    if path.exists() {
        return Some(path);
    }
    eprintln!(
        "SKIP: {} is absent (scripts/fetch-arm64-debug.sh fetches it)",
        path.display()
    );
    None
}

fn tools_missing() -> bool {
    let missing = ["eu-addr2line", "llvm-symbolizer", "addr2line"]
        .into_iter()
        .find(|t| installed(t).is_none());
    if let Some(tool) = missing {
        eprintln!("SKIP: {tool} is not installed (.ci/install-deps installs it)");
    }
    missing.is_some()
}

fn table() -> SymbolTable {
    ksym::load_file(&set_dir().join("kallsyms.xz"), &Default::default()).unwrap()
}

fn kernel_build_id() -> String {
    let notes = std::fs::read(set_dir().join("notes.bin")).unwrap();
    let id = ksym::parse::notes::gnu_build_id_in(&notes, true).expect("a build-id note");
    ksym::parse::notes::hex(&id)
}

/// Text functions of `module` (`None`: the core) as kallsyms lists them:
/// (address, bytes to the next higher symbol), one in `every`.
fn functions(table: &SymbolTable, module: Option<&str>, every: usize) -> Vec<(u64, u64)> {
    let mut starts: Vec<(u64, &str)> = table
        .iter()
        .filter(|s| s.module == module && matches!(s.kind, 't' | 'T'))
        .map(|s| (s.start, s.name))
        .collect();
    starts.sort_unstable();
    starts.dedup_by_key(|s| s.0);
    starts
        .windows(2)
        .filter(|w| !w[0].1.starts_with('$') && !w[0].1.starts_with("_etext"))
        .step_by(every)
        .map(|w| (w[0].0, w[1].0 - w[0].0))
        .collect()
}

/// A function's first instruction and one inside it.
fn probes(funcs: &[(u64, u64)]) -> Vec<u64> {
    let mut out = Vec::new();
    for (k, &(addr, size)) in funcs.iter().enumerate() {
        out.push(addr);
        if size > 8 {
            out.push(addr + ((size * (k as u64 % 7 + 1) / 8).min(size - 1) & !3));
        }
    }
    out
}

/// The core kernel: lines from the vmlinux placed by the `_text` the
/// table works out from `_stext` (the kallsyms has none), agreeing with
/// eu-addr2line, llvm-symbolizer and binutils at the link-time addresses.
#[test]
fn core_lines_agree_with_the_tools_without_a_text_symbol() {
    let Some(vmlinux) = cached("vmlinux-6.1.0-57-cloud-arm64") else {
        return;
    };
    if tools_missing() {
        return;
    }
    let table = table();
    assert!(
        table.find("_text").next().is_none(),
        "this kallsyms lists no _text"
    );
    let text = table.text_anchor().unwrap();
    let file = DebugFile::open(&vmlinux).unwrap();
    let mut lines = SourceLines::new();
    let id = kernel_build_id();
    let facts = KernelFacts {
        build_id: Some(&id),
        text: Some(text),
    };
    lines.set_vmlinux(file, facts).unwrap();
    // The `_text` worked out is the one the boot had.
    assert_eq!(text, 0xffff_8000_0800_0000 + SLIDE);
    let addrs = probes(&functions(&table, None, 60));
    let link: Vec<u64> = addrs.iter().map(|a| a - SLIDE).collect();
    let eu = eu_addr2line(&vmlinux, None, &link);
    let llvm = llvm_symbolizer(&vmlinux, &link);
    let bin = binutils_addr2line(&vmlinux, None, &link);
    let mut tally = Tally::default();
    let tools = ToolAnswers { eu, llvm, bin };
    for (k, &addr) in addrs.iter().enumerate() {
        let ours = ours(&lines.frames(addr).unwrap());
        let place = format!("vmlinux {:#x}", link[k]);
        tools.judge_at(&mut tally, k, &place, &ours);
    }
    tally.finish("arm64 core", 1000);
}

/// Modules: each `.ko` with DWARF placed where the boot's sysfs put its
/// sections (ksym applies the debug sections' `R_AARCH64_ABS64`/`ABS32`
/// relocations), agreeing with the three tools on a copy of the `.ko`
/// linked by the cross binutils' `aarch64-linux-gnu-ld` at the same
/// addresses (binutils' addr2line: the cross one, which reads aarch64).
#[test]
fn module_lines_agree_with_the_tools() {
    let Some(dir) = cached("arm64-6.1-ko") else {
        return;
    };
    if tools_missing() {
        return;
    }
    let cross = ["aarch64-linux-gnu-ld", "aarch64-linux-gnu-addr2line"];
    if let Some(tool) = cross.into_iter().find(|t| installed(t).is_none()) {
        eprintln!(
            "SKIP: {tool} is not installed (binutils-aarch64-linux-gnu, from .ci/install-deps)"
        );
        return;
    }
    let table = table();
    let modules = common::sysfs_module_map(&set_dir());
    let tmp = std::env::temp_dir().join(format!("ksym-lines-arm64-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut tally = Tally::default();
    for (module, every) in [("fat", 1), ("vfat", 1), ("bridge", 3), ("xfs", 12)] {
        let path = dir.join(format!("{module}.ko"));
        let sections = &modules.get(module).unwrap().section_areas;
        let file = DebugFile::open(&path).unwrap();
        let mut lines = SourceLines::new();
        lines.add_module(module, &path, sections, file.build_id_hex().as_deref());
        // Every code section of the .ko at its sysfs address (init code
        // too: freed, but sysfs still says where it was).
        let code_at: Vec<(String, u64)> = file
            .code_sections()
            .filter_map(|c| sections.iter().find(|s| s.kind == c.name))
            .map(|s| (s.kind.clone(), s.start))
            .collect();
        assert!(
            code_at.iter().any(|c| c.0 == ".text"),
            "{module}: {code_at:?}"
        );
        let linked = linked_copy(cross[0], &path, &code_at, &tmp);
        let addrs = probes(&functions(&table, Some(module), every));
        let eu = eu_addr2line(&linked, None, &addrs);
        let llvm = llvm_symbolizer(&linked, &addrs);
        let bin = binutils_addr2line_as(cross[1], &linked, None, &addrs);
        let tools = ToolAnswers { eu, llvm, bin };
        for (k, &addr) in addrs.iter().enumerate() {
            let ours = ours(&lines.frames(addr).unwrap());
            let place = format!("{module} {addr:#x}");
            tools.judge_at(&mut tally, k, &place, &ours);
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
    tally.finish("arm64 modules", 1000);
}
