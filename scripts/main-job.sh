#!/bin/sh
# The main job: business days of China–Central Asia trade with their interbank payments (the
# default day; the days of seeds 1 to 10) run through the real engine under each settlement
# design (rtgs_no_queue, rtgs_fifo, rtgs_lsm, dns_hourly, usd_vehicle) at each liquidity level
# a, then the summary table (means with 95% intervals over the seeds) and where the report is.
# Usage: main-job.sh KHORGOS_BINARY [OUT_DIR]   (default build/simulation)
set -e
binary=${1:-build/khorgos}
out=${2:-build/simulation}
"$binary" simulate --seed 1 --seeds 10 --out "$out"
echo "Open $out/report.html in a browser (one self-contained file, works offline)."
