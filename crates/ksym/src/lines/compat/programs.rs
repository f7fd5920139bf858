//! What the `addr2line` crate reads of a unit's line program otherwise
//! than the tools print it, read again here once per unit (on the first
//! address in it):
//! - the **discriminator** of the line row at an address: rows are kept
//!   the way that crate keeps them (per sequence, the last row of a shared
//!   address winning), so the row found is the row whose line it gave;
//! - each file's **path as BFD joins it** (`comp_dir/dir/file` with a `/`
//!   each, whatever the parts end with; a DWARF 5 file's directory 0 read
//!   like any other), keyed by the path as that crate joins it.

use std::collections::HashMap;

use super::Reader;

/// One sequence: `[start, end)` and its rows.
struct Sequence {
    start: u64,
    end: u64,
    rows: Vec<Row>,
}

#[derive(Clone, Copy)]
struct Row {
    address: u64,
    line: u32,
    discriminator: u32,
    /// The file as BFD reads it: until a sequence sets one, file 0 in
    /// DWARF 5 (BFD 2.40's start; the standard says file 1, which the
    /// `addr2line` crate takes).
    file: u64,
}

/// One line program: its sequences and its paths.
struct Program {
    sequences: Vec<Sequence>,
    /// The `addr2line` crate's path to BFD's.
    paths: HashMap<String, String>,
    by_index: PathsByIndex,
}

/// The programs read so far, by line program offset (unique in a file;
/// unit contexts over a cut `.debug_info` share offsets, these do not).
#[derive(Default)]
pub(super) struct Programs {
    programs: HashMap<usize, Program>,
}

impl Programs {
    /// Drops every program read (read again when asked again).
    pub(super) fn clear(&mut self) {
        self.programs.clear();
    }

    fn program(
        &mut self,
        unit: gimli::UnitRef<'_, Reader>,
    ) -> std::result::Result<Option<&Program>, gimli::Error> {
        let Some(program) = &unit.line_program else {
            return Ok(None);
        };
        let offset = program.header().offset().0;
        Ok(Some(match self.programs.entry(offset) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let (paths, by_index) = paths(unit, program.header())?;
                e.insert(Program {
                    paths,
                    by_index,
                    sequences: read(program)?,
                })
            }
        }))
    }

    /// The path BFD prints for the file the `addr2line` crate calls
    /// `path` in `unit`'s lines (as it is when no file of them is called
    /// so).
    pub(super) fn gnu_path(
        &mut self,
        unit: gimli::UnitRef<'_, Reader>,
        path: &str,
    ) -> std::result::Result<String, gimli::Error> {
        Ok(self
            .program(unit)?
            .and_then(|p| p.paths.get(path))
            .map_or_else(|| path.to_string(), String::clone))
    }

    /// The discriminator and BFD's path of the row holding `probe` in
    /// `unit`'s lines (0 and `None`: no row).
    pub(super) fn innermost(
        &mut self,
        unit: gimli::UnitRef<'_, Reader>,
        probe: u64,
    ) -> std::result::Result<(u32, Option<String>), gimli::Error> {
        Ok(self
            .row(unit, probe)?
            .map_or((0, None), |(_, discriminator, file)| (discriminator, file)))
    }

    /// The line, discriminator and BFD's path of the row holding `probe`
    /// in `unit`'s lines.
    pub(super) fn row(
        &mut self,
        unit: gimli::UnitRef<'_, Reader>,
        probe: u64,
    ) -> std::result::Result<Option<(u32, u32, Option<String>)>, gimli::Error> {
        let Some(Program {
            sequences,
            by_index,
            ..
        }) = self.program(unit)?
        else {
            return Ok(None);
        };
        let Ok(i) = sequences.binary_search_by(|s| {
            if probe < s.start {
                std::cmp::Ordering::Greater
            } else if probe >= s.end {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Equal
            }
        }) else {
            return Ok(None);
        };
        let rows = &sequences[i].rows;
        let upto = rows.partition_point(|r| r.address <= probe);
        Ok(upto.checked_sub(1).map(|k| {
            let row = rows[k];
            (
                row.line,
                row.discriminator,
                by_index.get(&row.file).cloned(),
            )
        }))
    }
}

/// Per row of the program, whether its sequence set a file before it
/// (rows come of `Copy`, special opcodes and `EndSequence`, as gimli makes
/// them).
fn file_set(
    header: &gimli::LineProgramHeader<Reader>,
) -> std::result::Result<Vec<bool>, gimli::Error> {
    use gimli::LineInstruction as I;
    let mut out = Vec::new();
    let mut set = false;
    let mut instructions = header.instructions();
    while let Some(instruction) = instructions.next_instruction(header)? {
        match instruction {
            I::SetFile(_) => set = true,
            I::Special(_) | I::Copy => out.push(set),
            I::EndSequence => {
                out.push(set);
                set = false;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn read(
    program: &gimli::IncompleteLineProgram<Reader>,
) -> std::result::Result<Vec<Sequence>, gimli::Error> {
    let dwarf5 = program.header().version() >= 5;
    let file_set = file_set(program.header())?;
    let mut sequences = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut program_rows = program.clone().rows();
    let mut index = 0;
    while let Some((_, row)) = program_rows.next_row()? {
        let address = row.address();
        let set = file_set.get(index).copied().unwrap_or(true);
        index += 1;
        if row.end_sequence() {
            if let Some(&Row { address: start, .. }) = rows.first() {
                let taken = std::mem::take(&mut rows);
                if start < address {
                    sequences.push(Sequence {
                        start,
                        end: address,
                        rows: taken,
                    });
                }
            }
            continue;
        }
        let new = Row {
            address,
            line: row
                .line()
                .map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX)),
            discriminator: u32::try_from(row.discriminator()).unwrap_or(u32::MAX),
            file: if dwarf5 && !set { 0 } else { row.file_index() },
        };
        match rows.last_mut() {
            Some(last) if last.address == address => *last = new,
            _ => rows.push(new),
        }
    }
    sequences.sort_unstable_by_key(|s| s.start);
    Ok(sequences)
}

/// BFD's path of each file index.
type PathsByIndex = HashMap<u64, String>;

/// Every file of `header`: the `addr2line` crate's path to BFD's, and
/// BFD's by index.
fn paths(
    unit: gimli::UnitRef<'_, Reader>,
    header: &gimli::LineProgramHeader<Reader>,
) -> std::result::Result<(HashMap<String, String>, PathsByIndex), gimli::Error> {
    let text = |r: Reader| -> std::result::Result<String, gimli::Error> {
        Ok(gimli::Reader::to_string_lossy(&r)?.into_owned())
    };
    let comp_dir = unit.comp_dir.clone().map(text).transpose()?;
    let mut out = HashMap::new();
    let mut by_index = HashMap::new();
    let dwarf5 = header.version() >= 5;
    for index in u64::from(!dwarf5).. {
        let Some(file) = header.file(index) else {
            break;
        };
        let name = text(unit.attr_string(file.path_name())?)?;
        let dir = match file.directory(header) {
            Some(d) => Some(text(unit.attr_string(d)?)?),
            None => None,
        };
        // The crate: comp_dir, then the directory unless index 0, then
        // the name, each pushed (an absolute part starts afresh; a `/`
        // only where the path does not end with one).
        let mut crate_path = comp_dir.clone().unwrap_or_default();
        if file.directory_index() != 0 {
            push(&mut crate_path, dir.as_deref().unwrap_or(""));
        }
        push(&mut crate_path, &name);
        // BFD: an absolute name as it is; else `comp_dir/dir/name`, the
        // comp_dir left out when the directory is absolute (or none).
        let dir = dir.filter(|_| dwarf5 || file.directory_index() != 0);
        let gnu = if name.starts_with('/') {
            name
        } else {
            let base = match (&dir, &comp_dir) {
                (Some(d), _) if d.starts_with('/') => Some((d.clone(), None)),
                (d, Some(c)) => Some((c.clone(), d.clone())),
                (Some(d), None) => Some((d.clone(), None)),
                (None, None) => None,
            };
            match base {
                Some((first, Some(sub))) => format!("{first}/{sub}/{name}"),
                Some((first, None)) => format!("{first}/{name}"),
                None => name,
            }
        };
        by_index.insert(index, gnu.clone());
        out.entry(crate_path).or_insert(gnu);
    }
    Ok((out, by_index))
}

fn push(path: &mut String, part: &str) {
    if part.starts_with('/') {
        *path = part.to_string();
        return;
    }
    if !path.is_empty() && !path.ends_with('/') {
        path.push('/');
    }
    path.push_str(part);
}
