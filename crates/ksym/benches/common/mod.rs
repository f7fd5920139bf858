//! What both benchmarks share: a fixed-seed random source, timing, and the
//! result table they print.

use std::time::{Duration, Instant};

/// xorshift64*: fixed seed, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

pub fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// Prints `rows` under `head` as a Markdown table: the first `left` columns
/// aligned left (labels), the others right (figures).
pub fn print_table<const N: usize>(head: [&str; N], left: usize, rows: &[[String; N]]) {
    let mut w = head.map(str::len);
    for row in rows {
        for (i, s) in row.iter().enumerate() {
            w[i] = w[i].max(s.len());
        }
    }
    let line = |cells: [&str; N]| {
        let cells: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < left {
                    format!(" {c:<0$} ", w[i])
                } else {
                    format!(" {c:>0$} ", w[i])
                }
            })
            .collect();
        println!("|{}|", cells.join("|"));
    };
    line(head);
    let rule: Vec<String> = w.iter().map(|&n| "-".repeat(n + 2)).collect();
    println!("|{}|", rule.join("|"));
    for row in rows {
        line(std::array::from_fn(|i| row[i].as_str()));
    }
}
