//! What the CLI's test files share: finding `../shared/data`, and running a
//! command with text on its standard input.

#![allow(dead_code)] // each test file uses its own part

pub mod serving;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The shared real-kernel data (see `ksym-testdata`).
pub fn data_dir() -> PathBuf {
    ksym_testdata::data_dir()
}

/// Runs `cmd` with `input` on its standard input, its output and errors
/// captured. The input is written on a thread of its own: a program that
/// answers as it reads fills the output pipe before it has read it all.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ksym");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    // A program may leave before it reads everything (an error).
    let _ = writer.join();
    out
}

/// An `.xz` file's text.
pub fn xz_text(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = String::new();
    std::io::Read::read_to_string(
        &mut xz2::read::XzDecoder::new_multi_decoder(&bytes[..]),
        &mut out,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

/// `src` built by `gcc -g -O2` into `dir/name` (a test program with DWARF,
/// inlined calls and discriminators); panics when gcc fails.
pub fn gcc_with_dwarf(dir: &std::path::Path, name: &str, src: &str) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let exe = dir.join(name);
    let ok = Command::new("gcc")
        .args(["-g", "-O2", "-o"])
        .arg(&exe)
        .arg(&c)
        .status()
        .unwrap()
        .success();
    assert!(ok, "gcc failed");
    exe
}

/// A private cache for ksym (made by it, 0700) in a temporary directory.
pub struct Cache(tempfile::TempDir);

impl Cache {
    pub fn new() -> Cache {
        Cache(tempfile::tempdir().unwrap())
    }

    pub fn path(&self) -> PathBuf {
        self.0.path().join("cache")
    }

    /// Waits, at most `within`, for the background builds to end; the
    /// line tables built (at least one).
    pub fn tables(&self, within: std::time::Duration) -> Vec<PathBuf> {
        let started = std::time::Instant::now();
        loop {
            let names: Vec<PathBuf> = std::fs::read_dir(self.path())
                .into_iter()
                .flatten()
                .map(|e| e.unwrap().path())
                .collect();
            let building = names
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "building"));
            let tables: Vec<PathBuf> = names
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "ksymlines"))
                .collect();
            if !building && !tables.is_empty() {
                return tables;
            }
            assert!(
                started.elapsed() < within,
                "no tables built in {} after {within:?}",
                self.path().display()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}
