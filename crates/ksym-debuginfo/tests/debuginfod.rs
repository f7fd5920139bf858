//! The debuginfod client against Debian's real `debuginfod` server started
//! on loopback, and against elfutils' own client (`debuginfod-find`) over
//! the same cache, both ways; raw loopback servers give the answers a real
//! server never gives (silence, endless bodies, another build).

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use ksym_debuginfo::{Config, DebugInfoFinder, Error, Origin};

fn finder(urls: &[&str], cache: &Path) -> DebugInfoFinder {
    DebugInfoFinder::new(Config {
        root: cache.join("no-root"), // nothing on disk
        debuginfod_urls: urls.iter().map(|u| u.to_string()).collect(),
        cache_dir: Some(cache.to_path_buf()),
        timeout: Some(Duration::from_secs(10)),
        max_size: None,
        progress: false,
    })
}

/// `debuginfod-find debuginfo HEX` over `cache`, asking `url`: its stdout
/// (the path) on success, else `None`.
fn debuginfod_find(cache: &Path, url: &str, hex: &str) -> Option<String> {
    let out = Command::new("debuginfod-find")
        .env("DEBUGINFOD_CACHE_PATH", cache)
        .env("DEBUGINFOD_URLS", url)
        .env("DEBUGINFOD_TIMEOUT", "5")
        .args(["debuginfo", hex])
        .output()
        .expect("debuginfod-find runs");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A build-id no server here has.
const UNSERVED: &str = "0123456789abcdef0123456789abcdef01234567";

/// Asks `url` for [`UNSERVED`] with a 1 s timeout: the error and the time
/// it took.
fn fetch_with_1s_timeout(url: &str, cache: &Path) -> (Error, Duration) {
    let mut config = finder(&[url], cache).config().clone();
    config.timeout = Some(Duration::from_secs(1));
    let start = Instant::now();
    let e = DebugInfoFinder::new(config)
        .fetch_debuginfo(&bytes_of(UNSERVED))
        .unwrap_err();
    (e, start.elapsed())
}

fn need_server(test: &str) -> bool {
    have("debuginfod", test) && have("debuginfod-find", test) && have("readelf", test)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn fetched_once_then_served_from_the_cache_both_clients_agree() {
    if !need_server("fetched_once_then_served_from_the_cache") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let files = work.path().join("files");
    let (xfs, virtio) = (files.join("xfs.ko"), files.join("virtio.ko"));
    unpack_ko("xfs", &xfs);
    unpack_ko("virtio", &virtio);
    let mut server = Debuginfod::start(&files, &work.path().join("db.sqlite"), 2);
    let cache = work.path().join("cache");
    let xfs_hex = readelf_build_id(&xfs);
    let xfs_id = bytes_of(&xfs_hex);

    // Ours fetches; the bytes are the served file's.
    let start = Instant::now();
    let found = finder(&[&server.url], &cache)
        .fetch_debuginfo(&xfs_id)
        .unwrap();
    let fetched_in = start.elapsed();
    let entry = cache.join(&xfs_hex).join("debuginfo");
    assert_eq!(found.path, entry);
    assert!(matches!(&found.origin, Origin::Debuginfod { url } if url.starts_with(&server.url)));
    assert_same_bytes(&entry, &xfs);
    assert_eq!(
        (mode(&entry), mode(entry.parent().unwrap())),
        (0o400, 0o700)
    );
    let leftovers: Vec<_> = std::fs::read_dir(entry.parent().unwrap())
        .unwrap()
        .collect();
    assert_eq!(leftovers.len(), 1, "a temporary file was left behind");

    // The second call is served by the cache.
    let start = Instant::now();
    let again = finder(&[&server.url], &cache)
        .fetch_debuginfo(&xfs_id)
        .unwrap();
    let cached_in = start.elapsed();
    assert_eq!((again.path, again.origin), (entry.clone(), Origin::Cache));
    eprintln!(
        "xfs.ko ({} MB): fetched over loopback in {fetched_in:?}, then from the cache in {cached_in:?}",
        std::fs::metadata(&xfs).unwrap().len() / 1_000_000
    );

    // elfutils' client fetches virtio into the same cache...
    let virtio_hex = readelf_build_id(&virtio);
    let by_elfutils =
        debuginfod_find(&cache, &server.url, &virtio_hex).expect("debuginfod-find fetches");
    server.stop();
    // ...and, the server gone, ours finds it, and elfutils finds ours.
    let found = finder(&[&server.url], &cache)
        .fetch_debuginfo(&bytes_of(&virtio_hex))
        .unwrap();
    assert_eq!(
        (found.path.display().to_string(), found.origin),
        (by_elfutils, Origin::Cache)
    );
    let from_cache =
        debuginfod_find(&cache, &server.url, &xfs_hex).expect("debuginfod-find reads our entry");
    assert_eq!(Path::new(&from_cache), entry);
}

#[test]
fn a_miss_is_remembered_by_both_clients() {
    if !need_server("a_miss_is_remembered_by_both_clients") {
        return;
    }
    let not_found = RawServer::start(|s| {
        let _ = s
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    let cache = tempfile::tempdir().unwrap();
    let ours = "00112233445566778899aabbccddeeff00112233";
    let e = finder(&[&not_found.url], cache.path())
        .fetch_debuginfo(&bytes_of(ours))
        .unwrap_err();
    assert!(e.to_string().contains("HTTP 404"), "{e}");
    assert_eq!(not_found.connections(), 1);
    let entry = cache.path().join(ours).join("debuginfo");
    assert_eq!(
        std::fs::metadata(&entry).unwrap().len(),
        0,
        "no zero-length miss entry"
    );
    // Asked again: no connection, by ours or by elfutils.
    let e = finder(&[&not_found.url], cache.path())
        .fetch_debuginfo(&bytes_of(ours))
        .unwrap_err();
    assert!(e.to_string().contains("a remembered miss"), "{e}");
    assert_eq!(debuginfod_find(cache.path(), &not_found.url, ours), None);
    assert_eq!(
        not_found.connections(),
        1,
        "a remembered miss asked the server again"
    );

    // elfutils' miss is honoured by ours.
    let theirs = "ffeeddccbbaa99887766554433221100ffeeddcc";
    assert_eq!(debuginfod_find(cache.path(), &not_found.url, theirs), None);
    let asked = not_found.connections();
    assert!(asked > 1, "debuginfod-find did not ask");
    let e = finder(&[&not_found.url], cache.path())
        .fetch_debuginfo(&bytes_of(theirs))
        .unwrap_err();
    assert!(e.to_string().contains("a remembered miss"), "{e}");
    assert_eq!(not_found.connections(), asked);

    // An old miss is forgotten: cache_miss_s says 0 seconds, the entry is
    // made older than that, and the server is asked again.
    std::fs::write(cache.path().join("cache_miss_s"), "0").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&entry)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let _ = finder(&[&not_found.url], cache.path()).fetch_debuginfo(&bytes_of(ours));
    assert_eq!(not_found.connections(), asked + 1);
}

#[test]
fn a_silent_server_times_out() {
    let silent = RawServer::start(|s| {
        std::thread::sleep(Duration::from_secs(30));
        let _ = s.flush();
    });
    let cache = tempfile::tempdir().unwrap();
    let (e, took) = fetch_with_1s_timeout(&silent.url, cache.path());
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(e.to_string().to_lowercase().contains("timed out"), "{e}");
    // A timeout is not a miss: nothing remembered.
    assert!(!cache.path().join(UNSERVED).join("debuginfo").exists());
}

#[test]
fn a_body_that_stalls_times_out() {
    let stalls = RawServer::start(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n\x7fELF");
        std::thread::sleep(Duration::from_secs(30));
    });
    let cache = tempfile::tempdir().unwrap();
    let (e, took) = fetch_with_1s_timeout(&stalls.url, cache.path());
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(e.to_string().contains("after 4 bytes"), "{e}");
    // Neither the partial download nor its directory is left.
    assert!(
        !cache.path().join(UNSERVED).exists(),
        "a partial download was kept"
    );
}

/// elfutils' rule: under 100 KiB/s for DEBUGINFOD_TIMEOUT seconds fails,
/// even while bytes keep coming (each read alone would not time out).
/// elfutils' own client, on the same server, agrees.
#[test]
fn a_trickle_fails_as_with_elfutils() {
    let trickle = RawServer::start(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
        for _ in 0..100 {
            if s.write_all(&[0u8; 100]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let (e, took) = fetch_with_1s_timeout(&trickle.url, cache.path());
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(e.to_string().contains("too slow"), "{e}");
    if have(
        "debuginfod-find",
        "a_trickle_fails_as_with_elfutils (elfutils half)",
    ) {
        let start = Instant::now();
        let out = Command::new("debuginfod-find")
            .env("DEBUGINFOD_CACHE_PATH", cache.path().join("elfutils"))
            .env("DEBUGINFOD_URLS", &trickle.url)
            .env("DEBUGINFOD_TIMEOUT", "1")
            .args(["debuginfo", UNSERVED])
            .output()
            .unwrap();
        assert!(!out.status.success(), "debuginfod-find took the trickle");
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(8),
            "debuginfod-find took {took:?}"
        );
    }
}

#[test]
fn every_server_is_asked_and_the_one_that_has_it_wins() {
    let scratch = tempfile::tempdir().unwrap();
    let ko = scratch.path().join("llc.ko");
    unpack_ko("llc", &ko);
    if !have(
        "readelf",
        "every_server_is_asked_and_the_one_that_has_it_wins",
    ) {
        return;
    }
    let hex = readelf_build_id(&ko);
    let not_found = RawServer::start(|s| {
        let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    });
    // The one that has it answers late: a 404 that comes first does not
    // end the search.
    let has_it = RawServer::serving_after(Duration::from_secs(1), std::fs::read(&ko).unwrap());
    let cache = scratch.path().join("cache");
    // A trailing slash is joined as elfutils joins it.
    let second = format!("{}/", has_it.url);
    let found = finder(&[&not_found.url, &second], &cache)
        .fetch_debuginfo(&bytes_of(&hex))
        .unwrap();
    let url = format!("{}/buildid/{hex}/debuginfo", has_it.url);
    assert_eq!(found.origin, Origin::Debuginfod { url });
    assert_eq!((not_found.connections(), has_it.connections()), (1, 1));
    assert_same_bytes(&found.path, &ko);
}

/// A server that never answers does not hold up one that has the file:
/// they are asked at once.
#[test]
fn a_silent_server_does_not_hold_up_the_others() {
    let scratch = tempfile::tempdir().unwrap();
    let ko = scratch.path().join("llc.ko");
    unpack_ko("llc", &ko);
    if !have("readelf", "a_silent_server_does_not_hold_up_the_others") {
        return;
    }
    let silent = RawServer::start(|_| std::thread::sleep(Duration::from_secs(30)));
    let has_it = RawServer::serving(std::fs::read(&ko).unwrap());
    let cache = scratch.path().join("cache");
    let mut config = finder(&[&silent.url, &has_it.url], &cache).config().clone();
    config.timeout = Some(Duration::from_secs(20));
    let start = Instant::now();
    let found = DebugInfoFinder::new(config)
        .fetch_debuginfo(&bytes_of(&readelf_build_id(&ko)))
        .unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(matches!(&found.origin, Origin::Debuginfod { url } if url.starts_with(&has_it.url)));
    assert_same_bytes(&found.path, &ko);
}

#[test]
fn max_size_refuses_early_and_while_streaming() {
    let cache = tempfile::tempdir().unwrap();
    let id = UNSERVED;
    let mut config = finder(&[], cache.path()).config().clone();
    config.max_size = Some(1 << 20);
    // Announced too big: refused before the body.
    let announced = RawServer::start(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n");
    });
    // Not announced, and endless: refused once past the bound.
    let endless = RawServer::start(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let chunk = vec![0u8; 64 << 10];
        while s.write_all(&chunk).is_ok() {}
    });
    for (server, says) in [
        (&announced, "1000000000 bytes, more than"),
        (&endless, "bytes arrived"),
    ] {
        config.debuginfod_urls = vec![server.url.clone()];
        let e = DebugInfoFinder::new(config.clone())
            .fetch_debuginfo(&bytes_of(id))
            .unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
        assert!(
            e.to_string().contains("DEBUGINFOD_MAXSIZE (1048576)"),
            "{e}"
        );
        // Neither a file nor a miss is kept, nor a temporary file.
        let dir = cache.path().join(id);
        assert!(!dir.exists(), "{} was left", dir.display());
    }
}

#[test]
fn max_size_with_the_real_server() {
    if !need_server("max_size_with_the_real_server") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let files = work.path().join("files");
    let ko = files.join("fat.ko");
    unpack_ko("fat", &ko);
    let server = Debuginfod::start(&files, &work.path().join("db.sqlite"), 1);
    let cache = work.path().join("cache");
    let mut config = finder(&[&server.url], &cache).config().clone();
    config.max_size = Some(1000);
    let id = bytes_of(&readelf_build_id(&ko));
    let e = DebugInfoFinder::new(config)
        .fetch_debuginfo(&id)
        .unwrap_err();
    assert!(e.to_string().contains("DEBUGINFOD_MAXSIZE"), "{e}");
    // Under a bound it fits, it arrives.
    let found = finder(&[&server.url], &cache).fetch_debuginfo(&id).unwrap();
    assert_same_bytes(&found.path, &ko);
}

#[test]
fn another_build_from_a_server_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let other = scratch.path().join("stp.ko");
    unpack_ko("stp", &other);
    let server = RawServer::serving(std::fs::read(&other).unwrap());
    let cache = scratch.path().join("cache");
    let wanted = UNSERVED;
    let e = finder(&[&server.url], &cache)
        .fetch_debuginfo(&bytes_of(wanted))
        .unwrap_err();
    let Error::Mismatch { mismatched, .. } = &e else {
        panic!("not a mismatch: {e}");
    };
    assert_eq!(mismatched[0].wanted, wanted);
    if have("readelf", "another_build_from_a_server_is_refused") {
        assert_eq!(mismatched[0].found, readelf_build_id(&other));
    }
    assert!(
        !cache.join(wanted).exists(),
        "the wrong file (or a miss) was kept"
    );
}

#[test]
fn the_cache_is_not_read_through_a_symbolic_link() {
    let scratch = tempfile::tempdir().unwrap();
    let elsewhere = scratch.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let ko = elsewhere.join("debuginfo");
    unpack_ko("llc", &ko);
    let cache = scratch.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    if !have("readelf", "the_cache_is_not_read_through_a_symbolic_link") {
        return;
    }
    let hex = readelf_build_id(&ko);
    std::os::unix::fs::symlink(&elsewhere, cache.join(&hex)).unwrap();
    let e = finder(&[], &cache)
        .fetch_debuginfo(&bytes_of(&hex))
        .unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
}
