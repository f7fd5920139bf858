//! Source lines of the core kernel: Debian's 6.1 cloud vmlinux with DWARF
//! (fetched by `../shared/scripts/fetch-debug-vmlinux.sh` into
//! `~/.cache/ksym-test-data/`; the tests skip, saying so, without it),
//! asked at KASLR-slid addresses of `../shared/data/debian-6.1.0-57-cloud/`
//! and compared with the reference tools at the link-time addresses.

#![cfg(feature = "dwarf")]

mod common;
mod line_oracles;

use std::path::PathBuf;

use ksym::lines::{DebugFile, KernelFacts, SourceLines};
use line_oracles::*;

fn set_dir() -> PathBuf {
    common::data_dir().join("debian-6.1.0-57-cloud")
}

/// The kernel's build-id as `/sys/kernel/notes` tells it.
fn kernel_build_id() -> String {
    let notes = std::fs::read(set_dir().join("notes.bin")).unwrap();
    let id = ksym::parse::notes::gnu_build_id_in(&notes, true).expect("a build-id note");
    ksym::parse::notes::hex(&id)
}

/// Where kallsyms puts `_text` (slid by KASLR).
fn kallsyms_text() -> u64 {
    let text = common::xz_text(&set_dir().join("kallsyms.xz"));
    common::parse_kallsyms(&text)
        .into_iter()
        .find(|l| l.name == "_text" && l.module.is_none())
        .expect("_text in kallsyms")
        .addr
}

fn core_lines(path: &std::path::Path) -> (SourceLines, u64) {
    let file = DebugFile::open(path).unwrap();
    let text = kallsyms_text();
    let id = kernel_build_id();
    let mut lines = SourceLines::new();
    let facts = KernelFacts {
        build_id: Some(&id),
        text: Some(text),
    };
    lines.set_vmlinux(file, facts).unwrap();
    (lines, text)
}

#[test]
fn a_vmlinux_of_another_build_is_refused() {
    let Some(path) = common::debug_vmlinux() else {
        return;
    };
    let file = DebugFile::open(&path).unwrap();
    assert_eq!(file.build_id_hex().unwrap(), kernel_build_id());
    let other = "00d2640d3a13145ee314eb05b155f141b7b7058b";
    let mut lines = SourceLines::new();
    let e = lines
        .set_vmlinux(
            file,
            KernelFacts {
                build_id: Some(other),
                text: None,
            },
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("another build") && e.contains(other) && e.contains("vmlinux-6.1.0-57"),
        "{e}"
    );
}

/// Functions of the core kernel's text from the real `System.map`: (link
/// address, size to the next symbol), about `n` of them spread by a fixed
/// pseudo-random walk, plus the first assembler entry.
fn sample_functions(n: usize) -> Vec<(u64, u64)> {
    let map = common::xz_text(&set_dir().join("System.map.xz"));
    let mut syms: Vec<(u64, char, &str)> = map
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let addr = u64::from_str_radix(f.next()?, 16).ok()?;
            let kind = f.next()?.chars().next()?;
            Some((addr, kind, f.next()?))
        })
        .collect();
    syms.sort_unstable();
    let text_end = syms.iter().find(|s| s.2 == "_etext").unwrap().0;
    let funcs: Vec<(u64, u64, &str)> = syms
        .windows(2)
        .filter(|w| matches!(w[0].1, 't' | 'T') && w[0].0 < text_end && w[1].0 > w[0].0)
        .map(|w| (w[0].0, w[1].0 - w[0].0, w[0].2))
        .collect();
    let mut out = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..n {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (addr, size, _) = funcs[(state >> 33) as usize % funcs.len()];
        out.push((addr, size));
    }
    let entry = funcs.iter().find(|f| f.2 == "entry_SYSCALL_64").unwrap();
    out.push((entry.0, entry.1));
    out
}

#[test]
fn core_lines_agree_with_eu_addr2line_llvm_symbolizer_and_binutils() {
    let Some(path) = common::debug_vmlinux() else {
        return;
    };
    for tool in ["eu-addr2line", "llvm-symbolizer", "addr2line"] {
        if installed(tool).is_none() {
            eprintln!("SKIP: {tool} is not installed (.ci/install-deps installs it)");
            return;
        }
    }
    let (lines, text) = core_lines(&path);
    let slide = text.wrapping_sub(0xffff_ffff_8100_0000);
    let mut link_addrs = Vec::new();
    for (k, (addr, size)) in sample_functions(700).into_iter().enumerate() {
        link_addrs.push(addr);
        link_addrs.push(addr + (size * (k as u64 % 7 + 1) / 8).min(size - 1));
    }
    let eu = eu_addr2line(&path, None, &link_addrs);
    let llvm = llvm_symbolizer(&path, &link_addrs);
    let bin = binutils_addr2line(&path, None, &link_addrs);
    let mut tally = Tally::default();
    let mut assembler = false;
    let tools = ToolAnswers { eu, llvm, bin };
    for (k, &addr) in link_addrs.iter().enumerate() {
        let ours = ours(&lines.frames(addr.wrapping_add(slide)).unwrap());
        assembler |= ours
            .first()
            .and_then(|f| f.file.as_deref())
            .is_some_and(|f| f == "arch/x86/entry/entry_64.S");
        let place = format!("vmlinux {addr:#x}");
        tools.judge_at(&mut tally, k, &place, &ours);
    }
    // Assembler units record the build directory absolute: the path is
    // still the kernel's `arch/x86/entry/entry_64.S`.
    assert!(assembler, "no address in entry_64.S was answered as such");
    tally.finish("core", 1400);
}
