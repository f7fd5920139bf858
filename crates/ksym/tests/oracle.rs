//! Property tests: random kallsyms text, built with `ksym::parse_bytes`,
//! checked against a naive oracle (a plain `Vec` and linear scans) that
//! implements the rules documented in `table.rs`:
//!
//! - symbols that answer addresses (not `A`/`a`/`U`/`u`/`N`/`n`, not `.L*`,
//!   `L0*` or `$*` mapping symbols) are sorted by address, stably: among
//!   aliases (same start) the first in input order answers;
//! - a symbol group's size runs to the next higher start, bounded by the
//!   innermost range that holds its start: core section marker pairs (first
//!   core occurrence of each marker, pair kept only when start < end) and
//!   module extents from `/proc/modules`;
//! - a start that is the end of a kept section pair (`_etext`, `_end`, ...)
//!   and lies in no range has size zero, and a symbol of size zero holds no
//!   address;
//! - a core symbol answers only inside the addresses the kernel names:
//!   `[_stext, _end)` when both markers are there, else `[_stext, _etext)`
//!   and `[_sinittext, _einittext)`; without `_stext` (or `_end` and
//!   `_etext`), anywhere;
//! - otherwise a cap applies: 16 MiB for the core, 64 KiB for a module, up to
//!   the end of the page for `[bpf]` and `[__builtin__*]` pseudo-modules,
//!   and never past the start of the next range above (another module's
//!   area or a section);
//! - name-only symbols are found by name: absolute ones sized to the next
//!   higher absolute symbol (capped, 1 for the last), the others size 0;
//! - `find` yields address order, address-answering symbols before name-only
//!   ones at the same address, input order among equals.

use ksym::table::{CORE_SIZE_CAP, MODULE_SIZE_CAP};
use ksym::{Error, LineErrorKind, LoadOptions, ModuleMap, ResolveErrorKind, Symbol, SymbolTable};
use proptest::prelude::*;

const PAGE: u64 = 4096;
const CORE_TEXT: u64 = 0xffff_ffff_8100_0000;
const MODULES_START: u64 = 0xffff_ffff_c000_0000;
const MODULE_STRIDE: u64 = 0x4_0000;
const NMOD: u64 = 6;
const FTRACE: u64 = 0xffff_ffff_c120_0000;
const BPF: u64 = 0xffff_ffff_c140_0000;
const KPROBES: u64 = 0xffff_ffff_c160_0000;
/// Straddles the boundary between the high halves 0xfffffffe and 0xffffffff.
const BLOCK_EDGE: u64 = 0xffff_fffe_ffff_0000;
/// Non-absolute symbols spread over the high halves 0, 1 and 2.
const LOW_BLOCKS: u64 = 0x1000_0000;
const HIGH_EDGE: u64 = 0xffff_ffff_ffff_0000;

/// The core section marker pairs of `table.rs`.
const SECTIONS: [(&str, &str); 7] = [
    ("_stext", "_etext"),
    ("_sinittext", "_einittext"),
    ("__start_rodata", "__end_rodata"),
    ("_sdata", "_edata"),
    ("__init_begin", "__init_end"),
    ("__bss_start", "__bss_stop"),
    ("_text", "_end"),
];
/// Markers, weighted towards `_stext`, `_etext`, `_text` and `_end`.
const MARKERS: [&str; 20] = [
    "_stext",
    "_etext",
    "_end",
    "_text",
    "_stext",
    "_etext",
    "_end",
    "_text",
    "_etext",
    "_end",
    "_sinittext",
    "_einittext",
    "__start_rodata",
    "__end_rodata",
    "_sdata",
    "_edata",
    "__init_begin",
    "__init_end",
    "__bss_start",
    "__bss_stop",
];
const NAMES: [&str; 12] = [
    "init_once",
    "cleanup_module",
    "init_module",
    "show_map",
    "do_one",
    "__func",
    "my_notifier",
    "__UNIQUE_ID_x",
    "entry",
    "ops",
    "_note_9",
    "__ksymtab_foo",
];
const CORE_KINDS: [char; 12] = ['t', 'T', 't', 'T', 'd', 'D', 'b', 'B', 'r', 'R', 'W', 'A'];
const MODULE_KINDS: [char; 10] = ['t', 'T', 't', 'd', 'D', 'b', 'B', 'r', 'R', 'a'];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    addr: u64,
    kind: char,
    name: String,
    module: Option<String>,
}

impl Line {
    fn new(addr: u64, kind: char, name: impl Into<String>, module: Option<String>) -> Line {
        Line {
            addr,
            kind,
            name: name.into(),
            module,
        }
    }

    fn render(&self) -> String {
        match &self.module {
            Some(m) => format!("{:016x} {} {}\t[{m}]", self.addr, self.kind, self.name),
            None => format!("{:016x} {} {}", self.addr, self.kind, self.name),
        }
    }

    fn answers(&self) -> bool {
        !(matches!(self.kind, 'A' | 'a' | 'U' | 'u' | 'N' | 'n')
            || self.name.starts_with(".L")
            || self.name.starts_with("L0")
            || self.name.starts_with('$'))
    }

    fn absolute(&self) -> bool {
        matches!(self.kind, 'A' | 'a')
    }
}

/// One generated item: (cluster, offset, kind selector, name selector, extra).
type Spec = (u8, u64, u8, u16, u8);

fn module_name(k: u64) -> String {
    format!("mod{k}")
}

fn module_base(k: u64) -> u64 {
    MODULES_START + k * MODULE_STRIDE
}

fn pick_name(sel: u16) -> String {
    if sel.is_multiple_of(3) {
        format!("sym_{sel}")
    } else {
        NAMES[sel as usize % NAMES.len()].to_string()
    }
}

/// Turns specs into lines (in generation order).
fn lines_from_specs(specs: &[Spec]) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    for &(cluster, off, ksel, nsel, extra) in specs {
        let core_kind = CORE_KINDS[ksel as usize % CORE_KINDS.len()];
        let mod_kind = MODULE_KINDS[ksel as usize % MODULE_KINDS.len()];
        let k = u64::from(extra) % NMOD;
        match cluster % 12 {
            // Per-cpu variables: absolute, near zero.
            0 => lines.push(Line::new((off % 0x8000) & !7, 'A', pick_name(nsel), None)),
            // Core, dense.
            1 | 2 => lines.push(Line::new(
                CORE_TEXT + off % 0x1_0000,
                core_kind,
                pick_name(nsel),
                None,
            )),
            // Core, sparse: gaps beyond the 16 MiB cap.
            3 => lines.push(Line::new(
                CORE_TEXT + off % 0x600_0000,
                core_kind,
                pick_name(nsel),
                None,
            )),
            // Section markers, sometimes (wrongly) in a module.
            4 => {
                let name = MARKERS[nsel as usize % MARKERS.len()];
                let kind = ['T', 'D', 'B', 'R', 't'][ksel as usize % 5];
                if extra % 8 == 7 {
                    let addr = module_base(k) + off % 0x3_0000;
                    lines.push(Line::new(addr, kind, name, Some(module_name(k))));
                } else {
                    let span = if extra.is_multiple_of(2) {
                        0x1_0000
                    } else {
                        0x600_0000
                    };
                    lines.push(Line::new(CORE_TEXT + off % span, kind, name, None));
                }
            }
            // Loadable modules, with `.LC` labels now and then; some just
            // below the next module's base (a 6.4+ module's data lies apart
            // from its text, outside the extent `/proc/modules` gives).
            5 | 6 => {
                let addr = if extra % 5 == 4 {
                    module_base(k) + MODULE_STRIDE - 0x1000 + off % 0x1000
                } else {
                    module_base(k) + off % 0x3_0000
                };
                if ksel % 10 == 9 {
                    lines.push(Line::new(
                        addr,
                        'r',
                        format!(".LC{nsel}"),
                        Some(module_name(k)),
                    ));
                } else {
                    lines.push(Line::new(
                        addr,
                        mod_kind,
                        pick_name(nsel),
                        Some(module_name(k)),
                    ));
                }
            }
            // Pseudo-modules.
            7 => match extra % 3 {
                0 => lines.push(Line::new(
                    BPF + ((off % 0x3000) & !0x3f),
                    't',
                    format!("bpf_prog_{nsel:016x}_sd_devices"),
                    Some("bpf".into()),
                )),
                1 => lines.push(Line::new(
                    FTRACE + ((off % 0x3000) & !0xff),
                    't',
                    "ftrace_trampoline",
                    Some("__builtin__ftrace".into()),
                )),
                _ => lines.push(Line::new(
                    KPROBES + ((off % 0x2000) & !0xf),
                    't',
                    "kprobe_insn_page",
                    Some("__builtin__kprobes".into()),
                )),
            },
            // Labels and mapping symbols: never answer an address.
            8 => {
                let name = match extra % 4 {
                    0 => format!(".L{nsel}"),
                    1 => format!(".LC{nsel}"),
                    2 => format!("L0{nsel}"),
                    _ => "$x".to_string(),
                };
                lines.push(Line::new(CORE_TEXT + off % 0x1_0000, 't', name, None));
            }
            // An alias of an earlier line: same address and module.
            9 => {
                if lines.is_empty() {
                    continue;
                }
                let src = lines[off as usize % lines.len()].clone();
                let kind = if src.absolute() {
                    src.kind
                } else if src.module.is_some() {
                    mod_kind
                } else {
                    core_kind
                };
                lines.push(Line::new(src.addr, kind, pick_name(nsel), src.module));
            }
            // `__pfx_foo` right before `foo`.
            10 => {
                let name = pick_name(nsel);
                let (addr, module) = if extra.is_multiple_of(2) {
                    (CORE_TEXT + off % 0x1_0000, None)
                } else {
                    let k = u64::from(extra / 2) % NMOD;
                    (module_base(k) + off % 0x3_0000, Some(module_name(k)))
                };
                let kind = if ksel.is_multiple_of(2) { 't' } else { 'T' };
                lines.push(Line::new(
                    addr,
                    kind,
                    format!("__pfx_{name}"),
                    module.clone(),
                ));
                lines.push(Line::new(addr + 16, kind, name, module));
            }
            // Edges: across a 32-bit block boundary, low addresses spread
            // over several blocks, or the top of the address space.
            _ => {
                let addr = match extra % 3 {
                    0 => BLOCK_EDGE + off % 0x2_0000,
                    1 => LOW_BLOCKS + off % 0x2_0000_0000,
                    _ => HIGH_EDGE + off % 0x1_0000,
                };
                lines.push(Line::new(addr, core_kind, pick_name(nsel), None));
            }
        }
    }
    lines
}

/// A small deterministic generator for shuffles.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Puts lines in the order they are rendered: like a real kernel (core
/// sorted by address, then modules in random order, each module's lines
/// shuffled, pseudo-modules last) or all shuffled.
fn input_order(mut lines: Vec<Line>, seed: u64, full_shuffle: bool) -> Vec<Line> {
    let mut rng = SplitMix(seed);
    if full_shuffle {
        rng.shuffle(&mut lines);
        return lines;
    }
    let mut core: Vec<Line> = lines
        .iter()
        .filter(|l| l.module.is_none())
        .cloned()
        .collect();
    core.sort_by_key(|l| l.addr);
    let mut modules: Vec<String> = Vec::new();
    let mut pseudo: Vec<String> = Vec::new();
    for l in &lines {
        if let Some(m) = &l.module {
            let list = if is_pseudo(m) {
                &mut pseudo
            } else {
                &mut modules
            };
            if !list.contains(m) {
                list.push(m.clone());
            }
        }
    }
    rng.shuffle(&mut modules);
    let mut out = core;
    for m in modules.iter().chain(pseudo.iter()) {
        let mut these: Vec<Line> = lines
            .iter()
            .filter(|l| l.module.as_deref() == Some(m.as_str()))
            .cloned()
            .collect();
        if !is_pseudo(m) {
            rng.shuffle(&mut these);
        }
        out.append(&mut these);
    }
    lines.clear();
    out
}

fn is_pseudo(module: &str) -> bool {
    module.starts_with("__builtin__") || module == "bpf"
}

/// What a symbol answer looks like, printed with hex numbers.
#[derive(Clone, PartialEq, Eq)]
struct Answer {
    name: String,
    start: u64,
    offset: u64,
    size: u64,
    kind: char,
    module: Option<String>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}+{:#x}/{:#x} at {:#x}",
            self.kind, self.name, self.offset, self.size, self.start
        )?;
        match &self.module {
            Some(m) => write!(f, " [{m}]"),
            None => Ok(()),
        }
    }
}

fn answer(s: &Symbol<'_>) -> Answer {
    Answer {
        name: s.name.to_string(),
        start: s.start,
        offset: s.offset,
        size: s.size,
        kind: s.kind,
        module: s.module.map(str::to_string),
    }
}

struct Group {
    start: u64,
    /// Line indices in input order.
    members: Vec<usize>,
    end: u64,
}

struct Oracle<'a> {
    lines: &'a [Line],
    /// Sorted by start.
    groups: Vec<Group>,
    answering: usize,
}

impl<'a> Oracle<'a> {
    /// `modules`: (name, base, size) from the `/proc/modules` given to the table.
    fn new(lines: &'a [Line], modules: &[(String, u64, u64)]) -> Oracle<'a> {
        // Markers are read before anything is unnamed.
        let marker = |name: &str| {
            lines
                .iter()
                .filter(|l| l.answers() && l.module.is_none() && l.name == name)
                .map(|l| l.addr)
                .min()
        };
        let named = kernel_ranges(&marker);
        let mut ans: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].answers())
            .filter(|&i| {
                lines[i].module.is_some()
                    || named.as_ref().is_none_or(|r| {
                        r.iter()
                            .any(|&(s, e)| s <= lines[i].addr && lines[i].addr < e)
                    })
            })
            .collect();
        ans.sort_by_key(|&i| lines[i].addr); // stable
        let mut bounds: Vec<(u64, u64)> = Vec::new();
        let mut ends: Vec<u64> = Vec::new();
        for (s, e) in SECTIONS {
            if let (Some(s), Some(e)) = (marker(s), marker(e)) {
                if s < e {
                    bounds.push((s, e));
                    ends.push(e);
                }
            }
        }
        for (name, base, size) in modules {
            let used = lines
                .iter()
                .any(|l| l.module.as_deref() == Some(name.as_str()));
            if used && *base != 0 && *size != 0 {
                bounds.push((*base, base.saturating_add(*size)));
            }
        }
        let mut groups: Vec<Group> = Vec::new();
        for &i in &ans {
            match groups.last_mut() {
                Some(g) if g.start == lines[i].addr => g.members.push(i),
                _ => groups.push(Group {
                    start: lines[i].addr,
                    members: vec![i],
                    end: 0,
                }),
            }
        }
        for gi in 0..groups.len() {
            let start = groups[gi].start;
            let next = groups.get(gi + 1).map_or(u64::MAX, |g| g.start);
            let limit = bounds
                .iter()
                .filter(|&&(s, e)| s <= start && start < e)
                .map(|&(_, e)| e)
                .min()
                .unwrap_or_else(|| {
                    if ends.contains(&start) {
                        return start;
                    }
                    let next_range = bounds
                        .iter()
                        .map(|&(s, _)| s)
                        .filter(|&s| s > start)
                        .min()
                        .unwrap_or(u64::MAX);
                    // The cap follows the group's last member.
                    let last = &lines[*groups[gi].members.last().unwrap()];
                    let cap = match &last.module {
                        None => start.saturating_add(CORE_SIZE_CAP),
                        Some(m) if is_pseudo(m) => (start | (PAGE - 1)).saturating_add(1),
                        Some(_) => start.saturating_add(MODULE_SIZE_CAP),
                    };
                    cap.min(next_range)
                });
            groups[gi].end = next.min(limit);
        }
        Oracle {
            lines,
            groups,
            answering: ans.len(),
        }
    }

    fn make(&self, i: usize, start: u64, offset: u64, size: u64) -> Answer {
        let l = &self.lines[i];
        Answer {
            name: l.name.clone(),
            start,
            offset,
            size,
            kind: l.kind,
            module: l.module.clone(),
        }
    }

    fn lookup(&self, addr: u64) -> Option<Answer> {
        let g = self.groups.iter().rev().find(|g| g.start <= addr)?;
        if addr < g.end {
            Some(self.make(g.members[0], g.start, addr - g.start, g.end - g.start))
        } else {
            None
        }
    }

    fn aliases(&self, addr: u64) -> Vec<Answer> {
        self.groups
            .iter()
            .filter(|g| g.start == addr)
            .flat_map(|g| {
                g.members
                    .iter()
                    .map(move |&i| self.make(i, g.start, 0, g.end - g.start))
            })
            .collect()
    }

    fn size_of_line(&self, i: usize) -> u64 {
        let l = &self.lines[i];
        if let Some(g) = self
            .groups
            .iter()
            .find(|g| g.start == l.addr && g.members.contains(&i))
        {
            return g.end - g.start;
        }
        if !l.absolute() {
            return 0;
        }
        let next = self
            .lines
            .iter()
            .filter(|o| !o.answers() && o.absolute() && o.addr > l.addr)
            .map(|o| o.addr)
            .min()
            .unwrap_or(l.addr.saturating_add(1));
        (next - l.addr).min(CORE_SIZE_CAP)
    }

    /// Mapping symbols (`.L*`, `L0*`, `$x`) are never found by name.
    fn find(&self, module: Option<Option<&str>>, name: &str) -> Vec<Answer> {
        if name.starts_with(".L") || name.starts_with("L0") || name.starts_with('$') {
            return Vec::new();
        }
        let mut hits: Vec<usize> = (0..self.lines.len())
            .filter(|&i| self.lines[i].name == name)
            .filter(|&i| module.is_none_or(|m| self.lines[i].module.as_deref() == m))
            .collect();
        let answering = |i: usize| self.groups.iter().any(|g| g.members.contains(&i));
        hits.sort_by_key(|&i| (self.lines[i].addr, !answering(i), i));
        hits.iter()
            .map(|&i| self.make(i, self.lines[i].addr, 0, self.size_of_line(i)))
            .collect()
    }
}

/// The core addresses the kernel names: `[_stext, _end)` with
/// `CONFIG_KALLSYMS_ALL`, else text and init text; `None` when the markers
/// do not say.
fn kernel_ranges(marker: &dyn Fn(&str) -> Option<u64>) -> Option<Vec<(u64, u64)>> {
    let stext = marker("_stext")?;
    if let Some(end) = marker("_end").filter(|&e| e > stext) {
        return Some(vec![(stext, end)]);
    }
    let mut ranges = vec![(stext, marker("_etext").filter(|&e| e > stext)?)];
    if let (Some(s), Some(e)) = (marker("_sinittext"), marker("_einittext")) {
        ranges.push((s, e));
    }
    Some(ranges)
}

fn render(lines: &[Line], final_newline: bool) -> String {
    let mut text: String = lines
        .iter()
        .map(|l| l.render())
        .collect::<Vec<_>>()
        .join("\n");
    if final_newline {
        text.push('\n');
    }
    text
}

/// Module extents as `/proc/modules` text and as (name, base, size), last
/// entry of a name winning (as `ModuleMap::add_text` does).
fn proc_modules(specs: &[(u8, u64)]) -> (String, Vec<(String, u64, u64)>) {
    let mut text = String::new();
    let mut list: Vec<(String, u64, u64)> = Vec::new();
    for &(k, size) in specs {
        let k = u64::from(k) % NMOD;
        let name = module_name(k);
        let base = module_base(k);
        let size = 0x1000 + size % MODULE_STRIDE;
        text.push_str(&format!("{name} {size} 0 - Live {base:#x}\n"));
        list.retain(|(n, _, _)| *n != name);
        list.push((name, base, size));
    }
    (text, list)
}

fn queries(oracle: &Oracle<'_>, lines: &[Line], random: &[u64]) -> Vec<u64> {
    let mut q = vec![0, 1, u64::MAX, u64::MAX - 1, CORE_TEXT, MODULES_START];
    for g in &oracle.groups {
        let size = g.end - g.start;
        q.extend([
            g.start,
            g.start.wrapping_sub(1),
            g.start + size / 2,
            (g.start + size).wrapping_sub(1),
            g.start.wrapping_add(size),
            g.start.wrapping_add(size).wrapping_add(1),
        ]);
    }
    for l in lines {
        q.extend([l.addr, l.addr.wrapping_add(1)]);
    }
    // Random addresses, some anywhere, most near the clusters.
    let bases = [
        0,
        LOW_BLOCKS,
        CORE_TEXT,
        CORE_TEXT,
        MODULES_START,
        FTRACE,
        BPF,
        KPROBES,
        BLOCK_EDGE,
        HIGH_EDGE,
    ];
    for (i, &r) in random.iter().enumerate() {
        match i % 4 {
            0 => q.push(r),
            _ => {
                let base = bases[(r % bases.len() as u64) as usize];
                let span = if base == LOW_BLOCKS {
                    0x2_0000_0000
                } else {
                    0x700_0000
                };
                q.push(base.wrapping_add((r >> 8) % span));
            }
        }
    }
    q
}

fn check_table(table: &SymbolTable, lines: &[Line], oracle: &Oracle<'_>, random: &[u64]) {
    assert_eq!(table.len(), lines.len(), "every line is a symbol");
    assert_eq!(
        table.answering_len(),
        oracle.answering,
        "address-answering symbols"
    );
    assert_eq!(table.info().skipped.count, 0);

    for q in queries(oracle, lines, random) {
        let got = table.lookup(q).map(|s| answer(&s));
        assert_eq!(got, oracle.lookup(q), "lookup({q:#x})");
        if let Some(s) = table.lookup(q) {
            assert_eq!(s.addr(), q);
        }
        let got: Vec<Answer> = table.aliases(q).map(|s| answer(&s)).collect();
        assert_eq!(got, oracle.aliases(q), "aliases({q:#x})");
    }

    let mut names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut modules: Vec<&str> = lines.iter().filter_map(|l| l.module.as_deref()).collect();
    modules.sort_unstable();
    modules.dedup();
    for &name in names
        .iter()
        .chain(["no_such_symbol", "__pfx_", "sym_", "init"].iter())
    {
        let got: Vec<Answer> = table.find(name).map(|s| answer(&s)).collect();
        assert_eq!(got, oracle.find(None, name), "find({name:?})");
        let got: Vec<Answer> = table.find_in(None, name).map(|s| answer(&s)).collect();
        assert_eq!(
            got,
            oracle.find(Some(None), name),
            "find_in(None, {name:?})"
        );
        for &m in modules.iter().chain(["no_such_module", "mod"].iter()) {
            let got: Vec<Answer> = table.find_in(Some(m), name).map(|s| answer(&s)).collect();
            assert_eq!(
                got,
                oracle.find(Some(Some(m)), name),
                "find_in(Some({m:?}), {name:?})"
            );
        }
    }

    // `resolve`: `name+off/size [module]` picks the one symbol of that name
    // (in that module) with that size; the offset may reach the size.
    let mut refs: Vec<(&str, Option<&str>)> = lines
        .iter()
        .map(|l| (l.name.as_str(), l.module.as_deref()))
        .collect();
    refs.sort_unstable();
    refs.dedup();
    for (name, module) in refs {
        let tag = module.map_or(String::new(), |m| format!(" [{m}]"));
        let candidates = oracle.find(module.map(Some), name);
        if candidates.is_empty() {
            // A mapping symbol: no spelling of it resolves.
            assert!(
                table.resolve(&format!("{name}{tag}")).is_err(),
                "{name}{tag}"
            );
            continue;
        }
        let sized = |size: Option<u64>| -> Vec<&Answer> {
            candidates
                .iter()
                .filter(|c| size.is_none_or(|s| c.size == s))
                .collect()
        };
        let mut sizes: Vec<Option<u64>> = candidates.iter().map(|c| Some(c.size)).collect();
        sizes.push(None);
        sizes.dedup();
        for size in sizes {
            let fitting = sized(size);
            let some_size = size.unwrap_or(fitting[0].size);
            for off in [0, some_size / 2, some_size, some_size + 1] {
                let text = match size {
                    Some(sz) => format!("{name}+{off:#x}/{sz:#x}{tag}"),
                    None => format!("{name}+{off:#x}{tag}"),
                };
                let want = match fitting.as_slice() {
                    [c] if off <= c.size || c.size == 0 => Some(c.start.wrapping_add(off)),
                    _ => None,
                };
                let got = table.resolve(&text);
                assert_eq!(
                    got.as_ref().ok().copied(),
                    want,
                    "resolve({text:?}): {got:?}"
                );
                if let Err(Error::Resolve { kind, .. }) = &got {
                    match (fitting.len(), kind) {
                        (1, ResolveErrorKind::OffsetOutside { .. }) => {}
                        (n, ResolveErrorKind::Ambiguous(starts)) if n > 1 => {
                            let want: Vec<u64> = fitting.iter().map(|c| c.start).collect();
                            assert_eq!(starts, &want, "resolve({text:?})");
                        }
                        _ => panic!("resolve({text:?}): unexpected {kind:?}"),
                    }
                }
            }
        }
        // A size no candidate has.
        let absent = candidates.iter().map(|c| c.size).max().unwrap_or(0) + 1;
        let text = format!("{name}+0x0/{absent:#x}{tag}");
        assert!(
            matches!(
                table.resolve(&text),
                Err(Error::Resolve {
                    kind: ResolveErrorKind::SizeMismatch { .. },
                    ..
                })
            ),
            "resolve({text:?})"
        );
    }
    assert!(matches!(
        table.resolve("no_such_symbol+0x1/0x10"),
        Err(Error::Resolve {
            kind: ResolveErrorKind::NotFound,
            ..
        })
    ));

    // `iter` yields every line once.
    let mut got: Vec<(String, u64, char, Option<String>)> = table
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                s.start,
                s.kind,
                s.module.map(str::to_string),
            )
        })
        .collect();
    let mut want: Vec<(String, u64, char, Option<String>)> = lines
        .iter()
        .map(|l| (l.name.clone(), l.addr, l.kind, l.module.clone()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "iter");
}

fn spec() -> impl Strategy<Value = Spec> {
    (0u8..12, any::<u64>(), any::<u8>(), 0u16..600, any::<u8>())
}

/// Fewer cases in debug builds; `PROPTEST_CASES` overrides.
fn cases() -> u32 {
    let default = if cfg!(debug_assertions) { 192 } else { 1024 };
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn lookups_match_the_oracle(
        specs in prop::collection::vec(spec(), 1..90),
        module_specs in prop::collection::vec((any::<u8>(), any::<u64>()), 0..5),
        seed in any::<u64>(),
        full_shuffle in any::<bool>(),
        final_newline in any::<bool>(),
        random in prop::collection::vec(any::<u64>(), 0..40),
    ) {
        let lines = lines_from_specs(&specs);
        prop_assume!(lines.iter().any(|l| l.addr != 0)); // all zero reads as redacted
        let lines = input_order(lines, seed, full_shuffle);
        let text = render(&lines, final_newline);
        let (modules_text, modules) = proc_modules(&module_specs);
        let map = if modules.is_empty() {
            None
        } else {
            let mut map = ModuleMap::default();
            map.add_text("proc-modules", modules_text.as_bytes()).unwrap();
            Some(map)
        };
        let opts = LoadOptions { modules: map, ..LoadOptions::default() };
        let table = ksym::parse_bytes("random", text.as_bytes(), &opts).unwrap();
        let oracle = Oracle::new(&lines, &modules);
        check_table(&table, &lines, &oracle, &random);

        // Strict mode accepts the same text and builds the same table.
        let strict = ksym::parse_bytes("random", text.as_bytes(), &LoadOptions { strict: true, ..opts })
            .unwrap();
        prop_assert_eq!(strict.len(), table.len());
        for q in queries(&oracle, &lines, &random) {
            prop_assert_eq!(strict.lookup(q).map(|s| answer(&s)), table.lookup(q).map(|s| answer(&s)));
        }
    }
}

// --- Blanks between fields ------------------------------------------------

/// Renders a line with the given blanks: before the address, between the
/// address and the type, between the type and the name. A module tag keeps
/// its tab right after the name (that tab is what makes it a kallsyms tag).
fn render_with_blanks(l: &Line, lead: &str, sep1: &str, sep2: &str) -> String {
    let mut s = format!("{lead}{:016x}{sep1}{}{sep2}{}", l.addr, l.kind, l.name);
    if let Some(m) = &l.module {
        s.push_str(&format!("\t[{m}]"));
    }
    s
}

const LEADS: [&str; 3] = ["", " ", "\t"];
const SEPS: [&str; 4] = [" ", "  ", "\t", " \t"];
/// Blanks before the name that the parser takes.
const SEPS_BEFORE_NAME: [&str; 3] = [" ", "\t", "\t "];

fn check_blanks(specs: &[Spec], blanks: &[(u8, u8, u8)], before_name: &[&str]) {
    let lines = lines_from_specs(specs);
    if lines.iter().all(|l| l.addr == 0) {
        return;
    }
    let plain = render(&lines, true);
    let mut varied = String::new();
    for (i, l) in lines.iter().enumerate() {
        let (a, b, c) = blanks[i % blanks.len()];
        varied.push_str(&render_with_blanks(
            l,
            LEADS[a as usize % LEADS.len()],
            SEPS[b as usize % SEPS.len()],
            before_name[c as usize % before_name.len()],
        ));
        varied.push('\n');
    }
    let a = ksym::parse_bytes("plain", plain.as_bytes(), &LoadOptions::default()).unwrap();
    let b = ksym::parse_bytes("varied", varied.as_bytes(), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        b.info().skipped.first.first().map(|e| e.to_string()),
        None,
        "a line with other blanks was skipped"
    );
    assert_eq!(b.len(), a.len());
    assert!(a.iter().eq(b.iter()), "blanks changed the table:\n{varied}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases() / 2))]

    /// Fields are split by blanks (spaces or tabs, any number): how they are
    /// separated does not change a line's meaning.
    #[test]
    fn blanks_between_fields_do_not_matter(
        specs in prop::collection::vec(spec(), 1..40),
        blanks in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..40),
    ) {
        check_blanks(&specs, &blanks, &SEPS_BEFORE_NAME);
    }
}

/// More than one blank between the type and the name (after a 16-digit
/// address and one space), the one shape the property above leaves out.
#[test]
fn two_blanks_before_the_name() {
    let t = ksym::parse_bytes(
        "x",
        b"ffffffff81000000 T  foo\nffffffff81000010 T \tbar\n",
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(t.info().skipped.count, 0, "{:?}", t.info().skipped.first);
    assert_eq!(
        t.find("foo").next().map(|s| s.start),
        Some(0xffffffff81000000)
    );
    assert_eq!(
        t.find("bar").next().map(|s| s.start),
        Some(0xffffffff81000010)
    );
    let specs: Vec<Spec> = (0..30).map(|i| (1, i * 0x40, 0, i as u16, 0)).collect();
    check_blanks(&specs, &[(0, 0, 0), (0, 0, 1)], &["  ", " \t"]);
}

// --- Garbage lines -------------------------------------------------------

/// One input line of the garbage test.
#[derive(Debug, Clone)]
enum Item {
    Valid(Line),
    /// A bad line and the error it must give.
    Bad(Vec<u8>, LineErrorKind),
    /// Empty or blank: neither a symbol nor an error.
    Blank(&'static str),
}

fn garbage(sel: u8, r: u64) -> (Vec<u8>, LineErrorKind) {
    use LineErrorKind::*;
    let hex = format!("{:x}", CORE_TEXT + r % 0x10000);
    let name = format!("name_{}", r % 1000);
    let (text, kind): (Vec<u8>, LineErrorKind) = match sel % 16 {
        0 => (format!("xyz{} T {name}", r % 100).into_bytes(), BadAddress),
        1 => (format!("1{:016x} T {name}", r).into_bytes(), BadAddress),
        2 => (format!("0x{hex} T {name}").into_bytes(), BadAddress),
        3 => (b"zz".to_vec(), BadAddress),
        4 => (hex.clone().into_bytes(), TooFewFields),
        5 => (format!("{hex} T").into_bytes(), TooFewFields),
        6 => (format!("{hex} TT {name}").into_bytes(), BadType),
        7 => (format!("{hex} 1 {name}").into_bytes(), BadType),
        8 => (format!("{hex} . {name}").into_bytes(), BadType),
        9 => {
            let n = 513 + (r % 100) as usize;
            (
                format!("{hex} T {}", "a".repeat(n)).into_bytes(),
                NameTooLong(n),
            )
        }
        10 => {
            let mut t = format!("{hex} T na").into_bytes();
            t.push(0xff);
            t.extend_from_slice(b"me");
            (t, NotUtf8)
        }
        11 => {
            let mut t = format!("{hex} T {name}\t[m").into_bytes();
            t.extend_from_slice(&[0xc3, 0x28, b']']);
            (t, NotUtf8)
        }
        12 => (format!("{hex} T {name} junk").into_bytes(), UnexpectedField),
        13 => (format!("{hex} T {name}\t[]").into_bytes(), UnexpectedField),
        14 => (
            format!("{hex} T {name} {{a.o}} {{b.o}}").into_bytes(),
            UnexpectedField,
        ),
        _ => (
            format!("{hex} t {name}\t[mod] trailing").into_bytes(),
            UnexpectedField,
        ),
    };
    (text, kind)
}

fn item() -> impl Strategy<Value = (u8, u8, u64)> {
    (0u8..10, any::<u8>(), any::<u64>())
}

fn items_from(raw: &[(u8, u8, u64)]) -> Vec<Item> {
    raw.iter()
        .map(|&(what, sel, r)| match what {
            0..=4 => {
                let module = sel
                    .is_multiple_of(3)
                    .then(|| module_name(u64::from(sel) % NMOD));
                let addr = match module {
                    Some(_) => module_base(u64::from(sel) % NMOD) + r % 0x3_0000,
                    None => CORE_TEXT + r % 0x1_0000,
                };
                // Names may hold any UTF-8 but blanks.
                let name = if r.is_multiple_of(7) {
                    format!("{}_ü€𝄞", pick_name(sel.into()))
                } else {
                    pick_name(sel.into())
                };
                Item::Valid(Line::new(addr, 't', name, module))
            }
            5..=7 => {
                let (text, kind) = garbage(sel, r);
                Item::Bad(text, kind)
            }
            _ => Item::Blank(["", "   ", "\t", " \t "][sel as usize % 4]),
        })
        .collect()
}

fn render_items(items: &[Item], crlf: bool, final_newline: bool) -> Vec<u8> {
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut text: Vec<u8> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            text.extend_from_slice(eol);
        }
        match it {
            Item::Valid(l) => text.extend_from_slice(l.render().as_bytes()),
            Item::Bad(b, _) => text.extend_from_slice(b),
            Item::Blank(s) => text.extend_from_slice(s.as_bytes()),
        }
    }
    if final_newline && !items.is_empty() {
        text.extend_from_slice(eol);
    }
    text
}

/// What `LineError::text` holds for a raw line: lossy UTF-8, cut to 200 bytes.
fn error_text(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(200)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if raw.len() > 200 {
        s.push('…');
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn garbage_lines_are_skipped_and_counted(
        raw in prop::collection::vec(item(), 0..60),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        let items = items_from(&raw);
        let text = render_items(&items, crlf, final_newline);
        // (line number from 1, raw text, kind) of every bad line.
        let bad: Vec<(u64, &[u8], LineErrorKind)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| match it {
                Item::Bad(b, k) => Some((i as u64 + 1, &b[..], *k)),
                _ => None,
            })
            .collect();
        let valid: Vec<Line> = items
            .iter()
            .filter_map(|it| match it {
                Item::Valid(l) => Some(l.clone()),
                _ => None,
            })
            .collect();

        let lenient = ksym::parse_bytes("garbage", &text, &LoadOptions::default());
        if valid.is_empty() {
            match (lenient, bad.first()) {
                (Err(Error::Empty { .. }), None) => {}
                (Err(Error::NoSymbols { first, .. }), Some(&(line, raw, kind))) => {
                    prop_assert_eq!(first.line, line);
                    prop_assert_eq!(first.kind, kind);
                    prop_assert_eq!(first.text, error_text(raw));
                }
                (other, first_bad) => {
                    prop_assert!(false, "no valid line, first bad {:?}: got {:?}", first_bad, other.map(|t| t.len()));
                }
            }
        } else {
            let table = lenient.unwrap();
            prop_assert_eq!(table.len(), valid.len());
            let skipped = &table.info().skipped;
            prop_assert_eq!(skipped.count, bad.len() as u64);
            prop_assert_eq!(skipped.first.len(), bad.len().min(16));
            for (e, &(line, raw, kind)) in skipped.first.iter().zip(&bad) {
                prop_assert_eq!(e.line, line);
                prop_assert_eq!(e.kind, kind);
                prop_assert_eq!(&e.text, &error_text(raw));
            }
            // The good lines are all there, as if the bad ones never were.
            let oracle = Oracle::new(&valid, &[]);
            for l in &valid {
                prop_assert_eq!(table.lookup(l.addr).map(|s| answer(&s)), oracle.lookup(l.addr));
                prop_assert!(table.find(&l.name).any(|s| s.start == l.addr));
            }
        }

        let strict = ksym::parse_bytes("garbage", &text, &LoadOptions { strict: true, ..LoadOptions::default() });
        match (strict, bad.first()) {
            (Err(Error::BadLine { source_name, error }), Some(&(line, raw, kind))) => {
                prop_assert_eq!(source_name, "garbage");
                prop_assert_eq!(error.line, line);
                prop_assert_eq!(error.kind, kind);
                prop_assert_eq!(error.text, error_text(raw));
            }
            (Ok(t), None) => prop_assert_eq!(t.len(), valid.len()),
            (Err(Error::Empty { .. }), None) => prop_assert!(valid.is_empty()),
            (other, first_bad) => {
                prop_assert!(false, "strict, first bad {:?}: got {:?}", first_bad, other.map(|t| t.len()));
            }
        }
    }
}

/// A fixed case, readable: line numbers count blank lines, the error keeps
/// the text, strict mode stops at the first bad line.
#[test]
fn garbage_fixed_example() {
    let text = b"ffffffff81000000 T _stext\n\
                 \n\
                 not a symbol line\n\
                 ffffffff81000010 t foo\n\
                 ffffffff81000020 TT bar\n\
                 ffffffff81000030 T _etext\n";
    let t = ksym::parse_bytes("x", text, &LoadOptions::default()).unwrap();
    assert_eq!(t.len(), 3);
    let skipped = &t.info().skipped;
    assert_eq!(skipped.count, 2);
    assert_eq!(skipped.first[0].line, 3);
    assert_eq!(skipped.first[0].kind, LineErrorKind::BadAddress);
    assert_eq!(skipped.first[0].text, "not a symbol line");
    assert_eq!(skipped.first[1].line, 5);
    assert_eq!(skipped.first[1].kind, LineErrorKind::BadType);
    let err = ksym::parse_bytes(
        "x",
        text,
        &LoadOptions {
            strict: true,
            ..LoadOptions::default()
        },
    )
    .unwrap_err();
    match err {
        Error::BadLine { error, .. } => assert_eq!(error.line, 3),
        other => panic!("want BadLine, got {other}"),
    }
    assert_eq!(
        t.lookup(0xffffffff81000015).unwrap().to_string(),
        "foo+0x5/0x20"
    );
}

// --- Streaming ---------------------------------------------------------------

/// Writes `text` into a FIFO in pieces of the given sizes while
/// `ksym::load_streaming` reads it: the reader gets chunks cut anywhere (in a
/// line, in a `\r\n`, in a UTF-8 sequence), as from procfs.
fn load_through_fifo(
    text: &[u8],
    pieces: &[usize],
    pause: Option<std::time::Duration>,
    strict: bool,
) -> ksym::Result<SymbolTable> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "oracle-fifo-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    let opts = LoadOptions {
        strict,
        ..LoadOptions::default()
    };
    if !made {
        // No mkfifo: a plain file still goes through the streaming reader.
        std::fs::write(&path, text).unwrap();
        let r = ksym::load_streaming(&path, &opts, None);
        std::fs::remove_file(&path).ok();
        return r;
    }
    let writer = {
        let path = path.clone();
        let text = text.to_vec();
        let pieces = pieces.to_vec();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let mut at = 0;
            for &n in pieces.iter().cycle() {
                if at >= text.len() {
                    break;
                }
                let end = (at + n).min(text.len());
                // The reader may stop early (strict mode): a broken pipe is fine.
                if f.write_all(&text[at..end]).is_err() {
                    break;
                }
                at = end;
                if let Some(p) = pause {
                    std::thread::sleep(p);
                }
            }
        })
    };
    let r = ksym::load_streaming(&path, &opts, None);
    writer.join().unwrap();
    std::fs::remove_file(&path).ok();
    r
}

/// How two tables differ, if they do.
fn table_diff(a: &SymbolTable, b: &SymbolTable) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{} symbols against {}", a.len(), b.len()));
    }
    let (sa, sb) = (&a.info().skipped, &b.info().skipped);
    if sa != sb {
        let first = sa.first.iter().zip(&sb.first).find(|(x, y)| x != y);
        return Some(format!(
            "skipped {} against {}; first different: {first:?}",
            sa.count, sb.count
        ));
    }
    if a.info().format != b.info().format {
        return Some(format!(
            "format {:?} against {:?}",
            a.info().format,
            b.info().format
        ));
    }
    a.iter()
        .zip(b.iter())
        .find(|(x, y)| x != y)
        .map(|(x, y)| format!("symbol {x:?} against {y:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases() / 8))]

    #[test]
    fn streamed_in_random_chunks_like_one_buffer(
        raw in prop::collection::vec(item(), 1..300),
        pieces in prop::collection::vec(1usize..200, 1..32),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        // One module only: lines of different modules can swap modules when
        // streamed (see `module_tags_split_across_reads`).
        let items: Vec<Item> = items_from(&raw)
            .into_iter()
            .map(|it| match it {
                Item::Valid(mut l) => {
                    if l.module.is_some() {
                        l.module = Some(module_name(0));
                    }
                    Item::Valid(l)
                }
                other => other,
            })
            .collect();
        let text = render_items(&items, crlf, final_newline);
        for strict in [false, true] {
            let opts = LoadOptions { strict, ..LoadOptions::default() };
            let whole = ksym::parse_bytes("whole", &text, &opts);
            let streamed = load_through_fifo(&text, &pieces, None, strict);
            match (&whole, &streamed) {
                (Ok(a), Ok(b)) => {
                    let diff = table_diff(a, b);
                    prop_assert!(diff.is_none(), "strict {}: one buffer vs streamed: {}", strict, diff.unwrap_or_default());
                }
                (Err(Error::BadLine { error: a, .. }), Err(Error::BadLine { error: b, .. })) => {
                    prop_assert_eq!(a, b)
                }
                (Err(Error::NoSymbols { first: a, .. }), Err(Error::NoSymbols { first: b, .. })) => {
                    prop_assert_eq!(a, b)
                }
                (Err(Error::Empty { .. }), Err(Error::Empty { .. })) => {}
                (a, b) => prop_assert!(
                    false,
                    "strict {}: one buffer gives {:?}, streamed gives {:?}",
                    strict,
                    a.as_ref().map(|t| t.len()).map_err(|e| e.to_string()),
                    b.as_ref().map(|t| t.len()).map_err(|e| e.to_string())
                ),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases() / 4))]

    /// Text in memory parsed in parts on several threads, then joined, gives
    /// the table, counts, line numbers and errors of one parse.
    #[test]
    fn parsed_in_parts_like_one_buffer(
        raw in prop::collection::vec(item(), 1..300),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
        parts in 2usize..6,
    ) {
        let text = render_items(&items_from(&raw), crlf, final_newline);
        for strict in [false, true] {
            let one = LoadOptions { strict, threads: Some(1), ..LoadOptions::default() };
            let many = LoadOptions { threads: Some(parts), ..one.clone() };
            let whole = ksym::parse_bytes("text", &text, &one);
            let split = ksym::parse_bytes("text", &text, &many);
            match (&whole, &split) {
                (Ok(a), Ok(b)) => {
                    let diff = table_diff(a, b);
                    prop_assert!(diff.is_none(), "strict {}: one part vs {}: {}", strict, parts, diff.unwrap_or_default());
                    prop_assert_eq!(a.module_names().collect::<Vec<_>>(), b.module_names().collect::<Vec<_>>());
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(
                    false,
                    "strict {}: one part gives {:?}, {} parts give {:?}",
                    strict,
                    a.as_ref().map(|t| t.len()).map_err(|e| e.to_string()),
                    parts,
                    b.as_ref().map(|t| t.len()).map_err(|e| e.to_string())
                ),
            }
        }
    }
}

/// Lines of two modules, alternating, each reaching the reader in two reads
/// (the second one ends the line): every line is completed in the parser's
/// carry buffer, so both modules' names sit at the same address in turn.
#[test]
fn module_tags_split_across_reads() {
    let mut text = String::new();
    let mut pieces = Vec::new();
    for i in 0..16u64 {
        let m = if i.is_multiple_of(2) { "mod0" } else { "mod3" };
        let line = format!("{:016x} t sym_{i:03}\t[{m}]\n", MODULES_START + i * 0x10);
        pieces.extend([line.len() - 3, 3]);
        text.push_str(&line);
    }
    let whole = ksym::parse_bytes("whole", text.as_bytes(), &LoadOptions::default()).unwrap();
    let streamed = load_through_fifo(
        text.as_bytes(),
        &pieces,
        Some(std::time::Duration::from_millis(3)),
        false,
    )
    .unwrap();
    let mut wrong = Vec::new();
    for i in 0..16u64 {
        let want = if i.is_multiple_of(2) { "mod0" } else { "mod3" };
        let addr = MODULES_START + i * 0x10;
        assert_eq!(whole.lookup(addr).unwrap().module, Some(want));
        let s = streamed.lookup(addr).unwrap();
        if s.module != Some(want) {
            wrong.push(format!("{} [{}] read as {:?}", s.name, want, s.module));
        }
    }
    assert!(wrong.is_empty(), "streamed modules wrong: {wrong:#?}");
}
