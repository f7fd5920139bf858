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

mod decode;

pub use decode::{decode, Decoded, Decoder};

#[cfg(test)]
mod tests;
