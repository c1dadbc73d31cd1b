#!/bin/bash
# cli_help.sh: every command of src/cli/main.c's table has a manual page (`khorgos COMMAND
# --help`, the same as `khorgos help COMMAND`) with the sections of a man page, and every
# option its parser accepts is described on it: the options are the "--name" strings of the
# source file that defines the command's main function (a file serving several commands, as
# cli_storage.c serves format, check and inspect, must have each option on one of their
# pages). Each option a page's OPTIONS section names exists in that source, so a page never
# describes an option the command lacks. A source file that defines no command but reads
# options for one (cli_cluster.c reads format's replica options) counts for every page, and
# each of its options must be on one of them.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
cd "$(dirname "$0")/.." || exit 1
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sections="NAME SYNOPSIS DESCRIPTION OPTIONS EXIT.STATUS FILES EXAMPLES"
check_sections() { # PAGE-FILE NAME
    for section in $sections; do
        grep -q "^$section\$" "$1" || fail "$2: no $section section"
    done
}

"$KHORGOS" --help >"$work/khorgos" || fail "khorgos --help exits $?"
check_sections "$work/khorgos" khorgos
"$KHORGOS" -h | cmp -s - "$work/khorgos" || fail "-h differs from --help"

# Options read by files that define no command (helpers of a command's parser).
for source in src/cli/*.c; do
    grep -q '^int cli_[a-z]*_main(' "$source" && continue
    grep -o -- '"--[a-z][a-z-]*"' "$source" | tr -d '"' | grep -v -x -- --help
done | sort -u >"$work/helper-options"

commands=$(sed -n 's/^ *{"\([a-z]*\)", cli_\([a-z]*\)_main,.*/\1:\2/p' src/cli/main.c)
[ "$(echo "$commands" | wc -l)" -ge 8 ] || fail "the command table was not found in main.c"
count=0
for entry in $commands; do
    command=${entry%%:*}
    function=${entry##*:}
    "$KHORGOS" "$command" --help >"$work/$command" 2>"$work/err" ||
        fail "$command --help exits $?: $(cat "$work/err")"
    "$KHORGOS" help "$command" | cmp -s - "$work/$command" || fail "help $command differs"
    check_sections "$work/$command" "$command"
    grep -q "^    $command " "$work/khorgos" || fail "khorgos --help does not list $command"
    source=$(grep -l "^int cli_${function}_main(" src/cli/*.c)
    [ -n "$source" ] || fail "no source defines cli_${function}_main"
    name=${source##*/}
    echo "$command" >>"$work/commands-of-$name"
    [ -f "$work/accepted-$name" ] || grep -o -- '"--[a-z][a-z-]*"' "$source" | tr -d '"' |
        grep -v -x -- --help | sort -u >"$work/accepted-$name"
    sort -u "$work/accepted-$name" "$work/helper-options" >"$work/combined-accepted"
    # Options the page describes (the OPTIONS section's lines that start with --): each must
    # be one the source accepts.
    sed -n '/^OPTIONS$/,/^EXIT STATUS$/p' "$work/$command" | grep '^    --' |
        grep -o -- '--[a-z][a-z-]*' | grep -v -x -- --help | sort -u >"$work/$command.described"
    extra=$(comm -23 "$work/$command.described" "$work/combined-accepted")
    [ -z "$extra" ] || fail "$command --help describes" $extra "which $source does not accept"
    cat "$work/$command.described" >>"$work/described-$name"
    count=$((count + 1))
done

# Options each source accepts: each described on a page of a command it serves.
checked=0
for accepted in "$work"/accepted-*; do
    name=${accepted##*/accepted-}
    missing=$(comm -23 "$accepted" <(sort -u "$work/described-$name"))
    [ -z "$missing" ] || fail "src/cli/$name accepts" $missing "; no page of" \
        $(cat "$work/commands-of-$name") "describes it"
    checked=$((checked + $(wc -l <"$accepted")))
done
missing=$(comm -23 "$work/helper-options" <(cat "$work"/*.described | sort -u))
[ -z "$missing" ] || fail "src/cli/ reads" $missing "; no page describes it"
checked=$((checked + $(wc -l <"$work/helper-options")))
[ "$checked" -ge 30 ] || fail "only $checked options found in the sources"
"$KHORGOS" help nosuchcommand 2>/dev/null && fail "a page for an unknown command"
echo "ok: $count pages, $checked options checked"
