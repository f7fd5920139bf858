package ksym

import (
	"fmt"
	"math/rand"
	"testing"
	"time"
)

// BenchmarkSymbolize: ns per address through cgo (Go frames made) and for
// the C call alone, for batches of 1, 64 and 4096 random symbol addresses
// of the 6.12 data. The C call alone is the Rust batch plus the C ABI's
// frame filling; `cargo bench -p ksym --bench stacks` gives the Rust batch
// by itself.
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
	for _, batch := range []int{1, 64, 4096} {
		batches := make([][]uint64, 0, 64)
		for i := 0; i+batch <= len(pool) && len(batches) < 64; i += batch {
			batches = append(batches, pool[i:i+batch])
		}
		b.Run(fmt.Sprintf("go/batch=%d", batch), func(b *testing.B) {
			var frames []Frame
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if frames, err = s.Symbolize(batches[i%len(batches)], frames); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*batch), "ns/ip")
		})
		b.Run(fmt.Sprintf("c-abi/batch=%d", batch), func(b *testing.B) {
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
