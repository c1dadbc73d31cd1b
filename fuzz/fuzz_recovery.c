/*
 * fuzz_recovery.c: libFuzzer target for recovery over a damaged data directory.
 *
 * Once, at start: a small directory is formatted on the in-memory I/O and an engine writes
 * FUZZ_REQUESTS requests to it (accounts, transfers, a pending one, participants, a day,
 * funding, payments), with two checkpoints (after request 6 and after 10, each starting a
 * segment), and closes it cleanly: every request is acknowledged. The files are kept (the
 * image), and the state digests after each request (ledger_digest, settle_digest).
 *
 * Each input is a list of up to FUZZ_DAMAGES_MAX damages to a copy of that image, each
 *   kind and file (1 byte: low 5 bits the file's index in the image, high 3 bits the kind:
 *   0 to 3 overwrite, 4 flip one bit, 5 zero a range, 6 truncate, 7 delete the file),
 *   offset (2 bytes, little-endian, taken modulo the file's written bytes + 64),
 *   length (1 byte, 1 to 32), and for an overwrite that many bytes.
 * Then the directory is checked (engine_storage_check) and opened (engine_storage_open).
 * Properties, a failure aborting:
 *   1. open returns ok or a named refusal (corrupt, format_version, not_found): the I/O never
 *      fails here, so never io, and never a crash (sanitizers watch);
 *   2. never wrong data: after an open, the engine holds R requests, R at most what was
 *      written, and its ledger and settlement digests equal those of the state after request R;
 *   3. nothing acknowledged is lost to one damage: with a single damage that deletes no file,
 *      an open that succeeds holds every request written (a damaged snapshot is replaced by
 *      the previous one and the journal; damage to an acknowledged record refuses);
 *   4. a recovered directory serves on: a request appended after the open is found, with
 *      the same state, by the next open.
 * With KHORGOS_FUZZ_STRICT=1 in the environment, also:
 *   5. check and open agree: when check finds nothing wrong (ok), open succeeds.
 */
#include "cli/cli_codec.h"
#include "engine/engine.h"
#include "fuzz_support.h"

#include <stdio.h>

#define FUZZ_REQUESTS 12u
#define FUZZ_DAMAGES_MAX 8u
#define FUZZ_FILES_MAX 16u

/* The session written to the directory: one request a line. */
static const char *const fuzz_lines[FUZZ_REQUESTS] = {
    "{\"op\":\"create_accounts\",\"events\":[{\"id\":\"1\",\"ledger\":398,\"code\":1},"
    "{\"id\":\"2\",\"ledger\":398,\"code\":1,\"flags\":[\"history\"]},"
    "{\"id\":\"3\",\"ledger\":398,\"code\":1,\"flags\":[\"debits_must_not_exceed_credits\"]}]}",
    "{\"op\":\"create_transfers\",\"events\":[{\"id\":\"10\",\"debit_account_id\":\"1\","
    "\"credit_account_id\":\"2\",\"amount\":\"100\",\"ledger\":398,\"code\":1}]}",
    "{\"op\":\"create_transfers\",\"events\":[{\"id\":\"11\",\"debit_account_id\":\"2\","
    "\"credit_account_id\":\"3\",\"amount\":\"40\",\"ledger\":398,\"code\":1,"
    "\"flags\":[\"pending\"],\"timeout\":3600}]}",
    "{\"op\":\"create_participants\",\"events\":[{\"bic\":\"NBRKKZKX\",\"country\":\"KZ\","
    "\"role\":\"settlement_agent\",\"name\":\"NBK\",\"currencies\":[\"KZT\"]},"
    "{\"bic\":\"HSBKKZKX\",\"country\":\"KZ\",\"role\":\"bank\",\"name\":\"Halyk\","
    "\"currencies\":[\"KZT\"]},{\"bic\":\"KCJBKZKX\",\"country\":\"KZ\",\"role\":\"bank\","
    "\"name\":\"Kaspi\",\"currencies\":[\"KZT\"]}]}",
    "{\"op\":\"open_day\",\"events\":[{\"id\":\"1\",\"currency\":\"KZT\",\"date\":20230519,"
    "\"queue_mode\":\"fifo\"}]}",
    "{\"op\":\"fund\",\"events\":[{\"id\":\"2\",\"bic\":\"HSBKKZKX\",\"currency\":\"KZT\","
    "\"amount\":\"1000.00\"}]}",
    "{\"op\":\"submit_payments\",\"events\":[{\"id\":\"20\",\"debtor\":\"HSBKKZKX\","
    "\"creditor\":\"KCJBKZKX\",\"amount\":\"250.25\",\"currency\":\"KZT\","
    "\"end_to_end_id\":\"E-20\"}]}",
    "{\"op\":\"create_transfers\",\"events\":[{\"id\":\"12\",\"pending_id\":\"11\","
    "\"flags\":[\"post_pending_transfer\"]}]}",
    "{\"op\":\"submit_payments\",\"events\":[{\"id\":\"21\",\"debtor\":\"KCJBKZKX\","
    "\"creditor\":\"HSBKKZKX\",\"amount\":\"5000.00\",\"currency\":\"KZT\","
    "\"end_to_end_id\":\"E-21\"}]}",
    "{\"op\":\"set_limits\",\"events\":[{\"id\":\"3\",\"bic\":\"HSBKKZKX\",\"currency\":\"KZT\","
    "\"limit_kind\":\"net_debit_cap\",\"amount\":\"500.00\"}]}",
    "{\"op\":\"create_transfers\",\"events\":[{\"id\":\"13\",\"debit_account_id\":\"1\","
    "\"credit_account_id\":\"3\",\"amount\":\"7\",\"ledger\":398,\"code\":1}]}",
    "{\"op\":\"fund\",\"events\":[{\"id\":\"4\",\"bic\":\"KCJBKZKX\",\"currency\":\"KZT\","
    "\"amount\":\"10000.00\"}]}",
};

struct fuzz_file {
    char name[STORAGE_NAME_BYTES_MAX];
    u8 *bytes;       /* the written prefix: zeros follow up to size */
    u64 written;
    u64 size;
};

static struct fuzz_file fuzz_files[FUZZ_FILES_MAX];
static u32 fuzz_file_count;
static u128 fuzz_ledger_digests[FUZZ_REQUESTS + 1];
static u128 fuzz_settle_digests[FUZZ_REQUESTS + 1];
static bool fuzz_strict;
static bool fuzz_verbose; /* KHORGOS_FUZZ_VERBOSE: the image's files and each outcome */

static const struct khorgos_open_options fuzz_options = {
    .clock_manual = 1,
    .checkpoint_journal_bytes = UINT64_MAX, /* checkpoints only where the session asks */
};

static void fuzz_request_run(struct khorgos *engine, const char *line) {
    static struct cli_json_token tokens[LIMIT_JSON_TOKENS_MAX];
    static u8 body[LIMIT_REQUEST_BODY_BYTES_MAX] __attribute__((aligned(64)));
    static u8 reply[LIMIT_BATCH_EVENTS_MAX * 128u] __attribute__((aligned(64)));
    struct cli_json_reader reader;
    cli_json_reader_init(&reader, tokens, LIMIT_JSON_TOKENS_MAX);
    struct cli_codec_request decoded;
    struct cli_codec_error error;
    ASSERT(cli_codec_request_decode(&reader, line, (u32)strlen(line), body, sizeof(body),
                                    &decoded, &error) == CLI_CODEC_DECODED);
    struct khorgos_request request = {
        .operation = decoded.operation->operation,
        .body_size = decoded.body_size,
        .body = body,
        .reply = reply,
        .reply_capacity = khorgos_reply_size_max(decoded.operation->operation,
                                                 decoded.body_size),
    };
    ASSERT(request.reply_capacity <= sizeof(reply));
    ASSERT(khorgos_execute(engine, &request, 1) == KHORGOS_ERROR_ok);
    ASSERT(request.error == KHORGOS_ERROR_ok);
}

/* The last nonzero byte + 1: what of a preallocated file holds data. */
static u64 fuzz_written(const u8 *bytes, u64 size) {
    while (size > 0 && bytes[size - 1] == 0) size--;
    return size;
}

static void fuzz_image_capture(struct storage_io *io) {
    char names[STORAGE_DIRECTORY_FILES_MAX][STORAGE_NAME_BYTES_MAX];
    u32 count = 0;
    ASSERT(io->list(io, names, &count) == KHORGOS_ERROR_ok);
    ASSERT(count > 0 && count <= FUZZ_FILES_MAX);
    for (u32 index = 0; index < count; index++) {
        struct fuzz_file *file = &fuzz_files[index];
        memcpy(file->name, names[index], STORAGE_NAME_BYTES_MAX);
        file->bytes = fuzz_file_read(io, file->name, &file->size);
        ASSERT(file->bytes != NULL);
        file->written = fuzz_written(file->bytes, file->size);
    }
    fuzz_file_count = count;
}

/* Builds the directory and keeps its files and the digest after every request. */
static void fuzz_image_build(void) {
    struct storage_io *io = fuzz_io_create();
    ASSERT(engine_storage_format(io, &fuzz_superblock) == KHORGOS_ERROR_ok);
    struct storage_report report;
    struct khorgos *engine = NULL;
    ASSERT(engine_storage_open(&engine, io, false, &fuzz_options, &report) == KHORGOS_ERROR_ok);
    fuzz_ledger_digests[0] = ledger_digest(&engine->ledger);
    fuzz_settle_digests[0] = settle_digest(&engine->settle);
    for (u32 index = 0; index < FUZZ_REQUESTS; index++) {
        fuzz_request_run(engine, fuzz_lines[index]);
        ASSERT(engine->request_count == index + 1); /* no timer fired */
        fuzz_ledger_digests[index + 1] = ledger_digest(&engine->ledger);
        fuzz_settle_digests[index + 1] = settle_digest(&engine->settle);
        if (index + 1 == 6 || index + 1 == 10) {
            ASSERT(khorgos_checkpoint(engine) == KHORGOS_ERROR_ok);
        }
    }
    khorgos_close(engine);
    fuzz_image_capture(io);
    storage_fault_destroy(io);
}

/* Shortens `name` to `size` bytes (the in-memory I/O has no truncate: the file is made again
 * from its first bytes). */
static void fuzz_truncate(struct storage_io *io, const char *name, u64 size) {
    u64 length = 0;
    u8 *bytes = fuzz_file_read(io, name, &length);
    ASSERT(bytes != NULL);
    ASSERT(io->unlink(io, name) == KHORGOS_ERROR_ok);
    fuzz_file_write(io, name, bytes, MIN(size, length), 0);
    free(bytes);
}

/* Writes the image into a fresh I/O and applies the input's damages; returns their count
 * and whether one deleted a file. */
static u32 fuzz_image_damage(struct storage_io *io, struct fuzz_input *input, bool *deleted) {
    for (u32 index = 0; index < fuzz_file_count; index++) {
        const struct fuzz_file *file = &fuzz_files[index];
        fuzz_file_write(io, file->name, file->bytes, file->written, file->size);
    }
    u32 damages = 0;
    *deleted = false;
    for (; damages < FUZZ_DAMAGES_MAX && input->offset < input->size; damages++) {
        u8 op = fuzz_u8(input);
        const struct fuzz_file *file = &fuzz_files[(op & 31u) % fuzz_file_count];
        u32 kind = op >> 5;
        u64 offset = fuzz_u32(input, 2) % (file->written + 64);
        u32 length = 1 + fuzz_u8(input) % 32;
        int handle = -1;
        if (io->open(io, file->name, 0, &handle) != KHORGOS_ERROR_ok) continue; /* deleted */
        u8 bytes[32] = {0};
        if (kind <= 3) {
            const u8 *taken = NULL;
            length = (u32)fuzz_take(input, length, &taken);
            memcpy(bytes, taken, length);
        } else if (kind == 4) {
            u64 read_size = 0;
            ASSERT(io->pread(io, handle, bytes, 1, offset, &read_size) == KHORGOS_ERROR_ok);
            bytes[0] ^= (u8)(1u << (length % 8));
            length = 1;
        }
        if (kind <= 5 && length > 0) {
            ASSERT(io->pwrite(io, handle, bytes, length, offset) == KHORGOS_ERROR_ok);
        }
        ASSERT(io->sync(io, handle) == KHORGOS_ERROR_ok);
        io->close(io, handle);
        if (kind == 6) fuzz_truncate(io, file->name, offset);
        if (kind == 7) {
            ASSERT(io->unlink(io, file->name) == KHORGOS_ERROR_ok);
            ASSERT(io->sync_directory(io) == KHORGOS_ERROR_ok);
            *deleted = true;
        }
    }
    return damages;
}

/* Property 2: the state is the one after request R. */
static void fuzz_state_check(const struct khorgos *engine) {
    u64 requests = engine->request_count;
    ASSERT(requests <= FUZZ_REQUESTS);
    ASSERT(ledger_digest(&engine->ledger) == fuzz_ledger_digests[requests]);
    ASSERT(settle_digest(&engine->settle) == fuzz_settle_digests[requests]);
}

/* Property 4: one more request after the open, then the next open finds it. */
static void fuzz_serve_on(struct storage_io *io, struct khorgos *engine) {
    u64 requests = engine->request_count;
    fuzz_request_run(engine, "{\"op\":\"create_accounts\",\"events\":[{\"id\":\"99\","
                             "\"ledger\":840,\"code\":1}]}");
    u128 ledger = ledger_digest(&engine->ledger);
    u128 settle = settle_digest(&engine->settle);
    khorgos_close(engine);
    struct storage_report report;
    khorgos_error error = engine_storage_open(&engine, io, false, &fuzz_options, &report);
    if (error != KHORGOS_ERROR_ok) fprintf(stderr, "reopen: %s\n", report.message);
    ASSERT(error == KHORGOS_ERROR_ok);
    ASSERT(engine->request_count == requests + 1);
    ASSERT(ledger_digest(&engine->ledger) == ledger && settle_digest(&engine->settle) == settle);
    khorgos_close(engine);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fuzz_file_count == 0) {
        fuzz_image_build();
        const char *strict = getenv("KHORGOS_FUZZ_STRICT");
        fuzz_strict = strict != NULL && strcmp(strict, "1") == 0;
        fuzz_verbose = getenv("KHORGOS_FUZZ_VERBOSE") != NULL;
        for (u32 index = 0; fuzz_verbose && index < fuzz_file_count;
             index++) {
            fprintf(stderr, "file %u: %s, %llu bytes written of %llu\n", index,
                    fuzz_files[index].name, (unsigned long long)fuzz_files[index].written,
                    (unsigned long long)fuzz_files[index].size);
        }
    }
    struct fuzz_input input = {.data = data, .size = size};
    struct storage_io *io = fuzz_io_create();
    bool deleted = false;
    u32 damages = fuzz_image_damage(io, &input, &deleted);
    struct storage_report report;
    khorgos_error checked = engine_storage_check(io, &report);
    struct khorgos *engine = NULL;
    khorgos_error error = engine_storage_open(&engine, io, false, &fuzz_options, &report);
    if (fuzz_verbose) {
        fprintf(stderr, "%u damage(s): check %s, open %s, %llu requests: %s\n", damages,
                khorgos_error_name(checked), khorgos_error_name(error),
                error == KHORGOS_ERROR_ok ? (unsigned long long)engine->request_count : 0ull,
                report.message);
    }
    /* Property 1. */
    ASSERT(error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_corrupt ||
           error == KHORGOS_ERROR_format_version || error == KHORGOS_ERROR_not_found);
    if (fuzz_strict && checked == KHORGOS_ERROR_ok && error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "check found nothing wrong, open refused: %s\n", report.message);
        ASSERT(false && "check and open disagree"); /* property 5 */
    }
    if (error == KHORGOS_ERROR_ok) {
        fuzz_state_check(engine);
        if (damages <= 1 && !deleted) {
            if (engine->request_count != FUZZ_REQUESTS) {
                fprintf(stderr, "recovered %llu of %u requests: %s\n",
                        (unsigned long long)engine->request_count, FUZZ_REQUESTS,
                        report.message);
            }
            ASSERT(engine->request_count == FUZZ_REQUESTS); /* property 3 */
        }
        fuzz_serve_on(io, engine);
    }
    storage_fault_destroy(io);
    return 0;
}
