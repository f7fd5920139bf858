//! The BPF_LINES section (since version 8): the table's BPF programs, their
//! functions and line rows ([`BpfLinesSet`]), so that a BPF frame is named
//! down to its line after the program is gone. Small (a program's rows and
//! strings), so it is decoded into memory on open rather than read in place.
//!
//! ```text
//! u32 program count, then per program:
//!   u32 id, 8 bytes tag, u32 function count, u32 row count, u32 string count
//!   string name
//!   functions {u64 start, u32 len, u32 name string}
//!   rows      {u64 addr, u32 file string, u32 text string, u32 line, u32 column}
//!   strings   each a string
//! string: u32 length, then that many bytes of UTF-8
//! ```
//!
//! Native byte order, as every section. Counts are checked against the
//! bytes left before anything is allocated for them.

use crate::parse::bpf_lines::{BpfLinesSet, BpfProgLines, Func, Row};

const FUNC_LEN: usize = 16;
const ROW_LEN: usize = 24;

/// The section's bytes for `set` (empty for none).
pub(super) fn encode(set: Option<&BpfLinesSet>) -> Vec<u8> {
    let Some(set) = set.filter(|s| !s.programs().is_empty()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let u32s = |out: &mut Vec<u8>, v: &[u32]| v.iter().for_each(|x| out.extend(x.to_ne_bytes()));
    let string = |out: &mut Vec<u8>, s: &str| {
        out.extend((s.len() as u32).to_ne_bytes());
        out.extend(s.as_bytes());
    };
    u32s(&mut out, &[set.programs().len() as u32]);
    for p in set.programs() {
        out.extend(p.id.to_ne_bytes());
        out.extend(p.tag);
        let counts = [p.funcs.len(), p.rows.len(), p.strings.len()];
        u32s(&mut out, &counts.map(|n| n as u32));
        string(&mut out, &p.name);
        for f in &p.funcs {
            out.extend(f.start.to_ne_bytes());
            u32s(&mut out, &[f.len, f.name]);
        }
        for r in &p.rows {
            out.extend(r.addr.to_ne_bytes());
            u32s(&mut out, &[r.file, r.text, r.line, r.column]);
        }
        for s in &p.strings {
            string(&mut out, s);
        }
    }
    out
}

/// The set the section holds (`None` for an empty section), or what is
/// wrong with it and at which byte.
pub(super) fn decode(bytes: &[u8]) -> Result<Option<BpfLinesSet>, String> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let mut r = Reader { bytes, at: 0 };
    let count = r.count(4 + 8 + 12 + 4)?;
    let mut progs = Vec::with_capacity(count);
    for i in 0..count {
        let at = r.at;
        let id = r.u32()?;
        let tag: [u8; 8] = r.take(8)?.try_into().expect("8 bytes");
        let (nfuncs, nrows, nstrings) = (r.u32()?, r.u32()?, r.u32()?);
        let name = r.string()?;
        let mut funcs = Vec::with_capacity(r.fits(nfuncs, FUNC_LEN)?);
        for _ in 0..nfuncs {
            let (start, len, name) = (r.u64()?, r.u32()?, r.u32()?);
            funcs.push(Func { start, len, name });
        }
        let mut rows = Vec::with_capacity(r.fits(nrows, ROW_LEN)?);
        for _ in 0..nrows {
            let addr = r.u64()?;
            let [file, text, line, column] = [r.u32()?, r.u32()?, r.u32()?, r.u32()?];
            rows.push(Row {
                addr,
                file,
                text,
                line,
                column,
            });
        }
        let mut strings = Vec::with_capacity(r.fits(nstrings, 4)?);
        for _ in 0..nstrings {
            strings.push(r.string()?);
        }
        let prog = BpfProgLines::from_parts(id, tag, name, funcs, rows, strings)
            .map_err(|e| format!("BPF program {i} (id {id}, at byte {at}): {e}"))?;
        progs.push(prog);
    }
    if r.at != bytes.len() {
        return Err(format!(
            "{} bytes after the last BPF program, at byte {}",
            bytes.len() - r.at,
            r.at
        ));
    }
    Ok(Some(BpfLinesSet::new(progs)))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| {
            format!(
                "truncated at byte {}: {n} bytes wanted, {} left",
                self.at,
                self.bytes.len() - self.at
            )
        })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_ne_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_ne_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A count of records of at least `each` bytes, which must fit in what
    /// is left (so a damaged count allocates nothing).
    fn count(&mut self, each: usize) -> Result<usize, String> {
        let n = self.u32()?;
        self.fits(n, each)
    }

    fn fits(&self, n: u32, each: usize) -> Result<usize, String> {
        let left = self.bytes.len() - self.at;
        if (n as usize).saturating_mul(each) > left {
            return Err(format!(
                "at byte {}: {n} records of {each} bytes in the {left} bytes left",
                self.at
            ));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<String, String> {
        let at = self.at;
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("string at byte {at} is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BpfLinesSet {
        let strings = ["prog_a", "sub", "/src/a.c", "x = 1;", ""].map(String::from);
        let func = |start, len, name| Func { start, len, name };
        let row = |addr, line| Row {
            addr,
            file: 2,
            text: 3,
            line,
            column: 7,
        };
        let a = BpfProgLines::from_parts(
            5,
            [9; 8],
            "prog_a".into(),
            vec![func(0x1000, 0x40, 0), func(0x2000, 0x10, 1)],
            vec![row(0x1000, 3), row(0x1008, 0), row(0x2000, 9)],
            strings.to_vec(),
        )
        .unwrap();
        let b = BpfProgLines::from_parts(
            6,
            [9; 8],
            "prog_a".into(),
            vec![func(0x3000, 0x20, 0)],
            vec![],
            vec!["prog_a".into()],
        )
        .unwrap();
        BpfLinesSet::new(vec![a, b])
    }

    #[test]
    fn a_set_comes_back_as_it_went() {
        let set = sample();
        let bytes = encode(Some(&set));
        let back = decode(&bytes).unwrap().unwrap();
        assert_eq!(back.programs(), set.programs());
        for addr in (0xff0..0x3030).step_by(4) {
            assert_eq!(back.lookup(addr), set.lookup(addr), "{addr:#x}");
        }
        assert!(encode(None).is_empty());
        assert!(decode(&[]).unwrap().is_none());
    }

    /// Every truncation and every single damaged byte is an error or a set,
    /// never a panic; a damaged count allocates nothing.
    #[test]
    fn damaged_sections_are_errors() {
        let bytes = encode(Some(&sample()));
        for n in 1..bytes.len() {
            let e = decode(&bytes[..n]).unwrap_err();
            assert!(e.contains("byte"), "{e}");
        }
        for i in 0..bytes.len() {
            for v in [0u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                let _ = decode(&b);
            }
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra).unwrap_err().contains("after the last"));
        let mut huge = bytes.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(decode(&huge).unwrap_err().contains("records"));
        // A row naming a string past the end.
        let mut set = sample().programs().to_vec();
        set[0].rows[0].text = 99;
        let e = decode(&encode(Some(&BpfLinesSet::new(set)))).unwrap_err();
        assert!(e.contains("string 99 of 5"), "{e}");
    }
}
