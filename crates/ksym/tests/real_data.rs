//! Checks against real kernel symbol data (`../shared/data`, see its
//! README.md): two Debian kernels with their `/proc/modules`, a live 6.18
//! capture, a 6.12 oops, and the live kernel this runs on. Every expectation
//! is derived from the data itself (the text of the files), not from the
//! library.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;

use common::{
    data_dir, is_mapping_symbol, may_answer, named_ranges, parse_kallsyms, xz_text, Line,
};
use ksym::host::X86_64_TEXT_LINK_ADDR;
use ksym::table::{CORE_SIZE_CAP, MODULE_SIZE_CAP};
use ksym::{Error, LoadOptions, ModuleMap, ResolveErrorKind, Symbol, SymbolTable};

const PAGE: u64 = 4096;

/// `/proc/modules` extents parsed by the test: name -> (base, size).
fn parse_proc_modules(text: &str) -> HashMap<String, (u64, u64)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let base = u64::from_str_radix(f[5].trim_start_matches("0x"), 16).unwrap();
            (f[0].to_string(), (base, f[1].parse().unwrap()))
        })
        .collect()
}

struct Kernel {
    dir: &'static str,
    lines: Vec<Line>,
    /// From `proc-modules`, empty for the live capture.
    extents: HashMap<String, (u64, u64)>,
    /// The core addresses the kernel names (see [`named_ranges`]).
    named: Vec<(u64, u64)>,
    table: SymbolTable,
}

fn load(dir: &'static str) -> Kernel {
    let base = data_dir().join(dir);
    let kallsyms = base.join("kallsyms.xz");
    let lines = parse_kallsyms(&xz_text(&kallsyms));
    let mut opts = LoadOptions::default();
    let mut extents = HashMap::new();
    let proc_modules = base.join("proc-modules");
    if proc_modules.is_file() {
        let bytes = std::fs::read(&proc_modules).unwrap();
        let mut map = ModuleMap::default();
        map.add_text("proc-modules", &bytes).unwrap();
        opts.modules = Some(map);
        extents = parse_proc_modules(std::str::from_utf8(&bytes).unwrap());
    }
    let table = ksym::load_file(&kallsyms, &opts)
        .unwrap_or_else(|e| panic!("loading {}: {e}", kallsyms.display()));
    Kernel {
        dir,
        named: named_ranges(&lines),
        lines,
        extents,
        table,
    }
}

fn k612() -> &'static Kernel {
    static K: OnceLock<Kernel> = OnceLock::new();
    K.get_or_init(|| load("debian-6.12.117"))
}

fn k61() -> &'static Kernel {
    static K: OnceLock<Kernel> = OnceLock::new();
    K.get_or_init(|| load("debian-6.1.0-56"))
}

fn k618() -> &'static Kernel {
    static K: OnceLock<Kernel> = OnceLock::new();
    K.get_or_init(|| load("live-6.18"))
}

fn kernels() -> [&'static Kernel; 3] {
    [k612(), k61(), k618()]
}

fn is_pseudo(module: &str) -> bool {
    module.starts_with("__builtin__") || module == "bpf"
}

impl Kernel {
    /// Whether a line answers addresses: by its kind and name, and for the
    /// core, by lying where the kernel names addresses.
    fn answers(&self, l: &Line) -> bool {
        may_answer(l)
            && (l.module.is_some() || self.named.iter().any(|&(s, e)| s <= l.addr && l.addr < e))
    }
}

fn answering(t: &SymbolTable) -> impl Iterator<Item = Symbol<'_>> {
    t.iter().take(t.answering_len())
}

fn show(s: &Symbol<'_>) -> String {
    format!("{s} at {:#x} ({})", s.start, s.kind)
}

#[test]
fn line_counts_match_the_files() {
    let expected = [
        ("debian-6.12.117", 239_296),
        ("debian-6.1.0-56", 145_511),
        ("live-6.18", 122_153),
    ];
    for (k, (dir, n)) in kernels().into_iter().zip(expected) {
        assert_eq!(k.dir, dir);
        assert_eq!(k.lines.len(), n, "{dir}: README's line count");
        assert_eq!(k.table.len(), k.lines.len(), "{dir}: one symbol a line");
        assert_eq!(k.table.info().skipped.count, 0, "{dir}: nothing skipped");
        assert!(k.table.info().skipped.first.is_empty());
        let want = k.lines.iter().filter(|l| k.answers(l)).count();
        assert_eq!(
            k.table.answering_len(),
            want,
            "{dir}: address-answering symbols"
        );
    }
    // README: 66 and 72 modules loaded; the modules with symbols are those of
    // /proc/modules, plus the pseudo-modules.
    for (k, n) in [(k612(), 66), (k61(), 72)] {
        let mut names: Vec<&str> = k.table.module_names().filter(|m| !is_pseudo(m)).collect();
        names.sort_unstable();
        let mut listed: Vec<&str> = k.extents.keys().map(String::as_str).collect();
        listed.sort_unstable();
        assert_eq!(listed.len(), n, "{}: /proc/modules entries", k.dir);
        assert_eq!(names, listed, "{}: modules with symbols", k.dir);
    }
    // The live capture has no loadable modules and one ftrace trampoline.
    assert_eq!(
        k618().lines.iter().filter(|l| l.module.is_some()).count(),
        1,
        "live-6.18 module lines"
    );
}

/// One pass over the address-answering symbols: every start looks up to
/// that symbol or an alias at that start (the first in input order, with
/// every alias in input order), and every offset inside a symbol gives that
/// symbol with that offset.
#[test]
fn starts_and_offsets_look_up_to_their_symbol() {
    for k in kernels() {
        let t = &k.table;
        let mut by_addr: HashMap<u64, Vec<&str>> = HashMap::new();
        for l in k.lines.iter().filter(|l| k.answers(l)) {
            by_addr.entry(l.addr).or_default().push(&l.name);
        }
        let mut last_start = None;
        let mut groups = 0;
        for s in answering(t) {
            let l = t
                .lookup(s.start)
                .unwrap_or_else(|| panic!("{}: no symbol at the start of {}", k.dir, show(&s)));
            assert_eq!(
                (l.start, l.offset, l.size),
                (s.start, 0, s.size),
                "{}: {}",
                k.dir,
                show(&s)
            );
            if last_start == Some(s.start) {
                assert!(
                    by_addr[&s.start].contains(&s.name),
                    "{}: {}",
                    k.dir,
                    show(&s)
                );
                continue;
            }
            last_start = Some(s.start);
            groups += 1;
            let aliases: Vec<&str> = t.aliases(s.start).map(|a| a.name).collect();
            assert_eq!(
                aliases, by_addr[&s.start],
                "{}: aliases({:#x})",
                k.dir, s.start
            );
            assert_eq!(aliases[0], l.name, "{}: the first alias answers", k.dir);
            assert_eq!(
                s.name, l.name,
                "{}: iter gives the first alias first",
                k.dir
            );
            for off in [1, s.size / 2, s.size.saturating_sub(1)] {
                if off == 0 || off >= s.size {
                    continue;
                }
                let got = t
                    .lookup(s.start + off)
                    .unwrap_or_else(|| panic!("{}: nothing at {} + {off:#x}", k.dir, show(&s)));
                assert_eq!(
                    (got.name, got.start, got.offset, got.size, got.module),
                    (l.name, s.start, off, s.size, s.module),
                    "{}: {} + {off:#x}",
                    k.dir,
                    show(&s)
                );
                assert_eq!(got.addr(), s.start + off);
            }
        }
        assert_eq!(groups, by_addr.len(), "{}: distinct starts", k.dir);
    }
}

#[test]
fn sizes_stay_within_the_caps_and_module_extents() {
    for k in kernels() {
        let mut bounded_by_extent = 0;
        for s in answering(&k.table) {
            let end = s.start + s.size;
            match s.module {
                None => assert!(s.size <= CORE_SIZE_CAP, "{}: {}", k.dir, show(&s)),
                Some(m) if is_pseudo(m) => {
                    assert!(s.size <= PAGE, "{}: {}", k.dir, show(&s));
                    assert!(
                        end <= (s.start | (PAGE - 1)) + 1,
                        "{}: crosses its page: {}",
                        k.dir,
                        show(&s)
                    );
                }
                Some(m) => match k.extents.get(m) {
                    Some(&(base, size)) if base <= s.start && s.start < base + size => {
                        bounded_by_extent += 1;
                        assert!(
                            end <= base + size,
                            "{}: {} ends past its module's /proc/modules extent [{base:#x}, {:#x})",
                            k.dir,
                            show(&s),
                            base + size
                        );
                    }
                    _ => assert!(s.size <= MODULE_SIZE_CAP, "{}: {}", k.dir, show(&s)),
                },
            }
        }
        if !k.extents.is_empty() {
            assert!(
                bounded_by_extent > 1000,
                "{}: only {bounded_by_extent} module symbols inside their extents",
                k.dir
            );
        }
    }
}

/// The last ext4 symbol inside ext4's `/proc/modules` extent ends at the next
/// symbol or at the extent's end, whichever comes first.
#[test]
fn last_symbol_of_a_module_text_ends_at_the_extent() {
    let k = k612();
    let (base, size) = k.extents["ext4"];
    // The highest-addressed answering ext4 symbol inside [base, base + size).
    let last = k
        .lines
        .iter()
        .filter(|l| l.module.as_deref() == Some("ext4") && k.answers(l))
        .filter(|l| base <= l.addr && l.addr < base + size)
        .max_by_key(|l| l.addr)
        .unwrap();
    let next_any = k
        .lines
        .iter()
        .filter(|l| k.answers(l) && l.addr > last.addr)
        .map(|l| l.addr)
        .min();
    let s = k.table.lookup(last.addr).unwrap();
    let want_end = next_any.map_or(base + size, |n| n.min(base + size));
    assert_eq!(s.start + s.size, want_end, "{}", show(&s));
}

#[test]
fn find_returns_every_occurrence() {
    for k in kernels() {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut core: HashMap<&str, usize> = HashMap::new();
        for l in &k.lines {
            *counts.entry(&l.name).or_default() += 1;
            if l.module.is_none() {
                *core.entry(&l.name).or_default() += 1;
            }
        }
        // Every repeated name, and a fifth of the others (debug builds are slow).
        for (&name, &n) in counts
            .iter()
            .filter(|&(name, &n)| n > 1 || name.len().is_multiple_of(5))
        {
            let found: Vec<Symbol<'_>> = k.table.find(name).collect();
            let n = if is_mapping_symbol(name) { 0 } else { n };
            assert_eq!(found.len(), n, "{}: find({name:?})", k.dir);
            assert!(found.iter().all(|s| s.name == name && s.offset == 0));
            assert!(
                found.windows(2).all(|w| w[0].start <= w[1].start),
                "{}: find({name:?}) not in address order",
                k.dir
            );
            // find_in(None, ..) where the core filter matters, and a sample.
            let core_n = core.get(name).copied().unwrap_or(0);
            if core_n != n || name.len().is_multiple_of(16) {
                let in_core = k.table.find_in(None, name).count();
                assert_eq!(in_core, core_n, "{}: find_in(None, {name:?})", k.dir);
            }
        }
        let repeated = counts
            .iter()
            .filter(|&(name, &n)| n > 1 && !is_mapping_symbol(name))
            .count();
        assert_eq!(
            k.table.repeated_names().len(),
            repeated,
            "{}: repeated names",
            k.dir
        );
        for (name, n) in k.table.repeated_names() {
            assert_eq!(counts[name], n, "{}: repeated {name:?}", k.dir);
        }
        assert_eq!(k.table.find("no_such_symbol_anywhere").count(), 0);
    }
    // README: 1,580 names repeat in the 6.12 core and 463 in modules.
    let k = k612();
    let mut core: HashMap<&str, usize> = HashMap::new();
    let mut modules: HashMap<&str, usize> = HashMap::new();
    for l in &k.lines {
        let map = if l.module.is_some() {
            &mut modules
        } else {
            &mut core
        };
        *map.entry(&l.name).or_default() += 1;
    }
    assert_eq!(core.values().filter(|&&n| n > 1).count(), 1580);
    assert_eq!(modules.values().filter(|&&n| n > 1).count(), 463);
    // The table agrees: core names found more than once in the core.
    let table_core_repeats = core
        .iter()
        .filter(|&(_, &n)| n > 1)
        .filter(|&(&name, _)| k.table.find_in(None, name).count() > 1)
        .count();
    assert_eq!(table_core_repeats, 1580);
    assert_eq!(
        k.lines
            .iter()
            .filter(|l| l.name.starts_with("__pfx_"))
            .count(),
        74_029
    );
}

#[test]
fn find_in_a_module() {
    let k = k612();
    let mut ext4: HashMap<&str, Vec<u64>> = HashMap::new();
    for l in k
        .lines
        .iter()
        .filter(|l| l.module.as_deref() == Some("ext4"))
    {
        ext4.entry(&l.name).or_default().push(l.addr);
    }
    assert!(ext4.len() > 2000, "ext4 has {} names", ext4.len());
    for (&name, addrs) in &ext4 {
        let found: Vec<Symbol<'_>> = k.table.find_in(Some("ext4"), name).collect();
        let mut want = addrs.clone();
        if is_mapping_symbol(name) {
            want.clear(); // `.LC14` and the like: never found
        }
        want.sort_unstable();
        let got: Vec<u64> = found.iter().map(|s| s.start).collect();
        assert_eq!(got, want, "find_in(ext4, {name:?})");
        assert!(found.iter().all(|s| s.module == Some("ext4")));
    }
    let w: Vec<Symbol<'_>> = k.table.find_in(Some("ext4"), "ext4_writepages").collect();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].start, 0xffffffffc02dcbf0);
    assert_eq!(k.table.find_in(None, "ext4_writepages").count(), 0);
    assert_eq!(k.table.find_in(Some("ext4"), "do_writepages").count(), 0);
    assert_eq!(k.table.find_in(None, "do_writepages").count(), 1);
    assert_eq!(
        k.table
            .find_in(Some("no_such_module"), "ext4_writepages")
            .count(),
        0
    );
    // The name carried by the most modules (mapping symbols aside): each
    // module finds its own.
    let mut modules_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for l in k.lines.iter().filter(|l| !is_mapping_symbol(&l.name)) {
        if let Some(m) = l.module.as_deref().filter(|m| !is_pseudo(m)) {
            modules_of.entry(&l.name).or_default().push(m);
        }
    }
    let (name, mods) = modules_of
        .iter()
        .max_by_key(|(n, m)| (m.len(), std::cmp::Reverse(**n)))
        .unwrap();
    assert!(mods.len() > 10, "{name} is in {} modules", mods.len());
    assert_eq!(
        k.table.find(name).count(),
        k.lines.iter().filter(|l| l.name == *name).count()
    );
    for m in mods {
        let want = mods.iter().filter(|x| *x == m).count();
        let got: Vec<Symbol<'_>> = k.table.find_in(Some(m), name).collect();
        assert_eq!(got.len(), want, "find_in({m}, {name})");
        assert!(got.iter().all(|s| s.module == Some(*m)));
    }
}

#[test]
fn text_address_and_kaslr_slide() {
    let cases = [
        (k612(), 0xffff_ffff_9b00_0000u64, 0x1a00_0000u64),
        (k61(), 0xffff_ffff_9b00_0000, 0x1a00_0000),
        (k618(), 0xffff_ffff_8100_0000, 0),
    ];
    for (k, text, slide) in cases {
        let from_file = k
            .lines
            .iter()
            .find(|l| l.name == "_text" && l.module.is_none())
            .unwrap()
            .addr;
        assert_eq!(from_file, text, "{}", k.dir);
        let t: Vec<Symbol<'_>> = k.table.find_in(None, "_text").collect();
        assert_eq!(t.len(), 1, "{}", k.dir);
        assert_eq!(t[0].start, text, "{}", k.dir);
        assert_eq!(t[0].start - X86_64_TEXT_LINK_ADDR, slide, "{}", k.dir);
        assert!(k.table.aliases(text).any(|s| s.name == "_text"));
    }
}

/// The vmlinuz-decoded map at link addresses, slid by 0x1a000000, gives the
/// table's core addresses; per-cpu `A` symbols are not slid.
#[test]
fn link_time_map_plus_slide_matches_the_table() {
    let k = k612();
    let map = parse_kallsyms(&xz_text(
        &data_dir().join("debian-6.12.117/vmlinuz-kallsyms.map.xz"),
    ));
    let core = k.lines.iter().filter(|l| l.module.is_none()).count();
    assert_eq!(map.len(), core);
    let text = map.iter().find(|l| l.name == "_text").unwrap().addr;
    assert_eq!(text, X86_64_TEXT_LINK_ADDR);
    let slide = 0x1a00_0000u64;
    for (i, l) in map.iter().enumerate().step_by(7) {
        let want = if matches!(l.kind, 'A' | 'a') {
            l.addr
        } else {
            l.addr + slide
        };
        assert!(
            k.table
                .find_in(None, &l.name)
                .any(|s| s.start == want && s.kind == l.kind),
            "map line {}: {} {} {:#x} (+ slide {want:#x}) not in the table",
            i + 1,
            l.kind,
            l.name,
            l.addr
        );
    }
}

#[test]
fn pseudo_modules_have_page_bounded_sizes() {
    for k in kernels() {
        let answering_addrs: Vec<u64> = {
            let mut v: Vec<u64> = k
                .lines
                .iter()
                .filter(|l| k.answers(l))
                .map(|l| l.addr)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let pseudo: Vec<&Line> = k
            .lines
            .iter()
            .filter(|l| l.module.as_deref().is_some_and(is_pseudo))
            .collect();
        assert!(!pseudo.is_empty(), "{}", k.dir);
        let mut seen_ftrace = false;
        let mut seen_bpf = false;
        for l in pseudo {
            let m = l.module.as_deref().unwrap();
            let page_end = (l.addr | (PAGE - 1)) + 1;
            let next = answering_addrs[answering_addrs.partition_point(|&a| a <= l.addr)..]
                .first()
                .copied()
                .unwrap_or(u64::MAX);
            let size = next.min(page_end) - l.addr;
            let reference = format!("{}+0x0/{size:#x} [{m}]", l.name);
            assert_eq!(
                k.table.resolve(&reference).unwrap(),
                l.addr,
                "{}: {reference}",
                k.dir
            );
            let s = k.table.lookup(l.addr + size - 1).unwrap();
            assert_eq!(
                s.to_string(),
                format!("{}+{:#x}/{size:#x} [{m}]", l.name, size - 1)
            );
            assert!(
                k.table.lookup(page_end).is_none_or(|s| s.start >= page_end),
                "{}",
                k.dir
            );
            seen_ftrace |= l.name == "ftrace_trampoline";
            seen_bpf |= m == "bpf";
        }
        assert!(seen_ftrace, "{}: no ftrace_trampoline", k.dir);
        if k.dir != "live-6.18" {
            assert!(seen_bpf, "{}: no [bpf] symbol", k.dir);
        }
    }
    // Spelled out for 6.12.
    let t = &k612().table;
    let f = t.lookup(0xffffffffc1200010).unwrap();
    assert_eq!(
        f.to_string(),
        "ftrace_trampoline+0x10/0x1000 [__builtin__ftrace]"
    );
    assert_eq!(
        t.resolve("ftrace_trampoline+0x10/0x1000 [__builtin__ftrace]")
            .unwrap(),
        0xffffffffc1200010
    );
    let b = t.lookup(0xffffffffc1400650).unwrap();
    assert_eq!(
        b.to_string(),
        "bpf_prog_4baca2ea374fa69c_sd_devices+0x10/0x9c0 [bpf]"
    );
    let b = t.lookup(0xffffffffc1400000).unwrap();
    assert_eq!(
        b.to_string(),
        "bpf_prog_33708748b05a61dd_sd_devices+0x0/0x140 [bpf]"
    );
    assert!(t.lookup(0xffffffffc1401000).is_none());
    assert_eq!(
        t.lookup(0xffffffffc1600fff).unwrap().to_string(),
        "kprobe_insn_page+0xfff/0x1000 [__builtin__kprobes]"
    );
    assert!(t.lookup(0xffffffffc1601000).is_none());
    let live = &k618().table;
    assert_eq!(
        live.lookup(0xffffffffc0203000).unwrap().to_string(),
        "ftrace_trampoline+0x0/0x1000 [__builtin__ftrace]"
    );
}

#[test]
fn no_symbol_at_zero_or_the_top() {
    for k in kernels() {
        assert!(k.table.lookup(0).is_none(), "{}", k.dir);
        assert!(k.table.lookup(u64::MAX).is_none(), "{}", k.dir);
        assert_eq!(k.table.aliases(0).count(), 0, "{}", k.dir);
        // Per-cpu symbols at 0 are still found by name.
        if k.dir != "live-6.18" {
            assert_eq!(k.table.find("fixed_percpu_data").next().unwrap().start, 0);
            assert_eq!(
                k.table.lookup_absolute(0).unwrap().name,
                "fixed_percpu_data"
            );
        }
    }
}

/// The `.xz` file and a plain copy give the same table, read whole or (6.12)
/// streamed in chunks as from procfs, parsed on one thread or in parts.
#[test]
fn xz_and_plain_copies_agree() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for k in kernels() {
        let text = xz_text(&data_dir().join(k.dir).join("kallsyms.xz"));
        let plain = tmp.join(format!(
            "real-data-{}-{}.kallsyms",
            k.dir,
            std::process::id()
        ));
        std::fs::write(&plain, &text).unwrap();
        let opts = LoadOptions {
            strict: true,
            modules: (!k.extents.is_empty()).then(|| k.table.module_map().clone()),
            ..LoadOptions::default()
        };
        let mut copies = vec![ksym::load_file(&plain, &opts).unwrap()];
        // Read in 64 KiB chunks as from procfs (the largest file only: debug
        // builds are slow).
        if k.dir == "debian-6.12.117" {
            copies.push(ksym::load_streaming(&plain, &opts, None).unwrap());
        }
        // Parsed on one thread, and in three parts on three.
        for threads in [1, 3] {
            let opts = LoadOptions {
                threads: Some(threads),
                ..opts.clone()
            };
            copies.push(ksym::parse_bytes(k.dir, text.as_bytes(), &opts).unwrap());
        }
        std::fs::remove_file(&plain).ok();
        for other in &copies {
            assert_eq!(other.len(), k.table.len(), "{}", k.dir);
            assert_eq!(other.answering_len(), k.table.answering_len(), "{}", k.dir);
            assert_eq!(other.info().format, k.table.info().format, "{}", k.dir);
            assert!(
                other.iter().eq(k.table.iter()),
                "{}: symbols differ between the .xz and the plain copy",
                k.dir
            );
        }
    }
}

// --- The oops -----------------------------------------------------------

/// A `func+0xOFF/0xSIZE [mod]` reference, parsed by the test.
#[derive(Debug)]
struct Ref {
    text: String,
    name: String,
    offset: u64,
    size: u64,
    module: Option<String>,
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

fn parse_ref(text: &str) -> Option<Ref> {
    let text = text.trim();
    let (sym, module) = match text.split_once(" [") {
        Some((s, m)) => (s, Some(m.strip_suffix(']')?.split(' ').next()?.to_string())),
        None => (text, None),
    };
    let (name, rest) = sym.rsplit_once('+')?;
    let (off, size) = rest.split_once('/')?;
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    Some(Ref {
        text: text.to_string(),
        name: name.to_string(),
        offset: hex(off)?,
        size: hex(size)?,
        module,
    })
}

/// Every reference of an oops: RIP lines and Call Trace frames (with or
/// without `? `).
fn oops_refs(oops: &str) -> Vec<Ref> {
    let mut refs = Vec::new();
    for line in oops.lines() {
        // Drop the `[  315.447328] ` timestamp.
        let body = match line.trim_start().strip_prefix('[') {
            Some(rest) => rest.split_once("] ").map_or(rest, |(_, b)| b),
            None => line,
        };
        let candidate = if let Some(rip) = body.strip_prefix("RIP: ") {
            // `RIP: 0010:func+0x23/0x90 [ext4]`
            rip.split_once(':').map(|(_, r)| r)
        } else {
            let b = body.trim();
            Some(b.strip_prefix("? ").unwrap_or(b))
        };
        if let Some(r) = candidate.and_then(parse_ref) {
            refs.push(r);
        }
    }
    refs
}

#[test]
fn the_oops_matches_the_6_12_table() {
    let oops = std::fs::read_to_string(data_dir().join("oops/oops-6.12-ext4.txt")).unwrap();
    let refs = oops_refs(&oops);
    let with_refs = oops
        .lines()
        .filter(|l| l.contains("+0x") && l.contains("/0x"))
        .count();
    assert_eq!(refs.len(), with_refs, "every reference line was parsed");
    assert!(refs.len() >= 20, "{} references", refs.len());
    assert!(
        refs.iter()
            .filter(|r| r.module.as_deref() == Some("ext4"))
            .count()
            >= 6
    );
    let t = &k612().table;
    for r in &refs {
        let addr = t
            .resolve(&r.text)
            .unwrap_or_else(|e| panic!("resolve({:?}): {e}", r.text));
        assert!(r.offset < r.size, "{:?}", r.text);
        let s = t
            .lookup(addr)
            .unwrap_or_else(|| panic!("nothing at {addr:#x} for {:?}", r.text));
        assert_eq!(
            (s.name, s.offset, s.size, s.module),
            (r.name.as_str(), r.offset, r.size, r.module.as_deref()),
            "{:?} -> {addr:#x}",
            r.text
        );
        assert_eq!(format!("{s}"), r.text, "%pS at {addr:#x}");
    }
    // The RIP, by hand.
    let rip = t.resolve("mpage_submit_folio+0x23/0x90 [ext4]").unwrap();
    assert_eq!(rip, 0xffffffffc02d46b0 + 0x23);
}

// --- The live kernel ---------------------------------------------------------

/// `/proc/<pid>/stack` frames on this machine (the kernel's own `%pB`, so
/// the size is the kernel's) resolve against `load_live`, with the same
/// name, offset and size.
#[test]
fn live_stacks_resolve_with_the_kernels_sizes() {
    let table = match ksym::load_live(&LoadOptions::default()) {
        Ok(t) => t,
        Err(e @ (Error::Io { .. } | Error::Redacted { .. })) => {
            println!("skipped: the live /proc/kallsyms is not usable here: {e}");
            return;
        }
        Err(e) => panic!("load_live: {e}"),
    };
    let mut refs: Vec<String> = Vec::new();
    let mut readable = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut stacks = vec![entry.path().join("stack")];
        if let Ok(tasks) = std::fs::read_dir(entry.path().join("task")) {
            stacks.extend(tasks.flatten().map(|t| t.path().join("stack")));
        }
        for stack in stacks {
            // Processes come and go; unreadable ones are skipped.
            let Ok(text) = std::fs::read_to_string(&stack) else {
                continue;
            };
            readable += 1;
            for line in text.lines() {
                // `[<0>] do_epoll_wait+0x4b6/0x5d0`
                if let Some((_, frame)) = line.split_once("] ") {
                    refs.push(frame.trim().to_string());
                }
            }
        }
    }
    refs.sort();
    refs.dedup();
    if refs.is_empty() {
        println!("skipped: no /proc/*/stack frames readable ({readable} stacks read)");
        return;
    }
    let mut checked = 0;
    for text in &refs {
        let r = parse_ref(text).unwrap_or_else(|| panic!("frame {text:?} is not func+off/size"));
        // `%pB` names `addr - 1` and prints its offset plus one.
        assert!(r.offset >= 1 && r.offset <= r.size, "{text:?}");
        let check = |start_plus_off: u64| {
            let s = table
                .lookup(start_plus_off - 1)
                .unwrap_or_else(|| panic!("{text:?}: nothing at {:#x}", start_plus_off - 1));
            assert_eq!(
                (s.name, s.offset + 1, s.size, s.module),
                (r.name.as_str(), r.offset, r.size, r.module.as_deref()),
                "{text:?}: the kernel's size differs from ours"
            );
        };
        match table.resolve(text) {
            Ok(addr) => check(addr),
            Err(Error::Resolve {
                kind: ResolveErrorKind::Ambiguous(starts),
                ..
            }) => {
                // Several same-named symbols of that size: each fits.
                for start in starts {
                    check(start + r.offset);
                }
            }
            Err(e) => panic!("{e}"),
        }
        checked += 1;
    }
    println!("checked {checked} distinct live stack frames from {readable} stacks");
}

// --- /sys/module/<m>/sections -------------------------------------------

/// A root with the kernel's `proc/modules`, its `release` in
/// `proc/sys/kernel/osrelease`, and a `sys/module` tree made from its module
/// layout table: one section at the start of each area (`.text`, `.rodata`,
/// `.data`, `.data..ro_after_init`) and a second text section inside large
/// text areas, as the loader would place them. Returns the root and the
/// layout's `(module, area, start, size)`.
fn fake_sys_module(dir: &str, release: &str) -> (PathBuf, Vec<(String, String, u64, u64)>) {
    let text = std::fs::read_to_string(data_dir().join(dir).join("module-layout.tsv")).unwrap();
    let layout: Vec<(String, String, u64, u64)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            (f[0].to_string(), f[1].to_string(), hex(f[2]), hex(f[3]))
        })
        .collect();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sys-module-{dir}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
    std::fs::copy(
        data_dir().join(dir).join("proc-modules"),
        root.join("proc/modules"),
    )
    .unwrap();
    std::fs::write(
        root.join("proc/sys/kernel/osrelease"),
        format!("{release}\n"),
    )
    .unwrap();
    for (module, area, start, size) in &layout {
        let section = match area.as_str() {
            "text" => ".text",
            "rodata" => ".rodata",
            "data" => ".data",
            "ro_after_init" => ".data..ro_after_init",
            _ => continue, // pseudo-modules: no sysfs directory
        };
        if *size == 0 {
            continue; // sysfs lists no empty section
        }
        let sections = root.join("sys/module").join(module).join("sections");
        std::fs::create_dir_all(&sections).unwrap();
        std::fs::write(sections.join(section), format!("0x{start:016x}\n")).unwrap();
        if section == ".text" && *size > 0x2000 {
            let inner = start + size / 2;
            std::fs::write(sections.join(".text.unlikely"), format!("0x{inner:016x}\n")).unwrap();
        }
    }
    (root, layout)
}

/// The text areas `/sys/module/*/sections` gives are never smaller than the
/// loader's real ones, and equal them where the next area follows at once
/// (6.1: one block; 6.12: after a guard page); module text symbols then get
/// the sizes the exact layout gives them.
#[test]
fn sysfs_sections_bound_module_text() {
    for (dir, release) in [
        ("debian-6.12.117", "6.12.117+deb12-amd64"),
        ("debian-6.1.0-56", "6.1.0-56-amd64"),
    ] {
        let (root, layout) = fake_sys_module(dir, release);
        let base = data_dir().join(dir);
        let mut sysfs = ksym::source::read_live_modules(&root).unwrap().unwrap();
        // Unreadable or missing trees leave the map as it was.
        sysfs
            .add_sysfs_sections(&root.join("missing"), true)
            .unwrap();
        let mut exact_map = ModuleMap::default();
        exact_map
            .add_text(
                "layout",
                &std::fs::read(base.join("module-layout.tsv")).unwrap(),
            )
            .unwrap();
        let (mut exact, mut looser) = (0, 0);
        for (module, area, start, size) in &layout {
            if area != "text" || *size == 0 || sysfs.get(module).is_none() {
                continue;
            }
            let got = sysfs
                .get(module)
                .unwrap()
                .text_area
                .clone()
                .unwrap_or_else(|| panic!("{dir}: no text area for {module}"));
            assert_eq!(got.start, *start, "{dir} {module}");
            assert!(
                got.end() >= start + size,
                "{dir} {module}: {got:?} ends before the real text end {:#x}",
                start + size
            );
            if got.end() == start + size {
                exact += 1;
            } else {
                looser += 1;
            }
        }
        // Every area here follows its module's text at once (after a guard
        // page on 6.12): all come out exact.
        assert!(
            exact > 60 && looser == 0,
            "{dir}: {exact} exact text areas, {looser} looser"
        );
        // Module text symbols: sized as with the exact layout wherever the
        // text area came out exact.
        let kallsyms = base.join("kallsyms.xz");
        let with_sysfs = ksym::load_file(
            &kallsyms,
            &LoadOptions {
                modules: Some(sysfs.clone()),
                ..LoadOptions::default()
            },
        )
        .unwrap();
        let with_layout = ksym::load_file(
            &kallsyms,
            &LoadOptions {
                modules: Some(exact_map),
                ..LoadOptions::default()
            },
        )
        .unwrap();
        let mut same = 0;
        for (a, b) in with_sysfs.iter().zip(with_layout.iter()) {
            assert_eq!((a.name, a.start), (b.name, b.start));
            let Some(m) = a.module else { continue };
            let Some(area) = sysfs.get(m).and_then(|i| i.text_area.clone()) else {
                continue;
            };
            if !matches!(a.kind, 't' | 'T') || a.start < area.start || a.start >= area.end() {
                continue;
            }
            let real_end = layout
                .iter()
                .find(|l| l.0 == m && l.1 == "text")
                .map(|l| l.2 + l.3)
                .unwrap();
            if area.end() == real_end {
                assert_eq!(a.size, b.size, "{dir}: {a:?} against {b:?}");
                same += 1;
            } else {
                assert!(a.size >= b.size, "{dir}: {a:?} against {b:?}");
            }
        }
        assert!(same > 1000, "{dir}: {same} module text symbols compared");
        std::fs::remove_dir_all(&root).ok();
    }
}
