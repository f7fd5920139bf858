//! The store over `memory://` and `file://`: a real 6.12 snapshot in and
//! out with the same answers, modes on disk, damaged objects, conditional
//! put races, unknown boots, refused snapshots and URLs.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{assert_same_snapshot, boot, boot_id, files_under};
use ksym::snapshot::{to_bytes, Identity};
use ksym_store::{Error, Store};

#[tokio::test(flavor = "multi_thread")]
async fn memory_store_gives_back_the_same_answers() {
    let store = Store::from_url("memory://").unwrap();
    let snapshot = boot(0);
    let first = store.put_snapshot(&snapshot).await.unwrap();
    eprintln!("{first:?}");
    assert_eq!(first.boot_id, boot_id(0));
    assert_eq!(first.objects_reused, 0);
    // The core, one part per loaded module, the layout and the record.
    let (table, _) = common::open(&snapshot);
    let modules = common::modules_with_symbols(&table).len();
    assert!(modules > 40, "{modules} modules");
    assert_eq!(first.objects_written, modules + 3);
    assert_same_snapshot(&snapshot, &store.get_snapshot(&boot_id(0)).await.unwrap());
    // Again: nothing new.
    let again = store.put_snapshot(&snapshot).await.unwrap();
    assert_eq!((again.objects_written, again.bytes_written), (0, 0));
    assert_eq!(again.objects_reused, first.objects_written);
}

#[tokio::test(flavor = "multi_thread")]
async fn file_store_keeps_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/store");
    let store = Store::from_url(&format!("file://{}", root.display())).unwrap();
    let snapshot = boot(1);
    store.put_snapshot(&snapshot).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700);
    let files = files_under(&root);
    assert!(files.len() > 60, "{files:?}");
    for f in files {
        let want = if f.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&f), want, "{}", f.display());
    }
    // Another process's view: the same answers from a store opened again.
    let again = Store::from_url(&format!("file://{}", root.display())).unwrap();
    assert_same_snapshot(&snapshot, &again.get_snapshot(&boot_id(1)).await.unwrap());
}

/// Flips one byte of the file, or cuts it short.
fn damage(path: &std::path::Path, truncate: bool) {
    let mut bytes = std::fs::read(path).unwrap();
    if truncate {
        bytes.truncate(bytes.len() / 2);
    } else {
        let i = bytes.len() / 3;
        bytes[i] ^= 0x01;
    }
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_objects_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(&format!("file://{}", dir.path().display())).unwrap();
    store.put_snapshot(&boot(2)).await.unwrap();
    let id = boot_id(2);
    let find = |prefix: &str| {
        files_under(&dir.path().join(prefix))
            .into_iter()
            .find(|p| p.is_file())
            .unwrap()
    };
    for (prefix, truncate) in [
        ("cores", false),
        ("modules", true),
        ("modules", false),
        ("layouts", false),
        ("boots", false),
        ("boots", true),
    ] {
        let path = find(prefix);
        let kept = std::fs::read(&path).unwrap();
        damage(&path, truncate);
        let err = store.get_snapshot(&id).await.unwrap_err();
        let name = path
            .strip_prefix(dir.path())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        match &err {
            Error::Damaged { object, .. } => assert_eq!(object, &name, "{err}"),
            other => panic!("{prefix}: {other}"),
        }
        assert!(err.to_string().contains(&name), "{err}");
        std::fs::write(&path, kept).unwrap();
        store.get_snapshot(&id).await.unwrap();
    }
    // A damaged part is not silently reused by the next push either.
    let path = find("cores");
    damage(&path, false);
    let err = store.put_snapshot(&boot(3)).await.unwrap_err();
    assert!(matches!(err, Error::Damaged { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_boots_are_not_found() {
    let store = Store::from_url("memory://").unwrap();
    for id in [
        "0b9f1c1e-3c1a-4b6e-9d7e-2a5c1f0e9b11",
        "../../etc/passwd",
        "",
    ] {
        let err = store.get_snapshot(id).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_writers_race() {
    let store = Store::from_url("memory://").unwrap();
    let snapshot = boot(4);
    // The same boot twice at once: each object written once, by either.
    let (a, b) = tokio::join!(store.put_snapshot(&snapshot), store.put_snapshot(&snapshot));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.objects_written + a.objects_reused,
        b.objects_written + b.objects_reused
    );
    assert_eq!(
        a.objects_written + b.objects_written,
        a.objects_written + a.objects_reused
    );
    // Two different snapshots claiming one boot: one wins, one conflicts.
    let (table, mut identity) = common::open(&boot(5));
    identity.boot_id = Some(boot_id(6));
    let other = to_bytes(&table, &identity);
    let mine = boot(6);
    let (one, two) = tokio::join!(store.put_snapshot(&mine), store.put_snapshot(&other));
    let results = [one, two];
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(matches!(loser, Error::Conflict { .. }), "{loser}");
    let stored = store.get_snapshot(&boot_id(6)).await.unwrap();
    let winner = if results[0].is_ok() { mine } else { other };
    assert_same_snapshot(&winner, &stored);
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_without_a_boot_id_are_refused() {
    let store = Store::from_url("memory://").unwrap();
    let (table, identity) = common::open(&boot(7));
    let no_boot = to_bytes(
        &table,
        &Identity {
            boot_id: None,
            ..identity
        },
    );
    let err = store.put_snapshot(&no_boot).await.unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    assert!(err.to_string().contains("no boot id"), "{err}");
    let err = store
        .put_snapshot(b"KSYMSNAP and then nothing")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
}

#[test]
fn bad_urls_are_clear_errors() {
    for (url, says) in [
        ("ftp://host/x", "unknown scheme"),
        ("no url at all", "relative URL"),
        ("s3:///prefix", "no bucket"),
        ("file://otherhost/dir", "no host"),
    ] {
        let err = Store::from_url(url).unwrap_err();
        assert!(matches!(err, Error::Url { .. }), "{err}");
        assert!(err.to_string().contains(says), "{url}: {err}");
    }
}
