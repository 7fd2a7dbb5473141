"""results.json -> results.md and chart.svg (standard library only).

Also runnable by hand: python3 bench/report.py OUT_DIR (re-renders from OUT_DIR/results.json).
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path

TOOLS = ["nuvosync", "maestral", "maestral-tuned", "rclone"]
COLORS = {"nuvosync": "#1f77b4", "maestral": "#d62728", "maestral-tuned": "#ff7f0e", "rclone": "#2ca02c"}
OTHER = "#7f7f7f"


def fmt(v) -> str:
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_ratio(r) -> str:
    if r is None:
        return "n/a"
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    if r >= 0.1:
        return f"{r:.2f}×"
    return f"{r:.3g}×"


class Results:
    def __init__(self, rows):
        self.rows = rows

    def get(self, id, tool=None):
        for r in self.rows:
            if r["id"] == id and (tool is None or r["tool"] == tool):
                return r
        return None

    def val(self, id, tool=None):
        r = self.get(id, tool)
        return None if r is None else r.get("value")


def targets(R: Results) -> list[dict]:
    """Each target: what, required, measured, ratio text, met (True/False/None = not measured; "info": no target)."""
    out = []

    def add(what, required, measured, ratio, met):
        out.append({"what": what, "required": required, "measured": measured, "ratio": ratio, "met": met})

    def vs(id, other_id, other_tool, need, what, required, lower_is_better=False, unit=""):
        n = R.val(id, "nuvosync")
        o = R.val(other_id, other_tool)
        if n is None or o is None or n == 0 or o == 0:
            add(what, required, f"nuvosync {fmt(n)} {unit}, {other_tool} {fmt(o)} {unit}", "n/a", None)
            return
        r = (o / n) if lower_is_better else (n / o)
        add(what, required, f"nuvosync {fmt(n)} {unit}, {other_tool} {fmt(o)} {unit}", fmt_ratio(r), r >= need)

    def absolute(id, limit, what, required, unit, tool="nuvosync"):
        v = R.val(id, tool)
        add(what, required, f"{fmt(v)} {unit}", "—", None if v is None else v <= limit)

    for m in ("maestral", "maestral-tuned"):
        vs("P1", "P1", m, 20, f"P1 upload vs {m}", "≥ 20× files/s", unit="files/s")
    n, e = R.val("P1", "nuvosync"), R.val("E.small_uploads", "emulator")
    p1, er = R.get("P1", "nuvosync"), R.get("E.small_uploads", "emulator")
    model = lambda r: bool(r and (r.get("settings") or {}).get("server"))  # noqa: E731
    if p1 and er and model(p1) != model(er):
        # The load model allows 1,000 requests/s: a ceiling measured without it is no yardstick.
        add("P1 upload vs the emulator's ceiling", "≥ 1/3 of E.small_uploads",
            f"nuvosync {fmt(n)} files/s under the load model, ceiling {fmt(e)} files/s without it", "n/a", None)
    else:
        add("P1 upload vs the emulator's ceiling", "≥ 1/3 of E.small_uploads",
            f"nuvosync {fmt(n)} files/s, ceiling {fmt(e)} files/s", "n/a" if None in (n, e) else f"{n / e:.2f} of it", None if None in (n, e) else n >= e / 3)
    n, c = R.val("P1", "nuvosync"), R.val("P1.ceiling", "plain-client")
    add("P1 upload vs a plain client at the same settings", "≥ 70 % of it (as P6)",
        f"nuvosync {fmt(n)} files/s, plain client {fmt(c)} files/s", "n/a" if None in (n, c) else f"{100 * n / c:.0f} %", None if None in (n, c) else n >= 0.7 * c)
    for m in ("maestral", "maestral-tuned"):
        vs("P2", "P2", m, 10, f"P2 download vs {m}", "≥ 10× files/s", unit="files/s")
    n, f = R.val("P3", "nuvosync"), R.val("P3.floor", "nuvosync")
    add("P3 restart (sync --once) vs the stat-walk floor", "≤ 1.5× the floor", f"{fmt(n)} s vs floor {fmt(f)} s",
        "n/a" if None in (n, f) else f"{n / f:.2f}× the floor", None if None in (n, f) else n <= 1.5 * f)
    d = R.val("P3.daemon", "nuvosync")
    add("P3 restart (daemon until up_to_date) vs the floor", "≤ 1.5× the floor", f"{fmt(d)} s vs floor {fmt(f)} s",
        "n/a" if None in (d, f) else f"{d / f:.2f}× the floor", None if None in (d, f) else d <= 1.5 * f)
    for m in ("maestral", "maestral-tuned"):
        vs("P3", "P3", m, 20, f"P3 restart vs {m}", "≥ 20× faster", lower_is_better=True, unit="s")
    for k, label in (("P4.peak", "peak"), ("P4.steady", "steady"), ("P4.first_sync_peak", "peak over the first sync")):
        for m in ("maestral", "maestral-tuned"):
            vs(k, k, m, 10, f"P4 {label} RSS vs {m}", "≤ 1/10 of Maestral", lower_is_better=True, unit="MB")
        absolute(k, 100, f"P4 {label} RSS", "≤ 100 MB", "MB")
    absolute("P5.up.p50", 0.5, "P5 latency up, p50", "≤ 0.5 s", "s")
    absolute("P5.down.p50", 1.0, "P5 latency down, p50", "≤ 1 s", "s")
    n, c = R.val("P6.throughput", "nuvosync"), R.val("P6.ceiling", "plain-client")
    add("P6 1 GiB up vs the plain-client ceiling", "≥ 70 % of the ceiling", f"{fmt(n)} MB/s vs {fmt(c)} MB/s",
        "n/a" if None in (n, c) else f"{100 * n / c:.0f} %", None if None in (n, c) else n >= 0.7 * c)
    r = R.get("P6.resent", "nuvosync")
    chunks = r["settings"].get("resent_chunks") if r and r.get("value") is not None else None
    add("P6 bytes re-sent after kill -9 at 50 %", "≤ one chunk", f"{fmt(r and r.get('value'))} MB ({fmt(chunks)} chunks)", "—", None if chunks is None else chunks <= 1.0)
    r = R.get("P6.refetched", "nuvosync")
    v = r.get("value") if r else None
    add("P6 bytes downloaded again after kill -9 at 50 %", "≤ one chunk (16 MiB)", f"{fmt(v)} MB", "—", None if v is None else v <= 16 * 1024 * 1024 / 1e6)
    n, o = R.val("P7.single", "nuvosync"), R.val("P7.openssl", "openssl")
    add("P7 hashing, one thread vs openssl sha256 one core", "≥ 90 %", f"{fmt(n)} MB/s vs {fmt(o)} MB/s",
        "n/a" if None in (n, o) else f"{100 * n / o:.0f} %", None if None in (n, o) else n >= 0.9 * o)
    out.extend(p5_busy_targets(R))
    absolute("P8.latency", 60, "P8 unwatched change noticed (worst trial)", "≤ 60 s", "s")
    absolute("P8.cpu", 2, "P8 CPU while waiting", "≤ 2 % of one core", "%")
    for id in ("P1", "P2"):
        r = R.get(id, "nuvosync")
        sv = (r or {}).get("settings", {}).get("server") or {}
        share = sv.get("refused_share")
        add(f"{id} requests answered 429 by the load model", "≤ 5 %",
            "n/a" if share is None else f"{sv['load_refused']:,} of {sv['api_requests']:,} API requests ({sv['http2_requests']:,} over HTTP/2)",
            "n/a" if share is None else f"{100 * share:.1f} %", None if share is None else share <= 0.05)
    f = R.val("P9.floor", "nuvosync")
    for id, label in (("P9.restart", "sync --once"), ("P9.daemon", "daemon until up_to_date")):
        n = R.val(id, "nuvosync")
        add(f"P9 restart ({label}) vs the stat-walk floor", "≤ 1.5× the floor", f"{fmt(n)} s vs floor {fmt(f)} s",
            "n/a" if None in (n, f) else f"{n / f:.2f}× the floor", None if None in (n, f) else n <= 1.5 * f)
    n, m = R.val("P9.first_sync_rate", "nuvosync"), R.val("P9.first_sync_rate", "maestral-tuned")
    add("P9 first sync vs maestral-tuned (no target: the issue asks for the ratio)", "—",
        f"nuvosync {fmt(n)} entries/s, maestral-tuned {fmt(m)} entries/s", "n/a" if not (n and m) else fmt_ratio(n / m), None if not (n and m) else "info")
    absolute("P9.peak", 150, "P9 peak RSS (restart)", "≤ 150 MB", "MB")
    absolute("P9.first_sync_peak", 150, "P9 peak RSS (first sync)", "≤ 150 MB", "MB")
    absolute("P9.burst_peak", 150, "P9 peak RSS (after the burst)", "≤ 150 MB", "MB")
    absolute("P9.steady", 60, "P9 steady RSS", "≤ 60 MB", "MB")
    absolute("P9.burst", 30, "P9 burst of touched files until idle", "≤ 30 s", "s")
    return out


def p5_busy_targets(R: Results) -> list[dict]:
    """P5.busy: a small edit's latency while 1 GiB goes each way, against P5's target, and
    against main's rounds (`nuvosync-rounds`) measured in the same run."""
    n, b = R.val("P5.busy.up.p50", "nuvosync"), R.val("P5.busy.up.p50", "nuvosync-rounds")
    return [
        {"what": "P5.busy latency up while 1 GiB moves each way, p50", "required": "≤ 0.5 s (as P5)",
         "measured": f"{fmt(n)} s (rounds: {fmt(b)} s)", "ratio": "n/a" if None in (n, b) or n == 0 else f"{fmt_ratio(b / n)} faster than rounds",
         "met": None if n is None else n <= 0.5},
    ]


# The emulator has served HTTP/2 with its load model on by default since this time.
SERVER_MODEL_SINCE = "2026-12-06T03:00"


def server_model_rows(rows):
    """The workload ids (without P9) whose rows were measured on the realistic server model."""
    ids = []
    for r in rows:
        at = ((r.get("settings") or {}).get("measured") or {}).get("at", "")
        if at >= SERVER_MODEL_SINCE and not r["id"].startswith("P9") and r["id"] not in ids:
            ids.append(r["id"])
    return ", ".join(ids) if ids else "none"


def table(R: Results) -> list[str]:
    ids = []
    for r in R.rows:
        if r["id"] not in ids:
            ids.append(r["id"])
    lines = [
        "| id | workload | unit | " + " | ".join(TOOLS) + " | reference |",
        "|---|---|---|" + "---|" * (len(TOOLS) + 1),
    ]
    notes = []
    for id in ids:
        rows = [r for r in R.rows if r["id"] == id]
        first = rows[0]
        n = R.val(id, "nuvosync")
        cells = []
        for tool in TOOLS:
            r = R.get(id, tool)
            if r is None:
                cells.append("")
                continue
            v = r.get("value")
            if v is None:
                notes.append(f"{id} / {tool}: {r.get('reason', 'not measured')}")
                cells.append(f"n/a [{len(notes)}]")
                continue
            cell = fmt(v)
            if r.get("reason"):
                notes.append(f"{id} / {tool}: {r['reason']}")
                cell += f" [{len(notes)}]"
            if tool != "nuvosync" and n not in (None, 0):
                cell += f" ({fmt_ratio(v / n)})"
            cells.append(cell)
        others = [r for r in rows if r["tool"] not in TOOLS]
        ref = "; ".join(f"{r['tool']}: {fmt(r.get('value'))}" for r in others)
        for r in others:
            if r.get("value") is None:
                notes.append(f"{id} / {r['tool']}: {r.get('reason', 'not measured')}")
        arrow = "↑" if first["higher_is_better"] else "↓"
        lines.append(f"| {id} | {first['workload']} | {first['unit']} {arrow} | " + " | ".join(cells) + f" | {ref} |")
    return lines, notes


def write_md(out: Path, rows, meta) -> None:
    R = Results(rows)
    lines = ["# nuvosync benchmark results", ""]
    v = meta.get("versions", {})
    m = meta.get("machine", {})
    lines += [
        f"Run started {meta.get('started')} ({'quick: a tenth of the sizes' if meta.get('quick') else 'full'}), "
        f"on {m.get('cpus')} CPUs ({m.get('cpu')}), {m.get('mem_gb')} GB RAM, {m.get('os')}.",
        "",
        "Versions: " + "; ".join(f"{k} `{val}`" for k, val in v.items()) + ".",
        "",
        "Every workload ran for every tool from a clean state (a fresh emulator process, fresh local folders, fresh tool state) "
        "with the emulator's injected latency at 20 ms per API request unless the row says otherwise. See bench/README.md for what each number means.",
        "",
        "Server model: rows measured since the emulator serves HTTP/2 and applies its load model by default "
        f"({server_model_rows(rows)}) ran on HTTP/2 (ALPN; Maestral speaks HTTP/1.1) under that load model at its defaults (100 requests in flight, "
        "1,000 requests/s, bursts of 2,000; 429 + Retry-After above); those with `settings.server` also record the share of API requests "
        "it answered 429. P9 runs without the load model (its tree is seeded through files/upload; see bench/README.md). Rows measured earlier ran on HTTP/1.1 without it: "
        "`settings.measured` says when each row was measured, and `settings.host_loadavg` how busy the host was.",
        "",
        "Cells: the value, then in parentheses its ratio to nuvosync's value (tool ÷ nuvosync). ↑ higher is better, ↓ lower is better. "
        "`n/a [k]`: not measured, reason in note k.",
        "",
    ]
    t, notes = table(R)
    lines += t
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"{i + 1}. {n}" for i, n in enumerate(notes)]
    lines += ["", "## Targets", "", "| target | required | measured | ratio | met |", "|---|---|---|---|---|"]
    for x in targets(R):
        met = {True: "**met**", False: "**missed**", None: "not measured", "info": "no target"}[x["met"]]
        lines.append(f"| {x['what']} | {x['required']} | {x['measured']} | {x['ratio']} | {met} |")
    lines += ["", "![chart](chart.svg)", ""]
    (out / "results.md").write_text("\n".join(lines))


PANELS = [
    ("P1", "P1 first upload, 4 KiB files", [("E.small_uploads", "emulator", "ceiling"), ("P1.ceiling", "plain-client", "plain client")]),
    ("P2", "P2 first download, 4 KiB files", []),
    ("P3", "P3 restart with unchanged files", [("P3.floor", "nuvosync", "stat-walk floor")]),
    ("P4.peak", "P4 peak RSS", []),
    ("P4.steady", "P4 steady RSS", []),
    ("P4.first_sync_peak", "Peak RSS over the first sync of the P3 tree", []),
    ("P4.idle_cpu", "CPU while idle after the restart", []),
    ("P5.up.p50", "P5 latency local → remote, p50", []),
    ("P5.down.p50", "P5 latency remote → local, p50", []),
    ("P6.throughput", "P6 1 GiB upload", [("P6.ceiling", "plain-client", "plain client")]),
    ("P6.resent", "P6 re-sent after kill -9 at 50 %", []),
    ("P6.refetched", "P6 downloaded again after kill -9 at 50 %", []),
    ("P7.single", "P7 content hashing, one thread", [("P7.openssl", "openssl", "openssl sha256")]),
    ("P8.latency", "P8 unwatched change noticed (worst)", []),
]


def write_svg(out: Path, rows) -> None:
    R = Results(rows)
    W, label_w, bar_w, row_h = 960, 150, 560, 22
    y = 50
    parts = []
    for id, title, refs in PANELS:
        rs = [R.get(id, t) for t in TOOLS]
        rs = [r for r in rs if r is not None]
        if not rs:
            continue
        unit = rs[0]["unit"]
        hib = rs[0]["higher_is_better"]
        refvals = [(R.val(rid, rt), lab) for rid, rt, lab in refs if R.val(rid, rt) is not None]
        vals = [r["value"] for r in rs if r.get("value") is not None] + [v for v, _ in refvals]
        vmax = max(vals) if vals else 1.0
        vmax = vmax if vmax > 0 else 1.0
        parts.append(f'<text x="10" y="{y}" font-size="14" font-weight="bold">{escape(title)} ({escape(unit)}, {"higher" if hib else "lower"} is better)</text>')
        y += 10
        top = y
        for r in rs:
            v = r.get("value")
            color = COLORS.get(r["tool"], OTHER)
            parts.append(f'<text x="{label_w - 8}" y="{y + 15}" font-size="12" text-anchor="end">{escape(r["tool"])}</text>')
            if v is None:
                parts.append(f'<text x="{label_w + 4}" y="{y + 15}" font-size="12" fill="#666">n/a — {escape((r.get("reason") or "")[:90])}</text>')
            else:
                w = max(1.0, bar_w * v / vmax)
                parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}"/>')
                n = R.val(id, "nuvosync")
                extra = ""
                if r["tool"] != "nuvosync" and n not in (None, 0) and v != 0:
                    adv = (n / v) if hib else (v / n)
                    extra = f"  (nuvosync {fmt_ratio(adv)} better)" if adv >= 1 else f"  ({fmt_ratio(1 / adv)} better than nuvosync)"
                parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">{fmt(v)}{escape(extra)}</text>')
            y += row_h
        for v, lab in refvals:
            x = label_w + bar_w * v / vmax
            parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{y}" stroke="#333" stroke-dasharray="4,3"/>')
            parts.append(f'<text x="{x:.1f}" y="{y + 12}" font-size="11" text-anchor="middle" fill="#333">{escape(lab)}: {fmt(v)}</text>')
            y += 14
        y += 28
    legend = " ".join(
        f'<rect x="{10 + i * 150}" y="14" width="12" height="12" fill="{COLORS[t]}"/><text x="{28 + i * 150}" y="25" font-size="12">{t}</text>'
        for i, t in enumerate(TOOLS)
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{y + 10}" viewBox="0 0 {W} {y + 10}" font-family="sans-serif">'
        f'<rect width="100%" height="100%" fill="white"/>{legend}' + "".join(parts) + "</svg>\n"
    )
    (out / "chart.svg").write_text(svg)


def write(out: Path, rows, meta) -> None:
    write_md(out, rows, meta)
    write_svg(out, rows)


if __name__ == "__main__":
    d = Path(sys.argv[1])
    meta_path = d / "meta.json"
    write(d, json.loads((d / "results.json").read_text()), json.loads(meta_path.read_text()) if meta_path.exists() else {})
    print(f"wrote {d}/results.md and {d}/chart.svg")
