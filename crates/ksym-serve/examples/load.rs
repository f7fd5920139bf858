//! A load test of `ksym serve`, loopback only and bounded in time: client
//! threads symbolize 1,000-address requests against several boots over
//! HTTP (keep-alive) while another thread uploads snapshots, and the
//! process's resident memory is sampled every second.
//!
//! ```text
//! cargo run --release -p ksym-serve --example load -- [--seconds 10] [--clients 2]
//! ```
//!
//! Prints requests, addresses a second, latency percentiles and memory;
//! exits 1 on any failed or wrong answer, or when resident memory grows
//! (the least of the last quarter above the most of the first half, by
//! more than 10% and 16 MiB).

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ksym::snapshot::Identity;
use ksym_serve::{router, Config, MemoryStore, Server};

const BATCH: usize = 1000;

struct Options {
    seconds: u64,
    clients: usize,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 10,
        clients: 2,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{a} takes a number"))
        };
        match a.as_str() {
            "--seconds" => o.seconds = value().clamp(1, 600),
            "--clients" => o.clients = value().clamp(1, 64) as usize,
            other => panic!("unknown option {other}; takes --seconds N --clients N"),
        }
    }
    o
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// CPU seconds used so far by the threads of this process whose name starts
/// with `prefix` (from /proc/self/task/*/stat), or by the whole process,
/// ended threads too, for `None` (/proc/self/stat).
fn cpu_seconds(prefix: Option<&str>) -> f64 {
    let stats: Vec<String> = match prefix {
        None => vec![std::fs::read_to_string("/proc/self/stat").unwrap_or_default()],
        Some(_) => std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .flatten()
                    .map(|t| std::fs::read_to_string(t.path().join("stat")).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut ticks = 0u64;
    for stat in stats {
        // `pid (comm) state ...`: comm may hold spaces; fields after it.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if prefix.is_some_and(|p| !stat[open + 1..close].starts_with(p)) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime: fields 14 and 15 of the line, 12 and 13 here.
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += field(11) + field(12);
    }
    ticks as f64 / 100.0 // USER_HZ
}

/// A kallsyms file of the shared data as (boot id, snapshot bytes, table).
fn snapshot(data: &Path, file: &str, boot: &str) -> (String, Vec<u8>, ksym::SymbolTable) {
    let table = ksym::load_file(&data.join(file), &ksym::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let id = Identity {
        boot_id: Some(boot.to_string()),
        ..Identity::default()
    };
    (
        boot.to_string(),
        ksym::snapshot::to_bytes(&table, &id),
        table,
    )
}

/// Request bodies of BATCH addresses: symbols of the table (repeated, as
/// in profiles, and spread), a few addresses no symbol holds.
fn bodies(boot: &str, table: &ksym::SymbolTable, n: usize) -> Vec<Vec<u8>> {
    let starts: Vec<(u64, u64)> = table.iter().map(|s| (s.start, s.size)).collect();
    let mut seed = 0x2545f4914f6cdd1du64 ^ starts.len() as u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|_| {
            let addrs: Vec<String> = (0..BATCH)
                .map(|i| {
                    let (start, size) = starts[next() as usize % starts.len()];
                    let addr = if i % 100 == 99 {
                        0x1000 + i as u64
                    } else {
                        start + size / 2
                    };
                    format!("{addr:#x}")
                })
                .collect();
            serde_json::json!({"boot": boot, "addrs": addrs, "mode": "exact"})
                .to_string()
                .into_bytes()
        })
        .collect()
}

fn main() {
    let o = options();
    let data = ksym_testdata::data_dir();
    let boots = [
        snapshot(&data, "debian-6.12.117/kallsyms.xz", "load-6-12"),
        snapshot(&data, "debian-6.1.0-56/kallsyms.xz", "load-6-1"),
        snapshot(&data, "live-6.18/kallsyms.xz", "load-6-18"),
    ];
    let store = Arc::new(MemoryStore::new());
    let server = Server::new(Config::default(), store);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let runtime = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("serve-worker")
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, router(server)).await.unwrap();
        });
    });
    let _ = runtime;
    let base = format!("http://{}", addr_rx.recv().unwrap());
    let agent = ureq::Agent::new();
    for (boot, bytes, _) in &boots {
        let r = agent
            .post(&format!("{base}/v1/snapshots"))
            .send_bytes(bytes);
        assert!(r.is_ok(), "upload {boot}: {r:?}");
    }
    let bodies: Vec<Vec<Vec<u8>>> = boots.iter().map(|(b, _, t)| bodies(b, t, 8)).collect();
    let bodies = Arc::new(bodies);

    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let uploads = Arc::new(AtomicU64::new(0));
    let server_cpu_before = cpu_seconds(Some("serve-worker"));
    let all_cpu_before = cpu_seconds(None);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(o.seconds);
    let clients: Vec<_> = (0..o.clients)
        .map(|c| {
            let (bodies, base, errors) = (bodies.clone(), base.clone(), errors.clone());
            std::thread::spawn(move || {
                let agent = ureq::Agent::new();
                let url = format!("{base}/v1/symbolize");
                let mut latencies = Vec::with_capacity(1 << 16);
                let mut answer = Vec::with_capacity(256 << 10);
                let mut i = c;
                while Instant::now() < deadline && latencies.len() < 5_000_000 {
                    let body = &bodies[i % bodies.len()][(i / bodies.len()) % 8];
                    i += 1;
                    let t = Instant::now();
                    let ok = match agent.post(&url).send_bytes(body) {
                        Ok(resp) => {
                            answer.clear();
                            let read = resp.into_reader().read_to_end(&mut answer).is_ok();
                            // One frame per address, in one answer.
                            read && memchr_count(&answer, b"{\"addr\":") == BATCH
                        }
                        Err(_) => false,
                    };
                    latencies.push(t.elapsed());
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    // Snapshots arriving while the queries run: new boots, a bounded set.
    let uploader = {
        let (stop, uploads, errors, base) =
            (stop.clone(), uploads.clone(), errors.clone(), base.clone());
        // Four boots' snapshots, made before the clock starts.
        let snaps: Vec<Vec<u8>> = (0..4)
            .map(|n| {
                let table = &boots[n % boots.len()].2;
                let id = Identity {
                    boot_id: Some(format!("load-upload-{n}")),
                    ..Identity::default()
                };
                ksym::snapshot::to_bytes(table, &id)
            })
            .collect();
        std::thread::spawn(move || {
            let agent = ureq::Agent::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                let bytes = &snaps[n % snaps.len()];
                if agent
                    .post(&format!("{base}/v1/snapshots"))
                    .send_bytes(bytes)
                    .is_err()
                {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                uploads.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        })
    };
    // Memory, once a second.
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        samples.push(rss_bytes());
    }
    let mut latencies: Vec<Duration> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(Some("serve-worker")) - server_cpu_before;
    let all_cpu = cpu_seconds(None) - all_cpu_before;
    stop.store(true, Ordering::Relaxed);
    uploader.join().unwrap();
    latencies.sort();
    let requests = latencies.len();
    let pct = |p: f64| {
        latencies
            .get(((requests as f64 * p) as usize).min(requests.saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let rate = (requests * BATCH) as f64 / elapsed;
    // Flat: the least memory of the last quarter of the run is not above
    // the most of its first half, the warm-up (a fifth, 1 to 5 s) aside,
    // by more than 10% and 16 MiB. A leak raises even the least.
    let warm_from = ((o.seconds / 5).clamp(1, 5) as usize).min(samples.len().saturating_sub(1));
    let mid = (samples.len() / 2).max(warm_from + 1).min(samples.len());
    let early = samples[warm_from..mid].iter().copied().max().unwrap_or(0);
    let late = samples[samples.len() * 3 / 4..]
        .iter()
        .copied()
        .min()
        .unwrap_or(0);
    let grew = late > early + early / 10 + (16 << 20);
    let errors = errors.load(Ordering::Relaxed);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "load: {} clients, {:.1} s, {} requests of {BATCH} addresses, {} snapshot uploads",
        o.clients,
        elapsed,
        requests,
        uploads.load(Ordering::Relaxed)
    );
    println!(
        "load: {:.0} addresses/s ({:.0} requests/s)",
        rate,
        requests as f64 / elapsed
    );
    println!(
        "load: CPU: server threads {:.1} s, whole process {:.1} s of {:.1} s x 2 cores; \
         {:.0} addresses per server CPU-second",
        server_cpu,
        all_cpu,
        elapsed,
        (requests * BATCH) as f64 / server_cpu.max(1e-9)
    );
    println!(
        "load: latency p50 {:?} p90 {:?} p99 {:?} max {:?}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "load: resident memory: most in the first half {:.1} MiB, least in the last quarter {:.1} MiB",
        mib(early),
        mib(late)
    );
    let timeline: Vec<String> = samples.iter().map(|&b| format!("{:.0}", mib(b))).collect();
    println!(
        "load: resident memory each second (MiB): {}",
        timeline.join(" ")
    );
    println!("load: errors {errors}");
    let meets = |ok: bool| if ok { "met" } else { "missed" };
    println!(
        "load: target 1,000,000 addresses/s: {}; p99 <= 10 ms: {}",
        meets(rate >= 1e6),
        meets(pct(0.99) <= Duration::from_millis(10))
    );
    if errors > 0 || requests == 0 || grew {
        println!("load: FAILED ({errors} errors, {requests} requests, memory grew: {grew})");
        std::process::exit(1);
    }
    println!("load: passed (no error, memory flat)");
}

fn memchr_count(hay: &[u8], needle: &[u8]) -> usize {
    memchr::memmem::find_iter(hay, needle).count()
}
