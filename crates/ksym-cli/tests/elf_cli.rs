//! The `ksym` command with `.ko` files, built-in module ranges and unique
//! names, on the Debian 6.12 data (skipped when `../shared/data` is absent).

use std::path::{Path, PathBuf};
use std::process::Command;

fn data() -> Option<PathBuf> {
    let d = ksym_testdata::shared_data().join("debian-6.12.117");
    d.join("kallsyms.xz").is_file().then_some(d)
}

fn ksym(d: &Path, args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_ksym"))
        .arg("--kallsyms")
        .arg(d.join("kallsyms.xz"))
        .arg("--modules")
        .arg(d.join("module-layout.tsv"))
        .args(args)
        .env("KSYM_CACHE_DIR", "off")
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

#[test]
fn ko_sizes_builtin_ranges_and_spellings() {
    let Some(d) = data() else {
        eprintln!("skipped: no shared data");
        return;
    };
    let ranges = std::env::temp_dir().join(format!("ksym-cli-ranges-{}", std::process::id()));
    std::fs::write(
        &ranges,
        ".text 00000000-00000000 = _text\n.text 004ecaa0-004ecd10 binfmt_script\n",
    )
    .unwrap();
    let ko = d.join("ko/nvme.ko.xz");
    let (out, err, ok) = ksym(
        &d,
        &[
            "--ko",
            ko.to_str().unwrap(),
            "--builtin-ranges",
            ranges.to_str().unwrap(),
            "addr",
            "ffffffffc014d03c",
            "ffffffffc014d020",
            "ffffffff9b4ecac0",
        ],
    );
    let _ = std::fs::remove_file(&ranges);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "0xffffffffc014d03c (no symbol)\n\
         0xffffffffc014d020 nvme_pci_init_request+0x10/0x29 [nvme]\n\
         0xffffffff9b4ecac0 load_script+0x10/0x260 [binfmt_script]\n"
    );

    let (out, err, ok) = ksym(&d, &["name", "show#2 [vmlinux]"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.ends_with("= show#2 [vmlinux]\n"), "{out}");
    let (out, _, ok) = ksym(&d, &["resolve", "show#2+0x4 [vmlinux]"]);
    assert!(ok);
    assert!(out.starts_with("0xffffffff9ba0bb54 "), "{out}");

    let (out, err, ok) = ksym(&d, &["dups"]);
    assert!(ok, "{err}");
    assert!(out.lines().count() > 1000, "{}", out.lines().count());
    // `.LC0` (187 in 29 modules) is a mapping symbol: never looked up, so
    // its repeats are no ambiguity.
    assert!(!out.contains(" .LC"), "{}", &out[..out.len().min(400)]);
    assert!(
        out.lines().any(|l| l
            .trim_start()
            .starts_with("3  CSWTCH.111  (2 modules; told apart by module, ordinal)")),
        "{}",
        &out[..out.len().min(400)]
    );
    let (out, _, ok) = ksym(&d, &["dups", "--json"]);
    assert!(ok);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["name"], "BIT_initDStream");
    assert_eq!(first["spellings"].as_array().unwrap().len(), 3);

    let builtin = d.join("modules.builtin");
    let (out, err, ok) = ksym(
        &d,
        &[
            "--modules-builtin",
            builtin.to_str().unwrap(),
            "--ko",
            ko.to_str().unwrap(),
            "info",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("built-in modules:  191 ("), "{out}");
    assert!(out.contains("real sizes:        200 symbols"), "{out}");
    assert!(out.contains("binfmt_script"));
}
