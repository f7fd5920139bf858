//! What the running host tells about its kernel: release, boot id, build-id,
//! address restrictions, and where debug material (BTF, vmlinux, System.map)
//! can be found. Nothing here needs `/proc/kcore`, and every missing piece is
//! a `None` or an empty list, never an error.

use std::path::{Path, PathBuf};

use crate::parse::notes::build_id_of_file;
pub use crate::parse::notes::{gnu_build_id, hex};
use crate::read::limit::ATTRIBUTE_LIMIT;
use crate::read::read_small;

pub use crate::parse::arch::{
    arch_of_text, kaslr_slide_of_text, ArchFacts, ARCHES, X86_64_TEXT_LINK_ADDR,
};

/// The architecture of the kernel `table`'s symbols are of.
pub fn arch_of_table(table: &crate::table::SymbolTable) -> Option<&'static ArchFacts> {
    table.text_anchor().and_then(arch_of_text)
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
