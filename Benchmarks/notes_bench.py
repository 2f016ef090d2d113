#!/usr/bin/env python3
"""Live-notes benchmark: starts `hourglass serve` (pinned to core 0), sets up a meeting, and runs
`hourglass-notes-bench` (pinned to core 1) for each N clients x W typists configuration. Prints, per
run, the load generator's figures (edit-to-visible latency p50/p95/p99, frames and bytes per second,
convergence) and the server's CPU seconds per second and peak RSS.

    swift build -c release --product hourglass && swift build -c release --product hourglass-notes-bench
    python3 Benchmarks/notes_bench.py --configs 100x100,1000x100,1000x1000 --seconds 20
    scripts/with-postgres.sh python3 Benchmarks/notes_bench.py --instances 2 --configs 1000x100

With --instances 2 (needs HOURGLASS_TEST_POSTGRES_URL, e.g. under scripts/with-postgres.sh) two
servers share one fresh PostgreSQL database and the clients are split between them.
"""
import argparse, json, os, re, socket, subprocess, sys, threading, time, urllib.request, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base, method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Cookie", f"hg_session={token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


class Server:
    def __init__(self, bin_dir, data_dir, database=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = ["taskset", "-c", "0", os.path.join(bin_dir, "hourglass"), "serve", "--port", str(self.port),
               "--data-dir", data_dir, "--bcrypt-cost", "4", "--log-level", "notice"]
        if database:
            cmd += ["--database", database]
        env = dict(os.environ, HOURGLASS_PUBLIC_DIR=os.path.join(ROOT, "Public"))
        self.log = []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        threading.Thread(target=lambda: [self.log.append(line) for line in self.proc.stdout], daemon=True).start()
        for _ in range(600):
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=1)
                return
            except Exception:
                time.sleep(0.1)
        raise SystemExit("server did not start:\n" + "".join(self.log))

    def setup_token(self):
        for _ in range(100):
            for line in self.log:
                m = re.search(r"/setup\?token=([A-Za-z0-9_-]+)", line)
                if m:
                    return m.group(1)
            time.sleep(0.1)
        return None

    def cpu_seconds(self):
        return sum(self.cpu_split())

    def cpu_split(self):
        """User and system CPU seconds so far."""
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICKS, int(fields[12]) / TICKS

    def rss_mb(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def prepare(servers):
    tokens = [t for t in (s.setup_token() for s in servers) if t]
    session = None
    for token in tokens:
        try:
            session = api(servers[0].base, "POST", "/api/setup", {"token": token, "name": "Bench", "email": "bench@example.com", "password": "benchmark-pass"})
            break
        except Exception:
            continue
    cookie = session["token"]
    slug = "bench-" + uuid.uuid4().hex[:6]
    api(servers[0].base, "POST", "/api/spaces", {"name": "Bench", "slug": slug, "visibility": "public"}, cookie)
    api(servers[0].base, "POST", f"/api/spaces/{slug}/series", {"name": "Load", "slug": "load", "weekday": "3", "time": "14:00", "timeZone": "UTC"}, cookie)
    date = api(servers[0].base, "GET", f"/api/spaces/{slug}/series/load", token=cookie)["meetings"][0]["date"]
    return cookie, f"/api/spaces/{slug}/series/load/meetings/{date}"


def run(args, clients, typists, servers, cookie, meeting):
    urls = [f"ws://127.0.0.1:{s.port}{meeting}/live" for s in servers]
    cmd = ["taskset", "-c", "1", os.path.join(args.bin_dir, "hourglass-notes-bench"), "--cookie", cookie,
           "--clients", str(clients), "--typists", str(typists), "--seconds", str(args.seconds), "--rate", str(args.rate),]
    for url in urls:
        cmd += ["--url", url]
    cpu0 = [s.cpu_seconds() for s in servers]
    t0 = time.monotonic()
    peak = [0.0] * len(servers)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The generator writes "typing" and "stopped" on stderr: the server's CPU is sampled then too,
    # so the figure for the typing phase is not diluted by connecting and draining.
    marks, err_lines = {}, []

    def watch_stderr():
        for line in proc.stderr:
            if line.strip() in ("typing", "stopped"):
                marks[line.strip()] = (time.monotonic(), [s.cpu_split() for s in servers])
            else:
                err_lines.append(line)
    reader = threading.Thread(target=watch_stderr, daemon=True)
    reader.start()
    while proc.poll() is None:
        peak = [max(p, s.rss_mb()) for p, s in zip(peak, servers)]
        time.sleep(0.5)
    out = proc.stdout.read()
    reader.join(timeout=5)
    err = "".join(err_lines)
    wall = time.monotonic() - t0
    cpu = sum(s.cpu_seconds() - c for s, c in zip(servers, cpu0))
    try:
        report = json.loads(out.strip().splitlines()[-1])
    except Exception:
        raise SystemExit(f"load generator failed ({proc.returncode}):\n{out}\n{err}")
    report["serverCpuSecondsPerSecond"] = round(cpu / wall, 3)
    if "typing" in marks and "stopped" in marks:
        (t1, c1), (t2, c2) = marks["typing"], marks["stopped"]
        user = sum(b[0] - a[0] for a, b in zip(c1, c2))
        system = sum(b[1] - a[1] for a, b in zip(c1, c2))
        report["serverCpuWhileTyping"] = {"userPerSecond": round(user / (t2 - t1), 3), "systemPerSecond": round(system / (t2 - t1), 3)}
    report["serverPeakRssMB"] = [round(p, 1) for p in peak]
    report["exitCode"] = proc.returncode
    if proc.returncode and err:
        sys.stderr.write(err[-3000:])
    return report


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--configs", default="100x100,1000x100,1000x1000")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rate", type=float, default=5)
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--postgres", action="store_true", help="use PostgreSQL even with one instance")
    p.add_argument("--bin-dir", default=os.path.join(ROOT, ".build", "release"))
    args = p.parse_args()
    for config in args.configs.split(","):
        clients, typists = (int(x) for x in config.split("x"))
        data_dir = f"/tmp/hourglass-bench-{uuid.uuid4().hex[:8]}"
        database = None
        if args.instances > 1 or args.postgres:
            admin = os.environ["HOURGLASS_TEST_POSTGRES_URL"]
            name = "bench_" + uuid.uuid4().hex[:8]
            subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
            database = admin.rsplit("/", 1)[0] + "/" + name
        servers = [Server(args.bin_dir, data_dir, database) for _ in range(args.instances)]
        try:
            cookie, meeting = prepare(servers)
            report = run(args, clients, typists, servers, cookie, meeting)
            report["backend"] = "postgres" if database else "sqlite"
            print(json.dumps(report, sort_keys=True), flush=True)
        finally:
            for s in servers:
                s.stop()


if __name__ == "__main__":
    main()
