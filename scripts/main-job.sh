#!/bin/sh
# The main job. Until the simulator lands (issue 6) it is the ledger demo: banks of China,
# Central Asia and Russia settle trade payments in their own currencies, in memory.
# Usage: main-job.sh KHORGOS_BINARY
set -e
binary=${1:-build/khorgos}
"$binary" demo
