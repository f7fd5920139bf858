//! Status codes and the caller's error record: every call returns a status,
//! and the sentence the CLI would print goes into a `ksym_error` the caller
//! owns, so no thread-local is read afterwards and no goroutine or thread
//! can see another call's error.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ksym_core::Error;

/// What a call ended with: `KSYM_OK` or one of the `KSYM_ERR_*` codes.
pub type ksym_status = i32;

/// Success.
pub const KSYM_OK: ksym_status = 0;
/// A bad argument: a NULL pointer, a `size` smaller than the version this
/// library first shipped, reserved bytes that are not zero, text that is
/// not UTF-8.
pub const KSYM_ERR_INVALID_ARGUMENT: ksym_status = 1;
/// A file, or a symbol name, that is not there.
pub const KSYM_ERR_NOT_FOUND: ksym_status = 2;
/// The system refused access (not root, a private file).
pub const KSYM_ERR_PERMISSION_DENIED: ksym_status = 3;
/// The kernel hides its addresses from this reader (`kptr_restrict`,
/// `perf_event_paranoid`): every address reads as zero.
pub const KSYM_ERR_REDACTED: ksym_status = 4;
/// Input that is malformed, damaged or over a size bound.
pub const KSYM_ERR_BAD_INPUT: ksym_status = 5;
/// Reading failed otherwise.
pub const KSYM_ERR_IO: ksym_status = 6;
/// The caller's buffer is too small; the count needed was written.
pub const KSYM_ERR_BUFFER_TOO_SMALL: ksym_status = 7;
/// A bug in ksym (a Rust panic, caught at the boundary).
pub const KSYM_ERR_INTERNAL: ksym_status = 8;

/// The longest message kept, with its NUL.
pub const KSYM_ERROR_MESSAGE_LEN: usize = 512;

/// Details of a failed call, filled in by the call when the caller passes
/// one (every fallible function takes a `ksym_error *`, which may be NULL).
/// Set `size` to `sizeof(ksym_error)` first: the library writes only what
/// fits in it.
#[repr(C)]
pub struct ksym_error {
    /// `sizeof(ksym_error)` as the caller was compiled with.
    pub size: usize,
    /// The status the call returned.
    pub status: ksym_status,
    pub reserved: u32,
    /// The sentence the `ksym` command prints for this error, NUL-terminated
    /// (cut at `KSYM_ERROR_MESSAGE_LEN - 1` bytes, on a character boundary).
    pub message: [c_char; KSYM_ERROR_MESSAGE_LEN],
}

/// A failure on its way out: status and sentence.
pub(crate) struct Failure {
    pub(crate) status: ksym_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: ksym_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(KSYM_ERR_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(status_of(&e), e.to_string())
    }
}

/// The status for a library error.
pub(crate) fn status_of(e: &Error) -> ksym_status {
    use std::io::ErrorKind;
    match e {
        Error::Redacted { .. } => KSYM_ERR_REDACTED,
        Error::Io { source, .. } => match source.kind() {
            ErrorKind::NotFound => KSYM_ERR_NOT_FOUND,
            ErrorKind::PermissionDenied => KSYM_ERR_PERMISSION_DENIED,
            _ => KSYM_ERR_IO,
        },
        Error::UnsafePath { .. } => KSYM_ERR_PERMISSION_DENIED,
        _ => KSYM_ERR_BAD_INPUT,
    }
}

/// The `size` a caller's struct starts with, read without assuming more of
/// the struct is there (an older, smaller version of it may be).
///
/// # Safety
/// `p` is NULL or points at a struct that begins with its `size`.
pub(crate) unsafe fn declared_size<T>(p: *const T) -> Option<usize> {
    // SAFETY: every ksym struct begins with its size, a usize.
    (!p.is_null()).then(|| unsafe { p.cast::<usize>().read() })
}

/// Writes `failure` into the caller's record (when there is one and it is
/// big enough for the status) and returns its status. Only the first
/// `size` bytes of the record are touched: a caller built against a
/// smaller `ksym_error` keeps its memory.
pub(crate) fn report(err: *mut ksym_error, failure: &Failure) -> ksym_status {
    write_record(err, failure.status, &failure.message);
    failure.status
}

/// Clears the caller's record for a call that succeeded.
fn clear(err: *mut ksym_error) {
    write_record(err, KSYM_OK, "");
}

fn write_record(err: *mut ksym_error, status: ksym_status, message: &str) {
    // SAFETY: the caller passes NULL or a record whose `size` says how many
    // bytes of it are writable; nothing past them is written.
    unsafe {
        let Some(size) = declared_size(err) else {
            return;
        };
        let header = std::mem::offset_of!(ksym_error, message);
        if size < header {
            return;
        }
        std::ptr::addr_of_mut!((*err).status).write(status);
        let room = (size - header).min(KSYM_ERROR_MESSAGE_LEN);
        let buf = std::ptr::addr_of_mut!((*err).message).cast::<c_char>();
        write_message(std::slice::from_raw_parts_mut(buf, room), message);
    }
}

/// Copies `text` into `buf` NUL-terminated, cut on a UTF-8 boundary.
pub(crate) fn write_message(buf: &mut [c_char], text: &str) {
    let Some(room) = buf.len().checked_sub(1) else {
        return;
    };
    let mut n = text.len().min(room);
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    for (d, &s) in buf.iter_mut().zip(&text.as_bytes()[..n]) {
        *d = s as c_char;
    }
    buf[n] = 0;
}

/// Runs the body of an exported function: its failure, or a panic, becomes
/// a status and a message in `err`.
pub(crate) fn guard(
    err: *mut ksym_error,
    body: impl FnOnce() -> Result<(), Failure>,
) -> ksym_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            clear(err);
            KSYM_OK
        }
        Ok(Err(f)) => report(err, &f),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            report(
                err,
                &Failure::new(KSYM_ERR_INTERNAL, format!("internal error in ksym: {what}")),
            )
        }
    }
}

/// Checks the `size` and reserved bytes of an input struct: `size` at least
/// `first` (the struct as first shipped) and every byte the caller has past
/// what this library knows zero.
///
/// # Safety
/// `ptr` points at `size` readable bytes.
pub(crate) unsafe fn check_input(
    ptr: *const u8,
    size: usize,
    first: usize,
    known: usize,
    reserved: &[u8],
    what: &str,
) -> Result<(), Failure> {
    if size < first {
        return Err(Failure::invalid(format!(
            "{what}.size is {size}, less than {first}: set it to sizeof({what})"
        )));
    }
    if reserved.iter().any(|&b| b != 0) {
        return Err(Failure::invalid(format!(
            "{what}: reserved bytes must be zero"
        )));
    }
    if size > known {
        // SAFETY: the caller says `size` bytes are readable.
        let tail = unsafe { std::slice::from_raw_parts(ptr.add(known), size - known) };
        if tail.iter().any(|&b| b != 0) {
            return Err(Failure::invalid(format!(
                "{what} has fields this library ({}) does not know set: upgrade libksym",
                env!("CARGO_PKG_VERSION")
            )));
        }
    }
    Ok(())
}

/// A C string argument as UTF-8.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string.
pub(crate) unsafe fn str_arg<'a>(s: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if s.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: a NUL-terminated string, as the caller promises.
    unsafe { std::ffi::CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| Failure::invalid(format!("{what} is not UTF-8")))
}
