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
    },
];

/// The architecture whose kernel puts `_text` at `text`.
pub fn arch_of_text(text: u64) -> Option<&'static ArchFacts> {
    ARCHES
        .iter()
        .find(|a| (a.text_range.0..=a.text_range.1).contains(&text))
}

/// The KASLR slide of a kernel whose `_text` is at `text`, where its
/// architecture's link address is known.
pub fn kaslr_slide_of_text(text: u64) -> Option<i64> {
    let link = arch_of_text(text)?.text_link_addr?;
    Some(text.wrapping_sub(link) as i64)
}
