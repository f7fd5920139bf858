//! Kernel images: the kallsyms tables every kernel built with
//! `CONFIG_KALLSYMS` carries in its `.rodata`, read from a `vmlinuz`
//! (bzImage, its gzip, xz, lzma, zstd or lz4 payload decompressed), a
//! compressed or plain `vmlinux` ELF (stripped or not) or a raw kernel
//! binary.
//!
//! # The tables
//!
//! `scripts/kallsyms.c` writes, each at an aligned label:
//!
//! - `kallsyms_num_syms`: the symbol count `n` (`.long`, or `PTR` in old kernels);
//! - `kallsyms_names`: `n` entries `len tokens[len]`, `len` in one byte, or
//!   two (ULEB128) when the high bit is set (since 6.1); the first decoded
//!   character is the type letter;
//! - `kallsyms_markers`: the offset in `kallsyms_names` of every 256th
//!   entry (`u32`; `unsigned long` in old kernels);
//! - `kallsyms_token_table`: 256 NUL-terminated strings; a name byte `b`
//!   stands for string `b`;
//! - `kallsyms_token_index`: 256 `u16` offsets into the token table;
//! - the addresses, in one of four encodings ([`AddressEncoding`]):
//!   `kallsyms_addresses` (pointers), `kallsyms_offsets` + `kallsyms_relative_base`
//!   with unsigned offsets, the same with the absolute-percpu rule (x86_64
//!   SMP before 6.15: non-negative values are absolute, negative ones
//!   `base - 1 - value`), or (7.0) offsets from each entry's own address;
//! - `kallsyms_seqs_of_names` (6.2+, not needed here).
//!
//! Their order changed (6.4 moved the addresses after the token index), so
//! they are found by their structure, never by their order or by a symbol
//! table the file may not have.
//!
//! # The search
//!
//! 1. **Token index and table.** A `u16` array that starts at 0 and rises
//!    256 times by 2 to 513; the table is the bytes before it (at most 7
//!    bytes of alignment between them, else anywhere in the file) where each
//!    index points at a non-empty printable string ending in the NUL just
//!    before the next one's start; and every one-character token stands for
//!    itself (`scripts/kallsyms.c` keeps each character used in a name as its
//!    own token), at least ten of them. Tried little- then big-endian.
//! 2. **Markers, names and the count.** Markers are a `u32` (or `u64`) array
//!    `0, m1, m2, ...` rising by 512 to 131,584 bytes (256 entries of 2 to
//!    514 bytes), at least two long. The names end just before the markers
//!    (at most 7 bytes of alignment) and the count sits just before the
//!    names: for each start in a window before the markers where the word
//!    before it is a count `n` with `ceil(n / 256)` markers, walk `n` entries
//!    and require every 256th to start at its marker and the walk to end
//!    within 7 bytes of the markers. Every entry's first token must then
//!    begin with an ASCII letter (the type). If the walk fails with two-byte
//!    lengths, one-byte lengths (kernels before 6.1) are tried.
//! 3. **Addresses.** `n` values right after the token index or the markers
//!    (6.4+), or ending just before the count (earlier kernels), else
//!    anywhere. Each encoding is checked: the decoded addresses must never
//!    decrease (`scripts/kallsyms.c` sorts by address), must not all be
//!    equal; unsigned offsets start at 0 (the base is the lowest address);
//!    absolute-percpu offsets have their first negative value at -1 and only
//!    `A` symbols non-negative; with an ELF file, every non-`A` address lies
//!    within the file's allocated sections.
//!
//! The result is at link-time addresses. For the running kernel, the KASLR
//! slide is the difference between the live `_text` (read from the first
//! lines of `/proc/kallsyms`, see [`live_text_address`]) and the image's;
//! per-cpu `A` symbols do not move.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::parse::notes::{gnu_build_id_in, hex};
use crate::read::procfs::{kptr_restrict, perf_event_paranoid, PROC_KALLSYMS};

/// The kernel's `KSYM_NAME_LEN` (512 since 6.1).
const KSYM_NAME_LEN: usize = 512;
/// The fewest bytes an entry of `kallsyms_names` takes: a length and one token.
const MIN_ENTRY: usize = 2;
/// The most: a two-byte length and one token per character.
const MAX_ENTRY: usize = 2 + KSYM_NAME_LEN;
/// Decompressed images larger than this are refused (a stripped x86_64
/// vmlinux is 30-80 MiB).
#[cfg(not(fuzzing))]
const MAX_UNPACKED: u64 = 1 << 30;
#[cfg(fuzzing)]
const MAX_UNPACKED: u64 = 16 << 20;
/// At most this many token index candidates are looked at, and this many
/// token tables that fit one (each costs a search of the file).
const MAX_INDEX_CANDIDATES: usize = 4096;
const MAX_TOKEN_TABLES: usize = 16;
/// Steps the search for the names may take per byte searched (plus a
/// floor): a real kernel needs a tiny fraction; a file made of marker-like
/// runs would otherwise cost quadratic time.
const NAMES_BUDGET_PER_BYTE: u64 = 16;
/// How many times a file may be unwrapped (a compressed file holding a
/// bzImage holding a compressed ELF is two).
const MAX_NESTING: u32 = 3;

/// How the addresses of the kernel's own symbols are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressEncoding {
    /// `kallsyms_addresses`: one pointer per symbol (kernels before 4.6,
    /// and later ones without `CONFIG_KALLSYMS_BASE_RELATIVE`, to 6.10).
    Absolute,
    /// `kallsyms_offsets`: unsigned 32-bit offsets from `kallsyms_relative_base`.
    Relative { base: u64 },
    /// `CONFIG_KALLSYMS_ABSOLUTE_PERCPU` (x86_64 SMP to 6.14): non-negative
    /// offsets are absolute (per-cpu) values, negative ones `base - 1 - offset`.
    AbsolutePercpu { base: u64 },
    /// 7.0: signed offsets from the address of each offset itself.
    PlaceRelative,
}

impl AddressEncoding {
    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            AddressEncoding::Absolute => "absolute addresses (kallsyms_addresses)".to_string(),
            AddressEncoding::Relative { base } => {
                format!("unsigned offsets from kallsyms_relative_base {base:#x}")
            }
            AddressEncoding::AbsolutePercpu { base } => {
                format!("offsets from kallsyms_relative_base {base:#x}, per-cpu symbols absolute")
            }
            AddressEncoding::PlaceRelative => "offsets from their own addresses".to_string(),
        }
    }
}

/// What held the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    /// An x86 bzImage, and how its payload was compressed.
    BzImage { compression: &'static str },
    /// A whole file compressed (`vmlinux.xz`, arm64 `Image.gz`), and how.
    Compressed { compression: &'static str },
    /// An ELF `vmlinux`.
    Elf,
    /// Bytes with no recognised wrapper (a raw kernel binary).
    Raw,
}

impl Container {
    pub fn describe(&self) -> String {
        match self {
            Container::BzImage { compression } => format!("bzImage, {compression} payload"),
            Container::Compressed { compression } => format!("{compression}-compressed file"),
            Container::Elf => "ELF vmlinux".to_string(),
            Container::Raw => "raw kernel image".to_string(),
        }
    }
}

/// Where the tables were found: offsets into the decompressed kernel
/// (the ELF file, or the raw bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableLayout {
    pub num_syms: usize,
    pub names: usize,
    pub markers: usize,
    pub token_table: usize,
    pub token_index: usize,
    pub addresses: usize,
    pub big_endian: bool,
    /// Entry lengths may take two bytes (kernels since 6.1).
    pub long_lengths: bool,
}

/// One symbol of the kernel's own table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSymbol {
    pub addr: u64,
    /// The type letter, as `/proc/kallsyms` shows it.
    pub kind: u8,
    pub name: String,
}

/// The kallsyms tables of an image, decoded.
#[derive(Debug, Clone)]
pub struct ImageKallsyms {
    pub container: Container,
    /// Whether the kernel was an ELF file (a bzImage payload usually is).
    pub elf: bool,
    /// The GNU build-id (hex) from the ELF notes, when there are some.
    pub build_id: Option<String>,
    /// The `Linux version ...` banner, when found.
    pub banner: Option<String>,
    pub encoding: AddressEncoding,
    pub layout: TableLayout,
    /// Bytes of the decompressed kernel.
    pub kernel_size: usize,
    /// The symbols in the image's own order (by address, as
    /// `scripts/kallsyms.c` sorted them), at link-time addresses.
    pub symbols: Vec<ImageSymbol>,
}

impl ImageKallsyms {
    /// The release from the banner (`6.12.117+deb12-amd64`).
    pub fn release(&self) -> Option<&str> {
        self.banner.as_deref()?.split_whitespace().nth(2)
    }

    /// The link-time address of `_text`, if the table has it.
    pub fn text_address(&self) -> Option<u64> {
        self.symbols
            .iter()
            .find(|s| s.name == "_text")
            .map(|s| s.addr)
    }
}

/// Decodes the kallsyms tables of a kernel image held in memory (see the
/// module documentation for what it may be).
pub fn kallsyms_from_image(bytes: &[u8]) -> Result<ImageKallsyms> {
    decode("kernel image", bytes)
}

/// Reads and decodes a kernel image file.
pub fn read_image(path: &Path) -> Result<ImageKallsyms> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode(&path.display().to_string(), &bytes)
}

fn image_err(source_name: &str, reason: impl Into<String>) -> Error {
    Error::Image {
        source_name: source_name.to_string(),
        reason: reason.into(),
    }
}

fn decode(source_name: &str, bytes: &[u8]) -> Result<ImageKallsyms> {
    let unpacked = unpack(source_name, bytes, 0)?;
    let data: &[u8] = &unpacked.data;
    let elf = elf_info(source_name, data)?;
    let found = find_tables(data, elf.as_ref()).map_err(|why| {
        image_err(
            source_name,
            format!(
                "no kallsyms tables in this {} ({} bytes): {why} (a kernel built without \
                 CONFIG_KALLSYMS has none)",
                unpacked.container.describe(),
                data.len()
            ),
        )
    })?;
    let banner = memchr::memmem::find(data, b"Linux version ").map(|at| {
        let rest = &data[at..data.len().min(at + 512)];
        let end = rest
            .iter()
            .position(|&b| b == 0 || b == b'\n')
            .unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..end]).into_owned()
    });
    Ok(ImageKallsyms {
        container: unpacked.container,
        elf: elf.is_some(),
        build_id: elf.as_ref().and_then(|e| e.build_id.clone()),
        banner,
        encoding: found.encoding,
        layout: found.layout,
        kernel_size: data.len(),
        symbols: found.symbols,
    })
}

// ---------------------------------------------------------------------------
// Unwrapping: bzImage, whole-file compression.

struct Unpacked<'a> {
    data: std::borrow::Cow<'a, [u8]>,
    container: Container,
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

fn unpack<'a>(source_name: &str, bytes: &'a [u8], depth: u32) -> Result<Unpacked<'a>> {
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
        let data = decompress(source_name, packing, payload, size)?;
        return Ok(Unpacked {
            data: data.into(),
            container: Container::BzImage {
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
            let data = decompress(source_name, packing, bytes, None)?;
            let inner = unpack(source_name, &data, depth + 1)?;
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
) -> Result<Vec<u8>> {
    let fail = |message: String| Error::Decompress {
        source_name: source_name.to_string(),
        format: packing.name(),
        message,
    };
    let mut out = Vec::new();
    if let Some(size) = size_hint.filter(|&n| n >= data.len() && n as u64 <= MAX_UNPACKED) {
        out.reserve_exact(size + 1);
    }
    // One stream or frame: the kernel build appends the decompressed size
    // after it, which is not another stream.
    let res = match packing {
        Packing::Gzip => flate2::read::GzDecoder::new(data)
            .take(MAX_UNPACKED + 1)
            .read_to_end(&mut out),
        Packing::Xz => xz2::stream::Stream::new_stream_decoder(u64::MAX, 0)
            .map_err(std::io::Error::other)
            .and_then(|s| run_lzma(s, data, &mut out)),
        Packing::Lzma => xz2::stream::Stream::new_lzma_decoder(u64::MAX)
            .map_err(std::io::Error::other)
            .and_then(|s| run_lzma(s, data, &mut out)),
        Packing::Zstd => zstd::stream::read::Decoder::new(data).and_then(|d| {
            d.single_frame()
                .take(MAX_UNPACKED + 1)
                .read_to_end(&mut out)
        }),
        Packing::Lz4Legacy => unlz4_legacy(data, &mut out),
        Packing::Bzip2 | Packing::Lzo => {
            return Err(fail(
                "not supported (ksym reads gzip, xz, lzma, zstd and lz4 kernels)".to_string(),
            ))
        }
    };
    if let Err(e) = res {
        return Err(fail(e.to_string()));
    }
    if out.len() as u64 > MAX_UNPACKED {
        return Err(fail(format!(
            "it decompresses to more than {} MiB, more than any kernel",
            MAX_UNPACKED >> 20
        )));
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
) -> Result<Vec<u8>> {
    Err(Error::CompressionDisabled {
        source_name: source_name.to_string(),
        format: packing.name(),
    })
}

/// Runs an xz or lzma decoder to the end of its one stream (the reader
/// types of `xz2` call what follows the stream, here the size the kernel
/// build appends, corrupt).
#[cfg(feature = "compression")]
fn run_lzma(
    mut stream: xz2::stream::Stream,
    data: &[u8],
    out: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut input = data;
    loop {
        if out.len() as u64 > MAX_UNPACKED {
            return Err(std::io::Error::other("too large"));
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
fn unlz4_legacy(data: &[u8], out: &mut Vec<u8>) -> std::io::Result<usize> {
    const BLOCK: usize = 8 << 20;
    const MAGIC: u32 = 0x184c_2102;
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
        let start = out.len();
        if (start + BLOCK) as u64 > MAX_UNPACKED + BLOCK as u64 {
            return Err(std::io::Error::other("too large"));
        }
        out.resize(start + BLOCK, 0);
        let n = lz4_flex::block::decompress_into(&data[at..at + size], &mut out[start..])
            .map_err(std::io::Error::other)?;
        out.truncate(start + n);
        at += size;
    }
    Ok(out.len())
}

// ---------------------------------------------------------------------------
// ELF: sections for addresses, the build-id, and foreign files.

/// What an ELF kernel tells about where its bytes load.
#[derive(Debug, Clone)]
pub(crate) struct ElfInfo {
    /// Allocated sections with file data: (file offset, size, address).
    sections: Vec<(usize, usize, u64)>,
    /// Lowest and highest (end) address of allocated sections, ignoring
    /// those at address 0 (x86_64's zero-based per-cpu section).
    span: Option<(u64, u64)>,
    ptr_size: usize,
    big_endian: bool,
    build_id: Option<String>,
    /// The file range of `.rodata`, where `scripts/kallsyms.c` puts the
    /// tables: searched first.
    rodata: Option<(usize, usize)>,
}

impl ElfInfo {
    fn address_of(&self, offset: usize) -> Option<u64> {
        self.sections
            .iter()
            .find(|&&(off, size, _)| offset >= off && offset - off < size)
            .map(|&(off, _, addr)| addr.wrapping_add((offset - off) as u64))
    }
}

fn elf_info(source_name: &str, data: &[u8]) -> Result<Option<ElfInfo>> {
    use object::{Object, ObjectKind, ObjectSection, SectionFlags, SectionKind};
    if !data.starts_with(b"\x7fELF") {
        return Ok(None);
    }
    let file = object::File::parse(data)
        .map_err(|e| image_err(source_name, format!("a damaged or truncated ELF file: {e}")))?;
    match file.kind() {
        ObjectKind::Executable | ObjectKind::Dynamic => {}
        ObjectKind::Relocatable => {
            return Err(Error::NotKernelImage {
                source_name: source_name.to_string(),
                found: "an ELF relocatable object (a kernel module `.ko` or an `.o`): its \
                        symbols are in its own symbol table, not in kallsyms tables; pass a \
                        vmlinuz or vmlinux"
                    .to_string(),
            })
        }
        ObjectKind::Core => {
            return Err(Error::NotKernelImage {
                source_name: source_name.to_string(),
                found: "an ELF core dump, not a kernel image".to_string(),
            })
        }
        _ => {}
    }
    let mut sections = Vec::new();
    let mut span: Option<(u64, u64)> = None;
    let mut build_id = None;
    let mut rodata = None;
    for s in file.sections() {
        let alloc = match s.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_ALLOC) != 0,
            _ => true,
        };
        if s.kind() == SectionKind::Note && build_id.is_none() {
            if let Ok(notes) = s.data() {
                build_id = gnu_build_id_in(notes, file.is_little_endian()).map(|id| hex(&id));
            }
        }
        if !alloc {
            continue;
        }
        let addr = s.address();
        if addr != 0 {
            let end = addr.saturating_add(s.size());
            span = Some(match span {
                None => (addr, end),
                Some((lo, hi)) => (lo.min(addr), hi.max(end)),
            });
        }
        if let Some((off, size)) = s.file_range() {
            if s.name() == Ok(".rodata") {
                rodata = Some((off as usize, (off + size) as usize));
            }
            if s.kind() != SectionKind::UninitializedData {
                sections.push((off as usize, size as usize, addr));
            }
        }
    }
    Ok(Some(ElfInfo {
        sections,
        span,
        ptr_size: if file.is_64() { 8 } else { 4 },
        big_endian: !file.is_little_endian(),
        build_id,
        rodata,
    }))
}

// ---------------------------------------------------------------------------
// The structure search.

/// Reads words of one byte order, `None` past the end.
#[derive(Clone, Copy)]
struct Rd<'a> {
    d: &'a [u8],
    be: bool,
}

impl Rd<'_> {
    #[inline]
    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.d.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.be {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    #[inline]
    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.d.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    #[inline]
    fn u64(&self, at: usize) -> Option<u64> {
        let b: [u8; 8] = self.d.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(if self.be {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// A word of `size` bytes (4 or 8).
    #[inline]
    fn word(&self, at: usize, size: usize) -> Option<u64> {
        if size == 8 {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }
}

fn align_up(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// The token table and index.
struct Tokens {
    table: usize,
    index: usize,
    /// Each token's bytes, as (start, end) in the data.
    spans: [(usize, usize); 256],
}

impl Tokens {
    fn end(&self) -> usize {
        self.spans[255].1 + 1
    }
}

/// The names table and what locates it.
struct Names {
    num_syms_at: usize,
    n: usize,
    start: usize,
    end: usize,
    markers: usize,
    marker_size: usize,
    long_lengths: bool,
}

struct Found {
    encoding: AddressEncoding,
    layout: TableLayout,
    symbols: Vec<ImageSymbol>,
}

/// Finds and decodes the tables (see the module documentation). The error
/// says which step found nothing.
fn find_tables(data: &[u8], elf: Option<&ElfInfo>) -> std::result::Result<Found, String> {
    let orders: &[bool] = match elf {
        Some(e) if e.big_endian => &[true],
        Some(_) => &[false],
        None => &[false, true],
    };
    let mut why = String::from("no kallsyms_token_index (256 rising offsets of a token table)");
    for &be in orders {
        let rd = Rd { d: data, be };
        // `.rodata` first, where the tables are; then the whole file.
        let whole = (0, data.len());
        let mut scopes = vec![whole];
        if let Some(r) = elf
            .and_then(|e| e.rodata)
            .filter(|&(lo, hi)| lo < hi && hi <= data.len())
        {
            scopes.insert(0, r);
        }
        for (i, &scope) in scopes.iter().enumerate() {
            let indexes = token_indexes(rd, scope);
            // Tables right before their index first; anywhere only if none
            // fit (and only in the last scope: that search is the slowest).
            // Real kernels have one or two candidates: a file with many is
            // made to cost time, and gets a few tries only.
            let last = i + 1 == scopes.len();
            for anywhere in [false, true].into_iter().filter(|&a| !a || last) {
                let tries = if anywhere { 4 } else { MAX_TOKEN_TABLES };
                let tables = indexes
                    .iter()
                    .take(MAX_INDEX_CANDIDATES)
                    .filter_map(|(p, idx)| token_table_for(data, *p, idx, anywhere))
                    .take(tries);
                for tokens in tables {
                    match decode_with(rd, &tokens, elf, scope) {
                        Ok(found) => return Ok(found),
                        Err(w) => why = w,
                    }
                }
            }
        }
    }
    Err(why)
}

fn decode_with(
    rd: Rd<'_>,
    tokens: &Tokens,
    elf: Option<&ElfInfo>,
    scope: (usize, usize),
) -> std::result::Result<Found, String> {
    let Some(names) = find_names(rd, tokens, scope) else {
        return Err(format!(
            "a token table at {:#x}, but no kallsyms_names, kallsyms_markers and \
             kallsyms_num_syms that fit it",
            tokens.table
        ));
    };
    let (kinds, names_text) = decode_names(rd, tokens, &names);
    let Some((encoding, at, addrs)) = find_addresses(rd, tokens, &names, &kinds, elf) else {
        return Err(format!(
            "{} names at {:#x}, but no address table (kallsyms_offsets or \
             kallsyms_addresses) of that many sorted entries",
            names.n, names.start
        ));
    };
    let symbols = addrs
        .into_iter()
        .zip(kinds)
        .zip(names_text)
        .map(|((addr, kind), name)| ImageSymbol { addr, kind, name })
        .collect();
    Ok(Found {
        encoding,
        layout: TableLayout {
            num_syms: names.num_syms_at,
            names: names.start,
            markers: names.markers,
            token_table: tokens.table,
            token_index: tokens.index,
            addresses: at,
            big_endian: rd.be,
            long_lengths: names.long_lengths,
        },
        symbols,
    })
}

/// Candidate token indexes: 256 `u16` from 0, rising by 2 to 513 (step 1).
fn token_indexes(rd: Rd<'_>, (lo, hi): (usize, usize)) -> Vec<(usize, [u16; 256])> {
    let d = rd.d;
    let max_step = (KSYM_NAME_LEN + 1) as u16;
    let mut found = Vec::new();
    let mut p = align_up(lo, 2);
    while p + 512 <= hi {
        // Quick: 0, then a first token of 1 to 512 bytes.
        if d[p] == 0 && d[p + 1] == 0 && rd.u16(p + 2).is_some_and(|v| (2..=max_step).contains(&v))
        {
            let mut idx = [0u16; 256];
            let mut ok = true;
            for k in 1..256 {
                let v = rd.u16(p + 2 * k).unwrap_or(0);
                match v.checked_sub(idx[k - 1]) {
                    Some(step) if (2..=max_step).contains(&step) => idx[k] = v,
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                found.push((p, idx));
            }
        }
        p += 2;
    }
    found
}

/// Finds the token table an index points into: first ending within 7 bytes
/// before the index, else anywhere.
fn token_table_for(d: &[u8], p: usize, idx: &[u16; 256], anywhere: bool) -> Option<Tokens> {
    let last = idx[255] as usize;
    if anywhere {
        let first_end = idx[1] as usize - 1;
        return (0..d.len().saturating_sub(last + 2))
            .filter(|&q| d[q + first_end] == 0 && d[q] != 0)
            .find_map(|q| check_token_table(d, q, p, idx));
    }
    // Adjacent: the table's last NUL at e - 1, e in p-7..=p.
    for e in (p.saturating_sub(7)..=p).rev() {
        if e < 2 || d[e - 1] != 0 || d[e - 2] == 0 {
            continue;
        }
        let Some(z) = memchr::memrchr(0, &d[..e - 1]) else {
            continue;
        };
        let Some(q) = (z + 1).checked_sub(last) else {
            continue;
        };
        if let Some(t) = check_token_table(d, q, p, idx) {
            return Some(t);
        }
    }
    None
}

fn check_token_table(d: &[u8], q: usize, p: usize, idx: &[u16; 256]) -> Option<Tokens> {
    let mut spans = [(0usize, 0usize); 256];
    let mut singles = 0;
    for k in 0..256 {
        let s = q + idx[k] as usize;
        let e = if k < 255 {
            q + idx[k + 1] as usize - 1
        } else {
            let rest = d.get(s..)?;
            s + memchr::memchr(0, &rest[..rest.len().min(KSYM_NAME_LEN + 1)])?
        };
        let tok = d.get(s..e)?;
        if tok.is_empty() || d.get(e) != Some(&0) || !tok.iter().all(|b| (0x21..0x7f).contains(b)) {
            return None;
        }
        if tok.len() == 1 {
            if tok[0] as usize != k {
                return None;
            }
            singles += 1;
        }
        spans[k] = (s, e);
    }
    // The table must not overlap its index.
    let end = spans[255].1 + 1;
    if singles < 10 || (q < p + 512 && end > p) {
        return None;
    }
    Some(Tokens {
        table: q,
        index: p,
        spans,
    })
}

/// Reads an entry's length at `at`: (length, bytes it took).
#[inline]
fn entry_len(d: &[u8], at: usize, long: bool) -> Option<(usize, usize)> {
    let b = *d.get(at)? as usize;
    if long && b & 0x80 != 0 {
        let b2 = *d.get(at + 1)? as usize;
        Some(((b & 0x7f) | (b2 << 7), 2))
    } else {
        Some((b, 1))
    }
}

/// Finds markers, names and the count (step 2).
fn find_names(rd: Rd<'_>, tokens: &Tokens, (lo, hi): (usize, usize)) -> Option<Names> {
    let d = rd.d;
    let mut budget =
        (hi.saturating_sub(lo) as u64).saturating_mul(NAMES_BUDGET_PER_BYTE) + (1 << 20);
    let lo_step = (256 * MIN_ENTRY) as u64;
    let hi_step = (256 * MAX_ENTRY) as u64;
    for size in [4usize, 8] {
        let mut k = align_up(lo, 4);
        while k + 3 * size <= hi.min(d.len()) {
            if rd.word(k, size) != Some(0) {
                k += 4;
                continue;
            }
            // The run of rising marker values from k.
            let mut run = 1;
            let mut prev = 0u64;
            let mut max_step = 0u64;
            while let Some(v) = rd.word(k + run * size, size) {
                let step = v.wrapping_sub(prev);
                if v <= prev || !(lo_step..=hi_step).contains(&step) {
                    break;
                }
                max_step = max_step.max(step);
                prev = v;
                run += 1;
            }
            if run >= 2 {
                if let Some(names) =
                    names_before(rd, tokens, k, size, run, max_step as usize, &mut budget)
                {
                    return Some(names);
                }
                if budget == 0 {
                    return None;
                }
            }
            k += 4;
        }
    }
    None
}

/// Given markers at `k` (`run` rising values of `size` bytes), finds the
/// names that end just before them and the count just before the names.
fn names_before(
    rd: Rd<'_>,
    tokens: &Tokens,
    k: usize,
    size: usize,
    run: usize,
    max_step: usize,
    budget: &mut u64,
) -> Option<Names> {
    let d = rd.d;
    // A markers run may go on into whatever follows it.
    for m in (run.saturating_sub(2).max(2)..=run).rev() {
        let Some(last) = rd.word(k + (m - 1) * size, size) else {
            continue;
        };
        // The last chunk holds 1 to 256 entries.
        let Some(hi) = k.checked_sub(last as usize + MIN_ENTRY) else {
            continue;
        };
        let last = last as usize;
        let lo = k.saturating_sub(last + 2 * max_step + 4096);
        let mut start = hi - hi % 4;
        while start >= lo.max(4) {
            *budget = budget.checked_sub(1)?;
            for num_at in [start - 4, start.wrapping_sub(8)] {
                let Some(n) = rd.u32(num_at) else { continue };
                let n = n as usize;
                if n == 0 || n.div_ceil(256) != m {
                    continue;
                }
                for long in [true, false] {
                    *budget = budget.saturating_sub(n.min(256) as u64);
                    if let Some(end) = walk_names(d, start, n, rd, k, size, long) {
                        if k - end < 8 && types_ok(d, tokens, start, n, long) {
                            return Some(Names {
                                num_syms_at: num_at,
                                n,
                                start,
                                end,
                                markers: k,
                                marker_size: size,
                                long_lengths: long,
                            });
                        }
                    }
                }
            }
            if start < 4 {
                break;
            }
            start -= 4;
        }
    }
    None
}

/// Walks `n` entries from `start`, checking each 256th against its marker;
/// returns where the names end.
fn walk_names(
    d: &[u8],
    start: usize,
    n: usize,
    rd: Rd<'_>,
    markers: usize,
    size: usize,
    long: bool,
) -> Option<usize> {
    let mut at = start;
    for i in 0..n {
        if i.is_multiple_of(256)
            && rd.word(markers + (i / 256) * size, size)? != (at - start) as u64
        {
            return None;
        }
        let (len, took) = entry_len(d, at, long)?;
        if len == 0 {
            return None;
        }
        at += took + len;
        if at > markers {
            return None;
        }
    }
    Some(at)
}

/// Every entry's type (first character) is an ASCII letter.
fn types_ok(d: &[u8], tokens: &Tokens, start: usize, n: usize, long: bool) -> bool {
    let mut at = start;
    for _ in 0..n {
        let Some((len, took)) = entry_len(d, at, long) else {
            return false;
        };
        let Some(&first) = d.get(at + took) else {
            return false;
        };
        if !d[tokens.spans[first as usize].0].is_ascii_alphabetic() {
            return false;
        }
        at += took + len;
    }
    true
}

/// Expands every name: (type letters, names).
fn decode_names(rd: Rd<'_>, tokens: &Tokens, names: &Names) -> (Vec<u8>, Vec<String>) {
    let d = rd.d;
    let mut kinds = Vec::with_capacity(names.n);
    let mut out = Vec::with_capacity(names.n);
    let mut buf = Vec::with_capacity(KSYM_NAME_LEN);
    let mut at = names.start;
    for _ in 0..names.n {
        // The walk checked these bounds.
        let (len, took) = entry_len(d, at, names.long_lengths).unwrap_or((0, 1));
        buf.clear();
        for &b in &d[at + took..(at + took + len).min(names.end)] {
            let (s, e) = tokens.spans[b as usize];
            buf.extend_from_slice(&d[s..e]);
        }
        at += took + len;
        kinds.push(buf.first().copied().unwrap_or(b'?'));
        // Tokens are printable ASCII.
        out.push(String::from_utf8_lossy(buf.get(1..).unwrap_or_default()).into_owned());
    }
    (kinds, out)
}

/// Finds and decodes the addresses (step 3): (encoding, offset, addresses).
fn find_addresses(
    rd: Rd<'_>,
    tokens: &Tokens,
    names: &Names,
    kinds: &[u8],
    elf: Option<&ElfInfo>,
) -> Option<(AddressEncoding, usize, Vec<u64>)> {
    let n = names.n;
    let ptr_sizes: &[usize] = match elf {
        Some(e) if e.ptr_size == 4 => &[4],
        Some(_) => &[8],
        None => &[8, 4],
    };
    let markers_end = names.markers + names.n.div_ceil(256) * names.marker_size;
    let mut anchored = Vec::new();
    for &ptr in ptr_sizes {
        // 6.4+: after the token index (or, some day, the markers).
        for after in [tokens.index + 512, markers_end] {
            anchored.push(align_up(after, 4));
            anchored.push(align_up(after, ptr));
        }
        // Before 6.4: offsets, the base, then the count.
        let num = names.num_syms_at;
        if let Some(base_at) = num.checked_sub(ptr) {
            for pad in [0, 4] {
                if let Some(s) = base_at.checked_sub(pad + 4 * n) {
                    anchored.push(s);
                }
            }
        }
        if let Some(s) = num.checked_sub(ptr * n) {
            anchored.push(s);
        }
    }
    anchored.dedup();
    // The other tables: the addresses cannot overlap them (a token index
    // read as `u32`s rises like offsets do).
    let ctx = AddrCtx {
        kinds,
        elf,
        taken: [
            (names.num_syms_at, names.num_syms_at + 4),
            (names.start, names.end),
            (names.markers, markers_end),
            (tokens.table, tokens.end()),
            (tokens.index, tokens.index + 512),
        ],
    };
    for &at in &anchored {
        for &ptr in ptr_sizes {
            if let Some(found) = try_encodings(rd, at, n, ptr, &ctx) {
                return Some(found);
            }
        }
    }
    // Anywhere: a quick look at the first entries, then the full check.
    let d = rd.d;
    let quick = QUICK.min(n);
    for &ptr in ptr_sizes {
        let mut at = 0;
        while at + 4 * n <= d.len() {
            if quick_sorted(rd, at, quick, 4, elf.is_some())
                || (at.is_multiple_of(ptr)
                    && at + ptr * n <= d.len()
                    && quick_sorted(rd, at, quick, ptr, false))
            {
                if let Some(found) = try_encodings(rd, at, n, ptr, &ctx) {
                    return Some(found);
                }
            }
            at += 4;
        }
    }
    None
}

/// How many entries the quick look of the search anywhere reads.
const QUICK: usize = 16;

/// Whether `count` words of `width` bytes at `at` could start an address
/// table: not all equal, and in order as unsigned values, as absolute-percpu
/// keys, or (`place`) as offsets from their own addresses.
fn quick_sorted(rd: Rd<'_>, at: usize, count: usize, width: usize, place: bool) -> bool {
    let Some(words) = (0..count)
        .map(|i| rd.word(at + i * width, width))
        .collect::<Option<Vec<u64>>>()
    else {
        return false;
    };
    if words.iter().all(|&w| w == words[0]) {
        return false;
    }
    let sorted_by = |key: &dyn Fn(usize, u64) -> i128| {
        words
            .windows(2)
            .enumerate()
            .all(|(i, w)| key(i, w[0]) <= key(i + 1, w[1]))
    };
    if sorted_by(&|_, w| w as i128) {
        return true;
    }
    if width != 4 {
        return false;
    }
    // Absolute per-cpu: non-negative values first, then negative ones falling.
    let percpu = |_: usize, w: u64| {
        let v = w as u32 as i32;
        if v >= 0 {
            v as i128
        } else {
            (1i128 << 33) - v as i128
        }
    };
    sorted_by(&percpu) || (place && sorted_by(&|i, w| (w as u32 as i32) as i128 + 4 * i as i128))
}

/// Tries each encoding of `n` addresses at `at`.
/// What the checks of an address table candidate need.
struct AddrCtx<'a> {
    kinds: &'a [u8],
    elf: Option<&'a ElfInfo>,
    /// Byte ranges of the other tables.
    taken: [(usize, usize); 5],
}

impl AddrCtx<'_> {
    fn free(&self, lo: usize, hi: usize) -> bool {
        self.taken.iter().all(|&(a, b)| hi <= a || b <= lo)
    }
}

fn try_encodings(
    rd: Rd<'_>,
    at: usize,
    n: usize,
    ptr: usize,
    ctx: &AddrCtx<'_>,
) -> Option<(AddressEncoding, usize, Vec<u64>)> {
    let (kinds, elf) = (ctx.kinds, ctx.elf);
    let end4 = at.checked_add(4 * n)?;
    let mask = if ptr == 4 { u32::MAX as u64 } else { u64::MAX };
    let in_span = |addrs: &[u64]| -> bool {
        let Some((lo, hi)) = elf.and_then(|e| e.span) else {
            return true;
        };
        addrs
            .iter()
            .zip(kinds)
            .all(|(&a, &k)| k == b'A' || (lo..=hi).contains(&a))
    };
    let sorted_distinct =
        |addrs: &[u64]| addrs.windows(2).all(|w| w[0] <= w[1]) && addrs.first() != addrs.last();
    let base_at = align_up(end4, ptr);
    if end4 <= rd.d.len() && ctx.free(at, end4) {
        let offs: Vec<u32> = (0..n).map(|i| rd.u32(at + 4 * i)).collect::<Option<_>>()?;
        let base = rd
            .word(base_at, ptr)
            .filter(|_| ctx.free(base_at, base_at + ptr));
        // Absolute per-cpu: first negative is -1, only `A` non-negative.
        if let Some(base) = base {
            let neg = offs.iter().position(|&o| (o as i32) < 0);
            if neg.is_some_and(|i| offs[i] == u32::MAX)
                && offs
                    .iter()
                    .zip(kinds)
                    .all(|(&o, &k)| (o as i32) < 0 || k == b'A')
            {
                let addrs: Vec<u64> = offs
                    .iter()
                    .map(|&o| {
                        if (o as i32) >= 0 {
                            u64::from(o)
                        } else {
                            base.wrapping_sub(1).wrapping_sub(o as i32 as i64 as u64) & mask
                        }
                    })
                    .collect();
                if sorted_distinct(&addrs) && in_span(&addrs) {
                    return Some((AddressEncoding::AbsolutePercpu { base }, at, addrs));
                }
            }
            // Unsigned offsets from the lowest address.
            let top = offs.iter().max().map_or(0, |&o| u64::from(o));
            if offs[0] == 0 && base.checked_add(top).is_some_and(|t| t <= mask) {
                let addrs: Vec<u64> = offs.iter().map(|&o| base + u64::from(o)).collect();
                if sorted_distinct(&addrs) && in_span(&addrs) {
                    return Some((AddressEncoding::Relative { base }, at, addrs));
                }
            }
        }
        // Offsets from their own address (needs the ELF's addresses).
        if let Some(va) = elf.and_then(|e| e.address_of(at)) {
            let last = va.checked_add(4 * n as u64 - 1);
            if last.is_some() && elf.and_then(|e| e.address_of(end4 - 1)) == last {
                let addrs: Vec<u64> = offs
                    .iter()
                    .enumerate()
                    .map(|(i, &o)| {
                        va.wrapping_add(4 * i as u64)
                            .wrapping_add(o as i32 as i64 as u64)
                            & mask
                    })
                    .collect();
                if sorted_distinct(&addrs)
                    && elf.is_some_and(|e| e.span.is_some())
                    && in_span(&addrs)
                {
                    return Some((AddressEncoding::PlaceRelative, at, addrs));
                }
            }
        }
    }
    // Pointers.
    let endp = at.checked_add(ptr * n)?;
    if endp <= rd.d.len() && at.is_multiple_of(ptr) && ctx.free(at, endp) {
        let addrs: Vec<u64> = (0..n)
            .map(|i| rd.word(at + ptr * i, ptr))
            .collect::<Option<_>>()?;
        // Kernel addresses, not small numbers: the first non-`A` symbol is
        // above the first 64 KiB.
        let first_code = addrs.iter().zip(kinds).find(|(_, &k)| k != b'A');
        if sorted_distinct(&addrs)
            && first_code.is_some_and(|(&a, _)| a >= 1 << 16)
            && in_span(&addrs)
        {
            return Some((AddressEncoding::Absolute, at, addrs));
        }
    }
    None
}

// ---------------------------------------------------------------------------
// The running kernel.

/// The running kernel's `_text`, read from the first lines of
/// `/proc/kallsyms` (it comes after the per-cpu symbols, a few hundred
/// lines in): no reading of the whole file, no `/proc/kcore`.
pub fn live_text_address() -> Result<u64> {
    text_address_in(Path::new(PROC_KALLSYMS))
}

/// Like [`live_text_address`], from any kallsyms file (for tests).
pub fn text_address_in(path: &Path) -> Result<u64> {
    use std::io::BufRead;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader = std::io::BufReader::with_capacity(16 << 10, file);
    // _text is within the first thousand lines on every kernel seen; stop
    // there rather than read a whole file.
    for line in reader.lines().take(4096) {
        let line = line.map_err(io)?;
        let mut f = line.split_ascii_whitespace();
        let (Some(addr), Some(_), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if name == "_text" {
            let addr = u64::from_str_radix(addr, 16).unwrap_or(0);
            if addr == 0 {
                return Err(Error::Redacted {
                    source_name: path.display().to_string(),
                    kptr_restrict: kptr_restrict(),
                    perf_event_paranoid: perf_event_paranoid(),
                });
            }
            return Ok(addr);
        }
    }
    Err(image_err(
        &path.display().to_string(),
        "no `_text` line in its first 4096 lines",
    ))
}

/// The KASLR slide of the running kernel against this image: live `_text`
/// minus the image's.
pub fn slide_from_live(image: &ImageKallsyms) -> Result<i64> {
    let Some(text) = image.text_address() else {
        return Err(image_err(
            "kernel image",
            "its kallsyms have no `_text` symbol",
        ));
    };
    Ok(live_text_address()?.wrapping_sub(text) as i64)
}

/// Whether the image is the running kernel: its build-id equals the one in
/// `/sys/kernel/notes`. `None` when either is unknown.
pub fn matches_running_kernel(image: &ImageKallsyms) -> Option<bool> {
    let notes = std::fs::read("/sys/kernel/notes").ok()?;
    let live = hex(&crate::parse::notes::gnu_build_id(&notes)?);
    Some(image.build_id.as_ref()? == &live)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A synthetic kernel: tables written the way `scripts/kallsyms.c`
    /// writes them, with no compression (each character its own token).
    pub(crate) fn synthetic(syms: &[(u64, u8, &str)], new_layout: bool) -> Vec<u8> {
        synthetic_with(syms, new_layout, true, false)
    }

    /// `long`: two-byte lengths for entries over 127 tokens (6.1+);
    /// `old`: the 4.x style, `unsigned long` addresses, count and markers.
    fn synthetic_with(
        syms: &[(u64, u8, &str)],
        new_layout: bool,
        long: bool,
        old: bool,
    ) -> Vec<u8> {
        let mut tokens: Vec<Vec<u8>> = (0..256u32)
            .map(|c| {
                let c = c as u8;
                if c.is_ascii_graphic() {
                    vec![c]
                } else {
                    // Unused slots hold two-character tokens.
                    vec![b'a' + c % 26, b'a' + c / 26 % 26]
                }
            })
            .collect();
        tokens[0] = b"xx".to_vec();
        let mut names = Vec::new();
        let mut markers = Vec::new();
        for (i, &(_, kind, name)) in syms.iter().enumerate() {
            if i.is_multiple_of(256) {
                markers.push(names.len() as u32);
            }
            let len = name.len() + 1;
            if len > 0x7f && long {
                names.push((len as u8 & 0x7f) | 0x80);
                names.push((len >> 7) as u8);
            } else {
                names.push(len as u8);
            }
            names.push(kind);
            names.extend_from_slice(name.as_bytes());
        }
        let base = syms.iter().find(|s| s.1 != b'A').unwrap().0;
        let offsets: Vec<u32> = syms
            .iter()
            .map(|&(a, k, _)| {
                if k == b'A' {
                    a as u32
                } else {
                    base.wrapping_sub(a).wrapping_sub(1) as u32
                }
            })
            .collect();
        let mut out = vec![0x90u8; 4096];
        let pad = |out: &mut Vec<u8>| {
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
        };
        let put_offsets = |out: &mut Vec<u8>| {
            pad(out);
            if old {
                for s in syms {
                    out.extend(s.0.to_le_bytes());
                }
                return;
            }
            for o in &offsets {
                out.extend(o.to_le_bytes());
            }
            pad(out);
            out.extend(base.to_le_bytes());
        };
        if !new_layout {
            put_offsets(&mut out);
        }
        pad(&mut out);
        if old {
            out.extend((syms.len() as u64).to_le_bytes());
        } else {
            out.extend((syms.len() as u32).to_le_bytes());
        }
        pad(&mut out);
        out.extend(&names);
        pad(&mut out);
        for &m in &markers {
            if old {
                out.extend(u64::from(m).to_le_bytes());
            } else {
                out.extend(m.to_le_bytes());
            }
        }
        pad(&mut out);
        let mut index = Vec::new();
        let table_at = out.len();
        for t in &tokens {
            index.push((out.len() - table_at) as u16);
            out.extend(t);
            out.push(0);
        }
        pad(&mut out);
        for i in index {
            out.extend(i.to_le_bytes());
        }
        if new_layout {
            put_offsets(&mut out);
        }
        out.extend(vec![0xccu8; 4096]);
        out
    }

    fn sample(n: usize) -> Vec<(u64, u8, String)> {
        let mut v: Vec<(u64, u8, String)> = (0..40)
            .map(|i| (i * 0x40, b'A', format!("percpu_{i}")))
            .collect();
        for i in 0..n {
            let kind = [b'T', b't', b'd', b'D', b'b'][i % 5];
            let name = if i == 7 {
                "x".repeat(200)
            } else {
                format!("sym_{i}_{}", "q".repeat(i % 17))
            };
            v.push((0xffff_ffff_8100_0000 + (i as u64) * 0x30, kind, name));
        }
        v
    }

    #[test]
    fn synthetic_layouts_round_trip() {
        for new_layout in [true, false] {
            let syms = sample(1500);
            let refs: Vec<(u64, u8, &str)> =
                syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
            let img = synthetic(&refs, new_layout);
            let got = kallsyms_from_image(&img).unwrap();
            assert_eq!(got.container, Container::Raw);
            assert_eq!(
                got.encoding,
                AddressEncoding::AbsolutePercpu {
                    base: 0xffff_ffff_8100_0000
                }
            );
            assert!(got.layout.long_lengths);
            assert_eq!(got.symbols.len(), syms.len());
            for (g, (a, k, n)) in got.symbols.iter().zip(&syms) {
                assert_eq!((g.addr, g.kind, g.name.as_str()), (*a, *k, n.as_str()));
            }
        }
    }

    fn sample_image() -> (Vec<(u64, u8, String)>, Vec<u8>) {
        let syms = sample(700);
        let refs: Vec<(u64, u8, &str)> =
            syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
        let img = synthetic(&refs, true);
        (syms, img)
    }

    /// A bzImage around `payload` (boot protocol 2.15, one setup sector).
    fn bzimage(payload: &[u8], unpacked: usize) -> Vec<u8> {
        let mut b = vec![0u8; 1024];
        b[0x1f1] = 1;
        b[0x202..0x206].copy_from_slice(b"HdrS");
        b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        b[0x248..0x24c].copy_from_slice(&0x40u32.to_le_bytes());
        b[0x24c..0x250].copy_from_slice(&(payload.len() as u32 + 4).to_le_bytes());
        b.extend(vec![0u8; 0x40]);
        b.extend(payload);
        b.extend((unpacked as u32).to_le_bytes());
        b
    }

    #[test]
    fn every_payload_compression() {
        use std::io::Write;
        let (syms, raw) = sample_image();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&raw[..], 3).unwrap();
        let mut xz = Vec::new();
        xz2::read::XzEncoder::new(&raw[..], 1)
            .read_to_end(&mut xz)
            .unwrap();
        let lzma_opts = xz2::stream::LzmaOptions::new_preset(1).unwrap();
        let lzma_stream = xz2::stream::Stream::new_lzma_encoder(&lzma_opts).unwrap();
        let mut lzma = Vec::new();
        xz2::read::XzEncoder::new_stream(&raw[..], lzma_stream)
            .read_to_end(&mut lzma)
            .unwrap();
        // lz4 -l: the magic, then (size, block) pairs.
        let mut lz4 = 0x184c_2102u32.to_le_bytes().to_vec();
        for chunk in raw.chunks(5000) {
            let block = lz4_flex::block::compress(chunk);
            lz4.extend((block.len() as u32).to_le_bytes());
            lz4.extend(block);
        }
        for (name, payload) in [
            ("gzip", gz),
            ("zstd", zst),
            ("xz", xz.clone()),
            ("lzma", lzma),
            ("lz4", lz4),
        ] {
            let got = kallsyms_from_image(&bzimage(&payload, raw.len()))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got.container, Container::BzImage { compression: name });
            assert_eq!(got.symbols.len(), syms.len(), "{name}");
            assert_eq!(got.symbols[100].name, syms[100].2, "{name}");
        }
        // A whole compressed file.
        let got = kallsyms_from_image(&xz).unwrap();
        assert_eq!(got.container, Container::Compressed { compression: "xz" });
        // A truncated payload: the decompressor's complaint, named.
        let cut = bzimage(&zstd::encode_all(&raw[..], 3).unwrap()[..200], raw.len());
        let e = kallsyms_from_image(&cut).unwrap_err();
        assert!(matches!(e, Error::Decompress { format: "zstd", .. }), "{e}");
        // bzip2 and lzo kernels exist; ksym says it does not read them.
        let e = kallsyms_from_image(&bzimage(b"BZh91AY&SY", 100)).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
    }

    #[test]
    fn place_relative_offsets_with_elf_addresses() {
        // 7.0: each offset relative to its own address. Rewrite the offsets
        // of a synthetic 6.4-layout image and give it an ELF-like mapping.
        let syms: Vec<(u64, u8, String)> = (0..600)
            .map(|i| (0xffff_ffff_8100_0000 + i * 0x20, b't', format!("f{i}")))
            .collect();
        let refs: Vec<(u64, u8, &str)> =
            syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
        let mut img = synthetic(&refs, true);
        let rd = Rd { d: &img, be: false };
        let idx = token_indexes(rd, (0, img.len()))[0].0;
        let at = idx + 512;
        let va = 0xffff_ffff_8200_0000u64;
        for (i, (a, _, _)) in syms.iter().enumerate() {
            let place = va + at as u64 + 4 * i as u64;
            let off = a.wrapping_sub(place) as i64 as i32;
            img[at + 4 * i..at + 4 * i + 4].copy_from_slice(&off.to_le_bytes());
        }
        // No relative base after them.
        let base_at = align_up(at + 4 * syms.len(), 8);
        img[base_at..base_at + 8].copy_from_slice(&[0xcc; 8]);
        let elf = ElfInfo {
            sections: vec![(0, img.len(), va)],
            span: Some((0xffff_ffff_8100_0000, va + img.len() as u64)),
            ptr_size: 8,
            big_endian: false,
            build_id: None,
            rodata: None,
        };
        let found = find_tables(&img, Some(&elf)).unwrap();
        assert_eq!(found.encoding, AddressEncoding::PlaceRelative);
        let got: Vec<u64> = found.symbols.iter().map(|s| s.addr).collect();
        let want: Vec<u64> = syms.iter().map(|s| s.0).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn big_endian_raw_kernel() {
        // The same tables with every word big-endian (s390, ppc64, ...).
        let syms = sample(300);
        let refs: Vec<(u64, u8, &str)> =
            syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
        let le = synthetic(&refs, false);
        let rd = Rd { d: &le, be: false };
        let found = find_tables(&le, None).unwrap();
        let l = found.layout;
        let mut be = le.clone();
        let mut swap = |at: usize, width: usize| be[at..at + width].reverse();
        // offsets + base, count, markers, token index.
        for i in 0..syms.len() {
            swap(l.addresses + 4 * i, 4);
        }
        swap(align_up(l.addresses + 4 * syms.len(), 8), 8);
        swap(l.num_syms, 4);
        for i in 0..syms.len().div_ceil(256) {
            swap(l.markers + 4 * i, 4);
        }
        for i in 0..256 {
            swap(l.token_index + 2 * i, 2);
        }
        let _ = rd;
        let got = find_tables(&be, None).unwrap();
        assert!(got.layout.big_endian);
        assert_eq!(got.symbols.len(), syms.len());
        assert_eq!(got.symbols.last().unwrap().addr, syms.last().unwrap().0);
    }

    #[test]
    fn one_byte_lengths_of_old_kernels() {
        // Before 6.1 a length byte of 0x80 or more was a length, not the
        // first of two bytes.
        let mut syms = sample(400);
        syms[50].2 = "y".repeat(140);
        let refs: Vec<(u64, u8, &str)> =
            syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
        let img = synthetic_with(&refs, false, false, false);
        let got = kallsyms_from_image(&img).unwrap();
        assert!(!got.layout.long_lengths);
        assert_eq!(got.symbols[50].name, syms[50].2);
    }

    #[test]
    fn kallsyms_addresses_and_long_markers_of_4_x_kernels() {
        let syms: Vec<(u64, u8, String)> =
            sample(900).into_iter().filter(|s| s.1 != b'A').collect();
        let refs: Vec<(u64, u8, &str)> =
            syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
        let img = synthetic_with(&refs, false, false, true);
        let got = kallsyms_from_image(&img).unwrap();
        assert_eq!(got.encoding, AddressEncoding::Absolute);
        let addrs: Vec<u64> = got.symbols.iter().map(|s| s.addr).collect();
        let want: Vec<u64> = syms.iter().map(|s| s.0).collect();
        assert_eq!(addrs, want);
        assert_eq!(got.symbols[899].name, syms[899].2);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let mut x = 0x1234_5678u32;
        let bytes: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let e = kallsyms_from_image(&bytes).unwrap_err().to_string();
        assert!(e.contains("no kallsyms tables"), "{e}");
        let e = kallsyms_from_image(&[]).unwrap_err().to_string();
        assert!(e.contains("no kallsyms tables"), "{e}");
    }

    #[test]
    fn truncated_bzimage_header() {
        let mut b = vec![0u8; 0x1000];
        b[0x1f1] = 4;
        b[0x202..0x206].copy_from_slice(b"HdrS");
        b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        b[0x248..0x24c].copy_from_slice(&0x100u32.to_le_bytes());
        b[0x24c..0x250].copy_from_slice(&0x10_0000u32.to_le_bytes());
        let e = kallsyms_from_image(&b).unwrap_err().to_string();
        assert!(e.contains("truncated or damaged bzImage"), "{e}");
    }
}
