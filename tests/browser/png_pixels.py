#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the colours that headless Chromium drew for attn's heatmaps (Python standard library only).

    png_pixels.py check-svg SHOT.png MAP.svg ROW_HIGH COL_HIGH ROW_LOW COL_LOW DIRECTION [REFERENCE.svg]
        Samples two cells of MAP.svg in the screenshot SHOT.png (the SVG rendered at
        1 px per unit from the top-left corner). DIRECTION is "brighter" (viridis: the high-weight
        cell must be brighter than the low-weight one) or "darker" (greys). With vector cells it
        also checks that each pixel is the cell's own fill colour; REFERENCE.svg (a vector rendering
        of the same map) gives the expected fills for a raster MAP.svg.
    png_pixels.py check-bars SHOT.png CHART.svg #RRGGBB
        Measures, in the screenshot, the top of every bar of CHART.svg (the first pixel of
        colour #RRGGBB going down the bar's centre column) and checks: the tallest bar (largest
        weight, read from its tooltip) shows the bar colour at its x, its top is where the SVG puts
        it (within 2 px), and in each panel bars of smaller weight have lower tops (larger y).
    png_pixels.py check-alignment SHOT.png ALIGNMENT.svg KIND=COUNT...
        Finds every mark of the alignment picture (attn::io::alignment_svg: <g class="mark KIND"
        data-i data-j> inside <g class="alignment" data-left data-top data-cell>) and checks its
        pixels: hit / possible-hit cells are filled with their colour (away from the centre dot),
        a hypothesis dot is at their centre; a miss has the orange outline and no fill at its
        centre; a false alarm is red at its centre (the crossing); a possible link (not found)
        has no fill at its centre; a link without gold is a dark dot. KIND=COUNT pairs (e.g.
        hit=2) check how many marks of each kind the picture has.
    png_pixels.py count-color SHOT.png #RRGGBB MIN_PIXELS
        Counts the pixels within 8 of the colour in every channel; fails below MIN_PIXELS.

Exit status 0 when the check passes, 1 when it fails, 2 on bad input.
"""
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

SVG = "{http://www.w3.org/2000/svg}"
TOLERANCE = 8


def read_png(path):
    """Returns (width, height, rows) where rows[y][x] is (r, g, b); 8-bit RGB/RGBA/grey PNGs."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s is not a PNG file" % path)
    pos = 8
    idat = b""
    width = height = depth = color = interlace = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError("unsupported PNG: depth %s colour type %s interlace %s" % (depth, color, interlace))
    raw = zlib.decompress(idat)
    stride = width * channels
    rows = []
    previous = bytearray(stride)
    at = 0
    for _ in range(height):
        kind = raw[at]
        line = bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 255
        previous = line
        if channels >= 3:
            rows.append([tuple(line[x * channels:x * channels + 3]) for x in range(width)])
        else:
            rows.append([(line[x * channels],) * 3 for x in range(width)])
    return width, height, rows


def luminance(rgb):
    def linear(v):
        s = v / 255.0
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def hex_rgb(text):
    return tuple(int(text[k:k + 2], 16) for k in (1, 3, 5))


def close(a, b):
    return all(abs(x - y) <= TOLERANCE for x, y in zip(a, b))


def cells(svg_path):
    """(kind, geometry): ("vector", [[(x, y, size, fill)]*cols]*rows) or ("raster", (x, y, w, h, rows, cols))."""
    root = ET.parse(svg_path).getroot()
    for element in root.iter():
        if element.get("class") != "cells":
            continue
        if element.tag == SVG + "g":
            rects = [r for r in element if r.tag == SVG + "rect"]
            xs = sorted({float(r.get("x")) for r in rects})
            ys = sorted({float(r.get("y")) for r in rects})
            grid = {}
            for rect in rects:
                x, y = float(rect.get("x")), float(rect.get("y"))
                grid[(ys.index(y), xs.index(x))] = (x, y, float(rect.get("width")), rect.get("fill"))
            return "vector", grid
        if element.tag == SVG + "image":
            return "raster", tuple(float(element.get(k)) for k in ("x", "y", "width", "height"))
    raise ValueError("%s has no cells" % svg_path)


def sample(rows, x, y):
    """Median colour of the 3x3 block around (x, y)."""
    block = [rows[int(y) + dy][int(x) + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return tuple(sorted(p[k] for p in block)[4] for k in range(3))


def check_svg(shot, svg_path, row_high, col_high, row_low, col_low, direction, reference=None):
    width, height, rows = read_png(shot)
    kind, geometry = cells(svg_path)
    expected = {}
    if kind == "vector":
        # A fifth of the way into the cell: clear of the printed value at its centre.
        centre = {key: (x + size / 5, y + size / 5) for key, (x, y, size, _) in geometry.items()}
        expected = {key: hex_rgb(fill) for key, (_, _, _, fill) in geometry.items()}
    else:
        x0, y0, w, h = geometry
        _, ref = cells(reference)
        n_rows = 1 + max(i for i, _ in ref)
        n_cols = 1 + max(j for _, j in ref)
        centre = {(i, j): (x0 + (j + 0.5) * w / n_cols, y0 + (i + 0.5) * h / n_rows) for i in range(n_rows) for j in range(n_cols)}
        expected = {key: hex_rgb(fill) for key, (_, _, _, fill) in ref.items()}
    failures = []
    high_key, low_key = (row_high, col_high), (row_low, col_low)
    for key in (high_key, low_key):
        x, y = centre[key]
        if not (1 <= x < width - 1 and 1 <= y < height - 1):
            failures.append("cell %s centre (%.1f, %.1f) is outside the %dx%d screenshot" % (key, x, y, width, height))
    if failures:
        print("\n".join(failures))
        return 1
    high = sample(rows, *centre[high_key])
    low = sample(rows, *centre[low_key])
    print("%s: %s cells, high-weight cell %s -> rgb%s (luminance %.3f), low-weight cell %s -> rgb%s (luminance %.3f)" %
          (svg_path, kind, high_key, high, luminance(high), low_key, low, luminance(low)))
    if direction == "brighter" and not luminance(high) > luminance(low) + 0.2:
        failures.append("the high-weight cell is not clearly brighter than the low-weight cell")
    if direction == "darker" and not luminance(high) + 0.2 < luminance(low):
        failures.append("the high-weight cell is not clearly darker than the low-weight cell")
    for key, got in ((high_key, high), (low_key, low)):
        if expected and not close(got, expected[key]):
            failures.append("cell %s drawn as rgb%s, its fill is rgb%s" % (key, got, expected[key]))
    # Every cell, not just the two: the drawn colour is the cell's fill.
    for key, (x, y) in centre.items():
        if expected and not close(sample(rows, x, y), expected[key]):
            failures.append("cell %s drawn as rgb%s, its fill is rgb%s" % (key, sample(rows, x, y), expected[key]))
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    return 0


def check_bars(shot, svg_path, color):
    width, height, rows = read_png(shot)
    target = hex_rgb(color)
    bars = []
    root = ET.parse(svg_path).getroot()
    panels = [g for g in root.iter(SVG + "g") if g.get("class") == "panel"] or [root]
    for panel, rect in ((k, r) for k, g in enumerate(panels) for r in g.iter(SVG + "rect")):
        if rect.get("class") != "bar":
            continue
        title = rect.find(SVG + "title").text
        weight = float(title.rsplit(": ", 1)[1])
        x = float(rect.get("x")) + float(rect.get("width")) / 2
        y_svg = float(rect.get("y"))
        bottom = y_svg + float(rect.get("height"))
        top = next((y for y in range(max(0, int(y_svg) - 20), min(height, int(bottom) + 1))
                    if close(rows[y][int(x)], target)), None)
        bars.append((weight, x, y_svg, top, panel))
    if len(bars) < 2:
        print("FAIL: %s has %d bars" % (svg_path, len(bars)))
        return 1
    failures = []
    tallest = max(bars)
    weight, x, y_svg, top, _ = tallest
    print("%s: %d bars; tallest (weight %g) at x %.1f: top at y %s in the screenshot, %.1f in the SVG" %
          (svg_path, len(bars), weight, x, top, y_svg))
    if top is None:
        failures.append("no pixel of the bar colour %s in the tallest bar's column x=%.1f" % (color, x))
    else:
        if abs(top - y_svg) > 2:
            failures.append("the tallest bar's top is at y %d, the SVG says %.1f" % (top, y_svg))
        middle = sample(rows, x, top + 5)
        if not close(middle, target):
            failures.append("the tallest bar is drawn rgb%s, not %s" % (middle, color))
    # Within each panel, a smaller weight has a lower top.
    for w, bx, _, btop, panel in bars:
        peers = [b for b in bars if b[4] == panel and b[3] is not None and b[0] > w]
        for pw, px, _, ptop, _ in peers:
            if btop is not None and not btop > ptop:
                failures.append("bar of weight %g at x %.1f has its top at y %d, not lower than that of weight %g "
                                "at x %.1f (y %d)" % (w, bx, btop, pw, px, ptop))
    shortest = min(b for b in bars if b[3] is not None)
    print("shortest drawn bar (weight %g) at x %.1f: top at y %d" % (shortest[0], shortest[1], shortest[3]))
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    return 0


ALIGNMENT_COLORS = {"hit": "#1b9e77", "possible-hit": "#a6dba0", "miss": "#d95f02", "false-alarm": "#d7191c",
                    "dot": "#202020"}


def check_alignment(shot, svg_path, counts):
    _, _, rows = read_png(shot)
    root = ET.parse(svg_path).getroot()
    grid = next(e for e in root.iter() if e.get("class") == "alignment")
    left, top, cell = (float(grid.get("data-" + k)) for k in ("left", "top", "cell"))
    failures = []
    found = {}
    for mark in grid.iter(SVG + "g"):
        classes = (mark.get("class") or "").split()
        if "mark" not in classes:
            continue
        kind = classes[1]
        found[kind] = found.get(kind, 0) + 1
        i, j = int(mark.get("data-i")), int(mark.get("data-j"))
        cx, cy = left + (j + 0.5) * cell, top + (i + 0.5) * cell
        centre = sample(rows, cx, cy)
        corner = sample(rows, cx - 0.25 * cell, cy - 0.25 * cell)
        edge = sample(rows, cx - 0.36 * cell, cy)
        where = "%s at row %d, column %d" % (kind, i, j)
        colored = [name for name, c in ALIGNMENT_COLORS.items() if close(centre, hex_rgb(c))]
        if kind in ("hit", "possible-hit"):
            if not close(corner, hex_rgb(ALIGNMENT_COLORS[kind])):
                failures.append("%s: fill %s, expected %s" % (where, corner, ALIGNMENT_COLORS[kind]))
            if not close(centre, hex_rgb(ALIGNMENT_COLORS["dot"])):
                failures.append("%s: no hypothesis dot at the centre (%s)" % (where, centre))
        elif kind == "miss":
            if not close(edge, hex_rgb(ALIGNMENT_COLORS["miss"])):
                failures.append("%s: outline %s, expected %s" % (where, edge, ALIGNMENT_COLORS["miss"]))
            if colored:
                failures.append("%s: the centre is %s (%s), expected no mark" % (where, colored, centre))
        elif kind == "false-alarm":
            if not close(centre, hex_rgb(ALIGNMENT_COLORS["false-alarm"])):
                failures.append("%s: centre %s, expected the red cross" % (where, centre))
            if close(corner, hex_rgb(ALIGNMENT_COLORS["hit"])):
                failures.append("%s: filled like a hit" % where)
        elif kind == "possible":
            if colored:
                failures.append("%s: the centre is %s (%s), expected no mark" % (where, colored, centre))
        elif kind == "link":
            if not close(centre, hex_rgb(ALIGNMENT_COLORS["dot"])):
                failures.append("%s: centre %s, expected a dot" % (where, centre))
    for pair in counts:
        kind, n = pair.split("=")
        if found.get(kind, 0) != int(n):
            failures.append("%d marks of kind %s, expected %s" % (found.get(kind, 0), kind, n))
    print("%s: %d marks checked (%s)" % (shot, sum(found.values()), ", ".join("%s %d" % kv for kv in sorted(found.items()))))
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    return 0


def count_color(shot, color, minimum):
    _, _, rows = read_png(shot)
    target = hex_rgb(color)
    n = sum(1 for row in rows for p in row if close(p, target))
    print("%s: %d pixels near %s (need %d)" % (shot, n, color, minimum))
    return 0 if n >= minimum else 1


def main(argv):
    try:
        if len(argv) >= 8 and argv[1] == "check-svg":
            return check_svg(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]), int(argv[7]), argv[8],
                             argv[9] if len(argv) > 9 else None)
        if len(argv) == 5 and argv[1] == "check-bars":
            return check_bars(argv[2], argv[3], argv[4])
        if len(argv) >= 4 and argv[1] == "check-alignment":
            return check_alignment(argv[2], argv[3], argv[4:])
        if len(argv) == 5 and argv[1] == "count-color":
            return count_color(argv[2], argv[3], int(argv[4]))
    except (ValueError, OSError, ET.ParseError, IndexError, KeyError) as e:
        print("png_pixels.py: %s" % e)
        return 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
