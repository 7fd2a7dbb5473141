#!/usr/bin/env python3
"""P9's tree: a realistic shape for a large synced folder, as a manifest.

    python3 bench/p9tree.py --files 1000000 --folders 50000 [--depth 12] [--seed 9] OUT

writes OUT, one `SIZE<TAB>REL` line per file, that `bench-loadgen gen-local --manifest OUT`
writes to disk and `bench-loadgen upload-tree --manifest OUT` uploads (same bytes: the path
repeated up to SIZE), so both sides agree without any tool syncing them first.

The shape:
- folders form a random tree (each new folder goes below a random earlier one, so a few are
  large and most are small), at most DEPTH levels deep;
- every folder holds at least one file (an empty folder would exist on one side only), the
  rest go to folders chosen with a Zipf-like weight (a few folders hold many files);
- sizes are log-normal (median 1 KiB, σ 1.3): mostly small, a long tail up to 8 MiB, so that
  a million files stay around 2.5 GB (and about 4.5 GB on disk with the 4 KiB block each small file takes).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

MEDIAN = 1024
SIGMA = 1.3
MAX_SIZE = 8 << 20


def build(files: int, folders: int, depth: int = 12, seed: int = 9) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    folders = max(1, min(folders, files))
    # Folder 0 is the root; folder k > 0 hangs below a random earlier folder that is shallow
    # enough (a random recursive tree: depth about ln(folders), capped at `depth`).
    paths = [""]
    levels = [0]
    for k in range(1, folders):
        while True:
            parent = rng.randrange(k)
            if levels[parent] < depth:
                break
        paths.append(f"{paths[parent]}/dir{k:05d}" if paths[parent] else f"dir{k:05d}")
        levels.append(levels[parent] + 1)
    # Zipf-like weights over a shuffled order: some folders hold thousands, most a handful.
    order = list(range(folders))
    rng.shuffle(order)
    cum, total = [], 0.0
    for rank in range(folders):
        total += 1.0 / (rank + 1) ** 0.8
        cum.append(total)
    out = []
    for i in range(files):
        if i < folders:
            f = i
        else:
            x = rng.random() * total
            lo, hi = 0, folders - 1
            while lo < hi:
                mid = (lo + hi) // 2
                if cum[mid] < x:
                    lo = mid + 1
                else:
                    hi = mid
            f = order[lo]
        size = min(MAX_SIZE, int(rng.lognormvariate(math.log(MEDIAN), SIGMA)))
        name = f"file{i:07d}.{('txt', 'jpg', 'pdf', 'docx', 'py', 'json')[i % 6]}"
        out.append((size, f"{paths[f]}/{name}" if paths[f] else name))
    return out


def write(out: Path, files: int, folders: int, depth: int = 12, seed: int = 9) -> dict:
    """Write the manifest; returns a summary of the tree."""
    tree = build(files, folders, depth, seed)
    with open(out, "w") as fh:
        for size, rel in tree:
            fh.write(f"{size}\t{rel}\n")
    sizes = sorted(s for s, _ in tree)
    dirs = {r.rsplit("/", 1)[0] for _, r in tree if "/" in r}
    return {
        "files": len(tree),
        "folders": len(dirs),
        "max_depth": max(r.count("/") for _, r in tree),
        "bytes": sum(sizes),
        "size_p50": sizes[len(sizes) // 2],
        "size_p99": sizes[int(len(sizes) * 0.99)],
        "size_max": sizes[-1],
        "seed": seed,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--folders", type=int, default=50_000)
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("out")
    a = ap.parse_args()
    print(json.dumps(write(Path(a.out), a.files, a.folders, a.depth, a.seed)))


if __name__ == "__main__":
    main()
