#!/bin/sh
# Runs shell scripts (black-box tests of the khorgos command, which they take from $KHORGOS);
# each is one test.
# Usage: run-shell-tests.sh DIR|"SCRIPT..." RESULTS [PREFIX]
#   DIR: every DIR/*.sh (make test: tests; make test-long: tests/long); or a list of scripts
#   (make test-long runs some again on the sanitizer build). PREFIX names the results
#   (PREFIX/NAME; default shell).
scripts=$1; results=$2; prefix=${3:-shell}
[ -d "$scripts" ] && scripts=$(ls "$scripts"/*.sh 2>/dev/null)
mkdir -p "$(dirname "$results")/logs"
status=0
for script in $scripts; do
    [ -f "$script" ] || continue
    base=$(basename "$script" .sh)
    name="$prefix/$base"
    log="$(dirname "$results")/logs/${prefix}_$base.log"
    if bash "$script" >"$log" 2>&1; then
        echo "ok   $name"; echo "$name 1 0" >>"$results"
    else
        status=1; echo "FAIL $name, log: $log"; tail -n 30 "$log"; echo "$name 0 1" >>"$results"
    fi
done
exit $status
