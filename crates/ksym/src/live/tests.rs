//! Unit tests of the live view's parsers and kernel ABI layouts.

use super::fingerprint::modules_digest;
use super::perf::{parse_cpu_list, PerfEventAttr};
use super::uevent::is_module_uevent;

#[test]
fn modules_digest_ignores_refcount_and_users() {
    let a =
        b"ext4 1000 3 - Live 0xffffffffc0000000\njbd2 200 1 ext4, Live 0xffffffffc0100000 (E)\n";
    let b = b"ext4 1000 7 - Live 0xffffffffc0000000\njbd2 200 2 ext4,vfat, Live 0xffffffffc0100000 (E)\n";
    assert_eq!(modules_digest(a), modules_digest(b));
    let c = b"ext4 1000 3 - Unloading 0xffffffffc0000000\njbd2 200 1 ext4, Live 0xffffffffc0100000 (E)\n";
    assert_ne!(modules_digest(a), modules_digest(c));
    let d =
        b"ext4 1000 3 - Live 0xffffffffc0001000\njbd2 200 1 ext4, Live 0xffffffffc0100000 (E)\n";
    assert_ne!(modules_digest(a), modules_digest(d));
    assert_eq!(modules_digest(b"").count, 0);
}

#[test]
fn cpu_lists() {
    assert_eq!(
        parse_cpu_list("0-3,5,7-8\n"),
        Some(vec![0, 1, 2, 3, 5, 7, 8])
    );
    assert_eq!(parse_cpu_list("0\n"), Some(vec![0]));
    assert_eq!(parse_cpu_list(""), None);
    assert_eq!(parse_cpu_list("3-1"), None);
    assert_eq!(parse_cpu_list("x"), None);
}

#[test]
fn perf_attr_is_the_first_published_size() {
    assert_eq!(std::mem::size_of::<PerfEventAttr>(), 64); // PERF_ATTR_SIZE_VER0
    assert_eq!(std::mem::offset_of!(PerfEventAttr, flags), 40);
    assert_eq!(std::mem::offset_of!(PerfEventAttr, wakeup_watermark), 48);
}

#[test]
fn module_uevents() {
    assert!(is_module_uevent(
        b"add@/module/foo\0ACTION=add\0DEVPATH=/module/foo\0SUBSYSTEM=module\0SEQNUM=9\0"
    ));
    assert!(!is_module_uevent(
        b"add@/devices/x\0ACTION=add\0SUBSYSTEM=block\0MODULE=SUBSYSTEM=module\0"
    ));
}
