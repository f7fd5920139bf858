//! The records back into `/proc/kallsyms` lines: all at once ([`decode`])
//! or as they stream in ([`Decoder`]).

use super::HEADER;

/// The records as `/proc/kallsyms` lines, all at once (see [`Decoder`]).
pub fn decode(records: &[u8], own: &str) -> Result<Decoded, String> {
    let mut d = Decoder::new(own);
    d.feed(records)?;
    d.finish()
}

/// What [`decode`] makes of the records.
#[derive(Debug, Default)]
pub struct Decoded {
    /// `/proc/kallsyms` text with real addresses.
    pub text: Vec<u8>,
    /// (module, lowest `t`/`T` address) in the order first met.
    pub lowest_code: Vec<(String, u64)>,
}

/// Turns records into `/proc/kallsyms` lines (`%016lx %c %s[\t[%s]]`, a
/// module symbol's type letter cased by `exported` as `s_show` does) as
/// they stream in, a record cut between two chunks included. Leaves out
/// the lines of program `own` (the iterator's own) and the kernel's echo
/// of the last symbol at the end (see `drop_stop_echo`), so the last two
/// lines are held back until more come or [`Decoder::finish`]. Notes the
/// lowest code (`t`/`T`) address of each module, where its text area
/// starts. Errors name the byte where the records stop making sense.
pub struct Decoder<'o> {
    own: &'o str,
    /// The bytes of a record not yet whole.
    carry: Vec<u8>,
    /// How many bytes came before `carry`.
    done: usize,
    text: Vec<u8>,
    lowest_code: Vec<(String, u64)>,
}

impl<'o> Decoder<'o> {
    pub fn new(own: &'o str) -> Self {
        Decoder {
            own,
            carry: Vec::new(),
            done: 0,
            text: Vec::new(),
            lowest_code: Vec::new(),
        }
    }

    /// Takes the next bytes.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        let mut carry = std::mem::take(&mut self.carry);
        carry.extend_from_slice(chunk);
        self.text.reserve(chunk.len() + chunk.len() / 4);
        let mut at = 0;
        let decoded = loop {
            match record(&carry[at..], self.done + at) {
                Ok(Some((r, len))) => {
                    self.line(&r);
                    at += len;
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        carry.drain(..at);
        self.carry = carry;
        self.done += at;
        decoded
    }

    /// The lines ready for a parser: all but the last two.
    pub fn ready(&self) -> &[u8] {
        &self.text[..self.held_from()]
    }

    /// Forgets the lines [`Decoder::ready`] gave.
    pub fn consume_ready(&mut self) {
        let n = self.held_from();
        self.text.drain(..n);
    }

    fn held_from(&self) -> usize {
        let body = self.text.strip_suffix(b"\n").unwrap_or(&self.text);
        memchr::memrchr_iter(b'\n', body)
            .nth(1)
            .map_or(0, |i| i + 1)
    }

    /// The lines not yet taken (the echo left out) and the modules' lowest
    /// code; an error when the records end inside one.
    pub fn finish(mut self) -> Result<Decoded, String> {
        if !self.carry.is_empty() {
            return Err(format!("a record cut short at byte {}", self.done));
        }
        crate::read::bpf_iter::drop_stop_echo(&mut self.text);
        Ok(Decoded {
            text: self.text,
            lowest_code: self.lowest_code,
        })
    }

    fn line(&mut self, r: &Record<'_>) {
        // Symbols without a name (some debugging ones) are not listed, as
        // `s_show` does not list them; the iterator hands them over.
        if r.name.is_empty() {
            return;
        }
        let mut kind = r.kind;
        if let Some(m) = r.module {
            if kind.is_ascii_alphabetic() {
                kind = if r.exported {
                    kind.to_ascii_uppercase()
                } else {
                    kind.to_ascii_lowercase()
                };
            }
            // Its own program, and the kernel's echo of it at the end.
            let own = r.name.starts_with(b"bpf_prog_") && r.name.ends_with(self.own.as_bytes());
            if own && (m == b"bpf" || m == crate::read::bpf_iter::STOP_MODULE) {
                return;
            }
            if matches!(kind, b't' | b'T') {
                // A module's symbols come together: its entry is the last.
                let known = match self.lowest_code.last_mut() {
                    Some(last) if last.0.as_bytes() == m => Some(last),
                    _ => self.lowest_code.iter_mut().find(|(n, _)| n.as_bytes() == m),
                };
                match known {
                    Some((_, low)) => *low = (*low).min(r.value),
                    None => self
                        .lowest_code
                        .push((String::from_utf8_lossy(m).into_owned(), r.value)),
                }
            }
        }
        push_hex16(&mut self.text, r.value);
        self.text.extend_from_slice(&[b' ', kind, b' ']);
        self.text.extend_from_slice(r.name);
        if let Some(m) = r.module {
            self.text.extend_from_slice(b"\t[");
            self.text.extend_from_slice(m);
            self.text.push(b']');
        }
        self.text.push(b'\n');
    }
}

/// One record's fields.
struct Record<'a> {
    value: u64,
    kind: u8,
    exported: bool,
    name: &'a [u8],
    module: Option<&'a [u8]>,
}

/// The record at the start of `buf` and its length, `None` when `buf` ends
/// inside it; `base` is where `buf` starts in the stream, for errors.
fn record(buf: &[u8], base: usize) -> Result<Option<(Record<'_>, usize)>, String> {
    let Some(header) = buf.get(..HEADER) else {
        return Ok(None);
    };
    let kind = header[8];
    if !kind.is_ascii_graphic() {
        return Err(format!("record at byte {base}: type byte {kind:#x}"));
    }
    let mut at = HEADER;
    let Some(name) = words_to_nul(buf, &mut at, base)? else {
        return Ok(None);
    };
    let module = if header[10] != 0 {
        match words_to_nul(buf, &mut at, base)? {
            Some(m) => Some(m),
            None => return Ok(None),
        }
    } else {
        None
    };
    let r = Record {
        value: u64::from_ne_bytes(header[..8].try_into().expect("8 bytes")),
        kind,
        exported: header[9] != 0,
        name,
        module,
    };
    Ok(Some((r, at)))
}

/// The string in the words of `buf` from `at` up to its NUL (`None` when
/// `buf` ends first); `at` moves past the word holding it.
fn words_to_nul<'a>(
    buf: &'a [u8],
    at: &mut usize,
    base: usize,
) -> Result<Option<&'a [u8]>, String> {
    let from = *at;
    loop {
        if *at - from >= 512 {
            return Err(format!(
                "a name at byte {} has no end in 512 bytes",
                base + from
            ));
        }
        let Some(word) = buf.get(*at..*at + 8) else {
            return Ok(None);
        };
        *at += 8;
        if let Some(nul) = memchr::memchr(0, word) {
            let s = &buf[from..*at - 8 + nul];
            // A newline would forge a second line. (Other control bytes
            // are real: GCC's local labels hold \x02, as `.L14472\x021`,
            // and /proc/kallsyms prints them as they are.)
            if let Some(i) = memchr::memchr(b'\n', s) {
                return Err(format!("a name with a newline at byte {}", base + from + i));
            }
            return Ok(Some(s));
        }
    }
}

/// Appends `v` as `%016lx` does (the formatting machinery would cost as
/// much as the rest of the decoding).
fn push_hex16(out: &mut Vec<u8>, v: u64) {
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = b"0123456789abcdef"[(v >> (60 - 4 * i) & 0xf) as usize];
    }
    out.extend_from_slice(&digits);
}
