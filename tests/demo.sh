#!/bin/bash
# demo.sh: `khorgos demo` (the main job until the simulator exists) settles its payments with
# the statuses it expects, shows every currency in its decimals, and every ledger balances.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
output=$("$KHORGOS" demo)
echo "$output"
for currency in CNY KZT KGS UZS TJS TMT RUB USD; do
    echo "$output" | grep -q "^$currency .* ok\$"
done
echo "$output" | grep -q "linked_event_failed"
echo "$output" | grep -q "People's Bank of China .* -50,000,000.00"
! echo "$output" | grep -q "UNEXPECTED\|MISMATCH"
echo "$output" | tail -n 1 | grep -q "Every status as expected; every ledger balances."
