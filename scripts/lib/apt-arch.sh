# apt-arch.sh -- sourced: `apt_get ARCH ARGS...` runs apt-get for Debian
# architecture ARCH. For the host's own architecture that is the system's
# apt-get as configured; for another (arm64 packages on an amd64 host) an
# APT configuration of our own under $APT_ARCH_ROOT/apt-ARCH (default
# $HOME/.cache/ksym-vm): Debian bookworm and bookworm-security, checked
# against Debian's archive keyring, `update`d the first time (and again
# after `apt_arch_refresh ARCH`). The system's APT sources and dpkg
# architectures stay untouched. Needs a function `die MESSAGE`.

APT_ARCH_ROOT=${APT_ARCH_ROOT:-${KSYM_VM_CACHE:-$HOME/.cache/ksym-vm}}
HOST_ARCH=$(dpkg --print-architecture)

apt_get() {
    local arch=$1 root
    shift
    if [ "$arch" = "$HOST_ARCH" ]; then
        apt-get "$@"
        return
    fi
    root=$APT_ARCH_ROOT/apt-$arch
    local opts=(-o "Dir::Etc::SourceList=$root/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$root/lists" -o "Dir::Cache=$root/cache" -o Dir::State::status=/dev/null
        -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$root/preferences.d"
        -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o APT::Sandbox::User=root)
    if [ ! -f "$root/lists/.ok" ]; then
        mkdir -p "$root"/{lists/partial,cache/archives/partial,preferences.d}
        local key=/usr/share/keyrings/debian-archive-keyring.gpg
        [ -f "$key" ] || die "no $key (package debian-archive-keyring): cannot check $arch packages"
        printf 'deb [arch=%s signed-by=%s] http://deb.debian.org/%s main\n' \
            "$arch" "$key" "debian bookworm" "$arch" "$key" "debian-security bookworm-security" >"$root/sources.list"
        apt-get "${opts[@]}" update -qq >&2 || die "apt-get update for $arch failed"
        touch "$root/lists/.ok"
    fi
    apt-get "${opts[@]}" "$@"
}

# apt_arch_refresh ARCH: the next apt_get for ARCH updates its lists first.
apt_arch_refresh() {
    rm -f "$APT_ARCH_ROOT/apt-$1/lists/.ok"
}
