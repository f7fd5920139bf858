//! What the tests share: the real modules of `../shared/data`, build-ids
//! as binutils' `readelf` reads them (not this crate), a real `debuginfod`
//! server started on loopback, and tiny raw HTTP servers for the answers a
//! real server never gives.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn ko_debug_dir() -> PathBuf {
    let dir = ksym_testdata::data_dir().join("debian-6.1.0-57-cloud/ko-debug");
    assert!(
        dir.is_dir(),
        "the real kernel data is missing: expected {} (shared/ beside the clone)",
        dir.display()
    );
    dir
}

/// The compressed module `name` of the shared data (`virtio`, `xfs`, ...).
pub fn ko_xz(name: &str) -> PathBuf {
    ko_debug_dir().join(format!("{name}.ko.xz"))
}

/// Module `name` decompressed to `dest`.
pub fn unpack_ko(name: &str, dest: &Path) {
    let out = Command::new("xz")
        .args(["-dc"])
        .arg(ko_xz(name))
        .output()
        .expect("xz runs");
    assert!(out.status.success(), "xz -dc {name}.ko.xz failed");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(dest, out.stdout).unwrap();
}

/// Whether `tool` runs; else says why the test skips.
pub fn have(tool: &str, test: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!("SKIP {test}: `{tool}` is not installed (Debian package: see .ci/install-deps)");
    }
    ok
}

/// The GNU build-id of a plain ELF file as binutils' `readelf -n` prints it.
pub fn readelf_build_id(path: &Path) -> String {
    let out = Command::new("readelf")
        .arg("-n")
        .arg(path)
        .output()
        .expect("readelf runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .unwrap_or_else(|| panic!("readelf shows no build-id in {}", path.display()))
        .trim()
        .to_string()
}

pub fn bytes_of(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Panics unless the two files hold the same bytes.
pub fn assert_same_bytes(a: &Path, b: &Path) {
    let same = std::fs::read(a).unwrap() == std::fs::read(b).unwrap();
    assert!(same, "{} and {} differ", a.display(), b.display());
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's `debuginfod` serving `dir` on a loopback port; stopped on drop.
pub struct Debuginfod {
    child: Option<Child>,
    pub url: String,
    port: u16,
}

impl Debuginfod {
    /// Starts it and waits until it has scanned `files` files.
    pub fn start(dir: &Path, db: &Path, files: usize) -> Debuginfod {
        let port = free_port();
        let child = Command::new("debuginfod")
            .arg("-F")
            .arg(dir)
            .arg("-p")
            .arg(port.to_string())
            .arg("-d")
            .arg(db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("debuginfod starts");
        let server = Debuginfod {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if server.scanned() >= files {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "debuginfod did not scan {files} files in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `scanned_files_total` from its /metrics (0 while it is not up).
    fn scanned(&self) -> usize {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return 0;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = write!(s, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text.lines()
            .filter_map(|l| l.strip_prefix("scanned_files_total{source=\"file\"} "))
            .filter_map(|n| n.trim().parse::<f64>().ok())
            .map(|n| n as usize)
            .sum()
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Debuginfod {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback server answering each connection with `answer` (given the
/// stream, after reading the request head); counts connections.
pub struct RawServer {
    pub url: String,
    pub connections: Arc<AtomicUsize>,
}

impl RawServer {
    pub fn start(answer: impl Fn(&mut TcpStream) + Send + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                read_head(&mut stream);
                answer(&mut stream);
            }
        });
        RawServer { url, connections }
    }

    /// Answers every request with `body`, 200 and its Content-Length.
    pub fn serving(body: Vec<u8>) -> RawServer {
        RawServer::serving_after(Duration::ZERO, body)
    }

    /// [`RawServer::serving`], each answer `delay` late.
    pub fn serving_after(delay: Duration, body: Vec<u8>) -> RawServer {
        RawServer::start(move |s| {
            std::thread::sleep(delay);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        })
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads up to the blank line ending a request head.
fn read_head(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
}
