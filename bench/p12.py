"""P1 / P2: many small files up and down, against the plain client's ceiling."""

from __future__ import annotations

import json
import subprocess
import time

import lib
from lib import (
    TreeSpec,
    count_matching,
    count_present,
    file_content_hash,
    gen_local,
    populate_remote,
    stop_proc,
    wait_until,
)
from tools import (
    server_counts,
    server_share,
    LATENCY,
    QUICK_CAP,
    attempt,
    launch,
    make_tool,
    rate_until,
    stop_tool,
    tool_settings,
    tools_for,
)


# ================================================================ P1 / P2


def p12_spec(ctx):
    return TreeSpec(1000, 10) if ctx.quick else TreeSpec(10000, 100)


def run_P1(ctx):
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
                proc, t0 = launch(t, tool, upload=True)
                progress = {"n": 0}

                def matched():
                    have = {r: e.get("size") for r, e in emu.remote_files().items()}
                    progress["n"] = count_matching(have, want)
                    return progress["n"] == spec.files

                alive = None if tool != "nuvosync" else (lambda: proc.poll() is None)
                value, t1, note = rate_until(ctx, matched, progress, spec.files, t0, timeout, f"{tool} to upload {spec.files} files", alive)
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
                stop_tool(t, tool, proc)
                emu.stop()
                ctx.finish(name)

        attempt(ctx, tool, [("P1", wl, "files/s", True)], body)


def run_P2(ctx):
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
                proc, t0 = launch(t, tool, upload=False)
                progress = {"n": 0}

                def matched():
                    # stat every expected path: no directory is opened, so no watcher sees the polling
                    progress["n"] = count_present(t.local, want)
                    return progress["n"] == spec.files

                value, t1, note = rate_until(ctx, matched, progress, spec.files, t0, timeout, f"{tool} to download {spec.files} files")
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
                stop_tool(t, tool, proc)
                emu.stop()
                ctx.finish(name)

        attempt(ctx, tool, [("P2", wl, "files/s", True)], body)
