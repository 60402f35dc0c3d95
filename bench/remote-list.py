#!/usr/bin/env python3
"""The baseline for issue 18's remote comparisons (SPEC §8): one label-filtered container list
call against the second engine (scripts/second-engine.sh), per transport, median of repeats.

  tcp        HTTP/1.1 keep-alive straight to tcp://ADDR:2375 (one connection reused)
  unix       the engine's own unix socket (a floor: no network, same engine)
  ssh-reuse  one ssh connection for the run, a new channel per call (`ssh -L sock:engine.sock`
             forwards; the per-call cost a runtime with one connection per host pays)
  ssh-cold   a new ssh connection per call running `docker system dial-stdio` (what a client
             that reconnects every time pays: handshake + auth + dial-stdio)

Also measures how many parallel sessions the sshd takes on one connection (MaxSessions) and how
many unauthenticated connections it keeps at once before dropping (MaxStartups), rather than
assuming the defaults. Usage: python3 bench/remote-list.py [repeats]   (root; starts the engine)
"""
import http.client, json, os, socket, statistics, subprocess, sys, tempfile, time, urllib.parse

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 50
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(l.removeprefix("export ").split("=", 1)
           for l in subprocess.run(["bash", f"{ROOT}/scripts/second-engine.sh", "start"],
                                   check=True, capture_output=True, text=True).stdout.splitlines()
           if l.startswith("export "))
ADDR = urllib.parse.urlparse(ENV["JACKIN_SE_TCP"]).hostname
SOCK = ENV["JACKIN_SE_UNIX"].removeprefix("unix://")
SSH = ["ssh", "-F", ENV["JACKIN_SE_SSH_CONFIG"]]
FILTER = urllib.parse.quote(json.dumps({"label": ["jackin.managed=true", "jackin.project=bench"]}))
PATH = f"/v1.41/containers/json?all=1&filters={FILTER}"
REQ = f"GET {PATH} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode()


class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path_ = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path_)


def timed(call):
    out = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1000)
    return out


def keepalive(conn):
    def call():
        conn.request("GET", PATH)
        r = conn.getresponse()
        assert r.status == 200, r.status
        r.read()
    return call


def per_connection(path):
    def call():
        c = Unix(path)
        keepalive(c)()
        c.close()
    return call


def ssh_cold():
    p = subprocess.run(SSH + ["jackin-se", "docker", "system", "dial-stdio"], input=REQ,
                       capture_output=True, check=True)
    assert b" 200 OK" in p.stdout.split(b"\r\n", 1)[0], p.stdout[:80]


def ssh_reuse_forward():
    d = tempfile.mkdtemp()
    fwd = f"{d}/engine.sock"
    tunnel = subprocess.Popen(SSH + ["-N", "-o", "ExitOnForwardFailure=yes", "-L",
                                     f"{fwd}:{SOCK}", "jackin-se"])
    while not os.path.exists(fwd):
        if tunnel.poll() is not None:
            raise SystemExit("ssh forward failed")
        time.sleep(0.05)
    return tunnel, fwd


def max_sessions():
    """Open channels on one master connection until the sshd refuses one."""
    d = tempfile.mkdtemp()
    ctl = f"{d}/ctl"
    master = subprocess.Popen(SSH + ["-N", "-o", "ControlMaster=yes", "-o", f"ControlPath={ctl}",
                                     "jackin-se"], stderr=subprocess.DEVNULL)
    while not os.path.exists(ctl):
        time.sleep(0.05)
    held, ok = [], 0
    for _ in range(40):
        # ProxyCommand=false: a refused mux session must not fall back to a new connection
        p = subprocess.Popen(SSH + ["-o", "ControlMaster=no", "-o", f"ControlPath={ctl}",
                                    "-o", "ProxyCommand=false", "jackin-se",
                                    "echo up; exec sleep 30"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        line = p.stdout.readline()
        held.append(p)
        if line.strip() != b"up":
            break
        ok += 1
    for p in held:
        p.kill()
    master.kill()
    return ok


def max_startups():
    """Hold N unauthenticated TCP connections (banner received, nothing sent) and count how
    many get a banner before the sshd starts dropping new ones."""
    socks, banners = [], 0
    for _ in range(40):
        s = socket.create_connection((ADDR, 22), timeout=5)
        socks.append(s)
        try:
            if s.recv(64).startswith(b"SSH-"):
                banners += 1
        except (OSError, socket.timeout):
            pass
    for s in socks:
        s.close()
    return banners


def main():
    res = {}
    tcp = http.client.HTTPConnection(ADDR, 2375)
    res["tcp (keep-alive)"] = timed(keepalive(tcp))
    res["unix (keep-alive, floor)"] = timed(keepalive(Unix(SOCK)))
    tunnel, fwd = ssh_reuse_forward()
    try:
        res["ssh, one connection (new channel per call)"] = timed(per_connection(fwd))
    finally:
        tunnel.kill()
    res["ssh, new connection per call (dial-stdio)"] = timed(ssh_cold)
    for k, v in res.items():
        print(f"{k:45s} median {statistics.median(v):7.2f} ms  p90 "
              f"{sorted(v)[int(len(v) * 0.9) - 1]:7.2f} ms  (n={len(v)})")
    cfg = subprocess.run(["/usr/sbin/sshd", "-T", "-f",
                          "/var/lib/jackin-second-engine/ssh/sshd_config"],
                         capture_output=True, text=True).stdout
    said = {l.split()[0]: l.split()[1] for l in cfg.splitlines() if l.split()[:1] in
            (["maxsessions"], ["maxstartups"])}
    print(f"sshd config says: {said}")
    print(f"measured: {max_sessions()} parallel sessions on one connection; "
          f"{max_startups()} of 40 unauthenticated connections got a banner")


main()
