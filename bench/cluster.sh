# bench/cluster.sh: the cluster's benchmarks, sourced by bench/run.sh after bench/server.sh
# (which set build, work, results, field, server_start, server_cpu and server_finish): three
# replicas (`khorgos start --addresses A0,A1,A2 --replica N`, docs/replication.md) on loopback
# against a single node, full batches through bench/bench_client.c; then failover, the leader
# SIGKILLed under a client sending one transfer per request (bench/bench_failover.c). Every
# run formats fresh directories. bench/README.md explains every row.
#
# Parameters (environment), with why they are what they are:
#   CLUSTER_TRANSFERS (400,000): 49 full batches of 8,189 per run, a few seconds for the single
#     node and about three times that for the cluster on the 2-core VM: enough batches for the
#     commit latency's p50 and p99, short enough to repeat.
#   CLUSTER_ROUNDS (2): single node and cluster are run this many times, alternating, and the
#     best of each kept, so that a stall of the shared machine in one run does not decide the
#     ratio.
#   CLUSTER_PORT (4800): the replicas' client ports are CLUSTER_PORT..+2, their raft ports
#     1,000 above (CLUSTER_RAFT_PORT_OFFSET) and their HTTP ports (khorgos status) 30 above.
#     Fixed ports, because every replica must be told every other's address before it starts.
#   FAILOVER_KILLS (20): leader kills with the client's default retry interval (1 s: it pings
#     its replica every 125 ms while it waits and follows the view in pongs), the issue's count;
#     each takes about 5 to 10 s (failover, restart of the killed replica, its catch-up).
#   FAILOVER_SHORT_KILLS (10) at FAILOVER_SHORT_RETRY_MS (100): the same with a client pinging
#     every 12.5 ms, so the two series together separate the election from the client's
#     policy; fewer kills because that series only has to show the shape.
#   CLUSTER_ELECTION_TIMEOUT_MS (unset: the replicas' default, CLUSTER_ELECTION_TIMEOUT_MS):
#     the replicas' --election-timeout-ms, to measure a failover at another setting.
#   CLUSTER_MEMORY (on-demand): the single node's and the replicas' `start --memory`, the same
#     for both: on-demand (the default, pages mapped at first use) or resident (the engine's
#     tables resident at start on huge pages, as a production server runs, docs/server.md).
#   FAILOVER_CATCH_UP_ENTRIES (5): the restarted replica counts as caught up once `khorgos
#     status` shows its lag (the highest commit index less its applied index) at most this
#     many raft entries while the client keeps writing (one entry per request).

cluster_transfers=${CLUSTER_TRANSFERS:-400000}
cluster_rounds=${CLUSTER_ROUNDS:-2}
cluster_port=${CLUSTER_PORT:-4800}
failover_kills=${FAILOVER_KILLS:-20}
failover_short_kills=${FAILOVER_SHORT_KILLS:-10}
failover_short_retry_ms=${FAILOVER_SHORT_RETRY_MS:-100}
failover_catch_up_entries=${FAILOVER_CATCH_UP_ENTRIES:-5}
election_timeout_ms=${CLUSTER_ELECTION_TIMEOUT_MS:-}
cluster_memory=${CLUSTER_MEMORY:-on-demand}
case $cluster_memory in on-demand|resident) ;; *) echo "bench: CLUSTER_MEMORY is on-demand or resident" >&2; exit 2 ;; esac
cluster_election_timeout=${election_timeout_ms:+--election-timeout-ms $election_timeout_ms}
cluster_addresses="127.0.0.1:$cluster_port,127.0.0.1:$((cluster_port + 1)),127.0.0.1:$((cluster_port + 2))"
cluster_http="$((cluster_port + 30)),$((cluster_port + 31)),$((cluster_port + 32))"
cluster_pids="0 0 0"

cluster_pid() { echo "$cluster_pids" | cut -d' ' -f$(($1 + 1)); }
cluster_set_pid() { # INDEX PID
    cluster_pids=$(echo "$cluster_pids" |
        awk -v i="$(($1 + 1))" -v p="$2" '{ $i = p; print }')
}
cluster_stop() {
    for index in 0 1 2; do
        pid=$(cluster_pid "$index")
        [ "$pid" != 0 ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        cluster_set_pid "$index" 0
    done
}
trap 'server_stop; cluster_stop' EXIT INT TERM

# cluster_start_replica INDEX: starts replica INDEX of $cluster_dir, its log appended (without
# the failover client's command pipe, fd 3, whose end of input must come when the script
# closes it).
cluster_start_replica() {
    # shellcheck disable=SC2086
    "$build/khorgos" start --data "$cluster_dir/r$1" --addresses "$cluster_addresses" \
        --replica "$1" --http "127.0.0.1:$((cluster_port + 30 + $1))" $cluster_election_timeout \
        --memory "$cluster_memory" \
        2>>"$cluster_dir/r$1.log" 3>&- &
    cluster_set_pid "$1" $!
}

# cluster_wait_leader: waits (up to 60 s) until every replica answers `khorgos status` and
# they agree on one leader; sets $leader to its index.
cluster_wait_leader() {
    for _ in $(seq 600); do
        if status=$("$build/khorgos" status --addresses "$cluster_http" 2>/dev/null); then
            leader=$(echo "$status" | sed -n 's/^leader: replica \([0-9]*\),.*/\1/p')
            [ -n "$leader" ] && return 0
        fi
        sleep 0.1
    done
    echo "bench: the cluster agreed on no leader:" >&2
    "$build/khorgos" status --addresses "$cluster_http" >&2 || true
    exit 1
}

# cluster_start NAME FORMAT-OPTIONS: formats three replicas in $work/cluster-NAME, starts them
# and waits for a leader.
cluster_start() {
    cluster_dir="$work/cluster-$1"; shift
    rm -rf "$cluster_dir"
    mkdir -p "$cluster_dir"
    for index in 0 1 2; do
        # shellcheck disable=SC2086
        "$build/khorgos" format --data "$cluster_dir/r$index" --cluster 0 --replica "$index" \
            --replica-count 3 "$@" >/dev/null
        : >"$cluster_dir/r$index.log"
        cluster_start_replica "$index"
    done
    cluster_wait_leader
}

# The replicas' user and system seconds together so far (read before they stop).
cluster_cpu() {
    for index in 0 1 2; do cat "/proc/$(cluster_pid "$index")/stat"; done |
        awk -v t="$(getconf CLK_TCK)" '{ s += $14 + $15 } END { printf "%.3f", s / t }'
}

# cpu_since BEFORE AFTER: the seconds between two readings, so that a run's CPU leaves out the
# servers' start (a replica's start reserves and zeroes raft's log memory: cluster_heap_reserve).
cpu_since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

cluster_finish() {
    cluster_stop
    rm -rf "$cluster_dir"
}

# Full batches: a single node, then three replicas, CLUSTER_ROUNDS times, alternating.
cluster_batched_round() {
    capacity="--accounts 10064 --transfers $((cluster_transfers + 10064))"
    # shellcheck disable=SC2086
    server_start cluster_single $capacity -- --memory "$cluster_memory"
    cpu_before=$(server_cpu)
    line=$("$build/bench/bench_client" --transfers "$cluster_transfers" --addresses "$address" \
        --setup)
    line="$line server_cpu_seconds=$(cpu_since "$cpu_before" "$(server_cpu)")"
    server_finish
    echo "cluster_single $line" >>"$results"; echo "single node: $line" >&2
    # shellcheck disable=SC2086
    cluster_start batched $capacity
    cpu_before=$(cluster_cpu)
    line=$("$build/bench/bench_client" --transfers "$cluster_transfers" \
        --addresses "$cluster_addresses" --setup)
    line="$line server_cpu_seconds=$(cpu_since "$cpu_before" "$(cluster_cpu)")"
    cluster_finish
    echo "cluster_three $line" >>"$results"; echo "three replicas: $line" >&2
}

# leading_count VICTIM: the `event=leading` lines so far of the replicas other than VICTIM (the
# one killed, whose own line of leading may be logged just after status named it leader).
leading_count() {
    for index in 0 1 2; do [ "$index" = "$1" ] || cat "$cluster_dir/r$index.log"; done |
        grep -c "event=leading" || true
}
acks_count() { grep -c "^failover " "$1" || true; }

# failover_one FIFO-FD OUTPUT LABEL: kills the leader through bench_failover, notes when a new
# leader logs that it serves, waits for the client's acknowledgement, restarts the killed
# replica and waits until it has caught up.
failover_one() {
    output=$1; label=$2
    cluster_wait_leader
    victim=$leader; pid=$(cluster_pid "$victim")
    before=$(leading_count "$victim"); acks=$(acks_count "$output")
    echo "kill $pid" >&3
    leading_ns=""
    for _ in $(seq 3000); do # up to 60 s at 20 ms
        [ -z "$leading_ns" ] && [ "$(leading_count "$victim")" -gt "$before" ] && leading_ns=$(date +%s%N)
        [ -n "$leading_ns" ] && [ "$(acks_count "$output")" -gt "$acks" ] && break
        sleep 0.02
    done
    wait "$pid" 2>/dev/null || true
    cluster_set_pid "$victim" 0
    ack=$(grep "^failover " "$output" | tail -n 1)
    [ "$(acks_count "$output")" -gt "$acks" ] && [ -n "$leading_ns" ] ||
        { echo "bench: no failover after killing replica $victim" >&2; exit 1; }
    echo "$label $ack leading_ns=$leading_ns" >>"$results"
    echo "$label: replica $victim killed: $ack leading_ns=$leading_ns" >&2
    cluster_start_replica "$victim"
    for _ in $(seq 600); do # up to 60 s
        lag=$("$build/khorgos" status --addresses "$cluster_http" 2>/dev/null |
            awk -v r="$victim" '$1 == r && $3 != "-" { print $8 }')
        [ -n "$lag" ] && [ "$lag" -le "$failover_catch_up_entries" ] && return 0
        sleep 0.1
    done
    echo "bench: replica $victim did not catch up" >&2
    exit 1
}

# failover_series LABEL KILLS RETRY-MS: a fresh cluster, the client, KILLS leader kills.
failover_series() {
    label=$1; kills=$2
    [ "$kills" -gt 0 ] || return 0
    cluster_start "$label" --accounts 10064 --transfers 1000000
    fifo="$work/$label.commands"; output="$work/$label.out"
    rm -f "$fifo"; mkfifo "$fifo"
    "$build/bench/bench_failover" --addresses "$cluster_addresses" --retry-ms "$3" --setup \
        <"$fifo" >"$output" 2>"$work/$label.err" &
    client_pid=$!
    exec 3>"$fifo"
    for _ in $(seq 1200); do # up to 2 minutes: the setup's accounts, then one request
        grep -q "^ready" "$output" && break
        sleep 0.1
    done
    grep -q "^ready" "$output" || { echo "bench: bench_failover: $(cat "$work/$label.err")" >&2; exit 1; }
    for _ in $(seq "$kills"); do failover_one "$output" "$label"; done
    exec 3>&-
    wait "$client_pid" || { echo "bench: bench_failover: $(cat "$work/$label.err")" >&2; exit 1; }
    echo "${label}_total $(tail -n 1 "$output")" >>"$results"
    cluster_finish
    rm -f "$fifo" "$output" "$work/$label.err"
}

cluster_run() {
    echo "cluster: full batches, $cluster_rounds rounds; then $failover_kills + " \
        "$failover_short_kills leader kills" >&2
    for _ in $(seq "$cluster_rounds"); do cluster_batched_round; done
    failover_series failover_default "$failover_kills" 0
    failover_series failover_short "$failover_short_kills" "$failover_short_retry_ms"
}

# failover_stats LABEL -> "count min p50 p90 max" (ms) of kill-to-acknowledgement, then the
# same of kill-to-leading (the election and the new leader's barrier), then of
# leading-to-acknowledgement (the client finding the new leader).
failover_stats() {
    grep "^$1 " "$results" | tr ' ' '\n' | awk -F= '
        $1 == "kill_ns" { k = $2 } $1 == "ack_ns" { a = $2 }
        $1 == "leading_ns" { print (a - k) / 1e6, ($2 - k) / 1e6, (a - $2) / 1e6 }' |
        awk '{ t[NR] = $1; e[NR] = $2; c[NR] = $3 }
        function show(v, n,   i, j, x, p90) {
            for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--)
                v[j + 1] = v[j]; v[j + 1] = x }
            p90 = int((9 * n + 9) / 10); if (p90 > n) p90 = n
            printf "%.0f / %.0f / %.0f / %.0f", v[1], v[int((n + 1) / 2)], v[p90], v[n]
        }
        END { if (NR == 0) { print "not measured"; exit }
              printf "%d kills | ", NR; show(t, NR); printf " | "; show(e, NR); printf " | ";
              show(c, NR); print "" }'
}

cluster_table() {
    single=$(best cluster_single); three=$(best cluster_three)
    line_three=$(grep "^cluster_three " "$results" |
        awk -v b="$three" '$0 ~ "transfers_per_second=" b " "' | head -n 1)
    cpu_single=$(least_cpu cluster_single); cpu_three=$(least_cpu cluster_three)
    cat <<EOF2

### The cluster: three replicas on loopback against a single node, $cluster_transfers transfers per run, best of $cluster_rounds, \`--memory $cluster_memory\`

| system | mode | transfers/s |
|---|---|---|
| Khorgos single node | 1 client (libkhorgos_client), batches of 8,189, plaintext | $single |
| Khorgos cluster, 3 replicas | 1 client given all three addresses, batches of 8,189, plaintext | $three |

| cluster measure | value | target |
|---|---|---|
| commit latency of the cluster's batches p50 / p99 (us): request sent to reply, committed by a majority and applied | $(field batch_p50_us "$line_three") / $(field batch_p99_us "$line_three") | |
| the single node's batches p50 / p99 (us) | $(field batch_p50_us "$(grep "^cluster_single " "$results" | head -n 1)") / $(field batch_p99_us "$(grep "^cluster_single " "$results" | head -n 1)") | |
| CPU seconds for the run, client and server(s), the least of the rounds: single node / three replicas | $cpu_single / $cpu_three | |

| failover, SIGKILL of the leader under one-transfer requests | kills | kill to first acknowledged write, min / p50 / p90 / max (ms) | kill to the new leader serving (election + barrier) | new leader serving to acknowledgement (the client's retries) |
|---|---|---|---|---|
| client retry 1 s (default): pings every 125 ms while it waits, follows the view in pongs | $(failover_stats failover_default) |
| client retry ${failover_short_retry_ms} ms: pings every $((failover_short_retry_ms / 8)) ms | $(failover_stats failover_short) |

ratio_cluster_vs_single: $(ratio2 "$three" "$single") (target >= 0.4; best cluster run against best single-node run, the same client and batches)
failover target: at most 2,000 ms from the kill to the first acknowledged write, over $failover_kills kills (first series)
requests answered / not created during the failovers: $(grep "^failover_default_total " "$results" | sed 's/requests=//; s/ failed=/ \/ /; s/^failover_default_total //') (default client), $(grep "^failover_short_total " "$results" | sed 's/requests=//; s/ failed=/ \/ /; s/^failover_short_total //') (short resend)
EOF2
}
