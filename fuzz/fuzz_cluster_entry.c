/*
 * fuzz_cluster_entry.c: libFuzzer target for the decoder of a raft entry (cluster.h, version 3:
 * request bodies packed, their zero words left out), cluster_entry_expand, which every replica
 * runs on every committed entry before applying it.
 *
 * The first input byte chooses the mode: even, the rest is an entry as raft hands it over;
 * odd, the harness first writes the magic, the version and body_bytes (the rest's length less
 * the header) into the rest's header, so the checks of requests and bitmaps are reached. The
 * decoder must never crash, read or write out of bounds (AddressSanitizer and
 * UndefinedBehaviorSanitizer watch) and two properties are checked, a failure aborting:
 *   1. an entry is accepted (ok) or refused (corrupt), and an accepted one expands to at most
 *      CLUSTER_ENTRY_BYTES_MAX with the same header but its body_bytes;
 *   2. an accepted entry packs again (cluster_entry_pack) to the same bytes: an entry has one
 *      encoding.
 * Seeds (fuzz/corpus/cluster_entry): a batch of transfers, a batch of a session's register and
 * a 20-byte body, a check entry; fuzz/make-seeds.py writes them.
 */
#include "cluster/cluster.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static u8 *fuzz_entry;
static u8 *fuzz_expanded;
static u8 *fuzz_packed;

static void fuzz_reserve(void) {
    if (fuzz_entry != NULL) return;
    fuzz_entry = malloc(CLUSTER_ENTRY_ENCODED_BYTES_MAX);
    fuzz_expanded = aligned_alloc(16, CLUSTER_ENTRY_BYTES_MAX);
    fuzz_packed = malloc(CLUSTER_ENTRY_ENCODED_BYTES_MAX);
    ASSERT(fuzz_entry != NULL && fuzz_expanded != NULL);
    ASSERT(fuzz_packed != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size - 1 > CLUSTER_ENTRY_ENCODED_BYTES_MAX) return 0;
    fuzz_reserve();
    u64 bytes = size - 1;
    memcpy(fuzz_entry, data + 1, bytes);
    if ((data[0] & 1) != 0 && bytes >= CLUSTER_ENTRY_HEADER_BYTES) {
        u32 magic = CLUSTER_ENTRY_MAGIC;
        u16 version = CLUSTER_ENTRY_VERSION;
        u64 body_bytes = bytes - CLUSTER_ENTRY_HEADER_BYTES;
        memcpy(fuzz_entry, &magic, sizeof(magic));
        memcpy(fuzz_entry + 4, &version, sizeof(version));
        memcpy(fuzz_entry + 32, &body_bytes, sizeof(body_bytes));
    }
    u64 expanded_bytes = 0;
    khorgos_error error = cluster_entry_expand(fuzz_entry, bytes, fuzz_expanded, &expanded_bytes);
    ASSERT(error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_corrupt);
    if (error != KHORGOS_ERROR_ok) return 0;
    ASSERT(expanded_bytes >= CLUSTER_ENTRY_HEADER_BYTES);
    ASSERT(expanded_bytes <= CLUSTER_ENTRY_BYTES_MAX);
    ASSERT(memcmp(fuzz_expanded, fuzz_entry, 32) == 0);
    ASSERT(memcmp(fuzz_expanded + 40, fuzz_entry + 40, 8) == 0);
    u64 packed = cluster_entry_pack(fuzz_expanded, expanded_bytes, fuzz_packed);
    ASSERT(packed == bytes);
    ASSERT(memcmp(fuzz_packed, fuzz_entry, bytes) == 0);
    return 0;
}
