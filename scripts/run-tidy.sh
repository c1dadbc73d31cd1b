#!/bin/sh
# The tidy tier: first checks that scripts/tidy.sh flags each violation of tests/tidy/violations.c
# exactly as tests/tidy/expected.txt lists (result tidy/fixture), then runs it over src/ and
# include/ (result tidy/sources). Appends "name passed failed" per result to RESULTS.
# Usage: run-tidy.sh RESULTS
results=$1
mkdir -p "$(dirname "$results")"
status=0
actual=$(sh scripts/tidy.sh tests/tidy/violations.c)
if [ "$actual" = "$(cat tests/tidy/expected.txt)" ]; then
    echo "ok   tidy/fixture"; echo "tidy/fixture 1 0" >>"$results"
else
    status=1; echo "FAIL tidy/fixture: tidy.sh flagged, against tests/tidy/expected.txt:"
    echo "$actual" | diff tests/tidy/expected.txt - | sed 's/^/    /'
    echo "tidy/fixture 0 1" >>"$results"
fi
if violations=$(sh scripts/tidy.sh); then
    echo "ok   tidy/sources"; echo "tidy/sources 1 0" >>"$results"
else
    status=1; echo "FAIL tidy/sources:"; echo "$violations" | sed 's/^/    /'
    echo "tidy/sources 0 1" >>"$results"
fi
exit $status
