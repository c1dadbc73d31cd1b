#!/bin/sh
# Runs each libFuzzer target for SECONDS on its seed corpus (fuzz/corpus/NAME) plus a scratch
# corpus in build/, so a crash fails the tier and the seed corpus stays as committed.
# Usage: run-fuzz.sh SECONDS RESULTS PROGRAM...
seconds=$1; results=$2; shift 2
status=0
for program in "$@"; do
    name=$(basename "$program")
    seeds="fuzz/corpus/${name#fuzz_}"
    scratch="build/fuzz/corpus-${name#fuzz_}"
    log="$(dirname "$results")/logs/fuzz_${name}.log"
    mkdir -p "$scratch" "$(dirname "$log")"
    if "$program" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix=build/fuzz/ "$scratch" "$seeds" >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1)
        echo "ok   fuzz/$name ($runs in ${seconds}s)"; echo "fuzz/$name 1 0" >>"$results"
    else
        status=1; echo "FAIL fuzz/$name, log: $log"; tail -n 40 "$log"
        echo "fuzz/$name 0 1" >>"$results"
    fi
done
exit $status
