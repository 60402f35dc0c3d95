#!/usr/bin/env bash
# Build the local images holding the REAL Kimi CLI (kimi-cli from PyPI) that
# jackin's integration tests use.
#
#   scripts/real-kimi-image.sh [kimi|kimi-code|all]      (default: all)
#
# Prints the tag of each requested image on stdout, one per line, kimi first.
#
#   kimi       $JACKIN_REAL_KIMI_IMAGE       (default jackin-real-kimi:1.52.0)
#              /usr/local/bin/kimi is a recorder (see below).
#   kimi-code  $JACKIN_REAL_KIMI_CODE_IMAGE  (default jackin-real-kimi-code:test)
#              The recorder is /home/agent/.kimi-code/bin/kimi (owned by agent,
#              first on PATH), as the Kimi Code installer lays it out; there is
#              no /usr/local/bin/kimi.
#   Both share  $JACKIN_REAL_KIMI_BASE_IMAGE (default jackin-real-kimi-base:1.52.0):
#              Debian trixie (python3 3.13), a venv at /opt/kimi with
#              kimi-cli==1.52.0, user agent (1000:1000, home /home/agent).
#              Final images run as USER agent in WORKDIR /home/agent.
#
# The recorder stands in for the agent binary (kimi-cli's own entry point only
# prints a deprecation notice and exits): it prints "kimi-recorder: <path>"
# and then each argument on its own line to stdout (so `docker logs` shows
# them), writes "kimi" and the arguments, one per line, to /tmp/agent.args
# (the format of scripts/agent-image.sh), then sleeps forever.
# The real package stays importable: /opt/kimi/bin/python -c 'import kimi_cli.config'.
#
# No container registry is reachable, so the root filesystem is made with
# debootstrap and loaded with `docker import`; the Python packages come from
# a wheelhouse downloaded on the host (pip) and are installed offline.
#
# Caches under $JACKIN_TEST_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/jackin-test):
# the debootstrap rootfs tarball and the wheelhouse, so rebuilding after
# `docker rmi` needs no network. Delete them to refetch.
#
# Idempotent: every image carries the label jackin.test-image-hash=<sha256 of
# this script and scripts/test-image-lib.sh>; images that already have it are not rebuilt. Safe to run from
# several processes at once (flock). Needs root (or sudo) only for debootstrap.
set -euo pipefail

KIMI_CLI_VERSION=1.52.0
RIPGREPY_VERSION=2.2.0 # kimi-cli 1.52.0 pins ripgrepy==2.2.0, which only has an sdist
PY_VERSION=3.13        # trixie's python3

KIMI_TAG="${JACKIN_REAL_KIMI_IMAGE:-jackin-real-kimi:$KIMI_CLI_VERSION}"
CODE_TAG="${JACKIN_REAL_KIMI_CODE_IMAGE:-jackin-real-kimi-code:test}"
BASE_TAG="${JACKIN_REAL_KIMI_BASE_IMAGE:-jackin-real-kimi-base:$KIMI_CLI_VERSION}"

ME=real-kimi-image.sh
HERE="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
HASH_OF=("$HERE/$ME" "$HERE/test-image-lib.sh")

case "${1:-all}" in
    kimi) WANT=("$KIMI_TAG") ;;
    kimi-code) WANT=("$CODE_TAG") ;;
    all) WANT=("$KIMI_TAG" "$CODE_TAG") ;;
    *) echo "usage: $0 [kimi|kimi-code|all]" >&2; exit 1 ;;
esac

# shellcheck source=scripts/test-image-lib.sh
source "$HERE/test-image-lib.sh"
jt_lock jackin-real-kimi-image
jt_workdir

# ---------------------------------------------------------------------------
# 1. Debian trixie rootfs tarball (cached)
# ---------------------------------------------------------------------------
jt_rootfs python3 python3,python3-venv

# ---------------------------------------------------------------------------
# 2. Wheelhouse for kimi-cli (cached)
# ---------------------------------------------------------------------------
WHEELHOUSE="$CACHE/wheelhouse-kimi-cli-$KIMI_CLI_VERSION-cp${PY_VERSION/./}-$ARCH"
if [[ -f "$WHEELHOUSE/.complete" ]]; then
    log "using cached wheelhouse $WHEELHOUSE"
else
    jt_pip_python
    WH="$WORK/wheelhouse"
    mkdir -p "$WH"
    log "building the ripgrepy==$RIPGREPY_VERSION wheel (sdist only on PyPI)"
    "$PY" -m pip wheel -q --no-deps "ripgrepy==$RIPGREPY_VERSION" -w "$WH" >&2 \
        || die "pip wheel ripgrepy==$RIPGREPY_VERSION failed (is PyPI reachable?)"
    PLATFORMS=()
    for p in manylinux2014 manylinux_2_17 manylinux_2_28 manylinux_2_34 manylinux1 manylinux_2_5; do
        PLATFORMS+=(--platform "${p}_$ARCH")
    done
    log "downloading kimi-cli==$KIMI_CLI_VERSION and its dependencies for CPython $PY_VERSION"
    "$PY" -m pip download -q --python-version "$PY_VERSION" --implementation cp \
        --only-binary=:all: "${PLATFORMS[@]}" --find-links "$WH" -d "$WH" \
        "kimi-cli==$KIMI_CLI_VERSION" 'lxml[html-clean]' >&2 \
        || die "pip download of kimi-cli==$KIMI_CLI_VERSION failed (is PyPI reachable?)"
    touch "$WH/.complete"
    rm -rf "$WHEELHOUSE"
    mv -T "$WH" "$WHEELHOUSE"
    log "cached wheelhouse $WHEELHOUSE ($(ls "$WHEELHOUSE" | wc -l) wheels, $(du -sh "$WHEELHOUSE" | cut -f1))"
fi

# ---------------------------------------------------------------------------
# 3. Base image: rootfs + /opt/kimi venv + user agent
# ---------------------------------------------------------------------------
if [[ "$(current_hash "$BASE_TAG")" == "$HASH" ]]; then
    log "using base image $BASE_TAG"
else
    ROOTFS_IMAGE="jackin-real-kimi-rootfs:build-$$"
    log "importing the rootfs"
    jt_import "$ROOTFS_TAR" "$ROOTFS_IMAGE"

    log "installing kimi-cli==$KIMI_CLI_VERSION into /opt/kimi (offline, from the wheelhouse)"
    C="$(new_container base)"
    docker create --name "$C" --network none --user 0 "$ROOTFS_IMAGE" sh -euc "
        python3 -m venv /opt/kimi
        /opt/kimi/bin/pip install -q --no-cache-dir --disable-pip-version-check \
            --no-index --find-links /wheelhouse 'kimi-cli==$KIMI_CLI_VERSION'
        /opt/kimi/bin/python -c 'import kimi_cli.config, kimi_cli.auth.oauth, kimi_cli.llm'
        groupadd -g 1000 agent
        useradd -m -u 1000 -g 1000 -d /home/agent -s /bin/bash agent
        rm -rf /wheelhouse /root/.cache /tmp/* /var/tmp/*
    " >/dev/null
    docker cp "$WHEELHOUSE/." "$C:/wheelhouse" || die "docker cp of the wheelhouse failed"
    docker start -a "$C" >&2 || die "installing kimi-cli in the container failed (output above)"
    docker commit \
        --change "LABEL $LABEL=$HASH" \
        --message "jackin real kimi-cli $KIMI_CLI_VERSION base (scripts/$ME)" \
        "$C" "$BASE_TAG" >/dev/null || die "docker commit $BASE_TAG failed"
    docker rm -f "$C" >/dev/null
    docker rmi "$ROOTFS_IMAGE" >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------------------
# 4. The two variants: where the recorder lives
# ---------------------------------------------------------------------------
cat >"$WORK/kimi" <<'RECORDER'
#!/bin/sh
# Stand-in for the kimi binary in jackin's real-Kimi test images (scripts/real-kimi-image.sh):
# record how it was launched, then idle. The real kimi-cli package is in /opt/kimi.
printf 'kimi-recorder: %s\n' "$0"
for a in "$@"; do printf '%s\n' "$a"; done
{ echo kimi; for a in "$@"; do printf '%s\n' "$a"; done; } >/tmp/agent.args 2>/dev/null || true
exec sleep infinity
RECORDER
chmod 0755 "$WORK/kimi"

build_variant() { # tag, path of the recorder inside the image, PATH
    local tag="$1" dest="$2" path="$3" c
    if [[ "$(current_hash "$tag")" == "$HASH" ]]; then
        log "$tag is current"
        return
    fi
    log "building $tag (recorder at $dest)"
    c="$(new_container variant)"
    docker create --name "$c" --network none --user 0 "$BASE_TAG" sh -euc '
        dest="$1"; dir="$(dirname "$dest")"
        case "$dest" in
            /home/agent/*)
                install -d -o 1000 -g 1000 -m 0755 "$(dirname "$dir")" "$dir"
                install -o 1000 -g 1000 -m 0755 /tmp/kimi-recorder "$dest" ;;
            *) install -o 0 -g 0 -m 0755 /tmp/kimi-recorder "$dest" ;;
        esac
        rm -f /tmp/kimi-recorder
    ' sh "$dest" >/dev/null
    docker cp "$WORK/kimi" "$c:/tmp/kimi-recorder"
    docker start -a "$c" >&2 || die "installing the recorder in $tag failed"
    docker commit \
        --change "ENV PATH=$path" \
        --change 'USER agent' \
        --change 'WORKDIR /home/agent' \
        --change 'CMD ["/bin/bash"]' \
        --change "LABEL $LABEL=$HASH" \
        --message "jackin real kimi-cli $KIMI_CLI_VERSION test image (scripts/$ME)" \
        "$c" "$tag" >/dev/null || die "docker commit $tag failed"
    docker rm -f "$c" >/dev/null
    [[ "$(current_hash "$tag")" == "$HASH" ]] || die "built $tag but its $LABEL label is not $HASH"
}

for t in "${WANT[@]}"; do
    case "$t" in
        "$KIMI_TAG") build_variant "$t" /usr/local/bin/kimi "$BASE_PATH" ;;
        "$CODE_TAG") build_variant "$t" /home/agent/.kimi-code/bin/kimi "/home/agent/.kimi-code/bin:$BASE_PATH" ;;
    esac
done

jt_report
