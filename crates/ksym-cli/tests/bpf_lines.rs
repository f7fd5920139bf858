//! BPF programs named down to their source line, on this machine's
//! kernel: a program of ours with a subprogram (tests/data/bpf/
//! lines.bpf.c, built here by Debian's clang with BTF line info) is loaded
//! with Debian's bpftool; `ksym addr --lines --json` at every byte of each
//! JITed function gives, in address order, exactly the line records
//! `bpftool prog dump xlated linum` gives in instruction order (file,
//! line, column, source text), each text being that line of the file, and
//! the function's real size; past its end, no symbol. A snapshot saved
//! while it ran gives every one of those answers again after the program
//! is gone, from `ksym --snapshot` and from `ksym serve` (`"lines": true`).
//! Skips, saying why,
//! without root, clang, bpftool or BPF. (`bpftool prog dump jited` would
//! pair each JITed instruction with its line, but Debian's bpftool is built
//! without a disassembler.)

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;
use common::serving::{ksym, post, serve};
use common::*;
use ksym_testdata::bpftool::{line_records, load_pinned, run, runs, Pinned, Place};

/// Builds our program with clang and loads it; why not, when it cannot be
/// done here.
fn load(tmp: &Path) -> Result<Pinned, String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bpf/lines.bpf.c");
    let obj = tmp.join("lines.bpf.o");
    run(Command::new("clang")
        .args(["-target", "bpf", "-O2", "-g", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj))?;
    load_pinned(&obj, &tmp.join("bpffs"), true, "prog")
}

/// `ksym <source> addr --lines --json` for `addrs`, one object each.
fn ask(source: &[&str], addrs: &[u64]) -> Vec<Value> {
    let input: String = addrs.iter().map(|a| format!("{a:x}\n")).collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = output_with_stdin(
        ksym(dir).args(source).args(["addr", "--lines", "--json"]),
        input.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_byte_of_a_bpf_program_has_the_line_bpftool_gives() {
    let tmp =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bpf-lines-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let pinned = match load(&tmp) {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: cannot load a BPF program here: {why}");
            return;
        }
    };
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bpf/lines.bpf.c"),
    )
    .unwrap();
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    // Where each function was JITed (tags repeat between programs: the
    // same program loaded twice has one tag, so not by name).
    let info = ksym::read::bpf_prog::prog_info(pinned.id).unwrap();
    let functions = line_records(pinned.id).unwrap();
    assert_eq!(info.jited_ksyms.len(), functions.len());
    // Every address asked, and the live answer, for the snapshot's turn.
    let mut asked: Vec<(u64, Value)> = Vec::new();
    for ((function, want), &start) in functions.into_iter().zip(&info.jited_ksyms) {
        // kallsyms lists it there, as root reads it.
        assert!(
            kallsyms
                .lines()
                .any(|l| l.starts_with(&format!("{start:016x} t bpf_prog_"))
                    && l.ends_with(&format!("_{function}\t[bpf]"))),
            "{function} is not at {start:#x} in /proc/kallsyms"
        );
        let ask = |addrs: &[u64]| ask(&["--no-cache"], addrs);
        let size = ask(&[start])[0]["symbol"]["size"].as_u64().unwrap();
        assert!(size > 0 && size < 4096, "{function}: size {size}");
        let answers = ask(&(start..start + size + 1).collect::<Vec<_>>());
        assert!(
            answers[size as usize]["symbol"].is_null(),
            "{function}: past its end: {}",
            answers[size as usize]
        );
        asked.extend((start..).zip(answers.iter().cloned()));
        let got = runs(answers[..size as usize].iter().map(|a| {
            let f = &a["frames"][0];
            assert_eq!(f["function"].as_str(), Some(function.as_str()), "{a}");
            let place: Place = (
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64(),
                f["column"].as_u64(),
                f["source"].as_str().map(str::to_string),
            );
            place
        }));
        assert_eq!(got, runs(want), "{function}");
        for (_, line, _, text) in &got {
            if let (Some(line), Some(text)) = (line, text) {
                assert_eq!(
                    source.lines().nth(*line as usize - 1).map(str::trim),
                    Some(text.as_str())
                );
            }
        }
    }
    let snapshot = tmp.join("live.ksym");
    let saved = ksym(&tmp)
        .args(["--no-cache", "snapshot", "save", "-o"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let id = pinned.id;
    drop(pinned);
    program_gone(id);
    after_the_program_is_gone(&tmp, &snapshot, &asked);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Waits (a few seconds at most) for the kernel to free program `id`.
fn program_gone(id: u32) {
    for _ in 0..200 {
        if ksym::read::bpf_prog::prog_info(id).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("BPF program {id} is still loaded");
}

/// The snapshot answers every address as the live kernel did, from the
/// CLI and from `ksym serve` (which then adds nothing else).
fn after_the_program_is_gone(tmp: &Path, snapshot: &Path, asked: &[(u64, Value)]) {
    let addrs: Vec<u64> = asked.iter().map(|a| a.0).collect();
    let snap = snapshot.to_str().unwrap();
    let printed = ask(&["--snapshot", snap], &addrs);
    for ((addr, live), p) in asked.iter().zip(&printed) {
        assert_eq!(p, live, "{addr:#x} from the snapshot");
    }
    let store = format!("file://{}", tmp.join("store").display());
    let server = serve(tmp, &["--store", &store]);
    let (status, answer) = post(
        &format!("{}/v1/snapshots", server.base),
        &std::fs::read(snapshot).unwrap(),
    );
    assert_eq!(status, 200, "{answer}");
    let boot: Value = serde_json::from_str(&answer).unwrap();
    let hex: Vec<String> = addrs.iter().map(|a| format!("{a:#x}")).collect();
    let body = serde_json::json!({"boot": boot["boot"], "addrs": hex, "lines": true});
    let (status, answer) = post(
        &format!("{}/v1/symbolize", server.base),
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{answer}");
    let served: Value = serde_json::from_str(&answer).unwrap();
    let served = served["frames"].as_array().unwrap();
    assert_eq!(served.len(), asked.len());
    for ((addr, live), s) in asked.iter().zip(served) {
        // Past the program's end the CLI adds `"frames": []`; the server
        // adds lines only where the snapshot keeps them.
        let mut live = live.clone();
        if live["symbol"].is_null() {
            live.as_object_mut().unwrap().remove("frames");
        }
        assert_eq!(s, &live, "{addr:#x} from ksym serve");
    }
    eprintln!(
        "{} addresses answered alike from the snapshot and ksym serve after the program was unloaded",
        asked.len()
    );
}
