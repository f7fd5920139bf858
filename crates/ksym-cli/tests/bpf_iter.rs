//! The BPF ksym iterator standing in for a redacted `/proc/kallsyms`, on
//! this machine's kernel: `ksym` run by `setpriv` without `CAP_SYSLOG`
//! (which redacts kallsyms when `perf_event_paranoid` is 2 or more, or
//! `kptr_restrict` is 1) gives every symbol as root reads it, and says the
//! iterator answered; without `CAP_BPF` and `CAP_PERFMON` as well, the
//! redaction error says why the iterator could not stand in. The QEMU
//! guests (scripts/vm-tests.sh) check the same under `kptr_restrict=2`.

use std::process::{Command, Output};

fn read_sysctl(name: &str) -> Option<i64> {
    std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Why dropping `CAP_SYSLOG` cannot redact kallsyms here, if it cannot.
fn cannot_redact() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        return Some("no setpriv".into());
    }
    let (kptr, paranoid) = (
        read_sysctl("kptr_restrict"),
        read_sysctl("perf_event_paranoid"),
    );
    if kptr == Some(0) && paranoid.is_some_and(|p| p < 2) {
        return Some(format!(
            "kptr_restrict=0 and perf_event_paranoid={paranoid:?} show every reader addresses"
        ));
    }
    None
}

/// `ksym ARGS` without the capabilities `drop` names (setpriv's list).
fn ksym_without(drop: &str, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            "--bounding-set",
            drop,
            env!("CARGO_BIN_EXE_ksym"),
            "--no-cache",
        ])
        .args(args)
        .output()
        .expect("run setpriv")
}

/// Lines of `ksym dump`, BPF programs left out (they come and go).
fn dump_lines(o: &Output) -> Vec<String> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.contains("[bpf]"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_iterator_stands_in_for_a_redacted_kallsyms() {
    if let Some(why) = cannot_redact() {
        eprintln!("skipped: {why}");
        return;
    }
    let info = ksym_without("-syslog", &["info"]);
    let text = String::from_utf8_lossy(&info.stdout);
    if !info.status.success() {
        let err = String::from_utf8_lossy(&info.stderr);
        // A kernel before 6.0, or BPF refused here: said, and nothing to compare.
        assert!(err.contains("could not stand in"), "{err}");
        eprintln!("skipped: {err}");
        return;
    }
    assert!(
        text.contains("source:            BPF ksym iterator (/proc/kallsyms redacted"),
        "{text}"
    );
    let through_iter = dump_lines(&ksym_without("-syslog", &["dump"]));
    let as_root = dump_lines(
        &Command::new(env!("CARGO_BIN_EXE_ksym"))
            .args(["--no-cache", "dump"])
            .output()
            .unwrap(),
    );
    assert!(through_iter.len() > 10_000, "{}", through_iter.len());
    assert!(
        through_iter == as_root,
        "the iterator's table differs from kallsyms'"
    );
    // With CAP_BPF and CAP_PERFMON but not CAP_SYS_ADMIN: still enough.
    let info = ksym_without("-syslog,-sys_admin", &["info"]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("BPF ksym iterator"));
}

#[test]
fn without_bpf_capabilities_the_error_says_why() {
    if let Some(why) = cannot_redact() {
        eprintln!("skipped: {why}");
        return;
    }
    let o = ksym_without("-syslog,-bpf,-perfmon,-sys_admin", &["info"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("every address is zero")
            && err.contains("the BPF ksym iterator could not stand in")
            && err.contains("CAP_BPF and CAP_PERFMON"),
        "{err}"
    );
}
