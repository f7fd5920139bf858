use super::split::{place, same_answers};
use super::*;
use crate::parse::{ModuleArea, ModuleInfo, ModuleMap};
use crate::table::{TableBuilder, TableInfo};

const SLIDE: i64 = 0x1a00_0000;

fn module(name: &str, areas: &[(&str, u64, u64)]) -> ModuleInfo {
    ModuleInfo {
        name: name.into(),
        base: areas.first().map(|a| a.1),
        size: Some(areas.iter().map(|a| a.2).sum()),
        state: Some("Live".into()),
        areas: areas
            .iter()
            .map(|&(kind, start, size)| ModuleArea {
                kind: kind.into(),
                start,
                size,
            })
            .collect(),
        text_area: None,
        section_areas: Vec::new(),
        build_id: None,
        laid_out_from_ko: false,
    }
}

/// A slid kernel with a per-cpu symbol, aliases, two modules (one in two
/// areas, `mod_b` at `base`), one module with no map entry, and BPF and
/// ftrace pages, given as kallsyms lines.
fn kernel(base: u64) -> SymbolTable {
    let s = SLIDE as u64;
    let mut b = TableBuilder::new();
    for (addr, kind, name) in [
        (0x0, 'A', "fixed_percpu_data"),
        (0xffffffff81000000 + s, 'T', "_text"),
        (0xffffffff81000000 + s, 'T', "_stext"),
        (0xffffffff81000100 + s, 'T', "start_kernel"),
        (0xffffffff81000100 + s, 'T', "start_kernel_alias"),
        (0xffffffff81000400 + s, 'T', "_etext"),
        (0xffffffff81000800 + s, 'D', "some_data"),
        (0xffffffff81001000 + s, 'B', "_end"),
    ] {
        b.add(addr, kind, name, None);
    }
    for (addr, kind, name, m) in [
        (0xffffffffc0000000, 't', "a_init", "mod_a"),
        (0xffffffffc0000040, 't', "a_work", "mod_a"),
        (0xffffffffc0100010, 'd', "a_table", "mod_a"),
        (base + 0x10, 't', "b_main", "mod_b"),
        (base + 0x80, 'T', "b_exported", "mod_b"),
        (0xffffffffc0300000, 't', "c_only", "mod_c"),
        (0xffffffffc0400000, 't', "bpf_prog_1234_x", "bpf"),
        (
            0xffffffffc0500000,
            't',
            "ftrace_trampoline",
            "__builtin__ftrace",
        ),
    ] {
        b.add(addr, kind, name, Some(m));
    }
    b.set_modules(ModuleMap {
        modules: vec![
            module(
                "mod_a",
                &[
                    ("text", 0xffffffffc0000000, 0x1000),
                    ("data", 0xffffffffc0100000, 0x1000),
                ],
            ),
            module("mod_b", &[("all", base, 0x2000)]),
        ],
    });
    let table = b
        .build(TableInfo {
            source: "test".into(),
            ..TableInfo::default()
        })
        .unwrap();
    // Real sizes on one of two aliases and on a module symbol.
    let id = |name: &str| table.find(name).next().unwrap().id;
    let sizes = [(id("start_kernel_alias"), 0x20), (id("b_main"), 0x30)];
    table.with_real_sizes(&sizes)
}

#[test]
fn parts_join_into_the_same_answers() {
    let table = kernel(0xffffffffc0200000);
    let parts = split(&table, SLIDE).unwrap();
    let joined = join(&parts.core, &parts.modules, &parts.boot, SLIDE).unwrap();
    same_answers(&table, &joined).unwrap();
    // The core is at link time, the per-cpu symbol where it was.
    let text = parts.core.find("_text").next().unwrap();
    assert_eq!(text.start, 0xffffffff81000000);
    assert_eq!(
        parts.core.find("fixed_percpu_data").next().unwrap().start,
        0
    );
    let alias = joined.find("start_kernel_alias").next().unwrap();
    assert_eq!(alias.size, 0x20);
    assert_eq!(joined.find("b_main").next().unwrap().size, 0x30);
    let names: Vec<&str> = parts.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["mod_a", "mod_b", "mod_c"]);
    // The pseudo-modules stay with the boot.
    let boot: Vec<&str> = parts.boot.iter().map(|s| s.name).collect();
    assert_eq!(boot, ["bpf_prog_1234_x", "ftrace_trampoline"]);
    assert_eq!(parts.boot.module_map(), table.module_map());
}

#[test]
fn bpf_lines_stay_with_the_boot() {
    let set = crate::parse::bpf_lines::sample_set(0xffffffffc0400000);
    let table = kernel(0xffffffffc0200000).with_bpf_lines(set.clone());
    let parts = split(&table, SLIDE).unwrap();
    assert!(parts.core.bpf_lines().is_none());
    assert_eq!(parts.boot.bpf_lines().unwrap().programs(), set.programs());
    let joined = join(&parts.core, &parts.modules, &parts.boot, SLIDE).unwrap();
    same_answers(&table, &joined).unwrap();
    assert_eq!(
        joined.bpf_line(0xffffffffc0400004),
        set.lookup(0xffffffffc0400004)
    );
    // Parts that lost them do not join into the same answers.
    let mut boot = parts.boot;
    boot.bpf_lines = None;
    let lost = join(&parts.core, &parts.modules, &boot, SLIDE).unwrap();
    assert!(same_answers(&table, &lost).unwrap_err().contains("BPF"));
}

#[test]
fn a_module_loaded_elsewhere_is_the_same_part() {
    let one = split(&kernel(0xffffffffc0200000), SLIDE).unwrap();
    let two = split(&kernel(0xffffffffc0a00000), SLIDE).unwrap();
    let bytes = |t: &SymbolTable| crate::snapshot::to_bytes(t, &Default::default());
    let b = |p: &TableParts| {
        p.modules
            .iter()
            .find(|m| m.name == "mod_b")
            .unwrap()
            .anchors
            .clone()
    };
    assert_eq!(b(&one), [0xffffffffc0200000]);
    assert_eq!(b(&two), [0xffffffffc0a00000]);
    assert_eq!(one.modules.len(), two.modules.len());
    for x in &one.modules {
        let y = two.modules.iter().find(|y| y.name == x.name).unwrap();
        assert_eq!(bytes(&x.table), bytes(&y.table), "{}", x.name);
    }
    assert_eq!(bytes(&one.core), bytes(&two.core));
}

#[test]
fn symbols_go_to_their_area_or_the_anchor_below() {
    let info = module("m", &[("text", 0x1000, 0x100), ("data", 0x3000, 0x100)]);
    let (anchors, rel) = place(&[0x1010, 0x3008, 0x3200, 0x800], Some(&info)).unwrap();
    assert_eq!(anchors, [0x1000, 0x3000, 0x800]);
    assert_eq!(rel, [0x10, 1 << 32 | 0x8, 1 << 32 | 0x200, 2 << 32]);
    // Without a map entry: from the lowest symbol.
    let (anchors, rel) = place(&[0x5000, 0x4000], None).unwrap();
    assert_eq!((anchors, rel), (vec![0x4000], vec![0x1000, 0]));
    // 4 GiB past every anchor: not one module's.
    assert!(place(&[0x1000, 0x1_0000_2000], None).is_none());
}

#[test]
fn a_damaged_part_is_refused() {
    let table = kernel(0xffffffffc0200000);
    let mut parts = split(&table, SLIDE).unwrap();
    parts.modules[0].anchors.pop();
    let err = join(&parts.core, &parts.modules, &parts.boot, SLIDE).unwrap_err();
    assert!(err.to_string().contains("mod_a"), "{err}");
    let parts = split(&table, SLIDE).unwrap();
    let err = join(&parts.modules[1].table, &[], &parts.boot, SLIDE).unwrap_err();
    assert!(err.to_string().contains("core part holds"), "{err}");
}

#[test]
fn a_wrong_slide_gives_other_answers() {
    // The check itself: a join at another slide is not the same table.
    let table = kernel(0xffffffffc0200000);
    let parts = split(&table, SLIDE).unwrap();
    let joined = join(&parts.core, &parts.modules, &parts.boot, SLIDE + 0x200000).unwrap();
    assert!(same_answers(&table, &joined).is_err());
}
