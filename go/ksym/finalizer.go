package ksym

/*
#include <stdlib.h>
#include "ksym.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// setResultFinalizer frees a result's C memory when the garbage collector
// finds it unreachable (out of the free list and not in use).
func setResultFinalizer(r *result) {
	runtime.SetFinalizer(r, func(r *result) {
		C.ksym_result_free(r.c)
		C.free(unsafe.Pointer(r.err))
	})
}
