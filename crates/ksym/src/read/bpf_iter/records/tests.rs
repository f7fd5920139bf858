//! The records program run by a small interpreter, and decoding.

use super::*;

fn record(value: u64, kind: u8, exported: bool, name: &str, module: Option<&str>) -> Vec<u8> {
    let mut r = value.to_ne_bytes().to_vec();
    r.extend([kind, exported as u8, module.is_some() as u8, 0, 0, 0, 0, 0]);
    for s in [Some(name), module].into_iter().flatten() {
        let mut words = s.as_bytes().to_vec();
        words.push(0);
        // What follows the NUL in its word is whatever the struct held.
        while words.len() % 8 != 0 {
            words.push(b'x');
        }
        r.extend(words);
    }
    r
}

#[test]
fn records_read_as_kallsyms_lines() {
    let mut records = Vec::new();
    for r in [
        record(0xffffffff81000000, b'T', false, "_text", None),
        record(0xffffffff81000010, b'W', false, "exactly_8", None),
        record(
            0xffffffffc0001000,
            b't',
            true,
            "xfs_fs_fill_super",
            Some("xfs"),
        ),
        record(0xffffffffc0000800, b'T', false, "xfs_init", Some("xfs")),
        record(0xffffffffc0003000, b'd', false, "xfs_data", Some("xfs")),
        record(
            0xffffffffa0000000,
            b't',
            false,
            "bpf_prog_0011_ksym_own_iter",
            Some("bpf"),
        ),
        record(
            0xffffffffa0001000,
            b't',
            false,
            "bpf_prog_0022_other",
            Some("bpf"),
        ),
    ] {
        records.extend(r);
    }
    // Streamed in chunks of any size, the same lines.
    let whole = decode(&records, "ksym_own_iter").unwrap();
    for size in [1, 2, 3, 7, 8, 15, 16, 17, 63, 200] {
        let mut d = Decoder::new("ksym_own_iter");
        let mut text = Vec::new();
        for chunk in records.chunks(size) {
            d.feed(chunk).unwrap();
            text.extend_from_slice(d.ready());
            d.consume_ready();
        }
        let rest = d.finish().unwrap();
        text.extend_from_slice(&rest.text);
        assert_eq!(text, whole.text, "chunks of {size}");
        assert_eq!(rest.lowest_code, whole.lowest_code);
    }
    let d = decode(&records, "ksym_own_iter").unwrap();
    assert_eq!(
        String::from_utf8(d.text).unwrap(),
        "ffffffff81000000 T _text\n\
         ffffffff81000010 W exactly_8\n\
         ffffffffc0001000 T xfs_fs_fill_super\t[xfs]\n\
         ffffffffc0000800 t xfs_init\t[xfs]\n\
         ffffffffc0003000 d xfs_data\t[xfs]\n\
         ffffffffa0001000 t bpf_prog_0022_other\t[bpf]\n"
    );
    assert_eq!(
        d.lowest_code,
        [
            ("xfs".to_string(), 0xffffffffc0000800),
            ("bpf".to_string(), 0xffffffffa0001000)
        ]
    );
    // Cut anywhere inside a record: an error naming a byte.
    for n in 1..records.len() {
        if let Err(e) = decode(&records[..n], "ksym_own_iter") {
            assert!(e.contains("byte"), "{e}");
        }
    }
    assert!(decode(&records[..20], "x").is_err());
    // The kernel's echo of the last symbol when the walk ends is left
    // out; a kprobe page's own symbol is not.
    let kprobe = record(
        0xffffffffa0002000,
        b't',
        false,
        "kprobe_insn_page",
        Some("__builtin__kprobes"),
    );
    let echo = record(
        0xffffffffa0002000,
        b't',
        false,
        "kprobe_insn_page",
        Some("__builtin__kprobes"),
    );
    let d = decode(&[records.clone(), kprobe.clone(), echo].concat(), "x").unwrap();
    let text = String::from_utf8(d.text).unwrap();
    assert!(
        text.ends_with("other\t[bpf]\nffffffffa0002000 t kprobe_insn_page\t[__builtin__kprobes]\n"),
        "{text}"
    );
    let own_echo = record(
        0xffffffffa0000000,
        b't',
        false,
        "bpf_prog_0011_ksym_own_iter",
        Some("__builtin__kprobes"),
    );
    let d = decode(
        &[
            records.clone(),
            record(
                0xffffffffa0000000,
                b't',
                false,
                "bpf_prog_0011_ksym_own_iter",
                Some("bpf"),
            ),
            own_echo,
        ]
        .concat(),
        "ksym_own_iter",
    )
    .unwrap();
    assert!(String::from_utf8(d.text)
        .unwrap()
        .ends_with("other\t[bpf]\n"));
    let d = decode(&[records.clone(), kprobe].concat(), "x").unwrap();
    assert!(String::from_utf8(d.text)
        .unwrap()
        .ends_with("\t[__builtin__kprobes]\n"));
    let unended = [
        record(1, b't', false, "a", None)[..16].to_vec(),
        vec![b'a'; 520],
    ]
    .concat();
    assert!(decode(&unended, "x").unwrap_err().contains("no end"));
    // A symbol without a name is no line, as in /proc/kallsyms.
    let nameless = [
        record(1, b't', false, "", None),
        record(2, b't', false, "b", None),
    ]
    .concat();
    assert_eq!(
        decode(&nameless, "x").unwrap().text,
        b"0000000000000002 t b\n"
    );
    let newline = record(1, b't', false, "two\nlines", None);
    assert!(decode(&newline, "x")
        .unwrap_err()
        .contains("newline at byte 19"));
    // GCC's local labels hold \x02: kept as /proc/kallsyms prints them.
    let label = record(1, b'r', false, ".L14472\u{2}1", Some("vfat"));
    assert_eq!(
        decode(&label, "x").unwrap().text,
        b"0000000000000001 r .L14472\x021\t[vfat]\n"
    );
}

/// The program's shape: every jump lands on an instruction of its own
/// (never inside a 16-byte load) and it ends in `exit`.
#[test]
fn the_program_jumps_where_it_should() {
    let layout = super::super::tests::LAYOUT_6_1;
    let p = program(&layout).unwrap();
    super::super::tests::jumps_land_on_instructions(&p);
    // The names' words end where the arrays do.
    let reads: Vec<i16> = p
        .iter()
        .filter(|i| i.code == 0x79 && i.regs >> 4 == 7)
        .map(|i| i.off)
        .collect();
    assert!(reads.contains(&(557 - 8)) && reads.contains(&(557 + 48)));
    assert!(!reads.iter().any(|&o| o > 557 + 48));
    assert!(program(&KsymIterLayout {
        module_name: 40,
        ..layout
    })
    .is_none());
}

/// Runs `p` the way the kernel would for one symbol, for the forms it
/// uses: `ctx` at 1 << 32 (meta at its offset 0, the iterator at 8),
/// meta at 2 << 32 (the seq file at 0), the iterator's struct at 3 << 32,
/// the stack below 4 << 32. Returns what `bpf_seq_write` was given.
fn interpret(p: &[Insn], it: &[u8]) -> Vec<u8> {
    let mut mem: Vec<(u64, Vec<u8>)> = vec![
        (
            1 << 32,
            [(2u64 << 32).to_ne_bytes(), (3u64 << 32).to_ne_bytes()].concat(),
        ),
        (2 << 32, 5u64.to_ne_bytes().to_vec()),
        (3 << 32, it.to_vec()),
        ((4 << 32) - 512, vec![0xaa; 512]),
    ];
    let at = |mem: &mut Vec<(u64, Vec<u8>)>, a: u64, n: usize| -> (usize, usize) {
        let i = mem
            .iter()
            .position(|(base, b)| a >= *base && a + n as u64 <= base + b.len() as u64)
            .unwrap_or_else(|| panic!("access {a:#x}+{n} outside memory"));
        (i, (a - mem[i].0) as usize)
    };
    let mut r = [0u64; 11];
    r[1] = 1 << 32;
    r[10] = 4 << 32;
    let mut out = Vec::new();
    let mut pc = 0;
    loop {
        let i = p[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        let imm = i.imm as i64 as u64;
        let target = (pc as i64 + 1 + i64::from(i.off)) as usize;
        pc += 1;
        match i.code {
            0x79 | 0x61 | 0x71 => {
                let n = match i.code {
                    0x79 => 8,
                    0x61 => 4,
                    _ => 1,
                };
                let (m, o) = at(&mut mem, r[src].wrapping_add(i.off as i64 as u64), n);
                let mut v = [0u8; 8];
                v[..n].copy_from_slice(&mem[m].1[o..o + n]);
                r[dst] = u64::from_le_bytes(v);
            }
            0x7b | 0x73 => {
                let n = if i.code == 0x7b { 8 } else { 1 };
                let (m, o) = at(&mut mem, r[dst].wrapping_add(i.off as i64 as u64), n);
                mem[m].1[o..o + n].copy_from_slice(&r[src].to_le_bytes()[..n]);
            }
            0xbf => r[dst] = r[src],
            0xb7 => r[dst] = imm,
            0x07 => r[dst] = r[dst].wrapping_add(imm),
            0x1f => r[dst] = r[dst].wrapping_sub(r[src]),
            0x5f => r[dst] &= r[src],
            0x57 => r[dst] &= imm,
            0x47 => r[dst] |= imm,
            0xa7 => r[dst] ^= imm,
            0x67 => r[dst] <<= imm,
            0x18 => {
                r[dst] = u64::from(i.imm as u32) | u64::from(p[pc].imm as u32) << 32;
                pc += 1;
            }
            0x15 | 0x55 | 0xa5 | 0x25 => {
                let taken = match i.code {
                    0x15 => r[dst] == imm,
                    0x55 => r[dst] != imm,
                    0xa5 => r[dst] < imm,
                    _ => r[dst] > imm,
                };
                if taken {
                    pc = target;
                }
            }
            0x05 => pc = target,
            0x85 => {
                assert_eq!(i.imm, BPF_FUNC_SEQ_WRITE);
                assert_eq!(r[1], 5, "not the seq file");
                let (m, o) = at(&mut mem, r[2], r[3] as usize);
                out.extend_from_slice(&mem[m].1[o..o + r[3] as usize]);
                r[0] = 0;
                r[1..6].fill(0xdead);
            }
            0x95 => return out,
            c => panic!("instruction {c:#x} not interpreted"),
        }
    }
}

/// The program at work on names of every length the kernel allows (0
/// to 511 bytes, the rest of the array left with a previous name's
/// bytes), with and without a module: its records decode to the line.
#[test]
fn the_program_writes_each_name_whole() {
    let l = super::super::tests::LAYOUT_6_1;
    let p = program(&l).unwrap();
    for len in 0..=511 {
        for module in [
            None,
            Some("m"),
            Some("a_module_name_of_fifty_five_bytes_the_longest_allowed_"),
        ] {
            let mut it = vec![b'z'; 624];
            it[32..40].copy_from_slice(&0xffffffffc0001234u64.to_ne_bytes());
            it[44] = b't';
            let name: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            it[45..45 + len].copy_from_slice(name.as_bytes());
            it[45 + len] = 0;
            it[557] = 0;
            if let Some(m) = module {
                it[557..557 + m.len()].copy_from_slice(m.as_bytes());
                it[557 + m.len()] = 0;
            }
            it[616..620].copy_from_slice(&1u32.to_ne_bytes());
            let records = interpret(&p, &it);
            let d = decode(&records, "own").unwrap_or_else(|e| panic!("{len} {module:?}: {e}"));
            let want = match module {
                _ if len == 0 => String::new(),
                Some(m) => format!("ffffffffc0001234 T {name}\t[{m}]\n"),
                None => format!("ffffffffc0001234 t {name}\n"),
            };
            assert_eq!(String::from_utf8(d.text).unwrap(), want, "{len} {module:?}");
        }
    }
}
