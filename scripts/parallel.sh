#!/bin/sh
# Runs one test per ITEM, TEST_JOBS at a time (default 2, the cores CI has), and then prints
# their reports in the items' order, so that the output reads the same as a run one by one.
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
index=0
for item in "$@"; do
    index=$((index + 1))
    echo "$reports/$(printf '%04d' $index) $item"
done | xargs -P "$jobs" -L 1 \
    sh -c 'exec sh "$PARALLEL_SCRIPT" --one "$1" $PARALLEL_ARGS "$2"' parallel
status=0
index=0
for item in "$@"; do
    index=$((index + 1))
    report="$reports/$(printf '%04d' $index)"
    [ -f "$report" ] && cat "$report"
    if [ -f "$report.result" ]; then
        cat "$report.result" >>"$results"
        awk '$3 != 0 {bad = 1} END {exit bad}' "$report.result" || status=1
    else
        status=1; echo "FAIL $item: no result (the runner died)"
        echo "$item 0 1" >>"$results"
    fi
done
rm -rf "$reports"
exit $status
