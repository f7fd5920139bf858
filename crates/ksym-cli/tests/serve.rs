//! `ksym serve` as a user runs it: the real binary on a loopback port, asked
//! over HTTP; its frames must be what `ksym addr --json` prints for the same
//! snapshot (the 6.12 and 6.1 data, and the live kernel's when it can be
//! read).

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::serving::*;
use common::*;

/// A snapshot file that `ksym` saves from `source_args`, under boot id
/// `boot` when given (a saved kallsyms has none; the live kernel's has its
/// own).
fn saved_snapshot(
    dir: &Path,
    name: &str,
    source_args: &[&str],
    boot: Option<&str>,
) -> Option<PathBuf> {
    let path = dir.join(format!("{name}.ksym"));
    let out = ksym(dir)
        .args(source_args)
        .args(["snapshot", "save", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "{name}: ksym snapshot save failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    if let Some(boot) = boot {
        let bytes = std::fs::read(&path).unwrap();
        let (table, mut id) = ksym::snapshot::from_bytes(name, &bytes, Default::default()).unwrap();
        id.boot_id = Some(boot.to_string());
        std::fs::write(&path, ksym::snapshot::to_bytes(&table, &id)).unwrap();
    }
    Some(path)
}

/// Addresses over the whole table: symbol starts, middles and ends, gaps,
/// and addresses no symbol holds.
fn addrs_of(snapshot: &Path) -> Vec<u64> {
    let (table, _) = ksym::snapshot::open(snapshot, Default::default()).unwrap();
    let mut out: Vec<u64> = table
        .iter()
        .step_by(97)
        .enumerate()
        .map(|(i, s)| s.start + [0, s.size / 2, s.size][i % 3])
        .collect();
    out.extend([0, 1, 0xffff_ffff_ffff_ffff, 0xffff_8880_0000_0000]);
    out
}

fn compare(dir: &Path, server: &Serving, snapshot: &Path) -> usize {
    let (status, answer) = post(
        &format!("{}/v1/snapshots", server.base),
        &std::fs::read(snapshot).unwrap(),
    );
    assert_eq!(status, 200, "{answer}");
    let boot = serde_json::from_str::<Value>(&answer).unwrap()["boot"]
        .as_str()
        .unwrap()
        .to_string();
    let addrs = addrs_of(snapshot);
    let hex: Vec<String> = addrs.iter().map(|a| format!("{a:#x}")).collect();
    let body = serde_json::json!({"boot": boot, "addrs": hex, "mode": "exact"}).to_string();
    let (status, answer) = post(&format!("{}/v1/symbolize", server.base), body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let served: Value = serde_json::from_str(&answer).unwrap();
    let served = served["frames"].as_array().unwrap();

    let input: String = hex.iter().map(|h| format!("{h}\n")).collect();
    let out = output_with_stdin(
        ksym(dir)
            .arg("--snapshot")
            .arg(snapshot)
            .args(["addr", "--json"]),
        input.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len(), addrs.len());
    assert_eq!(served.len(), addrs.len());
    let mut raw = 0;
    for ((s, p), a) in served.iter().zip(&printed).zip(&addrs) {
        assert_eq!(s, p, "{a:#x} in {}", snapshot.display());
        raw += s["symbol"].is_null() as usize;
    }
    assert!(raw >= 3, "the raw addresses were named?");
    addrs.len()
}

#[test]
fn serve_answers_what_ksym_addr_json_prints() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir();
    let store = format!("file://{}", dir.path().join("store").display());
    let server = serve(dir.path(), &["--store", &store]);
    let k612 = data.join("debian-6.12.117");
    let k61 = data.join("debian-6.1.0-57-cloud");
    let sources: [(&str, Vec<PathBuf>, Option<&str>); 2] = [
        (
            "6.12",
            vec![k612.join("kallsyms.xz"), k612.join("proc-modules")],
            Some("6a6c1c7e-0612-4c1b-8d0a-000000000612"),
        ),
        (
            "6.1",
            vec![k61.join("kallsyms.xz"), k61.join("proc-modules")],
            Some("6a6c1c7e-0601-4c1b-8d0a-000000000601"),
        ),
    ];
    for (name, files, boot) in &sources {
        let args = [
            "--kallsyms",
            files[0].to_str().unwrap(),
            "--modules",
            files[1].to_str().unwrap(),
        ];
        let snap = saved_snapshot(dir.path(), name, &args, *boot).unwrap();
        let n = compare(dir.path(), &server, &snap);
        eprintln!("{name}: {n} addresses, served = printed");
    }
    // The live kernel's own snapshot (its boot id is the machine's).
    match saved_snapshot(dir.path(), "live", &["--no-cache"], None) {
        Some(snap) => {
            let n = compare(dir.path(), &server, &snap);
            eprintln!("live: {n} addresses, served = printed");
        }
        None => {
            eprintln!("skipped the live kernel: its symbols could not be read here (see above)")
        }
    }
}

#[test]
fn addresses_reach_the_log_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let k61 = data_dir().join("debian-6.1.0-56/kallsyms.xz");
    let boot = "6a6c1c7e-0601-4c1b-8d0a-00000000beef";
    let snap = saved_snapshot(
        dir.path(),
        "6.1",
        &["--kallsyms", k61.to_str().unwrap()],
        Some(boot),
    )
    .unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let query = serde_json::json!({"boot": boot, "addrs": ["0xffffffffa1b2c3d4"]}).to_string();
    let unknown =
        serde_json::json!({"boot": "nobody", "addrs": ["0xffffffffa1b2c3d5"]}).to_string();
    for (args, logged) in [(vec![], false), (vec!["--log-addresses"], true)] {
        let server = serve(
            dir.path(),
            &[&["--store", store.as_str()][..], &args].concat(),
        );
        let up = post(
            &format!("{}/v1/snapshots", server.base),
            &std::fs::read(&snap).unwrap(),
        );
        assert_eq!(up.0, 200, "{}", up.1);
        assert_eq!(
            post(&format!("{}/v1/symbolize", server.base), query.as_bytes()).0,
            200
        );
        assert_eq!(
            post(&format!("{}/v1/symbolize", server.base), unknown.as_bytes()).0,
            404
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        let log = server.log.lock().unwrap().clone();
        assert!(log.contains("POST /v1/symbolize: 404"), "{log}");
        assert_eq!(log.contains("ffffffffa1b2c3d4"), logged, "{args:?}: {log}");
    }
}

#[test]
fn serve_refuses_to_start_unguarded_off_loopback() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let run = |args: &[&str]| {
        let out = ksym(dir.path()).arg("serve").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    let err = run(&["--listen", "0.0.0.0:0", "--store", &store]);
    assert!(
        err.contains("not a loopback address: give --token-file"),
        "{err}"
    );
    let token = dir.path().join("token");
    std::fs::write(&token, "a-long-enough-token-0123456789\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = run(&[
        "--listen",
        "0.0.0.0:0",
        "--store",
        &store,
        "--token-file",
        token.to_str().unwrap(),
    ]);
    assert!(err.contains("mode 640: others may read it"), "{err}");
    let err = run(&["--store", "ftp://host/dir"]);
    assert!(err.contains("ftp://host/dir"), "{err}");
    let err = run(&["--store", "file://relative"]);
    assert!(err.contains("file://relative"), "{err}");
}

/// What `ksym snapshot push` writes into a store, `ksym serve` over the same
/// store answers: the live kernel's snapshot pushed to a `file://` store,
/// then asked through the server by its boot id (skipped, saying so, when
/// the live kernel's symbols cannot be read).
#[test]
fn serve_answers_for_a_boot_that_snapshot_push_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let out = ksym(dir.path())
        .args(["snapshot", "push", "--json", "--store", &store])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "SKIP: ksym snapshot push of the live kernel failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let boot = report["boot_id"].as_str().unwrap().to_string();
    let snapshot = saved_snapshot(dir.path(), "live", &[], None).unwrap();
    let server = serve(dir.path(), &["--store", &store]);
    let addrs = addrs_of(&snapshot);
    let hex: Vec<String> = addrs.iter().map(|a| format!("{a:#x}")).collect();
    let body = serde_json::json!({"boot": boot, "addrs": hex, "mode": "exact"}).to_string();
    let (status, answer) = post(&format!("{}/v1/symbolize", server.base), body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let served: Value = serde_json::from_str(&answer).unwrap();
    let served = served["frames"].as_array().unwrap();
    let (table, _) = ksym::snapshot::open(&snapshot, Default::default()).unwrap();
    assert_eq!(served.len(), addrs.len());
    for (s, a) in served.iter().zip(&addrs) {
        let want = table.lookup(*a);
        assert_eq!(
            s["symbol"]["name"].as_str(),
            want.as_ref().map(|w| w.name),
            "{a:#x}"
        );
    }
}
