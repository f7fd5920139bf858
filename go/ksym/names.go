package ksym

import (
	"sync/atomic"
	"unsafe"
)

// Symbol names as Go strings with nothing looked up per frame. A C frame's
// name and module point into its table's arena (the names back to back,
// each after the last's NUL; ksym_result_names gives where it is). The
// symbolizer keeps a Go copy of that arena, filled a page at a time when a
// frame first points into the page, and a frame's name is a string over
// the copy at the same offset: no hash, no cache entry to load, and for a
// profile that meets a few thousand symbols only their pages are copied.
//
// The strings are Go memory: they keep the copy alive and stay valid after
// the table changes or the symbolizer closes. A new table (a module
// loaded, on the live kernel) has a new arena and gets a new copy.

const (
	pageBits = 12
	pageSize = 1 << pageBits
)

// A page's state: copied under pageCopying, published by pageReady (a
// reader that sees it ready sees the bytes).
const (
	pageEmpty uint32 = iota
	pageCopying
	pageReady
)

// nameArena is the Go copy of one table's C arena.
type nameArena struct {
	serial uint64
	c      unsafe.Pointer // the C arena, alive while a result holds its table
	bytes  []byte         // the copy, as long as the C arena
	pages  []atomic.Uint32
}

// arenaOf gives the copy of the arena at c (n bytes) of table serial: the
// symbolizer's own, or a new one that replaces it. The address is checked
// as well as the serial: a table's clone keeps its serial but not its
// address.
func (s *Symbolizer) arenaOf(serial uint64, c unsafe.Pointer, n int) *nameArena {
	a := s.names.Load()
	if a != nil && a.serial == serial && a.c == c && len(a.bytes) == n {
		return a
	}
	fresh := &nameArena{
		serial: serial,
		c:      c,
		bytes:  make([]byte, n),
		pages:  make([]atomic.Uint32, (n+pageSize-1)/pageSize),
	}
	s.names.CompareAndSwap(a, fresh)
	return fresh
}

// str gives the Go string for the n bytes at p in the C arena, copying
// their pages first when needed; ok false when p is not in the arena or
// another goroutine is copying one of its pages right now (the caller
// copies the string itself).
func (a *nameArena) str(p unsafe.Pointer, n int) (s string, ok bool) {
	if p == nil {
		return "", true
	}
	if s, ok := a.copied(p, n); ok {
		return s, true
	}
	off := uintptr(p) - uintptr(a.c)
	end := off + uintptr(n) // the NUL's offset: at most len-1
	if off >= uintptr(len(a.bytes)) || end >= uintptr(len(a.bytes)) {
		return "", false
	}
	if !a.copyPages(int(off>>pageBits), int(end>>pageBits)) {
		return "", false
	}
	return a.copied(p, n)
}

// copied is str's fast path, small enough to be inlined into the frame
// loop: the string when p is in the arena and its pages are copied.
func (a *nameArena) copied(p unsafe.Pointer, n int) (string, bool) {
	off := uintptr(p) - uintptr(a.c)
	end := off + uintptr(n)
	if off >= uintptr(len(a.bytes)) || end >= uintptr(len(a.bytes)) ||
		a.pages[off>>pageBits].Load()&a.pages[end>>pageBits].Load() != pageReady {
		return "", false // (pageReady's bit is in no other state)
	}
	// A string header is a slice header's first two words (unsafe.String
	// is Go 1.20); the bytes are never written again.
	b := a.bytes[off:end]
	return *(*string)(unsafe.Pointer(&b)), true
}

// copyPages copies pages first..last from C, false when one of them is
// being copied by another goroutine.
func (a *nameArena) copyPages(first, last int) bool {
	for p := first; p <= last; p++ {
		state := &a.pages[p]
		if state.Load() == pageReady {
			continue
		}
		if !state.CompareAndSwap(pageEmpty, pageCopying) {
			return false
		}
		lo := p * pageSize
		hi := lo + pageSize
		if hi > len(a.bytes) {
			hi = len(a.bytes)
		}
		copy(a.bytes[lo:hi], unsafe.Slice((*byte)(unsafe.Add(a.c, lo)), hi-lo))
		state.Store(pageReady)
	}
	return true
}
