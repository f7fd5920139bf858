//! ELF notes: the GNU build-id that names a kernel or module build, as
//! `/sys/kernel/notes`, `/sys/module/*/notes` and an image's `.notes`
//! section hold it.

use std::path::Path;

use crate::read::limit::NOTES_LIMIT;
use crate::read::read_small;

/// The GNU build-id, in hex, of a file of native-endian notes such as
/// `/sys/kernel/notes` or `/sys/module/<m>/notes/.note.gnu.build-id`;
/// `None` when unreadable, too large or without one.
pub fn build_id_of_file(path: &Path) -> Option<String> {
    let notes = read_small(path, NOTES_LIMIT).ok()?;
    let id = gnu_build_id(&notes)?;
    (!id.is_empty()).then(|| hex(&id))
}

/// `NT_GNU_BUILD_ID`.
const NT_GNU_BUILD_ID: u32 = 3;

/// Finds the GNU build-id note in a sequence of native-endian ELF notes such
/// as `/sys/kernel/notes`: `namesz descsz type` headers, each field padded
/// to 4 bytes.
pub fn gnu_build_id(notes: &[u8]) -> Option<Vec<u8>> {
    gnu_build_id_in(notes, cfg!(target_endian = "little"))
}

/// [`gnu_build_id`] for notes of either byte order (an image of another
/// machine).
pub fn gnu_build_id_in(notes: &[u8], little: bool) -> Option<Vec<u8>> {
    let word = |at: usize| {
        let a: [u8; 4] = notes.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        } as usize)
    };
    let align4 = |n: usize| n.checked_add(3).map(|v| v & !3);
    let mut at = 0usize;
    while at.checked_add(12)? <= notes.len() {
        let (namesz, descsz, kind) = (word(at)?, word(at + 4)?, word(at + 8)?);
        let name_at = at + 12;
        let desc_at = name_at.checked_add(align4(namesz)?)?;
        let desc_end = desc_at.checked_add(descsz)?;
        if desc_end > notes.len() {
            return None;
        }
        if kind == NT_GNU_BUILD_ID as usize && notes.get(name_at..name_at + namesz)? == b"GNU\0" {
            return Some(notes[desc_at..desc_end].to_vec());
        }
        at = desc_at.checked_add(align4(descsz)?)?;
    }
    None
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_from_notes() {
        let mut notes = Vec::new();
        // A Xen note first, then the GNU build-id.
        for (name, kind, desc) in [
            (&b"Xen\0"[..], 1u32, &[1u8, 2, 3][..]),
            (&b"GNU\0"[..], 3, &[0xab, 0xcd, 0xef, 0x01][..]),
        ] {
            notes.extend((name.len() as u32).to_ne_bytes());
            notes.extend((desc.len() as u32).to_ne_bytes());
            notes.extend(kind.to_ne_bytes());
            notes.extend(name);
            notes.extend(desc);
            while notes.len() % 4 != 0 {
                notes.push(0);
            }
        }
        assert_eq!(gnu_build_id(&notes), Some(vec![0xab, 0xcd, 0xef, 0x01]));
        assert_eq!(gnu_build_id(&notes[..20]), None);
        assert_eq!(gnu_build_id(&[]), None);
    }
}
