//! The server through its real listener, asked with a real HTTP client:
//! every endpoint, every error status, the token, the limits, the metrics.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ksym_serve::{Config, MemoryStore, Token};
use serde_json::Value;

/// Sends `head` as it is on a new connection and reads the answer until
/// the server closes it.
fn raw_request(base: &str, head: &str) -> String {
    let addr = base.strip_prefix("http://").unwrap();
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn frames(body: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["frames"].as_array().expect("a frames array").clone()
}

/// The frame the test expects for `addr` (exact lookup), built from the
/// table's answer field by field.
fn expected_frame(table: &ksym::SymbolTable, addr: u64) -> Value {
    match table.lookup(addr) {
        Some(s) => {
            let mut sym = serde_json::json!({
                "name": s.name, "start": format!("{:#x}", s.start), "offset": s.offset,
                "size": s.size, "module": s.module, "type": s.kind.to_string(),
            });
            if let Some(o) = s.object {
                sym["object"] = o.into();
            }
            if let Some(p) = s.path {
                sym["path"] = p.into();
            }
            serde_json::json!({"addr": format!("{addr:#x}"), "symbol": sym})
        }
        None => {
            serde_json::json!({"addr": format!("{addr:#x}"), "symbol": null, "reason": "no_symbol"})
        }
    }
}

#[test]
fn symbolize_answers_each_address_in_order() {
    let s = start(Config::default());
    for (table, _, boot) in shared_snapshots() {
        let addrs = sample_addrs(table, 2000);
        let (status, body) = post(
            &s.url("/v1/symbolize"),
            &symbolize_body(boot, &addrs, "exact"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let got = frames(&body);
        assert_eq!(got.len(), addrs.len());
        let mut raw = 0;
        for (frame, &a) in got.iter().zip(&addrs) {
            assert_eq!(frame, &expected_frame(table, a), "{boot} {a:#x}");
            raw += frame["symbol"].is_null() as usize;
        }
        assert!(raw >= 3 && raw < addrs.len() / 4, "{raw} raw frames");
    }
}

#[test]
fn return_mode_looks_up_the_byte_before() {
    let s = start(Config::default());
    let (table, _, boot) = &shared_snapshots()[0];
    // Symbol starts (where exact and return lookups part), and inner addresses.
    let addrs: Vec<u64> = sample_addrs(table, 300)
        .into_iter()
        .filter(|&a| a > 0x1000 && a < u64::MAX)
        .collect();
    let before: Vec<u64> = addrs.iter().map(|a| a - 1).collect();
    let ask = |addrs: &[u64], mode: &str| {
        let (status, body) = post(
            &s.url("/v1/symbolize"),
            &symbolize_body(boot, addrs, mode),
            None,
        );
        assert_eq!(status, 200, "{body}");
        frames(&body)
    };
    let (ret, exact_before, exact) = (
        ask(&addrs, "return"),
        ask(&before, "exact"),
        ask(&addrs, "exact"),
    );
    let mut parted = 0;
    for (i, &a) in addrs.iter().enumerate() {
        let (r, b, e) = (
            &ret[i]["symbol"],
            &exact_before[i]["symbol"],
            &exact[i]["symbol"],
        );
        assert_eq!(ret[i]["addr"], format!("{a:#x}"));
        assert_eq!(r["name"], b["name"], "{a:#x}");
        assert_eq!(r["start"], b["start"], "{a:#x}");
        if !r.is_null() {
            // %pB: the offset counts from the address given.
            assert_eq!(
                r["offset"].as_u64().unwrap(),
                b["offset"].as_u64().unwrap() + 1
            );
        }
        if !e.is_null() && e["start"] == format!("{a:#x}") {
            assert_ne!(
                r["start"], e["start"],
                "{a:#x}: a return address names the symbol before"
            );
            parted += 1;
        }
    }
    assert!(parted > 50, "{parted} symbol starts");
}

#[test]
fn malformed_and_oversized_requests_are_refused_with_a_message() {
    let config = Config {
        max_addrs: 100,
        max_body_bytes: 64 << 10,
        ..Config::default()
    };
    let s = start(config);
    let url = s.url("/v1/symbolize");
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"not json".to_vec(), 400, "request body"),
        (br#"{"boot": "x"}"#.to_vec(), 400, "missing field `addrs`"),
        (br#"{"boot": 7, "addrs": []}"#.to_vec(), 400, "request body"),
        (
            format!(r#"{{"boot": "{BOOT_612}", "addrs": ["0x1", "zz"]}}"#).into_bytes(),
            400,
            "addrs[1]",
        ),
        (
            format!(r#"{{"boot": "{BOOT_612}", "addrs": ["0x11112222333344445"]}}"#).into_bytes(),
            400,
            "addrs[0]",
        ),
        (
            format!(r#"{{"boot": "{BOOT_612}", "addrs": [], "mode": "sideways"}}"#).into_bytes(),
            400,
            "unknown variant",
        ),
        (
            br#"{"boot": "../../etc/passwd", "addrs": ["0x1"]}"#.to_vec(),
            400,
            "not a boot id",
        ),
        (
            br#"{"boot": "no-such-boot", "addrs": ["0x1"]}"#.to_vec(),
            404,
            "no snapshot for boot no-such-boot",
        ),
        (
            symbolize_body(BOOT_612, &[1; 101], "exact"),
            413,
            "at most 100",
        ),
    ];
    for (body, want, says) in cases {
        let (status, answer) = post(&url, &body, None);
        assert_eq!(status, want, "{answer}");
        let v: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(says), "{msg:?} lacks {says:?}");
    }
    // Refused on its Content-Length, before a byte of it is read.
    let answer = raw_request(
        &s.base,
        "POST /v1/symbolize HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("at most 65536"), "{answer}");
    // An empty request is an empty answer.
    let (status, answer) = post(&url, &symbolize_body(BOOT_612, &[], "exact"), None);
    assert_eq!((status, frames(&answer).len()), (200, 0));
    let (status, _) = get(&s.url("/v2/nothing"));
    assert_eq!(status, 404);
    let metrics = get(&s.url("/metrics")).1;
    for line in [
        "ksym_serve_failures_total{cause=\"bad_request\"} 7",
        "ksym_serve_failures_total{cause=\"not_found\"} 1",
        "ksym_serve_failures_total{cause=\"too_large\"} 2",
        "ksym_serve_requests_total{endpoint=\"symbolize\",status=\"400\"} 7",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

#[test]
fn uploads_are_checked_stored_and_replace_the_cached_table() {
    let config = Config {
        max_snapshot_bytes: 64 << 20,
        ..Config::default()
    };
    let s = start_with(config, Arc::new(MemoryStore::new()), None);
    let url = s.url("/v1/snapshots");
    let (t612, b612, _) = &shared_snapshots()[0];
    let boot = "11111111-2222-3333-4444-555555555555";
    let body = |bytes: &[u8]| {
        symbolize_body(boot, &[t612.iter().nth(100).unwrap().start], "exact").len() + bytes.len()
    };
    let _ = body;
    // Not a snapshot, a damaged one, one with no boot id, nothing.
    let mut damaged = b612.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x40;
    let no_boot = ksym::snapshot::to_bytes(t612, &ksym::snapshot::Identity::default());
    for (bytes, says) in [
        (&b"hello"[..], "truncated"),
        (&damaged[..], "checksum"),
        (&no_boot[..], "no boot id"),
        (&[][..], "empty body"),
    ] {
        let (status, answer) = post(&url, bytes, None);
        assert_eq!(status, 400, "{answer}");
        assert!(answer.contains(says), "{answer} lacks {says}");
    }
    // Refused on its Content-Length, before a byte of it is read.
    let answer = raw_request(
        &s.base,
        "POST /v1/snapshots HTTP/1.1\r\nHost: x\r\nContent-Length: 68157440\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // 6.12's table under `boot`, asked once (now cached), then 6.1's
    // uploaded under the same boot: the answer follows the upload.
    let (_, id612) = ksym::snapshot::from_bytes("t", b612, Default::default()).unwrap();
    let with_boot = |table: &ksym::SymbolTable, id: &ksym::snapshot::Identity| {
        let id = ksym::snapshot::Identity {
            boot_id: Some(boot.into()),
            ..id.clone()
        };
        ksym::snapshot::to_bytes(table, &id)
    };
    let (status, answer) = post(&url, &with_boot(t612, &id612), None);
    assert_eq!(status, 200, "{answer}");
    let v: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v["boot"], boot);
    let schedule = |table: &ksym::SymbolTable| table.find("schedule").next().unwrap().start;
    let ask = |addr: u64| {
        frames(
            &post(
                &s.url("/v1/symbolize"),
                &symbolize_body(boot, &[addr], "exact"),
                None,
            )
            .1,
        )
    };
    assert_eq!(ask(schedule(t612))[0]["symbol"]["name"], "schedule");
    let (t61, _, _) = &shared_snapshots()[1];
    let (status, _) = post(&url, &with_boot(t61, &Default::default()), None);
    assert_eq!(status, 200);
    assert_eq!(ask(schedule(t61))[0]["symbol"]["name"], "schedule");
    assert_eq!(
        ask(schedule(t61))[0]["symbol"]["start"],
        format!("{:#x}", schedule(t61))
    );
}

#[test]
fn the_token_guards_queries_and_uploads() {
    let token = "s3cret-token-of-32-characters-xx";
    let config = Config {
        token: Some(Token::new(token).unwrap()),
        ..Config::default()
    };
    let s = start_with(config, Arc::new(MemoryStore::new()), None);
    let (_, b612, boot) = &shared_snapshots()[0];
    let up = s.url("/v1/snapshots");
    for wrong in [
        None,
        Some("nope"),
        Some("s3cret-token-of-32-characters-xy"),
        Some("s3cret-token-of-32-characters-xxx"),
    ] {
        // (A body the server reads and drops: a larger one it would not
        // read, and cut the connection.)
        let (status, answer) = post(&up, &b612[..4096], wrong);
        assert_eq!(status, 401, "{wrong:?}: {answer}");
    }
    assert_eq!(post(&up, b612, Some(token)).0, 200);
    let q = symbolize_body(boot, &[0xffffffff9b000000], "exact");
    assert_eq!(post(&s.url("/v1/symbolize"), &q, None).0, 401);
    assert_eq!(post(&s.url("/v1/symbolize"), &q, Some(token)).0, 200);
    assert_eq!(post(&s.url("/pprof/symbol"), b"0x1", None).0, 401);
    assert_eq!(post(&s.url("/v1/pprof"), b"", None).0, 401);
    // Health and metrics hold no addresses: open.
    assert_eq!(get(&s.url("/healthz")), (200, "ok\n".into()));
    assert_eq!(get(&s.url("/readyz")), (200, "ready\n".into()));
    let (status, metrics) = get(&s.url("/metrics"));
    assert_eq!(status, 200);
    assert!(
        metrics.contains("ksym_serve_failures_total{cause=\"unauthorized\"} 7"),
        "{metrics}"
    );
}

#[test]
fn token_files_and_listen_addresses_are_checked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Token::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("mode 644"), "{err}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let token = Token::from_file(&path).unwrap();
    assert!(token.admits(Some(b"Bearer 0123456789abcdef0123")));
    assert!(!token.admits(Some(b"bearer 0123456789abcdef0123")));
    std::fs::write(&path, "short").unwrap();
    assert!(Token::from_file(&path)
        .unwrap_err()
        .to_string()
        .contains("at least 16"));
    let outside: std::net::SocketAddr = "0.0.0.0:7878".parse().unwrap();
    let err = ksym_serve::check_listen(&outside, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--token-file"), "{err}");
    assert!(ksym_serve::check_listen(&outside, Some(&token)).is_ok());
    assert!(ksym_serve::check_listen(&"[::1]:1".parse().unwrap(), None).is_ok());
}

#[test]
fn metrics_count_what_was_asked() {
    let s = start(Config::default());
    let (table, _, boot) = &shared_snapshots()[1];
    let addrs = sample_addrs(table, 500);
    for _ in 0..3 {
        let (status, _) = post(
            &s.url("/v1/symbolize"),
            &symbolize_body(boot, &addrs, "exact"),
            None,
        );
        assert_eq!(status, 200);
    }
    let resolved = addrs.iter().filter(|&&a| table.lookup(a).is_some()).count() * 3;
    let (status, text) = get(&s.url("/metrics"));
    assert_eq!(status, 200);
    assert!(text.ends_with("# EOF\n"), "{text}");
    for line in [
        "ksym_serve_batches_total 3".to_string(),
        format!("ksym_serve_input_ips_total {}", addrs.len() * 3),
        format!("ksym_serve_resolved_total {resolved}"),
        format!("ksym_serve_raw_frames_total {}", addrs.len() * 3 - resolved),
        "ksym_serve_snapshots_loaded_total 1".into(),
        "ksym_serve_snapshots_uploaded_total 2".into(),
        "ksym_serve_store_reads_total 1".into(),
        "ksym_serve_cache_hits_total 2".into(),
        "ksym_serve_cache_misses_total 1".into(),
        "ksym_serve_cache_tables 1".into(),
        "ksym_serve_requests_total{endpoint=\"symbolize\",status=\"200\"} 3".into(),
        "ksym_serve_request_duration_seconds_count{endpoint=\"symbolize\"} 3".into(),
    ] {
        assert!(text.contains(&line), "{line} not in\n{text}");
    }
}

#[test]
fn concurrent_first_requests_fetch_the_snapshot_once() {
    let s = start(Config::default());
    let (table, _, boot) = &shared_snapshots()[0];
    let addrs = sample_addrs(table, 100);
    let body = symbolize_body(boot, &addrs, "exact");
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| assert_eq!(post(&s.url("/v1/symbolize"), &body, None).0, 200));
        }
    });
    let text = get(&s.url("/metrics")).1;
    assert!(text.contains("ksym_serve_store_reads_total 1\n"), "{text}");
    assert!(
        text.contains("ksym_serve_snapshots_loaded_total 1\n"),
        "{text}"
    );
}

#[test]
fn a_request_slower_than_the_timeout_is_cut_off() {
    let config = Config {
        request_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let s = start_with(config, Arc::new(MemoryStore::new()), None);
    let addr = s.base.strip_prefix("http://").unwrap();
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Promise 100 bytes, send 10, and wait.
    write!(
        conn,
        "POST /v1/symbolize HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"boot\": \""
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("longer than"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_file_store_keeps_snapshots_across_servers() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("store").display());
    let (table, bytes, boot) = &shared_snapshots()[1];
    let (_, other_bytes, other) = &shared_snapshots()[0];
    let store = || ksym_serve::open_store(&url).unwrap();
    {
        let s = start_with(Config::default(), store(), None);
        assert_eq!(post(&s.url("/v1/snapshots"), bytes, None).0, 200);
        assert_eq!(post(&s.url("/v1/snapshots"), other_bytes, None).0, 200);
    }
    // What `ksym snapshot push` writes: content-addressed parts and a boot
    // record, private.
    let record = dir.path().join("store/boots").join(format!("{boot}.json"));
    let mode = std::fs::metadata(&record).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    let addrs = sample_addrs(table, 50);
    let s = start_with(Config::default(), store(), None);
    let ask = |boot: &str| {
        post(
            &s.url("/v1/symbolize"),
            &symbolize_body(boot, &addrs, "exact"),
            None,
        )
    };
    let (status, body) = ask(boot);
    assert_eq!(status, 200, "{body}");
    for (f, &a) in frames(&body).iter().zip(&addrs) {
        assert_eq!(f, &expected_frame(table, a));
    }
    // A boot record damaged in the store is refused, not served.
    let other_record = dir.path().join("store/boots").join(format!("{other}.json"));
    let mut damaged = std::fs::read(&other_record).unwrap();
    let at = damaged.len() - 10;
    damaged[at] ^= 1;
    std::fs::write(&other_record, damaged).unwrap();
    let (status, body) = ask(other);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("damaged"), "{body}");
    // An unknown boot is 404, not damage.
    let (status, body) = ask("44444444-5555-6666-7777-888888888888");
    assert_eq!(status, 404, "{body}");
    let text = get(&s.url("/metrics")).1;
    assert!(
        text.contains("ksym_serve_store_errors_total{cause=\"damaged\"} 1"),
        "{text}"
    );
}

#[test]
fn garbage_never_gets_a_server_error() {
    let s = start(Config::default());
    let mut seed = 0x9e3779b97f4a7c15u64;
    for i in 0..200 {
        let len = (i * 7) % 300;
        let body: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        for path in [
            "/v1/symbolize",
            "/v1/snapshots",
            "/v1/pprof?boot=x",
            "/pprof/symbol?boot=x",
        ] {
            let (status, answer) = post(&s.url(path), &body, None);
            assert!((400..500).contains(&status), "{path}: {status} {answer}");
        }
    }
    assert_eq!(get(&s.url("/healthz")).0, 200);
}
