//! The C ABI's saved-file options (`modules`, `ko`) with source lines, on
//! the real 6.1 cloud data.

use std::ffi::CString;
use std::ptr::{null, null_mut};

use super::tests::{cstr, message, new_error};
use super::*;

/// A saved kallsyms opened with `modules` (a `/proc/modules` copy, no
/// layout) and `ko` (xfs with DWARF) and `lines`: xfs frames get their
/// size from the `.ko` and the lines its sections, placed by the module's
/// own symbols, give (as the library answers them).
#[test]
#[cfg(feature = "lines")]
#[cfg_attr(miri, ignore)] // decompresses megabytes of real data
fn module_lines_from_saved_files() {
    let dir = ksym_testdata::data_dir().join("debian-6.1.0-57-cloud");
    let c = |p: std::path::PathBuf| CString::new(p.to_str().unwrap()).unwrap();
    let (kallsyms, modules) = (c(dir.join("kallsyms.xz")), c(dir.join("proc-modules")));
    let xfs = c(dir.join("ko-debug/xfs.ko.xz"));
    let ko = [xfs.as_ptr(), null()];
    // SAFETY: all zeros is a valid ksym_open_options.
    let mut o: ksym_open_options = unsafe { std::mem::zeroed() };
    o.size = std::mem::size_of::<ksym_open_options>();
    o.cache = KSYM_CACHE_OFF;
    o.lines = 1;
    o.modules = modules.as_ptr();
    o.ko = ko.as_ptr();
    let (mut h, mut e) = (null_mut(), new_error());
    // SAFETY: valid arguments.
    let st = unsafe { ksym_open_file(kallsyms.as_ptr(), &o, &mut h, &mut e) };
    assert_eq!(st, KSYM_OK, "{}", message(&e));
    // The library's answer: the same files through its own calls.
    let mut map = ksym_core::ModuleMap::default();
    map.add_text("m", &std::fs::read(dir.join("proc-modules")).unwrap())
        .unwrap();
    let opts = ksym_core::LoadOptions {
        modules: Some(map),
        ..Default::default()
    };
    let table = ksym_core::load_file(&dir.join("kallsyms.xz"), &opts).unwrap();
    let elf = ksym_core::elf::read_elf(&dir.join("ko-debug/xfs.ko.xz")).unwrap();
    let table = ksym_core::elf::apply_modules(table, &[elf]).0;
    let mut lines = ksym_core::lines::SourceLines::new();
    let xfs_path = dir.join("ko-debug/xfs.ko.xz");
    ksym_core::table::ko_placement::add_module_lines(&mut lines, &table, "xfs", &xfs_path, None)
        .unwrap();
    let addrs: Vec<u64> = table
        .iter()
        .filter(|s| s.module == Some("xfs") && matches!(s.kind, 't' | 'T') && s.size > 8)
        .step_by(50)
        .map(|s| s.start + 8)
        .collect();
    let r = ksym_result_new();
    // SAFETY: valid arguments.
    let st = unsafe { ksym_symbolize(h, addrs.as_ptr(), addrs.len(), KSYM_ADDR_EXACT, r, &mut e) };
    assert_eq!(st, KSYM_OK, "{}", message(&e));
    // SAFETY: the result is live and filled.
    let frames = unsafe { &(*r).frames };
    let mut with_lines = 0;
    for (f, &a) in frames.iter().zip(&addrs) {
        let s = table.lookup(a).unwrap();
        assert_eq!((f.start, f.size), (s.start, s.size), "{a:#x}");
        let want = lines.frames(a).unwrap();
        assert_eq!(f.source_frame_count as usize, want.len(), "{a:#x}");
        if let Some(inner) = want.first() {
            with_lines += 1;
            assert_eq!(cstr(f.file), inner.file, "{a:#x}");
            assert_eq!(f.line, inner.line.unwrap_or(0), "{a:#x}");
        }
    }
    assert!(
        with_lines * 10 >= addrs.len() * 9,
        "{with_lines} of {}",
        addrs.len()
    );
    // SAFETY: from ksym_result_new and ksym_open_file, freed once.
    unsafe {
        ksym_result_free(r);
        ksym_close(h);
    }
    // The live kernel takes neither: its modules are the kernel's own.
    let mut live = null_mut();
    // SAFETY: valid arguments.
    let st = unsafe { ksym_open_live(&o, &mut live, &mut e) };
    assert_eq!(st, KSYM_ERR_INVALID_ARGUMENT);
    assert!(message(&e).contains("modules and .ko are for ksym_open_file"));
}
