//! ksym against blazesym (0.2.7, kallsyms only), side by side in one run on
//! the same inputs:
//!
//! 1. the live `/proc/kallsyms`,
//! 2. a plain file copy of it,
//! 3. the Debian 6.12 data (`kallsyms.xz` decompressed to a plain file, with
//!    its `proc-modules` given to ksym as module extents);
//! 4. the same of the Debian arm64 guests (6.1 and 6.12, `*-cloud-arm64`).
//!
//! Measured per input: load time (median of several runs) against a plain
//! `std::fs::read` of the same bytes, ksym's parse throughput on bytes in
//! memory, ns per address lookup over the same random addresses in the core
//! kernel text, heap bytes per symbol (a counting global allocator), and name
//! lookups per second. Run with `cargo bench -p ksym --bench compare`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use blazesym::symbolize::source::{Kernel, Source};
use blazesym::symbolize::{Input as BlazeInput, Symbolized, Symbolizer};
use blazesym::MaybeDefault;
use ksym::{LoadOptions, ModuleMap, SymbolTable};

mod common;
use common::{median, time, Rng};

// ---------------------------------------------------------------------------
// A heap that counts: live bytes always, the peak only while asked.

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static TRACK_PEAK: AtomicBool = AtomicBool::new(false);

fn grew(size: usize) {
    let now = CURRENT.fetch_add(size, Relaxed) + size;
    if TRACK_PEAK.load(Relaxed) {
        PEAK.fetch_max(now, Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live_bytes() -> usize {
    CURRENT.load(Relaxed)
}

/// Runs `f` and returns its result with the live bytes it left behind and
/// the peak of live bytes while it ran, both relative to the start.
fn heap_of<T>(f: impl FnOnce() -> T) -> (T, isize, usize) {
    let before = live_bytes();
    PEAK.store(before, Relaxed);
    TRACK_PEAK.store(true, Relaxed);
    let value = f();
    TRACK_PEAK.store(false, Relaxed);
    let after = live_bytes();
    let peak = PEAK.load(Relaxed).saturating_sub(before);
    (value, after as isize - before as isize, peak)
}

// ---------------------------------------------------------------------------
// Small helpers.

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

const LOAD_RUNS: usize = 11;
const LOOKUPS: usize = 1_000_000;
const LOOKUP_RUNS: usize = 5;
const SINGLE_LOOKUPS: usize = 200_000;
const NAME_LOOKUPS: usize = 200_000;

// ---------------------------------------------------------------------------
// Inputs.

struct Input {
    label: &'static str,
    /// Where the symbol text is read from (`/proc/kallsyms` for the live one).
    path: PathBuf,
    live: bool,
    modules: Option<ModuleMap>,
}

impl Input {
    fn opts(&self) -> LoadOptions {
        LoadOptions {
            modules: self.modules.clone(),
            ..LoadOptions::default()
        }
    }

    fn ksym_load(&self) -> SymbolTable {
        let r = if self.live {
            ksym::load_live(&self.opts())
        } else {
            ksym::load_file(&self.path, &self.opts())
        };
        r.unwrap_or_else(|e| panic!("ksym failed to load {}: {e}", self.path.display()))
    }

    fn blaze_source(&self) -> Source<'static> {
        Source::Kernel(Kernel {
            kallsyms: MaybeDefault::Some(self.path.clone()),
            vmlinux: MaybeDefault::None,
            kaslr_offset: Some(0),
            debug_syms: false,
            ..Default::default()
        })
    }
}

fn blaze_symbolizer() -> Symbolizer {
    Symbolizer::builder().enable_demangling(false).build()
}

/// A new symbolizer and its first symbolization (which loads kallsyms).
fn blaze_first(src: &Source<'_>, addr: u64) -> (Symbolizer, bool) {
    let s = blaze_symbolizer();
    let ok = matches!(
        s.symbolize_single(src, BlazeInput::AbsAddr(addr))
            .expect("blazesym symbolizes"),
        Symbolized::Sym(_)
    );
    (s, ok)
}

// ---------------------------------------------------------------------------
// The result table.

struct Row {
    metric: String,
    input: &'static str,
    ksym: String,
    blaze: String,
    ratio: String,
}

fn row(
    rows: &mut Vec<Row>,
    metric: &str,
    input: &'static str,
    ksym: String,
    blaze: String,
    ratio: String,
) {
    rows.push(Row {
        metric: metric.to_string(),
        input,
        ksym,
        blaze,
        ratio,
    });
}

fn ratio(blaze: f64, ksym: f64) -> String {
    if ksym > 0.0 {
        format!("{:.2}x", blaze / ksym)
    } else {
        "-".to_string()
    }
}

fn print_table(rows: &[Row]) {
    let head = [
        "metric",
        "input",
        "ksym",
        "blazesym",
        "ratio (blazesym/ksym)",
    ];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.metric.clone(),
                r.input.to_string(),
                r.ksym.clone(),
                r.blaze.clone(),
                r.ratio.clone(),
            ]
        })
        .collect();
    common::print_table(head, 2, &cells);
}

// ---------------------------------------------------------------------------
// The measurements of one input.

fn bench_input(inp: &Input, rows: &mut Vec<Row>) {
    let label = inp.label;
    println!("\n=== {label}: {} ===", inp.path.display());
    let sample = std::fs::read(&inp.path).expect("read input");
    let lines = memchr_count(&sample);
    let mb = sample.len() as f64 / 1e6;
    println!("{} bytes, {lines} lines", sample.len());

    // The core text bounds, and the addresses both libraries will look up.
    let table = inp.ksym_load();
    let stext = table.find("_stext").next().expect("_stext").start;
    let etext = table.find("_etext").next().expect("_etext").start;
    assert!(stext < etext);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let addrs: Vec<u64> = (0..LOOKUPS)
        .map(|_| stext + rng.below(etext - stext))
        .collect();
    println!(
        "ksym: {} symbols ({} answer addresses); core text {stext:#x}..{etext:#x}",
        table.len(),
        table.answering_len()
    );
    let src = inp.blaze_source();

    // --- Load: ksym, plain read, blazesym's first symbolization (interleaved).
    let (mut t_ksym, mut t_read, mut t_blaze) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..LOAD_RUNS {
        let (t, d) = time(|| inp.ksym_load());
        drop(black_box(t));
        t_ksym.push(d);
        let (b, d) = time(|| std::fs::read(&inp.path).expect("read"));
        drop(black_box(b));
        t_read.push(d);
        let ((s, ok), d) = time(|| blaze_first(&src, addrs[0]));
        assert!(ok, "blazesym resolves {:#x}", addrs[0]);
        drop(black_box(s));
        t_blaze.push(d);
    }
    let (k, r, b) = (median(t_ksym), median(t_read), median(t_blaze));
    println!(
        "load (median of {LOAD_RUNS}): ksym {:.2} ms, fs::read {:.2} ms, blazesym first symbolization {:.2} ms",
        ms(k),
        ms(r),
        ms(b)
    );
    let what = if inp.live {
        "load ms (ksym::load_live)"
    } else {
        "load ms (ksym::load_file)"
    };
    row(
        rows,
        what,
        label,
        format!("{:.2}", ms(k)),
        format!("{:.2}", ms(b)),
        ratio(ms(b), ms(k)),
    );
    row(
        rows,
        "plain fs::read ms",
        label,
        format!("{:.2}", ms(r)),
        format!("{:.2}", ms(r)),
        "-".into(),
    );
    let (kr, br) = (ms(k) / ms(r), ms(b) / ms(r));
    row(
        rows,
        "load / plain read",
        label,
        format!("{kr:.2}x"),
        format!("{br:.2}x"),
        ratio(br, kr),
    );

    // --- Parse throughput on bytes already in memory.
    let mut t_parse = Vec::new();
    for _ in 0..LOAD_RUNS {
        let (t, d) = time(|| ksym::parse_bytes(label, &sample, &inp.opts()).expect("parse"));
        drop(black_box(t));
        t_parse.push(d);
    }
    let p = median(t_parse);
    let mbps = mb / p.as_secs_f64();
    println!("ksym::parse_bytes: {:.2} ms, {mbps:.0} MB/s", ms(p));
    row(
        rows,
        "parse MB/s (bytes in memory)",
        label,
        format!("{mbps:.0}"),
        "n/a (no API)".into(),
        "-".into(),
    );
    drop(sample);

    // --- Address lookups: the same 1M addresses, runs of both interleaved.
    let symbolizer = blaze_symbolizer();
    // Warm: the first call loads kallsyms into the symbolizer's cache.
    let first = symbolizer
        .symbolize(&src, BlazeInput::AbsAddr(&addrs[..1]))
        .expect("blazesym");
    drop(first);
    let (mut t_k, mut t_b) = (Vec::new(), Vec::new());
    let (mut k_resolved, mut b_resolved) = (0usize, 0usize);
    for _ in 0..LOOKUP_RUNS {
        let (n, d) = time(|| {
            let mut n = 0usize;
            for &a in &addrs {
                if let Some(s) = black_box(table.lookup(black_box(a))) {
                    n += 1;
                    black_box(s.name.len());
                }
            }
            n
        });
        k_resolved = n;
        t_k.push(d);
        // Timed: the call, counting the answers and dropping them (each
        // answer owns its name: the kernel source is not a cached resolver).
        let (n, d) = time(|| {
            let res = symbolizer
                .symbolize(&src, BlazeInput::AbsAddr(black_box(&addrs)))
                .expect("blazesym");
            res.iter()
                .filter(|s| matches!(s, Symbolized::Sym(_)))
                .count()
        });
        b_resolved = n;
        t_b.push(d);
    }
    let k_ns = median(t_k).as_nanos() as f64 / LOOKUPS as f64;
    let b_ns = median(t_b).as_nanos() as f64 / LOOKUPS as f64;

    // Per-address calls, on a prefix of the same list.
    let (b1_resolved, d) = time(|| {
        addrs[..SINGLE_LOOKUPS]
            .iter()
            .filter(|&&a| {
                matches!(
                    symbolizer.symbolize_single(&src, BlazeInput::AbsAddr(black_box(a))),
                    Ok(Symbolized::Sym(_))
                )
            })
            .count()
    });
    let b1_ns = d.as_nanos() as f64 / SINGLE_LOOKUPS as f64;

    // Do they agree? Names of the same addresses, untimed.
    let res = symbolizer
        .symbolize(&src, BlazeInput::AbsAddr(&addrs))
        .expect("blazesym");
    let mut same_name = 0usize;
    let mut first_diff = None;
    for (&a, r) in addrs.iter().zip(&res) {
        let k = table.lookup(a).map(|s| s.name);
        let b = r.as_sym().map(|s| &*s.name);
        if k == b {
            same_name += 1;
        } else if first_diff.is_none() {
            first_diff = Some(format!("{a:#x}: ksym {k:?}, blazesym {b:?}"));
        }
    }
    drop(res);
    println!(
        "lookups over {LOOKUPS} addresses: ksym {k_ns:.1} ns ({k_resolved} resolved), \
         blazesym batch {b_ns:.1} ns ({b_resolved} resolved), \
         blazesym single {b1_ns:.1} ns ({b1_resolved}/{SINGLE_LOOKUPS} resolved)"
    );
    println!(
        "same name from both: {same_name}/{LOOKUPS}{}",
        first_diff.map_or(String::new(), |d| format!("; first difference {d}"))
    );
    let slack = LOOKUPS / 100;
    assert!(
        k_resolved.abs_diff(b_resolved) <= slack,
        "resolved counts differ: ksym {k_resolved}, blazesym {b_resolved}"
    );
    assert!(
        b_resolved > LOOKUPS - slack,
        "blazesym resolved only {b_resolved}"
    );
    row(
        rows,
        "resolved of 1M core-text addrs",
        label,
        k_resolved.to_string(),
        b_resolved.to_string(),
        ratio(b_resolved as f64, k_resolved as f64),
    );
    row(
        rows,
        "ns/lookup (blazesym: batch)",
        label,
        format!("{k_ns:.1}"),
        format!("{b_ns:.1}"),
        ratio(b_ns, k_ns),
    );
    row(
        rows,
        "ns/lookup (blazesym: single)",
        label,
        format!("{k_ns:.1}"),
        format!("{b1_ns:.1}"),
        ratio(b1_ns, k_ns),
    );
    drop(symbolizer);
    drop(table);

    // --- Heap retained per symbol (input bytes dropped).
    let (table, k_bytes, k_peak) = heap_of(|| inp.ksym_load());
    let heap_plain = table.heap_bytes();
    let ((), k_index, _) = heap_of(|| {
        black_box(table.find("_stext").next());
    });
    let heap_indexed = table.heap_bytes();
    let k_total = k_bytes + k_index;
    let ((symbolizer, ok), b_bytes, b_peak) = heap_of(|| blaze_first(&src, addrs[0]));
    assert!(ok);
    let per = |b: isize| b as f64 / lines as f64;
    println!(
        "heap retained: ksym {k_bytes} B ({:.1} B/line; heap_bytes() {heap_plain}), \
         with name index {k_total} B ({:.1} B/line; heap_bytes() {heap_indexed}); \
         blazesym {b_bytes} B ({:.1} B/line)",
        per(k_bytes),
        per(k_total),
        per(b_bytes)
    );
    println!(
        "peak heap while loading: ksym {:.1} MB, blazesym {:.1} MB",
        k_peak as f64 / 1e6,
        b_peak as f64 / 1e6
    );
    row(
        rows,
        "heap B/symbol (counted)",
        label,
        format!("{:.1}", per(k_bytes)),
        format!("{:.1}", per(b_bytes)),
        ratio(per(b_bytes), per(k_bytes)),
    );
    row(
        rows,
        "heap B/symbol +name index",
        label,
        format!("{:.1}", per(k_total)),
        format!("{:.1}", per(b_bytes)),
        ratio(per(b_bytes), per(k_total)),
    );
    row(
        rows,
        "heap_bytes()/symbol (ksym, +index)",
        label,
        format!(
            "{:.1} ({:.1})",
            heap_plain as f64 / lines as f64,
            heap_indexed as f64 / lines as f64
        ),
        "-".into(),
        "-".into(),
    );
    row(
        rows,
        "peak heap MB during load",
        label,
        format!("{:.1}", k_peak as f64 / 1e6),
        format!("{:.1}", b_peak as f64 / 1e6),
        ratio(b_peak as f64, k_peak as f64),
    );
    drop(symbolizer);

    // --- Name lookups.
    // (mapping symbols, `.L*` and `$x`, answer no name lookup)
    let mut names: Vec<String> = table
        .iter()
        .filter(|s| !s.name.starts_with(".L") && !s.name.starts_with("L0"))
        .filter(|s| !s.name.starts_with('$'))
        .map(|s| s.name.to_string())
        .collect();
    for i in (1..names.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        names.swap(i, j);
    }
    let (found, d) = time(|| {
        let mut found = 0usize;
        for name in names.iter().cycle().take(NAME_LOOKUPS) {
            found += table.find(black_box(name)).next().is_some() as usize;
        }
        found
    });
    assert_eq!(found, NAME_LOOKUPS, "every name is found");
    let per_s = NAME_LOOKUPS as f64 / d.as_secs_f64();
    println!(
        "name lookups: ksym {:.0} ns each, {:.2} M/s over {NAME_LOOKUPS} shuffled names \
         of {}; blazesym 0.2.7: no name lookup for kernel sources \
         (inspect::Source has only Breakpad and Elf)",
        d.as_nanos() as f64 / NAME_LOOKUPS as f64,
        per_s / 1e6,
        names.len()
    );
    row(
        rows,
        "name lookups M/s",
        label,
        format!("{:.2}", per_s / 1e6),
        "n/a (unsupported)".into(),
        "-".into(),
    );
}

/// Start-up on the live kernel: cold (read + build + store in the snapshot
/// cache) against warm (cache hit: map the snapshot, first lookup) against a
/// plain read of /proc/kallsyms and blazesym's first symbolization; then the
/// resident memory of the mapped snapshot after a million lookups.
fn bench_start(rows: &mut Vec<Row>) {
    const INPUT: &str = "live start-up";
    const RUNS: usize = 21;
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("ksym-bench-{pid}-cache"));
    let config = || {
        ksym::live::LiveConfig::new()
            .watch(false)
            .cache_dir(Some(dir.clone()))
    };
    let probe = 0xffff_ffff_8100_0000u64;
    let plain = median(
        (0..RUNS)
            .map(|_| time(|| std::fs::read(ksym::source::PROC_KALLSYMS).expect("read")).1)
            .collect(),
    );
    let cold = median(
        (0..RUNS)
            .map(|_| {
                let _ = std::fs::remove_dir_all(&dir);
                let (syms, t) = time(|| {
                    let s = ksym::live::KernelSymbols::open(config()).expect("cold open");
                    std::hint::black_box(s.lookup_with(probe, |s| s.is_some()));
                    s
                });
                assert!(matches!(
                    syms.cache_outcome(),
                    ksym::cache::CacheOutcome::Stored(_)
                ));
                t
            })
            .collect(),
    );
    let warm = median(
        (0..RUNS * 5)
            .map(|_| {
                let (syms, t) = time(|| {
                    let s = ksym::live::KernelSymbols::open(config()).expect("warm open");
                    std::hint::black_box(s.lookup_with(probe, |s| s.is_some()));
                    s
                });
                assert!(matches!(
                    syms.cache_outcome(),
                    ksym::cache::CacheOutcome::Hit(_)
                ));
                t
            })
            .collect(),
    );
    let src = Source::Kernel(Kernel {
        kallsyms: MaybeDefault::Some(PathBuf::from(ksym::source::PROC_KALLSYMS)),
        vmlinux: MaybeDefault::None,
        kaslr_offset: Some(0),
        debug_syms: false,
        ..Default::default()
    });
    let blaze = median(
        (0..RUNS)
            .map(|_| time(|| blaze_first(&src, probe)).1)
            .collect(),
    );
    row(
        rows,
        "plain read ms",
        INPUT,
        format!("{:.2}", ms(plain)),
        format!("{:.2}", ms(plain)),
        "-".into(),
    );
    row(
        rows,
        "cold start ms (read+build+store)",
        INPUT,
        format!("{:.2}", ms(cold)),
        format!("{:.2}", ms(blaze)),
        ratio(ms(blaze), ms(cold)),
    );
    row(
        rows,
        "warm start ms (cache hit+lookup)",
        INPUT,
        format!("{:.3}", ms(warm)),
        format!("{:.2}", ms(blaze)),
        ratio(ms(blaze), ms(warm)),
    );
    row(
        rows,
        "plain read / warm start",
        INPUT,
        format!("{:.0}x", ms(plain) / ms(warm)),
        "-".into(),
        "-".into(),
    );

    // Resident memory of the mapped snapshot after a million random lookups.
    let syms = ksym::live::KernelSymbols::open(config()).expect("warm open");
    let ksym::cache::CacheOutcome::Hit(file) = syms.cache_outcome() else {
        panic!("expected a cache hit");
    };
    let table = syms.snapshot();
    let (text_lo, text_hi) = (
        table.find("_stext").next().map_or(probe, |s| s.start),
        table.find("_etext").next().map_or(probe + 1, |s| s.start),
    );
    let mut rng = Rng(0x5eed);
    let mut hits = 0usize;
    for _ in 0..LOOKUPS {
        let a = text_lo + rng.next() % (text_hi - text_lo);
        hits += usize::from(table.lookup(a).is_some());
    }
    std::hint::black_box(hits);
    let size_kb = std::fs::metadata(&file).map_or(0, |m| m.len() / 1024);
    let rss_kb = mapped_rss_kb(&file);
    row(
        rows,
        "mapped snapshot: file KiB / resident KiB",
        INPUT,
        format!(
            "{size_kb} / {}",
            rss_kb.map_or("?".to_string(), |r| r.to_string())
        ),
        "-".into(),
        "-".into(),
    );
    drop(table);
    drop(syms);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The resident size of the mapping of `file` in this process, from smaps.
fn mapped_rss_kb(file: &Path) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let name = file.to_str()?;
    let mut in_map = false;
    let mut total = None;
    for line in smaps.lines() {
        if line.split_whitespace().nth(5).is_some() || line.ends_with(name) {
            in_map = line.ends_with(name);
        }
        if in_map {
            if let Some(kb) = line.strip_prefix("Rss:") {
                let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().ok()?;
                *total.get_or_insert(0) += kb;
            }
        }
    }
    total
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "?".into(), |s| s.trim().to_string())
}

fn memchr_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

fn main() {
    let started = Instant::now();
    // Timings are only as quiet as the machine: show how busy it was.
    println!(
        "cpus {}, loadavg at start: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    let data = ksym_testdata::data_dir();
    let tmp = std::env::temp_dir();
    let pid = std::process::id();

    // (2) a file copy of the live symbols.
    let live_copy = tmp.join(format!("ksym-bench-{pid}-live-kallsyms"));
    let live_bytes_now = std::fs::read(ksym::source::PROC_KALLSYMS).expect("read /proc/kallsyms");
    std::fs::write(&live_copy, &live_bytes_now).expect("write the copy");
    drop(live_bytes_now);

    // (3), (4) Debian's data, decompressed.
    let debian = |folder: &str| -> (PathBuf, ModuleMap) {
        let deb = data.join(folder);
        let plain = tmp.join(format!("ksym-bench-{pid}-{folder}-kallsyms"));
        let mut text = Vec::new();
        xz2::read::XzDecoder::new(
            std::fs::File::open(deb.join("kallsyms.xz")).expect("kallsyms.xz"),
        )
        .read_to_end(&mut text)
        .expect("decompress");
        std::fs::write(&plain, &text).expect("write the plain copy");
        let mut modules = ModuleMap::default();
        let proc_modules = deb.join("proc-modules");
        modules
            .add_text(
                &proc_modules.display().to_string(),
                &std::fs::read(&proc_modules).expect("proc-modules"),
            )
            .expect("parse proc-modules");
        (plain, modules)
    };
    let (deb_plain, modules) = debian("debian-6.12.117");
    let (arm61_plain, arm61_modules) = debian("debian-6.1.0-57-cloud-arm64");
    let (arm612_plain, arm612_modules) = debian("debian-6.12.118-cloud-arm64");

    let inputs = [
        Input {
            label: "live /proc/kallsyms",
            path: PathBuf::from(ksym::source::PROC_KALLSYMS),
            live: true,
            modules: None,
        },
        Input {
            label: "live copy (file)",
            path: live_copy.clone(),
            live: false,
            modules: None,
        },
        Input {
            label: "debian 6.12 (file)",
            path: deb_plain.clone(),
            live: false,
            modules: Some(modules),
        },
        Input {
            label: "arm64 6.1 (file)",
            path: arm61_plain.clone(),
            live: false,
            modules: Some(arm61_modules),
        },
        Input {
            label: "arm64 6.12 (file)",
            path: arm612_plain.clone(),
            live: false,
            modules: Some(arm612_modules),
        },
    ];

    let mut rows = Vec::new();
    for inp in &inputs {
        bench_input(inp, &mut rows);
    }
    bench_start(&mut rows);
    let _ = std::fs::remove_file(&live_copy);
    for plain in [&deb_plain, &arm61_plain, &arm612_plain] {
        let _ = std::fs::remove_file(plain);
    }

    println!(
        "\nksym vs blazesym 0.2.7 (kallsyms only, no vmlinux, no demangling); \
         ratio = blazesym value / ksym value; B/symbol per input line; \
         {LOOKUPS} random core-text addresses; blazesym single calls on the first {SINGLE_LOOKUPS}\n"
    );
    print_table(&rows);
    println!(
        "\ntotal bench time {:.1} s; loadavg at end: {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
}
