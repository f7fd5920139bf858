//! Unwrapping a kernel file: the x86 bzImage setup header, the EFI zboot
//! header (arm64 and others: `vmlinuz.efi`), and the gzip, xz, lzma, zstd
//! or lz4 (legacy) payload or whole-file compression.

#[cfg(feature = "compression")]
use std::io::Read;

use super::{image_err, Container, MAX_NESTING};
use crate::error::{Error, Result};
#[cfg(feature = "compression")]
use crate::read::limit::DECODER_MEMORY;
use crate::read::Limit;

pub(super) struct Unpacked<'a> {
    pub(super) data: std::borrow::Cow<'a, [u8]>,
    pub(super) container: Container,
}

/// A compression format the kernel build may use, by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Packing {
    Gzip,
    Xz,
    Lzma,
    Zstd,
    Lz4Legacy,
    Bzip2,
    Lzo,
}

impl Packing {
    fn detect(b: &[u8]) -> Option<Packing> {
        if b.starts_with(&[0x1f, 0x8b]) {
            Some(Packing::Gzip)
        } else if b.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Packing::Xz)
        } else if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Packing::Zstd)
        } else if b.starts_with(&[0x02, 0x21, 0x4c, 0x18]) {
            Some(Packing::Lz4Legacy)
        } else if b.starts_with(b"BZh") {
            Some(Packing::Bzip2)
        } else if b.starts_with(&[0x89, b'L', b'Z', b'O']) {
            Some(Packing::Lzo)
        } else if b.len() >= 13 && b[0] == 0x5d && b[1] == 0 && b[2] == 0 {
            // lzma_alone: properties 0x5d (lc=3 lp=0 pb=2), a dictionary size.
            Some(Packing::Lzma)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Packing::Gzip => "gzip",
            Packing::Xz => "xz",
            Packing::Lzma => "lzma",
            Packing::Zstd => "zstd",
            Packing::Lz4Legacy => "lz4",
            Packing::Bzip2 => "bzip2",
            Packing::Lzo => "lzo",
        }
    }
}

/// The x86 boot protocol's setup header (Documentation/arch/x86/boot.rst).
struct BzHeader {
    payload_start: usize,
    payload_len: usize,
}

fn bzimage_header(source_name: &str, b: &[u8]) -> Result<Option<BzHeader>> {
    if b.len() < 0x250 || &b[0x202..0x206] != b"HdrS" {
        return Ok(None);
    }
    let version = u16::from_le_bytes([b[0x206], b[0x207]]);
    if version < 0x0208 {
        return Err(image_err(
            source_name,
            format!(
                "a bzImage of boot protocol {}.{:02}, older than 2.08: its header does not \
                 locate the compressed kernel",
                version >> 8,
                version & 0xff
            ),
        ));
    }
    let setup_sects = match b[0x1f1] {
        0 => 4,
        n => n as usize,
    };
    let pm_start = (setup_sects + 1) * 512;
    let payload_offset = u32::from_le_bytes(b[0x248..0x24c].try_into().unwrap()) as usize;
    let payload_len = u32::from_le_bytes(b[0x24c..0x250].try_into().unwrap()) as usize;
    let payload_start = pm_start + payload_offset;
    if payload_len == 0 || payload_start.saturating_add(payload_len) > b.len() {
        return Err(image_err(
            source_name,
            format!(
                "truncated or damaged bzImage: its header puts the compressed kernel at bytes \
                 {payload_start:#x}..{:#x}, but the file has {:#x} bytes",
                payload_start.saturating_add(payload_len),
                b.len()
            ),
        ));
    }
    Ok(Some(BzHeader {
        payload_start,
        payload_len,
    }))
}

/// The EFI zboot header (`drivers/firmware/efi/libstub/zboot-header.S`):
/// `MZ`, `zimg` at 4, the payload's offset and size (`u32`) at 8 and 12,
/// its compression's name (NUL-padded, 32 bytes) at 0x18. The payload is
/// the compressed kernel image.
struct ZbootHeader {
    payload_start: usize,
    payload_len: usize,
    compression: String,
}

const ZBOOT_NAME_AT: usize = 0x18;
const ZBOOT_NAME_LEN: usize = 32;

fn zboot_header(source_name: &str, b: &[u8]) -> Result<Option<ZbootHeader>> {
    if b.len() < ZBOOT_NAME_AT + ZBOOT_NAME_LEN || &b[..2] != b"MZ" || &b[4..8] != b"zimg" {
        return Ok(None);
    }
    let word = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize;
    let (payload_start, payload_len) = (word(8), word(12));
    let name = &b[ZBOOT_NAME_AT..ZBOOT_NAME_AT + ZBOOT_NAME_LEN];
    let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
    let compression = String::from_utf8_lossy(name).into_owned();
    if payload_len == 0 || payload_start.saturating_add(payload_len) > b.len() {
        return Err(image_err(
            source_name,
            format!(
                "truncated or damaged EFI zboot image: its header puts the {compression} \
                 payload at bytes {payload_start:#x}..{:#x}, but the file has {:#x} bytes",
                payload_start.saturating_add(payload_len),
                b.len()
            ),
        ));
    }
    Ok(Some(ZbootHeader {
        payload_start,
        payload_len,
        compression,
    }))
}

/// Unwraps `bytes` (at most `depth` times over already), each
/// decompression held to `limit`.
pub(super) fn unpack<'a>(
    source_name: &str,
    bytes: &'a [u8],
    depth: u32,
    limit: Limit,
) -> Result<Unpacked<'a>> {
    if let Some(h) = bzimage_header(source_name, bytes)? {
        let payload = &bytes[h.payload_start..h.payload_start + h.payload_len];
        let Some(packing) = Packing::detect(payload) else {
            return Err(image_err(
                source_name,
                format!(
                    "a bzImage whose payload (at {:#x}) starts with {}, not a compression \
                     format ksym knows (gzip, xz, lzma, zstd, lz4)",
                    h.payload_start,
                    hex_head(payload)
                ),
            ));
        };
        // The build appends the decompressed size to the payload.
        let size = payload
            .len()
            .checked_sub(4)
            .map(|at| u32::from_le_bytes(payload[at..].try_into().unwrap()) as usize);
        let data = decompress(source_name, packing, payload, size, limit)?;
        return Ok(Unpacked {
            data: data.into(),
            container: Container::BzImage {
                compression: packing.name(),
            },
        });
    }
    if let Some(h) = zboot_header(source_name, bytes)? {
        let payload = &bytes[h.payload_start..h.payload_start + h.payload_len];
        let Some(packing) = Packing::detect(payload) else {
            return Err(image_err(
                source_name,
                format!(
                    "an EFI zboot image whose payload (at {:#x}, said to be {}) starts with {}, \
                     not a compression format ksym knows (gzip, xz, lzma, zstd, lz4)",
                    h.payload_start,
                    h.compression,
                    hex_head(payload)
                ),
            ));
        };
        let data = decompress(source_name, packing, payload, None, limit)?;
        return Ok(Unpacked {
            data: data.into(),
            container: Container::Zboot {
                compression: packing.name(),
            },
        });
    }
    if bytes.starts_with(b"\x7fELF") {
        return Ok(Unpacked {
            data: bytes.into(),
            container: Container::Elf,
        });
    }
    if let Some(packing) = Packing::detect(bytes) {
        if packing != Packing::Lzma || depth == 0 {
            if depth >= MAX_NESTING {
                return Err(image_err(source_name, "compressed too many times over"));
            }
            let data = decompress(source_name, packing, bytes, None, limit)?;
            let inner = unpack(source_name, &data, depth + 1, limit)?;
            let container = match inner.container {
                Container::Raw | Container::Elf => Container::Compressed {
                    compression: packing.name(),
                },
                c => c,
            };
            return Ok(Unpacked {
                data: inner.data.into_owned().into(),
                container,
            });
        }
    }
    Ok(Unpacked {
        data: bytes.into(),
        container: Container::Raw,
    })
}

fn hex_head(b: &[u8]) -> String {
    let head: Vec<String> = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
    if head.is_empty() {
        "nothing".to_string()
    } else {
        head.join(" ")
    }
}

#[cfg(feature = "compression")]
fn decompress(
    source_name: &str,
    packing: Packing,
    data: &[u8],
    size_hint: Option<usize>,
    limit: Limit,
) -> Result<Vec<u8>> {
    let fail = |message: String| Error::Decompress {
        source_name: source_name.to_string(),
        format: packing.name(),
        message,
    };
    // Stops at the bound: a bomb costs what the bound allows, no more.
    let max = limit.expanded_max(data.len() as u64);
    let mut out = Vec::new();
    if let Some(size) = size_hint.filter(|&n| n >= data.len() && n as u64 <= max) {
        out.reserve_exact(size + 1);
    }
    // One stream or frame: the kernel build appends the decompressed size
    // after it, which is not another stream.
    let res = match packing {
        Packing::Gzip => flate2::read::GzDecoder::new(data)
            .take(max + 1)
            .read_to_end(&mut out),
        Packing::Xz => xz2::stream::Stream::new_stream_decoder(DECODER_MEMORY, 0)
            .map_err(std::io::Error::other)
            .and_then(|s| run_lzma(s, data, &mut out, max)),
        Packing::Lzma => xz2::stream::Stream::new_lzma_decoder(DECODER_MEMORY)
            .map_err(std::io::Error::other)
            .and_then(|s| run_lzma(s, data, &mut out, max)),
        Packing::Zstd => zstd::stream::read::Decoder::new(data)
            .and_then(|d| d.single_frame().take(max + 1).read_to_end(&mut out)),
        Packing::Lz4Legacy => unlz4_legacy(data, &mut out, max),
        Packing::Bzip2 | Packing::Lzo => {
            return Err(fail(
                "not supported (ksym reads gzip, xz, lzma, zstd and lz4 kernels)".to_string(),
            ))
        }
    };
    if out.len() as u64 > max || res.as_ref().is_err_and(|e| e.kind() == TOO_LARGE) {
        return Err(limit.exceeded(source_name, Some(data.len() as u64)));
    }
    if let Err(e) = res {
        return Err(fail(e.to_string()));
    }
    if out.is_empty() {
        return Err(fail("it decompresses to nothing".to_string()));
    }
    Ok(out)
}

#[cfg(not(feature = "compression"))]
fn decompress(
    source_name: &str,
    packing: Packing,
    _data: &[u8],
    _size_hint: Option<usize>,
    _limit: Limit,
) -> Result<Vec<u8>> {
    Err(Error::CompressionDisabled {
        source_name: source_name.to_string(),
        format: packing.name(),
    })
}

/// The error kind a decoder stopped at the bound returns.
#[cfg(feature = "compression")]
const TOO_LARGE: std::io::ErrorKind = std::io::ErrorKind::FileTooLarge;

/// Runs an xz or lzma decoder to the end of its one stream (the reader
/// types of `xz2` call what follows the stream, here the size the kernel
/// build appends, corrupt).
#[cfg(feature = "compression")]
fn run_lzma(
    mut stream: xz2::stream::Stream,
    data: &[u8],
    out: &mut Vec<u8>,
    max: u64,
) -> std::io::Result<usize> {
    let mut input = data;
    loop {
        if out.len() as u64 > max {
            return Err(TOO_LARGE.into());
        }
        if out.capacity() - out.len() < 1 << 20 {
            out.reserve(8 << 20);
        }
        let (in_before, out_before) = (stream.total_in(), stream.total_out());
        let status = stream
            .process_vec(input, out, xz2::stream::Action::Run)
            .map_err(std::io::Error::other)?;
        let consumed = (stream.total_in() - in_before) as usize;
        input = &input[consumed.min(input.len())..];
        if status == xz2::stream::Status::StreamEnd {
            return Ok(out.len());
        }
        if consumed == 0 && stream.total_out() == out_before {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the stream ends early (truncated)",
            ));
        }
    }
}

/// The lz4 "legacy" format of `lz4 -l` (what the kernel build uses): the
/// magic, then blocks of `u32` compressed size and data, each decompressing
/// to at most 8 MiB. The kernel appends the total size, read here as a
/// block size larger than what is left, which ends the stream.
#[cfg(feature = "compression")]
fn unlz4_legacy(data: &[u8], out: &mut Vec<u8>, max: u64) -> std::io::Result<usize> {
    const BLOCK: usize = 8 << 20;
    const MAGIC: u32 = 0x184c_2102;
    // Each block into one scratch buffer, then appended: nothing is
    // zero-filled per block.
    let mut block = vec![0u8; BLOCK];
    let mut at = 4;
    while at + 4 <= data.len() {
        let size = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
        at += 4;
        if size == MAGIC {
            continue;
        }
        let size = size as usize;
        if size == 0 || size > data.len() - at {
            break;
        }
        if out.len() as u64 > max {
            return Err(TOO_LARGE.into());
        }
        let n = lz4_flex::block::decompress_into(&data[at..at + size], &mut block)
            .map_err(std::io::Error::other)?;
        out.extend_from_slice(&block[..n]);
        at += size;
    }
    Ok(out.len())
}
