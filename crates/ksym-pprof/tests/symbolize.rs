//! Symbolizing a profile built on the real Debian 6.12 kallsyms: what must
//! change, what must not, and that the output is a consistent profile.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use ksym_pprof::proto::Location;
use ksym_pprof::{Options, Profile, Stats};
use prost::Message;

fn loc(p: &Profile, id: u64) -> &Location {
    p.location.iter().find(|l| l.id == id).unwrap()
}

fn s(p: &Profile, i: i64) -> &str {
    &p.string_table[usize::try_from(i).unwrap()]
}

/// Every reference into the string table, mapping and function lists
/// resolves; ids are unique and nonzero; entry 0 is "".
fn assert_consistent(p: &Profile) {
    let n = p.string_table.len() as i64;
    assert_eq!(p.string_table[0], "");
    let in_range = |i: i64| assert!((0..n).contains(&i), "string index {i} of {n}");
    for f in &p.function {
        in_range(f.name);
        in_range(f.system_name);
        in_range(f.filename);
    }
    for m in &p.mapping {
        in_range(m.filename);
        in_range(m.build_id);
    }
    for v in p.sample_type.iter().chain(&p.period_type) {
        in_range(v.r#type);
        in_range(v.unit);
    }
    p.comment.iter().copied().for_each(in_range);
    let ids = |it: &mut dyn Iterator<Item = u64>| {
        let v: Vec<u64> = it.collect();
        let set: HashSet<u64> = v.iter().copied().collect();
        assert_eq!(set.len(), v.len(), "duplicate ids");
        assert!(!set.contains(&0), "id 0");
        set
    };
    let functions = ids(&mut p.function.iter().map(|f| f.id));
    let mappings = ids(&mut p.mapping.iter().map(|m| m.id));
    let locations = ids(&mut p.location.iter().map(|l| l.id));
    for l in &p.location {
        assert!(l.mapping_id == 0 || mappings.contains(&l.mapping_id));
        for line in &l.line {
            assert!(functions.contains(&line.function_id));
        }
    }
    for sample in &p.sample {
        assert_eq!(sample.value.len(), p.sample_type.len());
        for id in &sample.location_id {
            assert!(locations.contains(id));
        }
    }
}

#[test]
fn kernel_locations_get_functions_and_nothing_else_changes() {
    let table = debian_table();
    let fx = fixture(&table);
    let input = fx.profile.clone();
    assert_consistent(&input);

    let mut out = ksym_pprof::decode(&ksym_pprof::encode(&input)).unwrap();
    let stats = ksym_pprof::symbolize(&mut out, &table, &Options::default()).unwrap();
    assert_consistent(&out);

    // vfs_read is named three times (two bare, one hex placeholder) and
    // ksys_read twice: one function each.
    let symbols: HashSet<&str> = fx.expect_named.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        stats,
        Stats {
            resolved: fx.expect_named.len() as u64,
            unresolved: fx.expect_unresolved.len() as u64,
            already_named: fx.expect_already_named.len() as u64,
            skipped: fx.expect_skipped.len() as u64,
            functions_added: symbols.len() as u64,
            with_lines: 0,
        }
    );
    assert_eq!(
        out.function.len(),
        input.function.len() + symbols.len(),
        "one function per symbol"
    );

    // Samples and everything but locations, functions and strings: unchanged.
    assert_eq!(out.sample, input.sample);
    assert_eq!(out.sample_type, input.sample_type);
    assert_eq!(out.period_type, input.period_type);
    assert_eq!(out.comment, input.comment);
    assert_eq!(
        (out.period, out.time_nanos, out.duration_nanos),
        (input.period, input.time_nanos, input.duration_nanos)
    );
    // Old strings and functions keep their indexes; new ones come after.
    assert_eq!(
        out.string_table[..input.string_table.len()],
        input.string_table[..]
    );
    assert_eq!(out.function[..input.function.len()], input.function[..]);
    let unique: HashSet<&String> = out.string_table.iter().collect();
    assert_eq!(unique.len(), out.string_table.len(), "duplicate strings");
    // Every location kept, in order, at its address and mapping.
    assert_eq!(out.location.len(), input.location.len());
    for (a, b) in input.location.iter().zip(&out.location) {
        assert_eq!(
            (a.id, a.mapping_id, a.address),
            (b.id, b.mapping_id, b.address)
        );
    }

    let mut function_of_symbol: HashMap<&str, u64> = HashMap::new();
    for (id, name, file) in &fx.expect_named {
        let l = loc(&out, *id);
        assert_eq!(l.line.len(), 1, "location {id} ({name})");
        let f = out
            .function
            .iter()
            .find(|f| f.id == l.line[0].function_id)
            .unwrap();
        assert_eq!(s(&out, f.name), name, "location {id}");
        assert_eq!(s(&out, f.system_name), name);
        assert_eq!(s(&out, f.filename), file, "location {id} ({name})");
        assert!(!l.is_folded, "{name} shares its address with no other name");
        let first = *function_of_symbol.entry(name).or_insert(f.id);
        assert_eq!(first, f.id, "{name}: one function per symbol");
    }
    for id in fx
        .expect_unresolved
        .iter()
        .chain(&fx.expect_already_named)
        .chain(&fx.expect_skipped)
    {
        assert_eq!(loc(&out, *id), loc(&input, *id), "location {id} changed");
    }

    // Only the mapping whose kernel locations all resolved claims functions.
    let has_functions: HashMap<u64, bool> = out
        .mapping
        .iter()
        .map(|m| (m.id, m.has_functions))
        .collect();
    assert!(has_functions[&MAP_APP]);
    assert!(has_functions[&MAP_VMLINUX]);
    assert!(!has_functions[&MAP_KALLSYMS]);
    assert!(!has_functions[&MAP_VSYSCALL]);
}

#[test]
fn bytes_in_bytes_out_plain_or_gzip_and_idempotent() {
    let table = debian_table();
    let fx = fixture(&table);
    let plain = fx.profile.encode_to_vec();
    let gzipped = ksym_pprof::encode(&fx.profile);
    let (a, stats_a) = ksym_pprof::symbolize_bytes(&plain, &table, &Options::default()).unwrap();
    let (b, stats_b) = ksym_pprof::symbolize_bytes(&gzipped, &table, &Options::default()).unwrap();
    assert_eq!(&a[..2], &[0x1f, 0x8b], "output is gzip'd");
    assert_eq!(stats_a, stats_b);
    let (pa, pb) = (
        ksym_pprof::decode(&a).unwrap(),
        ksym_pprof::decode(&b).unwrap(),
    );
    assert_eq!(pa, pb);

    // A second pass finds every resolved location named and changes nothing.
    let (c, stats_c) = ksym_pprof::symbolize_bytes(&a, &table, &Options::default()).unwrap();
    assert_eq!(ksym_pprof::decode(&c).unwrap(), pa);
    assert_eq!(stats_c.resolved, 0);
    assert_eq!(stats_c.functions_added, 0);
    assert_eq!(
        stats_c.already_named,
        stats_a.resolved + stats_a.already_named
    );
    assert_eq!(stats_c.unresolved, stats_a.unresolved);
    assert_eq!(stats_c.skipped, stats_a.skipped);
}

#[test]
fn folded_addresses_are_marked() {
    // `_stext` and `_text` share their address in the real kernel.
    let table = debian_table();
    let text = table.find_in(None, "_text").next().unwrap().start;
    let mut p = Profile {
        string_table: vec![String::new()],
        location: vec![Location {
            id: 1,
            address: text + 1,
            ..Default::default()
        }],
        ..Default::default()
    };
    let stats = ksym_pprof::symbolize(&mut p, &table, &Options::default()).unwrap();
    assert_eq!(stats.resolved, 1);
    assert!(p.location[0].is_folded);
    let f = &p.function[0];
    assert_eq!(
        s(&p, f.name),
        table.lookup(text + 1).unwrap().name,
        "the first alias, as %pS names it"
    );
}

#[test]
fn empty_and_user_only_profiles() {
    let table = debian_table();
    let mut empty = Profile::default();
    let stats = ksym_pprof::symbolize(&mut empty, &table, &Options::default()).unwrap();
    assert_eq!(stats, Stats::default());
    assert_eq!(empty.string_table, vec![String::new()]);

    // With the kernel boundary raised past every address, nothing is kernel.
    let fx = fixture(&table);
    let mut p = fx.profile.clone();
    let opts = Options {
        kernel_start: u64::MAX,
    };
    let stats = ksym_pprof::symbolize(&mut p, &table, &opts).unwrap();
    assert_eq!(stats.skipped, p.location.len() as u64);
    assert_eq!(p, fx.profile);
}

#[test]
fn garbage_is_an_error() {
    let table = debian_table();
    let err =
        ksym_pprof::symbolize_bytes(b"\x1f\x8bnot gzip", &table, &Options::default()).unwrap_err();
    assert!(matches!(err, ksym_pprof::Error::Gzip(_)), "{err}");
    let err =
        ksym_pprof::symbolize_bytes(b"\xff\xff\xff", &table, &Options::default()).unwrap_err();
    assert!(matches!(err, ksym_pprof::Error::Decode(_)), "{err}");
}
