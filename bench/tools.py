"""What every workload shares: the tools under test and their settings, a tool's attempt
at a workload (retried once), the realistic server's counts, CPU use, and big files."""

from __future__ import annotations

import os
import shutil
import threading
import time
import traceback
from pathlib import Path

import lib
from lib import (
    Maestral,
    Nuvosync,
    Rclone,
    log,
    proc_cpu_secs,
)

TOOLS = ["nuvosync", "maestral", "maestral-tuned", "rclone"]
LATENCY = 20
MB = 1e6
STEADY = 30  # seconds of idle before the steady RSS sample
QUICK_CAP = 30  # --quick: P1/P2 report the rate over what a tool did in this many seconds
MiB = 1 << 20
GiB = 1 << 30


def attempt(ctx, tool: str, fallbacks: list[tuple], body) -> None:
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

def launch(t, tool, upload: bool):
    """Start `tool` on a prepared folder: nuvosync's daemon with its pair added, Maestral
    linked and started, or `rclone copy` from the local folder to Dropbox (`upload`) or back
    (batch mode, 32 transfers). Returns the process and the start time (taken after the
    set-up, right before the process starts). Only rclone's object has a `remote`."""
    if tool == "nuvosync":
        t.pair_add()
    elif tool.startswith("maestral"):
        t.link()
    else:
        src, dst = (str(t.local), t.remote) if upload else (t.remote, str(t.local))
        t0 = time.monotonic()
        return t.spawn("copy", src, dst, "--dropbox-batch-mode", "sync", "--transfers", "32"), t0
    t0 = time.monotonic()
    return t.start(), t0


def stop_tool(t, tool, proc):
    """Stop what `launch` started."""
    if tool == "rclone":
        lib.stop_proc(proc)
    else:
        t.stop()


def rate_until(ctx, matched, progress, files, t0, timeout, what, alive=None, unit="files"):
    """Files per second until `matched()` holds; past `timeout`, the rate over the files done
    (`progress["n"]`) with a note saying so. Returns (rate, end time, note or None)."""
    try:
        _, t1 = lib.wait_until(matched, timeout, what, alive=alive)
        return files / (t1 - t0), t1, None
    except TimeoutError:
        t1 = time.monotonic()
        note = f"{'quick mode: stopped' if ctx.quick else 'did not finish'} after {timeout}s ({progress['n']}/{files} {unit}); rate over the {unit} done"
        return progress["n"] / (t1 - t0), t1, note


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


def big_file(ctx) -> Path:
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
