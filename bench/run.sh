#!/bin/sh
# bench/run.sh: the benchmark suite (`make bench`). Runs Khorgos, SQLite and PostgreSQL on the
# same ledger workload (bench/bench_workload.h) on this machine, in this run, with the same
# durability (every acknowledged commit fsynced), and prints a Markdown table, then the ratios.
# Nothing here asserts: figures are reported. See bench/README.md for how to read them.
#
# Each item runs alone too:
#   build/khorgos benchmark --transfers N [--zipf] [--single] [--serial] [--data DIR]
#       (two batches in flight, khorgos_execute_begin/_wait, unless --serial)
#       (with --data also the checkpoints' commit delay: checkpoint_delay_ms_max=...)
#   build/khorgos benchmark --transfers N --replay --data DIR     (journal replay speed)
#   build/khorgos benchmark --transfers N --paired R --data DIR   (checkpoint delay, paired)
#   build/bench/bench_sqlite --transfers N [--zipf] --dir DIR
#   bench/postgres.sh SECONDS [uniform|zipf] [MODES]
#   build/bench/bench_settle_lsm, build/bench/bench_settle_engine, build/bench/bench_settle_fx,
#   build/bench/bench_settle_gridlock
#   build/bench/bench_snapshot [transfers]                        (snapshot write, verify, load)
#   build/khorgos simulate [--scale X] [--a LIST] --out DIR       (the simulator's day)
#   sh bench/run.sh BUILD server     only the server's benchmarks (bench/server.sh, a few
#       minutes): full batches through `khorgos start` and libkhorgos_client against the
#       in-process C API, TLS against plaintext, single-transfer connections, and PostgreSQL
#       one transfer per transaction at 8, 32 and 128 clients and its two batch methods
#   sh bench/run.sh BUILD cluster    only the cluster's benchmarks (bench/cluster.sh, a few
#       minutes): three replicas against a single node in full batches, and 20 + 10 SIGKILLs
#       of the leader under a client (client ports CLUSTER_PORT..+2, default 4800)
# Sizes can be lowered for a quick look: KHORGOS_TRANSFERS, SQLITE_TRANSFERS, POSTGRES_SECONDS,
# REPLAY_TRANSFERS, PAIRED_RUNS (pairs of runs for the paired checkpoint delay), SIMULATE_SCALE (177 gives the one-million-payment day), SIMULATE_A (the
# liquidity levels of that day's runs, default 0: one run per design).
set -eu
build=${1:-build}
subset=${2:-all}
case $subset in all|server|cluster) ;; *) echo "usage: bench/run.sh [BUILD] [all|server|cluster]" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh bench
khorgos_transfers=${KHORGOS_TRANSFERS:-2000000}
single_transfers=${SINGLE_TRANSFERS:-2000}
sqlite_transfers=${SQLITE_TRANSFERS:-1000000}
postgres_seconds=${POSTGRES_SECONDS:-20}
replay_transfers=${REPLAY_TRANSFERS:-10000000}
paired_runs=${PAIRED_RUNS:-7}
simulate_scale=${SIMULATE_SCALE:-177}
simulate_a=${SIMULATE_A:-0}
work="$build/bench-run"
rm -rf "$work"
mkdir -p "$work"
results="$work/results.txt"
: >"$results"

field() { # field NAME LINE -> the value of NAME=VALUE in LINE
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

tps() { field transfers_per_second "$(grep "^$1 " "$results" | head -n 1)"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
postgres() { # postgres DISTRIBUTION MODES: bench/postgres.sh's lines into the results
    sh bench/postgres.sh "$postgres_seconds" "$1" "$2" | while read -r line; do
        mode=$(echo "$line" | awk '{print $2}')
        echo "postgres_${mode}_$1 $line" >>"$results"; echo "$line" >&2
    done
}
. bench/server.sh
. bench/cluster.sh
if [ "$subset" = cluster ]; then
    cluster_run
    echo
    echo "## Khorgos cluster benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)"
    cluster_table
    exit 0
fi
if [ "$subset" = server ]; then
    server_run
    postgres uniform "single_best batched set"
    echo
    echo "## Khorgos server benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)"
    server_table
    exit 0
fi

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
run_khorgos batched_uniform_serial --transfers "$khorgos_transfers" --serial
run_khorgos single_uniform --transfers "$single_transfers" --single --serial
for distribution in uniform zipf; do
    flag=""; [ "$distribution" = zipf ] && flag="--zipf"
    line=$("$build/bench/bench_sqlite" --transfers "$sqlite_transfers" $flag --dir "$work")
    echo "sqlite_$distribution $line" >>"$results"; echo "$line" >&2
done
postgres uniform "single_best batched set"
postgres zipf "single batched"
server_run
cluster_run

# The checkpoints' commit delay, paired: PAIRED_RUNS runs with automatic checkpoints and as
# many without, alternately, batch b of each set against batch b of the other (about 4 s a run
# at 2 million transfers).
echo "khorgos: checkpoint delay, $paired_runs pairs of runs" >&2
rm -rf "$work/data-paired"
paired_line=$("$build/khorgos" benchmark --transfers "$khorgos_transfers" --paired "$paired_runs" \
    --data "$work/data-paired")
rm -rf "$work/data-paired"
echo "$paired_line" >&2

# Journal replay after REPLAY_TRANSFERS transfers, automatic checkpoints off, so reopening
# replays the whole journal (about 150 bytes on disk per transfer: 1.5 GB for 10 million).
echo "khorgos: journal replay after $replay_transfers transfers" >&2
rm -rf "$work/data-replay"
replay_line=$("$build/khorgos" benchmark --transfers "$replay_transfers" --replay \
    --data "$work/data-replay")
rm -rf "$work/data-replay"
echo "$replay_line" >&2

# The simulator: the default day (every design at every liquidity level) and the day scaled
# to about a million payments (every design at the levels SIMULATE_A), wall time of the
# whole command, files written included. payments/s = payments x runs / wall seconds.
simulate() { # simulate LABEL ARGS... -> "payments runs seconds"
    label=$1; shift
    rm -rf "$work/sim-$label"
    start=$(date +%s.%N)
    # The whole summary goes to a file (a pipe into head could stop the command early).
    "$build/khorgos" simulate "$@" --out "$work/sim-$label" >"$work/sim-$label.txt" 2>/dev/null \
        || echo "khorgos simulate $label failed" >&2
    end=$(date +%s.%N)
    first=$(head -n 1 "$work/sim-$label.txt")
    rm -rf "$work/sim-$label"
    echo "$first" | awk -v s="$start" -v e="$end" \
        '{sub(":", ""); print $2, $4, sprintf("%.1f", e - s)}'
}
echo "simulator: the default day, then the day at scale $simulate_scale" >&2
sim_default=$(simulate default)
sim_million=$(simulate million --scale "$simulate_scale" --a "$simulate_a")
sim_row() { # sim_row "payments runs seconds"
    echo "$1" | awk '{ if ($3 > 0) printf "%d payments x %d runs in %.1f s wall: %.0f payments/s", $1, $2, $3, $1 * $2 / $3; else print "not measured" }'
}

# Cross-currency PvP (50,000 payments, 216 quotes scanned each) and a netting window, CPU.
fx_output=$("$build/bench/bench_settle_fx" 2>/dev/null)
fx_gross=$(echo "$fx_output" | sed -n 's/^fx gross: .*, \([0-9.]*\) s CPU, \([0-9]*\) payments\/s/\2 payments\/s (\1 s CPU for 50,000)/p')
fx_net=$(echo "$fx_output" | sed -n 's/^netting: \([0-9]*\) net payments entered in \([0-9.]*\) s CPU; close and settle of the window (\([0-9]*\) banks.*) \([0-9.]*\) s CPU/\1 payments entered in \2 s CPU; close and settle \4 s CPU (\3 banks)/p')

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

# Gridlock resolution across currencies over 100,000 queued payments among 200 participants in
# 8 currencies, 2% available: the CPU milliseconds of the best of five runs, each queue mode.
gridlock_cpu() { # gridlock_cpu MODE -> the CPU ms of MODE at 2% without exposure limits
    echo "$gridlock_output" |
        sed -n "s/^$1 *liquidity  2% none .*(cpu *\([0-9.]*\) ms).*/\1/p"
}
gridlock_output=$("$build/bench/bench_settle_gridlock" 2>/dev/null)
gridlock_line="$(gridlock_cpu fifo) ms fifo, $(gridlock_cpu bypass_fifo) ms bypass_fifo (2%)"

# A snapshot of 512,000 transfers written, verified and loaded (restored), in memory.
snapshot_line=$("$build/bench/bench_snapshot" 512000)
kb=$(tps batched_uniform); kz=$(tps batched_zipf); ks=$(tps single_uniform)
kserial=$(tps batched_uniform_serial)
su=$(tps sqlite_uniform); sz=$(tps sqlite_zipf)
pbu=$(tps postgres_batched_uniform); pbz=$(tps postgres_batched_zipf)
psu=$(tps postgres_single_8_uniform); psz=$(tps postgres_single_zipf)
line_bu=$(grep "^batched_uniform " "$results")
line_serial=$(grep "^batched_uniform_serial " "$results")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }

cat <<EOF2

## Khorgos benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)

| system | mode | transfers/s, uniform accounts | transfers/s, Zipf accounts |
|---|---|---|---|
| Khorgos | batches of 8,189, durable, two in flight (pipelined commit) | $kb | $kz |
| Khorgos | batches of 8,189, durable, one at a time | $kserial | |
| Khorgos | one transfer per request, one client, one at a time, durable | $ks | |
| PostgreSQL 15 | batches of 1,000 per transaction, 1 client | $pbu | $pbz |
| PostgreSQL 15 | one transfer per transaction, 8 clients | $psu | $psz |
| SQLite (WAL, synchronous=FULL) | batches of 1,000 per transaction | $su | $sz |

| Khorgos measure | value | target |
|---|---|---|
| batch latency p50 / p99 / max (us), two in flight: begin to durable | $(field batch_p50_us "$line_bu") / $(field batch_p99_us "$line_bu") / $(field batch_max_us "$line_bu") | p99 <= 20,000 |
| batch latency p50 / p99 / max (us), one at a time | $(field batch_p50_us "$line_serial") / $(field batch_p99_us "$line_serial") / $(field batch_max_us "$line_serial") | p99 <= 20,000 |
| peak memory (KiB) | $(field peak_rss_kib "$line_bu") | |
| bytes on disk per transfer, all files | $(field bytes_per_transfer "$line_bu") | <= 400 |
| instructions per transfer in the state machine | $instructions | <= 1,000 |
| gridlock resolution, 100,000 payments, 200 participants | $lsm_line | well under 1 s |
| gridlock resolution across currencies, 100,000 payments, 200 participants, 8 currencies (CPU) | $gridlock_line | <= 100 ms |
| automatic checkpoints during the batched uniform run (count) | $(field checkpoints "$line_bu") | |
| longest batch a checkpoint touched / p50 of the other batches (us) | $(field checkpoint_batch_max_us "$line_bu") / $(field other_batch_p50_us "$line_bu") | |
| untouched batches' own tail: p99 / max (us), to compare with the longest touched batch | $(field other_batch_p99_us "$line_bu") / $(field other_batch_max_us "$line_bu") | |
| longest commit delay caused by a checkpoint (ms), two in flight | $(field checkpoint_delay_ms_max "$line_bu") | <= 10 |
| the same, one at a time: longest touched batch / untouched p50 / untouched max (us) | $(field checkpoint_delay_ms_max "$line_serial") ms: $(field checkpoint_batch_max_us "$line_serial") / $(field other_batch_p50_us "$line_serial") / $(field other_batch_max_us "$line_serial") | <= 10 |
| checkpoint delay, paired: largest over batches of the median of (with − without) over $(field runs "$paired_line") pairs of runs (ms), its batch; noise floor (the same between runs without) | $(field checkpoint_delay_paired_ms_max "$paired_line") at batch $(field delay_batch "$paired_line"); noise $(field paired_noise_ms_max "$paired_line") | <= 10 |
| the same within ±4 batches (ms); noise floor | $(field checkpoint_delay_window_ms_max "$paired_line"); noise $(field window_noise_ms_max "$paired_line") | <= 10 |
| slowest batch with minus slowest without, median / largest over the pairs (ms) | $(field run_max_paired_ms "$paired_line") / $(field run_max_paired_ms_max "$paired_line") | |
| largest single difference from the paired batch (ms), and between runs both without checkpoints | $(field pair_delay_ms_max "$paired_line") / $(field pair_noise_ms_max "$paired_line") | |
| batches more than 10 ms slower than their pair, of $(( $(field runs "$paired_line") * $(field batches "$paired_line") )): with against without / without against without (the control) | $(field pairs_over_target "$paired_line") / $(field noise_pairs_over_target "$paired_line") | no more than the control |
| journal writes (a batch's writes and fdatasyncs) over 5 ms / over 10 ms / longest (ms), in the runs with checkpoints, of $(field with_flights "$paired_line") | $(field with_flights_over_5_ms "$paired_line") / $(field with_flights_over_10_ms "$paired_line") / $(field with_flight_ms_max "$paired_line") | |
| the same in the runs without checkpoints, of $(field without_flights "$paired_line") | $(field without_flights_over_5_ms "$paired_line") / $(field without_flights_over_10_ms "$paired_line") / $(field without_flight_ms_max "$paired_line") | |
| transfers/s, median of the paired runs: with / without checkpoints | $(field with_transfers_per_second "$paired_line") / $(field without_transfers_per_second "$paired_line") | |
| longest checkpoint start inside a commit (ms) | $(field checkpoint_begin_ms_max "$line_bu") | |
| journal replay after $(field transfers "$replay_line") transfers (transfers/s, whole journal, at open) | $(field replay_transfers_per_second "$replay_line") in $(field replay_seconds "$replay_line") s | >= live |
| live durable batches, same run, checkpoints off (transfers/s) | $(field live_transfers_per_second "$replay_line") | |
| CPU seconds (user + system): replay / live, same transfers | $(field replay_cpu_seconds "$replay_line") / $(field live_cpu_seconds "$replay_line") | |
| disk used by the replay run, all files, journal segments preallocated (bytes) | $(field bytes "$replay_line") | |
| simulator, default day (all designs and levels) | $(sim_row "$sim_default") | |
| simulator, one-million-payment day (scale $simulate_scale, a = $simulate_a) | $(sim_row "$sim_million") | |
| snapshot of $(field transfers "$snapshot_line") transfers ($(field snapshot_bytes "$snapshot_line") bytes): write / verify / load (ms) | $(field write_ms "$snapshot_line") / $(field verify_ms "$snapshot_line") / $(field load_ms "$snapshot_line") | load within a few writes |
| cross-currency PvP through the engine (CPU) | $fx_gross | |
| netting window, 40 banks (CPU) | $fx_net | |

ratio_vs_postgres_batched: $(ratio "$kb" "$(larger "$pbu" "$(tps postgres_set_uniform)")") (two in flight against the faster PostgreSQL batch method)
ratio_vs_sqlite: $(ratio "$kb" "$su")
ratio_vs_postgres_batched_zipf: $(ratio "$kz" "$pbz")
ratio_vs_sqlite_zipf: $(ratio "$kz" "$sz")
ratio_replay_vs_live: $(field ratio_replay_vs_live "$replay_line")
EOF2
server_table
cluster_table
