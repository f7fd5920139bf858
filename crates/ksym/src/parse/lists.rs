//! The first look at a list file (`/proc/modules`, a module layout table,
//! `modules.dep`): one whose first megabyte holds no line of its kind
//! (zeros, one endless line, a stream of other text) is refused then, not
//! after reading up to its bound, as symbol text is.

use crate::error::{Error, Result};
use crate::read::limit::HEAD_BYTES;

/// Refuses a list whose first [`HEAD_BYTES`] (`head`) hold no complete
/// line that `is_line` takes (given trimmed, blank lines and `#` comments
/// left out; its error is the reason a line is not of the kind). Shorter
/// input is all there is, and is left to the parse, which says what is
/// wrong with it. For the `head` hook of
/// [`read_file_within`](crate::read::read_file_within).
pub fn check_list_head(
    source_name: &str,
    head: &[u8],
    kind: &'static str,
    is_line: impl Fn(&str) -> std::result::Result<(), &'static str>,
) -> Result<()> {
    if head.len() < HEAD_BYTES {
        return Ok(());
    }
    // Only whole lines: the last may go on past the head.
    let whole = memchr::memrchr(b'\n', head).map_or(&[][..], |end| &head[..end]);
    let mut first: Option<String> = None;
    for (i, line) in whole.split(|&b| b == b'\n').enumerate() {
        let reason = match std::str::from_utf8(line) {
            Err(_) => "not UTF-8",
            Ok(text) => {
                let text = text.trim();
                if text.is_empty() || text.starts_with('#') {
                    continue;
                }
                match is_line(text) {
                    Ok(()) => return Ok(()),
                    Err(reason) => reason,
                }
            }
        };
        first.get_or_insert_with(|| {
            let shown: String = String::from_utf8_lossy(line).chars().take(80).collect();
            format!("line {}: {reason}: {shown:?}", i + 1)
        });
    }
    let first = first.unwrap_or_else(|| {
        if whole.is_empty() {
            "line 1 has no end in it".to_string()
        } else {
            "only blank lines and comments".to_string()
        }
    });
    Err(Error::NoListLineAhead {
        source_name: source_name.to_string(),
        looked_at: head.len() as u64,
        kind,
        first,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(line: &str) -> std::result::Result<(), &'static str> {
        if line.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err("not digits")
        }
    }

    fn head_of(fill: &[u8]) -> Vec<u8> {
        fill.iter().copied().cycle().take(HEAD_BYTES).collect()
    }

    #[test]
    fn a_head_without_a_line_of_its_kind_is_refused() {
        let refused = |head: &[u8]| {
            check_list_head("f", head, "digit", digits)
                .unwrap_err()
                .to_string()
        };
        let e = refused(&head_of(&[0]));
        assert_eq!(
            e,
            "f: no digit line in its first 1 MiB (line 1 has no end in it); refused without \
             reading the rest"
        );
        let e = refused(&head_of(b"y\n"));
        assert!(e.contains("(line 1: not digits: \"y\")"), "{e}");
        let e = refused(&head_of(b"\n# comment\n"));
        assert!(e.contains("(only blank lines and comments)"), "{e}");
        let mut bad = head_of(b"\n");
        bad[10] = 0xff;
        assert!(refused(&bad).contains("line 11: not UTF-8"));
        // The last line, cut by the head, is not looked at.
        let mut cut = head_of(b"y\n");
        cut[HEAD_BYTES - 1] = b'1';
        refused(&cut);
    }

    #[test]
    fn one_line_of_its_kind_or_a_short_input_passes() {
        let mut head = head_of(b"y\n");
        head[HEAD_BYTES / 2..HEAD_BYTES / 2 + 4].copy_from_slice(b"\n42\n");
        check_list_head("f", &head, "digit", digits).unwrap();
        check_list_head("f", &[0; 1000], "digit", digits).unwrap();
        check_list_head("f", b"y\n", "digit", digits).unwrap();
    }
}
