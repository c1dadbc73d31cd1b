#!/bin/sh
# bench/postgres.sh: the ledger workload on PostgreSQL 15 (Debian's package), as teams write a
# ledger on it today: a PL/pgSQL function does the double entry with a balance check (debits
# must not exceed credits) and an idempotent unique id, locking both accounts in id order so
# concurrent clients never deadlock. Durability as Khorgos': fsync and synchronous_commit on.
#
# The server runs as an unprivileged user (postgres) in a temporary directory on a Unix socket
# only, and is stopped afterwards whatever happens.
#
# Ways of driving it (MODES, default "single batched"), each the way it is fastest:
#   single:      one transfer per transaction, 8 clients (pgbench -c 8);
#   single_best: the same at 8, 32 and 128 clients, one line each, then the best;
#   batched:     1,000 transfers per transaction (generated server-side), 1 client, so batches
#                never deadlock on each other's row locks; each transfer through the
#                PL/pgSQL function, one after another;
#   set:         1,000 transfers per transaction in ONE statement over arrays (set-based): the
#                batch is drawn server-side into arrays, then create_transfers_set takes them
#                with unnest and does every check and write as one INSERT ... SELECT and one
#                UPDATE (below), 1 client.
# Only transfers that succeeded count: each run counts the rows the transfers table gained
# (a transfer refused by a check, or an id that exists, adds none), so a line's rate is
# pgbench's transactions per second times the transfers that succeeded per transaction.
# Usage: bench/postgres.sh SECONDS [uniform|zipf] [MODES]
# Prints lines "postgres <mode> <distribution> transfers_per_second=X [clients=N]".
set -eu
seconds=${1:-20}
distribution=${2:-uniform}
modes=${3:-single batched}
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/postgres" ] || { echo "bench/postgres.sh: PostgreSQL 15 is not installed" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "$top/build/bench-postgres.XXXXXX")
user=postgres
run() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown "$user" "$work"

stop() {
    run "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap stop EXIT INT TERM

run "$bin/initdb" -D "$work/data" -A trust -U bench >/dev/null
run "$bin/pg_ctl" -D "$work/data" -l "$work/log" -w -o "-c listen_addresses='' \
    -c unix_socket_directories=$work -c fsync=on -c synchronous_commit=on \
    -c shared_buffers=512MB -c max_wal_size=4GB -c max_connections=200" start >/dev/null

psql() { run "$bin/psql" -h "$work" -U bench -d postgres -q -v ON_ERROR_STOP=1 "$@"; }

psql <<'SQL'
CREATE TABLE accounts (id bigint PRIMARY KEY, ledger int NOT NULL,
    debits_posted bigint NOT NULL DEFAULT 0, credits_posted bigint NOT NULL DEFAULT 0,
    limited boolean NOT NULL);
CREATE TABLE transfers (id bigint PRIMARY KEY, debit_account_id bigint NOT NULL,
    credit_account_id bigint NOT NULL, amount bigint NOT NULL, ledger int NOT NULL,
    code int NOT NULL);
CREATE SEQUENCE transfer_ids CACHE 1000;
INSERT INTO accounts (id, ledger, credits_posted, limited)
    SELECT i, (ARRAY[156,398,417,860,972,934,643,840])[(i - 1) / 1250 + 1], 1000000000000, true
    FROM generate_series(1, 10000) AS i;

CREATE FUNCTION create_transfer(p_id bigint, p_debit bigint, p_credit bigint, p_amount bigint,
                                p_ledger int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    debit_row accounts%ROWTYPE;
BEGIN
    IF p_debit = p_credit THEN RETURN 'accounts_must_be_different'; END IF;
    PERFORM 1 FROM accounts WHERE id IN (p_debit, p_credit) ORDER BY id FOR UPDATE;
    SELECT * INTO debit_row FROM accounts WHERE id = p_debit;
    IF NOT FOUND THEN RETURN 'debit_account_not_found'; END IF;
    IF debit_row.limited AND debit_row.debits_posted + p_amount > debit_row.credits_posted THEN
        RETURN 'exceeds_credits';
    END IF;
    INSERT INTO transfers VALUES (p_id, p_debit, p_credit, p_amount, p_ledger, 1)
        ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN RETURN 'exists'; END IF;
    UPDATE accounts SET debits_posted = debits_posted + p_amount WHERE id = p_debit;
    UPDATE accounts SET credits_posted = credits_posted + p_amount WHERE id = p_credit;
    RETURN 'created';
END $$;

-- A batch of n random transfers in one transaction (the caller's).
CREATE FUNCTION create_transfers_random(n int, zipf boolean) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    created int := 0;
    ledger_index int;
    debit_rank int;
    credit_rank int;
BEGIN
    FOR i IN 1 .. n LOOP
        ledger_index := floor(random() * 8)::int;
        IF zipf THEN
            debit_rank := least(1249, floor(exp(random() * ln(1250.0)))::int - 1);
            credit_rank := least(1249, floor(exp(random() * ln(1250.0)))::int - 1);
        ELSE
            debit_rank := floor(random() * 1250)::int;
            credit_rank := floor(random() * 1250)::int;
        END IF;
        IF create_transfer(nextval('transfer_ids'), ledger_index * 1250 + debit_rank + 1,
                           ledger_index * 1250 + credit_rank + 1,
                           1 + floor(random() * 100000)::bigint,
                           (ARRAY[156,398,417,860,972,934,643,840])[ledger_index + 1])
           = 'created' THEN
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END $$;

-- A batch of n random transfers drawn as create_transfers_random draws them, into arrays: what
-- a client would send as the parameters of one statement.
CREATE FUNCTION random_batch(n int, zipf boolean, OUT ids bigint[], OUT debits bigint[],
                             OUT credits bigint[], OUT amounts bigint[], OUT ledgers int[])
LANGUAGE sql AS $$
    SELECT array_agg(nextval('transfer_ids')), array_agg(l * 1250 + d + 1),
           array_agg(l * 1250 + c + 1), array_agg(amount),
           array_agg((ARRAY[156,398,417,860,972,934,643,840])[l + 1])
    FROM (SELECT floor(random() * 8)::int AS l,
                 CASE WHEN zipf THEN least(1249, floor(exp(random() * ln(1250.0)))::int - 1)
                      ELSE floor(random() * 1250)::int END AS d,
                 CASE WHEN zipf THEN least(1249, floor(exp(random() * ln(1250.0)))::int - 1)
                      ELSE floor(random() * 1250)::int END AS c,
                 1 + floor(random() * 100000)::bigint AS amount
          FROM generate_series(1, n)) AS drawn
$$;

-- The set-based batch: one statement over the arrays with create_transfer's checks. It locks
-- every account of the batch in id order, keeps the transfers whose accounts differ and exist
-- and whose debit account stays within its credits after ALL of the batch's debits to it (a
-- stricter rule than one transfer after another: an account that would overdraw anywhere in
-- the batch has all its debits of the batch refused; this workload's balances never come near
-- it), inserts them under their unique ids (an existing id is skipped), and moves both
-- balances of every account by the sums of what was inserted. Returns the transfers created.
CREATE FUNCTION create_transfers_set(p_ids bigint[], p_debits bigint[], p_credits bigint[],
                                     p_amounts bigint[], p_ledgers int[])
RETURNS bigint LANGUAGE sql AS $$
    WITH batch AS (
        SELECT * FROM unnest(p_ids, p_debits, p_credits, p_amounts, p_ledgers)
            AS b(id, debit, credit, amount, ledger)
    ), locked AS (
        SELECT a.id, a.debits_posted, a.credits_posted, a.limited FROM accounts a
        WHERE a.id IN (SELECT debit FROM batch UNION SELECT credit FROM batch)
        ORDER BY a.id FOR UPDATE OF a
    ), debit_sums AS (
        SELECT debit AS id, sum(amount) AS total FROM batch WHERE debit <> credit GROUP BY debit
    ), valid AS (
        SELECT b.* FROM batch b
        JOIN locked d ON d.id = b.debit
        JOIN locked c ON c.id = b.credit
        JOIN debit_sums s ON s.id = b.debit
        WHERE b.debit <> b.credit
          AND (NOT d.limited OR d.debits_posted + s.total <= d.credits_posted)
    ), inserted AS (
        INSERT INTO transfers SELECT id, debit, credit, amount, ledger, 1 FROM valid
        ON CONFLICT (id) DO NOTHING
        RETURNING debit_account_id, credit_account_id, amount
    ), moves AS (
        SELECT id, sum(debit) AS debit, sum(credit) AS credit FROM (
            SELECT debit_account_id AS id, amount AS debit, 0::bigint AS credit FROM inserted
            UNION ALL
            SELECT credit_account_id, 0::bigint, amount FROM inserted) AS m
        GROUP BY id
    ), updated AS (
        UPDATE accounts a SET debits_posted = a.debits_posted + moves.debit,
                              credits_posted = a.credits_posted + moves.credit
        FROM moves WHERE a.id = moves.id RETURNING 1
    )
    SELECT count(*) FROM inserted
$$;
SQL

if [ "$distribution" = zipf ]; then
    pick='\set debit random_zipfian(1, 1250, 1.001)
\set credit random_zipfian(1, 1250, 1.001)'
    zipf=true
else
    pick='\set debit random(1, 1250)
\set credit random(1, 1250)'
    zipf=false
fi
cat >"$work/single.sql" <<EOF2
\set ledger random(0, 7)
$pick
\set amount random(1, 100000)
SELECT create_transfer(nextval('transfer_ids'), :ledger * 1250 + :debit, :ledger * 1250 + :credit, :amount, 156);
EOF2
echo "SELECT create_transfers_random(1000, $zipf);" >"$work/batch.sql"
echo "SELECT create_transfers_set(b.ids, b.debits, b.credits, b.amounts, b.ledgers)
    FROM random_batch(1000, $zipf) AS b;" >"$work/set.sql"
chmod a+r "$work"/*.sql

pgbench() { run "$bin/pgbench" -h "$work" -U bench -n "$@" postgres; }
rows() { psql -At -c "SELECT count(*) FROM transfers"; }
# measure SCRIPT CLIENTS THREADS -> the transfers that succeeded per second: pgbench's tps
# times the rows the transfers table gained per transaction.
measure() {
    before=$(rows)
    output=$(pgbench -c "$2" -j "$3" -T "$seconds" -f "$work/$1.sql" 2>&1)
    after=$(rows)
    tps=$(echo "$output" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
    count=$(echo "$output" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
    [ -n "$tps" ] && [ -n "$count" ] && [ "$count" -gt 0 ] ||
        { echo "bench/postgres.sh: pgbench $1: $output" >&2; echo 0; return; }
    awk -v t="$tps" -v n="$count" -v r="$((after - before))" 'BEGIN {printf "%.0f", t * r / n}'
}

for mode in $modes; do
    case $mode in
    single) echo "postgres single $distribution transfers_per_second=$(measure single 8 2)" ;;
    single_best)
        best=0; best_clients=0
        for clients in 8 32 128; do
            rate=$(measure single "$clients" 2)
            echo "postgres single_$clients $distribution transfers_per_second=$rate clients=$clients"
            if [ "$rate" -gt "$best" ]; then best=$rate; best_clients=$clients; fi
        done
        echo "postgres single_best $distribution transfers_per_second=$best clients=$best_clients" ;;
    batched) echo "postgres batched $distribution transfers_per_second=$(measure batch 1 1)" ;;
    set) echo "postgres set $distribution transfers_per_second=$(measure set 1 1)" ;;
    *) echo "bench/postgres.sh: unknown mode $mode" >&2; exit 2 ;;
    esac
done
