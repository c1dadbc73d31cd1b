#!/bin/sh
# Runs each libFuzzer target for SECONDS on its seed corpus (fuzz/corpus/NAME) plus a scratch
# corpus in build/, so a crash fails the tier and the seed corpus stays as committed. A run of
# a minute or less (make test) starts from an empty scratch corpus, so that it replays the seeds
# only and its time stays bounded; a longer one (make test-long) goes on from what the last
# long run found (build/fuzz/corpus-NAME). A target
# with a dictionary fuzz/NAME.dict gets it, and one with fuzz/NAME.options (libFuzzer flags on
# one line) those flags. For each target it prints the wall time, the
# executions and the coverage libFuzzer reached (its final `cov:`, edges), one line each.
# Targets run two at a time (scripts/parallel.sh).
# Usage: run-fuzz.sh SECONDS RESULTS PROGRAM...
if [ "$1" = "--one" ]; then
    report=$2; seconds=$3; results=$4; program=$5
    name=$(basename "$program")
    short=${name#fuzz_}
    seeds="fuzz/corpus/$short"
    scratch="build/fuzz/corpus-$short"
    if [ "$seconds" -le 60 ]; then scratch="build/fuzz/quick-$short"; rm -rf "$scratch"; fi
    log="$(dirname "$results")/logs/fuzz_${name}.log"
    mkdir -p "$scratch" "$seeds" "$(dirname "$log")"
    dictionary=""
    if [ -f "fuzz/$short.dict" ]; then dictionary="-dict=fuzz/$short.dict"; fi
    options=""
    if [ -f "fuzz/$short.options" ]; then options=$(cat "fuzz/$short.options"); fi
    start=$(date +%s)
    # shellcheck disable=SC2086 # empty ones must vanish, and options split into flags
    "$program" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 $dictionary $options \
        -artifact_prefix=build/fuzz/ "$scratch" "$seeds" >"$log" 2>&1
    code=$?
    elapsed=$(( $(date +%s) - start ))
    runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 | grep -o '[0-9]*')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*')
    if [ "$code" -eq 0 ]; then
        echo "ok   fuzz/$name: ${elapsed}s, ${runs:-0} runs, cov ${cov:-0} edges" >"$report"
        echo "fuzz/$name 1 0" >"$report.result"
    else
        { echo "FAIL fuzz/$name after ${elapsed}s, log: $log"; tail -n 40 "$log"; } >"$report"
        echo "fuzz/$name 0 1" >"$report.result"
    fi
    exit 0
fi
seconds=$1; results=$2; shift 2
mkdir -p "$(dirname "$results")"
exec sh scripts/parallel.sh "$results" scripts/run-fuzz.sh "$seconds" "$results" -- "$@"
