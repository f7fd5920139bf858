//! A read-only view of a Python buffer of `uint64` (a numpy array, an
//! `array.array("Q")`, a memoryview), without copying it.
//!
//! PyO3 offers `PyBuffer` only where the buffer protocol is in the stable
//! ABI (Python 3.11+), and this module is built for the stable ABI of 3.9.
//! `PyObject_GetBuffer`, `PyBuffer_Release` and the `Py_buffer` layout
//! are the same in every CPython since 3.3 (3.11 put them in the stable ABI
//! unchanged), so they are declared here.

use std::ffi::{c_char, c_int, c_void, CStr};

use pyo3::ffi::{PyObject, Py_ssize_t};
use pyo3::prelude::*;

use crate::errors::bad_input;

/// CPython's `Py_buffer`.
#[repr(C)]
struct RawBuffer {
    buf: *mut c_void,
    obj: *mut PyObject,
    len: Py_ssize_t,
    itemsize: Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut Py_ssize_t,
    strides: *mut Py_ssize_t,
    suboffsets: *mut Py_ssize_t,
    internal: *mut c_void,
}

unsafe extern "C" {
    fn PyObject_GetBuffer(obj: *mut PyObject, view: *mut RawBuffer, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut RawBuffer);
}

/// `PyBUF_C_CONTIGUOUS | PyBUF_FORMAT`: one C-contiguous block, with its
/// item format.
const C_CONTIGUOUS_WITH_FORMAT: c_int = 0x38 | 0x0004;

/// A held buffer of `u64`s; released (with the GIL) when dropped.
pub(crate) struct U64Buffer {
    // Boxed: the exporter may keep pointers into the struct itself.
    view: Box<RawBuffer>,
}

impl U64Buffer {
    /// The buffer `obj` exports, when it exports one (None: it is not a
    /// buffer, or not one C-contiguous block: read it as a sequence).
    /// A buffer of another item type is an error.
    pub(crate) fn get(obj: &Bound<'_, PyAny>) -> PyResult<Option<U64Buffer>> {
        // SAFETY: an all-zero Py_buffer is a valid place for the call to fill.
        let mut view: Box<RawBuffer> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `obj` is a live object and the GIL is held (a Bound).
        let rc = unsafe { PyObject_GetBuffer(obj.as_ptr(), &mut *view, C_CONTIGUOUS_WITH_FORMAT) };
        if rc != 0 {
            // Not a buffer (or not a contiguous one): the error is dropped.
            let _ = PyErr::take(obj.py());
            return Ok(None);
        }
        let held = U64Buffer { view };
        held.check()?;
        if !(held.view.buf as usize).is_multiple_of(std::mem::align_of::<u64>()) {
            // Unaligned items (a memoryview cut at an odd byte): read them
            // one by one as a sequence instead.
            return Ok(None);
        }
        Ok(Some(held))
    }

    /// Refuses anything but one dimension of native unsigned 64-bit items.
    fn check(&self) -> PyResult<()> {
        let v = &*self.view;
        let format = match v.format.is_null() {
            true => "B".to_string(),
            // SAFETY: with PyBUF_FORMAT the exporter gives a C string.
            false => unsafe { CStr::from_ptr(v.format) }
                .to_string_lossy()
                .into_owned(),
        };
        let native = if cfg!(target_endian = "little") {
            "<"
        } else {
            ">"
        };
        let code = format
            .strip_prefix(['@', '='])
            .or_else(|| format.strip_prefix(native))
            .unwrap_or(&format);
        let unsigned_64 = matches!(code, "Q" | "L") && v.itemsize == 8;
        if !unsigned_64 {
            return Err(bad_input(format!(
                "a buffer of addresses must hold uint64 items (format 'Q'), not format {format:?} of {} bytes: use numpy.asarray(addrs, dtype=numpy.uint64)",
                v.itemsize
            )));
        }
        if v.ndim != 1 {
            return Err(bad_input(format!(
                "a buffer of addresses must have one dimension, not {}",
                v.ndim
            )));
        }
        Ok(())
    }

    /// The addresses, in place.
    pub(crate) fn as_slice(&self) -> &[u64] {
        let v = &*self.view;
        let n = usize::try_from(v.len).unwrap_or(0) / 8;
        if n == 0 || v.buf.is_null() {
            return &[];
        }
        // SAFETY: a C-contiguous block of `len` bytes of u64 items (checked
        // above), held until drop. Python code writing the array while a
        // call reads it (the GIL released) changes what is read, as with
        // any numpy function that releases the GIL.
        unsafe { std::slice::from_raw_parts(v.buf.cast::<u64>(), n) }
    }
}

impl Drop for U64Buffer {
    fn drop(&mut self) {
        // SAFETY: a view filled by PyObject_GetBuffer, released once, with
        // the GIL held.
        Python::attach(|_| unsafe { PyBuffer_Release(&mut *self.view) });
    }
}
