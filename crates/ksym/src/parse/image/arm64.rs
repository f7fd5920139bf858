//! arm64's raw `Image` (Debian's arm64 `vmlinuz` is one, and what an
//! `Image.gz` unpacks to): its header, its build-id, and the relocations
//! the kernel applies to itself at boot.
//!
//! A relocatable arm64 kernel is linked with `--no-apply-dynamic-relocs`:
//! a pointer-sized word the kernel relocates holds 0 in the file; its value
//! is only the addend of an `R_AARCH64_RELATIVE` entry of `.rela.dyn`,
//! which the kernel carries to apply to itself (`__relocate_kernel`). The
//! `kallsyms_relative_base` of such kernels is one of those words: read as
//! it is, every symbol sits at 0 (vmlinux-to-elf #67). Its value is found
//! here from the entry for its place. The entries name places by their
//! link-time addresses and the file does not say where it is linked, but
//! it starts at `_text`, whose link address is 2 MiB aligned (plus the
//! header's `text_offset`) and lies within an image size below the highest
//! place and at or below the lowest: a handful of candidates, each checked
//! by the caller against what the word must be.

/// Offset and value of the header's magic (`ARM\x64`).
const MAGIC_AT: usize = 0x38;
const MAGIC: &[u8; 4] = b"ARM\x64";
/// The header: `code0 code1 text_offset image_size flags res2 res3 res4
/// magic res5`, little-endian.
const HEADER_LEN: usize = 64;
const R_AARCH64_RELATIVE: u64 = 1027;
/// `ELF64_Rela`: `r_offset`, `r_info`, `r_addend`.
const RELA_LEN: usize = 24;
/// The kernel image is placed at a 2 MiB boundary plus `text_offset`.
const IMAGE_ALIGN: u64 = 2 << 20;
/// Fewer entries than this in a row are not `.rela.dyn` (a real one holds
/// 100,000 or more).
const MIN_RUN: usize = 64;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) text_offset: u64,
    /// The memory the image takes from `_text` (its file and its BSS).
    pub(super) image_size: u64,
}

/// The header of a raw arm64 `Image`, when `data` is one.
pub(super) fn header(data: &[u8]) -> Option<Header> {
    if data.len() < HEADER_LEN || &data[MAGIC_AT..MAGIC_AT + 4] != MAGIC {
        return None;
    }
    let word = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
    Some(Header {
        text_offset: word(8),
        image_size: word(16),
    })
}

/// The GNU build-id of a raw image: not an ELF file, but its `.notes`
/// are in it as the kernel links them (what `/sys/kernel/notes` shows), a
/// 4-aligned note `namesz 4, descsz N, type 3 (NT_GNU_BUILD_ID), "GNU\0"`.
/// The vDSOs the kernel carries (ELF files in its rodata) have their own:
/// notes inside an embedded ELF file are not the kernel's. Every other
/// such note must name the same id, or there is none.
pub(super) fn build_id(data: &[u8]) -> Option<String> {
    const TAIL: &[u8] = b"\x03\0\0\0GNU\0";
    let mut id: Option<&[u8]> = None;
    for at in memchr::memmem::find_iter(data, TAIL) {
        let Some(head) = at.checked_sub(8).filter(|h| h % 4 == 0) else {
            continue;
        };
        let word = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
        let (namesz, descsz) = (word(head), word(head + 4) as usize);
        let desc_at = at + TAIL.len();
        if namesz != 4
            || !(8..=64).contains(&descsz)
            || desc_at + descsz > data.len()
            || in_embedded_elf(data, head)
        {
            continue;
        }
        let desc = &data[desc_at..desc_at + descsz];
        match id {
            Some(seen) if seen != desc => return None,
            _ => id = Some(desc),
        }
    }
    id.map(crate::parse::notes::hex)
}

/// Whether `at` lies in an ELF file embedded in `data` (a vDSO: 64- or
/// 32-bit little-endian, its section headers last) that starts within
/// 1 MiB before it.
fn in_embedded_elf(data: &[u8], at: usize) -> bool {
    let from = at.saturating_sub(1 << 20);
    let Some(elf) = memchr::memmem::rfind(&data[from..at], b"\x7fELF").map(|e| from + e) else {
        return false;
    };
    let Some(header) = data.get(elf..elf + 64) else {
        return false;
    };
    let half = |o: usize| u64::from(u16::from_le_bytes([header[o], header[o + 1]]));
    let word = |o: usize| u64::from(u32::from_le_bytes(header[o..o + 4].try_into().expect("4")));
    let (shoff, shentsize, shnum) = match header[4] {
        2 => (
            u64::from_le_bytes(header[0x28..0x30].try_into().expect("8")),
            half(0x3a),
            half(0x3c),
        ),
        1 => (word(0x20), half(0x2e), half(0x30)),
        _ => return false,
    };
    let end = shentsize
        .checked_mul(shnum)
        .and_then(|n| n.checked_add(shoff))
        .and_then(|n| n.checked_add(elf as u64));
    end.is_some_and(|end| (at as u64) < end)
}

/// The relocations of an image: its longest run of `R_AARCH64_RELATIVE`
/// entries, `(place, value)` by place.
pub(super) struct Relocations {
    entries: Vec<(u64, u64)>,
}

impl Relocations {
    /// The longest run of entries in `data` (8-aligned, as the linker
    /// writes `.rela.dyn`); `None` when there is no run of [`MIN_RUN`].
    pub(super) fn find(data: &[u8]) -> Option<Relocations> {
        let entry = |at: usize| -> Option<(u64, u64)> {
            let word = |k: usize| {
                let from = at.checked_add(8 * k)?;
                Some(u64::from_le_bytes(
                    data.get(from..from + 8)?.try_into().ok()?,
                ))
            };
            (word(1)? == R_AARCH64_RELATIVE).then_some((word(0)?, word(2)?))
        };
        let mut best: Option<(usize, usize)> = None;
        let mut at = 0;
        while at + RELA_LEN <= data.len() {
            if entry(at).is_none() {
                at += 8;
                continue;
            }
            let start = at;
            while entry(at).is_some() {
                at += RELA_LEN;
            }
            let count = (at - start) / RELA_LEN;
            if count >= MIN_RUN && best.is_none_or(|b| count > b.1) {
                best = Some((start, count));
            }
        }
        let (start, count) = best?;
        let mut entries: Vec<(u64, u64)> = (0..count)
            .filter_map(|i| entry(start + i * RELA_LEN))
            .collect();
        entries.sort_unstable();
        Some(Relocations { entries })
    }

    /// The value the kernel gives the word at file offset `at`, for each
    /// link address the file may start at (see the module documentation),
    /// the first that `plausible(start, value)` accepts.
    pub(super) fn value_at(
        &self,
        header: &Header,
        at: usize,
        plausible: impl Fn(u64, u64) -> bool,
    ) -> Option<u64> {
        let lowest = self.entries.first()?.0;
        let highest = self.entries.last()?.0;
        let at = at as u64;
        let from = highest.checked_sub(header.image_size)?;
        let phase = header.text_offset % IMAGE_ALIGN;
        let mut start = (from - from % IMAGE_ALIGN).checked_add(phase)?;
        while start <= lowest {
            if start >= from {
                let place = start.checked_add(at)?;
                if let Ok(i) = self.entries.binary_search_by_key(&place, |e| e.0) {
                    let value = self.entries[i].1;
                    if plausible(start, value) {
                        return Some(value);
                    }
                }
            }
            start = start.checked_add(IMAGE_ALIGN)?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image of `len` bytes linked at `start`, with a run of entries
    /// (one for the word at `word_at`, holding `value`).
    fn image(start: u64, len: usize, word_at: usize, value: u64) -> Vec<u8> {
        let mut d = vec![0u8; len];
        d[MAGIC_AT..MAGIC_AT + 4].copy_from_slice(MAGIC);
        d[16..24].copy_from_slice(&(len as u64).to_le_bytes());
        let rela = len / 2;
        for i in 0..200usize {
            let place = if i == 100 {
                start + word_at as u64
            } else {
                start + 0x1000 + 8 * i as u64
            };
            let at = rela + i * RELA_LEN;
            d[at..at + 8].copy_from_slice(&place.to_le_bytes());
            d[at + 8..at + 16].copy_from_slice(&R_AARCH64_RELATIVE.to_le_bytes());
            d[at + 16..at + 24].copy_from_slice(&(start + 0x40).to_le_bytes());
            if i == 100 {
                d[at + 16..at + 24].copy_from_slice(&value.to_le_bytes());
            }
        }
        d
    }

    #[test]
    fn the_word_gets_its_relocated_value() {
        let start = 0xffff_8000_0800_0000;
        let d = image(start, 1 << 16, 0x8000, start + 0x10000);
        let h = header(&d).unwrap();
        let relocs = Relocations::find(&d).unwrap();
        assert_eq!(
            relocs.value_at(&h, 0x8000, |s, v| v >= s),
            Some(start + 0x10000)
        );
        // No entry for the place, or none the caller finds plausible.
        assert_eq!(relocs.value_at(&h, 0x8008, |_, _| true), None);
        assert_eq!(relocs.value_at(&h, 0x8000, |_, _| false), None);
    }

    #[test]
    fn other_files_are_not_images() {
        assert_eq!(header(&[0u8; 100]), None);
        assert_eq!(header(b"ARM\x64"), None);
        assert!(Relocations::find(&[0u8; 4096]).is_none());
    }
}
