//! Unit tests of source lines on small inputs: paths as the kernel prints
//! them, relocation patches, section placement, frames as text.

use super::context::build_relative;
use super::relocate::{apply, Patch};
use super::*;

#[test]
fn paths_are_relative_to_the_build_directory() {
    let rel = "debian/build/build_amd64_none_cloud-amd64";
    let abs = "/build/reproducible-path/linux-6.1.192/debian/build/build_amd64_none_cloud-amd64";
    let cases = [
        // C units: the tools join the relative comp_dir; `.` goes.
        (
            format!("{rel}/fs/xfs/./xfs_trace.h"),
            Some(rel),
            "fs/xfs/xfs_trace.h",
        ),
        (
            format!("{rel}/fs/xfs/xfs_inode.c"),
            Some(rel),
            "fs/xfs/xfs_inode.c",
        ),
        // Assembler units: absolute build directory, files in the source tree.
        (
            format!("{abs}/arch/x86/entry/thunk_64.S"),
            Some(abs),
            "arch/x86/entry/thunk_64.S",
        ),
        (
            "/build/reproducible-path/linux-6.1.192/arch/x86/entry/entry_64.S".to_string(),
            Some(abs),
            "arch/x86/entry/entry_64.S",
        ),
        // Outside the tree: GCC's headers stay absolute.
        (
            "/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h".to_string(),
            Some(abs),
            "/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h",
        ),
        // No comp_dir, or a prefix that is not a whole directory.
        (
            "kernel/sched/core.c".to_string(),
            None,
            "kernel/sched/core.c",
        ),
        (
            format!("{rel}x/a.c"),
            Some(rel),
            "debian/build/build_amd64_none_cloud-amd64x/a.c",
        ),
        ("./a//b/./c.h".to_string(), Some(""), "a/b/c.h"),
    ];
    for (path, dir, want) in cases {
        assert_eq!(build_relative(&path, dir), want, "{path} in {dir:?}");
    }
}

#[test]
fn patches_write_the_value_in_the_file_order() {
    let mut bytes = [0u8; 16];
    let patches = [
        Patch {
            offset: 0,
            width: 8,
            value: 0xffff_ffff_c003_a01a,
        },
        Patch {
            offset: 8,
            width: 4,
            value: 0x1234_5678,
        },
    ];
    apply(&mut bytes, &patches, true);
    assert_eq!(
        u64::from_le_bytes(bytes[..8].try_into().unwrap()),
        0xffff_ffff_c003_a01a
    );
    assert_eq!(&bytes[8..12], &[0x78, 0x56, 0x34, 0x12]);
    assert_eq!(&bytes[12..], &[0; 4]);
    let mut big = [0u8; 4];
    apply(
        &mut big,
        &patches[1..]
            .iter()
            .map(|p| Patch { offset: 0, ..*p })
            .collect::<Vec<_>>(),
        false,
    );
    assert_eq!(big, [0x12, 0x34, 0x56, 0x78]);
    // A patch past the end is left out (bounds were checked when made).
    apply(
        &mut big,
        &[Patch {
            offset: 2,
            width: 4,
            value: 1,
        }],
        true,
    );
    assert_eq!(big, [0x12, 0x34, 0x56, 0x78]);
}

#[test]
fn placements_name_sections() {
    let p = Placement::Sections(vec![
        (".text".into(), 0x1000),
        (".text.unlikely".into(), 0x2000),
    ]);
    assert_eq!(p.address_of(".text.unlikely"), 0x2000);
    assert_eq!(p.address_of(".init.text"), 0);
    assert_eq!(
        Placement::Slide(0x2c00_0000).address_of(".text"),
        0x2c00_0000
    );
}

#[test]
fn frames_print_like_addr2line() {
    let mut frame = SourceFrame {
        function: Some("xfs_buf_ispinned".into()),
        file: Some("fs/xfs/xfs_buf.h".into()),
        line: Some(334),
        column: Some(9),
        inlined: true,
        source: None,
    };
    assert_eq!(
        frame.to_string(),
        "inlined xfs_buf_ispinned at fs/xfs/xfs_buf.h:334:9"
    );
    frame.inlined = false;
    frame.column = None;
    frame.function = None;
    assert_eq!(frame.to_string(), "?? at fs/xfs/xfs_buf.h:334");
}

#[test]
fn files_that_are_not_elf_are_refused_by_name() {
    for bytes in [Vec::new(), b"\x7fELF".to_vec(), vec![0u8; 100]] {
        let e = DebugFile::from_bytes("junk.ko", bytes)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("junk.ko: "), "{e}");
    }
}
