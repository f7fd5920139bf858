//! Where loadable modules sit in memory: `/proc/modules` (base and total
//! size), the section addresses under `/sys/module/<m>/sections` (which
//! bound each module's text), and, best, each module's memory areas as the
//! module loader laid them out (text, data, rodata, ro_after_init; a
//! `module area start size` table). The table uses them to bound module
//! symbols, since kallsyms gives no sizes.

use std::path::Path;

use super::lists::check_list_head;
use crate::error::{Error, Result};
use crate::read::limit::ATTRIBUTE_LIMIT;
use crate::read::{read_file_within, read_small, source_name, Limit};

/// The page size the module loader aligns areas to, and the guard page
/// vmalloc leaves after each area.
const PAGE: u64 = 4096;

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
    /// The text area as `/sys/module/<m>/sections` bounds it: from the first
    /// text section to where the next section of any module begins (less the
    /// guard page, when areas are allocated apart). At least the real text
    /// area, never less.
    pub text_area: Option<ModuleArea>,
    /// Every section `/sys/module/<m>/sections` lists (kind: its name), in
    /// address order, each up to where the next section of any module
    /// begins (size 0 for the highest of all: nothing says where it ends).
    /// A module's last data symbol ends there, not a size cap later over
    /// freed init code or the next module; source lines map an address to
    /// its section through them.
    pub section_areas: Vec<ModuleArea>,
    /// The GNU build-id of the loaded `.ko`, in hex, from
    /// `/sys/module/<m>/notes/.note.gnu.build-id`: what matches the module
    /// to its debug info.
    pub build_id: Option<String>,
    /// `text_area` and `section_areas` were laid out from the module's
    /// `.ko` by the loader's rules (off-line), not read from the kernel:
    /// they bound symbols and name sections, but source lines still place
    /// the `.ko`'s sections by its symbols, which reports a symbol the
    /// table has elsewhere instead of giving it lines.
    pub laid_out_from_ko: bool,
}

impl ModuleInfo {
    /// The areas that bound this module's symbols: the exact areas when
    /// known, else `[base, base + size)` from `/proc/modules` and the text
    /// area from `/sys/module/<m>/sections` (the innermost holding a symbol
    /// bounds it).
    pub fn bounds(&self) -> Vec<(u64, u64)> {
        if !self.areas.is_empty() {
            return self.areas.iter().map(|a| (a.start, a.end())).collect();
        }
        let mut bounds = Vec::new();
        if let (Some(base), Some(size)) = (self.base, self.size) {
            if base != 0 && size != 0 {
                bounds.push((base, base.saturating_add(size)));
            }
        }
        // Init sections bound only while the module is loading: after
        // that they are freed, and `/sys/module` still lists them where
        // later modules' text may now be (6.1 arm64: loop's `.init.plt`
        // inside stp's `.text`).
        let init_live = self.state.as_deref() == Some("Loading");
        bounds.extend(
            self.text_area
                .iter()
                .chain(
                    self.section_areas
                        .iter()
                        .filter(|a| bounds_data(a) && (init_live || !in_init_area(&a.kind))),
                )
                .map(|a| (a.start, a.end())),
        );
        bounds
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

    pub(crate) fn entry(&mut self, name: &str) -> &mut ModuleInfo {
        if let Some(i) = self.modules.iter().position(|m| m.name == name) {
            return &mut self.modules[i];
        }
        self.modules.push(ModuleInfo {
            name: name.to_string(),
            base: None,
            size: None,
            state: None,
            areas: Vec::new(),
            text_area: None,
            section_areas: Vec::new(),
            build_id: None,
            laid_out_from_ko: false,
        });
        self.modules.last_mut().expect("just pushed")
    }

    /// Reads a `/proc/modules` or module layout file (or `-`), plain or
    /// compressed, held to `limit` (`Limit::text(max_input_bytes)`); a
    /// file whose first megabyte holds no line of either kind is refused
    /// then ([`check_modules_head`]).
    pub fn read(path: &Path, limit: Limit) -> Result<ModuleMap> {
        let name = source_name(path);
        let bytes = read_file_within(path, limit, &mut |head| check_modules_head(&name, head))?;
        let mut map = ModuleMap::default();
        map.add_text(&name, &bytes)?;
        Ok(map)
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
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let parsed = module_line(trimmed).map_err(|reason| Error::BadModuleLine {
                source_name: source_name.to_string(),
                line: i as u64 + 1,
                reason,
                text: line.chars().take(200).collect(),
            })?;
            match parsed {
                ModuleLine::Area(module, area) => self.entry(module).areas.push(area),
                ModuleLine::Loaded {
                    module,
                    size,
                    base,
                    state,
                } => {
                    let m = self.entry(module);
                    m.size = Some(size);
                    m.base = Some(base);
                    m.state = Some(state.to_string());
                }
            }
        }
        Ok(())
    }

    /// Reads the section addresses under `root` (`/sys/module`:
    /// `<root>/<module>/sections/<section>`, one hex address a file; zeros
    /// unless read as root) and sets each module's
    /// [`text_area`](ModuleInfo::text_area): from its first text section up to the
    /// lowest start of any other section, of any module, above its last text
    /// section. `separate_areas`: the kernel (6.4 and later) allocates each
    /// area apart, with a guard page after it, so the text ends a page
    /// before the module's own next area; before 6.4 text, rodata and data
    /// were one block and the text ended where the rodata began.
    ///
    /// Modules whose sections cannot be read are left as they were; a
    /// missing `root` is not an error (a kernel without modules).
    pub fn add_sysfs_sections(&mut self, root: &Path, separate_areas: bool) -> Result<()> {
        let io = |source| Error::Io {
            path: root.to_path_buf(),
            source,
        };
        let dirs = match std::fs::read_dir(root) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        // (module, section, address) of every readable, non-zero section.
        let mut sections: Vec<(String, String, u64)> = Vec::new();
        for dir in dirs.flatten() {
            let module = dir.file_name().to_string_lossy().into_owned();
            let Ok(files) = std::fs::read_dir(dir.path().join("sections")) else {
                continue; // a built-in module: no sections
            };
            // A binary attribute holding the ELF note; root only.
            let note = dir.path().join("notes/.note.gnu.build-id");
            if let Some(id) = crate::parse::notes::build_id_of_file(&note) {
                self.entry(&module).build_id = Some(id);
            }
            for file in files.flatten() {
                // An address: a sysfs attribute of one line.
                let Ok(text) = read_small(&file.path(), ATTRIBUTE_LIMIT) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&text);
                if let Some(addr) = parse_hex(text.trim()).filter(|&a| a != 0) {
                    let name = file.file_name().to_string_lossy().into_owned();
                    sections.push((module.clone(), name, addr));
                }
            }
        }
        self.set_text_areas(&sections, separate_areas);
        Ok(())
    }

    /// [`add_sysfs_sections`](Self::add_sysfs_sections) given the sections
    /// as `(module, section, address)`.
    pub(crate) fn set_text_areas(
        &mut self,
        sections: &[(String, String, u64)],
        separate_areas: bool,
    ) {
        let mut names: Vec<&str> = sections.iter().map(|s| s.0.as_str()).collect();
        sort_unique(&mut names);
        for module in names {
            let text: Vec<u64> = sections
                .iter()
                .filter(|s| s.0 == module && is_text_section(&s.1))
                .map(|s| s.2)
                .collect();
            let (Some(&first), Some(&last)) = (text.iter().min(), text.iter().max()) else {
                continue;
            };
            // The next section above the last text section that is not one
            // of this module's text sections (another module's init
            // sections aside: see `bounds_for`).
            let next = sections
                .iter()
                .filter(|s| bounds_for(s, module) && s.2 > last && !text.contains(&s.2))
                .min_by_key(|s| s.2);
            // The guard page is certain only before the module's own next
            // area (allocated after its text). Another module's text may
            // follow with none: since 6.14 x86 packs module text into shared
            // pages.
            let guard = match next {
                Some(n) if separate_areas && n.0 == module => PAGE,
                _ => 0,
            };
            let Some(end) = next
                .and_then(|n| n.2.checked_sub(guard))
                .filter(|&e| e > last)
            else {
                continue;
            };
            self.entry(module).text_area = Some(ModuleArea {
                kind: "text".to_string(),
                start: first,
                size: end - first,
            });
        }
        self.set_section_areas(sections);
    }

    /// Bounds every section by the next higher section start of any module
    /// (sections never overlap), another module's init sections aside. One
    /// sorted list of the starts every module shares and one of each
    /// module's own: a search each, not a scan of every section.
    fn set_section_areas(&mut self, sections: &[(String, String, u64)]) {
        for m in &mut self.modules {
            m.section_areas.clear();
        }
        let above =
            |starts: &[u64], a: u64| starts.get(starts.partition_point(|&x| x <= a)).copied();
        let mut shared: Vec<u64> = sections
            .iter()
            .filter(|s| !in_init_area(&s.1))
            .map(|s| s.2)
            .collect();
        sort_unique(&mut shared);
        let mut names: Vec<&str> = sections.iter().map(|s| s.0.as_str()).collect();
        sort_unique(&mut names);
        for module in names {
            let mine = || sections.iter().filter(move |s| s.0 == module);
            let mut own: Vec<u64> = mine().map(|s| s.2).collect();
            sort_unique(&mut own);
            let mut areas: Vec<ModuleArea> = mine()
                .map(|(_, name, start)| {
                    let end = [above(&shared, *start), above(&own, *start)]
                        .into_iter()
                        .flatten()
                        .min()
                        .unwrap_or(*start);
                    ModuleArea {
                        kind: name.clone(),
                        start: *start,
                        size: end - start,
                    }
                })
                .collect();
            areas.sort_by_key(|a| a.start);
            self.entry(module).section_areas = areas;
        }
    }

    /// The running kernel's page size, as far as `/proc/modules` tells:
    /// every module's base and total size are whole pages (the loader
    /// page-aligns each area), so the largest of 64, 16 and 4 KiB that
    /// divides them all, given at least three modules to go on (arm64
    /// kernels run with any of the three); 4 KiB otherwise.
    pub fn page_size(&self) -> u64 {
        let known: Vec<u64> = self
            .modules
            .iter()
            .filter_map(|m| Some([m.base.filter(|&b| b != 0)?, m.size.filter(|&s| s != 0)?]))
            .flatten()
            .collect();
        if known.len() < 6 {
            return PAGE;
        }
        [0x1_0000, 0x4000]
            .into_iter()
            .find(|&page| known.iter().all(|&x| x % page == 0))
            .unwrap_or(PAGE)
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

/// Whether a module section holds code (the loader puts it in the text
/// area): `.text`, `.text.*`, `*.text` (`.noinstr.text`, `.exit.text`, ...)
/// but not init code (freed after init), and the few code sections named
/// otherwise.
fn is_text_section(name: &str) -> bool {
    if name.starts_with(".init") {
        return false;
    }
    name == ".text"
        || name.starts_with(".text.")
        || name.ends_with(".text")
        || matches!(name, ".altinstr_replacement" | ".fixup" | ".plt")
}

/// Whether `section` may end a section of `module`: any of its own, and
/// another module's unless it was in the init area (init code and data,
/// and the loader's full `.symtab`/`.strtab`). `/sys/module` keeps showing
/// those addresses after the kernel freed them, and the next module loaded
/// may sit there (seen on 6.1 in QEMU: libcrc32c's stale `.init.data`,
/// `.symtab` and `.strtab` inside xfs's `.text`); a module's own init
/// sections were allocated beside its other areas and never overlap them.
fn bounds_for(section: &(String, String, u64), module: &str) -> bool {
    section.0 == module || !in_init_area(&section.1)
}

/// Whether the loader put a section in the module's init area, freed after
/// init: init code and data, and its full `.symtab`/`.strtab`.
fn in_init_area(name: &str) -> bool {
    name.starts_with(".init") || matches!(name, ".symtab" | ".strtab")
}

/// Sorts `v` and drops repeats.
fn sort_unique<T: Ord>(v: &mut Vec<T>) {
    v.sort_unstable();
    v.dedup();
}

/// Whether a section area bounds the symbols in it: data, not code. The
/// kernel names module code up to the end of its text area (or init text
/// area), across section boundaries, so the text area bounds code.
fn bounds_data(area: &ModuleArea) -> bool {
    area.size > 0 && !is_text_section(&area.kind) && area.kind != ".init.text"
}

/// Whether a kernel release (`uname -r`) allocates each module area apart
/// (6.4 and later).
pub fn separate_module_areas(release: &str) -> bool {
    let mut parts = release.split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 4)
}

/// One line of `/proc/modules` or of a module layout table.
enum ModuleLine<'a> {
    /// `module area start size`.
    Area(&'a str, ModuleArea),
    /// `name size refcount deps state address [taints]`.
    Loaded {
        module: &'a str,
        size: u64,
        base: u64,
        state: &'a str,
    },
}

/// A trimmed, non-blank line, told by its shape.
fn module_line(line: &str) -> std::result::Result<ModuleLine<'_>, &'static str> {
    let fields: Vec<&str> = line.split_ascii_whitespace().take(7).collect();
    if fields.len() == 4 && fields[2].starts_with("0x") && fields[3].starts_with("0x") {
        let start = parse_hex(fields[2]).ok_or("bad area start")?;
        let size = parse_hex(fields[3]).ok_or("bad area size")?;
        let kind = fields[1].to_string();
        Ok(ModuleLine::Area(
            fields[0],
            ModuleArea { kind, start, size },
        ))
    } else if fields.len() >= 6 {
        Ok(ModuleLine::Loaded {
            module: fields[0],
            size: fields[1].parse().map_err(|_| "bad module size")?,
            base: parse_hex(fields[5]).ok_or("bad module address")?,
            state: fields[4],
        })
    } else {
        Err("neither a /proc/modules line nor a `module area start size` line")
    }
}

/// Refuses `/proc/modules` or layout text whose first megabyte holds no
/// line of either kind, before the rest is read (shorter text is left to
/// [`ModuleMap::add_text`]).
pub fn check_modules_head(source_name: &str, head: &[u8]) -> Result<()> {
    check_list_head(source_name, head, MODULES_KIND, |line| {
        module_line(line).map(|_| ())
    })
}

/// What a line of a modules list is, in errors.
const MODULES_KIND: &str = "/proc/modules or module layout";

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

    /// A guard page comes off only before the module's own next area:
    /// another module's text may follow at once (6.14+ packs module text).
    #[test]
    fn text_areas_from_sections() {
        const X: u64 = 0xffff_ffff_c000_0000;
        let sec = |m: &str, name: &str, addr: u64| (m.to_string(), name.to_string(), addr);
        let mut m = ModuleMap::default();
        m.set_text_areas(
            &[
                sec("a", ".text", X),
                sec("a", ".text.unlikely", X + 0x800),
                sec("a", ".init.text", X + 0x9000),
                sec("b", ".text", X + 0x2000),
                sec("b", ".rodata", X + 0x6000),
                sec("c", ".rodata", X + 0x8000),
            ],
            true,
        );
        let end = |name: &str| {
            m.get(name)
                .and_then(|i| i.text_area.as_ref())
                .map(|a| (a.start, a.end()))
        };
        assert_eq!(
            end("a"),
            Some((X, X + 0x2000)),
            "b's text follows a's at once"
        );
        assert_eq!(
            end("b"),
            Some((X + 0x2000, X + 0x5000)),
            "b's own rodata, a guard page before"
        );
        assert_eq!(end("c"), None, "no text");
    }

    /// Found on Debian's 6.12 kernel in QEMU: `dummy`'s last data symbol,
    /// `orc_header` in `.orc_header`, reached 64 KiB over the module's
    /// freed `.init.text`. Every section now ends where the next begins.
    #[test]
    fn section_areas_end_at_the_next_section() {
        const X: u64 = 0xffff_ffff_c000_0000;
        let sec = |m: &str, name: &str, addr: u64| (m.to_string(), name.to_string(), addr);
        let mut m = ModuleMap::default();
        m.set_text_areas(
            &[
                sec("dummy", ".text", X),
                sec("dummy", ".orc_header", X + 0x3000),
                sec("dummy", ".rodata", X + 0x3000),
                sec("dummy", ".init.text", X + 0x5000),
                sec("other", ".data", X + 0x9000),
            ],
            true,
        );
        let areas = |name: &str| {
            m.get(name)
                .into_iter()
                .flat_map(|i| &i.section_areas)
                .map(|a| (a.kind.as_str(), a.start, a.end()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            areas("dummy"),
            vec![
                (".text", X, X + 0x3000),
                (".orc_header", X + 0x3000, X + 0x5000),
                (".rodata", X + 0x3000, X + 0x5000),
                (".init.text", X + 0x5000, X + 0x9000),
            ],
            "sections sharing a start end together"
        );
        assert_eq!(
            areas("other"),
            vec![(".data", X + 0x9000, X + 0x9000)],
            "the highest section has no end"
        );
        let bounds = m.get("dummy").unwrap().bounds();
        assert!(bounds.contains(&(X + 0x3000, X + 0x5000)), "{bounds:x?}");
        // Code is named across its sections up to the text area's end, as
        // the kernel names it.
        assert!(!bounds.contains(&(X, X + 0x3000)), "{bounds:x?}");
        assert!(!bounds.contains(&(X + 0x5000, X + 0x9000)), "{bounds:x?}");
    }

    /// `/sys/module/<m>/notes/.note.gnu.build-id` gives the module's
    /// build-id; a module without one (or unreadable) has none.
    #[test]
    fn build_ids_from_sysfs_notes() {
        let root = std::env::temp_dir().join(format!("ksym-sysmod-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for m in ["a", "b"] {
            std::fs::create_dir_all(root.join(m).join("sections")).unwrap();
            std::fs::write(root.join(m).join("sections/.text"), "0xffffffffc0000000\n").unwrap();
        }
        let mut note = Vec::new();
        for word in [4u32, 4, 3] {
            note.extend_from_slice(&word.to_ne_bytes());
        }
        note.extend_from_slice(b"GNU\0\xde\xad\xbe\xef");
        std::fs::create_dir_all(root.join("a/notes")).unwrap();
        std::fs::write(root.join("a/notes/.note.gnu.build-id"), &note).unwrap();
        let mut m = ModuleMap::default();
        m.add_sysfs_sections(&root, true).unwrap();
        assert_eq!(m.get("a").unwrap().build_id.as_deref(), Some("deadbeef"));
        assert_eq!(m.get("b").unwrap().build_id, None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Another module's freed init sections may lie inside this module's
    /// areas (the loader reused the memory): they end nothing of it.
    #[test]
    fn stale_init_sections_of_other_modules_bound_nothing() {
        const X: u64 = 0xffff_ffff_c03c_0000;
        let sec = |m: &str, name: &str, addr: u64| (m.to_string(), name.to_string(), addr);
        let mut m = ModuleMap::default();
        m.set_text_areas(
            &[
                sec("libcrc32c", ".init.text", X),
                sec("libcrc32c", ".init.data", X + 0x1000),
                sec("libcrc32c", ".symtab", X + 0x2000),
                sec("libcrc32c", ".strtab", X + 0x23f0),
                sec("xfs", ".text", X),
                sec("xfs", ".rodata", X + 0x90000),
                sec("xfs", ".init.text", X + 0x1f0000),
            ],
            false,
        );
        let xfs = m.get("xfs").unwrap();
        let text = xfs.text_area.as_ref().unwrap();
        assert_eq!((text.start, text.end()), (X, X + 0x90000));
        let rodata = xfs
            .section_areas
            .iter()
            .find(|a| a.kind == ".rodata")
            .unwrap();
        assert_eq!(rodata.end(), X + 0x1f0000, "its own init text ends it");
        let crc = m.get("libcrc32c").unwrap();
        assert_eq!(crc.section_areas.len(), 4);
    }

    #[test]
    fn releases_and_text_sections() {
        for (release, apart) in [
            ("6.4.0", true),
            ("6.12.117+deb12-amd64", true),
            ("6.18.44-fc-v669", true),
            ("7.0.1", true),
            ("6.3.13", false),
            ("6.1.0-56-amd64", false),
            ("5.15.0-91-generic", false),
            ("garbage", false),
        ] {
            assert_eq!(separate_module_areas(release), apart, "{release}");
        }
        for name in [
            ".text",
            ".text.unlikely",
            ".noinstr.text",
            ".exit.text",
            ".altinstr_replacement",
        ] {
            assert!(is_text_section(name), "{name}");
        }
        for name in [
            ".init.text",
            ".rodata",
            ".data",
            "__ksymtab",
            ".bss",
            ".data..ro_after_init",
        ] {
            assert!(!is_text_section(name), "{name}");
        }
    }

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

    #[test]
    fn page_size_from_the_modules_bases_and_sizes() {
        let map = |lines: &[(u64, u64)]| {
            let mut m = ModuleMap::default();
            let text: String = lines
                .iter()
                .enumerate()
                .map(|(i, (size, base))| format!("m{i} {size} 0 - Live {base:#x}\n"))
                .collect();
            m.add_text("t", text.as_bytes()).unwrap();
            m
        };
        let base = 0xffff_8000_0100_0000u64;
        // 64 KiB pages: every base and size a multiple.
        let big = [
            (0x20000, base),
            (0x10000, base + 0x40000),
            (0x30000, base + 0x90000),
        ];
        assert_eq!(map(&big).page_size(), 0x1_0000);
        let sixteen = [
            (0x8000, base),
            (0x4000, base + 0x14000),
            (0xc000, base + 0x28000),
        ];
        assert_eq!(map(&sixteen).page_size(), 0x4000);
        // One size of 6 pages of 4 KiB (6.1 arm64's vfat: 24576) says 4 KiB.
        let four = [
            (0x20000, base),
            (24576, base + 0x40000),
            (0x30000, base + 0x90000),
        ];
        assert_eq!(map(&four).page_size(), 0x1000);
        // Too few modules to tell: 4 KiB.
        assert_eq!(map(&big[..2]).page_size(), 0x1000);
    }

    #[test]
    fn lists_without_a_module_line_in_their_first_megabyte_are_refused() {
        use crate::read::limit::HEAD_BYTES;
        let e = check_modules_head("z", &vec![0; HEAD_BYTES]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "z: no /proc/modules or module layout line in its first 1 MiB (line 1 has no end \
             in it); refused without reading the rest"
        );
        let e = check_modules_head("y", &b"y\n".repeat(HEAD_BYTES / 2)).unwrap_err();
        assert!(
            e.to_string()
                .contains("(line 1: neither a /proc/modules line"),
            "{e}"
        );
        // Either kind of line, after any number of comments, passes.
        for line in [
            "xfs 2596864 0 - Live 0xffffffffc0efd000\n",
            "xfs\ttext\t0xffffffffc0efd000\t0xea000\n",
        ] {
            let mut head = b"# module layout\n".repeat(HEAD_BYTES / 32);
            head.extend_from_slice(line.as_bytes());
            head.resize(HEAD_BYTES, b'#');
            check_modules_head("ok", &head).unwrap();
        }
        // Read from a file: refused at the first megabyte of 64.
        let dir = std::env::temp_dir().join(format!("ksym-modules-head-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zeros = dir.join("zeros");
        std::fs::File::create(&zeros)
            .and_then(|f| f.set_len(64 << 20))
            .unwrap();
        let e = ModuleMap::read(&zeros, Limit::text(None)).unwrap_err();
        assert!(matches!(e, Error::NoListLineAhead { looked_at, .. } if looked_at == 1 << 20));
        std::fs::write(dir.join("modules.dep"), b"junk\n".repeat(HEAD_BYTES)).unwrap();
        let e = crate::parse::elf::modules_dep_paths(&dir, ["xfs"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("no modules.dep line in its first 1 MiB (line 1: not a"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
