# shellcheck shell=bash
# Shared by the scripts that build jackin's real-client test images
# (scripts/real-kimi-image.sh, scripts/real-clients-image.sh). Source it after
# setting:
#   ME         the script's name, for messages
#   WANT       array of the image tags the caller wants
#   HASH_OF    array of files whose content makes the image label (the script,
#              this helper, anything else baked in)
#
# It provides:
#   - HASH (sha256 over HASH_OF), LABEL, BASE_PATH, CACHE, SUITE, MIRROR, ARCH
#   - log, die, an ERR trap naming the failing line
#   - current_hash TAG, all_current, print_tags
#   - jt_lock NAME: the fast path (every WANT current: print the tags, exit 0)
#     before and after taking the flock /tmp/NAME.<uid>.lock, so several
#     processes can build at once
#   - jt_workdir: WORK (a temp dir under CACHE), SUDO, CONTAINERS and their
#     cleanup at exit (unmounts anything debootstrap left mounted)
#   - new_container PREFIX: a unique build container name, removed at exit
#   - jt_rootfs NAME INCLUDES: the debootstrap minbase rootfs tarball with
#     INCLUDES (comma-separated packages), cached as
#     $CACHE/debian-$SUITE-minbase-NAME-$ARCH.tar; sets ROOTFS_TAR
#   - jt_import TAR TAG: docker import of a rootfs tarball with PATH and LANG
#   - jt_pip_python: PY, a host python with pip (installs python3-pip when
#     none), with pip's version check and prompts off
#   - jt_report: one "ready: TAG (SIZE)" line per WANT, then the tags on stdout

SUITE=trixie
MIRROR="${JACKIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE="${JACKIN_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jackin-test}"
LABEL=jackin.test-image-hash
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HASH="$(cat "${HASH_OF[@]}" | sha256sum | cut -d' ' -f1)"

log() { echo "$ME [${SECONDS}s]: $*" >&2; }
die() { echo "$ME: error: $*" >&2; exit 1; }
trap 'rc=$?; echo "$ME: FAILED (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

command -v docker >/dev/null || die "docker is not installed"

current_hash() {
    docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true
}
all_current() {
    local t
    for t in "${WANT[@]}"; do
        [[ "$(current_hash "$t")" == "$HASH" ]] || return 1
    done
}
print_tags() { printf '%s\n' "${WANT[@]}"; }

jt_lock() { # name
    if all_current; then # fast path, without the lock
        print_tags
        exit 0
    fi
    local lock="/tmp/$1.$(id -u).lock"
    exec 9>"$lock"
    if ! flock -n 9; then
        log "another build holds $lock; waiting"
        flock -w 1800 9 || die "timed out waiting for $lock"
    fi
    if all_current; then # someone else built them while we waited
        print_tags
        exit 0
    fi
    docker info >/dev/null 2>&1 || die "cannot talk to the docker daemon (docker info failed)"
}

if [[ "$(id -u)" == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
case "$(uname -m)" in
    x86_64 | aarch64) ARCH="$(uname -m)" ;;
    *) die "unsupported architecture $(uname -m) (need x86_64 or aarch64)" ;;
esac

CONTAINERS=()
jt_cleanup() {
    local c m
    for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
    [[ -n "${WORK:-}" && -d "$WORK" ]] || return 0
    # debootstrap may leave /proc etc. mounted in the target when it fails:
    # unmount before deleting, and never cross into another file system.
    awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do "${SUDO[@]}" umount -l "$m" || true; done
    "${SUDO[@]}" rm -rf --one-file-system "$WORK" || log "could not remove $WORK"
}
jt_workdir() {
    mkdir -p "$CACHE"
    WORK="$(mktemp -d "$CACHE/tmp.XXXXXX")"
    trap jt_cleanup EXIT
}

new_container() { # name prefix -> unique name, remembered for cleanup
    local name
    name="jackin-test-image-build-$1-$$-$RANDOM"
    CONTAINERS+=("$name")
    echo "$name"
}

jt_rootfs() { # name, comma-separated packages to include
    local name="$1" include="$2" deboot
    ROOTFS_TAR="$CACHE/debian-$SUITE-minbase-$name-$ARCH.tar"
    if [[ -s "$ROOTFS_TAR" ]]; then
        log "using cached rootfs $ROOTFS_TAR"
        return
    fi
    if ! command -v debootstrap >/dev/null && [[ ! -x /usr/sbin/debootstrap ]]; then
        log "installing debootstrap"
        "${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq debootstrap >&2 \
            || die "cannot install debootstrap"
    fi
    deboot="$(command -v debootstrap || echo /usr/sbin/debootstrap)"
    [[ -e "/usr/share/debootstrap/scripts/$SUITE" ]] \
        || die "this debootstrap does not know $SUITE; upgrade it"
    log "debootstrap $SUITE ($include) into $WORK/rootfs (about a minute)"
    if ! "${SUDO[@]}" "$deboot" --variant=minbase --include="$include" \
        "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
        tail -n 30 "$WORK/debootstrap.log" >&2
        [[ -f "$WORK/rootfs/debootstrap/debootstrap.log" ]] \
            && tail -n 30 "$WORK/rootfs/debootstrap/debootstrap.log" >&2
        die "debootstrap $SUITE from $MIRROR failed (log above)"
    fi
    [[ -x "$WORK/rootfs/usr/bin/python3" ]] || die "debootstrap produced no /usr/bin/python3"
    log "trimming the rootfs"
    "${SUDO[@]}" sh -c 'cd "$1" && rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin \
        var/lib/apt/lists/* usr/share/doc/* usr/share/man/* usr/share/info/* \
        usr/share/locale/* var/log/*.log var/cache/debconf/*-old debootstrap' sh "$WORK/rootfs"
    # /dev, /proc and /sys are provided by docker; device nodes do not belong in a layer.
    "${SUDO[@]}" tar -C "$WORK/rootfs" --numeric-owner \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$WORK/rootfs.tar" .
    "${SUDO[@]}" chown "$(id -u):$(id -g)" "$WORK/rootfs.tar"
    mv -f "$WORK/rootfs.tar" "$ROOTFS_TAR"
    "${SUDO[@]}" rm -rf --one-file-system "$WORK/rootfs"
    log "cached rootfs $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1))"
}

jt_pip_python() {
    PY=""
    local p
    for p in python3 python; do
        if command -v "$p" >/dev/null && "$p" -m pip --version >/dev/null 2>&1; then
            PY="$p"
            break
        fi
    done
    if [[ -z "$PY" ]]; then
        log "installing python3-pip"
        "${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq python3-pip >&2 \
            || die "cannot install python3-pip"
        PY=python3
    fi
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
}

jt_import() { # tarball, tag
    docker import \
        --change "ENV PATH=$BASE_PATH" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        "$1" "$2" >/dev/null || die "docker import $1 failed"
}

jt_report() {
    local t
    for t in "${WANT[@]}"; do
        log "ready: $t ($(docker image inspect -f '{{.Size}}' "$t" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
    done
    print_tags
}
