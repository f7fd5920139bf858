#!/usr/bin/env bash
# vm-tests.sh -- boot real Debian kernels, with their own loadable modules,
# in QEMU (TCG, no KVM needed) and run ksym's live code paths inside.
#
# Usage: scripts/vm-tests.sh [KERNEL...]
#   KERNEL: 6.1 and/or 6.12 (default: both). For each kernel three boots,
#   each running the scenarios of the ksym-vmtest program
#   (crates/ksym-vmtest; scripts/vm/init.sh chooses them): "normal" (all),
#   then "confidentiality" and "integrity" (lockdown=<mode> on the command
#   line). A small ext4 disk image is attached to every boot of a kernel,
#   so each boot after the first checks that the snapshot cache replaced
#   the previous boot's snapshot.
#   Prints the guest's `KSYM-TEST PASS|FAIL|SKIP` lines, per-boot timings,
#   and last a line `N passed, N failed`; exits 1 when anything failed, a
#   boot timed out or a boot ended without its DONE line.
#
# Environment:
#   KSYM_VM_CACHE    where packages, extracted kernels and initramfs go
#                    (default $HOME/.cache/ksym-vm; outside the repository)
#   KSYM_VM_TIMEOUT  seconds per boot (default 300)
#   KSYM_VM_BOOTS    which boots (default "normal confidentiality integrity")
#   CARGO_TARGET_DIR as for cargo (the ksym binary is taken from there)
#
# Needs: a Debian/Ubuntu host with APT sources for bookworm-security,
# qemu-system-x86, busybox-static, cpio, xz, gzip, cargo. When run as root the
# missing Debian packages are installed with apt-get.
#
# Each kernel .deb is fetched with `apt-get download` (APT checks it against
# the signed archive index) and then against the sha256 pinned below, so a
# different build can never slip in; when Debian drops the ABI from the
# archive, put the .deb from snapshot.debian.org into $KSYM_VM_CACHE/deb/.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KSYM_VM_CACHE:-$HOME/.cache/ksym-vm}
TIMEOUT=${KSYM_VM_TIMEOUT:-300}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}

# name | package | version | sha256 of the .deb
KERNELS=(
    "6.1|linux-image-6.1.0-57-cloud-amd64-unsigned|6.1.192-3|e31a28be852fe1faec3cdbb0d19a25818f3b951d15dc13e331aeca4f991c52fe"
    "6.12|linux-image-6.12.117+deb12-cloud-amd64-unsigned|6.12.117-1~deb12u1|670b2688bcf94c24693f7c7e1fc9776ff2e202ff15553a2614f79415d48a6607"
)
# Modules put into the initramfs (with their dependencies); the optional
# ones are built into some kernels (virtio_pci is in 6.12).
MODULES=(xfs dummy loop virtio_blk)
OPTIONAL_MODULES=(virtio_pci)
# boot name | extra kernel command line
BOOTS=(
    "normal|"
    "confidentiality|lockdown=confidentiality"
    "integrity|lockdown=integrity"
)
ALL_BOOTS="normal confidentiality integrity"

say() { printf 'vm-tests: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

install_deps() {
    local need=()
    command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
    [ -x /bin/busybox ] && /bin/busybox --list-full >/dev/null 2>&1 &&
        ! ldd /bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
    command -v cpio >/dev/null || need+=(cpio)
    command -v xz >/dev/null || need+=(xz-utils)
    command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
    [ ${#need[@]} = 0 ] && return
    [ "$(id -u)" = 0 ] || die "missing ${need[*]}: install them (apt-get install ${need[*]}) or run as root"
    say "installing ${need[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch_kernel PKG VERSION SHA256: prints the directory the .deb is extracted in.
fetch_kernel() {
    local pkg=$1 ver=$2 sha=$3
    local deb=$CACHE/deb/${pkg}_${ver/:/%3a}_amd64.deb
    local dir=$CACHE/x/${pkg}_${ver}
    if [ -f "$dir/.ok" ]; then
        printf '%s\n' "$dir"
        return
    fi
    mkdir -p "$CACHE/deb"
    if [ ! -f "$deb" ] || [ "$(sha256_of "$deb")" != "$sha" ]; then
        rm -f "$deb"
        say "downloading $pkg=$ver"
        if ! (cd "$CACHE/deb" && apt-get download "$pkg=$ver" >&2); then
            if [ "$(id -u)" = 0 ]; then
                apt-get update -qq >&2
                (cd "$CACHE/deb" && apt-get download "$pkg=$ver" >&2) ||
                    die "$pkg=$ver is not in this system's APT sources (needs bookworm-security; superseded ABIs are on snapshot.debian.org: put the .deb in $CACHE/deb/)"
            else
                die "apt-get download $pkg=$ver failed (stale lists? run apt-get update; or put the .deb in $CACHE/deb/)"
            fi
        fi
    fi
    local got
    got=$(sha256_of "$deb")
    [ "$got" = "$sha" ] || die "$deb has sha256 $got, expected $sha"
    rm -rf "$dir"
    mkdir -p "$dir"
    dpkg-deb -x "$deb" "$dir"
    touch "$dir/.ok"
    printf '%s\n' "$dir"
}

# modinfo_depends KO: the module's `depends=` (comma separated), from .modinfo.
modinfo_depends() {
    case $1 in
        *.xz) xz -dc "$1" ;;
        *) cat "$1" ;;
    esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1
}

# add_module ROOT KVER STAGE NAME: copy NAME.ko (uncompressed) and its
# dependencies into STAGE/lib/modules/KVER, appending modules.dep lines.
add_module() {
    local root=$1 kver=$2 stage=$3 name=$4
    local mods=$root/lib/modules/$kver dest=$stage/lib/modules/$kver
    local src rel deps d line
    src=$(find "$mods/kernel" \( -name "$name.ko" -o -name "$name.ko.xz" \) | head -n 1)
    [ -n "$src" ] || src=$(find "$mods/kernel" \( -name "${name//_/-}.ko" -o -name "${name//_/-}.ko.xz" \) | head -n 1)
    [ -n "$src" ] || die "module $name not in $mods"
    rel=${src#"$mods"/}
    rel=${rel%.xz}
    grep -q "^$rel:" "$dest/modules.dep" 2>/dev/null && return
    mkdir -p "$(dirname "$dest/$rel")"
    case $src in
        *.xz) xz -dc "$src" >"$dest/$rel" ;;
        *) cp "$src" "$dest/$rel" ;;
    esac
    deps=$(modinfo_depends "$src" | tr ',' ' ')
    line="$rel:"
    for d in $deps; do
        add_module "$root" "$kver" "$stage" "$d"
        # modules.dep lists every dependency, the deepest last.
        line="$line $(grep "/${d}\.ko:" "$dest/modules.dep" | sed 's/:/ /' | head -n 1)"
    done
    echo "$line" | tr -s ' ' >>"$dest/modules.dep"
}

# copy_with_libs STAGE BINARY DEST: the binary and what ldd says it needs.
copy_with_libs() {
    local stage=$1 bin=$2 dest=$3 lib
    install -D -m 0755 "$bin" "$stage/$dest"
    for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
        [ -f "$lib" ] || continue
        [ -e "$stage$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$stage$lib"
    done
}

# build_initramfs ROOT KVER OUT
build_initramfs() {
    local root=$1 kver=$2 out=$3 stage applet m
    stage=$(mktemp -d "$CACHE/stage.XXXXXX")
    chmod 0755 "$stage" # the guest's /: mktemp made it 0700, shut to `nobody`
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,lib/modules/"$kver"}
    install -m 0755 /bin/busybox "$stage/bin/busybox"
    for applet in $(/bin/busybox --list-full); do
        [ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
    done
    copy_with_libs "$stage" "$TARGET/release/ksym" usr/bin/ksym
    copy_with_libs "$stage" "$TARGET/release/ksym-vmtest" usr/bin/ksym-vmtest
    if [ -x "$TARGET/release/ksym-agent" ]; then
        copy_with_libs "$stage" "$TARGET/release/ksym-agent" usr/bin/ksym-agent
    fi
    # debuginfo is most of the release binaries; the guest does not need it
    if command -v strip >/dev/null; then
        strip "$stage"/usr/bin/ksym*
    fi
    : >"$stage/lib/modules/$kver/modules.dep"
    for m in "${MODULES[@]}"; do
        add_module "$root" "$kver" "$stage" "$m"
    done
    for m in "${OPTIONAL_MODULES[@]}"; do
        if find "$root/lib/modules/$kver/kernel" -name "$m.ko*" | grep -q .; then
            add_module "$root" "$kver" "$stage" "$m"
        fi
    done
    # the running kernel's image, for `ksym --image` (scenario g)
    install -D -m 0644 "$root/boot/vmlinuz-$kver" "$stage/boot/vmlinuz-$kver"
    install -m 0755 "$REPO/scripts/vm/init.sh" "$stage/init"
    (cd "$stage" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$out"
    rm -rf "$stage"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

PASSED=0
FAILED=0
REPLACED=0
SKIPPED=0
TIMINGS=()

# boot NAME VMLINUZ INITRD DISK BOOTNAME EXTRA
boot() {
    local kname=$1 kernel=$2 initrd=$3 disk=$4 bname=$5 extra=$6
    local log=$CACHE/log/$kname-$bname.log
    local start first="" end line rc=0 done=no
    mkdir -p "$CACHE/log"
    : >"$log"
    say "booting $kname ($bname), console in $log"
    start=$(now)
    while IFS= read -r line; do
        line=${line%$'\r'}
        printf '%s\n' "$line" >>"$log"
        case $line in
            *KSYM-TEST\ PASS\ */cache-across-boots-replaced)
                REPLACED=$((REPLACED + 1))
                PASSED=$((PASSED + 1))
                printf '%s\n' "${line#*KSYM-TEST }"
                ;;
            *KSYM-TEST\ PASS\ *)
                [ -n "$first" ] || first=$(now)
                PASSED=$((PASSED + 1))
                printf '%s\n' "${line#*KSYM-TEST }"
                ;;
            *KSYM-TEST\ FAIL\ *)
                [ -n "$first" ] || first=$(now)
                FAILED=$((FAILED + 1))
                printf '%s\n' "${line#*KSYM-TEST }"
                ;;
            *KSYM-TEST\ SKIP\ *)
                SKIPPED=$((SKIPPED + 1))
                printf '%s\n' "${line#*KSYM-TEST }"
                ;;
            *KSYM-TEST\ DONE*) done=yes ;;
            *KSYM-INFO*) say "  ${line#*KSYM-INFO }" ;;
        esac
    done < <(q=0; timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 \
        -nographic -no-reboot -monitor none -serial stdio \
        -kernel "$kernel" -initrd "$initrd" \
        -drive "file=$disk,format=raw,if=virtio" \
        -append "console=ttyS0 panic=-1 quiet ksym.boot=$bname $extra" </dev/null 2>&1 || q=$?
        printf '\nQEMU-EXIT %s\n' "$q")
    end=$(now)
    rc=$(sed -n 's/.*QEMU-EXIT //p' "$log" | tail -n 1)
    if [ "$rc" = 124 ]; then
        FAILED=$((FAILED + 1))
        echo "FAIL $kname/$bname/boot: timed out after $TIMEOUT s (console: $log)"
    elif [ "$done" != yes ]; then
        FAILED=$((FAILED + 1))
        echo "FAIL $kname/$bname/boot: no DONE line, qemu exit status $rc (console: $log)"
    fi
    TIMINGS+=("$kname/$bname: first result $( [ -n "$first" ] && elapsed "$start" "$first" || echo -) s, total $(elapsed "$start" "$end") s")
}

# guest_lines NAME DISK: source lines at the addresses of the guest's
# normal boot (its table saved on the state disk), checked on the host
# against eu-addr2line with the matching vmlinux and xfs.ko with DWARF
# (../shared: the 6.1.0-57-cloud build; the vmlinux fetched by
# ../shared/scripts/fetch-debug-vmlinux.sh).
guest_lines() {
    local kname=$1 disk=$2 snap vmlinux ko line
    snap=$CACHE/guest-$kname.ksym
    vmlinux=${KSYM_TEST_DATA:-$HOME/.cache/ksym-test-data}/vmlinux-6.1.0-57-cloud-amd64
    ko=$REPO/../shared/data/debian-6.1.0-57-cloud/ko-debug/xfs.ko.xz
    rm -f "$snap"
    debugfs -R "dump /guest.ksym $snap" "$disk" >/dev/null 2>&1 || true
    if [ ! -s "$snap" ] || [ ! -f "$vmlinux" ] || [ ! -f "$ko" ]; then
        SKIPPED=$((SKIPPED + 1))
        echo "SKIP $kname/host/guest-lines: needs the guest's snapshot ($snap), $vmlinux and $ko"
        return
    fi
    while IFS= read -r line; do
        case $line in
            *KSYM-TEST\ PASS\ *) PASSED=$((PASSED + 1)); printf '%s\n' "${line#*KSYM-TEST }" ;;
            *KSYM-TEST\ FAIL\ *) FAILED=$((FAILED + 1)); printf '%s\n' "${line#*KSYM-TEST }" ;;
            *KSYM-TEST\ SKIP\ *) SKIPPED=$((SKIPPED + 1)); printf '%s\n' "${line#*KSYM-TEST }" ;;
            *KSYM-INFO*) say "  ${line#*KSYM-INFO }" ;;
        esac
    done < <(KSYM_VMTEST_SNAPSHOT=$snap KSYM_VMTEST_VMLINUX=$vmlinux KSYM_VMTEST_KO=$ko \
        "$TARGET/release/ksym-vmtest" --ksym "$TARGET/release/ksym" "$kname/host" guest-lines 2>&1)
}

main() {
    local want=("$@") entry kname pkg ver sha dir kver kernel initrd b bname extra
    [ ${#want[@]} -gt 0 ] || want=(6.1 6.12)
    install_deps
    mkdir -p "$CACHE"
    say "building ksym, ksym-vmtest and libksym (cargo build --release -p ksym-cli -p ksym-vmtest -p ksym-capi)"
    (cd "$REPO" && cargo build --release -p ksym-cli -p ksym-vmtest -p ksym-capi >&2)
    for b in ksym ksym-vmtest; do
        [ -x "$TARGET/release/$b" ] || die "no $TARGET/release/$b after the build"
    done
    # go/ksym's example agent, over libksym.a: the go-agent scenario.
    rm -f "$TARGET/release/ksym-agent"
    if command -v go >/dev/null; then
        say "building ksym-agent (go build ./cmd/ksym-agent in go/ksym)"
        (cd "$REPO/go/ksym" && go build -o "$TARGET/release/ksym-agent" ./cmd/ksym-agent >&2)
    else
        say "no go: the go-agent scenario will skip"
    fi
    for entry in "${KERNELS[@]}"; do
        IFS='|' read -r kname pkg ver sha <<<"$entry"
        case " ${want[*]} " in *" $kname "*) ;; *) continue ;; esac
        dir=$(fetch_kernel "$pkg" "$ver" "$sha")
        kernel=$(ls "$dir"/boot/vmlinuz-* | head -n 1)
        kver=${kernel##*/vmlinuz-}
        initrd=$CACHE/initramfs-$kver.cpio.gz
        say "initramfs for $kver: $initrd"
        build_initramfs "$dir" "$kver" "$initrd"
        # A fresh state disk for this kernel's boots: the first stores a
        # snapshot, each later one must replace it.
        disk=$CACHE/state-$kname.img
        rm -f "$disk"
        truncate -s 64M "$disk" # a snapshot (up to ~15 MB) twice while one replaces the other, and guest.ksym
        mkfs.ext4 -q -F "$disk" >&2
        REPLACED=0
        booted=0
        for b in "${BOOTS[@]}"; do
            IFS='|' read -r bname extra <<<"$b"
            case " ${KSYM_VM_BOOTS:-$ALL_BOOTS} " in *" $bname "*) ;; *) continue ;; esac
            boot "$kname" "$kernel" "$initrd" "$disk" "$bname" "$extra"
            booted=$((booted + 1))
        done
        if [ "$booted" -gt 1 ] && [ "$REPLACED" != $((booted - 1)) ]; then
            FAILED=$((FAILED + 1))
            echo "FAIL $kname/cache-across-boots: $booted boots on one disk, but $REPLACED reported the previous boot's snapshot replaced (want $((booted - 1)))"
        fi
        if [ "$kname" = 6.1 ]; then
            guest_lines "$kname" "$disk"
        fi
    done
    for b in "${TIMINGS[@]}"; do echo "timing $b"; done
    [ "$SKIPPED" = 0 ] || echo "$SKIPPED skipped"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
}

main "$@"
