#!/bin/bash
# files.sh: the files of a data directory. format makes the directory 0700 and every file 0600;
# it takes an existing empty directory and refuses a non-empty one, changing nothing in it; a
# failed format leaves nothing that blocks the next. A symbolic link among the data files is
# refused with a message naming it. check and inspect read a read-only copy as an unprivileged
# user (when run as root) and change nothing. Error messages name the path and the cause.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
KHORGOS=$(cd "$(dirname "$KHORGOS")" && pwd)/$(basename "$KHORGOS")
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
capacities="--accounts 16 --transfers 1024 --balances 64 --participants 4 --payments 16"
accounts='{"op":"create_accounts","events":[{"id":"1","ledger":398,"code":1},{"id":"2","ledger":398,"code":1}]}'
# Names, sizes, modes and the first 2 MiB of every file (a test's records fit in far less).
listing() {
    (cd "$1" && ls -la --time-style=+ . && for f in *; do head -c 2097152 -- "$f" | md5sum; done)
}

# Modes: the directory 0700, every file 0600, whatever the umask.
(umask 022 && "$KHORGOS" format --data "$work/data" $capacities >/dev/null) || fail "format"
echo "$accounts" | "$KHORGOS" apply --data "$work/data" >/dev/null 2>&1 || fail "apply"
[ "$(stat -c %a "$work/data")" = 700 ] || fail "directory mode $(stat -c %a "$work/data")"
modes=$(stat -c %a "$work/data"/* | sort -u | paste -sd,)
[ "$modes" = 600 ] || fail "file modes $modes, want 600: $(ls -l "$work/data")"

# An existing empty directory is formatted (systemd StateDirectory, a container volume).
mkdir -m 0700 "$work/empty"
"$KHORGOS" format --data "$work/empty" $capacities >/dev/null || fail "format of an empty dir"
echo "$accounts" | "$KHORGOS" apply --data "$work/empty" >"$work/out" 2>&1 || fail "apply: $(cat "$work/out")"

# A non-empty one is refused, named, and left exactly as it was (no lock file made either).
mkdir "$work/busy" && echo notes >"$work/busy/notes.txt"
before=$(listing "$work/busy")
status=0; "$KHORGOS" format --data "$work/busy" $capacities 2>"$work/err" || status=$?
[ $status -eq 1 ] || fail "format of a non-empty directory exited $status"
grep -qF "$work/busy" "$work/err" && grep -q "not empty" "$work/err" ||
    fail "message: $(cat "$work/err")"
[ "$(listing "$work/busy")" = "$before" ] || fail "the refused directory changed: $(ls -la "$work/busy")"
status=0; "$KHORGOS" format --data "$work/data" $capacities 2>/dev/null || status=$?
[ $status -eq 1 ] || fail "format of a data directory exited $status"

# A failed format (memory for its capacities cannot be reserved) leaves nothing behind: the
# directory it made is gone, an empty one it was given is empty again; the next format works.
# (A sanitizer build reserves its shadow memory at start, which the address-space limit
# forbids: the part is skipped there.)
if grep -q __asan_init "$KHORGOS"; then
    echo "skipped: a format beyond memory (a sanitizer build)"
else
    status=0
    (ulimit -v 1000000 && "$KHORGOS" format --data "$work/big" --transfers 1000000000) \
        2>"$work/err" || status=$?
    [ $status -eq 1 ] || fail "format beyond memory exited $status: $(cat "$work/err")"
    [ -e "$work/big" ] && fail "a failed format left $work/big: $(ls -la "$work/big")"
    mkdir "$work/given"
    (ulimit -v 1000000 && "$KHORGOS" format --data "$work/given" --transfers 1000000000) \
        2>/dev/null
    [ -z "$(ls -A "$work/given")" ] || fail "a failed format left files: $(ls -A "$work/given")"
    "$KHORGOS" format --data "$work/given" $capacities >/dev/null ||
        fail "format after a failed one"
fi

# The cause and the path, once: a parent that is a file.
echo file >"$work/plain"
status=0; "$KHORGOS" format --data "$work/plain/data" 2>"$work/err" || status=$?
[ $status -eq 1 ] || fail "format under a file exited $status"
grep -qF "$work/plain/data" "$work/err" && grep -q "Not a directory" "$work/err" ||
    fail "message: $(cat "$work/err")"

# A symbolic link among the data files is refused, named; its target is not touched.
"$KHORGOS" format --data "$work/linked" $capacities >/dev/null || fail "format linked"
snapshot=snapshot-0000000000000000
mv "$work/linked/$snapshot" "$work/outside" && ln -s "$work/outside" "$work/linked/$snapshot"
status=0; echo "$accounts" | "$KHORGOS" apply --data "$work/linked" >/dev/null 2>"$work/err" ||
    status=$?
[ $status -eq 1 ] || fail "apply with a symlinked snapshot exited $status"
grep -q "$snapshot: open: a symbolic link" "$work/err" || fail "message: $(cat "$work/err")"
status=0; "$KHORGOS" check --data "$work/linked" >"$work/out" 2>&1 || status=$?
[ $status -eq 1 ] && grep -q "$snapshot" "$work/out" || fail "check: $(cat "$work/out")"
[ "$(stat -c %s "$work/outside")" -gt 0 ] || fail "the link's target changed"

# check and inspect change nothing, and read a read-only copy as an unprivileged user.
before=$(listing "$work/data")
"$KHORGOS" check --data "$work/data" >/dev/null || fail "check"
"$KHORGOS" inspect --data "$work/data" >/dev/null || fail "inspect"
[ "$(listing "$work/data")" = "$before" ] || fail "check or inspect changed the directory"
# A torn tail (bytes after the last record, as a crash mid-write leaves): check reports what
# the next open would repair and repairs nothing.
cp -a --sparse=always "$work/data" "$work/torn"
journal="$work/torn/journal-0000000000000001"
end=$(python3 -c 'import sys; b = open(sys.argv[1], "rb").read(1 << 20)
print((len(b.rstrip(b"\0")) + 15) // 16 * 16)' "$journal")
printf 'UUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUU' |
    dd of="$journal" bs=1 seek="$end" conv=notrunc status=none
before=$(listing "$work/torn")
status=0; "$KHORGOS" check --data "$work/torn" >"$work/out" 2>&1 || status=$?
[ $status -ne 0 ] && grep -q "torn" "$work/out" || fail "check of a torn tail: $(cat "$work/out")"
[ "$(listing "$work/torn")" = "$before" ] || fail "check repaired the torn tail"
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: check and inspect as another user on a read-only copy (needs root)"
else
    copy=$(mktemp -d /tmp/khorgos-files-readonly-XXXXXX)
    trap 'chmod -R u+w "$work" "$copy" 2>/dev/null; rm -rf "$work" "$copy"' EXIT
    cp -a --sparse=always "$work/data" "$copy/data"
    chmod 0755 "$copy" && chmod -R a+rX,a-w "$copy/data"
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    as_nobody "$KHORGOS" check --data "$copy/data" >"$work/out" 2>&1 ||
        fail "check of a read-only copy as nobody: $(cat "$work/out")"
    grep -q "check: ok" "$work/out" || fail "check: $(cat "$work/out")"
    as_nobody "$KHORGOS" inspect --data "$copy/data" >"$work/out" 2>&1 ||
        fail "inspect of a read-only copy as nobody: $(cat "$work/out")"
    grep -q "create_accounts" "$work/out" || fail "inspect: $(cat "$work/out")"
    cp -a --sparse=always "$work/torn" "$copy/torn" && chmod -R a+rX,a-w "$copy/torn"
    status=0; as_nobody "$KHORGOS" check --data "$copy/torn" >"$work/out" 2>&1 || status=$?
    [ $status -ne 0 ] && grep -q "torn" "$work/out" && ! grep -q "read-only" "$work/out" ||
        fail "check of a read-only torn copy as nobody: $(cat "$work/out")"
    # A file it may not read: the message names it and the cause.
    chmod 0600 "$copy/data/superblock"
    status=0; as_nobody "$KHORGOS" check --data "$copy/data" >"$work/out" 2>&1 || status=$?
    [ $status -eq 1 ] || fail "check of an unreadable superblock exited $status"
    grep -q "superblock: open: Permission denied" "$work/out" || fail "check: $(cat "$work/out")"
    echo "read-only copy checked and inspected as nobody"
    # A parent the user may not write: the cause and the path, nothing left.
    status=0; as_nobody "$KHORGOS" format --data "$copy/data/new" 2>"$work/err" || status=$?
    [ $status -eq 1 ] || fail "format under an unwritable parent exited $status"
    grep -qF "$copy/data/new: mkdir: Permission denied" "$work/err" || fail "$(cat "$work/err")"
    # A full disk during format: the cause and the file named, nothing left, on a small tmpfs.
    mkdir "$copy/small"
    if mount -t tmpfs -o size=4m tmpfs "$copy/small" 2>/dev/null; then
        trap 'umount "$copy/small"; chmod -R u+w "$work" "$copy"; rm -rf "$work" "$copy"' EXIT
        status=0; "$KHORGOS" format --data "$copy/small/data" 2>"$work/err" || status=$?
        [ $status -eq 1 ] || fail "format on a full disk exited $status"
        grep -q "$copy/small/data: journal-0000000000000001: .*No space left on device" \
            "$work/err" || fail "message: $(cat "$work/err")"
        [ -z "$(ls -A "$copy/small")" ] || fail "a format that ran out of space left files"
        echo "format on a full disk: $(cat "$work/err")"
    else
        echo "skipped: format on a full disk (cannot mount a tmpfs here)"
    fi
fi
echo "ok: modes, format of empty and non-empty directories, failed format, symlinks, read-only"
