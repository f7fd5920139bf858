//! `ksym pprof` end to end: a profile with bare kernel addresses from the
//! real Debian 6.12 kallsyms goes through the binary (files, then standard
//! input and output), comes out named, and Go's `go tool pprof` reads it
//! (skipped, saying why, when `go` is not installed).
#![cfg(feature = "pprof")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use ksym_pprof::proto::{Function, Line, Location, Mapping, Sample, ValueType};
use ksym_pprof::Profile;

fn data() -> PathBuf {
    ksym_testdata::data_dir().join("debian-6.12.117")
}

fn ksym(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let data = data();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksym"))
        .arg("--kallsyms")
        .arg(data.join("kallsyms.xz"))
        .arg("--modules")
        .arg(data.join("proc-modules"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ksym {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Three kernel frames (core, module, and one no symbol holds) under one
/// user frame, in two samples.
fn profile(table: &ksym::SymbolTable) -> (Profile, Vec<(u64, &'static str)>) {
    let at = |module, name, off| table.find_in(module, name).next().unwrap().start + off;
    let strings = [
        "",
        "samples",
        "count",
        "[kernel.kallsyms]",
        "/usr/bin/app",
        "main",
        "app.c",
    ];
    let p = Profile {
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        sample: vec![
            Sample {
                location_id: vec![1, 2, 4],
                value: vec![3],
                label: vec![],
            },
            Sample {
                location_id: vec![3, 4],
                value: vec![2],
                label: vec![],
            },
        ],
        mapping: vec![
            Mapping {
                id: 1,
                memory_start: 0x40_0000,
                memory_limit: 0x50_0000,
                filename: 4,
                has_functions: true,
                ..Default::default()
            },
            Mapping {
                id: 2,
                memory_start: 0xffff_ffff_8000_0000,
                memory_limit: u64::MAX,
                filename: 3,
                ..Default::default()
            },
        ],
        location: vec![
            Location {
                id: 1,
                mapping_id: 0,
                address: at(Some("ext4"), "ext4_file_read_iter", 0x8),
                ..Default::default()
            },
            Location {
                id: 2,
                mapping_id: 2,
                address: at(None, "ksys_read", 0x5),
                ..Default::default()
            },
            Location {
                id: 3,
                mapping_id: 2,
                address: 0xffff_ffff_ffff_f000,
                ..Default::default()
            },
            Location {
                id: 4,
                mapping_id: 1,
                address: 0x40_1000,
                line: vec![Line {
                    function_id: 1,
                    line: 7,
                    column: 0,
                }],
                is_folded: false,
            },
        ],
        function: vec![Function {
            id: 1,
            name: 5,
            system_name: 5,
            filename: 6,
            start_line: 1,
        }],
        string_table: strings.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    (p, vec![(1, "ext4_file_read_iter"), (2, "ksys_read")])
}

fn function_name(p: &Profile, location: u64) -> Option<&str> {
    let l = p.location.iter().find(|l| l.id == location)?;
    let function_id = l.line.first()?.function_id;
    let f = p.function.iter().find(|f| f.id == function_id)?;
    Some(&p.string_table[f.name as usize])
}

fn check(input: &Profile, output: &[u8], named: &[(u64, &str)]) -> Profile {
    let out = ksym_pprof::decode(output).unwrap();
    assert_eq!(out.sample, input.sample);
    assert_eq!(out.location.len(), input.location.len());
    for &(id, name) in named {
        assert_eq!(function_name(&out, id), Some(name));
    }
    assert_eq!(out.location[2], input.location[2], "unresolved: untouched");
    assert_eq!(out.location[3], input.location[3], "user space: untouched");
    out
}

#[test]
fn pprof_files_and_pipes() {
    let table = ksym::load_file(&data().join("kallsyms.xz"), &Default::default()).unwrap();
    let (input, named) = profile(&table);
    let dir = tempfile::tempdir().unwrap();
    let (inp, outp) = (dir.path().join("in.pb.gz"), dir.path().join("out.pb.gz"));
    std::fs::write(&inp, ksym_pprof::encode(&input)).unwrap();

    let out = ksym(
        &["pprof", inp.to_str().unwrap(), "-o", outp.to_str().unwrap()],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 kernel locations resolved, 1 unresolved")
            && stderr.contains("1 not in the kernel (skipped)"),
        "{stderr}"
    );
    check(&input, &std::fs::read(&outp).unwrap(), &named);

    // Plain (not gzip'd) bytes on standard input, the profile on standard output.
    let out = ksym(
        &["pprof", "-", "-o", "-"],
        Some(&prost::Message::encode_to_vec(&input)),
    );
    check(&input, &out.stdout, &named);

    // A real pprof reader agrees.
    let top = Command::new("go")
        .args(["tool", "pprof", "-symbolize=none", "-top"])
        .arg(&outp)
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", dir.path().join("gocache"))
        .env("HOME", dir.path())
        .env("PPROF_TMPDIR", dir.path())
        .output();
    match top {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipped the go tool pprof check: `go` is not installed (apt-get install golang-go)");
        }
        Err(e) => panic!("running go tool pprof: {e}"),
        Ok(top) => {
            let text = String::from_utf8_lossy(&top.stdout);
            eprintln!(
                "go tool pprof -top:\n{text}{}",
                String::from_utf8_lossy(&top.stderr)
            );
            assert!(top.status.success());
            for (_, name) in &named {
                assert!(
                    text.lines().any(|l| l.ends_with(name)),
                    "{name} missing:\n{text}"
                );
            }
            assert!(text.contains("of 5 total"), "{text}");
        }
    }
}

#[test]
fn pprof_rejects_what_is_not_a_profile() {
    let out = Command::new(env!("CARGO_BIN_EXE_ksym"))
        .arg("--kallsyms")
        .arg(data().join("kallsyms.xz"))
        .args(["pprof", "-", "-o", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // Empty input decodes as an empty profile: nothing to name, a valid output.
    assert!(out.status.success());
    assert_eq!(
        ksym_pprof::decode(&out.stdout).unwrap().string_table,
        vec![String::new()]
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pb.gz");
    std::fs::write(&bad, b"\x1f\x8b\x08garbage").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ksym"))
        .arg("--kallsyms")
        .arg(data().join("kallsyms.xz"))
        .args(["pprof", bad.to_str().unwrap(), "-o"])
        .arg(dir.path().join("never.pb.gz"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.pb.gz") && stderr.contains("gzip"),
        "{stderr}"
    );
    assert!(!dir.path().join("never.pb.gz").exists());
}
