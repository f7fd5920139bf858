package ksym

/*
#include <stdlib.h>
#include <string.h>
#include "ksym.h"

// A batch and where its frames and names are, in one cgo call.
typedef struct {
	ksym_status status;
	const ksym_frame *frames;
	size_t len;
	const char *names;
	size_t names_len;
} go_batch;

// The handle and result are C memory passed as integers: cgo's pointer
// check of a pointer to an incomplete C type allocates on every call.
static go_batch go_symbolize(uintptr_t handle, const uint64_t *ips, size_t n,
			     uint32_t kind, uintptr_t result, ksym_error *err)
{
	const ksym_symbolizer *h = (const ksym_symbolizer *)handle;
	ksym_result *r = (ksym_result *)result;
	go_batch b = { 0 };
	b.status = ksym_symbolize(h, ips, n, kind, r, err);
	if (b.status == KSYM_OK) {
		b.frames = ksym_result_frames(r, &b.len);
		b.names = ksym_result_names(r, &b.names_len);
	}
	return b;
}
*/
import "C"

import (
	"unsafe"
)

// freeResults is how many idle result buffers a Symbolizer keeps in its
// channel (one more in its spare slot).
const freeResults = 64

// AddrKind says how addresses are looked up.
type AddrKind uint32

const (
	// Exact: each address as it is (sampled IPs, a RIP).
	Exact AddrKind = C.KSYM_ADDR_EXACT
	// Return: each a return address; ip-1 is looked up, as %pB does.
	Return AddrKind = C.KSYM_ADDR_RETURN
	// Stack: the first exact, the others return addresses.
	Stack AddrKind = C.KSYM_ADDR_STACK
)

// FrameStatus says whether a frame is named, or why it is raw.
type FrameStatus uint32

const (
	Named                 FrameStatus = C.KSYM_FRAME_NAMED
	NoSymbol              FrameStatus = C.KSYM_FRAME_NO_SYMBOL
	RawRedacted           FrameStatus = C.KSYM_FRAME_REDACTED
	RawPermissionDenied   FrameStatus = C.KSYM_FRAME_PERMISSION_DENIED
	RawSymbolsUnavailable FrameStatus = C.KSYM_FRAME_UNAVAILABLE
)

// Frame is one address, named or raw.
type Frame struct {
	Addr   uint64
	Start  uint64 // the symbol's first address (0 when raw)
	Offset uint64 // Addr's distance into the symbol, as %pS prints it
	Size   uint64
	Name   string // "" when raw
	Module string // "" for the core kernel
	Kind   byte   // 'T', 't', ...; 0 when raw
	Status FrameStatus
	// Section: the module section Addr is in (".text", ".plt",
	// ".text.ftrace_trampoline", ...) where the module's sections are
	// known (the live kernel); "" for the core kernel. An arm64 module's
	// PLT veneers and ftrace trampoline have no symbols: the frame names
	// the function before them, as %pS does, and Section says where Addr is.
	Section string
	// Source: with Options.Lines, where in the source the address is,
	// innermost first (each inlined call, then the function the code is
	// in); empty where there is no line information.
	Source []SourceFrame
}

// SourceFrame is a function (or an inlined call of one) and the place in
// the source an address comes from.
type SourceFrame struct {
	Function string // DWARF's name ("foo" for foo.cold); "" when unknown
	File     string // relative to the kernel's build directory
	Line     uint32 // 0 when unknown
	Column   uint32 // 0 when unknown
	Inlined  bool   // inlined into the next frame
	// Source is the source line's text where the debug info keeps it (a
	// BPF program's BTF does, DWARF does not); "" otherwise.
	Source string
}

// result is a C result buffer and error record (in C memory, so no call
// allocates on the Go heap), with the Go strings already made from its
// source frames' names (symbol names are the Symbolizer's, see names.go).
type result struct {
	c       *C.ksym_result
	err     *C.ksym_error
	strings map[string]string
}

// getResult takes a free result, or makes one. Results are kept in a
// bounded free list rather than a sync.Pool, which empties at every
// garbage collection and would throw away the buffers' grown capacity;
// one of them in a slot taken by an atomic swap, cheaper than the
// channel's lock when calls do not overlap.
func (s *Symbolizer) getResult() *result {
	if r := s.spare.Swap(nil); r != nil {
		return r
	}
	select {
	case r := <-s.results:
		return r
	default:
	}
	r := &result{
		c:       C.ksym_result_new(),
		err:     (*C.ksym_error)(C.calloc(1, C.size_t(unsafe.Sizeof(C.ksym_error{})))),
		strings: make(map[string]string),
	}
	r.err.size = C.size_t(unsafe.Sizeof(*r.err))
	setResultFinalizer(r)
	return r
}

// putResult gives a result back (or leaves it to the finalizer when the
// free list is full).
func (s *Symbolizer) putResult(r *result) {
	if s.spare.CompareAndSwap(nil, r) {
		return
	}
	select {
	case s.results <- r:
	default:
	}
}

// view is a string over C memory, valid until the result is used again:
// only for map lookups, never kept.
func view(p *C.char, n C.uint32_t) string {
	if n == 0 {
		return ""
	}
	type header struct {
		data unsafe.Pointer
		len  int
	}
	h := header{unsafe.Pointer(p), int(n)}
	return *(*string)(unsafe.Pointer(&h))
}

// intern gives the Go string for a C string, made once per result.
func (r *result) intern(p *C.char, n C.uint32_t) string {
	if n == 0 {
		return ""
	}
	if s, ok := r.strings[view(p, n)]; ok {
		return s
	}
	s := C.GoStringN(p, C.int(n))
	r.strings[s] = s
	return s
}

// Symbolize names ips, one frame per address in order, into frames
// (reused: pass the slice returned last time to avoid allocation) and
// returns it. A frame without a symbol is still a frame, its Status says
// why.
func (s *Symbolizer) Symbolize(ips []uint64, frames []Frame) ([]Frame, error) {
	return s.SymbolizeAs(ips, Exact, frames)
}

// SymbolizeAs is Symbolize with the lookup kind given.
func (s *Symbolizer) SymbolizeAs(ips []uint64, kind AddrKind, frames []Frame) ([]Frame, error) {
	frames = frames[:0]
	if len(ips) == 0 {
		return frames, nil
	}
	h, err := s.handle()
	if err != nil {
		return frames, err
	}
	defer s.mu.RUnlock()
	r := s.getResult()
	defer s.putResult(r)
	b, err := r.batch(h, ips, kind)
	if err != nil {
		return frames, err
	}
	cframes := unsafe.Slice(b.frames, int(b.len))
	if cap(frames) < len(cframes) {
		frames = make([]Frame, 0, len(cframes))
	}
	frames = frames[:len(cframes)]
	var names *nameArena
	if b.names != nil && len(cframes) > 0 {
		names = s.arenaOf(uint64(cframes[0].table_serial), unsafe.Pointer(b.names), int(b.names_len))
	}
	for i := range cframes {
		c := &cframes[i]
		f := &frames[i]
		f.Addr = uint64(c.addr)
		f.Start = uint64(c.start)
		f.Offset = uint64(c.offset)
		f.Size = uint64(c.size)
		f.Kind = byte(c.kind)
		f.Status = FrameStatus(c.status)
		// Strings over the arena's copy (see names.go); copies of C
		// memory when the names are not in one arena.
		name, module, ok := "", "", names != nil
		if ok && c.name != nil {
			name, ok = names.str(unsafe.Pointer(c.name), int(c.name_len))
		}
		if ok && c.module != nil {
			module, ok = names.str(unsafe.Pointer(c.module), int(c.module_len))
		}
		if !ok {
			name, module = r.intern(c.name, c.name_len), r.intern(c.module, c.module_len)
		}
		f.Name, f.Module = name, module
		f.Section = ""
		if c.section != nil {
			f.Section = r.intern(c.section, C.uint32_t(C.strlen(c.section)))
		}
		if c.source_frame_count != 0 || len(f.Source) != 0 {
			f.Source = r.sources(c, f.Source[:0])
		}
	}
	return frames, nil
}

// sources appends frame c's source frames to out.
func (r *result) sources(c *C.ksym_frame, out []SourceFrame) []SourceFrame {
	if c.source_frame_count == 0 {
		return out
	}
	for _, s := range unsafe.Slice(c.source_frames, int(c.source_frame_count)) {
		out = append(out, SourceFrame{
			Function: r.intern(s.function, s.function_len),
			File:     r.intern(s.file, s.file_len),
			Line:     uint32(s.line),
			Column:   uint32(s.column),
			Inlined:  s.inlined != 0,
			Source:   r.intern(s.source, s.source_len),
		})
	}
	return out
}

// symbolizeOnly runs the C call alone, without making Go frames: the
// benchmark's measure of the library's own share of Symbolize.
func (s *Symbolizer) symbolizeOnly(ips []uint64) error {
	h, err := s.handle()
	if err != nil {
		return err
	}
	defer s.mu.RUnlock()
	r := s.getResult()
	defer s.putResult(r)
	_, err = r.batch(h, ips, Exact)
	return err
}

// batch is the one C call of a batch: ips (not empty) into r, and where
// its frames and names are.
func (r *result) batch(h *C.ksym_symbolizer, ips []uint64, kind AddrKind) (C.go_batch, error) {
	b := C.go_symbolize(C.uintptr_t(uintptr(unsafe.Pointer(h))), (*C.uint64_t)(unsafe.Pointer(&ips[0])),
		C.size_t(len(ips)), C.uint32_t(kind), C.uintptr_t(uintptr(unsafe.Pointer(r.c))), r.err)
	return b, toError(b.status, r.err)
}
