//! Unit tests of the table: the direct index against the fence search, the
//! ASCII arena flag, sizes, aliases and bounds, and symbol references.

use super::*;

use super::table_of as table;

/// The direct index covers the core (a run without a wide gap, of
/// enough symbols), and answers exactly what the fence search answers,
/// at every symbol's edges and in between.
#[test]
fn buckets_answer_like_the_fence_search() {
    let mut syms = Vec::new();
    let mut names = Vec::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut at = 0xffff_ffff_8100_0000u64;
    // Fewer under miri, which runs this a thousand times slower.
    for i in 0..if cfg!(miri) { 300 } else { 3000 } {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        names.push((at, format!("f{i}")));
        // Mostly small symbols, some aliases, an occasional big one.
        at += [0, 0x10, 0x40, 0x200, 0x3000][(x % 5) as usize];
    }
    for (i, &(a, ref n)) in names.iter().enumerate() {
        syms.push((a, if i % 7 == 0 { 'd' } else { 't' }, n.as_str(), None));
    }
    // A module area far above: its own span. Two more symbols further
    // up are too few for one (binary search).
    let module_names: Vec<(u64, String)> = (0..200u64)
        .map(|i| (0xffff_ffff_c000_0000 + i * i * 8, format!("m{i}")))
        .collect();
    for (a, n) in &module_names {
        syms.push((*a, 't', n.as_str(), Some("m")));
    }
    syms.push((0xffff_ffff_e000_0000, 't', "far", Some("n")));
    syms.push((0xffff_ffff_e000_0100, 't', "far2", Some("n")));
    let t = table(&syms);
    let bases: Vec<u64> = t.bucket_spans.iter().map(|s| s.base).collect();
    assert_eq!(bases, [0xffff_ffff_8100_0000, 0xffff_ffff_c000_0000]);
    assert!(
        t.bucket_first.len() > 100,
        "{} buckets",
        t.bucket_first.len()
    );
    let mut plain = t.clone();
    plain.bucket_spans = Column::default();
    plain.bucket_first = Column::default();
    let mut probes: Vec<u64> = vec![0, u64::MAX, 0xffff_ffff_e000_0100, 0xffff_ffff_e000_0150];
    for &(a, _) in names.iter().chain(&module_names) {
        probes.extend([a.wrapping_sub(1), a, a + 1, a + 0x1ff]);
    }
    for addr in probes {
        assert_eq!(t.lookup(addr), plain.lookup(addr), "at {addr:#x}");
    }
}

/// Names are handed out unchecked only when the whole arena is ASCII:
/// one non-ASCII name (or module name) anywhere turns that off.
#[test]
fn arena_ascii_tracks_every_string() {
    let ascii = table(&[(0x1000, 't', "plain", None), (0x1010, 't', "x", Some("m"))]);
    assert_eq!(ascii.names_ascii.get(), Some(&true));
    for syms in [
        [(0x1000, 't', "plain", None), (0x1010, 't', "ünïcode", None)],
        [
            (0x1000, 't', "plain", None),
            (0x1010, 't', "x", Some("mödule")),
        ],
    ] {
        let t = table(&syms);
        assert_eq!(t.names_ascii.get(), Some(&false));
        assert_eq!(
            t.lookup(0x1010).unwrap().to_string().contains('ü'),
            syms[1].2 == "ünïcode"
        );
        assert_eq!(t.names_ascii.get(), Some(&t.names.is_ascii()));
    }
    // A snapshot does not know: each name is checked alone, the arena's
    // flag left unset (never a scan of every name for one lookup).
    let t = table(&[(0x1000, 't', "plain", None), (0x1010, 't', "ünïcode", None)]);
    let mapped = crate::snapshot::from_bytes(
        "snap",
        &crate::snapshot::to_bytes(&t, &Default::default()),
        Default::default(),
    )
    .unwrap()
    .0;
    assert_eq!(mapped.lookup(0x1000).unwrap().name, "plain");
    assert_eq!(mapped.lookup(0x1010).unwrap().name, "ünïcode");
    assert_eq!(mapped.names_ascii.get(), None);
}

#[test]
fn sizes_aliases_and_bounds() {
    let t = table(&[
        (0x0, 'A', "fixed_percpu_data", None),
        (0x1000, 'A', "cpu_debug_store", None),
        (0xffffffff81000000, 'T', "_text", None),
        (0xffffffff81000000, 'T', "_stext", None),
        (0xffffffff81000010, 't', "__pfx_foo", None),
        (0xffffffff81000020, 't', "foo", None),
        (0xffffffff81000030, 't', ".L123", None),
        (0xffffffff81000040, 'T', "_etext", None),
        (0xffffffffc0000000, 't', "modfn", Some("m")),
    ]);
    assert_eq!(t.lookup(0xffffffff81000000).unwrap().name, "_text");
    let s = t.lookup(0xffffffff81000035).unwrap();
    assert_eq!((s.name, s.offset, s.size), ("foo", 0x15, 0x20));
    assert_eq!(s.to_string(), "foo+0x15/0x20");
    // Without `_end` (no CONFIG_KALLSYMS_ALL) the kernel names only
    // `[_stext, _etext)` of the core: `_etext` itself prints raw.
    assert!(t.lookup(0xffffffff81000040).is_none());
    assert!(t.lookup(0xffffffff8100003f).is_some());
    assert!(t.lookup(0xffffffff81000041).is_none());
    assert_eq!(t.find("_etext").next().unwrap().start, 0xffffffff81000040);
    assert!(t.lookup(0xffffffff80000000).is_none());
    assert!(t.lookup(0x10).is_none());
    assert_eq!(t.lookup_absolute(0x10).unwrap().name, "fixed_percpu_data");
    let m = t.lookup(0xffffffffc0000010).unwrap();
    assert_eq!(m.to_string(), "modfn+0x10/0x10000 [m]");
    assert!(t.lookup(u64::MAX).is_none());
    // With `_end` known (CONFIG_KALLSYMS_ALL), `_etext` lies inside
    // `[_stext, _end)` and reaches the next symbol; `_end` names nothing.
    let t2 = table(&[
        (0xffffffff81000000, 'T', "_text", None),
        (0xffffffff81000000, 'T', "_stext", None),
        (0xffffffff81000040, 'T', "_etext", None),
        (0xffffffff81000080, 'D', "_end", None),
    ]);
    assert_eq!(t2.lookup(0xffffffff81000050).unwrap().size, 0x40);
    assert_eq!(t2.lookup(0xffffffff8100007f).unwrap().name, "_etext");
    assert!(t2.lookup(0xffffffff81000080).is_none());
    assert!(t2.lookup(0xffffffff81000081).is_none());
    let a: Vec<_> = t.aliases(0xffffffff81000000).map(|s| s.name).collect();
    assert_eq!(a, ["_text", "_stext"]);
    // A mapping symbol is never found by name (`dump` still lists it).
    assert_eq!(t.find(".L123").count(), 0);
    assert_eq!(t.find("foo").next().unwrap().start, 0xffffffff81000020);
    assert_eq!(t.resolve("foo+0x4/0x20").unwrap(), 0xffffffff81000024);
    assert!(t.resolve("foo+0x4/0x30").is_err());
    assert_eq!(t.resolve("modfn+0x1 [m]").unwrap(), 0xffffffffc0000001);
}

#[test]
fn symbol_refs() {
    let r = SymbolRef::parse("ext4_writepages+0xab/0x170 [ext4]").unwrap();
    assert_eq!(
        r,
        SymbolRef {
            name: "ext4_writepages",
            offset: 0xab,
            size: Some(0x170),
            module: Some("ext4"),
            object: None,
            path: None,
            ordinal: None,
        }
    );
    let r = SymbolRef::parse("fs/ext4/inode.c:show#2+0x4 [ext4] {fs/ext4/inode.o}").unwrap();
    assert_eq!(
        (r.path, r.name, r.ordinal, r.offset, r.module, r.object),
        (
            Some("fs/ext4/inode.c"),
            "show",
            Some(2),
            4,
            Some("ext4"),
            Some("fs/ext4/inode.o")
        )
    );
    assert_eq!(SymbolRef::parse("foo+0x1[m]").unwrap().module, Some("m"));
    assert!(SymbolRef::parse("foo#0").is_err());
    assert!(SymbolRef::parse("foo bar").is_err());
    assert!(SymbolRef::parse("foo [m] [n]").is_err());
    let r = SymbolRef::parse("foo+0x1 [mod 1234abcd]").unwrap();
    assert_eq!(r.module, Some("mod"));
    assert!(SymbolRef::parse("foo+zz").is_err());
    assert!(SymbolRef::parse("").is_err());
}

/// A module's last data symbol ends where `/sys/module` puts the next
/// section (here the freed `.init.text`), not a size cap later.
#[test]
fn module_sections_bound_data_symbols() {
    const X: u64 = 0xffff_ffff_c000_0000;
    let text = format!(
        "{X:016x} t dummy_fn\t[dummy]\n{:016x} r orc_header\t[dummy]\n",
        X + 0x3000
    );
    let mut modules = crate::parse::ModuleMap::default();
    modules
        .add_text("t", format!("dummy 28672 0 - Live {X:#x}\n").as_bytes())
        .unwrap();
    let sec = |name: &str, addr: u64| ("dummy".to_string(), name.to_string(), addr);
    modules.set_text_areas(
        &[
            sec(".text", X),
            sec(".orc_header", X + 0x3000),
            sec(".init.text", X + 0x3100),
        ],
        true,
    );
    let opts = crate::LoadOptions {
        modules: Some(modules),
        ..Default::default()
    };
    let t = crate::parse_bytes("t", text.as_bytes(), &opts).unwrap();
    let s = t.lookup(X + 0x30ff).unwrap();
    assert_eq!(s.to_string(), "orc_header+0xff/0x100 [dummy]");
    assert!(t.lookup(X + 0x3100).is_none(), "freed init text");
    assert!(t.lookup(X + 0x4000).is_none(), "freed init text");
}

/// Names are C strings in place for a built table, including a non-ASCII
/// one (checked, not assumed); a name span that stops short of its NUL
/// (what a crafted snapshot could hold) is found, and so is a module's.
#[test]
fn c_strings_are_checked_not_assumed() {
    let t = table(&[
        (0x1000, 't', "alpha", None),
        (0x1010, 't', "beta", Some("m")),
    ]);
    assert_eq!(t.c_strings.get(), Some(&true));
    let unicode = table(&[(0x1000, 't', "ünïcode", None)]);
    assert_eq!(unicode.c_strings.get(), None);
    assert!(unicode.names_are_c_strings());
    let s = t.lookup(0x1010).unwrap();
    let after = |s: &str| t.names[s.as_ptr() as usize - t.names.as_ptr() as usize + s.len()];
    assert_eq!((after(s.name), after(s.module.unwrap())), (0, 0));
    // The C pointer: the same address, readable through the NUL; none for
    // a string from elsewhere.
    let p = t.c_str_ptr(s.name);
    assert_eq!(p, s.name.as_ptr());
    // SAFETY: the arena holds the name and its NUL (checked above).
    let c = unsafe { std::ffi::CStr::from_ptr(p.cast()) };
    assert_eq!(c.to_bytes(), b"beta");
    assert!(t.c_str_ptr("beta").is_null());

    // One name a byte short: its next byte is its own last letter.
    let mut short = t.clone();
    let mut offs: Vec<u32> = short.name_off.to_vec();
    offs[1] -= 1 << 24;
    short.name_off = offs.into();
    short.c_strings = OnceLock::new();
    assert_eq!(short.lookup(0x1010).unwrap().name, "bet");
    assert!(!short.names_are_c_strings());

    // A module name a byte short.
    let mut short = t.clone();
    let mut slots: Vec<SlotRec> = short.slots.to_vec();
    slots[1].first_len -= 1;
    short.slots = slots.into();
    short.c_strings = OnceLock::new();
    assert_eq!(short.lookup(0x1010).unwrap().module, Some(""));
    assert!(!short.names_are_c_strings());
}

/// Serials tell tables apart; a clone shares its table's (same ids, same
/// names); attaching module ranges (ids now name other modules) does not.
#[test]
fn serials_follow_what_ids_mean() {
    let syms = [(0x1000, 't', "alpha", None), (0x1010, 't', "beta", None)];
    let (a, b) = (table(&syms), table(&syms));
    assert_ne!(a.serial(), 0);
    assert_ne!(a.serial(), b.serial());
    assert_eq!(a.clone().serial(), a.serial());
    let before = a.serial();
    let ranges = [crate::parse::builtin::ModuleRange {
        start: 0x1000,
        end: 0x1020,
        modules: vec!["builtin".to_string()],
    }];
    let attached = a.with_module_ranges(&ranges);
    assert_eq!(attached.lookup(0x1010).unwrap().module, Some("builtin"));
    assert_ne!(attached.serial(), before);
    assert!(attached.names_are_c_strings());
}
