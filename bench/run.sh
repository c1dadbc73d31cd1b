#!/bin/sh
# bench/run.sh: the benchmark suite (`make bench`). Runs Khorgos, SQLite and PostgreSQL on the
# same ledger workload (bench/bench_workload.h) on this machine, in this run, with the same
# durability (every acknowledged commit fsynced), and prints a Markdown table, then the ratios.
# Nothing here asserts: figures are reported. See bench/README.md for how to read them.
#
# Each item runs alone too:
#   build/khorgos benchmark --transfers N [--zipf] [--single] [--data DIR]
#   build/bench/bench_sqlite --transfers N [--zipf] --dir DIR
#   bench/postgres.sh SECONDS [uniform|zipf]
#   build/bench/bench_settle_lsm, build/bench/bench_settle_engine
# Sizes can be lowered for a quick look: KHORGOS_TRANSFERS, SQLITE_TRANSFERS, POSTGRES_SECONDS.
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh bench
khorgos_transfers=${KHORGOS_TRANSFERS:-2000000}
single_transfers=${SINGLE_TRANSFERS:-2000}
sqlite_transfers=${SQLITE_TRANSFERS:-1000000}
postgres_seconds=${POSTGRES_SECONDS:-20}
work="$build/bench-run"
rm -rf "$work"
mkdir -p "$work"
results="$work/results.txt"
: >"$results"

field() { # field NAME LINE -> the value of NAME=VALUE in LINE
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

run_khorgos() { # run_khorgos LABEL ARGS...
    label=$1; shift
    rm -rf "$work/data-$label"
    line=$("$build/khorgos" benchmark "$@" --data "$work/data-$label")
    echo "$label $line" >>"$results"
    rm -rf "$work/data-$label"
    echo "$line" >&2
}

echo "khorgos: benchmarking (this takes a few minutes)" >&2
run_khorgos batched_uniform --transfers "$khorgos_transfers"
run_khorgos batched_zipf --transfers "$khorgos_transfers" --zipf
run_khorgos single_uniform --transfers "$single_transfers" --single
for distribution in uniform zipf; do
    flag=""; [ "$distribution" = zipf ] && flag="--zipf"
    line=$("$build/bench/bench_sqlite" --transfers "$sqlite_transfers" $flag --dir "$work")
    echo "sqlite_$distribution $line" >>"$results"; echo "$line" >&2
    sh bench/postgres.sh "$postgres_seconds" "$distribution" | while read -r line; do
        mode=$(echo "$line" | awk '{print $2}')
        echo "postgres_${mode}_$distribution $line" >>"$results"; echo "$line" >&2
    done
done

# Instructions per transfer in the state machine (ledger_create_transfers and the index
# update after it), counted by callgrind: a count, not a time, so it does not depend on load.
instructions="not measured (valgrind missing)"
if command -v valgrind >/dev/null 2>&1; then
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
        --toggle-collect=ledger_create_transfers --toggle-collect=ledger_index_update \
        "$build/khorgos" benchmark --transfers 200000 >/dev/null 2>"$work/callgrind.log"
    collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/callgrind.log")
    instructions=$(awk -v c="$collected" 'BEGIN {printf "%.0f", c / 210000}')
fi

# Gridlock resolution over 100,000 queued payments among 200 participants, bypass_fifo, 2%
# liquidity: the CPU milliseconds of the best of five runs.
lsm_line=$("$build/bench/bench_settle_lsm" 2>/dev/null |
    sed -n 's/^bypass_fifo liquidity  2% none .*(cpu *\([0-9.]*\) ms).*/\1 ms (bypass_fifo, 2% liquidity)/p')

tps() { field transfers_per_second "$(grep "^$1 " "$results" | head -n 1)"; }
kb=$(tps batched_uniform); kz=$(tps batched_zipf); ks=$(tps single_uniform)
su=$(tps sqlite_uniform); sz=$(tps sqlite_zipf)
pbu=$(tps postgres_batched_uniform); pbz=$(tps postgres_batched_zipf)
psu=$(tps postgres_single_uniform); psz=$(tps postgres_single_zipf)
line_bu=$(grep "^batched_uniform " "$results")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }

cat <<EOF2

## Khorgos benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)

| system | mode | transfers/s, uniform accounts | transfers/s, Zipf accounts |
|---|---|---|---|
| Khorgos | batches of 8,189, durable | $kb | $kz |
| Khorgos | one transfer per request, one client, durable | $ks | |
| PostgreSQL 15 | batches of 1,000 per transaction, 1 client | $pbu | $pbz |
| PostgreSQL 15 | one transfer per transaction, 8 clients | $psu | $psz |
| SQLite (WAL, synchronous=FULL) | batches of 1,000 per transaction | $su | $sz |

| Khorgos measure | value | target |
|---|---|---|
| batch latency p50 / p99 / max (us) | $(field batch_p50_us "$line_bu") / $(field batch_p99_us "$line_bu") / $(field batch_max_us "$line_bu") | p99 <= 20,000 |
| peak memory (KiB) | $(field peak_rss_kib "$line_bu") | |
| bytes on disk per transfer, all files | $(field bytes_per_transfer "$line_bu") | <= 400 |
| instructions per transfer in the state machine | $instructions | <= 1,000 |
| gridlock resolution, 100,000 payments, 200 participants | $lsm_line | well under 1 s |

ratio_vs_postgres_batched: $(ratio "$kb" "$pbu")
ratio_vs_postgres_single: $(ratio "$kb" "$psu")
ratio_vs_sqlite: $(ratio "$kb" "$su")
ratio_vs_postgres_batched_zipf: $(ratio "$kz" "$pbz")
ratio_vs_sqlite_zipf: $(ratio "$kz" "$sz")
ratio_replay_vs_live: not measured yet
EOF2
