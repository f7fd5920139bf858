//! The DWARF loader of source lines (`ksym::lines`): any bytes as an ELF
//! file (a `.ko` is relocated, a vmlinux slid), its context built and
//! asked at every code section's first bytes and along it. It must answer
//! or give an error naming the file, never panic, hang or take unbounded
//! memory (decompressed sections are held to the crate's bounds). A linked
//! file's line table, when one can be built, must answer as its DWARF does.
//! Each file is also asked as `ksym addr2line` asks it (`ToolLines`,
//! its own reading of line programs and symbols), printed in both tools'
//! styles; its tools' line table, when one can be built, must answer as
//! it does.
//!
//!   cargo +nightly fuzz run lines fuzz/corpus/lines fuzz/seeds/lines -- -max_len=262144
#![no_main]

use ksym::lines::{
    build_line_table, build_tool_table, DebugFile, Flavour, LineContext, Placement, Style,
    ToolLines,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = DebugFile::from_bytes("fuzz.ko", data.to_vec()) else {
        return;
    };
    let mut asks = Vec::new();
    let placement = if file.is_relocatable() {
        let mut list = Vec::new();
        for (i, s) in file.code_sections().enumerate() {
            let at = 0xffff_ffff_c000_0000u64 + (i as u64) * 0x10_0000;
            list.push((s.name.clone(), at));
            let end = at.wrapping_add(s.size.saturating_sub(1));
            asks.extend([at, at.wrapping_add(s.size / 2), end]);
        }
        Placement::Sections(list)
    } else {
        for s in file.code_sections() {
            asks.extend([s.addr, s.addr.wrapping_add(s.size / 2)]);
        }
        Placement::Slide(0)
    };
    let table = match &placement {
        Placement::Slide(_) => DebugFile::from_bytes("fuzz.ko", data.to_vec())
            .and_then(build_line_table)
            .ok(),
        Placement::Sections(_) => None,
    };
    // Relocatable files too: `ksym addr2line` reads their addresses as
    // `.text` offsets, so the low addresses are asked of them as well.
    let mut tool = DebugFile::from_bytes("fuzz.ko", data.to_vec())
        .and_then(ToolLines::new)
        .ok();
    if matches!(placement, Placement::Sections(_)) {
        asks.extend([0, 1, 0x40, 0x1000]);
    }
    let mut tabled = DebugFile::from_bytes("fuzz.ko", data.to_vec())
        .and_then(|f| {
            let table = build_tool_table(DebugFile::from_bytes("fuzz.ko", data.to_vec())?)?;
            ToolLines::with_table(&f, table)
        })
        .ok();
    let context = LineContext::new(file, placement).expect("placement fits the file's kind");
    if let Some(tool) = &mut tool {
        let mut out = Vec::new();
        for (i, addr) in asks.iter().take(64).enumerate() {
            let answer = tool.answer(*addr);
            if let (Some(tabled), Ok(want)) = (&mut tabled, &answer) {
                let got = tabled.answer(*addr).expect("the table answers");
                assert_eq!(&got, want, "at {addr:#x}");
            }
            match answer {
                Ok(answer) => {
                    let flavour = if i % 2 == 0 { Flavour::Gnu } else { Flavour::Llvm };
                    let style = Style {
                        flavour,
                        addresses: true,
                        functions: true,
                        inlines: true,
                        pretty: i % 3 == 0,
                        demangle: true,
                        basenames: i % 4 == 0,
                    };
                    style.write(&mut out, *addr, &answer).expect("into a vector");
                }
                Err(e) => assert!(e.to_string().contains("fuzz.ko"), "{e}"),
            }
        }
    }
    for addr in asks.into_iter().take(64) {
        let answer = context.frames(addr);
        if let (Some(table), Ok(want)) = (&table, &answer) {
            assert_eq!(&table.frames(addr).expect("the table answers"), want, "at {addr:#x}");
        }
        match answer {
            Ok(frames) => {
                if let Some(outer) = frames.last() {
                    assert!(!outer.inlined);
                    assert!(frames[..frames.len() - 1].iter().all(|f| f.inlined));
                    assert!(frames[0].line.is_some());
                }
            }
            Err(e) => assert!(e.to_string().contains("fuzz.ko"), "{e}"),
        }
    }
});
