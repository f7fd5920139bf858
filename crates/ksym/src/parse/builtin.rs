//! Built-in modules: which core kernel symbols belong to a module that was
//! linked into the kernel (`modules.builtin.ranges`), and which modules were
//! (`modules.builtin`, `modules.builtin.modinfo`).
//!
//! # `modules.builtin.ranges`
//!
//! Written by the kernel's build (6.12+, `CONFIG_BUILTIN_MODULE_RANGES`,
//! `scripts/generate_builtin_ranges.awk`). Per section, an anchor line, then
//! the ranges of built-in modules, offsets in hex from the section's start
//! in the link:
//!
//! ```text
//! .text 00000000-00000000 = _text
//! .text 0000baf0-0000cb10 amd_uncore
//! .text 0009bd10-0009c8e0 iosf_mbi
//! .data 00000000-00000000 = _sdata
//! .data 0000f020-0000f680 amd_uncore
//! ```
//!
//! The anchor line `<section> <off>-<off> = <symbol>` says the anchor
//! symbol lies `off` bytes into the section, so in the running kernel the
//! section starts at `address(symbol) - off` and a range
//! `<section> <start>-<end> <module> [<module>...]` covers
//! `[base + start, base + end)`. The anchor's address comes from the table,
//! so it already includes the KASLR slide (the arithmetic is in
//! [`crate::table`], which attaches the ranges to a table). A range names several modules
//! when its object is linked into each.

use std::path::Path;

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::read::limit::LIST_LIMIT;
use crate::read::read_small;

/// An address range `[start, end)` whose core symbols belong to built-in
/// `modules` (usually one; an object linked into several modules names them
/// all, as kallmodsyms does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRange {
    pub start: u64,
    pub end: u64,
    pub modules: Vec<String>,
}

/// One range line: offsets from the section's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetRange {
    pub start: u64,
    pub end: u64,
    pub modules: Vec<String>,
}

/// One section of `modules.builtin.ranges`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSection {
    /// `.text`, `.data`, `.rodata`, ...
    pub name: String,
    /// The anchor symbol and its offset from the section's start.
    pub anchor: Option<(String, u64)>,
    pub ranges: Vec<OffsetRange>,
}

/// A parsed `modules.builtin.ranges`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuiltinRanges {
    /// Sections in file order.
    pub sections: Vec<RangeSection>,
}

/// What the anchor arithmetic gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedRanges {
    /// Absolute ranges, sorted by start.
    pub ranges: Vec<ModuleRange>,
    /// Sections left out, with why (no anchor line, anchor symbol not in
    /// the table).
    pub skipped: Vec<String>,
}

fn hex(s: &str) -> Option<u64> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    (!s.is_empty() && s.len() <= 16)
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
}

impl BuiltinRanges {
    /// Parses the text of a `modules.builtin.ranges` file.
    pub fn parse(source_name: &str, text: &str) -> Result<BuiltinRanges> {
        let mut out = BuiltinRanges::default();
        let mut index: FxHashMap<String, usize> = FxHashMap::default();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let bad = |reason| Error::BadListLine {
                source_name: source_name.to_string(),
                line: i as u64 + 1,
                reason,
                text: line.chars().take(200).collect(),
            };
            let mut f = t.split_ascii_whitespace();
            let (Some(sect), Some(span)) = (f.next(), f.next()) else {
                return Err(bad("want `<section> <start>-<end> <module>...`"));
            };
            let (s, e) = span
                .split_once('-')
                .ok_or_else(|| bad("the range is not `<start>-<end>`"))?;
            let (start, end) = match (hex(s), hex(e)) {
                (Some(s), Some(e)) if s <= e => (s, e),
                _ => return Err(bad("the range is not two hex offsets, start <= end")),
            };
            let rest: Vec<&str> = f.collect();
            let k = *index.entry(sect.to_string()).or_insert_with(|| {
                out.sections.push(RangeSection {
                    name: sect.to_string(),
                    anchor: None,
                    ranges: Vec::new(),
                });
                out.sections.len() - 1
            });
            let section = &mut out.sections[k];
            match rest.as_slice() {
                ["=", anchor] => section.anchor = Some((anchor.to_string(), start)),
                [] => return Err(bad("no module name")),
                ["=", ..] => return Err(bad("an anchor line names one symbol")),
                mods => section.ranges.push(OffsetRange {
                    start,
                    end,
                    modules: mods.iter().map(|m| m.replace('-', "_")).collect(),
                }),
            }
        }
        Ok(out)
    }

    /// Reads a `modules.builtin.ranges` file.
    pub fn read(path: &Path) -> Result<BuiltinRanges> {
        let bytes = read_small(path, LIST_LIMIT)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }
}

/// A module built into the kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuiltinModule {
    /// The module name (`-` as `_`).
    pub name: String,
    /// Its path in `modules.builtin` (`kernel/fs/ext4/ext4.ko`).
    pub path: Option<String>,
    /// From `modules.builtin.modinfo`.
    pub description: Option<String>,
    pub license: Option<String>,
    /// Other `modinfo` keys (`author`, `alias`, `parm`, ...), in file order.
    pub info: Vec<(String, String)>,
}

/// Reads `modules.builtin` (one `kernel/dir/name.ko` a line) and, when
/// given, `modules.builtin.modinfo` (NUL-separated `module.key=value`),
/// sorted by name. With `modules.builtin`, the modules are the ones it
/// lists (the modinfo also holds parameters of core code that is no module,
/// like `printk.time`); without it, every name the modinfo gives.
pub fn read_builtin_modules(builtin: Option<&[u8]>, modinfo: Option<&[u8]>) -> Vec<BuiltinModule> {
    let mut by_name: FxHashMap<String, BuiltinModule> = FxHashMap::default();
    if let Some(text) = builtin {
        for line in String::from_utf8_lossy(text).lines() {
            let path = line.trim();
            if path.is_empty() || path.starts_with('#') {
                continue;
            }
            let name = super::elf::module_name_from_path(Path::new(path));
            let m = by_name.entry(name.clone()).or_default();
            m.name = name;
            m.path = Some(path.to_string());
        }
    }
    if let Some(bytes) = modinfo {
        for rec in bytes.split(|&b| b == 0) {
            let rec = String::from_utf8_lossy(rec);
            let Some((key, value)) = rec.split_once('=') else {
                continue;
            };
            let Some((module, key)) = key.split_once('.') else {
                continue;
            };
            let name = module.replace('-', "_");
            if builtin.is_some() && !by_name.contains_key(&name) {
                continue;
            }
            let m = by_name.entry(name.clone()).or_default();
            m.name = name;
            match key {
                "description" if m.description.is_none() => m.description = Some(value.into()),
                "license" if m.license.is_none() => m.license = Some(value.into()),
                _ => m.info.push((key.to_string(), value.to_string())),
            }
        }
    }
    let mut out: Vec<BuiltinModule> = by_name.into_values().collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Reads `modules.builtin` at `path` and `path.modinfo` beside it when present.
pub fn read_builtin_files(path: &Path) -> Result<Vec<BuiltinModule>> {
    let builtin = read_small(path, LIST_LIMIT)?;
    let mut modinfo_path = path.as_os_str().to_owned();
    modinfo_path.push(".modinfo");
    let modinfo = read_small(Path::new(&modinfo_path), LIST_LIMIT).ok();
    Ok(read_builtin_modules(Some(&builtin), modinfo.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_anchor() {
        let text = "\
.text 00000000-00000000 = _text
.text 00000100-00000200 ext4
.text 00000200-00000280 crc16 ext4
.data 00000010-00000010 = _sdata
.data 00000020-00000040 ext4
.rodata 00000000-00000010 orphan
";
        let r = BuiltinRanges::parse("t", text).unwrap();
        assert_eq!(r.sections.len(), 3);
        assert_eq!(r.sections[0].anchor, Some(("_text".into(), 0)));
        assert_eq!(r.sections[1].anchor, Some(("_sdata".into(), 0x10)));
        assert_eq!(r.sections[0].ranges[1].modules, ["crc16", "ext4"]);
        assert!(r.sections[2].anchor.is_none());
        for bad in [
            ".text 1-",
            ".text zz-1 m",
            ".text 2-1 m",
            ".text 1-2",
            ".text 1-2 = a b",
        ] {
            let e = BuiltinRanges::parse("t", bad).unwrap_err().to_string();
            assert!(e.contains("line 1"), "{bad}: {e}");
        }
    }

    #[test]
    fn modinfo_and_list() {
        let mods = read_builtin_modules(
            Some(b"kernel/fs/ext4/ext4.ko\nkernel/drivers/a/snd-x.ko\n"),
            Some(b"ext4.description=Fourth Extended Filesystem\0ext4.license=GPL\0ext4.alias=fs-ext4\0only_info.license=GPL\0"),
        );
        let names: Vec<&str> = mods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["ext4", "snd_x"]);
        assert_eq!(
            mods[0].description.as_deref(),
            Some("Fourth Extended Filesystem")
        );
        assert_eq!(mods[0].info, [("alias".to_string(), "fs-ext4".to_string())]);
        assert_eq!(mods[1].path.as_deref(), Some("kernel/drivers/a/snd-x.ko"));
        let only_info = read_builtin_modules(None, Some(b"only_info.license=GPL\0"));
        assert_eq!(only_info[0].name, "only_info");
    }
}
