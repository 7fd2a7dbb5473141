#!/usr/bin/env python3
"""Draw nuvosync's icons: the app icon in the sizes Tauri bundles need, and a tray icon for
every state (light and dark panel variants), designed to be told apart at 16-22 px by shape
as well as colour.

Pure Python (no imaging library): shapes are signed-distance tests, supersampled 4x4, written
as RGBA PNG. Run from anywhere: `python3 icons/generate.py`.
"""

import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- PNG


def write_png(path, size, pixels):
    raw = b"".join(b"\x00" + bytes(pixels[y * size * 4:(y + 1) * size * 4]) for y in range(size))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


# ---------------------------------------------------------------- shapes (unit square coordinates)


def disk(cx, cy, r):
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def ring(cx, cy, r, w, gaps=()):
    def inside(x, y):
        d = math.hypot(x - cx, y - cy)
        if abs(d - r) > w / 2:
            return False
        a = math.degrees(math.atan2(y - cy, x - cx)) % 360
        return not any(lo <= a <= hi for lo, hi in gaps)
    return inside


def segment(x1, y1, x2, y2, w):
    def inside(x, y):
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
        px, py = x1 + t * dx, y1 + t * dy
        return (x - px) ** 2 + (y - py) ** 2 <= (w / 2) ** 2
    return inside


def polyline(points, w):
    segs = [segment(*points[i], *points[i + 1], w) for i in range(len(points) - 1)]
    return lambda x, y: any(s(x, y) for s in segs)


def triangle(a, b, c):
    def sign(p, q, r):
        return (p[0] - r[0]) * (q[1] - r[1]) - (q[0] - r[0]) * (p[1] - r[1])

    def inside(x, y):
        p = (x, y)
        d1, d2, d3 = sign(p, a, b), sign(p, b, c), sign(p, c, a)
        neg = d1 < 0 or d2 < 0 or d3 < 0
        pos = d1 > 0 or d2 > 0 or d3 > 0
        return not (neg and pos)
    return inside


def rounded_rect(x0, y0, x1, y1, r):
    def inside(x, y):
        qx = max(x0 + r - x, 0, x - (x1 - r))
        qy = max(y0 + r - y, 0, y - (y1 - r))
        return x0 <= x <= x1 and y0 <= y <= y1 and qx * qx + qy * qy <= r * r
    return inside


def render(size, layers, ss=4):
    """layers: list of (shape, (r, g, b, a)) painted in order."""
    out = []
    for py in range(size):
        for px in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]  # premultiplied
            for sy in range(ss):
                for sx in range(ss):
                    x = (px + (sx + 0.5) / ss) / size
                    y = (py + (sy + 0.5) / ss) / size
                    r = g = b = a = 0.0
                    for shape, (cr, cg, cb, ca) in layers:
                        if shape(x, y):
                            al = ca / 255
                            r = cr / 255 * al + r * (1 - al)
                            g = cg / 255 * al + g * (1 - al)
                            b = cb / 255 * al + b * (1 - al)
                            a = al + a * (1 - al)
                    acc[0] += r
                    acc[1] += g
                    acc[2] += b
                    acc[3] += a
            n = ss * ss
            a = acc[3] / n
            if a > 0:
                out += [round(acc[0] / n / a * 255), round(acc[1] / n / a * 255), round(acc[2] / n / a * 255), round(a * 255)]
            else:
                out += [0, 0, 0, 0]
    return out


# ---------------------------------------------------------------- the designs

BLUE = (37, 99, 235, 255)
GREEN = (22, 163, 74, 255)
AMBER = (217, 119, 6, 255)
RED = (220, 38, 38, 255)
WHITE = (255, 255, 255, 255)


def sync_arrows(color, r=0.28, w=0.09):
    """Two arcs with arrowheads: the sync symbol."""
    arcs = ring(0.5, 0.5, r, w, gaps=((330, 360), (0, 30), (150, 210)))
    head1 = triangle((0.5 + r - 0.13, 0.43), (0.5 + r + 0.13, 0.43), (0.5 + r, 0.6))
    head2 = triangle((0.5 - r - 0.13, 0.57), (0.5 - r + 0.13, 0.57), (0.5 - r, 0.40))
    return [(arcs, color), (head1, color), (head2, color)]


def app_icon(size):
    layers = [(rounded_rect(0.04, 0.04, 0.96, 0.96, 0.2), BLUE)]
    layers += sync_arrows(WHITE, r=0.27, w=0.085)
    return render(size, layers)


def tray(state, dark):
    ink = (229, 231, 235, 255) if dark else (55, 65, 81, 255)
    if state == "up_to_date":
        return [(disk(0.5, 0.5, 0.46), GREEN), (polyline([(0.27, 0.52), (0.43, 0.68), (0.74, 0.34)], 0.12), WHITE)]
    if state == "syncing":
        return [(disk(0.5, 0.5, 0.46), BLUE)] + sync_arrows(WHITE, r=0.24, w=0.1)
    if state == "paused":
        return [(ring(0.5, 0.5, 0.40, 0.1), ink), (rounded_rect(0.34, 0.3, 0.45, 0.7, 0.02), ink), (rounded_rect(0.55, 0.3, 0.66, 0.7, 0.02), ink)]
    if state == "offline":
        return [(ring(0.5, 0.5, 0.38, 0.1), ink), (segment(0.2, 0.8, 0.8, 0.2, 0.11), ink)]
    if state == "attention":
        return [
            (polyline([(0.5, 0.08), (0.95, 0.88), (0.05, 0.88), (0.5, 0.08)], 0.06), AMBER),
            (triangle((0.5, 0.1), (0.94, 0.87), (0.06, 0.87)), AMBER),
            (segment(0.5, 0.35, 0.5, 0.6, 0.11), WHITE),
            (disk(0.5, 0.74, 0.06), WHITE),
        ]
    if state == "error":
        return [(disk(0.5, 0.5, 0.46), RED), (segment(0.32, 0.32, 0.68, 0.68, 0.12), WHITE), (segment(0.68, 0.32, 0.32, 0.68, 0.12), WHITE)]
    raise ValueError(state)


STATES = ["up_to_date", "syncing", "paused", "offline", "attention", "error"]


def main():
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        write_png(os.path.join(HERE, name), size, app_icon(size))
    tray_dir = os.path.join(HERE, "tray")
    os.makedirs(tray_dir, exist_ok=True)
    for state in STATES:
        for dark in (False, True):
            for size, suffix in ((22, ""), (44, "@2x")):
                name = f"{state}-{'dark' if dark else 'light'}{suffix}.png"
                write_png(os.path.join(tray_dir, name), size, render(size, tray(state, dark)))
    print("icons written to", HERE)


if __name__ == "__main__":
    main()
