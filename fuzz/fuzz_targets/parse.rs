//! Arbitrary bytes as symbol text: `parse_bytes`, then every query of the
//! table that results, with the invariants lookups promise. The input is
//! also parsed in 2-4 parts on as many threads: the same table, counts and
//! errors must come out.
#![no_main]

use ksym::LoadOptions;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod common;
use common::exercise;

fuzz_target!(|data: &[u8]| {
    let loose = ksym::parse_bytes("fuzz", data, &LoadOptions::default());
    let strict = ksym::parse_bytes(
        "fuzz",
        data,
        &LoadOptions {
            strict: true,
            ..LoadOptions::default()
        },
    );
    let parts = 2 + data.len() % 3;
    for strict in [false, true] {
        let one = LoadOptions {
            strict,
            threads: Some(1),
            ..LoadOptions::default()
        };
        let many = LoadOptions {
            threads: Some(parts),
            ..one.clone()
        };
        let a = ksym::parse_bytes("fuzz", data, &one);
        let b = ksym::parse_bytes("fuzz", data, &many);
        match (&a, &b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(
                    a.info().skipped,
                    b.info().skipped,
                    "skipped lines differ in {parts} parts"
                );
                assert_eq!(
                    a.info().format,
                    b.info().format,
                    "formats differ in {parts} parts"
                );
                assert!(a.iter().eq(b.iter()), "symbols differ in {parts} parts");
            }
            (Err(a), Err(b)) => assert_eq!(
                a.to_string(),
                b.to_string(),
                "errors differ in {parts} parts"
            ),
            (a, b) => panic!(
                "one part: {:?}; {parts} parts: {:?}",
                a.as_ref().map(|t| t.len()).map_err(|e| e.to_string()),
                b.as_ref().map(|t| t.len()).map_err(|e| e.to_string())
            ),
        }
    }
    // Every error renders (the messages cut and escape line text).
    if let Err(e) = &loose {
        let _ = e.to_string();
    }
    if let Err(e) = &strict {
        let _ = e.to_string();
    }
    match (&loose, &strict) {
        (Ok(l), Ok(s)) => {
            assert_eq!(l.len(), s.len(), "strict and loose tables differ in size");
            assert_eq!(
                l.info().skipped.count,
                0,
                "strict parse succeeded but loose skipped lines"
            );
        }
        (Err(e), Ok(_)) => panic!("strict parse succeeded, loose failed: {e}"),
        (Ok(l), Err(e)) => {
            // Strict fails only on a bad line, which loose must have skipped.
            assert!(
                matches!(e, ksym::Error::BadLine { .. }),
                "loose parse succeeded, strict failed with something else than a bad line: {e}"
            );
            assert!(
                l.info().skipped.count > 0,
                "strict found a bad line, loose skipped none"
            );
        }
        (Err(_), Err(_)) => {}
    }
    // The loose parse reads exactly the lines the documented grammar allows.
    let (good, bad, all_zero) = common::reference_counts(data);
    match &loose {
        Ok(t) => {
            assert_eq!(
                t.len() as u64,
                good,
                "symbols read differ from the grammar's ({bad} bad lines)"
            );
            assert_eq!(
                t.info().skipped.count,
                bad,
                "lines skipped differ from the grammar's"
            );
        }
        Err(ksym::Error::Redacted { .. }) => assert!(
            good > 0 && all_zero,
            "Redacted, grammar reads {good} symbols, all zero: {all_zero}"
        ),
        Err(ksym::Error::Empty { .. }) => assert_eq!(
            (good, bad),
            (0, 0),
            "Empty, but the grammar reads {good} symbols and {bad} bad lines"
        ),
        Err(ksym::Error::NoSymbols { .. }) => assert!(
            good == 0 && bad > 0,
            "NoSymbols, but the grammar reads {good} symbols and {bad} bad lines"
        ),
        Err(e) => panic!("unexpected loose error: {e}"),
    }
    if let Ok(t) = &loose {
        exercise(t, data);
    }
    if let Ok(t) = &strict {
        exercise(t, data);
    }
});
