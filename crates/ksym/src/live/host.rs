//! What the running host tells about its kernel: release, boot id, build-id,
//! address restrictions, and where debug material (BTF, vmlinux, System.map)
//! can be found. Nothing here needs `/proc/kcore`, and every missing piece is
//! a `None` or an empty list, never an error.

use std::path::{Path, PathBuf};

use crate::parse::notes::build_id_of_file;
pub use crate::parse::notes::{gnu_build_id, hex};
use crate::read::limit::ATTRIBUTE_LIMIT;
use crate::read::read_small;

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

/// The architecture of the kernel `table`'s symbols are of.
pub fn arch_of_table(table: &crate::table::SymbolTable) -> Option<&'static ArchFacts> {
    table.text_anchor().and_then(arch_of_text)
}

/// The KASLR slide of a kernel whose `_text` is at `text`, where its
/// architecture's link address is known.
pub fn kaslr_slide_of_text(text: u64) -> Option<i64> {
    let link = arch_of_text(text)?.text_link_addr?;
    Some(text.wrapping_sub(link) as i64)
}

/// Facts about the running kernel, read from procfs and sysfs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostKernel {
    /// `uname -r`.
    pub release: Option<String>,
    /// `/proc/sys/kernel/random/boot_id`: changes at every boot.
    pub boot_id: Option<String>,
    /// The GNU build-id of the running kernel, in hex, from `/sys/kernel/notes`.
    pub build_id: Option<String>,
    /// `kernel.kptr_restrict`: 0 shows addresses to root, 1 needs
    /// CAP_SYSLOG, 2 hides them from everyone.
    pub kptr_restrict: Option<u8>,
    /// `kernel.perf_event_paranoid`.
    pub perf_event_paranoid: Option<i32>,
    /// The active lockdown mode (`none`, `integrity`, `confidentiality`).
    pub lockdown: Option<String>,
    /// `/sys/kernel/btf/vmlinux`, if present.
    pub btf: Option<PathBuf>,
    /// vmlinux ELF files with symbols found in the usual places.
    pub vmlinux: Vec<PathBuf>,
    /// `System.map` files for this release.
    pub system_map: Vec<PathBuf>,
    /// The compressed kernel image.
    pub vmlinuz: Option<PathBuf>,
    /// Whether `/proc/modules` exists (kernels without module support have none).
    pub has_modules: bool,
}

/// A one-line sysfs or procfs fact (at most a page), trimmed.
fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    let s = String::from_utf8(read_small(path.as_ref(), ATTRIBUTE_LIMIT).ok()?).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl HostKernel {
    /// Reads what the host offers. Never fails: what cannot be read is `None`.
    pub fn discover() -> HostKernel {
        Self::discover_in(Path::new("/"))
    }

    /// The running kernel's release (`uname -r`) alone: one small read,
    /// where [`discover`](Self::discover) looks at a dozen files.
    pub fn release() -> Option<String> {
        read_trimmed("/proc/sys/kernel/osrelease")
    }

    /// Like [`discover`](Self::discover), with every path under `root` (for tests).
    pub fn discover_in(root: &Path) -> HostKernel {
        let p = |rel: &str| root.join(rel.trim_start_matches('/'));
        let release = read_trimmed(p("/proc/sys/kernel/osrelease"));
        let lockdown = read_trimmed(p("/sys/kernel/security/lockdown")).and_then(|s| {
            // "none [integrity] confidentiality": the active one is bracketed.
            s.split_whitespace()
                .find(|w| w.starts_with('['))
                .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_string())
        });
        let build_id = build_id_of_file(&p("/sys/kernel/notes"));
        let existing = |paths: Vec<PathBuf>| -> Vec<PathBuf> {
            paths.into_iter().filter(|q| q.is_file()).collect()
        };
        let (vmlinux, system_map, vmlinuz) = match &release {
            Some(r) => (
                existing(vec![
                    p(&format!("/lib/modules/{r}/build/vmlinux")),
                    p(&format!("/usr/lib/debug/boot/vmlinux-{r}")),
                    p(&format!("/usr/lib/debug/lib/modules/{r}/vmlinux")),
                    p(&format!("/boot/vmlinux-{r}")),
                ]),
                existing(vec![
                    p(&format!("/boot/System.map-{r}")),
                    p(&format!("/lib/modules/{r}/build/System.map")),
                    p(&format!("/usr/lib/debug/boot/System.map-{r}")),
                ]),
                Some(p(&format!("/boot/vmlinuz-{r}"))).filter(|q| q.is_file()),
            ),
            None => (Vec::new(), Vec::new(), None),
        };
        HostKernel {
            release,
            boot_id: read_trimmed(p("/proc/sys/kernel/random/boot_id")),
            build_id,
            kptr_restrict: read_trimmed(p("/proc/sys/kernel/kptr_restrict"))
                .and_then(|s| s.parse().ok()),
            perf_event_paranoid: read_trimmed(p("/proc/sys/kernel/perf_event_paranoid"))
                .and_then(|s| s.parse().ok()),
            lockdown,
            btf: Some(p("/sys/kernel/btf/vmlinux")).filter(|q| q.exists()),
            vmlinux,
            system_map,
            vmlinuz,
            has_modules: p("/proc/modules").exists(),
        }
    }

    /// What each missing piece costs and how to get it, one line each.
    pub fn advice(&self) -> Vec<String> {
        let mut out = Vec::new();
        let r = self.release.as_deref().unwrap_or("$(uname -r)");
        if self.kptr_restrict.unwrap_or(0) > 0 {
            out.push(format!(
                "kptr_restrict is {}: /proc/kallsyms shows zeros to readers without CAP_SYSLOG; \
                 run as root or `sysctl kernel.kptr_restrict=0`",
                self.kptr_restrict.unwrap_or(0)
            ));
        }
        if self.btf.is_none() {
            out.push(
                "no /sys/kernel/btf/vmlinux: no type information (kernel built without CONFIG_DEBUG_INFO_BTF)"
                    .to_string(),
            );
        }
        if self.vmlinux.is_empty() {
            out.push(format!(
                "no vmlinux with symbols: no file:line or inlined frames; install the debug \
                 package (Debian: linux-image-{r}-dbg) for /usr/lib/debug/boot/vmlinux-{r}"
            ));
        }
        if self.system_map.is_empty() {
            out.push(format!(
                "no System.map for {r}: the live /proc/kallsyms is the symbol source (Debian ships only a stub)"
            ));
        }
        if self.build_id.is_none() {
            out.push(
                "no build-id in /sys/kernel/notes: cannot match this kernel to an image or debug file"
                    .to_string(),
            );
        }
        out
    }
}

#[cfg(test)]
mod arch_tests {
    use super::*;

    /// `_text` of real boots (../shared/data): x86_64's slide is known,
    /// arm64's link address is not one constant.
    #[test]
    fn each_kernel_text_has_its_architecture() {
        assert_eq!(
            kaslr_slide_of_text(0xffff_ffff_9b00_0000),
            Some(0x1a00_0000)
        );
        assert_eq!(arch_of_text(0xffff_ffff_8100_0000).unwrap().name, "x86_64");
        for text in [0xffff_d5fb_dd60_0000u64, 0xffff_b067_71a0_0000] {
            assert_eq!(arch_of_text(text).unwrap().name, "arm64");
            assert_eq!(kaslr_slide_of_text(text), None);
        }
        assert_eq!(arch_of_text(0x1000), None);
    }
}
