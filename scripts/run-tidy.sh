#!/bin/sh
# The tidy tier: first checks that scripts/tidy.sh flags each violation of tests/tidy/violations.c
# exactly as tests/tidy/expected.txt lists (result tidy/fixture), then runs it over src/ and
# include/ (result tidy/sources); then checks that scripts/layer-calls.py finds the cycle of
# tests/layer-calls/ as tests/layer-calls/expected.txt says (result tidy/calls-fixture), and
# that the calls between the files of each layer folder in LAYERS_ONE_WAY go one way (result
# tidy/calls). Appends "name passed failed" per result to RESULTS.
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
# The layer folders whose files must call one another in one direction only (docs/architecture.md,
# "One direction inside a layer"). The other folders are not held to it yet.
LAYERS_ONE_WAY="src/settle"
actual=$(python3 scripts/layer-calls.py tests/layer-calls)
if [ "$actual" = "$(cat tests/layer-calls/expected.txt)" ]; then
    echo "ok   tidy/calls-fixture"; echo "tidy/calls-fixture 1 0" >>"$results"
else
    status=1; echo "FAIL tidy/calls-fixture: against tests/layer-calls/expected.txt:"
    echo "$actual" | diff tests/layer-calls/expected.txt - | sed 's/^/    /'
    echo "tidy/calls-fixture 0 1" >>"$results"
fi
if cycles=$(python3 scripts/layer-calls.py $LAYERS_ONE_WAY); then
    echo "ok   tidy/calls"; echo "tidy/calls 1 0" >>"$results"
else
    status=1; echo "FAIL tidy/calls: the files of a layer call one another in a cycle:"
    echo "$cycles" | sed 's/^/    /'
    echo "tidy/calls 0 1" >>"$results"
fi
exit $status
