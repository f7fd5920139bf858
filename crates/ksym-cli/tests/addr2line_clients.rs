//! Real clients of addr2line with ksym in its place: Debian's perf 6.1
//! (`perf report --sort srcline`, `perf script -F +srcline`, which run
//! `addr2line -e DSO -i -f` as a child found on `PATH`) on a program built
//! here with `-g`, and the kernel's own `scripts/decode_stacktrace.sh`
//! (Debian's `linux-source-6.1`, fetched with `apt-get download` on first
//! use and kept beside the debug vmlinux) on SysRq traces of the 6.1 cloud
//! kernel (`tests/data/sysrq-6.1.0-57-cloud-amd64.txt`, captured from the
//! QEMU suite's boot: see `tests/data/README.md`). Each gives the same
//! output as with binutils' addr2line; the times of both are printed.
//! ksym runs through a wrapper that logs each start, so a client that
//! never ran it cannot pass. Each client runs ksym twice: first with an
//! empty cache (ksym answers from the DWARF and builds its tables in the
//! background), then, those built, from the tables.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

/// A directory holding `addr2line` (and `llvm-addr2line`): a script that
/// notes each run in `runs.log` and then is ksym under that name.
fn ksym_bin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runs.log");
    for name in ["addr2line", "llvm-addr2line"] {
        let script = format!(
            "#!/bin/bash\necho \"$@\" >> '{}'\nexec -a {name} '{}' \"$@\"\n",
            log.display(),
            env!("CARGO_BIN_EXE_ksym")
        );
        let path = dir.path().join(name);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn ksym_runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs.log")).map_or(0, |t| t.lines().count())
}

/// `PATH` with `first` before the rest.
fn path_with(first: &Path) -> String {
    format!(
        "{}:{}",
        first.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn checked(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn program(dir: &Path) -> PathBuf {
    common::gcc_with_dwarf(
        dir,
        "hot",
        r#"#include <stdio.h>
static inline int sq(int x) { return x * x; }
static inline int add_sq(int a, int b) { return sq(a) + sq(b); }
__attribute__((noinline)) int work(int n) {
  int s = 0;
  for (int i = 0; i < n; i++) { if (i % 3) s += add_sq(i, n); else s -= i; }
  return s;
}
int main(int argc, char **argv) {
  long t = 0;
  for (int k = 0; k < 3000; k++) t += work(argc * 20000 + k);
  printf("%ld\n", t);
  return 0;
}
"#,
    )
}

#[test]
fn perf_srcline_is_the_same_with_ksym() {
    if !have("perf") || !have("gcc") || !have("addr2line") {
        eprintln!("skipped: needs perf (linux-perf), gcc and addr2line (binutils)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = program(dir.path());
    let data = dir.path().join("perf.data");
    // cpu-clock: a software event, there in VMs without a PMU. -N: no
    // build-id cache under $HOME.
    let record = Command::new("perf")
        .args([
            "record",
            "-q",
            "-N",
            "-e",
            "cpu-clock",
            "-F",
            "4000",
            "-g",
            "-o",
        ])
        .arg(&data)
        .arg(&exe)
        .output()
        .unwrap();
    if !record.status.success() {
        eprintln!(
            "skipped: perf record failed (perf_event_paranoid is {}): {}",
            std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                .unwrap_or_default()
                .trim(),
            String::from_utf8_lossy(&record.stderr)
        );
        return;
    }
    let bin = ksym_bin_dir();
    let reports: [&[&str]; 3] = [
        &[
            "report",
            "--stdio",
            "--sort",
            "srcline",
            "--full-source-path",
            "-g",
            "none",
        ],
        &[
            "report",
            "--stdio",
            "--sort",
            "srcline,sym",
            "--inline",
            "-g",
            "caller",
        ],
        &["script", "-F", "+srcline", "--full-source-path"],
    ];
    let cache = common::Cache::new();
    for (round, from) in ["DWARF", "its table"].into_iter().enumerate() {
        if round == 1 {
            eprintln!("tables: {:?}", cache.tables(Duration::from_secs(300)));
        }
        for args in reports {
            let perf = |path: &str| {
                let start = Instant::now();
                let out = Command::new("perf")
                    .args(args)
                    .arg("-i")
                    .arg(&data)
                    .env("PATH", path)
                    .env("HOME", dir.path())
                    .env("KSYM_CACHE_DIR", cache.path())
                    .output()
                    .unwrap();
                (without_tip(&checked(out, "perf")), start.elapsed())
            };
            let (want, gnu) = perf(&std::env::var("PATH").unwrap_or_default());
            let before = ksym_runs(bin.path());
            let (got, ours) = perf(&path_with(bin.path()));
            eprintln!("perf {args:?}: with addr2line {gnu:.2?}, with ksym from {from} {ours:.2?}");
            assert!(ksym_runs(bin.path()) > before, "perf did not run ksym");
            assert!(want.contains("hot.c:"), "no source lines in:\n{want}");
            assert_eq!(want, got, "perf {args:?}, ksym from {from}");
        }
    }
}

/// `perf report` ends with a tip picked at random ("# (Tip: ...)"), so
/// two runs over the same data differ there and nowhere else.
fn without_tip(report: &str) -> String {
    report
        .lines()
        .filter(|line| !line.starts_with("# (Tip:"))
        .map(|line| format!("{line}\n"))
        .collect()
}

fn vmlinux() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let p = Path::new(&home).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    p.is_file().then_some(p)
}

/// The version of linux-source-6.1 whose script is run (the vmlinux's).
const SOURCE_VERSION: &str = "6.1.192-3";

/// `scripts/decode_stacktrace.sh` of Debian's linux-source-6.1, kept in
/// `dir` (fetched with apt-get the first time); `Err` says why not.
fn decode_stacktrace(dir: &Path) -> Result<PathBuf, String> {
    let kept = dir.join(format!("decode_stacktrace-{SOURCE_VERSION}.sh"));
    if kept.is_file() {
        return Ok(kept);
    }
    if !have("apt-get") || !have("dpkg-deb") {
        return Err("no apt-get to fetch linux-source-6.1".into());
    }
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let fetch = Command::new("apt-get")
        .args(["download", &format!("linux-source-6.1={SOURCE_VERSION}")])
        .current_dir(work.path())
        .output()
        .map_err(|e| e.to_string())?;
    if !fetch.status.success() {
        return Err(format!(
            "apt-get download linux-source-6.1={SOURCE_VERSION} failed: {}",
            String::from_utf8_lossy(&fetch.stderr)
        ));
    }
    let deb = work
        .path()
        .join(format!("linux-source-6.1_{SOURCE_VERSION}_all.deb"));
    let script = Command::new("sh")
        .arg("-c")
        .arg(
            "dpkg-deb --fsys-tarfile \"$1\" | tar -xO ./usr/src/linux-source-6.1.tar.xz \
             | tar -xJO linux-source-6.1/scripts/decode_stacktrace.sh",
        )
        .arg("sh")
        .arg(&deb)
        .output()
        .map_err(|e| e.to_string())?;
    if !script.status.success() || script.stdout.is_empty() {
        return Err("decode_stacktrace.sh not in the package".into());
    }
    let part = dir.join(format!("decode_stacktrace-{SOURCE_VERSION}.sh.part"));
    std::fs::write(&part, &script.stdout).map_err(|e| e.to_string())?;
    std::fs::rename(&part, &kept).map_err(|e| e.to_string())?;
    Ok(kept)
}

#[test]
fn decode_stacktrace_is_the_same_with_ksym() {
    let Some(vmlinux) = vmlinux() else {
        eprintln!(
            "skipped: no vmlinux with DWARF (../shared/scripts/fetch-debug-vmlinux.sh fetches it)"
        );
        return;
    };
    if !have("addr2line") || !have("nm") || !have("bash") {
        eprintln!("skipped: needs bash, nm and addr2line (binutils)");
        return;
    }
    let script = match decode_stacktrace(vmlinux.parent().unwrap()) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let trace = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sysrq-6.1.0-57-cloud-amd64.txt"),
    )
    .unwrap();
    let modules = common::data_dir().join("debian-6.1.0-57-cloud/ko-debug");
    let bin = ksym_bin_dir();
    // LLVM=1: the script runs llvm-addr2line (and llvm-readelf).
    let llvm = have("llvm-addr2line") && have("llvm-readelf");
    if !llvm {
        eprintln!("LLVM=1 skipped: no llvm-addr2line or llvm-readelf (llvm)");
    }
    let cache = common::Cache::new();
    let rounds = [("", "DWARF"), ("", "its table"), ("1", "its table")];
    for (flavour, from) in rounds.into_iter().filter(|f| f.0.is_empty() || llvm) {
        if from != "DWARF" {
            cache.tables(Duration::from_secs(300));
        }
        let run = |path: &str| {
            let start = Instant::now();
            let mut command = Command::new("bash");
            command
                .arg(&script)
                .arg(&vmlinux)
                .arg("auto")
                .arg(&modules)
                .env("PATH", path)
                .env("KSYM_CACHE_DIR", cache.path());
            if !flavour.is_empty() {
                command.env("LLVM", flavour);
            }
            let out = common::output_with_stdin(&mut command, &trace);
            (checked(out, "decode_stacktrace.sh"), start.elapsed())
        };
        let (want, real) = run(&std::env::var("PATH").unwrap_or_default());
        let before = ksym_runs(bin.path());
        let (got, ours) = run(&path_with(bin.path()));
        eprintln!(
            "decode_stacktrace.sh (LLVM={flavour}): with the real tool {real:.2?}, with ksym from {from} {ours:.2?}"
        );
        assert!(
            ksym_runs(bin.path()) > before + 10,
            "the script did not run ksym"
        );
        assert!(
            want.contains("(kernel/sched/core.c:"),
            "no source lines in:\n{want}"
        );
        assert_eq!(want, got, "LLVM={flavour}, ksym from {from}");
    }
}
