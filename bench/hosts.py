#!/usr/bin/env python3
"""Several engines (SPEC v3 §8, §9): jackin's no-op on an engine that is not on this machine,
against `docker-compose up -d`'s no-op on the same engine, the API calls it makes per
instance, and a no-op over two engines against the slower one alone.

    bench/hosts.py                 # N = 100, 11 alternating runs each
    bench/hosts.py --n 50 --repeats 5

The remote engine is the second engine of scripts/second-engine.sh (its own network
namespace, reached over tcp; it cannot see this machine's files), started and stopped here.
Every instance runs kimi in `sync`: the remote ones' handoff is a volume of that engine, read
and written through its API (SPEC §9), the local ones' a bind-mounted folder. The compose project has the same N services (same image, command,
labels and a named volume each) on the same engine. Everything the run creates is removed on
exit. Python 3 stdlib, Docker and docker-compose (v1).
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SE = os.path.join(ROOT, "scripts", "second-engine.sh")


def sh(cmd, env=None, check=True):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=check)


def timed(cmd, env):
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return took, p.stdout


def second_engine(image):
    out = sh(["bash", SE, "start"]).stdout
    tcp = next(l.split("=", 1)[1] for l in out.splitlines() if l.startswith("export JACKIN_SE_TCP="))
    if sh(["docker", "-H", tcp, "image", "inspect", image], check=False).returncode != 0:
        sh(["bash", SE, "load", image])
    return tcp


def state(project, image, remote, local_ws, remote_ws, remote_host):
    """`remote_host`: the host name remote workspaces are placed on (`se`, or `local` when
    DOCKER_HOST itself is the remote engine)."""
    lines = ["version = 1", f'project = "{project}"']
    if remote_host == "se":
        lines += ["[hosts.se]", f'docker = "{remote}"']
    lines += ["[auth.kimi]", 'mode = "sync"', "[roles.r]", f'image = "{image}"', 'agents = ["kimi"]']
    lines += [f"[workspaces.{w}.roles.r]" for w in local_ws]
    for w in remote_ws:
        lines += [f"[workspaces.{w}]", f'host = "{remote_host}"', f"[workspaces.{w}.roles.r]"]
    return "\n".join(lines) + "\n"


def compose_doc(image, n, prefix):
    services = {}
    for i in range(n):
        services[f"s{i}"] = {
            "image": image, "command": ["kimi", "--yolo"], "init": True, "tty": True,
            "stdin_open": True, "network_mode": "none", "labels": {"bench": prefix},
            "volumes": [f"v{i}:/jackin/kimi"],
        }
    return {"version": "2.4", "services": services, "volumes": {f"v{i}": {} for i in range(n)}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=11)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--jackin", default=os.path.join(target, "release", "jackin"))
    args = ap.parse_args()
    image = sh(["bash", os.path.join(ROOT, "scripts/agent-image.sh")]).stdout.split()[-1]
    remote = second_engine(image)
    tmp = tempfile.mkdtemp(prefix="jackin-bench-hosts.")
    pid = os.getpid()
    project = f"bh{pid}"
    home, jh = os.path.join(tmp, "home"), os.path.join(tmp, "jh")
    os.makedirs(os.path.join(home, ".kimi", "credentials"))
    os.makedirs(jh, mode=0o700)
    with open(os.path.join(home, ".kimi", "config.toml"), "w") as f:
        f.write('default_model = "m"\n')
    with open(os.path.join(home, ".kimi", "credentials", "kimi-code.json"), "w") as f:
        f.write('{"access_token": "fake"}\n')
    env = dict(os.environ, HOME=home, JACKIN_HOME=jh, NO_COLOR="1")
    env_remote = dict(env, DOCKER_HOST=remote)
    local_ws = [f"l{pid}-{i}" for i in range(args.n)]
    remote_ws = [f"r{pid}-{i}" for i in range(args.n)]
    files = {}
    for name, text in {
        "both": state(project, image, remote, local_ws, remote_ws, "se"),
        "local": state(project, image, remote, local_ws, [], "se").replace(
            f'[hosts.se]\ndocker = "{remote}"\n', ""),
        "remote": state(project, image, remote, [], remote_ws, "local"),
    }.items():
        d = os.path.join(tmp, name)
        os.makedirs(d)
        files[name] = os.path.join(d, "jackin.toml")
        with open(files[name], "w") as f:
            f.write(text)
    cdir = os.path.join(tmp, "compose")
    os.makedirs(cdir)
    cfile = os.path.join(cdir, "docker-compose.yml")
    with open(cfile, "w") as f:
        json.dump(compose_doc(image, args.n, project), f)
    cproject = f"bhc{pid}"
    compose = ["docker-compose", "-p", cproject, "-f", cfile, "up", "-d"]
    cenv = dict(env_remote, COMPOSE_PARALLEL_LIMIT=str(max(64, 4 * args.n)))
    jk = args.jackin
    try:
        t, _ = timed([jk, "apply", "-f", files["both"]], env)
        print(f"cold apply, {args.n} local + {args.n} remote: {t:.1f} s", file=sys.stderr)
        t, _ = timed(compose, cenv)
        print(f"cold compose up, {args.n} remote: {t:.1f} s", file=sys.stderr)
        _, out = timed([jk, "apply", "--output", "json", "-f", files["remote"]], env_remote)
        summary = [json.loads(l) for l in out.splitlines() if '"summary"' in l][-1]
        assert summary["applied"]["create"] == 0 and summary["applied"]["recreate"] == 0, summary
        calls = summary["api_calls"]
        runs = {
            "jackin apply, remote engine only": ([jk, "apply", "-f", files["remote"]], env_remote),
            "docker-compose up -d, remote engine": (compose, cenv),
            "jackin plan, both engines": ([jk, "plan", "-f", files["both"]], env),
            "jackin plan, remote engine only": ([jk, "plan", "-f", files["remote"]], env_remote),
            "jackin plan, local engine only": ([jk, "plan", "-f", files["local"]], env),
        }
        times = {k: [] for k in runs}
        for _ in range(args.repeats):
            for k, (cmd, e) in runs.items():
                times[k].append(timed(cmd, e)[0])
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        print(f"| N = {args.n}, {args.repeats} alternating runs | median |")
        print("|---|---:|")
        for k, v in med.items():
            print(f"| {k} | {v:.1f} ms |")
        ratio = med["jackin apply, remote engine only"] / med["docker-compose up -d, remote engine"]
        slower = max(med["jackin plan, remote engine only"], med["jackin plan, local engine only"])
        print(f"\njackin / compose no-op on the remote engine: {ratio:.2f}× (goal ≤ 0.2×)")
        print(f"both engines / the slower alone: {med['jackin plan, both engines'] / slower:.2f}×")
        print(f"API calls of a remote no-op: {calls} for {args.n} instances "
              f"({calls / args.n:.2f} per instance)")
    finally:
        subprocess.run(["docker-compose", "-p", cproject, "-f", cfile, "down", "-v"],
                       env=cenv, capture_output=True)
        for host in (None, remote):
            e = dict(os.environ, DOCKER_HOST=host) if host else dict(os.environ)
            ids = sh(["docker", "ps", "-aq", "--filter", f"label=jackin.project={project}"],
                     env=e, check=False).stdout.split()
            for i in range(0, len(ids), 100):
                sh(["docker", "rm", "-f", *ids[i:i + 100]], env=e, check=False)
            vols = sh(["docker", "volume", "ls", "-q", "--filter",
                       f"label=jackin.project={project}"], env=e, check=False).stdout.split()
            if vols:
                sh(["docker", "volume", "rm", "-f", *vols], env=e, check=False)
        sh(["bash", SE, "stop"], check=False)
        subprocess.run(["chmod", "-R", "u+rwX", tmp], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
