package ksym

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Source lines through cgo (Options.Lines with the 6.1 cloud vmlinux that
// ../shared/scripts/fetch-debug-vmlinux.sh fetches; skipped without it):
// wherever `ksym addr --lines --json` names an address, the frames' Source
// is its "frames".
func TestSourceLinesMatchTheCLI(t *testing.T) {
	home, _ := os.UserHomeDir()
	vmlinux := filepath.Join(home, ".cache", "ksym-test-data", "vmlinux-6.1.0-57-cloud-amd64")
	if _, err := os.Stat(vmlinux); err != nil {
		t.Skipf("%s is absent (fetch-debug-vmlinux.sh)", vmlinux)
	}
	need(t, ksymBin)
	data := filepath.Join("..", "..", "..", "shared", "data", "debian-6.1.0-57-cloud", "kallsyms.xz")
	var addrs []uint64
	for i, a := range addresses(t, "--kallsyms", data) {
		if i%40 == 1 && a >= 0xffffffff80000000 && a < 0xffffffffc0000000 {
			addrs = append(addrs, a+4)
		}
	}
	var in bytes.Buffer
	for _, a := range addrs {
		fmt.Fprintf(&in, "%x\n", a)
	}
	cmd := exec.Command(ksymBin, "--kallsyms", data, "--vmlinux", vmlinux, "addr", "--lines", "--json")
	cmd.Env = append(os.Environ(), "KSYM_CACHE_DIR=off")
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ksym addr --lines --json: %v", err)
	}
	type want struct {
		Symbol *struct{} `json:"symbol"`
		Frames []struct {
			Function *string `json:"function"`
			File     *string `json:"file"`
			Line     *uint32 `json:"line"`
			Column   *uint32 `json:"column"`
			Inlined  bool    `json:"inlined"`
		} `json:"frames"`
	}
	var wants []want
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var w want
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		wants = append(wants, w)
	}
	s, err := OpenFile(data, &Options{Cache: CacheOff, Lines: true, Vmlinux: vmlinux})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	frames, err := s.Symbolize(addrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	num := func(p *uint32) uint32 {
		if p == nil {
			return 0
		}
		return *p
	}
	checked := 0
	for i, w := range wants {
		if w.Symbol == nil {
			continue // the CLI asks only for what its symbols hold
		}
		g := frames[i].Source
		if len(g) != len(w.Frames) {
			t.Fatalf("%#x: %d source frames, want %d: %+v", addrs[i], len(g), len(w.Frames), g)
		}
		for j, wf := range w.Frames {
			got := g[j]
			if got.Function != str(wf.Function) || got.File != str(wf.File) || got.Line != num(wf.Line) ||
				got.Column != num(wf.Column) || got.Inlined != wf.Inlined {
				t.Fatalf("%#x frame %d: got %+v, want %+v", addrs[i], j, got, wf)
			}
		}
		if len(g) > 0 {
			checked++
		}
	}
	if checked < len(addrs)/2 {
		t.Fatalf("only %d of %d addresses had lines", checked, len(addrs))
	}
	t.Logf("%d addresses, %d with lines, all as the CLI", len(addrs), checked)
}

// Module lines from saved files alone (Options.Modules, a /proc/modules
// copy, and Options.Ko, xfs with DWARF; no layout file, no vmlinux): every
// xfs frame's Source is what `ksym addr --lines --json` gives for the same
// files.
func TestModuleLinesFromSavedFiles(t *testing.T) {
	need(t, ksymBin)
	dir := filepath.Join("..", "..", "..", "shared", "data", "debian-6.1.0-57-cloud")
	data := filepath.Join(dir, "kallsyms.xz")
	mods := filepath.Join(dir, "proc-modules")
	xfs := filepath.Join(dir, "ko-debug", "xfs.ko.xz")
	var addrs []uint64
	for i, a := range addresses(t, "--kallsyms", data, "--modules", mods) {
		if i%7 == 3 && a >= 0xffffffffc0000000 {
			addrs = append(addrs, a+8)
		}
	}
	var in bytes.Buffer
	for _, a := range addrs {
		fmt.Fprintf(&in, "%x\n", a)
	}
	cmd := exec.Command(ksymBin, "--kallsyms", data, "--modules", mods, "--ko", xfs, "addr", "--lines", "--json")
	cmd.Env = append(os.Environ(), "KSYM_CACHE_DIR=off", "DEBUGINFOD_URLS=")
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ksym addr --lines --json: %v", err)
	}
	s, err := OpenFile(data, &Options{Cache: CacheOff, Lines: true, Modules: mods, Ko: []string{xfs}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	frames, err := s.Symbolize(addrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		Symbol *struct {
			Module *string `json:"module"`
		} `json:"symbol"`
		Frames []struct {
			File *string `json:"file"`
			Line *uint32 `json:"line"`
		} `json:"frames"`
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	i, withLines := 0, 0
	for ; sc.Scan(); i++ {
		var w want
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		if w.Symbol == nil {
			continue // the CLI asks only for what its symbols hold
		}
		g := frames[i].Source
		if len(g) != len(w.Frames) {
			t.Fatalf("%#x: %d source frames, want %d", addrs[i], len(g), len(w.Frames))
		}
		for j, wf := range w.Frames {
			if wf.File != nil && g[j].File != *wf.File || wf.Line != nil && g[j].Line != *wf.Line {
				t.Fatalf("%#x frame %d: got %+v, want %v:%v", addrs[i], j, g[j], *wf.File, *wf.Line)
			}
		}
		if len(g) > 0 && w.Symbol.Module != nil && *w.Symbol.Module == "xfs" {
			withLines++
		}
	}
	if i != len(addrs) || withLines < 100 {
		t.Fatalf("%d answers for %d addresses, %d xfs ones with lines", i, len(addrs), withLines)
	}
	t.Logf("%d module addresses, %d in xfs with lines, all as the CLI", len(addrs), withLines)
}
