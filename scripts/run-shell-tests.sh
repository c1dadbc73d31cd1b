#!/bin/sh
# Runs every tests/*.sh script (black-box tests of the khorgos command); each is one test.
# Usage: run-shell-tests.sh DIR RESULTS
dir=$1; results=$2
mkdir -p "$(dirname "$results")/logs"
status=0
for script in "$dir"/*.sh; do
    [ -f "$script" ] || continue
    name="shell/$(basename "$script" .sh)"
    log="$(dirname "$results")/logs/shell_$(basename "$script" .sh).log"
    if bash "$script" >"$log" 2>&1; then
        echo "ok   $name"; echo "$name 1 0" >>"$results"
    else
        status=1; echo "FAIL $name, log: $log"; tail -n 30 "$log"; echo "$name 0 1" >>"$results"
    fi
done
exit $status
