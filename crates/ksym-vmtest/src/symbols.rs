//! The symbol scenarios: every core and module symbol of `/proc/kallsyms`
//! resolves to itself or an alias in the live table, and the modules'
//! build-ids and text areas are the ones `/sys/module` shows.

use ksym::SymbolTable;

use crate::kernel;
use crate::report::Outcome;
use crate::scenarios::*;

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
pub(crate) fn core_symbols(_: &Options, notes: &mut Notes) -> Step<()> {
    let lines = kallsyms()?;
    let ks = open_still()?;
    let table = ks.snapshot();
    let by_addr = kernel::names_by_addr(&lines);
    // The kernel names core addresses from `_stext` on: arm64's `_text`
    // and its 64 KiB of head text before `_stext` print raw with `%pS`,
    // and must answer nothing here too.
    let stext = lines
        .iter()
        .find(|l| l.module.is_none() && l.name == "_stext")
        .map_or(0, |l| l.addr);
    let core_text = || lines.iter().filter(|l| l.module.is_none() && l.is_text());
    let head: Vec<String> = core_text()
        .filter(|l| l.addr < stext)
        .filter_map(|l| Some(format!("{} is {}", l.name, table.lookup(l.addr)?)))
        .collect();
    let (checked, bad, examples) = check_lines(
        &table,
        core_text()
            .filter(|l| l.addr >= stext)
            .filter(|l| !END_MARKERS.contains(&l.name.as_str())),
        &by_addr,
    );
    notes.push(format!(
        "{checked} core text symbols checked, {bad} wrong; {} below _stext answer nothing",
        core_text().filter(|l| l.addr < stext).count() - head.len()
    ));
    if !head.is_empty() {
        return Err(fail(format!(
            "below _stext, where the kernel names nothing: {}",
            head.join("; ")
        )));
    }
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
pub(crate) fn module_symbols(_: &Options, notes: &mut Notes) -> Step<()> {
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
    notes.add("build-ids", module_build_ids(&table, &loaded));
    notes.add("text-areas", module_text_areas(&table, &loaded));
    if text_bad + data_bad > 0 {
        return Err(fail(format!(
            "{text_bad} of {text} text and {data_bad} of {data} other module symbols resolve wrongly: {}",
            text_ex.into_iter().chain(data_ex).collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(())
}

/// Each loaded module's build-id in the table (read from
/// `/sys/module/<m>/notes`) is the one in its `.ko` file.
fn module_build_ids(table: &SymbolTable, loaded: &[String]) -> Outcome {
    let (mut same, mut problems) = (0, Vec::new());
    for m in loaded {
        let Some(ko) = kernel::module_files(m).ok().and_then(|f| f.last().cloned()) else {
            continue;
        };
        let want = match ksym::elf::read_elf(&ko) {
            Ok(elf) => elf.build_id.map(|id| ksym::parse::notes::hex(&id)),
            Err(e) => {
                problems.push(format!("{}: {e}", ko.display()));
                continue;
            }
        };
        let got = table.module_map().get(m).and_then(|i| i.build_id.clone());
        if got.is_some() && got == want {
            same += 1;
        } else {
            problems.push(format!(
                "{m}: the table says {got:?}, {} has {want:?}",
                ko.display()
            ));
        }
    }
    match (same, problems.is_empty()) {
        (0, true) => skip("no loaded module with its .ko in modules.dep"),
        (_, true) => Outcome::Pass,
        _ => fail(format!("{same} build-ids agree; {}", problems.join("; "))),
    }
}

/// Each loaded module's text area in the table starts at its lowest code
/// section in `/sys/module/<m>/sections` and holds every code section.
fn module_text_areas(table: &SymbolTable, loaded: &[String]) -> Outcome {
    let (mut same, mut problems) = (0, Vec::new());
    for m in loaded {
        let code: Vec<(u64, String)> = kernel::sections(m)
            .into_iter()
            .filter(|(a, n)| {
                *a != 0
                    && (n == ".text" || n.starts_with(".text.") || n.ends_with(".text"))
                    && !n.starts_with(".init")
            })
            .collect();
        let Some(lowest) = code.iter().map(|c| c.0).min() else {
            continue;
        };
        let area = table.module_map().get(m).and_then(|i| i.text_area.clone());
        match area {
            Some(a) if a.start == lowest && code.iter().all(|(s, _)| *s < a.end()) => same += 1,
            a => problems.push(format!("{m}: text area {a:x?}, code sections {code:x?}")),
        }
    }
    match (same, problems.is_empty()) {
        (0, true) => skip("no loaded module shows its sections"),
        (_, true) => Outcome::Pass,
        _ => fail(format!("{same} text areas agree; {}", problems.join("; "))),
    }
}
