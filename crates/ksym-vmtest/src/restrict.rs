//! The scenarios where the kernel holds things back: `kptr_restrict`,
//! `perf_event_paranoid` and an unprivileged user (the redaction error must
//! say what to change), and kernel lockdown (no `/proc/kcore`, everything
//! still works).

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::cli::ksym_binary;
use crate::kernel;
use crate::scenarios::*;

const KPTR_RESTRICT: &str = "/proc/sys/kernel/kptr_restrict";
const PERF_EVENT_PARANOID: &str = "/proc/sys/kernel/perf_event_paranoid";
/// `nobody` on Debian.
const NOBODY: u32 = 65534;

fn read_sysctl(path: &str) -> Step<i32> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| skip(format!("cannot read {path}")))
}

/// What `ksym --no-cache info` must do under these settings: succeed
/// (`None`), or fail with a message holding every one of these phrases.
/// The kernel's rule (`kallsyms_show_value()`): CAP_SYSLOG sees addresses
/// while kptr_restrict <= 1; anyone does while kptr_restrict = 0 and
/// perf_event_paranoid <= 1; kptr_restrict = 2 hides them from everyone.
fn expected(kptr: i32, paranoid: i32, root: bool) -> Option<Vec<String>> {
    let settings = format!("kernel.kptr_restrict={kptr}, kernel.perf_event_paranoid={paranoid}");
    let fix = match (kptr, root) {
        (0, _) if paranoid <= 1 => return None,
        (0 | 1, true) => return None,
        (1, false) => "Read it as root (CAP_SYSLOG is needed while kptr_restrict=1)",
        (0, false) => "`sysctl kernel.perf_event_paranoid=1` (kptr_restrict is already 0)",
        _ => "`sysctl kernel.kptr_restrict=1` and read as root (CAP_SYSLOG)",
    };
    Some(vec![
        "every address is zero".to_string(),
        settings,
        fix.to_string(),
    ])
}

/// Runs `ksym --no-cache info` as root or as `nobody` and checks it against
/// [`expected`]; a description of what happened.
fn check_info(bin: &std::path::Path, kptr: i32, paranoid: i32, root: bool) -> Step<String> {
    let mut cmd = Command::new(bin);
    cmd.args(["--no-cache", "info"])
        .env_remove("KSYM_CACHE_DIR");
    if !root {
        cmd.uid(NOBODY).gid(NOBODY).env("HOME", "/nonexistent");
    }
    let who = if root { "root" } else { "nobody" };
    let out = cmd.output().map_err(|e| {
        if root {
            fail(format!("cannot run {}: {e}", bin.display()))
        } else {
            skip(format!("cannot run {} as nobody: {e}", bin.display()))
        }
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let case = format!("kptr_restrict={kptr} perf_event_paranoid={paranoid} as {who}");
    if !root && stderr.contains("Permission denied") && stderr.contains("exec") {
        return Err(skip(format!(
            "{case}: nobody may not run {}",
            bin.display()
        )));
    }
    match expected(kptr, paranoid, root) {
        None if out.status.success() => Ok(format!("{case}: works")),
        None => Err(fail(format!("{case}: ksym info failed: {}", stderr.trim()))),
        Some(_) if out.status.success() => Err(fail(format!(
            "{case}: ksym info succeeded where the kernel hides addresses"
        ))),
        Some(phrases) => match phrases.iter().find(|p| !stderr.contains(p.as_str())) {
            None => Ok(format!("{case}: refused with the fix")),
            Some(p) => Err(fail(format!(
                "{case}: the message lacks {p:?}: {}",
                stderr.trim()
            ))),
        },
    }
}

/// `kptr_restrict` 0, 1 and 2 with `perf_event_paranoid` 1 and 2, as root
/// and as `nobody`: `ksym info` works where the kernel shows addresses and
/// otherwise fails with a message naming the settings and the fix. Without
/// `--guest` only the current settings are tried.
pub(crate) fn kptr_restrict(opts: &Options, notes: &mut Notes) -> Step<()> {
    let bin = ksym_binary(opts)?;
    let (kptr0, paranoid0) = (
        read_sysctl(KPTR_RESTRICT)?,
        read_sysctl(PERF_EVENT_PARANOID)?,
    );
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(skip("runs ksym as root and as nobody: needs root"));
    }
    let cases: Vec<(i32, i32)> = if opts.guest {
        vec![(2, 2), (1, 2), (0, 2), (0, 1)]
    } else {
        vec![(kptr0, paranoid0)]
    };
    let mut result = Ok(());
    for (kptr, paranoid) in cases {
        if opts.guest {
            kernel::write_proc(KPTR_RESTRICT, &kptr.to_string()).map_err(fail)?;
            kernel::write_proc(PERF_EVENT_PARANOID, &paranoid.to_string()).map_err(fail)?;
        }
        for root in [true, false] {
            match check_info(&bin, kptr, paranoid, root) {
                Ok(what) => notes.push(what),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_err() {
            break;
        }
    }
    if opts.guest {
        let _ = kernel::write_proc(KPTR_RESTRICT, &kptr0.to_string());
        let _ = kernel::write_proc(PERF_EVENT_PARANOID, &paranoid0.to_string());
    }
    result
}

/// The active lockdown mode from `/sys/kernel/security/lockdown`
/// (`none [integrity] confidentiality`).
pub(crate) fn lockdown_mode() -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(text[start..end].to_string())
}

/// Under `lockdown=integrity` or `confidentiality`: `/proc/kcore` is
/// refused (nothing of ksym needs it), the live handle names the core and
/// `ksym info` reports the mode. The other scenarios of the boot show that
/// everything else works.
pub(crate) fn lockdown(opts: &Options, notes: &mut Notes) -> Step<()> {
    let mode = lockdown_mode()
        .ok_or_else(|| skip("no /sys/kernel/security/lockdown (securityfs not mounted?)"))?;
    if mode == "none" {
        return Err(skip(
            "the kernel is not locked down (boot with lockdown=...)",
        ));
    }
    let lines = kallsyms()?;
    match std::fs::File::open("/proc/kcore") {
        Ok(_) if mode == "confidentiality" => {
            return Err(fail("/proc/kcore opens under lockdown=confidentiality"));
        }
        Ok(_) => notes.push("/proc/kcore opens (integrity allows it)".into()),
        Err(e) => notes.push(format!("/proc/kcore: {e}")),
    }
    let ks = open_still()?;
    let f = kernel::unique_core_function(&lines).ok_or_else(|| fail("no core function"))?;
    if !resolves_to_core(&ks, f.addr, &f.name) {
        return Err(fail(format!(
            "{:#x} is {}, want {}",
            f.addr,
            who(&ks, f.addr),
            f.name
        )));
    }
    let bin = ksym_binary(opts)?;
    let out = Command::new(&bin)
        .args(["--no-cache", "info"])
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", bin.display())))?;
    let info = String::from_utf8_lossy(&out.stdout);
    let line = info
        .lines()
        .find(|l| l.starts_with("lockdown:"))
        .unwrap_or("");
    if !out.status.success() || !line.contains(&mode) {
        return Err(fail(format!(
            "ksym info under lockdown={mode}: {}, lockdown line {line:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    notes.push(format!("lockdown={mode}; {line}"));
    Ok(())
}

fn resolves_to_core(ks: &ksym::KernelSymbols, addr: u64, name: &str) -> bool {
    ks.lookup_with(addr, |s| {
        s.is_some_and(|s| s.name == name && s.offset == 0 && s.module.is_none())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's rule, case by case.
    #[test]
    fn expectations_follow_kallsyms_show_value() {
        assert!(expected(0, 1, false).is_none());
        assert!(expected(0, 2, true).is_none());
        assert!(expected(1, 2, true).is_none());
        assert!(expected(1, -1, false).is_some());
        assert!(expected(0, 2, false).unwrap()[2].contains("perf_event_paranoid=1"));
        assert!(expected(2, 1, true).unwrap()[2].contains("kptr_restrict=1"));
    }
}
