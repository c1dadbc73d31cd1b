/*
 * bench_sqlite.c: the ledger workload on SQLite, as a team embedding a ledger would write it:
 * WAL mode, synchronous=FULL (every commit durable, as Khorgos' are), prepared statements,
 * batches of 1,000 transfers per transaction. Per transfer: read both balances, check the
 * debit account's limit (debits must not exceed credits), insert the transfer under a unique id
 * (a duplicate id is refused: idempotency), update both balances.
 *
 * Amounts and ids are SQLite INTEGERs (64-bit): the workload fits, and it spares SQLite the
 * 128-bit arithmetic Khorgos does, so the comparison errs in SQLite's favour.
 *
 * Usage: bench_sqlite --transfers N [--zipf] --dir DIR
 * Prints one line: "sqlite <uniform|zipf> transfers=N seconds=S transfers_per_second=X bytes=B".
 */
#include "bench_workload.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BENCH_SQLITE_BATCH 1000u

static double seconds_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void check(int result, sqlite3 *db, const char *what) {
    if (result == SQLITE_OK || result == SQLITE_DONE || result == SQLITE_ROW) return;
    fprintf(stderr, "bench_sqlite: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void execute(sqlite3 *db, const char *sql) {
    check(sqlite3_exec(db, sql, NULL, NULL, NULL), db, sql);
}

struct statements {
    sqlite3_stmt *balance;
    sqlite3_stmt *insert;
    sqlite3_stmt *debit;
    sqlite3_stmt *credit;
};

static void prepare(sqlite3 *db, struct statements *statements) {
    check(sqlite3_prepare_v2(db, "SELECT debits_posted, credits_posted, limited FROM accounts "
                                 "WHERE id = ?1", -1, &statements->balance, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO transfers (id, debit_account_id, credit_account_id,"
                                 " amount, ledger, code) VALUES (?1, ?2, ?3, ?4, ?5, 1)", -1,
                             &statements->insert, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "UPDATE accounts SET debits_posted = debits_posted + ?2 "
                                 "WHERE id = ?1", -1, &statements->debit, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "UPDATE accounts SET credits_posted = credits_posted + ?2 "
                                 "WHERE id = ?1", -1, &statements->credit, NULL), db, "prepare");
}

/* Returns 1 when the transfer was applied, 0 when refused (limit, duplicate id). */
static int apply_transfer(sqlite3 *db, struct statements *statements,
                          const struct bench_transfer *transfer) {
    sqlite3_bind_int64(statements->balance, 1, (sqlite3_int64)transfer->debit_account_id);
    check(sqlite3_step(statements->balance), db, "balance");
    sqlite3_int64 debits = sqlite3_column_int64(statements->balance, 0);
    sqlite3_int64 credits = sqlite3_column_int64(statements->balance, 1);
    int limited = sqlite3_column_int(statements->balance, 2);
    sqlite3_reset(statements->balance);
    if (limited && debits + (sqlite3_int64)transfer->amount > credits) return 0;
    sqlite3_bind_int64(statements->insert, 1, (sqlite3_int64)transfer->id);
    sqlite3_bind_int64(statements->insert, 2, (sqlite3_int64)transfer->debit_account_id);
    sqlite3_bind_int64(statements->insert, 3, (sqlite3_int64)transfer->credit_account_id);
    sqlite3_bind_int64(statements->insert, 4, (sqlite3_int64)transfer->amount);
    sqlite3_bind_int64(statements->insert, 5, transfer->ledger);
    int result = sqlite3_step(statements->insert);
    sqlite3_reset(statements->insert);
    if (result == SQLITE_CONSTRAINT) return 0;
    check(result, db, "insert");
    sqlite3_stmt *updates[2] = {statements->debit, statements->credit};
    sqlite3_int64 ids[2] = {(sqlite3_int64)transfer->debit_account_id,
                            (sqlite3_int64)transfer->credit_account_id};
    for (int index = 0; index < 2; index++) {
        sqlite3_bind_int64(updates[index], 1, ids[index]);
        sqlite3_bind_int64(updates[index], 2, (sqlite3_int64)transfer->amount);
        check(sqlite3_step(updates[index]), db, "update");
        sqlite3_reset(updates[index]);
    }
    return 1;
}

static void create_accounts(sqlite3 *db) {
    execute(db, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, ledger INTEGER NOT NULL, "
                "debits_posted INTEGER NOT NULL, credits_posted INTEGER NOT NULL, "
                "limited INTEGER NOT NULL)");
    execute(db, "CREATE TABLE transfers (id INTEGER PRIMARY KEY, debit_account_id INTEGER NOT "
                "NULL, credit_account_id INTEGER NOT NULL, amount INTEGER NOT NULL, ledger "
                "INTEGER NOT NULL, code INTEGER NOT NULL)");
    sqlite3_stmt *insert = NULL;
    check(sqlite3_prepare_v2(db, "INSERT INTO accounts VALUES (?1, ?2, 0, ?3, 1)", -1, &insert,
                             NULL), db, "prepare");
    execute(db, "BEGIN");
    for (uint64_t id = 1; id <= BENCH_ACCOUNT_COUNT; id++) {
        sqlite3_bind_int64(insert, 1, (sqlite3_int64)id);
        sqlite3_bind_int64(insert, 2, bench_account_ledger(id));
        sqlite3_bind_int64(insert, 3, (sqlite3_int64)BENCH_FUNDING_MINOR_UNITS);
        check(sqlite3_step(insert), db, "insert account");
        sqlite3_reset(insert);
    }
    execute(db, "COMMIT");
    sqlite3_finalize(insert);
}

static long long directory_bytes(const char *path) {
    long long total = 0;
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int index = 0; index < 3; index++) {
        char name[4096];
        snprintf(name, sizeof(name), "%s%s", path, suffixes[index]);
        struct stat status;
        if (stat(name, &status) == 0) total += status.st_size;
    }
    return total;
}

int main(int argc, char **argv) {
    uint64_t transfer_count = 200000;
    int zipf = 0;
    const char *directory = "/tmp";
    for (int index = 1; index < argc; index++) {
        if (strcmp(argv[index], "--transfers") == 0 && index + 1 < argc) {
            transfer_count = strtoull(argv[++index], NULL, 10);
        } else if (strcmp(argv[index], "--zipf") == 0) {
            zipf = 1;
        } else if (strcmp(argv[index], "--dir") == 0 && index + 1 < argc) {
            directory = argv[++index];
        } else {
            fprintf(stderr, "usage: bench_sqlite --transfers N [--zipf] --dir DIR\n");
            return 2;
        }
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench-%s.sqlite", directory, zipf ? "zipf" : "uniform");
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int index = 0; index < 3; index++) {
        char name[4200];
        snprintf(name, sizeof(name), "%s%s", path, suffixes[index]);
        remove(name);
    }
    sqlite3 *db = NULL;
    check(sqlite3_open(path, &db), db, "open");
    execute(db, "PRAGMA journal_mode=WAL");
    execute(db, "PRAGMA synchronous=FULL");
    create_accounts(db);
    struct statements statements;
    prepare(db, &statements);
    struct bench_workload workload;
    bench_workload_init(&workload, 42, zipf);
    uint64_t applied = 0;
    double start = seconds_now();
    for (uint64_t id = 1; id <= transfer_count;) {
        execute(db, "BEGIN");
        for (uint32_t in_batch = 0; in_batch < BENCH_SQLITE_BATCH && id <= transfer_count;
             in_batch++, id++) {
            struct bench_transfer transfer;
            bench_next_transfer(&workload, id, &transfer);
            applied += (uint64_t)apply_transfer(db, &statements, &transfer);
        }
        execute(db, "COMMIT");
    }
    double seconds = seconds_now() - start;
    sqlite3_finalize(statements.balance);
    sqlite3_finalize(statements.insert);
    sqlite3_finalize(statements.debit);
    sqlite3_finalize(statements.credit);
    sqlite3_close(db);
    printf("sqlite %s transfers=%llu applied=%llu seconds=%.3f transfers_per_second=%.0f "
           "bytes=%lld\n", zipf ? "zipf" : "uniform", (unsigned long long)transfer_count,
           (unsigned long long)applied, seconds, (double)transfer_count / seconds,
           directory_bytes(path));
    return 0;
}
