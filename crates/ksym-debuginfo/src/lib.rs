//! `ksym-debuginfo`: finds the file with DWARF for what the kernel says it
//! runs — a release (`uname -r`), a GNU build-id (`/sys/kernel/notes`,
//! `/sys/module/M/notes/.note.gnu.build-id`), a module name — and returns
//! its path. It does not read DWARF; [`set_core_lines`] hands what it finds
//! (or the cached line table of the build) to `ksym::lines`.
//!
//! Where it looks, in order:
//! 1. on disk, where distributions install debug info (under a root prefix,
//!    `/` or a host's root mounted elsewhere): the `.build-id` tree, then
//!    `/usr/lib/debug/boot/vmlinux-R` (Debian, Ubuntu),
//!    `/usr/lib/debug/lib/modules/R/vmlinux` (Fedora), `vmlinux.debug` and
//!    `boot/vmlinux-R.debug` (SUSE), `/lib/modules/R/build/vmlinux`,
//!    `/boot/vmlinux-R`; modules under `/usr/lib/debug/lib/modules/R/` as
//!    `M.ko` or `M.ko.debug`, plain or `.xz`/`.zst`/`.gz`, `-` and `_` alike;
//! 2. the debuginfod client cache elfutils uses (so what gdb or
//!    eu-addr2line fetched is reused, and the other way round);
//! 3. debuginfod servers (`DEBUGINFOD_URLS`), by build-id, into that cache.
//!
//! A file whose build-id is not the wanted one is never returned: the error
//! names it, its build-id and the wanted one, and every place tried.
//!
//! [`DebugInfoFinder::find_running_vmlinux`] and
//! [`DebugInfoFinder::find_running_module`] read the release and build-ids
//! the running kernel shows (under the same root) themselves.
//!
//! ```no_run
//! use ksym_debuginfo::{Config, DebugInfoFinder};
//! let finder = DebugInfoFinder::new(Config::from_env());
//! let build_id = ksym_debuginfo::parse_build_id("01d2640d3a13145ee314eb05b155f141b7b7058b");
//! let found = finder.find_vmlinux("6.1.0-57-cloud-amd64", build_id.as_deref())?;
//! println!("{} ({})", found.path.display(), found.origin);
//! # Ok::<(), ksym_debuginfo::Error>(())
//! ```

pub mod cache;
mod core_lines;
pub mod disk;
pub mod elf_facts;
pub mod error;
pub mod fetch;
mod finder;

pub use core_lines::{core_vmlinux, set_core_lines, CoreLines, KernelIds};
pub mod kernel;

pub use cache::default_cache_dir;
pub use elf_facts::{elf_facts, hex, parse_build_id, ElfFacts};
pub use error::{Error, Mismatch, Result, Tried};
pub use finder::{Config, DebugInfoFinder, Found, Origin};
pub use kernel::{module_build_id, running_kernel};
