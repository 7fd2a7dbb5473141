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
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lib  # noqa: E402
import p9  # noqa: E402
import report  # noqa: E402
from lib import (  # noqa: E402
    FULL_REMOTE,
    HERE,
    PAIR_REMOTE,
    ROOT,
    TARGET,
    Emulator,
    Maestral,
    Nuvosync,
    Rclone,
    TreeSpec,
    adaptive_sleep,
    content_hash,
    count_matching,
    count_present,
    file_content_hash,
    gen_local,
    kill_all_started,
    loadgen,
    local_sizes,
    log,
    percentile,
    populate_remote,
    proc_cpu_secs,
    proc_status,
    rmtree,
    run_timed,
    set_log_file,
    spawn,
    stop_proc,
    wait_until,
)

TOOLS = ["nuvosync", "maestral", "maestral-tuned", "rclone"]
ALL = ["E", "P7", "P1", "P2", "P5", "P6", "P5B", "P3", "P4", "P8", "P9"]
QUICK = ["P1", "P3", "P5", "P9"]
LATENCY = 20
MB = 1e6
STEADY = 30  # seconds of idle before the steady RSS sample
QUICK_CAP = 30  # --quick: P1/P2 report the rate over what a tool did in this many seconds
MiB = 1 << 20
GiB = 1 << 30


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


def attempt(ctx: Ctx, tool: str, fallbacks: list[tuple], body) -> None:
    """Run one tool's part of a workload. A failure is retried once from a clean state (the
    rows then say what the first attempt hit); a second failure records every expected row
    still missing with value null and the reason."""
    if tool in ctx.unavailable:
        for id, workload, unit, hib in fallbacks:
            ctx.add(id, workload, tool, None, unit, hib, reason=ctx.unavailable[tool])
        return
    mark = len(ctx.results)
    for attempt_no in (1, 2):
        ctx.emu_mark = len(lib.EMULATORS)
        try:
            body()
            ctx.retry_note = None
            return
        except Exception as e:  # noqa: BLE001
            first = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
            outside = [em for em in lib.EMULATORS[ctx.emu_mark:] if em.died]
            if outside:
                first += " (the emulator process had been stopped from outside the harness)"
            log(f"FAILED {tool} (attempt {attempt_no}): {first}\n{traceback.format_exc()}")
            del ctx.results[mark:]
            ctx.save()
            if attempt_no == 1:
                ctx.retry_note = f"second attempt; the first failed: {first}"
                continue
            ctx.retry_note = None
            for id, workload, unit, hib in fallbacks:
                ctx.add(id, workload, tool, None, unit, hib, reason=f"failed twice: {first}")


def tools_for(ctx, allowed=TOOLS):
    return [t for t in ctx.tools if t in allowed]


def make_tool(ctx, tool, emu, work):
    if tool == "nuvosync":
        return Nuvosync(ctx.bins, emu, work)
    if tool in ("maestral", "maestral-tuned"):
        return Maestral(ctx.bins, emu, work, tuned=tool == "maestral-tuned")
    return Rclone(ctx.bins, emu, work)


def tool_settings(tool, extra=None) -> dict:
    s = {"emulator_latency_ms": LATENCY}
    if tool == "nuvosync":
        s.update(NUVOSYNC_TRANSFERS=os.environ.get("NUVOSYNC_TRANSFERS", "32 (default)"), NUVOSYNC_CHUNK_SIZE=os.environ.get("NUVOSYNC_CHUNK_SIZE", "16 MiB (default)"))
    elif tool == "maestral":
        s.update(max_cpu_percent=20.0, max_parallel_uploads=6, max_parallel_downloads=6, note="defaults")
    elif tool == "maestral-tuned":
        s.update(max_cpu_percent=100.0, max_parallel_uploads=16, max_parallel_downloads=16, note="CPU cap off (100 % per core disables _slow_down); worker pool NUM_THREADS=min(24, cpu_count) is not configurable")
    s.update(extra or {})
    return s


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


# ================================================================ P1 / P2


SERVER_MODEL = "HTTP/2 by ALPN (HTTP/1.1 for clients that do not offer it), load model at its defaults: 100 requests in flight, 1,000 requests/s, bursts of 2,000, 429 + Retry-After above"


def server_counts(emu) -> dict:
    s = emu.stats()
    # `requests` counts the harness's admin polls too; `routes` counts API calls only (refused ones included).
    out = {k: int(s.get(k, 0)) for k in ("http2_requests", "load_refused")}
    out["api_requests"] = sum(int(v) for v in s.get("routes", {}).values())
    return out


def server_share(before: dict, after: dict) -> dict:
    """What the emulator saw between two counts: requests, how many over HTTP/2, how many the
    load model refused (429), and that share."""
    d = {k: after[k] - before[k] for k in before}
    return {"server_model": SERVER_MODEL, **d, "refused_share": round(d["load_refused"] / d["api_requests"], 4) if d["api_requests"] else None}


def p12_spec(ctx):
    return TreeSpec(1000, 10) if ctx.quick else TreeSpec(10000, 100)


def run_P1(ctx: Ctx):
    spec = p12_spec(ctx)
    want = spec.expected_sizes()
    wl = f"P1 first upload of {spec} (files/s until the emulator's listing matches)"
    timeout = ctx.time_cap(quick=QUICK_CAP, full=3600)
    # What the emulator allows at these settings: a plain client that only uploads (no local
    # folder, no scan, no state), as many requests in flight as nuvosync's small transfers,
    # timed the way the tools are (from process start until the listing matches).
    wl_c = f"P1 ceiling: the same {spec.files} files by a plain client (files/upload, 128 in flight), same emulator settings and timing"

    def ceiling():
        best, own = None, None
        for k in range(2):
            name = f"P1-ceiling-{k}"
            emu = ctx.emulator(name)
            proc = None
            try:
                cmd = [str(ctx.bins["loadgen"]), "upload-tree", "--url", emu.url, "--ca", emu.ca_file, "--token", lib.TOKEN,
                       "--root", lib.PAIR_REMOTE, "--files", str(spec.files), "--folders", str(spec.folders),
                       "--size", str(spec.size), "--concurrency", "128"]
                out = open(ctx.workdir(name) / "loadgen.log", "w")
                c0 = server_counts(emu)
                t0 = time.monotonic()
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
                _, t1 = wait_until(lambda: count_matching({r: e.get("size") for r, e in emu.remote_files().items()}, want) == spec.files,
                                   timeout, "the plain client to upload")
                proc.wait(timeout=60)
                out.close()
                report = json.loads((ctx.workdir(name) / "loadgen.log").read_text().strip().splitlines()[-1])
                if report.get("errors"):
                    raise RuntimeError(f"errors during the P1 ceiling: {report}")
                value = spec.files / (t1 - t0)
                if best is None or value > best:
                    best, own, server = value, report["files_per_s"], server_share(c0, server_counts(emu))
            finally:
                stop_proc(proc)
                emu.stop()
                ctx.finish(name)
        ctx.add("P1.ceiling", wl_c, "plain-client", best, "files/s", True,
                {"emulator_latency_ms": LATENCY, "concurrency": 128, "client": "bench-loadgen upload-tree (reqwest, HTTP/1.1 keep-alive)",
                 "files_per_s_by_its_own_clock": round(own, 1), "runs": 2, "taken": "best", "server": server})

    if "nuvosync" in ctx.tools:
        attempt(ctx, "plain-client", [("P1.ceiling", wl_c, "files/s", True)], ceiling)
    for tool in tools_for(ctx):
        name = f"P1-{tool}"

        def body(tool=tool, name=name):
            emu = ctx.emulator(name)
            t = make_tool(ctx, tool, emu, ctx.workdir(name))
            proc = None
            try:
                gen_local(ctx.bins, t.local, spec)
                c0 = server_counts(emu)
                if tool == "nuvosync":
                    t.pair_add()
                    t0 = time.monotonic()
                    proc = t.start()
                elif tool.startswith("maestral"):
                    t.link()
                    t0 = time.monotonic()
                    proc = t.start()
                else:
                    t0 = time.monotonic()
                    proc = t.spawn("copy", str(t.local), t.remote, "--dropbox-batch-mode", "sync", "--transfers", "32")
                progress = {"n": 0}

                def matched():
                    have = {r: e.get("size") for r, e in emu.remote_files().items()}
                    progress["n"] = count_matching(have, want)
                    return progress["n"] == spec.files

                note = None
                try:
                    _, t1 = wait_until(matched, timeout, f"{tool} to upload {spec.files} files", alive=None if tool != "nuvosync" else (lambda: proc.poll() is None))
                    value = spec.files / (t1 - t0)
                except TimeoutError:
                    t1 = time.monotonic()
                    value = progress["n"] / (t1 - t0)
                    note = f"{'quick mode: stopped' if ctx.quick else 'did not finish'} after {timeout}s ({progress['n']}/{spec.files} files); rate over the files done"
                if note is None:
                    hashes = spec.expected_hashes()
                    bad = [r for r, e in emu.remote_files().items() if r in hashes and e.get("content_hash") != hashes[r]]
                    if bad:
                        raise RuntimeError(f"{len(bad)} files arrived with the wrong content, e.g. {bad[:3]}")
                extra = {"files": spec.files, "folders": spec.folders, "size": spec.size, "seconds": round(t1 - t0, 3)}
                extra["server"] = server_share(c0, server_counts(emu))
                if tool == "rclone":
                    extra.update(command="rclone copy LOCAL dbx:bench/space/inst --dropbox-batch-mode sync --transfers 32")
                elif tool == "nuvosync":
                    extra.update(mode="daemon started on a folder with the files; timed from process start")
                else:
                    extra.update(mode="maestral start -f on a folder with the files (linked beforehand); timed from process start")
                ctx.add("P1", wl, tool, value, "files/s", True, tool_settings(tool, extra), reason=note)
            finally:
                if tool == "nuvosync":
                    t.stop()
                elif tool.startswith("maestral"):
                    t.stop()
                else:
                    stop_proc(proc)
                emu.stop()
                ctx.finish(name)

        attempt(ctx, tool, [("P1", wl, "files/s", True)], body)


def run_P2(ctx: Ctx):
    spec = p12_spec(ctx)
    want = spec.expected_sizes()
    wl = f"P2 first download of {spec} (files/s until the local tree matches)"
    timeout = ctx.time_cap(quick=QUICK_CAP, full=3600)
    for tool in tools_for(ctx):
        name = f"P2-{tool}"

        def body(tool=tool, name=name):
            emu = ctx.emulator(name)
            t = make_tool(ctx, tool, emu, ctx.workdir(name))
            proc = None
            try:
                populate_remote(ctx.bins, emu, spec)
                t.local.mkdir(parents=True, exist_ok=True)
                c0 = server_counts(emu)
                if tool == "nuvosync":
                    t.pair_add()
                    t0 = time.monotonic()
                    proc = t.start()
                elif tool.startswith("maestral"):
                    t.link()
                    t0 = time.monotonic()
                    proc = t.start()
                else:
                    t0 = time.monotonic()
                    proc = t.spawn("copy", t.remote, str(t.local), "--dropbox-batch-mode", "sync", "--transfers", "32")
                progress = {"n": 0}

                def matched():
                    # stat every expected path: no directory is opened, so no watcher sees the polling
                    progress["n"] = count_present(t.local, want)
                    return progress["n"] == spec.files

                note = None
                try:
                    _, t1 = wait_until(matched, timeout, f"{tool} to download {spec.files} files")
                    value = spec.files / (t1 - t0)
                except TimeoutError:
                    t1 = time.monotonic()
                    value = progress["n"] / (t1 - t0)
                    note = f"{'quick mode: stopped' if ctx.quick else 'did not finish'} after {timeout}s ({progress['n']}/{spec.files} files); rate over the files done"
                if note is None:
                    hashes = spec.expected_hashes()
                    sample = list(hashes)[:: max(1, spec.files // 500)]
                    bad = [r for r in sample if file_content_hash(t.local / r) != hashes[r]]
                    if bad:
                        raise RuntimeError(f"files arrived with the wrong content, e.g. {bad[:3]}")
                extra = {"files": spec.files, "folders": spec.folders, "size": spec.size, "seconds": round(t1 - t0, 3)}
                extra["server"] = server_share(c0, server_counts(emu))
                if tool == "rclone":
                    extra.update(command="rclone copy dbx:bench/space/inst LOCAL --dropbox-batch-mode sync --transfers 32")
                ctx.add("P2", wl, tool, value, "files/s", True, tool_settings(tool, extra), reason=note)
            finally:
                if tool == "rclone":
                    stop_proc(proc)
                else:
                    t.stop()
                emu.stop()
                ctx.finish(name)

        attempt(ctx, tool, [("P2", wl, "files/s", True)], body)


# ================================================================ P3 / P4: 100,000 files


def run_P34(ctx: Ctx):
    steady = 10 if ctx.quick else STEADY
    spec = TreeSpec(10000, 100) if ctx.quick else TreeSpec(100000, 1000)
    wl3 = f"P3 restart with {spec.files:,} unchanged local files until up to date (s)"
    wl3d = f"P3 daemon restart with {spec.files:,} unchanged files until status up_to_date (s)"
    wl3f = f"P3 floor: bare parallel lstat walk of the {spec.files:,}-file tree (nuvosync debug statwalk, s)"
    wl3s = f"first sync of {spec.files:,} files already identical on both sides (setup for P3/P4; s)"
    wl4f = f"peak RSS (VmHWM) over that first sync (MB)"
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


def idle_cpu(pid: int, secs: float) -> float:
    """CPU used by pid over the next secs seconds, in % of one core."""
    c0, t0 = proc_cpu_secs(pid), time.monotonic()
    time.sleep(secs)
    c1, t1 = proc_cpu_secs(pid), time.monotonic()
    return 100 * (c1 - c0) / (t1 - t0)


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


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


class BisyncLoop(threading.Thread):
    """rclone bisync back to back (rclone's closest thing to continuous two-way sync)."""

    def __init__(self, t: Rclone, workdir: str):
        super().__init__(daemon=True)
        self.t, self.wd = t, workdir
        self.halt = threading.Event()
        self.runs, self.failures, self.secs = 0, 0, 0.0
        self.resync_next = False

    def run(self):
        while not self.halt.is_set():
            args = ["bisync", str(self.t.local), self.t.remote, "--workdir", self.wd]
            if self.resync_next:
                args.append("--resync")
            rc, secs, _, out = self.t.run(*args, timeout=300, check=False)
            self.runs += 1
            self.secs += secs
            self.resync_next = rc != 0 and "--resync" in out
            if rc != 0:
                self.failures += 1

    def mean(self):
        return self.secs / self.runs if self.runs else float("nan")

    def stop(self):
        self.halt.set()
        self.join(320)


# ================================================================ P6: one 1 GiB file


def big_file(ctx: Ctx) -> Path:
    """1 GiB of random bytes (256 MiB with --quick)."""
    p = ctx.work / "big" / "big.bin"
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            for _ in range((256 * MiB if ctx.quick else GiB) // (16 * MiB)):
                f.write(os.urandom(16 * MiB))
    return p


def place(src: Path, dst: Path):
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    with open(dst, "rb") as f:  # warm the page cache the same way for every tool
        while f.read(16 * MiB):
            pass


def run_P6(ctx: Ctx):
    big = big_file(ctx)
    size = big.stat().st_size
    want = file_content_hash(big)
    gib = f"{size / GiB:g} GiB"
    wl_t = f"P6 one {gib} file up (MB/s, from process start until it is on the emulator)"
    wl_c = f"P6 ceiling: the same {gib} with a plain client (upload sessions, 16 MiB chunks, sequential), same emulator settings"
    wl_r = "P6 bytes re-sent after kill -9 at 50 % and restart (MB, from /admin/stats bytes_in)"
    def ceiling():
        name = "P6-ceiling"
        emu = ctx.emulator(name)
        try:
            best = None
            for k in range(2):
                r = loadgen(ctx.bins, emu, "large-upload", "--path", f"/ceiling{k}.bin", "--size", size, "--chunk", 16 * MiB)
                best = r if best is None or r["mb_per_s"] > best["mb_per_s"] else best
            ctx.add("P6.ceiling", wl_c, "plain-client", best["mb_per_s"], "MB/s", True, {"emulator_latency_ms": LATENCY, "chunk": 16 * MiB, "client": "bench-loadgen large-upload", "runs": 2, "taken": "best"})
        finally:
            emu.stop()
            ctx.finish(name)

    attempt(ctx, "plain-client", [("P6.ceiling", wl_c, "MB/s", True)], ceiling)

    chunks = {"nuvosync": int(os.environ.get("NUVOSYNC_CHUNK_SIZE", 16 * MiB)), "maestral": 4 * MiB, "maestral-tuned": 4 * MiB, "rclone": 48 * MiB}
    for tool in tools_for(ctx):
        name = f"P6-{tool}"
        fallbacks = [("P6.throughput", wl_t, "MB/s", True), ("P6.resent", wl_r, "MB", False)]

        def body(tool=tool, name=name):
            # --- clean upload
            emu = ctx.emulator(name + "-clean")
            t = make_tool(ctx, tool, emu, ctx.workdir(name + "-clean"))
            try:
                place(big, t.local / "big.bin")
                done = lambda: (e := emu.remote_files().get("big.bin")) is not None and e.get("content_hash") == want  # noqa: E731
                if tool == "nuvosync":
                    t.pair_add()
                    secs, _ = t.sync_once()
                    if not done():
                        raise RuntimeError("sync --once returned but the file is not on the emulator")
                elif tool.startswith("maestral"):
                    t.link()
                    t0 = time.monotonic()
                    t.start()
                    _, t1 = wait_until(done, 1800, "the big file", lo=0.05, hi=0.25)
                    secs = t1 - t0
                else:
                    rc, secs, _, _ = t.run("copy", str(t.local), t.remote, "--dropbox-batch-mode", "sync", "--transfers", "32")
                    if not done():
                        raise RuntimeError("rclone copy returned but the file is not on the emulator")
                bytes_in = emu.stats()["bytes_in"]
                ctx.add("P6.throughput", wl_t, tool, size / MB / secs, "MB/s", True,
                        tool_settings(tool, {"bytes": size, "seconds": round(secs, 3), "chunk": chunks[tool], "bytes_in": bytes_in,
                                             "mode": {"nuvosync": "nuvosync sync --once (whole process)", "rclone": "rclone copy --dropbox-batch-mode sync --transfers 32 (default --dropbox-chunk-size 48Mi)"}.get(tool, "maestral start -f, timed until the file is on the emulator")}))
            finally:
                t.stop() if tool != "rclone" else None
                emu.stop()
                ctx.finish(name + "-clean")
            # --- kill -9 at 50 % and restart
            emu = ctx.emulator(name + "-kill")
            t = make_tool(ctx, tool, emu, ctx.workdir(name + "-kill"))
            proc = None
            try:
                place(big, t.local / "big.bin")
                if tool == "nuvosync":
                    t.pair_add()
                    proc = spawn([t.bin, "sync", "--once"], env=t.env, log_path=t.log_path)
                elif tool.startswith("maestral"):
                    t.link()
                    proc = t.start()
                else:
                    proc = t.spawn("copy", str(t.local), t.remote, "--dropbox-batch-mode", "sync", "--transfers", "32")
                wait_until(lambda: emu.stats()["bytes_in"] >= size // 2 or proc.poll() is not None, 1800, "half of the file", lo=0.01, hi=0.01)
                if proc.poll() is not None:
                    raise RuntimeError("the upload finished before it could be killed at 50 %")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
                time.sleep(1)
                at_kill = emu.stats()["bytes_in"]
                t0 = time.monotonic()
                if tool == "nuvosync":
                    t.sync_once()
                elif tool.startswith("maestral"):
                    t.start()
                    wait_until(done, 1800, "the big file after restart", lo=0.05, hi=0.25)
                else:
                    t.run("copy", str(t.local), t.remote, "--dropbox-batch-mode", "sync", "--transfers", "32")
                if not done():
                    raise RuntimeError("the file is not on the emulator after the restart")
                total = emu.stats()["bytes_in"]
                resent = total - size
                ctx.add("P6.resent", wl_r, tool, resent / MB, "MB", False,
                        tool_settings(tool, {"bytes_in_at_kill": at_kill, "bytes_in_total": total, "file_bytes": size, "chunk": chunks[tool],
                                             "resent_chunks": round(resent / chunks[tool], 2), "restart_secs": round(time.monotonic() - t0, 3)}))
            finally:
                if tool == "rclone":
                    stop_proc(proc)
                else:
                    t.stop()
                emu.stop()
                ctx.finish(name + "-kill")

        attempt(ctx, tool, fallbacks, body)

    # --- the same file down: kill -9 at 50 % of the download, restart (nuvosync resumes a
    # staged download with a Range request; the others fetch it again from byte 0).
    wl_d = "P6 bytes downloaded again after kill -9 at 50 % of a download and restart (MB, from /admin/stats bytes_out)"
    if "nuvosync" in tools_for(ctx):
        def down(name="P6-nuvosync-download-kill"):
            emu = ctx.emulator(name)
            t = make_tool(ctx, "nuvosync", emu, ctx.workdir(name))
            proc = None
            try:
                loadgen(ctx.bins, emu, "large-upload", "--path", f"{PAIR_REMOTE}/big.bin", "--size", size, "--chunk", 16 * MiB)
                t.local.mkdir(parents=True, exist_ok=True)
                t.pair_add()
                base = emu.stats()["bytes_out"]
                proc = spawn([t.bin, "sync", "--once"], env=t.env, log_path=t.log_path)
                wait_until(lambda: emu.stats()["bytes_out"] - base >= size // 2 or proc.poll() is not None, 1800, "half of the download", lo=0.01, hi=0.01)
                if proc.poll() is not None:
                    raise RuntimeError("the download finished before it could be killed at 50 %")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
                time.sleep(1)
                at_kill = emu.stats()["bytes_out"] - base
                t0 = time.monotonic()
                t.sync_once()
                got = t.local / "big.bin"
                if not got.exists() or got.stat().st_size != size:
                    raise RuntimeError("the file is not here after the restart")
                total = emu.stats()["bytes_out"] - base
                ctx.add("P6.refetched", wl_d, "nuvosync", (total - size) / MB, "MB", False,
                        tool_settings("nuvosync", {"bytes_out_at_kill": at_kill, "bytes_out_total": total, "file_bytes": size,
                                                   "restart_secs": round(time.monotonic() - t0, 3)}))
            finally:
                stop_proc(proc)
                emu.stop()
                ctx.finish(name)

        attempt(ctx, "nuvosync", [("P6.refetched", wl_d, "MB", False)], down)


# ================================================================ P5.busy: small edits while big files move


def run_P5busy(ctx: Ctx):
    """A 1 KiB edit, local -> listed by the emulator with its content hash, written while a
    1 GiB upload and a 1 GiB download are both in flight (20 ms latency, no bandwidth cap).

    Measured for this build (`nuvosync`) and, when BENCH_NUVOSYNC_BASELINE names a nuvosync
    binary built from another commit (BENCH_NUVOSYNC_BASELINE_GIT says which), for that one
    too (`nuvosync-rounds`), in the same run. Each cycle is a fresh emulator and daemon on a
    synced 100-file tree: the big remote file is put on the emulator with bench-loadgen, the
    big local file is renamed into the folder, and once both transfers moved 32 MiB the edits
    start, 0.5-1.5 s apart, as long as one of the big files has not arrived."""
    size = 256 * MiB if ctx.quick else GiB
    goal = 5 if ctx.quick else 20
    small = TreeSpec(100, 10, 1024)
    wl = f"P5.busy latency local write -> visible remotely while a {size / GiB:g} GiB upload and a {size / GiB:g} GiB download run, p50 (s)"
    variants = [("nuvosync", Path(ctx.bins["nuvosync"]), 4, ctx.versions.get("git"))]
    base = os.environ.get("BENCH_NUVOSYNC_BASELINE")
    if base:
        copy = ctx.work / "bin" / "nvbench-nvs-base"
        shutil.copy2(base, copy)
        # Main's rounds wait for every transfer: one edit per cycle at most.
        variants.insert(0, ("nuvosync-rounds", copy, 3, os.environ.get("BENCH_NUVOSYNC_BASELINE_GIT", "?")))
    src = big_file(ctx)
    rng = random.Random(55)
    for tool, binary, max_cycles, commit in variants:

        def body(tool=tool, binary=binary, max_cycles=max_cycles, commit=commit):
            samples, cycles, per_cycle = [], 0, []
            while len(samples) < goal and cycles < max_cycles:
                cycles += 1
                name = f"P5busy-{tool}-{cycles}"
                emu = ctx.emulator(name)
                work = ctx.workdir(name)
                t = Nuvosync(dict(ctx.bins, nuvosync=binary), emu, work)
                got = 0
                try:
                    gen_local(ctx.bins, t.local, small)
                    (t.local / "lat").mkdir()
                    (t.local / "lat" / "keep.txt").write_bytes(b"keep\n")
                    t.pair_add()
                    t.start()
                    t.wait_up_to_date(300)
                    wait_until(lambda: "lat/keep.txt" in emu.remote_files(), 120, "the setup tree on the emulator")
                    staged = work / "staged" / "big-up.bin"
                    place(src, staged)
                    loadgen(ctx.bins, emu, "large-upload", "--path", f"{PAIR_REMOTE}/big-down.bin", "--size", size, "--chunk", 16 * MiB)
                    s0 = emu.stats()
                    os.rename(staged, t.local / "big-up.bin")
                    down = t.local / "big-down.bin"

                    def moving():
                        s = emu.stats()
                        return s["bytes_in"] - s0["bytes_in"] >= 32 * MiB and s["bytes_out"] - s0["bytes_out"] >= 32 * MiB

                    wait_until(moving, 300, "both big transfers under way", lo=0.05, hi=0.05)

                    def still_moving():
                        # Main's rounds run the two one after the other, never both at once.
                        return not down.exists() or "big-up.bin" not in emu.remote_files()

                    k = 0
                    while len(samples) < goal:
                        time.sleep(0.5 + rng.random())
                        if not still_moving():
                            break
                        k += 1
                        data = os.urandom(1000) + f"busy {cycles} {k}\n".encode()
                        rel_ = f"lat/busy-{cycles}-{k:03d}.txt"
                        h = content_hash(data)
                        t0 = time.monotonic()
                        with open(t.local / rel_, "wb") as f:
                            f.write(data)
                        _, t1 = wait_until(lambda: (e := emu.remote_files().get(rel_)) is not None and e.get("content_hash") == h, 600, "a small edit", lo=0.01, hi=0.01)
                        samples.append(t1 - t0)
                        got += 1
                        log(f"P5.busy {tool} cycle {cycles} edit {k}: {t1 - t0:.3f} s")
                finally:
                    per_cycle.append(got)
                    t.stop()
                    emu.stop()
                    ctx.finish(name)
            ok = len(samples) > 0
            extra = {"edits": len(samples), "cycles": cycles, "edits_per_cycle": per_cycle, "big_bytes": size, "git": commit,
                     "samples": [round(x, 3) for x in samples], "poll_interval_s": 0.01,
                     "mode": "nuvosync daemon (file events on); an edit counts if written after both big transfers had moved 32 MiB and before both had arrived"}
            ctx.add("P5.busy.up.p50", wl, tool, percentile(samples, 50) if ok else None, "s", False, tool_settings("nuvosync", extra),
                    reason=None if ok else "no edit could be written while the big transfers ran")

        attempt(ctx, tool, [("P5.busy.up.p50", wl, "s", False)], body)


# ================================================================ P7: hashing


def run_P7(ctx: Ctx):
    big = big_file(ctx)
    size = big.stat().st_size
    place(big, ctx.work / "hash" / "one.bin")
    one = ctx.work / "hash" / "one.bin"
    nb = ctx.bins["nuvosync"]
    part = size // 2
    wl1 = f"P7 content hashing, one {size / GiB:g} GiB file, one thread (MB/s)"
    wla = f"P7 content hashing, {max(2, ctx.nproc)} files of {part // MiB} MiB, all threads (MB/s)"
    wlo = "P7 reference: openssl speed -bytes 16384 -seconds 3 sha256, one core (MB/s)"
    try:
        runs = [json.loads(run_timed([str(nb), "debug", "hash", str(one), "--threads", "1"])[3].strip().splitlines()[-1]) for _ in range(3)]
        ctx.add("P7.single", wl1, "nuvosync", statistics.median(r["mb_per_s"] for r in runs), "MB/s", True,
                {"file_bytes": size, "runs": [round(r["mb_per_s"], 1) for r in runs], "taken": "median of 3", "command": "nuvosync debug hash FILE --threads 1", "page_cache": "warm"})
    except Exception as e:  # noqa: BLE001
        ctx.add("P7.single", wl1, "nuvosync", None, "MB/s", True, reason=f"failed: {e}")
    try:
        files = []
        for i in range(max(2, ctx.nproc)):
            f = ctx.work / "hash" / f"part{i}.bin"
            with open(big, "rb") as src, open(f, "wb") as dst:
                src.seek((i % 2) * part)
                for _ in range(part // (16 * MiB)):
                    dst.write(src.read(16 * MiB))
            files.append(str(f))
        for f in files:
            run_timed(["cat", f])
        runs = [json.loads(run_timed([str(nb), "debug", "hash", *files, "--threads", str(len(files))])[3].strip().splitlines()[-1]) for _ in range(3)]
        ctx.add("P7.all", wla, "nuvosync", statistics.median(r["mb_per_s"] for r in runs), "MB/s", True,
                {"files": len(files), "threads": len(files), "runs": [round(r["mb_per_s"], 1) for r in runs], "taken": "median of 3"})
    except Exception as e:  # noqa: BLE001
        ctx.add("P7.all", wla, "nuvosync", None, "MB/s", True, reason=f"failed: {e}")
    try:
        rc, _, _, out = run_timed(["openssl", "speed", "-bytes", "16384", "-seconds", "3", "sha256"])
        m = [l for l in out.splitlines() if l.startswith("sha256")]
        val = m[-1].split()[-1]
        kb = float(val.rstrip("k"))
        ctx.add("P7.openssl", wlo, "openssl", kb * 1000 / MB, "MB/s", True, {"command": "openssl speed -bytes 16384 -seconds 3 sha256", "line": m[-1]})
    except Exception as e:  # noqa: BLE001
        ctx.add("P7.openssl", wlo, "openssl", None, "MB/s", True, reason=f"failed: {e}")
    if "maestral" in ctx.tools:
        if "maestral" in ctx.unavailable:
            ctx.add("P7.single", wl1, "maestral", None, "MB/s", True, reason=ctx.unavailable["maestral"])
        else:
            code = ("import time,sys\nfrom maestral.utils.path import content_hash\nr=[]\n"
                    "for _ in range(3):\n t=time.monotonic(); h,_=content_hash(sys.argv[1]); r.append(time.monotonic()-t)\n"
                    "print(sorted(r)[1])")
            try:
                rc, _, _, out = run_timed([str(ctx.bins["maestral_python"]), "-c", code, str(one)])
                secs = float(out.strip().splitlines()[-1])
                ctx.add("P7.single", wl1, "maestral", size / MB / secs, "MB/s", True,
                        {"code": "maestral.utils.path.content_hash (64 KiB reads, DropboxContentHasher), called directly, median of 3", "page_cache": "warm",
                         "note": "inside the daemon this runs in worker threads throttled by max_cpu_percent"})
            except Exception as e:  # noqa: BLE001
                ctx.add("P7.single", wl1, "maestral", None, "MB/s", True, reason=f"failed: {e}")
    if "maestral-tuned" in ctx.tools:
        ctx.add("P7.single", wl1, "maestral-tuned", None, "MB/s", True, reason="same hashing code as maestral; its settings do not change it (see the maestral row)")
    if "rclone" in ctx.tools:
        if "rclone" in ctx.unavailable:
            ctx.add("P7.single", wl1, "rclone", None, "MB/s", True, reason=ctx.unavailable["rclone"])
        else:
            try:
                runs = []
                for _ in range(3):
                    rc, secs, _, out = run_timed([ctx.bins["rclone"], "hashsum", "dropbox", str(one)])
                    if rc != 0:
                        raise RuntimeError(out[-500:])
                    runs.append(secs)
                ctx.add("P7.single", wl1, "rclone", size / MB / statistics.median(runs), "MB/s", True,
                        {"command": "rclone hashsum dropbox FILE (whole process)", "runs_s": [round(r, 3) for r in runs], "taken": "median of 3"})
            except Exception as e:  # noqa: BLE001
                ctx.add("P7.single", wl1, "rclone", None, "MB/s", True, reason=f"failed: {e}")
    rmtree(ctx.work / "hash")


# ================================================================ P8: no file-system event


def run_P8(ctx: Ctx):
    spec = TreeSpec(10000, 100) if ctx.quick else TreeSpec(100000, 1000)
    trials = 2 if ctx.quick else 4
    wl_l = f"P8 a new file with no file-system event in a {spec.files:,}-file tree: time until it is on the emulator (s, worst of {trials})"
    wl_c = "P8 CPU used by the process over those waits (% of one core)"
    for tool in tools_for(ctx):
        if tool != "nuvosync":
            why = {
                "maestral": "Maestral has no periodic rescan: on Linux it relies on inotify, and a change without an event is only found at its next restart",
                "maestral-tuned": "Maestral has no periodic rescan: on Linux it relies on inotify, and a change without an event is only found at its next restart",
                "rclone": "rclone has no resident process; a change is found by the next run the user schedules (each bisync run is a full scan, see P3)",
            }[tool]
            ctx.add("P8.latency", wl_l, tool, None, "s", False, reason=why)
            ctx.add("P8.cpu", wl_c, tool, None, "% of one core", False, reason=why)
            continue
        name = "P8-nuvosync"

        def body(name=name):
            emu = ctx.emulator(name)
            t = Nuvosync(ctx.bins, emu, ctx.workdir(name))
            try:
                populate_remote(ctx.bins, emu, spec)
                gen_local(ctx.bins, t.local, spec)
                t.pair_add(watch=False, rescan=60)
                p = t.start()
                t.wait_up_to_date(3600)
                time.sleep(5)
                rng = random.Random(8)
                lat, cpu, wall = [], 0.0, 0.0
                for k in range(trials):
                    time.sleep(rng.uniform(0, 20))
                    rel_ = f"p8-new-{k}.txt"
                    data = f"written without an event {k}\n".encode()
                    c0 = proc_cpu_secs(p.pid)
                    t0 = time.monotonic()
                    (t.local / rel_).write_bytes(data)

                    def noticed():
                        st, _ = emu.api("files/get_metadata", {"path": f"{PAIR_REMOTE}/{rel_}"})
                        return st == 200

                    _, t1 = wait_until(noticed, 300, "the unwatched file on the emulator", lo=0.25, hi=0.25, alive=lambda: p.poll() is None)
                    c1 = proc_cpu_secs(p.pid)
                    lat.append(t1 - t0)
                    cpu += c1 - c0
                    wall += t1 - t0
                    log(f"P8 trial {k}: {t1 - t0:.2f}s, cpu {c1 - c0:.3f}s")
                s = tool_settings("nuvosync", {"files": spec.files, "pair": "--no-watch --rescan-interval 60", "trials": trials, "samples_s": [round(x, 2) for x in lat],
                                               "mean_s": round(statistics.mean(lat), 2), "poll": "files/get_metadata every 0.25 s", "cpu_secs": round(cpu, 3), "wall_secs": round(wall, 2)})
                ctx.add("P8.latency", wl_l, "nuvosync", max(lat), "s", False, s)
                ctx.add("P8.cpu", wl_c, "nuvosync", 100 * cpu / wall, "% of one core", False, s)
            finally:
                t.stop()
                emu.stop()
                ctx.finish(name)

        attempt(ctx, tool, [("P8.latency", wl_l, "s", False), ("P8.cpu", wl_c, "% of one core", False)], body)


# ================================================================ main

# ================================================================ P9: a large realistic tree


def run_P9(ctx: Ctx):
    if "nuvosync" not in ctx.tools:
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
    failed = [r for r in ctx.results if r["tool"] == "harness"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
