/* test_ledger_snapshot.c: the ledger's snapshot section loads back to the same state, with id
 * maps that answer as the written ledger's did, and a section whose records break what the
 * maps rely on (ids unique, no transfer id among the failed ones) is refused as corrupt. The
 * section is written and read through a whole snapshot in memory (storage.h), so the
 * checksums pass and only the ledger's own checks stand between the bytes and the state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <unistd.h>

#include "ledger_fixture.h"
#include "memory_pages.h"
#include "storage/storage.h"

#define SNAPSHOT_BYTES_MAX (8u << 20) /* the large ledger's 6 MiB of transfers and more */

static u8 snapshot_bytes[SNAPSHOT_BYTES_MAX];

/* Writes `ledger`'s section into a snapshot in memory and reads it into `copy` (initialized
 * with the fixture's capacities); returns what the read returned. */
static khorgos_error snapshot_reload_with(const struct ledger *ledger, struct ledger *copy,
                                          const struct ledger_config *config) {
    struct storage_writer writer;
    storage_snapshot_memory_begin(&writer, 1, snapshot_bytes, sizeof(snapshot_bytes));
    ledger_snapshot_write(ledger, &writer);
    const u8 chain_head[BASE_SHA256_BYTES] = {0};
    u64 size_bytes = 0;
    assert_int_equal(storage_snapshot_memory_end(&writer, ledger->timestamp_last, 1, chain_head,
                                                 &size_bytes),
                     KHORGOS_ERROR_ok);
    struct storage_reader reader;
    struct storage_snapshot_header header;
    assert_int_equal(storage_snapshot_memory_open(&reader, snapshot_bytes, size_bytes, &header),
                     KHORGOS_ERROR_ok);
    struct storage_section_header section;
    assert_int_equal(storage_reader_section_next(&reader, &section), KHORGOS_ERROR_ok);
    assert_int_equal(section.module, STORAGE_SECTION_LEDGER);
    assert_int_equal(ledger_init(copy, config), KHORGOS_ERROR_ok);
    khorgos_error error = ledger_snapshot_read(copy, &reader);
    storage_reader_close(&reader);
    return error;
}

static khorgos_error snapshot_reload(const struct ledger *ledger, struct ledger *copy) {
    struct ledger_config config = {FIXTURE_ACCOUNT_COUNT_MAX, FIXTURE_TRANSFER_COUNT_MAX,
                                   FIXTURE_BALANCE_COUNT_MAX};
    return snapshot_reload_with(ledger, copy, &config);
}

/* Three accounts, three transfers, and two failed ones whose ids are burned. */
static void ledger_fill(struct fixture *fixture) {
    struct khorgos_account accounts[3] = {account_make(1, 0), account_make(2, 0),
                                          account_make(3, 0)};
    struct khorgos_create_result *results = fixture_accounts(fixture, accounts, 3);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(results[index].status, KHORGOS_CREATE_ACCOUNT_created);
    }
    struct khorgos_transfer transfers[5] = {
        transfer_make(10, 1, 2, 5, 0), transfer_make(11, 2, 3, 7, 0),
        transfer_make(12, 9, 3, 1, 0), transfer_make(13, 3, 1, 2, 0),
        transfer_make(14, 1, 9, 1, 0)};
    results = fixture_transfers(fixture, transfers, 5);
    assert_int_equal(results[2].status, KHORGOS_CREATE_TRANSFER_debit_account_not_found);
    assert_int_equal(results[4].status, KHORGOS_CREATE_TRANSFER_credit_account_not_found);
    assert_int_equal(fixture->ledger.transfer_count, 3);
    assert_int_equal(fixture->ledger.failed_transfer_count, 2);
}

static void test_round_trip_rebuilds_the_maps(void **state) {
    (void)state;
    struct fixture fixture;
    fixture_open(&fixture);
    ledger_fill(&fixture);
    struct ledger copy;
    assert_int_equal(snapshot_reload(&fixture.ledger, &copy), KHORGOS_ERROR_ok);
    assert_true(ledger_digest(&copy) == ledger_digest(&fixture.ledger));
    assert_true(ledger_check(&copy)); /* the maps too: each id at its record's index */
    u32 index = U32_MAX;
    assert_true(base_id_map_get(&copy.transfer_map, 13, &index) && index == 2);
    assert_true(base_id_map_get(&copy.failed_transfer_map, 14, &index) && index == 1);
    assert_false(base_id_map_get(&copy.transfer_map, 12, &index));
    ledger_deinit(&copy);
    fixture_close(&fixture);
}

/* Loads the fixture's ledger after `tamper` changed its records (not its maps) and expects
 * the load refused. */
static void expect_refused(void (*tamper)(struct ledger *ledger)) {
    struct fixture fixture;
    fixture_open(&fixture);
    ledger_fill(&fixture);
    tamper(&fixture.ledger);
    struct ledger copy;
    assert_int_equal(snapshot_reload(&fixture.ledger, &copy), KHORGOS_ERROR_corrupt);
    ledger_deinit(&copy);
    fixture_close(&fixture);
}

static void tamper_failed_id_is_a_transfer_id(struct ledger *ledger) {
    ledger->failed_transfer_ids[1] = ledger->transfers[2].id;
}

static void tamper_transfer_id_repeated(struct ledger *ledger) {
    ledger->transfers[2].id = ledger->transfers[0].id;
}

static void tamper_failed_id_repeated(struct ledger *ledger) {
    ledger->failed_transfer_ids[1] = ledger->failed_transfer_ids[0];
}

static void tamper_account_id_repeated(struct ledger *ledger) {
    ledger->accounts[2].id = ledger->accounts[1].id;
}

static void tamper_transfer_id_zero(struct ledger *ledger) {
    ledger->transfers[1].id = 0;
}

static void test_failed_id_among_transfer_ids_refused(void **state) {
    (void)state;
    expect_refused(tamper_failed_id_is_a_transfer_id);
}

static void test_repeated_or_zero_ids_refused(void **state) {
    (void)state;
    expect_refused(tamper_transfer_id_repeated);
    expect_refused(tamper_failed_id_repeated);
    expect_refused(tamper_account_id_repeated);
    expect_refused(tamper_transfer_id_zero);
}

/* The transfers a snapshot holds are read into memory made resident (on huge pages where the
 * kernel gives them only on advice) for that part of the array alone: the array's rest, its
 * capacity not yet used, is still taken only as transfers are appended. */
static void test_loaded_transfers_on_huge_pages(void **state) {
    (void)state;
    if (!huge_pages_on_advice_only()) skip();
    enum { transfer_count = 49152, capacity = 4 * transfer_count, batch = 256 }; /* 6 MiB */
    struct ledger_config config = {FIXTURE_ACCOUNT_COUNT_MAX, capacity, FIXTURE_BALANCE_COUNT_MAX};
    struct ledger ledger;
    assert_int_equal(ledger_init(&ledger, &config), KHORGOS_ERROR_ok);
    static struct khorgos_create_result results[batch];
    struct khorgos_account accounts[2] = {account_make(1, 0), account_make(2, 0)};
    u64 timestamp = KHORGOS_MANUAL_CLOCK_START_NS + FIXTURE_GAP_NS;
    ledger_create_accounts(&ledger, timestamp, accounts, 2, results);
    static struct khorgos_transfer transfers[batch];
    for (u32 first = 0; first < transfer_count; first += batch) {
        for (u32 index = 0; index < batch; index++) {
            transfers[index] = transfer_make(100 + first + index, 1 + index % 2, 2 - index % 2,
                                             1, 0);
        }
        timestamp += FIXTURE_GAP_NS + batch;
        ledger_create_transfers(&ledger, timestamp, transfers, batch, results);
        assert_int_equal(results[batch - 1].status, KHORGOS_CREATE_TRANSFER_created);
    }
    assert_int_equal(ledger.transfer_count, transfer_count);
    struct ledger copy;
    assert_int_equal(snapshot_reload_with(&ledger, &copy, &config), KHORGOS_ERROR_ok);
    assert_true(ledger_digest(&copy) == ledger_digest(&ledger));
    assert_true(huge_page_kib_at(&copy.transfers[transfer_count / 2]) >= 2048);
    long page_bytes = sysconf(_SC_PAGESIZE);
    uintptr_t unused = ((uintptr_t)&copy.transfers[transfer_count] + 2 * (2u << 20)) &
                       ~(uintptr_t)(page_bytes - 1);
    unsigned char resident = 1;
    assert_int_equal(mincore((void *)unused, (size_t)page_bytes, &resident), 0);
    assert_false(resident & 1u);
    ledger_deinit(&copy);
    ledger_deinit(&ledger);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_rebuilds_the_maps),
        cmocka_unit_test(test_failed_id_among_transfer_ids_refused),
        cmocka_unit_test(test_repeated_or_zero_ids_refused),
        cmocka_unit_test(test_loaded_transfers_on_huge_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
