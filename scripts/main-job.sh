#!/bin/sh
# The main job: one business day of China–Central Asia trade run through the real
# engine under each settlement design (rtgs_no_queue, rtgs_fifo, rtgs_lsm, dns_hourly,
# usd_vehicle) at each liquidity level a, then the summary table and where the report is.
# Usage: main-job.sh KHORGOS_BINARY [OUT_DIR]   (default build/simulation)
set -e
binary=${1:-build/khorgos}
out=${2:-build/simulation}
"$binary" simulate --out "$out"
echo "Open $out/report.html in a browser (one self-contained file, works offline)."
