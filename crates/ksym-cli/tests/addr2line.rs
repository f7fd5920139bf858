//! `ksym addr2line`, and ksym run as `addr2line` / `llvm-addr2line`,
//! against the real tools, byte for byte: on a C program built here with
//! `gcc -g -O2` (inlined calls, discriminators, crt code without DWARF) at
//! every instruction and outside every section, and, when the 590 MB
//! vmlinux is fetched, on thousands of kernel addresses (function starts,
//! middles and last bytes, and dense runs over code with no line). Also the
//! way perf drives it: one address a line, each answer read before the
//! next question is written, and its `,` sentinel.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A directory with `addr2line` and `llvm-addr2line` linked to ksym.
fn multi_call_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["addr2line", "llvm-addr2line"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ksym"), dir.path().join(name)).unwrap();
    }
    dir
}

/// Builds the test program; `None` (said why) without gcc or objdump.
fn c_program(dir: &Path) -> Option<PathBuf> {
    if !have("gcc") || !have("objdump") {
        eprintln!("skipped: needs gcc and objdump (binutils)");
        return None;
    }
    let exe = common::gcc_with_dwarf(
        dir,
        "prog",
        r#"#include <stdio.h>
static inline int sq(int x) { return x * x; }
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
    );
    Some(exe)
}

/// Every instruction's address (objdump), and some in no section.
fn instruction_addresses(exe: &Path) -> String {
    let out = Command::new("objdump").arg("-d").arg(exe).output().unwrap();
    let mut text = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((addr, _)) = line.trim_start().split_once(":\t") else {
            continue;
        };
        if addr.bytes().all(|b| b.is_ascii_hexdigit()) {
            text.push_str(&format!("0x{addr}\n"));
        }
    }
    assert!(text.lines().count() > 50, "too few instructions");
    // No section; perf's sentinel; what C's strtoul makes of the rest.
    text.push_str("0\n0x99999\nffffffffffffffff\n,\n");
    let first = text.lines().next().unwrap_or("0x0").to_string();
    for odd in [
        "  {a}",
        "\t{a} trailing",
        "{a}zz",
        "+{a}",
        "-{a}",
        "0x",
        "",
        "1ffffffffffffffff",
    ] {
        text.push_str(&odd.replace("{a}", &first));
        text.push('\n');
    }
    text
}

fn run(program: &Path, args: &[&str], input: &str) -> String {
    run_with_cache(program, args, input, None)
}

/// `program` with ksym's cache in `cache` (`None`: off, so ksym answers
/// from the DWARF).
fn run_with_cache(program: &Path, args: &[&str], input: &str, cache: Option<&Path>) -> String {
    let mut command = Command::new(program);
    command.args(args).env(
        "KSYM_CACHE_DIR",
        cache.map_or("off".as_ref(), Path::as_os_str),
    );
    let out = common::output_with_stdin(&mut command, input.as_bytes());
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The option sets perf, decode_stacktrace.sh and people use.
const OPTION_SETS: &[&[&str]] = &[
    &["-a", "-i", "-f"],
    &["-i", "-f"],
    &["-f"],
    &[],
    &["-f", "-p", "-i"],
    &["-a", "-p", "-f", "-i", "-s", "-C"],
];

/// A private cache holding the tools' line table of `exe`, built by
/// `ksym line-table --for-addr2line`.
fn cache_with_table(exe: &Path) -> common::Cache {
    let cache = common::Cache::new();
    let out = Command::new(env!("CARGO_BIN_EXE_ksym"))
        .args(["line-table", "--for-addr2line"])
        .arg(exe)
        .env("KSYM_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
    cache
}

/// The real tool and ksym (from the DWARF, and from the table in
/// `cache`) answer `input` alike with each of `option_sets`.
fn compare_with(
    real: &str,
    ours: &Path,
    exe: &Path,
    input: &str,
    option_sets: &[&[&str]],
    cache: &Path,
) {
    for opts in option_sets {
        let mut args = vec!["-e", exe.to_str().unwrap()];
        args.extend_from_slice(opts);
        let start = Instant::now();
        let want = run(Path::new(real), &args, input);
        let theirs = start.elapsed();
        for from in [None, Some(cache)] {
            let start = Instant::now();
            let got = run_with_cache(ours, &args, input, from);
            eprintln!(
                "{} addresses {opts:?}: {real} {theirs:.2?}, ksym from {} {:.2?}",
                input.lines().count(),
                if from.is_some() { "its table" } else { "DWARF" },
                start.elapsed()
            );
            assert!(
                want == got,
                "{real} {opts:?} differs on {} (ksym from {}):\n{}",
                exe.display(),
                if from.is_some() { "its table" } else { "DWARF" },
                first_difference(&want, &got)
            );
        }
    }
}

fn compare(real: &str, ours: &Path, exe: &Path, input: &str) {
    let cache = cache_with_table(exe);
    compare_with(real, ours, exe, input, OPTION_SETS, &cache.path());
}

fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<_>, Vec<_>) = (want.lines().collect(), got.lines().collect());
    let at = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let from = at.saturating_sub(3);
    format!(
        "line {}: want\n{}\ngot\n{}",
        at + 1,
        w[from..(at + 3).min(w.len())].join("\n"),
        g[from..(at + 3).min(g.len())].join("\n")
    )
}

#[test]
fn c_program_answers_as_gnu_addr2line() {
    if !have("addr2line") {
        eprintln!("skipped: no addr2line (binutils)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = c_program(dir.path()) else {
        return;
    };
    let input = instruction_addresses(&exe);
    let links = multi_call_dir();
    compare("addr2line", &links.path().join("addr2line"), &exe, &input);
    // `ksym addr2line` is the same command; addresses as arguments too.
    let args = ["addr2line", "-e", exe.to_str().unwrap(), "-a", "-f", "-i"];
    let addrs: Vec<&str> = input.lines().take(40).collect();
    let want = run(Path::new("addr2line"), &[&args[1..], &addrs].concat(), "");
    let got = run(
        Path::new(env!("CARGO_BIN_EXE_ksym")),
        &[&args[..], &addrs].concat(),
        "",
    );
    assert_eq!(want, got);
}

/// The first run answers from the DWARF and builds the table in the
/// background; the next answer from it: a copy of the program without its
/// DWARF sections (same build-id and symbols), where GNU finds no line,
/// answers as the program.
#[test]
fn the_first_run_builds_the_table_the_next_answer_from() {
    if !have("addr2line") || !have("objcopy") {
        eprintln!("skipped: no addr2line or objcopy (binutils)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = c_program(dir.path()) else {
        return;
    };
    let cache = common::Cache::new();
    let input = instruction_addresses(&exe);
    let links = multi_call_dir();
    let ours = links.path().join("addr2line");
    let args_of = |file: &Path| {
        vec![
            "-e".to_string(),
            file.display().to_string(),
            "-a".into(),
            "-i".into(),
            "-f".into(),
        ]
    };
    let exe_args = args_of(&exe);
    let exe_args: Vec<&str> = exe_args.iter().map(String::as_str).collect();
    let want = run(Path::new("addr2line"), &exe_args, &input);
    let first = run_with_cache(&ours, &exe_args, &input, Some(&cache.path()));
    assert!(want == first, "{}", first_difference(&want, &first));
    let tables = cache.tables(Duration::from_secs(120));
    let table = tables
        .iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("addr2line-")
        })
        .unwrap_or_else(|| panic!("no addr2line table among {tables:?}"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(table).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", table.display());
    let stripped = dir.path().join("prog.nodwarf");
    let ok = Command::new("objcopy")
        .arg("--remove-section=.debug_*")
        .arg(&exe)
        .arg(&stripped)
        .status()
        .unwrap()
        .success();
    assert!(ok, "objcopy failed");
    let stripped_args = args_of(&stripped);
    let stripped_args: Vec<&str> = stripped_args.iter().map(String::as_str).collect();
    let gnu_without = run(Path::new("addr2line"), &stripped_args, &input);
    assert!(gnu_without != want, "objcopy left the DWARF");
    let from_table = run_with_cache(&ours, &stripped_args, &input, Some(&cache.path()));
    assert!(
        want == from_table,
        "{}",
        first_difference(&want, &from_table)
    );
}

#[test]
fn c_program_answers_as_llvm_addr2line() {
    if !have("llvm-addr2line") {
        eprintln!("skipped: no llvm-addr2line (llvm)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = c_program(dir.path()) else {
        return;
    };
    let input = instruction_addresses(&exe) + "not an address\n\n";
    let links = multi_call_dir();
    compare(
        "llvm-addr2line",
        &links.path().join("llvm-addr2line"),
        &exe,
        &input,
    );
}

/// The kernel addresses: per 25th code symbol its start, middle and last
/// byte; dense runs (every 3rd byte) over places with no line or no
/// function (the entry code, static-call trampolines, the retpoline
/// thunks, `.init.text`, a unit's rows past its ranges); and addresses in
/// no section.
fn kernel_addresses() -> String {
    let map = common::xz_text(&common::data_dir().join("debian-6.1.0-57-cloud/System.map.xz"));
    let mut starts: Vec<u64> = map
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (addr, kind) = (f.next()?, f.next()?);
            matches!(kind, "t" | "T" | "w" | "W").then(|| u64::from_str_radix(addr, 16).ok())?
        })
        .collect();
    starts.sort_unstable();
    let mut out = Vec::new();
    for pair in starts.windows(2).step_by(25) {
        let (a, b) = (pair[0], pair[1]);
        out.extend([a, a + (b - a) / 2, a + (b - a).saturating_sub(1)]);
    }
    for base in [
        0xffff_ffff_8100_0000u64,
        0xffff_ffff_81a0_5600,
        0xffff_ffff_81e0_1400,
        0xffff_ffff_8304_e000,
        0xffff_ffff_8102_6400,
    ] {
        out.extend((0..600).step_by(3).map(|i| base + i));
    }
    // In no section (0 is in `.data..percpu`, a data address: GNU names
    // variables there from DWARF, which ksym does not).
    out.extend([0x4000_0000, 0xffff_ffff_8000_0000, u64::MAX]);
    out.iter().map(|a| format!("{a:#x}\n")).collect()
}

#[test]
fn vmlinux_answers_as_gnu_addr2line() {
    let Some(vmlinux) = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64"))
        .filter(|p| p.is_file())
    else {
        eprintln!(
            "skipped: no vmlinux with DWARF (../shared/scripts/fetch-debug-vmlinux.sh fetches it)"
        );
        return;
    };
    if !have("addr2line") {
        eprintln!("skipped: no addr2line (binutils)");
        return;
    }
    let input = kernel_addresses();
    let links = multi_call_dir();
    let ours = links.path().join("addr2line");
    let cache = cache_with_table(&vmlinux);
    let option_sets: &[&[&str]] = &[&["-a", "-i", "-f"], &["-f", "-p", "-i"], &[]];
    compare_with(
        "addr2line",
        &ours,
        &vmlinux,
        &input,
        option_sets,
        &cache.path(),
    );
}

/// `.text` functions of a `.ko` (start, middle, last byte): GNU reads a
/// relocatable file's addresses as `.text` offsets (those below 0x80 are
/// left out: on its first question BFD looks in the `.note` sections
/// there).
fn module_addresses(ko: &Path) -> String {
    let readelf = |flag: &str| {
        let out = Command::new("readelf").arg(flag).arg(ko).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let text_index = readelf("-SW")
        .lines()
        .find(|l| l.contains(" .text "))
        .and_then(|l| {
            l.split(']')
                .next()?
                .trim_start()
                .strip_prefix('[')
                .map(|i| i.trim().to_string())
        })
        .expect("a .text section");
    let mut addrs = Vec::new();
    for line in readelf("-sW").lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 8 && f[3] == "FUNC" && f[6] == text_index {
            let start = u64::from_str_radix(f[1], 16).unwrap();
            let size: u64 = f[2].parse().unwrap();
            addrs.extend([start, start + size / 2, start + size.saturating_sub(1)]);
        }
    }
    addrs.sort_unstable();
    addrs.dedup();
    addrs.retain(|a| *a >= 0x80);
    assert!(addrs.len() > 20, "too few functions in {}", ko.display());
    addrs.iter().map(|a| format!("{a:#x}\n")).collect()
}

#[test]
fn modules_answer_as_gnu_addr2line() {
    if !have("addr2line") || !have("readelf") {
        eprintln!("skipped: no addr2line or readelf (binutils)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let links = multi_call_dir();
    for module in ["xfs", "bridge", "fat"] {
        let packed =
            common::data_dir().join(format!("debian-6.1.0-57-cloud/ko-debug/{module}.ko.xz"));
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut xz2::read::XzDecoder::new(std::fs::File::open(&packed).unwrap()),
            &mut bytes,
        )
        .unwrap();
        let ko = dir.path().join(format!("{module}.ko"));
        std::fs::write(&ko, bytes).unwrap();
        let input = module_addresses(&ko);
        let cache = cache_with_table(&ko);
        let option_sets: &[&[&str]] = &[&["-a", "-i", "-f"], &["-f", "-p", "-i"]];
        let ours = links.path().join("addr2line");
        compare_with("addr2line", &ours, &ko, &input, option_sets, &cache.path());
    }
}

/// perf's protocol: one address, then its `,` sentinel, each answer read
/// before the next line is written (a tool that buffers its answers never
/// answers); GNU answers the sentinel as address 0, llvm prints it back.
#[test]
fn answers_each_line_before_the_next_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = c_program(dir.path()) else {
        return;
    };
    let links = multi_call_dir();
    for (name, sentinel) in [("addr2line", "??:0"), ("llvm-addr2line", ",")] {
        let mut child = Command::new(links.path().join(name))
            .args(["-e", exe.to_str().unwrap(), "-a", "-i", "-f"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let (lines, read) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        for _ in 0..3 {
            writeln!(stdin, "0x0\n,").unwrap();
            stdin.flush().unwrap();
            let mut got = Vec::new();
            while got.last().is_none_or(|l: &String| l != sentinel) {
                let line = read
                    .recv_timeout(Duration::from_secs(20))
                    .unwrap_or_else(|_| panic!("{name}: no answer while stdin is open: {got:?}"));
                got.push(line);
            }
        }
        drop(stdin);
        assert!(child.wait().unwrap().success());
    }
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let links = multi_call_dir();
    let out = Command::new(links.path().join("addr2line"))
        .args(["-e", "/nonexistent/file", "0x10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("addr2line: ") && err.contains("/nonexistent/file"),
        "{err}"
    );
    let out = Command::new(links.path().join("addr2line"))
        .args(["-e", "/etc/passwd", "0x10"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
