//! Real sizes, built-in modules and unique names against the Debian 6.12
//! data in `../shared/data/debian-6.12.117` (see its README): the five real
//! `.ko` files matched to the module symbols of `kallsyms.xz`, a
//! `modules.builtin.ranges` fixture in the kernel's documented format
//! applied under the data's KASLR slide, and a unique spelling for each of
//! the 239k symbols.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ksym::builtin::{read_builtin_files, BuiltinRanges};
use ksym::elf::{self, ElfSymbols};
use ksym::{LoadOptions, ModuleMap, SymbolId, SymbolTable};

const KOS: [&str; 5] = ["ext4", "nvme", "virtio_net", "bridge", "kvm"];

fn data() -> Option<PathBuf> {
    let d = ksym_testdata::shared_data().join("debian-6.12.117");
    if d.join("kallsyms.xz").is_file() {
        Some(d)
    } else {
        eprintln!("skipped: no {}", d.display());
        None
    }
}

fn layout(d: &Path) -> ModuleMap {
    let mut m = ModuleMap::default();
    m.add_text(
        "module-layout.tsv",
        &std::fs::read(d.join("module-layout.tsv")).unwrap(),
    )
    .unwrap();
    m
}

/// The 6.12 table, module symbols bounded by their areas (loaded once).
fn table() -> Option<&'static SymbolTable> {
    static T: OnceLock<Option<SymbolTable>> = OnceLock::new();
    T.get_or_init(|| {
        let d = data()?;
        let opts = LoadOptions {
            modules: Some(layout(&d)),
            ..LoadOptions::default()
        };
        Some(ksym::load_file(&d.join("kallsyms.xz"), &opts).unwrap())
    })
    .as_ref()
}

fn kos() -> Option<&'static [ElfSymbols]> {
    static K: OnceLock<Option<Vec<ElfSymbols>>> = OnceLock::new();
    K.get_or_init(|| {
        let d = data()?;
        Some(
            KOS.iter()
                .map(|m| elf::read_elf(&d.join(format!("ko/{m}.ko.xz"))).unwrap())
                .collect(),
        )
    })
    .as_deref()
}

/// Where the 6.12 loader puts a `.ko`'s text sections: executable,
/// allocated, not init, in ELF section order, each aligned to its
/// `sh_addralign` (kernel/module/main.c, `__layout_sections` and
/// `module_get_offset_and_type`). An independent check of the voted bases.
fn text_layout(ko: &ElfSymbols, text_start: u64) -> Vec<(usize, u64)> {
    let mut size = 0u64;
    let mut out = Vec::new();
    for (i, s) in ko.sections.iter().enumerate() {
        if s.is_exec() && s.is_alloc() && !s.name.starts_with(".init") {
            let align = s.align.max(1);
            let off = size.div_ceil(align) * align;
            out.push((i, text_start + off));
            size = off + s.size;
        }
    }
    out
}

#[test]
fn ko_functions_match_and_get_their_real_sizes() {
    let (Some(t), Some(kos), Some(d)) = (table(), kos(), data()) else {
        return;
    };
    let areas = layout(&d);
    let mut all_sizes = Vec::new();
    for ko in kos {
        let module = ko.module_name.clone().unwrap();
        assert!(KOS.contains(&module.as_str()), "{module} from .modinfo");
        let m = elf::match_module(t, &module, ko);
        let text = areas
            .get(&module)
            .unwrap()
            .areas
            .iter()
            .find(|a| a.kind == "text")
            .unwrap()
            .start;
        let mut checked = 0;
        for (sec, base) in text_layout(ko, text) {
            // Sections with no symbols (`.altinstr_replacement`) get no vote.
            if let Some(&(_, voted)) = m.section_bases.iter().find(|&&(s, _)| s == sec) {
                assert_eq!(
                    voted, base,
                    "{module}: section {} base",
                    ko.sections[sec].name
                );
                checked += 1;
            }
        }
        assert!(checked >= 1, "{module}: no text section voted");
        let sized = t.clone().with_real_sizes(&m.sizes);
        let mut functions = 0;
        for f in ko.symbols.iter().filter(|s| s.function) {
            let sec = &ko.sections[f.section.unwrap()];
            if !sec.kept_by_loaded_module() {
                continue; // init code: freed, not in kallsyms
            }
            functions += 1;
            let base = m
                .section_bases
                .iter()
                .find(|&&(s, _)| Some(s) == f.section)
                .unwrap()
                .1;
            let addr = base + f.value;
            let found: Vec<_> = sized
                .find_in(Some(&module), &f.name)
                .filter(|s| s.start == addr)
                .collect();
            assert_eq!(found.len(), 1, "{module}: {} at {addr:#x}", f.name);
            if f.size > 0 {
                assert_eq!(found[0].size, f.size, "{module}: {}", f.name);
                assert_eq!(sized.real_size(found[0].id), Some(f.size));
            }
        }
        assert!(functions > 100, "{module}: {functions} functions");
        // Every ELF symbol a loaded module keeps was found where it belongs.
        assert!(
            m.unmatched.is_empty(),
            "{module}: unmatched {:?}",
            &m.unmatched[..m.unmatched.len().min(20)]
        );
        eprintln!(
            "{module}: {} ELF symbols kept, {} matched, {} functions, {} real sizes",
            m.considered,
            m.matched,
            functions,
            m.sizes.len()
        );
        all_sizes.extend_from_slice(&m.sizes);
    }
    // Applied together, through the library's own step.
    let (sized, reports) = elf::apply_modules(t.clone(), kos);
    assert_eq!(reports.len(), 5);
    assert_eq!(sized.real_size_count(), {
        let mut ids: Vec<SymbolId> = all_sizes.iter().map(|&(id, _)| id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    });
}

#[test]
fn ko_files_through_modules_dep() {
    let (Some(t), Some(d)) = (table(), data()) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("ksym-modules-dep-{}", std::process::id()));
    let host = dir.join("kernel/drivers/nvme/host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::copy(d.join("ko/nvme.ko.xz"), host.join("nvme.ko.xz")).unwrap();
    std::fs::write(
        dir.join("modules.dep"),
        "kernel/drivers/nvme/host/nvme-core.ko.xz: kernel/drivers/nvme/common/nvme-auth.ko.xz\n\
         kernel/drivers/nvme/host/nvme.ko.xz: kernel/drivers/nvme/host/nvme-core.ko.xz\n\
         kernel/fs/not-loaded.ko.xz:\n",
    )
    .unwrap();
    let paths = elf::modules_dep_paths(&dir, ["nvme", "nvme_core", "ext4"]).unwrap();
    let names: Vec<&str> = paths.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(names, ["nvme", "nvme_core"]);
    let (sized, reports, errors) = elf::apply_modules_dep(t.clone(), &dir).unwrap();
    // A live handle's loader does the same with module_sizes_from (what
    // the command and the C ABI use); without a modules.dep, nothing.
    // Its snapshots are kept apart from those of handles without sizes.
    let config = |dir: &Path| {
        let table = t.clone();
        ksym::live::LiveConfig::new()
            .loader(move |_| Ok(table.clone()))
            .cache_dir(Some(PathBuf::from("/cache")))
            .module_sizes_from(dir.to_path_buf())
    };
    let from_loader = |dir: &Path| config(dir).load_table().unwrap().real_size_count();
    assert_eq!(from_loader(&dir), sized.real_size_count());
    assert_eq!(from_loader(&dir.join("kernel")), 0);
    let without = ksym::live::LiveConfig::new().cache_dir(Some(PathBuf::from("/cache")));
    assert_eq!(without.snapshot_cache_dir(), Some(PathBuf::from("/cache")));
    assert_eq!(
        config(&dir).snapshot_cache_dir(),
        Some(PathBuf::from("/cache/ko-sizes"))
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(errors.len(), 1, "nvme-core.ko.xz is missing: {errors:?}");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].module, "nvme");
    assert_eq!(sized.real_size_count(), reports[0].sizes.len());
    assert!(sized.real_size_count() >= 200);
    assert!(elf::modules_dep_paths(Path::new("/nonexistent"), ["x"]).is_err());
}

#[test]
fn an_address_past_a_real_end_is_not_the_function() {
    let (Some(t), Some(kos)) = (table(), kos()) else {
        return;
    };
    let nvme = kos
        .iter()
        .find(|k| k.module_name.as_deref() == Some("nvme"))
        .unwrap();
    let sizes = elf::module_sizes(t, "nvme", nvme);
    let sized = t.clone().with_real_sizes(&sizes);
    let f = t
        .find_in(Some("nvme"), "nvme_pci_init_request")
        .next()
        .unwrap();
    // Derived: up to the next symbol (`__pfx_nvme_irq_check`), 0x30 bytes.
    assert_eq!(f.size, 0x30);
    let real = sized.symbol(f.id).unwrap().size;
    assert_eq!(real, 41, "st_size of nvme_pci_init_request");
    let inside = f.start + 0x20;
    let past = f.start + real + 2;
    assert_eq!(
        t.lookup(past).unwrap().to_string(),
        "nvme_pci_init_request+0x2b/0x30 [nvme]"
    );
    assert!(sized.lookup(past).is_none(), "padding after the function");
    assert_eq!(
        sized.lookup(inside).unwrap().to_string(),
        "nvme_pci_init_request+0x20/0x29 [nvme]"
    );
    // A batch answers as lookup does, over every address of the module's
    // text and a little past each of its symbols.
    let mut addrs: Vec<u64> = t
        .iter()
        .filter(|s| s.module == Some("nvme"))
        .flat_map(|s| [s.start, s.start + 1, s.start + s.size / 2, s.start + s.size])
        .collect();
    addrs.extend([inside, past]);
    let symbolizer = ksym::stack::Symbolizer::new(&sized);
    let batch = symbolizer.symbolize_new(&addrs);
    let mut cut_short = 0;
    for (a, frame) in addrs.iter().zip(batch.iter()) {
        let want = sized.lookup(*a).map(|s| s.to_string());
        assert_eq!(frame.symbol().map(|s| s.to_string()), want, "{a:#x}");
        cut_short += usize::from(want.is_none() && t.lookup(*a).is_some());
    }
    assert!(
        cut_short > 0,
        "no address past a real end: the batch check is idle"
    );
    // And the snapshot keeps it.
    let bytes = ksym::snapshot::to_bytes(&sized, &Default::default());
    let (m, _) = ksym::snapshot::from_bytes("mem", &bytes, Default::default()).unwrap();
    assert!(m.lookup(past).is_none());
    assert_eq!(m.real_size_count(), sized.real_size_count());
}

#[test]
fn builtin_ranges_under_a_kaslr_slide() {
    let Some(t) = table() else { return };
    // Offsets from the link-time addresses (vmlinuz-kallsyms.map:
    // `_text` = ffffffff81000000, load_script at ffffffff814ecab0,
    // `_sdata` = ffffffff82c00000, script_format at ffffffff82d8d560),
    // while the table is slid by +0x1a000000. The `.rodata` section's
    // anchor is its first symbol, 0x40 bytes in (awk's fallback anchor).
    let text = "\
.text 00000000-00000000 = _text
.text 004ecaa0-004ecd10 binfmt_script
.data 00000000-00000000 = _sdata
.data 0018d560-0018d5a0 binfmt_script
.data 0018d5c0-0018d600 fake-elf
.init.text 00000010-00000010 = no_such_anchor
.init.text 00000000-00001000 nobody
";
    let ranges = BuiltinRanges::parse("fixture", text).unwrap();
    let (b, resolved) = ranges.apply(t.clone());
    assert_eq!(resolved.ranges.len(), 3);
    assert_eq!(resolved.skipped.len(), 1, "{:?}", resolved.skipped);
    assert_eq!(resolved.ranges[0].start, 0xffffffff9b4ecaa0);
    let s = b.lookup(0xffffffff9b4ecab0 + 0x10).unwrap();
    assert_eq!(s.name, "load_script");
    assert_eq!(s.module, Some("binfmt_script"));
    assert!(s.to_string().ends_with(" [binfmt_script]"), "{s}");
    let pfx = b.lookup(0xffffffff9b4ecaa0).unwrap();
    assert_eq!(
        (pfx.name, pfx.module),
        ("__pfx_load_script", Some("binfmt_script"))
    );
    // Neighbours outside the ranges stay core.
    assert_eq!(b.lookup(0xffffffff9b4ecd20).unwrap().name, "notesize");
    assert_eq!(b.lookup(0xffffffff9b4ecd20).unwrap().module, None);
    assert_eq!(b.lookup(0xffffffff9b4eca90).unwrap().module, None);
    let d = b.find("script_format").next().unwrap();
    assert_eq!(d.module, Some("binfmt_script"));
    let e = b.find("elf_format").next().unwrap();
    assert_eq!(
        e.module,
        Some("fake_elf"),
        "`-` in module names reads as `_`"
    );
    let rs = b.lookup(0xffffffff9cd8d5a0).unwrap();
    assert_eq!((rs.name, rs.module), ("_rs.1", None), "just past the range");
    // Loadable modules keep their own tags, and the symbol count is the same.
    assert_eq!(b.len(), t.len());
    assert_eq!(
        b.lookup(
            t.find_in(Some("nvme"), "nvme_irq_check")
                .next()
                .unwrap()
                .start
        )
        .unwrap()
        .module,
        Some("nvme")
    );
    assert_eq!(
        b.resolve("load_script [binfmt_script]").unwrap(),
        0xffffffff9b4ecab0
    );
    // Snapshots keep the slots.
    let bytes = ksym::snapshot::to_bytes(&b, &Default::default());
    let (m, _) = ksym::snapshot::from_bytes("mem", &bytes, Default::default()).unwrap();
    assert_eq!(
        m.lookup(0xffffffff9b4ecab0).unwrap().to_string(),
        b.lookup(0xffffffff9b4ecab0).unwrap().to_string()
    );
}

#[test]
fn builtin_module_lists() {
    let Some(d) = data() else { return };
    let mods = read_builtin_files(&d.join("modules.builtin")).unwrap();
    let listed = std::fs::read_to_string(d.join("modules.builtin"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(mods.len(), listed);
    let script = mods.iter().find(|m| m.name == "binfmt_script").unwrap();
    assert_eq!(script.path.as_deref(), Some("kernel/fs/binfmt_script.ko"));
    let uncore = mods.iter().find(|m| m.name == "amd_uncore").unwrap();
    assert_eq!(uncore.description.as_deref(), Some("AMD Uncore Driver"));
    assert_eq!(uncore.license.as_deref(), Some("GPL v2"));
}

#[test]
fn every_symbol_has_a_unique_spelling_that_resolves() {
    let Some(t) = table() else { return };
    let mut seen = std::collections::HashSet::with_capacity(t.len());
    let mut qualified = 0usize;
    for id in 0..t.len() as u32 {
        let id = SymbolId(id);
        let s = t.symbol(id).unwrap();
        let name = t.unique_name(id);
        if s.name.starts_with(".L") || s.name.starts_with('$') {
            // Mapping symbols (`.LC3`) answer no name lookup.
            assert!(t.resolve(&name).is_err(), "{name} resolved");
            continue;
        }
        if name != s.name {
            qualified += 1;
        }
        match t.resolve(&name) {
            Ok(addr) => assert_eq!(addr, s.start, "{name}"),
            Err(e) => panic!("{name}: {e}"),
        }
        assert!(seen.insert(name.into_owned()), "spelled twice");
    }
    let dups = t.duplicates();
    let repeated: usize = dups.iter().map(|d| d.count).sum();
    assert_eq!(qualified, repeated);
    eprintln!(
        "{} symbols, {} names repeat ({} symbols qualified)",
        t.len(),
        dups.len(),
        qualified
    );
    assert!(dups.len() > 1500, "{}", dups.len());
}
