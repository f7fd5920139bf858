//! The output read by a real pprof reader: Go's `go tool pprof` (Debian's
//! golang-go, installed by .ci/install-deps). Skipped, saying why, when `go`
//! is not installed.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use ksym_pprof::Options;

/// Runs `go tool pprof ARGS FILE` offline and returns its standard output,
/// or `None` when there is no `go` to run.
pub fn go_pprof(args: &[&str], file: &Path, scratch: &Path) -> Option<String> {
    let mut cmd = Command::new("go");
    cmd.arg("tool")
        .arg("pprof")
        // Never symbolize: every name must come from the profile itself.
        .arg("-symbolize=none")
        .args(args)
        .arg(file)
        // Nothing from the network, nothing written outside the scratch dir.
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", scratch.join("gocache"))
        .env("HOME", scratch)
        .env("PPROF_TMPDIR", scratch)
        .env_remove("PPROF_BINARY_PATH");
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "skipped: `go` is not installed (Debian: apt-get install golang-go, \
                 as .ci/install-deps does), so go tool pprof cannot check the output"
            );
            return None;
        }
        Err(e) => panic!("running go tool pprof: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "go tool pprof {args:?} failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    eprintln!("go tool pprof {args:?}:\n{stdout}{stderr}");
    Some(stdout)
}

#[test]
fn go_tool_pprof_reads_the_named_profile() {
    let table = debian_table();
    let fx = fixture(&table);
    let input = ksym_pprof::encode(&fx.profile);
    let (output, stats) = ksym_pprof::symbolize_bytes(&input, &table, &Options::default()).unwrap();
    assert!(stats.resolved > 0);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("named.pb.gz");
    std::fs::write(&path, &output).unwrap();

    let Some(top) = go_pprof(
        &["-top", "-nodecount=1000", "-sample_index=samples"],
        &path,
        dir.path(),
    ) else {
        return;
    };
    // The leaves that were bare kernel addresses show up by name.
    for name in [
        "vfs_read",
        "ext4_file_read_iter",
        "xfs_file_read_iter",
        "do_sys_open",
    ] {
        assert!(
            top.lines()
                .any(|l| l.split_whitespace().last() == Some(name)),
            "{name} is not a row of -top:\n{top}"
        );
    }
    // The total is the input's: no sample lost.
    let total: i64 = fx.profile.sample.iter().map(|s| s.value[0]).sum();
    assert!(
        top.contains(&format!("of {total} total")),
        "-top does not show {total} samples in total:\n{top}"
    );

    // Every named frame, leaf or caller, appears in the stacks.
    let traces = go_pprof(&["-traces"], &path, dir.path()).unwrap();
    for (_, name, _) in &fx.expect_named {
        assert!(
            traces
                .lines()
                .any(|l| l.split_whitespace().any(|w| w == name)),
            "{name} is in no stack of -traces:\n{traces}"
        );
    }
    // The names the producer gave are kept.
    for name in ["main", "app_work", "schedule"] {
        assert!(traces.contains(name), "{name} lost:\n{traces}");
    }

    // -raw lists the functions with the file names ksym gave them.
    let raw = go_pprof(&["-raw"], &path, dir.path()).unwrap();
    for needle in ["vfs_read [kernel.kallsyms]", "ext4_file_read_iter [ext4]"] {
        assert!(
            raw.lines().any(|l| l.contains(needle)),
            "{needle:?} not in -raw:\n{raw}"
        );
    }
}
