//! Unit tests of snapshots: round trips that answer the same, and damage
//! that is a clear error.

use super::*;
use crate::parse::ModuleMap;
use crate::table::SymbolTable;
use crate::{parse_bytes, LoadOptions};

fn sample() -> SymbolTable {
    let text = "\
0000000000000000 A fixed_percpu_data
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81000010 t __pfx_foo
ffffffff81000020 t foo
ffffffff81000040 T _etext
ffffffffc0000000 t modfn\t[m]
ffffffffc0000100 t fs/ext4/x.c:pathfn\t[m]
";
    let mut opts = LoadOptions::default();
    let mut mods = ModuleMap::default();
    mods.add_text("t", b"m 8192 0 - Live 0xffffffffc0000000\n")
        .unwrap();
    // A text area from /sys/module/m/sections, kept in META.
    let section = |name: &str, addr: u64| ("m".to_string(), name.to_string(), addr);
    mods.set_text_areas(
        &[
            section(".text", 0xffffffffc0000000),
            section(".data", 0xffffffffc0002000),
            section(".bss", 0xffffffffc0003000),
        ],
        true,
    );
    assert!(mods.get("m").unwrap().text_area.is_some());
    assert_eq!(mods.get("m").unwrap().section_areas.len(), 3);
    opts.modules = Some(mods);
    parse_bytes("sample", text.as_bytes(), &opts).unwrap()
}

#[test]
fn round_trip_answers_the_same() {
    let t = sample();
    let id = Identity {
        release: Some("6.12.0".into()),
        boot_id: Some("abc\tdef".into()),
        modules: Some(0x1234),
        kaslr_slide: Some(-4096),
        ..Identity::default()
    };
    let bytes = to_bytes(&t, &id);
    let (m, id2) = from_bytes("mem", &bytes, OpenOptions { verify: true }).unwrap();
    assert_eq!(id, id2);
    assert_eq!(m.len(), t.len());
    for addr in [
        0,
        0xffffffff81000000,
        0xffffffff81000025,
        0xffffffff81000040,
        0xffffffffc0000050,
        0xffffffffc0000150,
        u64::MAX,
    ] {
        assert_eq!(
            t.lookup(addr).map(|s| s.to_string()),
            m.lookup(addr).map(|s| s.to_string()),
            "{addr:#x}"
        );
    }
    assert_eq!(m.find("foo").count(), 1);
    assert_eq!(m.find("pathfn").next().unwrap().path, Some("fs/ext4/x.c"));
    assert_eq!(m.module_map(), t.module_map());
    assert_eq!(m.info().source, "sample");
    assert_eq!(
        m.heap_bytes(),
        4 * m.fences.len(),
        "a mapped table owns no arrays but the derived low fences"
    );
}

#[test]
fn real_sizes_and_builtin_slots_round_trip() {
    let t = sample();
    let foo = t.find("foo").next().unwrap().id;
    let modfn = t.find("modfn").next().unwrap().id;
    let t = t
        .with_real_sizes(&[(foo, 0x8), (modfn, 0x20)])
        .with_module_ranges(&[crate::ModuleRange {
            start: 0xffffffff81000010,
            end: 0xffffffff81000040,
            modules: vec!["ext4".into()],
        }]);
    let bytes = to_bytes(&t, &Identity::default());
    assert_eq!(
        u32::from_ne_bytes(bytes[8..12].try_into().unwrap()),
        FORMAT_VERSION
    );
    let (m, _) = from_bytes("mem", &bytes, OpenOptions { verify: true }).unwrap();
    assert_eq!(m.real_size(foo), Some(0x8));
    assert_eq!(m.real_size(modfn), Some(0x20));
    for addr in [
        0xffffffff81000021,
        0xffffffff81000028,
        0xffffffffc0000010,
        0xffffffffc0000030,
    ] {
        assert_eq!(
            t.lookup(addr).map(|s| s.to_string()),
            m.lookup(addr).map(|s| s.to_string()),
            "{addr:#x}"
        );
    }
    assert_eq!(
        m.lookup(0xffffffff81000021).unwrap().to_string(),
        "foo+0x1/0x8 [ext4]"
    );
    assert!(
        m.lookup(0xffffffff81000028).is_none(),
        "past foo's real end"
    );
    assert!(
        m.lookup(0xffffffffc0000030).is_none(),
        "past modfn's real end"
    );
    assert_eq!(m.unique_name(foo), t.unique_name(foo));
    // A file of the previous format is refused with a clear message.
    let mut old = bytes.clone();
    old[8..12].copy_from_slice(&1u32.to_ne_bytes());
    let err = from_bytes("mem", &old, OpenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("format version 1"), "{err}");
}

#[test]
fn damage_is_a_clear_error() {
    let bytes = to_bytes(&sample(), &Identity::default());
    let err = |b: &[u8], verify| {
        from_bytes("mem", b, OpenOptions { verify })
            .unwrap_err()
            .to_string()
    };
    assert!(err(&bytes[..10], false).contains("truncated"));
    assert!(err(&bytes[..bytes.len() - 64], false).contains("truncated"));
    let mut b = bytes.clone();
    b[0] = b'X';
    assert!(err(&b, false).contains("magic"));
    let mut b = bytes.clone();
    b[8] = 99;
    assert!(err(&b, false).contains("version"));
    let mut b = bytes.clone();
    b[12..16].copy_from_slice(&BYTE_ORDER_MARK.swap_bytes().to_ne_bytes());
    assert!(err(&b, false).contains("byte order"));
    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 0xff;
    assert!(err(&b, true).contains("checksum"));
}

/// BPF programs' functions and lines come back from a snapshot: the
/// symbols' real sizes and every address's line, without the program.
#[test]
fn bpf_lines_are_kept() {
    let start = 0xffffffffa0001000;
    let text = format!(
        "ffffffff81000000 T _text\nffffffff81000040 T _etext\n\
         {start:016x} t bpf_prog_0102030405060708_prog\t[bpf]\n\
         {:016x} t bpf_prog_0102030405060708_sub\t[bpf]\n",
        start + 0x100
    );
    let t = parse_bytes("bpf", text.as_bytes(), &LoadOptions::default())
        .unwrap()
        .with_bpf_lines(crate::parse::bpf_lines::sample_set(start));
    assert_eq!(t.lookup(start + 0x10).unwrap().size, 0x40);
    assert!(t.lookup(start + 0x40).is_none());
    let bytes = to_bytes(&t, &Identity::default());
    let (m, _) = from_bytes("mem", &bytes, OpenOptions { verify: true }).unwrap();
    for addr in start - 8..start + 0x130 {
        assert_eq!(m.lookup(addr), t.lookup(addr), "{addr:#x}");
        assert_eq!(m.bpf_line(addr), t.bpf_line(addr), "{addr:#x}");
    }
    let l = m.bpf_line(start + 0x104).unwrap();
    assert_eq!(
        (l.function, l.line, l.source),
        ("sub", 9, Some("return y;"))
    );
    // A table without programs writes an empty section and opens as one.
    let (plain, _) = from_bytes(
        "mem",
        &to_bytes(&sample(), &Identity::default()),
        OpenOptions::default(),
    )
    .unwrap();
    assert!(plain.bpf_lines().is_none());
    // Damage inside the section is named, even without `verify`.
    let dir = sections_of(&bytes, HEADER_LEN + DIR_ENTRY_LEN * ALL_SECTIONS.len());
    let &(_, _, off, _) = dir
        .iter()
        .find(|d| d.0 == SectionId::BpfLines as u32)
        .unwrap();
    let mut b = bytes.clone();
    b[off as usize..off as usize + 4].copy_from_slice(&9u32.to_ne_bytes());
    let err = from_bytes("mem", &b, OpenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("BPF lines") && err.contains("byte"), "{err}");
}
