//! Bounds on what one source may bring in, checked while the bytes stream
//! in: decompression stops at the bound instead of inflating everything and
//! then complaining.
//!
//! Two bounds, sized from real data with a wide margin:
//! - symbol text (kallsyms, System.map, kallmodsyms, `/proc/modules`): the
//!   largest kernels carry ~600k symbols, ~30 MiB of kallsyms; the bound is
//!   256 MiB;
//! - binary files (ELF `vmlinux` and `.ko`, kernel images, snapshots): a
//!   distro vmlinux with DWARF is 0.6-1.1 GiB; the bound is 4 GiB;
//! - a kernel decompressed from an image (a bzImage payload, a compressed
//!   vmlinux): a stripped x86_64 vmlinux is 30-80 MiB; the bound is 160 MiB.
//!
//! Compressed input may also expand at most [`MAX_RATIO`] times (beyond
//! [`RATIO_FLOOR`]): real kallsyms compress 9x, kernel payloads 4-5x, while
//! a decompression bomb expands thousands of times. A bound the caller
//! chose ([`Limit::chosen`]) replaces both.

use crate::error::Error;

/// The default bound on symbol text after decompression.
pub const TEXT_LIMIT: u64 = 256 << 20;
/// The default bound on a binary file after decompression.
pub const BINARY_LIMIT: u64 = 4 << 30;
/// The default bound on a kernel unpacked from an image's payload: a
/// stripped x86_64 vmlinux is 30-80 MiB.
pub const KERNEL_LIMIT: u64 = 160 << 20;
/// Compressed input may expand at most this many times...
pub const MAX_RATIO: u64 = 64;
/// ...once it is past this many bytes.
pub const RATIO_FLOOR: u64 = 16 << 20;
/// The most a list file may hold (`modules.dep`, `modules.builtin*`,
/// `modules.builtin.ranges`; a distro's are 1 MiB at most).
pub const LIST_LIMIT: u64 = 64 << 20;
/// The most a one-line sysfs or procfs attribute may hold (a page).
pub const ATTRIBUTE_LIMIT: u64 = 4096;
/// The most an ELF notes file may hold (`/sys/kernel/notes`, a few hundred
/// bytes on x86; `/sys/module/*/notes/*`).
pub const NOTES_LIMIT: u64 = 64 << 10;
/// The most memory an xz or lzma decoder may take (its dictionary, which the
/// stream's header chooses: up to 4 GiB). Kernel payloads use 32 MiB (xz)
/// or 64 MiB (lzma -9); `xz -6` files, 8 MiB.
pub const DECODER_MEMORY: u64 = 128 << 20;
/// A text source whose first this many bytes hold no symbol line is
/// refused then, not after reading the rest.
pub const HEAD_BYTES: usize = 1 << 20;

/// What one read may take in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The most bytes after decompression.
    pub max_bytes: u64,
    /// Whether compressed input is held to [`MAX_RATIO`] (off when the
    /// caller chose `max_bytes`).
    pub ratio_cap: bool,
}

impl Limit {
    /// The default bound on symbol text, or the caller's.
    pub fn text(chosen: Option<u64>) -> Limit {
        Limit::default_or(TEXT_LIMIT, chosen)
    }

    /// The default bound on a binary file, or the caller's.
    pub fn binary(chosen: Option<u64>) -> Limit {
        Limit::default_or(BINARY_LIMIT, chosen)
    }

    /// The default bound on a kernel unpacked from an image, or the caller's.
    pub fn kernel(chosen: Option<u64>) -> Limit {
        Limit::default_or(KERNEL_LIMIT, chosen)
    }

    /// `max_bytes` with the ratio cap, unless the caller chose a bound.
    fn default_or(max_bytes: u64, chosen: Option<u64>) -> Limit {
        chosen.map_or(
            Limit {
                max_bytes,
                ratio_cap: true,
            },
            Limit::chosen,
        )
    }

    /// A bound the caller chose: exactly `max_bytes`, no ratio cap.
    pub fn chosen(max_bytes: u64) -> Limit {
        Limit {
            max_bytes,
            ratio_cap: false,
        }
    }

    /// Whether the caller chose this bound (else it is a default).
    pub fn is_chosen(&self) -> bool {
        !self.ratio_cap
    }

    /// The most bytes `compressed_in` compressed bytes may expand to.
    pub fn expanded_max(&self, compressed_in: u64) -> u64 {
        if self.ratio_cap {
            self.max_bytes
                .min(RATIO_FLOOR.max(compressed_in.saturating_mul(MAX_RATIO)))
        } else {
            self.max_bytes
        }
    }

    /// The error of `source_name` refused past this bound
    /// (`compressed_in`: the compressed bytes it had read, if compressed).
    pub fn exceeded(&self, source_name: &str, compressed_in: Option<u64>) -> Error {
        let reason = match compressed_in {
            Some(n) if self.expanded_max(n) < self.max_bytes => format!(
                "its {n} compressed bytes expand to more than {} ({MAX_RATIO} times, beyond \
                 {}): a decompression bomb?",
                human(self.expanded_max(n)),
                human(RATIO_FLOOR)
            ),
            Some(_) => format!("it decompresses to more than {}", human(self.max_bytes)),
            None => format!("more than {} of input", human(self.max_bytes)),
        };
        Error::InputBound {
            source_name: source_name.to_string(),
            reason,
        }
    }
}

pub use crate::error::human_bytes as human;

/// Parses a size as the command line takes it: `1000000`, `512K`, `64M`,
/// `2G` (binary multiples; an optional `B`, `iB`).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last()? {
        (i, 'k' | 'K') => (&t[..i], 10),
        (i, 'm' | 'M') => (&t[..i], 20),
        (i, 'g' | 'G') => (&t[..i], 30),
        (i, 't' | 'T') => (&t[..i], 40),
        _ => (t, 0),
    };
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print() {
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("512K"), Some(512 << 10));
        assert_eq!(parse_size("64MiB"), Some(64 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("2GB"), Some(2 << 30));
        for bad in ["", "G", "-1", "1.5G", "99999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(human(256 << 20), "256 MiB");
        assert_eq!(human(4 << 30), "4 GiB");
        assert_eq!(human(1000), "1000 bytes");
    }

    #[test]
    fn ratio_cap_only_by_default() {
        let d = Limit::text(None);
        assert_eq!(d.expanded_max(1000), RATIO_FLOOR);
        assert_eq!(d.expanded_max(1 << 20), 64 << 20);
        assert_eq!(d.expanded_max(1 << 30), TEXT_LIMIT);
        let c = Limit::text(Some(1 << 40));
        assert_eq!(c.expanded_max(1000), 1 << 40);
    }
}
