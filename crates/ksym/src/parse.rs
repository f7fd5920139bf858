//! Parsing symbol text: `/proc/kallsyms`, `System.map`, `/proc/kallmodsyms`
//! and names in the `path/file.c:name` form, all with one line grammar:
//!
//! ```text
//! ADDR TYPE NAME                       System.map, core kallsyms
//! ADDR TYPE NAME\t[module]             /proc/kallsyms, module symbols
//! ADDR TYPE NAME [mod] [mod2] {obj.o}  /proc/kallmodsyms
//! ADDR TYPE path/file.c:NAME           proposed kallsyms format with paths
//! ```
//!
//! The parser is fed chunks of bytes (a line may straddle two chunks), so the
//! live `/proc/kallsyms` can be parsed while the kernel is still producing it.
//! Lines go straight into a [`TableBuilder`]; bad lines are counted and the
//! first few kept with their numbers, or, in strict mode, stop the parse.

use crate::error::{LineError, LineErrorKind};
use crate::table::TableBuilder;

/// The kernel's `KSYM_NAME_LEN`: no name may be longer.
pub const MAX_NAME_LEN: usize = 512;

/// How many bad lines are kept for display; the rest are only counted.
const KEPT_ERRORS: usize = 16;

/// What the parser saw of the input's shape, for `ksym info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatSeen {
    /// Lines with a tab-separated `\t[module]` (kallsyms).
    pub module_tags: u64,
    /// Lines with space-separated `[module]` or `{object}` fields (kallmodsyms).
    pub kallmodsyms_fields: u64,
    /// Names given as `path:name`.
    pub path_names: u64,
}

impl FormatSeen {
    /// A short name of the input format.
    pub fn describe(&self) -> &'static str {
        if self.kallmodsyms_fields > 0 {
            "kallmodsyms"
        } else if self.path_names > 0 {
            "kallsyms with source paths"
        } else if self.module_tags > 0 {
            "kallsyms"
        } else {
            "kallsyms (core only) or System.map"
        }
    }
}

/// Lines that could not be read and were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkippedLines {
    /// How many lines were skipped.
    pub count: u64,
    /// The first few of them, with line numbers and text.
    pub first: Vec<LineError>,
}

/// A streaming parser of symbol text.
pub(crate) struct Parser {
    strict: bool,
    line_no: u64,
    /// The unfinished last line of the previous chunk.
    carry: Vec<u8>,
    pub(crate) skipped: SkippedLines,
    pub(crate) format: FormatSeen,
    /// Lines that were neither symbols nor blank (to tell "nothing readable"
    /// from "empty").
    pub(crate) nonblank_lines: u64,
}

impl Parser {
    pub(crate) fn new(strict: bool) -> Self {
        Parser {
            strict,
            line_no: 0,
            carry: Vec::new(),
            skipped: SkippedLines::default(),
            format: FormatSeen::default(),
            nonblank_lines: 0,
        }
    }

    /// Parses every complete line of `chunk`, keeping an unfinished last line
    /// for the next call. In strict mode the first bad line is returned.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut TableBuilder) -> Result<(), LineError> {
        let Some(last_nl) = memchr::memrchr(b'\n', chunk) else {
            self.carry.extend_from_slice(chunk);
            return Ok(());
        };
        let mut rest = &chunk[..=last_nl];
        if !self.carry.is_empty() {
            let nl = memchr::memchr(b'\n', rest).expect("rest ends in a newline");
            let mut line = std::mem::take(&mut self.carry);
            line.extend_from_slice(&rest[..nl]);
            self.line(&line, out)?;
            line.clear();
            self.carry = line;
            rest = &rest[nl + 1..];
        }
        if let Some(body) = rest.strip_suffix(b"\n") {
            for line in body.split(|&b| b == b'\n') {
                self.line(line, out)?;
            }
        }
        self.carry.extend_from_slice(&chunk[last_nl + 1..]);
        Ok(())
    }

    /// Parses what is left (a last line without a newline).
    pub(crate) fn finish(&mut self, out: &mut TableBuilder) -> Result<(), LineError> {
        if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.line(&line, out)?;
        }
        Ok(())
    }

    fn line(&mut self, line: &[u8], out: &mut TableBuilder) -> Result<(), LineError> {
        self.line_no += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(());
        }
        self.nonblank_lines += 1;
        match parse_line(line) {
            Ok(sym) => {
                if sym.has_tab_module {
                    self.format.module_tags += 1;
                }
                if sym.kallmodsyms {
                    self.format.kallmodsyms_fields += 1;
                }
                if sym.path.is_some() {
                    self.format.path_names += 1;
                }
                out.push(&sym);
                Ok(())
            }
            Err(kind) => {
                let err = LineError::new(self.line_no, kind, line);
                if self.strict {
                    return Err(err);
                }
                self.skipped.count += 1;
                if self.skipped.first.len() < KEPT_ERRORS {
                    self.skipped.first.push(err);
                }
                Ok(())
            }
        }
    }
}

/// One parsed line, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSymbol<'a> {
    pub addr: u64,
    pub kind: u8,
    pub name: &'a str,
    /// Source path of the `path/file.c:name` form.
    pub path: Option<&'a str>,
    /// Module names: one from kallsyms, any number from kallmodsyms.
    pub modules: ModuleFields<'a>,
    /// The `{object.o}` field of kallmodsyms.
    pub object: Option<&'a str>,
    pub has_tab_module: bool,
    pub kallmodsyms: bool,
}

/// The `[module]` fields of a line, kept as the text that holds them so a
/// line allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ModuleFields<'a> {
    first: Option<&'a str>,
    /// The fields after the name.
    rest: &'a str,
    pub count: usize,
}

impl<'a> ModuleFields<'a> {
    pub fn first(&self) -> Option<&'a str> {
        self.first
    }

    /// Every module name, in the order of the line.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.rest
            .split_ascii_whitespace()
            .filter_map(|f| f.strip_prefix('[').and_then(|f| f.strip_suffix(']')))
    }
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

/// Splits off the next field (up to a space or tab), skipping leading blanks.
fn next_field(s: &[u8]) -> (&[u8], &[u8]) {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let s = &s[start..];
    let end = s
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Splits `path/file.c:name` when the part before the last `:` looks like a
/// source path (so that names that merely hold a colon stay whole).
pub(crate) fn split_path_name(name: &str) -> (Option<&str>, &str) {
    if let Some(colon) = name.rfind(':') {
        let (path, rest) = (&name[..colon], &name[colon + 1..]);
        let looks_like_path = !path.is_empty()
            && !rest.is_empty()
            && !path.contains("::")
            && (path.contains('/')
                || [".c", ".S", ".s", ".h", ".rs"]
                    .iter()
                    .any(|ext| path.ends_with(ext)));
        if looks_like_path {
            return (Some(path), rest);
        }
    }
    (None, name)
}

pub(crate) fn parse_line(line: &[u8]) -> Result<RawSymbol<'_>, LineErrorKind> {
    let (addr, rest) = next_field(line);
    let (kind, rest) = next_field(rest);
    let (name, rest) = next_field(rest);
    if name.is_empty() {
        // One or two fields: either way the line is short; a bad address on
        // a short line is still a bad address.
        return Err(if !addr.is_empty() && parse_hex(addr).is_none() {
            LineErrorKind::BadAddress
        } else {
            LineErrorKind::TooFewFields
        });
    }
    let addr = parse_hex(addr).ok_or(LineErrorKind::BadAddress)?;
    if kind.len() != 1 || !(kind[0].is_ascii_alphabetic() || kind[0] == b'?') {
        return Err(LineErrorKind::BadType);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(LineErrorKind::NameTooLong(name.len()));
    }
    let name = std::str::from_utf8(name).map_err(|_| LineErrorKind::NotUtf8)?;
    let tail = std::str::from_utf8(rest).map_err(|_| LineErrorKind::NotUtf8)?;
    let has_tab_module = tail.starts_with('\t');

    let mut modules = ModuleFields {
        first: None,
        rest: tail,
        count: 0,
    };
    let mut object = None;
    let mut kallmodsyms = false;
    for field in tail.split_ascii_whitespace() {
        if let Some(m) = field.strip_prefix('[').and_then(|f| f.strip_suffix(']')) {
            if m.is_empty() || m.len() > MAX_NAME_LEN {
                return Err(LineErrorKind::UnexpectedField);
            }
            if modules.first.is_none() {
                modules.first = Some(m);
            }
            modules.count += 1;
        } else if let Some(o) = field.strip_prefix('{').and_then(|f| f.strip_suffix('}')) {
            if o.is_empty() || object.is_some() {
                return Err(LineErrorKind::UnexpectedField);
            }
            object = Some(o);
            kallmodsyms = true;
        } else {
            return Err(LineErrorKind::UnexpectedField);
        }
    }
    if modules.count > 1 || (modules.count == 1 && !has_tab_module) {
        kallmodsyms = true;
    }
    let (path, name) = split_path_name(name);
    Ok(RawSymbol {
        addr,
        kind: kind[0],
        name,
        path,
        modules,
        object,
        has_tab_module,
        kallmodsyms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_lines() {
        let s = parse_line(b"ffffffff81000000 T _stext").unwrap();
        assert_eq!(
            (s.addr, s.kind, s.name),
            (0xffffffff81000000, b'T', "_stext")
        );
        assert_eq!(s.modules.first(), None);
        let s = parse_line(b"ffffffffc0000090 T block_pr_type_to_scsi\t[scsi_common]").unwrap();
        assert_eq!(s.modules.first(), Some("scsi_common"));
        assert!(s.has_tab_module && !s.kallmodsyms);
    }

    #[test]
    fn kallmodsyms_lines() {
        let s = parse_line(b"ffffffff81234560 t ext4_foo [ext4] [jbd2] {fs/ext4/inode.o}").unwrap();
        assert_eq!(s.modules.iter().collect::<Vec<_>>(), ["ext4", "jbd2"]);
        assert_eq!(s.object, Some("fs/ext4/inode.o"));
        assert!(s.kallmodsyms);
        let s = parse_line(b"ffffffff81234560 t ext4_foo [ext4]").unwrap();
        assert_eq!(s.modules.iter().collect::<Vec<_>>(), ["ext4"]);
    }

    #[test]
    fn path_names() {
        let s = parse_line(b"ffffffff81234560 t fs/ext4/inode.c:ext4_foo").unwrap();
        assert_eq!((s.path, s.name), (Some("fs/ext4/inode.c"), "ext4_foo"));
        let s = parse_line(b"ffffffff81234560 t weird:name").unwrap();
        assert_eq!((s.path, s.name), (None, "weird:name"));
    }

    #[test]
    fn bad_lines() {
        use LineErrorKind::*;
        assert_eq!(parse_line(b"xyz T foo"), Err(BadAddress));
        assert_eq!(parse_line(b"ffffffff81000000 T"), Err(TooFewFields));
        assert_eq!(parse_line(b"zz"), Err(BadAddress));
        assert_eq!(parse_line(b"ffffffff81000000 TT foo"), Err(BadType));
        assert_eq!(parse_line(b"1ffffffff81000000 T foo"), Err(BadAddress));
        let long = format!("0 T {}", "a".repeat(513));
        assert_eq!(parse_line(long.as_bytes()), Err(NameTooLong(513)));
        assert_eq!(parse_line(b"0 T f\xffo"), Err(NotUtf8));
        assert_eq!(parse_line(b"0 T foo junk"), Err(UnexpectedField));
    }
}
