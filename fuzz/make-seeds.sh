#!/usr/bin/env bash
# Regenerates the seed inputs under fuzz/seeds/ from the saved Debian 6.12
# kernel data in shared/ (plus hand-written malformed lines). The seeds are
# committed; fuzz/corpus/ (what the fuzzer grows) is not.
#
#   bash fuzz/make-seeds.sh [DATA_DIR]
#   cargo +nightly fuzz run parse fuzz/corpus/parse fuzz/seeds/parse -- -max_len=4096
set -eu  # no pipefail: `grep | head` ends grep early
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-$here/../../shared/data/debian-6.12.117}
[ -d "$data" ] || data=/work/shared/data/debian-6.12.117
out=$here/seeds
mkdir -p "$out/parse" "$out/modules" "$out/resolve" "$out/snapshot"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
xzcat "$data/kallsyms.xz" > "$tmp"
ks() { cat "$tmp"; }

# --- parse: symbol text -------------------------------------------------
head -50 "$tmp" > "$out/parse/kallsyms-head50"
# Core text around _stext/_text with __pfx_ pairs, then section markers.
sed -n '388,420p' "$tmp" > "$out/parse/core-text"
ks | grep -E ' (_stext|_text|_etext|_sdata|_edata|_sinittext|_einittext|__bss_start|__bss_stop|_end)$' \
    > "$out/parse/section-markers"
# Module symbols, unsorted as the kernel gives them, and pseudo-modules.
ks | grep -P '\t\[stp\]$' > "$out/parse/module-stp"
ks | grep -P '\t\[(bpf|__builtin__ftrace|__builtin__kprobes)\]$' > "$out/parse/pseudo-modules"
{ sed -n '391,400p' "$tmp"; grep -P '\t\[stp\]$' "$tmp" | head -8; grep -P '\t\[bpf\]$' "$tmp" | head -2; } \
    > "$out/parse/mixed"
printf '%s\n' \
    'ffffffff81234560 t ext4_foo [ext4] [jbd2] {fs/ext4/inode.o}' \
    'ffffffff81234600 t ext4_bar [ext4]' \
    'ffffffff81234700 T ext4_baz [ext4] {fs/ext4/super.o}' \
    'ffffffff81234800 t fs/ext4/inode.c:ext4_qux' \
    'ffffffff81234900 t weird:name' \
    'ffffffff81234a00 t dup' \
    'ffffffff81234b00 t dup' \
    > "$out/parse/kallmodsyms-paths"
printf '%s\n' \
    'ffffffff81000000 T _text' \
    'ffffffff81000010 t __pfx_foo' \
    'xyz T foo' \
    'ffffffff81000020 T' \
    'zz' \
    'ffffffff81000020 TT foo' \
    '1ffffffff81000000 T foo' \
    '0 T foo junk' \
    'ffffffff81000020 t foo' \
    'ffffffff81000030 t .L123' \
    'ffffffff81000040 T _etext' \
    'ffffffffc0000000 t modfn	[m' \
    'ffffffffc0000000 t modfn	[]' \
    'ffffffffc0000010 t modfn2	[m]' \
    > "$out/parse/malformed"
printf 'ffffffff81000000 T f\xffo\r\nffffffff81000010 T ok\r\n\r\n   \nffffffff81000020 T last-no-newline' \
    > "$out/parse/crlf-nonutf8"
printf '0000000000000000 T a\n0000000000000000 t b\t[m]\n' > "$out/parse/redacted"
{ printf '0 T '; head -c 513 /dev/zero | tr '\0' a; printf '\nffffffff81000000 T short\n'; } \
    > "$out/parse/long-name"

# --- modules: /proc/modules and layout text ------------------------------
head -8 "$data/proc-modules" > "$out/modules/proc-modules"
head -12 "$data/module-layout.tsv" > "$out/modules/module-layout"
{ grep -E '^(stp|xfs) ' "$data/proc-modules"; echo '%%'; grep -P '\t\[(stp|xfs)\]$' "$tmp" | head -20; } \
    > "$out/modules/proc-modules-with-symbols"
{ head -6 "$data/module-layout.tsv"; echo '%%'; grep -P '\t\[(scsi_common|scsi_mod)\]$' "$tmp" | head -20; } \
    > "$out/modules/layout-with-symbols"
printf '%s\n' \
    'xfs 2596864 0 - Live 0xffffffffc0efd000' \
    'stp 12288 1 bridge, Live 0xffffffffc0e50000 (E)' \
    'm	text	0xffffffffc0000000	0x1000' \
    'm	data	0xffffffffc0002000	0x0' \
    'big	text	0xffffffffffffff00	0xffffffffffffffff' \
    'red 4096 0 - Live 0x0000000000000000' \
    > "$out/modules/mixed"
printf '%s\n' 'what is this' > "$out/modules/malformed-shape"
printf '%s\n' 'xfs notanumber 0 - Live 0xffffffffc0efd000' > "$out/modules/malformed-size"
printf '%s\n' 'm text 0xzz 0x10' > "$out/modules/malformed-area"
printf 'xfs 1 0 - Live 0x1\n\xff\n' > "$out/modules/non-utf8"

# --- resolve: %pS-style references ---------------------------------------
w() { printf '%s' "$2" > "$out/resolve/$1"; }
w plain 'foo'
w offset 'foo+0x4'
w offset-size 'foo+0x4/0x20'
w module 'modfn+0x1/0x40 [m]'
w module-buildid 'dup+0x0/0xfc0 [m 1234abcdef]'
w ambiguous 'dup'
w decimal 'dup+16/64'
w kallmodsyms 'kfoo+0x2 [jbd2]'
w path 'ext4_foo+0x1'
w colon 'weird:name'
w bad-offset 'foo+zz'
w unclosed 'foo [m'
w empty-module 'foo []'
w spaces ' foo bar '
w big 'foo+0xffffffffffffffff/0x20'

# --- snapshot: mode byte, then symbol text (0) or patches (1) -------------
for f in kallsyms-head50 mixed kallmodsyms-paths section-markers pseudo-modules; do
    { printf '\000'; cat "$out/parse/$f"; } > "$out/snapshot/text-$f"
done
printf '\001' > "$out/snapshot/patch-none"
# One patch: offset 0x0200 (little-endian), 4 bytes of 0xff.
printf '\001\000\002\004\377\377\377\377' > "$out/snapshot/patch-ff"
printf '\002KSYMSNAP' > "$out/snapshot/raw-magic"

# --- lines: an ELF module with DWARF 5 (the smallest of the 6.1 cloud set) ---
cloud=$(dirname "$data")/debian-6.1.0-57-cloud
[ -d "$cloud" ] || cloud=/work/shared/data/debian-6.1.0-57-cloud
mkdir -p "$out/lines"
xz -dc "$cloud/ko-debug/nls_ascii.ko.xz" > "$out/lines/nls_ascii.ko"

# --- line_table: a line table of a small linked program with DWARF and
# inlined calls (its `_text` defined for the KASLR slide), and that program
# itself for `lines` (a vmlinux-like ET_EXEC, which also builds a table).
mkdir -p "$out/line_table"
src=$(mktemp -d)
cat > "$src/x.c" <<'C'
static inline int twice(int x) { return 2 * x; }
static inline int inner(int x) { return twice(x) + 1; }
int outer(int x) { return inner(x) * 3 + twice(x); }
int main(int argc, char **argv) { (void)argv; return outer(argc); }
C
gcc -g -O2 -no-pie -nostartfiles -Wl,-e,main -Wl,--build-id -Wl,--defsym=_text=main \
    -o "$out/lines/small-exec" "$src/x.c"
rm -rf "$src"
(cd "$here/.." && cargo run -q --release -p ksym --features dwarf --example lines_first_time -- \
    table "$out/lines/small-exec" "$out/line_table/small-exec.ksymlines" </dev/null >/dev/null)
# The tools' view (`ksym addr2line`'s table) of the module: `.text`
# offsets from 0, where the target asks.
cache=$(mktemp -d)
(cd "$here/.." && KSYM_CACHE_DIR="$cache/c" cargo run -q --release -p ksym-cli --bin ksym -- \
    line-table --for-addr2line "$out/lines/nls_ascii.ko" >/dev/null)
cp "$cache"/c/addr2line-*.ksymlines "$out/line_table/tools-nls_ascii.ksymlines"
rm -rf "$cache"

# --- sized_symbols: cached real sizes of a vmlinux (the format is in
# crates/ksym/src/table/sized_symbols.rs) for the fuzz target's table's
# symbols: one at the table's addresses, one at low link-time addresses
# (a KASLR slide to learn). The checksum is left zero (the target seals it).
mkdir -p "$out/sized_symbols"
python3 - "$out/sized_symbols" <<'PY'
import struct, sys
def sizes(path, text, records):
    names = b"".join(n for _, _, n in records)
    head = b"KSYMSIZE" + struct.pack("<IIII", 1, len(records), len(names), 3)
    head += struct.pack("<QQ", text, 0) + bytes([0xab, 0x01, 0xff])
    head = head.ljust(104, b"\0")
    end, body = 0, b""
    for addr, size, name in records:
        end += len(name)
        body += struct.pack("<QII", addr, size, end)
    open(path, "wb").write(head + body + names)
base = 0xffffffff81000000
syms = [(0, 0x40, b"startup_64"), (0x40, 0x40, b"f"), (0x40, 0x10, b"g"), (0x40, 0x20, b"g"), (0x80, 8, b"h")]
sizes(sys.argv[1] + "/core", base, [(base + a, s, n) for a, s, n in syms])
low = 0x100
sizes(sys.argv[1] + "/low", low, [(low + a, s, n) for a, s, n in syms])
PY
