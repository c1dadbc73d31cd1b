/*
 * test_cluster_membership.c: the parts of membership and repair that need no running cluster
 * (cluster_membership.h): a raft id holds a replica's index and generation; an identity's
 * generation and voters are written and read back; the check of raft's log at start passes a
 * whole log (the batch's bytes and checksums as raft 0.22 wrote them) and refuses one damaged
 * byte anywhere in a batch, or a batch cut short, naming the file and the offset, while the
 * zeros after an open segment's last batch and files that are not segments are ignored.
 * tests/cluster_membership.sh runs the commands on a real cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cluster_membership.h"

static char test_root[] = "/tmp/khorgos-cluster-membership-XXXXXX";

/* One batch as raft 0.22.1 wrote it (the first of a replica's open segment): the CRC-32s of
 * its header and data, one entry (term 2, a barrier, 8 bytes) and its 8 bytes of data. */
static const u8 test_batch[40] = {
    0x58, 0xc2, 0x69, 0x47, 0xa1, 0x70, 0x08, 0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0,
    0x02, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0x08, 0, 0, 0,
    0xe8, 0x68, 0xf3, 0x93, 0xdc, 0x55, 0, 0};

/* Writes `name` under the test's folder: the format version, `batches` copies of the batch,
 * then `zeros` zero bytes; returns the path. */
static void test_segment(const char *name, u32 batches, u32 zeros, char *path) {
    snprintf(path, 512, "%s/%s", test_root, name);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    static const u8 version[8] = {1};
    assert_int_equal(fwrite(version, 1, 8, file), 8);
    for (u32 index = 0; index < batches; index++) {
        assert_int_equal(fwrite(test_batch, 1, sizeof(test_batch), file), sizeof(test_batch));
    }
    for (u32 index = 0; index < zeros; index++) assert_int_equal(fputc(0, file), 0);
    assert_int_equal(fclose(file), 0);
}

static void test_flip(const char *path, long offset) {
    FILE *file = fopen(path, "r+b");
    assert_non_null(file);
    assert_int_equal(fseek(file, offset, SEEK_SET), 0);
    int byte = fgetc(file);
    assert_int_equal(fseek(file, offset, SEEK_SET), 0);
    assert_int_equal(fputc(byte ^ 0x10, file), byte ^ 0x10);
    assert_int_equal(fclose(file), 0);
}

static khorgos_error test_check(char *message, size_t capacity) {
    message[0] = '\0';
    return cluster_raft_log_check(test_root, message, capacity);
}

static void test_raft_ids(void **state) {
    (void)state;
    assert_int_equal(cluster_raft_id(0, 0), 1); /* the first generation keeps index + 1 */
    assert_int_equal(cluster_raft_id(4, 0), 5);
    raft_id id = cluster_raft_id(2, 7);
    assert_int_equal(id, 8 * 7 + 3);
    assert_int_equal(cluster_raft_id_replica(id), 2);
    assert_int_equal(cluster_raft_id_generation(id), 7);
    id = cluster_raft_id(4, CLUSTER_GENERATION_MAX);
    assert_int_equal(cluster_raft_id_replica(id), 4);
    assert_int_equal(cluster_raft_id_generation(id), CLUSTER_GENERATION_MAX);
    assert_string_equal(cluster_member_role_name(RAFT_VOTER), "voter");
    assert_string_equal(cluster_member_role_name(RAFT_STANDBY), "standby");
    assert_string_equal(cluster_member_role_name(RAFT_SPARE), "spare");
}

static void test_identity_generation(void **state) {
    (void)state;
    char message[256];
    struct cluster_identity identity = {.cluster = 7, .replica = 3, .replica_count = 5,
                                        .voters = 3, .generation = 12};
    assert_true(cluster_identity_valid(&identity));
    assert_int_equal(cluster_identity_write(test_root, &identity, message, sizeof(message)),
                     KHORGOS_ERROR_ok);
    struct cluster_identity read;
    assert_int_equal(cluster_identity_read(test_root, &read, message, sizeof(message)),
                     KHORGOS_ERROR_ok);
    assert_int_equal(read.generation, 12);
    assert_int_equal(read.voters, 3);
    assert_int_equal(read.replica, 3);
    char path[512];
    snprintf(path, sizeof(path), "%s/cluster", test_root);
    assert_int_equal(unlink(path), 0);
    struct cluster_identity bad = identity;
    bad.voters = 6; /* more voters than replicas */
    assert_false(cluster_identity_valid(&bad));
    bad = identity;
    bad.generation = CLUSTER_GENERATION_MAX + 1;
    assert_false(cluster_identity_valid(&bad));
    assert_int_equal(cluster_identity_write(test_root, &bad, message, sizeof(message)),
                     KHORGOS_ERROR_invalid_argument);
}

static void test_log_check(void **state) {
    (void)state;
    char message[1024];
    char path[512];
    char other[512];
    assert_int_equal(test_check(message, sizeof(message)), KHORGOS_ERROR_ok); /* no log */
    test_segment("0000000000000001-0000000000000002", 2, 0, path);
    test_segment("open-3", 3, 4096, other);
    test_segment("metadata1", 0, 3, message); /* not a segment: never read as one */
    assert_int_equal(test_check(message, sizeof(message)), KHORGOS_ERROR_ok);
    /* A flipped byte in the open segment's last batch, its header or its data. */
    for (long offset = 8 + 80; offset < 8 + 120; offset += 13) {
        test_segment("open-3", 3, 4096, other);
        test_flip(other, offset);
        assert_int_equal(test_check(message, sizeof(message)), KHORGOS_ERROR_corrupt);
        assert_non_null(strstr(message, other));
        assert_non_null(strstr(message, "at offset 88"));
    }
    /* Garbage after the last batch, where the preallocated zeros were. */
    test_segment("open-3", 3, 4096, other);
    test_flip(other, 8 + 120 + 3);
    assert_int_equal(test_check(message, sizeof(message)), KHORGOS_ERROR_corrupt);
    assert_non_null(strstr(message, "at offset 128"));
    /* A closed segment cut inside its second batch. */
    test_segment("open-3", 3, 4096, other);
    assert_int_equal(truncate(path, 8 + 40 + 20), 0);
    assert_int_equal(test_check(message, sizeof(message)), KHORGOS_ERROR_corrupt);
    assert_non_null(strstr(message, path));
    assert_non_null(strstr(message, "at offset 48"));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(unlink(other), 0);
}

static int test_setup(void **state) {
    (void)state;
    return mkdtemp(test_root) == NULL ? -1 : 0;
}

static int test_teardown(void **state) {
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", test_root);
    return system(command) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raft_ids),
        cmocka_unit_test(test_identity_generation),
        cmocka_unit_test(test_log_check),
    };
    return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
