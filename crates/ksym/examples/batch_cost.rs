//! The Rust batch cost per address, for the Go package's benchmark to set
//! beside its own: the same file, the same addresses, the same batches in
//! the same order, timed in turns with the Go side so that both meet the
//! same moments of a noisy machine.
//!
//! `batch_cost FILE ADDRESSES` reads hexadecimal addresses, one a line,
//! from the file ADDRESSES; then, for each line `BATCH FIRST COUNT` on
//! standard input, cuts the addresses into at most 64 batches of BATCH
//! (consecutive runs, as the Go benchmark does), symbolizes batches FIRST,
//! FIRST+1, ... (COUNT of them, modulo their number), each frame's name and
//! module read as a caller would, and answers `ns/ip=41.7` for that run
//! alone. Each run is preceded by one untimed pass over the batches.

use std::hint::black_box;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;

use ksym::stack::{AddrKind, Frames};
use ksym::{LoadOptions, Symbolizer};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, addresses] = &args[..] else {
        eprintln!("usage: batch_cost FILE ADDRESSES < 'BATCH FIRST COUNT' lines");
        std::process::exit(2);
    };
    let table = ksym::load_file(Path::new(path), &LoadOptions::default()).expect("the symbol file");
    let pool: Vec<u64> = std::fs::read_to_string(addresses)
        .expect("the address file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| u64::from_str_radix(l.trim().trim_start_matches("0x"), 16).expect("hex"))
        .collect();
    let symbolizer = Symbolizer::new(&table);
    let mut frames = Frames::new();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("standard input");
        let numbers: Vec<usize> = line
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect();
        let [batch, first, count] = numbers[..] else {
            panic!("expected 'BATCH FIRST COUNT', got {line:?}");
        };
        let batches: Vec<&[u64]> = pool.chunks_exact(batch.max(1)).take(64).collect();
        assert!(!batches.is_empty(), "no batch of {batch} in {addresses}");
        // Untimed, each batch once: the caches hold what the timed run
        // needs, whatever ran on the machine in between (the Go side does
        // the same before each of its runs).
        for ips in &batches {
            symbolizer.symbolize_as(ips, AddrKind::Exact, &mut frames);
        }
        let start = Instant::now();
        for i in first..first + count {
            let ips = black_box(batches[i % batches.len()]);
            symbolizer.symbolize_as(ips, AddrKind::Exact, &mut frames);
            for f in frames.iter() {
                if let Some(s) = f.symbol() {
                    black_box((s.name, s.module));
                }
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / (count * batch).max(1) as f64;
        writeln!(out, "ns/ip={ns:.2}").expect("standard output");
        out.flush().expect("standard output");
    }
}
