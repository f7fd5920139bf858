package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"example.invalid/ksym/go/ksym"
)

// The agent's loop and its metrics on a small kallsyms file: each address
// printed as %pS prints it, and the counters add up.
func TestRunAndMetrics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kallsyms")
	text := "ffffffff81000000 T _text\nffffffff81000100 T foo\nffffffff81000300 T _etext\nffffffffc0000000 t modfn\t[m]\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ksym.OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out bytes.Buffer
	in := "ffffffff81000110\n0xffffffffc0000004\n\n10\n"
	if err := run(s, strings.NewReader(in), &out, 2, true); err != nil {
		t.Fatal(err)
	}
	want := "0xffffffff81000110 foo+0x10/0x200\n0xffffffffc0000004 modfn+0x4/0x10000 [m]\n0x10 (no symbol)\n"
	if out.String() != want {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
	if err := run(s, strings.NewReader("zz\n"), &out, 2, false); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad input: %v", err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	m := metricsText(st)
	for _, line := range []string{"ksym_batches_total 2", "ksym_input_ips_total 3", "ksym_raw_address_frames_total 1", "ksym_resolved_frames_total 2", "ksym_batch_failures_total 0", "# TYPE ksym_batches_total counter"} {
		if !strings.Contains(m, line+"\n") {
			t.Errorf("no %q in\n%s", line, m)
		}
	}
}
