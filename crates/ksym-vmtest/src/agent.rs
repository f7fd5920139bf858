//! The C ABI and the Go package on the live kernel: `ksym-agent` (the
//! example program of go/ksym, which calls libksym through cgo) names
//! every module text address and a sample of core ones exactly as the
//! `ksym` command does.

use std::collections::HashMap;

use crate::cli::{ksym_binary, run_ksym};
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
