//! Files of symbol text and debug data, and standard input (`-`): read in
//! chunks, decompressed as they stream when their first bytes name xz,
//! gzip or zstd, and held to a [`Limit`] all the way.

use std::cell::Cell;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use super::limit::{Limit, HEAD_BYTES};
use crate::error::{Error, Result};

/// A compression format recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Xz,
    Gzip,
    Zstd,
}

impl Compression {
    /// Recognises compressed data by its first bytes.
    /// The compression of an open file, by its first bytes (read from
    /// where the file is: its start, just opened).
    pub fn of_file(file: &mut std::fs::File) -> std::io::Result<Option<Compression>> {
        use std::io::Read;
        let mut magic = [0u8; 6];
        let mut got = 0;
        while got < magic.len() {
            match file.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Compression::detect(&magic[..got]))
    }

    pub fn detect(bytes: &[u8]) -> Option<Compression> {
        if bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if bytes.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Xz => "xz",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// The name `-` gives standard input.
pub const STDIN: &str = "-";

/// How errors name a path: `standard input` for `-`.
pub fn source_name(path: &Path) -> String {
    if path == Path::new(STDIN) {
        "standard input".to_string()
    } else {
        path.display().to_string()
    }
}

/// Decompresses `bytes` if they carry a known magic (else returns them as
/// they are), held to the default bound on binary files.
pub fn decompress(source_name: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    decompress_within(source_name, bytes, Limit::binary(None))
}

/// [`decompress`] held to `limit`.
pub fn decompress_within(source_name: &str, bytes: Vec<u8>, limit: Limit) -> Result<Vec<u8>> {
    if Compression::detect(&bytes).is_none() {
        if bytes.len() as u64 > limit.max_bytes {
            return Err(limit.exceeded(source_name, None));
        }
        return Ok(bytes);
    }
    read_stream(source_name, &bytes[..], 0, limit, true, &mut |_| Ok(()))
}

/// The error of a failed read of `path`.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a binary file (or `-`) whole, decompressed by its magic bytes,
/// held to the default bound on binary files.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    read_file_within(path, Limit::binary(None), &mut |_| Ok(()))
}

/// Reads a file (or standard input for `-`) whole, decompressed by its
/// magic bytes, held to `limit` while it streams. `head` sees the first
/// [`HEAD_BYTES`] (or all, when shorter) as soon as they are in, and may
/// refuse the input then.
pub fn read_file_within(
    path: &Path,
    limit: Limit,
    head: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<Vec<u8>> {
    read_path(path, limit, true, head)
}

/// Reads a file (or `-`) whole as it is, without decompressing it (a
/// kernel image unwraps itself), held to `limit.max_bytes`.
pub fn read_raw_within(path: &Path, limit: Limit) -> Result<Vec<u8>> {
    read_path(path, limit, false, &mut |_| Ok(()))
}

/// Reads at most `max` bytes of a small file (a sysfs or procfs attribute,
/// a `modules.dep`); more is an error, not a truncation.
pub fn read_small(path: &Path, max: u64) -> Result<Vec<u8>> {
    read_path(path, Limit::chosen(max), false, &mut |_| Ok(()))
}

/// [`read_small`] for a list file (`modules.dep`): `head` sees the first
/// [`HEAD_BYTES`] as soon as they are in, and may refuse the rest.
pub fn read_list(
    path: &Path,
    max: u64,
    head: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<Vec<u8>> {
    read_path(path, Limit::chosen(max), false, head)
}

fn read_path(
    path: &Path,
    limit: Limit,
    unpack: bool,
    head: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<Vec<u8>> {
    let name = source_name(path);
    let read = if path == Path::new(STDIN) {
        read_stream(&name, std::io::stdin().lock(), 0, limit, unpack, head)
    } else {
        let file = File::open(path).map_err(io_err(path))?;
        let meta = file.metadata().map_err(io_err(path))?;
        if meta.is_dir() {
            let e = std::io::Error::from(std::io::ErrorKind::IsADirectory);
            return Err(io_err(path)(e));
        }
        if meta.is_file() && meta.len() > limit.max_bytes {
            return Err(limit.exceeded(&name, None));
        }
        read_stream(&name, file, meta.len(), limit, unpack, head)
    };
    // A failed read names the path as given (`-` for standard input).
    read.map_err(|e| match e {
        Error::Io { source, .. } => io_err(path)(source),
        e => e,
    })
}

/// Counts the bytes read through it, for the expansion ratio.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Reads `input` to its end, decompressing it (with `unpack`) when its
/// first bytes say so, and stops as soon as it passes `limit`. `size` (0
/// when unknown) sizes the buffer of plain input, which is read into in
/// place.
fn read_stream<'a>(
    source_name: &str,
    mut input: impl Read + 'a,
    size: u64,
    limit: Limit,
    unpack: bool,
    head: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<Vec<u8>> {
    // The magic first (a pipe may deliver it in pieces), then put back.
    // Not for input taken as it is: a sysfs attribute such as
    // `/sys/module/*/sections/.text` fails a read that does not start at
    // offset 0 and end past its last byte.
    let mut magic = [0u8; 6];
    let mut got = 0;
    while unpack && got < magic.len() {
        match input.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(source_name, None, e)),
        }
    }
    let format = Compression::detect(&magic[..got]);
    let compressed_in = Rc::new(Cell::new(0u64));
    let counted = Counting {
        inner: std::io::Cursor::new(magic[..got].to_vec()).chain(input),
        count: compressed_in.clone(),
    };
    let mut reader: Box<dyn Read + 'a> = match format {
        None => Box::new(counted),
        Some(f) => decoder(source_name, f, counted)?,
    };
    let max_now = || {
        let packed = format.map(|_| compressed_in.get());
        (
            packed,
            packed.map_or(limit.max_bytes, |p| limit.expanded_max(p)),
        )
    };
    let mut out: Vec<u8> = Vec::new();
    if format.is_none() {
        out.reserve_exact(size.min(limit.max_bytes) as usize + 1);
    }
    let mut head_seen = false;
    loop {
        // The head first, then steps of at most 8 MiB, one byte past the
        // bound at most.
        let step = if head_seen {
            STEP
        } else {
            HEAD_BYTES - out.len()
        };
        let room = (max_now().1 + 1)
            .saturating_sub(out.len() as u64)
            .min(step as u64);
        let n = match (&mut reader).take(room).read_to_end(&mut out) {
            Ok(n) => n as u64,
            Err(e) => return Err(read_error(source_name, format, e)),
        };
        let (packed, max) = max_now();
        if out.len() as u64 > max {
            return Err(limit.exceeded(source_name, packed));
        }
        if !head_seen && (out.len() >= HEAD_BYTES || n < room) {
            head_seen = true;
            head(&out[..out.len().min(HEAD_BYTES)])?;
        }
        if n < room {
            return Ok(out); // the end of the input
        }
    }
}

/// How much a read takes in one step once past the head.
const STEP: usize = 8 << 20;

fn read_error(source_name: &str, format: Option<Compression>, e: std::io::Error) -> Error {
    match format {
        Some(f) => Error::Decompress {
            source_name: source_name.to_string(),
            format: f.name(),
            message: e.to_string(),
        },
        None => Error::Io {
            path: source_name.into(),
            source: e,
        },
    }
}

#[cfg(feature = "compression")]
fn decoder<'r>(
    source_name: &str,
    format: Compression,
    input: impl Read + 'r,
) -> Result<Box<dyn Read + 'r>> {
    Ok(match format {
        Compression::Xz => {
            // Concatenated streams, and a dictionary no larger than the bound.
            let stream = xz2::stream::Stream::new_stream_decoder(
                super::limit::DECODER_MEMORY,
                xz2::stream::CONCATENATED,
            )
            .map_err(|e| Error::Decompress {
                source_name: source_name.to_string(),
                format: format.name(),
                message: e.to_string(),
            })?;
            Box::new(xz2::read::XzDecoder::new_stream(input, stream))
        }
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Compression::Zstd => {
            Box::new(
                zstd::stream::read::Decoder::new(input).map_err(|e| Error::Decompress {
                    source_name: source_name.to_string(),
                    format: format.name(),
                    message: e.to_string(),
                })?,
            )
        }
    })
}

#[cfg(not(feature = "compression"))]
fn decoder<'r>(
    source_name: &str,
    format: Compression,
    _input: impl Read + 'r,
) -> Result<Box<dyn Read + 'r>> {
    Err(Error::CompressionDisabled {
        source_name: source_name.to_string(),
        format: format.name(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads as a sysfs binary attribute does (`module_sect_read`): a read
    /// must start at offset 0, and one at or past the end is the end.
    struct FromStartOnly {
        data: &'static [u8],
        pos: usize,
    }

    impl Read for FromStartOnly {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.pos >= self.data.len() {
                return Ok(0);
            }
            if self.pos != 0 {
                return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
            }
            let n = buf.len().min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.pos = n;
            Ok(n)
        }
    }

    #[test]
    fn attributes_are_read_from_offset_zero_in_one_read() {
        let data = b"0xffffffffc048f000\n";
        let input = FromStartOnly { data, pos: 0 };
        let limit = Limit::chosen(4096);
        let got = read_stream("attr", input, data.len() as u64, limit, false, &mut |_| {
            Ok(())
        });
        assert_eq!(got.unwrap(), data);
    }

    #[test]
    fn bounds_hold_while_streaming() {
        let text = b"ffffffff81000000 T x\n".repeat(1000);
        let limit = Limit::chosen(1000);
        let e = read_stream("t", &text[..], 0, limit, true, &mut |_| Ok(())).unwrap_err();
        assert!(
            e.to_string().contains("more than 1000 bytes of input"),
            "{e}"
        );
        let mut seen = 0;
        let out = read_stream("t", &text[..], 0, Limit::text(None), true, &mut |h| {
            seen = h.len();
            Ok(())
        })
        .unwrap();
        assert_eq!((out.len(), seen), (text.len(), text.len()));
    }
}
