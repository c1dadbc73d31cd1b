/*
 * test_cluster_replica.c: the replica's raft addresses from the client addresses
 * (cluster_replica_raft_addresses): the same host, the port plus CLUSTER_RAFT_PORT_OFFSET, a
 * bare port on 127.0.0.1; exactly as many as the cluster has replicas, or a usage error that
 * says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cluster/cluster_replica.h"

static void test_raft_addresses_follow_the_client_addresses(void **state) {
    (void)state;
    char addresses[CLUSTER_REPLICA_COUNT_MAX][CLUSTER_ADDRESS_BYTES];
    char message[256] = "";
    assert_int_equal(cluster_replica_raft_addresses("127.0.0.1:4700,10.0.0.2:3001,4702", 3,
                                                    addresses, message, sizeof(message)),
                     KHORGOS_ERROR_ok);
    assert_string_equal(addresses[0], "127.0.0.1:5700");
    assert_string_equal(addresses[1], "10.0.0.2:4001");
    assert_string_equal(addresses[2], "127.0.0.1:5702");
    assert_int_equal(cluster_replica_raft_addresses("1,2,3,4,5", 5, addresses, message,
                                                    sizeof(message)), KHORGOS_ERROR_ok);
    assert_string_equal(addresses[4], "127.0.0.1:1005");
}

static void test_raft_addresses_refused(void **state) {
    (void)state;
    char addresses[CLUSTER_REPLICA_COUNT_MAX][CLUSTER_ADDRESS_BYTES];
    char message[256];
    const char *bad[] = {"4700,4701",        "4700,4701,4702,4703", "4700,,4702",
                         "4700,4701,x",      "4700,4701,64536",     "4700,4701,0",
                         "4700,4701,:4702",  "4700,4701,4702,",     ""};
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++) {
        message[0] = '\0';
        assert_int_equal(cluster_replica_raft_addresses(bad[index], 3, addresses, message,
                                                        sizeof(message)),
                         KHORGOS_ERROR_invalid_argument);
        assert_true(strstr(message, "addresses") != NULL);
    }
    assert_int_equal(cluster_replica_raft_addresses("4700,4701", 3, addresses, message,
                                                    sizeof(message)),
                     KHORGOS_ERROR_invalid_argument);
    assert_string_equal(message, "--addresses names 2 addresses; the data directory's cluster "
                                 "has 3 replicas");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raft_addresses_follow_the_client_addresses),
        cmocka_unit_test(test_raft_addresses_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
