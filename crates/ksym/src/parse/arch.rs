//! What differs between the architectures' kernels (x86_64, arm64), as
//! a table of facts: the one place that tells them apart, for what a table
//! of symbols alone can say (re-exported as `ksym::host`).

/// The link-time address of `_text` on x86_64 with the default
/// `CONFIG_PHYSICAL_START` (16 MiB) above `__START_KERNEL_map`.
pub const X86_64_TEXT_LINK_ADDR: u64 = 0xffff_ffff_8100_0000;

/// What tells the architectures' kernel addresses apart: the one place
/// that knows it (for what a table of symbols alone can say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchFacts {
    pub name: &'static str,
    /// Where the kernel image's `_text` lies, whatever the slide.
    pub text_range: (u64, u64),
    /// `_text`'s link-time address, when one holds for every build:
    /// x86_64's; arm64's (`KIMAGE_VADDR`) moves with the VA size and the
    /// module area's size (`0xffff800008000000` on 6.1 with 48-bit VAs,
    /// `0xffff800080000000` on 6.12).
    pub text_link_addr: Option<u64>,
    /// Call trace frames are return addresses printed with `%pS` (arm64),
    /// not less one with `%pB` (x86_64): a frame at `+0x0` is then the
    /// return from a call at the end of the function before it.
    pub trace_frames_print_return_addresses: bool,
    /// Pointer authentication: the bits a signed kernel code address
    /// carries a code in, set again to strip it (0: none). arm64 signs
    /// return addresses with a code above the VA size, bit 55 telling the
    /// kernel half; the image and modules lie in the top 2^47 bytes
    /// whatever the VA size, so bits 47 and up are the kernel's ones.
    pub pointer_auth_bits: u64,
    /// How far `_stext` lies after `_text` (for kallsyms that list only
    /// `_stext`): arm64 links `.head.text` (64 KiB, `SEGMENT_ALIGN`) before
    /// it; x86_64 puts both at one address.
    pub stext_after_text: u64,
    /// `e_machine` of its vmlinux and `.ko` files.
    pub elf_machine: u16,
    /// The code the module loader adds to a module's text area beyond the
    /// `.ko`'s own (arm64's `.plt` and ftrace trampoline); `None`: none.
    pub module_veneers: Option<ModuleVeneers>,
}

/// How arm64's module loader sizes the sections it fills with branch
/// veneers (`module_frob_arch_sections`, arch/arm64/kernel/module-plts.c):
/// one PLT entry per distinct far branch target, one more spare, and a
/// fixed number for the ftrace trampoline. Cortex-A53's erratum 843419
/// workaround adds entries and alignment by CPU: not known off-line, so
/// not counted (no cloud CPU needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleVeneers {
    /// Bytes of one entry (`adrp`, `add`, `br`).
    pub entry_size: u64,
    /// `.plt`'s alignment (`L1_CACHE_BYTES`).
    pub plt_align: u64,
    /// The branch relocations that may need an entry: a target outside the
    /// branch's own section may be out of reach (`R_AARCH64_JUMP26`,
    /// `R_AARCH64_CALL26`).
    pub branch_relocations: [u32; 2],
    /// Entries of `.text.ftrace_trampoline` from a release on, ascending:
    /// two until 6.2 dropped the `FTRACE_REGS` one.
    pub ftrace_entries: &'static [((u32, u32), u64)],
}

impl ModuleVeneers {
    /// The ftrace trampoline's entries for kernel `release` (`6.1.0-57-...`).
    pub fn ftrace_entries_for(&self, release: (u32, u32)) -> u64 {
        self.ftrace_entries
            .iter()
            .rev()
            .find(|(from, _)| *from <= release)
            .map_or(0, |&(_, n)| n)
    }
}

/// x86_64, then arm64.
pub const ARCHES: [ArchFacts; 2] = [
    ArchFacts {
        name: "x86_64",
        text_range: (0xffff_ffff_8000_0000, u64::MAX),
        text_link_addr: Some(X86_64_TEXT_LINK_ADDR),
        trace_frames_print_return_addresses: false,
        pointer_auth_bits: 0,
        stext_after_text: 0,
        elf_machine: 62, // EM_X86_64
        module_veneers: None,
    },
    ArchFacts {
        name: "arm64",
        // The linear map's top half and the vmalloc area the image sits
        // in, for 48- to 52-bit VAs, below x86_64's range.
        text_range: (0xfff0_0000_0000_0000, 0xffff_ffff_7fff_ffff),
        text_link_addr: None,
        trace_frames_print_return_addresses: true,
        pointer_auth_bits: 0xffff_8000_0000_0000,
        stext_after_text: 0x1_0000,
        elf_machine: 183, // EM_AARCH64
        module_veneers: Some(ModuleVeneers {
            entry_size: 12,
            plt_align: 64,
            branch_relocations: [282, 283],
            ftrace_entries: &[((0, 0), 2), ((6, 2), 1)],
        }),
    },
];

/// The architecture whose kernel puts `_text` at `text`.
pub fn arch_of_text(text: u64) -> Option<&'static ArchFacts> {
    ARCHES
        .iter()
        .find(|a| (a.text_range.0..=a.text_range.1).contains(&text))
}

/// The architecture whose ELF files say `machine` in `e_machine`.
pub fn arch_of_elf_machine(machine: u16) -> Option<&'static ArchFacts> {
    ARCHES.iter().find(|a| a.elf_machine == machine)
}

/// The KASLR slide of a kernel whose `_text` is at `text`, where its
/// architecture's link address is known.
pub fn kaslr_slide_of_text(text: u64) -> Option<i64> {
    let link = arch_of_text(text)?.text_link_addr?;
    Some(text.wrapping_sub(link) as i64)
}
