#!/usr/bin/env python3
"""A no-op `jackin apply` against its floor: one label-filtered list call on the same engine
(SPEC v3 §8: at most 1.5× the floor at N = 100, 2× at N = 1,000, peak RSS ≤ 64 MiB).

    bench/noop-floor.py                         # N = 100 and 1000, target/release/jackin
    bench/noop-floor.py --sizes 100 --repeats 31
    bench/noop-floor.py --jackin A --base B     # two binaries side by side (after / before)

The floor is `curl --unix-socket` of `GET /containers/json?all=1&filters={label: [managed,
project]}`, the one call a no-op cannot avoid, as a whole process like jackin's own run; the
two are run alternately, so both see the same engine and the same load, and the medians are
compared. Peak RSS is the jackin process's own (`wait4` ru_maxrss). Every instance is a real
container of the busybox test image (scripts/agent-image.sh), kimi in sync from one fake
login; everything the run creates is removed on exit. Python 3 stdlib, curl and Docker.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env=None, check=True):
    """Wall time (s) and peak RSS (KiB) of one process."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    took = time.perf_counter() - t
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if check and os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err}")
    return took, usage.ru_maxrss


def setup(n, image, tmp):
    home, jh, work = (os.path.join(tmp, d) for d in ("home", "jh", "work"))
    os.makedirs(os.path.join(home, ".kimi", "credentials"))
    os.makedirs(jh, mode=0o700)
    os.makedirs(work)
    with open(os.path.join(home, ".kimi", "config.toml"), "w") as f:
        f.write('default_model = "m"\n')
    with open(os.path.join(home, ".kimi", "credentials", "kimi-code.json"), "w") as f:
        f.write('{"access_token": "fake"}\n')
    project = f"nf{os.getpid()}n{n}"
    lines = ["version = 1", f'project = "{project}"', "[roles.r]", f'image = "{image}"',
             'agents = ["kimi"]']
    # Names of their own: nothing else on the engine is called jk-b<pid>-…
    lines += [f"[workspaces.b{os.getpid()}-{i}.roles.r]" for i in range(n)]
    with open(os.path.join(work, "jackin.toml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, HOME=home, JACKIN_HOME=jh, NO_COLOR="1")
    return project, work, env


def cleanup(project):
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=jackin.project={project}"],
                         capture_output=True, text=True).stdout.split()
    for i in range(0, len(ids), 100):
        subprocess.run(["docker", "rm", "-f", *ids[i:i + 100]], capture_output=True)


def measure(n, binaries, repeats, image):
    tmp = tempfile.mkdtemp(prefix="jackin-noop-floor.")
    project, work, env = setup(n, image, tmp)
    os.chdir(work)
    try:
        first = next(iter(binaries.values()))
        t, _ = run([first, "apply"], env)
        print(f"N={n}: cold apply {t:.1f} s", file=sys.stderr)
        for b in binaries.values():
            run([b, "apply"], env)  # settle the ledgers' stat data
        filters = urllib.parse.quote(json.dumps(
            {"label": ["jackin.managed=true", f"jackin.project={project}"]}))
        floor = ["curl", "-sf", "--unix-socket", "/var/run/docker.sock",
                 f"http://docker/containers/json?all=1&filters={filters}"]
        times = {"floor": []}
        rss = {}
        for name in binaries:
            times[name] = []
            rss[name] = 0
        for _ in range(repeats):
            times["floor"].append(run(floor)[0])
            for name, b in binaries.items():
                t, r = run([b, "apply"], env)
                times[name].append(t)
                rss[name] = max(rss[name], r)
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        return {"n": n, "floor_ms": med["floor"],
                "jackin": {k: {"ms": med[k], "ratio": med[k] / med["floor"],
                               "peak_rss_mib": rss[k] / 1024} for k in binaries}}
    finally:
        os.chdir(ROOT)
        cleanup(project)
        subprocess.run(["chmod", "-R", "u+rwX", tmp], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--repeats", type=int, default=21)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--jackin", default=os.path.join(target, "release", "jackin"))
    ap.add_argument("--base", help="a second jackin binary (e.g. before a change)")
    args = ap.parse_args()
    binaries = {"jackin": args.jackin}
    if args.base:
        binaries["base"] = args.base
    for b in binaries.values():
        if not os.access(b, os.X_OK):
            sys.exit(f"no jackin binary at {b} (cargo build --release)")
    image = subprocess.run(["bash", os.path.join(ROOT, "scripts/agent-image.sh")],
                           capture_output=True, text=True, check=True).stdout.split()[-1]
    results = [measure(int(n), binaries, args.repeats, image) for n in args.sizes.split(",")]
    print("| N | floor (list call) | " + " | ".join(f"{k} no-op | {k}/floor | {k} peak RSS"
                                                   for k in binaries) + " |")
    print("|---:|---:|" + "---:|---:|---:|" * len(binaries))
    for r in results:
        cells = [f"{r['jackin'][k]['ms']:.1f} ms | {r['jackin'][k]['ratio']:.2f}× | "
                 f"{r['jackin'][k]['peak_rss_mib']:.1f} MiB" for k in binaries]
        print(f"| {r['n']} | {r['floor_ms']:.1f} ms | " + " | ".join(cells) + " |")
    print(json.dumps(results), file=sys.stderr)


if __name__ == "__main__":
    main()
