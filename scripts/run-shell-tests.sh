#!/bin/sh
# Runs shell scripts (black-box tests of the khorgos command, which they take from $KHORGOS),
# two at a time (scripts/parallel.sh); each is one test, and each line says how long it took.
# Usage: run-shell-tests.sh DIR|"SCRIPT..." RESULTS [PREFIX]
#   DIR: every DIR/*.sh (make test: tests; make test-long: tests/long); or a list of scripts
#   (make test-long runs some again on the sanitizer build). PREFIX names the results
#   (PREFIX/NAME; default shell).
if [ "$1" = "--one" ]; then
    report=$2; prefix=$3; results=$4; script=$5
    base=$(basename "$script" .sh)
    name="$prefix/$base"
    log="$(dirname "$results")/logs/${prefix}_$base.log"
    start=$(date +%s.%N)
    bash "$script" >"$log" 2>&1
    code=$?
    seconds=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
    if [ "$code" -eq 0 ]; then
        echo "ok   $name ($seconds s)" >"$report"; echo "$name 1 0" >"$report.result"
    else
        { echo "FAIL $name ($seconds s), log: $log"; tail -n 30 "$log"; } >"$report"
        echo "$name 0 1" >"$report.result"
    fi
    exit 0
fi
scripts=$1; results=$2; prefix=${3:-shell}
[ -d "$scripts" ] && scripts=$(ls "$scripts"/*.sh 2>/dev/null)
mkdir -p "$(dirname "$results")/logs"
# shellcheck disable=SC2086 # script paths have no spaces
exec sh scripts/parallel.sh "$results" scripts/run-shell-tests.sh "$prefix" "$results" -- $scripts
