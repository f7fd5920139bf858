//! The tools' line table ([`build_tool_table`]) answers what the DWARF
//! answers ([`ToolLines`] over the file itself), at every byte of every
//! allocated section: on C programs built here with `gcc -g -O2` (DWARF 5
//! and 4: inlined calls, discriminators, a second file), on the unstripped
//! Debian modules (relocatable: `.text` offsets) and, when fetched, on the
//! 590 MB vmlinux (a sample: every 61st byte of its code and each
//! function's first and last bytes).

#![cfg(feature = "dwarf")]

use std::path::{Path, PathBuf};
use std::process::Command;

use ksym::lines::{build_tool_table, DebugFile, LineTable, ToolLines};
use object::{Object, ObjectSection, ObjectSymbol};

mod common;

/// The file's allocated sections' `(start, end)` as the tools read its
/// addresses (a relocatable file: `.text` only, from 0).
fn sections(path: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(path).unwrap();
    let bytes = if path.extension().is_some_and(|e| e == "xz") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut xz2::read::XzDecoder::new(&bytes[..]), &mut out).unwrap();
        out
    } else {
        bytes
    };
    let elf = object::File::parse(&*bytes).unwrap();
    if elf.kind() == object::ObjectKind::Relocatable {
        let text = elf.section_by_name(".text").unwrap();
        return vec![(0, text.size())];
    }
    elf.sections()
        .filter(|s| {
            matches!(s.flags(), object::SectionFlags::Elf { sh_flags }
                if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0)
                && s.size() > 0
        })
        .map(|s| (s.address(), s.address() + s.size()))
        .collect()
}

/// Asks both at every address of `addrs`, in the same order (GNU's
/// symbol fallback depends on the order).
fn same_answers(path: &Path, table: LineTable, addrs: impl Iterator<Item = u64> + Clone) {
    let mut dwarf = ToolLines::open(path).unwrap();
    let mut tabled = ToolLines::with_table(&DebugFile::open(path).unwrap(), table).unwrap();
    assert!(tabled.from_table() && !dwarf.from_table());
    let (mut asked, mut with_lines) = (0, 0);
    for addr in addrs {
        let want = dwarf.answer(addr).unwrap();
        let got = tabled.answer(addr).unwrap();
        assert_eq!(want, got, "{} at {addr:#x}", path.display());
        asked += 1;
        with_lines += usize::from(want.frames.iter().any(|f| f.line != 0));
    }
    eprintln!(
        "{}: {asked} addresses, {with_lines} with a line",
        path.display()
    );
    assert!(
        with_lines > 0,
        "no address had a line: nothing was compared"
    );
}

fn every_byte(path: &Path) -> impl Iterator<Item = u64> + Clone {
    let sections = sections(path);
    let end = sections.iter().map(|s| s.1).max().unwrap_or(0);
    sections
        .into_iter()
        .flat_map(|(a, b)| a.saturating_sub(4)..b + 4)
        .chain([end + 4096, u64::MAX])
}

fn gcc(dir: &Path, flags: &[&str]) -> Option<PathBuf> {
    let src = dir.join("prog.c");
    std::fs::write(
        dir.join("sq.h"),
        "static inline int sq(int x) { return x * x; }\n",
    )
    .unwrap();
    std::fs::write(
        &src,
        r#"#include <stdio.h>
#include "sq.h"
static inline int add_sq(int a, int b) { return sq(a) + sq(b); }
__attribute__((noinline)) int work(int n) {
  int s = 0;
  for (int i = 0; i < n; i++) { if (i % 3) s += add_sq(i, n); else s -= i; }
  return s;
}
__attribute__((noinline)) long spin(long n) {
  long t = 0;
  for (long k = 0; k < n; k++) t += k % 7 ? work((int)(k & 63)) : (k ^ t) % 5;
  return t;
}
int main(int argc, char **argv) { printf("%ld\n", spin(argc * 200000L)); return 0; }
"#,
    )
    .unwrap();
    let exe = dir.join(format!("prog{}", flags.join("")));
    let ran = Command::new("gcc")
        .args(["-O2", "-Wl,--build-id"])
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .current_dir(dir)
        .status();
    match ran {
        Ok(s) if s.success() => Some(exe),
        _ => {
            eprintln!("SKIP: no gcc to build the test program");
            None
        }
    }
}

#[test]
fn c_programs_answer_the_same_from_the_table() {
    let dir = tempfile::tempdir().unwrap();
    for flags in [&["-g"][..], &["-gdwarf-4"], &["-g", "-gno-as-loc-support"]] {
        let Some(exe) = gcc(dir.path(), flags) else {
            return;
        };
        let table = build_tool_table(DebugFile::open(&exe).unwrap()).unwrap();
        assert!(table.is_tools());
        same_answers(&exe, table, every_byte(&exe));
    }
}

#[test]
fn modules_answer_the_same_from_the_table() {
    let dir = common::data_dir().join("debian-6.1.0-57-cloud/ko-debug");
    let mut modules: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    modules.sort();
    assert!(
        modules.len() >= 10,
        "modules missing from {}",
        dir.display()
    );
    for ko in modules {
        let table = build_tool_table(DebugFile::open(&ko).unwrap()).unwrap();
        same_answers(&ko, table, every_byte(&ko));
    }
}

#[test]
fn vmlinux_answers_the_same_from_the_table() {
    let Some(vmlinux) = common::debug_vmlinux() else {
        return;
    };
    let started = std::time::Instant::now();
    let table = build_tool_table(DebugFile::open(&vmlinux).unwrap()).unwrap();
    eprintln!(
        "built in {:.1?}: {} bytes",
        started.elapsed(),
        table.as_bytes().len()
    );
    let bytes = std::fs::read(&vmlinux).unwrap();
    let elf = object::File::parse(&*bytes).unwrap();
    let text = elf.section_by_name(".text").unwrap();
    let (start, end) = (text.address(), text.address() + text.size());
    let mut addrs: Vec<u64> = (start..end).step_by(61).collect();
    for s in elf
        .symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text)
    {
        addrs.push(s.address());
        if s.size() > 0 {
            addrs.push(s.address() + s.size() - 1);
        }
    }
    drop(elf);
    drop(bytes);
    same_answers(&vmlinux, table, addrs.into_iter());
}
