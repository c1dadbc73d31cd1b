/*
 * fuzz_journal.c: libFuzzer target for the journal's record and header-copy decoding: the
 * scan of storage_journal_recover (record headers, bodies, the hash chain, the header copies,
 * torn tails and confirmations) over a segment made from the input.
 *
 * Input: flags (1 byte), copies (1 byte), journal length (2 bytes, little-endian), the
 * journal file's bytes, then the rest as raw bytes of the headers file.
 *   flags bit 0  reseal: walk the journal's bytes as records and recompute each whole
 *                record's body checksum, hash_previous and header checksum, so the fuzzer
 *                reaches past the checksums (of a record whose body passes the end of the
 *                bytes, only the header checksum)
 *   flags bit 1  fix fields: also set each record's sequence, offset and magic as a writer
 *                would (the fuzzer then varies the rest)
 *   flags bit 2  the headers file starts with `copies` copies of the (resealed) record headers
 *   flags bit 3  preallocate both files to their full size (zeros), as a segment start does
 *   flags bit 4,5  the snapshot's sequence replay starts after (0 to 3), with its chain head
 * Properties, a failure aborting:
 *   1. recovery returns ok or corrupt (the disk never fails here), never crashes;
 *   2. check (repair off) and open (repair on) classify the segment the same way: the same
 *      result, and when ok the same records, last sequence and chain head;
 *   3. replay sees dense sequences after the snapshot's, each record's header valid;
 *   4. the repaired storage takes an append, and
 *   5. the next recovery finds one record more and nothing left to repair.
 */
#include "fuzz_support.h"

#define FUZZ_JOURNAL_BYTES_MAX (64u << 10)

static u8 *fuzz_journal;
static u8 fuzz_headers[FUZZ_JOURNAL_BYTES_MAX] __attribute__((aligned(16)));
static u8 fuzz_chains[4][BASE_SHA256_BYTES];

struct fuzz_replay {
    u64 sequence_next;
    u64 records;
};

static khorgos_error fuzz_replay_record(void *context, const struct storage_record_header *header,
                                        const void *body) {
    struct fuzz_replay *replay = context;
    ASSERT(header != NULL && body != NULL);
    ASSERT(storage_record_header_valid(header)); /* property 3 */
    if (replay->sequence_next != 0) ASSERT(header->sequence == replay->sequence_next);
    replay->sequence_next = header->sequence + 1;
    replay->records++;
    return KHORGOS_ERROR_ok;
}

/* The header checksum, whatever the fields hold (storage_record_header_seal wants them right). */
static void fuzz_seal(struct storage_record_header *header) {
    header->checksum =
        base_checksum128((const u8 *)header + 16, STORAGE_RECORD_HEADER_BYTES - 16);
}

/* Reseals the records that fit in the journal's bytes; returns how many it walked. */
static u32 fuzz_reseal(u8 *journal, u64 length, bool fix_fields, u32 copies_max) {
    u8 chain[BASE_SHA256_BYTES] = {0};
    u64 offset = 0;
    u32 records = 0;
    memset(fuzz_chains, 0, sizeof(fuzz_chains));
    while (offset + STORAGE_RECORD_HEADER_BYTES <= length) {
        struct storage_record_header *header = (void *)(journal + offset);
        u64 padded = STORAGE_BODY_PADDED(header->body_size);
        if (padded > length - offset - STORAGE_RECORD_HEADER_BYTES) {
            /* The body passes the end: the header alone is sealed (a valid header whose
             * body_size the scanner must not trust to fit its buffers). */
            memcpy(header->hash_previous, chain, BASE_SHA256_BYTES);
            fuzz_seal(header);
            break;
        }
        if (fix_fields) {
            header->sequence = records + 1;
            header->offset = offset;
            header->magic = STORAGE_RECORD_MAGIC;
            memset(header->reserved, 0, sizeof(header->reserved));
        }
        header->checksum_body = base_checksum128(header + 1, padded);
        memcpy(header->hash_previous, chain, BASE_SHA256_BYTES);
        fuzz_seal(header);
        storage_record_hash(header, header + 1, chain);
        if (records < 3) memcpy(fuzz_chains[records + 1], chain, BASE_SHA256_BYTES);
        if (records < copies_max) {
            memcpy(fuzz_headers + (u64)records * STORAGE_RECORD_HEADER_BYTES, header,
                   STORAGE_RECORD_HEADER_BYTES);
        }
        records++;
        offset += STORAGE_RECORD_HEADER_BYTES + padded;
    }
    return records;
}

struct fuzz_outcome {
    khorgos_error error;
    struct storage_report report;
    struct fuzz_replay replay;
};

static struct storage *fuzz_recover(struct storage_io *io, u64 after_sequence, bool repair,
                                    struct fuzz_outcome *outcome) {
    struct storage *storage = NULL;
    ASSERT(storage_create(io, &fuzz_superblock, &storage) == KHORGOS_ERROR_ok);
    memset(outcome, 0, sizeof(*outcome));
    outcome->replay.sequence_next = after_sequence + 1;
    outcome->error = storage_journal_recover(storage, after_sequence, fuzz_chains[after_sequence],
                                             repair, fuzz_replay_record, &outcome->replay,
                                             &outcome->report);
    /* Property 1. */
    ASSERT(outcome->error == KHORGOS_ERROR_ok || outcome->error == KHORGOS_ERROR_corrupt);
    return storage;
}

static bool fuzz_same(const struct fuzz_outcome *a, const struct fuzz_outcome *b) {
    if (a->error != b->error) return false;
    if (a->error != KHORGOS_ERROR_ok) return true;
    return a->report.records == b->report.records &&
           a->report.sequence_last == b->report.sequence_last &&
           a->replay.records == b->replay.records &&
           memcmp(a->report.chain_head, b->report.chain_head, BASE_SHA256_BYTES) == 0;
}

/* Properties 4 and 5 on a segment recovered with repairs: an append, then a recovery that
 * finds it and nothing to repair. */
static void fuzz_after_repair(struct storage_io *io, struct storage *storage, u64 after_sequence,
                              const struct fuzz_outcome *repaired) {
    static const u8 body[128] __attribute__((aligned(16)));
    u64 sequence = storage_sequence_next(storage);
    ASSERT(sequence == repaired->report.sequence_last + 1 || repaired->report.records == 0);
    ASSERT(storage_journal_append(storage, sequence, 1, 1, "fuzz", NULL, body, sizeof(body)) ==
           KHORGOS_ERROR_ok);
    ASSERT(storage_journal_commit(storage) == KHORGOS_ERROR_ok);
    storage_destroy(storage);
    struct fuzz_outcome again;
    storage_destroy(fuzz_recover(io, after_sequence, true, &again));
    ASSERT(again.error == KHORGOS_ERROR_ok);
    ASSERT(again.report.sequence_last == sequence && again.report.records ==
           repaired->report.records + 1);
    ASSERT(again.report.torn_records == 0 && again.report.confirmed_records == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fuzz_journal == NULL) fuzz_journal = aligned_alloc(16, FUZZ_JOURNAL_BYTES_MAX);
    ASSERT(fuzz_journal != NULL);
    struct fuzz_input input = {.data = data, .size = size};
    u8 flags = fuzz_u8(&input);
    u32 copies = fuzz_u8(&input);
    u32 journal_length = MIN(fuzz_u32(&input, 2), FUZZ_JOURNAL_BYTES_MAX);
    const u8 *bytes = NULL;
    journal_length = (u32)fuzz_take(&input, journal_length, &bytes);
    memcpy(fuzz_journal, bytes, journal_length);
    if (!(flags & 4)) copies = 0;
    memset(fuzz_chains, 0, sizeof(fuzz_chains));
    if (flags & 1) {
        copies = MIN(copies, fuzz_reseal(fuzz_journal, journal_length, flags & 2, copies));
    }
    u64 headers_length = (u64)copies * STORAGE_RECORD_HEADER_BYTES;
    const u8 *raw = NULL;
    size_t raw_length = fuzz_take(&input, FUZZ_JOURNAL_BYTES_MAX - headers_length, &raw);
    memcpy(fuzz_headers + headers_length, raw, raw_length);
    headers_length += raw_length;
    bool preallocate = flags & 8;
    u64 after_sequence = (flags >> 4) & 3;

    struct storage_io *io = fuzz_io_create();
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_JOURNAL, 1, name);
    fuzz_file_write(io, name, fuzz_journal, journal_length,
                    preallocate ? fuzz_superblock.segment_bytes : 0);
    storage_name(STORAGE_FILE_HEADERS, 1, name);
    fuzz_file_write(io, name, fuzz_headers, headers_length,
                    preallocate ? (u64)fuzz_superblock.segment_records_max *
                                      STORAGE_RECORD_HEADER_BYTES
                                : 0);
    struct fuzz_outcome checked;
    struct fuzz_outcome repaired;
    storage_destroy(fuzz_recover(io, after_sequence, false, &checked));
    struct storage *storage = fuzz_recover(io, after_sequence, true, &repaired);
    ASSERT(fuzz_same(&checked, &repaired)); /* property 2 */
    ASSERT(checked.report.torn_records == repaired.report.torn_records);
    ASSERT(checked.report.confirmed_records == repaired.report.confirmed_records);
    if (repaired.error == KHORGOS_ERROR_ok) {
        fuzz_after_repair(io, storage, after_sequence, &repaired);
    } else {
        storage_destroy(storage);
    }
    storage_fault_destroy(io);
    return 0;
}
