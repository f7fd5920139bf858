//! Source lines on Debian's 6.1 cloud vmlinux (590 MB, DWARF 5; fetched by
//! `../shared/scripts/fetch-debug-vmlinux.sh`), 1,000 random core text
//! addresses, side by side with blazesym 0.2.7 (in process) and
//! eu-addr2line / llvm-addr2line (processes), in one run:
//! - first time: a context built from nothing for the batch (one by one,
//!   and as a batch read on every CPU);
//! - warm: per address once built (ksym's line table, ksym's DWARF
//!   context, blazesym's symbolizer);
//! - the line table: build time and size against the DWARF;
//! - whole processes: the tools, and `ksym addr --lines` answering from
//!   the cached line table (when `target/release/ksym` is built).
//!
//! `cargo bench -p ksym --bench lines` (peak memory of processes from
//! `/usr/bin/time`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{median, print_table, time, Rng};
use ksym::lines::{build_line_table, DebugFile, LineContext, LineTable, Placement};

fn main() {
    let Some(home) = std::env::var_os("HOME") else {
        return;
    };
    let vmlinux = PathBuf::from(home).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    if !vmlinux.is_file() {
        println!(
            "SKIP: {} is absent (fetch-debug-vmlinux.sh)",
            vmlinux.display()
        );
        return;
    }
    let file = DebugFile::open(&vmlinux).expect("the vmlinux");
    let text = file
        .sections()
        .iter()
        .find(|s| s.name == ".text")
        .expect(".text")
        .clone();
    let dwarf = file.dwarf_bytes();
    let mut rng = Rng(0x1234_5678);
    let addrs: Vec<u64> = (0..1000)
        .map(|_| text.addr + rng.below(text.size))
        .collect();
    let mut rows = Vec::new();

    // First time, in process: three batches each from nothing.
    let cold_ksym = median(
        (0..3)
            .map(|_| time(|| ksym_batch(&vmlinux, &addrs)).1)
            .collect(),
    );
    let cold_blaze = median(
        (0..3)
            .map(|_| time(|| blazesym_batch(&vmlinux, &addrs)).1)
            .collect(),
    );
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let cold_batch = median(
        (0..3)
            .map(|_| time(|| ksym_batch_threads(&vmlinux, &addrs, threads)).1)
            .collect(),
    );
    rows.push(row(
        "first time, 1,000 addresses",
        &format!("ksym DWARF batch, {threads} threads"),
        cold_batch,
        Some(cold_blaze),
    ));
    rows.push(row(
        "first time, 1,000 addresses",
        "ksym DWARF one by one",
        cold_ksym,
        Some(cold_blaze),
    ));
    rows.push(row(
        "first time, 1,000 addresses",
        "blazesym",
        cold_blaze,
        None,
    ));

    // The table.
    let (table, built) = time(|| build_line_table(DebugFile::open(&vmlinux).unwrap()).unwrap());
    let bytes = table.as_bytes().len() as u64;
    println!(
        "line table: {bytes} bytes from {dwarf} bytes of DWARF ({:.1}%), built in {:.2} s",
        bytes as f64 * 100.0 / dwarf as f64,
        built.as_secs_f64()
    );

    // Warm, per address.
    let context = LineContext::new(file, Placement::Slide(0)).unwrap();
    ksym_frames(&context, &addrs);
    let blaze = blazesym::symbolize::Symbolizer::builder()
        .enable_code_info(true)
        .enable_inlined_fns(true)
        .build();
    blazesym_frames(&blaze, &vmlinux, &addrs);
    let per = |d: Duration| d / addrs.len() as u32;
    let warm_blaze = per(median(
        (0..5)
            .map(|_| time(|| blazesym_frames(&blaze, &vmlinux, &addrs)).1)
            .collect(),
    ));
    let warm_table = per(median(
        (0..5)
            .map(|_| time(|| table_frames(&table, &addrs)).1)
            .collect(),
    ));
    let warm_borrowed = per(median(
        (0..5)
            .map(|_| time(|| table_frames_borrowed(&table, &addrs)).1)
            .collect(),
    ));
    // The floor any row lookup stands on: a binary search of a sorted
    // array with as many addresses as the table has rows (at most), and
    // nothing decoded.
    let mut sorted: Vec<u64> = (0..table.block_count() * ksym::lines::ROWS_PER_BLOCK)
        .map(|_| text.addr + rng.below(text.size))
        .collect();
    sorted.sort_unstable();
    let floor = per(median(
        (0..5)
            .map(|_| time(|| sorted_array_search(&sorted, &addrs)).1)
            .collect(),
    ));
    let warm_dwarf = per(median(
        (0..5)
            .map(|_| time(|| ksym_frames(&context, &addrs)).1)
            .collect(),
    ));
    rows.push(row(
        "warm, per address",
        "ksym line table",
        warm_table,
        Some(warm_blaze),
    ));
    rows.push(row(
        "warm, per address",
        "ksym line table, borrowed frames",
        warm_borrowed,
        Some(warm_blaze),
    ));
    rows.push(row(
        "warm, per address",
        &format!("floor: binary search of {} sorted u64", sorted.len()),
        floor,
        Some(warm_blaze),
    ));
    rows.push(row(
        "warm, per address",
        "ksym DWARF",
        warm_dwarf,
        Some(warm_blaze),
    ));
    rows.push(row("warm, per address", "blazesym", warm_blaze, None));
    // Opening the cached table (map + checksum), what each process pays.
    let dir = std::env::temp_dir().join(format!("ksym-bench-lines-{}", std::process::id()));
    let saved = ksym::snapshot::cache::store_line_table(&dir, &table).unwrap();
    let open = median(
        (0..9)
            .map(|_| time(|| LineTable::open(&saved).unwrap()).1)
            .collect(),
    );
    rows.push(row("open the cached table", "ksym", open, None));

    // Whole processes.
    let input: String = addrs.iter().map(|a| format!("{a:#x}\n")).collect();
    let v = vmlinux.to_str().unwrap();
    let mut processes = Vec::new();
    for (name, cmd, args) in [
        ("eu-addr2line", "eu-addr2line", vec!["-e", v, "-f", "-i"]),
        (
            "llvm-addr2line",
            "llvm-addr2line",
            vec!["-e", v, "-f", "-i"],
        ),
    ] {
        processes.push((name.to_string(), measure_process(cmd, &args, &input, &[])));
    }
    processes.extend(ksym_processes(&table, &addrs));
    let _ = std::fs::remove_dir_all(&dir);
    print_table(["what", "who", "time", "ratio vs blazesym"], 2, &rows);
    println!();
    println!(
        "blazesym in process, first time (no process start, no output): {:.3} s",
        cold_blaze.as_secs_f64()
    );
    let peer = |name: &str| processes.iter().find(|p| p.0 == name).and_then(|p| p.1);
    let (eu, llvm) = (peer("eu-addr2line"), peer("llvm-addr2line"));
    for (name, m) in &processes {
        let Some((t, kb)) = m else {
            println!("process: {name}: not installed or failed, skipped");
            continue;
        };
        let mut line = format!(
            "process, 1,000 addresses: {name}: {:.3} s, {} MB peak",
            t.as_secs_f64(),
            kb / 1024
        );
        for (peer, (pt, pkb)) in [("eu-addr2line", eu), ("llvm-addr2line", llvm)]
            .into_iter()
            .filter_map(|(n, m)| Some((n, m?)))
            .filter(|(n, _)| n != name)
        {
            line += &format!(
                "; {:.1}x faster than {peer}, {:.2}x its memory",
                pt.as_secs_f64() / t.as_secs_f64(),
                *kb as f64 / pkb as f64
            );
        }
        println!("{line}");
    }
}

fn row(what: &str, who: &str, d: Duration, peer: Option<Duration>) -> [String; 4] {
    let t = if d < Duration::from_millis(1) {
        format!("{:.0} ns", d.as_nanos())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    };
    let ratio = peer.map_or(String::new(), |p| {
        format!("{:.2}x faster", p.as_secs_f64() / d.as_secs_f64())
    });
    [what.into(), who.into(), t, ratio]
}

fn ksym_batch(path: &Path, addrs: &[u64]) -> usize {
    let context = LineContext::new(DebugFile::open(path).unwrap(), Placement::Slide(0)).unwrap();
    ksym_frames(&context, addrs)
}

fn ksym_batch_threads(path: &Path, addrs: &[u64], threads: usize) -> usize {
    let context = LineContext::new(DebugFile::open(path).unwrap(), Placement::Slide(0)).unwrap();
    context
        .frames_batch(addrs, threads)
        .into_iter()
        .map(|f| f.unwrap().len())
        .sum()
}

fn ksym_frames(context: &LineContext, addrs: &[u64]) -> usize {
    addrs
        .iter()
        .map(|a| context.frames(*a).unwrap().len())
        .sum()
}

fn table_frames(table: &LineTable, addrs: &[u64]) -> usize {
    addrs.iter().map(|a| table.frames(*a).unwrap().len()).sum()
}

fn table_frames_borrowed(table: &LineTable, addrs: &[u64]) -> usize {
    addrs
        .iter()
        .map(|a| {
            table
                .frames_ref(*a)
                .unwrap()
                .map(|f| f.line.unwrap_or(0) as usize + f.file.map_or(0, str::len))
                .sum::<usize>()
        })
        .sum()
}

fn sorted_array_search(sorted: &[u64], addrs: &[u64]) -> usize {
    addrs
        .iter()
        .map(|a| sorted.partition_point(|x| x <= a))
        .sum()
}

fn blazesym_batch(path: &Path, addrs: &[u64]) -> usize {
    let s = blazesym::symbolize::Symbolizer::builder()
        .enable_code_info(true)
        .enable_inlined_fns(true)
        .build();
    blazesym_frames(&s, path, addrs)
}

fn blazesym_frames(s: &blazesym::symbolize::Symbolizer, path: &Path, addrs: &[u64]) -> usize {
    use blazesym::symbolize::source::{Elf, Source};
    use blazesym::symbolize::{Input, Symbolized};
    let mut elf = Elf::new(path);
    elf.debug_syms = true;
    let out = s
        .symbolize(&Source::Elf(elf), Input::VirtOffset(addrs))
        .unwrap();
    out.iter()
        .map(|r| match r {
            Symbolized::Sym(sym) if sym.code_info.is_some() => 1 + sym.inlined.len(),
            _ => 0,
        })
        .sum()
}

/// Wall time and peak RSS (KiB) of a process, through `/usr/bin/time`.
fn measure_process(
    cmd: &str,
    args: &[&str],
    input: &str,
    env: &[(&str, &Path)],
) -> Option<(Duration, u64)> {
    use std::io::Write;
    let report = std::env::temp_dir().join(format!("ksym-bench-time-{}", std::process::id()));
    let started = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(cmd)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    let ok = child.wait().ok()?.success();
    let elapsed = started.elapsed();
    let kb = std::fs::read_to_string(&report)
        .ok()?
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()?;
    let _ = std::fs::remove_file(&report);
    ok.then_some((elapsed, kb))
}

/// `ksym --kallsyms K --vmlinux V addr --lines` over a plain copy of the
/// 6.1 cloud kallsyms, at its (slid) addresses: the first time (an empty
/// cache: DWARF read, sizes from `.symtab`, the line table built in the
/// background, waited for before the next run) and warm (the line table,
/// the sizes and the kallsyms' table cached), each the median of its runs.
fn ksym_processes(table: &LineTable, addrs: &[u64]) -> Vec<(String, Option<(Duration, u64)>)> {
    let exe = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/ksym");
    let set = ksym_testdata::shared_data().join("debian-6.1.0-57-cloud");
    if !exe.is_file() || !set.is_dir() {
        println!("SKIP ksym process: build it first (cargo build --release -p ksym-cli)");
        return Vec::new();
    }
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let vmlinux = home.join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    let work = std::env::temp_dir().join(format!("ksym-bench-process-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&work);
    let kallsyms = work.join("kallsyms");
    let text = ksym::read::read_file(&set.join("kallsyms.xz")).unwrap();
    std::fs::write(&kallsyms, &text).unwrap();
    let symbols = ksym::load::load_file(&kallsyms, &Default::default()).unwrap();
    let slide = symbols.core_text().unwrap().wrapping_sub(table.text());
    let input: String = addrs
        .iter()
        .map(|a| format!("{:#x}\n", a.wrapping_add(slide)))
        .collect();
    let (k, v) = (kallsyms.to_str().unwrap(), vmlinux.to_str().unwrap());
    let args = ["--kallsyms", k, "--vmlinux", v, "addr", "--lines"];
    let exe = exe.to_str().unwrap();
    let median_of = |runs: Vec<(Duration, u64)>| {
        let peak = runs.iter().map(|r| r.1).max()?;
        Some((median(runs.iter().map(|r| r.0).collect()), peak))
    };
    let mut first = Vec::new();
    let mut cache = work.join("cache-0");
    for i in 0..3 {
        cache = work.join(format!("cache-{i}"));
        first.extend(measure_process(
            exe,
            &args,
            &input,
            &[("KSYM_CACHE_DIR", &cache)],
        ));
        wait_for_background_build(&cache);
    }
    let warm: Vec<(Duration, u64)> = (0..5)
        .filter_map(|_| measure_process(exe, &args, &input, &[("KSYM_CACHE_DIR", &cache)]))
        .collect();
    let _ = std::fs::remove_dir_all(&work);
    vec![
        ("ksym addr --lines, first time".into(), median_of(first)),
        ("ksym addr --lines, warm".into(), median_of(warm)),
    ]
}

/// Waits (at most two minutes) until no line table is being built in `dir`.
fn wait_for_background_build(dir: &Path) {
    let building = || {
        std::fs::read_dir(dir).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".building"))
        })
    };
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    while building() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(200));
    }
}
