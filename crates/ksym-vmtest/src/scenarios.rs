//! The scenarios: each a function that checks what `ksym`'s live handle
//! ([`KernelSymbols`]) and decoder answer against what the running kernel
//! itself says (`/proc/kallsyms`, `/sys/module`, its own stack traces).
//!
//! Those that change the kernel (`insmod`, `rmmod`, SysRq) run only with
//! [`Options::guest`]; on a kernel without modules the module scenarios
//! skip. A scenario returns `Ok(())` for a pass, or the [`Outcome`] it ended
//! with otherwise, and pushes measurements onto `notes`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ksym::live::LiveConfig;
use ksym::{KernelSymbols, SymbolTable};

use crate::agent::go_agent;
use crate::boots::{cache_across_boots, snapshot_for_host};
use crate::bpf::bpf_ksymbol;
use crate::bpf_lines::bpf_lines;
use crate::cli::{cli_addr_name, cli_cache, cli_image, cli_info_rmmod, cli_module_symbols};
use crate::guest_lines::guest_lines;
use crate::kernel::{self, KallsymsLine};
use crate::lifecycle::{address_reuse, follow_insmod_rmmod, init_text_freed};
use crate::report::{Outcome, Reporter};
use crate::restrict::{iterator_follows_modules, kptr_restrict, lockdown};
use crate::symbols::{core_symbols, module_symbols};
use crate::traces::sysrq_traces;

/// What the program may do, and with what.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Change the kernel: load and unload modules, load BPF, trigger SysRq,
    /// set `kptr_restrict`.
    pub guest: bool,
    /// The `ksym` binary the CLI scenarios run (else found on `PATH` or
    /// beside this program).
    pub ksym: Option<std::path::PathBuf>,
    /// A directory that outlives the boot, for the cache across reboots.
    pub state: Option<std::path::PathBuf>,
}

pub(crate) type Step<T> = Result<T, Outcome>;

/// What a scenario tells besides its outcome: measurements, and results of
/// checks it makes on the side (reported as `<scenario>-<name>`).
#[derive(Debug, Default)]
pub struct Notes {
    lines: Vec<String>,
    extra: Vec<(&'static str, Outcome)>,
}

impl Notes {
    pub(crate) fn push(&mut self, line: String) {
        self.lines.push(line);
    }

    /// A side check's outcome, reported as `<scenario>-<name>`.
    pub(crate) fn add(&mut self, name: &'static str, outcome: Outcome) {
        self.extra.push((name, outcome));
    }
}
type Scenario = fn(&Options, &mut Notes) -> Step<()>;

/// Name, what it checks, the function; run in this order.
pub const SCENARIOS: &[(&str, &str, Scenario)] = &[
    (
        "core-symbols",
        "every core text symbol of /proc/kallsyms resolves to itself or an alias",
        core_symbols,
    ),
    (
        "module-symbols",
        "every module symbol of /proc/kallsyms resolves to itself or an alias",
        module_symbols,
    ),
    (
        "follow-insmod-rmmod",
        "a watching handle, woken by uevents only, follows insmod and rmmod of dummy",
        follow_insmod_rmmod,
    ),
    (
        "address-reuse",
        "after rmmod dummy and insmod loop (and back), addresses name their new owner only",
        address_reuse,
    ),
    (
        "init-text-freed",
        "a loaded module's .init.text symbols no longer answer",
        init_text_freed,
    ),
    (
        "sysrq-traces",
        "the kernel's own stack traces (SysRq l and t) decode with no mismatch",
        sysrq_traces,
    ),
    (
        "bpf-ksymbol",
        "a watching handle, woken by perf ksymbol events only, follows a BPF program's load and unload",
        bpf_ksymbol,
    ),
    (
        "bpf-lines",
        "every byte of a BPF program with line info has the line bpftool gives, its function its real size; a snapshot keeps them after the unload",
        bpf_lines,
    ),
    (
        "cli-addr-name",
        "ksym addr and ksym name agree with /proc/kallsyms on a module function",
        cli_addr_name,
    ),
    (
        "cli-module-symbols",
        "ksym addr names every module text address (with and without .ko files); ksym dump has every module line",
        cli_module_symbols,
    ),
    (
        "cli-info-rmmod",
        "ksym info counts modules and sysfs text areas; after rmmod the module's function is gone",
        cli_info_rmmod,
    ),
    (
        "cli-cache",
        "ksym's snapshot cache: a miss stores, a hit maps, insmod makes it stale",
        cli_cache,
    ),
    (
        "cli-image",
        "ksym --image /boot/vmlinuz-<release> answers at the running addresses",
        cli_image,
    ),
    (
        "go-agent",
        "go/ksym's ksym-agent (libksym through cgo) names addresses as ksym addr does",
        go_agent,
    ),
    (
        "kptr-restrict",
        "kptr_restrict 0/1/2, perf_event_paranoid 1/2, root, nobody, nobody with CAP_BPF+CAP_PERFMON: works, through the BPF ksym iterator where redacted (6.0+), or says the fix; under kptr_restrict=2 every symbol at its address",
        kptr_restrict,
    ),
    (
        "iterator-follows-modules",
        "under kptr_restrict=2 a watching handle reads through the BPF ksym iterator and follows insmod and rmmod of dummy",
        iterator_follows_modules,
    ),
    (
        "lockdown",
        "under kernel lockdown: no /proc/kcore, the live handle and ksym info work",
        lockdown,
    ),
    (
        "cache-across-boots",
        "on a disk kept across boots: a new boot's snapshot replaces the old boot's",
        cache_across_boots,
    ),
    (
        "snapshot-for-host",
        "the live table (xfs loaded) saved on the state disk for the host's guest-lines check",
        snapshot_for_host,
    ),
    (
        "guest-lines",
        "on the host: ksym addr --lines at a guest boot's addresses agrees with eu-addr2line",
        guest_lines,
    ),
];

/// Runs the scenarios named in `wanted` (all when empty), in order.
pub fn run<W: std::io::Write>(opts: &Options, wanted: &[String], out: &mut Reporter<W>) {
    for (name, _, f) in SCENARIOS {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        let mut notes = Notes::default();
        let start = Instant::now();
        let outcome = match f(opts, &mut notes) {
            Ok(()) => Outcome::Pass,
            Err(o) => o,
        };
        notes.push(format!("took {:.2} s", start.elapsed().as_secs_f64()));
        out.info(name, &notes.lines.join("; "));
        out.outcome(name, &outcome);
        for (sub, o) in &notes.extra {
            out.outcome(&format!("{name}-{sub}"), o);
        }
    }
}

pub(crate) fn fail(why: impl Into<String>) -> Outcome {
    Outcome::Fail(why.into())
}

pub(crate) fn skip(why: impl Into<String>) -> Outcome {
    Outcome::Skip(why.into())
}

/// `/proc/kallsyms`, or why the scenario cannot use it (a skip: the kernel
/// hides it from this process).
pub(crate) fn kallsyms() -> Step<Vec<KallsymsLine>> {
    let lines = kernel::kallsyms();
    if let Some(why) = kernel::kallsyms_unusable(&lines) {
        return Err(skip(why));
    }
    lines.map_err(|e| fail(e.to_string()))
}

/// A handle that does not watch: the table of the moment.
pub(crate) fn open_still() -> Step<KernelSymbols> {
    KernelSymbols::open(LiveConfig::new().watch(false).cache_dir(None))
        .map_err(|e| fail(format!("KernelSymbols::open: {e}")))
}

/// A watching handle that only a module uevent can wake: polls once an
/// hour, no perf ksymbol events (module loads make none anyway).
pub(crate) fn open_watching() -> Step<KernelSymbols> {
    open_woken_by(true)
}

/// A watching handle that polls once an hour, woken only by module uevents
/// (`uevents`) or only by perf ksymbol events (BPF, else).
pub(crate) fn open_woken_by(uevents: bool) -> Step<KernelSymbols> {
    let ks = KernelSymbols::open(
        LiveConfig::new()
            .poll_interval(Duration::from_secs(3600))
            .uevents(uevents)
            .ksymbol_events(!uevents)
            .cache_dir(None),
    )
    .map_err(|e| fail(format!("KernelSymbols::open: {e}")))?;
    let listening = if uevents {
        ks.listening_for_uevents()
    } else {
        ks.listening_for_ksymbol_events()
    };
    if !listening {
        let what = if uevents {
            "uevents"
        } else {
            "perf ksymbol events"
        };
        return Err(fail(format!(
            "the handle is not listening for {what} ({})",
            handle_state(&ks)
        )));
    }
    Ok(ks)
}

/// Module scenarios need modules, permission to load them, and the `.ko`
/// files of `needed`.
pub(crate) fn module_precheck(opts: &Options, needed: &[&str]) -> Step<()> {
    if let Err(e) = kernel::loaded_modules() {
        return Err(skip(format!(
            "no /proc/modules ({e}): a kernel without loadable modules"
        )));
    }
    kallsyms()?;
    if !opts.guest {
        return Err(skip("loads and unloads modules: only with --guest"));
    }
    for m in needed {
        kernel::module_files(m).map_err(fail)?;
    }
    Ok(())
}

/// What the handle's table says at `addr`: `name+off [module]`, for messages.
pub(crate) fn who(ks: &KernelSymbols, addr: u64) -> String {
    ks.lookup_with(addr, |s| match s {
        None => "nothing".to_string(),
        Some(s) => s.to_string(),
    })
}

/// Whether `addr` is `name` (offset 0) in `module` in the handle's table.
pub(crate) fn resolves_to(ks: &KernelSymbols, addr: u64, name: &str, module: &str) -> bool {
    ks.lookup_with(addr, |s| {
        s.is_some_and(|s| s.name == name && s.offset == 0 && s.module == Some(module))
    })
}

pub(crate) fn in_module(ks: &KernelSymbols, addr: u64, module: &str) -> bool {
    ks.lookup_with(addr, |s| s.is_some_and(|s| s.module == Some(module)))
}

/// The handle's refreshes and last error, for a failure message.
pub(crate) fn handle_state(ks: &KernelSymbols) -> String {
    format!(
        "{} refreshes, last error {}",
        ks.refresh_count(),
        ks.last_error()
            .map_or_else(|| "none".to_string(), |e| e.to_string())
    )
}

/// The kernel's `is_mapping_symbol`: `.L*` local labels (`.LC0` string
/// literals), `L0*` and `$x`-style names never name an address, in the
/// kernel's `%pS` as in `ksym`; they are not checked.
pub(crate) fn is_mapping_symbol(name: &str) -> bool {
    name.starts_with(".L") || name.starts_with("L0") || name.starts_with('$')
}

/// Checks that each line (mapping symbols aside) resolves in `table` to itself or an alias (a
/// name at the same address in the same module) at offset 0; the number
/// checked, and the first few failures.
pub(crate) fn check_lines<'a>(
    table: &SymbolTable,
    lines: impl Iterator<Item = &'a KallsymsLine>,
    by_addr: &HashMap<u64, Vec<(&str, Option<&str>)>>,
) -> (usize, usize, Vec<String>) {
    let (mut checked, mut bad, mut examples) = (0, 0, Vec::new());
    for l in lines.filter(|l| !is_mapping_symbol(&l.name)) {
        checked += 1;
        let ok = table.lookup(l.addr).is_some_and(|s| {
            s.offset == 0
                && s.module == l.module.as_deref()
                && by_addr
                    .get(&l.addr)
                    .is_some_and(|v| v.iter().any(|&(n, m)| n == s.name && m == s.module))
        });
        if !ok {
            bad += 1;
            if examples.len() < 4 {
                let got = table
                    .lookup(l.addr)
                    .map_or_else(|| "nothing".to_string(), |s| s.to_string());
                let m = l
                    .module
                    .as_deref()
                    .map_or(String::new(), |m| format!(" [{m}]"));
                examples.push(format!("{:x} {} {}{m} is {got}", l.addr, l.kind, l.name));
            }
        }
    }
    (checked, bad, examples)
}

/// How long a scenario waits for the kernel or a handle to catch up.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs every scenario that can run here without changing the kernel
    /// (no `--guest`): the module ones skip on a kernel without modules or
    /// say they need `--guest`; none may fail.
    #[test]
    fn host_scenarios() {
        let mut out = Reporter::new("host".into(), Vec::new());
        run(&Options::default(), &[], &mut out);
        let (passed, failed, skipped) = (out.passed(), out.failed(), out.skipped());
        let text = String::from_utf8(out.into_inner()).unwrap();
        print!("{text}");
        assert_eq!(failed, 0, "{text}");
        assert_eq!(passed + skipped, SCENARIOS.len(), "{text}");
        for (name, _, _) in SCENARIOS {
            let id = format!("host/{name}");
            assert!(
                text.lines().any(|l| l.starts_with("KSYM-TEST ")
                    && l.split_whitespace().nth(2).map(|w| w.trim_end_matches(':')) == Some(&id)),
                "no result line for {name}: {text}"
            );
        }
        if !std::path::Path::new("/proc/modules").exists() {
            for name in [
                "module-symbols",
                "follow-insmod-rmmod",
                "address-reuse",
                "init-text-freed",
            ] {
                assert!(
                    text.contains(&format!("KSYM-TEST SKIP host/{name}: ")),
                    "{name} did not skip without /proc/modules: {text}"
                );
            }
        }
    }
}
