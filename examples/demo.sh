#!/usr/bin/env bash
# jackin in one command, on a fresh machine:
#   1. busybox-static + the local agent image (no registry needed),
#   2. cargo build --release,
#   3. a FAKE Kimi host login under examples/quickstart/demo-home/kimi (git-ignored),
#   4. jackin apply -f examples/quickstart/jackin.toml  -> container jk-demo-smith,
#   5. the handed-off login as the agent sees it.
# Re-running it is safe: the fake login is kept, and the second apply plans nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "agent image (installs busybox-static when missing)"
bash scripts/agent-image.sh

step "cargo build --release"
cargo build --release
JACKIN="${CARGO_TARGET_DIR:-target}/release/jackin"

LOGIN=examples/quickstart/demo-home/kimi
step "fake Kimi login in $LOGIN"
if [[ ! -f "$LOGIN/credentials/kimi-code.json" ]]; then
    # Obviously fake values; a real login lives in ~/.kimi.
    fake="demo-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    mkdir -p "$LOGIN/credentials"
    chmod 0700 "$LOGIN" "$LOGIN/credentials"
    printf 'default_model = "kimi-k2"\n# FAKE demo login written by examples/demo.sh\n' >"$LOGIN/config.toml"
    printf '{"access_token":"FAKE-%s-access","refresh_token":"FAKE-%s-refresh","expires_at":4102444800}\n' \
        "$fake" "$fake" >"$LOGIN/credentials/kimi-code.json"
    printf 'FAKE-%s-device\n' "$fake" >"$LOGIN/device_id"
    chmod 0600 "$LOGIN/config.toml" "$LOGIN/credentials/kimi-code.json" "$LOGIN/device_id"
fi
ls -la "$LOGIN" "$LOGIN/credentials"

step "$JACKIN apply -f examples/quickstart/jackin.toml"
"$JACKIN" apply -f examples/quickstart/jackin.toml

step "docker exec jk-demo-smith ls -la /jackin/kimi"
docker exec jk-demo-smith ls -la /jackin/kimi

printf '\nNext: edit %s/config.toml and run the apply again, or try\n' "$LOGIN" >&2
printf '  %s plan -f examples/quickstart/jackin.toml\n  %s status -f examples/quickstart/jackin.toml\n' "$JACKIN" "$JACKIN" >&2
