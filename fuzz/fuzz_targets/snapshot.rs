//! Snapshot files (`ksym::snapshot`), which the module doc calls untrusted
//! input that can make an answer wrong but never a lookup crash. The first
//! input byte picks a mode:
//!
//! - 0: the rest is symbol text; its table, saved and opened again (with
//!   `verify`), must answer every query exactly as the table itself.
//! - 1: the rest is patches `[offset u16 LE][len u8][len bytes]...` applied
//!   to a fixed valid snapshot (with a BPF program's functions and lines),
//!   which is then opened and queried: any panic is a bug, whatever the
//!   answers.
//! - 2: the rest is a whole snapshot file, opened and queried the same way.
#![no_main]

use std::sync::OnceLock;

use ksym::parse::bpf_lines::{BpfLinesSet, BpfProgLines};
use ksym::read::bpf_prog::{BpfProgInfo, LineRecord};
use ksym::snapshot::{self, Identity, OpenOptions};
use ksym::{LoadOptions, ModuleMap, SymbolTable};
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod common;

const MODULES: &[u8] = b"\
m 8192 0 - Live 0xffffffffc0000000
m\ttext\t0xffffffffc0000000\t0x1000
m2 4096 0 - Live 0xffffffffc0001000
";

fn identity() -> Identity {
    Identity {
        release: Some("6.12.0-fuzz".into()),
        build_id: Some("00ff".into()),
        boot_id: None,
        modules: Some(1),
        bpf: None,
        kaslr_slide: Some(-4096),
        created: Some(1),
    }
}

fn base() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let mut modules = ModuleMap::default();
        modules.add_text("fixed", MODULES).expect("fixed modules");
        let opts = LoadOptions {
            strict: true,
            modules: Some(modules),
            ..LoadOptions::default()
        };
        // The fixed table, and a run of 96 more core symbols so that the
        // snapshot holds a direct address index (buckets) to damage.
        let mut text = common::TEXT.to_vec();
        for i in 0..96u64 {
            let line = format!("{:016x} t run_{i}\n", 0xffff_ffff_8100_0400 + i * 0x30);
            text.extend_from_slice(line.as_bytes());
        }
        text.extend_from_slice(b"ffffffffa0001000 t bpf_prog_0102030405060708_p\t[bpf]\n");
        let t = ksym::parse_bytes("fixed", &text, &opts).expect("fixed table");
        let t = t.with_bpf_lines(BpfLinesSet::new(vec![bpf_program()]));
        snapshot::to_bytes(&t, &identity())
    })
}

/// A program at 0xffffffffa0001000 with a subprogram and three line
/// records, its BTF made by hand (two FUNC types and their strings).
fn bpf_program() -> BpfProgLines {
    let strings = b"\0p\0sub\0/src/p.c\0x = 1;\0";
    let types: [u32; 6] = [1, 12 << 24, 0, 3, 12 << 24, 0];
    let t: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut btf = vec![0x9f, 0xeb, 1, 0];
    for w in [24, 0, t.len(), t.len(), strings.len()] {
        btf.extend((w as u32).to_le_bytes());
    }
    btf.extend(&t);
    btf.extend(strings);
    let line = |insn_off, line: u32| LineRecord {
        insn_off,
        file_name_off: 7,
        line_off: 16,
        line_col: line << 10 | 3,
    };
    let start = 0xffff_ffff_a000_1000;
    let info = BpfProgInfo {
        id: 9,
        tag: [1, 2, 3, 4, 5, 6, 7, 8],
        name: "p".into(),
        jited_ksyms: vec![start, start + 0x100],
        jited_func_lens: vec![0x40, 0x20],
        btf_id: 1,
        func_info: vec![(0, 1), (8, 2)],
        line_info: vec![line(0, 4), line(2, 0), line(8, 9)],
        jited_line_info: vec![start, start + 0x10, start + 0x100],
    };
    BpfProgLines::new(&info, Some(&btf)).expect("the fixed program")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => round_trip(rest),
        1 => {
            let mut bytes = base().to_vec();
            let mut r = rest;
            while r.len() >= 3 {
                let off = usize::from(u16::from_le_bytes([r[0], r[1]])) % bytes.len();
                let n = usize::from(r[2]).min(r.len() - 3);
                for (i, &b) in r[3..3 + n].iter().enumerate() {
                    if let Some(x) = bytes.get_mut(off + i) {
                        *x = b;
                    }
                }
                r = &r[3 + n..];
            }
            open_and_query(&bytes);
        }
        _ => open_and_query(rest),
    }
});

fn round_trip(text: &[u8]) {
    let Ok(t) = ksym::parse_bytes("fuzz", text, &LoadOptions::default()) else {
        return;
    };
    let bytes = snapshot::to_bytes(&t, &identity());
    let (m, id) = snapshot::from_bytes("fuzz", &bytes, OpenOptions { verify: true })
        .unwrap_or_else(|e| panic!("a snapshot just written does not open: {e}"));
    assert_eq!(id, identity(), "identity changed through the snapshot");
    assert_eq!(m.len(), t.len());
    assert_eq!(m.answering_len(), t.answering_len());
    assert_eq!(m.module_map(), t.module_map());
    assert_eq!(
        m.module_names().collect::<Vec<_>>(),
        t.module_names().collect::<Vec<_>>()
    );
    assert_eq!(m.repeated_names(), t.repeated_names());
    for (a, b) in t.iter().zip(m.iter()) {
        assert_eq!(a, b, "symbol differs after the snapshot");
        assert_eq!(
            t.modules_of(a.id).collect::<Vec<_>>(),
            m.modules_of(b.id).collect::<Vec<_>>()
        );
    }
    let mut addrs = vec![0, u64::MAX];
    for s in t.iter().take(256) {
        addrs.extend([
            s.start,
            s.start.wrapping_sub(1),
            s.start.wrapping_add(s.size),
        ]);
        assert_eq!(
            t.find(s.name).collect::<Vec<_>>(),
            m.find(s.name).collect::<Vec<_>>(),
            "find({:?}) differs after the snapshot",
            s.name
        );
        let text = format!("{s}");
        assert_eq!(
            t.resolve(&text).ok(),
            m.resolve(&text).ok(),
            "resolve({text:?}) differs after the snapshot"
        );
    }
    for a in addrs {
        assert_eq!(
            t.lookup(a),
            m.lookup(a),
            "lookup({a:#x}) differs after the snapshot"
        );
        assert_eq!(t.lookup_absolute(a), m.lookup_absolute(a));
        assert_eq!(
            t.aliases(a).collect::<Vec<_>>(),
            m.aliases(a).collect::<Vec<_>>()
        );
    }
    assert_eq!(m.names_are_c_strings(), t.names_are_c_strings());
    // And the mapped table keeps every invariant of a built one.
    common::exercise(&m, text);
}

fn open_and_query(bytes: &[u8]) {
    for verify in [false, true] {
        match snapshot::from_bytes("fuzz", bytes, OpenOptions { verify }) {
            Ok((t, _)) => query(&t, bytes),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

/// Every query, no invariants: a damaged snapshot may answer wrongly.
fn query(t: &SymbolTable, data: &[u8]) {
    let _ = format!("{t:?}");
    let _ = t.info().format.describe();
    let _ = t.module_names().count();
    let _ = t.repeated_names();
    let _ = t.heap_bytes();
    let mut addrs: Vec<u64> = vec![0, 1, u64::MAX, 0xffffffff81000020, 0xffffffffc0000010];
    for chunk in data.chunks(8).take(8) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        addrs.push(u64::from_le_bytes(b));
    }
    let n = t.len().min(512);
    for id in 0..n as u32 + 2 {
        let id = ksym::SymbolId(id);
        if let Some(s) = t.symbol(id) {
            addrs.extend([
                s.start,
                s.start.wrapping_sub(1),
                s.start.wrapping_add(s.size),
            ]);
            let _ = format!("{s}");
            let _ = t.modules_of(id).count();
            let _ = t.find(s.name).count();
            let _ = t.find_in(s.module, s.name).count();
            let _ = t.resolve(&format!("{s}"));
        }
    }
    let _ = t.iter().take(512).count();
    for a in addrs {
        if let Some(s) = t.lookup(a) {
            let _ = t.resolve(&format!("{s}"));
            c_strings_hold(t, &s);
        }
        let _ = t.lookup_absolute(a);
        let _ = t.aliases(a).count();
        if let Some(l) = t.bpf_line(a) {
            assert!(l.start <= a && a - l.start < l.size, "{a:#x} {l:?}");
        }
    }
    for a in (0xffff_ffff_a000_0ff0..0xffff_ffff_a000_1130).step_by(3) {
        if let Some(l) = t.bpf_line(a) {
            assert!(l.start <= a && a - l.start < l.size, "{a:#x} {l:?}");
        }
    }
    for name in [
        "foo",
        "dup",
        "modfn",
        "_text",
        "fixed_percpu_data",
        "kfoo",
        "?",
        "",
    ] {
        let _ = t.find(name).count();
        let _ = t.find_in(Some("m"), name).count();
        let _ = t.resolve(name);
    }
}

/// What the C ABI relies on when a table says its names are C strings in
/// place: each name and module a lookup gives is, through `c_str_ptr`, its
/// bytes and then a NUL (a crafted name may hold NULs of its own: the C ABI
/// gives lengths too).
fn c_strings_hold(t: &SymbolTable, s: &ksym::Symbol<'_>) {
    if !t.names_are_c_strings() {
        return;
    }
    for text in std::iter::once(s.name).chain(s.module) {
        let p = t.c_str_ptr(text);
        assert!(!p.is_null(), "{text:?} is not in the arena");
        // SAFETY: what `names_are_c_strings` promises, and what this checks.
        let bytes = unsafe { std::slice::from_raw_parts(p, text.len() + 1) };
        assert_eq!(
            bytes.split_last(),
            Some((&0, text.as_bytes())),
            "{text:?} is not followed by a NUL in place"
        );
    }
}
