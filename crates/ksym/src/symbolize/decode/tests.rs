//! Unit tests of the decoder, the text scanners, the JSON escaping and the
//! perf / bpftrace rewriting, over a small hand-made table.

use super::scan::{marker, scan_raw, scan_refs};
use super::*;
use crate::symbolize::json::json_str;
use crate::table::SymbolTable;

fn table() -> SymbolTable {
    crate::table::table_of(&[
        (0xffffffff81000000u64, 'T', "_stext", None),
        (0xffffffff81000100, 't', "__pfx_foo", None),
        (0xffffffff81000110, 't', "foo", None),
        (0xffffffff81000140, 'T', "bar", None),
        (0xffffffff81000180, 'T', "dup", None),
        (0xffffffff810001a0, 'T', "dup", None),
        (0xffffffff810001c0, 'T', "baz", None),
        (0xffffffff81000200, 'T', "_etext", None),
        (0xffffffffc0000000, 't', "modfn", Some("m")),
        (0xffffffffc0000100, 't', "modfn2", Some("m")),
    ])
}

#[test]
fn scanning() {
    let t = "[ 1.0] RIP: 0010:foo+0x5/0x30 [ext4 0123abcd] (bar.isra.0+0x1/0x2)";
    let r: Vec<&str> = scan_refs(t).into_iter().map(|r| &t[r]).collect();
    assert_eq!(r, ["foo+0x5/0x30 [ext4 0123abcd]", "bar.isra.0+0x1/0x2"]);
    assert!(scan_refs("x+0x/0x1 y+0x1/ z+0x1/0x2q").is_empty());
    let raw = scan_raw("[<ffffffff81000115>] [<zz>] [<1>]");
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[0].1, 0xffffffff81000115);
    assert_eq!(
        release_of("CPU: 0 PID: 1 Comm: x Tainted: G        W  OE   6.1.0-56-amd64 #1 Debian"),
        Some("6.1.0-56-amd64")
    );
    assert_eq!(release_of("Tainted: [W]=WARN"), None);
    assert_eq!(marker("[ 1.0]  </IRQ>"), Some((true, "IRQ")));
    assert_eq!(marker("[ 1.0] Code: 00 <48> 8b"), None);
}

#[test]
fn checks() {
    let t = table();
    let mut d = Decoder::new(&t);
    let l = d.decode_line("RIP: 0010:foo+0x5/0x30");
    assert_eq!(l.frames.len(), 1);
    let f = &l.frames[0];
    assert_eq!((f.form, &f.status), (FrameForm::Register, &Status::Ok));
    assert_eq!(f.addr, Some(0xffffffff81000115));
    d.decode_line("Call Trace:");
    d.decode_line(" <TASK>");
    let l = d.decode_line(" ? __pfx_foo+0x10/0x10");
    let f = &l.frames[0];
    assert_eq!(f.status, Status::Ok);
    assert!(!f.reliable);
    assert_eq!((f.form, f.context), (FrameForm::Trace, Some("TASK")));
    let l = d.decode_line(" foo+0x5/0x31");
    assert!(matches!(
        l.frames[0].status,
        Status::Mismatch(Mismatch::Size { trace: 0x31, .. })
    ));
    let l = d.decode_line(" foo+0x31/0x30");
    assert!(matches!(
        l.frames[0].status,
        Status::Mismatch(Mismatch::OffsetPastEnd { .. })
    ));
    let l = d.decode_line(" nosuch+0x1/0x2");
    assert_eq!(l.frames[0].status, Status::Mismatch(Mismatch::NoSuchName));
    let l = d.decode_line(" modfn+0x1/0x100");
    assert!(matches!(
        l.frames[0].status,
        Status::Mismatch(Mismatch::OtherModule { .. })
    ));
    let l = d.decode_line(" modfn+0x1/0x100 [m]");
    assert_eq!(l.frames[0].status, Status::Ok);
    let l = d.decode_line(" dup+0x1/0x20");
    assert_eq!((l.frames[0].candidates, l.frames[0].addr), (2, None));
    // Raw addresses in a trace are return addresses (%pB).
    let l = d.decode_line(" [<ffffffff81000140>]");
    assert_eq!(l.frames[0].status, Status::Raw);
    assert_eq!(l.frames[0].symbol.unwrap().to_string(), "foo+0x30/0x30");
    let l = d.decode_line(" ? 0xffffffff90000000");
    assert_eq!(l.frames[0].status, Status::Unresolved);
    assert!(!l.frames[0].reliable);
    // Address and reference together: they must agree.
    let l = d.decode_line(" [<ffffffff81000115>] ? foo+0x5/0x30");
    assert_eq!(l.frames.len(), 1);
    assert_eq!(l.frames[0].status, Status::Ok);
    assert!(!l.frames[0].reliable);
    let l = d.decode_line(" [<ffffffff81000116>] foo+0x5/0x30");
    assert!(matches!(
        l.frames[0].status,
        Status::Mismatch(Mismatch::Address { .. })
    ));
    let l = d.decode_line(" </TASK>");
    assert!(l.frames.is_empty());
    // Out of the trace, bare hex is no frame.
    assert!(d.decode_line(" 0xffffffff81000115").frames.is_empty());
    let l = d.decode_line("RIP: 0010:0xffffffff81000115");
    assert_eq!(l.frames[0].status, Status::Raw);
    assert_eq!(l.frames[0].form, FrameForm::Register);
    assert!(d.decode_line("RIP: 0033:0x7f0123456789").frames.is_empty());
    let l = d.decode_line("RIP: 0010:[<ffffffff81000115>]  [<ffffffff81000115>] foo+0x5/0x30");
    assert_eq!(l.frames.len(), 1);
    assert_eq!(
        (l.frames[0].form, &l.frames[0].status),
        (FrameForm::Register, &Status::Ok)
    );
    let l = d.decode_line("pc : foo+0x5/0x30");
    assert_eq!(l.frames[0].form, FrameForm::Register);
}

#[test]
fn release_warning() {
    let t = table();
    let mut d = Decoder::new(&t).table_release(Some("6.18.44".into()));
    let l = d.decode_line("CPU: 2 UID: 0 PID: 1 Comm: x Not tainted 6.12.117+deb12-amd64 #1");
    assert!(matches!(l.warning, Some(Warning::ReleaseDiffers { .. })));
    assert_eq!(d.trace_release(), Some("6.12.117+deb12-amd64"));
    let l = d.decode_line("CPU: 2 UID: 0 PID: 1 Comm: x Not tainted 6.18.44 #1");
    assert_eq!(l.warning, None);
}

#[test]
fn rewrites() {
    let t = table();
    let perf = "\t ffffffff81000115 [unknown] ([unknown])";
    assert_eq!(
        rewrite_line(&t, RewriteFormat::Perf, perf).unwrap(),
        "\t ffffffff81000115 foo+0x5 ([kernel.kallsyms])"
    );
    let two = "ffffffffc0000001 [unknown] ([kernel.kallsyms]) ffffffff81000141 [unknown]";
    assert_eq!(
        rewrite_line(&t, RewriteFormat::Auto, two).unwrap(),
        "ffffffffc0000001 modfn+0x1 ([kernel.kallsyms]) ffffffff81000141 bar+0x1"
    );
    assert_eq!(
        rewrite_line(&t, RewriteFormat::Perf, "1234 [unknown]"),
        None
    );
    assert_eq!(
        rewrite_line(&t, RewriteFormat::Bpftrace, "        0xffffffff81000141").unwrap(),
        "        bar+1"
    );
    assert_eq!(
        rewrite_line(&t, RewriteFormat::Bpftrace, "@[12345]: 3"),
        None
    );
    assert_eq!(rewrite_line(&t, RewriteFormat::Bpftrace, "  0x1234"), None);
}

#[test]
fn json_escapes() {
    let mut s = String::new();
    json_str(&mut s, "a\"b\\c\n\u{1}");
    assert_eq!(s, r#""a\"b\\c\n\u0001""#);
}

#[test]
fn user_registers_inside_a_trace_are_no_frames() {
    // SysRq `l` prints each CPU's user registers between <TASK> and </TASK>.
    let t = table();
    let mut d = Decoder::new(&t);
    d.decode_line("Call Trace:");
    d.decode_line(" <TASK>");
    for user in ["RIP: 0033:0x7f7033d1138f", "[ 5.1] RIP: 0023:0x460a63"] {
        assert!(d.decode_line(user).frames.is_empty(), "{user}");
    }
    // Nor a small number on a line of its own (a piece of a SysRq `t`
    // task line, seen on 6.12 arm64), nor a user address.
    for number in ["0xc0", "[ 5.2] 0xc0", " 0x00007ffd5c1e8f40"] {
        assert!(d.decode_line(number).frames.is_empty(), "{number}");
    }
    // A bare address in the same trace still is one.
    assert_eq!(d.decode_line(" 0xffffffff81000115").frames.len(), 1);
    d.decode_line(" </TASK>");
}

#[test]
fn task_headers_are_no_frames() {
    // SysRq `t` prints a header before each task's trace; how the dump
    // interleaves decides whether one falls inside a trace, so each form is
    // checked both inside and outside one.
    let t = table();
    let headers = [
        // x86_64, 6.1 (as the lockdown boot of the QEMU suite printed it).
        "task:init state:S stack:0 pid:1 ppid:0 flags:0x00000002",
        // arm64, 6.12, with its timestamp and padding.
        "[    7.559700] task:kthreadd        state:S stack:0     pid:2     tgid:2     ppid:0      flags:0x00000008",
        "[    7.558961] task:init            state:R  running task     stack:0     pid:1     tgid:1     ppid:0      flags:0x00800000",
        // Through the journal, with its prefix.
        "Dec 07 host kernel: task:kworker/0:1 state:I stack:0 pid:9 ppid:2 flags:0x00004000",
        // A task whose flags happen to look like a kernel address.
        "task:x state:S stack:0 pid:1 ppid:0 flags:0xffffffff81000115",
    ];
    for inside in [false, true] {
        let mut d = Decoder::new(&t);
        if inside {
            d.decode_line("Call Trace:");
            d.decode_line(" <TASK>");
        }
        for h in headers {
            let l = d.decode_line(h);
            assert!(l.frames.is_empty(), "inside={inside}: {h}: {:?}", l.frames);
        }
        // A frame after the header still is one.
        let expect = usize::from(inside);
        assert_eq!(d.decode_line(" 0xffffffff81000115").frames.len(), expect);
        assert_eq!(d.decode_line(" foo+0x5/0x30").frames.len(), 1);
    }
}

#[test]
fn key_value_fields_are_no_frames() {
    // Any `key:0x...` field of a line that is not a frame, inside a trace.
    let t = table();
    let mut d = Decoder::new(&t);
    d.decode_line("Call Trace:");
    for line in [
        "[ 1.0] flags:0x00000002",
        "some state mask:0xffffffff81000115",
        "kernel:0xffffffff81000115",
    ] {
        assert!(d.decode_line(line).frames.is_empty(), "{line}");
    }
    // The prefix forms a bare frame does follow.
    for line in [
        "[ 1.0]  ? 0xffffffff81000115",
        "Dec 07 host kernel:  0xffffffff81000115",
        "0xffffffff81000115",
    ] {
        assert_eq!(d.decode_line(line).frames.len(), 1, "{line}");
    }
}
