#!/bin/sh
# /init of the ksym VM test initramfs (busybox sh). Copied in by
# scripts/vm-tests.sh. Mounts what the scenarios read, the state disk
# (/dev/vda, kept across this kernel's boots) on /state, and runs the
# scenarios of the ksym-vmtest program (crates/ksym-vmtest) against the
# live kernel: it prints one line per scenario on the console,
#   KSYM-TEST PASS|FAIL|SKIP <kernel>/<boot>/<name>[: why]
# then this prints `KSYM-TEST DONE` and powers off. The kernel command line
# names the boot (ksym.boot=normal|confidentiality|integrity); the harness
# adds lockdown=<mode> to the last two.

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
note() { echo "KSYM-INFO $*"; }
note "boot $BOOT kernel $KVER, init at uptime $(cut -d' ' -f1 /proc/uptime) s"

# The state disk's driver, where it is a module (the harness put it and its
# dependencies in modules.dep, deepest last on a line).
for m in virtio_pci virtio_blk; do
    line=$(grep "/$m\.ko:" $MODDIR/modules.dep) || continue
    rev=
    for d in ${line#*:}; do rev="$d $rev"; done
    for d in $rev ${line%%:*}; do
        grep -q "^$(basename $d .ko | tr - _) " /proc/modules || insmod $MODDIR/$d
    done
done
STATE=
mkdir -p /state
for i in 1 2 3 4 5 6 7 8 9 10; do
    [ -b /dev/vda ] && break
    sleep 0.2
done
if mount -t ext4 /dev/vda /state 2>/dev/null; then
    STATE="--state /state"
else
    note "no state disk (/dev/vda): the cache-across-boots scenario will skip"
fi

case $BOOT in
    normal) SCENARIOS= ;;   # all of them
    confidentiality | integrity)
        SCENARIOS="core-symbols module-symbols sysrq-traces cli-addr-name cli-module-symbols lockdown cache-across-boots"
        ;;
    *) echo "KSYM-TEST FAIL $KVER/$BOOT/boot: unknown ksym.boot=$BOOT"; SCENARIOS=none ;;
esac
if [ "$SCENARIOS" != none ]; then
    # shellcheck disable=SC2086
    ksym-vmtest --guest $STATE "$KVER/$BOOT" $SCENARIOS
    rc=$?
    [ $rc -le 1 ] || echo "KSYM-TEST FAIL $KVER/$BOOT/vmtest: ksym-vmtest exited with status $rc"
fi
note "uptime $(cut -d' ' -f1 /proc/uptime) s at the end"
[ -n "$STATE" ] && umount /state
sync
echo "KSYM-TEST DONE"
poweroff -f
