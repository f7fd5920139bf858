//! `ksym snapshot push` and `ksym snapshot pull` through the binary: a
//! snapshot of the real 6.12 data into a `file://` store and back with the
//! same answers, the default store, the live kernel, and clear errors.

#![cfg(feature = "store")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ksym::snapshot::{save, Identity};
use ksym::{LoadOptions, ModuleMap};
use serde_json::Value;

mod common;
use common::*;

const BOOT: &str = "0b9f1c1e-3c1a-4b6e-9d7e-2a5c1f0e9b11";

/// The command, with its snapshot cache and default store in `home`.
fn ksym(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ksym"));
    c.env("KSYM_CACHE_DIR", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("HOME", home);
    c
}

fn ok(o: Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "exit {:?}, stderr: {err}", o.status);
    String::from_utf8(o.stdout).unwrap()
}

fn fails(o: Output) -> String {
    assert!(!o.status.success(), "unexpected success");
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.starts_with("ksym: "), "stderr: {err}");
    err
}

/// A snapshot of the 6.12 data that says which boot it is.
fn snapshot_6_12(dir: &Path) -> PathBuf {
    let base = data_dir().join("debian-6.12.117");
    let mut map = ModuleMap::default();
    let layout = std::fs::read(base.join("module-layout.tsv")).unwrap();
    map.add_text("module-layout.tsv", &layout).unwrap();
    let opts = LoadOptions {
        modules: Some(map),
        ..LoadOptions::default()
    };
    let table = ksym::load_file(&base.join("kallsyms.xz"), &opts).unwrap();
    let identity = Identity {
        release: Some("6.12.117+deb12-amd64".into()),
        boot_id: Some(BOOT.into()),
        kaslr_slide: Some(0x1a00_0000),
        ..Identity::default()
    };
    let path = dir.join("boot.ksym");
    save(&table, &identity, &path).unwrap();
    path
}

fn dump(home: &Path, snapshot: &Path) -> String {
    ok(ksym(home)
        .args([
            "--snapshot",
            snapshot.to_str().unwrap(),
            "dump",
            "--format",
            "json",
        ])
        .output()
        .unwrap())
}

#[test]
fn push_then_pull_gives_the_same_symbols() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let snapshot = snapshot_6_12(h);
    let store = format!("file://{}/store", h.display());
    let snap = snapshot.to_str().unwrap();
    let out = ok(ksym(h)
        .args([
            "--snapshot",
            snap,
            "snapshot",
            "push",
            "--store",
            &store,
            "--json",
        ])
        .output()
        .unwrap());
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["boot_id"], BOOT);
    assert!(report["objects_written"].as_u64().unwrap() > 60, "{report}");
    assert!(
        report["bytes_written"].as_u64().unwrap() > 1 << 20,
        "{report}"
    );
    // Again, as text: everything is there already.
    let out = ok(ksym(h)
        .args(["--snapshot", snap, "snapshot", "push", "--store", &store])
        .output()
        .unwrap());
    let want = format!(
        "pushed boot {BOOT} to {store}: 0 objects written (0 bytes), {} already there\n",
        report["objects_written"]
    );
    assert_eq!(out, want);

    let pulled = h.join("pulled.ksym");
    let out = ok(ksym(h)
        .args([
            "snapshot",
            "pull",
            BOOT,
            pulled.to_str().unwrap(),
            "--store",
            &store,
        ])
        .output()
        .unwrap());
    assert!(
        out.starts_with(&format!("pulled boot {BOOT} from {store}")),
        "{out}"
    );
    let mode = std::fs::metadata(&pulled).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(dump(h, &snapshot), dump(h, &pulled));
    ok(ksym(h)
        .args(["snapshot", "check", pulled.to_str().unwrap()])
        .output()
        .unwrap());
}

#[test]
fn the_default_store_is_private_and_errors_are_clear() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let snapshot = snapshot_6_12(h);
    ok(ksym(h)
        .args(["--snapshot", snapshot.to_str().unwrap(), "snapshot", "push"])
        .output()
        .unwrap());
    let dir = h.join("data/ksym/store");
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(dir.join(format!("boots/{BOOT}.json")).is_file());

    let missing = h.join("missing.ksym");
    let err = fails(
        ksym(h)
            .args([
                "snapshot",
                "pull",
                "0b9f1c1e-0000-0000-0000-000000000000",
                missing.to_str().unwrap(),
            ])
            .output()
            .unwrap(),
    );
    assert!(err.contains("no snapshot of boot 0b9f1c1e-0000"), "{err}");
    assert!(!missing.exists());
    // A file of symbols says no boot: nothing to file it under.
    let kallsyms = data_dir().join("debian-6.12.117/kallsyms.xz");
    let err = fails(
        ksym(h)
            .args(["--kallsyms", kallsyms.to_str().unwrap(), "snapshot", "push"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("no boot id"), "{err}");
    let err = fails(
        ksym(h)
            .args(["snapshot", "pull", BOOT, "x.ksym", "--store", "gopher://x"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("unknown scheme"), "{err}");
}

#[test]
fn the_live_kernel_pushes_under_its_boot_id() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let store = format!("file://{}/store", h.display());
    let out = ksym(h)
        .args(["snapshot", "push", "--store", &store, "--json"])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "skipped: the live kernel cannot be pushed here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let report: Value = serde_json::from_str(ok(out).trim()).unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(report["boot_id"], boot.trim());
    let record =
        std::fs::read_to_string(h.join(format!("store/boots/{}.json", boot.trim()))).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        record.contains(&format!("\"host\":\"{}\"", host.trim())),
        "{record}"
    );
    let pulled = h.join("live.ksym");
    ok(ksym(h)
        .args([
            "snapshot",
            "pull",
            boot.trim(),
            pulled.to_str().unwrap(),
            "--store",
            &store,
        ])
        .output()
        .unwrap());
    ok(ksym(h)
        .args(["snapshot", "check", pulled.to_str().unwrap()])
        .output()
        .unwrap());
}
