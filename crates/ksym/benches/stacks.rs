//! Batch symbolization and oops decoding, measured.
//!
//! 1. 1,000,000 instruction pointers symbolized in one batch by ksym's
//!    [`Symbolizer`] and by blazesym 0.2.7's batch API (`symbolize` with
//!    `Input::AbsAddr`, kernel source with kallsyms only), on the same
//!    kallsyms (the Debian 6.12 data, decompressed to a plain file) and the
//!    same addresses. Two address sets: every pointer in a random function
//!    (core and modules, no two alike in practice), and a profile-like set
//!    (stacks drawn from 2,000 hot return addresses). Timed for ksym: the
//!    batch and reading every frame's name, and the batch alone.
//! 2. Decoding a 10,000-line dmesg (the 6.12 oops, repeated), annotated and
//!    as JSON, after a first decode that builds the name index.
//!
//! Run with `cargo bench -p ksym --bench stacks`.

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use blazesym::symbolize::source::{Kernel, Source};
use blazesym::symbolize::{Input as BlazeInput, Symbolized, Symbolizer as BlazeSymbolizer};
use blazesym::MaybeDefault;
use ksym::decode::{decode_stream, Decoder, Output};
use ksym::stack::{AddrKind, Frames, Symbolizer};
use ksym::{LoadOptions, ModuleMap, SymbolTable};

mod common;
use common::{median, time, Rng};

const IPS: usize = 1_000_000;
const KSYM_RUNS: usize = 7;
const BLAZE_RUNS: usize = 3;
const DMESG_LINES: usize = 10_000;
const DECODE_RUNS: usize = 7;

fn data() -> PathBuf {
    ksym_testdata::data_dir()
}

/// `kallsyms.xz` decompressed to a plain file, for both libraries.
fn plain_kallsyms() -> PathBuf {
    let src = data().join("debian-6.12.117/kallsyms.xz");
    let out =
        std::env::temp_dir().join(format!("ksym-bench-stacks-{}-kallsyms", std::process::id()));
    let mut text = Vec::new();
    xz2::read::XzDecoder::new(std::fs::File::open(&src).expect("kallsyms.xz"))
        .read_to_end(&mut text)
        .expect("decompress");
    std::fs::write(&out, &text).expect("write the plain copy");
    out
}

fn load(path: &Path) -> SymbolTable {
    let modules = std::fs::read(data().join("debian-6.12.117/proc-modules")).unwrap();
    let mut map = ModuleMap::default();
    map.add_text("proc-modules", &modules).unwrap();
    let opts = LoadOptions {
        modules: Some(map),
        ..LoadOptions::default()
    };
    ksym::load_file(path, &opts).expect("load")
}

/// Every pointer inside a random function (text symbol), core or module.
fn random_ips(table: &SymbolTable, rng: &mut Rng) -> Vec<u64> {
    let funcs: Vec<(u64, u64)> = table
        .iter()
        .take(table.answering_len())
        .filter(|s| matches!(s.kind, 't' | 'T') && s.size > 0 && s.size < 1 << 20)
        .map(|s| (s.start, s.size))
        .collect();
    (0..IPS)
        .map(|_| {
            let (start, size) = funcs[rng.below(funcs.len() as u64) as usize];
            start + rng.below(size)
        })
        .collect()
}

/// Stacks of 8 to 24 frames whose pointers come from 2,000 hot addresses,
/// skewed (the first hundred are most of the samples), as a profile's are.
fn profile_ips(random: &[u64], rng: &mut Rng) -> Vec<u64> {
    let hot = &random[..2000];
    let mut ips = Vec::with_capacity(IPS);
    while ips.len() < IPS {
        let depth = 8 + rng.below(17) as usize;
        for _ in 0..depth.min(IPS - ips.len()) {
            let r = rng.below(100);
            let i = if r < 80 {
                rng.below(100)
            } else {
                rng.below(2000)
            };
            ips.push(hot[i as usize]);
        }
    }
    ips
}

struct Row {
    metric: String,
    value: String,
    blaze: String,
    ratio: String,
}

fn print_table(rows: &[Row]) {
    let head = [
        "metric",
        "ksym",
        "blazesym",
        "ratio (ksym throughput / blazesym)",
    ];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.metric.clone(),
                r.value.clone(),
                r.blaze.clone(),
                r.ratio.clone(),
            ]
        })
        .collect();
    common::print_table(head, 1, &cells);
}

fn per_ip(d: Duration) -> f64 {
    d.as_nanos() as f64 / IPS as f64
}

fn mips(d: Duration) -> f64 {
    IPS as f64 / d.as_secs_f64() / 1e6
}

/// The batch comparison for one address set.
fn batch(
    label: &str,
    table: &SymbolTable,
    blaze: &BlazeSymbolizer,
    src: &Source<'_>,
    ips: &[u64],
    rows: &mut Vec<Row>,
) {
    let s = Symbolizer::new(table);
    let mut frames = Frames::with_capacity(ips.len());
    s.symbolize(ips, &mut frames); // warm: the buffer is sized once
    let (mut with_names, mut lookups) = (Vec::new(), Vec::new());
    let mut k_resolved = 0;
    for _ in 0..KSYM_RUNS {
        let (n, d) = time(|| {
            s.symbolize(black_box(ips), &mut frames);
            let mut n = 0usize;
            for f in frames.iter() {
                if let Some(sym) = f.symbol() {
                    n += 1;
                    black_box(sym.name.len());
                }
            }
            n
        });
        k_resolved = n;
        with_names.push(d);
        let ((), d) = time(|| s.symbolize(black_box(ips), &mut frames));
        lookups.push(d);
    }
    let (k_names, k_lookups) = (median(with_names), median(lookups));

    let mut t_b = Vec::new();
    let mut b_resolved = 0;
    for _ in 0..BLAZE_RUNS {
        let (n, d) = time(|| {
            let res = blaze
                .symbolize(src, BlazeInput::AbsAddr(black_box(ips)))
                .expect("blazesym");
            let mut n = 0usize;
            for sym in res.iter().filter_map(|r| r.as_sym()) {
                n += 1;
                black_box(sym.name.len());
            }
            n
        });
        b_resolved = n;
        t_b.push(d);
    }
    let b = median(t_b);

    // Do they agree? Names, untimed.
    s.symbolize(ips, &mut frames);
    let res = blaze
        .symbolize(src, BlazeInput::AbsAddr(ips))
        .expect("blazesym");
    let same = frames
        .iter()
        .zip(&res)
        .filter(|(f, r)| f.symbol().map(|s| s.name) == r.as_sym().map(|s| &*s.name))
        .count();
    println!(
        "{label}: ksym resolved {k_resolved}, blazesym {b_resolved}; same name for {same} of {}",
        ips.len()
    );
    rows.push(Row {
        metric: format!("{label}: 1M IPs, batch + every name"),
        value: format!("{:.1} ns/IP ({:.1} M/s)", per_ip(k_names), mips(k_names)),
        blaze: format!("{:.1} ns/IP ({:.2} M/s)", per_ip(b), mips(b)),
        ratio: format!("{:.1}x", b.as_secs_f64() / k_names.as_secs_f64()),
    });
    rows.push(Row {
        metric: format!("{label}: 1M IPs, batch only (frames not read)"),
        value: format!(
            "{:.1} ns/IP ({:.1} M/s)",
            per_ip(k_lookups),
            mips(k_lookups)
        ),
        blaze: "-".into(),
        ratio: format!("{:.1}x", b.as_secs_f64() / k_lookups.as_secs_f64()),
    });
    // Return-address mode costs the same; shown for completeness.
    let r = Symbolizer::new(table).addr_kind(AddrKind::Return);
    let mut rf = Frames::with_capacity(ips.len());
    r.symbolize(ips, &mut rf);
    let d = median(
        (0..KSYM_RUNS)
            .map(|_| time(|| r.symbolize(black_box(ips), &mut rf)).1)
            .collect(),
    );
    rows.push(Row {
        metric: format!("{label}: 1M IPs, batch only, ip - 1 (%pB)"),
        value: format!("{:.1} ns/IP ({:.1} M/s)", per_ip(d), mips(d)),
        blaze: "-".into(),
        ratio: "-".into(),
    });
}

fn dmesg() -> String {
    let oops = std::fs::read_to_string(data().join("oops/oops-6.12-ext4.txt")).unwrap();
    let lines: Vec<&str> = oops.lines().collect();
    let mut out = String::new();
    for i in 0..DMESG_LINES {
        out.push_str(lines[i % lines.len()]);
        out.push('\n');
    }
    out
}

fn main() {
    let path = plain_kallsyms();
    let table = load(&path);
    println!(
        "table: {} ({} symbols, {} answer addresses)",
        path.display(),
        table.len(),
        table.answering_len()
    );
    let src = Source::Kernel(Kernel {
        kallsyms: MaybeDefault::Some(path.clone()),
        vmlinux: MaybeDefault::None,
        kaslr_offset: Some(0),
        debug_syms: false,
        ..Default::default()
    });
    let blaze = BlazeSymbolizer::builder().enable_demangling(false).build();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let random = random_ips(&table, &mut rng);
    let profile = profile_ips(&random, &mut rng);
    // Warm blazesym: its first call reads kallsyms.
    drop(blaze.symbolize(&src, BlazeInput::AbsAddr(&random[..1])));
    assert!(matches!(
        blaze.symbolize_single(&src, BlazeInput::AbsAddr(random[0])),
        Ok(Symbolized::Sym(_))
    ));

    let mut rows = Vec::new();
    batch("random", &table, &blaze, &src, &random, &mut rows);
    batch("profile", &table, &blaze, &src, &profile, &mut rows);

    // Decoding.
    let text = dmesg();
    let (summary, first) = time(|| {
        let mut d = Decoder::new(&table);
        decode_stream(
            &mut d,
            text.as_bytes(),
            std::io::sink(),
            Output::Annotated,
            false,
        )
        .unwrap()
    });
    assert_eq!(summary.mismatched, 0);
    let decode_runs = |how: Output| {
        median(
            (0..DECODE_RUNS)
                .map(|_| {
                    let mut out = Vec::with_capacity(text.len() * 2);
                    let mut d = Decoder::new(&table);
                    time(|| {
                        decode_stream(&mut d, black_box(text.as_bytes()), &mut out, how, false)
                            .unwrap()
                    })
                    .1
                })
                .collect(),
        )
    };
    let annotated = decode_runs(Output::Annotated);
    let json = decode_runs(Output::Json);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let per_line = |d: Duration| d.as_nanos() as f64 / DMESG_LINES as f64 / 1e3;
    rows.push(Row {
        metric: format!(
            "decode {DMESG_LINES}-line dmesg ({} frames), first (builds the name index)",
            summary.frames
        ),
        value: format!("{:.2} ms", ms(first)),
        blaze: "-".into(),
        ratio: "-".into(),
    });
    rows.push(Row {
        metric: format!("decode {DMESG_LINES}-line dmesg, annotated"),
        value: format!(
            "{:.2} ms ({:.2} us/line)",
            ms(annotated),
            per_line(annotated)
        ),
        blaze: "-".into(),
        ratio: "-".into(),
    });
    rows.push(Row {
        metric: format!("decode {DMESG_LINES}-line dmesg, JSON"),
        value: format!("{:.2} ms ({:.2} us/line)", ms(json), per_line(json)),
        blaze: "-".into(),
        ratio: "-".into(),
    });
    println!();
    print_table(&rows);
    let _ = std::fs::remove_file(&path);
}
