//! The line table built from Debian's 6.1 cloud vmlinux (fetched by
//! `../shared/scripts/fetch-debug-vmlinux.sh` into `~/.cache/ksym-test-data/`;
//! skipped, saying so, without it): it answers every address exactly as the
//! DWARF does (and so does a batch read on threads), is at most a tenth of
//! the DWARF, and survives the private cache.

#![cfg(feature = "dwarf")]

mod common;

use ksym::lines::{build_line_table, DebugFile, LineContext, LineTable, Placement};

/// Addresses all over the text: a pseudo-random walk, and every byte of
/// a stretch of code, link-time.
fn addresses(file: &DebugFile) -> Vec<u64> {
    let text = file
        .sections()
        .iter()
        .find(|s| s.name == ".text")
        .expect("a .text");
    let mut out: Vec<u64> = (0..20_000u64)
        .map(|i| text.addr + (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20) % text.size)
        .collect();
    let middle = text.addr + text.size / 2;
    out.extend(middle..middle + 20_000);
    out
}

#[test]
fn the_table_answers_as_the_dwarf_does_in_a_tenth_of_its_size() {
    let Some(path) = common::debug_vmlinux() else {
        return;
    };
    let started = std::time::Instant::now();
    let table = build_line_table(DebugFile::open(&path).unwrap()).unwrap();
    let built = started.elapsed();
    let file = DebugFile::open(&path).unwrap();
    let dwarf = file.dwarf_bytes();
    let bytes = table.as_bytes().len() as u64;
    println!(
        "line table: {bytes} bytes from {dwarf} bytes of DWARF ({:.1}%), built in {:.2} s",
        bytes as f64 * 100.0 / dwarf as f64,
        built.as_secs_f64()
    );
    assert!(
        bytes * 10 <= dwarf,
        "{bytes} bytes is more than a tenth of {dwarf}"
    );
    assert_eq!(Some(table.build_id().to_string()), file.build_id_hex());
    assert_eq!(Some(table.text()), file.symbol_value("_text").unwrap());

    let addrs = addresses(&file);
    let context = LineContext::new(file, Placement::Slide(0)).unwrap();
    let (mut differ, mut with_lines) = (Vec::new(), 0);
    for &addr in &addrs {
        let want = context.frames(addr).unwrap();
        let got = table.frames(addr).unwrap();
        with_lines += usize::from(!want.is_empty());
        if got != want {
            differ.push(format!("{addr:#x}: table {got:?}\n  dwarf {want:?}"));
        }
    }
    println!("{} addresses, {with_lines} with lines", addrs.len());

    // A batch from nothing, its units read on three threads: the same.
    let fresh = LineContext::new(DebugFile::open(&path).unwrap(), Placement::Slide(0)).unwrap();
    for (i, got) in fresh.frames_batch(&addrs, 3).into_iter().enumerate() {
        let want = context.frames(addrs[i]).unwrap();
        if got.as_ref().ok() != Some(&want) {
            differ.push(format!("{:#x}: batch {got:?}\n  dwarf {want:?}", addrs[i]));
        }
    }
    assert!(with_lines > addrs.len() / 2, "most of the text has lines");
    assert!(
        differ.is_empty(),
        "{} of {} differ:\n{}",
        differ.len(),
        addrs.len(),
        differ[..differ.len().min(8)].join("\n")
    );

    // Through the private cache and back: the same bytes, mapped.
    let dir = std::env::temp_dir().join(format!("ksym-line-table-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let saved = ksym::snapshot::cache::store_line_table(&dir, &table).unwrap();
    let loaded = ksym::snapshot::cache::lookup_line_table(&dir, table.build_id())
        .unwrap()
        .expect("found by build-id");
    assert_eq!(loaded.as_bytes(), table.as_bytes());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", saved.display());
    let mut damaged = std::fs::read(&saved).unwrap();
    let at = damaged.len() / 2;
    damaged[at] ^= 1;
    std::fs::write(&saved, damaged).unwrap();
    let err = ksym::snapshot::cache::lookup_line_table(&dir, table.build_id()).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    let _ = LineTable::open(&saved).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A small program GCC built, with inlined calls, with its
/// `.debug_aranges` and without (units no arange names are asked too):
/// every address of its code answers from the table as from the DWARF.
#[test]
fn a_table_of_units_no_arange_names() {
    let dir = std::env::temp_dir().join(format!("ksym-table-small-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("x.c");
    std::fs::write(
        &source,
        "static inline int twice(int x) { return 2 * x; }\n\
         static inline int inner(int x) { return twice(x) + 1; }\n\
         int outer(int x) { return inner(x) * 3 + twice(x); }\n\
         int main(int argc, char **argv) { (void)argv; return outer(argc); }\n",
    )
    .unwrap();
    let exe = dir.join("x");
    let built = std::process::Command::new("gcc")
        .args([
            "-g",
            "-O2",
            "-no-pie",
            "-nostartfiles",
            "-Wl,-e,main",
            "-Wl,--build-id",
        ])
        .arg("-Wl,--defsym=_text=main")
        .arg("-o")
        .arg(&exe)
        .arg(&source)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("SKIP: gcc could not build the test program");
        return;
    }
    // And the same without any `.debug_aranges`, whatever GCC did.
    let bare = dir.join("x-bare");
    let stripped = std::process::Command::new("objcopy")
        .args(["--remove-section", ".debug_aranges"])
        .arg(&exe)
        .arg(&bare)
        .status();
    assert!(stripped.is_ok_and(|s| s.success()), "objcopy");
    for exe in [&exe, &bare] {
        let table = build_line_table(DebugFile::open(exe).unwrap()).unwrap();
        let file = DebugFile::open(exe).unwrap();
        let text = file
            .sections()
            .iter()
            .find(|s| s.name == ".text")
            .unwrap()
            .clone();
        let context = LineContext::new(file, Placement::Slide(0)).unwrap();
        let (mut with_lines, mut inlined) = (0, 0);
        for addr in text.addr..text.addr + text.size {
            let want = context.frames(addr).unwrap();
            assert_eq!(
                table.frames(addr).unwrap(),
                want,
                "{} at {addr:#x}",
                exe.display()
            );
            with_lines += usize::from(!want.is_empty());
            inlined += usize::from(want.len() > 1);
        }
        assert!(
            with_lines > 0 && inlined > 0,
            "{with_lines} with lines, {inlined} inlined"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
