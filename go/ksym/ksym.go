// Package ksym names Linux kernel addresses (and finds the addresses of
// names) through ksym's C ABI: the live kernel, following module loads and
// BPF programs, or a saved kallsyms, System.map, snapshot or kernel image.
//
// It links libksym.a statically, so a program needs nothing at run time.
// Build the library first, from the repository root:
//
//	cargo build --release -p ksym-capi
//	go build ./...        (in go/ksym, or a module that requires it)
//
// A Symbolizer is safe for concurrent use by many goroutines. Errors are
// *Error values carrying the status and the sentence the ksym command
// prints; each call gets its own, so no goroutine reads another's error.
package ksym

/*
#cgo CFLAGS: -I${SRCDIR}/../../crates/ksym-capi/include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -l:libksym.a -lpthread -ldl -lm
#include <stdlib.h>
#include "ksym.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Status is a ksym_status: what a call ended with.
type Status int32

// The statuses of the C ABI.
const (
	OK               Status = C.KSYM_OK
	InvalidArgument  Status = C.KSYM_ERR_INVALID_ARGUMENT
	NotFound         Status = C.KSYM_ERR_NOT_FOUND
	PermissionDenied Status = C.KSYM_ERR_PERMISSION_DENIED
	Redacted         Status = C.KSYM_ERR_REDACTED
	BadInput         Status = C.KSYM_ERR_BAD_INPUT
	IOError          Status = C.KSYM_ERR_IO
	BufferTooSmall   Status = C.KSYM_ERR_BUFFER_TOO_SMALL
	Internal         Status = C.KSYM_ERR_INTERNAL
)

// Error is a failed call: its status and the sentence ksym prints for it.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return "ksym: " + e.Message }

// Is lets errors.Is match on the status: errors.Is(err, &ksym.Error{Status: ksym.Redacted}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// newErrorRecord is a ksym_error ready for one call.
func newErrorRecord() C.ksym_error {
	var e C.ksym_error
	e.size = C.size_t(unsafe.Sizeof(e))
	return e
}

func toError(st C.ksym_status, e *C.ksym_error) error {
	if st == C.KSYM_OK {
		return nil
	}
	return &Error{Status: Status(st), Message: C.GoString(&e.message[0])}
}

// CacheMode says where the live kernel's snapshot cache is.
type CacheMode uint8

const (
	// CacheDefault: $KSYM_CACHE_DIR, else $XDG_CACHE_HOME/ksym or ~/.cache/ksym.
	CacheDefault CacheMode = C.KSYM_CACHE_DEFAULT
	// CacheOff: no snapshot cache.
	CacheOff CacheMode = C.KSYM_CACHE_OFF
	// CacheDir: the directory in Options.CacheDir.
	CacheDir CacheMode = C.KSYM_CACHE_DIR
)

// Options for opening a source; the zero value is the defaults.
type Options struct {
	// Watch: the live kernel's table follows module loads and unloads and
	// BPF programs (a watcher thread).
	Watch bool
	Cache CacheMode
	// CacheDir with Cache == CacheDir.
	CacheDir string
	// MaxInputBytes bounds an input after decompression; 0 for ksym's bounds.
	MaxInputBytes uint64
	// Lines: each Frame gets its Source frames (file, line, inlined calls)
	// from the cached line table of the kernel's build (`ksym line-table`),
	// else from Vmlinux's DWARF or a vmlinux found where distributions put
	// it or through DEBUGINFOD_URLS. Nothing found: frames without lines.
	Lines bool
	// Vmlinux with Lines: a vmlinux with DWARF to use.
	Vmlinux string
	// Modules (OpenFile of a kallsyms text): a saved /proc/modules or a
	// module layout file bounding the modules' symbols.
	Modules string
	// Ko (OpenFile): modules' .ko files (plain or compressed): their real
	// symbol sizes, and with Lines their source lines, each section placed
	// where the module's own symbols put it when nothing else says.
	Ko []string
}

// Symbolizer is an open symbol source. Safe for concurrent use.
type Symbolizer struct {
	mu      sync.RWMutex // Close against calls in flight
	h       *C.ksym_symbolizer
	results chan *result              // free results, see getResult
	spare   atomic.Pointer[result]    // one more, see getResult
	names   atomic.Pointer[nameArena] // see names.go
}

func open(path *string, opts *Options) (*Symbolizer, error) {
	var o C.ksym_open_options
	o.size = C.size_t(unsafe.Sizeof(o))
	if opts != nil {
		if opts.Watch {
			o.watch = 1
		}
		o.cache = C.uint8_t(opts.Cache)
		o.max_input_bytes = C.uint64_t(opts.MaxInputBytes)
		if opts.CacheDir != "" {
			dir := C.CString(opts.CacheDir)
			defer C.free(unsafe.Pointer(dir))
			o.cache_dir = dir
		}
		if opts.Lines {
			o.lines = 1
		}
		if opts.Vmlinux != "" {
			v := C.CString(opts.Vmlinux)
			defer C.free(unsafe.Pointer(v))
			o.vmlinux = v
		}
		if opts.Modules != "" {
			m := C.CString(opts.Modules)
			defer C.free(unsafe.Pointer(m))
			o.modules = m
		}
		if len(opts.Ko) > 0 {
			// A NULL-terminated array in C memory: cgo may not be handed a
			// Go array of C pointers.
			n := len(opts.Ko) + 1
			arr := (*[1 << 20]*C.char)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:n:n]
			defer C.free(unsafe.Pointer(&arr[0]))
			for i, k := range opts.Ko {
				arr[i] = C.CString(k)
				defer C.free(unsafe.Pointer(arr[i]))
			}
			o.ko = &arr[0]
		}
	}
	e := newErrorRecord()
	var h *C.ksym_symbolizer
	var st C.ksym_status
	if path == nil {
		st = C.ksym_open_live(&o, &h, &e)
	} else {
		p := C.CString(*path)
		defer C.free(unsafe.Pointer(p))
		st = C.ksym_open_file(p, &o, &h, &e)
	}
	if err := toError(st, &e); err != nil {
		return nil, err
	}
	s := &Symbolizer{h: h, results: make(chan *result, freeResults)}
	runtime.SetFinalizer(s, (*Symbolizer).Close)
	return s, nil
}

// OpenLive opens the running kernel's symbols. Needs root (CAP_SYSLOG) or
// a kernel that shows addresses; otherwise the error's Status is Redacted
// and its message names the setting to change.
func OpenLive(opts *Options) (*Symbolizer, error) { return open(nil, opts) }

// OpenFile opens a kallsyms or System.map file (plain or compressed), a
// ksym snapshot, or a kernel image.
func OpenFile(path string, opts *Options) (*Symbolizer, error) { return open(&path, opts) }

// Close frees the symbolizer; calls after it fail with InvalidArgument.
func (s *Symbolizer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h != nil {
		C.ksym_close(s.h)
		s.h = nil
	}
	runtime.SetFinalizer(s, nil)
	return nil
}

// handle takes the read lock and returns the handle, or an error when the
// symbolizer is closed; release with s.mu.RUnlock().
func (s *Symbolizer) handle() (*C.ksym_symbolizer, error) {
	s.mu.RLock()
	if s.h == nil {
		s.mu.RUnlock()
		return nil, &Error{Status: InvalidArgument, Message: "the symbolizer is closed"}
	}
	return s.h, nil
}

// Find returns every address of the symbol name, lowest first; NotFound
// when there is none.
func (s *Symbolizer) Find(name string) ([]uint64, error) {
	h, err := s.handle()
	if err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	addrs := make([]uint64, 4)
	for {
		e := newErrorRecord()
		var count C.size_t
		st := C.ksym_find(h, cname, nil, (*C.uint64_t)(unsafe.Pointer(&addrs[0])), C.size_t(len(addrs)), &count, &e)
		if st == C.KSYM_ERR_BUFFER_TOO_SMALL {
			addrs = make([]uint64, int(count))
			continue
		}
		if err := toError(st, &e); err != nil {
			return nil, err
		}
		return addrs[:int(count)], nil
	}
}

// Stats are a symbolizer's counters, as profiling agents export them.
type Stats struct {
	Batches, FailedBatches, IPs, Resolved, Raw, NoSymbol uint64
	FailedRedacted, FailedPermission, FailedOther        uint64
	Symbols, Modules, Refreshes                          uint64
}

// Stats reads the counters.
func (s *Symbolizer) Stats() (Stats, error) {
	h, err := s.handle()
	if err != nil {
		return Stats{}, err
	}
	defer s.mu.RUnlock()
	var c C.ksym_stats
	c.size = C.size_t(unsafe.Sizeof(c))
	e := newErrorRecord()
	if err := toError(C.ksym_stats_get(h, &c, &e), &e); err != nil {
		return Stats{}, err
	}
	return Stats{
		Batches: uint64(c.batches), FailedBatches: uint64(c.failed_batches),
		IPs: uint64(c.ips), Resolved: uint64(c.resolved), Raw: uint64(c.raw),
		NoSymbol: uint64(c.no_symbol), FailedRedacted: uint64(c.failed_redacted),
		FailedPermission: uint64(c.failed_permission), FailedOther: uint64(c.failed_other),
		Symbols: uint64(c.symbols), Modules: uint64(c.modules), Refreshes: uint64(c.refreshes),
	}, nil
}

// Version is the C library's version.
func Version() string { return C.GoString(C.ksym_version()) }

// String for debugging.
func (s Stats) String() string {
	return fmt.Sprintf("%d batches (%d failed), %d ips: %d resolved, %d raw", s.Batches, s.FailedBatches, s.IPs, s.Resolved, s.Raw)
}
