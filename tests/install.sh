#!/bin/bash
# install.sh: `make install` into a DESTDIR (PREFIX=/usr) puts the command, the static and
# shared libraries (with their soname), every public header, khorgos.pc, the systemd unit and
# the docs in place; a small program (tests/install/program.c) builds against the installed
# copy with `pkg-config --cflags --libs khorgos` (PKG_CONFIG_PATH into the DESTDIR, with
# --define-prefix), dynamically and statically, and runs; the installed unit passes
# `systemd-analyze verify` with nothing to say; `make uninstall` removes every file again; and
# PREFIX defaults to /usr/local. The shared library's -fPIC objects are built in BUILD/pic on
# the first run (about 20 s of CPU), then reused.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
cd "$(dirname "$0")/.." || exit 1
build=$(dirname "$KHORGOS")
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/dest

make -s --no-print-directory -j2 BUILD="$build" DESTDIR="$dest" PREFIX=/usr install \
    >"$work/make.log" 2>&1 || { cat "$work/make.log"; fail "make install"; }
usr=$dest/usr
for file in bin/khorgos lib/libkhorgos.a lib/libkhorgos.so.0.1.0 include/khorgos.h \
    lib/libkhorgos_client.a lib/libkhorgos_client.so include/khorgos_client.h \
    lib/pkgconfig/khorgos.pc lib/systemd/system/khorgos.service share/doc/khorgos/README.md \
    share/doc/khorgos/LICENSE share/doc/khorgos/docs/operations.md; do
    [ -f "$usr/$file" ] || fail "not installed: $file"
done
for header in include/*.h; do
    cmp -s "$header" "$usr/include/$(basename "$header")" || fail "not installed: $header"
done
[ "$(readlink "$usr/lib/libkhorgos.so")" = libkhorgos.so.0 ] || fail "libkhorgos.so link"
[ "$(readlink "$usr/lib/libkhorgos.so.0")" = libkhorgos.so.0.1.0 ] || fail "soname link"
readelf -d "$usr/lib/libkhorgos.so.0.1.0" | grep -q 'SONAME.*\[libkhorgos.so.0\]' ||
    fail "no soname libkhorgos.so.0"
grep -q '^prefix=/usr$' "$usr/lib/pkgconfig/khorgos.pc" || fail "khorgos.pc prefix"
grep -q '^Libs.private: .*-lcrypto .*-lxxhash .*-lxml2 .*-lraft -luv -llz4' \
    "$usr/lib/pkgconfig/khorgos.pc" || fail "Libs.private: $(cat "$usr/lib/pkgconfig/khorgos.pc")"
grep -q '^ExecStart=/usr/bin/khorgos start --data /var/lib/khorgos' \
    "$usr/lib/systemd/system/khorgos.service" || fail "the unit's ExecStart names PREFIX"
grep -q '/usr/local' "$usr/lib/systemd/system/khorgos.service" && fail "/usr/local in the unit"
"$usr/bin/khorgos" --help | grep -q '^SYNOPSIS$' || fail "the installed command"

# Dynamic: pkg-config's flags as they are, the library found through LD_LIBRARY_PATH.
export PKG_CONFIG_PATH=$usr/lib/pkgconfig
flags=$(pkg-config --define-prefix --cflags --libs khorgos) || fail "pkg-config"
case "$flags" in *"-I$usr/include"*"-L$usr/lib"*) ;; *) fail "pkg-config flags: $flags" ;; esac
cc -std=c11 -Wall -Werror tests/install/program.c $flags -o "$work/dynamic" ||
    fail "build against the installed library"
[ "$(LD_LIBRARY_PATH=$usr/lib "$work/dynamic")" = "create=created lookup=1 ledger=398" ] ||
    fail "the dynamic program: $(LD_LIBRARY_PATH=$usr/lib "$work/dynamic" 2>&1)"
LD_LIBRARY_PATH=$usr/lib ldd "$work/dynamic" | grep -q "libkhorgos.so.0 => $usr/lib/" ||
    fail "the program is not linked to the shared library"
# Static: the archive, with Libs.private.
static_libs=$(pkg-config --define-prefix --static --libs-only-l khorgos | sed 's/-lkhorgos//')
cc -std=c11 -Wall -Werror tests/install/program.c $(pkg-config --define-prefix --cflags khorgos) \
    "$usr/lib/libkhorgos.a" $static_libs -o "$work/static" || fail "static build"
[ "$("$work/static")" = "create=created lookup=1 ledger=398" ] || fail "the static program"
ldd "$work/static" | grep -q libkhorgos && fail "the static program loads libkhorgos"

# The unit, with ExecStart on the installed binary (verify checks that it exists).
if command -v systemd-analyze >/dev/null; then
    sed "s|/usr/bin/khorgos|$usr/bin/khorgos|" "$usr/lib/systemd/system/khorgos.service" \
        >"$work/khorgos.service"
    systemd-analyze verify "$work/khorgos.service" >"$work/verify" 2>&1 ||
        fail "systemd-analyze verify: $(cat "$work/verify")"
    [ -s "$work/verify" ] && fail "systemd-analyze verify: $(cat "$work/verify")"
else
    echo "systemd-analyze is missing: the unit is not verified"
fi

# Installed again with another PREFIX, the pkg-config file follows it.
make -s --no-print-directory BUILD="$build" DESTDIR="$work/other" PREFIX=/opt/k install \
    >"$work/make.log" 2>&1 || { cat "$work/make.log"; fail "make install PREFIX=/opt/k"; }
grep -q '^prefix=/opt/k$' "$work/other/opt/k/lib/pkgconfig/khorgos.pc" || fail "PREFIX=/opt/k"

make -s --no-print-directory BUILD="$build" DESTDIR="$dest" PREFIX=/usr uninstall \
    >"$work/make.log" 2>&1 || { cat "$work/make.log"; fail "make uninstall"; }
left=$(find "$dest" -type f -o -type l)
[ -z "$left" ] || fail "left after uninstall: $left"
make -s -n --no-print-directory BUILD="$build" DESTDIR=/x install 2>/dev/null |
    grep -q '/x/usr/local/bin/khorgos' || fail "PREFIX does not default to /usr/local"
echo "ok"
