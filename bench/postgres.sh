#!/bin/sh
# bench/postgres.sh: the ledger workload on PostgreSQL 15 (Debian's package), as teams write a
# ledger on it today: a PL/pgSQL function does the double entry with a balance check (debits
# must not exceed credits) and an idempotent unique id, locking both accounts in id order so
# concurrent clients never deadlock. Durability as Khorgos': fsync and synchronous_commit on.
#
# The server runs as an unprivileged user (postgres) in a temporary directory on a Unix socket
# only, and is stopped afterwards whatever happens.
#
# Two ways of driving it, each the way it is fastest:
#   single:  one transfer per transaction, 8 clients (pgbench -c 8);
#   batched: 1,000 transfers per transaction (generated server-side), 1 client, so batches
#            never deadlock on each other's row locks.
# Usage: bench/postgres.sh SECONDS [uniform|zipf]
# Prints lines "postgres <mode> <distribution> transfers_per_second=X".
set -eu
seconds=${1:-20}
distribution=${2:-uniform}
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
    -c shared_buffers=512MB -c max_wal_size=4GB" start >/dev/null

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
chmod a+r "$work"/*.sql

pgbench() { run "$bin/pgbench" -h "$work" -U bench -n "$@" postgres; }
tps_of() { sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1; }

single=$(pgbench -c 8 -j 2 -T "$seconds" -f "$work/single.sql" 2>&1 | tps_of)
batch=$(pgbench -c 1 -j 1 -T "$seconds" -f "$work/batch.sql" 2>&1 | tps_of)
echo "postgres single $distribution transfers_per_second=$(echo "$single" | awk '{printf "%.0f", $1}')"
echo "postgres batched $distribution transfers_per_second=$(echo "$batch" | awk '{printf "%.0f", $1 * 1000}')"
