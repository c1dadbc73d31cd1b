#!/bin/sh
# Installs the Debian 12 packages Khorgos needs, only those missing. Run as root (or with sudo
# available). Usage: deps.sh [build|test|bench]
set -e
kind=${1:-build}
packages="make gcc clang pkg-config libc6-dev libssl-dev libxxhash-dev libxml2-dev libuv1-dev"
case "$kind" in
    test) packages="$packages libcmocka-dev libclang-rt-14-dev python3 chromium" ;;
    bench) packages="$packages libcmocka-dev postgresql sqlite3 libsqlite3-dev linux-perf valgrind" ;;
esac
missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $package"
done
[ -z "$missing" ] && exit 0
echo "khorgos: installing Debian packages:$missing" >&2
sudo_command=""
[ "$(id -u)" -eq 0 ] || sudo_command="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_command apt-get update -qq
# shellcheck disable=SC2086
$sudo_command apt-get install -y -qq --no-install-recommends $missing >/dev/null
