"""P6 and P5.busy: one 1 GiB file each way, and small edits while big files move."""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from pathlib import Path

from lib import (
    PAIR_REMOTE,
    Nuvosync,
    TreeSpec,
    content_hash,
    file_content_hash,
    gen_local,
    loadgen,
    log,
    percentile,
    spawn,
    stop_proc,
    wait_until,
)
from tools import (
    big_file,
    place,
    LATENCY,
    MB,
    GiB,
    MiB,
    attempt,
    make_tool,
    stop_tool,
    tool_settings,
    tools_for,
)


# ================================================================ P6: one 1 GiB file


def run_P6(ctx):
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
                stop_tool(t, tool, proc)
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


def run_P5busy(ctx):
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
