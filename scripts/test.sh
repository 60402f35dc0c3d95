#!/usr/bin/env bash
# The one command that runs jackin's whole test suite on a fresh machine:
# busybox-static, a Docker engine that answers, the local agent image, the images with the
# real Kimi CLI, Claude Code and Codex (debootstrap + PyPI), then
# the module-cycle and function-length checks, cargo fmt --check, clippy (warnings are errors) and every test
# target.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }
if [[ "$(id -u)" == 0 ]]; then SUDO=(); else SUDO=(sudo); fi

step "Docker engine"
if ! docker info >/dev/null 2>&1; then
    echo "docker does not answer; starting the engine" >&2
    "${SUDO[@]}" service docker start >&2 || true
    deadline=$((SECONDS + 30))
    until docker info >/dev/null 2>&1 || ((SECONDS >= deadline)); do sleep 0.5; done
    if ! docker info >/dev/null 2>&1 && command -v dockerd >/dev/null; then
        echo "service docker start did not help; running dockerd directly (log: /tmp/dockerd.log)" >&2
        "${SUDO[@]}" nohup dockerd >/tmp/dockerd.log 2>&1 &
        deadline=$((SECONDS + 60))
        until docker info >/dev/null 2>&1 || ((SECONDS >= deadline)); do sleep 0.5; done
    fi
    if ! docker info >/dev/null 2>&1; then
        echo "error: the Docker engine does not answer (docker info). Start it and retry." >&2
        tail -20 /tmp/dockerd.log 2>/dev/null >&2 || true
        exit 1
    fi
fi
docker version --format 'engine {{.Server.Version}} (API {{.Server.APIVersion}})'

step "second engine for the remote handoff tests (scripts/second-engine.sh; stopped on exit)"
bash scripts/second-engine.sh start >/dev/null
trap 'bash scripts/second-engine.sh stop' EXIT

step "test agent image (installs busybox-static when missing)"
bash scripts/agent-image.sh --test

step "real Kimi CLI images (debootstrap + PyPI; about two minutes the first time, cached by tag)"
bash scripts/real-kimi-image.sh all

step "real Claude Code and Codex images (debootstrap + PyPI wheels + a throwaway CA; about three minutes the first time, cached by tag)"
bash scripts/real-clients-image.sh all

JOBS="${CARGO_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

step "no dependency cycle between top-level modules (scripts/module-cycles.py)"
python3 scripts/module-cycles.py

step "no non-test function over 60 lines (scripts/long-fns.py)"
python3 scripts/long-fns.py

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy -j "$JOBS" --all-targets -- -D warnings

step "cargo test --all-targets"
cargo test -j "$JOBS" --no-fail-fast --all-targets

step "all checks passed"
