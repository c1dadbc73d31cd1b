#!/bin/sh
# Installs the Debian 12 packages Khorgos needs, only those missing. Run as root (or with sudo
# available). Usage: deps.sh [build|test|bench|cluster]
#
# Every kind also needs the raft library (the library links the cluster layer, src/cluster/),
# from bookworm-backports: libraft-dev 0.22 (the cowsql fork by raft's original author), with
# libuv1-dev and liblz4-dev. Bookworm's own 0.15.0 predates fixes such as old log segments
# replayed after a snapshot, so the backports source is added when missing and the packages are
# installed from it explicitly. `deps.sh cluster` installs only that (and cmocka).
set -e
kind=${1:-build}
packages="make gcc clang pkg-config libc6-dev libssl-dev libxxhash-dev libxml2-dev libuv1-dev"
case "$kind" in
    # openssl: scripts/dev-ca.sh makes the TLS tests' certificates, and s_client tries TLS 1.2;
    # curl: docs/operations.md's metrics example; stunnel4 and iproute2: the cluster's fault
    # tests, replicas in network namespaces behind TLS sidecars (docs/replication.md).
    test) packages="$packages libcmocka-dev libclang-rt-14-dev python3 chromium openssl curl"
          packages="$packages stunnel4 iproute2"
          # lld: links the sanitizer and fuzz builds' test programs faster (Makefile)
          packages="$packages lld"
          # the Python client's install test: a venv and pip without build isolation
          packages="$packages python3-venv python3-setuptools python3-wheel" ;;
    cluster) packages="$packages libcmocka-dev" ;;
    bench) packages="$packages libcmocka-dev postgresql sqlite3 libsqlite3-dev linux-perf valgrind" ;;
esac
# The tests run TigerBeetle's Node client against `khorgos start`: node and npm, from Debian
# unless the machine already has them (from any source).
if [ "$kind" = test ] && ! command -v npm >/dev/null 2>&1; then
    packages="$packages nodejs npm"
fi
sudo_command=""
[ "$(id -u)" -eq 0 ] || sudo_command="sudo"
export DEBIAN_FRONTEND=noninteractive

# The raft library at 0.22 or later, from bookworm-backports (apt's default candidate is older).
install_raft() {
    pkg-config --atleast-version=0.22.0 raft 2>/dev/null &&
        dpkg-query -W -f='${Status}\n' libuv1-dev liblz4-dev 2>/dev/null |
        grep -c "install ok installed" | grep -q 2 && return 0
    sources=/etc/apt/sources.list.d/bookworm-backports.sources
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "khorgos: adding the bookworm-backports source ($sources)" >&2
        printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" \
            "Suites: bookworm-backports" "Components: main" \
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
            $sudo_command tee "$sources" >/dev/null
    fi
    echo "khorgos: installing libraft-dev libuv1-dev liblz4-dev from bookworm-backports" >&2
    # apt's download sandbox user cannot verify signatures where /dev/null is not writable by
    # it (apt only warns then); such a machine updates as root instead.
    apt_options=""
    $sudo_command apt-get update -qq
    if ! apt-cache policy libraft-dev | grep -q bookworm-backports; then
        apt_options="-o APT::Sandbox::User=root"
        # shellcheck disable=SC2086
        $sudo_command apt-get $apt_options update -qq
    fi
    # shellcheck disable=SC2086
    $sudo_command apt-get $apt_options install -y -qq --no-install-recommends \
        -t bookworm-backports libraft-dev libuv1-dev liblz4-dev >/dev/null
    pkg-config --atleast-version=0.22.0 raft || {
        echo "khorgos: libraft-dev $(pkg-config --modversion raft) is older than 0.22.0" >&2
        exit 1
    }
}
install_raft

missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $package"
done
[ -z "$missing" ] && exit 0
echo "khorgos: installing Debian packages:$missing" >&2
$sudo_command apt-get update -qq
# shellcheck disable=SC2086
$sudo_command apt-get install -y -qq --no-install-recommends $missing >/dev/null
