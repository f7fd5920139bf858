//! Batch symbolization into a result buffer the caller keeps and reuses:
//! one `ksym_frame` per address, in order. Names point into the symbol
//! table's own NUL-terminated arena (nothing copied, nothing hashed), and
//! the buffer holds the table until its next use; only when a mapped
//! table's names could not be shown to be C strings are they copied into
//! the buffer (each symbol once per batch). Once the buffer has grown to
//! the largest batch, a call allocates nothing.

use std::ffi::c_char;
use std::sync::Arc;

use ksym_core::stack::{AddrKind, FailureCause, Frame, Frames, RawReason};
use ksym_core::SymbolTable;
use rustc_hash::FxHashMap;

use crate::error::*;
use crate::open::{handle, ksym_symbolizer};

/// `ksym_symbolize`'s `kind`: each address as it is (sampled IPs, a RIP).
pub const KSYM_ADDR_EXACT: u32 = 0;
/// Each address is a return address: `ip - 1` is looked up, as the
/// kernel's `%pB` does.
pub const KSYM_ADDR_RETURN: u32 = 1;
/// A stack as unwound: the first exact, the others return addresses.
pub const KSYM_ADDR_STACK: u32 = 2;

/// `ksym_frame.status`: named by a symbol.
pub const KSYM_FRAME_NAMED: u32 = 0;
/// Raw: no symbol holds the address (a gap, user space, unknown JIT code).
pub const KSYM_FRAME_NO_SYMBOL: u32 = 1;
/// Raw: the source hid its addresses (`kptr_restrict`).
pub const KSYM_FRAME_REDACTED: u32 = 2;
/// Raw: reading the symbols was not permitted.
pub const KSYM_FRAME_PERMISSION_DENIED: u32 = 3;
/// Raw: the symbols could not be read otherwise.
pub const KSYM_FRAME_UNAVAILABLE: u32 = 4;

/// One frame. The strings live as long as the `ksym_result` the frame came
/// from, until its next use or `ksym_result_free` (they are the symbol
/// table's own, which the result keeps alive, or copies in the result).
#[repr(C)]
pub struct ksym_frame {
    /// The address as given.
    pub addr: u64,
    /// The symbol's first address (0 when raw).
    pub start: u64,
    /// How far into the symbol `addr` is, as `%pS` prints it.
    pub offset: u64,
    /// The symbol's size (its real size when an ELF gave it; else to the
    /// next symbol, bounded).
    pub size: u64,
    /// The symbol's name, NULL when raw.
    pub name: *const c_char,
    /// The module (`xfs`, `bpf`, ...), NULL for the core kernel or raw.
    pub module: *const c_char,
    /// The lengths of `name` and `module` without their NULs (0 when NULL).
    pub name_len: u32,
    pub module_len: u32,
    /// `KSYM_FRAME_NAMED` or why the frame is raw.
    pub status: u32,
    /// The type letter (`'T'`, `'t'`, ...), 0 when raw.
    pub kind: u8,
    pub reserved0: [u8; 3],
    /// Source file, line and column of the innermost source frame (the
    /// first of `source_frames`): NULL and 0 without source lines.
    pub file: *const c_char,
    pub line: u32,
    pub column: u32,
    /// The source frames at the address, innermost first: each inlined
    /// call, then the function the code is in (as `ksym addr --lines
    /// --json` gives them); NULL and 0 without source lines. They live in
    /// the `ksym_result`, as the strings do.
    pub source_frames: *const ksym_source_frame,
    pub source_frame_count: u32,
    /// The symbol's id in its table, `UINT32_MAX` when raw. With
    /// `table_serial` it names one symbol for the life of the process: a
    /// caller that turns names into its own strings can cache them by
    /// `(table_serial, symbol_id)` instead of hashing the names.
    pub symbol_id: u32,
    /// Which table the symbol is from: a number no other table of the
    /// process has. The live handle's changes when modules come and go;
    /// every frame of one call has the same.
    pub table_serial: u64,
    /// The module section `addr` is in (`.text`, `.plt`,
    /// `.text.ftrace_trampoline`, ...) where the table knows the module's
    /// sections (a live kernel's `/sys/module`); NULL for the core kernel,
    /// raw frames and modules whose sections are unknown. An arm64
    /// module's `.plt` veneers and ftrace trampoline carry no symbols: the
    /// frame names the function before them, as `%pS` does, and this says
    /// where the address really is.
    pub section: *const c_char,
}

/// One source frame: a function (or an inlined call of one) and where in
/// the source the address comes from.
#[repr(C)]
pub struct ksym_source_frame {
    /// DWARF's name of the function (`foo` where the symbol is
    /// `foo.cold`), NULL when unknown.
    pub function: *const c_char,
    /// The source file, relative to the kernel's build directory; NULL
    /// when unknown.
    pub file: *const c_char,
    /// The lengths of `function` and `file` without their NULs.
    pub function_len: u32,
    pub file_len: u32,
    /// 0 when unknown.
    pub line: u32,
    pub column: u32,
    /// 1 when inlined into the next frame (every frame but the last).
    pub inlined: u8,
    pub reserved0: [u8; 3],
    /// The length of `source` without its NUL.
    pub source_len: u32,
    /// The source line's text where the debug info keeps it (a BPF
    /// program's BTF does; DWARF does not): NULL otherwise.
    pub source: *const c_char,
    pub reserved: u64,
}

/// A reusable result buffer: frames and their strings. Use one per thread
/// (or per goroutine); it is not shared.
#[derive(Default)]
pub struct ksym_result {
    frames_buf: Frames<'static>,
    pub(crate) frames: Vec<ksym_frame>,
    /// NUL-terminated names and modules, back to back.
    pub(crate) strings: Vec<u8>,
    /// Each frame's name and module offsets in `strings`.
    offsets: Vec<(usize, usize)>,
    /// Where a symbol's strings are in `strings`, by symbol id, this batch.
    placed: FxHashMap<u32, (usize, usize)>,
    modules: FxHashMap<*const u8, usize>,
    /// Source frames of every frame, back to back, with their strings'
    /// offsets (function, file), and each frame's (first, count).
    sources: Vec<ksym_source_frame>,
    source_offsets: Vec<(usize, usize, usize)>,
    frame_sources: Vec<(usize, usize)>,
    /// Where a function name or path is in `strings`, this batch.
    source_placed: FxHashMap<String, usize>,
    /// The table the frames' names point into, kept until the next batch.
    pub(crate) table: Option<Arc<SymbolTable>>,
}

/// A new, empty result buffer (never NULL; aborts when out of memory like
/// any Rust allocation).
#[no_mangle]
pub extern "C" fn ksym_result_new() -> *mut ksym_result {
    Box::into_raw(Box::default())
}

/// Frees a result buffer; NULL is allowed.
///
/// # Safety
/// `result` is NULL or came from `ksym_result_new` and is not used again.
#[no_mangle]
pub unsafe extern "C" fn ksym_result_free(result: *mut ksym_result) {
    if !result.is_null() {
        // SAFETY: from Box::into_raw, freed once.
        drop(unsafe { Box::from_raw(result) });
    }
}

/// The frames of the last `ksym_symbolize` into this buffer.
///
/// # Safety
/// `result` is a live result buffer; `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ksym_result_frames(
    result: *const ksym_result,
    len: *mut usize,
) -> *const ksym_frame {
    // SAFETY: as the caller promises.
    let Some(r) = (unsafe { result.as_ref() }) else {
        return std::ptr::null();
    };
    // SAFETY: as the caller promises.
    if let Some(len) = unsafe { len.as_mut() } {
        *len = r.frames.len();
    }
    r.frames.as_ptr()
}

/// The bytes the names and modules of the last batch's frames point into
/// (the symbol table's arena, each string followed by its NUL), with their
/// length in `len`; NULL (and `len` 0) when the names were copied into the
/// buffer instead, or the batch had no table. Valid as the frames are, until
/// the buffer's next use; the same bytes for every batch with the same
/// `table_serial`. For a caller that makes its own strings: copy the arena
/// (or the parts of it frames point into) once per table serial, and each
/// name is the copy at `name - arena`, with nothing to look up per frame.
///
/// # Safety
/// `result` is a live result buffer; `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ksym_result_names(
    result: *const ksym_result,
    len: *mut usize,
) -> *const c_char {
    // SAFETY: as the caller promises.
    let arena = unsafe { result.as_ref() }
        .and_then(|r| r.table.as_deref())
        .and_then(SymbolTable::c_string_arena)
        .unwrap_or_default();
    // SAFETY: as the caller promises.
    if let Some(len) = unsafe { len.as_mut() } {
        *len = arena.len();
    }
    if arena.is_empty() {
        std::ptr::null()
    } else {
        arena.as_ptr().cast()
    }
}

fn raw_status(why: RawReason) -> u32 {
    match why {
        RawReason::NoSymbol => KSYM_FRAME_NO_SYMBOL,
        RawReason::Unavailable(FailureCause::Redacted) => KSYM_FRAME_REDACTED,
        RawReason::Unavailable(FailureCause::PermissionDenied) => KSYM_FRAME_PERMISSION_DENIED,
        RawReason::Unavailable(FailureCause::Other) => KSYM_FRAME_UNAVAILABLE,
    }
}

fn push_str(strings: &mut Vec<u8>, s: &str) -> usize {
    let at = strings.len();
    strings.extend_from_slice(s.as_bytes());
    strings.push(0);
    at
}

/// `ksym_result.offsets`: no module.
const NO_MODULE: usize = usize::MAX;

/// Frame `f` in C, its strings `name` and `module` (null for none). One
/// struct expression, every field computed first: a frame built and then
/// changed field by field was moved into the buffer through the stack,
/// with a stalled store-to-load forwarding per frame.
#[inline]
fn c_frame(
    f: &Frame<'_>,
    table_serial: u64,
    name: *const c_char,
    module: *const c_char,
    section: *const c_char,
) -> ksym_frame {
    let (start, offset, size, kind, name_len, module_len, symbol_id, status) = match f {
        Frame::Symbol(s) => (
            s.start,
            s.offset,
            s.size,
            s.kind as u8,
            s.name.len() as u32,
            s.module.map_or(0, |m| m.len() as u32),
            s.id.0,
            KSYM_FRAME_NAMED,
        ),
        Frame::Raw { why, .. } => (0, 0, 0, 0, 0, 0, u32::MAX, raw_status(*why)),
    };
    ksym_frame {
        addr: f.addr(),
        start,
        offset,
        size,
        name,
        module,
        name_len,
        module_len,
        status,
        kind,
        reserved0: [0; 3],
        file: std::ptr::null(),
        line: 0,
        column: 0,
        source_frames: std::ptr::null(),
        source_frame_count: 0,
        symbol_id,
        table_serial,
        section,
    }
}

/// The section `f`'s address is in, a C string of `table` (NULL for
/// none).
fn section_of(table: &SymbolTable, f: &Frame<'_>) -> *const c_char {
    match f {
        Frame::Symbol(s) => table.section_of(s).map_or(std::ptr::null(), |c| c.as_ptr()),
        Frame::Raw { .. } => std::ptr::null(),
    }
}

impl ksym_result {
    /// Turns the batch in `frames` into C frames and strings.
    pub(crate) fn fill(&mut self, frames: &Frames<'_>) {
        self.frames.clear();
        self.strings.clear();
        self.offsets.clear();
        self.placed.clear();
        self.modules.clear();
        self.sources.clear();
        self.source_offsets.clear();
        self.frame_sources.clear();
        self.source_placed.clear();
        self.table = frames.shared_table();
        let serial = frames.table().map_or(0, |t| t.serial());
        // The table's own strings when it is kept and they are C strings:
        // nothing copied, no offsets to fix up in `point`.
        if let Some(table) = self.table.as_ref().filter(|t| t.names_are_c_strings()) {
            self.frames.extend(frames.iter().map(|f| {
                let (name, module) = match f {
                    Frame::Symbol(s) => (
                        table.c_str_ptr(s.name).cast(),
                        s.module
                            .map_or(std::ptr::null(), |m| table.c_str_ptr(m).cast()),
                    ),
                    Frame::Raw { .. } => (std::ptr::null(), std::ptr::null()),
                };
                c_frame(&f, serial, name, module, section_of(table, &f))
            }));
            return;
        }
        for f in frames.iter() {
            let placed = match f {
                Frame::Symbol(s) => {
                    let strings = &mut self.strings;
                    let modules = &mut self.modules;
                    *self.placed.entry(s.id.0).or_insert_with(|| {
                        let name = push_str(strings, s.name);
                        let module = s.module.map_or(NO_MODULE, |m| {
                            *modules
                                .entry(m.as_ptr())
                                .or_insert_with(|| push_str(strings, m))
                        });
                        (name, module)
                    })
                }
                Frame::Raw { .. } => (NO_MODULE, NO_MODULE),
            };
            self.offsets.push(placed);
            // Sections are C strings of the table, which the result keeps
            // alive when it is shared; else no section.
            let section = self
                .table
                .as_deref()
                .map_or(std::ptr::null(), |t| section_of(t, &f));
            self.frames.push(c_frame(
                &f,
                serial,
                std::ptr::null(),
                std::ptr::null(),
                section,
            ));
        }
    }

    /// Adds the source frames of each frame, `source_of(i)` giving frame
    /// `i`'s, innermost first.
    #[cfg(feature = "lines")]
    fn fill_sources(
        &mut self,
        mut source_of: impl FnMut(usize) -> Vec<ksym_core::lines::SourceFrame>,
    ) {
        for i in 0..self.frames.len() {
            let found = source_of(i);
            self.frame_sources.push((self.sources.len(), found.len()));
            for f in found {
                let mut place = |text: Option<&str>| {
                    text.map_or(NO_MODULE, |t| match self.source_placed.get(t) {
                        Some(at) => *at,
                        None => {
                            let at = push_str(&mut self.strings, t);
                            self.source_placed.insert(t.to_string(), at);
                            at
                        }
                    })
                };
                let offsets = (
                    place(f.function.as_deref()),
                    place(f.file.as_deref()),
                    place(f.source.as_deref()),
                );
                self.source_offsets.push(offsets);
                let len = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() as u32);
                self.sources.push(ksym_source_frame {
                    function: std::ptr::null(),
                    file: std::ptr::null(),
                    function_len: len(&f.function),
                    file_len: len(&f.file),
                    line: f.line.unwrap_or(0),
                    column: f.column.unwrap_or(0),
                    inlined: u8::from(f.inlined),
                    reserved0: [0; 3],
                    source_len: len(&f.source),
                    source: std::ptr::null(),
                    reserved: 0,
                });
            }
        }
    }

    /// Sets every pointer, only now: `strings` and `sources` may have
    /// moved while they grew.
    pub(crate) fn point(&mut self) {
        let base = self.strings.as_ptr();
        let at = |offset: usize| match offset {
            NO_MODULE => std::ptr::null(),
            o => base.wrapping_add(o).cast::<c_char>(),
        };
        // Empty when the names are the table's (see `fill`).
        for (f, &(name, module)) in self.frames.iter_mut().zip(&self.offsets) {
            f.name = at(name);
            f.module = at(module);
        }
        for (s, &(function, file, source)) in self.sources.iter_mut().zip(&self.source_offsets) {
            s.function = at(function);
            s.file = at(file);
            s.source = at(source);
        }
        for (f, &(first, count)) in self.frames.iter_mut().zip(&self.frame_sources) {
            if let Some(inner) = self.sources.get(first).filter(|_| count > 0) {
                f.file = inner.file;
                f.line = inner.line;
                f.column = inner.column;
                f.source_frames = self.sources[first..].as_ptr();
                f.source_frame_count = count as u32;
            }
        }
    }
}

/// Names `n` addresses into `result` (reused: the frames of its last call
/// are replaced), one frame per address, in order. A frame without a
/// symbol is still a frame, with the reason in its status; when the source
/// could give no table at all every frame is raw and the call still
/// returns `KSYM_OK`. `kind`: `KSYM_ADDR_EXACT`, `KSYM_ADDR_RETURN` or
/// `KSYM_ADDR_STACK`. Thread-safe on one handle, each thread with its own
/// `result`.
///
/// # Safety
/// `handle` is a live handle; `addrs` points at `n` addresses (or is NULL
/// with `n` 0); `result` is a live result buffer no other thread uses now;
/// `err` is NULL or a `ksym_error` with its `size` set.
#[no_mangle]
pub unsafe extern "C" fn ksym_symbolize(
    handle_ptr: *const ksym_symbolizer,
    addrs: *const u64,
    n: usize,
    kind: u32,
    result: *mut ksym_result,
    err: *mut ksym_error,
) -> ksym_status {
    guard(err, || {
        // SAFETY: as the caller promises.
        let h = unsafe { handle(handle_ptr) }?;
        // SAFETY: as the caller promises.
        let r = unsafe { result.as_mut() }.ok_or_else(|| Failure::invalid("result is NULL"))?;
        let ips: &[u64] = match (addrs.is_null(), n) {
            (_, 0) => &[],
            (true, _) => return Err(Failure::invalid("addrs is NULL")),
            // SAFETY: `n` readable addresses, as the caller promises.
            (false, n) => unsafe { std::slice::from_raw_parts(addrs, n) },
        };
        let kind = match kind {
            KSYM_ADDR_EXACT => AddrKind::Exact,
            KSYM_ADDR_RETURN => AddrKind::Return,
            KSYM_ADDR_STACK => AddrKind::Stack,
            k => return Err(Failure::invalid(format!("unknown address kind {k}"))),
        };
        // The buffer's capacity moves in and out of the borrow of `h`.
        let mut frames: Frames<'_> = std::mem::take(&mut r.frames_buf);
        h.symbolizer.symbolize_as(ips, kind, &mut frames);
        r.fill(&frames);
        #[cfg(feature = "lines")]
        if h.symbolizer.has_lines() {
            let symbolizer = &h.symbolizer;
            r.fill_sources(|i| symbolizer.source_frames(&frames, i).unwrap_or_default());
        }
        r.point();
        r.frames_buf = frames.recycle();
        Ok(())
    })
}

#[cfg(all(test, feature = "lines"))]
mod source_tests {
    use super::*;
    use ksym_core::lines::SourceFrame;

    fn c_frame_for_test() -> ksym_frame {
        let raw = Frame::Raw {
            addr: 0x1000,
            why: RawReason::NoSymbol,
        };
        let null = std::ptr::null();
        c_frame(&raw, 0, null, null, null)
    }

    fn text(p: *const c_char, n: u32) -> Option<String> {
        (!p.is_null()).then(|| {
            // SAFETY: `point` set `p` into the result's string arena, where
            // `n` bytes and a NUL follow.
            let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n as usize + 1) };
            assert_eq!(bytes[n as usize], 0);
            String::from_utf8(bytes[..n as usize].to_vec()).unwrap()
        })
    }

    /// A source line's text (a BPF frame's) reaches C with its length and
    /// NUL; DWARF frames, which have none, give NULL.
    #[test]
    fn source_text_reaches_c() {
        let mut r = ksym_result::default();
        r.frames.push(c_frame_for_test());
        r.frames.push(c_frame_for_test());
        let bpf = SourceFrame {
            function: Some("weigh".into()),
            file: Some("/src/lines.bpf.c".into()),
            line: Some(7),
            column: Some(12),
            inlined: false,
            source: Some("int y = x * 3;".into()),
        };
        let dwarf = SourceFrame {
            source: None,
            ..bpf.clone()
        };
        r.fill_sources(|i| vec![if i == 0 { bpf.clone() } else { dwarf.clone() }]);
        r.point();
        let s = &r.sources[0];
        assert_eq!(
            text(s.source, s.source_len).as_deref(),
            Some("int y = x * 3;")
        );
        assert_eq!(
            text(s.file, s.file_len).as_deref(),
            Some("/src/lines.bpf.c")
        );
        assert!(r.sources[1].source.is_null() && r.sources[1].source_len == 0);
    }
}
