//! The exceptions: `ksym.Error` and one subclass per kind of failure, each
//! carrying the sentence the `ksym` command prints (without `ksym: `).

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use ksym::{Error as LibError, ResolveErrorKind};

create_exception!(
    ksym,
    Error,
    PyException,
    "Every error ksym raises; str() is the sentence the ksym command prints."
);
create_exception!(
    ksym,
    Redacted,
    Error,
    "The kernel hides its addresses from this reader (kptr_restrict)."
);
create_exception!(
    ksym,
    NotFound,
    Error,
    "A file, or a symbol a reference names, that is not there."
);
create_exception!(
    ksym,
    PermissionDenied,
    Error,
    "The system refused access (not root, a private file)."
);
create_exception!(
    ksym,
    BadInput,
    Error,
    "Input that is malformed, damaged or over a size bound, or an argument that is not an address."
);
create_exception!(
    ksym,
    Mismatch,
    Error,
    "A reference that disagrees with the table (size or offset): it comes from another build."
);
create_exception!(
    ksym,
    Ambiguous,
    Error,
    "A reference that several symbols match."
);
create_exception!(ksym, IoError, Error, "Reading failed otherwise.");

/// The exception for a library error, with its sentence.
pub(crate) fn to_py(e: LibError) -> PyErr {
    use std::io::ErrorKind;
    let message = e.to_string();
    match &e {
        LibError::Redacted { .. } => Redacted::new_err(message),
        LibError::Io { source, .. } => match source.kind() {
            ErrorKind::NotFound => NotFound::new_err(message),
            ErrorKind::PermissionDenied => PermissionDenied::new_err(message),
            _ => IoError::new_err(message),
        },
        LibError::UnsafePath { .. } => PermissionDenied::new_err(message),
        LibError::Resolve { kind, .. } => match kind {
            ResolveErrorKind::NotFound => NotFound::new_err(message),
            ResolveErrorKind::Syntax(_) => BadInput::new_err(message),
            ResolveErrorKind::Ambiguous(_) => Ambiguous::new_err(message),
            ResolveErrorKind::SizeMismatch { .. } | ResolveErrorKind::OffsetOutside { .. } => {
                Mismatch::new_err(message)
            }
        },
        _ => BadInput::new_err(message),
    }
}

/// A failure of ours (an argument, a missing file) as the given class.
pub(crate) fn bad_input(message: impl Into<String>) -> PyErr {
    BadInput::new_err(message.into())
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("Redacted", py.get_type::<Redacted>())?;
    m.add("NotFound", py.get_type::<NotFound>())?;
    m.add("PermissionDenied", py.get_type::<PermissionDenied>())?;
    m.add("BadInput", py.get_type::<BadInput>())?;
    m.add("Mismatch", py.get_type::<Mismatch>())?;
    m.add("Ambiguous", py.get_type::<Ambiguous>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    Ok(())
}
