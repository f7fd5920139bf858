//! Arbitrary bytes as `/proc/modules` or module layout text
//! (`ModuleMap::add_text`). When the input holds a line `%%`, the text before
//! it is the module map and the text after it symbol text bounded by that
//! map, so module areas and extents reach the table's size rules too.
#![no_main]

use ksym::read::limit::HEAD_BYTES;
use ksym::{LoadOptions, ModuleMap};
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod common;

/// Symbols of a few modules, used when the input has no symbol part.
const FIXED_SYMBOLS: &[u8] = b"\
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81000100 T core_fn
ffffffff81001000 T _etext
ffffffffc0000000 t m_text_fn\t[m]
ffffffffc0000800 t m_text_fn2\t[m]
ffffffffc0002000 d m_data\t[m]
ffffffffc0e50000 t stp_fn\t[stp]
ffffffffc0e51000 t __pfx_stp_rcv\t[stp]
ffffffffc0e51010 t stp_rcv\t[stp]
ffffffffc0efd000 t xfs_fn\t[xfs]
ffffffffc0f00000 t bpf_prog_1\t[bpf]
ffffffffc0f01000 t ftrace_trampoline\t[__builtin__ftrace]
";

fuzz_target!(|data: &[u8]| {
    let mut map = ModuleMap::default();
    let res = map.add_text("fuzz", data);
    match &res {
        Ok(()) => check_map(&map),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // The first-megabyte check never refuses text the parse takes with a
    // module in it: padded to a megabyte, its lines are still seen.
    if res.is_ok() && !map.modules.is_empty() {
        let mut head = data.to_vec();
        head.push(b'\n');
        head.resize(HEAD_BYTES.max(head.len()), 0);
        ksym::modules::check_modules_head("fuzz", &head[..HEAD_BYTES.max(data.len() + 1)])
            .expect("a list the parse takes passes the head check");
    } else {
        let _ = ksym::modules::check_modules_head("fuzz", data);
    }
    // Adding the same text twice gives the same modules (areas twice).
    if res.is_ok() {
        let mut again = map.clone();
        again
            .add_text("fuzz", data)
            .expect("the same text adds twice");
        assert_eq!(again.modules.len(), map.modules.len());
    }

    let (mod_text, sym_text) = match find_separator(data) {
        Some((a, b)) => (a, b),
        None if res.is_ok() => (data, FIXED_SYMBOLS),
        None => return,
    };
    let mut map = ModuleMap::default();
    if map.add_text("fuzz", mod_text).is_err() {
        return;
    }
    check_map(&map);
    let opts = LoadOptions {
        modules: Some(map),
        ..LoadOptions::default()
    };
    if let Ok(t) = ksym::parse_bytes("fuzz", sym_text, &opts) {
        common::exercise(&t, data);
    }
});

fn check_map(map: &ModuleMap) {
    let _ = map.is_redacted();
    for m in &map.modules {
        assert!(map.get(&m.name).is_some());
        for (s, e) in m.bounds() {
            assert!(
                s <= e,
                "module {:?} bounds end before start: {s:#x}..{e:#x}",
                m.name
            );
        }
        for a in &m.areas {
            assert!(a.end() >= a.start);
        }
    }
}

fn find_separator(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let pos = data.windows(4).position(|w| w == b"\n%%\n")?;
    Some((&data[..pos + 1], &data[pos + 4..]))
}
