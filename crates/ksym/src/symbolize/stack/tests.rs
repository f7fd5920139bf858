//! Unit tests of batch symbolization: frame kinds and counts, large batches
//! against one-by-one lookups, and failed sources.

use super::*;

fn table() -> SymbolTable {
    crate::table::table_of(&[
        (0xffffffff81000000u64, 'T', "_stext", None),
        (0xffffffff81000000, 'T', "_text", None),
        (0xffffffff81000100, 't', "__pfx_foo", None),
        (0xffffffff81000110, 't', "foo", None),
        (0xffffffff81000140, 'T', "bar", None),
        (0xffffffff81000200, 'T', "_etext", None),
        (0xffffffffc0000000, 't', "modfn", Some("m")),
    ])
}

#[test]
fn frames_kinds_and_counts() {
    let t = table();
    let s = Symbolizer::new(&t);
    let ips = [
        0xffffffff81000115,
        0xffffffff81000116,
        0xffffffff81000140,
        0x1234,
        0xffffffffc0000010,
        0xffffffff81000200,
        0xffffffff81000201,
    ];
    let f = s.symbolize_new(&ips);
    assert_eq!(f.len(), ips.len());
    let text: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    assert_eq!(
        text,
        [
            "foo+0x5/0x30",
            "foo+0x6/0x30",
            "bar+0x0/0xc0",
            "0x1234",
            "modfn+0x10/0x10000 [m]",
            "0xffffffff81000200",
            "0xffffffff81000201",
        ]
    );
    for (f, &ip) in f.iter().zip(&ips) {
        assert_eq!(f.addr(), ip);
    }
    // Return addresses: the start of `bar` is the end of `foo`, and the
    // start of `foo` the end of its padding.
    let mut out = Frames::new();
    s.symbolize_as(
        &[0xffffffff81000140, 0xffffffff81000110],
        AddrKind::Return,
        &mut out,
    );
    let text: Vec<String> = out.iter().map(|f| f.to_string()).collect();
    assert_eq!(text, ["foo+0x30/0x30", "__pfx_foo+0x10/0x10"]);
    s.symbolize_as(
        &[0xffffffff81000140, 0xffffffff81000140],
        AddrKind::Stack,
        &mut out,
    );
    let text: Vec<String> = out.iter().map(|f| f.to_string()).collect();
    assert_eq!(text, ["bar+0x0/0xc0", "foo+0x30/0x30"]);
    let st = s.stats();
    assert_eq!(st.batches, 3);
    assert_eq!(st.ips, 11);
    assert_eq!(st.resolved, 8);
    assert_eq!((st.raw, st.no_symbol), (3, 3));
    assert_eq!(st.ips, st.resolved + st.raw);
}

/// Large batches (folded, or too varied to fold) answer as small ones
/// do, pointer by pointer.
#[test]
fn large_batches_agree_with_one_by_one() {
    let t = table();
    let mut seed = 7u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let varied: Vec<u64> = (0..40_000)
        .map(|i| match i % 4 {
            0 => rand(),
            1 => 0xffffffffc0000000 + rand() % 0x20000,
            2 => 0xffffffff81000000 + rand() % 0x300,
            _ => 0xffffffff00000000 + rand() % 0x1_0000_0000,
        })
        .collect();
    let repeated: Vec<u64> = (0..5000).map(|i| varied[i % 37]).collect();
    for ips in [&varied, &repeated] {
        for kind in [AddrKind::Exact, AddrKind::Return, AddrKind::Stack] {
            let s = Symbolizer::new(&t).addr_kind(kind);
            let big = s.symbolize_new(ips);
            assert_eq!(big.len(), ips.len());
            let mut one = Frames::new();
            for (i, &ip) in ips.iter().enumerate() {
                let k = match kind {
                    AddrKind::Stack if i > 0 => AddrKind::Return,
                    k => k,
                };
                s.symbolize_as(&[ip], k, &mut one);
                assert_eq!(one.get(0), big.get(i), "ip {ip:#x} {kind:?}");
            }
        }
    }
}

#[test]
fn failed_sources_keep_raw_frames() {
    let src: Result<SymbolTable, Error> = Err(Error::Redacted {
        source_name: "/proc/kallsyms".into(),
        kptr_restrict: Some(1),
        perf_event_paranoid: Some(2),
        bpf_iter: None,
    });
    let s = Symbolizer::new(src);
    let f = s.symbolize_new(&[1, 2, 3]);
    assert_eq!(f.len(), 3);
    assert!(f.table().is_none());
    assert_eq!(
        f.get(2),
        Some(Frame::Raw {
            addr: 3,
            why: RawReason::Unavailable(FailureCause::Redacted)
        })
    );
    let denied: Result<SymbolTable, Error> = Err(Error::Io {
        path: "/proc/kallsyms".into(),
        source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    });
    let d = Symbolizer::new(denied);
    d.symbolize_new(&[7; 5]);
    let other: Result<SymbolTable, Error> = Err(Error::Empty {
        source_name: "x".into(),
    });
    let o = Symbolizer::new(other);
    o.symbolize_new(&[7; 2]);
    assert_eq!(s.stats().failed_redacted, 3);
    assert_eq!(d.stats().failed_permission, 5);
    assert_eq!((o.stats().failed_other, o.stats().raw), (2, 2));
    assert_eq!(o.stats().resolved, 0);
}
