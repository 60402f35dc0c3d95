#!/usr/bin/env bash
# Build the local images holding the REAL Claude Code and Codex CLIs that jackin's
# integration tests launch (tests/it/real_claude.rs, tests/it/real_codex.rs).
#
#   scripts/real-clients-image.sh [claude|codex|all|base]      (default: all)
#
# Prints the tag of each requested image on stdout, one per line, claude first
# (`base`: the shared base alone, whose /etc/jackin-test the kimi tests copy).
#
#   claude  $JACKIN_REAL_CLAUDE_IMAGE (default jackin-real-claude:2.1.332)
#           /usr/local/bin/claude: the Claude Code CLI bundled in the
#           claude-agent-sdk==0.2.189 wheel (claude_agent_sdk/_bundled/claude).
#   codex   $JACKIN_REAL_CODEX_IMAGE (default jackin-real-codex:0.163.0)
#           /opt/codex: the openai-codex-cli-bin==0.163.0 package directory as the
#           wheel lays it out (bin/codex, bin/codex-code-mode-host,
#           codex-resources/bwrap, codex-path/rg, codex-package.json: codex finds
#           its resources next to its own executable); /usr/local/bin/codex links
#           to bin/codex and codex-path is on PATH (codex runs `rg`).
#   Both share $JACKIN_REAL_CLIENTS_BASE_IMAGE (default jackin-real-clients-base:test):
#           Debian trixie minbase with ca-certificates, procps (codex's TUI runs
#           `ps`) and python3 (for the fake provider, tests/fake-provider/), user
#           agent (1000:1000, home /home/agent), and a throwaway test CA:
#             /etc/jackin-test/ca.pem     the CA certificate (hand it to the clients:
#                                         NODE_EXTRA_CA_CERTS, CODEX_CA_CERTIFICATE,
#                                         SSL_CERT_FILE)
#             /etc/jackin-test/leaf.pem   one server certificate for every provider
#             /etc/jackin-test/leaf.key   host the clients contact (its key; test-only)
#           The CA and leaf are generated here at build time (openssl on the host);
#           the CA's private key is thrown away once the leaf is signed. Nothing of
#           it is committed. Final images run as USER agent in WORKDIR /home/agent.
#
# No container registry is reachable, so the root filesystem is made with
# debootstrap and loaded with `docker import` (scripts/test-image-lib.sh, shared
# with scripts/real-kimi-image.sh); the wheels come from PyPI (pip download on
# the host) and only the binaries are taken out of them.
#
# Caches under $JACKIN_TEST_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/jackin-test):
# the rootfs tarball and the two wheels, so rebuilding after `docker rmi` needs
# no network. Delete them to refetch.
#
# Idempotent: every image carries the label jackin.test-image-hash=<sha256 of
# this script and scripts/test-image-lib.sh>; images that already have it are not
# rebuilt. Safe to run from several processes at once (flock). Needs root (or
# sudo) only for debootstrap.
set -euo pipefail

CLAUDE_SDK_VERSION=0.2.189 # bundles Claude Code 2.1.332
CLAUDE_VERSION=2.1.332
CODEX_VERSION=0.163.0

CLAUDE_TAG="${JACKIN_REAL_CLAUDE_IMAGE:-jackin-real-claude:$CLAUDE_VERSION}"
CODEX_TAG="${JACKIN_REAL_CODEX_IMAGE:-jackin-real-codex:$CODEX_VERSION}"
BASE_TAG="${JACKIN_REAL_CLIENTS_BASE_IMAGE:-jackin-real-clients-base:test}"

# Every name a client of these tests contacts (or may): one leaf certificate for all.
PROVIDER_HOSTS=(
    anthropic.com '*.anthropic.com' claude.ai '*.claude.ai' claude.com '*.claude.com'
    statsig.com '*.statsig.com' featuregates.org '*.featuregates.org' sentry.io '*.sentry.io'
    '*.ingest.sentry.io' '*.ingest.us.sentry.io' datadoghq.com '*.datadoghq.com'
    storage.googleapis.com registry.npmjs.org
    openai.com '*.openai.com' chatgpt.com '*.chatgpt.com'
    kimi.com '*.kimi.com' moonshot.ai '*.moonshot.ai' moonshot.cn '*.moonshot.cn'
    localhost
)

ME=real-clients-image.sh
HERE="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
PROVIDER="$HERE/../tests/fake-provider/provider.py"
HASH_OF=("$HERE/$ME" "$HERE/test-image-lib.sh" "$PROVIDER")

case "${1:-all}" in
    claude) WANT=("$CLAUDE_TAG") ;;
    codex) WANT=("$CODEX_TAG") ;;
    all) WANT=("$CLAUDE_TAG" "$CODEX_TAG") ;;
    base) WANT=("$BASE_TAG") ;; # the CA and provider certificate alone (for the kimi images)
    *) echo "usage: $0 [claude|codex|all|base]" >&2; exit 1 ;;
esac

# shellcheck source=scripts/test-image-lib.sh
source "$HERE/test-image-lib.sh"
jt_lock jackin-real-clients-image
jt_workdir
command -v openssl >/dev/null || die "openssl is not installed (it makes the test CA)"

# ---------------------------------------------------------------------------
# 1. Debian trixie rootfs tarball (cached)
# ---------------------------------------------------------------------------
jt_rootfs clients python3,ca-certificates,procps

# ---------------------------------------------------------------------------
# 2. The wheels (cached)
# ---------------------------------------------------------------------------
WHEELS="$CACHE/wheels-real-clients"
wheel() { # distribution name (as in the file name), version, pip requirement -> path
    local f
    f="$(find "$WHEELS" -maxdepth 1 -name "$1-$2-*$ARCH.whl" 2>/dev/null | head -n 1)"
    if [[ -z "$f" ]]; then
        jt_pip_python
        mkdir -p "$WHEELS"
        log "downloading $3 (PyPI)"
        "$PY" -m pip download -q --no-deps --only-binary=:all: \
            --platform "manylinux_2_17_$ARCH" --python-version 3.13 "$3" -d "$WORK/dl" >&2 \
            || die "pip download $3 failed (is PyPI reachable?)"
        f="$(find "$WORK/dl" -maxdepth 1 -name "$1-$2-*.whl" | head -n 1)"
        [[ -n "$f" ]] || die "pip download $3 gave no $1-$2-*.whl"
        mv -f "$f" "$WHEELS/"
        f="$WHEELS/$(basename "$f")"
    fi
    echo "$f"
}
unzip_wheel() { # wheel, member prefix, destination dir
    "${PYTHON:-python3}" - "$@" <<'PY'
import os, sys, zipfile
whl, prefix, dest = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
    if not names:
        sys.exit(f"{whl} has nothing under {prefix}")
    for n in names:
        out = os.path.join(dest, n[len(prefix):])
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(n) as src, open(out, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.chmod(out, 0o755 if "/bin/" in "/" + n or n.endswith(("/claude", "/bwrap", "/rg")) else 0o644)
PY
}

# ---------------------------------------------------------------------------
# 3. Base image: rootfs + user agent + throwaway CA and leaf certificate
# ---------------------------------------------------------------------------
if [[ "$(current_hash "$BASE_TAG")" == "$HASH" ]]; then
    log "using base image $BASE_TAG"
else
    log "making the throwaway test CA and the provider certificate"
    mkdir -p "$WORK/pki"
    (
        cd "$WORK/pki"
        umask 077
        san=""
        for h in "${PROVIDER_HOSTS[@]}"; do san+="DNS:$h,"; done
        san+="IP:127.0.0.1"
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout ca.key -out ca.pem -days 3650 -subj "/CN=jackin test throwaway CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout leaf.key -out leaf.csr -subj "/CN=jackin test fake provider" 2>/dev/null
        printf '%s\n' "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
            "subjectAltName=$san" "authorityKeyIdentifier=keyid" >leaf.ext
        openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -days 3650 -extfile leaf.ext -out leaf.pem 2>/dev/null
        openssl verify -CAfile ca.pem leaf.pem >/dev/null
        rm -f ca.key ca.srl leaf.csr leaf.ext
    ) || die "making the test certificates failed"

    ROOTFS_IMAGE="jackin-real-clients-rootfs:build-$$"
    log "importing the rootfs"
    jt_import "$ROOTFS_TAR" "$ROOTFS_IMAGE"
    C="$(new_container base)"
    docker create --name "$C" --network none --user 0 "$ROOTFS_IMAGE" sh -euc '
        groupadd -g 1000 agent
        useradd -m -u 1000 -g 1000 -d /home/agent -s /bin/bash agent
        chown -R 0:0 /etc/jackin-test
        chmod 0755 /etc/jackin-test
        chmod 0644 /etc/jackin-test/*
        python3 -c "import ssl; ssl.create_default_context().load_cert_chain(\"/etc/jackin-test/leaf.pem\", \"/etc/jackin-test/leaf.key\")"
        ps -p 1 >/dev/null
        rm -rf /tmp/* /var/tmp/*
    ' >/dev/null
    docker cp "$WORK/pki/." "$C:/etc/jackin-test" || die "docker cp of the certificates failed"
    docker start -a "$C" >&2 || die "preparing the base image failed (output above)"
    docker commit \
        --change "LABEL $LABEL=$HASH" \
        --message "jackin real clients base (scripts/$ME)" \
        "$C" "$BASE_TAG" >/dev/null || die "docker commit $BASE_TAG failed"
    docker rm -f "$C" >/dev/null
    docker rmi "$ROOTFS_IMAGE" >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------------------
# 4. The clients
# ---------------------------------------------------------------------------
# The client's own binary moves to /usr/local/libexec/jackin-real/NAME; /usr/local/bin/NAME
# becomes this wrapper, which execs it with the same arguments. With FAKE_PROVIDER set in the
# container's env (tests/it/common/provider.rs), it first starts the fake provider on the
# container's 127.0.0.1 and waits until it listens: the clients contact their provider as
# they start, before a test could `docker exec` anything. FAKE_PROVIDER_SPENT names a refresh
# token another holder already used.
stage_wrapper() { # staging dir, client name
    local stage="$1" name="$2"
    mkdir -p "$stage/usr/local/lib/jackin-test" "$stage/usr/local/bin"
    cp "$PROVIDER" "$stage/usr/local/lib/jackin-test/provider.py"
    cat >"$stage/usr/local/bin/$name" <<WRAPPER
#!/bin/sh
# jackin test image (scripts/$ME): the real $name, after the fake provider when asked.
ready=/tmp/jackin-fake-provider.ready
if [ -n "\$FAKE_PROVIDER" ] && ! kill -0 "\$(cat \$ready 2>/dev/null)" 2>/dev/null; then
    rm -f \$ready
    python3 /usr/local/lib/jackin-test/provider.py --port 8443 \\
        --log /tmp/jackin-fake-provider.jsonl --ready \$ready \\
        \${FAKE_PROVIDER_SPENT:+--spent-refresh-token "\$FAKE_PROVIDER_SPENT"} \\
        >/tmp/jackin-fake-provider.out 2>&1 &
    i=0
    while [ ! -e \$ready ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
fi
exec /usr/local/libexec/jackin-real/$name "\$@"
WRAPPER
    chmod 0755 "$stage/usr/local/bin/$name"
}

build_client() { # tag, staging dir (copied to /), PATH, check command
    local tag="$1" stage="$2" path="$3" check="$4" c
    c="$(new_container client)"
    docker create --name "$c" --network none --user 0 -e "PATH=$path" "$BASE_TAG" \
        sh -euc "$check" >/dev/null
    docker cp "$stage/." "$c:/" || die "docker cp into $tag failed"
    docker start -a "$c" >&2 || die "checking the client in $tag failed (output above)"
    docker commit \
        --change "ENV PATH=$path" \
        --change 'USER agent' \
        --change 'WORKDIR /home/agent' \
        --change 'CMD ["/bin/bash"]' \
        --change "LABEL $LABEL=$HASH" \
        --message "jackin real client test image (scripts/$ME)" \
        "$c" "$tag" >/dev/null || die "docker commit $tag failed"
    docker rm -f "$c" >/dev/null
    [[ "$(current_hash "$tag")" == "$HASH" ]] || die "built $tag but its $LABEL label is not $HASH"
}

for t in "${WANT[@]}"; do
    if [[ "$(current_hash "$t")" == "$HASH" ]]; then
        log "$t is current"
        continue
    fi
    stage="$WORK/stage-$RANDOM"
    case "$t" in
        "$CLAUDE_TAG")
            whl="$(wheel claude_agent_sdk "$CLAUDE_SDK_VERSION" "claude-agent-sdk==$CLAUDE_SDK_VERSION")"
            log "building $t from $(basename "$whl")"
            unzip_wheel "$whl" claude_agent_sdk/_bundled/ "$stage/usr/local/libexec/jackin-real"
            stage_wrapper "$stage" claude
            build_client "$t" "$stage" "$BASE_PATH" \
                "v=\$(claude --version); echo \"\$v\"; case \"\$v\" in $CLAUDE_VERSION*) ;; *) exit 1 ;; esac"
            ;;
        "$CODEX_TAG")
            whl="$(wheel openai_codex_cli_bin "$CODEX_VERSION" "openai-codex-cli-bin==$CODEX_VERSION")"
            log "building $t from $(basename "$whl")"
            unzip_wheel "$whl" codex_cli_bin/ "$stage/opt/codex"
            rm -f "$stage/opt/codex/__init__.py"
            mkdir -p "$stage/usr/local/libexec/jackin-real"
            ln -s /opt/codex/bin/codex "$stage/usr/local/libexec/jackin-real/codex"
            stage_wrapper "$stage" codex
            build_client "$t" "$stage" "/opt/codex/codex-path:$BASE_PATH" \
                "v=\$(codex --version); echo \"\$v\"; case \"\$v\" in *$CODEX_VERSION*) ;; *) exit 1 ;; esac; rg --version >/dev/null"
            ;;
    esac
    rm -rf "$stage"
done

jt_report
