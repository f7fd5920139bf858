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

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;
use common::serving::{ksym, post, serve};
use common::*;

/// A bpffs mount with our program pinned in it, undone on drop.
struct Pinned {
    dir: PathBuf,
    id: u64,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join("prog"));
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds and loads the program; why not, when it cannot be done here.
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
    let dir = tmp.join("bpffs");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    run(Command::new("mount").args(["-t", "bpf", "bpf"]).arg(&dir))?;
    let mut pinned = Pinned { dir, id: 0 };
    run(Command::new("bpftool")
        .args(["prog", "load"])
        .arg(&obj)
        .arg(pinned.dir.join("prog")))?;
    let show: Value = serde_json::from_str(&run(Command::new("bpftool")
        .args(["-j", "prog", "show", "pinned"])
        .arg(pinned.dir.join("prog")))?)
    .map_err(|e| e.to_string())?;
    pinned.id = show["id"].as_u64().ok_or("no id")?;
    Ok(pinned)
}

/// (file, line, column, source) of a line record; line 0 as none.
type Place = (String, Option<u64>, Option<u64>, Option<String>);

/// bpftool's line records per function, in instruction order.
fn bpftool_lines(id: u64) -> Vec<(String, Vec<Place>)> {
    let text = run(Command::new("bpftool").args([
        "-j",
        "prog",
        "dump",
        "xlated",
        "id",
        &id.to_string(),
        "linum",
    ]))
    .unwrap();
    let insns: Value = serde_json::from_str(&text).unwrap();
    let mut out: Vec<(String, Vec<Place>)> = Vec::new();
    for insn in insns.as_array().unwrap() {
        if let Some(proto) = insn["proto"].as_str() {
            // `int weigh(int x)`: the function's name before the `(`.
            let name = proto
                .split('(')
                .next()
                .unwrap()
                .rsplit([' ', '*'])
                .next()
                .unwrap();
            out.push((name.to_string(), Vec::new()));
        }
        if let Some(file) = insn["file"].as_str() {
            let line = insn["line_num"].as_u64().filter(|&l| l != 0);
            let col = insn["line_col"].as_u64().filter(|&c| c != 0);
            let src = insn["src"]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            out.last_mut()
                .unwrap()
                .1
                .push((file.to_string(), line, col, src));
        }
    }
    out
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
    let info = ksym::read::bpf_prog::prog_info(pinned.id as u32).unwrap();
    let functions = bpftool_lines(pinned.id);
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
        let mut got: Vec<Place> = Vec::new();
        asked.extend((start..).zip(answers.iter().cloned()));
        for a in &answers[..size as usize] {
            let f = &a["frames"][0];
            assert_eq!(f["function"].as_str(), Some(function.as_str()), "{a}");
            let place: Place = (
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64(),
                f["column"].as_u64(),
                f["source"].as_str().map(str::to_string),
            );
            if got.last() != Some(&place) {
                got.push(place);
            }
        }
        let mut want_runs: Vec<Place> = Vec::new();
        for p in want {
            if want_runs.last() != Some(&p) {
                want_runs.push(p);
            }
        }
        assert_eq!(got, want_runs, "{function}");
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
    let id = pinned.id as u32;
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
