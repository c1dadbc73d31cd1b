#!/bin/sh
# The README's test command: installs what the tests need, then runs the quick tier (make test).
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh test
make -j2 all
make test
