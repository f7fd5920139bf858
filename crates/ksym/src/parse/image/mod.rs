//! Kernel images: the kallsyms tables every kernel built with
//! `CONFIG_KALLSYMS` carries in its `.rodata`, read from a `vmlinuz`
//! (bzImage or EFI zboot, its gzip, xz, lzma, zstd or lz4 payload
//! decompressed; arm64's raw `Image`, see `arm64.rs`), a
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

use std::path::Path;

use crate::error::{Error, Result};
use crate::read::{read_raw_within, source_name, Limit};

mod addresses;
mod arm64;
mod elf;
mod names;
mod running;
mod search;
mod tokens;
mod unpack;

pub use running::{
    live_text_address, matches_running_kernel, slide_from_live, text_address_in, text_anchor_in,
};

use elf::elf_info;
use search::find_tables;
use unpack::unpack;

/// The kernel's `KSYM_NAME_LEN` (512 since 6.1).
const KSYM_NAME_LEN: usize = 512;
/// The fewest bytes an entry of `kallsyms_names` takes: a length and one token.
const MIN_ENTRY: usize = 2;
/// The most: a two-byte length and one token per character.
const MAX_ENTRY: usize = 2 + KSYM_NAME_LEN;
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
    /// An EFI zboot image (`vmlinuz.efi` of arm64 and others), and how its
    /// payload was compressed.
    Zboot { compression: &'static str },
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
            Container::Zboot { compression } => format!("EFI zboot image, {compression} payload"),
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
        self.address_of("_text")
    }

    /// The link-time address of the first symbol named `name`.
    pub fn address_of(&self, name: &str) -> Option<u64> {
        self.symbols.iter().find(|s| s.name == name).map(|s| s.addr)
    }
}

/// Decodes the kallsyms tables of a kernel image held in memory (see the
/// module documentation for what it may be).
pub fn kallsyms_from_image(bytes: &[u8]) -> Result<ImageKallsyms> {
    decode("kernel image", bytes, Limit::kernel(None))
}

/// Reads and decodes a kernel image file (or `-`), held to the default
/// bounds of a binary file: a stripped x86_64 vmlinux is 30-80 MiB, and
/// its payload expands 4-5 times.
pub fn read_image(path: &Path) -> Result<ImageKallsyms> {
    read_image_within(path, Limit::binary(None))
}

/// [`read_image`] held to `limit` (`Limit::binary(opts.max_input_bytes)`):
/// by default the file to the bound of a binary file and the kernel it
/// unpacks to [`Limit::kernel`]'s; a bound the caller chose, both.
pub fn read_image_within(path: &Path, limit: Limit) -> Result<ImageKallsyms> {
    let bytes = read_raw_within(path, limit)?;
    let unpacked = if limit.is_chosen() {
        limit
    } else {
        Limit::kernel(None)
    };
    decode(&source_name(path), &bytes, unpacked)
}

fn image_err(source_name: &str, reason: impl Into<String>) -> Error {
    Error::Image {
        source_name: source_name.to_string(),
        reason: reason.into(),
    }
}

fn decode(source_name: &str, bytes: &[u8], limit: Limit) -> Result<ImageKallsyms> {
    let unpacked = unpack(source_name, bytes, 0, limit)?;
    let data: &[u8] = &unpacked.data;
    let elf = elf_info(source_name, data)?;
    let mut found = find_tables(data, elf.as_ref()).map_err(|why| {
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
    if elf.is_none() {
        if let Some(header) = arm64::header(data) {
            relocate_base(data, &header, &mut found);
        }
    }
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
        build_id: match &elf {
            Some(e) => e.build_id.clone(),
            None => arm64::header(data).and_then(|_| arm64::build_id(data)),
        },
        banner,
        encoding: found.encoding,
        layout: found.layout,
        kernel_size: data.len(),
        symbols: found.symbols,
    })
}

/// A raw arm64 `Image` whose `kallsyms_relative_base` reads 0: its value
/// is the addend of the relocation for its place (see `arm64.rs`), one
/// that puts every symbol inside the image (`_end` at its end).
fn relocate_base(data: &[u8], header: &arm64::Header, found: &mut search::Found) {
    if found.encoding != (AddressEncoding::Relative { base: 0 }) {
        return;
    }
    let n = found.symbols.len();
    let Some(base_at) = 4usize
        .checked_mul(n)
        .and_then(|len| found.layout.addresses.checked_add(len))
        .map(|end| search::align_up(end, 8))
    else {
        return;
    };
    // Base 0: the addresses are the offsets.
    let top = found.symbols.iter().map(|s| s.addr).max().unwrap_or(0);
    let Some(relocations) = arm64::Relocations::find(data) else {
        return;
    };
    let inside = |start: u64, base: u64| {
        base >= start
            && base
                .checked_add(top)
                .zip(start.checked_add(header.image_size))
                .is_some_and(|(last, end)| last <= end)
    };
    if let Some(base) = relocations.value_at(header, base_at, inside) {
        for s in &mut found.symbols {
            s.addr += base;
        }
        found.encoding = AddressEncoding::Relative { base };
    }
}

#[cfg(test)]
mod tests;
