#!/bin/sh
# Runs one part of `make test` (a command) and appends "PART SECONDS" to TIMES, so the summary
# can print the time each part took. Exits with the command's status.
# Usage: test-part.sh PART TIMES COMMAND...
part=$1; times=$2; shift 2
start=$(date +%s.%N)
"$@"
status=$?
end=$(date +%s.%N)
mkdir -p "$(dirname "$times")"
echo "$part $start $end" | awk '{printf "%s %.1f\n", $1, $3 - $2}' >>"$times"
exit $status
