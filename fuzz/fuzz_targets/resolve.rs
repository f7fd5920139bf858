//! Arbitrary UTF-8 as a `name+0xoff/0xsize [module]` reference:
//! `SymbolRef::parse`, and `resolve` on a small fixed table.
#![no_main]

use std::sync::OnceLock;

use ksym::{Error, ResolveErrorKind, SymbolRef, SymbolTable};
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod common;

fn table() -> &'static SymbolTable {
    static T: OnceLock<SymbolTable> = OnceLock::new();
    T.get_or_init(|| {
        ksym::parse_bytes("fixed", common::TEXT, &Default::default()).expect("fixed table")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let t = table();
    let parsed = SymbolRef::parse(text);
    if let Ok(r) = parsed {
        assert!(!r.name.is_empty(), "parsed an empty name from {text:?}");
        assert!(
            !r.name.contains(char::is_whitespace),
            "parsed a name with whitespace from {text:?}: {r:?}"
        );
        if let Some(m) = r.module {
            assert!(!m.is_empty(), "parsed an empty module from {text:?}");
        }
        // The canonical text of a reference parses back to it.
        let mut canon = String::new();
        if let Some(p) = r.path {
            canon += &format!("{p}:");
        }
        canon += r.name;
        if let Some(k) = r.ordinal {
            canon += &format!("#{k}");
        }
        canon += &format!("+{:#x}", r.offset);
        if let Some(size) = r.size {
            canon += &format!("/{size:#x}");
        }
        if let Some(m) = r.module {
            canon += &format!(" [{m}]");
        }
        if let Some(o) = r.object {
            canon += &format!(" {{{o}}}");
        }
        let again = SymbolRef::parse(&canon).unwrap_or_else(|e| {
            panic!("{text:?} parsed as {r:?}, its text {canon:?} does not: {e}")
        });
        assert_eq!(again, r, "{text:?} -> {canon:?} does not round-trip");
    }
    match t.resolve(text) {
        Ok(addr) => {
            let r = parsed.expect("resolve succeeded on text SymbolRef::parse rejects");
            let candidates: Vec<_> = t.find(r.name).collect();
            assert!(
                candidates
                    .iter()
                    .any(|s| s.start.wrapping_add(r.offset) == addr
                        && r.size.is_none_or(|z| z == s.size)
                        && (r.offset <= s.size || s.size == 0)),
                "resolve({text:?}) = {addr:#x} matches no symbol of that name: {candidates:?}"
            );
        }
        Err(Error::Resolve { kind, .. }) => match kind {
            ResolveErrorKind::Syntax(_) => assert!(parsed.is_err()),
            ResolveErrorKind::NotFound => {
                let r = parsed.expect("NotFound after a good parse");
                if r.module.is_none()
                    && r.path.is_none()
                    && r.object.is_none()
                    && r.ordinal.is_none()
                {
                    let n = t.find(r.name).count();
                    assert_eq!(n, 0, "resolve({text:?}) said not found, find gives {n}");
                }
            }
            ResolveErrorKind::Ambiguous(starts) => assert!(starts.len() >= 2),
            ResolveErrorKind::SizeMismatch { found, .. } => assert!(!found.is_empty()),
            ResolveErrorKind::OffsetOutside { offset, size } => assert!(offset > size && size > 0),
            #[allow(unreachable_patterns)]
            _ => {}
        },
        Err(e) => panic!("resolve({text:?}) gave a non-resolve error: {e}"),
    }
    // Short inputs also as bare names.
    if text.len() <= 64 {
        let _ = t.find(text).count();
        let _ = t.find_in(Some(text), "dup").count();
    }
});
