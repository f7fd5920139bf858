// Command ksym-agent reads kernel addresses (hex, one a line) from standard
// input, names them in batches the way a profiling agent does, prints one
// line per address (`0xaddr name+0xoff/0xsize [module]`, or
// `0xaddr (no symbol)`), and serves its counters on /metrics in the Prometheus text
// format: batches, input IPs, failed batches, raw-address frames,
// permission denied, other errors.
//
//	ksym-agent [-file kallsyms] [-batch 64] [-listen 127.0.0.1:9877] [-serve]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"

	"example.invalid/ksym/go/ksym"
)

func main() {
	file := flag.String("file", "", "a kallsyms, System.map, snapshot or image file (default: the live kernel)")
	batch := flag.Int("batch", 64, "addresses per batch")
	listen := flag.String("listen", "127.0.0.1:9877", "where /metrics is served (\"\": nowhere)")
	serve := flag.Bool("serve", false, "keep serving /metrics after standard input ends")
	sections := flag.Bool("sections", false, "print each module frame's section too (\"\\tsection=.plt\")")
	flag.Parse()

	var s *ksym.Symbolizer
	var err error
	if *file != "" {
		s, err = ksym.OpenFile(*file, nil)
	} else {
		s, err = ksym.OpenLive(&ksym.Options{Watch: true})
	}
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	http.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		st, err := s.Stats()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, metricsText(st))
	})
	if *listen != "" {
		go func() { log.Fatal(http.ListenAndServe(*listen, nil)) }()
	}

	if err := run(s, os.Stdin, os.Stdout, *batch, *sections); err != nil {
		log.Fatal(err)
	}
	if *serve {
		select {}
	}
}

// run symbolizes the addresses of in, `batch` at a time, onto out (with
// each frame's module section when sections is set).
func run(s *ksym.Symbolizer, in io.Reader, out io.Writer, batch int, sections bool) error {
	if batch < 1 {
		batch = 1
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	sc := bufio.NewScanner(in)
	ips := make([]uint64, 0, batch)
	var frames []ksym.Frame
	flush := func() error {
		var err error
		if frames, err = s.Symbolize(ips, frames); err != nil {
			return err
		}
		for _, f := range frames {
			if sections && f.Section != "" {
				fmt.Fprintf(w, "%s\tsection=%s\n", format(f), f.Section)
			} else {
				fmt.Fprintln(w, format(f))
			}
		}
		ips = ips[:0]
		return nil
	}
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "0x")
		if text == "" {
			continue
		}
		a, err := strconv.ParseUint(text, 16, 64)
		if err != nil {
			return fmt.Errorf("line %d: %q is not a hex address", line, sc.Text())
		}
		if ips = append(ips, a); len(ips) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(ips) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

// format prints a frame as `ksym addr` does: the symbol as the kernel's
// %pS prints it, or why there is none.
func format(f ksym.Frame) string {
	switch f.Status {
	case ksym.Named:
	case ksym.NoSymbol:
		return fmt.Sprintf("0x%x (no symbol)", f.Addr)
	default:
		return fmt.Sprintf("0x%x (raw: the symbols are unavailable, status %d)", f.Addr, f.Status)
	}
	s := fmt.Sprintf("0x%x %s+0x%x/0x%x", f.Addr, f.Name, f.Offset, f.Size)
	if f.Module != "" {
		s += " [" + f.Module + "]"
	}
	return s
}

// metricsText is the counters in the Prometheus text format.
func metricsText(st ksym.Stats) string {
	var b strings.Builder
	counter := func(name, help string, v uint64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("ksym_batches_total", "Batches of addresses symbolized.", st.Batches)
	counter("ksym_input_ips_total", "Addresses given, over all batches.", st.IPs)
	counter("ksym_batch_failures_total", "Batches the symbol source could not answer (every frame raw).", st.FailedBatches)
	counter("ksym_resolved_frames_total", "Frames named by a symbol.", st.Resolved)
	counter("ksym_raw_address_frames_total", "Frames left as raw addresses, for any reason.", st.Raw)
	counter("ksym_permission_denied_total", "Raw frames because the symbols were not readable (permission denied or kptr_restrict).", st.FailedPermission+st.FailedRedacted)
	counter("ksym_other_errors_total", "Raw frames because the symbols could not be read otherwise.", st.FailedOther)
	fmt.Fprintf(&b, "# HELP ksym_symbols Symbols in the current table.\n# TYPE ksym_symbols gauge\nksym_symbols %d\n", st.Symbols)
	return b.String()
}
