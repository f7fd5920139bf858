//! Source lines from damaged or unusual files: truncated modules, corrupted
//! DWARF, `SHF_COMPRESSED` debug sections (good ones, and ones whose sizes
//! lie), relocation types ksym does not know. Each must give a clear error
//! naming the file, or no line, never a panic, a hang or a wrong answer.

#![cfg(feature = "dwarf")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ksym::lines::{DebugFile, LineContext, Placement, SourceFrame};

/// A real module with DWARF, decompressed: `virtio` (small, 40 functions).
fn virtio_ko() -> Vec<u8> {
    let path = common::data_dir().join("debian-6.1.0-57-cloud/ko-debug/virtio.ko.xz");
    let bytes = std::fs::read(path).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut xz2::read::XzDecoder::new(&bytes[..]), &mut plain).unwrap();
    plain
}

/// Each code section at its own address, 1 MiB apart.
fn placement(file: &DebugFile) -> (Placement, Vec<(u64, u64)>) {
    let mut list = Vec::new();
    let mut ranges = Vec::new();
    for (i, s) in file.code_sections().enumerate() {
        let at = 0xffff_ffff_c000_0000 + (i as u64) * 0x10_0000;
        list.push((s.name.clone(), at));
        ranges.push((at, s.size));
    }
    (Placement::Sections(list), ranges)
}

/// The frames at every 7th byte of every code section, or the first error.
fn answers(name: &str, bytes: Vec<u8>) -> ksym::Result<Vec<Vec<SourceFrame>>> {
    let file = DebugFile::from_bytes(name, bytes)?;
    let (placement, ranges) = placement(&file);
    let context = LineContext::new(file, placement)?;
    let mut out = Vec::new();
    for (start, size) in ranges {
        for addr in (start..start + size).step_by(7) {
            out.push(context.frames(addr)?);
        }
    }
    Ok(out)
}

/// An error must name the file.
fn named(result: &ksym::Result<Vec<Vec<SourceFrame>>>, name: &str) {
    if let Err(e) = result {
        assert!(
            e.to_string().contains(name),
            "error without the file's name: {e}"
        );
    }
}

#[test]
fn the_good_file_answers() {
    let all = answers("virtio.ko", virtio_ko()).unwrap();
    let with_lines = all.iter().filter(|f| !f.is_empty()).count();
    assert!(
        with_lines * 10 > all.len() * 8,
        "{with_lines} of {}",
        all.len()
    );
}

#[test]
fn truncated_files_are_refused_or_answered_never_a_panic() {
    let bytes = virtio_ko();
    let n = bytes.len();
    let mut refused = 0;
    for cut in [
        0,
        4,
        16,
        63,
        64,
        1000,
        n / 4,
        n / 2,
        n - 4096,
        n - 64,
        n - 1,
    ] {
        let result = answers("virtio-cut.ko", bytes[..cut].to_vec());
        named(&result, "virtio-cut.ko");
        refused += usize::from(result.is_err());
    }
    // The section headers are at the end: every cut loses them.
    assert_eq!(refused, 11);
}

/// Offset and size of section `name` in the file.
fn section(bytes: &[u8], name: &str) -> (usize, usize) {
    let file = DebugFile::from_bytes("probe", bytes.to_vec()).unwrap();
    let s = file.sections().iter().find(|s| s.name == name).unwrap();
    (s.file_offset as usize, s.size as usize)
}

#[test]
fn corrupted_dwarf_gives_errors_or_no_lines_never_a_panic() {
    let bytes = virtio_ko();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut errors = 0;
    let mut runs = 0;
    for name in [
        ".debug_info",
        ".debug_abbrev",
        ".debug_line",
        ".debug_rnglists",
        ".debug_aranges",
        ".debug_str",
    ] {
        let (offset, size) = section(&bytes, name);
        for _ in 0..12 {
            let mut bad = bytes.clone();
            for _ in 0..24 {
                let at = offset + (next() as usize) % size;
                bad[at] = next() as u8;
            }
            let result = answers("virtio-bad.ko", bad);
            named(&result, "virtio-bad.ko");
            errors += usize::from(result.is_err());
            runs += 1;
        }
    }
    eprintln!("{errors} of {runs} corrupted files gave an error");
}

/// An empty debug section whose offset is far past the end of the file
/// (`object` checks a section's bytes, not an empty one's offset; found by
/// the `lines` fuzz target): an error naming the file, never a panic.
#[test]
fn an_empty_section_past_the_end_is_refused() {
    let mut bytes = virtio_ko();
    let file = DebugFile::from_bytes("probe", bytes.clone()).unwrap();
    let index = file
        .sections()
        .iter()
        .find(|s| s.name == ".debug_str")
        .unwrap()
        .index;
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let shoff = u64_at(&bytes, 0x28) as usize;
    let shentsize = u16::from_le_bytes([bytes[0x3a], bytes[0x3b]]) as usize;
    let header = shoff + index * shentsize;
    bytes[header + 0x18..header + 0x20].copy_from_slice(&(1u64 << 52).to_le_bytes());
    bytes[header + 0x20..header + 0x28].copy_from_slice(&0u64.to_le_bytes());
    let result = answers("far.ko", bytes);
    named(&result, "far.ko");
    let err = result.unwrap_err().to_string();
    assert!(err.contains("outside the file"), "{err}");
}

fn objcopy() -> Option<()> {
    let found = Command::new("objcopy").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIP: objcopy (binutils) is not installed");
    }
    found.then_some(())
}

/// `bytes` with its debug sections compressed by objcopy (`zlib`, `zstd`).
fn compressed(bytes: &[u8], format: &str) -> Option<Vec<u8>> {
    objcopied(bytes, &format!("--compress-debug-sections={format}"))
}

/// `bytes` through `objcopy ARG`.
fn objcopied(bytes: &[u8], arg: &str) -> Option<Vec<u8>> {
    let format = arg.trim_start_matches('-').replace(['=', '.'], "-");
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "ksym-lines-z-{}-{call}-{format}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (plain, packed): (PathBuf, PathBuf) = (dir.join("plain.ko"), dir.join("packed.ko"));
    std::fs::write(&plain, bytes).unwrap();
    let out = Command::new("objcopy")
        .arg(arg)
        .args([&plain, &packed])
        .output()
        .unwrap();
    let result = out
        .status
        .success()
        .then(|| std::fs::read(&packed).unwrap());
    if result.is_none() {
        eprintln!(
            "SKIP {format}: objcopy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(Path::new(&dir)).ok();
    result
}

const SHF_COMPRESSED: u64 = 0x800;

#[test]
fn compressed_debug_sections_answer_as_plain_ones() {
    let Some(()) = objcopy() else { return };
    let bytes = virtio_ko();
    let want = answers("virtio.ko", bytes.clone()).unwrap();
    for format in ["zlib", "zstd"] {
        let Some(packed) = compressed(&bytes, format) else {
            continue;
        };
        let file = DebugFile::from_bytes("packed", packed.clone()).unwrap();
        let info = file
            .sections()
            .iter()
            .find(|s| s.name == ".debug_info")
            .unwrap();
        assert_ne!(
            info.flags & SHF_COMPRESSED,
            0,
            "{format}: .debug_info not compressed"
        );
        let got = answers(&format!("virtio-{format}.ko"), packed).unwrap();
        assert!(
            got == want,
            "{format}: answers differ from the plain file's"
        );
    }
}

#[test]
fn without_aranges_the_answers_are_the_same() {
    // `.debug_aranges` indexes the units; without it (or with one that does
    // not fit) every unit is found through its own ranges.
    let Some(()) = objcopy() else { return };
    let bytes = virtio_ko();
    let want = answers("virtio.ko", bytes.clone()).unwrap();
    let Some(stripped) = objcopied(&bytes, "--remove-section=.debug_aranges") else {
        return;
    };
    let file = DebugFile::from_bytes("stripped", stripped.clone()).unwrap();
    assert!(file.sections().iter().all(|s| s.name != ".debug_aranges"));
    assert!(answers("virtio-no-aranges.ko", stripped).unwrap() == want);
}

#[test]
fn compressed_sections_whose_sizes_lie_are_refused() {
    let Some(()) = objcopy() else { return };
    let Some(packed) = compressed(&virtio_ko(), "zlib") else {
        return;
    };
    let (offset, _) = section(&packed, ".debug_info");
    // Elf64_Chdr: ch_type, ch_reserved (4 bytes each), ch_size (8).
    let size_at = offset + 8;
    let true_size = u64::from_le_bytes(packed[size_at..size_at + 8].try_into().unwrap());
    for (lie, says) in [
        (true_size - 1, "not the"),
        (true_size + 1, "not the"),
        (1 << 40, "claim to expand"),
    ] {
        let mut bad = packed.clone();
        bad[size_at..size_at + 8].copy_from_slice(&lie.to_le_bytes());
        let e = answers("virtio-lie.ko", bad).unwrap_err().to_string();
        assert!(
            e.contains("virtio-lie.ko") && e.contains(".debug_info") && e.contains(says),
            "{e}"
        );
    }
}

#[test]
fn unknown_relocation_types_are_errors_naming_the_file() {
    let mut bytes = virtio_ko();
    let (offset, _) = section(&bytes, ".rela.debug_info");
    // Elf64_Rela: r_offset, r_info (symbol << 32 | type), r_addend.
    let info_at = offset + 8;
    bytes[info_at..info_at + 4].copy_from_slice(&0xfeu32.to_le_bytes());
    let e = answers("virtio-reloc.ko", bytes).unwrap_err().to_string();
    assert!(
        e.contains("virtio-reloc.ko") && e.contains("relocation type 254"),
        "{e}"
    );
}

#[test]
fn placements_must_fit_the_file() {
    let file = DebugFile::from_bytes("virtio.ko", virtio_ko()).unwrap();
    let e = LineContext::new(file, Placement::Slide(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("virtio.ko") && e.contains("each section"), "{e}");
}
