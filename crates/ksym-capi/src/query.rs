//! Questions besides batches: every address of a name, the counters, and
//! what the host kernel is.

use std::ffi::c_char;

use ksym_core::HostKernel;

use crate::error::*;
use crate::open::{handle, ksym_symbolizer};

/// Writes every address of the symbol `name` (in `module` only, when not
/// NULL; `""` for the core kernel) into `addrs`, at most `cap`, lowest
/// first, and the number there are into `*count`. `KSYM_ERR_NOT_FOUND`
/// when there is none; `KSYM_ERR_BUFFER_TOO_SMALL` when `cap` is less than
/// `*count` (the first `cap` are written). Thread-safe.
///
/// # Safety
/// `handle` is a live handle; `name` (and `module` unless NULL) are
/// NUL-terminated; `addrs` has room for `cap` addresses (NULL with `cap`
/// 0); `count` is writable; `err` as for every call.
#[no_mangle]
pub unsafe extern "C" fn ksym_find(
    handle_ptr: *const ksym_symbolizer,
    name: *const c_char,
    module: *const c_char,
    addrs: *mut u64,
    cap: usize,
    count: *mut usize,
    err: *mut ksym_error,
) -> ksym_status {
    guard(err, || {
        // SAFETY: as the caller promises.
        let h = unsafe { handle(handle_ptr) }?;
        // SAFETY: as the caller promises.
        let name = unsafe { str_arg(name, "name") }?;
        let module = if module.is_null() {
            None
        } else {
            // SAFETY: as the caller promises.
            Some(unsafe { str_arg(module, "module") }?)
        };
        if count.is_null() || (addrs.is_null() && cap > 0) {
            return Err(Failure::invalid(
                "count is NULL, or addrs is NULL with cap > 0",
            ));
        }
        let table = h.symbolizer.source().current();
        let mut found: Vec<u64> = table
            .find(name)
            .filter(|s| module.is_none_or(|m| s.module.unwrap_or("") == m))
            .map(|s| s.start)
            .collect();
        found.sort_unstable();
        found.dedup();
        // SAFETY: writable, checked above.
        unsafe { *count = found.len() };
        for (i, &a) in found.iter().take(cap).enumerate() {
            // SAFETY: `i < cap`, room the caller gave.
            unsafe { *addrs.add(i) = a };
        }
        let place = module.map_or(String::new(), |m| format!(" in [{m}]"));
        match found.len() {
            0 => Err(Failure::new(
                KSYM_ERR_NOT_FOUND,
                format!("no symbol named {name}{place}"),
            )),
            n if n > cap => Err(Failure::new(
                KSYM_ERR_BUFFER_TOO_SMALL,
                format!("{name}{place} has {n} addresses, room for {cap}"),
            )),
            _ => Ok(()),
        }
    })
}

/// A handle's counters: the ones profiling agents export (batches, input
/// addresses, failed batches, raw frames, permission denied, other
/// failures) and the table's.
#[repr(C)]
pub struct ksym_stats {
    /// `sizeof(ksym_stats)` as the caller was compiled with.
    pub size: usize,
    /// Batches symbolized.
    pub batches: u64,
    /// Batches the source gave no table for (every frame raw).
    pub failed_batches: u64,
    /// Addresses given, over all batches (as many frames came back).
    pub ips: u64,
    /// Frames named by a symbol.
    pub resolved: u64,
    /// Frames left as raw addresses, for any reason (the sum of the next
    /// four).
    pub raw: u64,
    pub no_symbol: u64,
    pub failed_redacted: u64,
    pub failed_permission: u64,
    pub failed_other: u64,
    /// Symbols in the current table.
    pub symbols: u64,
    /// Modules in the current table.
    pub modules: u64,
    /// Live handle: tables loaded since it opened (module and BPF changes).
    pub refreshes: u64,
    /// Frames whose source lines were looked up (handles opened with
    /// `lines`) and found, and not found.
    pub lines_found: u64,
    pub lines_missing: u64,
    pub reserved: [u64; 6],
}

/// Writes the counters into `*out` (as much of it as `out->size` says).
/// Thread-safe.
///
/// # Safety
/// `handle` is a live handle; `out` points at a `ksym_stats` with `size`
/// set; `err` as for every call.
#[no_mangle]
pub unsafe extern "C" fn ksym_stats_get(
    handle_ptr: *const ksym_symbolizer,
    out: *mut ksym_stats,
    err: *mut ksym_error,
) -> ksym_status {
    guard(err, || {
        // SAFETY: as the caller promises.
        let h = unsafe { handle(handle_ptr) }?;
        // SAFETY: as the caller promises.
        let size = unsafe { declared_size(out) }.ok_or_else(|| Failure::invalid("out is NULL"))?;
        let st = h.symbolizer.stats();
        let table = h.symbolizer.source().current();
        let refreshes = match h.symbolizer.source() {
            crate::open::Source::Live(k) => k.refresh_count(),
            crate::open::Source::Fixed(_) => 0,
        };
        let full = ksym_stats {
            size,
            batches: st.batches,
            failed_batches: st.failed_batches,
            ips: st.ips,
            resolved: st.resolved,
            raw: st.raw,
            no_symbol: st.no_symbol,
            failed_redacted: st.failed_redacted,
            failed_permission: st.failed_permission,
            failed_other: st.failed_other,
            symbols: table.len() as u64,
            modules: table.module_names().count() as u64,
            refreshes,
            lines_found: st.lines_found,
            lines_missing: st.lines_missing,
            reserved: [0; 6],
        };
        // SAFETY: `size` writable bytes at `out`, as the caller promises.
        unsafe { write_prefix(out, &full, size) };
        Ok(())
    })
}

/// Copies the first `size` bytes of `value` (at most all of it) to `out`.
///
/// # Safety
/// `out` has `size` writable bytes.
unsafe fn write_prefix<T>(out: *mut T, value: &T, size: usize) {
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: `n` bytes of both, which do not overlap.
    unsafe { std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), out.cast::<u8>(), n) };
}

/// What the running kernel is, from `/proc` and `/sys` (nothing needs
/// root). Strings are NUL-terminated and empty when unknown; numbers are -1
/// when unknown.
#[repr(C)]
pub struct ksym_host {
    /// `sizeof(ksym_host)` as the caller was compiled with.
    pub size: usize,
    /// `uname -r`.
    pub release: [c_char; 128],
    /// The kernel's GNU build-id in hex (`/sys/kernel/notes`).
    pub build_id: [c_char; 128],
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: [c_char; 64],
    /// The lockdown mode: `none`, `integrity`, `confidentiality`.
    pub lockdown: [c_char; 32],
    pub kptr_restrict: i32,
    pub perf_event_paranoid: i32,
    /// 1 when the kernel has loadable modules.
    pub has_modules: u8,
    pub reserved0: [u8; 7],
    pub reserved: [u64; 8],
}

/// Fills `*out` with the host kernel's facts. Thread-safe.
///
/// # Safety
/// `out` points at a `ksym_host` with `size` set; `err` as for every call.
#[no_mangle]
pub unsafe extern "C" fn ksym_host_get(out: *mut ksym_host, err: *mut ksym_error) -> ksym_status {
    guard(err, || {
        // SAFETY: as the caller promises.
        let size = unsafe { declared_size(out) }.ok_or_else(|| Failure::invalid("out is NULL"))?;
        let host = HostKernel::discover();
        let mut full = ksym_host {
            size,
            release: [0; 128],
            build_id: [0; 128],
            boot_id: [0; 64],
            lockdown: [0; 32],
            kptr_restrict: host.kptr_restrict.map_or(-1, i32::from),
            perf_event_paranoid: host.perf_event_paranoid.unwrap_or(-1),
            has_modules: host.has_modules.into(),
            reserved0: [0; 7],
            reserved: [0; 8],
        };
        let text = |o: &Option<String>| o.clone().unwrap_or_default();
        write_message(&mut full.release, &text(&host.release));
        write_message(&mut full.build_id, &text(&host.build_id));
        write_message(&mut full.boot_id, &text(&host.boot_id));
        write_message(&mut full.lockdown, &text(&host.lockdown));
        // SAFETY: `size` writable bytes at `out`, as the caller promises.
        unsafe { write_prefix(out, &full, size) };
        Ok(())
    })
}
