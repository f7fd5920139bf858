//! A `.ko`'s code laid out as the module loader does (`ElfSymbols::
//! module_text`), against what real kernels showed for the same `.ko`
//! files: every code section at the address `/sys/module/M/sections`
//! gave (arm64 6.1 and 6.12, `.plt` and the ftrace trampoline included)
//! and the text area's end, and on x86_64 the text area's size in the
//! loader's own layout (module-layout.tsv).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::data_dir;

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap()
}

/// `/proc/modules`' base of each module.
fn bases(set: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(set.join("proc-modules"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), hex(f[5]))
        })
        .collect()
}

fn kos(dir: &Path) -> Vec<ksym::elf::ElfSymbols> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| ksym::elf::read_elf(p).unwrap())
        .collect()
}

fn page_up(x: u64) -> u64 {
    (x + 0xfff) & !0xfff
}

/// Whether the kernel put section `name` in the module's text area.
fn in_text_area(name: &str) -> bool {
    !name.starts_with(".init")
        && (name.starts_with(".text") || name.ends_with(".text") || name == ".plt")
}

#[test]
fn arm64_code_sections_lie_where_sysfs_showed_them() {
    for kernel in ["debian-6.1.0-57-cloud-arm64", "debian-6.12.118-cloud-arm64"] {
        let set = data_dir().join(kernel);
        let bases = bases(&set);
        let mut sysfs: BTreeMap<(String, String), u64> = BTreeMap::new();
        for line in std::fs::read_to_string(set.join("sysfs-sections.tsv"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
        {
            let f: Vec<&str> = line.split('\t').collect();
            sysfs.insert((f[0].to_string(), f[1].to_string()), hex(f[2]));
        }
        let areas = std::fs::read_to_string(set.join("module-text-areas.tsv")).unwrap();
        let mut checked = 0;
        for ko in kos(&set.join("ko")) {
            let module = ko.module_name.clone().unwrap();
            let text = ko.module_text.clone().unwrap().unwrap();
            let base = bases[&module];
            let laid: Vec<(String, u64)> = text
                .sections
                .iter()
                .map(|s| (s.name.clone(), base + s.offset))
                .collect();
            let mut shown: Vec<(String, u64)> = sysfs
                .iter()
                .filter(|((m, name), _)| *m == module && in_text_area(name))
                .map(|((_, name), &at)| (name.clone(), at))
                .collect();
            shown.sort_by_key(|&(_, at)| at);
            let mut sorted = laid.clone();
            sorted.sort_by_key(|&(_, at)| at);
            assert_eq!(sorted, shown, "{kernel}: {module}'s code sections");
            assert!(
                laid.iter().any(|(n, _)| n == ".plt")
                    && laid.iter().any(|(n, _)| n == ".text.ftrace_trampoline"),
                "{kernel}: {module}: {laid:x?}"
            );
            let line = areas
                .lines()
                .find(|l| l.starts_with(&format!("{module}\t")))
                .unwrap();
            let end = hex(line.split('\t').nth(2).unwrap());
            assert_eq!(
                base + page_up(text.end),
                end,
                "{kernel}: {module}'s text end"
            );
            checked += 1;
        }
        assert_eq!(checked, 9, "{kernel}");
    }
}

#[test]
fn x86_64_text_areas_are_the_loaders() {
    for (kernel, ko_dir) in [
        ("debian-6.12.117", "ko"),
        ("debian-6.1.0-57-cloud", "ko-debug"),
    ] {
        let set = data_dir().join(kernel);
        let layout = std::fs::read_to_string(set.join("module-layout.tsv")).unwrap();
        let text_size = |m: &str| {
            layout
                .lines()
                .map(|l| l.split('\t').collect::<Vec<_>>())
                .find(|f| f[0] == m && f[1] == "text")
                .map(|f| hex(f[3]))
        };
        let mut checked = 0;
        for ko in kos(&set.join(ko_dir)) {
            let module = ko.module_name.clone().unwrap();
            let text = ko.module_text.clone().unwrap().unwrap();
            assert!(
                !text.sections.iter().any(|s| s.name == ".plt"),
                "{kernel}: {module}: x86_64 adds no veneers"
            );
            let Some(size) = text_size(&module) else {
                continue; // not loaded in that capture
            };
            assert_eq!(page_up(text.end), size, "{kernel}: {module}: {text:x?}");
            checked += 1;
        }
        assert!(checked >= 5, "{kernel}: {checked} modules checked");
    }
}

/// Not a module, or an architecture the loader's steps are not known
/// for: no layout, rather than a wrong one.
#[test]
fn only_modules_of_known_architectures_are_laid_out() {
    let set = data_dir().join("debian-6.1.0-57-cloud-arm64/ko");
    let bytes = std::fs::read(set.join("dummy.ko")).unwrap();
    let elf = ksym::elf::parse_elf("dummy.ko", &bytes).unwrap();
    assert!(elf.module_text.is_some());
    // e_machine 243 (RISC-V): its loader adds a GOT and PLT of its own.
    let mut riscv = bytes.clone();
    riscv[18..20].copy_from_slice(&243u16.to_le_bytes());
    let elf = ksym::elf::parse_elf("riscv.ko", &riscv).unwrap();
    assert_eq!(elf.module_text, None);
}
