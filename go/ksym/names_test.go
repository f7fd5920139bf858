package ksym

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// fakeArena is NUL-terminated names back to back, as a table's arena is;
// offsets[i] is name i's.
func fakeArena(names int) (arena []byte, offsets []int) {
	for i := 0; i < names; i++ {
		offsets = append(offsets, len(arena))
		arena = append(arena, fmt.Sprintf("symbol_%d_%s", i, strings.Repeat("x", i%37))...)
		arena = append(arena, 0)
	}
	return arena, offsets
}

func nameAt(arena []byte, off int) string {
	end := off
	for arena[end] != 0 {
		end++
	}
	return string(arena[off:end])
}

// Strings over the copy are the arena's names; they are copies (a changed
// arena does not change them); a pointer outside the arena, or a name
// whose NUL would lie past its end, is refused rather than read.
func TestNameArenaCopiesWhatFramesPointAt(t *testing.T) {
	arena, offsets := fakeArena(2000)
	var s Symbolizer
	base := unsafe.Pointer(&arena[0])
	a := s.arenaOf(1, base, len(arena))
	got := make([]string, len(offsets))
	for i, off := range offsets {
		want := nameAt(arena, off)
		name, ok := a.str(unsafe.Add(base, off), len(want))
		if !ok || name != want {
			t.Fatalf("name %d: %q, %v; want %q", i, name, ok, want)
		}
		got[i] = name
	}
	for i := range arena {
		arena[i] = '!'
	}
	for i, off := range offsets {
		if want := fmt.Sprintf("symbol_%d_", i); !strings.HasPrefix(got[i], want) {
			t.Fatalf("name %d changed with the arena: %q", i, got[i])
		}
		if again, ok := a.str(unsafe.Add(base, off), len(got[i])); !ok || again != got[i] {
			t.Fatalf("name %d asked again: %q, %v", i, again, ok)
		}
	}
	last := len(arena) - 1
	for _, c := range []struct {
		off, n int
	}{{-1, 3}, {len(arena), 0}, {last, 1}, {last - 1, 2}, {0, len(arena)}} {
		if name, ok := a.str(unsafe.Add(base, c.off), c.n); ok {
			t.Errorf("offset %d, %d bytes: gave %q, want refused", c.off, c.n, name)
		}
	}
	if name, ok := a.str(unsafe.Add(base, last-1), 1); !ok || name != "x" {
		t.Errorf("the last name in the arena: %q, %v", name, ok)
	}
}

// A copy serves one table's arena: another serial, or the same serial at
// another address (a clone of the table), gets a copy of its own, which
// replaces the symbolizer's.
func TestNameArenaFollowsTheTable(t *testing.T) {
	one, _ := fakeArena(10)
	two, _ := fakeArena(10)
	var s Symbolizer
	first := s.arenaOf(7, unsafe.Pointer(&one[0]), len(one))
	if s.arenaOf(7, unsafe.Pointer(&one[0]), len(one)) != first {
		t.Fatal("the same table got a new copy")
	}
	for _, c := range []struct {
		serial uint64
		arena  []byte
	}{{8, one}, {8, two}} {
		a := s.arenaOf(c.serial, unsafe.Pointer(&c.arena[0]), len(c.arena))
		if a == first || s.names.Load() != a {
			t.Fatalf("serial %d at %p: the old copy kept", c.serial, &c.arena[0])
		}
		first = a
	}
}

// Goroutines symbolizing at once share one copy per table: each gets
// whole names (run with -race to check that the copy is published whole).
func TestNameArenaConcurrent(t *testing.T) {
	arena, offsets := fakeArena(5000)
	var s Symbolizer
	base := unsafe.Pointer(&arena[0])
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			a := s.arenaOf(1, base, len(arena))
			for i := range offsets {
				off := offsets[(i+g*577)%len(offsets)]
				want := nameAt(arena, off)
				if name, ok := a.str(unsafe.Add(base, off), len(want)); !ok || name != want {
					t.Errorf("goroutine %d: %q, %v; want %q", g, name, ok, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
