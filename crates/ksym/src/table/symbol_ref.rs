//! Symbol references as text, `name+0x1b/0x30 [module]` and the other
//! unique spellings: [`SymbolRef`] parses them, [`SymbolTable::resolve`]
//! turns them into addresses.

use crate::error::{Error, ResolveErrorKind, Result};
use crate::table::{Symbol, SymbolTable};

/// A parsed `name+0xoff/0xsize [module]` reference, or any unique
/// spelling of a symbol (see [`SymbolTable::unique_name`]):
///
/// ```text
/// [path ':'] name ['#' N] ['+' off ['/' size]] [' [' module [buildid] ']'] [' {' object '}']
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolRef<'a> {
    pub name: &'a str,
    pub offset: u64,
    pub size: Option<u64>,
    /// `vmlinux` names the core kernel (symbols of no module).
    pub module: Option<&'a str>,
    /// The object file, from `{object.o}`.
    pub object: Option<&'a str>,
    /// The source path, from `path/file.c:name`.
    pub path: Option<&'a str>,
    /// `name#N`: the N-th (from 1, in address order) of the symbols of that
    /// name in the module (or in the whole table without a module).
    pub ordinal: Option<u32>,
}

impl<'a> SymbolRef<'a> {
    /// Parses `name`, `name+0x1b`, `name+0x1b/0x30`, each optionally followed
    /// by ` [module]` or ` [module buildid]` and ` {object.o}`, the name
    /// optionally as `path/file.c:name` or with a `#N` ordinal.
    pub fn parse(text: &'a str) -> std::result::Result<Self, &'static str> {
        let text = text.trim();
        let split = text
            .find(|c: char| c == '[' || c == '{' || c.is_whitespace())
            .unwrap_or(text.len());
        let (sym, mut rest) = (&text[..split], text[split..].trim_start());
        let mut module = None;
        let mut object = None;
        while !rest.is_empty() {
            if let Some(inner) = rest.strip_prefix('[') {
                let close = inner.find(']').ok_or("`[` without a closing `]`")?;
                let m = inner[..close]
                    .split_ascii_whitespace()
                    .next()
                    .ok_or("empty `[]`")?;
                if module.replace(m).is_some() {
                    return Err("two `[module]` fields");
                }
                rest = inner[close + 1..].trim_start();
            } else if let Some(inner) = rest.strip_prefix('{') {
                let close = inner.find('}').ok_or("`{` without a closing `}`")?;
                let o = inner[..close].trim();
                if o.is_empty() {
                    return Err("empty `{}`");
                }
                if object.replace(o).is_some() {
                    return Err("two `{object}` fields");
                }
                rest = inner[close + 1..].trim_start();
            } else {
                return Err("spaces in the name");
            }
        }
        if sym.is_empty() {
            return Err("no name");
        }
        let (name, offset, size) = match sym.rfind('+') {
            Some(plus) if plus > 0 => {
                let (off, size) = match sym[plus + 1..].split_once('/') {
                    Some((o, s)) => (o, Some(s)),
                    None => (&sym[plus + 1..], None),
                };
                let offset = parse_num(off).ok_or("the offset is not a number")?;
                let size = size
                    .map(|s| parse_num(s).ok_or("the size is not a number"))
                    .transpose()?;
                (&sym[..plus], offset, size)
            }
            _ => (sym, 0, None),
        };
        let (path, name) = match memchr::memchr(b':', name.as_bytes()) {
            Some(_) => match crate::parse::split_path_name(name.as_bytes()) {
                // Both halves are slices of a `&str` split at an ASCII `:`.
                (Some(p), n) => (Some(&name[..p.len()]), &name[name.len() - n.len()..]),
                (None, _) => (None, name),
            },
            None => (None, name),
        };
        let (name, ordinal) = match name.rsplit_once('#') {
            Some((n, k))
                if !n.is_empty() && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let k: u32 = k.parse().map_err(|_| "the ordinal is too large")?;
                if k == 0 {
                    return Err("ordinals count from 1");
                }
                (n, Some(k))
            }
            _ => (name, None),
        };
        if name.is_empty() {
            return Err("no name");
        }
        Ok(SymbolRef {
            name,
            offset,
            size,
            module,
            object,
            path,
            ordinal,
        })
    }
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !s.is_empty() => s.parse().ok(),
        None => None,
    }
}

impl SymbolTable {
    /// Turns `name`, `name+0x1b`, `name+0x1b/0x30` or
    /// `name+0x1b/0x30 [module]` (also `[module buildid]`) into an address,
    /// checking the size when it is given. The name may be any spelling
    /// [`unique_name`](Self::unique_name) gives (`name#2 [ext4]`,
    /// `path/file.c:name [vmlinux]`, `name [ext4] {fs/ext4/inode.o}`).
    pub fn resolve(&self, text: &str) -> Result<u64> {
        let err = |kind| Error::Resolve {
            text: text.to_string(),
            kind,
        };
        let r = SymbolRef::parse(text).map_err(|why| err(ResolveErrorKind::Syntax(why)))?;
        let candidates = self.candidates(&r);
        if candidates.is_empty() {
            return Err(err(ResolveErrorKind::NotFound));
        }
        let fitting: Vec<&Symbol<'_>> = match r.size {
            Some(size) => candidates.iter().filter(|s| s.size == size).collect(),
            None => candidates.iter().collect(),
        };
        match fitting.as_slice() {
            [] => Err(err(ResolveErrorKind::SizeMismatch {
                given: r.size.unwrap_or(0),
                found: candidates.iter().map(|s| s.size).collect(),
            })),
            [s] => {
                // `%pB` prints return addresses as `offset == size` (the call was
                // the last instruction), so the end itself is allowed.
                if r.offset > s.size && s.size > 0 {
                    return Err(err(ResolveErrorKind::OffsetOutside {
                        offset: r.offset,
                        size: s.size,
                    }));
                }
                Ok(s.start.wrapping_add(r.offset))
            }
            many => Err(err(ResolveErrorKind::Ambiguous(
                many.iter().map(|s| s.start).collect(),
            ))),
        }
    }
}
