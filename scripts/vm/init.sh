#!/bin/sh
# /init of the ksym VM test initramfs (busybox sh). Copied in by
# scripts/vm-tests.sh; runs the real `ksym` binary against the live kernel
# and prints one line per scenario on the console:
#   KSYM-TEST PASS <name>
#   KSYM-TEST FAIL <name>: <why>
# then `KSYM-TEST DONE` and powers off. The kernel command line chooses the
# boot: ksym.boot=normal (scenarios a, b, c, e, f, g, then the ksym-vmtest
# program's: the library on the live kernel) or ksym.boot=lockdown
# (lockdown=confidentiality is on the command line too; scenario a again).

PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1

BOOT=normal
for w in $(cat /proc/cmdline); do
    case $w in ksym.boot=*) BOOT=${w#ksym.boot=} ;; esac
done
KVER=$(uname -r)
MODDIR=/lib/modules/$KVER
T=/tmp/ksym-test
mkdir -p $T

pass() { echo "KSYM-TEST PASS $KNAME/$BOOT/$1"; }
fail() { n=$1; shift; echo "KSYM-TEST FAIL $KNAME/$BOOT/$n: $*"; }
note() { echo "KSYM-INFO $*"; }
# The kernel's name for the report: the release without the flavour noise.
KNAME=$KVER
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# load_mod NAME: insmod NAME's dependencies (from modules.dep, written by the
# host script; deepest last on the line, so loaded first) and then NAME.
load_mod() {
    line=$(grep "/$1\.ko:" $MODDIR/modules.dep) || { echo "no $1 in modules.dep"; return 1; }
    deps=${line#*:}
    rev=
    for d in $deps; do rev="$d $rev"; done
    for d in $rev; do
        m=$(basename $d .ko)
        grep -q "^$m " /proc/modules || insmod $MODDIR/$d || return 1
    done
    insmod $MODDIR/${line%%:*}
}

# mod_fn MOD: "addr name" of a text symbol of MOD whose address no other
# symbol shares and whose name no other symbol carries (so the expected
# answers are unambiguous), from /proc/kallsyms. Module symbols are listed
# with lower-case types there.
mod_fn() {
    awk -v m="[$1]" '{ names[$3]++ }
        $4 == m { n[$1]++; if (($2 == "t" || $2 == "T") && $3 ~ /^[a-z]/) c[$1] = $3 }
        END { for (a in c) if (n[a] == 1 && names[c[a]] == 1) { print a, c[a]; exit } }' /proc/kallsyms
}

# Scenario a: a loaded module's function is named by `ksym addr` and found by
# `ksym name`.
scenario_a() {
    for m in xfs dummy loop; do
        out=$(load_mod $m 2>&1) || { fail a-insmod-$m "$out"; return; }
    done
    note "uptime $(uptime_s) s after insmod"
    set -- $(mod_fn xfs)
    [ -n "${2:-}" ] || { fail a-addr "no unshared text symbol of [xfs] in /proc/kallsyms"; return; }
    XFS_ADDR=$1 XFS_FN=$2
    out=$(ksym --no-cache addr "$XFS_ADDR" 2>&1)
    case $out in
        "0x$XFS_ADDR $XFS_FN+0x0/0x"*" [xfs]") pass a-addr ;;
        *) fail a-addr "ksym addr $XFS_ADDR: '$out', want '$XFS_FN+0x0/... [xfs]'" ;;
    esac
    out=$(ksym --no-cache name "$XFS_FN" 2>&1)
    case $out in
        "$XFS_ADDR "[tT]" $XFS_FN size 0x"*" [xfs]") pass a-name ;;
        *) fail a-name "ksym name $XFS_FN: '$out', want '$XFS_ADDR t $XFS_FN size ... [xfs]'" ;;
    esac
}

# check_all_module_text LABEL: `ksym addr` of every module text symbol's
# address (on stdin) names a symbol that /proc/kallsyms has at that address
# in that module, at offset 0.
check_all_module_text() {
    awk '$4 ~ /^\[/ && ($2 == "t" || $2 == "T") { print $1 }' /proc/kallsyms | sort -u >$T/addrs
    n=$(wc -l <$T/addrs)
    note "$1: $n module text addresses"
    if ! ksym --no-cache addr <$T/addrs >$T/named 2>$T/err; then
        fail "$1" "ksym addr on stdin failed: $(head -c 300 $T/err)"
        return
    fi
    bad=$(awk 'NR == FNR { if ($4 ~ /^\[/) ok[$1 " " $3 " " $4] = 1; next }
        { a = $1; sub(/^0x/, "", a); s = $2; nm = s; sub(/\+.*/, "", nm)
          off = s; sub(/^[^+]*\+/, "", off); sub(/\/.*/, "", off)
          if (off != "0x0" || !((a " " nm " " $3) in ok)) { bad++; if (bad <= 3) print }
          lines++ }
        END { print (bad + 0) " of " lines }' /proc/kallsyms $T/named)
    case $bad in
        "0 of $n") pass "$1" ;;
        *) fail "$1" "$n module text addresses, mismatches: $(echo "$bad" | tr '\n' ';')" ;;
    esac
}

# Scenario b: every module text symbol resolves to itself or an alias, with
# the .ko files found through modules.dep (real sizes) and without them; and
# `ksym dump --format kallsyms` has /proc/kallsyms' module lines.
scenario_b() {
    check_all_module_text b-addr-all-ko
    mv $MODDIR/modules.dep $MODDIR/modules.dep.off
    check_all_module_text b-addr-all-noko
    mv $MODDIR/modules.dep.off $MODDIR/modules.dep
    awk '$4 ~ /^\[/ && $4 !~ /^\[(bpf|__builtin)/' /proc/kallsyms | sort >$T/want
    if ksym --no-cache dump --format kallsyms >$T/dump 2>$T/err; then
        awk '$4 ~ /^\[/ && $4 !~ /^\[(bpf|__builtin)/' $T/dump | sort >$T/got
        if cmp -s $T/want $T/got; then
            pass b-dump-modules
        else
            fail b-dump-modules "$(wc -l <$T/want) lines in /proc/kallsyms, $(wc -l <$T/got) in the dump; first differences: $(diff $T/want $T/got | grep '^[-+][0-9a-f]' | head -n 3 | tr '\n' ';')"
        fi
    else
        fail b-dump-modules "ksym dump failed: $(head -c 300 $T/err)"
    fi
}

# Scenario c: `ksym info` reports the modules; after rmmod the module's
# address no longer names its function.
scenario_c() {
    out=$(ksym --no-cache info 2>&1) || { fail c-info "exit $?: $out"; return; }
    echo "$out"    # into the console log, for reading later
    want=$(wc -l </proc/modules)
    case $out in
        *"modules:           $want"*) pass c-info ;;
        *) fail c-info "want 'modules: $want' in: $(echo "$out" | head -n 8 | tr '\n' ';')" ;;
    esac
    # As root the module sections under /sys/module are readable, so every
    # loaded module's text area should be bounded by them.
    secs=0
    for m in $(cut -d' ' -f1 /proc/modules); do
        a=$(cat /sys/module/$m/sections/.text 2>/dev/null)
        case $a in 0x*[1-9a-f]*) secs=$((secs + 1)) ;; esac
    done
    case $out in
        *" $secs text areas from /sys/module sections"*) pass c-sysfs-sections ;;
        *) fail c-sysfs-sections "$secs modules have a readable /sys/module/*/sections/.text, ksym info says: $(echo "$out" | grep 'bounded by' | tr -s ' ')" ;;
    esac
    [ -n "${XFS_ADDR:-}" ] || { fail c-rmmod "scenario a found no xfs function"; return; }
    rmmod xfs || { fail c-rmmod "rmmod xfs failed"; return; }
    out=$(ksym --no-cache addr "$XFS_ADDR" 2>&1)
    case $out in
        *"[xfs]"* | *"$XFS_FN"*) fail c-rmmod "after rmmod xfs, ksym addr $XFS_ADDR: '$out'" ;;
        *) pass c-rmmod ;;
    esac
    if out=$(ksym --no-cache name "$XFS_FN" 2>&1); then
        fail c-rmmod-name "after rmmod xfs, ksym name $XFS_FN still finds: '$out'"
    else
        pass c-rmmod-name
    fi
}

# Scenario e: kptr_restrict=2 hides addresses even from root; `ksym info`
# must fail and say why.
scenario_e() {
    old=$(cat /proc/sys/kernel/kptr_restrict)
    echo 2 >/proc/sys/kernel/kptr_restrict
    if out=$(ksym --no-cache info 2>&1); then
        fail e-kptr-restrict "ksym info succeeded under kptr_restrict=2: $(echo "$out" | head -n 3 | tr '\n' ';')"
    else
        case $out in
            *kptr_restrict*) pass e-kptr-restrict ;;
            *) fail e-kptr-restrict "message without 'kptr_restrict': $out" ;;
        esac
    fi
    echo "$old" >/proc/sys/kernel/kptr_restrict
}

# Scenario d: under lockdown=confidentiality (no /proc/kcore), scenario a;
# `ksym info` reports the lockdown.
scenario_d() {
    mode=$(cat /sys/kernel/security/lockdown 2>/dev/null)
    case $mode in
        *"[confidentiality]"*) ;;
        *) fail d-lockdown-on "/sys/kernel/security/lockdown is '$mode'"; return ;;
    esac
    if head -c 16 /proc/kcore >/dev/null 2>&1; then
        fail d-lockdown-on "/proc/kcore is readable under lockdown=confidentiality"
        return
    fi
    pass d-lockdown-on
    scenario_a
    out=$(ksym --no-cache info 2>&1) || { fail d-info "exit $?: $out"; return; }
    echo "$out"
    case $out in
        *"lockdown:"*confidentiality*) pass d-info ;;
        *) fail d-info "no 'lockdown: ... confidentiality' in: $(echo "$out" | grep -i lockdown)" ;;
    esac
}

# Scenario f: the snapshot cache: a miss stores, the next run maps it, a
# module load makes it stale, and the answers after it are right.
scenario_f() {
    export KSYM_CACHE_DIR=$T/cache
    c1=$(ksym info 2>&1 | grep 'snapshot cache:')
    c2=$(ksym info 2>&1 | grep 'snapshot cache:')
    case "$c1|$c2" in
        *miss*stored*"|"*hit*) pass f-cache-hit ;;
        *) fail f-cache-hit "first run '$c1', second '$c2'" ;;
    esac
    out=$(load_mod xfs 2>&1) || { fail f-cache-stale "insmod xfs: $out"; unset KSYM_CACHE_DIR; return; }
    set -- $(mod_fn xfs)
    c3=$(ksym info 2>&1 | grep 'snapshot cache:')
    a1=$(ksym addr "$1" 2>&1)
    a2=$(ksym addr "$1" 2>&1)
    want="0x$1 $2+0x0/0x"
    case "$c3|$a1|$a2" in
        *miss*"|$want"*" [xfs]|$want"*" [xfs]") pass f-cache-stale ;;
        *) fail f-cache-stale "after insmod xfs: cache '$c3', ksym addr $1: '$a1' then '$a2', want '$want... [xfs]'" ;;
    esac
    unset KSYM_CACHE_DIR
}

# Scenario g: the running kernel's own image (--image /boot/vmlinuz-*): its
# build-id is the running kernel's, so it answers at the running addresses.
scenario_g() {
    img=/boot/vmlinuz-$KVER
    [ -f "$img" ] || { fail g-image "no $img in the initramfs"; return; }
    for fn in schedule vfs_read; do
        want=$(awk -v f=$fn '$3 == f && NF == 3 { print $1; exit }' /proc/kallsyms)
        [ -n "$want" ] || { fail g-image "no $fn in /proc/kallsyms"; return; }
        out=$(ksym --image "$img" addr "$want" 2>&1)
        case $out in
            "0x$want $fn+0x0/0x"*) ;;
            *) fail g-image "ksym --image $img addr $want: '$out', want '$fn+0x0/...'"; return ;;
        esac
    done
    pass g-image
}

# The ksym-vmtest program (crates/ksym-vmtest): the library's live handle
# following insmod and rmmod, address reuse, freed init text, every module
# symbol, SysRq stack traces decoded. It prints its own KSYM-TEST lines.
scenario_vmtest() {
    ksym-vmtest --guest "$KNAME/$BOOT"
    rc=$?
    case $rc in
        0 | 1) ;;
        *) fail vmtest "ksym-vmtest exited with status $rc" ;;
    esac
}

note "boot $BOOT kernel $KVER, init at uptime $(uptime_s) s"
case $BOOT in
    normal)
        scenario_a
        scenario_b
        scenario_c
        scenario_e
        scenario_f
        scenario_g
        scenario_vmtest
        ;;
    lockdown) scenario_d ;;
    *) fail boot "unknown ksym.boot=$BOOT" ;;
esac
note "uptime $(uptime_s) s at the end"
echo "KSYM-TEST DONE"
sync
poweroff -f
