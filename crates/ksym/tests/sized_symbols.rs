//! Real sizes kept apart from Debian's 6.1 cloud vmlinux (590 MB, with
//! DWARF; `../shared/scripts/fetch-debug-vmlinux.sh` fetches it, and this
//! test says it skips without it) give its kallsyms the sizes that matching
//! each ELF symbol at its slid address gives (the oracle below).

use ksym::elf::{read_elf, SizedSymbols};
use ksym::{LoadOptions, SymbolId};

#[test]
fn cached_sizes_of_debians_vmlinux_are_the_oracles() {
    let home = std::env::var_os("HOME").unwrap_or_default();
    let vmlinux =
        std::path::Path::new(&home).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    let kallsyms = ksym_testdata::data_dir().join("debian-6.1.0-57-cloud/kallsyms.xz");
    if !vmlinux.is_file() || !kallsyms.is_file() {
        eprintln!(
            "skipped: needs {} and {}",
            vmlinux.display(),
            kallsyms.display()
        );
        return;
    }
    let table = ksym::load_file(&kallsyms, &LoadOptions::default()).unwrap();
    let elf = read_elf(&vmlinux).unwrap();
    let kept = SizedSymbols::from_elf(&elf);
    let read = SizedSymbols::from_bytes("copy", kept.as_bytes().to_vec()).unwrap();
    assert_eq!(
        read.build_id_hex().as_deref(),
        Some("01d2640d3a13145ee314eb05b155f141b7b7058b")
    );

    let slide = table.core_text().unwrap() - read.text().unwrap();
    let mut want: Vec<(SymbolId, u64)> = Vec::new();
    for s in elf
        .symbols
        .iter()
        .filter(|s| s.size > 0 && !matches!(s.kind, 'a' | 'A'))
    {
        for t in table.aliases(s.value.wrapping_add(slide)) {
            if t.name == s.name {
                want.push((t.id, s.size));
            }
        }
    }
    let mut got = read.sizes_for(&table);
    want.sort();
    got.sort();
    assert!(want.len() > 50_000, "{} matched", want.len());
    assert_eq!(got, want);
}
