//! The scenarios that load and unload modules: a watching handle follows
//! `insmod` and `rmmod`, addresses reused by the next module name their new
//! owner, and a module's freed init text answers nothing.

use std::time::{Duration, Instant};

use ksym::KernelSymbols;

use crate::kernel::{self, KallsymsLine};
use crate::scenarios::*;

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
pub(crate) fn follow_insmod_rmmod(opts: &Options, notes: &mut Notes) -> Step<()> {
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
pub(crate) fn address_reuse(opts: &Options, notes: &mut Notes) -> Step<()> {
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
pub(crate) fn init_text_freed(opts: &Options, notes: &mut Notes) -> Step<()> {
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
