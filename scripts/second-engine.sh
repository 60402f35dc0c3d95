#!/usr/bin/env bash
# A second Docker engine on this machine standing in for a remote host (issue 18, SPEC v3 §9).
#
#   scripts/second-engine.sh start      idempotent; prints the DOCKER_HOST values to use
#   scripts/second-engine.sh env        prints them again (shell-evaluable)
#   scripts/second-engine.sh stop       removes everything start made
#   scripts/second-engine.sh load IMG.. copies images into it (docker save | docker load)
#   scripts/second-engine.sh partition  drops packets to its engine port (silently, no RST)
#   scripts/second-engine.sh heal       undoes partition
#
# Isolation, and why each piece is there:
# - its own network namespace (`ip netns add`) joined to this machine by one veth pair on a
#   private /30 the script creates: traffic goes to that address only, no route to anything else;
# - dockerd is entered with `nsenter --net=` (not `ip netns exec`, which remounts /sys and hides
#   the cgroups dockerd needs), under `unshare -m` with a tmpfs over /tmp, /root, /home and /work,
#   so nothing it runs can see this machine's files: a bind mount of a local path there is
#   an empty folder, exactly as on a real remote host;
# - its own --data-root, --exec-root, --pidfile, socket and containerd (dockerd starts its own
#   managed containerd under its exec-root, in namespace jackin-se), --bridge none
#   --iptables=false so it never touches this machine's firewall or docker0;
# - tcp://ADDR:2375 WITHOUT TLS: acceptable for a test engine reachable only over the private
#   veth, never for a real host (real hosts use ssh:// or tcp with TLS on 2376);
# - an sshd in the same namespaces, root login with the script's throwaway key only, whose
#   sessions get DOCKER_HOST of this engine so `ssh … docker system dial-stdio` reaches it;
# - tcp://ADDR:2376 with TLS and a required client certificate (docker's --tlsverify), as a
#   socat proxy to the engine's socket (dockerd applies TLS to all its tcp listeners or none);
#   a throwaway CA signs the server (IP SAN ADDR) and client certificates in $STATE/tls.
set -euo pipefail

NS=jackin-se
VETH_HOST=jse0
VETH_NS=jse1
HOST_IP=10.231.77.1
ADDR=10.231.77.2
PREFIX=30
STATE=/var/lib/jackin-second-engine
RUN=/run/jackin-second-engine
SOCK="$RUN/docker.sock"

die() { echo "second-engine: $*" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || die "needs root (network namespace, dockerd)"

need() { # command package
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "second-engine: installing $2 (for $1)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; }
}
deps() {
    need ip iproute2; need iptables iptables; need nsenter util-linux; need unshare util-linux
    need dockerd docker.io; need curl curl; need ssh openssh-client
    [[ -x /usr/sbin/sshd ]] || need sshd openssh-server
    need socat socat; need openssl openssl
}

in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
# a fresh mount namespace where this machine's files are hidden behind tmpfs
isolated() {
    in_ns unshare -m --propagation private sh -c '
        for d in /tmp /root /home /work; do [ -d "$d" ] && mount -t tmpfs -o mode=0755 tmpfs "$d"; done
        exec "$@"' isolated "$@"
}

api_up() { curl -sf --max-time 2 --unix-socket "$SOCK" http://x/_ping >/dev/null 2>&1; }
wait_for() { # what, command... (fails fast when the daemon died)
    local what=$1; shift
    local deadline=$((SECONDS + 60))
    until "$@"; do ((SECONDS < deadline)) || die "$what did not come up (log: $STATE/*.log)"; sleep 0.2; done
}

net_up() {
    [[ -e /run/netns/$NS ]] || ip netns add "$NS"
    if ! ip link show "$VETH_HOST" >/dev/null 2>&1; then
        ip link add "$VETH_HOST" type veth peer name "$VETH_NS"
        ip link set "$VETH_NS" netns "$NS"
        ip addr add "$HOST_IP/$PREFIX" dev "$VETH_HOST"
        ip link set "$VETH_HOST" up
        in_ns ip addr add "$ADDR/$PREFIX" dev "$VETH_NS"
        in_ns ip link set "$VETH_NS" up
        in_ns ip link set lo up
    fi
}

engine_up() {
    api_up && return 0
    mkdir -p "$STATE/docker" "$RUN"
    echo "{}" >"$STATE/daemon.json"
    chmod 0700 "$STATE" "$RUN"
    isolated dockerd \
        --data-root "$STATE/docker" --exec-root "$RUN/exec" --pidfile "$RUN/docker.pid" \
        -H "unix://$SOCK" -H "tcp://$ADDR:2375" \
        --containerd-namespace "$NS" --containerd-plugins-namespace "$NS-plugins" \
        --bridge none --iptables=false --ip6tables=false --ip-masq=false --userland-proxy=false \
        --config-file "$STATE/daemon.json" </dev/null >"$STATE/dockerd.log" 2>&1 &
    wait_for "dockerd" api_up
}

ssh_keys() {
    mkdir -p "$STATE/ssh"
    chmod 0700 "$STATE/ssh"
    [[ -f $STATE/ssh/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C jackin-se-host -f "$STATE/ssh/host_ed25519"
    [[ -f $STATE/ssh/client_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C jackin-se-client -f "$STATE/ssh/client_ed25519"
    cp "$STATE/ssh/client_ed25519.pub" "$STATE/ssh/authorized_keys"
    echo "$ADDR $(cut -d' ' -f1,2 "$STATE/ssh/host_ed25519.pub")" >"$STATE/ssh/known_hosts"
    cat >"$STATE/ssh/sshd_config" <<EOF
ListenAddress $ADDR:22
HostKey $STATE/ssh/host_ed25519
PidFile $RUN/sshd.pid
AuthorizedKeysFile $STATE/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
SetEnv DOCKER_HOST=unix://$SOCK
Subsystem sftp internal-sftp
EOF
    # the client side: use with ssh -F (never the operator's ~/.ssh/config)
    cat >"$STATE/ssh/ssh_config" <<EOF
Host jackin-se $ADDR
    HostName $ADDR
    User root
    IdentityFile $STATE/ssh/client_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $STATE/ssh/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
EOF
}

ssh_ok() { ssh -F "$STATE/ssh/ssh_config" -o ConnectTimeout=2 jackin-se true >/dev/null 2>&1; }
sshd_up() {
    ssh_keys
    [[ -f $RUN/sshd.pid ]] && kill -0 "$(cat "$RUN/sshd.pid")" 2>/dev/null && return 0
    mkdir -p /run/sshd
    isolated /usr/sbin/sshd -f "$STATE/ssh/sshd_config" -E "$STATE/sshd.log"
    wait_for "sshd" ssh_ok
}

tls_certs() {
    local d=$STATE/tls
    [[ -f $d/cert.pem ]] && return 0
    mkdir -p "$d"
    chmod 0700 "$d"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${ec[@]}" -keyout "$d/ca-key.pem" -out "$d/ca.pem" -days 30 \
        -subj "/CN=jackin second engine test CA" 2>/dev/null
    openssl req "${ec[@]}" -keyout "$d/server-key.pem" -out "$d/server.csr" -subj "/CN=$ADDR" 2>/dev/null
    printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$ADDR" >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
        -out "$d/server.pem" -days 30 -extfile "$d/server.ext" 2>/dev/null
    openssl req "${ec[@]}" -keyout "$d/key.pem" -out "$d/client.csr" -subj "/CN=jackin client" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
    openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
        -out "$d/cert.pem" -days 30 -extfile "$d/client.ext" 2>/dev/null
    chmod 0600 "$d"/*.pem
}
tls_ok() {
    curl -sf --max-time 2 --cacert "$STATE/tls/ca.pem" --cert "$STATE/tls/cert.pem" \
        --key "$STATE/tls/key.pem" "https://$ADDR:2376/_ping" >/dev/null 2>&1
}
tls_up() {
    tls_certs
    [[ -f $RUN/tls.pid ]] && kill -0 "$(cat "$RUN/tls.pid")" 2>/dev/null && return 0
    local d=$STATE/tls
    in_ns socat "OPENSSL-LISTEN:2376,bind=$ADDR,reuseaddr,fork,cert=$d/server.pem,key=$d/server-key.pem,cafile=$d/ca.pem,verify=1" \
        "UNIX-CONNECT:$SOCK" </dev/null >"$STATE/tls.log" 2>&1 &
    echo $! >"$RUN/tls.pid"
    wait_for "tls proxy" tls_ok
}

print_env() {
    cat <<EOF
export JACKIN_SE_TCP=tcp://$ADDR:2375
export JACKIN_SE_SSH=ssh://root@$ADDR
export JACKIN_SE_UNIX=unix://$SOCK
export JACKIN_SE_SSH_CONFIG=$STATE/ssh/ssh_config
export JACKIN_SE_TLS=tcp://$ADDR:2376
export JACKIN_SE_TLS_DIR=$STATE/tls
# DOCKER_HOST=tcp://$ADDR:2375 (no TLS: test engine on a private veth only)
# DOCKER_HOST=unix://$SOCK
# ssh: ssh -F $STATE/ssh/ssh_config jackin-se docker system dial-stdio
EOF
}

start() {
    deps
    local t0=$EPOCHREALTIME
    net_up
    engine_up
    sshd_up
    tls_up
    printf '# second engine up in %.2f s\n' "$(echo "$EPOCHREALTIME - $t0" | bc -l 2>/dev/null || python3 -c "print($EPOCHREALTIME-$t0)")" >&2
    print_env
}

kill_pidfile() {
    local f=$1 pid
    [[ -f $f ]] || return 0
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
}

stop() {
    kill_pidfile "$RUN/tls.pid"
    kill_pidfile "$RUN/sshd.pid"
    kill_pidfile "$RUN/docker.pid"
    # dockerd's own containerd and the shims go with it; sweep anything left in the netns
    if [[ -e /run/netns/$NS ]]; then
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        # the managed containerd and shims outlive dockerd briefly: wait until none is left
        for _ in $(seq 1 150); do [[ -z "$(ip netns pids "$NS" 2>/dev/null)" ]] && break; sleep 0.2; done
    fi
    ip link del "$VETH_HOST" 2>/dev/null || true
    [[ -e /run/netns/$NS ]] && ip netns del "$NS"
    # overlay / shm mounts dockerd left under its roots
    { grep -oE "($STATE|$RUN)[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$STATE" "$RUN"
    echo "second engine stopped and removed" >&2
}

load() {
    [[ $# -gt 0 ]] || die "load IMAGE..."
    api_up || die "not running (start it first)"
    docker save "$@" | docker -H "unix://$SOCK" load
}

case "${1:-}" in
start) start ;;
env) print_env ;;
stop) stop ;;
load) shift; load "$@" ;;
partition) in_ns iptables -C INPUT -p tcp --dport 2375 -j DROP 2>/dev/null || in_ns iptables -A INPUT -p tcp --dport 2375 -j DROP ;;
heal) while in_ns iptables -D INPUT -p tcp --dport 2375 -j DROP 2>/dev/null; do :; done ;;
*) die "usage: $0 start|stop|env|load IMAGE...|partition|heal" ;;
esac
