//! A plain ELF file is mapped for its symbol table, not read: a 512 MiB
//! file (sparse: its DWARF stand-in is a hole) whose section headers,
//! `.symtab` and `.strtab` lie at its end is read for its symbols while the
//! process's peak resident memory grows by a few MiB. Alone in its test
//! binary, so no other test's memory counts.

use std::io::{Seek, SeekFrom, Write};

const HOLE: u64 = 512 << 20;
const SYMBOLS: usize = 20_000;
const TEXT: u64 = 0xffff_ffff_8100_0000;

/// `VmHWM` of this process, in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[allow(clippy::too_many_arguments)]
fn section_header(
    out: &mut Vec<u8>,
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    entsize: u64,
) {
    out.extend_from_slice(&name.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&addr.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&link.to_le_bytes());
    let info: u32 = if kind == 2 { 1 } else { 0 }; // first global symbol
    out.extend_from_slice(&info.to_le_bytes());
    out.extend_from_slice(&8u64.to_le_bytes());
    out.extend_from_slice(&entsize.to_le_bytes());
}

/// A linked x86_64 ELF: `.text` and `.debug_info` over the hole, then
/// `.shstrtab`, `.strtab`, `.symtab` and the section headers.
fn write_elf(path: &std::path::Path) {
    let shstrtab = b"\0.text\0.debug_info\0.shstrtab\0.strtab\0.symtab\0";
    let name_at = |n: &[u8]| shstrtab.windows(n.len()).position(|w| w == n).unwrap() as u32;
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 24];
    for i in 0..SYMBOLS {
        let name = strtab.len() as u32;
        strtab.extend_from_slice(format!("function_{i}\0").as_bytes());
        symtab.extend_from_slice(&name.to_le_bytes());
        symtab.push(0x12); // STB_GLOBAL, STT_FUNC
        symtab.push(0);
        symtab.extend_from_slice(&1u16.to_le_bytes()); // .text
        symtab.extend_from_slice(&(TEXT + 64 * i as u64).to_le_bytes());
        symtab.extend_from_slice(&(40 + (i as u64 % 20)).to_le_bytes());
    }
    let shstr_at = HOLE;
    let str_at = shstr_at + shstrtab.len() as u64;
    let sym_at = (str_at + strtab.len() as u64).next_multiple_of(8);
    let sh_at = sym_at + symtab.len() as u64;
    let mut headers = vec![0u8; 64];
    let text_size = 64 * SYMBOLS as u64;
    section_header(
        &mut headers,
        name_at(b".text"),
        1,
        6,
        TEXT,
        4096,
        text_size,
        0,
        0,
    );
    let debug = HOLE - 8192 - text_size;
    section_header(
        &mut headers,
        name_at(b".debug_info"),
        1,
        0,
        0,
        8192 + text_size,
        debug,
        0,
        0,
    );
    let n = shstrtab.len() as u64;
    section_header(
        &mut headers,
        name_at(b".shstrtab"),
        3,
        0,
        0,
        shstr_at,
        n,
        0,
        0,
    );
    let n = strtab.len() as u64;
    section_header(&mut headers, name_at(b".strtab"), 3, 0, 0, str_at, n, 0, 0);
    let n = symtab.len() as u64;
    section_header(&mut headers, name_at(b".symtab"), 2, 0, 0, sym_at, n, 4, 24);

    let mut elf = Vec::new();
    elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&62u16.to_le_bytes()); // x86_64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&TEXT.to_le_bytes()); // entry
    elf.extend_from_slice(&0u64.to_le_bytes()); // no program headers
    elf.extend_from_slice(&sh_at.to_le_bytes());
    elf.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, 0, 64, 6, 3] {
        elf.extend_from_slice(&half.to_le_bytes());
    }
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&elf).unwrap();
    f.seek(SeekFrom::Start(shstr_at)).unwrap();
    f.write_all(shstrtab).unwrap();
    f.write_all(&strtab).unwrap();
    f.seek(SeekFrom::Start(sym_at)).unwrap();
    f.write_all(&symtab).unwrap();
    f.write_all(&headers).unwrap();
}

#[test]
fn a_plain_elf_is_read_for_its_symbols_only() {
    let dir = std::env::temp_dir().join(format!("ksym-elf-mapped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vmlinux");
    write_elf(&path);
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > HOLE, "{len}");

    let before = peak_kib();
    let elf = ksym::elf::read_elf(&path);
    let grew_kib = peak_kib() - before;
    std::fs::remove_dir_all(&dir).unwrap();
    let elf = elf.unwrap();

    assert!(!elf.relocatable);
    assert_eq!(elf.symbols.len(), SYMBOLS);
    let last = &elf.symbols[SYMBOLS - 1];
    assert_eq!(last.name, format!("function_{}", SYMBOLS - 1));
    assert_eq!(last.value, TEXT + 64 * (SYMBOLS as u64 - 1));
    assert_eq!((last.size, last.kind, last.function), (59, 'T', true));
    assert_eq!(elf.sections[2].name, ".debug_info");
    // The symbols, their names and the tables behind them are a few MiB;
    // the file is 512 MiB.
    assert!(
        grew_kib < 32 << 10,
        "peak resident memory grew by {grew_kib} KiB reading a {len}-byte file"
    );
    eprintln!("read {SYMBOLS} symbols of a {len}-byte file; peak grew by {grew_kib} KiB");
}
