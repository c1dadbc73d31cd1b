#!/bin/bash
# python_client.sh: the Python client (clients/python) installed as docs/clients.md says, with
# Debian's tools only (a venv over the system's site packages, pip without build isolation),
# then its unittest suite run from outside the source tree against the installed package; the
# suite launches its own `khorgos start --clock manual`. The venv is made once, beside the
# khorgos command (BUILD/python-venv: making one takes seconds), and the package is installed
# into it again on every run. The pure-Python checksum is compared
# with libkhorgos_client.so's when the shared library is built.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
KHORGOS=$(cd "$(dirname "$KHORGOS")" && pwd)/$(basename "$KHORGOS")
library=$(dirname "$KHORGOS")/libkhorgos_client.so
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# Debian's own Python (another one earlier on PATH, such as pyenv's, has other site packages).
python=/usr/bin/python3
[ -x "$python" ] || python=python3

venv=$(dirname "$KHORGOS")/python-venv
if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    "$python" -m venv --system-site-packages "$venv" || fail "python3 -m venv (python3-venv)"
fi
"$venv/bin/pip" install --quiet --no-build-isolation --no-index --force-reinstall --no-deps \
    "$root/clients/python" >"$work/pip.log" 2>&1 ||
    { cat "$work/pip.log"; fail "pip install ./clients/python"; }
# The installed package, not the source tree: run from elsewhere, check where it came from.
cd "$work" || fail "cd $work"
where=$("$venv/bin/python" -c 'import khorgos; print(khorgos.__file__)')
case "$where" in "$venv/"*) ;; *) fail "khorgos imported from $where" ;; esac
[ -f "$library" ] && export KHORGOS_CLIENT_LIBRARY_CHECK="$library"
KHORGOS="$KHORGOS" KHORGOS_SOURCE="$root" \
    "$venv/bin/python" -W error::ResourceWarning -m unittest discover \
    -s "$root/clients/python/tests" -t "$root/clients/python/tests" -v 2>&1 || fail "unittest"
echo "ok: the Python client installs with pip --no-build-isolation and passes its tests"
