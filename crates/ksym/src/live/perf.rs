//! Perf events reporting kernel symbols coming and going
//! (`PERF_RECORD_KSYMBOL`, `PERF_RECORD_BPF_EVENT`): one dummy event and
//! ring buffer per online CPU, whose records wake the watcher.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// `perf_event_attr` up to `config1`: the first published layout,
/// `PERF_ATTR_SIZE_VER0` (64 bytes; include/uapi/linux/perf_event.h). The
/// kernel zero-fills the fields a shorter attribute leaves out.
#[repr(C)]
pub(super) struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// The bit fields `disabled`, `inherit`, ... (bit 0 first).
    pub(super) flags: u64,
    pub(super) wakeup_watermark: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_TYPE_SOFTWARE: u32 = 1;
/// `enum perf_sw_ids`: an event that counts nothing, for side-band records.
const PERF_COUNT_SW_DUMMY: u64 = 9;
/// `watermark`: wake after `wakeup_watermark` bytes, not events.
const PERF_ATTR_WATERMARK: u64 = 1 << 14;
/// `ksymbol`: `PERF_RECORD_KSYMBOL` records (kernel 5.1).
const PERF_ATTR_KSYMBOL: u64 = 1 << 29;
/// `bpf_event`: `PERF_RECORD_BPF_EVENT` records (kernel 5.1).
const PERF_ATTR_BPF_EVENT: u64 = 1 << 30;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
/// Where `data_head` and `data_tail` are in `struct perf_event_mmap_page`
/// (after the fields padded to 1 KiB).
const PERF_DATA_HEAD: usize = 1024;
const PERF_DATA_TAIL: usize = 1032;

/// One perf event per online CPU that reports kernel symbols coming and
/// going (BPF programs, trampolines, ...): side-band records are written
/// only to the events of the CPU where they happen. Needs `CAP_PERFMON` or
/// `CAP_SYS_ADMIN` (system-wide events); fails with `EACCES` or `EPERM`
/// without, `ENOENT` or `ENOSYS` without support. A CPU brought online
/// later is not covered (the fingerprint polling still is).
pub(super) fn open_ksymbol_rings() -> io::Result<Vec<PerfRing>> {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
    let cpus = parse_cpu_list(&online)
        .ok_or_else(|| io::Error::other(format!("unexpected CPU list {online:?}")))?;
    // SAFETY: sysconf(3) takes no pointers.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(page)
        .ok()
        .filter(|p| p.is_power_of_two())
        .ok_or_else(|| io::Error::other("no page size"))?;
    cpus.into_iter()
        .map(|cpu| PerfRing::open(cpu, page))
        .collect()
}

/// `0-3,5,7-8` (a sysfs CPU list) as the CPUs it names.
pub(super) fn parse_cpu_list(text: &str) -> Option<Vec<libc::c_int>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (libc::c_int, libc::c_int) = (lo.parse().ok()?, hi.parse().ok()?);
        if lo < 0 || hi < lo || hi - lo > 1 << 16 {
            return None;
        }
        cpus.extend(lo..=hi);
    }
    (!cpus.is_empty()).then_some(cpus)
}

/// A dummy software perf event on one CPU with side-band KSYMBOL and
/// BPF_EVENT records, and its ring buffer (one control page and one data
/// page), mapped writable so that the kernel never overwrites unread data
/// and the reader moves `data_tail`. Unmapped and closed on drop.
pub(super) struct PerfRing {
    fd: OwnedFd,
    base: std::ptr::NonNull<libc::c_void>,
    len: usize,
    /// The event reported an error or hang-up: no longer polled.
    pub(super) broken: bool,
}

// SAFETY: the mapping is owned by this value alone (nothing else unmaps it
// or hands its address out); the kernel shares it with no other thread of
// ours, and the two words written through it are accessed atomically.
unsafe impl Send for PerfRing {}

impl PerfRing {
    fn open(cpu: libc::c_int, page: usize) -> io::Result<PerfRing> {
        let attr = PerfEventAttr {
            kind: PERF_TYPE_SOFTWARE,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: PERF_COUNT_SW_DUMMY,
            sample_period: 0,
            sample_type: 0,
            read_format: 0,
            flags: PERF_ATTR_WATERMARK | PERF_ATTR_KSYMBOL | PERF_ATTR_BPF_EVENT,
            // One byte: every record wakes the poller.
            wakeup_watermark: 1,
            bp_type: 0,
            config1: 0,
        };
        // SAFETY: perf_event_open(2) reads `attr.size` bytes of `attr`, a
        // live `repr(C)` value of exactly that size laid out like the
        // kernel's first `perf_event_attr`; nothing else is passed by address.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                -1 as libc::pid_t, // every task...
                cpu,               // ...on this CPU
                -1 as libc::c_int, // no group
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by perf_event_open(2): open and
        // owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
        let len = 2 * page; // 1 + 2^0 pages
                            // SAFETY: a new shared mapping of the event's ring buffer at an
                            // address of the kernel's choosing; it aliases no Rust object.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = std::ptr::NonNull::new(base).ok_or_else(|| io::Error::other("mmap at 0"))?;
        Ok(PerfRing {
            fd,
            base,
            len,
            broken: false,
        })
    }

    pub(super) fn poll_fd(&self) -> libc::c_int {
        if self.broken {
            -1
        } else {
            self.fd.as_raw_fd()
        }
    }

    /// A control word of the mapped `perf_event_mmap_page`.
    fn control(&self, offset: usize) -> &AtomicU64 {
        debug_assert!(offset == PERF_DATA_HEAD || offset == PERF_DATA_TAIL);
        // SAFETY: `offset` is that of `data_head` or `data_tail`, 8-byte
        // aligned `__u64`s inside the first (control) page, which stays
        // mapped for as long as `self` lives. The kernel writes `data_head`
        // and reads `data_tail` concurrently: both are only accessed
        // atomically here, as the perf ABI expects.
        unsafe {
            &*self
                .base
                .as_ptr()
                .cast::<u8>()
                .add(offset)
                .cast::<AtomicU64>()
        }
    }

    /// Skips every record written so far (their content is not needed: the
    /// watcher reads the fingerprint next); whether there were any.
    pub(super) fn drain(&self) -> bool {
        // Acquire: pairs with the kernel's store of the head after the data
        // (we do not read the data, but this is the ABI's order).
        let head = self.control(PERF_DATA_HEAD).load(Ordering::Acquire);
        let tail = self.control(PERF_DATA_TAIL).load(Ordering::Relaxed);
        // Release: the space up to `head` is free again for the kernel.
        self.control(PERF_DATA_TAIL).store(head, Ordering::Release);
        head != tail
    }
}

impl Drop for PerfRing {
    fn drop(&mut self) {
        // SAFETY: `base` and `len` are those of the mapping made in `open`,
        // unmapped only here; no reference from `control` outlives `self`.
        // The descriptor is closed after, when `fd` drops.
        unsafe { libc::munmap(self.base.as_ptr(), self.len) };
    }
}
