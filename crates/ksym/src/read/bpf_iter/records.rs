//! The fast iterator program and what it writes: per symbol a binary
//! record rather than a formatted line, since `bpf_seq_printf` (format
//! parsing, a string copy into a per-CPU buffer, then formatting again)
//! cost more than walking the symbols itself.
//!
//! ```text
//! record: u64 value, u8 type, u8 exported, u8 has module, 5 bytes zero,
//!         the name in 8-byte words up to and including the word holding
//!         its NUL, then (when it has one) the module name the same way
//! ```
//!
//! The names are copied a word at a time with plain loads, which the
//! verifier turns into fault-safe reads of the iterator's own struct: no
//! `bpf_probe_read_kernel`, which `lockdown=confidentiality` takes away.
//! [`decode`] turns the records into the lines `/proc/kallsyms` prints.

use super::asm::*;
use super::KsymIterLayout;

const BPF_FUNC_SEQ_WRITE: i32 = 127;

/// Where the record is built on the stack: its bottom, 512 bytes.
const BUF: i16 = -512;
const HEADER: usize = 16;
/// The name's words that fit beside the header in the stack buffer.
const FIRST_WORDS: u32 = (512 - HEADER as u32) / 8;

/// Copies `words` words from `r7 + from` to the stack buffer from byte
/// `to`, stopping after the one holding a zero byte; then writes the buffer
/// up to there (`r9` bytes). When no word held one, what was copied is
/// written all the same (a longer name goes on in the next words). Needs
/// `r6 = 0x0101..01`, `r8` the seq file.
fn copy_and_write(p: &mut Vec<Insn>, from: u32, words: u32, to: i16) {
    let mut exits = Vec::new();
    for i in 0..words {
        let at = to + (8 * i) as i16;
        p.extend([
            ldx_dw(1, 7, (from + 8 * i) as i16), // r1 = word i
            stx_dw(10, BUF + at, 1),
        ]);
        p.extend(zero_byte_test());
        p.push(mov_imm(9, at as i32 + 8));
        exits.push(p.len());
        p.push(jmp_imm(0x55, 2, 0, 0)); // if r2 != 0 goto write (patched)
    }
    let write = p.len();
    for e in exits {
        p[e].off = (write - e - 1) as i16;
    }
    p.extend([
        mov(1, 8),
        mov(2, 10),
        add_imm(2, BUF as i32),
        mov(3, 9),
        call(BPF_FUNC_SEQ_WRITE),
    ]);
}

/// `r2` = non-zero when the word in `r1` holds a zero byte: `(v -
/// 0x01..01) & ~v & 0x80..80`, with `r6 = 0x01..01`; `r1` is spent.
fn zero_byte_test() -> [Insn; 7] {
    [
        mov(2, 1),
        sub(2, 6),
        xor_imm(1, -1),
        and(2, 1),
        mov(1, 6),
        lsh_imm(1, 7),
        and(2, 1),
    ]
}

/// The program for `layout`, or `None` when its fields are not laid out as
/// the word copies need (the name arrays in order, each a whole word long
/// at least). In C, with `it` the symbol:
///
/// ```c
/// if (!it) return 0;
/// struct { u64 value; u8 type, exported, module, pad[5]; } h = {
///     it->value, it->type, it->exported, it->module_name[0] };
/// write h, then words of it->name up to its NUL (one write unless the
///     name is longer than 495 bytes);
/// if (it->module_name[0]) write words of it->module_name up to its NUL;
/// ```
pub fn program(l: &KsymIterLayout) -> Option<Vec<Insn>> {
    let name_words = l.module_name.checked_sub(l.name)? / 8;
    let module_words = l.exported.checked_sub(l.module_name)? / 8;
    if name_words == 0 || module_words == 0 || name_words > 64 {
        return None;
    }
    let o = |x: u32| x as i16;
    let mut p = vec![
        mov(6, 1),                   // r6 = ctx
        ldx_dw(7, 6, o(l.ctx_ksym)), // r7 = ctx->ksym
        jmp_imm(0x15, 7, 0, 0),      // if !r7 goto out (patched below)
        ldx_dw(1, 6, o(l.ctx_meta)), // r8 = ctx->meta->seq
        ldx_dw(8, 1, o(l.meta_seq)),
        ldx_dw(1, 7, o(l.value)), // the header
        stx_dw(10, BUF, 1),
        mov_imm(1, 0),
        stx_dw(10, BUF + 8, 1),
        ldx_b(1, 7, o(l.kind)),
        stx_b(10, BUF + 8, 1),
        ldx_w(1, 7, o(l.exported)),
        stx_b(10, BUF + 9, 1),
        ldx_b(1, 7, o(l.module_name)),
        stx_b(10, BUF + 10, 1),
    ];
    p.extend(ld_imm64(6, 0x0101_0101_0101_0101));
    // The header and the name in one write, as far as the 512 bytes of
    // stack go; the rest of a longer name in a second.
    let first = name_words.min(FIRST_WORDS);
    copy_and_write(&mut p, l.name, first, HEADER as i16);
    if name_words > first {
        // The name went on when the buffer is full (r9 == 512) and its
        // last word holds no zero byte: then its rest, in a second write.
        let full = p.len();
        p.push(jmp_imm(0xa5, 9, 512, 0)); // if r9 < 512 goto done
        p.push(ldx_dw(1, 10, -8));
        p.extend(zero_byte_test());
        let ended = p.len();
        p.push(jmp_imm(0x55, 2, 0, 0)); // if r2 != 0 goto done
        copy_and_write(&mut p, l.name + 8 * first, name_words - first, 0);
        let done = p.len();
        p[full].off = (done - full - 1) as i16;
        p[ended].off = (done - ended - 1) as i16;
    }
    let no_module = p.len() + 1;
    p.extend([ldx_b(1, 7, o(l.module_name)), jmp_imm(0x15, 1, 0, 0)]);
    copy_and_write(&mut p, l.module_name, module_words, 0);
    let out = p.len();
    p.extend([mov_imm(0, 0), exit()]);
    p[2].off = (out - 3) as i16;
    p[no_module].off = (out - no_module - 1) as i16;
    Some(p)
}

/// The records as `/proc/kallsyms` lines, all at once (see [`Decoder`]).
pub fn decode(records: &[u8], own: &str) -> Result<Decoded, String> {
    let mut d = Decoder::new(own);
    d.feed(records)?;
    d.finish()
}

/// What [`decode`] makes of the records.
#[derive(Debug, Default)]
pub struct Decoded {
    /// `/proc/kallsyms` text with real addresses.
    pub text: Vec<u8>,
    /// (module, lowest `t`/`T` address) in the order first met.
    pub lowest_code: Vec<(String, u64)>,
}

/// Turns records into `/proc/kallsyms` lines (`%016lx %c %s[\t[%s]]`, a
/// module symbol's type letter cased by `exported` as `s_show` does) as
/// they stream in, a record cut between two chunks included. Leaves out
/// the lines of program `own` (the iterator's own) and the kernel's echo
/// of the last symbol at the end (see `drop_stop_echo`), so the last two
/// lines are held back until more come or [`Decoder::finish`]. Notes the
/// lowest code (`t`/`T`) address of each module, where its text area
/// starts. Errors name the byte where the records stop making sense.
pub struct Decoder<'o> {
    own: &'o str,
    /// The bytes of a record not yet whole.
    carry: Vec<u8>,
    /// How many bytes came before `carry`.
    done: usize,
    text: Vec<u8>,
    lowest_code: Vec<(String, u64)>,
}

impl<'o> Decoder<'o> {
    pub fn new(own: &'o str) -> Self {
        Decoder {
            own,
            carry: Vec::new(),
            done: 0,
            text: Vec::new(),
            lowest_code: Vec::new(),
        }
    }

    /// Takes the next bytes.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        let mut carry = std::mem::take(&mut self.carry);
        carry.extend_from_slice(chunk);
        self.text.reserve(chunk.len() + chunk.len() / 4);
        let mut at = 0;
        let decoded = loop {
            match record(&carry[at..], self.done + at) {
                Ok(Some((r, len))) => {
                    self.line(&r);
                    at += len;
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        carry.drain(..at);
        self.carry = carry;
        self.done += at;
        decoded
    }

    /// The lines ready for a parser: all but the last two.
    pub fn ready(&self) -> &[u8] {
        &self.text[..self.held_from()]
    }

    /// Forgets the lines [`Decoder::ready`] gave.
    pub fn consume_ready(&mut self) {
        let n = self.held_from();
        self.text.drain(..n);
    }

    fn held_from(&self) -> usize {
        let body = self.text.strip_suffix(b"\n").unwrap_or(&self.text);
        memchr::memrchr_iter(b'\n', body)
            .nth(1)
            .map_or(0, |i| i + 1)
    }

    /// The lines not yet taken (the echo left out) and the modules' lowest
    /// code; an error when the records end inside one.
    pub fn finish(mut self) -> Result<Decoded, String> {
        if !self.carry.is_empty() {
            return Err(format!("a record cut short at byte {}", self.done));
        }
        super::drop_stop_echo(&mut self.text);
        Ok(Decoded {
            text: self.text,
            lowest_code: self.lowest_code,
        })
    }

    fn line(&mut self, r: &Record<'_>) {
        // Symbols without a name (some debugging ones) are not listed, as
        // `s_show` does not list them; the iterator hands them over.
        if r.name.is_empty() {
            return;
        }
        let mut kind = r.kind;
        if let Some(m) = r.module {
            if kind.is_ascii_alphabetic() {
                kind = if r.exported {
                    kind.to_ascii_uppercase()
                } else {
                    kind.to_ascii_lowercase()
                };
            }
            // Its own program, and the kernel's echo of it at the end.
            let own = r.name.starts_with(b"bpf_prog_") && r.name.ends_with(self.own.as_bytes());
            if own && (m == b"bpf" || m == super::STOP_MODULE) {
                return;
            }
            if matches!(kind, b't' | b'T') {
                // A module's symbols come together: its entry is the last.
                let known = match self.lowest_code.last_mut() {
                    Some(last) if last.0.as_bytes() == m => Some(last),
                    _ => self.lowest_code.iter_mut().find(|(n, _)| n.as_bytes() == m),
                };
                match known {
                    Some((_, low)) => *low = (*low).min(r.value),
                    None => self
                        .lowest_code
                        .push((String::from_utf8_lossy(m).into_owned(), r.value)),
                }
            }
        }
        push_hex16(&mut self.text, r.value);
        self.text.extend_from_slice(&[b' ', kind, b' ']);
        self.text.extend_from_slice(r.name);
        if let Some(m) = r.module {
            self.text.extend_from_slice(b"\t[");
            self.text.extend_from_slice(m);
            self.text.push(b']');
        }
        self.text.push(b'\n');
    }
}

/// One record's fields.
struct Record<'a> {
    value: u64,
    kind: u8,
    exported: bool,
    name: &'a [u8],
    module: Option<&'a [u8]>,
}

/// The record at the start of `buf` and its length, `None` when `buf` ends
/// inside it; `base` is where `buf` starts in the stream, for errors.
fn record(buf: &[u8], base: usize) -> Result<Option<(Record<'_>, usize)>, String> {
    let Some(header) = buf.get(..HEADER) else {
        return Ok(None);
    };
    let kind = header[8];
    if !kind.is_ascii_graphic() {
        return Err(format!("record at byte {base}: type byte {kind:#x}"));
    }
    let mut at = HEADER;
    let Some(name) = words_to_nul(buf, &mut at, base)? else {
        return Ok(None);
    };
    let module = if header[10] != 0 {
        match words_to_nul(buf, &mut at, base)? {
            Some(m) => Some(m),
            None => return Ok(None),
        }
    } else {
        None
    };
    let r = Record {
        value: u64::from_ne_bytes(header[..8].try_into().expect("8 bytes")),
        kind,
        exported: header[9] != 0,
        name,
        module,
    };
    Ok(Some((r, at)))
}

/// The string in the words of `buf` from `at` up to its NUL (`None` when
/// `buf` ends first); `at` moves past the word holding it.
fn words_to_nul<'a>(
    buf: &'a [u8],
    at: &mut usize,
    base: usize,
) -> Result<Option<&'a [u8]>, String> {
    let from = *at;
    loop {
        if *at - from >= 512 {
            return Err(format!(
                "a name at byte {} has no end in 512 bytes",
                base + from
            ));
        }
        let Some(word) = buf.get(*at..*at + 8) else {
            return Ok(None);
        };
        *at += 8;
        if let Some(nul) = memchr::memchr(0, word) {
            let s = &buf[from..*at - 8 + nul];
            // A newline would forge a second line. (Other control bytes
            // are real: GCC's local labels hold \x02, as `.L14472\x021`,
            // and /proc/kallsyms prints them as they are.)
            if let Some(i) = memchr::memchr(b'\n', s) {
                return Err(format!("a name with a newline at byte {}", base + from + i));
            }
            return Ok(Some(s));
        }
    }
}

/// Appends `v` as `%016lx` does (the formatting machinery would cost as
/// much as the rest of the decoding).
fn push_hex16(out: &mut Vec<u8>, v: u64) {
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = b"0123456789abcdef"[(v >> (60 - 4 * i) & 0xf) as usize];
    }
    out.extend_from_slice(&digits);
}

#[cfg(test)]
mod tests {
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
            text.ends_with(
                "other\t[bpf]\nffffffffa0002000 t kprobe_insn_page\t[__builtin__kprobes]\n"
            ),
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
        let layout = KsymIterLayout {
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
        let l = KsymIterLayout {
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
}
