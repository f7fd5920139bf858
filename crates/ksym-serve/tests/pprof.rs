//! Profiles: `POST /v1/pprof` (a profile in, its kernel frames named out),
//! and pprof's symbolz protocol on `/pprof/symbol`, checked by the protocol
//! and by the real `go tool pprof` when Go is installed.

mod common;

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use common::*;
use ksym_pprof::proto::{Function, Line, Location, Mapping, Profile, Sample, ValueType};
use ksym_serve::{Config, MemoryStore};

/// A profile of `addrs` (one sample each, the last one a user-space
/// address) under a mapping named `kernel_file`.
fn profile(addrs: &[u64], kernel_file: &str) -> Profile {
    let mut p = Profile {
        string_table: vec![
            "".into(),
            "samples".into(),
            "count".into(),
            kernel_file.into(),
            "/usr/bin/app".into(),
        ],
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        ..Profile::default()
    };
    p.mapping.push(Mapping {
        id: 1,
        memory_start: 0xffff_8000_0000_0000,
        memory_limit: u64::MAX,
        filename: 3,
        ..Mapping::default()
    });
    p.mapping.push(Mapping {
        id: 2,
        memory_start: 0x40_0000,
        memory_limit: 0x50_0000,
        filename: 4,
        ..Mapping::default()
    });
    for (i, &a) in addrs.iter().enumerate() {
        let user = a < 0x1_0000_0000;
        p.location.push(Location {
            id: i as u64 + 1,
            mapping_id: if user { 2 } else { 1 },
            address: a,
            ..Location::default()
        });
        p.sample.push(Sample {
            location_id: vec![i as u64 + 1],
            value: vec![1 + i as i64],
            label: vec![],
        });
    }
    p
}

/// Function name of each location, `None` when it has no line.
fn names(p: &Profile) -> Vec<Option<String>> {
    p.location
        .iter()
        .map(|l| {
            let line: &Line = l.line.first()?;
            let f: &Function = p.function.iter().find(|f| f.id == line.function_id)?;
            Some(p.string_table[f.name as usize].clone())
        })
        .collect()
}

fn kernel_addrs(table: &ksym::SymbolTable) -> Vec<u64> {
    let mut addrs: Vec<u64> = table
        .iter()
        .filter(|s| matches!(s.kind, 't' | 'T') && s.size > 8)
        .step_by(997)
        .take(40)
        .map(|s| s.start + 4)
        .collect();
    addrs.push(0x40_1234);
    addrs
}

#[test]
fn pprof_names_kernel_frames_gzipped_or_not() {
    let s = start(Config::default());
    let (table, _, boot) = &shared_snapshots()[0];
    let addrs = kernel_addrs(table);
    let plain = prost::Message::encode_to_vec(&profile(&addrs, "[kernel.kallsyms]"));
    let gzipped = ksym_pprof::encode(&profile(&addrs, "[kernel.kallsyms]"));
    for body in [&plain, &gzipped] {
        let (status, out) = post_bytes(&s.url(&format!("/v1/pprof?boot={boot}")), body, None);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
        let named = ksym_pprof::decode(&out).unwrap();
        let got = names(&named);
        for (name, &a) in got.iter().zip(&addrs) {
            let want = table.lookup(a).filter(|_| a >= 0xffff_8000_0000_0000);
            assert_eq!(name.as_deref(), want.map(|s| s.name), "{a:#x}");
        }
        assert_eq!(got.iter().flatten().count(), addrs.len() - 1);
        assert_eq!(named.sample.len(), addrs.len());
    }
    // What is wrong with the request, said.
    let url = |q: &str| s.url(&format!("/v1/pprof{q}"));
    let cases: [(String, Vec<u8>, u16, &str); 4] = [
        (url(""), plain.clone(), 400, "no boot given"),
        (url("?boot=nobody"), plain.clone(), 404, "no snapshot"),
        (
            url(&format!("?boot={boot}")),
            b"\x1f\x8bnot gzip".to_vec(),
            400,
            "does not decompress",
        ),
        (
            url(&format!("?boot={boot}")),
            b"\x08\x96\x01\xff\xff".to_vec(),
            400,
            "not a pprof profile",
        ),
    ];
    for (url, body, want, says) in cases {
        let (status, answer) = post(&url, &body, None);
        assert_eq!(status, want, "{url}: {answer}");
        assert!(answer.contains(says), "{answer} lacks {says}");
    }
}

#[test]
fn pprof_refuses_a_profile_that_decompresses_past_the_bound() {
    let config = Config {
        max_profile_bytes: 1 << 20,
        ..Config::default()
    };
    let s = start(config);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 4 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    let (status, answer) = post(&s.url(&format!("/v1/pprof?boot={BOOT_612}")), &bomb, None);
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("more than 1048576 bytes"), "{answer}");
}

#[test]
fn symbolz_answers_the_protocol() {
    let config = Config {
        default_boot: Some(BOOT_61.into()),
        ..Config::default()
    };
    let s = start(config);
    assert_eq!(
        get(&s.url("/pprof/symbol")),
        (200, "num_symbols: 1\n".into())
    );
    for (table, _, boot) in shared_snapshots() {
        let mut addrs = sample_addrs(table, 300);
        addrs.retain(|&a| a != 0);
        let query: Vec<String> = addrs.iter().map(|a| format!("{a:#x}")).collect();
        let path = if *boot == BOOT_61 {
            "/pprof/symbol".to_string() // the default boot
        } else {
            format!("/pprof/symbol?boot={boot}")
        };
        let (status, body) = post(&s.url(&path), query.join("+").as_bytes(), None);
        assert_eq!(status, 200, "{body}");
        let mut want = String::new();
        for &a in &addrs {
            if let Some(sym) = table.lookup(a) {
                want += &format!("{a:#x} {}", sym.name);
                if let Some(m) = sym.module {
                    want += &format!(" [{m}]");
                }
                want.push('\n');
            }
        }
        assert_eq!(body, want, "{boot}");
    }
    let (status, body) = post(&s.url("/pprof/symbol"), b"0x1+nothex", None);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("nothex") && body.contains("is not a hex address"),
        "{body}"
    );
    // No default and no ?boot=: said so.
    let s = start_with(Config::default(), Arc::new(MemoryStore::new()), None);
    let (status, body) = post(&s.url("/pprof/symbol"), b"0x1", None);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no boot given"), "{body}");
}

/// pprof's own client: `go tool pprof` fetches a profile whose kernel
/// mapping has no names from `http://<server>/pprof/profile` (a route
/// this test adds), and asks the server's `/pprof/symbol` for them, as it
/// asks any symbolz server.
#[test]
fn go_tool_pprof_symbolizes_through_the_server() {
    let go_ok = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !go_ok {
        eprintln!(
            "skipped: `go` is not installed (Debian: apt-get install golang-go, as \
             .ci/install-deps does), so go tool pprof cannot ask the server"
        );
        return;
    }
    let (table, _, boot) = &shared_snapshots()[0];
    let addrs = kernel_addrs(table);
    // Not `[kernel.kallsyms]`: pprof never asks symbolz about a mapping
    // whose name starts with `[`.
    let served = ksym_pprof::encode(&profile(&addrs, "vmlinux"));
    let extra = axum::Router::new().route(
        "/pprof/profile",
        axum::routing::get(move || {
            let served = served.clone();
            async move { served }
        }),
    );
    let config = Config {
        default_boot: Some(boot.to_string()),
        ..Config::default()
    };
    let s = start_with(config, Arc::new(MemoryStore::new()), Some(extra));
    let (_, bytes, _) = &shared_snapshots()[0];
    assert_eq!(post(&s.url("/v1/snapshots"), bytes, None).0, 200);

    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new("go")
        .args(["tool", "pprof", "-traces"])
        .arg(s.url("/pprof/profile"))
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", scratch.path().join("gocache"))
        .env("HOME", scratch.path())
        .env("PPROF_TMPDIR", scratch.path())
        .env_remove("PPROF_BINARY_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "go tool pprof: {stderr}\n{stdout}");
    let metrics = get(&s.url("/metrics")).1;
    assert!(
        metrics.contains("ksym_serve_requests_total{endpoint=\"symbolz\",status=\"200\"}"),
        "pprof did not ask /pprof/symbol:\n{stderr}\n{metrics}"
    );
    for &a in &addrs[..addrs.len() - 1] {
        let name = table.lookup(a).unwrap().name;
        assert!(
            stdout.lines().any(|l| l.trim().ends_with(name)),
            "{name} ({a:#x}) not in go tool pprof's traces:\n{stdout}"
        );
    }
}
