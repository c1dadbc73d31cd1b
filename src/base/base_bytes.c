/*
 * base_bytes.c: whether a range of bytes is all zero, the one test behind every "reserved must
 * be zero" rule (ledger filters, wire headers) and the journal's check of a preallocated tail.
 * It reads a word at a time, since the journal's use scans megabytes.
 */
#include "base/base.h"

#include <string.h>

bool base_bytes_zero(const void *bytes, u64 size) {
    ASSERT(bytes != NULL || size == 0);
    const u8 *at = bytes;
    u64 index = 0;
    for (; index + sizeof(u64) <= size; index += sizeof(u64)) {
        u64 word;
        memcpy(&word, at + index, sizeof(word));
        if (word != 0) return false;
    }
    for (; index < size; index++) {
        if (at[index] != 0) return false;
    }
    ASSERT(index == size);
    return true;
}
