#!/bin/sh
# Checks the house rules that a machine can check, over the C sources in src/ and include/ (or
# over the files given), and prints each violation as "file:line: rule". Exits 1 when it found
# any, 0 when none. `make test` runs it as the result line tidy/tidy.sh; tests/tidy/ holds a file
# with one violation of each rule, which the test tidy/fixture checks is flagged.
#
# The rules:
#   - a line is at most 100 columns (characters, not bytes: a UTF-8 character counts once);
#   - a function is at most 70 lines, counted from the first line of its signature to its
#     closing brace. A function is recognised as C is written here: its signature starts at
#     column 0 with a letter, has a "(" and ends with "{" (on its first line or a later one)
#     before any ";"; its body ends at the next "}" at column 0;
#   - no issue numbers ("issue 5", "Issue 4, item 2") and no dates (2026-11-29) in comments
#     or code: say what the thing is, not where or when it came from (history belongs in
#     commit messages and CHANGELOG.md);
#   - no tab characters and no trailing whitespace.
#
# Usage: tidy.sh [FILE...]
cd "$(dirname "$0")/.." || exit 2
if [ "$#" -eq 0 ]; then
    # Every C file there, tracked or not, so a new file is checked before its first commit.
    set -- $(find src include -name '*.[ch]' | sort)
fi
LC_ALL=C awk '
function report(line, rule) { printf "%s:%d: %s\n", FILENAME, line, rule; found = 1 }
FNR == 1 { signature = 0; body = 0 }
{
    text = $0; columns = length($0) - gsub(/[\200-\277]/, "", text)  # UTF-8: one per character
    if (columns > 100) report(FNR, "line longer than 100 columns (" columns ")")
    if (index($0, "\t")) report(FNR, "tab character")
    if ($0 ~ /[ \t]$/) report(FNR, "trailing whitespace")
    if (tolower($0) ~ /issue [0-9]/) report(FNR, "issue number (say the thing itself)")
    if ($0 ~ /(^|[^0-9])(19|20)[0-9][0-9]-[01][0-9]-[0-3][0-9]([^0-9T]|$)/)
        report(FNR, "date (history goes in commit messages or CHANGELOG.md)")
}
!body && !signature && /^[A-Za-z_]/ && /\(/ && !/;/ && !/^(typedef|struct|union|enum)[^(]*$/ {
    signature = FNR; name = $0; sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
}
signature && !body && /;/ { signature = 0 }
signature && !body && /\{[ \t]*(\/\*.*\*\/[ \t]*)?$/ { body = 1; next }
body && /^\}/ {
    lines = FNR - signature + 1
    if (lines > 70) report(signature, "function " name " is " lines " lines (at most 70)")
    body = 0; signature = 0
}
END { exit found }
' "$@"
