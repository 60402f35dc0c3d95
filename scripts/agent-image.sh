#!/usr/bin/env bash
# Build the tiny local agent image the integration tests and the demo run.
#
#   scripts/agent-image.sh [TAG]        (default: jackin-demo-agent:latest)
#   scripts/agent-image.sh --test       (the integration tests' tag, below)
#
# --test tags it jackin-test-agent:<first 12 hex of the sha256 of this script>:
# the tests use that tag, so checkouts with different versions of this script
# (worktrees testing side by side on one engine) each get their own image
# instead of rebuilding one tag under each other's running tests.
#
# No container registry is reachable, so the image is assembled from a rootfs
# made of Debian's busybox-static and loaded with `docker import`.
# It holds fake agents (kimi, claude, codex, amp, opencode, grok): each records
# its name and arguments, one per line, in /tmp/agent.args and on its terminal
# (so `jackin logs` shows them), then sleeps forever. With FAKE_AGENT_ECHO set in
# its env it answers each line typed on its terminal instead: `size` with
# "agent size: ROWS COLS", anything else with "agent got: LINE". With
# FAKE_AGENT_EXIT=CODE it writes FAKE_AGENT_SAY (printf %b: \033 is ESC) and exits
# with CODE at once, like an agent that cannot run as launched. Run as
# `AGENT login …` or `AGENT auth login …` (what `jackin login` runs), it writes a
# login of its own where the real agent keeps it (kimi: $KIMI_SHARE_DIR/credentials/
# kimi-code.json, claude: $CLAUDE_CONFIG_DIR/.credentials.json, codex:
# $CODEX_HOME/auth.json), prints "AGENT logged in" and exits with $FAKE_LOGIN_EXIT
# (default 0).
#
# Idempotent: the image carries the label jackin.test-image-hash=<sha256 of this
# script>; when TAG already has that label nothing is rebuilt. Safe to run from
# several processes at once (flock). Prints the tag on stdout.
set -euo pipefail

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
HASH="$(sha256sum "$SELF" | cut -d' ' -f1)"
if [[ "${1:-}" == --test ]]; then
    TAG="jackin-test-agent:${HASH:0:12}"
else
    TAG="${1:-jackin-demo-agent:latest}"
fi
LABEL=jackin.test-image-hash

current_hash() {
    docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$TAG" 2>/dev/null || true
}

# Fast path, without the lock.
if [[ "$(current_hash)" == "$HASH" ]]; then
    echo "$TAG"
    exit 0
fi

LOCK="/tmp/jackin-agent-image.$(printf '%s' "$TAG" | sha256sum | cut -c1-12).lock"
exec 9>"$LOCK"
flock -w 300 9 || { echo "agent-image.sh: timed out waiting for $LOCK" >&2; exit 1; }

# Someone else may have built it while we waited.
if [[ "$(current_hash)" == "$HASH" ]]; then
    echo "$TAG"
    exit 0
fi

if [[ ! -x /bin/busybox ]]; then
    echo "agent-image.sh: installing busybox-static" >&2
    if [[ "$(id -u)" == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq busybox-static >&2
fi
# A dynamically linked busybox (package `busybox`) would not run in an empty rootfs.
if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' \
    && ! (ldd /bin/busybox 2>&1 | grep -q 'not a dynamic executable'); then
    echo "agent-image.sh: /bin/busybox is not statically linked; install busybox-static" >&2
    exit 1
fi

WORK="$(mktemp -d /tmp/jackin-agent-image.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"
mkdir -p "$ROOT"/{bin,etc,root,tmp,proc,sys,dev,home/agent,usr/local/bin,workspace}
chmod 0755 "$ROOT"/{bin,etc,proc,sys,dev,home,usr,usr/local,usr/local/bin,workspace}
chmod 0700 "$ROOT/root"
chmod 0755 "$ROOT/home/agent"
chmod 1777 "$ROOT/tmp"

cp /bin/busybox "$ROOT/bin/busybox"
chmod 0755 "$ROOT/bin/busybox"
APPLETS=(sh sleep cat ls stat sha256sum find echo id env test printf mkdir rm mv
    touch ps readlink head wc grep sed true false kill tail cp ln chmod chown
    uname hostname date sort tr cut basename dirname whoami xargs stty)
for a in "${APPLETS[@]}"; do
    ln -s busybox "$ROOT/bin/$a"
done
ln -s test "$ROOT/bin/["

cat >"$ROOT/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
agent:x:1000:1000:agent:/home/agent:/bin/sh
PASSWD
cat >"$ROOT/etc/group" <<'GROUP'
root:x:0:
agent:x:1000:
GROUP
chmod 0644 "$ROOT/etc/passwd" "$ROOT/etc/group"

for agent in kimi claude codex amp opencode grok; do
    cat >"$ROOT/usr/local/bin/$agent" <<AGENT
#!/bin/sh
# Fake $agent for jackin's tests: record how it was launched, then idle (or, with
# FAKE_AGENT_ECHO set, answer what is typed on its terminal).
args() { echo $agent; for a in "\$@"; do printf '%s\n' "\$a"; done; }
if [ "\$1" = login ] || [ "\$1 \$2" = "auth login" ]; then
    case $agent in
        kimi) f="\$KIMI_SHARE_DIR/credentials/kimi-code.json" ;;
        claude) f="\$CLAUDE_CONFIG_DIR/.credentials.json" ;;
        codex) f="\$CODEX_HOME/auth.json" ;;
        *) f="\$HOME/.$agent-login.json" ;;
    esac
    mkdir -p "\$(dirname "\$f")"
    echo '{"access_token":"own-access","refresh_token":"own-refresh"}' >"\$f"
    echo "$agent logged in"
    exit "\${FAKE_LOGIN_EXIT:-0}"
fi
args "\$@" >/tmp/agent.args
args "\$@"
if [ -n "\$FAKE_AGENT_EXIT" ]; then
    printf '%b\n' "\$FAKE_AGENT_SAY"
    exit "\$FAKE_AGENT_EXIT"
fi
if [ -n "\$FAKE_AGENT_ECHO" ]; then
    while IFS= read -r line; do
        if [ "\$line" = size ]; then
            echo "agent size: \$(stty size)"
        else
            echo "agent got: \$line"
        fi
    done
fi
exec sleep infinity
AGENT
    chmod 0755 "$ROOT/usr/local/bin/$agent"
done

# Ownership is set in the archive, so no root is needed to build it:
# everything is root's except /home/agent, which is agent's.
TAR="$WORK/rootfs.tar"
tar -C "$ROOT" --numeric-owner --owner=0 --group=0 --exclude=./home/agent -cf "$TAR" .
tar -C "$ROOT" --numeric-owner --owner=1000 --group=1000 -rf "$TAR" ./home/agent

docker import \
    --change 'ENV PATH=/usr/local/bin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    --change "LABEL $LABEL=$HASH" \
    --message "jackin test agent image (scripts/agent-image.sh)" \
    "$TAR" "$TAG" >/dev/null

if [[ "$(current_hash)" != "$HASH" ]]; then
    echo "agent-image.sh: imported $TAG but its $LABEL label is not $HASH" >&2
    exit 1
fi
echo "$TAG"
