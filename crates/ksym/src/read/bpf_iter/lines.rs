//! The fallback program: for each symbol, `bpf_seq_printf` of the line
//! `/proc/kallsyms` would print, with the real address. Slower than the
//! records ([`super::records`]), kept for a kernel that refuses those.

use super::asm::*;
use super::{KsymIterLayout, BPF_FUNC_SEQ_PRINTF};

/// The formats, as `/proc/kallsyms` prints (`s_show`, kernel/kallsyms.c).
const MODULE_FORMAT: &[u8] = b"%016llx %c %s\t[%s]\n\0";
const CORE_FORMAT: &[u8] = b"%016llx %c %s\n\0";

/// The iterator program for `layout`. In C, with `it` the symbol:
///
/// ```c
/// if (!it || !it->name[0]) return 0;
/// char t = it->type;
/// if (it->module_name[0] && isalpha(t))   // as s_show labels module symbols
///     t = it->exported ? toupper(t) : tolower(t);
/// u64 args[4] = { it->value, t, (u64)it->name, (u64)it->module_name };
/// if (it->module_name[0]) bpf_seq_printf(seq, "%llx %c %s\t[%s]\n", .., args, 32);
/// else                    bpf_seq_printf(seq, "%llx %c %s\n", .., args, 24);
/// return 0;
/// ```
///
/// The formats live on the stack below the arguments (r10-32..-1).
pub fn program(l: &KsymIterLayout) -> Vec<Insn> {
    let o = |x: u32| x as i16; // offsets a kernel struct can have
    let mut p = vec![
        mov(6, 1),                        // r6 = ctx
        ldx_dw(7, 6, o(l.ctx_ksym)),      // r7 = ctx->ksym
        jmp_imm(0x15, 7, 0, 0),           // if !r7 goto out (patched below)
        ldx_b(1, 7, o(l.name)),           // if !it->name[0] goto out (as
        jmp_imm(0x15, 1, 0, 0),           // s_show; patched below)
        ldx_dw(1, 6, o(l.ctx_meta)),      // r1 = ctx->meta
        ldx_dw(8, 1, o(l.meta_seq)),      // r8 = meta->seq
        ldx_dw(1, 7, o(l.value)),         // args[0] = it->value
        stx_dw(10, -32, 1),               //
        ldx_b(1, 7, o(l.kind)),           // r1 = it->type
        ldx_b(9, 7, o(l.module_name)),    // r9 = it->module_name[0]
        jmp_imm(0x15, 9, 0, 8),           // core symbol: the type as it is
        mov(2, 1),                        // r2 = type | 0x20 (lower case)
        or_imm(2, 0x20),                  //
        jmp_imm(0xa5, 2, b'a' as i32, 5), // not a letter: as it is
        jmp_imm(0x25, 2, b'z' as i32, 4), //
        ldx_w(3, 7, o(l.exported)),       //
        mov(1, 2),                        // r1 = lower
        jmp_imm(0x15, 3, 0, 1),           // not exported: lower
        and_imm(1, 0xdf),                 // exported: upper
        stx_dw(10, -24, 1),               // args[1] = type
        mov(1, 7),                        // args[2] = it->name
        add_imm(1, l.name as i32),        //
        stx_dw(10, -16, 1),               //
        mov(1, 7),                        // args[3] = it->module_name
        add_imm(1, l.module_name as i32),
        stx_dw(10, -8, 1),
    ];
    // The formats: the module one at r10-56, the core one at r10-72.
    for (format, at) in [(MODULE_FORMAT, -56i16), (CORE_FORMAT, -72)] {
        for (i, chunk) in format.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            p.extend(ld_imm64(1, u64::from_le_bytes(word)));
            p.push(stx_dw(10, at + 8 * i as i16, 1));
        }
    }
    let print = |format_at: i32, len: usize, args: i32| {
        [
            mov(1, 8),
            mov(2, 10),
            add_imm(2, format_at),
            mov_imm(3, len as i32),
            mov(4, 10),
            add_imm(4, -32),
            mov_imm(5, args),
            call(BPF_FUNC_SEQ_PRINTF),
        ]
    };
    p.push(jmp_imm(0x15, 9, 0, 9)); // core symbol: skip the module print
    p.extend(print(-56, MODULE_FORMAT.len(), 32));
    p.push(ja(8));
    p.extend(print(-72, CORE_FORMAT.len(), 24));
    let out = p.len();
    p.extend([mov_imm(0, 0), exit()]);
    p[2].off = (out - 3) as i16;
    p[4].off = (out - 5) as i16;
    p
}
