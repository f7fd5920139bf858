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

use ksym::decode::{Decoder, Status};
use ksym::live::LiveConfig;
use ksym::{KernelSymbols, SymbolTable};

use crate::kernel::{self, KallsymsLine, Kmsg};
use crate::report::{Outcome, Reporter};

/// What the program may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Change the kernel: load and unload modules, trigger SysRq.
    pub guest: bool,
}

type Step<T> = Result<T, Outcome>;

/// What a scenario tells besides its outcome: measurements, and results of
/// checks it makes on the side (reported as `<scenario>-<name>`).
#[derive(Debug, Default)]
pub struct Notes {
    lines: Vec<String>,
    extra: Vec<(&'static str, Outcome)>,
}

impl Notes {
    fn push(&mut self, line: String) {
        self.lines.push(line);
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

fn fail(why: impl Into<String>) -> Outcome {
    Outcome::Fail(why.into())
}

fn skip(why: impl Into<String>) -> Outcome {
    Outcome::Skip(why.into())
}

/// `/proc/kallsyms`, or why the scenario cannot use it (a skip: the kernel
/// hides it from this process).
fn kallsyms() -> Step<Vec<KallsymsLine>> {
    let lines = kernel::kallsyms();
    if let Some(why) = kernel::kallsyms_unusable(&lines) {
        return Err(skip(why));
    }
    lines.map_err(|e| fail(e.to_string()))
}

/// A handle that does not watch: the table of the moment.
fn open_still() -> Step<KernelSymbols> {
    KernelSymbols::open(LiveConfig::new().watch(false).cache_dir(None))
        .map_err(|e| fail(format!("KernelSymbols::open: {e}")))
}

/// A watching handle that only a module uevent can wake: polls once an
/// hour, no perf ksymbol events (module loads make none anyway).
fn open_watching() -> Step<KernelSymbols> {
    let ks = KernelSymbols::open(
        LiveConfig::new()
            .poll_interval(Duration::from_secs(3600))
            .ksymbol_events(false)
            .cache_dir(None),
    )
    .map_err(|e| fail(format!("KernelSymbols::open: {e}")))?;
    if !ks.listening_for_uevents() {
        return Err(fail("the handle is not listening for uevents"));
    }
    Ok(ks)
}

/// Module scenarios need modules, permission to load them, and the `.ko`
/// files of `needed`.
fn module_precheck(opts: &Options, needed: &[&str]) -> Step<()> {
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
fn who(ks: &KernelSymbols, addr: u64) -> String {
    ks.lookup_with(addr, |s| match s {
        None => "nothing".to_string(),
        Some(s) => s.to_string(),
    })
}

/// Whether `addr` is `name` (offset 0) in `module` in the handle's table.
fn resolves_to(ks: &KernelSymbols, addr: u64, name: &str, module: &str) -> bool {
    ks.lookup_with(addr, |s| {
        s.is_some_and(|s| s.name == name && s.offset == 0 && s.module == Some(module))
    })
}

fn in_module(ks: &KernelSymbols, addr: u64, module: &str) -> bool {
    ks.lookup_with(addr, |s| s.is_some_and(|s| s.module == Some(module)))
}

/// The handle's refreshes and last error, for a failure message.
fn handle_state(ks: &KernelSymbols) -> String {
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
fn is_mapping_symbol(name: &str) -> bool {
    name.starts_with(".L") || name.starts_with("L0") || name.starts_with('$')
}

/// Checks that each line (mapping symbols aside) resolves in `table` to itself or an alias (a
/// name at the same address in the same module) at offset 0; the number
/// checked, and the first few failures.
fn check_lines<'a>(
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

/// The core kernel's section end markers (`ksym`'s `CORE_SECTIONS`): they
/// mark where a section ends and hold no address of their own.
const END_MARKERS: &[&str] = &[
    "_etext",
    "_einittext",
    "__end_rodata",
    "_edata",
    "__init_end",
    "__bss_stop",
    "_end",
];

/// Every core-kernel text symbol resolves to itself or an alias (the
/// section end markers aside). Runs wherever `/proc/kallsyms` shows
/// addresses.
fn core_symbols(_: &Options, notes: &mut Notes) -> Step<()> {
    let lines = kallsyms()?;
    let ks = open_still()?;
    let table = ks.snapshot();
    let by_addr = kernel::names_by_addr(&lines);
    let (checked, bad, examples) = check_lines(
        &table,
        lines
            .iter()
            .filter(|l| l.module.is_none() && l.is_text())
            .filter(|l| !END_MARKERS.contains(&l.name.as_str())),
        &by_addr,
    );
    notes.push(format!("{checked} core text symbols checked, {bad} wrong"));
    if checked == 0 {
        return Err(fail("no core text symbols in /proc/kallsyms"));
    }
    if bad > 0 {
        return Err(fail(format!(
            "{bad} of {checked} core text symbols resolve wrongly: {}",
            examples.join("; ")
        )));
    }
    Ok(())
}

/// (d) Every module symbol of `/proc/kallsyms` (text and data, BPF and
/// ftrace's pseudo-modules too) resolves to itself or an alias.
fn module_symbols(_: &Options, notes: &mut Notes) -> Step<()> {
    let loaded = kernel::loaded_modules().map_err(|e| {
        skip(format!(
            "no /proc/modules ({e}): a kernel without loadable modules"
        ))
    })?;
    let lines = kallsyms()?;
    let ks = open_still()?;
    let table = ks.snapshot();
    let by_addr = kernel::names_by_addr(&lines);
    let module_lines = || lines.iter().filter(|l| l.module.is_some());
    let (text, text_bad, text_ex) =
        check_lines(&table, module_lines().filter(|l| l.is_text()), &by_addr);
    let (data, data_bad, data_ex) =
        check_lines(&table, module_lines().filter(|l| !l.is_text()), &by_addr);
    notes.push(format!(
        "{} modules loaded; {text} module text symbols ({text_bad} wrong), {data} other ({data_bad} wrong)",
        loaded.len()
    ));
    if text + data == 0 {
        return Err(skip(
            "no module symbols in /proc/kallsyms (no module loaded)",
        ));
    }
    if text_bad + data_bad > 0 {
        return Err(fail(format!(
            "{text_bad} of {text} text and {data_bad} of {data} other module symbols resolve wrongly: {}",
            text_ex.into_iter().chain(data_ex).collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(())
}

const WAIT: Duration = Duration::from_secs(10);

/// insmod `module` and wait until the handle names one of its functions;
/// the function, how long insmod took, how long after insmod returned the
/// name answered (this program reads /proc/kallsyms meanwhile), and when
/// the answering table started loading relative to insmod's return.
fn load_and_wait(
    ks: &KernelSymbols,
    module: &str,
) -> Step<(KallsymsLine, Duration, Duration, String)> {
    let start = Instant::now();
    kernel::insmod(module).map_err(fail)?;
    let took = start.elapsed();
    let returned = Instant::now();
    let f = kernel::unique_function(&kallsyms()?, module).ok_or_else(|| {
        fail(format!(
            "no text symbol of [{module}] with an address and name of its own in /proc/kallsyms"
        ))
    })?;
    kernel::wait_for(WAIT, || resolves_to(ks, f.addr, &f.name, module)).ok_or_else(|| {
        fail(format!(
            "{WAIT:?} after insmod {module}, {:#x} is {}, want {}+0x0 [{module}] ({})",
            f.addr,
            who(ks, f.addr),
            f.name,
            handle_state(ks)
        ))
    })?;
    let lat = returned.elapsed();
    let wake = load_start(ks, returned);
    Ok((f, took, lat, wake))
}

/// rmmod `module` and wait until `f` no longer names anything of it; how
/// long after rmmod returned, and when the answering table started loading
/// relative to that.
fn unload_and_wait(ks: &KernelSymbols, module: &str, f: &KallsymsLine) -> Step<(Duration, String)> {
    kernel::rmmod(module).map_err(fail)?;
    let returned = Instant::now();
    let lat = kernel::wait_for(WAIT, || !in_module(ks, f.addr, module)).ok_or_else(|| {
        fail(format!(
            "{WAIT:?} after rmmod {module}, {:#x} is still {} ({})",
            f.addr,
            who(ks, f.addr),
            handle_state(ks)
        ))
    })?;
    Ok((lat, load_start(ks, returned)))
}

/// When the handle's table started loading, against `t`: `+12.0 ms` after
/// it, `-3.0 ms` before (a uevent comes before insmod returns).
fn load_start(ks: &KernelSymbols, t: Instant) -> String {
    match Instant::now().checked_sub(ks.age()) {
        None => "?".to_string(),
        Some(started) if started >= t => format!("+{}", ms(started - t)),
        Some(started) => format!("-{}", ms(t - started)),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// (a) A watching handle follows insmod and rmmod as they happen, woken by
/// the module uevents alone (it polls once an hour).
fn follow_insmod_rmmod(opts: &Options, notes: &mut Notes) -> Step<()> {
    module_precheck(opts, &["dummy"])?;
    kernel::ensure_unloaded("dummy").map_err(fail)?;
    let ks = open_watching()?;
    let before = ks.refresh_count();
    let (f, took, lat, wake) = load_and_wait(&ks, "dummy")?;
    let after_load = ks.refresh_count();
    notes.push(format!(
        "insmod dummy took {}; the table naming {} [dummy] started loading {wake} from insmod's return, answered {} after it ({} refreshes)",
        ms(took),
        f.name,
        ms(lat),
        after_load - before
    ));
    let (lat, wake) = unload_and_wait(&ks, "dummy", &f)?;
    notes.push(format!(
        "after rmmod dummy, {:#x} is {}: the table started loading {wake} from rmmod's return, answered {} after it ({} refreshes)",
        f.addr,
        who(&ks, f.addr),
        ms(lat),
        ks.refresh_count() - after_load
    ));
    if let Some(e) = ks.last_error() {
        return Err(fail(format!("the handle's last refresh failed: {e}")));
    }
    Ok(())
}

/// After `old` (whose symbols were `old_lines`) went and `new` came: every
/// symbol of `new` in /proc/kallsyms resolves to itself or an alias, and no
/// address of `old` names `old` any more.
fn check_new_owner(
    ks: &KernelSymbols,
    old: &str,
    old_lines: &[KallsymsLine],
    new: &str,
    notes: &mut Notes,
) -> Step<()> {
    let lines = kallsyms()?;
    let by_addr = kernel::names_by_addr(&lines);
    let table = ks.snapshot();
    let new_lines: Vec<&KallsymsLine> = lines
        .iter()
        .filter(|l| l.module.as_deref() == Some(new))
        .collect();
    let (checked, bad, ex) = check_lines(&table, new_lines.iter().copied(), &by_addr);
    let stale: Vec<String> = old_lines
        .iter()
        .filter_map(|l| {
            let s = table.lookup(l.addr)?;
            (s.module == Some(old)).then(|| format!("{:x} (was {}) is {s}", l.addr, l.name))
        })
        .collect();
    let range = |ls: &mut dyn Iterator<Item = &KallsymsLine>| {
        ls.filter(|l| l.is_text())
            .fold((u64::MAX, 0), |(lo, hi), l| {
                (lo.min(l.addr), hi.max(l.addr))
            })
    };
    let (olo, ohi) = range(&mut old_lines.iter());
    let (nlo, nhi) = range(&mut new_lines.iter().copied());
    let reused = old_lines
        .iter()
        .filter(|l| {
            by_addr
                .get(&l.addr)
                .is_some_and(|v| v.iter().any(|&(_, m)| m == Some(new)))
        })
        .count();
    notes.push(format!(
        "{old} text was {olo:#x}..={ohi:#x}, {new} text is {nlo:#x}..={nhi:#x} ({}overlapping; {reused} of {old}'s {} addresses now hold {new} symbols); {checked} {new} symbols checked",
        if olo <= nhi && nlo <= ohi { "" } else { "not " },
        old_lines.len()
    ));
    if bad > 0 || !stale.is_empty() {
        return Err(fail(format!(
            "{bad} of {checked} [{new}] symbols resolve wrongly ({}); {} addresses of the unloaded {old} still name it ({})",
            ex.join("; "),
            stale.len(),
            stale.iter().take(4).cloned().collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(())
}

/// (b) Address reuse: insmod dummy, rmmod it, insmod loop; then rmmod loop
/// and insmod dummy again. Each time the new module's addresses name the
/// new module, never the old one.
fn address_reuse(opts: &Options, notes: &mut Notes) -> Step<()> {
    module_precheck(opts, &["dummy", "loop"])?;
    kernel::ensure_unloaded("dummy").map_err(fail)?;
    kernel::ensure_unloaded("loop").map_err(fail)?;
    let ks = open_watching()?;
    let mut old = "dummy";
    let (mut f, ..) = load_and_wait(&ks, old)?;
    for new in ["loop", "dummy"] {
        let old_lines: Vec<KallsymsLine> = kallsyms()?
            .into_iter()
            .filter(|l| l.module.as_deref() == Some(old))
            .collect();
        unload_and_wait(&ks, old, &f)?;
        let (g, ..) = load_and_wait(&ks, new)?;
        check_new_owner(&ks, old, &old_lines, new, notes)?;
        (old, f) = (new, g);
    }
    Ok(())
}

/// Which of `module`'s sections (`/sys/module`) hold `start` and `addr`.
fn where_in_sections(module: &str, start: u64, addr: u64) -> String {
    let secs = kernel::sections(module);
    let holder = |a: u64| {
        secs.iter()
            .rev()
            .find(|(s, _)| *s <= a)
            .map_or("below every section".to_string(), |(s, n)| {
                format!("{n} at {s:#x}")
            })
    };
    let next = secs
        .iter()
        .find(|(s, _)| *s > start)
        .map_or("none".to_string(), |(s, n)| format!("{n} at {s:#x}"));
    format!(
        "the symbol's start is in {}, the next section {next}; the address is in {}",
        holder(start),
        holder(addr)
    )
}

/// (c) After a module's load, the symbols of its `.init.text` (named in its
/// `.ko`, placed by `/sys/module/<m>/sections/.init.text`) do not answer:
/// not by name, not by address.
fn init_text_freed(opts: &Options, notes: &mut Notes) -> Step<()> {
    module_precheck(opts, &["dummy", "loop"])?;
    let (mut checks, mut problems) = (0, Vec::new());
    for m in ["dummy", "loop"] {
        kernel::ensure_unloaded(m).map_err(fail)?;
        let ks = open_watching()?;
        load_and_wait(&ks, m)?;
        let files = kernel::module_files(m).map_err(fail)?;
        let ko = files.last().expect("the module's own file");
        let elf = ksym::elf::read_elf(ko)
            .map_err(|e| fail(format!("cannot read {}: {e}", ko.display())))?;
        let init: Vec<&ksym::elf::ElfSymbol> = elf
            .symbols
            .iter()
            .filter(|s| {
                s.section
                    .and_then(|i| elf.section(i))
                    .is_some_and(|sec| sec.name.starts_with(".init.text"))
            })
            .collect();
        let base = kernel::section_addr(m, ".init.text");
        let lines = kallsyms()?;
        let listed: Vec<&KallsymsLine> = lines
            .iter()
            .filter(|l| l.module.as_deref() == Some(m) && init.iter().any(|s| s.name == l.name))
            .collect();
        notes.push(format!(
            "{m}: {} .init.text symbols in the .ko ({}), /sys/module/{m}/sections/.init.text {}, {} of them in /proc/kallsyms",
            init.len(),
            init.iter().map(|s| s.name.as_str()).take(3).collect::<Vec<_>>().join(" "),
            base.map_or("absent".to_string(), |b| format!("{b:#x}")),
            listed.len()
        ));
        let table = ks.snapshot();
        for s in &init {
            checks += 1;
            if let Some(found) = table.find_in(Some(m), &s.name).next() {
                problems.push(format!(
                    "init symbol {} of {m} is still found by name: {found} at {:#x}",
                    s.name, found.start
                ));
            }
            let Some(base) = base else { continue };
            let addr = base + s.value;
            checks += 1;
            if let Some(found) = table.lookup(addr).filter(|f| f.module == Some(m)) {
                problems.push(format!(
                    "{addr:#x}, where init symbol {} of {m} was, is {found} ({})",
                    s.name,
                    where_in_sections(m, found.start, addr)
                ));
            }
        }
        if let Some(base) = base {
            checks += 1;
            notes.push(format!(
                "{m}: {base:#x} (freed .init.text) is {}",
                who(&ks, base)
            ));
            if table.lookup(base).is_some_and(|f| f.module == Some(m)) {
                problems.push(format!(
                    "{base:#x}, the freed .init.text of {m}, is {}",
                    who(&ks, base)
                ));
            }
        }
    }
    if checks == 0 {
        return Err(skip(
            "neither the .ko files nor /sys/module tell anything about .init.text",
        ));
    }
    notes.push(format!("{checks} checks, {} wrong", problems.len()));
    if !problems.is_empty() {
        let more = problems.len().saturating_sub(3);
        let mut why = problems[..problems.len().min(3)].join("; ");
        if more > 0 {
            why.push_str(&format!("; and {more} more"));
        }
        return Err(fail(why));
    }
    Ok(())
}

/// (e) The kernel's own stack traces: SysRq `l` (backtrace of the active
/// CPUs) and `t` (every task's stack), read back from `/dev/kmsg` and
/// decoded against the live table; every frame checks out. Without
/// `--guest`, what the kernel log already holds is decoded instead.
fn sysrq_traces(opts: &Options, notes: &mut Notes) -> Step<()> {
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
        notes.extra.push((
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
        ));
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
