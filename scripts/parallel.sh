#!/bin/sh
# Runs one test per ITEM, TEST_JOBS at a time (default 2, the cores CI has), and prints their
# reports in the items' order, each as soon as it and those before it are done, so that the
# output reads the same as a run one by one.
# Each item runs as `sh SCRIPT --one REPORT ARG... ITEM`: that run writes its lines for the
# reader to REPORT and its "name passed failed" line to REPORT.result. Exits 1 when any item
# failed or wrote no result.
# Usage: parallel.sh RESULTS SCRIPT ARG... -- ITEM...
results=$1; script=$2; shift 2
args=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do args="$args $1"; shift; done
[ "$1" = "--" ] && shift
jobs=${TEST_JOBS:-2}
reports="$(dirname "$results")/reports.$$"
rm -rf "$reports"; mkdir -p "$reports"
PARALLEL_SCRIPT=$script PARALLEL_ARGS=$args
export PARALLEL_SCRIPT PARALLEL_ARGS
# The items run longest first, so that the last ones to end are short and the jobs end together;
# the reports still print in the items' order. scripts/test-order.txt lists the known-long ones
# (by file name, longest first); the others follow in their given order.
order=scripts/test-order.txt
[ -f "$order" ] || order=/dev/null
index=0
for item in "$@"; do
    index=$((index + 1))
    echo "$reports/$(printf '%04d' $index) $item"
done | awk 'FILENAME == ARGV[1] { if ($1 !~ /^#/ && NF) rank[$1] = FNR; next }
            { name = $2; sub(/.*\//, "", name); sub(/\.sh$/, "", name)
              printf "%06d %s\n", (name in rank) ? rank[name] : 100000 + FNR, $0 }' \
        "$order" - | sort -n | cut -d " " -f 2- |
    xargs -P "$jobs" -L 1 \
    sh -c 'sh "$PARALLEL_SCRIPT" --one "$1" $PARALLEL_ARGS "$2"; : >"$1.done"' parallel &
runner=$!
status=0
index=0
for item in "$@"; do
    index=$((index + 1))
    report="$reports/$(printf '%04d' $index)"
    # REPORT.done is made once the item's run has ended; once the runner has ended, a missing
    # one stays missing.
    while [ ! -f "$report.done" ] && kill -0 "$runner" 2>/dev/null; do sleep 0.2; done
    [ -f "$report" ] && cat "$report"
    if [ -f "$report.result" ]; then
        cat "$report.result" >>"$results"
        awk '$3 != 0 {bad = 1} END {exit bad}' "$report.result" || status=1
    else
        status=1; echo "FAIL $item: no result (the runner died)"
        echo "$item 0 1" >>"$results"
    fi
done
wait "$runner"
rm -rf "$reports"
exit $status
