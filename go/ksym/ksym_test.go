package ksym

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The real data beside the repository, and the ksym command built by
// cargo: the answers to compare with.
var (
	dataFile = filepath.Join("..", "..", "..", "shared", "data", "debian-6.12.117", "kallsyms.xz")
	ksymBin  = filepath.Join("..", "..", "target", "release", "ksym")
)

func need(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing (%v): build it with `cargo build --release -p ksym-cli -p ksym-capi`, with shared/ beside the repository", path, err)
	}
}

// addresses gives, from `ksym dump`, every seventh symbol's start, one byte
// into it and one byte before it, plus a few that no symbol holds.
func addresses(t testing.TB, source ...string) []uint64 {
	t.Helper()
	out, err := exec.Command(ksymBin, append(source, "dump")...).Output()
	if err != nil {
		t.Fatalf("ksym dump: %v", err)
	}
	var addrs []uint64
	for i, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || i%7 != 0 {
			continue
		}
		a, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			t.Fatalf("dump line %q: %v", line, err)
		}
		addrs = append(addrs, a, a+1, a-1)
	}
	return append(addrs, 0, ^uint64(0), 0x1000)
}

type jsonFrame struct {
	Addr   string `json:"addr"`
	Symbol *struct {
		Module *string `json:"module"`
		Name   string  `json:"name"`
		Offset uint64  `json:"offset"`
		Size   uint64  `json:"size"`
		Start  string  `json:"start"`
		Type   string  `json:"type"`
	} `json:"symbol"`
}

// reference is `ksym addr --json` of addrs.
func reference(t testing.TB, addrs []uint64, source ...string) []jsonFrame {
	t.Helper()
	var in bytes.Buffer
	for _, a := range addrs {
		fmt.Fprintf(&in, "%x\n", a)
	}
	cmd := exec.Command(ksymBin, append(source, "addr", "--json")...)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ksym addr --json: %v", err)
	}
	var frames []jsonFrame
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var f jsonFrame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		frames = append(frames, f)
	}
	return frames
}

func same(t *testing.T, what string, got []Frame, want []jsonFrame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if fmt.Sprintf("0x%x", g.Addr) != w.Addr {
			t.Fatalf("%s: frame %d addr %#x, want %s", what, i, g.Addr, w.Addr)
		}
		if w.Symbol == nil {
			if g.Status == Named {
				t.Fatalf("%s: frame %d (%s) named %s, want raw", what, i, w.Addr, g.Name)
			}
			continue
		}
		module := ""
		if w.Symbol.Module != nil {
			module = *w.Symbol.Module
		}
		s := w.Symbol
		if g.Status != Named || g.Name != s.Name || g.Module != module || g.Offset != s.Offset ||
			g.Size != s.Size || fmt.Sprintf("0x%x", g.Start) != s.Start || string(g.Kind) != s.Type {
			t.Fatalf("%s: frame %d: got %+v, want %+v", what, i, g, *s)
		}
	}
}

// The answers through cgo are the CLI's, for every batch size, reusing one
// frames slice.
func TestMatchesTheCLI(t *testing.T) {
	need(t, ksymBin)
	need(t, dataFile)
	s, err := OpenFile(dataFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addrs := addresses(t, "--kallsyms", dataFile)
	want := reference(t, addrs, "--kallsyms", dataFile)
	var frames, all []Frame
	for _, batch := range []int{1, 64, 4096} {
		all = all[:0]
		for i := 0; i < len(addrs); i += batch {
			end := i + batch
			if end > len(addrs) {
				end = len(addrs)
			}
			if frames, err = s.Symbolize(addrs[i:end], frames); err != nil {
				t.Fatal(err)
			}
			all = append(all, frames...)
		}
		same(t, fmt.Sprintf("batches of %d", batch), all, want)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.IPs != 3*uint64(len(addrs)) || st.Resolved+st.Raw != st.IPs || st.Symbols == 0 {
		t.Fatalf("stats %+v after %d addresses three times", st, len(addrs))
	}
	found, err := s.Find("vfs_read")
	if err != nil || len(found) != 1 {
		t.Fatalf("Find(vfs_read) = %v, %v", found, err)
	}
	f, _ := s.Symbolize(found, nil)
	if f[0].Name != "vfs_read" || f[0].Offset != 0 {
		t.Fatalf("vfs_read's address names %+v", f[0])
	}
}

// Goroutines share one symbolizer, and each sees its own errors: the
// thread-local error bug class cannot happen.
func TestConcurrentCallsAndErrors(t *testing.T) {
	need(t, dataFile)
	s, err := OpenFile(dataFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	problems := make(chan string, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				missing := fmt.Sprintf("/nonexistent/ksym-go-%d-%d", g, i)
				_, err := OpenFile(missing, nil)
				var ke *Error
				if !errors.As(err, &ke) || ke.Status != NotFound || !strings.Contains(ke.Message, missing) {
					problems <- fmt.Sprintf("goroutine %d: OpenFile(%s) = %v", g, missing, err)
					return
				}
				name := fmt.Sprintf("no_such_symbol_%d_%d", g, i)
				_, err = s.Find(name)
				if !errors.Is(err, &Error{Status: NotFound}) || !strings.Contains(err.Error(), name) {
					problems <- fmt.Sprintf("goroutine %d: Find(%s) = %v", g, name, err)
					return
				}
				frames, err := s.Symbolize([]uint64{0xffffffff81000000 + uint64(i)}, nil)
				if err != nil || len(frames) != 1 {
					problems <- fmt.Sprintf("goroutine %d: Symbolize: %v", g, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(problems)
	for p := range problems {
		t.Error(p)
	}
	s.Close()
	if _, err := s.Symbolize([]uint64{1}, nil); !errors.Is(err, &Error{Status: InvalidArgument}) {
		t.Fatalf("after Close: %v", err)
	}
}

// The live kernel through cgo answers what `ksym --no-cache addr --json`
// answers (where this process may read the kernel's addresses).
func TestLiveKernel(t *testing.T) {
	need(t, ksymBin)
	s, err := OpenLive(&Options{Cache: CacheOff})
	if errors.Is(err, &Error{Status: Redacted}) || errors.Is(err, &Error{Status: NotFound}) {
		t.Skipf("the live kernel's symbols cannot be read here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addrs := addresses(t, "--no-cache")
	frames, err := s.Symbolize(addrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "live", frames, reference(t, addrs, "--no-cache"))
}

// A redacted kallsyms (every address zero, as an unprivileged reader sees
// it): the error reaches Go whole, with the CLI's sentence.
func TestRedactedFile(t *testing.T) {
	need(t, ksymBin)
	path := filepath.Join(t.TempDir(), "kallsyms")
	text := "0000000000000000 T _text\n0000000000000000 T foo\n0000000000000000 t bar\t[m]\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFile(path, nil)
	var ke *Error
	if !errors.As(err, &ke) || ke.Status != Redacted {
		t.Fatalf("OpenFile of a redacted file: %v", err)
	}
	out, _ := exec.Command(ksymBin, "--kallsyms", path, "info").CombinedOutput()
	cli := strings.TrimPrefix(strings.TrimSpace(string(out)), "ksym: ")
	if ke.Message != cli {
		t.Fatalf("Go error %q, the CLI says %q", ke.Message, cli)
	}
}
