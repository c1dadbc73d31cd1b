#!/bin/sh
# The README's main-job command: installs what the build needs, builds, runs the main job.
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh build
make -j2 all >/dev/null
make --no-print-directory run
