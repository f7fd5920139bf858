//! The warm cost of a line table lookup, for profiling it on its own
//! (`valgrind --tool=callgrind` counts the instructions, which this
//! machine's noise cannot blur; `cargo bench --bench lines` compares with
//! the peers).
//!
//! `line_table_cost VMLINUX [ROUNDS]`: builds the vmlinux's line table
//! (or opens it from `$TMPDIR/ksym-line-table-cost/`, where the first run
//! leaves it), then asks 1,000 random core text addresses ROUNDS times
//! (default 20) and prints the time per address.

use std::time::Instant;

use ksym::lines::{build_line_table, DebugFile, LineTable};

fn main() {
    let mut args = std::env::args().skip(1);
    let vmlinux = args
        .next()
        .expect("usage: line_table_cost VMLINUX [ROUNDS]");
    let rounds: usize = args.next().map_or(20, |r| r.parse().expect("ROUNDS"));
    let file = DebugFile::open(vmlinux.as_ref()).expect("vmlinux");
    let dir = std::env::temp_dir().join("ksym-line-table-cost");
    let id = file.build_id_hex().expect("a build-id");
    let table = match ksym::snapshot::cache::lookup_line_table(&dir, &id).expect("cache") {
        Some(t) => t,
        None => {
            let t = build_line_table(DebugFile::open(vmlinux.as_ref()).expect("vmlinux"))
                .expect("build");
            let path = ksym::snapshot::cache::store_line_table(&dir, &t).expect("store");
            LineTable::open(&path).expect("reopen")
        }
    };
    // Core text: `_stext` to `_etext` of the vmlinux.
    let (lo, hi) = (
        file.symbol_value("_stext").unwrap().unwrap(),
        file.symbol_value("_etext").unwrap().unwrap(),
    );
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let addrs: Vec<u64> = (0..1000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            lo + x % (hi - lo)
        })
        .collect();
    let mut frames = 0usize;
    let start = Instant::now();
    for _ in 0..rounds {
        for &a in &addrs {
            frames += table.frames(a).map_or(0, |f| f.len());
        }
    }
    let per = start.elapsed() / (rounds * addrs.len()) as u32;
    println!("{per:?} per address ({frames} frames, owned)");
    let mut lines = 0usize;
    let start = Instant::now();
    for _ in 0..rounds {
        for &a in &addrs {
            lines += table
                .frames_ref(a)
                .map_or(0, |f| f.map(|f| f.line.unwrap_or(0) as usize).sum());
        }
    }
    let per = start.elapsed() / (rounds * addrs.len()) as u32;
    println!("{per:?} per address (borrowed; line sum {lines})");
}
