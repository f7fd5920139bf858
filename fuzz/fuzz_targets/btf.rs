//! BTF as ksym reads it: the kernel's, for the BPF ksym iterator's layout
//! (`parse::btf::ksym_iter_layout`), and a BPF program's, for its lines
//! (`parse::bpf_lines::BpfProgLines`, with line records and JITed
//! addresses made from the same bytes), and the iterator's binary records
//! (`read::bpf_iter::records`: whole, and streamed in two pieces, the same
//! lines). Any bytes give a layout or an error naming a byte or what is
//! missing; a program's lines answer only inside its functions; never a
//! panic, a hang or unbounded memory.
//!
//!   cargo +nightly fuzz run btf corpus/btf seeds/btf -- -max_len=65536
#![no_main]

use ksym::parse::bpf_lines::BpfProgLines;
use ksym::read::bpf_iter::records::{decode, Decoder};
use ksym::read::bpf_prog::{BpfProgInfo, LineRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ksym::parse::btf::ksym_iter_layout(data) {
        Ok(l) => assert!(l.target_btf_id > 0, "{l:?}"),
        Err(e) => assert!(!e.is_empty()),
    }
    // Words from the tail of the input drive the program's records.
    let words: Vec<u32> = data
        .rchunks_exact(4)
        .take(64)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let w = |i: usize| words.get(i).copied().unwrap_or(0);
    let info = BpfProgInfo {
        id: 1,
        name: "fuzz".into(),
        jited_ksyms: vec![0x1000, 0x1000 + u64::from(w(0) % 0x1000)],
        jited_func_lens: vec![w(1) % 0x2000, w(2) % 0x100],
        btf_id: 1,
        func_info: vec![(0, w(3)), (w(4), w(5))],
        line_info: (0..w(6) as usize % 8)
            .map(|i| LineRecord {
                insn_off: w(7 + i),
                file_name_off: w(15 + i),
                line_off: w(23 + i),
                line_col: w(31 + i),
            })
            .collect(),
        jited_line_info: (0..w(6) as usize % 8)
            .map(|i| 0x1000 + u64::from(w(39 + i) % 0x3000))
            .collect(),
        ..BpfProgInfo::default()
    };
    if let Ok(p) = BpfProgLines::new(&info, Some(data)) {
        for addr in (0xff0..0x3010).step_by(7) {
            if let Some(l) = p.lookup(addr) {
                assert!(l.start <= addr && addr - l.start < l.size, "{addr:#x} {l:?}");
            }
        }
    }
    // The same bytes as the iterator's records: whole, or in two pieces
    // split where the first word says, the same lines or the same failure.
    let whole = decode(data, "own");
    let cut = words.first().map_or(0, |&w| w as usize % (data.len() + 1));
    let mut d = Decoder::new("own");
    let mut text = Vec::new();
    let streamed = d.feed(&data[..cut]).and_then(|()| {
        text.extend_from_slice(d.ready());
        d.consume_ready();
        d.feed(&data[cut..])
    });
    let streamed = streamed.and_then(|()| {
        text.extend_from_slice(d.ready());
        d.consume_ready();
        d.finish()
    });
    match (whole, streamed) {
        (Ok(w), Ok(s)) => {
            text.extend_from_slice(&s.text);
            assert_eq!(w.text, text, "streamed records differ");
            assert_eq!(w.lowest_code, s.lowest_code);
            // Every line is a kallsyms line.
            for line in w.text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                assert!(line.len() > 19 && line[16] == b' ' && line[18] == b' ', "{line:?}");
            }
        }
        (Err(_), Err(_)) => {}
        (w, s) => panic!("whole {:?} but streamed {:?}", w.map(|d| d.text.len()), s.map(|d| d.text.len())),
    }
});
