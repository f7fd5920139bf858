#!/usr/bin/env bash
# vm-tests.sh -- boot real Debian kernels, with their own loadable modules,
# in QEMU (TCG, no KVM needed) and run ksym's live code paths inside.
#
# Usage: scripts/vm-tests.sh [KERNEL...]
#   KERNEL: 6.1, 6.12, 5.10 (x86_64; 5.10 is Debian 11's), 6.1-arm64,
#   6.12-arm64 (aarch64, booted under qemu-system-aarch64 with ksym
#   cross-built for it); default: all five. For each kernel three boots,
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
# qemu-system-x86, busybox-static, cpio, xz, gzip, cargo; for arm64 also
# qemu-system-arm, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and rustup's
# aarch64-unknown-linux-gnu target. When run as root the missing Debian
# packages are installed with apt-get.
#
# Each kernel .deb is fetched with `apt-get download` (APT checks it against
# the signed archive index) and then against the sha256 pinned below, so a
# different build can never slip in; when Debian drops the ABI from the
# archive, put the .deb from snapshot.debian.org into $KSYM_VM_CACHE/deb/.
# Packages of another architecture (arm64's kernels and busybox-static)
# come through an APT configuration of this script's own under
# $KSYM_VM_CACHE/apt-<arch> (Debian's archive, its keyring); the system's
# APT sources and dpkg architectures stay untouched.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KSYM_VM_CACHE:-$HOME/.cache/ksym-vm}
TIMEOUT=${KSYM_VM_TIMEOUT:-300}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}

# name | Debian architecture | Debian release | package | version | sha256 of the .deb
# (the arm64 ones are the kernels of ../shared/data/*-cloud-arm64; 5.10,
# Debian 11's, is the oldest long-term kernel clouds still run: no __pfx_
# symbols, no BPF ksym iterator, the older kallsyms_show_value rules)
KERNELS=(
    "6.1|amd64|bookworm|linux-image-6.1.0-57-cloud-amd64-unsigned|6.1.192-3|e31a28be852fe1faec3cdbb0d19a25818f3b951d15dc13e331aeca4f991c52fe"
    "6.12|amd64|bookworm|linux-image-6.12.117+deb12-cloud-amd64-unsigned|6.12.117-1~deb12u1|670b2688bcf94c24693f7c7e1fc9776ff2e202ff15553a2614f79415d48a6607"
    "6.1-arm64|arm64|bookworm|linux-image-6.1.0-57-cloud-arm64-unsigned|6.1.192-3|2e5f31fb28e0748e529a2cfad77a0352421571bbbfa7f902ec59a678ea02f377"
    "6.12-arm64|arm64|bookworm|linux-image-6.12.118+deb12-cloud-arm64-unsigned|6.12.118-1~deb12u1|d1296d1d67260ef295e7ed720941e43f7fbc2de61a3c00acda4001d6fd531717"
    "5.10|amd64|bullseye|linux-image-5.10.0-43-cloud-amd64-unsigned|5.10.251-5|f1d1c1e4aeab51b6b92177fcbe9a69f781d6e095288844f6fd2f264e44e2fddf"
)
ALL_KERNELS="6.1 6.12 6.1-arm64 6.12-arm64 5.10"

# What differs between the architectures, in one place:
# Debian architecture | Rust target | QEMU | machine and CPU | console | cross sysroot
# (the sysroot is where the cross binaries' shared libraries come from;
# "-" for the host's own architecture, whose binaries `ldd` reads)
ARCHES=(
    "amd64|x86_64-unknown-linux-gnu|qemu-system-x86_64|-accel tcg -cpu max|ttyS0|-"
    "arm64|aarch64-unknown-linux-gnu|qemu-system-aarch64|-M virt -cpu max,pauth-impdef=on|ttyAMA0|/usr/aarch64-linux-gnu"
)
# arch_fact ARCH FIELD (2 = Rust target ... 6 = sysroot)
arch_fact() {
    local a
    for a in "${ARCHES[@]}"; do
        [ "${a%%|*}" = "$1" ] && { cut -d'|' -f"$2" <<<"$a"; return; }
    done
    die "no architecture $1 in ARCHES"
}
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

# install_deps ARCH...: the host's tools for booting those architectures.
install_deps() {
    local need=() a
    command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
    for a in "$@"; do
        [ "$a" = "$HOST_ARCH" ] && continue
        command -v "$(arch_fact "$a" 3)" >/dev/null || need+=(qemu-system-arm)
        command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
        command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
    done
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

# apt_get ARCH SUITE ARGS... (another architecture's or release's packages through an APT
# configuration of our own, under $CACHE/apt-ARCH)
APT_ARCH_ROOT=$CACHE
# shellcheck source=scripts/lib/apt-arch.sh
. "$REPO/scripts/lib/apt-arch.sh"

# fetch_kernel ARCH SUITE PKG VERSION SHA256: prints the directory the .deb is extracted in.
fetch_kernel() {
    local arch=$1 suite=$2 pkg=$3 ver=$4 sha=$5
    local deb=$CACHE/deb/${pkg}_${ver/:/%3a}_$arch.deb
    local dir=$CACHE/x/${pkg}_${ver}
    if [ -f "$dir/.ok" ]; then
        printf '%s\n' "$dir"
        return
    fi
    mkdir -p "$CACHE/deb"
    if [ ! -f "$deb" ] || [ "$(sha256_of "$deb")" != "$sha" ]; then
        rm -f "$deb"
        say "downloading $pkg=$ver ($arch)"
        if ! (cd "$CACHE/deb" && apt_get "$arch" "$suite" download "$pkg:$arch=$ver" >&2); then
            # stale lists: this script's own are refreshed, the system's
            # only by root
            if ! apt_is_system "$arch" "$suite"; then
                apt_arch_refresh "$arch" "$suite"
            elif [ "$(id -u)" = 0 ]; then
                apt-get update -qq >&2
            else
                die "apt-get download $pkg=$ver failed (stale lists? run apt-get update; or put the .deb in $CACHE/deb/)"
            fi
            (cd "$CACHE/deb" && apt_get "$arch" "$suite" download "$pkg:$arch=$ver" >&2) ||
                die "$pkg=$ver ($arch) is not in the APT sources (needs $suite-security; superseded ABIs are on snapshot.debian.org: put the .deb in $CACHE/deb/)"
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

# copy_with_libs ARCH STAGE BINARY DEST [LIBDIR]: the binary and the
# shared libraries it needs: for the host's architecture what ldd says; for
# another, its ELF interpreter and DT_NEEDED libraries (and theirs) from
# LIBDIR, else that architecture's cross sysroot, where its ld.so looks.
copy_with_libs() {
    local arch=$1 stage=$2 bin=$3 dest=$4 libs=${5:-} lib
    install -D -m 0755 "$bin" "$stage/$dest"
    if [ "$arch" = "$HOST_ARCH" ]; then
        for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
            [ -f "$lib" ] || continue
            [ -e "$stage$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$stage$lib"
        done
        return
    fi
    local sysroot triple interp todo=("$bin") f name
    sysroot=$(arch_fact "$arch" 6)
    triple=$(basename "$sysroot")
    interp=$(readelf -lW "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
    if [ -n "$interp" ] && [ ! -e "$stage$interp" ]; then
        install -D -m 0755 "$(readlink -f "$sysroot/lib/$(basename "$interp")")" "$stage$interp"
    fi
    while [ ${#todo[@]} -gt 0 ]; do
        f=${todo[0]}
        todo=("${todo[@]:1}")
        for name in $(readelf -dW "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [ -e "$stage/lib/$triple/$name" ] && continue
            lib=$sysroot/lib/$name
            [ -n "$libs" ] && [ -f "$libs/$name" ] && lib=$libs/$name
            [ -f "$lib" ] || die "$bin needs $name, not in ${libs:+$libs or }$sysroot/lib"
            install -D -m 0755 "$(readlink -f "$lib")" "$stage/lib/$triple/$name"
            todo+=("$lib")
        done
    done
}

# busybox_for ARCH: prints the path of a static busybox for ARCH (the
# host's own, or busybox-static of that architecture from Debian).
busybox_for() {
    local arch=$1 dir
    if [ "$arch" = "$HOST_ARCH" ]; then
        echo /bin/busybox
        return
    fi
    dir=$CACHE/x/busybox-static_$arch
    if [ ! -f "$dir/.ok" ]; then
        rm -rf "$dir"
        mkdir -p "$dir/deb"
        (cd "$dir/deb" && apt_get "$arch" bookworm download "busybox-static:$arch" >&2) ||
            die "apt-get download busybox-static:$arch failed"
        dpkg-deb -x "$dir"/deb/*.deb "$dir"
        touch "$dir/.ok"
    fi
    echo "$dir/bin/busybox"
}

# bpftool_for ARCH: prints "BINARY LIBDIR" of Debian's bpftool for ARCH
# (the host's own and no LIBDIR; for another, bpftool and the libraries it
# needs of that architecture from Debian, unpacked), or nothing when it
# cannot be had: the bpf-lines scenario then skips.
bpftool_for() {
    local arch=$1 dir triple
    if [ "$arch" = "$HOST_ARCH" ]; then
        command -v bpftool || { [ -x /usr/sbin/bpftool ] && echo /usr/sbin/bpftool; } || true
        return
    fi
    dir=$CACHE/x/bpftool_$arch
    triple=$(basename "$(arch_fact "$arch" 6)")
    if [ ! -f "$dir/.ok" ]; then
        rm -rf "$dir"
        mkdir -p "$dir/deb"
        (cd "$dir/deb" && apt_get "$arch" bookworm download "bpftool:$arch" "libelf1:$arch" \
            "zlib1g:$arch" "libcap2:$arch" >&2) || { say "no bpftool for $arch"; return; }
        for deb in "$dir"/deb/*.deb; do dpkg-deb -x "$deb" "$dir"; done
        mkdir -p "$dir/libs"
        cp -a "$dir"/lib/"$triple"/* "$dir"/usr/lib/"$triple"/* "$dir/libs/" 2>/dev/null || true
        touch "$dir/.ok"
    fi
    echo "$dir/usr/sbin/bpftool $dir/libs"
}

# bin_dir ARCH: where cargo puts the release binaries built for ARCH.
bin_dir() {
    if [ "$1" = "$HOST_ARCH" ]; then
        echo "$TARGET/release"
    else
        echo "$TARGET/$(arch_fact "$1" 2)/release"
    fi
}

# build_initramfs ARCH ROOT KVER OUT
build_initramfs() {
    local arch=$1 root=$2 kver=$3 out=$4 stage applet m busybox bins sysroot
    busybox=$(busybox_for "$arch")
    bins=$(bin_dir "$arch")
    sysroot=$(arch_fact "$arch" 6)
    stage=$(mktemp -d "$CACHE/stage.XXXXXX")
    chmod 0755 "$stage" # the guest's /: mktemp made it 0700, shut to `nobody`
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,lib/modules/"$kver"}
    install -m 0755 "$busybox" "$stage/bin/busybox"
    # the applets of this busybox (a foreign one runs under qemu-user;
    # it is static)
    for applet in $(if [ "$arch" = "$HOST_ARCH" ]; then "$busybox" --list-full; else
        "qemu-$(arch_fact "$arch" 2 | cut -d- -f1)" "$busybox" --list-full; fi); do
        [ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
    done
    copy_with_libs "$arch" "$stage" "$bins/ksym" usr/bin/ksym
    copy_with_libs "$arch" "$stage" "$bins/ksym-vmtest" usr/bin/ksym-vmtest
    if [ -x "$bins/ksym-agent" ]; then
        copy_with_libs "$arch" "$stage" "$bins/ksym-agent" usr/bin/ksym-agent
    fi
    # The bpf-lines scenario's program (BPF bytecode, little-endian as
    # both architectures are, built by the host's clang) and its
    # reference, Debian's bpftool of the guest's architecture.
    local bpftool
    read -r -a bpftool <<<"$(bpftool_for "$arch")"
    if [ ${#bpftool[@]} -gt 0 ] && [ -x "${bpftool[0]}" ] && command -v clang >/dev/null; then
        mkdir -p "$stage/usr/share/ksym"
        clang -target bpfel -O2 -g -c "$REPO/crates/ksym-cli/tests/data/bpf/lines.bpf.c" \
            -o "$stage/usr/share/ksym/lines.bpf.o"
        copy_with_libs "$arch" "$stage" "${bpftool[0]}" usr/sbin/bpftool "${bpftool[1]:-}"
    fi
    # debuginfo is most of the release binaries; the guest does not need it
    local strip=strip
    [ "$sysroot" = - ] || strip=$(basename "$sysroot")-strip
    if command -v "$strip" >/dev/null; then
        "$strip" "$stage"/usr/bin/ksym*
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

# boot ARCH NAME VMLINUZ INITRD DISK BOOTNAME EXTRA
boot() {
    local arch=$1 kname=$2 kernel=$3 initrd=$4 disk=$5 bname=$6 extra=$7
    local qemu machine console
    qemu=$(arch_fact "$arch" 3)
    machine=$(arch_fact "$arch" 4)
    console=$(arch_fact "$arch" 5)
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
    # shellcheck disable=SC2086 # $machine is several arguments
    done < <(q=0; timeout "$TIMEOUT" "$qemu" $machine -m 1024 -smp 2 \
        -nographic -no-reboot -monitor none -serial stdio -nic none \
        -kernel "$kernel" -initrd "$initrd" \
        -drive "file=$disk,format=raw,if=none,id=state" -device virtio-blk-pci,drive=state \
        -append "console=$console panic=-1 quiet ksym.boot=$bname $extra" </dev/null 2>&1 || q=$?
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

# build_for ARCH: ksym, ksym-vmtest and libksym built for ARCH (cross for
# another architecture), and go/ksym's example agent over that libksym.a
# (the go-agent scenario; it skips without go).
build_for() {
    local arch=$1 bins target sysroot b
    bins=$(bin_dir "$arch")
    target=$(arch_fact "$arch" 2)
    sysroot=$(arch_fact "$arch" 6)
    local cargo_target=()
    if [ "$arch" != "$HOST_ARCH" ]; then
        rustup target list --installed | grep -qx "$target" || rustup target add "$target" >&2
        cargo_target=(--target "$target")
    fi
    say "building ksym, ksym-vmtest and libksym for $target (cargo build --release ${cargo_target[*]} -p ksym-cli -p ksym-vmtest -p ksym-capi)"
    (cd "$REPO" && cargo build --release "${cargo_target[@]}" -p ksym-cli -p ksym-vmtest -p ksym-capi >&2)
    for b in ksym ksym-vmtest; do
        [ -x "$bins/$b" ] || die "no $bins/$b after the build"
    done
    rm -f "$bins/ksym-agent"
    if ! command -v go >/dev/null; then
        say "no go: the go-agent scenario will skip"
        return
    fi
    say "building ksym-agent for $arch (go build ./cmd/ksym-agent in go/ksym)"
    if [ "$arch" = "$HOST_ARCH" ]; then
        (cd "$REPO/go/ksym" && go build -o "$bins/ksym-agent" ./cmd/ksym-agent >&2)
    else
        # cgo's -L from the environment comes before go/ksym's own
        # (target/release, the host's library)
        (cd "$REPO/go/ksym" && CGO_ENABLED=1 GOOS=linux GOARCH=$arch CC="$(basename "$sysroot")-gcc" \
            CGO_LDFLAGS="-L$bins" go build -o "$bins/ksym-agent" ./cmd/ksym-agent >&2)
    fi
}

main() {
    local want=("$@") entry kname arch suite pkg ver sha dir kver kernel initrd b bname extra archs=()
    [ ${#want[@]} -gt 0 ] || read -r -a want <<<"$ALL_KERNELS"
    for b in "${want[@]}"; do
        case " $ALL_KERNELS " in *" $b "*) ;; *) die "no kernel $b (known: $ALL_KERNELS)" ;; esac
    done
    for entry in "${KERNELS[@]}"; do
        IFS='|' read -r kname arch _ <<<"$entry"
        case " ${want[*]} " in *" $kname "*) ;; *) continue ;; esac
        case " ${archs[*]} " in *" $arch "*) ;; *) archs+=("$arch") ;; esac
    done
    install_deps "${archs[@]}"
    mkdir -p "$CACHE"
    for arch in "${archs[@]}"; do
        build_for "$arch"
    done
    for entry in "${KERNELS[@]}"; do
        IFS='|' read -r kname arch suite pkg ver sha <<<"$entry"
        case " ${want[*]} " in *" $kname "*) ;; *) continue ;; esac
        dir=$(fetch_kernel "$arch" "$suite" "$pkg" "$ver" "$sha")
        kernel=$(ls "$dir"/boot/vmlinuz-* | head -n 1)
        kver=${kernel##*/vmlinuz-}
        initrd=$CACHE/initramfs-$kver.cpio.gz
        say "initramfs for $kver: $initrd"
        build_initramfs "$arch" "$dir" "$kver" "$initrd"
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
            boot "$arch" "$kname" "$kernel" "$initrd" "$disk" "$bname" "$extra"
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
