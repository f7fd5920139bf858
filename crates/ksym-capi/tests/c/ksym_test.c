/* The C ABI from C: open a source (a file, or the live kernel), symbolize
 * the addresses read from standard input (one hex address a line) in
 * batches of a chosen size, reusing one result buffer, and print each
 * frame as JSON the way `ksym addr --json` does. Then check names and
 * argument errors, and print the counters on standard error.
 *
 * usage: ksym_test (FILE | --live) BATCH < addresses
 * Built and run by tests/c_abi.rs against libksym.a and libksym.so. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksym.h"

static void fail(const char *what, ksym_status st, const ksym_error *err) {
    fprintf(stderr, "ksym_test: %s: status %d: %s\n", what, (int)st, err->message);
    exit(1);
}

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            putchar('\\');
        }
        putchar(*s);
    }
    putchar('"');
}

static void print_string_or_null(const char *s) {
    if (s) {
        print_json_string(s);
    } else {
        printf("null");
    }
}

/* `"frames":[...]` as `ksym addr --lines --json` prints it. */
static void print_source_frames(const ksym_frame *f) {
    printf(",\"frames\":[");
    for (uint32_t i = 0; i < f->source_frame_count; i++) {
        const ksym_source_frame *s = &f->source_frames[i];
        printf("%s{\"function\":", i ? "," : "");
        print_string_or_null(s->function);
        printf(",\"file\":");
        print_string_or_null(s->file);
        if (s->line) {
            printf(",\"line\":%" PRIu32, s->line);
        } else {
            printf(",\"line\":null");
        }
        if (s->column) {
            printf(",\"column\":%" PRIu32, s->column);
        } else {
            printf(",\"column\":null");
        }
        printf(",\"inlined\":%s}", s->inlined ? "true" : "false");
    }
    printf("]");
}

static int with_lines;

static void print_frame(const ksym_frame *f) {
    printf("{\"addr\":\"0x%" PRIx64 "\"", f->addr);
    if (with_lines) {
        print_source_frames(f);
    }
    printf(",\"symbol\":");
    if (f->status != KSYM_FRAME_NAMED) {
        /* The reason codes of ksym::symbolize::json::raw_reason. */
        const char *reason = f->status == KSYM_FRAME_NO_SYMBOL           ? "no_symbol"
                             : f->status == KSYM_FRAME_REDACTED          ? "redacted"
                             : f->status == KSYM_FRAME_PERMISSION_DENIED ? "permission_denied"
                                                                         : "unavailable";
        printf("null,\"reason\":\"%s\"}\n", reason);
        return;
    }
    printf("{\"module\":");
    if (f->module) {
        print_json_string(f->module);
    } else {
        printf("null");
    }
    printf(",\"name\":");
    print_json_string(f->name);
    printf(",\"offset\":%" PRIu64 ",\"size\":%" PRIu64 ",\"start\":\"0x%" PRIx64
           "\",\"type\":\"%c\"}}\n",
           f->offset, f->size, f->start, (char)f->kind);
}

/* When ksym_result_names gives an arena, every name and module of the
 * batch lies in it, a NUL after each. */
static void check_names_arena(const ksym_result *r, const ksym_frame *frames, size_t len) {
    size_t arena_len = 0;
    const char *arena = ksym_result_names(r, &arena_len);
    if (!arena) {
        return;
    }
    for (size_t i = 0; i < len; i++) {
        const char *text[2] = {frames[i].name, frames[i].module};
        uint32_t n[2] = {frames[i].name_len, frames[i].module_len};
        for (int k = 0; k < 2; k++) {
            if (!text[k]) {
                continue;
            }
            uintptr_t off = (uintptr_t)text[k] - (uintptr_t)arena;
            if (off >= arena_len || arena_len - off <= n[k] || text[k][n[k]] != 0) {
                fprintf(stderr, "ksym_test: frame %zu's %s is not in the names arena\n", i,
                        k ? "module" : "name");
                exit(1);
            }
        }
    }
}

static void flush_batch(const ksym_symbolizer *h, ksym_result *r, const uint64_t *addrs,
                        size_t n) {
    ksym_error err;
    memset(&err, 0, sizeof err);
    err.size = sizeof err;
    ksym_status st = ksym_symbolize(h, addrs, n, KSYM_ADDR_EXACT, r, &err);
    if (st != KSYM_OK) {
        fail("ksym_symbolize", st, &err);
    }
    size_t len = 0;
    const ksym_frame *frames = ksym_result_frames(r, &len);
    if (len != n) {
        fprintf(stderr, "ksym_test: %zu frames for %zu addresses\n", len, n);
        exit(1);
    }
    check_names_arena(r, frames, len);
    for (size_t i = 0; i < len; i++) {
        print_frame(&frames[i]);
    }
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: ksym_test (FILE | --live) BATCH [VMLINUX] < addresses\n");
        return 2;
    }
    size_t batch = (size_t)strtoul(argv[2], NULL, 10);
    if (batch == 0) {
        batch = 1;
    }
    ksym_error err;
    memset(&err, 0, sizeof err);
    err.size = sizeof err;
    ksym_open_options opts;
    memset(&opts, 0, sizeof opts);
    opts.size = sizeof opts;
    opts.cache = KSYM_CACHE_OFF;
    if (argc == 4) {
        /* Source lines from this vmlinux's DWARF. */
        with_lines = 1;
        opts.lines = 1;
        opts.vmlinux = argv[3];
    }
    ksym_symbolizer *h = NULL;
    ksym_status st = strcmp(argv[1], "--live") == 0
                         ? ksym_open_live(&opts, &h, &err)
                         : ksym_open_file(argv[1], &opts, &h, &err);
    if (st != KSYM_OK) {
        fail("open", st, &err);
    }

    ksym_result *r = ksym_result_new();
    uint64_t *addrs = calloc(batch, sizeof *addrs);
    if (!addrs) {
        return 1;
    }
    size_t n = 0;
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        errno = 0;
        addrs[n++] = strtoull(line, NULL, 16);
        if (errno) {
            fprintf(stderr, "ksym_test: bad address %s", line);
            return 1;
        }
        if (n == batch) {
            flush_batch(h, r, addrs, n);
            n = 0;
        }
    }
    if (n > 0) {
        flush_batch(h, r, addrs, n);
    }

    /* A name that is not there, and a NULL handle: statuses and sentences. */
    size_t count = 99;
    st = ksym_find(h, "no_such_symbol_anywhere", NULL, NULL, 0, &count, &err);
    if (st != KSYM_ERR_NOT_FOUND || count != 0 || err.status != st ||
        strstr(err.message, "no_such_symbol_anywhere") == NULL) {
        fail("ksym_find of a missing name", st, &err);
    }
    st = ksym_symbolize(NULL, addrs, 1, KSYM_ADDR_EXACT, r, &err);
    if (st != KSYM_ERR_INVALID_ARGUMENT || strcmp(err.message, "the handle is NULL") != 0) {
        fail("ksym_symbolize on NULL", st, &err);
    }

    ksym_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.size = sizeof stats;
    st = ksym_stats_get(h, &stats, &err);
    if (st != KSYM_OK) {
        fail("ksym_stats_get", st, &err);
    }
    fprintf(stderr, "batches %" PRIu64 " ips %" PRIu64 " resolved %" PRIu64 " raw %" PRIu64
                    " symbols %" PRIu64 " lines found %" PRIu64 " missing %" PRIu64 "\n",
            stats.batches, stats.ips, stats.resolved, stats.raw, stats.symbols,
            stats.lines_found, stats.lines_missing);
    if (with_lines && stats.lines_found + stats.lines_missing != stats.ips) {
        fprintf(stderr, "ksym_test: lines found and missing do not add up to the addresses\n");
        return 1;
    }
    free(addrs);
    ksym_result_free(r);
    ksym_close(h);
    return 0;
}
