#!/usr/bin/env python3
"""`jackin console` at rest and on an event (SPEC v3 §6; issue 19):

    bench/console.py                    # N = 100 instances, 10 s idle, 5 stops
    bench/console.py --n 100 --idle 20 --stops 9

1. Idle CPU: the console open on a pseudo-terminal with N running instances, after its first
   draw; its user + system CPU ticks from /proc/<pid>/stat over --idle seconds, as a share of
   one core. It must not poll the engine (or anything) in a loop.
2. Event to redraw: `docker stop` of one instance outside jackin, then the time until the
   console's redraw ends: an idle console writes nothing, so the first bytes after the stop
   are that refresh's draw, and its last byte (no more for 300 ms) ends it. Timed from the
   moment `docker stop` returns, so this is the engine's event → jackin's observe + plan →
   draw. (ratatui writes only the cells that changed, so the raw bytes are not searched.)

Every instance is a real container of the busybox test image (scripts/agent-image.sh), kimi in
sync from one fake login; everything the run creates is removed on exit. Python 3 stdlib and
Docker; a release build (`cargo build --release`).
"""
import argparse
import fcntl
import struct
import termios
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import importlib.util  # noqa: E402

spec = importlib.util.spec_from_file_location(
    "noop_floor", os.path.join(os.path.dirname(os.path.abspath(__file__)), "noop-floor.py"))
noop = importlib.util.module_from_spec(spec)
spec.loader.exec_module(noop)

ROOT = noop.ROOT
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class Console:
    def __init__(self, jackin, env, work):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(work)
            os.execve(jackin, [jackin, "console"], dict(env, TERM="xterm", COLUMNS="120", LINES="40"))
        # A pty starts at 0×0: give it the operator's 40×120 before the first draw.
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.out = b""

    def read_until(self, needle, timeout):
        deadline = time.monotonic() + timeout
        start = len(self.out)
        while needle not in self.out[start:]:
            left = deadline - time.monotonic()
            if left <= 0:
                sys.exit(f"timed out waiting for {needle!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                self.out += os.read(self.fd, 65536)
        return time.monotonic()

    def redraw_after(self, timeout, quiet=0.3):
        """When the next draw ends: its first bytes, then none for `quiet` seconds."""
        if not select.select([self.fd], [], [], timeout)[0]:
            sys.exit("no redraw")
        last = time.monotonic()
        self.out += os.read(self.fd, 65536)
        while select.select([self.fd], [], [], quiet)[0]:
            self.out += os.read(self.fd, 65536)
            last = time.monotonic()
        return last

    def drain(self):
        while select.select([self.fd], [], [], 0)[0]:
            self.out += os.read(self.fd, 65536)

    def close(self):
        os.write(self.fd, b"q")
        os.waitpid(self.pid, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--stops", type=int, default=5)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--jackin", default=os.path.join(target, "release", "jackin"))
    args = ap.parse_args()
    if not os.access(args.jackin, os.X_OK):
        sys.exit(f"no jackin binary at {args.jackin} (cargo build --release)")
    image = subprocess.run(["bash", os.path.join(ROOT, "scripts/agent-image.sh")],
                           capture_output=True, text=True, check=True).stdout.split()[-1]
    tmp = tempfile.mkdtemp(prefix="jackin-console-bench.")
    project, work, env = noop.setup(args.n, image, tmp)
    try:
        os.chdir(work)
        noop.run([args.jackin, "apply"], env)
        con = Console(args.jackin, env, work)
        con.read_until(b"LAST SYNC", 120)
        con.drain()
        before = cpu_ticks(con.pid)
        time.sleep(args.idle)  # the measured interval, not a synchronisation
        con.drain()
        idle = (cpu_ticks(con.pid) - before) / TICK / args.idle * 100
        names = subprocess.run(["docker", "ps", "--format", "{{.Names}}", "--filter",
                                f"label=jackin.project={project}"],
                               capture_output=True, text=True).stdout.split()
        # The Events tab names what each refresh followed, whichever row is on screen.
        os.write(con.fd, b"4")
        con.redraw_after(10)
        lat = []
        for cid in names[: args.stops]:
            con.drain()
            subprocess.run(["docker", "stop", "-t", "0", cid], capture_output=True, check=True)
            t0 = time.monotonic()
            lat.append((con.redraw_after(60) - t0) * 1000)
        con.close()
        print(f"| N | idle CPU over {args.idle:.0f} s | docker stop → redraw (median, max of {len(lat)}) |")
        print("|---:|---:|---:|")
        print(f"| {args.n} | {idle:.2f} % of a core | {statistics.median(lat):.0f} ms, {max(lat):.0f} ms |")
    finally:
        os.chdir(ROOT)
        noop.cleanup(project)
        subprocess.run(["chmod", "-R", "u+rwX", tmp], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
