//! What the BPF ksym iterator costs against reading `/proc/kallsyms`, on
//! this machine (root with BPF needed; says so and stops otherwise):
//! median of 15 runs of each, in one process.
//!
//!   cargo bench -p ksym --bench bpf_iter

use std::time::{Duration, Instant};

use ksym::parse::btf::ksym_iter_layout;
use ksym::read::bpf_iter::read_ksym_iter;
use ksym::LoadOptions;

const RUNS: usize = 15;

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn time<T>(f: impl Fn() -> T) -> f64 {
    median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let Ok(btf) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        println!("bpf_iter: no /sys/kernel/btf/vmlinux here; nothing to measure");
        return;
    };
    let layout = match ksym_iter_layout(&btf) {
        Ok(l) => l,
        Err(e) => return println!("bpf_iter: {e}; nothing to measure"),
    };
    match read_ksym_iter(&layout, 1 << 30) {
        Err(e) => return println!("bpf_iter: {e}; nothing to measure"),
        Ok((_, program)) => println!("bpf_iter: the iterator runs the {program:?} program"),
    }
    let opts = LoadOptions::default();
    let source = "bench";
    let rows = [
        (
            "read /proc/kallsyms (fs::read)",
            time(|| std::fs::read("/proc/kallsyms").unwrap()),
        ),
        (
            "read the iterator (load, link, read, records to text)",
            time(|| read_ksym_iter(&layout, 1 << 30).unwrap()),
        ),
        (
            "parse the kernel's BTF for the layout",
            time(|| ksym_iter_layout(&btf).unwrap()),
        ),
        (
            "ksym::load_live (/proc/kallsyms)",
            time(|| ksym::load_live(&opts).unwrap()),
        ),
        (
            "ksym::load_ksym_iter (BTF, iterator, table)",
            time(|| ksym::source::load_ksym_iter(&opts, source).unwrap()),
        ),
    ];
    for (what, ms) in rows {
        println!("{what:48} {ms:8.2} ms");
    }
    let ratio = rows[4].1 / rows[3].1;
    println!("the iterator's table costs {ratio:.2}x the /proc/kallsyms one");
}
