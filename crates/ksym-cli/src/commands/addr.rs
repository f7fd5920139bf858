//! `ksym addr`: name hex addresses (arguments or standard input lines) the
//! way the kernel's %pS does, as text or JSON lines.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use ksym::stack::RawReason;
use ksym::symbolize::json::{addr_json, parse_addr};
use ksym::symbolize::pointer_auth::PointerAuth;
use ksym::{Symbol, SymbolTable};
use serde_json::json;

use crate::lines::{at, frames_json, inlined_lines, Lines};
use crate::CliResult;

/// Addresses read from a pipe before their source lines are looked up.
const LINES_CHUNK: usize = 4096;

pub(crate) fn run(
    table: &SymbolTable,
    addrs: &[String],
    json: bool,
    absolute: bool,
    mut lines: Option<&mut Lines<'_>>,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    let mut bad = 0u64;
    // arm64's signed return addresses (a code in the top bits) are looked
    // up without their code; printed as given.
    let pointer_auth = PointerAuth::of(table);
    let mut one = |text: &str, lines: Option<&mut Lines<'_>>, out: &mut dyn Write| {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let Some(given) = parse_addr(text) else {
            bad += 1;
            return if json {
                writeln!(
                    out,
                    "{}",
                    json!({"input": text, "error": "not a hex address"})
                )
            } else {
                writeln!(out, "{text} (not an address)")
            };
        };
        let addr = pointer_auth.strip(given);
        let sym = if absolute {
            table.lookup_absolute(addr)
        } else {
            table.lookup(addr)
        };
        // JSON says which module section the address is in (`.plt`, ...).
        let sym = sym.map(|s| if json { table.with_section(s) } else { s });
        let frames = lines.map(|l| l.frames(addr, sym.as_ref()));
        print_addr(out, given, sym.as_ref(), frames.as_deref(), json)
    };
    // With --lines, addresses go in chunks, so the core's DWARF is read
    // for many at once (on several threads); from a terminal, line by line.
    let chunk = if lines.is_some() && !std::io::stdin().is_terminal() {
        LINES_CHUNK
    } else {
        1
    };
    let mut run_chunk = |texts: &[String], out: &mut dyn Write| -> std::io::Result<()> {
        if let Some(l) = lines.as_deref_mut().filter(|_| texts.len() > 1) {
            let addrs: Vec<u64> = texts
                .iter()
                .filter_map(|t| parse_addr(t.trim()))
                .map(|a| pointer_auth.strip(a))
                .collect();
            l.prefetch(&addrs);
        }
        texts
            .iter()
            .try_for_each(|t| one(t, lines.as_deref_mut(), out))
    };
    if addrs.is_empty() {
        let mut pending = Vec::with_capacity(chunk);
        for line in std::io::stdin().lock().lines() {
            pending.push(line?);
            if pending.len() == chunk {
                run_chunk(&pending, out)?;
                pending.clear();
            }
        }
        run_chunk(&pending, out)?;
    } else {
        run_chunk(addrs, out)?;
    }
    if bad > 0 {
        eprintln!("ksym: {bad} input(s) were not hex addresses");
        Ok(ExitCode::from(2))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn print_addr(
    out: &mut dyn Write,
    addr: u64,
    sym: Option<&Symbol<'_>>,
    frames: Option<&[ksym::lines::SourceFrame]>,
    json: bool,
) -> std::io::Result<()> {
    if json {
        // The library's object (shared with `ksym serve`), with the source
        // frames added inside it.
        let mut obj = String::with_capacity(256);
        addr_json(&mut obj, addr, sym, RawReason::NoSymbol);
        if let Some(frames) = frames {
            obj.pop();
            obj.push_str(",\"frames\":");
            obj.push_str(&frames_json(frames).to_string());
            obj.push('}');
        }
        return writeln!(out, "{obj}");
    }
    let frames = frames.unwrap_or_default();
    match sym {
        Some(s) => writeln!(out, "{addr:#018x} {s}{}", at(frames))?,
        None => writeln!(out, "{addr:#018x} (no symbol)")?,
    }
    for line in inlined_lines(frames) {
        writeln!(out, "    {line}")?;
    }
    // The source line's text, where the debug info keeps it (BPF's BTF).
    if let Some(source) = frames.last().and_then(|f| f.source.as_deref()) {
        writeln!(out, "    | {source}")?;
    }
    Ok(())
}
