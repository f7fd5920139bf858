//! Files of symbol text and debug data: read whole, decompressed when their
//! first bytes name xz, gzip or zstd.

use std::path::Path;

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

/// Decompresses `bytes` if they carry a known magic; else returns them as they are.
pub fn decompress(source_name: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let Some(format) = Compression::detect(&bytes) else {
        return Ok(bytes);
    };
    #[cfg(feature = "compression")]
    {
        use std::io::Read;
        let mut out = Vec::with_capacity(bytes.len() * 4);
        let res = match format {
            Compression::Xz => xz2::read::XzDecoder::new_multi_decoder(&bytes[..])
                .read_to_end(&mut out)
                .map(|_| ()),
            Compression::Gzip => flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .map(|_| ()),
            Compression::Zstd => zstd::stream::read::Decoder::new(&bytes[..])
                .and_then(|mut d| d.read_to_end(&mut out))
                .map(|_| ()),
        };
        res.map_err(|e| Error::Decompress {
            source_name: source_name.to_string(),
            format: format.name(),
            message: e.to_string(),
        })?;
        Ok(out)
    }
    #[cfg(not(feature = "compression"))]
    {
        Err(Error::CompressionDisabled {
            source_name: source_name.to_string(),
            format: format.name(),
        })
    }
}

/// The error of a failed read of `path`.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a file whole and decompresses it by its magic bytes.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    decompress(&path.display().to_string(), bytes)
}
