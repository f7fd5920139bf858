//! What went wrong when no file could be given: every place tried, and
//! what each said, so the message tells the user where to put the file.

use std::fmt;
use std::path::PathBuf;

/// One place looked at (a path on disk, a cache entry, a server URL) and
/// why it gave nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    /// The path or URL.
    pub place: String,
    /// What it said: `absent`, `has no DWARF`, `HTTP 404`, ...
    pub outcome: String,
}

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.outcome)
    }
}

/// A file found whose GNU build-id is not the wanted one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: PathBuf,
    /// Lower-case hex of the file's build-id.
    pub found: String,
    /// Lower-case hex of the kernel's.
    pub wanted: String,
}

/// Why no file with DWARF was returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Files were found, but every one had another build than the kernel:
    /// using them would name the wrong lines.
    #[error("no {what}: {}; tried {}", mismatches(.mismatched), list(.tried))]
    Mismatch {
        what: String,
        mismatched: Vec<Mismatch>,
        tried: Vec<Tried>,
    },
    /// Nothing suitable anywhere.
    #[error("no {what}; tried {}", list(.tried))]
    NotFound { what: String, tried: Vec<Tried> },
}

impl Error {
    /// Every place tried, in order.
    pub fn tried(&self) -> &[Tried] {
        match self {
            Error::Mismatch { tried, .. } | Error::NotFound { tried, .. } => tried,
        }
    }
}

fn mismatches(m: &[Mismatch]) -> String {
    m.iter()
        .map(|m| {
            format!(
                "found {} but its build-id is {}, the kernel's is {}",
                m.path.display(),
                m.found,
                m.wanted
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn list(tried: &[Tried]) -> String {
    if tried.is_empty() {
        return "nothing (no place to look)".to_string();
    }
    tried
        .iter()
        .map(Tried::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub type Result<T> = std::result::Result<T, Error>;
