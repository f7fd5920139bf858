//! `ksym` and `ksym-full`: the heavy crates live only in `ksym-full`, and
//! `ksym` hands it the subcommands that need them (the other tests run
//! `serve`, `snapshot push`/`pull` and `pprof` through `ksym`, so through
//! it), saying plainly when it is not there.

use std::path::Path;
use std::process::Command;

/// Whether an ELF symbol table names something of one of `crates`.
fn links_any(path: &str, crates: &[&str]) -> Vec<String> {
    let elf = ksym::elf::read_elf(Path::new(path)).expect("an ELF program");
    assert!(
        elf.symbols.len() > 1000,
        "{path}: no symbol table to look at"
    );
    let mut found: Vec<String> = crates
        .iter()
        .filter(|c| elf.symbols.iter().any(|s| s.name.contains(*c)))
        .map(|c| c.to_string())
        .collect();
    found.sort();
    found
}

#[test]
fn ksym_links_none_of_the_heavy_crates() {
    let heavy = ["tokio", "axum", "hyper", "object_store", "prost"];
    assert_eq!(
        links_any(env!("CARGO_BIN_EXE_ksym"), &heavy),
        Vec::<String>::new()
    );
    let full = links_any(env!("CARGO_BIN_EXE_ksym-full"), &heavy);
    assert!(
        full.contains(&"tokio".to_string()) && full.contains(&"prost".to_string()),
        "{full:?}"
    );
}

#[test]
fn without_ksym_full_the_heavy_subcommands_say_so() {
    let dir = std::env::temp_dir().join(format!("ksym-alone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let alone = dir.join("ksym");
    std::fs::copy(env!("CARGO_BIN_EXE_ksym"), &alone).unwrap();
    let out = Command::new(&alone)
        .args([
            "snapshot",
            "pull",
            "0123",
            "/nonexistent/x.ksym",
            "--store",
            "memory://",
        ])
        .env("KSYM_CACHE_DIR", "off")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ksym-full is not there"), "{err}");
    // What needs none of it still runs.
    let out = Command::new(&alone).args(["--help"]).output().unwrap();
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
