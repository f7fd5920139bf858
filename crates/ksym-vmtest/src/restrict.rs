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

/// Who runs `ksym`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Root,
    Nobody,
    /// `nobody` holding only `CAP_BPF` and `CAP_PERFMON` (ambient): what an
    /// agent gets on a hardened host.
    NobodyWithBpf,
}

/// What `ksym --no-cache info` must do under these settings.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// kallsyms shows addresses to this reader.
    Works,
    /// kallsyms is redacted, and the BPF ksym iterator stands in.
    ThroughIterator,
    /// Refused, with a message holding every one of these phrases.
    Refused(Vec<String>),
}

/// The kernel's rule (`kallsyms_show_value()`): CAP_SYSLOG sees addresses
/// while kptr_restrict <= 1; anyone does while kptr_restrict = 0 and
/// perf_event_paranoid <= 1; kptr_restrict = 2 hides them from everyone.
/// Where they are hidden, a reader with CAP_BPF and CAP_PERFMON (root has
/// them) gets the BPF ksym iterator's table when the kernel has it
/// (`iterator`: 6.0+ with BTF).
fn expected(kptr: i32, paranoid: i32, reader: Reader, iterator: bool) -> Expect {
    let settings = format!("kernel.kptr_restrict={kptr}, kernel.perf_event_paranoid={paranoid}");
    let root = reader == Reader::Root;
    let fix = match (kptr, root) {
        (0, _) if paranoid <= 1 => return Expect::Works,
        (0 | 1, true) => return Expect::Works,
        (1, false) => "Read it as root (CAP_SYSLOG is needed while kptr_restrict=1)",
        (0, false) => "`sysctl kernel.perf_event_paranoid=1` (kptr_restrict is already 0)",
        _ => "`sysctl kernel.kptr_restrict=1` and read as root (CAP_SYSLOG)",
    };
    if iterator && reader != Reader::Nobody {
        return Expect::ThroughIterator;
    }
    let mut phrases = vec![
        "every address is zero".to_string(),
        settings,
        fix.to_string(),
        "the BPF ksym iterator could not stand in".to_string(),
    ];
    // Why not: the capabilities, or (checked first) a kernel without it.
    phrases.push(
        if iterator {
            "CAP_BPF and CAP_PERFMON"
        } else {
            "before 6.0"
        }
        .to_string(),
    );
    Expect::Refused(phrases)
}

/// Whether the running kernel has the BPF ksym iterator (its BTF says).
fn kernel_has_iterator() -> bool {
    std::fs::read("/sys/kernel/btf/vmlinux")
        .is_ok_and(|b| ksym::parse::btf::ksym_iter_layout(&b).is_ok())
}

/// Runs `ksym --no-cache info` as `reader` and checks it against
/// [`expected`]; a description of what happened.
fn check_info(
    bin: &std::path::Path,
    kptr: i32,
    paranoid: i32,
    reader: Reader,
    iterator: bool,
) -> Step<String> {
    let mut cmd = Command::new(bin);
    cmd.args(["--no-cache", "info"])
        .env_remove("KSYM_CACHE_DIR");
    if reader != Reader::Root {
        cmd.env("HOME", "/nonexistent");
        let keep_bpf = reader == Reader::NobodyWithBpf;
        // SAFETY: between fork and exec only async-signal-safe calls
        // (prctl, setgroups, setgid, setuid, capset) on memory of this
        // closure.
        unsafe { cmd.pre_exec(move || become_nobody(keep_bpf)) };
    }
    let who = format!("{reader:?}");
    let out = cmd.output().map_err(|e| {
        if reader == Reader::Root {
            fail(format!("cannot run {}: {e}", bin.display()))
        } else {
            skip(format!("cannot run {} as {who}: {e}", bin.display()))
        }
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let case = format!("kptr_restrict={kptr} perf_event_paranoid={paranoid} as {who}");
    if reader != Reader::Root && stderr.contains("Permission denied") && stderr.contains("exec") {
        return Err(skip(format!(
            "{case}: nobody may not run {}",
            bin.display()
        )));
    }
    let through_iterator = stdout.contains("source:            BPF ksym iterator");
    // Every kernel with the iterator takes the records program: the
    // formatted lines one standing in is a failure here, though it works.
    if let Some(refused) = stdout
        .lines()
        .find(|l| l.contains("the records program refused"))
    {
        return Err(fail(format!("{case}: {}", refused.trim())));
    }
    match expected(kptr, paranoid, reader, iterator) {
        Expect::Works if out.status.success() && !through_iterator => Ok(format!("{case}: works")),
        Expect::ThroughIterator if out.status.success() && through_iterator => {
            Ok(format!("{case}: works through the BPF ksym iterator"))
        }
        // Lockdown may forbid what the iterator needs: whatever the kernel
        // allows, said.
        Expect::ThroughIterator
            if stderr.contains("could not stand in")
                && lockdown_mode().is_some_and(|m| m == "confidentiality") =>
        {
            Ok(format!(
                "{case}: lockdown=confidentiality refuses the iterator: {}",
                stderr.trim()
            ))
        }
        Expect::Works | Expect::ThroughIterator => Err(fail(format!(
            "{case}: want {:?}, got {} with source {:?}: {}",
            expected(kptr, paranoid, reader, iterator),
            out.status,
            stdout.lines().next().unwrap_or(""),
            stderr.trim()
        ))),
        Expect::Refused(_) if out.status.success() => Err(fail(format!(
            "{case}: ksym info succeeded where the kernel hides addresses"
        ))),
        Expect::Refused(phrases) => match phrases.iter().find(|p| !stderr.contains(p.as_str())) {
            None => Ok(format!("{case}: refused with the fix")),
            Some(p) => Err(fail(format!(
                "{case}: the message lacks {p:?}: {}",
                stderr.trim()
            ))),
        },
    }
}

/// In a child about to exec: become `nobody`, keeping only `CAP_BPF` and
/// `CAP_PERFMON` (as ambient capabilities, which survive the exec) when
/// `keep_bpf`, else none.
fn become_nobody(keep_bpf: bool) -> std::io::Result<()> {
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let check = |rc: libc::c_int| {
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: plain system calls on values of this frame; the capability
    // structs are the kernel's v3 layout (a header and two 32-bit halves).
    unsafe {
        check(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0))?;
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setgid(NOBODY))?;
        check(libc::setuid(NOBODY))?;
        let mut header = [0x2008_0522u32, 0]; // _LINUX_CAPABILITY_VERSION_3, this process
        let high = if keep_bpf {
            1 << (CAP_PERFMON - 32) | 1 << (CAP_BPF - 32)
        } else {
            0
        };
        // effective, permitted, inheritable; low then high words.
        let data = [0u32, 0, 0, high, high, high];
        check(libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_ptr()) as libc::c_int)?;
        if keep_bpf {
            for cap in [CAP_PERFMON, CAP_BPF] {
                check(libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                ))?;
            }
        }
    }
    Ok(())
}

/// `kptr_restrict` 0, 1 and 2 with `perf_event_paranoid` 1 and 2, as root,
/// as `nobody` and as `nobody` with `CAP_BPF` and `CAP_PERFMON`: `ksym info`
/// works where the kernel shows addresses, through the BPF ksym iterator
/// where it hides them from a reader that may load it (6.0+), and
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
    let iterator = kernel_has_iterator();
    notes.push(format!("the kernel has the BPF ksym iterator: {iterator}"));
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
        for reader in [Reader::Root, Reader::Nobody, Reader::NobodyWithBpf] {
            match check_info(&bin, kptr, paranoid, reader, iterator) {
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
    if opts.guest && iterator && result.is_ok() {
        result = every_text_symbol_through_the_iterator(&bin, notes);
    }
    if opts.guest {
        let _ = kernel::write_proc(KPTR_RESTRICT, &kptr0.to_string());
        let _ = kernel::write_proc(PERF_EVENT_PARANOID, &paranoid0.to_string());
    }
    result
}

/// Every symbol kallsyms lists with `kptr_restrict=0` (text, data and
/// absolute ones, modules included, BPF programs aside), at the same
/// address, in what `ksym dump` gives under `kptr_restrict=2` through the
/// iterator, as root and as `nobody` with `CAP_BPF` and `CAP_PERFMON`.
fn every_text_symbol_through_the_iterator(bin: &std::path::Path, notes: &mut Notes) -> Step<()> {
    kernel::write_proc(KPTR_RESTRICT, "0").map_err(fail)?;
    let want: Vec<(u64, String, Option<String>)> = kallsyms()?
        .into_iter()
        .filter(|l| l.module.as_deref() != Some("bpf"))
        .map(|l| (l.addr, l.name, l.module))
        .collect();
    kernel::write_proc(KPTR_RESTRICT, "2").map_err(fail)?;
    for reader in [Reader::Root, Reader::NobodyWithBpf] {
        let mut cmd = Command::new(bin);
        cmd.args(["--no-cache", "dump"])
            .env_remove("KSYM_CACHE_DIR");
        if reader != Reader::Root {
            cmd.env("HOME", "/nonexistent");
            // SAFETY: as in check_info.
            unsafe { cmd.pre_exec(|| become_nobody(true)) };
        }
        let out = cmd.output().map_err(|e| fail(format!("ksym dump: {e}")))?;
        if !out.status.success() {
            if lockdown_mode().is_some_and(|m| m == "confidentiality") {
                notes.push(format!(
                    "{reader:?}: dump refused under lockdown=confidentiality"
                ));
                continue;
            }
            return Err(fail(format!(
                "ksym dump as {reader:?} under kptr_restrict=2: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let got: std::collections::HashSet<(u64, &str, Option<&str>)> = text
            .lines()
            .filter_map(|l| {
                let (head, module) = match l.split_once('\t') {
                    Some((h, m)) => (h, Some(m.trim_matches(['[', ']']))),
                    None => (l, None),
                };
                let mut f = head.split(' ');
                let addr = u64::from_str_radix(f.next()?, 16).ok()?;
                let name = f.nth(1)?;
                Some((addr, name, module))
            })
            .collect();
        let missing: Vec<_> = want
            .iter()
            .filter(|(a, n, m)| !got.contains(&(*a, n.as_str(), m.as_deref())))
            .collect();
        if let Some(first) = missing.first() {
            return Err(fail(format!(
                "{reader:?}: {} of {} symbols missing under kptr_restrict=2, e.g. {first:x?}",
                missing.len(),
                want.len()
            )));
        }
        let modules = want.iter().filter(|w| w.2.is_some()).count();
        notes.push(format!(
            "kptr_restrict=2 as {reader:?}: all {} symbols ({modules} of modules) at their addresses",
            want.len()
        ));
    }
    Ok(())
}

/// Under `kptr_restrict=2`, a watching handle reads through the BPF ksym
/// iterator and follows `insmod` and `rmmod` of dummy: once loaded, every
/// dummy symbol kallsyms lists (read with `kptr_restrict=0` afterwards)
/// resolves to itself in the table the handle made while addresses were
/// hidden; once unloaded, none of them names dummy.
pub(crate) fn iterator_follows_modules(opts: &Options, notes: &mut Notes) -> Step<()> {
    if !kernel_has_iterator() {
        return Err(skip("the kernel has no BPF ksym iterator (6.0+)"));
    }
    module_precheck(opts, &["dummy"])?;
    kernel::ensure_unloaded("dummy").map_err(fail)?;
    let kptr0 = read_sysctl(KPTR_RESTRICT)?;
    kernel::write_proc(KPTR_RESTRICT, "2").map_err(fail)?;
    let result = follow_dummy_hidden(notes);
    let _ = kernel::write_proc(KPTR_RESTRICT, &kptr0.to_string());
    let _ = kernel::ensure_unloaded("dummy");
    result
}

fn follow_dummy_hidden(notes: &mut Notes) -> Step<()> {
    let ks = open_watching()?;
    let through_iterator =
        |ks: &ksym::KernelSymbols| ks.snapshot().info().source.starts_with("BPF ksym iterator");
    if !through_iterator(&ks) {
        return Err(fail(format!(
            "under kptr_restrict=2 the handle's source is {:?}",
            ks.snapshot().info().source
        )));
    }
    let has_dummy = |ks: &ksym::KernelSymbols| !ks.snapshot().module_symbol_ids("dummy").is_empty();
    kernel::insmod("dummy").map_err(fail)?;
    kernel::wait_for(WAIT, || has_dummy(&ks)).ok_or_else(|| {
        fail(format!(
            "{WAIT:?} after insmod dummy the handle has no dummy symbol ({})",
            handle_state(&ks)
        ))
    })?;
    let table = ks.snapshot();
    kernel::write_proc(KPTR_RESTRICT, "0").map_err(fail)?;
    let lines = kallsyms()?;
    kernel::write_proc(KPTR_RESTRICT, "2").map_err(fail)?;
    let by_addr = kernel::names_by_addr(&lines);
    let dummy: Vec<&kernel::KallsymsLine> = lines
        .iter()
        .filter(|l| l.module.as_deref() == Some("dummy") && l.is_text())
        .collect();
    let (checked, bad, ex) = check_lines(&table, dummy.iter().copied(), &by_addr);
    if bad > 0 || checked == 0 || !table.info().source.starts_with("BPF ksym iterator") {
        return Err(fail(format!(
            "after insmod dummy, from {:?}: {bad} of {checked} dummy symbols wrong ({})",
            table.info().source,
            ex.join("; ")
        )));
    }
    kernel::rmmod("dummy").map_err(fail)?;
    kernel::wait_for(WAIT, || !has_dummy(&ks)).ok_or_else(|| {
        fail(format!(
            "{WAIT:?} after rmmod dummy the handle still has dummy ({})",
            handle_state(&ks)
        ))
    })?;
    let after = ks.snapshot();
    let stale = dummy
        .iter()
        .filter(|l| {
            after
                .lookup(l.addr)
                .is_some_and(|s| s.module == Some("dummy"))
        })
        .count();
    if stale > 0 || !through_iterator(&ks) {
        return Err(fail(format!(
            "after rmmod dummy, {stale} addresses still name dummy; source {:?}",
            after.info().source
        )));
    }
    notes.push(format!(
        "kptr_restrict=2: the watching handle, through the iterator, named all {checked} dummy text symbols after insmod and none after rmmod ({} refreshes)",
        ks.refresh_count()
    ));
    Ok(())
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
    if opts.guest && kernel_has_iterator() {
        notes.push(iterator_under_lockdown(&bin, &mode)?);
    }
    Ok(())
}

/// What the kernel allows the BPF ksym iterator under lockdown, as root
/// with `kptr_restrict=2`: said, whichever it is (the iterator reads
/// kernel memory, which `confidentiality` may refuse); a failure is only
/// a refusal without the reason.
fn iterator_under_lockdown(bin: &std::path::Path, mode: &str) -> Step<String> {
    let kptr0 = read_sysctl(KPTR_RESTRICT)?;
    kernel::write_proc(KPTR_RESTRICT, "2").map_err(fail)?;
    let out = Command::new(bin)
        .args(["--no-cache", "info"])
        .env_remove("KSYM_CACHE_DIR")
        .output();
    let _ = kernel::write_proc(KPTR_RESTRICT, &kptr0.to_string());
    let out = out.map_err(|e| fail(format!("cannot run {}: {e}", bin.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && stdout.contains("source:            BPF ksym iterator") {
        Ok(format!(
            "lockdown={mode}, kptr_restrict=2: the BPF ksym iterator works"
        ))
    } else if let Some(at) = stderr.find("could not stand in: ") {
        Ok(format!(
            "lockdown={mode}, kptr_restrict=2: the kernel refuses the BPF ksym iterator: {}",
            stderr[at + 20..].trim()
        ))
    } else {
        Err(fail(format!(
            "lockdown={mode}, kptr_restrict=2: neither the iterator nor its reason: {}",
            stderr.trim()
        )))
    }
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
        use Reader::*;
        assert_eq!(expected(0, 1, Nobody, true), Expect::Works);
        assert_eq!(expected(0, 2, Root, false), Expect::Works);
        assert_eq!(expected(1, 2, Root, true), Expect::Works);
        assert_eq!(expected(2, 2, Root, true), Expect::ThroughIterator);
        assert_eq!(expected(1, 2, NobodyWithBpf, true), Expect::ThroughIterator);
        let Expect::Refused(p) = expected(0, 2, Nobody, true) else {
            panic!()
        };
        assert!(p[2].contains("perf_event_paranoid=1") && p[4].contains("CAP_BPF"));
        let Expect::Refused(p) = expected(2, 1, Root, false) else {
            panic!()
        };
        assert!(p[2].contains("kptr_restrict=1") && p[3].contains("could not stand in"));
        assert!(p[4].contains("before 6.0"));
    }
}
