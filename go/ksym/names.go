package ksym

import (
	"sync"
	"sync/atomic"
)

// Symbol names as Go strings, made once per symbol and shared by every
// goroutine for as long as the symbolizer answers from the same table: a
// frame's name is then two loads by (table serial, symbol id), not a hash
// of its bytes. A new table (a module loaded, on the live kernel) has a new
// serial and starts a new cache.

const (
	chunkBits = 10
	chunkLen  = 1 << chunkBits
	// maxChunks covers ids below 4M (a kernel has about 250k symbols);
	// names of higher ids are made per result instead.
	maxChunks = 1 << 12
	// rawID is ksym_frame.symbol_id of a raw frame.
	rawID = ^uint32(0)
)

// nameEntry is one symbol's name and module, set once: written under
// state 1, published by state 2 (so a reader that sees 2 sees the strings
// whole).
type nameEntry struct {
	state        atomic.Uint32
	name, module string
}

const (
	entryEmpty uint32 = iota
	entryWriting
	entryReady
)

// The strings sit in the chunk itself, not behind a pointer: a frame's
// names cost one memory access when the chunk is in cache, two when not.
type nameChunk [chunkLen]nameEntry

// nameCache holds one table's names by symbol id, in chunks made when an
// id of theirs is first met, so a profile that meets a few thousand
// symbols pays for a few chunks (40 KiB each), not for the whole table.
type nameCache struct {
	serial  uint64
	chunks  [maxChunks]atomic.Pointer[nameChunk]
	modules sync.Map // module name -> the one Go string for it
}

// namesOf gives the cache for the table with this serial: the symbolizer's
// own, or a new one that replaces it when the table changed.
func (s *Symbolizer) namesOf(serial uint64) *nameCache {
	c := s.names.Load()
	if c != nil && c.serial == serial {
		return c
	}
	fresh := &nameCache{serial: serial}
	s.names.CompareAndSwap(c, fresh)
	return fresh
}

// get gives the names of symbol id, ok false when not made yet.
func (c *nameCache) get(id uint32) (name, module string, ok bool) {
	if id >= chunkLen*maxChunks {
		return "", "", false
	}
	chunk := c.chunks[id>>chunkBits].Load()
	if chunk == nil {
		return "", "", false
	}
	e := &chunk[id&(chunkLen-1)]
	if e.state.Load() != entryReady {
		return "", "", false
	}
	return e.name, e.module, true
}

// peek loads the state of id's entry and nothing else: see touch, in
// symbolize.go.
func (c *nameCache) peek(id uint32) uint32 {
	if id >= chunkLen*maxChunks {
		return 0
	}
	if chunk := c.chunks[id>>chunkBits].Load(); chunk != nil {
		return chunk[id&(chunkLen-1)].state.Load()
	}
	return 0
}

// put keeps the names of symbol id; when another goroutine is putting
// them at the same moment, its copy is the one kept.
func (c *nameCache) put(id uint32, name, module string) {
	if id >= chunkLen*maxChunks {
		return
	}
	slot := &c.chunks[id>>chunkBits]
	chunk := slot.Load()
	if chunk == nil {
		chunk = new(nameChunk)
		if !slot.CompareAndSwap(nil, chunk) {
			chunk = slot.Load()
		}
	}
	e := &chunk[id&(chunkLen-1)]
	if e.state.CompareAndSwap(entryEmpty, entryWriting) {
		e.name, e.module = name, module
		e.state.Store(entryReady)
	}
}

// module gives the one Go string for a module name (view: over C memory,
// copied when new).
func (c *nameCache) module(view string) string {
	if view == "" {
		return ""
	}
	if m, ok := c.modules.Load(view); ok {
		return m.(string)
	}
	m := string([]byte(view))
	c.modules.Store(m, m)
	return m
}
