#!/bin/bash
# apply_interactive.sh: a client that writes one line and waits gets its reply without closing
# its input: apply never waits for more lines before committing what it has, and flushes each
# reply. (The 20 s read timeout only turns a hang into a failure; nothing here measures time.)
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}

coproc APPLY { "$KHORGOS" apply --clock manual 2>/dev/null; }
ask() {
    echo "$1" >&"${APPLY[1]}"
    local reply
    if ! read -r -t 20 reply <&"${APPLY[0]}"; then
        echo "no reply to: $1" >&2
        exit 1
    fi
    echo "$reply"
}

reply=$(ask '{"op":"create_accounts","events":[{"id":7,"ledger":934,"code":1}]}')
echo "$reply" | grep -q '"status":"created"'
reply=$(ask '{"op":"advance_clock","seconds":3600}')
[ "$reply" = '{"op":"advance_clock","now":"1684458000000000000"}' ]
reply=$(ask '{"op":"lookup_accounts","ids":[7]}')
echo "$reply" | grep -q '"id":"7"'
reply=$(ask '{"op":"lookup_accounts","ids":[7],"extra":1}')
echo "$reply" | grep -q '"code":"unknown_field"'
echo "$reply" | grep -q '"line":4'
exec {APPLY[1]}>&-
wait "$APPLY_PID"
echo "apply_interactive: ok"
