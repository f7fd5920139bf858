//! Writing a table back out as text: `System.map` (`%016x %c %s`) or
//! `/proc/kallsyms` (the same, with `\t[module]` on module symbols).

use std::io::Write;

use crate::table::{Symbol, SymbolTable};

/// The text formats [`write`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// `address type name`, as `System.map` and `nm -n` print.
    SystemMap,
    /// The same with `\t[module]` after module symbols, as `/proc/kallsyms`.
    Kallsyms,
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
        write!(out, "{:016x} {} {}", s.start, s.kind, s.name)?;
        if let (DumpFormat::Kallsyms, Some(m)) = (format, s.module) {
            write!(out, "\t[{m}]")?;
        }
        writeln!(out)?;
    }
    Ok(())
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
}
