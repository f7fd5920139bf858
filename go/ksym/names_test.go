package ksym

import (
	"fmt"
	"sync"
	"testing"
)

// A new table serial starts an empty cache: no name of the old table's ids
// is given for the new one's.
func TestNameCacheFollowsTheTable(t *testing.T) {
	var s Symbolizer
	old := s.namesOf(7)
	old.put(5, "vfs_read", "")
	if name, _, ok := s.namesOf(7).get(5); !ok || name != "vfs_read" {
		t.Fatalf("same table: got %q, %v", name, ok)
	}
	if name, _, ok := s.namesOf(8).get(5); ok {
		t.Fatalf("another table's cache gave %q for id 5", name)
	}
	if s.names.Load().serial != 8 {
		t.Fatalf("the symbolizer keeps serial %d, not the newest", s.names.Load().serial)
	}
	// Ids past the chunks, and the raw frames' id, are never cached.
	for _, id := range []uint32{chunkLen * maxChunks, rawID} {
		c := s.namesOf(8)
		c.put(id, "x", "m")
		if _, _, ok := c.get(id); ok {
			t.Fatalf("id %#x was cached", id)
		}
	}
}

// Goroutines putting and getting the same ids at once each see whole
// names (run with -race to check the publication).
func TestNameCacheConcurrent(t *testing.T) {
	var s Symbolizer
	c := s.namesOf(1)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := uint32(0); id < 5000; id++ {
				want := fmt.Sprintf("sym%d", id)
				if name, module, ok := c.get(id); ok {
					if name != want || module != c.module("mod") {
						t.Errorf("id %d: %q [%s]", id, name, module)
						return
					}
					continue
				}
				c.put(id, want, c.module("mod"))
			}
		}()
	}
	wg.Wait()
}
