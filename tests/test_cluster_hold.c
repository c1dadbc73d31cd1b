/*
 * test_cluster_hold.c: the hold between raft and its snapshot I/O (cluster_hold.c), on an I/O
 * that records what reaches it and calls back only when the test says: a leader's snapshot
 * load asked for while a snapshot is written reaches the I/O only once the write called back,
 * and a write asked for while a load runs only once the load called back (raft_uv's load fails
 * when a write removes an old snapshot under its listing, and raft 0.22.1 then frees what it
 * never set), and a load that fails all the same is not given back to raft, and one that
 * returns a newer snapshot of another term than raft asked for is sent under its own term; an InstallSnapshot
 * received while raft's own snapshot is written reaches raft only after that write called
 * back, with its data, configuration and sender intact; every entry raft_uv loads at start
 * gets a block of its own, and a message's payload raft frees while it is written is freed once,
 * after the write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"

/* The I/O under the hold, and raft above it. */
struct test_io {
    raft_io_recv_cb receive; /* the hold's */
    struct raft_io_snapshot_put *put;
    raft_io_snapshot_put_cb put_done;
    struct raft_io_snapshot_get *get;
    raft_io_snapshot_get_cb get_done;
    u32 puts;
    u32 gets;
    /* What raft's callbacks saw. */
    u32 raft_puts_done;
    u32 raft_gets_done;
    u32 raft_received;
    struct raft_message received;
};

static struct test_io test_io;
static struct raft test_raft;
static struct raft_io test_raft_io;
static struct cluster_hold test_hold;

static int test_io_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                         raft_io_recv_cb receive) {
    (void)io;
    (void)msecs;
    (void)tick;
    test_io.receive = receive;
    return 0;
}

static int test_io_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *put,
                       const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb) {
    (void)io;
    (void)trailing;
    (void)snapshot;
    test_io.put = put;
    test_io.put_done = cb;
    test_io.puts++;
    return 0;
}

static int test_io_get(struct raft_io *io, struct raft_io_snapshot_get *get,
                       raft_io_snapshot_get_cb cb) {
    (void)io;
    test_io.get = get;
    test_io.get_done = cb;
    test_io.gets++;
    return 0;
}

static void test_raft_put_done(struct raft_io_snapshot_put *put, int status) {
    assert_int_equal(status, 0);
    assert_non_null(put);
    test_raft.legacy.snapshot_taking = false; /* as raft's own callback does */
    test_io.raft_puts_done++;
}

static void test_raft_get_done(struct raft_io_snapshot_get *get, struct raft_snapshot *snapshot,
                               int status) {
    assert_int_equal(status, 0);
    assert_non_null(get);
    assert_null(snapshot);
    test_io.raft_gets_done++;
}

static void test_raft_receive(struct raft_io *io, struct raft_message *message) {
    assert_ptr_equal(io, &test_raft_io);
    test_io.received = *message;
    test_io.raft_received++;
}

/* The I/O's send: the request and the callback the hold gave it. */
static struct raft_io_send *test_send_req;
static raft_io_send_cb test_send_done;

static struct raft_message test_sent; /* the message, as the I/O encodes it */

static int test_io_send(struct raft_io *io, struct raft_io_send *req,
                        const struct raft_message *message, raft_io_send_cb cb) {
    (void)io;
    assert_non_null(message);
    test_sent = *message;
    test_send_req = req;
    test_send_done = cb;
    return 0;
}

static int test_setup(void **state) {
    (void)state;
    memset(&test_io, 0, sizeof(test_io));
    memset(&test_raft, 0, sizeof(test_raft));
    memset(&test_raft_io, 0, sizeof(test_raft_io));
    test_raft_io.start = test_io_start;
    test_raft_io.snapshot_put = test_io_put;
    test_raft_io.snapshot_get = test_io_get;
    test_raft_io.send = test_io_send;
    test_raft.io = &test_raft_io;
    assert_true(cluster_hold_install(&test_hold, &test_raft));
    assert_int_equal(test_raft_io.start(&test_raft_io, 100, NULL, test_raft_receive), 0);
    return 0;
}

static int test_teardown(void **state) {
    (void)state;
    cluster_hold_uninstall(&test_hold);
    assert_null(test_hold.raft);
    return 0;
}

static void test_load_waits_for_a_write(void **state) {
    (void)state;
    struct raft_io_snapshot_put put = {0};
    struct raft_io_snapshot_get get = {0};
    struct raft_snapshot snapshot = {0};
    assert_int_equal(test_raft_io.snapshot_put(&test_raft_io, 2, &put, &snapshot,
                                               test_raft_put_done), 0);
    assert_int_equal(test_io.puts, 1);
    assert_int_equal(test_raft_io.snapshot_get(&test_raft_io, &get, test_raft_get_done), 0);
    assert_int_equal(test_io.gets, 0); /* not while the write runs */
    test_io.put_done(test_io.put, 0);
    assert_int_equal(test_io.raft_puts_done, 1);
    assert_int_equal(test_io.gets, 1);
    assert_ptr_equal(test_io.get, &get);
    test_io.get_done(test_io.get, NULL, 0);
    assert_int_equal(test_io.raft_gets_done, 1);
    assert_int_equal(test_hold.waited_total, 1);
}

/* raft 0.22.1 frees, on a failed load, the message's data and configuration it never set:
 * the failure is kept from it. */
static void test_failed_load_kept_from_raft(void **state) {
    (void)state;
    struct raft_io_snapshot_get get = {0};
    assert_int_equal(test_raft_io.snapshot_get(&test_raft_io, &get, test_raft_get_done), 0);
    assert_int_equal(test_io.gets, 1);
    test_io.get_done(test_io.get, raft_malloc(sizeof(struct raft_snapshot)), RAFT_IOERR);
    assert_int_equal(test_io.raft_gets_done, 0);
    assert_int_equal(test_hold.gets_failed_total, 1);
    /* The next load, asked for again, reaches the I/O and raft as any other. */
    assert_int_equal(test_raft_io.snapshot_get(&test_raft_io, &get, test_raft_get_done), 0);
    assert_int_equal(test_io.gets, 2);
    test_io.get_done(test_io.get, NULL, 0);
    assert_int_equal(test_io.raft_gets_done, 1);
}

static void test_write_waits_for_loads(void **state) {
    (void)state;
    struct raft_io_snapshot_put put = {0};
    struct raft_io_snapshot_get get = {0};
    struct raft_snapshot snapshot = {0};
    assert_int_equal(test_raft_io.snapshot_get(&test_raft_io, &get, test_raft_get_done), 0);
    assert_int_equal(test_io.gets, 1);
    assert_int_equal(test_raft_io.snapshot_put(&test_raft_io, 2, &put, &snapshot,
                                               test_raft_put_done), 0);
    assert_int_equal(test_io.puts, 0); /* not while the load runs */
    test_io.get_done(test_io.get, NULL, 0);
    assert_int_equal(test_io.raft_gets_done, 1);
    assert_int_equal(test_io.puts, 1);
    assert_ptr_equal(test_io.put, &put);
    test_io.put_done(test_io.put, 0);
    assert_int_equal(test_io.raft_puts_done, 1);
}

static void test_install_waits_for_the_snapshot_taken(void **state) {
    (void)state;
    struct raft_io_snapshot_put put = {0};
    struct raft_snapshot snapshot = {0};
    assert_int_equal(test_raft_io.snapshot_put(&test_raft_io, 2, &put, &snapshot,
                                               test_raft_put_done), 0);
    test_raft.legacy.snapshot_taking = true;
    struct raft_message message = {.type = RAFT_INSTALL_SNAPSHOT, .server_id = 1};
    char address[] = "127.0.0.1:7100";
    message.server_address = address;
    message.install_snapshot.last_index = 12;
    message.install_snapshot.data.base = raft_malloc(64);
    message.install_snapshot.data.len = 64;
    raft_configuration_init(&message.install_snapshot.conf);
    assert_int_equal(raft_configuration_add(&message.install_snapshot.conf, 1, address,
                                            RAFT_VOTER), 0);
    test_io.receive(&test_raft_io, &message);
    memset(address, 'x', sizeof(address) - 1); /* the transport reuses its buffers */
    assert_int_equal(test_io.raft_received, 0);
    assert_int_equal(test_hold.held_total, 1);
    test_io.put_done(test_io.put, 0);
    assert_int_equal(test_io.raft_received, 1);
    struct raft_message *received = &test_io.received;
    assert_int_equal(received->type, RAFT_INSTALL_SNAPSHOT);
    assert_int_equal(received->install_snapshot.last_index, 12);
    assert_string_equal(received->server_address, "127.0.0.1:7100");
    assert_int_equal(received->install_snapshot.conf.n, 1);
    raft_free(received->install_snapshot.data.base);
    raft_configuration_close(&received->install_snapshot.conf);
    /* Other messages, and one while no snapshot is taken, go through at once. */
    struct raft_message vote = {.type = RAFT_REQUEST_VOTE, .server_address = address};
    test_io.receive(&test_raft_io, &vote);
    assert_int_equal(test_io.raft_received, 2);
}

/* A loaded snapshot as raft_uv's: one buffer, a configuration. */
static struct raft_snapshot *test_snapshot(raft_index index, raft_term term) {
    struct raft_snapshot *snapshot = raft_calloc(1, sizeof(*snapshot));
    assert_non_null(snapshot);
    snapshot->index = index;
    snapshot->term = term;
    raft_configuration_init(&snapshot->configuration);
    assert_int_equal(raft_configuration_add(&snapshot->configuration, 1, "127.0.0.1:1",
                                            RAFT_VOTER), 0);
    snapshot->bufs = raft_malloc(sizeof(*snapshot->bufs));
    assert_non_null(snapshot->bufs);
    snapshot->bufs[0] = (struct raft_buffer){.base = raft_malloc(64), .len = 64};
    assert_non_null(snapshot->bufs[0].base);
    snapshot->n_bufs = 1;
    return snapshot;
}

/* raft's callback of a send (legacy.c): frees an InstallSnapshot's data, or releases an
 * AppendEntries' entries, here the last reference to their batch. */
static void *test_send_data;
static void test_raft_send_done(struct raft_io_send *req, int status) {
    assert_non_null(req);
    assert_int_equal(status, 0);
    raft_free(test_send_data);
}

/* An InstallSnapshot's data that raft frees while the I/O still writes it is kept until the
 * write calls back and freed once then (counted); one freed only by raft's callback is freed
 * once, and counted as nothing. */
static void test_snapshot_data_kept_while_written(void **state) {
    (void)state;
    cluster_heap_install(); /* for the blocks the hold has it keep */
    u64 early = cluster_hold_payloads_freed_early();
    for (u32 round = 0; round < 2; round++) {
        test_send_data = raft_malloc(1u << 20);
        assert_non_null(test_send_data);
        struct raft_message message = {.type = RAFT_INSTALL_SNAPSHOT};
        message.install_snapshot.data = (struct raft_buffer){.base = test_send_data,
                                                             .len = 1u << 20};
        struct raft_io_send req;
        u32 cached = cluster_heap_stats().cached_blocks;
        assert_int_equal(test_raft_io.send(&test_raft_io, &req, &message, test_raft_send_done),
                         0);
        assert_ptr_equal(test_send_req, &req);
        if (round == 0) raft_free(test_send_data); /* raft's early free: put off */
        assert_int_equal(cluster_heap_stats().cached_blocks, cached);
        test_send_done(&req, 0); /* the write calls back; raft's callback frees it */
        assert_int_equal(cluster_heap_stats().cached_blocks, cached + 1); /* freed once */
        assert_int_equal(cluster_heap_stats().double_frees, 0);
        assert_int_equal(cluster_hold_payloads_freed_early(), early + 1);
    }
    cluster_heap_uninstall();
}

/* raft's callback of a load (legacy.c, legacyLoadSnapshotCb): it sends the InstallSnapshot at
 * once, under the loaded snapshot's index and the term its core asked for (3). */
static struct raft_io_send test_install_req;
static void test_raft_loaded(struct raft_io_snapshot_get *get, struct raft_snapshot *snapshot,
                             int status) {
    assert_int_equal(status, 0);
    assert_non_null(get);
    struct raft_message message = {.type = RAFT_INSTALL_SNAPSHOT, .server_id = 2,
                                   .server_address = "127.0.0.1:2"};
    message.install_snapshot = (struct raft_install_snapshot){
        .term = 5, .last_index = snapshot->index, .last_term = 3,
        .conf = snapshot->configuration, .conf_index = 1, .data = snapshot->bufs[0]};
    test_send_data = snapshot->bufs[0].base;
    raft_free(snapshot->bufs);
    raft_free(snapshot);
    assert_int_equal(test_raft_io.send(&test_raft_io, &test_install_req, &message,
                                       test_raft_send_done), 0);
    raft_configuration_close(&message.install_snapshot.conf); /* raft's send callback does */
}

/* raft's core asks for its snapshot 100^3, and raft's legacy layer sends the index the load
 * returns under that term: a load that returns a newer snapshot of another term (a write ended
 * meanwhile) goes out under its own term, or a replica that installed it would refuse every
 * entry after it; one of the same term, or the one asked for, goes out as raft built it. */
static void test_newer_snapshot_of_another_term_sent_under_its_own(void **state) {
    (void)state;
    cluster_heap_install(); /* for the blocks the hold has it keep */
    test_raft.trail.snapshot.index = 100;
    test_raft.trail.snapshot.term = 3;
    test_raft.trail.offset = 100;
    const struct {
        raft_index index;
        raft_term term;
    } loads[] = {{120, 4}, {120, 3}, {100, 3}};
    for (u32 at = 0; at < ARRAY_COUNT(loads); at++) {
        struct raft_io_snapshot_get get;
        assert_int_equal(test_raft_io.snapshot_get(&test_raft_io, &get, test_raft_loaded), 0);
        assert_ptr_equal(test_io.get, &get);
        test_io.get_done(&get, test_snapshot(loads[at].index, loads[at].term), 0);
        assert_ptr_equal(test_send_req, &test_install_req);
        assert_int_equal(test_sent.type, RAFT_INSTALL_SNAPSHOT);
        assert_int_equal(test_sent.install_snapshot.last_index, loads[at].index);
        assert_int_equal(test_sent.install_snapshot.last_term, loads[at].term);
        assert_int_equal(test_sent.install_snapshot.term, 5);
        test_send_done(test_send_req, 0); /* raft's callback frees the data */
    }
    assert_int_equal(test_hold.gets_newer_total, 1);
    assert_int_equal(test_hold.gets_failed_total, 0);
    assert_int_equal(test_hold.newer.index, 0);
    cluster_heap_uninstall();
}

/* The same for an AppendEntries whose two entries share one batch: freed early by raft, it is
 * freed once, when the write calls back. */
static void test_entries_kept_while_written(void **state) {
    (void)state;
    cluster_heap_install(); /* for the blocks the hold has it keep */
    u64 early = cluster_hold_payloads_freed_early();
    test_send_data = raft_malloc(1u << 20);
    assert_non_null(test_send_data);
    struct raft_entry entries[2] = {
        {.term = 1, .type = RAFT_COMMAND, .buf = {.base = test_send_data, .len = 1024},
         .batch = test_send_data},
        {.term = 1, .type = RAFT_COMMAND,
         .buf = {.base = (u8 *)test_send_data + 1024, .len = 1024}, .batch = test_send_data}};
    struct raft_message message = {.type = RAFT_APPEND_ENTRIES};
    message.append_entries.entries = entries;
    message.append_entries.n_entries = 2;
    struct raft_io_send req;
    u32 cached = cluster_heap_stats().cached_blocks;
    assert_int_equal(test_raft_io.send(&test_raft_io, &req, &message, test_raft_send_done), 0);
    raft_free(test_send_data); /* raft's early free: put off */
    assert_int_equal(cluster_heap_stats().cached_blocks, cached);
    test_send_done(&req, 0);
    assert_int_equal(cluster_heap_stats().cached_blocks, cached + 1);
    assert_int_equal(cluster_heap_stats().double_frees, 0);
    assert_int_equal(cluster_hold_payloads_freed_early(), early + 1);
    cluster_heap_uninstall();
}

/* raft_uv's load as it leaves memory: entries 0 and 1 (the second empty) in one segment's
 * buffer, entry 2 in the next; each buffer a block of raft's heap. */
static struct raft_entry *test_loaded_entries;
static int test_io_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                        struct raft_snapshot **snapshot, raft_index *start_index,
                        struct raft_entry *entries[], size_t *count) {
    (void)io;
    *term = 3;
    *voted_for = 2;
    *snapshot = NULL;
    *start_index = 1;
    u8 *first = raft_malloc(64);
    u8 *second = raft_malloc(64);
    test_loaded_entries = raft_calloc(3, sizeof(struct raft_entry));
    assert_true(first != NULL && second != NULL && test_loaded_entries != NULL);
    memset(first, 'a', 64);
    memset(second, 'b', 64);
    test_loaded_entries[0] = (struct raft_entry){.term = 1, .type = RAFT_COMMAND,
                                                 .buf = {.base = first, .len = 24},
                                                 .batch = first};
    test_loaded_entries[1] = (struct raft_entry){.term = 1, .type = RAFT_BARRIER,
                                                 .buf = {.base = NULL, .len = 0}, .batch = first};
    test_loaded_entries[2] = (struct raft_entry){.term = 2, .type = RAFT_COMMAND,
                                                 .buf = {.base = second + 8, .len = 40},
                                                 .batch = second};
    *entries = test_loaded_entries;
    *count = 3;
    return 0;
}

/* raft's heap, counting its blocks, failing the allocation numbered `fail_at` (from 1). */
struct test_heap {
    u32 blocks;
    u32 allocations;
    u32 fail_at;
};
static struct test_heap test_heap;
static void *test_heap_malloc(void *data, size_t size) {
    (void)data;
    if (++test_heap.allocations == test_heap.fail_at) return NULL;
    test_heap.blocks++;
    return malloc(size);
}
static void test_heap_free(void *data, void *pointer) {
    (void)data;
    if (pointer != NULL) test_heap.blocks--;
    free(pointer);
}
static void *test_heap_calloc(void *data, size_t count, size_t size) {
    (void)data;
    test_heap.blocks++;
    return calloc(count, size);
}
static struct raft_heap test_raft_heap = {.malloc = test_heap_malloc, .free = test_heap_free,
                                          .calloc = test_heap_calloc};

static int test_load(raft_index *start, struct raft_entry **entries, size_t *count) {
    raft_term term = 0;
    raft_id voted_for = 0;
    struct raft_snapshot *snapshot = NULL;
    int status = test_raft_io.load(&test_raft_io, &term, &voted_for, &snapshot, start, entries,
                                   count);
    assert_null(snapshot);
    if (status == 0) assert_true(term == 3 && voted_for == 2);
    return status;
}

/* Every entry raft_uv loads gets a block of its own (raft frees a shared one under a send that
 * still holds some of its entries: cluster.h), with the same bytes; the segments' buffers are
 * freed. An allocation that fails halfway leaves nothing allocated and says so. */
static void test_loaded_entries_get_blocks_of_their_own(void **state) {
    (void)state;
    test_raft_io.load = test_io_load;
    cluster_hold_uninstall(&test_hold);
    assert_true(cluster_hold_install(&test_hold, &test_raft));
    memset(&test_heap, 0, sizeof(test_heap));
    raft_heap_set(&test_raft_heap);
    raft_index start = 0;
    struct raft_entry *entries = NULL;
    size_t count = 0;
    assert_int_equal(test_load(&start, &entries, &count), 0);
    assert_true(start == 1 && count == 3 && entries == test_loaded_entries);
    assert_int_equal(test_heap.blocks, 4); /* the array and three blocks: no buffer left */
    assert_true(entries[0].buf.len == 24 && entries[2].buf.len == 40);
    for (u32 at = 0; at < 24; at++) assert_int_equal(((u8 *)entries[0].buf.base)[at], 'a');
    for (u32 at = 0; at < 40; at++) assert_int_equal(((u8 *)entries[2].buf.base)[at], 'b');
    assert_true(entries[1].buf.base == NULL && entries[1].buf.len == 0);
    for (u32 entry = 0; entry < 3; entry++) {
        assert_non_null(entries[entry].batch);
        if (entry != 1) assert_ptr_equal(entries[entry].batch, entries[entry].buf.base);
        for (u32 other = 0; other < entry; other++) {
            assert_ptr_not_equal(entries[entry].batch, entries[other].batch);
        }
        raft_free(entries[entry].batch);
    }
    raft_free(entries);
    assert_int_equal(test_heap.blocks, 0);
    assert_int_equal(test_hold.loaded_entries_total, 3);
    test_heap = (struct test_heap){.fail_at = 4}; /* the second entry's block */
    assert_int_equal(test_load(&start, &entries, &count), RAFT_NOMEM);
    assert_true(entries == NULL && count == 0);
    assert_int_equal(test_heap.blocks, 0);
    assert_non_null(strstr(test_raft_io.errmsg, "copying the loaded log's entries"));
    assert_int_equal(test_hold.loaded_entries_total, 3);
    raft_heap_set_default();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_waits_for_a_write, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_loaded_entries_get_blocks_of_their_own, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_data_kept_while_written, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_entries_kept_while_written, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_write_waits_for_loads, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_failed_load_kept_from_raft, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_newer_snapshot_of_another_term_sent_under_its_own,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_install_waits_for_the_snapshot_taken, test_setup,
                                        test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
