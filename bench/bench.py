#!/usr/bin/env python3
"""The nuvosync benchmark: every workload for every tool, each from a clean state, one run.

Started by bench/run (which builds and installs what this needs). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import p9  # noqa: E402
import report  # noqa: E402
from big import run_P5busy, run_P6  # noqa: E402
from p12 import run_P1, run_P2  # noqa: E402
from p78 import run_P7, run_P8  # noqa: E402
from lib import (  # noqa: E402
    HERE,
    PAIR_REMOTE,
    ROOT,
    TARGET,
    Emulator,
    TreeSpec,
    content_hash,
    gen_local,
    kill_all_started,
    loadgen,
    log,
    percentile,
    populate_remote,
    proc_status,
    rmtree,
    run_timed,
    set_log_file,
    wait_until,
)
from tools import (  # noqa: E402
    LATENCY,
    MB,
    STEADY,
    TOOLS,
    BisyncLoop,
    GiB,
    MiB,
    attempt,
    children,
    idle_cpu,
    make_tool,
    tool_settings,
    tools_for,
)

ALL = ["E", "P7", "P1", "P2", "P5", "P6", "P5B", "P3", "P4", "P8", "P9"]
QUICK = ["P1", "P3", "P5", "P9"]


class Ctx:
    def __init__(self, args):
        self.quick = args.quick
        self.p9_files = args.p9_files
        self.keep = args.keep_work
        self.cap = args.cap
        self.out = Path(args.out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = Path(args.work_dir).resolve() if args.work_dir else self.out / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.retry_note = None
        self.emu_mark = 0
        self.logs = self.out / "logs"
        self.logs.mkdir(exist_ok=True)
        self.tls = self.work / "tls"
        self.results: list[dict] = []
        # --merge: keep the rows of an earlier run in the same folder, replacing the ones this
        # run measures again (a full run can then be done workload by workload).
        self.kept: list[dict] = []
        prior = self.out / "results.json"
        if args.merge and prior.exists():
            self.kept = json.loads(prior.read_text())
        self.tools = [t for t in (args.tools.split(",") if args.tools else TOOLS)]
        # BENCH_PROFILE=debug (the CI smoke run) uses the debug binaries the tests built.
        profile = os.environ.get("BENCH_PROFILE", "release")
        self.bins = {
            "emulator": TARGET / profile / "dropbox-emulator",
            "nuvosync": TARGET / profile / "nuvosync",
            "loadgen": HERE / "loadgen" / "target" / profile / "bench-loadgen",
            "maestral": HERE / ".venv" / "bin" / "maestral",
            "maestral_python": HERE / ".venv" / "bin" / "python",
            "rclone": shutil.which("rclone"),
        }
        self.unavailable = {}
        if not self.bins["rclone"]:
            self.unavailable["rclone"] = "rclone is not installed (as root: apt-get install -y --no-install-recommends rclone)"
        if not Path(self.bins["maestral"]).exists():
            why = "Maestral is not installed (bench/run creates bench/.venv with maestral==1.9.6 dropbox==12.2.1)"
            self.unavailable["maestral"] = self.unavailable["maestral-tuned"] = why
        for k in ("emulator", "nuvosync", "loadgen"):
            if not Path(self.bins[k]).exists():
                raise SystemExit(f"missing {self.bins[k]}: run bench/run (it builds the {profile} binaries)")
        self.versions = versions(self)
        # Run copies under neutral names: other test suites on a shared machine that clean up
        # `dropbox-emulator` or `nuvosync` processes by name must not stop the benchmark's.
        bindir = self.work / "bin"
        bindir.mkdir(exist_ok=True)
        for k, neutral in (("emulator", "nvbench-emu"), ("nuvosync", "nvbench-nvs")):
            shutil.copy2(self.bins[k], bindir / neutral)
            self.bins[k] = bindir / neutral
        self.started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.nproc = os.cpu_count() or 1

    # ---- results
    def add(self, id, workload, tool, value, unit, higher_is_better, settings=None, reason=None, **extra):
        row = {
            "id": id,
            "workload": workload,
            "tool": tool,
            "value": None if value is None else round(float(value), 4),
            "unit": unit,
            "higher_is_better": higher_is_better,
            "settings": settings or {},
        }
        row["settings"]["host_loadavg"] = loadavg()
        row["settings"]["measured"] = {"at": self.started, "git": self.versions.get("git"), "dirty": self.versions.get("git_dirty")}
        if self.retry_note:
            row["settings"]["retry"] = self.retry_note
        if reason:
            row["reason"] = reason
        row.update(extra)
        self.results.append(row)
        shown = "null" if value is None else f"{value:.4g}"
        log(f"RESULT {id:<16} {tool:<15} {shown} {unit}" + (f"  ({reason})" if reason else ""))
        self.save()
        return row

    def time_cap(self, quick: int, full: int) -> int:
        """Seconds a tool gets for a step: --cap if given, else the default for the mode."""
        return self.cap or (quick if self.quick else full)

    def all_rows(self) -> list[dict]:
        """This run's rows, after the kept rows of an earlier run that it did not measure again."""
        fresh = {(r["id"], r["tool"]) for r in self.results}
        return [r for r in self.kept if (r["id"], r["tool"]) not in fresh] + self.results

    def save(self):
        meta = {"started": self.started, "quick": self.quick, "versions": self.versions, "machine": machine()}
        (self.out / "results.json").write_text(json.dumps(self.all_rows(), indent=2) + "\n")
        (self.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")

    # ---- environment
    def emulator(self, name, latency=LATENCY, extra=None) -> Emulator:
        return Emulator(self.bins, self.workdir(name), self.tls, latency, name="emulator", extra=extra)

    def workdir(self, name) -> Path:
        d = self.work / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def finish(self, name):
        """Keep the logs of a step, drop its trees."""
        d = self.work / name
        if not d.exists():
            return
        dest = self.logs / name
        dest.mkdir(parents=True, exist_ok=True)
        for dirpath, dirnames, filenames in os.walk(d):
            dirnames[:] = [x for x in dirnames if x not in ("local", "Dropbox", "big", "hash")]
            for f in filenames:
                if f.endswith((".log", ".out", ".ini")):
                    try:
                        shutil.copy(Path(dirpath) / f, dest / f)
                    except OSError:
                        pass
        if not self.keep:
            rmtree(d)


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def versions(ctx) -> dict:
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[0]
        except Exception as e:  # noqa: BLE001
            return f"unknown ({e})"

    v = {
        "nuvosync": out([str(ctx.bins["nuvosync"]), "--version"]),
        "dropbox-emulator": out([str(ctx.bins["emulator"]), "--version"]),
        "git": out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "crates", "src", "Cargo.toml"], capture_output=True, text=True).stdout.strip()),
        "openssl": out(["openssl", "version"]),
        "python": platform.python_version(),
    }
    if "maestral" not in ctx.unavailable:
        v["maestral"] = out([str(ctx.bins["maestral_python"]), "-c", "import maestral, dropbox; print(maestral.__version__, 'dropbox', dropbox.__version__)"])
    if "rclone" not in ctx.unavailable:
        v["rclone"] = out([ctx.bins["rclone"], "version"])
    return v


def machine() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "mem_gb": round(mem / 1e9, 1), "kernel": platform.release(), "os": platform.platform()}


# ================================================================ E: the emulator's own ceiling


def run_E(ctx: Ctx):
    wls = [("E.small_uploads", "emulator ceiling: files/upload of 4 KiB, 64 parallel clients, no latency", "files/s", True),
           ("E.list_folder", "emulator ceiling: list_folder (recursive) + continue, 2000 per page, no latency", "entries/s", True),
           ("E.large_upload", "emulator ceiling: one large upload over TLS in 16 MiB upload-session chunks, no latency", "MB/s", True)]

    def body():
        name = "E-emulator"
        emu = ctx.emulator(name, latency=0)
        try:
            n = 5000 if ctx.quick else 20000
            best = None
            for k in range(2):
                r = loadgen(ctx.bins, emu, "upload-tree", "--root", f"/ceiling{k}", "--files", n, "--folders", n // 100, "--size", 4096, "--concurrency", 64, log_path=ctx.workdir(name) / "loadgen.log")
                log(f"ceiling small uploads run {k}: {r}")
                if r["errors"]:
                    raise RuntimeError(f"errors during the small-upload ceiling: {r}")
                best = r if best is None or r["files_per_s"] > best["files_per_s"] else best
            ctx.add("E.small_uploads", "emulator ceiling: files/upload of 4 KiB, 64 parallel clients, no latency", "emulator", best["files_per_s"], "files/s", True,
                    {"files": n, "concurrency": 64, "latency_ms": 0, "client": "bench-loadgen (reqwest, HTTP/1.1 keep-alive)", "runs": 2, "taken": "best"})
            best = None
            for k in range(3):
                r = loadgen(ctx.bins, emu, "list", "--path", "", "--limit", 2000)
                best = r if best is None or r["entries_per_s"] > best["entries_per_s"] else best
            ctx.add("E.list_folder", "emulator ceiling: list_folder (recursive) + continue, 2000 per page, no latency", "emulator", best["entries_per_s"], "entries/s", True,
                    {"entries": best["entries"], "pages": best["pages"], "latency_ms": 0, "runs": 3, "taken": "best"})
            size = 256 * MiB if ctx.quick else GiB
            best = None
            for k in range(2):
                r = loadgen(ctx.bins, emu, "large-upload", "--path", f"/large{k}.bin", "--size", size, "--chunk", 16 * MiB)
                best = r if best is None or r["mb_per_s"] > best["mb_per_s"] else best
            ctx.add("E.large_upload", "emulator ceiling: one large upload over TLS in 16 MiB upload-session chunks, no latency", "emulator", best["mb_per_s"], "MB/s", True,
                    {"bytes": size, "chunk": 16 * MiB, "latency_ms": 0, "runs": 2, "taken": "best"})
        finally:
            emu.stop()
            ctx.finish(name)

    attempt(ctx, "emulator", wls, body)


# ================================================================ P3 / P4: 100,000 files


def run_P34(ctx: Ctx):
    steady = 10 if ctx.quick else STEADY
    spec = TreeSpec(10000, 100) if ctx.quick else TreeSpec(100000, 1000)
    wl3 = f"P3 restart with {spec.files:,} unchanged local files until up to date (s)"
    wl3d = f"P3 daemon restart with {spec.files:,} unchanged files until status up_to_date (s)"
    wl3f = f"P3 floor: bare parallel lstat walk of the {spec.files:,}-file tree (nuvosync debug statwalk, s)"
    wl3s = f"first sync of {spec.files:,} files already identical on both sides (setup for P3/P4; s)"
    wl4f = "peak RSS (VmHWM) over that first sync (MB)"
    wl4p = f"P4 peak RSS (VmHWM) of the resident process over a restart with {spec.files:,} files and {steady}s idle (MB)"
    wl4s = f"P4 steady RSS (VmRSS) {steady}s after that restart was up to date (MB)"
    wl4c = f"CPU of the resident process while idle, over those {steady}s after the restart (% of one core)"
    timeout = ctx.time_cap(quick=1800, full=7200)
    for tool in tools_for(ctx):
        name = f"P34-{tool}"
        fallbacks = [("P3.first_sync", wl3s, "s", False), ("P4.first_sync_peak", wl4f, "MB", False), ("P3", wl3, "s", False),
                     ("P4.peak", wl4p, "MB", False), ("P4.steady", wl4s, "MB", False), ("P4.idle_cpu", wl4c, "% of one core", False)]
        if tool == "nuvosync":
            fallbacks[3:3] = [("P3.floor", wl3f, "s", False), ("P3.daemon", wl3d, "s", False)]

        def body(tool=tool, name=name):
            emu = ctx.emulator(name)
            work = ctx.workdir(name)
            t = make_tool(ctx, tool, emu, work)
            try:
                populate_remote(ctx.bins, emu, spec)
                gen_local(ctx.bins, t.local, spec)
                uploads_before = sum(v for k, v in emu.stats().get("routes", {}).items() if "upload" in k)
                base = {"files": spec.files, "folders": spec.folders, "size": spec.size}
                if tool == "nuvosync":
                    t.pair_add()
                    t0 = time.monotonic()
                    p = t.start()
                    _, t1 = t.wait_up_to_date(timeout)
                    ctx.add("P3.first_sync", wl3s, tool, t1 - t0, "s", False, tool_settings(tool, base))
                    ctx.add("P4.first_sync_peak", wl4f, tool, proc_status(p.pid)["VmHWM"] / MB, "MB", False, tool_settings(tool, {**base, "process": "nuvosync daemon"}))
                    t.stop()
                    walks = [json.loads(run_timed([str(ctx.bins["nuvosync"]), "debug", "statwalk", str(t.local)])[3].strip().splitlines()[-1]) for _ in range(3)]
                    log(f"statwalk: {walks}")
                    ctx.add("P3.floor", wl3f, tool, statistics.median(w["secs"] for w in walks), "s", False,
                            {**base, "entries": walks[0]["entries"], "runs": [round(w["secs"], 4) for w in walks], "taken": "median of 3"})
                    runs = []
                    for _ in range(3):
                        secs, rss = t.sync_once()
                        runs.append((secs, rss))
                    log(f"sync --once restarts: {runs}")
                    ctx.add("P3", wl3, tool, statistics.median(r[0] for r in runs), "s", False,
                            tool_settings(tool, {**base, "mode": "a second `nuvosync sync --once` on the synced pair (whole process)", "runs": [round(r[0], 4) for r in runs], "taken": "median of 3", "max_rss_mb": round(max(r[1] for r in runs) / MB, 1)}))
                    t0 = time.monotonic()
                    p = t.start()
                    _, t1 = t.wait_up_to_date(timeout)
                    ctx.add("P3.daemon", wl3d, tool, t1 - t0, "s", False, tool_settings(tool, {**base, "mode": "nuvosync daemon start until `status --json` says up_to_date (polled every 50 ms)"}))
                    cpu = idle_cpu(p.pid, steady)
                    st = proc_status(p.pid)
                    ctx.add("P4.idle_cpu", wl4c, tool, cpu, "% of one core", False, tool_settings(tool, {**base, "window_s": steady}))
                    ctx.add("P4.peak", wl4p, tool, st["VmHWM"] / MB, "MB", False, tool_settings(tool, {**base, "process": "nuvosync daemon"}))
                    ctx.add("P4.steady", wl4s, tool, st["VmRSS"] / MB, "MB", False, tool_settings(tool, {**base, "idle_secs": steady}))
                    t.stop()
                elif tool.startswith("maestral"):
                    t.link()
                    setup_note = None
                    if not t.tuned:
                        # The setup is not what P3/P4 measure: lift the CPU cap for it, then put the default back.
                        t._set_ini({"sync": {"max_cpu_percent": "100.0"}})
                        setup_note = "setup only: max_cpu_percent lifted to 100 for this first sync (the default 20 was restored for the measured restart)"
                    t0 = time.monotonic()
                    p = t.start()
                    _, t1 = t.wait_startup_idle(timeout)
                    ctx.add("P3.first_sync", wl3s, tool, t1 - t0, "s", False, tool_settings(tool, {**base, "note": setup_note} if setup_note else base))
                    ctx.add("P4.first_sync_peak", wl4f, tool, proc_status(p.pid)["VmHWM"] / MB, "MB", False, tool_settings(tool, {**base, "process": "maestral start -f", "note": setup_note} if setup_note else base))
                    t.stop()
                    if not t.tuned:
                        t._set_ini({"sync": {"max_cpu_percent": "20.0"}})
                    t0 = time.monotonic()
                    p = t.start()
                    _, t1 = t.wait_startup_idle(timeout)
                    ctx.add("P3", wl3, tool, t1 - t0, "s", False, tool_settings(tool, {**base, "mode": "maestral start -f until its startup sync logs 'Up to date' after 'Indexing local changes...'"}))
                    cpu = idle_cpu(p.pid, steady)
                    st = proc_status(p.pid)
                    ctx.add("P4.idle_cpu", wl4c, tool, cpu, "% of one core", False, tool_settings(tool, {**base, "window_s": steady}))
                    kids = children(p.pid)
                    ctx.add("P4.peak", wl4p, tool, st["VmHWM"] / MB, "MB", False, tool_settings(tool, {**base, "process": "maestral start -f", "child_processes": len(kids)}))
                    ctx.add("P4.steady", wl4s, tool, st["VmRSS"] / MB, "MB", False, tool_settings(tool, {**base, "idle_secs": steady}))
                    t.stop()
                    errs = t.errors()
                    if errs:
                        log(f"{tool} logged errors: {errs[:5]}")
                else:
                    wd = str(work / "bisync")
                    rc, secs, rss, out = t.run("bisync", str(t.local), t.remote, "--resync", "--workdir", wd, timeout=timeout)
                    ctx.add("P3.first_sync", wl3s, tool, secs, "s", False, tool_settings(tool, {**base, "command": "rclone bisync LOCAL dbx:bench/space/inst --resync"}))
                    ctx.add("P4.first_sync_peak", wl4f, tool, rss / MB, "MB", False, tool_settings(tool, {**base, "process": "rclone bisync --resync (max RSS from wait4)"}))
                    rc, secs, rss, out = t.run("bisync", str(t.local), t.remote, "--workdir", wd, timeout=timeout)
                    ctx.add("P3", wl3, tool, secs, "s", False, tool_settings(tool, {**base, "command": "rclone bisync LOCAL dbx:bench/space/inst (after --resync)"}))
                    ctx.add("P4.peak", wl4p, tool, rss / MB, "MB", False, tool_settings(tool, {**base, "process": "rclone bisync (max RSS from wait4)"}))
                    ctx.add("P4.steady", wl4s, tool, None, "MB", False, tool_settings(tool, base), reason="rclone does not stay resident: each bisync run exits")
                    ctx.add("P4.idle_cpu", wl4c, tool, None, "% of one core", False, tool_settings(tool, base), reason="rclone does not stay resident: each bisync run exits")
                uploads_after = sum(v for k, v in emu.stats().get("routes", {}).items() if "upload" in k)
                if uploads_after != uploads_before:
                    log(f"NOTE {tool}: {uploads_after - uploads_before} upload calls during a sync of identical trees")
            finally:
                if tool != "rclone":
                    t.stop()
                emu.stop()
                ctx.finish(name)

        attempt(ctx, tool, fallbacks, body)


# ================================================================ P5: latency


def run_P5(ctx: Ctx):
    trials = 5 if ctx.quick else 50
    small = TreeSpec(100, 10, 1024)
    wl = {
        "up.p50": f"P5 latency local write -> visible remotely, p50 of {trials} (s)",
        "up.p95": f"P5 latency local write -> visible remotely, p95 of {trials} (s)",
        "down.p50": f"P5 latency remote write -> on disk, p50 of {trials} (s)",
        "down.p95": f"P5 latency remote write -> on disk, p95 of {trials} (s)",
    }
    fallbacks = [(f"P5.{k}", v, "s", False) for k, v in wl.items()]
    rng = random.Random(5)
    for tool in tools_for(ctx):
        name = f"P5-{tool}"

        def body(tool=tool, name=name):
            emu = ctx.emulator(name)
            work = ctx.workdir(name)
            t = make_tool(ctx, tool, emu, work)
            loop = None
            try:
                gen_local(ctx.bins, t.local, small)
                (t.local / "lat").mkdir()
                (t.local / "lat" / "keep.txt").write_bytes(b"keep\n")
                if tool == "nuvosync":
                    t.pair_add()
                    t.start()
                    t.wait_up_to_date(300)
                    mode = "nuvosync daemon (file events on)"
                elif tool.startswith("maestral"):
                    t.link()
                    t.start()
                    t.wait_startup_idle(600)
                    mode = "maestral start -f (running, idle)"
                else:
                    wd = str(work / "bisync")
                    t.run("mkdir", t.remote)
                    t.run("bisync", str(t.local), t.remote, "--resync", "--workdir", wd)
                    loop = BisyncLoop(t, wd)
                    loop.start()
                    mode = "rclone cannot sync continuously: `rclone bisync` run back to back in a loop (each run lists both sides)"
                wait_until(lambda: "lat/keep.txt" in emu.remote_files(), 120, "the setup tree on the emulator")
                time.sleep(2)
                up, down, fails = [], [], {"up": 0, "down": 0}
                for k in range(trials):
                    time.sleep(0.5 + rng.random())
                    data = os.urandom(1000) + f"up {k}\n".encode()
                    rel_ = f"lat/up-{k:03d}.txt"
                    h = content_hash(data)
                    t0 = time.monotonic()
                    with open(t.local / rel_, "wb") as f:
                        f.write(data)
                    try:
                        _, t1 = wait_until(lambda: (e := emu.remote_files().get(rel_)) is not None and e.get("content_hash") == h, 60, "an upload", lo=0.01, hi=0.01)
                        up.append(t1 - t0)
                    except TimeoutError:
                        fails["up"] += 1
                    time.sleep(0.5 + rng.random())
                    data = os.urandom(1000) + f"down {k}\n".encode()
                    rel_ = f"lat/down-{k:03d}.txt"
                    status, res = emu.api("files/upload", {"path": f"{PAIR_REMOTE}/{rel_}", "mode": "add", "autorename": False}, data)
                    if status != 200:
                        raise RuntimeError(f"remote write failed: {status} {res}")
                    t0 = time.monotonic()
                    target = t.local / rel_
                    n = len(data)

                    def arrived():
                        try:
                            return target.stat().st_size == n
                        except OSError:
                            return False

                    try:
                        _, t1 = wait_until(arrived, 60, "a download", lo=0.005, hi=0.005)
                        down.append(t1 - t0)
                    except TimeoutError:
                        fails["down"] += 1
                    log(f"P5 {tool} trial {k}: up {up[-1] if up else None} down {down[-1] if down else None}")
                extra = {"trials": trials, "mode": mode, "timeouts_60s": fails, "poll_interval_s": {"up": 0.01, "down": 0.005},
                         "up_samples": [round(x, 3) for x in up], "down_samples": [round(x, 3) for x in down]}
                if loop:
                    extra.update(bisync_runs=loop.runs, bisync_failures=loop.failures, bisync_mean_run_s=round(loop.mean(), 3))
                for d, xs in (("up", up), ("down", down)):
                    for p in (50, 95):
                        ok = len(xs) >= max(1, trials // 2)
                        ctx.add(f"P5.{d}.p{p}", wl[f"{d}.p{p}"], tool, percentile(xs, p) if ok else None, "s", False, tool_settings(tool, extra),
                                reason=None if ok else f"{fails[d]} of {trials} trials timed out after 60 s")
            finally:
                if loop:
                    loop.stop()
                if tool != "rclone":
                    t.stop()
                emu.stop()
                ctx.finish(name)

        attempt(ctx, tool, fallbacks, body)


# ================================================================ P9: a large realistic tree


def run_P9(ctx: Ctx):
    # Maestral's first sync of the tree (not in --quick) runs on the emulator nuvosync's steps used.
    if "nuvosync" not in ctx.tools and ("maestral" not in ctx.tools or ctx.quick):
        return
    rows, body = p9.run(ctx, ctx.p9_files)
    attempt(ctx, "nuvosync", rows, body)


RUNNERS = {"E": run_E, "P1": run_P1, "P2": run_P2, "P3": run_P34, "P4": run_P34, "P5": run_P5, "P6": run_P6, "P7": run_P7, "P8": run_P8, "P9": run_P9}
RUNNERS["P5B"] = run_P5busy  # P5.busy


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="P1, P3, P5 at a tenth of the size (CI smoke test)")
    ap.add_argument("--only", help="comma-separated workloads: E,P1,...,P9")
    ap.add_argument("--tools", help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--out", help="output folder (default bench/out/<timestamp>)")
    ap.add_argument("--work-dir", help="scratch folder for trees (default OUT/work)")
    ap.add_argument("--keep-work", action="store_true", help="keep the trees and state of every step")
    ap.add_argument("--cap", type=int, help="seconds a tool gets for P1/P2 (its rate is then taken over the files it finished) and for the P3/P4 first sync (default 3600 and 7200)")
    ap.add_argument("--p9-files", type=int, default=0, help="files in P9's tree (default 1,000,000; --quick 100,000)")
    ap.add_argument("--merge", action="store_true", help="keep the rows already in OUT/results.json that this run does not measure again")
    args = ap.parse_args()
    if not args.out:
        args.out = str(HERE / "out" / dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    selected = args.only.upper().split(",") if args.only else (QUICK if args.quick else ALL)
    bad = [s for s in selected if s not in RUNNERS]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {','.join(ALL)}")
    ctx = Ctx(args)
    set_log_file(ctx.out / "bench.log")
    log(f"output: {ctx.out}; workloads: {selected}; tools: {ctx.tools}; quick: {ctx.quick}")
    log(f"versions: {json.dumps(ctx.versions)}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    ran = set()
    try:
        for w in [x for x in ALL if x in selected]:
            fn = RUNNERS[w]
            if fn in ran:
                continue
            ran.add(fn)
            log(f"==== {w}")
            t0 = time.monotonic()
            try:
                fn(ctx)
            except Exception as e:  # noqa: BLE001
                log(f"workload {w} failed: {e}\n{traceback.format_exc()}")
                ctx.add(w, f"{w} (the workload itself failed)", "harness", None, "", True, reason=f"failed: {e}")
            log(f"==== {w} took {time.monotonic() - t0:.0f}s")
    finally:
        kill_all_started()
        ctx.save()
        report.write(ctx.out, ctx.all_rows(), json.loads((ctx.out / "meta.json").read_text()))
        if not ctx.keep:
            rmtree(ctx.work)
    log(f"wrote {ctx.out}/results.json, results.md, chart.svg")
    # A workload that threw, and a nuvosync row whose measurement threw (a broken build or a
    # broken harness: both once passed this smoke run unnoticed), fail the run. Rows that are
    # n/a for a reason (a tool that is not installed, a trial that timed out) do not.
    failed = [r for r in ctx.results if r["tool"] == "harness"
              or (r["tool"] == "nuvosync" and r["value"] is None and str(r.get("reason", "")).startswith("failed"))]
    for r in failed:
        log(f"FAILED {r['id']} {r['tool']}: {r.get('reason')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
