//! A binary file (a vmlinux, a `.ko`) as bytes without reading it: a plain
//! regular file is mapped, so only the pages a parse touches are read (a
//! vmlinux's section headers, `.symtab` and `.strtab`: a few MB of 600);
//! a compressed one (told by its magic bytes), standard input, a pipe or a
//! file the kernel will not map is read whole as [`read_file_within`] does,
//! within the same bound.

use std::fs::File;
use std::path::Path;

use super::file::{io_err, read_file_within, source_name, Compression, STDIN};
use super::limit::{Limit, HEAD_BYTES};
use crate::error::Result;

/// The bytes of a file: mapped, or held in memory.
pub enum FileBytes {
    /// A plain file, mapped read-only; the file kept to read a few bytes
    /// without touching the mapping ([`FileBytes::read_at`]).
    Map(memmap2::Mmap, File),
    /// Decompressed, or read from a stream.
    Owned(Vec<u8>),
}

impl FileBytes {
    pub fn bytes(&self) -> &[u8] {
        match self {
            FileBytes::Map(m, _) => m,
            FileBytes::Owned(v) => v,
        }
    }

    /// Whether the bytes are a mapping of the file (not read into memory).
    pub fn is_mapped(&self) -> bool {
        matches!(self, FileBytes::Map(..))
    }

    /// `buf.len()` bytes at `offset`: read from the file when it is mapped,
    /// so that only they count as read (touching a mapping brings in the
    /// pages around too: 2,000 DWARF unit headers read through it are
    /// 140 MB of a vmlinux resident).
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Option<()> {
        match self {
            FileBytes::Map(_, file) => {
                std::os::unix::fs::FileExt::read_exact_at(file, buf, offset as u64).ok()
            }
            FileBytes::Owned(v) => {
                buf.copy_from_slice(v.get(offset..offset.checked_add(buf.len())?)?);
                Some(())
            }
        }
    }
}

/// A binary file (or `-`) held to `limit`: mapped when it is a plain
/// regular file, else read whole and decompressed by its magic bytes, as
/// [`read_file_within`] does. A regular file past `limit.max_bytes` is
/// refused before either, with the error a read gives.
pub fn map_within(path: &Path, limit: Limit) -> Result<FileBytes> {
    map_checked(path, limit, &mut |_| Ok(()))
}

/// [`map_within`] for text: `head` sees the first [`HEAD_BYTES`] (or the
/// whole file, when shorter), mapped or read, and may refuse the rest.
/// Symbol text mapped rather than read keeps a saved kallsyms out of the
/// heap while it is parsed (the page cache holds it anyway).
pub fn map_checked(
    path: &Path,
    limit: Limit,
    head: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<FileBytes> {
    let mut read = || read_file_within(path, limit, head).map(FileBytes::Owned);
    if path == Path::new(STDIN) {
        return read();
    }
    let mut file = File::open(path).map_err(io_err(path))?;
    let meta = file.metadata().map_err(io_err(path))?;
    // Pipes, devices and empty files (a procfs file says 0) are read.
    if !meta.is_file() || meta.len() == 0 {
        return read();
    }
    if meta.len() > limit.max_bytes {
        return Err(limit.exceeded(&source_name(path), None));
    }
    // Miri cannot model a file mapping: under it, files are read.
    if cfg!(miri)
        || Compression::of_file(&mut file)
            .map_err(io_err(path))?
            .is_some()
    {
        return read();
    }
    // SAFETY: a private read-only mapping. A file changed by another process
    // while mapped could change what is read, never the memory safety of a
    // parse: every read of it is bounds-checked (a file truncated under the
    // mapping is a SIGBUS, as for any mapped file).
    match unsafe { memmap2::Mmap::map(&file) } {
        Ok(map) => {
            head(&map[..map.len().min(HEAD_BYTES)])?;
            Ok(FileBytes::Map(map, file))
        }
        // A file system that maps nothing (some sysfs files): read it.
        Err(_) => read(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ksym-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn plain_files_are_mapped_compressed_ones_read() {
        let plain = temp("plain", b"\x7fELF and the rest");
        let got = map_within(&plain, Limit::binary(None)).unwrap();
        assert!(got.is_mapped());
        assert_eq!(got.bytes(), b"\x7fELF and the rest");
        let mut four = [0u8; 4];
        got.read_at(5, &mut four).unwrap();
        assert_eq!(&four, b"and ");
        assert!(got.read_at(20, &mut four).is_none());

        #[cfg(feature = "compression")]
        {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(b"\x7fELF packed").unwrap();
            let gz = temp("packed.gz", &e.finish().unwrap());
            let got = map_within(&gz, Limit::binary(None)).unwrap();
            assert!(!got.is_mapped());
            assert_eq!(got.bytes(), b"\x7fELF packed");
        }

        // The bound holds before the file is mapped, with a read's message.
        let e = map_within(&plain, Limit::chosen(4)).err().unwrap();
        assert!(e.to_string().contains("more than 4 bytes of input"), "{e}");
        let empty = temp("empty", b"");
        assert_eq!(
            map_within(&empty, Limit::binary(None)).unwrap().bytes(),
            b""
        );
        std::fs::remove_dir_all(plain.parent().unwrap()).unwrap();
    }
}
