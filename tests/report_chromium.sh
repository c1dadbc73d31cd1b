#!/bin/bash
# report_chromium.sh: the simulator's report opens in headless Chromium (Debian's package) with
# no console messages at all (the report has no script and loads nothing, so any message is an
# error), its screenshot shows the charts: many coloured pixels, since text and background
# are grey and chart series are not; and each chart's axis range fits its data
# (tests/tools/report_axes.py reads the ranges each SVG carries and the plotted points).
set -u
KHORGOS=${KHORGOS:-build/khorgos}
browser=$(command -v chromium || true)
[ -n "$browser" ] || { echo "FAIL: chromium is not installed (scripts/deps.sh test installs it)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$KHORGOS" simulate --scale 0.05 --seeds 3 --out "$work/out" >"$work/simulate.log" 2>&1 ||
    fail "simulate: $(tail -n 5 "$work/simulate.log")"
[ -s "$work/out/report.html" ] || fail "no report.html"
# Each chart's axes fit its data, and every mark is drawn where its values put it.
python3 tests/tools/report_axes.py "$work/out/report.html" >"$work/axes.log" ||
    fail "axes: $(tail -n 1 "$work/axes.log")"

timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" --enable-logging=stderr --v=0 \
    --window-size=1280,3000 --hide-scrollbars --virtual-time-budget=2000 \
    --screenshot="$work/report.png" "file://$work/out/report.html" >"$work/chromium.log" 2>&1
[ -s "$work/report.png" ] || fail "no screenshot: $(tail -n 5 "$work/chromium.log")"
if grep -q "CONSOLE" "$work/chromium.log"; then
    fail "console messages: $(grep CONSOLE "$work/chromium.log" | head -n 5)"
fi
read -r width height coloured < <(python3 tests/tools/png_colour.py "$work/report.png")
[ "$width" -eq 1280 ] || fail "screenshot is $width pixels wide"
# Five charts with coloured series: at least 0.5% of the page's pixels are coloured.
minimum=$((width * height / 200))
[ "$coloured" -ge "$minimum" ] || fail "only $coloured coloured pixels (need $minimum): charts missing?"
[ -z "${KEEP_SCREENSHOT:-}" ] || cp "$work/report.png" "$KEEP_SCREENSHOT"
echo "ok: report rendered ${width}x${height}, $coloured coloured pixels, no console messages"
