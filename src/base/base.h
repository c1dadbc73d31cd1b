/*
 * base: the layer every other layer stands on. Integers (u128 included), the always-on
 * assertion, limits, errors, checksums, the clock and the id map.
 *
 * Design notes
 *
 * 1. Assertions are always on, in every build, because a settlement engine that continues after
 *    breaking an invariant can move money wrongly; stopping is always the cheaper failure.
 *    ASSERT prints file, line and the expression, then aborts.
 *
 * 2. Every limit of the engine is declared below, each with its reason, and relations between
 *    limits are checked with _Static_assert. Code elsewhere uses these names, never literals.
 *
 * 3. Checksums (see base_checksum.c):
 *    - base_checksum128: XXH3-128 from libxxhash, for detecting accidental damage (torn writes,
 *      bit flips) in records and snapshots; about 30 GB/s, so it costs nothing per commit.
 *    - base_sha256: SHA-256 from OpenSSL (uses the CPU's SHA extensions), for the journal's hash
 *      chain, which must resist deliberate tampering as well as accidents.
 *    - base_aegis_checksum (base_aegis.c): TigerBeetle's checksum, AEGIS-128L with a zero key,
 *      for its wire protocol's headers and bodies; on the CPU's AES instructions when present,
 *      else in portable C. No Debian library has AEGIS, so it is written here from the spec.
 *
 * 4. The id map (base_id_map.c) maps a nonzero u128 id to a u32 index with open addressing and
 *    linear probing. Its slots are reserved once at init for a fixed count of keys at a load of
 *    at most 1/2, so lookups are expected O(1) and no insert ever allocates. Removal uses
 *    backward-shift deletion, so there are no tombstones and probe lengths never degrade.
 *    Invariants: (a) key 0 marks an empty slot; (b) every present key lies between its home slot
 *    and the first empty slot after it; (c) count <= count_max. A create probes once:
 *    base_id_map_find answers "present?" and, when not, names the slot base_id_map_insert_at
 *    fills later, so a new id costs one walk of its run instead of two.
 */
#ifndef KHORGOS_BASE_H
#define KHORGOS_BASE_H

#include "khorgos.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;
typedef khorgos_u128 u128;

#define U128_MAX KHORGOS_U128_MAX
#define U64_MAX UINT64_MAX
#define U32_MAX UINT32_MAX

/* ----------------------------------------------------------------------------------------- */
/* Assertions.                                                                                */

_Noreturn void base_assert_fail(const char *file, int line, const char *expression);

#define ASSERT(expression)                                                                     \
    do {                                                                                       \
        if (!(expression)) base_assert_fail(__FILE__, __LINE__, #expression);                 \
    } while (0)

#define ARRAY_COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* ----------------------------------------------------------------------------------------- */
/* Limits, each with its reason.                                                              */

/* Events in one client request: TigerBeetle's batch size, so a full batch fits in 1 MiB. */
#define LIMIT_BATCH_EVENTS_MAX KHORGOS_BATCH_EVENTS_MAX
/* Bytes of one message body, a request's or a reply's: a full batch of 128-byte records, so
 * that a message with its header fits in 1 MiB (TigerBeetle's message size) and a journal
 * record holds any request. Operations with larger records take fewer of them (4,094 of 256
 * bytes): a request or a reply never needs more than one message. */
#define LIMIT_MESSAGE_BODY_BYTES_MAX KHORGOS_MESSAGE_BODY_BYTES_MAX
/* Bytes of one request body (the journal's record body holds at most this) and of one reply. */
#define LIMIT_REQUEST_BODY_BYTES_MAX LIMIT_MESSAGE_BODY_BYTES_MAX
#define LIMIT_REPLY_BODY_BYTES_MAX LIMIT_MESSAGE_BODY_BYTES_MAX
/* Records of `record_bytes` bytes in one message body: the batch, or fewer for large records. */
#define LIMIT_RECORDS_MAX(record_bytes)                                                        \
    MIN(LIMIT_BATCH_EVENTS_MAX, LIMIT_MESSAGE_BODY_BYTES_MAX / (u32)(record_bytes))
/* Default capacities when a config leaves them zero: big enough for the demo, the tests and a
 * simulated business day; production sizes are given at format time. */
#define LIMIT_ACCOUNT_COUNT_DEFAULT (1u << 16)
#define LIMIT_TRANSFER_COUNT_DEFAULT (1u << 22)
#define LIMIT_ACCOUNT_BALANCE_COUNT_DEFAULT (1u << 20)
/* Hard ceilings: indexes are u32 and the id maps hold twice the count in slots. */
#define LIMIT_ACCOUNT_COUNT_MAX (1u << 26)
#define LIMIT_TRANSFER_COUNT_MAX (1u << 30)
#define LIMIT_ACCOUNT_BALANCE_COUNT_MAX (1u << 30)
/* Bytes of one JSON request line: a full batch of transfers written with every field. */
#define LIMIT_JSON_LINE_BYTES_MAX (LIMIT_BATCH_EVENTS_MAX * 1024u)
/* Nesting depth of a JSON request: requests are at most four levels deep. */
#define LIMIT_JSON_DEPTH_MAX 8u
/* Decimal digits of a u128: 340282366920938463463374607431768211455 has 39. */
#define LIMIT_U128_DECIMAL_DIGITS_MAX 39u

_Static_assert(sizeof(struct khorgos_account) == 128, "account record is 128 bytes");
_Static_assert(sizeof(struct khorgos_transfer) == 128, "transfer record is 128 bytes");
_Static_assert(sizeof(struct khorgos_account_balance) == 128, "balance record is 128 bytes");
_Static_assert(sizeof(struct khorgos_account_filter) == 128, "account filter is 128 bytes");
_Static_assert(sizeof(struct khorgos_query_filter) == 64, "query filter is 64 bytes");
_Static_assert(sizeof(struct khorgos_create_result) == 16, "create result is 16 bytes");
_Static_assert(LIMIT_MESSAGE_BODY_BYTES_MAX == LIMIT_BATCH_EVENTS_MAX * 128u, "a batch of 128 B");
_Static_assert(LIMIT_MESSAGE_BODY_BYTES_MAX + 256u <= (1u << 20), "a message fits in 1 MiB");
_Static_assert(LIMIT_RECORDS_MAX(256) == 4094u, "4,094 records of 256 bytes");
_Static_assert(LIMIT_ACCOUNT_COUNT_DEFAULT <= LIMIT_ACCOUNT_COUNT_MAX, "default within max");
_Static_assert(LIMIT_TRANSFER_COUNT_DEFAULT <= LIMIT_TRANSFER_COUNT_MAX, "default within max");
_Static_assert(LIMIT_TRANSFER_COUNT_MAX <= (U32_MAX / 2), "id map slots fit in u32");

/* ----------------------------------------------------------------------------------------- */
/* u128.                                                                                      */

/* Whether the `size` bytes at `bytes` are all zero (base_bytes.c). */
bool base_bytes_zero(const void *bytes, u64 size);

/* Writes `value` in decimal, NUL-terminated; returns the length (at most 39). `out` must hold
 * at least LIMIT_U128_DECIMAL_DIGITS_MAX + 1 bytes. */
size_t base_u128_format(u128 value, char *out);
/* Reads an unsigned decimal of `length` digits exactly; -1 on empty input, a non-digit or
 * overflow past 2^128 - 1. Leading zeros are accepted. */
int base_u128_parse(const char *text, size_t length, u128 *value);

static inline bool base_u128_add_overflows(u128 a, u128 b) { return a + b < a; }

/* ----------------------------------------------------------------------------------------- */
/* Checksums.                                                                                 */

u128 base_checksum128(const void *data, size_t size);
/* Incremental XXH3-128 over several pieces; state is opaque, sized for XXH3_state_t. */
struct base_checksum_stream {
    _Alignas(64) unsigned char opaque[640];
};
void base_checksum_stream_init(struct base_checksum_stream *stream);
void base_checksum_stream_add(struct base_checksum_stream *stream, const void *data, size_t size);
u128 base_checksum_stream_final(struct base_checksum_stream *stream);

#define BASE_SHA256_BYTES 32u
void base_sha256(const void *data, size_t size, u8 digest[BASE_SHA256_BYTES]);

/* AEGIS-128L (base_aegis.c), for TigerBeetle's wire protocol: its checksum is AEGIS-128L's
 * 128-bit tag with a zero key and nonce, the data as associated data and no message, read as a
 * little-endian u128. */
#define BASE_AEGIS_KEY_BYTES 16u
#define BASE_AEGIS_NONCE_BYTES 16u
#define BASE_AEGIS_TAG_BYTES 16u

enum base_aegis_engine {
    BASE_AEGIS_ENGINE_AUTO = 0,         /* the AES instructions when the CPU has them */
    BASE_AEGIS_ENGINE_PORTABLE = 1,     /* plain C with an S-box table */
    BASE_AEGIS_ENGINE_AES_INSTRUCTIONS = 2, /* x86 AES-NI; only where available */
};

struct base_aegis_input {
    const u8 *key;   /* BASE_AEGIS_KEY_BYTES */
    const u8 *nonce; /* BASE_AEGIS_NONCE_BYTES */
    const void *ad;  /* associated data, authenticated only */
    size_t ad_size;
    const void *message; /* encrypted into `ciphertext`, message_size bytes */
    size_t message_size;
};

/* True when the CPU has the AES instructions this build can use. */
bool base_aegis_hardware_available(void);
/* AEGIS-128L encryption with a 128-bit tag; `ciphertext` holds message_size bytes (NULL when
 * there is no message). */
void base_aegis128l_encrypt(const struct base_aegis_input *input, void *ciphertext,
                            u8 tag[BASE_AEGIS_TAG_BYTES]);
/* The same with a chosen implementation (tests compare them). */
void base_aegis128l_encrypt_with(enum base_aegis_engine engine,
                                 const struct base_aegis_input *input, void *ciphertext,
                                 u8 tag[BASE_AEGIS_TAG_BYTES]);
/* TigerBeetle's checksum of `size` bytes. */
u128 base_aegis_checksum(const void *data, size_t size);
u128 base_aegis_checksum_with(enum base_aegis_engine engine, const void *data, size_t size);

/* ----------------------------------------------------------------------------------------- */
/* Clock.                                                                                     */

/* Makes every page of [memory, memory + bytes) resident and writable, each holding what it
 * held (for memory reserved at open and possibly already in use after recovery): one
 * madvise(MADV_POPULATE_WRITE), or where the kernel refuses it each page's first byte written
 * back. */
void base_memory_prefault(void *memory, size_t bytes);
/* Asks the kernel to back the whole 2 MiB pages inside [memory, memory + bytes) with huge
 * pages where it can (madvise(MADV_HUGEPAGE): transparent huge pages in their default `madvise`
 * mode), for memory about to be filled densely at random: one page fault and one TLB entry per
 * 2 MiB instead of per 4 KiB. Only advice: where the kernel refuses it, nothing changes. */
void base_memory_huge_pages(void *memory, size_t bytes);
/* Both, for a table made resident in full (khorgos_open_options.memory_prefault): advised onto
 * huge pages, then resident. Huge pages matter most on a virtual machine, where each TLB miss
 * walks two sets of page tables: `khorgos benchmark` (its tables resident, 2,000,000
 * transfers) ran at 3.03-3.06 million transfers per second with them and 1.35-1.63 million
 * with the same tables on 4 KiB pages, on the 2-core VM. */
void base_memory_resident(void *memory, size_t bytes);

u64 base_clock_realtime_ns(void);
u64 base_clock_monotonic_ns(void);
/* User and system CPU time of the whole process (every thread) so far: what a benchmark on a
 * shared machine measures, being less disturbed by other programs than wall time. */
u64 base_clock_process_cpu_ns(void);

/* A monotonic clock that a test can replace: now_ns reads it, sleep_ns waits at least that
 * long on it. Code that paces itself by elapsed time (a checkpoint's writes, storage.h) reads
 * time only through one, so a deterministic simulation can run it on simulated time, where
 * sleep_ns moves the simulated clock on. base_clock_system is CLOCK_MONOTONIC and nanosleep. */
struct base_clock {
    u64 (*now_ns)(void *context);
    void (*sleep_ns)(void *context, u64 duration_ns);
    void *context;
};
extern const struct base_clock base_clock_system;

/* ----------------------------------------------------------------------------------------- */
/* Id map: nonzero u128 -> u32, reserved at init, no allocation afterwards.                   */

/* Keys per 4 KiB page of slots from which base_id_map_fault_in makes every page present: keys
 * hashed at random onto as many pages as keys / 2 touch 1 - e^-2 = 86% of them already. */
#define BASE_ID_MAP_FAULT_IN_KEYS_PER_PAGE 2u

struct base_id_map_slot {
    u128 key;
    u32 value;
    u32 padding[3];
};

struct base_id_map {
    struct base_id_map_slot *slots;
    u64 slot_mask;
    u32 count;
    u32 count_max;
};

/* Reserves room for `count_max` keys. Returns ok or out_of_memory. */
khorgos_error base_id_map_init(struct base_id_map *map, u32 count_max);
void base_id_map_deinit(struct base_id_map *map);
/* Before `count` keys go into an empty map at once (a snapshot's load): when they would touch
 * most of its pages anyway, every page is made present and writable in one call, since a
 * probe's read maps an untouched page to the shared zero page and the insert's write then
 * copies it: two faults, the second flushing the TLBs of every CPU the process ran on. Such a
 * map is also advised to use huge pages (base_memory_huge_pages): each key lands on a random
 * page, so with 4 KiB pages nearly every insert also missed the TLB. A map filled sparsely is
 * left alone, so its memory is only taken as keys arrive, 4 KiB at a time. */
void base_id_map_fault_in(struct base_id_map *map, u32 count);
/* Finds `key`; returns true and sets *value when present. */
bool base_id_map_get(const struct base_id_map *map, u128 key, u32 *value);
/* Inserts a key that must not be present; the map must not be full. */
void base_id_map_insert(struct base_id_map *map, u128 key, u32 value);
/* One probe for both questions a create asks: finds `key` (returns true and sets *value), or
 * returns false and sets *slot to the empty slot where it would go. base_id_map_insert_at then
 * inserts it there without probing again, provided the map was not changed in between (the
 * caller's duty: the slot is only the first empty one of the key's run while nothing moves). */
bool base_id_map_find(const struct base_id_map *map, u128 key, u32 *value, u64 *slot);
void base_id_map_insert_at(struct base_id_map *map, u64 slot, u128 key, u32 value);
/* Removes a key that must be present. */
void base_id_map_remove(struct base_id_map *map, u128 key);
void base_id_map_clear(struct base_id_map *map);

/* A 64-bit mix of a u128, for hashing ids that are often sequential. */
static inline u64 base_hash_u128(u128 key) {
    u64 low = (u64)key;
    u64 high = (u64)(key >> 64);
    u64 hash = low ^ (high * 0x9E3779B97F4A7C15ull);
    hash ^= hash >> 33;
    hash *= 0xFF51AFD7ED558CCDull;
    hash ^= hash >> 33;
    hash *= 0xC4CEB9FE1A85EC53ull;
    hash ^= hash >> 33;
    return hash;
}

/* Asks the CPU to fetch `key`'s home slot for writing, so a loop that inserts or looks up many
 * keys can have the next keys' cache misses in flight while it works on this one. */
static inline void base_id_map_prefetch(const struct base_id_map *map, u128 key) {
    ASSERT(map->slots != NULL);
    __builtin_prefetch(&map->slots[base_hash_u128(key) & map->slot_mask], 1);
}

#endif /* KHORGOS_BASE_H */
