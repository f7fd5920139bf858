//! The programs' shape, and what the iterator prints on this machine.

use super::*;

/// `struct kallsym_iter` and the iterator context as 6.1 and later lay them
/// out (x86_64 and arm64 alike), for the programs' shape.
pub(super) const LAYOUT_6_1: KsymIterLayout = KsymIterLayout {
    target_btf_id: 1,
    ctx_meta: 0,
    ctx_ksym: 8,
    meta_seq: 0,
    value: 32,
    kind: 44,
    name: 45,
    module_name: 557,
    exported: 616,
};

/// The program's shape, whatever the kernel: every jump lands on an
/// instruction of its own (never inside a 16-byte load), it ends in
/// `exit`, and the offsets the layout gives are where the loads read.
#[test]
fn the_program_jumps_where_it_should() {
    let layout = LAYOUT_6_1;
    let p = lines::program(&layout);
    jumps_land_on_instructions(&p);
    assert_eq!(p.last().map(|i| i.code), Some(0x95));
    let loads: Vec<(u8, i16)> = p
        .iter()
        .filter(|i| matches!(i.code, 0x79 | 0x71 | 0x61))
        .map(|i| (i.regs >> 4, i.off))
        .collect();
    for want in [(6, 8), (6, 0), (1, 0), (7, 32), (7, 44), (7, 557), (7, 616)] {
        assert!(loads.contains(&want), "no load of {want:?}: {loads:?}");
    }
}

/// Every jump of `p` lands on an instruction of its own (never inside a
/// 16-byte load), and `p` ends in `exit`.
pub(super) fn jumps_land_on_instructions(p: &[Insn]) {
    let second_halves: Vec<usize> = (0..p.len())
        .filter(|&i| i > 0 && p[i - 1].code == 0x18)
        .collect();
    for (i, insn) in p.iter().enumerate() {
        let is_jump = insn.code & 0x07 == 0x05 && !matches!(insn.code, 0x85 | 0x95);
        if is_jump {
            let to = i as i64 + 1 + i64::from(insn.off);
            assert!((0..p.len() as i64).contains(&to), "{i}: jumps out");
            assert!(!second_halves.contains(&(to as usize)), "{i}: into a load");
        }
    }
    assert_eq!(p.last().map(|i| i.code), Some(0x95));
}

#[test]
fn the_kernels_echo_at_the_end_is_left_out() {
    let mut t = b"a t x\tb t y\t[bpf]\nffff t y\t[bpf]\nffff t y\t[__builtin__kprobes]\n".to_vec();
    drop_stop_echo(&mut t);
    assert_eq!(t, b"a t x\tb t y\t[bpf]\nffff t y\t[bpf]\n");
    // A kprobe page's own symbol, and a last line unlike the one
    // before it, stay.
    for kept in [
        &b"ffff t y\t[bpf]\nffff t z\t[__builtin__kprobes]\n"[..],
        b"ffff t y\nffff t y\t[m]\n",
        b"one\n",
        b"",
    ] {
        let mut t = kept.to_vec();
        drop_stop_echo(&mut t);
        assert_eq!(t, kept);
    }
}

/// On this machine, when it lets us: every line the iterator gives is
/// a line of `/proc/kallsyms` (read with addresses shown), and the
/// other way round but for BPF programs coming and going.
#[test]
fn the_iterator_prints_what_kallsyms_does() {
    let layout = match std::fs::read("/sys/kernel/btf/vmlinux")
        .map_err(|e| e.to_string())
        .and_then(|b| crate::parse::btf::ksym_iter_layout(&b))
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("skipped: no BPF ksym iterator here: {e}");
            return;
        }
    };
    let text = match read_ksym_iter(&layout, 1 << 30) {
        Ok((d, _)) => d.text,
        Err(e) => {
            eprintln!("skipped: the BPF ksym iterator cannot be used here: {e}");
            return;
        }
    };
    let kallsyms = std::fs::read("/proc/kallsyms").unwrap();
    let lines = |b: &[u8]| -> std::collections::BTreeSet<String> {
        String::from_utf8_lossy(b)
            .lines()
            .filter(|l| !l.contains("[bpf]") && !l.contains("[__builtin__kprobes]"))
            .map(str::to_string)
            .collect()
    };
    let (ours, theirs) = (lines(&text), lines(&kallsyms));
    if theirs.iter().all(|l| l.starts_with("0000000000000000 ")) {
        eprintln!("/proc/kallsyms is redacted here: comparing names only");
        let names = |s: &std::collections::BTreeSet<String>| -> std::collections::BTreeSet<String> {
            s.iter().map(|l| l[17..].to_string()).collect()
        };
        assert!(
            names(&ours) == names(&theirs),
            "the iterator and /proc/kallsyms differ"
        );
    } else {
        assert!(ours == theirs, "the iterator and /proc/kallsyms differ");
    }
    eprintln!("{} lines as /proc/kallsyms has them", ours.len());
    let own: Vec<_> = String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| l.contains(PROGRAM_NAME))
        .map(str::to_string)
        .collect();
    assert!(own.is_empty(), "{own:?}");
    // Both programs give the same lines: the records one, decoded, and
    // the lines one (each names itself, left out).
    let records = run(&records::program(&layout).unwrap(), &layout, 1 << 30).unwrap();
    let decoded = records::decode(&records, PROGRAM_NAME).unwrap();
    let mut formatted = run(&lines::program(&layout), &layout, 1 << 30).unwrap();
    drop_own_lines(&mut formatted);
    assert!(
        lines(&decoded.text) == lines(&formatted),
        "the two programs differ"
    );
    assert_eq!(decoded.lowest_code, lowest_code_of(&formatted));
}
