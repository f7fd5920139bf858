//! `ksym serve` on a loopback port for tests, and posting to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The `ksym` binary with its cache under `dir`.
pub fn ksym(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ksym"));
    c.env("KSYM_CACHE_DIR", dir.join("cache"));
    c
}

/// `ksym serve` on 127.0.0.1:<free port>, killed when dropped.
pub struct Serving {
    child: Child,
    pub base: String,
    /// What it has written to standard error so far.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(dir: &Path, args: &[&str]) -> Serving {
    let mut child = ksym(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ksym serve");
    let mut first = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    err.read_line(&mut first).unwrap();
    let base = first
        .trim()
        .strip_prefix("ksym serve: listening on ")
        .unwrap_or_else(|| panic!("ksym serve said {first:?}"))
        .to_string();
    // Keep reading its log so that it never blocks on a full pipe.
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        while err.read_line(&mut line).is_ok_and(|n| n > 0) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    Serving { child, base, log }
}

pub fn post(url: &str, body: &[u8]) -> (u16, String) {
    let r = ureq::post(url).send_bytes(body);
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    (resp.status(), resp.into_string().unwrap())
}
