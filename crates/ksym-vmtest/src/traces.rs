//! The trace scenario: the kernel's own stack traces (SysRq `l` and `t`)
//! decode against the live table with every frame checked.

use std::time::Duration;

use ksym::decode::{Decoder, Status};

use crate::kernel::{self, Kmsg};
use crate::report::Outcome;
use crate::scenarios::*;

/// (e) The kernel's own stack traces: SysRq `l` (backtrace of the active
/// CPUs) and `t` (every task's stack), read back from `/dev/kmsg` and
/// decoded against the live table; every frame checks out. Without
/// `--guest`, what the kernel log already holds is decoded instead.
pub(crate) fn sysrq_traces(opts: &Options, notes: &mut Notes) -> Step<()> {
    let mut kmsg =
        Kmsg::open(opts.guest).map_err(|e| skip(format!("cannot read /dev/kmsg: {e}")))?;
    if opts.guest {
        let old = std::fs::read_to_string("/proc/sys/kernel/sysrq").unwrap_or_default();
        kernel::write_proc("/proc/sys/kernel/sysrq", "1").map_err(fail)?;
        let triggered = ["l", "t"]
            .iter()
            .try_for_each(|k| kernel::write_proc("/proc/sysrq-trigger", k));
        if !old.trim().is_empty() {
            let _ = kernel::write_proc("/proc/sys/kernel/sysrq", old.trim());
        }
        triggered.map_err(fail)?;
        // Backtraces from other CPUs come from NMI context, a little later.
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = kmsg
        .read_available()
        .map_err(|e| fail(format!("reading /dev/kmsg: {e}")))?;
    let ks = open_still()?;
    let table = ks.snapshot();
    let release = kernel::release().ok();
    let mut decoder = Decoder::new(&table).table_release(release);
    let (mut frames, mut ok, mut raw, mut in_modules) = (0, 0, 0, 0);
    let mut bad = Vec::new();
    let mut user = Vec::new();
    let mut warnings = Vec::new();
    for text in &log {
        let line = decoder.decode_line(text);
        if let Some(w) = &line.warning {
            warnings.push(w.to_string());
        }
        for f in &line.frames {
            // A user-space address given bare (`RIP: 0033:0x7f...` inside a
            // call trace) is no kernel frame; the decoder should not take it
            // for one (reported apart, below).
            if f.reference.is_none() && f.given_addr.is_some_and(|a| a < 1 << 63) {
                user.push(format!(
                    "{} # {} {}",
                    text.trim(),
                    f.status.as_str(),
                    f.note()
                ));
                continue;
            }
            frames += 1;
            if f.symbol.is_some_and(|s| s.module.is_some()) {
                in_modules += 1;
            }
            match f.status {
                Status::Ok => ok += 1,
                Status::Raw if f.symbol.is_some() => raw += 1,
                _ => bad.push(format!(
                    "{}: {} # {}",
                    f.status.as_str(),
                    text.trim(),
                    f.note()
                )),
            }
        }
    }
    if frames > 0 || !user.is_empty() {
        notes.add(
            "user-rip",
            if user.is_empty() {
                Outcome::Pass
            } else {
                fail(format!(
                    "the decoder took {} user-space addresses for kernel frames (a `RIP: 0033:` line inside a call trace passes as a bare trace frame and comes out unresolved): {}",
                    user.len(),
                    user.iter().take(2).cloned().collect::<Vec<_>>().join("; ")
                ))
            },
        );
    }
    notes.push(format!(
        "{} log lines ({} records lost), {frames} frames: {ok} ok, {raw} raw named, {in_modules} in modules, {} bad",
        log.len(),
        kmsg.lost,
        bad.len()
    ));
    if !bad.is_empty() || !warnings.is_empty() {
        return Err(fail(format!(
            "{} of {frames} frames do not check out: {}{}",
            bad.len(),
            bad.iter().take(4).cloned().collect::<Vec<_>>().join("; "),
            warnings
                .first()
                .map_or(String::new(), |w| format!("; warning: {w}"))
        )));
    }
    if frames == 0 {
        if opts.guest {
            return Err(fail(format!(
                "no frames in {} kernel log lines after SysRq l and t",
                log.len()
            )));
        }
        return Err(skip(
            "no frames in the kernel log, and triggering SysRq needs --guest",
        ));
    }
    Ok(())
}
