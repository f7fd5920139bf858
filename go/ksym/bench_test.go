package ksym

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkSymbolize: ns per address through cgo (Go frames made) and for
// the C call alone, for batches of 1, 64 and 4096, beside the Rust batch
// cost over the same batches in the same order. Two address sets of the
// 6.12 data, 64 batches each, taken in turn: "random", symbol addresses
// drawn from the whole table (each frame a symbol the batch before did not
// have: the worst case for any cache), and "profile", addresses drawn from
// 2,000 hot ones, as a profiler's stacks are.
//
// The Rust figure comes from target/release/examples/batch_cost (`cargo
// build --release -p ksym --example batch_cost`), run beside the benchmark
// and timed in turns with it: b.N is cut into nine segments, and before
// each the Rust side runs the same batches. ns/ip and rust-ns/ip are the
// medians of the segments; x-rust is the median of each segment's Go/Rust
// ratio, so a moment of the machine's noise falls on both sides of a
// ratio rather than on one side of the comparison.
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
		rust := startRustPeer(b, set.addrs)
		for _, batch := range sizes {
			batches := make([][]uint64, 0, warmBatches)
			for i := 0; i+batch <= len(set.addrs) && len(batches) < warmBatches; i += batch {
				batches = append(batches, set.addrs[i:i+batch])
			}
			b.Run(fmt.Sprintf("%s/go/batch=%d", set.name, batch), func(b *testing.B) {
				var frames []Frame
				m := timed(b, batch, rust, func(i int) {
					if frames, err = s.Symbolize(batches[i%len(batches)], frames); err != nil {
						b.Fatal(err)
					}
				})
				b.ReportMetric(m.ns, "ns/ip")
				if rust != nil {
					b.ReportMetric(m.rustNs, "rust-ns/ip")
					b.ReportMetric(m.ratio, "x-rust")
				}
			})
			b.Run(fmt.Sprintf("%s/c-abi/batch=%d", set.name, batch), func(b *testing.B) {
				m := timed(b, batch, nil, func(i int) {
					if err := s.symbolizeOnly(batches[i%len(batches)]); err != nil {
						b.Fatal(err)
					}
				})
				b.ReportMetric(m.ns, "ns/ip")
			})
		}
		rust.close()
	}
}

// warmBatches is how many batches the benchmark cuts each set into.
const warmBatches = 64

// measure is what timed found: medians over its segments.
type measure struct {
	ns, rustNs, ratio float64
}

// timed runs one(0..b.N-1) in nine timed segments, each after the Rust
// peer (when there is one) has run the same batches, and gives the
// medians of the segments' ns per address and of their Go/Rust ratios.
//
// Before each segment, each side runs the batches once untimed (one(0..63)
// here, the same in batch_cost), so that a segment measures warm caches,
// not what the other side's run left in them.
func timed(b *testing.B, batch int, rust *rustPeer, one func(i int)) measure {
	if !pinToBenchCPU() {
		b.Logf("could not pin the benchmark to CPU %d: its ratios may mix two CPUs' noise", benchCPU)
	}
	const segments = 9
	per := (b.N + segments - 1) / segments
	var ns, rustNs, ratios []float64
	for start := 0; start < b.N; start += per {
		end := start + per
		if end > b.N {
			end = b.N
		}
		if rust != nil {
			rustNs = append(rustNs, rust.run(b, batch, start, end-start))
		}
		for i := 0; i < warmBatches; i++ {
			one(i)
		}
		t := time.Now()
		for i := start; i < end; i++ {
			one(i)
		}
		ns = append(ns, float64(time.Since(t).Nanoseconds())/float64((end-start)*batch))
		if rust != nil {
			ratios = append(ratios, ns[len(ns)-1]/rustNs[len(rustNs)-1])
		}
	}
	return measure{ns: median(ns), rustNs: median(rustNs), ratio: median(ratios)}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

// benchCPU is the CPU that timed's goroutine and the Rust peer both run
// on: where a machine's CPUs are disturbed unequally (a VM's neighbours),
// the two sides of a ratio then meet the same disturbance. Only the
// benchmark's own thread is pinned; the Go runtime's others roam.
const benchCPU = 0

// pinToBenchCPU locks the calling goroutine to its thread and the thread
// to benchCPU (the thread ends with the goroutine, so nothing else runs
// pinned); false when the kernel refused.
func pinToBenchCPU() bool {
	runtime.LockOSThread()
	var mask [16]uint64 // a cpu_set_t
	mask[0] = 1 << benchCPU
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	return errno == 0
}

// rustPeer is batch_cost running beside the benchmark over the same
// addresses, timing batches on request.
type rustPeer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startRustPeer starts batch_cost over addrs; nil (and said) when it is
// not built.
func startRustPeer(b *testing.B, addrs []uint64) *rustPeer {
	bin := filepath.Join("..", "..", "target", "release", "examples", "batch_cost")
	if _, err := os.Stat(bin); err != nil {
		b.Logf("no Rust figure: %s is not built (cargo build --release -p ksym --example batch_cost)", bin)
		return nil
	}
	var list bytes.Buffer
	for _, a := range addrs {
		fmt.Fprintf(&list, "%x\n", a)
	}
	file := filepath.Join(b.TempDir(), "addresses")
	if err := os.WriteFile(file, list.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, dataFile, file)
	if taskset, err := exec.LookPath("taskset"); err == nil {
		cmd = exec.Command(taskset, "-c", fmt.Sprint(benchCPU), bin, dataFile, file)
	} else {
		b.Logf("no taskset: the Rust peer runs on any CPU")
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("%s: %v", bin, err)
	}
	return &rustPeer{cmd: cmd, in: in, out: bufio.NewScanner(out)}
}

// run has the peer symbolize batches first..first+count-1 (modulo their
// number) of size batch and gives its ns per address.
func (p *rustPeer) run(b *testing.B, batch, first, count int) float64 {
	if _, err := fmt.Fprintf(p.in, "%d %d %d\n", batch, first, count); err != nil {
		b.Fatalf("batch_cost: %v", err)
	}
	if !p.out.Scan() {
		b.Fatalf("batch_cost stopped: %v", p.out.Err())
	}
	var ns float64
	if _, err := fmt.Sscanf(p.out.Text(), "ns/ip=%g", &ns); err != nil {
		b.Fatalf("batch_cost said %q: %v", p.out.Text(), err)
	}
	return ns
}

func (p *rustPeer) close() {
	if p == nil {
		return
	}
	p.in.Close()
	p.cmd.Wait()
}
