/*
 * test_cluster_identity.c: a replica's identity file, DIR/cluster (cluster.h, "Identity"):
 * written once and read back; refused, with a named error and a message naming the file, when
 * it is missing, damaged anywhere, of another size or version, or reached through a symbolic
 * link; an invalid identity is never written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster.h"

static char test_root[] = "/tmp/khorgos-cluster-identity-XXXXXX";

static void test_file_bytes(const char *path, void *bytes, size_t size, bool write) {
    FILE *file = fopen(path, write ? "wb" : "rb");
    assert_non_null(file);
    size_t done = write ? fwrite(bytes, 1, size, file) : fread(bytes, 1, size, file);
    assert_int_equal(done, size);
    assert_int_equal(fclose(file), 0);
}

static khorgos_error test_read(struct cluster_identity *identity) {
    char message[256];
    khorgos_error error = cluster_identity_read(test_root, identity, message, sizeof(message));
    if (error != KHORGOS_ERROR_ok) {
        assert_non_null(strstr(message, test_root)); /* names the file */
        assert_non_null(strstr(message, "/cluster"));
    }
    return error;
}

static void test_identity_round_trip_and_refusals(void **state) {
    (void)state;
    assert_non_null(mkdtemp(test_root));
    struct cluster_identity identity;
    char message[256];
    assert_int_equal(test_read(&identity), KHORGOS_ERROR_not_found);
    struct cluster_identity bad = {.cluster = 7, .replica = 3, .replica_count = 3};
    assert_int_equal(cluster_identity_write(test_root, &bad, message, sizeof(message)),
                     KHORGOS_ERROR_invalid_argument);
    bad = (struct cluster_identity){.cluster = 7, .replica = 0, .replica_count = 4};
    assert_int_equal(cluster_identity_write(test_root, &bad, message, sizeof(message)),
                     KHORGOS_ERROR_invalid_argument);
    assert_int_equal(test_read(&identity), KHORGOS_ERROR_not_found); /* nothing written */
    const struct cluster_identity good = {.cluster = ((u128)1 << 100) + 7, .replica = 4,
                                          .replica_count = 5};
    assert_int_equal(cluster_identity_write(test_root, &good, message, sizeof(message)),
                     KHORGOS_ERROR_ok);
    assert_int_equal(cluster_identity_write(test_root, &good, message, sizeof(message)),
                     KHORGOS_ERROR_exists);
    assert_int_equal(test_read(&identity), KHORGOS_ERROR_ok);
    assert_true(identity.cluster == good.cluster);
    assert_int_equal(identity.replica, 4);
    assert_int_equal(identity.replica_count, 5);
    char path[128];
    snprintf(path, sizeof(path), "%s/cluster", test_root);
    u8 bytes[CLUSTER_IDENTITY_BYTES + 1];
    test_file_bytes(path, bytes, CLUSTER_IDENTITY_BYTES, false);
    u8 damaged[CLUSTER_IDENTITY_BYTES + 1];
    for (u32 offset = 0; offset < CLUSTER_IDENTITY_BYTES; offset++) {
        memcpy(damaged, bytes, CLUSTER_IDENTITY_BYTES);
        damaged[offset] ^= 0x20;
        test_file_bytes(path, damaged, CLUSTER_IDENTITY_BYTES, true);
        assert_int_equal(test_read(&identity), KHORGOS_ERROR_corrupt);
        assert_int_equal(identity.replica_count, 0); /* nothing half read */
    }
    test_file_bytes(path, bytes, CLUSTER_IDENTITY_BYTES - 1, true);
    assert_int_equal(test_read(&identity), KHORGOS_ERROR_corrupt);
    memcpy(damaged, bytes, CLUSTER_IDENTITY_BYTES);
    damaged[CLUSTER_IDENTITY_BYTES] = 0;
    test_file_bytes(path, damaged, CLUSTER_IDENTITY_BYTES + 1, true);
    assert_int_equal(test_read(&identity), KHORGOS_ERROR_corrupt);
    /* Another version, whole (its checksum right): format_version, not corrupt. */
    struct cluster_identity_file file;
    memcpy(&file, bytes, sizeof(file));
    file.version = CLUSTER_IDENTITY_VERSION + 1;
    file.checksum = base_checksum128((const u8 *)&file + 16, sizeof(file) - 16);
    test_file_bytes(path, &file, sizeof(file), true);
    assert_int_equal(test_read(&identity), KHORGOS_ERROR_format_version);
    /* Whole, but an identity no format writes (replica 5 of 5). */
    memcpy(&file, bytes, sizeof(file));
    file.replica = 5;
    file.checksum = base_checksum128((const u8 *)&file + 16, sizeof(file) - 16);
    test_file_bytes(path, &file, sizeof(file), true);
    assert_int_equal(test_read(&identity), KHORGOS_ERROR_corrupt);
    /* A symbolic link in its place is not followed. */
    test_file_bytes(path, bytes, CLUSTER_IDENTITY_BYTES, true);
    char target[160];
    snprintf(target, sizeof(target), "%s/elsewhere", test_root);
    assert_int_equal(rename(path, target), 0);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(test_read(&identity), KHORGOS_ERROR_io);
    char command[200];
    snprintf(command, sizeof(command), "rm -rf '%s'", test_root);
    assert_int_equal(system(command), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
