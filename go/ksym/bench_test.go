package ksym

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkSymbolize: ns per address through cgo (Go frames made) and for
// the C call alone, for batches of 1, 64 and 4096, beside the Rust batch
// cost over the same addresses in the same order
// (target/release/examples/batch_cost, built with `cargo build --release
// -p ksym --example batch_cost`): rust-ns/ip, and x-rust, the Go figure
// over it. Two address sets of the 6.12 data, 64 batches each, taken in
// turn: "random", symbol addresses drawn from the whole table (each frame
// a symbol the batch before did not have: the worst case for any cache),
// and "profile", addresses drawn from 2,000 hot ones, as a profiler's
// stacks are.
func BenchmarkSymbolize(b *testing.B) {
	need(b, dataFile)
	need(b, ksymBin)
	s, err := OpenFile(dataFile, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pool := addresses(b, "--kallsyms", dataFile)
	rng := rand.New(rand.NewSource(1))
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	sizes := []int{1, 64, 4096}
	hot := pool[:2000]
	profile := make([]uint64, 64*sizes[len(sizes)-1])
	for i := range profile {
		profile[i] = hot[rng.Intn(len(hot))]
	}
	for _, set := range []struct {
		name  string
		addrs []uint64
	}{{"random", pool}, {"profile", profile}} {
		rust := rustBatchCost(b, set.addrs, sizes)
		for _, batch := range sizes {
			batches := make([][]uint64, 0, 64)
			for i := 0; i+batch <= len(set.addrs) && len(batches) < 64; i += batch {
				batches = append(batches, set.addrs[i:i+batch])
			}
			b.Run(fmt.Sprintf("%s/go/batch=%d", set.name, batch), func(b *testing.B) {
				var frames []Frame
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if frames, err = s.Symbolize(batches[i%len(batches)], frames); err != nil {
						b.Fatal(err)
					}
				}
				ns := float64(time.Since(start).Nanoseconds()) / float64(b.N*batch)
				b.ReportMetric(ns, "ns/ip")
				if r, ok := rust[batch]; ok {
					b.ReportMetric(r, "rust-ns/ip")
					b.ReportMetric(ns/r, "x-rust")
				}
			})
			b.Run(fmt.Sprintf("%s/c-abi/batch=%d", set.name, batch), func(b *testing.B) {
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if err := s.symbolizeOnly(batches[i%len(batches)]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*batch), "ns/ip")
			})
		}
	}
}

// rustBatchCost runs the Rust measure over pool, in its order, for each
// batch size: ns per address by size, empty (and said) when the example
// is not built.
func rustBatchCost(b *testing.B, pool []uint64, sizes []int) map[int]float64 {
	bin := filepath.Join("..", "..", "target", "release", "examples", "batch_cost")
	if _, err := os.Stat(bin); err != nil {
		b.Logf("no Rust figure: %s is not built (cargo build --release -p ksym --example batch_cost)", bin)
		return nil
	}
	args := []string{dataFile}
	for _, n := range sizes {
		args = append(args, strconv.Itoa(n))
	}
	var in bytes.Buffer
	for _, a := range pool {
		fmt.Fprintf(&in, "%x\n", a)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s: %v", bin, err)
	}
	cost := make(map[int]float64)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var n int
		var ns float64
		if _, err := fmt.Sscanf(line, "batch=%d ns/ip=%g", &n, &ns); err != nil {
			b.Fatalf("%s said %q: %v", bin, line, err)
		}
		cost[n] = ns
	}
	return cost
}
