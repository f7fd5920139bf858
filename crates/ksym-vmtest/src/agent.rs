//! The C ABI and the Go package on the live kernel: `ksym-agent` (the
//! example program of go/ksym, which calls libksym through cgo) names
//! every module text address and a sample of core ones exactly as the
//! `ksym` command does.

use std::collections::HashMap;

use crate::cli::{ksym_binary, run_ksym};
use crate::kernel;
use crate::report::Outcome;
use crate::scenarios::*;

/// `0xADDR rest` lines by address.
fn by_addr(text: &str) -> HashMap<u64, String> {
    text.lines()
        .filter_map(|l| {
            let (a, rest) = l.split_once(' ')?;
            let a = u64::from_str_radix(a.trim_start_matches("0x"), 16).ok()?;
            Some((a, rest.to_string()))
        })
        .collect()
}

/// `ksym-agent` (beside `ksym`) and `ksym addr` agree on every address.
pub(crate) fn go_agent(opts: &Options, notes: &mut Notes) -> Step<()> {
    let ksym = ksym_binary(opts)?;
    let agent = ksym.with_file_name("ksym-agent");
    if !agent.is_file() {
        return Err(skip(format!(
            "no {} (go build ./cmd/ksym-agent in go/ksym)",
            agent.display()
        )));
    }
    let lines = kallsyms()?;
    let mut addrs: Vec<u64> = lines
        .iter()
        .filter(|l| l.is_text() && (l.module.is_some() || l.addr % 97 == 0))
        .map(|l| l.addr.wrapping_add(1))
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    let input: String = addrs.iter().map(|a| format!("{a:#x}\n")).collect();
    // Both take real sizes from the .ko files modules.dep finds.
    let want = run_ksym(&ksym, &["--no-cache", "addr"], &[], Some(&input))?;
    let got = run_ksym(&agent, &["-listen", "", "-batch", "64"], &[], Some(&input))?;
    if !got.status.success() {
        return Err(fail(format!(
            "ksym-agent: {}: {}",
            got.status,
            String::from_utf8_lossy(&got.stderr).trim()
        )));
    }
    let (want, got) = (
        by_addr(&String::from_utf8_lossy(&want.stdout)),
        by_addr(&String::from_utf8_lossy(&got.stdout)),
    );
    let mut bad = Vec::new();
    for a in &addrs {
        let (w, g) = (want.get(a), got.get(a));
        // `ksym addr` prints a raw address as itself; so does the agent.
        if w != g && bad.len() < 3 {
            bad.push(format!("{a:#x}: ksym says {w:?}, ksym-agent {g:?}"));
        }
    }
    notes.push(format!("{} addresses through libksym and cgo", addrs.len()));
    let sections = sections_agree(&ksym, &agent, notes);
    notes.add("sections", sections);
    if !bad.is_empty() || got.len() != addrs.len() {
        return Err(fail(format!(
            "{} answers for {} addresses; {}",
            got.len(),
            addrs.len(),
            bad.join("; ")
        )));
    }
    Ok(())
}

/// A module frame's section (`.plt`, `.text.ftrace_trampoline` after an
/// arm64 module's last function, `.text`), through the Go package, is
/// what `ksym addr --json` says and what `/sys/module` lists: a few bytes
/// into every code section of every loaded module (8 into `.text`: 6.12
/// arm64 starts its first function there, after ftrace's NOPs).
fn sections_agree(ksym: &std::path::Path, agent: &std::path::Path, notes: &mut Notes) -> Outcome {
    let modules = match kernel::loaded_modules() {
        Ok(m) => m,
        Err(e) => return Outcome::Skip(format!("no /proc/modules ({e})")),
    };
    let mut want: Vec<(u64, String)> = Vec::new();
    for m in &modules {
        for (at, name) in kernel::sections(m) {
            match name.as_str() {
                ".text" => want.push((at + 8, name)),
                ".plt" | ".text.ftrace_trampoline" => want.push((at + 4, name)),
                _ => {}
            }
        }
    }
    if want.is_empty() {
        return Outcome::Skip("no loaded module lists code sections".into());
    }
    let input: String = want.iter().map(|(a, _)| format!("{a:#x}\n")).collect();
    let run = |bin: &std::path::Path, args: &[&str]| -> Result<String, Outcome> {
        let out = run_ksym(bin, args, &[], Some(&input))?;
        if !out.status.success() {
            return Err(Outcome::Fail(format!("{}: {}", bin.display(), out.status)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (json, go) = match (
        run(ksym, &["--no-cache", "addr", "--json"]),
        run(agent, &["-listen", "", "-sections"]),
    ) {
        (Ok(j), Ok(g)) => (j, g),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let from_json: Vec<Option<String>> = json
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some(v["symbol"]["section"].as_str()?.to_string())
        })
        .collect();
    let from_go: Vec<Option<String>> = go
        .lines()
        .map(|l| l.split_once("\tsection=").map(|(_, s)| s.to_string()))
        .collect();
    let mut bad = Vec::new();
    for (k, (addr, section)) in want.iter().enumerate() {
        let (j, g) = (
            from_json.get(k).cloned().flatten(),
            from_go.get(k).cloned().flatten(),
        );
        if j.as_deref() != Some(section.as_str()) || g.as_deref() != Some(section.as_str()) {
            bad.push(format!(
                "{addr:#x} in {section}: ksym --json {j:?}, Go {g:?}"
            ));
        }
    }
    let plt = want.iter().filter(|w| w.1 != ".text").count();
    notes.push(format!(
        "{} module code-section addresses ({plt} in .plt or the ftrace trampoline) name their section through JSON and Go",
        want.len()
    ));
    if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(format!(
            "{} wrong: {}",
            bad.len(),
            bad[..bad.len().min(3)].join("; ")
        ))
    }
}
