//! The Rust batch cost per address, for the Go package's benchmark to
//! print beside its own: the same file, the same addresses in the same
//! order, the same batch sizes, measured in the same run.
//!
//! `batch_cost FILE BATCH... < addresses` reads hexadecimal addresses, one
//! a line, cuts them into at most 64 batches of each size (consecutive
//! runs, as the Go benchmark does), then symbolizes the batches in turn
//! (each frame's name and module read, as a caller would) and prints one
//! line a size, the median of five runs: `batch=64 ns/ip=41.7`.

use std::hint::black_box;
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use ksym::stack::{AddrKind, Frames};
use ksym::{LoadOptions, Symbolizer};

/// About this many addresses are symbolized for each batch size in a run.
const ADDRESSES: usize = 1_000_000;
/// Runs per batch size; the median is printed (the machine is noisy).
const RUNS: usize = 5;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), sizes) = (args.next(), args) else {
        eprintln!("usage: batch_cost FILE BATCH... < addresses");
        std::process::exit(2);
    };
    let sizes: Vec<usize> = sizes
        .map(|s| s.parse().expect("a batch size"))
        .filter(|&n| n > 0)
        .collect();
    let table =
        ksym::load_file(Path::new(&path), &LoadOptions::default()).expect("the symbol file");
    let pool: Vec<u64> = std::io::stdin()
        .lock()
        .lines()
        .map(|l| l.expect("standard input"))
        .filter(|l| !l.trim().is_empty())
        .map(|l| u64::from_str_radix(l.trim().trim_start_matches("0x"), 16).expect("hex"))
        .collect();
    let symbolizer = Symbolizer::new(&table);
    let mut frames = Frames::new();
    for batch in sizes {
        let batches: Vec<&[u64]> = pool.chunks_exact(batch).take(64).collect();
        if batches.is_empty() {
            continue;
        }
        let rounds = (ADDRESSES / batch).max(batches.len());
        // Warm: the buffer grows to the batch size once.
        symbolizer.symbolize_as(batches[0], AddrKind::Exact, &mut frames);
        let mut runs: Vec<f64> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                for i in 0..rounds {
                    let ips = black_box(batches[i % batches.len()]);
                    symbolizer.symbolize_as(ips, AddrKind::Exact, &mut frames);
                    for f in frames.iter() {
                        if let Some(s) = f.symbol() {
                            black_box((s.name, s.module));
                        }
                    }
                }
                start.elapsed().as_nanos() as f64 / (rounds * batch) as f64
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        let ns = runs[RUNS / 2];
        println!("batch={batch} ns/ip={ns:.1}");
    }
}
