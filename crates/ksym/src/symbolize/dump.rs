//! Writing a table back out as text: `System.map` (`%016x %c %s`),
//! `/proc/kallsyms` (the same, with `\t[module]` on module symbols),
//! `/proc/kallmodsyms` (built-in modules as ` [mod]`, `{object}`), or JSON
//! lines. Each reads back into the same table (the parser takes the first
//! three; the JSON carries every field a symbol has).

use std::io::Write;

use crate::table::{Symbol, SymbolTable};

/// The text formats [`write()`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// `address type name`, as `System.map` and `nm -n` print.
    SystemMap,
    /// The same with `\t[module]` after module symbols, as `/proc/kallsyms`;
    /// names with a source path as `path/file.c:name`.
    Kallsyms,
    /// `/proc/kallmodsyms`: loadable modules as `\t[module]`, built-in ones
    /// as ` [mod] [mod2]`, then ` {object.o}` when known.
    Kallmodsyms,
    /// One JSON object a line: `addr`, `type`, `name`, `size`, `module`,
    /// `modules`, `loadable`, `object`, `path`.
    Json,
}

/// Every symbol in address order: aliases in input order, and at one
/// address the address-answering symbols before name-only ones (absolute,
/// labels), as `find` orders them. For a table read from a kernel image
/// this is the image's own order (`scripts/kallsyms.c` sorts by address).
pub fn by_address(table: &SymbolTable) -> impl Iterator<Item = Symbol<'_>> {
    let split = table.answering_len();
    let mut answering = table.iter().take(split).peekable();
    let mut name_only = table.iter().skip(split).peekable();
    std::iter::from_fn(move || match (answering.peek(), name_only.peek()) {
        (Some(a), Some(b)) if b.start < a.start => name_only.next(),
        (Some(_), _) => answering.next(),
        (None, _) => name_only.next(),
    })
}

/// Writes every symbol of `table` in [`by_address`] order.
pub fn write(table: &SymbolTable, format: DumpFormat, out: &mut dyn Write) -> std::io::Result<()> {
    for s in by_address(table) {
        match format {
            DumpFormat::SystemMap => writeln!(out, "{:016x} {} {}", s.start, s.kind, s.name)?,
            DumpFormat::Kallsyms => {
                write!(out, "{:016x} {} ", s.start, s.kind)?;
                if let Some(p) = s.path {
                    write!(out, "{p}:")?;
                }
                write!(out, "{}", s.name)?;
                if let Some(m) = s.module {
                    write!(out, "\t[{m}]")?;
                }
                writeln!(out)?;
            }
            DumpFormat::Kallmodsyms => {
                write!(out, "{:016x} {} ", s.start, s.kind)?;
                if let Some(p) = s.path {
                    write!(out, "{p}:")?;
                }
                write!(out, "{}", s.name)?;
                if table.in_loadable_module(s.id) {
                    if let Some(m) = s.module {
                        write!(out, "\t[{m}]")?;
                    }
                } else {
                    for m in table.modules_of(s.id) {
                        write!(out, " [{m}]")?;
                    }
                }
                if let Some(o) = s.object {
                    write!(out, " {{{o}}}")?;
                }
                writeln!(out)?;
            }
            DumpFormat::Json => write_json(table, &s, out)?,
        }
    }
    Ok(())
}

fn write_json(table: &SymbolTable, s: &Symbol<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    write!(
        out,
        "{{\"addr\":\"{:#x}\",\"type\":\"{}\",\"name\":",
        s.start, s.kind
    )?;
    json_str(out, s.name)?;
    write!(out, ",\"size\":{},\"module\":", s.size)?;
    json_opt(out, s.module)?;
    write!(out, ",\"modules\":[")?;
    for (i, m) in table.modules_of(s.id).enumerate() {
        if i > 0 {
            write!(out, ",")?;
        }
        json_str(out, m)?;
    }
    write!(
        out,
        "],\"loadable\":{},\"object\":",
        table.in_loadable_module(s.id)
    )?;
    json_opt(out, s.object)?;
    write!(out, ",\"path\":")?;
    json_opt(out, s.path)?;
    writeln!(out, "}}")
}

fn json_opt(out: &mut dyn Write, v: Option<&str>) -> std::io::Result<()> {
    match v {
        Some(v) => json_str(out, v),
        None => write!(out, "null"),
    }
}

/// A JSON string literal (RFC 8259 escapes).
fn json_str(out: &mut dyn Write, v: &str) -> std::io::Result<()> {
    write!(out, "\"")?;
    for c in v.chars() {
        match c {
            '"' => write!(out, "\\\"")?,
            '\\' => write!(out, "\\\\")?,
            '\n' => write!(out, "\\n")?,
            '\t' => write!(out, "\\t")?,
            '\r' => write!(out, "\\r")?,
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32)?,
            c => write!(out, "{c}")?,
        }
    }
    write!(out, "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_name_only_symbols_by_address() {
        let text = "\
0000000000000000 A percpu_a
0000000000001000 A percpu_b
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81000010 t helper\t[mod]
ffffffff81000020 A late_abs
";
        let table = crate::parse_bytes("t", text.as_bytes(), &Default::default()).unwrap();
        let mut out = Vec::new();
        write(&table, DumpFormat::Kallsyms, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), text);
        let mut out = Vec::new();
        write(&table, DumpFormat::SystemMap, &mut out).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("ffffffff81000010 t helper\n"));
    }

    #[test]
    fn kallmodsyms_round_trip() {
        let text = "\
ffffffff81000000 T _text
ffffffff81000100 t ext4_foo [ext4] {fs/ext4/inode.o}
ffffffff81000200 t shared_fn [crc16] [ext4]
ffffffff81000300 t fs/ext4/x.c:pathfn [ext4]
ffffffffc0000000 t modfn\t[nvme]
";
        let table = crate::parse_bytes("t", text.as_bytes(), &Default::default()).unwrap();
        let mut out = Vec::new();
        write(&table, DumpFormat::Kallmodsyms, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }

    #[test]
    fn json_escapes() {
        let mut out = Vec::new();
        json_str(&mut out, "a\"b\\c\u{1}").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"b\\\\c\\u0001\"");
    }
}
