"""P7 (hashing) and P8 (a change that no file-system event announces)."""

from __future__ import annotations

import json
import random
import statistics
import time

from lib import (
    PAIR_REMOTE,
    Nuvosync,
    TreeSpec,
    gen_local,
    log,
    populate_remote,
    proc_cpu_secs,
    rmtree,
    run_timed,
    wait_until,
)
from tools import (
    big_file,
    place,
    MB,
    GiB,
    MiB,
    attempt,
    tool_settings,
    tools_for,
)


# ================================================================ P7: hashing


def run_P7(ctx):
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


def run_P8(ctx):
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
