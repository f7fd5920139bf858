//! The one error type of the crate: every variant says what went wrong, where
//! (source, line, text) and, where there is one, what the user can do about it.

use std::fmt;
use std::path::PathBuf;

/// Why one line of symbol text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineErrorKind {
    /// The first field is not 1 to 16 hexadecimal digits.
    BadAddress,
    /// The line has fewer than the three fields `address type name`.
    TooFewFields,
    /// The type field is not a single ASCII letter (or `?`).
    BadType,
    /// The name is longer than the kernel's limit (`KSYM_NAME_LEN`, 512 bytes).
    NameTooLong(usize),
    /// The line holds bytes that are not UTF-8.
    NotUtf8,
    /// A field after the name is neither `[module]` nor `{object}` (or names
    /// a module that cannot be: empty, with brackets, or `vmlinux`, which
    /// stands for the core kernel).
    UnexpectedField,
    /// The line holds a NUL byte (kernel names are C strings).
    NulByte,
    /// The line is longer than any the kernel prints (its length, or the
    /// bytes read of it before it was given up).
    LineTooLong(usize),
}

impl fmt::Display for LineErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineErrorKind::BadAddress => f.write_str("the address is not 1 to 16 hex digits"),
            LineErrorKind::TooFewFields => {
                f.write_str("too few fields (want `address type name [module]`)")
            }
            LineErrorKind::BadType => f.write_str("the type is not a single letter"),
            LineErrorKind::NameTooLong(n) => {
                write!(f, "the name is {n} bytes long, over the kernel's 512")
            }
            LineErrorKind::NotUtf8 => f.write_str("the line is not UTF-8"),
            LineErrorKind::UnexpectedField => {
                f.write_str("a field after the name is neither `[module]` nor `{object}`")
            }
            LineErrorKind::NulByte => f.write_str("the line holds a NUL byte"),
            LineErrorKind::LineTooLong(n) => {
                write!(
                    f,
                    "the line is over {n} bytes long, more than the kernel prints"
                )
            }
        }
    }
}

/// One line that could not be read: its number (from 1), why, and its text
/// (made UTF-8 lossily and cut to 200 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub kind: LineErrorKind,
    pub text: String,
}

impl LineError {
    pub(crate) fn new(line: u64, kind: LineErrorKind, raw: &[u8]) -> Self {
        const MAX: usize = 200;
        let cut = &raw[..raw.len().min(MAX)];
        let mut text = String::from_utf8_lossy(cut).into_owned();
        if raw.len() > MAX || matches!(kind, LineErrorKind::LineTooLong(_)) {
            text.push('…');
        }
        LineError { line, kind, text }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {:?}", self.line, self.kind, self.text)
    }
}

/// Why a `name+0xoff/0xsize [module]` reference could not be turned into an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveErrorKind {
    /// The text is not of the form `name[+0xoff[/0xsize]] [module]`.
    Syntax(&'static str),
    /// No symbol has that name (in that module, when one was given).
    NotFound,
    /// Symbols of that name exist, but none has the size the reference gives:
    /// the reference comes from another kernel build. Holds the sizes seen.
    SizeMismatch { given: u64, found: Vec<u64> },
    /// The offset is not inside the symbol.
    OffsetOutside { offset: u64, size: u64 },
    /// Several symbols match; holds their start addresses.
    Ambiguous(Vec<u64>),
}

/// The error type of the `ksym` library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or procfs entry could not be opened or read.
    #[error("cannot read {}: {source}{}", path.display(), io_hint(source))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Every address in the input is zero: the kernel hid them from this reader.
    #[error("{source_name}: every address is zero, so the kernel is hiding them from this reader ({}). {}{}", describe_restriction(*kptr_restrict, *perf_event_paranoid), redaction_fix(*kptr_restrict, *perf_event_paranoid), bpf_iter.as_ref().map(|why| format!("; the BPF ksym iterator could not stand in: {why}")).unwrap_or_default())]
    Redacted {
        source_name: String,
        /// `kernel.kptr_restrict` when the source was the live kernel.
        kptr_restrict: Option<u8>,
        /// `kernel.perf_event_paranoid` when the source was the live kernel.
        perf_event_paranoid: Option<i32>,
        /// For the live kernel, why the BPF ksym iterator (which sees real
        /// addresses) could not be used instead.
        bpf_iter: Option<String>,
    },

    /// The input holds no symbol at all.
    #[error("{source_name}: empty input, no symbol lines")]
    Empty { source_name: String },

    /// Lines were there but none could be read as symbols.
    #[error("{source_name}: no line could be read as a symbol; first bad {first}{hint}")]
    NoSymbols {
        source_name: String,
        first: LineError,
        hint: &'static str,
    },

    /// Strict mode: the first bad line stops the read.
    #[error("{source_name}: {error}")]
    BadLine {
        source_name: String,
        error: LineError,
    },

    /// A `/proc/modules` or module layout line could not be read.
    #[error("{source_name}: line {line}: {reason}: {text:?}")]
    BadModuleLine {
        source_name: String,
        line: u64,
        reason: &'static str,
        text: String,
    },

    /// Compressed input that could not be decompressed.
    #[error("{source_name}: cannot decompress {format} data: {message}")]
    Decompress {
        source_name: String,
        format: &'static str,
        message: String,
    },

    /// Compressed input, but this build has no decompressor for it.
    #[error("{source_name}: {format}-compressed input, but ksym was built without the `compression` feature")]
    CompressionDisabled {
        source_name: String,
        format: &'static str,
    },

    /// A symbol reference that does not resolve.
    #[error("cannot resolve {text:?}: {}", describe_resolve(kind))]
    Resolve {
        text: String,
        kind: ResolveErrorKind,
    },

    /// A snapshot file that cannot be used.
    #[error("{source_name}: bad snapshot: {reason}")]
    Snapshot { source_name: String, reason: String },

    /// A file of real sizes ([`crate::elf::SizedSymbols`]) that cannot be used.
    #[error("{source_name}: not a usable sizes file: {reason}")]
    Sizes { source_name: String, reason: String },

    /// An ELF file (vmlinux, a module `.ko`) that cannot be read.
    #[error("{source_name}: not a usable ELF symbol table: {reason}")]
    Elf { source_name: String, reason: String },

    /// A `modules.builtin.ranges`, `modules.builtin` or `modules.dep` line
    /// that cannot be read.
    #[error("{source_name}: line {line}: {reason}: {text:?}")]
    BadListLine {
        source_name: String,
        line: u64,
        reason: &'static str,
        text: String,
    },

    /// A path ksym will not write through (a symlink, another user's file).
    #[error("refusing to write {}: {reason}", path.display())]
    UnsafePath { path: PathBuf, reason: &'static str },

    /// A kernel image (`--image`) whose kallsyms tables cannot be read:
    /// damaged, truncated, or built without `CONFIG_KALLSYMS`.
    #[error("{source_name}: {reason}")]
    Image { source_name: String, reason: String },

    /// A file given as a kernel image that is something else (a module, a core dump).
    #[error("{source_name}: not a kernel image: this is {found}")]
    NotKernelImage { source_name: String, found: String },

    /// The input passed a bound on what one source may bring in (see
    /// `ksym::read::limit`).
    #[error("{source_name}: {reason}; if the input is real, raise the bound with --max-input-size (LoadOptions::max_input_bytes)")]
    InputBound { source_name: String, reason: String },

    /// A text source whose first megabyte holds no symbol line.
    #[error("{source_name}: no symbol line in its first {} ({first}); refused without reading the rest", human_bytes(*looked_at))]
    NoSymbolsAhead {
        source_name: String,
        /// How many bytes were looked at.
        looked_at: u64,
        first: LineError,
    },

    /// A list (`/proc/modules`, a module layout table, `modules.dep`)
    /// whose first megabyte holds no line of its kind.
    #[error("{source_name}: no {kind} line in its first {} ({first}); refused without reading the rest", human_bytes(*looked_at))]
    NoListLineAhead {
        source_name: String,
        /// How many bytes were looked at.
        looked_at: u64,
        /// What a line of the list is (`/proc/modules or module layout`).
        kind: &'static str,
        /// The first line given up on, and why.
        first: String,
    },

    /// The input is larger than the table can index (32-bit symbol ids and
    /// name offsets).
    #[error("{source_name}: too large: {what}")]
    TooLarge {
        source_name: String,
        what: &'static str,
    },

    /// Debug information (the DWARF of a vmlinux or a `.ko`) that cannot
    /// be used: damaged, unsupported, or from another build.
    #[error("{source_name}: {reason}")]
    DebugInfo { source_name: String, reason: String },
}

/// Bytes as `256 MiB`, `4 GiB` or `1234 bytes`.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

fn describe_restriction(kptr: Option<u8>, paranoid: Option<i32>) -> String {
    let show = |v: Option<String>| v.unwrap_or_else(|| "unknown".to_string());
    format!(
        "kernel.kptr_restrict={}, kernel.perf_event_paranoid={}",
        show(kptr.map(|v| v.to_string())),
        show(paranoid.map(|v| v.to_string()))
    )
}

/// What the kernel's `kallsyms_show_value()` wants: CAP_SYSLOG with
/// kptr_restrict <= 1, or anyone with kptr_restrict = 0 and
/// perf_event_paranoid <= 1; kptr_restrict = 2 hides addresses from everyone.
fn redaction_fix(kptr: Option<u8>, paranoid: Option<i32>) -> &'static str {
    match (kptr, paranoid) {
        (Some(2), _) => {
            "kptr_restrict=2 hides addresses even from root: lower it with \
             `sysctl kernel.kptr_restrict=1` and read as root (CAP_SYSLOG)"
        }
        (Some(1), _) => "Read it as root (CAP_SYSLOG is needed while kptr_restrict=1)",
        (Some(0), Some(p)) if p > 1 => {
            "Read it as root (CAP_SYSLOG), or let every user see addresses with \
             `sysctl kernel.perf_event_paranoid=1` (kptr_restrict is already 0)"
        }
        _ => {
            "Read it as root (CAP_SYSLOG), or set `sysctl kernel.kptr_restrict=0` \
             and `kernel.perf_event_paranoid<=1`"
        }
    }
}

fn io_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            " (permission denied: run as root, or use --kallsyms with a saved copy)"
        }
        std::io::ErrorKind::NotFound => " (no such file)",
        _ => "",
    }
}

fn describe_resolve(kind: &ResolveErrorKind) -> String {
    match kind {
        ResolveErrorKind::Syntax(why) => format!("not a symbol reference: {why}"),
        ResolveErrorKind::NotFound => "no symbol of that name".to_string(),
        ResolveErrorKind::SizeMismatch { given, found } => {
            let found: Vec<String> = found.iter().map(|s| format!("{s:#x}")).collect();
            format!(
                "size {given:#x} does not match this kernel's ({}): the reference comes from another build",
                found.join(", ")
            )
        }
        ResolveErrorKind::OffsetOutside { offset, size } => {
            format!("offset {offset:#x} is past the symbol's size {size:#x}")
        }
        ResolveErrorKind::Ambiguous(starts) => {
            let starts: Vec<String> = starts.iter().map(|s| format!("{s:#x}")).collect();
            format!(
                "{} symbols have that name ({}); add the size or the module",
                starts.len(),
                starts.join(", ")
            )
        }
    }
}

/// The `Result` of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
