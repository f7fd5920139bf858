//! Where loadable modules sit in memory: `/proc/modules` (base and total
//! size) and, better, each module's memory areas (what
//! `/sys/module/<m>/sections` and the module loader know: text, data,
//! rodata, ro_after_init). The table uses them to bound module symbols, since
//! kallsyms gives no sizes.

use crate::error::{Error, Result};

/// One memory area of a module: `[start, start + size)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleArea {
    /// `text`, `data`, `rodata`, `ro_after_init`, `init_text`, ... or `all`
    /// for the whole extent given by `/proc/modules`.
    pub kind: String,
    pub start: u64,
    pub size: u64,
}

impl ModuleArea {
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size)
    }
}

/// What is known of one loaded module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    pub name: String,
    /// From `/proc/modules`: base address (the text area since 6.4) and the
    /// sum of the sizes of all areas.
    pub base: Option<u64>,
    pub size: Option<u64>,
    /// `Live`, `Loading` or `Unloading`.
    pub state: Option<String>,
    /// Exact areas, when a layout was given.
    pub areas: Vec<ModuleArea>,
}

impl ModuleInfo {
    /// The areas that bound this module's symbols: the exact areas when
    /// known, else `[base, base + size)` from `/proc/modules`.
    pub fn bounds(&self) -> Vec<(u64, u64)> {
        if !self.areas.is_empty() {
            return self.areas.iter().map(|a| (a.start, a.end())).collect();
        }
        match (self.base, self.size) {
            (Some(base), Some(size)) if base != 0 && size != 0 => {
                vec![(base, base.saturating_add(size))]
            }
            _ => Vec::new(),
        }
    }
}

/// The modules known to a table, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleMap {
    pub modules: Vec<ModuleInfo>,
}

impl ModuleMap {
    pub fn get(&self, name: &str) -> Option<&ModuleInfo> {
        self.modules.iter().find(|m| m.name == name)
    }

    fn entry(&mut self, name: &str) -> &mut ModuleInfo {
        if let Some(i) = self.modules.iter().position(|m| m.name == name) {
            return &mut self.modules[i];
        }
        self.modules.push(ModuleInfo {
            name: name.to_string(),
            base: None,
            size: None,
            state: None,
            areas: Vec::new(),
        });
        self.modules.last_mut().expect("just pushed")
    }

    /// Reads either `/proc/modules` text or a module layout table (lines of
    /// `module area start size`, as in `module-layout.tsv`), detected by shape,
    /// and adds what it says to this map.
    pub fn add_text(&mut self, source_name: &str, text: &[u8]) -> Result<()> {
        let text = std::str::from_utf8(text).map_err(|e| Error::BadModuleLine {
            source_name: source_name.to_string(),
            line: 1 + text[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64,
            reason: "not UTF-8",
            text: String::new(),
        })?;
        for (i, line) in text.lines().enumerate() {
            let line_no = i as u64 + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let bad = |reason: &'static str| Error::BadModuleLine {
                source_name: source_name.to_string(),
                line: line_no,
                reason,
                text: line.chars().take(200).collect(),
            };
            let fields: Vec<&str> = trimmed.split_ascii_whitespace().collect();
            if fields.len() == 4 && fields[2].starts_with("0x") && fields[3].starts_with("0x") {
                // Layout: module area start size.
                let start = parse_hex(fields[2]).ok_or_else(|| bad("bad area start"))?;
                let size = parse_hex(fields[3]).ok_or_else(|| bad("bad area size"))?;
                self.entry(fields[0]).areas.push(ModuleArea {
                    kind: fields[1].to_string(),
                    start,
                    size,
                });
            } else if fields.len() >= 6 {
                // /proc/modules: name size refcount deps state address [taints]
                let size: u64 = fields[1].parse().map_err(|_| bad("bad module size"))?;
                let base = parse_hex(fields[5]).ok_or_else(|| bad("bad module address"))?;
                let m = self.entry(fields[0]);
                m.size = Some(size);
                m.base = Some(base);
                m.state = Some(fields[4].to_string());
            } else {
                return Err(bad(
                    "neither a /proc/modules line nor a `module area start size` line",
                ));
            }
        }
        Ok(())
    }

    /// Whether every base address is zero (what an unprivileged reader of
    /// `/proc/modules` sees).
    pub fn is_redacted(&self) -> bool {
        !self.modules.is_empty()
            && self
                .modules
                .iter()
                .all(|m| m.base.unwrap_or(0) == 0 && m.areas.iter().all(|a| a.start == 0))
    }
}

fn parse_hex(s: &str) -> Option<u64> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_modules_and_layout() {
        let mut m = ModuleMap::default();
        m.add_text(
            "t",
            b"xfs 2596864 0 - Live 0xffffffffc0efd000\nstp 12288 1 bridge, Live 0xffffffffc0e50000 (E)\n",
        )
        .unwrap();
        m.add_text(
            "t",
            b"#module\tregion\tstart\tsize\nxfs\ttext\t0xffffffffc0efd000\t0xea000\n",
        )
        .unwrap();
        let xfs = m.get("xfs").unwrap();
        assert_eq!(xfs.base, Some(0xffffffffc0efd000));
        assert_eq!(xfs.size, Some(2596864));
        assert_eq!(xfs.bounds(), vec![(0xffffffffc0efd000, 0xffffffffc0fe7000)]);
        assert_eq!(
            m.get("stp").unwrap().bounds(),
            vec![(0xffffffffc0e50000, 0xffffffffc0e53000)]
        );
        let err = m.add_text("t", b"what is this\n").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
