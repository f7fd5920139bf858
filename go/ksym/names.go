package ksym

import (
	"unsafe"
)

// Symbol names as Go strings with nothing looked up per frame. A C frame's
// name and module point into its table's arena (the names back to back,
// each after the last's NUL; ksym_result_names gives where it is). The
// symbolizer keeps a Go copy of that arena, made whole the first time a
// batch comes from the table (about 20 bytes a symbol: 4,981,405 bytes,
// made in 3.4 ms, for Debian's 6.12 with 69 modules), and a frame's name is a
// string over the copy at the same offset: no hash, no cache entry, no
// per-page state to load, only a bounds check. (A copy made page by page
// as frames first pointed into them cost a load of the page's state per
// name, a miss in L1 at random symbols: 10 ns a frame, and any profile
// soon meets most pages anyway.)
//
// The strings are Go memory: they keep the copy alive and stay valid after
// the table changes or the symbolizer closes. A new table (a module
// loaded, on the live kernel) has a new arena and gets a new copy.

// nameArena is the Go copy of one table's C arena.
type nameArena struct {
	serial uint64
	c      unsafe.Pointer // where the C arena was when copied
	bytes  []byte         // the copy, as long as the C arena
}

// arenaOf gives the copy of the arena at c (n bytes) of table serial: the
// symbolizer's own, or a new one that replaces it. The address is checked
// as well as the serial: a table's clone keeps its serial but not its
// address. c must be readable now (a result holds its table).
func (s *Symbolizer) arenaOf(serial uint64, c unsafe.Pointer, n int) *nameArena {
	a := s.names.Load()
	if a != nil && a.serial == serial && a.c == c && len(a.bytes) == n {
		return a
	}
	fresh := &nameArena{serial: serial, c: c, bytes: make([]byte, n)}
	copy(fresh.bytes, unsafe.Slice((*byte)(c), n))
	s.names.CompareAndSwap(a, fresh)
	return fresh
}

// str gives the Go string for the n bytes at p in the C arena; ok false
// when p is not in it, or the bytes and the NUL after them do not fit in
// it (the caller copies the string itself). Small enough to be inlined
// into the frame loop.
func (a *nameArena) str(p unsafe.Pointer, n int) (string, bool) {
	off := uintptr(p) - uintptr(a.c)
	end := off + uintptr(n) // the NUL's offset: at most len-1
	if off >= uintptr(len(a.bytes)) || end >= uintptr(len(a.bytes)) {
		return "", false
	}
	// A string header is a slice header's first two words (unsafe.String
	// is Go 1.20); the copy is never written again.
	b := a.bytes[off:end]
	return *(*string)(unsafe.Pointer(&b)), true
}
