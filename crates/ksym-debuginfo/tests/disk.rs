//! Finding DWARF on disk, in distribution layouts built under a temporary
//! root from the real Debian modules of `../shared/data`; build-ids are
//! read by binutils' `readelf`, not by the crate.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::*;
use ksym_debuginfo::{Config, DebugInfoFinder, Error, Origin};

const R: &str = "6.1.0-57-cloud-amd64";

fn finder(root: &Path) -> DebugInfoFinder {
    DebugInfoFinder::new(Config {
        root: root.to_path_buf(),
        cache_dir: None,
        ..Config::default()
    })
}

/// Where Debian's -dbg package puts a module: `kernel/<rel>` of the release.
fn in_debug_tree(root: &Path, rel: &str) -> PathBuf {
    root.join(format!("usr/lib/debug/lib/modules/{R}/kernel/{rel}"))
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

#[test]
fn debian_module_plain_and_by_build_id() {
    if !have("readelf", "debian_module_plain_and_by_build_id") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let ko = in_debug_tree(root.path(), "net/bridge/bridge.ko");
    unpack_ko("bridge", &ko);
    let id = bytes_of(&readelf_build_id(&ko));
    let found = finder(root.path())
        .find_module(R, "bridge", Some(&id))
        .unwrap();
    assert_eq!((found.path, found.origin), (ko.clone(), Origin::Disk));
    assert_eq!(found.build_id.as_deref(), Some(&id[..]));
    // Without a build-id (a kernel that does not show it), the file still
    // counts; with another release, nothing.
    assert_eq!(
        finder(root.path())
            .find_module(R, "bridge", None)
            .unwrap()
            .path,
        ko
    );
    let e = finder(root.path())
        .find_module("6.1.0-1-amd64", "bridge", Some(&id))
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("6.1.0-1-amd64"), "{e}");
}

#[test]
fn fedora_and_compressed_modules_with_dash_or_underscore() {
    if !have(
        "readelf",
        "fedora_and_compressed_modules_with_dash_or_underscore",
    ) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let dir = root
        .path()
        .join(format!("usr/lib/debug/lib/modules/{R}/kernel"));
    // Fedora's name, and the shared data's .ko.xz kept compressed.
    let plain = dir.join("drivers/net/net_failover.ko.debug");
    unpack_ko("net_failover", &plain);
    let xz = dir.join("drivers/virtio/virtio_ring.ko.xz");
    copy(&ko_xz("virtio_ring"), &xz);
    let unpacked = root.path().join("ring.ko");
    unpack_ko("virtio_ring", &unpacked);
    let f = finder(root.path());
    let id = bytes_of(&readelf_build_id(&plain));
    assert_eq!(
        f.find_module(R, "net-failover", Some(&id)).unwrap().path,
        plain
    );
    let id = bytes_of(&readelf_build_id(&unpacked));
    let found = f.find_module(R, "virtio-ring", Some(&id)).unwrap();
    assert_eq!(found.path, xz);
    assert_eq!(found.build_id, Some(id));
}

#[test]
fn another_build_is_refused_and_named() {
    if !have("readelf", "another_build_is_refused_and_named") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    // `fat` installed where `vfat` belongs: the kernel's vfat has another id.
    let wrong = in_debug_tree(root.path(), "fs/fat/vfat.ko");
    unpack_ko("fat", &wrong);
    let real = root.path().join("vfat.ko");
    unpack_ko("vfat", &real);
    let (found, wanted) = (readelf_build_id(&wrong), readelf_build_id(&real));
    assert_ne!(found, wanted);
    let e = finder(root.path())
        .find_module(R, "vfat", Some(&bytes_of(&wanted)))
        .unwrap_err();
    let text = e.to_string();
    let expected = format!(
        "found {} but its build-id is {found}, the kernel's is {wanted}",
        wrong.display()
    );
    assert!(text.contains(&expected), "{text}");
    match e {
        Error::Mismatch { mismatched, .. } => assert_eq!(mismatched[0].path, wrong),
        other => panic!("not a mismatch: {other}"),
    }
}

#[test]
fn vmlinux_in_each_layout_stripped_ones_passed_over() {
    if !have("readelf", "vmlinux_in_each_layout") || !have("objcopy", "vmlinux_in_each_layout") {
        return;
    }
    // Any ELF with DWARF and a build-id stands for a vmlinux here: the
    // finder reads only those two facts.
    let scratch = tempfile::tempdir().unwrap();
    let elf = scratch.path().join("fat.ko");
    unpack_ko("fat", &elf);
    let stripped = scratch.path().join("fat-stripped.ko");
    let st = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(&elf)
        .arg(&stripped)
        .status()
        .unwrap();
    assert!(st.success());
    let hex = readelf_build_id(&elf);
    let id = bytes_of(&hex);
    for layout in [
        format!("usr/lib/debug/boot/vmlinux-{R}"),
        format!("usr/lib/debug/lib/modules/{R}/vmlinux"),
        format!("usr/lib/debug/lib/modules/{R}/vmlinux.debug"),
        format!("usr/lib/debug/boot/vmlinux-{R}.debug"),
        format!("lib/modules/{R}/build/vmlinux"),
        format!("boot/vmlinux-{R}"),
        format!("usr/lib/debug/.build-id/{}/{}.debug", &hex[..2], &hex[2..]),
    ] {
        let root = tempfile::tempdir().unwrap();
        // The stripped one first in the search order, where /boot has it.
        let boot = root.path().join(format!("usr/lib/debug/boot/vmlinux-{R}"));
        if !layout.starts_with("usr/lib/debug/boot/vmlinux-") && !layout.contains(".build-id") {
            copy(&stripped, &boot);
        }
        let path = root.path().join(&layout);
        copy(&elf, &path);
        let found = finder(root.path()).find_vmlinux(R, Some(&id)).unwrap();
        assert_eq!(found.path, path, "{layout}");
    }
    // Only a stripped one: refused, saying why.
    let root = tempfile::tempdir().unwrap();
    let boot = root.path().join(format!("boot/vmlinux-{R}"));
    copy(&stripped, &boot);
    let e = finder(root.path()).find_vmlinux(R, Some(&id)).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(&format!("{}: no DWARF", boot.display())),
        "{text}"
    );
    assert!(
        text.contains("/usr/lib/debug/boot/vmlinux-6.1.0-57-cloud-amd64: absent"),
        "{text}"
    );
}

/// The real Debian vmlinux with DWARF (590 MB), when fetched: found in
/// Debian's place and timed.
#[test]
fn real_vmlinux_found_fast() {
    let home = std::env::var_os("HOME").unwrap_or_default();
    let real = Path::new(&home).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    if !real.is_file() {
        eprintln!(
            "SKIP real_vmlinux_found_fast: {} is absent (run ../shared/scripts/fetch-debug-vmlinux.sh)",
            real.display()
        );
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(format!("usr/lib/debug/boot/vmlinux-{R}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, &path).unwrap();
    let id = bytes_of("01d2640d3a13145ee314eb05b155f141b7b7058b");
    let start = Instant::now();
    let found = finder(root.path()).find_vmlinux(R, Some(&id)).unwrap();
    let took = start.elapsed();
    eprintln!("found the 590 MB vmlinux on disk, build-id checked, in {took:?}");
    assert_eq!(found.path, path);
}

#[test]
fn a_release_that_is_not_one_directory_is_not_searched() {
    let root = tempfile::tempdir().unwrap();
    let ko = root
        .path()
        .join("usr/lib/debug/lib/modules/x/kernel/net/llc/llc.ko");
    unpack_ko("llc", &ko);
    let f = finder(root.path());
    assert_eq!(f.find_module("x", "llc", None).unwrap().path, ko);
    for release in ["x/../x", "..", ""] {
        let e = f.find_module(release, "llc", None).unwrap_err();
        assert!(e.to_string().contains("not a plain name"), "{e}");
        let e = f.find_vmlinux(release, None).unwrap_err();
        assert!(e.to_string().contains("not a plain name"), "{e}");
    }
}

/// A compressed module's build-id is read through bounded decompression:
/// the largest of the shared modules, timed.
#[test]
fn compressed_xfs_found_by_build_id() {
    if !have("readelf", "compressed_xfs_found_by_build_id") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let xz = in_debug_tree(root.path(), "fs/xfs/xfs.ko.xz");
    copy(&ko_xz("xfs"), &xz);
    let plain = root.path().join("xfs.ko");
    unpack_ko("xfs", &plain);
    let id = bytes_of(&readelf_build_id(&plain));
    let start = Instant::now();
    let found = finder(root.path())
        .find_module(R, "xfs", Some(&id))
        .unwrap();
    eprintln!(
        "found xfs.ko.xz (43 MB unpacked), build-id checked, in {:?}",
        start.elapsed()
    );
    assert_eq!(found.path, xz);
}

/// A root laid out as the running kernel shows itself: the real
/// `/sys/kernel/notes` and release of the shared data, and module notes as
/// sysfs holds them (the `.note.gnu.build-id` section, cut out by objcopy).
#[test]
fn the_running_kernel_and_its_modules_as_sysfs_shows_them() {
    if !have("objcopy", "the_running_kernel_and_its_modules") {
        return;
    }
    let data = ko_debug_dir().parent().unwrap().to_path_buf();
    let root = tempfile::tempdir().unwrap();
    let at = |rel: &str| {
        let p = root.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        p
    };
    let release = std::fs::read_to_string(data.join("release")).unwrap();
    std::fs::write(at("proc/sys/kernel/osrelease"), &release).unwrap();
    std::fs::copy(data.join("notes.bin"), at("sys/kernel/notes")).unwrap();
    let vfat = in_debug_tree(root.path(), "fs/fat/vfat.ko");
    unpack_ko("vfat", &vfat);
    let st = Command::new("objcopy")
        .args(["-O", "binary", "--only-section=.note.gnu.build-id"])
        .arg(&vfat)
        .arg(at("sys/module/vfat/notes/.note.gnu.build-id"))
        .status()
        .unwrap();
    assert!(st.success());
    // A decoy of another build, met first in the walk (sorted paths).
    unpack_ko("fat", &in_debug_tree(root.path(), "drivers/vfat.ko"));
    let f = finder(root.path());
    assert_eq!(f.find_running_module("vfat").unwrap().path, vfat);

    // The core kernel: a file of another build in Debian's place is refused
    // with the running kernel's build-id (the data's vmlinux is 01d2640d...).
    let boot = root.path().join(format!("usr/lib/debug/boot/vmlinux-{R}"));
    copy(&vfat, &boot);
    let e = f.find_running_vmlinux().unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("the kernel's is 01d2640d3a13145ee314eb05b155f141b7b7058b"),
        "{text}"
    );
    let home = std::env::var_os("HOME").unwrap_or_default();
    let real = Path::new(&home).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    if real.is_file() {
        std::fs::remove_file(&boot).unwrap();
        std::os::unix::fs::symlink(&real, &boot).unwrap();
        assert_eq!(f.find_running_vmlinux().unwrap().path, boot);
    }
}
