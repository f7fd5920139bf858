//! The tools' output, byte for byte: GNU `addr2line` (binutils) and
//! `llvm-addr2line` (LLVM's symbolizer in its GNU style), for the options
//! their callers use (`-a -f -i -p -C -s`), and how each reads an address.

use std::io::Write;

use super::{ToolAnswer, ToolFrame};

/// Which tool to answer as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavour {
    /// binutils' `addr2line`.
    #[default]
    Gnu,
    /// `llvm-addr2line`.
    Llvm,
}

/// The options that change what is printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub flavour: Flavour,
    /// `-a`: the address first.
    pub addresses: bool,
    /// `-f`: function names.
    pub functions: bool,
    /// `-i`: the calls the code is inlined into.
    pub inlines: bool,
    /// `-p`: one line an address (and one per inlined call).
    pub pretty: bool,
    /// `-C`: demangled names (Rust's; C++ names are left as they are).
    pub demangle: bool,
    /// `-s`: file names without their directories.
    pub basenames: bool,
}

/// An address as the tool reads one: GNU as BFD's `bfd_scan_vma(s, 0, 16)`
/// does (leading blanks, `+`, `0x`; it stops at the first other character,
/// so anything is an address, `,` and `-1` are 0, and past 64 bits is all
/// ones);
/// llvm the whole trimmed line as hex (`0x` optional), else `None` (it
/// prints the line back).
pub fn parse_address(flavour: Flavour, text: &str) -> Option<u64> {
    match flavour {
        Flavour::Gnu => Some(strtoul16(text)),
        Flavour::Llvm => {
            let t = text.trim();
            let digits = t
                .strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u64::from_str_radix(digits, 16).ok()
        }
    }
}

fn strtoul16(text: &str) -> u64 {
    let b = text.as_bytes();
    let mut i = 0;
    // C's isspace: blank, \t \n \v \f \r.
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    // A `+` is read; a `-` ends the number (0), as BFD's scan does.
    if b.get(i) == Some(&b'+') {
        i += 1;
    }
    if b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
    }
    let mut value = 0u64;
    let mut overflow = false;
    while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(16)) {
        match value.checked_mul(16).and_then(|v| v.checked_add(d.into())) {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if overflow {
        u64::MAX
    } else {
        value
    }
}

impl Style {
    /// Writes the answer for `addr` (a line of input the tool could not
    /// read is `text`, printed back by llvm).
    pub fn write(
        &self,
        out: &mut dyn Write,
        addr: u64,
        answer: &ToolAnswer,
    ) -> std::io::Result<()> {
        if self.addresses {
            match self.flavour {
                Flavour::Gnu => write!(out, "0x{addr:016x}")?,
                Flavour::Llvm => write!(out, "0x{addr:x}")?,
            }
            out.write_all(if self.pretty { b": " } else { b"\n" })?;
        }
        match self.flavour {
            Flavour::Gnu => self.write_gnu(out, answer),
            Flavour::Llvm => self.write_llvm(out, answer),
        }
    }

    fn write_gnu(&self, out: &mut dyn Write, answer: &ToolAnswer) -> std::io::Result<()> {
        let mut frames = match (&answer.symbol_before, answer.frames.is_empty()) {
            _ if !answer.in_section => Vec::new(),
            (_, false) => answer.frames.clone(),
            (Some((name, file)), true) => vec![ToolFrame {
                function: Some(name.clone()),
                file: file.clone(),
                standard_file: None,
                line: 0,
                discriminator: 0,
                past_ranges: false,
            }],
            (None, true) => Vec::new(),
        };
        // A line with no function: the symbol's name.
        if let (Some(inner), Some((name, _))) = (frames.first_mut(), &answer.symbol_before) {
            inner.function.get_or_insert_with(|| name.clone());
        }
        let Some(inner) = frames.first() else {
            if self.functions {
                out.write_all(if self.pretty { b"?? " } else { b"??\n" })?;
            }
            return out.write_all(b"??:0\n");
        };
        let count = if self.inlines { frames.len() } else { 1 };
        for (i, frame) in frames[..count].iter().enumerate() {
            if i > 0 && self.pretty {
                out.write_all(b" (inlined by) ")?;
            }
            self.write_function(out, frame.function.as_deref())?;
            self.write_file(out, frame.file.as_deref())?;
            // BFD leaves the innermost row's discriminator in place for
            // the calls around it.
            match (frame.line, inner.discriminator) {
                (0, _) => out.write_all(b"?\n")?,
                (line, 0) => writeln!(out, "{line}")?,
                (line, d) => writeln!(out, "{line} (discriminator {d})")?,
            }
        }
        Ok(())
    }

    fn write_llvm(&self, out: &mut dyn Write, answer: &ToolAnswer) -> std::io::Result<()> {
        let dwarf = if answer.past_ranges() {
            &[][..]
        } else {
            &answer.frames[..]
        };
        let mut frames: Vec<ToolFrame> = dwarf
            .iter()
            .map(|f| ToolFrame {
                file: f.standard_file.clone(),
                ..f.clone()
            })
            .collect();
        let from_dwarf = !frames.is_empty();
        if !from_dwarf {
            frames.push(ToolFrame {
                function: None,
                file: None,
                standard_file: None,
                line: 0,
                discriminator: 0,
                past_ranges: false,
            });
        }
        // With inlined calls, llvm names the outermost frame from the
        // symbol table (and its file, where DWARF has none); without, only
        // where DWARF has nothing.
        if self.inlines || !from_dwarf {
            frames.truncate(if self.inlines { frames.len() } else { 1 });
            if let (true, Some(last), Some((name, file))) =
                (self.functions, frames.last_mut(), &answer.symbol_holding)
            {
                last.function = Some(name.clone());
                if last.file.is_none() {
                    last.file.clone_from(file);
                }
            }
        } else {
            frames.truncate(1);
        }
        for (i, frame) in frames.iter().enumerate() {
            if i > 0 && self.pretty {
                out.write_all(b" (inlined by) ")?;
            }
            self.write_function(out, frame.function.as_deref())?;
            self.write_file(out, frame.file.as_deref())?;
            write!(out, "{}", frame.line)?;
            if frame.discriminator != 0 {
                write!(out, " (discriminator {})", frame.discriminator)?;
            }
            out.write_all(b"\n")?;
        }
        if self.pretty && self.addresses && frames.is_empty() {
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn write_function(&self, out: &mut dyn Write, name: Option<&str>) -> std::io::Result<()> {
        if !self.functions {
            return Ok(());
        }
        let name = name.filter(|n| !n.is_empty()).unwrap_or("??");
        if self.demangle {
            write!(out, "{}", demangled(name))?;
        } else {
            out.write_all(name.as_bytes())?;
        }
        out.write_all(if self.pretty { b" at " } else { b"\n" })
    }

    fn write_file(&self, out: &mut dyn Write, file: Option<&str>) -> std::io::Result<()> {
        let mut file = file.unwrap_or("??");
        if self.basenames {
            file = file.rsplit('/').next().unwrap_or(file);
        }
        out.write_all(file.as_bytes())?;
        out.write_all(b":")
    }
}

/// A Rust name demangled; any other name as it is.
fn demangled(name: &str) -> String {
    addr2line::demangle(name, gimli::DW_LANG_Rust).unwrap_or_else(|| name.to_string())
}
