//! BPF instructions as the kernel reads them, and the few forms the
//! iterator programs use: enough of an assembler to write a program as a
//! list of calls, each with the C it stands for beside it.

/// One BPF instruction as the kernel reads it (little-endian hosts: the
/// register nibbles are `dst | src << 4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

pub(super) const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | src << 4,
        off,
        imm,
    }
}

// The few instruction forms the program uses.
pub(super) const fn ldx_dw(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x79, dst, src, off, 0) // dst = *(u64 *)(src + off)
}
pub(super) const fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x61, dst, src, off, 0) // dst = *(u32 *)(src + off)
}
pub(super) const fn ldx_b(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x71, dst, src, off, 0) // dst = *(u8 *)(src + off)
}
pub(super) const fn stx_dw(dst: u8, off: i16, src: u8) -> Insn {
    insn(0x7b, dst, src, off, 0) // *(u64 *)(dst + off) = src
}
pub(super) const fn mov(dst: u8, src: u8) -> Insn {
    insn(0xbf, dst, src, 0, 0)
}
pub(super) const fn mov_imm(dst: u8, imm: i32) -> Insn {
    insn(0xb7, dst, 0, 0, imm)
}
pub(super) const fn add_imm(dst: u8, imm: i32) -> Insn {
    insn(0x07, dst, 0, 0, imm)
}
pub(super) const fn or_imm(dst: u8, imm: i32) -> Insn {
    insn(0x47, dst, 0, 0, imm)
}
pub(super) const fn and_imm(dst: u8, imm: i32) -> Insn {
    insn(0x57, dst, 0, 0, imm)
}
/// `if dst <op> imm goto +off`: op 0x15 ==, 0xa5 < (unsigned), 0x25 >.
pub(super) const fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
    insn(op, dst, 0, off, imm)
}
pub(super) const fn ja(off: i16) -> Insn {
    insn(0x05, 0, 0, off, 0)
}
pub(super) const fn call(helper: i32) -> Insn {
    insn(0x85, 0, 0, 0, helper)
}
pub(super) const fn exit() -> Insn {
    insn(0x95, 0, 0, 0, 0)
}
/// `dst = imm64`: two slots.
pub(super) fn ld_imm64(dst: u8, v: u64) -> [Insn; 2] {
    [
        insn(0x18, dst, 0, 0, v as u32 as i32),
        insn(0, 0, 0, 0, (v >> 32) as u32 as i32),
    ]
}

pub(super) const fn stx_b(dst: u8, off: i16, src: u8) -> Insn {
    insn(0x73, dst, src, off, 0) // *(u8 *)(dst + off) = src
}
pub(super) const fn sub(dst: u8, src: u8) -> Insn {
    insn(0x1f, dst, src, 0, 0)
}
pub(super) const fn and(dst: u8, src: u8) -> Insn {
    insn(0x5f, dst, src, 0, 0)
}
pub(super) const fn xor_imm(dst: u8, imm: i32) -> Insn {
    insn(0xa7, dst, 0, 0, imm)
}
pub(super) const fn lsh_imm(dst: u8, imm: i32) -> Insn {
    insn(0x67, dst, 0, 0, imm)
}
