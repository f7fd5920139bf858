//! A loaded BPF program's code to its source lines: its functions (the
//! main one and each subprogram, JITed apart, by id not by tag: tags
//! repeat) with their real sizes, and its line records at their JITed
//! addresses with file, line, column and the source line's text from the
//! program's BTF ([`crate::read::bpf_prog`] reads them from the kernel).
//!
//! Laid out for lookups: functions and rows sorted by address, strings in
//! one arena.

use crate::parse::btf::ProgramBtf;
use crate::read::bpf_prog::BpfProgInfo;

/// One program's functions and line rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BpfProgLines {
    pub id: u32,
    pub tag: [u8; 8],
    pub name: String,
    /// Sorted by start.
    pub(crate) funcs: Vec<Func>,
    /// Sorted by address.
    pub(crate) rows: Vec<Row>,
    /// File names, function names and line texts, each once.
    pub(crate) strings: Vec<String>,
}

/// A JITed function: `name` indexes `strings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Func {
    pub start: u64,
    pub len: u32,
    pub name: u32,
}

/// A line record at its JITed address: `file` and `text` index `strings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub addr: u64,
    pub file: u32,
    pub text: u32,
    pub line: u32,
    pub column: u32,
}

/// What an address of a BPF program is, down to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfLine<'a> {
    pub prog_id: u32,
    pub prog_name: &'a str,
    /// The BPF function holding the address (the program's own name for
    /// the main one when its BTF names none), its start and real size.
    pub function: &'a str,
    pub start: u64,
    pub size: u64,
    /// From the line record at or before the address in that function;
    /// `None` where it has none. Line 0 is the compiler's "no line".
    pub file: Option<&'a str>,
    pub line: u32,
    pub column: u32,
    /// The source line's text as the BTF keeps it (trimmed).
    pub source: Option<&'a str>,
}

impl BpfProgLines {
    /// The program's lines from its info and BTF (`btf`: `None` when it was
    /// loaded without; then only functions and sizes). Errors name what in
    /// the kernel's answer does not add up.
    pub fn new(info: &BpfProgInfo, btf: Option<&[u8]>) -> Result<BpfProgLines, String> {
        if info.jited_ksyms.len() != info.jited_func_lens.len() {
            return Err(format!(
                "program {}: {} JITed functions but {} lengths",
                info.id,
                info.jited_ksyms.len(),
                info.jited_func_lens.len()
            ));
        }
        let btf = btf
            .map(ProgramBtf::parse)
            .transpose()
            .map_err(|e| format!("program {}: BTF: {e}", info.id))?;
        let mut out = BpfProgLines {
            id: info.id,
            tag: info.tag,
            name: info.name.clone(),
            ..BpfProgLines::default()
        };
        let mut index: rustc_hash::FxHashMap<String, u32> = Default::default();
        let mut intern = |s: &str, strings: &mut Vec<String>| -> u32 {
            *index.entry(s.to_string()).or_insert_with(|| {
                strings.push(s.to_string());
                strings.len() as u32 - 1
            })
        };
        for (i, (&start, &len)) in info
            .jited_ksyms
            .iter()
            .zip(&info.jited_func_lens)
            .enumerate()
        {
            let name = info
                .func_info
                .get(i)
                .and_then(|&(_, type_id)| btf.as_ref()?.func_name(type_id))
                .unwrap_or(&info.name);
            let name = intern(name, &mut out.strings);
            out.funcs.push(Func { start, len, name });
        }
        out.funcs.sort_by_key(|f| f.start);
        if let Some(btf) = &btf {
            if info.line_info.len() != info.jited_line_info.len() {
                return Err(format!(
                    "program {}: {} line records but {} JITed addresses for them",
                    info.id,
                    info.line_info.len(),
                    info.jited_line_info.len()
                ));
            }
            for (rec, &addr) in info.line_info.iter().zip(&info.jited_line_info) {
                let file = btf.string(rec.file_name_off).unwrap_or("");
                let text = btf.string(rec.line_off).unwrap_or("").trim();
                let (file, text) = (
                    intern(file, &mut out.strings),
                    intern(text, &mut out.strings),
                );
                out.rows.push(Row {
                    addr,
                    file,
                    text,
                    line: rec.line_col >> 10,
                    column: rec.line_col & 0x3ff,
                });
            }
            // Stable: of rows at one address the kernel's last one holds.
            out.rows.sort_by_key(|r| r.addr);
        }
        Ok(out)
    }

    /// A program from its parts as [`crate::snapshot`] keeps them, checked
    /// for what lookups rely on: sorted functions and rows, every string
    /// index in range. `Err` says what is wrong.
    pub(crate) fn from_parts(
        id: u32,
        tag: [u8; 8],
        name: String,
        funcs: Vec<Func>,
        rows: Vec<Row>,
        strings: Vec<String>,
    ) -> Result<BpfProgLines, String> {
        let n = strings.len() as u64;
        if let Some(f) = funcs.iter().find(|f| u64::from(f.name) >= n) {
            return Err(format!("a function names string {} of {n}", f.name));
        }
        if let Some(r) = rows.iter().find(|r| u64::from(r.file.max(r.text)) >= n) {
            return Err(format!("a row names string {} of {n}", r.file.max(r.text)));
        }
        if !funcs.windows(2).all(|w| w[0].start <= w[1].start) {
            return Err("functions out of address order".into());
        }
        if !rows.windows(2).all(|w| w[0].addr <= w[1].addr) {
            return Err("rows out of address order".into());
        }
        Ok(BpfProgLines {
            id,
            tag,
            name,
            funcs,
            rows,
            strings,
        })
    }

    /// Whether `addr` is in one of the program's functions.
    pub fn contains(&self, addr: u64) -> bool {
        self.func_at(addr).is_some()
    }

    fn func_at(&self, addr: u64) -> Option<&Func> {
        let i = self
            .funcs
            .partition_point(|f| f.start <= addr)
            .checked_sub(1)?;
        let f = &self.funcs[i];
        (addr - f.start < u64::from(f.len)).then_some(f)
    }

    /// What `addr` is in this program, with its line where it has one.
    pub fn lookup(&self, addr: u64) -> Option<BpfLine<'_>> {
        let f = self.func_at(addr)?;
        let s = |i: u32| self.strings[i as usize].as_str();
        let row = self
            .rows
            .partition_point(|r| r.addr <= addr)
            .checked_sub(1)
            .map(|i| &self.rows[i])
            .filter(|r| r.addr >= f.start);
        Some(BpfLine {
            prog_id: self.id,
            prog_name: &self.name,
            function: s(f.name),
            start: f.start,
            size: u64::from(f.len),
            file: row.map(|r| s(r.file)).filter(|f| !f.is_empty()),
            line: row.map_or(0, |r| r.line),
            column: row.map_or(0, |r| r.column),
            source: row.map(|r| s(r.text)).filter(|t| !t.is_empty()),
        })
    }

    /// The JITed functions: (name, start, size).
    pub fn functions(&self) -> impl Iterator<Item = (&str, u64, u64)> + '_ {
        self.funcs.iter().map(|f| {
            (
                self.strings[f.name as usize].as_str(),
                f.start,
                u64::from(f.len),
            )
        })
    }
}

/// Every program read, for lookups by address across them.
#[derive(Debug, Clone, Default)]
pub struct BpfLinesSet {
    progs: Vec<BpfProgLines>,
    /// (start, end, program) of every JITed function, sorted by start.
    spans: Vec<(u64, u64, u32)>,
}

impl BpfLinesSet {
    pub fn new(progs: Vec<BpfProgLines>) -> BpfLinesSet {
        let mut spans: Vec<(u64, u64, u32)> = progs
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                p.functions()
                    .map(move |(_, start, size)| (start, start.saturating_add(size), i as u32))
            })
            .collect();
        spans.sort_unstable();
        BpfLinesSet { progs, spans }
    }

    /// The programs, in the order given.
    pub fn programs(&self) -> &[BpfProgLines] {
        &self.progs
    }

    /// What `addr` is, in whichever program JITed code there.
    pub fn lookup(&self, addr: u64) -> Option<BpfLine<'_>> {
        let i = self.spans.partition_point(|s| s.0 <= addr).checked_sub(1)?;
        let (_, end, prog) = self.spans[i];
        (addr < end).then(|| self.progs[prog as usize].lookup(addr))?
    }
}

/// A program `prog` (id 7) at `start`: main function 0x40 bytes with a
/// line at its start and one of line 0 at +0x10, a subprogram `sub` at
/// +0x100 (0x20 bytes, line 9), for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn sample_set(start: u64) -> BpfLinesSet {
    let strings = ["prog", "sub", "/src/p.c", "x = 1;", "return y;"].map(String::from);
    let row = |addr, text, line| Row {
        addr,
        file: 2,
        text,
        line,
        column: 5,
    };
    let prog = BpfProgLines::from_parts(
        7,
        [1, 2, 3, 4, 5, 6, 7, 8],
        "prog".into(),
        vec![
            Func {
                start,
                len: 0x40,
                name: 0,
            },
            Func {
                start: start + 0x100,
                len: 0x20,
                name: 1,
            },
        ],
        vec![
            row(start, 3, 4),
            row(start + 0x10, 3, 0),
            row(start + 0x100, 4, 9),
        ],
        strings.to_vec(),
    );
    BpfLinesSet::new(vec![prog.expect("a valid sample")])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::bpf_prog::LineRecord;

    /// A program with a subprogram, its BTF made by hand: two functions,
    /// rows in each, a row of line 0 (the compiler's "no line").
    #[test]
    fn addresses_map_to_their_function_and_row() {
        let strings = b"\0main_fn\0sub_fn\0/src/p.c\0int a = 1;\0return a;\0  b++;  \0";
        let at = |s: &str| {
            let pat = format!("\0{s}\0");
            (strings
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .unwrap()
                + 1) as u32
        };
        // Type 1: func main_fn, type 2: func sub_fn.
        let types: Vec<u32> = vec![at("main_fn"), 12 << 24, 0, at("sub_fn"), 12 << 24, 0];
        let t: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut btf = vec![0x9f, 0xeb, 1, 0];
        for w in [
            24u32,
            0,
            t.len() as u32,
            t.len() as u32,
            strings.len() as u32,
        ] {
            btf.extend(w.to_le_bytes());
        }
        btf.extend(&t);
        btf.extend(strings);
        let rec = |insn_off, line_off, line: u32, col: u32| LineRecord {
            insn_off,
            file_name_off: at("/src/p.c"),
            line_off,
            line_col: line << 10 | col,
        };
        let info = BpfProgInfo {
            id: 7,
            tag: [1; 8],
            name: "main_fn".into(),
            jited_ksyms: vec![0x1000, 0x2000],
            jited_func_lens: vec![0x40, 0x20],
            btf_id: 3,
            func_info: vec![(0, 1), (10, 2)],
            line_info: vec![
                rec(0, at("int a = 1;"), 4, 6),
                rec(3, 0, 0, 0),
                rec(5, at("return a;"), 5, 2),
                rec(10, at("  b++;  "), 9, 3),
            ],
            jited_line_info: vec![0x1000, 0x1010, 0x1018, 0x2000],
        };
        let set = BpfLinesSet::new(vec![BpfProgLines::new(&info, Some(&btf)).unwrap()]);
        let l = set.lookup(0x1017).unwrap();
        assert_eq!((l.function, l.start, l.size), ("main_fn", 0x1000, 0x40));
        assert_eq!((l.file, l.line, l.source), (Some("/src/p.c"), 0, None));
        let l = set.lookup(0x103f).unwrap();
        assert_eq!((l.line, l.column, l.source), (5, 2, Some("return a;")));
        let l = set.lookup(0x2004).unwrap();
        assert_eq!((l.function, l.line, l.source), ("sub_fn", 9, Some("b++;")));
        assert_eq!(set.lookup(0x1040), None);
        assert_eq!(set.lookup(0xfff), None);
        assert_eq!(set.lookup(0x2020), None);
        // The kernel's answer not adding up is an error, not a guess.
        let mut bad = info.clone();
        bad.jited_line_info.pop();
        assert!(BpfProgLines::new(&bad, Some(&btf))
            .unwrap_err()
            .contains("line records"));
        // Without BTF: functions and sizes only.
        let bare = BpfProgLines::new(&info, None).unwrap();
        let l = bare.lookup(0x2001).unwrap();
        assert_eq!((l.function, l.size, l.file), ("main_fn", 0x20, None));
    }
}
