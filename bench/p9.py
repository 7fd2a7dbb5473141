"""P9: nuvosync on a large, realistically shaped tree (bench/p9tree.py), both sides already equal.

Run from bench.py (`--only P9`, `--p9-files N`). See bench/README.md for what each row means.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import time

import p9tree
from tools import rate_until
from lib import (
    FIXED_MTIME,
    FIXED_MTIME_ISO,
    PAIR_REMOTE,
    Maestral,
    Nuvosync,
    loadgen,
    log,
    proc_cpu_secs,
    proc_status,
    run_timed,
)

MB = 1e6
# The emulator of P9 runs without its load model: the tree is put on it through files/upload
# (a million requests), and the steps P9 measures make few requests (their count is recorded).
NO_LOAD_MODEL = ["--max-in-flight", "0", "--rate-limit", "0"]


def sizes(files: int, quick: bool) -> tuple[int, int, int]:
    """(files, folders, touched files of the burst) for a P9 of `files` files."""
    files = files or (100_000 if quick else 1_000_000)
    return files, max(1, files // 20), min(100_000, max(1, files // 2))


def api_requests(emu) -> int:
    return int(emu.stats().get("requests", 0))


def wait_idle(t: Nuvosync, pid: int, timeout: float, quiet: float = 1.0) -> float:
    """Monotonic time the daemon went idle: `status` says up_to_date with nothing pending, and
    the process used no CPU for `quiet` seconds since (the time returned is when that quiet
    stretch began, so the polling does not add to it)."""
    start = time.monotonic()
    last_busy, asked = start, 0.0
    cpu = proc_cpu_secs(pid)
    while True:
        time.sleep(0.1)
        now = time.monotonic()
        c = proc_cpu_secs(pid)
        if c is None:
            raise RuntimeError("the daemon exited during the burst")
        # /proc counts in clock ticks (10 ms): more than a tick in 0.1 s is work.
        if c - cpu > 0.011:
            last_busy = now
        cpu = c
        if now - last_busy >= quiet and now - asked >= quiet:
            asked = now
            if t.up_to_date():
                return last_busy
            # What answering `status` cost the daemon is not work on the burst.
            cpu = proc_cpu_secs(pid) or cpu
        if now - start > timeout:
            raise TimeoutError(f"the daemon was not idle {timeout:.0f}s after the burst")


def maestral_entries(m: Maestral) -> int | None:
    """Entries in Maestral's index (files and folders it has synced), read beside it."""
    db = m.work / "data" / "maestral" / f"{m.CONFIG}.db"
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM 'index'").fetchone()[0]
    except sqlite3.Error:
        return None


def maestral_first_sync(ctx, emu, manifest, entries: int, base: dict, wl: dict) -> None:
    """Maestral (tuned: no CPU cap, 16 transfers) syncs the same tree, already equal on both
    sides, from the emulator the nuvosync step used. Past the cap its rate is taken over the
    entries its index holds by then."""
    name = "P9-maestral"
    work = ctx.workdir(name)
    m = Maestral(ctx.bins, emu, work, tuned=True)
    try:
        m.local.mkdir(parents=True, exist_ok=True)
        loadgen(ctx.bins, None, "gen-local", "--dir", m.local, "--manifest", manifest, "--mtime", FIXED_MTIME, timeout=7200)
        m.link()
        cap = ctx.time_cap(quick=600, full=3600)
        progress = {"n": 0, "counted": 0.0}
        over = m.startup_sync_over()
        t0 = time.monotonic()
        p = m.start()

        def finished():
            # Its index is counted every 10 s (the count reads the whole table).
            if time.monotonic() - progress["counted"] >= 10:
                progress["counted"] = time.monotonic()
                n = maestral_entries(m)
                progress["n"] = progress["n"] if n is None else n
            return over()

        rate, t1, note = rate_until(ctx, finished, progress, entries, t0, cap, "Maestral's first sync", alive=lambda: p.poll() is None, unit="entries")
        settings = {**base, **m.settings(), "entries": entries, "entries_done": progress["n"] if note else entries,
                    "peak_rss_mb": round(proc_status(p.pid)["VmHWM"] / MB, 1)}
        if note:
            settings["note"] = note
        else:
            ctx.add("P9.first_sync", wl["P9.first_sync"], m.name, t1 - t0, "s", False, settings)
        ctx.add("P9.first_sync_rate", wl["P9.first_sync_rate"], m.name, rate, "entries/s", True, settings)
        errs = m.errors()
        if errs:
            log(f"{m.name} logged errors: {errs[:5]}")
    finally:
        m.stop()
        ctx.finish(name)


def run(ctx, files_opt: int = 0):
    files, folders, burst = sizes(files_opt, ctx.quick)
    steady = 10 if ctx.quick else 30
    label = f"{files:,} files in {folders:,} folders (realistic tree)"
    wl = {
        "P9.first_sync": f"P9 first sync of {label}, both sides already equal: daemon start until up_to_date (s)",
        "P9.first_sync_rate": f"P9 first sync of {label}: entries (files and folders) per second; past the cap, over the entries done",
        "P9.first_sync_peak": "P9 peak RSS (VmHWM) over that first sync (MB)",
        "P9.index": "P9 index size after that first sync: the database's pages (MB)",
        "P9.floor": f"P9 floor: bare parallel lstat walk of the {files:,}-file tree (nuvosync debug statwalk, s)",
        "P9.restart": f"P9 restart with {files:,} unchanged files: sync --once until done (s)",
        "P9.daemon": f"P9 daemon restart with {files:,} unchanged files until status up_to_date (s)",
        "P9.peak": f"P9 peak RSS (VmHWM) of the daemon over that restart and {steady}s idle (MB)",
        "P9.steady": f"P9 steady RSS (VmRSS) {steady}s after that restart was up to date (MB)",
        "P9.burst": f"P9 {burst:,} files touched (mtime changed) under the running daemon: until idle again (s)",
        "P9.burst_peak": "P9 peak RSS (VmHWM) of the daemon after that burst (MB)",
    }
    units = {"P9.first_sync_rate": "entries/s"}
    rows = [(k, v, units.get(k, "MB" if ("peak" in k or "steady" in k or "index" in k) else "s"), k in units) for k, v in wl.items()]
    name = "P9-nuvosync"

    def body():
        emu = ctx.emulator(name, extra=NO_LOAD_MODEL)
        work = ctx.workdir(name)
        t = Nuvosync(ctx.bins, emu, work)
        try:
            manifest = work / "tree.tsv"
            shape = p9tree.write(manifest, files, folders)
            log(f"P9 tree: {shape}")
            emu.faults(latency_ms=0)
            up = loadgen(ctx.bins, emu, "upload-tree", "--root", PAIR_REMOTE, "--manifest", manifest,
                         "--concurrency", 32, "--client-modified", FIXED_MTIME_ISO, timeout=7200)
            emu.faults(latency_ms=emu.latency_ms)
            if up.get("errors"):
                raise RuntimeError(f"populating the emulator failed: {up}")
            log(f"P9 seeded Dropbox: upload {up['secs']:.1f}s")
            base = {"tree": shape, "emulator": "load model off (--max-in-flight 0 --rate-limit 0), latency 20 ms", "burst_files": burst}

            if "nuvosync" in ctx.tools:
                t.local.mkdir(parents=True, exist_ok=True)
                gen = loadgen(ctx.bins, None, "gen-local", "--dir", t.local, "--manifest", manifest, "--mtime", FIXED_MTIME, timeout=7200)
                log(f"P9 seeded nuvosync's folder: {gen['secs']:.1f}s")
                t.pair_add()
                r0 = api_requests(emu)
                t0 = time.monotonic()
                p = t.start()
                _, t1 = t.wait_up_to_date(ctx.time_cap(quick=1800, full=7200))
                ctx.add("P9.first_sync", wl["P9.first_sync"], "nuvosync", t1 - t0, "s", False, {**base, "api_requests": api_requests(emu) - r0})
                ctx.add("P9.first_sync_rate", wl["P9.first_sync_rate"], "nuvosync", (files + folders) / (t1 - t0), "entries/s", True, base)
                ctx.add("P9.first_sync_peak", wl["P9.first_sync_peak"], "nuvosync", proc_status(p.pid)["VmHWM"] / MB, "MB", False, base)
                t.stop()
                db = sorted((work / "state" / "pairs").glob("bench.db*"))
                # The database's own size (its pages, as a reader sees them with the journal):
                # the files' sizes depend on how far the last checkpoint got when it stopped.
                with sqlite3.connect(f"file:{work / 'state' / 'pairs' / 'bench.db'}?mode=ro", uri=True) as c:
                    size = c.execute("PRAGMA page_count").fetchone()[0] * c.execute("PRAGMA page_size").fetchone()[0]
                ctx.add("P9.index", wl["P9.index"], "nuvosync", size / MB, "MB", False,
                        {**base, "files": {f.name: f.stat().st_size for f in db}, "bytes_per_file": round(size / files, 1)})

                walks = [json.loads(run_timed([str(ctx.bins["nuvosync"]), "debug", "statwalk", str(t.local)])[3].strip().splitlines()[-1]) for _ in range(3)]
                floor = statistics.median(w["secs"] for w in walks)
                ctx.add("P9.floor", wl["P9.floor"], "nuvosync", floor, "s", False,
                        {**base, "entries": walks[0]["entries"], "runs": [round(w["secs"], 4) for w in walks], "taken": "median of 3"})
                runs = [t.sync_once() for _ in range(3)]
                restart = statistics.median(r[0] for r in runs)
                ctx.add("P9.restart", wl["P9.restart"], "nuvosync", restart, "s", False,
                        {**base, "runs": [round(r[0], 4) for r in runs], "taken": "median of 3", "floor_ratio": round(restart / floor, 3),
                         "max_rss_mb": round(max(r[1] for r in runs) / MB, 1)})

                r0 = api_requests(emu)
                t0 = time.monotonic()
                p = t.start()
                _, t1 = t.wait_up_to_date(ctx.time_cap(quick=1800, full=7200))
                ctx.add("P9.daemon", wl["P9.daemon"], "nuvosync", t1 - t0, "s", False,
                        {**base, "floor_ratio": round((t1 - t0) / floor, 3), "api_requests": api_requests(emu) - r0})
                time.sleep(steady)
                st = proc_status(p.pid)
                ctx.add("P9.peak", wl["P9.peak"], "nuvosync", st["VmHWM"] / MB, "MB", False, base)
                ctx.add("P9.steady", wl["P9.steady"], "nuvosync", st["VmRSS"] / MB, "MB", False,
                        {**base, "idle_secs": steady, **{f"{k}_mb": round(st.get(k, 0) / MB, 1) for k in ("RssAnon", "RssFile", "RssShmem")}})

                # The burst: `touch` of `burst` files spread over the tree (same content, new mtime).
                rels = [line.split("\t", 1)[1] for line in manifest.read_text().splitlines() if line]
                picked = random.Random(9).sample(rels, burst)
                r0 = api_requests(emu)
                t0 = time.monotonic()
                now = time.time()
                for rel in picked:
                    os.utime(t.local / rel, (now, now))
                touched = time.monotonic() - t0
                idle_at = wait_idle(t, p.pid, ctx.time_cap(quick=600, full=1800))
                ctx.add("P9.burst", wl["P9.burst"], "nuvosync", idle_at - t0, "s", False,
                        {**base, "touching_took_s": round(touched, 3), "api_requests": api_requests(emu) - r0,
                         "idle": "status up_to_date and no CPU used by the daemon for 1 s (the time is when that quiet second began)"})
                ctx.add("P9.burst_peak", wl["P9.burst_peak"], "nuvosync", proc_status(p.pid)["VmHWM"] / MB, "MB", False, base)
                uploads = sum(v for k, v in emu.stats().get("routes", {}).items() if "upload" in k)
                log(f"P9: upload calls over the whole step (the seeding's {files} included): {uploads}")
                t.stop()
            if "maestral" in ctx.tools and not ctx.quick:
                try:
                    maestral_first_sync(ctx, emu, manifest, files + folders, base, wl)
                except Exception as e:  # noqa: BLE001 -- the nuvosync rows stand
                    log(f"P9 Maestral step failed: {e}")
                    ctx.add("P9.first_sync_rate", wl["P9.first_sync_rate"], "maestral-tuned", None, "entries/s", True, reason=f"failed: {e}")
        finally:
            t.stop()
            emu.stop()
            ctx.finish(name)

    return rows, body
