//! What the store's tests share: snapshots of boots of the real Debian 6.12
//! kernel (the shared data, moved to other KASLR slides and module
//! addresses, with other module sets, as other hosts would have it), and a
//! check that two snapshots give the same answers.

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ksym::dump::{write, DumpFormat};
use ksym::snapshot::{from_bytes, to_bytes, Identity, OpenOptions};
use ksym::{LoadOptions, ModuleMap, SymbolTable};

/// The shared real-kernel data (see `ksym-testdata`).
pub fn data_dir() -> PathBuf {
    ksym_testdata::data_dir()
}

/// The slide of the shared 6.12 data.
const SLIDE: u64 = 0x1a00_0000;
pub const BUILD_ID: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f001122334";

/// The 6.12 data as kallsyms text and its module layout lines.
fn k612() -> &'static (String, Vec<String>) {
    static K: OnceLock<(String, Vec<String>)> = OnceLock::new();
    K.get_or_init(|| {
        let base = data_dir().join("debian-6.12.117");
        let table = ksym::load_file(&base.join("kallsyms.xz"), &LoadOptions::default()).unwrap();
        let mut text = Vec::new();
        write(&table, DumpFormat::Kallsyms, &mut text).unwrap();
        let layout = std::fs::read_to_string(base.join("module-layout.tsv")).unwrap();
        let layout = layout
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_string)
            .collect();
        (String::from_utf8(text).unwrap(), layout)
    })
}

/// Whether boot `i` has module `name` loaded: the first 40 (by name hash)
/// always, the rest on some boots.
fn loaded(i: u64, name: &str) -> bool {
    let h = name
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    !h.is_multiple_of(3) || (h / 3 + i).is_multiple_of(4)
}

pub fn boot_id(i: u64) -> String {
    format!("0b9f1c1e-3c1a-4b6e-9d7e-{i:012x}")
}

/// The snapshot of boot `i`: slid by `i` 2 MiB steps more than the data,
/// its modules `i` 256 KiB higher, some modules absent.
pub fn boot(i: u64) -> Vec<u8> {
    let (text, layout) = k612();
    let slide = SLIDE + i * 0x20_0000;
    let shift = i * 0x4_0000;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let addr = u64::from_str_radix(&line[..16], 16).unwrap();
        let kind = &line[17..18];
        let module = line
            .split_once('\t')
            .map(|(_, m)| m.trim_matches(['[', ']']));
        let moved = match module {
            None if kind == "A" || kind == "a" => addr,
            None => addr - SLIDE + slide,
            Some(m) if m == "bpf" || m.starts_with("__builtin__") => addr,
            Some(m) if loaded(i, m) => addr + shift,
            Some(_) => continue,
        };
        out.push_str(&format!("{moved:016x}{}\n", &line[16..]));
    }
    let mut map_text = String::new();
    for l in layout {
        let f: Vec<&str> = l.split('\t').collect();
        if loaded(i, f[0]) {
            let start = u64::from_str_radix(f[2].trim_start_matches("0x"), 16).unwrap() + shift;
            map_text.push_str(&format!("{}\t{}\t{start:#x}\t{}\n", f[0], f[1], f[3]));
        }
    }
    let mut map = ModuleMap::default();
    map.add_text("layout", map_text.as_bytes()).unwrap();
    let opts = LoadOptions {
        modules: Some(map),
        ..LoadOptions::default()
    };
    let table = ksym::parse_bytes("/proc/kallsyms", out.as_bytes(), &opts).unwrap();
    let identity = Identity {
        release: Some("6.12.117+deb12-amd64".into()),
        build_id: Some(BUILD_ID.into()),
        boot_id: Some(boot_id(i)),
        kaslr_slide: Some(slide as i64),
        created: Some(1_764_547_200 + i),
        ..Identity::default()
    };
    to_bytes(&table, &identity)
}

pub fn open(bytes: &[u8]) -> (SymbolTable, Identity) {
    from_bytes("test", bytes, OpenOptions { verify: true }).unwrap()
}

/// `got` answers as `want` does: same identity, every symbol the same by
/// id and by name, and looked up at its start and inside it.
pub fn assert_same_snapshot(want: &[u8], got: &[u8]) {
    let ((a, ida), (b, idb)) = (open(want), open(got));
    assert_eq!(ida, idb, "identity");
    assert_eq!(a.len(), b.len(), "symbol count");
    assert_eq!(a.module_map(), b.module_map(), "module map");
    for (x, y) in a.iter().zip(b.iter()) {
        assert_eq!(x, y);
        assert_eq!(
            a.modules_of(x.id).collect::<Vec<_>>(),
            b.modules_of(y.id).collect::<Vec<_>>()
        );
        for addr in [x.start, x.start + x.size / 2, x.start + x.size] {
            assert_eq!(a.lookup(addr), b.lookup(addr), "{addr:#x}");
        }
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
            out.push(p);
        } else {
            out.push(p);
        }
    }
    out
}

/// The loadable modules (not `[bpf]` or `[__builtin__*]` pages) that have
/// symbols in `table`: each is one module part.
pub fn modules_with_symbols(table: &SymbolTable) -> Vec<String> {
    let mut names: Vec<String> = table
        .iter()
        .filter(|s| table.in_loadable_module(s.id))
        .filter_map(|s| s.module)
        .filter(|m| *m != "bpf" && !m.starts_with("__builtin__"))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every module of the 6.12 data that has symbols: what any boot may load.
pub fn k612_modules_with_symbols() -> Vec<String> {
    let base = data_dir().join("debian-6.12.117");
    let table = ksym::load_file(&base.join("kallsyms.xz"), &LoadOptions::default()).unwrap();
    modules_with_symbols(&table)
}
