//! Source lines for a batch of addresses from nothing, in a fresh process:
//! what a profiler pays the first time. Run under `/usr/bin/time -v` (wall
//! time, peak RSS) side by side with the other tools:
//!
//! ```sh
//! V=~/.cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64
//! cargo build --release --example lines_first_time
//! /usr/bin/time -v target/release/examples/lines_first_time ksym $V < addrs.txt
//! /usr/bin/time -v target/release/examples/lines_first_time blazesym $V < addrs.txt
//! /usr/bin/time -v llvm-addr2line -e $V -f -i < addrs.txt
//! /usr/bin/time -v eu-addr2line -e $V -f -i < addrs.txt
//! ```
//!
//! The addresses (`0x…` one a line on standard input) are the vmlinux's own
//! (link-time). Prints how many had lines and how many frames in all.
//!
//! `table VMLINUX TABLE` answers from the line table file TABLE, building
//! it from VMLINUX first (and saying how long that took) when it is absent:
//! run it twice for the second-time figures.

use std::io::BufRead;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(tool), Some(path)) = (args.get(1), args.get(2)) else {
        eprintln!(
            "usage: lines_first_time ksym|ksym-batch|blazesym|table VMLINUX [TABLE] < addresses"
        );
        std::process::exit(2);
    };
    let addrs: Vec<u64> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| u64::from_str_radix(l.trim().trim_start_matches("0x"), 16).ok())
        .collect();
    let (with_lines, frames) = match tool.as_str() {
        "ksym" => ksym_lines(&PathBuf::from(path), &addrs),
        "blazesym" => blazesym_lines(&PathBuf::from(path), &addrs),
        "ksym-batch" => ksym_batch_lines(&PathBuf::from(path), &addrs),
        "table" => table_lines(&PathBuf::from(path), args.get(3), &addrs),
        other => {
            eprintln!("unknown tool {other}");
            std::process::exit(2);
        }
    };
    println!(
        "{tool}: {} addresses, {with_lines} with lines, {frames} frames",
        addrs.len()
    );
    show_rss();
}

/// With `KSYM_SHOW_RSS` set: peak and current memory, anonymous and mapped.
fn show_rss() {
    if std::env::var_os("KSYM_SHOW_RSS").is_some() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        for l in status
            .lines()
            .filter(|l| l.starts_with("VmHWM") || l.starts_with("Rss"))
        {
            eprintln!("{l}");
        }
    }
}

fn ksym_lines(path: &std::path::Path, addrs: &[u64]) -> (usize, usize) {
    let file = ksym::lines::DebugFile::open(path).expect("open the vmlinux");
    let context = ksym::lines::LineContext::new(file, ksym::lines::Placement::Slide(0))
        .expect("a linked kernel");
    let (mut with_lines, mut frames) = (0, 0);
    for &addr in addrs {
        let f = context.frames(addr).expect("frames");
        with_lines += usize::from(!f.is_empty());
        frames += f.len();
    }
    (with_lines, frames)
}

/// The batch, its units read on every CPU.
fn ksym_batch_lines(path: &std::path::Path, addrs: &[u64]) -> (usize, usize) {
    let file = ksym::lines::DebugFile::open(path).expect("open the vmlinux");
    let context = ksym::lines::LineContext::new(file, ksym::lines::Placement::Slide(0))
        .expect("a linked kernel");
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let all = context.frames_batch(addrs, threads);
    let with_lines = all
        .iter()
        .filter(|f| f.as_ref().is_ok_and(|f| !f.is_empty()))
        .count();
    let frames = all.iter().map(|f| f.as_ref().map_or(0, Vec::len)).sum();
    show_rss();
    (with_lines, frames)
}

fn table_lines(vmlinux: &std::path::Path, table: Option<&String>, addrs: &[u64]) -> (usize, usize) {
    let table_path = PathBuf::from(table.expect("usage: lines_first_time table VMLINUX TABLE"));
    if !table_path.exists() {
        let started = std::time::Instant::now();
        let file = ksym::lines::DebugFile::open(vmlinux).expect("open the vmlinux");
        let built = ksym::lines::build_line_table(file).expect("a line table");
        ksym::snapshot::write_atomically(&table_path, built.as_bytes()).expect("saved");
        eprintln!(
            "built {} bytes in {:.2} s",
            built.as_bytes().len(),
            started.elapsed().as_secs_f64()
        );
    }
    let table = ksym::lines::LineTable::open(&table_path).expect("a line table");
    let (mut with_lines, mut frames) = (0, 0);
    for &addr in addrs {
        let f = table.frames(addr).expect("frames");
        with_lines += usize::from(!f.is_empty());
        frames += f.len();
    }
    (with_lines, frames)
}

fn blazesym_lines(path: &std::path::Path, addrs: &[u64]) -> (usize, usize) {
    use blazesym::symbolize::source::{Elf, Source};
    use blazesym::symbolize::{Input, Symbolized, Symbolizer};
    let symbolizer = Symbolizer::builder()
        .enable_code_info(true)
        .enable_inlined_fns(true)
        .build();
    let mut elf = Elf::new(path);
    elf.debug_syms = true;
    let source = Source::Elf(elf);
    let results = symbolizer
        .symbolize(&source, Input::VirtOffset(addrs))
        .expect("blazesym symbolizes");
    let (mut with_lines, mut frames) = (0, 0);
    for r in results {
        if let Symbolized::Sym(sym) = r {
            if sym.code_info.is_some() {
                with_lines += 1;
                frames += 1 + sym.inlined.len();
            }
        }
    }
    (with_lines, frames)
}
