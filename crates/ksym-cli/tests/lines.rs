//! `--lines` in the CLI on the Debian 6.1 cloud data: `addr`, `decode`,
//! `annotate` print what the library's `SourceLines` answers (itself
//! checked against eu-addr2line, llvm-symbolizer and addr2line in the
//! library's tests), for module code from `ko-debug/` and, when the
//! 590 MB vmlinux is fetched, for the core kernel; without debug info the
//! commands still answer and say what is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use ksym::lines::{DebugFile, KernelFacts, SourceFrame, SourceLines};
use ksym::{LoadOptions, ModuleMap, SymbolTable};

fn data() -> PathBuf {
    let d = common::data_dir().join("debian-6.1.0-57-cloud");
    assert!(
        d.join("kallsyms.xz").is_file(),
        "no shared data at {}",
        d.display()
    );
    d
}

fn vmlinux() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let p = Path::new(&home).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    p.is_file().then_some(p)
}

/// `ksym --kallsyms ... --modules layout --ko xfs ARGS` with `stdin`.
fn ksym(extra: &[&str], args: &[&str], stdin: &str) -> (String, String, bool) {
    let d = data();
    let out = common::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_ksym"))
            .arg("--kallsyms")
            .arg(d.join("kallsyms.xz"))
            .arg("--modules")
            .arg(d.join("module-layout.tsv"))
            .arg("--ko")
            .arg(d.join("ko-debug/xfs.ko.xz"))
            .args(extra)
            .args(args)
            .env("KSYM_CACHE_DIR", "off")
            .env_remove("DEBUGINFOD_URLS"),
        stdin.as_bytes(),
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

fn table() -> SymbolTable {
    let d = data();
    let mut modules = ModuleMap::default();
    modules
        .add_text(
            "layout",
            &std::fs::read(d.join("module-layout.tsv")).unwrap(),
        )
        .unwrap();
    let opts = LoadOptions {
        modules: Some(modules),
        ..LoadOptions::default()
    };
    let t = ksym::load_file(&d.join("kallsyms.xz"), &opts).unwrap();
    // The sizes `--ko` gives, as the commands have them.
    let ko = ksym::elf::read_elf(&d.join("ko-debug/xfs.ko.xz")).unwrap();
    ksym::elf::apply_modules(t, &[ko]).0
}

/// The library's answer, the reference for the CLI's.
fn library(table: &SymbolTable, vmlinux: Option<&Path>) -> SourceLines {
    let mut lines = SourceLines::new();
    let info = table.module_map().get("xfs").unwrap();
    lines
        .add_module_info(info, &data().join("ko-debug/xfs.ko.xz"), None)
        .unwrap();
    if let Some(v) = vmlinux {
        let text = table.find_in(None, "_text").next().map(|s| s.start);
        let facts = KernelFacts {
            build_id: Some("01d2640d3a13145ee314eb05b155f141b7b7058b"),
            text,
        };
        lines
            .set_vmlinux(DebugFile::open(v).unwrap(), facts)
            .unwrap();
    }
    lines
}

fn frames_json(frames: &[SourceFrame]) -> serde_json::Value {
    frames
        .iter()
        .map(|f| {
            serde_json::json!({"function": f.function, "file": f.file, "line": f.line,
                "column": f.column, "inlined": f.inlined})
        })
        .collect()
}

/// Every 40th xfs function, 0x10 in: `addr --lines --json` gives the
/// library's frames, and the text form its outermost place.
#[test]
fn addr_lines_for_module_code() {
    let t = table();
    let lines = library(&t, None);
    let addrs: Vec<u64> = t
        .iter()
        .filter(|s| s.module == Some("xfs") && matches!(s.kind, 't' | 'T') && s.size > 0x10)
        .step_by(40)
        .map(|s| s.start + 0x10)
        .collect();
    assert!(addrs.len() > 20);
    let input: String = addrs.iter().map(|a| format!("{a:x}\n")).collect();
    let (json, err, ok) = ksym(&[], &["addr", "--lines", "--json"], &input);
    assert!(ok, "{err}");
    let (text, _, _) = ksym(&[], &["addr", "--lines"], &input);
    let mut with_frames = 0;
    let mut text_lines = text.lines().filter(|l| !l.starts_with("    "));
    for (line, &a) in json.lines().zip(&addrs) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let want = lines.frames(a).unwrap();
        assert_eq!(v["frames"], frames_json(&want), "{a:#x}");
        let first = text_lines.next().unwrap();
        if let Some(outer) = want.last() {
            with_frames += 1;
            let place = format!(
                " at {}:{}",
                outer.file.as_deref().unwrap(),
                outer.line.unwrap()
            );
            assert!(first.ends_with(&place), "{first} lacks {place}");
        }
    }
    assert!(
        with_frames * 10 >= addrs.len() * 9,
        "{with_frames} of {}",
        addrs.len()
    );
}

/// A call trace: each frame's place is the call's (return address less
/// one), in the note and in the JSON; core frames without a vmlinux get
/// none, and the command says why.
#[test]
fn decode_lines_and_missing_vmlinux() {
    let t = table();
    let lines = library(&t, None);
    let f = t.find_in(Some("xfs"), "xfs_fs_fill_super").next().unwrap();
    let read = t.find_in(None, "vfs_read").next().unwrap();
    let trace = format!(
        "Call Trace:\n <TASK>\n xfs_fs_fill_super+0x40/{:#x} [xfs]\n vfs_read+0x20/{:#x}\n </TASK>\n",
        f.size, read.size
    );
    let (out, err, ok) = ksym(&[], &["decode", "--lines", "--json"], &trace);
    assert!(ok, "{err}");
    let frames: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want = lines.frames(f.start + 0x40 - 1).unwrap();
    assert!(!want.is_empty());
    assert_eq!(frames[0]["frames"], frames_json(&want));
    // No --vmlinux, and a saved kallsyms says no release to look one up by.
    assert_eq!(frames[1]["frames"], serde_json::json!([]));
    assert!(err.contains("give --vmlinux"), "{err}");
    let (text, _, _) = ksym(&[], &["decode", "--lines"], &trace);
    let outer = want.last().unwrap();
    let place = format!(
        " at {}:{}",
        outer.file.as_deref().unwrap(),
        outer.line.unwrap()
    );
    assert!(text.lines().nth(2).unwrap().contains(&place), "{text}");
}

/// With the vmlinux: core code has lines, KASLR-slid (the data's slide is
/// 0x2c000000), and `annotate --lines` puts the place under each frame.
#[test]
fn core_lines_with_the_vmlinux() {
    let Some(v) = vmlinux() else {
        eprintln!(
            "skipped: no vmlinux with DWARF (../shared/scripts/fetch-debug-vmlinux.sh fetches it)"
        );
        return;
    };
    let t = table();
    let lines = library(&t, Some(&v));
    let read = t.find_in(None, "vfs_read").next().unwrap();
    let want = lines.frames(read.start + 0x20).unwrap();
    assert_eq!(
        want.last().unwrap().file.as_deref(),
        Some("fs/read_write.c")
    );
    let vm = v.to_str().unwrap();
    let perf = format!(
        "swapper 0 [000] 1.0: cycles:\n\t{:x} [unknown] ([unknown])\n",
        read.start + 0x20
    );
    let (out, err, ok) = ksym(&["--vmlinux", vm], &["annotate", "--lines"], &perf);
    assert!(ok, "{err}");
    let outer = want.last().unwrap();
    let place = format!(
        "\t  {}:{}",
        outer.file.as_deref().unwrap(),
        outer.line.unwrap()
    );
    assert_eq!(out.lines().nth(2), Some(place.as_str()), "{out}");
}

/// `ksym --kallsyms K [--modules M] --ko xfs ARGS`: as a bug report has it.
fn ksym_report(modules: Option<&str>, args: &[&str], stdin: &str) -> (String, String, bool) {
    let d = data();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ksym"));
    cmd.arg("--kallsyms").arg(d.join("kallsyms.xz"));
    if let Some(m) = modules {
        cmd.arg("--modules").arg(d.join(m));
    }
    cmd.arg("--ko")
        .arg(d.join("ko-debug/xfs.ko.xz"))
        .arg("--ko")
        .arg(d.join("ko-debug/vfat.ko.xz"))
        .args(args)
        .env("KSYM_CACHE_DIR", "off")
        .env_remove("DEBUGINFOD_URLS");
    let out = common::output_with_stdin(&mut cmd, stdin.as_bytes());
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

/// Module lines off-line with no layout file: with `/proc/modules` or with
/// kallsyms alone, `addr`, `decode` (references only, as arm64 traces and
/// `%pS` text carry them) and `annotate` give what the layout gives.
#[test]
fn module_lines_without_a_layout() {
    let t = table();
    let lines = library(&t, None);
    let addrs: Vec<u64> = t
        .iter()
        .filter(|s| s.module == Some("xfs") && matches!(s.kind, 't' | 'T') && s.size > 0x10)
        .step_by(25)
        .map(|s| s.start + 0x10)
        .collect();
    let input: String = addrs.iter().map(|a| format!("{a:x}\n")).collect();
    for modules in [Some("proc-modules"), None] {
        let (json, err, ok) = ksym_report(modules, &["addr", "--lines", "--json"], &input);
        assert!(ok, "{err}");
        assert!(
            !err.contains("no source lines for module"),
            "{modules:?}: {err}"
        );
        let mut with_frames = 0;
        for (line, &a) in json.lines().zip(&addrs) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let want = lines.frames(a).unwrap();
            with_frames += usize::from(!want.is_empty());
            assert_eq!(v["frames"], frames_json(&want), "{modules:?} {a:#x}");
        }
        assert!(with_frames * 10 >= addrs.len() * 9, "{with_frames}");
    }
    // A trace of references only: each frame's lines are the call's.
    let f = t.find_in(Some("xfs"), "xfs_fs_fill_super").next().unwrap();
    let trace = format!("Call trace:\n xfs_fs_fill_super+0x40/{:#x} [xfs]\n", f.size);
    let want = lines.frames(f.start + 0x40 - 1).unwrap();
    assert!(!want.is_empty());
    for modules in [Some("proc-modules"), None] {
        let (out, err, ok) = ksym_report(modules, &["decode", "--lines", "--json"], &trace);
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(v["frames"], frames_json(&want), "{modules:?}: {out}");
    }
    // perf script's [unknown] module frames.
    let a = addrs[3];
    let perf = format!("swapper 0 [000] 1.0: cycles:\n\t{a:x} [unknown] ([unknown])\n");
    let (out, err, ok) = ksym_report(Some("proc-modules"), &["annotate", "--lines"], &perf);
    assert!(ok, "{err}");
    let outer = lines.frames(a).unwrap().pop().unwrap();
    let place = format!("\t  {}:{}", outer.file.unwrap(), outer.line.unwrap());
    assert!(out.lines().any(|l| l == place), "{place} not in {out}");
}

/// A symbol that the `.ko` places elsewhere (kallsyms edited: `vfat_cmpi`
/// moved by 0x10) is reported and gets no lines; its neighbours keep theirs.
#[test]
fn a_conflict_is_reported_not_guessed() {
    let d = data();
    let text = common::xz_text(&d.join("kallsyms.xz"));
    let moved = text.replace(
        "ffffffffc0233090 t vfat_cmpi\t[vfat]",
        "ffffffffc02330a0 t vfat_cmpi\t[vfat]",
    );
    assert_ne!(moved, text);
    let out = common::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_ksym"))
            .args(["--kallsyms", "-", "--ko"])
            .arg(d.join("ko-debug/vfat.ko.xz"))
            .args([
                "addr",
                "--lines",
                "--json",
                "ffffffffc02330a4",
                "ffffffffc02333c4",
            ])
            .env("KSYM_CACHE_DIR", "off")
            .env_remove("DEBUGINFOD_URLS"),
        moved.as_bytes(),
    );
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 symbols placed elsewhere by the .ko"),
        "{stderr}"
    );
    assert!(
        stderr.contains("vfat_cmpi is at 0xffffffffc02330a0"),
        "{stderr}"
    );
    let v: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v[0]["frames"], serde_json::json!([]), "{stdout}");
    assert_ne!(v[1]["frames"], serde_json::json!([]), "{stdout}");
}
