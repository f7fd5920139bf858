//! Source lines at a real boot's addresses, checked on the host after the
//! guest left its table on the state disk (the snapshot-for-host
//! scenario): `ksym --snapshot guest.ksym --vmlinux V --ko xfs.ko addr
//! --lines` against eu-addr2line on the same files at link-time addresses
//! (the core less the boot's KASLR slide, a module's address as an offset
//! into the section `/sys/module` placed it in).
//!
//! Set `KSYM_VMTEST_SNAPSHOT`, `KSYM_VMTEST_VMLINUX` (the vmlinux with
//! DWARF of the guest's build) and `KSYM_VMTEST_KO` (xfs.ko with DWARF,
//! plain or .xz); without them the scenario skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use ksym::SymbolTable;

use crate::cli::{ksym_binary, run_ksym};
use crate::scenarios::*;

fn var(name: &str) -> Step<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            skip(format!(
                "{name} names no file (set by scripts/vm-tests.sh after the 6.1 boots)"
            ))
        })
}

/// One frame as compared: function, file name (no directories: the tools
/// join the unit's directory differently) and line.
type Frame = (String, String, u64);

fn base(file: &str) -> String {
    file.rsplit('/').next().unwrap_or(file).to_string()
}

/// eu-addr2line's frames (innermost first) for each address of `addrs`,
/// in `file` (and its section `section`, for a module).
fn oracle(file: &Path, section: Option<&str>, addrs: &[u64]) -> Step<Vec<Vec<Frame>>> {
    let mut cmd = Command::new("eu-addr2line");
    cmd.arg("-e").arg(file).args(["-f", "-i", "-a"]);
    if let Some(s) = section {
        cmd.args(["-j", s]);
    }
    cmd.args(addrs.iter().map(|a| format!("{a:#x}")));
    let out = cmd
        .output()
        .map_err(|e| skip(format!("cannot run eu-addr2line (elfutils): {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `0xADDR` starts each answer, then function and `file:line[:col]` pairs.
    let mut answers: Vec<Vec<Frame>> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        if l.starts_with("0x") {
            answers.push(Vec::new());
            continue;
        }
        let Some(place) = lines.next() else { break };
        // An inlined frame's function line goes on: `f inlined at F:L:C in g`.
        let function = l
            .split(" inlined at ")
            .next()
            .unwrap_or(l)
            .trim()
            .to_string();
        let mut parts = place.trim().rsplitn(3, ':').collect::<Vec<_>>();
        parts.reverse();
        // file:line or file:line:column
        let (file, line) = match parts.as_slice() {
            [f, l, c] if c.parse::<u64>().is_ok() && l.parse::<u64>().is_ok() => {
                (f.to_string(), *l)
            }
            [f, l, c] => (format!("{f}:{l}"), *c),
            [f, l] => (f.to_string(), *l),
            _ => (place.to_string(), "0"),
        };
        if let Some(a) = answers.last_mut() {
            a.push((function, base(&file), line.parse().unwrap_or(0)));
        }
    }
    Ok(answers)
}

/// The addresses to ask: every 400th core function and every 15th xfs
/// one, 8 bytes in.
fn sample(table: &SymbolTable) -> Vec<u64> {
    let text = |s: &ksym::Symbol<'_>| matches!(s.kind, 't' | 'T') && s.size > 8;
    let core = table
        .iter()
        .filter(|s| s.module.is_none() && text(s))
        .step_by(400);
    let xfs = table
        .iter()
        .filter(|s| s.module == Some("xfs") && text(s))
        .step_by(15);
    core.chain(xfs).map(|s| s.start + 8).collect()
}

pub(crate) fn guest_lines(opts: &Options, notes: &mut Notes) -> Step<()> {
    let snapshot = var("KSYM_VMTEST_SNAPSHOT")?;
    let vmlinux = var("KSYM_VMTEST_VMLINUX")?;
    let ko = var("KSYM_VMTEST_KO")?;
    let bin = ksym_binary(opts)?;
    let (table, identity) = ksym::snapshot::open(&snapshot, Default::default())
        .map_err(|e| fail(format!("{}: {e}", snapshot.display())))?;
    let addrs = sample(&table);
    let input: String = addrs.iter().map(|a| format!("{a:#x}\n")).collect();
    let args = [
        "--snapshot",
        snapshot.to_str().unwrap_or_default(),
        "--vmlinux",
        vmlinux.to_str().unwrap_or_default(),
        "--ko",
        ko.to_str().unwrap_or_default(),
        "addr",
        "--lines",
        "--json",
    ];
    let out = run_ksym(&bin, &args, &[], Some(&input))?;
    if !out.status.success() {
        return Err(fail(format!(
            "ksym addr --lines: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    // `None` where ksym names no symbol (the .ko's real sizes leave the
    // padding after a function unnamed, as the kernel's own sizes would):
    // no question of lines there.
    let got: Vec<Option<Vec<Frame>>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            if v["symbol"].is_null() {
                return None;
            }
            let frames = v["frames"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    (
                        f["function"].as_str().unwrap_or("??").to_string(),
                        base(f["file"].as_str().unwrap_or("??")),
                        f["line"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            Some(frames)
        })
        .collect();
    // The oracle's questions: link-time core addresses; module offsets by section.
    let text = table
        .find_in(None, "_text")
        .next()
        .map(|s| s.start)
        .unwrap_or(0);
    // The slide as the library works it out (the vmlinux's own `_text`).
    let slide = ksym::lines::DebugFile::open(&vmlinux)
        .and_then(|file| ksym::lines::kaslr_slide(&file, text))
        .map_err(|e| fail(format!("the KASLR slide: {e}")))?;
    let plain_ko = std::env::temp_dir().join(format!("ksym-vmtest-xfs-{}.ko", std::process::id()));
    let bytes = ksym::read::read_raw_within(&ko, ksym::read::Limit::binary(None))
        .map_err(|e| fail(format!("{}: {e}", ko.display())))?;
    std::fs::write(&plain_ko, bytes).map_err(|e| fail(e.to_string()))?;
    let sections = table
        .module_map()
        .get("xfs")
        .map(|m| m.section_areas.clone())
        .unwrap_or_default();
    let mut want: Vec<Option<Vec<Frame>>> = vec![None; addrs.len()];
    let mut in_xfs = 0;
    let core: Vec<usize> = (0..addrs.len())
        .filter(|&i| table.lookup(addrs[i]).is_some_and(|s| s.module.is_none()))
        .collect();
    let core_answers = oracle(
        &vmlinux,
        None,
        &core
            .iter()
            .map(|&i| addrs[i].wrapping_sub(slide))
            .collect::<Vec<_>>(),
    )?;
    for (&i, a) in core.iter().zip(core_answers) {
        want[i] = Some(a);
    }
    for s in sections.iter().filter(|s| s.size > 0) {
        let here: Vec<usize> = (0..addrs.len())
            .filter(|&i| (s.start..s.end()).contains(&addrs[i]))
            .collect();
        if here.is_empty() {
            continue;
        }
        let answers = oracle(
            &plain_ko,
            Some(&s.kind),
            &here.iter().map(|&i| addrs[i] - s.start).collect::<Vec<_>>(),
        )?;
        for (&i, a) in here.iter().zip(answers) {
            want[i] = Some(a);
            in_xfs += 1;
        }
    }
    let _ = std::fs::remove_file(&plain_ko);
    let (mut same, mut asked, mut bad) = (0, 0, Vec::new());
    for (i, w) in want.iter().enumerate() {
        let (Some(w), Some(Some(g))) = (w, got.get(i)) else {
            continue;
        };
        // eu-addr2line answers `??` where it has no line: ksym gives no frames.
        let w: Vec<Frame> = w.iter().filter(|f| f.2 != 0).cloned().collect();
        asked += 1;
        // Where DWARF has no function for a frame, ksym says none (`??`)
        // and eu-addr2line takes the ELF symbol's name: the same place.
        let agrees = g.len() == w.len()
            && g.iter()
                .zip(&w)
                .all(|(a, b)| (a.0 == b.0 || a.0 == "??") && a.1 == b.1 && a.2 == b.2);
        if agrees {
            same += 1;
        } else if bad.len() < 12 {
            bad.push(format!("{:#x}: ksym {g:?}, eu-addr2line {w:?}", addrs[i]));
        }
    }
    notes.push(format!(
        "{} at slide {slide:#x}: {same} of {asked} addresses ({in_xfs} in xfs's sections) agree with eu-addr2line",
        identity.release.unwrap_or_default()
    ));
    // The library's own tests name the few places the tools disagree with
    // each other (one chain of overlapping inline entries, where eu-addr2line
    // drops a frame llvm-symbolizer and binutils keep); here at most 3% may
    // differ. KSYM_VMTEST_SHOW=1 prints the differences.
    if std::env::var_os("KSYM_VMTEST_SHOW").is_some() {
        eprintln!("{}", bad.join("\n"));
    }
    if asked < 100 || in_xfs * 2 < asked / 2 || same * 100 < asked * 97 {
        return Err(fail(format!("{same} of {asked} agree: {}", bad.join("; "))));
    }
    Ok(())
}
