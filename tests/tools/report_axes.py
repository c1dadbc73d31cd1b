#!/usr/bin/env python3
"""Checks that each chart of a simulator report fits its axes to its data (tests/report_chromium.sh).

Each chart's <svg class="chart"> carries its axes' ranges (data-x-min, data-x-max, data-y-min,
data-y-max), the extent of what it plots (data-x-data-min ... data-y-data-max) and its plot box in
pixels (data-plot="left top right bottom"). For every chart:
  - the axes hold the data, and the data fill at least FILL of each value axis (a chart whose
    axis runs 0-600 for points in 511-570 fails);
  - every mark of the trade-off chart (<g class="point" data-x data-y>) lies within the axes
    and is drawn where its values put it, to a pixel;
  - every line and bar lies inside the plot box.
Prints one line per chart; exits 1 at the first failure. Usage: report_axes.py REPORT.html
"""
import re
import sys

FILL = 0.4
html = open(sys.argv[1]).read()
charts = re.findall(r'<svg [^>]*class="chart"[^>]*>.*?</svg>', html, re.S)
if len(charts) < 5:
    sys.exit(f"FAIL: {len(charts)} charts, expected 5")


def fail(index, message):
    sys.exit(f"FAIL: chart {index + 1}: {message}")


for index, chart in enumerate(charts):
    head = re.match(r"<svg [^>]*>", chart).group(0)
    attributes = dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', head))
    left, top, right, bottom = map(float, attributes["data-plot"].split())
    axes = {}
    for axis in "xy":
        low, high = float(attributes[f"data-{axis}-min"]), float(attributes[f"data-{axis}-max"])
        data_low = float(attributes[f"data-{axis}-data-min"])
        data_high = float(attributes[f"data-{axis}-data-max"])
        span = high - low
        if span <= 0:
            fail(index, f"{axis} axis [{low}, {high}] is empty")
        if data_low < low - 1e-9 * span or data_high > high + 1e-9 * span:
            fail(index, f"{axis} data [{data_low}, {data_high}] outside the axis [{low}, {high}]")
        categories = axis == "x" and attributes["data-x-kind"] == "categories"
        if not categories and data_high > data_low and (data_high - data_low) < FILL * span:
            fail(index, f"{axis} data [{data_low}, {data_high}] fill less than {FILL:.0%} of "
                        f"the axis [{low}, {high}]")
        axes[axis] = (low, high)
    for x_value, y_value, tx, ty in re.findall(
            r'<g class="point" data-x="([^"]+)" data-y="([^"]+)">'
            r'<g transform="translate\(([-\d.]+) ([-\d.]+)\)">', chart):
        x_value, y_value, tx, ty = map(float, (x_value, y_value, tx, ty))
        for axis, value in (("x", x_value), ("y", y_value)):
            low, high = axes[axis]
            if not low <= value <= high:
                fail(index, f"point {axis} = {value} outside the axis [{low}, {high}]")
        x = left + (x_value - axes["x"][0]) / (axes["x"][1] - axes["x"][0]) * (right - left)
        y = bottom - (y_value - axes["y"][0]) / (axes["y"][1] - axes["y"][0]) * (bottom - top)
        if abs(x - tx) > 1 or abs(y - ty) > 1:
            fail(index, f"point ({x_value}, {y_value}) drawn at ({tx}, {ty}), not ({x}, {y})")
    pixels = []
    for points in re.findall(r'<polyline [^>]*points="([^"]*)"', chart):
        pixels += [tuple(map(float, pair.split(","))) for pair in points.split()]
    for x, y, height in re.findall(
            r'<rect class="bar" x="([-\d.]+)" y="([-\d.]+)" width="[-\d.]+" height="([-\d.]+)"',
            chart):
        pixels += [(float(x), float(y)), (float(x), float(y) + float(height))]
    for x, y in pixels:
        if not (left - 1 <= x <= right + 1 and top - 1 <= y <= bottom + 1):
            fail(index, f"a line or bar at ({x}, {y}) leaves the plot box")
    print(f"chart {index + 1}: x [{axes['x'][0]:.6g}, {axes['x'][1]:.6g}], "
          f"y [{axes['y'][0]:.6g}, {axes['y'][1]:.6g}], {len(pixels)} plotted vertices: fit")
