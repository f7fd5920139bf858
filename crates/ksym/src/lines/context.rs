//! One file's DWARF, ready to answer: its debug sections as gimli reads
//! them (decompressed when `SHF_COMPRESSED`, relocated when the file is a
//! `.ko`), behind the `addr2line` crate's lazy context, built on the first
//! question.

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use gimli::SectionId;
use object::{CompressionFormat, Object, ObjectSection, SectionIndex};

use super::file::{debug_error, parse_object, DebugFile, Storage};
use super::relocate::{apply, section_patches, Patch};
use super::units::Units;
use super::{Placement, SourceFrame};
use crate::error::{Error, Result};
use crate::read::Limit;

/// The bytes of one debug section, shared with the file they come from.
#[derive(Clone)]
pub struct SectionBytes {
    owner: Arc<Storage>,
    start: usize,
    end: usize,
}

impl Deref for SectionBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.owner.bytes()[self.start..self.end]
    }
}

impl std::fmt::Debug for SectionBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SectionBytes({} bytes)", self.end - self.start)
    }
}

impl SectionBytes {
    /// Bytes of their own, as a little-endian section (for tests).
    #[cfg(test)]
    pub(crate) fn reader(bytes: Vec<u8>) -> Reader {
        let end = bytes.len();
        let owner = Arc::new(Storage::Owned(bytes));
        gimli::EndianReader::new(
            SectionBytes {
                owner,
                start: 0,
                end,
            },
            gimli::RunTimeEndian::Little,
        )
    }
}

// SAFETY: the bytes live in an `Arc` whose contents are never changed or
// moved once shared (a read-only mapping or a vector no longer written), so
// the slice stays where it is while any clone of the handle lives.
unsafe impl stable_deref_trait::StableDeref for SectionBytes {}
// SAFETY: clones share the same `Arc`, hence the same bytes.
unsafe impl stable_deref_trait::CloneStableDeref for SectionBytes {}

/// How gimli reads the sections.
pub type Reader = gimli::EndianReader<gimli::RunTimeEndian, SectionBytes>;

/// The sections a line and inline-frame lookup reads. Location lists,
/// call frames and macros are left out: never read, never relocated.
const WANTED: &[SectionId] = &[
    SectionId::DebugAbbrev,
    SectionId::DebugAddr,
    SectionId::DebugAranges,
    SectionId::DebugInfo,
    SectionId::DebugLine,
    SectionId::DebugLineStr,
    SectionId::DebugRanges,
    SectionId::DebugRngLists,
    SectionId::DebugStr,
    SectionId::DebugStrOffsets,
];

/// Where one wanted section's bytes are.
enum Place {
    InFile { start: usize, end: usize },
    Own(Vec<u8>),
}

/// The debug sections read (each by its id), an empty one for those that
/// are not there, the slide to take off an address before asking, and
/// where each unit of `.debug_info` is when that was read off the file.
type Loaded = (
    Vec<(SectionId, Reader)>,
    Reader,
    u64,
    Option<Vec<(usize, usize)>>,
);

/// `(offset, length)` of each unit of the `.debug_info` at `start..end` of
/// a mapped file, its headers read from the file (see [`Storage::read_at`]);
/// `None` when a header is odd (gimli then walks them and says what is
/// wrong).
fn unit_bounds(
    storage: &Storage,
    start: usize,
    end: usize,
    little: bool,
) -> Option<Vec<(usize, usize)>> {
    let (mut at, size) = (0usize, end - start);
    let mut out = Vec::new();
    while at < size {
        let mut word = [0u8; 4];
        storage.read_at(start + at, &mut word)?;
        let short = if little {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        };
        let len = match short {
            0xffff_ffff => {
                let mut long = [0u8; 8];
                storage.read_at(start + at + 4, &mut long)?;
                let long = if little {
                    u64::from_le_bytes(long)
                } else {
                    u64::from_be_bytes(long)
                };
                usize::try_from(long).ok()?.checked_add(12)?
            }
            0xffff_fff0.. => return None,
            short => short as usize + 4,
        };
        if len > size - at {
            return None;
        }
        out.push((at, len));
        at += len;
    }
    Some(out)
}

/// Reads the wanted debug sections of `file` placed by `placement`.
fn load(file: DebugFile, placement: &Placement) -> Result<Loaded> {
    let source = file.source.clone();
    let relocatable = file.is_relocatable();
    let mut storage = file.storage;
    let mut found: Vec<(SectionId, Place, Vec<Patch>)> = Vec::new();
    let little;
    {
        let elf = parse_object(&source, storage.bytes())?;
        little = elf.is_little_endian();
        let base_of = |i: SectionIndex| -> u64 {
            match elf.section_by_index(i) {
                Ok(s) if is_alloc(&s) => s.name().map_or(0, |n| placement.address_of(n)),
                _ => 0,
            }
        };
        for &id in WANTED {
            let Some(section) = elf.section_by_name(id.name()) else {
                continue;
            };
            let place = section_place(&source, &section, storage.bytes().len())?;
            let size = match &place {
                Place::InFile { start, end } => end - start,
                Place::Own(bytes) => bytes.len(),
            };
            let patches = if relocatable {
                section_patches(&source, &elf, &section, size as u64, &base_of)?
            } else {
                // A linked kernel's `.rela.debug_*` (ld --emit-relocs) are
                // already applied: applying them again costs seconds and a
                // GiB on a distro vmlinux, for the same bytes.
                Vec::new()
            };
            found.push((id, place, patches));
        }
    }
    let bounds = found.iter().find_map(|(id, place, patches)| match place {
        Place::InFile { start, end } if *id == SectionId::DebugInfo && patches.is_empty() => {
            unit_bounds(&storage, *start, *end, little)
        }
        _ => None,
    });
    let mut in_file: Vec<(SectionId, usize, usize)> = Vec::new();
    let mut owned: Vec<(SectionId, Vec<u8>)> = Vec::new();
    for (id, place, patches) in found {
        match place {
            Place::Own(mut bytes) => {
                apply(&mut bytes, &patches, little);
                owned.push((id, bytes));
            }
            Place::InFile { start, end } => {
                if !patches.is_empty() {
                    let Storage::Owned(all) = &mut storage else {
                        return Err(debug_error(&source, "a mapped file cannot be relocated"));
                    };
                    apply(&mut all[start..end], &patches, little);
                }
                in_file.push((id, start, end));
            }
        }
    }
    let file_bytes = Arc::new(storage);
    let mut sections: Vec<(SectionId, SectionBytes)> = in_file
        .into_iter()
        .map(|(id, start, end)| {
            let owner = file_bytes.clone();
            (id, SectionBytes { owner, start, end })
        })
        .collect();
    for (id, bytes) in owned {
        let end = bytes.len();
        let owner = Arc::new(Storage::Owned(bytes));
        sections.push((
            id,
            SectionBytes {
                owner,
                start: 0,
                end,
            },
        ));
    }
    let endian = if little {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let empty = SectionBytes {
        owner: file_bytes.clone(),
        start: 0,
        end: 0,
    };
    let readers = sections
        .into_iter()
        .map(|(id, bytes)| (id, gimli::EndianReader::new(bytes, endian)))
        .collect();
    let empty = gimli::EndianReader::new(empty, endian);
    let slide = match placement {
        Placement::Slide(slide) => *slide,
        Placement::Sections(_) => 0,
    };
    Ok((readers, empty, slide, bounds))
}

fn is_alloc(section: &object::Section<'_, '_>) -> bool {
    matches!(section.flags(), object::SectionFlags::Elf { sh_flags } if sh_flags & 0x2 != 0)
}

/// Where a section's bytes are: in the file, or decompressed (bounded, and
/// exactly the size its header promises).
fn section_place(
    source: &str,
    section: &object::Section<'_, '_>,
    file_len: usize,
) -> Result<Place> {
    let name = section.name().unwrap_or("?");
    let bad = |what: String| debug_error(source, &format!("{name}: {what}"));
    let compressed = section
        .compressed_data()
        .map_err(|e| bad(format!("bad section header: {e}")))?;
    match compressed.format {
        CompressionFormat::None => {
            let Some((offset, size)) = section.file_range() else {
                return Ok(Place::Own(Vec::new()));
            };
            let start = usize::try_from(offset).map_err(|_| bad("offset too large".into()))?;
            let end = start
                .checked_add(usize::try_from(size).map_err(|_| bad("size too large".into()))?)
                .ok_or_else(|| bad("offset and size overflow".into()))?;
            // `object` checks a section's bytes are in the file, but not the
            // offset of an empty one (found by fuzzing): both here.
            section
                .data()
                .map_err(|e| bad(format!("outside the file: {e}")))?;
            if end > file_len {
                return Err(bad(format!(
                    "bytes {start}..{end} are outside the file ({file_len} bytes)"
                )));
            }
            Ok(Place::InFile { start, end })
        }
        CompressionFormat::Zlib | CompressionFormat::Zstandard => {
            let limit = Limit::binary(None);
            let packed = compressed.data.len() as u64;
            let want = compressed.uncompressed_size;
            if want > limit.expanded_max(packed) {
                return Err(bad(format!(
                    "its {packed} compressed bytes claim to expand to {want}: refused"
                )));
            }
            let bytes = decompress(compressed.format, compressed.data, want)
                .map_err(|e| bad(format!("cannot decompress: {e}")))?;
            if bytes.len() as u64 != want {
                return Err(bad(format!(
                    "decompresses to {}{} bytes, not the {want} its header says",
                    if bytes.len() as u64 > want {
                        "more than "
                    } else {
                        ""
                    },
                    bytes.len().min(want as usize)
                )));
            }
            Ok(Place::Own(bytes))
        }
        _ => Err(bad("compressed in an unknown format".into())),
    }
}

/// At most `want + 1` bytes of a compressed section.
#[cfg(feature = "compression")]
fn decompress(format: CompressionFormat, data: &[u8], want: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(want.min(64 << 20) as usize);
    let reader: Box<dyn Read> = match format {
        CompressionFormat::Zlib => Box::new(flate2::read::ZlibDecoder::new(data)),
        _ => Box::new(zstd::stream::read::Decoder::new(data)?),
    };
    reader.take(want + 1).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(not(feature = "compression"))]
fn decompress(_: CompressionFormat, _: &[u8], _: u64) -> std::io::Result<Vec<u8>> {
    Err(std::io::Error::other(
        "ksym was built without the `compression` feature",
    ))
}

/// A file's DWARF, opened and placed, answering addresses. Built on the
/// first question (reading sections, relocating a module, indexing the
/// compilation units' ranges); each unit's line table and functions are
/// parsed when an address first falls in it.
pub struct LineContext {
    source: String,
    state: Mutex<State>,
}

enum State {
    Pending(Box<(DebugFile, Placement)>),
    Ready(Box<Ready>),
    Failed(String),
    /// Only while being built.
    Empty,
}

struct Ready {
    units: Units,
    slide: u64,
}

impl std::fmt::Debug for LineContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineContext")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl LineContext {
    /// A context for `file` placed as `placement` says: a slide for a
    /// linked kernel, each section's address for a `.ko`. Nothing of the
    /// DWARF is read before [`LineContext::frames`] asks.
    pub fn new(file: DebugFile, placement: Placement) -> Result<LineContext> {
        match (&placement, file.is_relocatable()) {
            (Placement::Slide(_), true) => {
                return Err(debug_error(
                    &file.source,
                    "a relocatable file (a module) needs each section's address, not a slide",
                ))
            }
            (Placement::Sections(_), false) => {
                return Err(debug_error(
                    &file.source,
                    "a linked file (a vmlinux) is placed by a slide, not by sections",
                ))
            }
            _ => {}
        }
        Ok(LineContext {
            source: file.source.clone(),
            state: Mutex::new(State::Pending(Box::new((file, placement)))),
        })
    }

    /// The name errors give the file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The source frames at `addr`, innermost first: each inlined call,
    /// then the function the code is in. Empty where the DWARF has no line
    /// for the address.
    pub fn frames(&self, addr: u64) -> Result<Vec<SourceFrame>> {
        let mut state = self.ready()?;
        match &mut *state {
            State::Ready(ready) => frames_in(&mut ready.units, addr.wrapping_sub(ready.slide))
                .map_err(|e| debug_error(&self.source, &format!("at {addr:#x}: {e}"))),
            State::Failed(reason) => Err(debug_error(&self.source, reason)),
            State::Pending(_) | State::Empty => Err(debug_error(&self.source, "not built")),
        }
    }

    /// The state, built first when it is still pending.
    fn ready(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let State::Pending(_) = &*state {
            let State::Pending(pending) = std::mem::replace(&mut *state, State::Empty) else {
                unreachable!("matched above");
            };
            let (file, placement) = *pending;
            *state = match build(file, &placement) {
                Ok(ready) => State::Ready(Box::new(ready)),
                Err(Error::DebugInfo { reason, .. }) => State::Failed(reason),
                Err(e) => State::Failed(e.to_string()),
            };
        }
        Ok(state)
    }
}

impl LineContext {
    /// Runs `f` over the file's units (made ready first) and the slide to
    /// take off an address: how a line table or a batch reads many units.
    pub(crate) fn with_units<T>(&self, f: impl FnOnce(&mut Units, u64) -> T) -> Result<T> {
        let mut state = self.ready()?;
        match &mut *state {
            State::Ready(ready) => Ok(f(&mut ready.units, ready.slide)),
            State::Failed(reason) => Err(debug_error(&self.source, reason)),
            State::Pending(_) | State::Empty => Err(debug_error(&self.source, "not built")),
        }
    }
}

fn build(file: DebugFile, placement: &Placement) -> Result<Ready> {
    let (sections, empty, slide, bounds) = load(file, placement)?;
    Ok(Ready {
        units: Units::new(sections, empty, bounds),
        slide,
    })
}

/// The frames at `probe` from the first unit that has a line there.
pub(crate) fn frames_in(
    units: &mut Units,
    probe: u64,
) -> std::result::Result<Vec<SourceFrame>, gimli::Error> {
    if units.whole_only() {
        return frames_at(units.whole()?, probe);
    }
    for unit in units.candidates(probe) {
        let frames = frames_at(units.context(unit)?, probe)?;
        if !frames.is_empty() {
            return Ok(frames);
        }
    }
    Ok(Vec::new())
}

/// The frames at `probe` (an address of the file's own layout).
pub(crate) fn frames_at(
    ctx: &addr2line::Context<Reader>,
    probe: u64,
) -> std::result::Result<Vec<SourceFrame>, gimli::Error> {
    // The addr2line crate asks for `[probe, probe + 1)`, which overflows at
    // the last address (a panic with debug assertions; the lines fuzz
    // target found it): no code is there.
    if probe == u64::MAX {
        return Ok(Vec::new());
    }
    let Some(unit) = ctx.find_dwarf_and_unit(probe).skip_all_loads() else {
        return Ok(Vec::new());
    };
    let comp_dir = match &unit.comp_dir {
        Some(dir) => Some(gimli::Reader::to_string_lossy(dir)?.into_owned()),
        None => None,
    };
    let mut frames = Vec::new();
    let mut iter = ctx.find_frames(probe).skip_all_loads()?;
    while let Some(frame) = iter.next()? {
        let function = match &frame.function {
            Some(name) => Some(name.demangle()?.into_owned()),
            None => None,
        };
        let location = frame.location.as_ref();
        frames.push(SourceFrame {
            function,
            file: location
                .and_then(|l| l.file)
                .map(|f| build_relative(f, comp_dir.as_deref())),
            line: location.and_then(|l| l.line),
            column: location.and_then(|l| l.column).filter(|c| *c != 0),
            inlined: true,
            source: None,
        });
    }
    // No line row for the address itself: no frames, whatever the
    // function tree says (no invented places).
    if frames.first().is_none_or(|f| f.line.is_none()) {
        return Ok(Vec::new());
    }
    if let Some(outer) = frames.last_mut() {
        outer.inlined = false;
    }
    Ok(frames)
}

/// A path as the kernel prints it: relative to the build directory (the
/// unit's `DW_AT_comp_dir`, relative or absolute, is taken off) or, for an
/// absolute path outside it, to the deepest directory above the build
/// directory that holds it (the source tree of an out-of-tree build, as
/// `decode_stacktrace.sh` strips it: Debian's assembler units name
/// `/build/reproducible-path/linux-6.1.192/arch/x86/entry/entry_64.S` from
/// `.../linux-6.1.192/debian/build/build_amd64_none_cloud-amd64`); `.`
/// components dropped (`fs/xfs/./xfs_trace.h` is `fs/xfs/xfs_trace.h`).
/// Paths sharing only `/` with the build directory (GCC's own headers) stay
/// absolute.
pub(crate) fn build_relative(path: &str, comp_dir: Option<&str>) -> String {
    let under = |dir: &str| path.strip_prefix(dir).and_then(|r| r.strip_prefix('/'));
    let mut rest = path;
    if let Some(dir) = comp_dir
        .map(|d| d.trim_end_matches('/'))
        .filter(|d| !d.is_empty())
    {
        if let Some(r) = under(dir) {
            rest = r;
        } else if path.starts_with('/') && dir.starts_with('/') {
            let mut above = dir;
            while let Some(cut) = above.rfind('/').filter(|c| *c > 0) {
                above = &above[..cut];
                if let Some(r) = under(above) {
                    rest = r;
                    break;
                }
            }
        }
    }
    let mut out = String::with_capacity(rest.len());
    if rest.starts_with('/') {
        out.push('/');
    }
    for part in rest.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(part);
    }
    out
}
