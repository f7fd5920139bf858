//! What the tests over `../shared/data` share: finding the data, reading
//! its xz files, and kallsyms lines parsed by the test, not the library.

#![allow(dead_code)] // each test file uses its own part

use std::io::Read;
use std::path::{Path, PathBuf};

/// The shared real-kernel data (see `ksym-testdata`).
pub fn data_dir() -> PathBuf {
    ksym_testdata::data_dir()
}

pub fn xz_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = String::new();
    xz2::read::XzDecoder::new_multi_decoder(&bytes[..])
        .read_to_string(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

/// One line of kallsyms text, parsed by the test (not the library).
#[derive(Debug, Clone)]
pub struct Line {
    pub addr: u64,
    pub kind: char,
    pub name: String,
    pub module: Option<String>,
}

pub fn parse_kallsyms(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (head, module) = match l.split_once('\t') {
                Some((h, m)) => (
                    h,
                    Some(
                        m.trim()
                            .strip_prefix('[')
                            .and_then(|m| m.strip_suffix(']'))
                            .unwrap_or_else(|| panic!("module tag in {l:?}"))
                            .to_string(),
                    ),
                ),
                None => (l, None),
            };
            let mut f = head.split(' ');
            let addr = u64::from_str_radix(f.next().unwrap(), 16).unwrap();
            let kind = f.next().unwrap().chars().next().unwrap();
            let name = f.next().unwrap().to_string();
            assert!(f.next().is_none(), "extra field in {l:?}");
            Line {
                addr,
                kind,
                name,
                module,
            }
        })
        .collect()
}

/// Whether a line's kind and name let it answer an address at all.
pub fn may_answer(l: &Line) -> bool {
    !(matches!(l.kind, 'A' | 'a' | 'U' | 'u' | 'N' | 'n') || is_mapping_symbol(&l.name))
}

/// The kernel's mapping symbols (`.L*`, `L0*`, `$x`...): they answer no
/// address and no name lookup.
pub fn is_mapping_symbol(name: &str) -> bool {
    name.starts_with(".L") || name.starts_with("L0") || name.starts_with('$')
}

/// The core addresses the kernel names (`is_ksym_addr`): `[_stext, _end)`
/// with `CONFIG_KALLSYMS_ALL` (the lines reach `_end`), else `[_stext,
/// _etext)` and `[_sinittext, _einittext)`.
pub fn named_ranges(lines: &[Line]) -> Vec<(u64, u64)> {
    let marker = |name: &str| {
        lines
            .iter()
            .filter(|l| l.module.is_none() && l.name == name)
            .map(|l| l.addr)
            .min()
    };
    let stext = marker("_stext").expect("every kernel has _stext");
    match marker("_end") {
        Some(end) => vec![(stext, end)],
        None => vec![
            (stext, marker("_etext").unwrap()),
            (marker("_sinittext").unwrap(), marker("_einittext").unwrap()),
        ],
    }
}

/// Debian's 6.1 cloud vmlinux with DWARF, which
/// `../shared/scripts/fetch-debug-vmlinux.sh` fetches; `None`, saying so,
/// when it is absent.
pub fn debug_vmlinux() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = PathBuf::from(home).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "SKIP: {} is absent (../shared/scripts/fetch-debug-vmlinux.sh fetches it)",
            path.display()
        );
        None
    }
}

/// The modules of a captured boot (`set`: a folder of ../shared/data) as a
/// live kernel shows them: its `proc-modules`, and every
/// `/sys/module/<m>/sections/<s>` of its `sysfs-sections.tsv`, read from
/// a temporary `/sys/module` tree written from it.
pub fn sysfs_module_map(set: &Path) -> ksym::ModuleMap {
    let name = set.file_name().unwrap().to_string_lossy();
    let root = std::env::temp_dir().join(format!("ksym-sysfs-{}-{name}", std::process::id()));
    let tsv = std::fs::read_to_string(set.join("sysfs-sections.tsv")).unwrap();
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let sections = root.join(f[0]).join("sections");
        std::fs::create_dir_all(&sections).unwrap();
        std::fs::write(sections.join(f[1]), format!("{}\n", f[2])).unwrap();
    }
    let mut map = ksym::ModuleMap::default();
    let modules = std::fs::read(set.join("proc-modules")).unwrap();
    map.add_text("proc-modules", &modules).unwrap();
    let release = std::fs::read_to_string(set.join("release")).unwrap();
    map.add_sysfs_sections(&root, ksym::parse::separate_module_areas(release.trim()))
        .unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    map
}
