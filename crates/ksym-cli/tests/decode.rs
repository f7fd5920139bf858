//! `ksym decode` and `ksym annotate` end to end, on the Debian 6.12 data and
//! its oops.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn data() -> PathBuf {
    ksym_testdata::data_dir()
}

fn oops_path() -> PathBuf {
    data().join("oops/oops-6.12-ext4.txt")
}

/// `ksym --kallsyms <6.12> --modules <6.12> args...`, with `stdin` fed in.
fn ksym(args: &[&str], stdin: Option<&str>) -> Output {
    let dir = data().join("debian-6.12.117");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksym"))
        .arg("--kallsyms")
        .arg(dir.join("kallsyms.xz"))
        .arg("--modules")
        .arg(dir.join("proc-modules"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs ksym");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ksym {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn decode_annotates_the_oops_in_place() {
    let oops = std::fs::read_to_string(oops_path()).unwrap();
    let out = ksym(&["decode", oops_path().to_str().unwrap()], None);
    let text = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("disagree"), "{stderr}");
    let (ins, outs): (Vec<&str>, Vec<&str>) = (oops.lines().collect(), text.lines().collect());
    assert_eq!(ins.len(), outs.len());
    let mut annotated = 0;
    for (i, o) in ins.iter().zip(&outs) {
        if i != o {
            annotated += 1;
            let note = o.strip_prefix(i).expect("only a note is appended");
            assert!(note.starts_with("  # 0x"), "{o}");
        }
    }
    assert_eq!(annotated, 22);
}

#[test]
fn decode_json_every_frame_ok_and_a_mismatch_from_stdin() {
    let out = ksym(&["decode", "--json", oops_path().to_str().unwrap()], None);
    let objs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(objs.len(), 22);
    for o in &objs {
        assert_eq!(o["type"], "frame");
        assert_eq!(o["status"], "ok", "{o}");
        assert!(o["addr"].as_str().unwrap().starts_with("0xffffffff"));
        assert!(o["line"].as_u64().unwrap() > 0);
        let sym = &o["symbol"];
        let r = o["ref"].as_str().unwrap();
        assert!(r.starts_with(sym["name"].as_str().unwrap()), "{o}");
        assert!(o["text"].as_str().unwrap().contains(r));
    }
    let rip = &objs[0];
    assert_eq!(rip["form"], "register");
    assert_eq!(rip["symbol"]["module"], "ext4");
    assert_eq!(rip["symbol"]["size"], 0x90);
    assert_eq!(rip["symbol"]["offset"], 0x23);

    // A trace from another build: one size changed, another release.
    let changed = std::fs::read_to_string(oops_path())
        .unwrap()
        .replace("do_writepages+0x8a/0x280", "do_writepages+0x8a/0x290");
    let out = ksym(
        &["decode", "--json", "--release", "6.18.44", "-"],
        Some(&changed),
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("warning: line 6: the trace is from kernel 6.12.117+deb12-amd64, the symbols from 6.18.44"), "{stderr}");
    assert!(stderr.contains("1 of 22 frames disagree"), "{stderr}");
    let objs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let warnings: Vec<&Value> = objs.iter().filter(|o| o["type"] == "warning").collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0]["trace_release"], "6.12.117+deb12-amd64");
    let bad: Vec<&Value> = objs.iter().filter(|o| o["status"] == "mismatch").collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["addr"], Value::Null);
    assert_eq!(bad[0]["symbol"]["size"], 0x280);
    assert!(bad[0]["reason"]
        .as_str()
        .unwrap()
        .contains("size 0x290 in the trace, 0x280 in this table"));
}

#[test]
fn decode_names_raw_addresses_and_annotate_rewrites_perf_and_bpftrace() {
    // Addresses from the table itself, through `ksym resolve`.
    let out = ksym(
        &[
            "resolve",
            "do_writepages+0x8a/0x280",
            "ext4_writepages+0xab/0x170 [ext4]",
        ],
        None,
    );
    let addrs: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| u64::from_str_radix(&l[2..18], 16).unwrap())
        .collect();
    let (dw, ext4) = (addrs[0], addrs[1]);
    let trace =
        format!("Call Trace:\n <TASK>\n [<{dw:016x}>]\n ? [<{ext4:016x}>]\n </TASK>\nafter\n");
    let out = ksym(&["decode", "-"], Some(&trace));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text,
        format!(
            "Call Trace:\n <TASK>\n [<{dw:016x}>]  # do_writepages+0x8a/0x280\n \
             ? [<{ext4:016x}>]  # ext4_writepages+0xab/0x170 [ext4]\n </TASK>\nafter\n"
        )
    );

    let perf = format!("perf 1 [000] 1.0: cycles:\n\t{dw:16x} [unknown] ([unknown])\n\n");
    let out = ksym(&["annotate", "--format", "perf", "-"], Some(&perf));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("perf 1 [000] 1.0: cycles:\n\t{dw:16x} do_writepages+0x8a ([kernel.kallsyms])\n\n")
    );
    let bt = format!("@[\n        {ext4:#x}\n]: 7\n");
    let out = ksym(&["annotate", "-"], Some(&bt));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "@[\n        ext4_writepages+171\n]: 7\n"
    );
}
