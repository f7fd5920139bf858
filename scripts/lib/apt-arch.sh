# apt-arch.sh -- sourced: `apt_get ARCH SUITE ARGS...` runs apt-get for
# Debian architecture ARCH and release SUITE (bookworm, bullseye). For the
# host's own architecture and the system's release that is the system's
# apt-get as configured; otherwise an APT configuration of our own under
# $APT_ARCH_ROOT/apt-ARCH (bookworm) or apt-ARCH-SUITE (default
# $HOME/.cache/ksym-vm): Debian SUITE and SUITE-security, checked against
# Debian's archive keyring, `update`d the first time (and again after
# `apt_arch_refresh ARCH SUITE`). The system's APT sources and dpkg
# architectures stay untouched. Needs a function `die MESSAGE`.

APT_ARCH_ROOT=${APT_ARCH_ROOT:-${KSYM_VM_CACHE:-$HOME/.cache/ksym-vm}}
HOST_ARCH=$(dpkg --print-architecture)
HOST_SUITE=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")

# apt_is_system ARCH SUITE: whether the system's own apt-get serves them.
apt_is_system() {
    [ "$1" = "$HOST_ARCH" ] && [ "$2" = "$HOST_SUITE" ]
}

# apt_root ARCH SUITE: the private APT configuration's directory.
apt_root() {
    if [ "$2" = bookworm ]; then
        printf '%s\n' "$APT_ARCH_ROOT/apt-$1"
    else
        printf '%s\n' "$APT_ARCH_ROOT/apt-$1-$2"
    fi
}

apt_get() {
    local arch=$1 suite=$2 root
    shift 2
    if apt_is_system "$arch" "$suite"; then
        apt-get "$@"
        return
    fi
    root=$(apt_root "$arch" "$suite")
    local opts=(-o "Dir::Etc::SourceList=$root/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$root/lists" -o "Dir::Cache=$root/cache" -o Dir::State::status=/dev/null
        -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$root/preferences.d"
        -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o APT::Sandbox::User=root)
    if [ ! -f "$root/lists/.ok" ]; then
        mkdir -p "$root"/{lists/partial,cache/archives/partial,preferences.d}
        local key=/usr/share/keyrings/debian-archive-keyring.gpg
        [ -f "$key" ] || die "no $key (package debian-archive-keyring): cannot check $arch packages"
        printf 'deb [arch=%s signed-by=%s] http://deb.debian.org/%s main\n' \
            "$arch" "$key" "debian $suite" "$arch" "$key" "debian-security $suite-security" >"$root/sources.list"
        apt-get "${opts[@]}" update -qq >&2 || die "apt-get update for $arch ($suite) failed"
        touch "$root/lists/.ok"
    fi
    apt-get "${opts[@]}" "$@"
}

# apt_arch_refresh ARCH SUITE: the next apt_get for them updates its lists first.
apt_arch_refresh() {
    rm -f "$(apt_root "$1" "$2")/lists/.ok"
}
