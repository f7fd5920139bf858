//! Where addresses stop having names, on the real data: at every edge of
//! the core kernel's sections and of each module's text area, ksym answers
//! what the kernel's `%pS` prints there. The reference is the kernel's own
//! algorithm written over the test's parse of the files: `is_ksym_addr` and
//! `get_symbol_pos` (kernel/kallsyms.c) for the core, `find_kallsyms_symbol`
//! (kernel/module/kallsyms.c) for modules.

mod common;

use std::collections::HashMap;

use common::{data_dir, may_answer, named_ranges, parse_kallsyms, xz_text, Line};
use ksym::{LoadOptions, ModuleMap, SymbolTable};

/// A module memory area from `module-layout.tsv`.
struct Area {
    module: String,
    kind: String,
    start: u64,
    size: u64,
}

struct Kernel {
    lines: Vec<Line>,
    areas: Vec<Area>,
    table: SymbolTable,
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn load(dir: &str) -> Kernel {
    let base = data_dir().join(dir);
    let lines = parse_kallsyms(&xz_text(&base.join("kallsyms.xz")));
    let layout = std::fs::read(base.join("module-layout.tsv")).unwrap();
    let mut map = ModuleMap::default();
    map.add_text("module-layout.tsv", &layout).unwrap();
    let areas = String::from_utf8(layout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Area {
                module: f[0].to_string(),
                kind: f[1].to_string(),
                start: hex(f[2]),
                size: hex(f[3]),
            }
        })
        .collect();
    let opts = LoadOptions {
        modules: Some(map),
        ..LoadOptions::default()
    };
    let table = ksym::load_file(&base.join("kallsyms.xz"), &opts).unwrap();
    Kernel {
        lines,
        areas,
        table,
    }
}

/// `%pS` of a core address, as kernel/kallsyms.c computes it: nothing
/// outside `is_ksym_addr`; else the first alias of the highest symbol at or
/// below, sized to the next higher symbol (or the end of init text, `_end`
/// or `_etext`).
fn core_ps(core: &[&Line], named: &[(u64, u64)], addr: u64) -> Option<String> {
    if !named.iter().any(|&(s, e)| s <= addr && addr < e) {
        return None;
    }
    let at = core.partition_point(|l| l.addr <= addr).checked_sub(1)?;
    let start = core[at].addr;
    let first = core[..=at]
        .iter()
        .rposition(|l| l.addr != start)
        .map_or(0, |i| i + 1);
    let end = core[at + 1..]
        .iter()
        .map(|l| l.addr)
        .find(|&a| a > start)
        .unwrap_or_else(|| named.last().unwrap().1);
    Some(format!(
        "{}+{:#x}/{:#x}",
        core[first].name,
        addr - start,
        end - start
    ))
}

/// `%pS` of an address in a module's text area, as kernel/module/kallsyms.c
/// computes it: the module's highest named symbol at or below (the first of
/// equals, in symbol table order), sized to the next higher one or the end
/// of the text area.
fn module_ps(lines: &[Line], text: &Area, addr: u64) -> Option<String> {
    let syms: Vec<&Line> = lines
        .iter()
        .filter(|l| l.module.as_deref() == Some(&text.module) && may_answer(l))
        .collect();
    let mut best: Option<&Line> = None;
    let mut next = text.start + text.size;
    for l in &syms {
        if l.addr <= addr && best.is_none_or(|b| l.addr > b.addr) {
            best = Some(l);
        }
        if l.addr > addr && l.addr < next {
            next = l.addr;
        }
    }
    let best = best?;
    Some(format!(
        "{}+{:#x}/{:#x} [{}]",
        best.name,
        addr - best.addr,
        next - best.addr,
        text.module
    ))
}

fn check(dir: &str) {
    let k = load(dir);
    let mut core: Vec<&Line> = k.lines.iter().filter(|l| l.module.is_none()).collect();
    core.sort_by_key(|l| l.addr); // stable: the file's order among equals
    let core_answering: Vec<&Line> = core.iter().copied().filter(|l| may_answer(l)).collect();
    let named = named_ranges(&k.lines);
    let marker = |name: &str| core.iter().find(|l| l.name == name).map(|l| l.addr);
    let mut edges: Vec<(String, u64)> = Vec::new();
    for name in ["_stext", "_etext", "_sinittext", "_einittext", "_end"] {
        if let Some(a) = marker(name) {
            edges.push((format!("{name} - 1"), a - 1));
            edges.push((name.to_string(), a));
            edges.push((format!("{name} + 1"), a + 1));
        }
    }
    // Core symbols past `_end` (the 6.12 kernel has some) name nothing.
    if let Some(end) = marker("_end") {
        if let Some(l) = core.iter().find(|l| l.addr > end && may_answer(l)) {
            edges.push((format!("{} past _end", l.name), l.addr));
        }
    }
    let mut checked = 0;
    for (what, addr) in &edges {
        let got = k.table.lookup(*addr).map(|s| s.to_string());
        let want = core_ps(&core_answering, &named, *addr);
        assert_eq!(got, want, "{dir}: {what} ({addr:#x})");
        checked += 1;
    }
    // Each module's text area: first byte, last byte, one past it (when
    // that is in no module's area: a data area's answer is ksym's own, see
    // the table module's docs).
    let texts: Vec<&Area> = k.areas.iter().filter(|a| a.kind == "text").collect();
    let in_any_area = |a: u64| k.areas.iter().any(|x| x.start <= a && a < x.start + x.size);
    let mut by_module: HashMap<&str, usize> = HashMap::new();
    for text in &texts {
        *by_module.entry(text.module.as_str()).or_default() += 1;
        let end = text.start + text.size;
        for addr in [text.start, end - 1, end] {
            if addr == end && in_any_area(addr) {
                continue;
            }
            let want = if addr < end {
                module_ps(&k.lines, text, addr)
            } else {
                None
            };
            let got = k.table.lookup(addr).map(|s| s.to_string());
            assert_eq!(got, want, "{dir}: {} text at {addr:#x}", text.module);
            checked += 1;
        }
    }
    assert!(by_module.len() >= 60, "{dir}: {} modules", by_module.len());
    // Every area's own edges: nothing answers with a symbol of another
    // module, and no answer is a symbol of size zero.
    for a in &k.areas {
        for addr in [a.start, a.start + a.size - 1] {
            if let Some(s) = k.table.lookup(addr) {
                assert_eq!(s.module, Some(a.module.as_str()), "{dir}: {addr:#x}");
                assert!(s.offset < s.size, "{dir}: {s} at {addr:#x}");
            }
        }
    }
    eprintln!("{dir}: {checked} edges as %pS prints them");
}

#[test]
fn debian_6_12_edges_print_as_the_kernel_prints_them() {
    check("debian-6.12.117");
}

#[test]
fn debian_6_1_edges_print_as_the_kernel_prints_them() {
    check("debian-6.1.0-56");
}

#[test]
fn live_6_18_without_kallsyms_all_names_text_only() {
    // No `_end` in the capture: the kernel names text and init text only.
    let base = data_dir().join("live-6.18");
    let lines = parse_kallsyms(&xz_text(&base.join("kallsyms.xz")));
    let table = ksym::load_file(&base.join("kallsyms.xz"), &LoadOptions::default()).unwrap();
    let named = named_ranges(&lines);
    assert_eq!(named.len(), 2, "text and init text");
    let mut core: Vec<&Line> = lines
        .iter()
        .filter(|l| l.module.is_none() && may_answer(l))
        .collect();
    core.sort_by_key(|l| l.addr);
    for &(s, e) in &named {
        for addr in [s - 1, s, s + 1, e - 1, e, e + 1] {
            let got = table.lookup(addr).map(|s| s.to_string());
            assert_eq!(got, core_ps(&core, &named, addr), "{addr:#x}");
        }
    }
    // A data symbol of the capture, if any, names nothing.
    if let Some(d) = lines
        .iter()
        .find(|l| l.module.is_none() && matches!(l.kind, 'd' | 'D' | 'b' | 'B') && may_answer(l))
    {
        let inside = named.iter().any(|&(s, e)| s <= d.addr && d.addr < e);
        assert_eq!(table.lookup(d.addr).is_some(), inside, "{}", d.name);
    }
}
