//! Naming the raw kernel addresses of `perf script` and bpftrace `kstack`
//! output, line by line or over a stream.

use std::fmt::Write as _;
use std::io::{self, BufRead, Write};

use super::stream::split_ending;
use crate::table::{Symbol, SymbolTable};

/// Which profiler output [`rewrite_line`] expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RewriteFormat {
    /// `perf script`: `ffffffff81234567 [unknown] ([kernel.kallsyms])`
    /// frames get `name+0xoff`, and a `([unknown])` object the kernel's or
    /// the module's.
    Perf,
    /// bpftrace `kstack`: a line holding only a raw address
    /// (`0xffffffff81234567`, or 16 hex digits) becomes `name+off`, bpftrace's
    /// own form (decimal offset).
    Bpftrace,
    /// Both rules, line by line.
    #[default]
    Auto,
}

/// The line with its raw kernel addresses named, or `None` when nothing in
/// it changes. Addresses are looked up exactly (as the tools do).
pub fn rewrite_line(table: &SymbolTable, format: RewriteFormat, line: &str) -> Option<String> {
    rewrite_line_found(table, format, line, &mut Vec::new())
}

/// [`rewrite_line`], also pushing each named address and its symbol onto
/// `found`.
fn rewrite_line_found<'t>(
    table: &'t SymbolTable,
    format: RewriteFormat,
    line: &str,
    found: &mut Vec<Symbol<'t>>,
) -> Option<String> {
    match format {
        RewriteFormat::Perf => rewrite_perf(table, line, found),
        RewriteFormat::Bpftrace => rewrite_bpftrace(table, line, found),
        RewriteFormat::Auto => {
            rewrite_perf(table, line, found).or_else(|| rewrite_bpftrace(table, line, found))
        }
    }
}

fn rewrite_perf<'t>(
    table: &'t SymbolTable,
    line: &str,
    found: &mut Vec<Symbol<'t>>,
) -> Option<String> {
    const UNKNOWN: &str = "[unknown]";
    const UNKNOWN_DSO: &str = " ([unknown])";
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(p) = line[from..].find(UNKNOWN) {
        let at = from + p;
        from = at + UNKNOWN.len();
        // The symbol field follows the address after spaces.
        let before = line[..at].trim_end_matches(' ');
        if before.len() == at {
            continue;
        }
        let tok_start = before
            .rfind(|c: char| c.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let tok = &before[tok_start..];
        let hex = tok.strip_prefix("0x").unwrap_or(tok);
        if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let Some(s) = u64::from_str_radix(hex, 16)
            .ok()
            .and_then(|a| table.lookup(a))
        else {
            continue;
        };
        out.push_str(&line[copied..at]);
        let _ = write!(out, "{}+{:#x}", s.name, s.offset);
        found.push(s);
        let mut end = at + UNKNOWN.len();
        if line[end..].starts_with(UNKNOWN_DSO) {
            match s.module {
                Some(m) => {
                    let _ = write!(out, " ([{m}])");
                }
                None => out.push_str(" ([kernel.kallsyms])"),
            }
            end += UNKNOWN_DSO.len();
        }
        copied = end;
        from = end;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&line[copied..]);
    Some(out)
}

fn rewrite_bpftrace<'t>(
    table: &'t SymbolTable,
    line: &str,
    found: &mut Vec<Symbol<'t>>,
) -> Option<String> {
    let token = line.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return None;
    }
    let hex = match token.strip_prefix("0x") {
        Some(h) => h,
        None if token.len() == 16 => token,
        None => return None,
    };
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let s = table.lookup(u64::from_str_radix(hex, 16).ok()?)?;
    let at = line.find(token)?;
    found.push(s);
    Some(format!(
        "{}{}+{}{}",
        &line[..at],
        s.name,
        s.offset,
        &line[at + token.len()..]
    ))
}

/// Counts over a rewritten stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewriteSummary {
    pub lines: u64,
    /// Lines where at least one address got a name.
    pub rewritten: u64,
}

/// [`rewrite_line`] over a stream; unchanged lines are copied byte for byte.
pub fn rewrite_stream(
    table: &SymbolTable,
    format: RewriteFormat,
    input: impl BufRead,
    output: impl Write,
    flush_lines: bool,
) -> io::Result<RewriteSummary> {
    rewrite_stream_with(table, format, input, output, flush_lines, &mut |_| {
        Vec::new()
    })
}

/// [`rewrite_stream`], with `extra` asked for lines to add after a
/// rewritten line for each symbol it named (source lines, say); each comes
/// indented like the line, two spaces further.
pub fn rewrite_stream_with(
    table: &SymbolTable,
    format: RewriteFormat,
    mut input: impl BufRead,
    mut output: impl Write,
    flush_lines: bool,
    extra: &mut dyn FnMut(&Symbol<'_>) -> Vec<String>,
) -> io::Result<RewriteSummary> {
    let mut summary = RewriteSummary::default();
    let mut buf = Vec::with_capacity(256);
    let mut found = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        summary.lines += 1;
        let (body, ending) = split_ending(&buf);
        found.clear();
        let new = std::str::from_utf8(body)
            .ok()
            .and_then(|t| rewrite_line_found(table, format, t, &mut found));
        match new {
            Some(t) => {
                summary.rewritten += 1;
                output.write_all(t.as_bytes())?;
                output.write_all(ending)?;
                let indent = &t[..t.len() - t.trim_start().len()];
                for s in &found {
                    for extra_line in extra(s) {
                        write!(output, "{indent}  {extra_line}")?;
                        output.write_all(if ending.is_empty() { b"\n" } else { ending })?;
                    }
                }
            }
            None => output.write_all(&buf)?,
        }
        if flush_lines {
            output.flush()?;
        }
    }
    output.flush()?;
    Ok(summary)
}
