//! The C ABI called as C would call it, on a small kallsyms file: frames and
//! their strings, reuse of a result, names, counters, and every argument
//! check. Runs under Miri too (`cargo +nightly miri test -p ksym-capi`,
//! with `MIRIFLAGS=-Zmiri-disable-isolation` for the file).

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};

use super::*;

const KALLSYMS: &str = "\
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81000100 T foo
ffffffff81000200 t bar
ffffffff81000300 T _etext
ffffffffc0000000 t modfn\t[m]
ffffffffc0000100 t foo\t[m]
";

pub(crate) fn new_error() -> ksym_error {
    ksym_error {
        size: std::mem::size_of::<ksym_error>(),
        status: -1,
        reserved: 0,
        message: [0; KSYM_ERROR_MESSAGE_LEN],
    }
}

pub(crate) fn message(e: &ksym_error) -> String {
    // SAFETY: the library NUL-terminates it.
    unsafe { CStr::from_ptr(e.message.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

pub(crate) fn cstr(p: *const c_char) -> Option<String> {
    // SAFETY: NULL or a string the result holds.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

fn open_sample(tag: &str) -> *mut ksym_symbolizer {
    let path = std::env::temp_dir().join(format!("ksym-capi-{tag}-{}", std::process::id()));
    std::fs::write(&path, KALLSYMS).unwrap();
    let c = CString::new(path.to_str().unwrap()).unwrap();
    let mut h = null_mut();
    let mut e = new_error();
    // SAFETY: valid arguments.
    let st = unsafe { ksym_open_file(c.as_ptr(), null(), &mut h, &mut e) };
    assert_eq!(st, KSYM_OK, "{}", message(&e));
    assert_eq!(e.status, KSYM_OK);
    std::fs::remove_file(&path).unwrap();
    h
}

#[test]
fn symbolize_find_and_count() {
    let h = open_sample("batch");
    let r = ksym_result_new();
    let mut e = new_error();
    let ips = [
        0xffffffff81000110u64,
        0xffffffffc0000104,
        0x1234,
        0xffffffff81000105,
    ];
    // SAFETY: valid handle, addresses, result and record.
    let st = unsafe { ksym_symbolize(h, ips.as_ptr(), ips.len(), KSYM_ADDR_EXACT, r, &mut e) };
    assert_eq!(st, KSYM_OK, "{}", message(&e));
    let mut n = 0;
    // SAFETY: a live result.
    let frames = unsafe { std::slice::from_raw_parts(ksym_result_frames(r, &mut n), n) };
    let text: Vec<String> = frames
        .iter()
        .map(|f| match cstr(f.name) {
            Some(name) => format!(
                "{name}+{:#x}/{:#x}{}",
                f.offset,
                f.size,
                cstr(f.module).map_or(String::new(), |m| format!(" [{m}]"))
            ),
            None => format!("{:#x} status {}", f.addr, f.status),
        })
        .collect();
    assert_eq!(
        text,
        [
            "foo+0x10/0x100",
            "foo+0x4/0x10000 [m]",
            "0x1234 status 1",
            "foo+0x5/0x100"
        ]
    );
    assert_eq!(frames[0].kind, b'T');
    // Ids: the same symbol the same id, raw frames none; one table serial.
    let ids: Vec<u32> = frames.iter().map(|f| f.symbol_id).collect();
    assert_eq!((ids[0], ids[2]), (ids[3], u32::MAX));
    assert_ne!(ids[0], ids[1]);
    assert_ne!(frames[0].table_serial, 0);
    assert!(frames
        .iter()
        .all(|f| f.table_serial == frames[0].table_serial));
    assert_eq!(
        (frames[1].name_len, frames[1].module_len, frames[2].name_len),
        (3, 1, 0)
    );
    // SAFETY: a live result.
    assert_arena_holds_the_names(unsafe { &*r });
    // Return addresses: ip - 1 is looked up, the offset stays from ip.
    let ret = [0xffffffff81000200u64];
    // SAFETY: as above; the result is reused.
    let st = unsafe { ksym_symbolize(h, ret.as_ptr(), 1, KSYM_ADDR_RETURN, r, null_mut()) };
    assert_eq!(st, KSYM_OK);
    // SAFETY: a live result.
    let f = unsafe { &*ksym_result_frames(r, &mut n) };
    assert_eq!(
        (n, cstr(f.name).as_deref(), f.offset),
        (1, Some("foo"), 0x100)
    );

    let mut addrs = [0u64; 1];
    let mut count = 0;
    let name = CString::new("foo").unwrap();
    // SAFETY: room for one address.
    let st = unsafe {
        ksym_find(
            h,
            name.as_ptr(),
            null(),
            addrs.as_mut_ptr(),
            1,
            &mut count,
            &mut e,
        )
    };
    assert_eq!(
        (st, count, addrs[0]),
        (KSYM_ERR_BUFFER_TOO_SMALL, 2, 0xffffffff81000100)
    );
    assert!(message(&e).contains("2 addresses"), "{}", message(&e));
    let core = CString::new("").unwrap();
    // SAFETY: as above.
    let st = unsafe {
        ksym_find(
            h,
            name.as_ptr(),
            core.as_ptr(),
            addrs.as_mut_ptr(),
            1,
            &mut count,
            &mut e,
        )
    };
    assert_eq!((st, count), (KSYM_OK, 1));
    let missing = CString::new("nope").unwrap();
    // SAFETY: as above.
    let st = unsafe {
        ksym_find(
            h,
            missing.as_ptr(),
            null(),
            null_mut(),
            0,
            &mut count,
            &mut e,
        )
    };
    assert_eq!((st, count), (KSYM_ERR_NOT_FOUND, 0));
    assert_eq!(message(&e), "no symbol named nope");

    // SAFETY: zeroed plain data.
    let mut stats: ksym_stats = unsafe { std::mem::zeroed() };
    stats.size = std::mem::size_of::<ksym_stats>();
    // SAFETY: valid handle and record.
    assert_eq!(
        unsafe { ksym_stats_get(h, &mut stats, null_mut()) },
        KSYM_OK
    );
    assert_eq!(
        (stats.batches, stats.ips, stats.resolved, stats.no_symbol),
        (2, 5, 4, 1)
    );
    assert_eq!((stats.symbols, stats.modules), (7, 1));
    // SAFETY: freed once each.
    unsafe {
        ksym_result_free(r);
        ksym_close(h);
    }
}

#[test]
fn bad_arguments_are_errors_not_crashes() {
    let mut e = new_error();
    let mut h = null_mut();
    // SAFETY: NULL path: refused.
    let st = unsafe { ksym_open_file(null(), null(), &mut h, &mut e) };
    assert_eq!(
        (st, message(&e).as_str()),
        (KSYM_ERR_INVALID_ARGUMENT, "path is NULL")
    );
    let missing = CString::new("/nonexistent/kallsyms").unwrap();
    // SAFETY: valid arguments.
    let st = unsafe { ksym_open_file(missing.as_ptr(), null(), &mut h, &mut e) };
    assert_eq!(st, KSYM_ERR_NOT_FOUND, "{}", message(&e));
    assert!(message(&e).contains("/nonexistent/kallsyms"));
    assert!(h.is_null());

    // Options: too small a size, reserved bytes set.
    // SAFETY: zeroed plain data.
    let mut o: ksym_open_options = unsafe { std::mem::zeroed() };
    o.size = 8;
    let path = CString::new("/proc/kallsyms").unwrap();
    // SAFETY: valid pointers.
    let st = unsafe { ksym_open_file(path.as_ptr(), &o, &mut h, &mut e) };
    assert_eq!(st, KSYM_ERR_INVALID_ARGUMENT);
    assert!(
        message(&e).contains("sizeof(ksym_open_options)"),
        "{}",
        message(&e)
    );
    o.size = std::mem::size_of::<ksym_open_options>();
    o.reserved[3] = 1;
    // SAFETY: valid pointers.
    let st = unsafe { ksym_open_file(path.as_ptr(), &o, &mut h, &mut e) };
    assert_eq!(
        (st, message(&e).as_str()),
        (
            KSYM_ERR_INVALID_ARGUMENT,
            "ksym_open_options: reserved bytes must be zero"
        )
    );

    // A NULL handle, NULL result, unknown kind.
    let r = ksym_result_new();
    // SAFETY: NULL handle: refused.
    let st = unsafe { ksym_symbolize(null(), null(), 0, 0, r, &mut e) };
    assert_eq!(st, KSYM_ERR_INVALID_ARGUMENT);
    let h = open_sample("args");
    // SAFETY: bad kind and NULL addresses with n > 0: refused.
    unsafe {
        assert_eq!(
            ksym_symbolize(h, null(), 0, 9, r, &mut e),
            KSYM_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            ksym_symbolize(h, null(), 3, 0, r, &mut e),
            KSYM_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            ksym_symbolize(h, null(), 0, 0, null_mut(), &mut e),
            KSYM_ERR_INVALID_ARGUMENT
        );
    }

    // A record of an older, smaller layout (only 8 bytes of message): the
    // message is cut to fit and nothing past it is touched (Miri checks).
    #[repr(C)]
    struct SmallError {
        size: usize,
        status: ksym_status,
        reserved: u32,
        message: [c_char; 8],
    }
    let mut small = SmallError {
        size: std::mem::size_of::<SmallError>(),
        status: -1,
        reserved: 0,
        message: [1; 8],
    };
    let small_ptr = std::ptr::addr_of_mut!(small).cast::<ksym_error>();
    // SAFETY: bad kind: refused, into the short record.
    let st = unsafe { ksym_symbolize(h, null(), 0, 9, r, small_ptr) };
    assert_eq!(
        (st, small.status),
        (KSYM_ERR_INVALID_ARGUMENT, KSYM_ERR_INVALID_ARGUMENT)
    );
    // SAFETY: NUL-terminated within its 8 bytes.
    let text = unsafe { CStr::from_ptr(small.message.as_ptr()) };
    assert_eq!(text.to_str().unwrap(), "unknown");
    // Options of a smaller layout (just `size`): refused, not read past.
    let tiny: usize = 8;
    let mut h2 = null_mut();
    // SAFETY: the options point at 8 readable bytes, as their size says.
    let st = unsafe {
        ksym_open_file(
            path.as_ptr(),
            std::ptr::addr_of!(tiny).cast(),
            &mut h2,
            &mut e,
        )
    };
    assert_eq!(st, KSYM_ERR_INVALID_ARGUMENT);
    assert!(message(&e).contains("less than"), "{}", message(&e));
    // SAFETY: freed once each; NULL is allowed.
    unsafe {
        ksym_result_free(r);
        ksym_close(h);
        ksym_close(null_mut());
        ksym_result_free(null_mut());
    }
    // SAFETY: a static string.
    assert_eq!(
        unsafe { CStr::from_ptr(ksym_version()) }.to_str().unwrap(),
        env!("CARGO_PKG_VERSION")
    );
}

/// `_Static_assert`s of a struct's size and every field's offset, as Rust
/// lays them out.
macro_rules! layout {
    ($t:ident, $($f:ident),+) => {{
        let mut c = format!(
            "_Static_assert(sizeof({}) == {}, \"sizeof {}\");\n",
            stringify!($t),
            std::mem::size_of::<$t>(),
            stringify!($t)
        );
        $(c.push_str(&format!(
            "_Static_assert(offsetof({t}, {f}) == {o}, \"{t}.{f}\");\n",
            t = stringify!($t),
            f = stringify!($f),
            o = std::mem::offset_of!($t, $f)
        ));)+
        c
    }};
}

/// The header's structs have the sizes and field offsets of this crate's:
/// a C file of static assertions, compiled against include/ksym.h.
#[test]
#[cfg_attr(miri, ignore)] // runs the C compiler
fn header_layout_matches_rust() {
    let mut c = String::from("#include <stddef.h>\n#include \"ksym.h\"\n");
    c += &layout!(ksym_error, size, status, reserved, message);
    c += &layout!(
        ksym_open_options,
        size,
        watch,
        cache,
        lines,
        reserved0,
        cache_dir,
        max_input_bytes,
        vmlinux,
        modules,
        ko,
        reserved
    );
    c += &layout!(
        ksym_frame,
        addr,
        start,
        offset,
        size,
        name,
        module,
        name_len,
        module_len,
        status,
        kind,
        reserved0,
        file,
        line,
        column,
        source_frames,
        source_frame_count,
        symbol_id,
        table_serial,
        section
    );
    c += &layout!(
        ksym_source_frame,
        function,
        file,
        function_len,
        file_len,
        line,
        column,
        inlined,
        reserved0,
        source_len,
        source,
        reserved
    );
    c += &layout!(
        ksym_stats,
        size,
        batches,
        failed_batches,
        ips,
        resolved,
        raw,
        no_symbol,
        failed_redacted,
        failed_permission,
        failed_other,
        symbols,
        modules,
        refreshes,
        lines_found,
        lines_missing,
        reserved
    );
    c += &layout!(
        ksym_host,
        size,
        release,
        build_id,
        boot_id,
        lockdown,
        kptr_restrict,
        perf_event_paranoid,
        has_modules,
        reserved0,
        reserved
    );
    let dir = std::env::temp_dir().join(format!("ksym-capi-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("layout.c");
    std::fs::write(&file, &c).unwrap();
    let include = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let out = match std::process::Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-fsyntax-only", "-I"])
        .arg(&include)
        .arg(&file)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            println!("SKIP: no C compiler (cc): {e}");
            return;
        }
    };
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}\n{c}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A result's names stay readable after its handle is closed (the result
/// keeps the table they point into), until the result is freed.
#[test]
fn names_outlive_the_handle() {
    let h = open_sample("outlive");
    let r = ksym_result_new();
    let ips = [0xffffffffc0000104u64];
    // SAFETY: valid handle, addresses and result.
    let st = unsafe { ksym_symbolize(h, ips.as_ptr(), 1, KSYM_ADDR_EXACT, r, null_mut()) };
    assert_eq!(st, KSYM_OK);
    // SAFETY: closed once; the result is still live.
    unsafe { ksym_close(h) };
    let mut n = 0;
    // SAFETY: a live result.
    let f = unsafe { &*ksym_result_frames(r, &mut n) };
    assert_eq!(
        (cstr(f.name), cstr(f.module)),
        (Some("foo".into()), Some("m".into()))
    );
    // SAFETY: freed once.
    unsafe { ksym_result_free(r) };
}

/// Names copied into the result (a table the result cannot keep) read the
/// same as names in place, and give the same ids.
#[test]
fn copied_names_match_names_in_place() {
    use ksym_core::stack::{Frames, Symbolizer};
    use std::sync::Arc;
    let table = ksym_core::parse_bytes("sample", KALLSYMS.as_bytes(), &Default::default()).unwrap();
    let ips = [
        0xffffffff81000110u64,
        0xffffffffc0000104,
        0x1234,
        0xffffffffc0000004,
    ];
    let read = |r: &ksym_result| -> Vec<(Option<String>, Option<String>, u32)> {
        r.frames
            .iter()
            .map(|f| (cstr(f.name), cstr(f.module), f.symbol_id))
            .collect()
    };
    let borrowed = Symbolizer::new(&table);
    let mut frames = Frames::new();
    borrowed.symbolize(&ips, &mut frames);
    let mut copied = ksym_result::default();
    copied.fill(&frames);
    copied.point();
    assert!(copied.table.is_none() && !copied.strings.is_empty());
    let shared = Symbolizer::new(crate::open::Source::Fixed(Arc::new(table.clone())));
    let mut frames = Frames::new();
    shared.symbolize(&ips, &mut frames);
    let mut in_place = ksym_result::default();
    in_place.fill(&frames);
    in_place.point();
    assert!(in_place.table.is_some() && in_place.strings.is_empty());
    assert_eq!(read(&copied), read(&in_place));
    assert_eq!(read(&copied)[3].0.as_deref(), Some("modfn"));
    // Only names in place are in an arena a caller may copy.
    let mut len = 1;
    // SAFETY: a live result.
    assert!(unsafe { ksym_result_names(&copied, &mut len) }.is_null());
    assert_eq!(len, 0);
    assert_arena_holds_the_names(&in_place);
}

/// `ksym_result_names` of `r` is one span that holds each frame's name and
/// module, their NULs too, and the span's bytes at their offsets are them.
fn assert_arena_holds_the_names(r: &ksym_result) {
    let mut len = 0;
    // SAFETY: a live result.
    let arena = unsafe { ksym_result_names(r, &mut len) };
    assert!(!arena.is_null() && len > 0);
    // SAFETY: the result's arena, `len` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(arena.cast::<u8>(), len) };
    let mut named = 0;
    for f in &r.frames {
        for (p, n) in [(f.name, f.name_len), (f.module, f.module_len)] {
            let Some(text) = cstr(p) else { continue };
            let at = (p as usize)
                .checked_sub(arena as usize)
                .expect("before the arena");
            let span = bytes.get(at..=at + n as usize).expect("past the arena");
            assert_eq!(
                (&span[..n as usize], span[n as usize]),
                (text.as_bytes(), 0)
            );
            named += 1;
        }
    }
    assert!(named > 0, "no frame had a name to check");
}

/// A module frame carries the module section its address is in, as a C
/// string of the table (kept alive by the result), when the table knows
/// the module's sections (here: a `/sys/module` tree as a live kernel
/// shows it, `.plt` after the module's last function); core and raw frames
/// have none.
#[test]
fn module_frames_say_their_section() {
    use ksym_core::stack::{Frames, Symbolizer};
    use std::sync::Arc;
    let sys = std::env::temp_dir().join(format!("ksym-capi-sections-{}", std::process::id()));
    for (name, at) in [
        (".text", "0xffffffffc0000000"),
        (".plt", "0xffffffffc0000180"),
        (".rodata", "0xffffffffc0001000"),
    ] {
        let dir = sys.join("m/sections");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), format!("{at}\n")).unwrap();
    }
    let mut modules = ksym_core::ModuleMap::default();
    modules
        .add_text("modules", b"m 8192 0 - Live 0xffffffffc0000000\n")
        .unwrap();
    modules.add_sysfs_sections(&sys, false).unwrap();
    std::fs::remove_dir_all(&sys).unwrap();
    let opts = ksym_core::LoadOptions {
        modules: Some(modules),
        ..Default::default()
    };
    let table = ksym_core::parse_bytes("sample", KALLSYMS.as_bytes(), &opts).unwrap();
    let shared = Symbolizer::new(crate::open::Source::Fixed(Arc::new(table)));
    let mut frames = Frames::new();
    let ips = [
        0xffffffffc0000104u64,
        0xffffffffc0000184,
        0xffffffff81000104,
        0x1234,
    ];
    shared.symbolize(&ips, &mut frames);
    let mut r = ksym_result::default();
    r.fill(&frames);
    r.point();
    let got: Vec<(Option<String>, Option<String>)> = r
        .frames
        .iter()
        .map(|f| (cstr(f.name), cstr(f.section)))
        .collect();
    let want = [
        (Some("foo"), Some(".text")),
        (Some("foo"), Some(".plt")),
        (Some("foo"), None),
        (None, None),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(n, s)| (n.map(String::from), s.map(String::from)))
        .collect();
    assert_eq!(got, want);
}
