/*
 * fuzz_settle_requests.c: libFuzzer target for request sessions through the JSON front end,
 * executed by an engine in memory, so that the settlement state machine (participants, days,
 * funding, payments, limits, FX quotes, netting windows) and the ledger under it are fuzzed,
 * not only the decoder.
 *
 * The input is a session: request lines separated by '\n', as `khorgos apply --clock manual`
 * reads them (at most FUZZ_LINES_MAX lines). Each line is decoded; a refused line is skipped;
 * advance_clock moves the manual clock; any other request is executed alone by
 * khorgos_execute on a fresh engine with small capacities (so capacity limits are reached
 * too). Checked after every executed request, a failure aborting:
 *   1. the engine itself never fails (an engine in memory has no storage to fail);
 *   2. the reply of an accepted request encodes to one line of valid JSON;
 *   3. ledger_check and settle_check hold (the invariants each module's header lists);
 *   4. the timestamp assigned never goes back (the engine's timestamps strictly increase);
 *   5. one input in four runs on a data directory in memory (storage_io_fault.c, no fault)
 *      with a checkpoint after the line that crosses half the input: closed and reopened,
 *      the snapshot and the journal's replay rebuild the same state (request count, ledger
 *      and settlement digests), so every reachable state survives a snapshot and a replay.
 * Sanitizers (address, undefined) watch every step. Buffers are reserved once.
 */
#include "cli/cli_codec.h"
#include "engine/engine.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>

/* Requests in one session: enough for a day's life (participants, open, fund, payments,
 * netting, close), few enough that one input runs in well under a millisecond or so. */
#define FUZZ_LINES_MAX 64u
#define FUZZ_REPLY_BYTES (LIMIT_BATCH_EVENTS_MAX * 512u)
#define FUZZ_TEXT_BYTES (FUZZ_REPLY_BYTES * 8u)

static struct cli_json_token *fuzz_tokens;
static struct cli_json_reader fuzz_reader;
static u8 *fuzz_body;
static u8 *fuzz_reply;
static char *fuzz_text;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_reserve(void) {
    if (fuzz_tokens != NULL) return;
    fuzz_tokens = malloc(sizeof(*fuzz_tokens) * LIMIT_JSON_TOKENS_MAX);
    fuzz_body = aligned_alloc(64, LIMIT_REQUEST_BODY_BYTES_MAX);
    fuzz_reply = aligned_alloc(64, FUZZ_REPLY_BYTES);
    fuzz_text = malloc(FUZZ_TEXT_BYTES);
    ASSERT(fuzz_tokens != NULL && fuzz_body != NULL);
    ASSERT(fuzz_reply != NULL && fuzz_text != NULL);
    cli_json_reader_init(&fuzz_reader, fuzz_tokens, LIMIT_JSON_TOKENS_MAX);
}

static void fuzz_advance_clock(struct khorgos *engine) {
    struct cli_clock_advance advance;
    memcpy(&advance, fuzz_body, sizeof(advance));
    const u64 nanoseconds_per_second = 1000000000ull;
    u64 now = khorgos_clock_now(engine);
    if (advance.seconds > (U64_MAX - now) / nanoseconds_per_second) return;
    u64 total = advance.seconds * nanoseconds_per_second;
    if (advance.nanoseconds > U64_MAX - now - total) return;
    khorgos_error error = khorgos_clock_advance(engine, total + advance.nanoseconds);
    ASSERT(error == KHORGOS_ERROR_ok);
    ASSERT(khorgos_clock_now(engine) == now + total + advance.nanoseconds);
}

/* Property 2: the reply line is valid JSON. */
static void fuzz_check_reply(const struct cli_operation *operation,
                             const struct khorgos_request *request) {
    u32 records = request->reply_size / operation->reply->size;
    ASSERT(request->reply_size % operation->reply->size == 0);
    u32 capacity = cli_codec_reply_bytes_max(operation, records);
    ASSERT(capacity <= FUZZ_TEXT_BYTES);
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, fuzz_text, capacity);
    bool encoded = cli_codec_reply_encode(&writer, operation, request->reply, request->reply_size);
    ASSERT(encoded && writer.length >= 2 && fuzz_text[writer.length - 1] == '\n');
    ASSERT(cli_json_parse(&fuzz_reader, fuzz_text, writer.length - 1) == CLI_JSON_OK);
}

static void fuzz_line(struct khorgos *engine, const char *line, u32 length, bool durable) {
    struct cli_codec_request decoded;
    struct cli_codec_error error;
    enum cli_codec_decode_status status = cli_codec_request_decode(
        &fuzz_reader, line, length, fuzz_body, LIMIT_REQUEST_BODY_BYTES_MAX, &decoded, &error);
    ASSERT(status != CLI_CODEC_BODY_FULL);
    if (status == CLI_CODEC_REFUSED) return;
    const struct cli_operation *operation = decoded.operation;
    if (operation->operation == CLI_OPERATION_ADVANCE_CLOCK) {
        fuzz_advance_clock(engine);
        return;
    }
    u32 reply_size_max = khorgos_reply_size_max(operation->operation, decoded.body_size);
    if (reply_size_max > FUZZ_REPLY_BYTES) return;
    /* The journal takes a body of at most LIMIT_REQUEST_BODY_BYTES_MAX: a larger one is the
     * engine's limits to refuse, not this target's to find. */
    if (durable && decoded.body_size > LIMIT_REQUEST_BODY_BYTES_MAX) return;
    u64 timestamp_before = engine->timestamp_last;
    struct khorgos_request request = {
        .operation = operation->operation,
        .body_size = decoded.body_size,
        .body = fuzz_body,
        .reply = fuzz_reply,
        .reply_capacity = reply_size_max,
    };
    ASSERT(khorgos_execute(engine, &request, 1) == KHORGOS_ERROR_ok); /* property 1 */
    ASSERT(engine->timestamp_last >= timestamp_before);                /* property 4 */
    if (request.error == KHORGOS_ERROR_ok) fuzz_check_reply(operation, &request);
    ASSERT(ledger_check(&engine->ledger)); /* property 3 */
    ASSERT(settle_check(&engine->settle));
}

static const struct khorgos_config fuzz_config = {
    .account_count_max = 64,
    .transfer_count_max = 1024,
    .account_balance_count_max = 1024,
    .clock_manual = 1,
    .participant_count_max = 8,
    .payment_count_max = 64,
};

/* An engine on a data directory in memory with the same capacities. */
static struct khorgos *fuzz_durable_open(struct storage_io *io) {
    const struct khorgos_open_options options = {
        .clock_manual = 1,
        .checkpoint_journal_bytes = UINT64_MAX, /* the session's one checkpoint only */
    };
    struct storage_report report;
    struct khorgos *engine = NULL;
    khorgos_error error = engine_storage_open(&engine, io, false, &options, &report);
    if (error != KHORGOS_ERROR_ok) fprintf(stderr, "open: %s\n", report.message);
    ASSERT(error == KHORGOS_ERROR_ok);
    return engine;
}

/* Property 5: what the journal and the snapshot hold reproduces the state exactly. */
static void fuzz_durable_reopen(struct storage_io *io, struct khorgos *engine) {
    u64 requests = engine->request_count;
    u128 ledger = ledger_digest(&engine->ledger);
    u128 settle = settle_digest(&engine->settle);
    khorgos_close(engine);
    engine = fuzz_durable_open(io);
    ASSERT(engine->request_count == requests);
    ASSERT(ledger_digest(&engine->ledger) == ledger);
    ASSERT(settle_digest(&engine->settle) == settle);
    ASSERT(ledger_check(&engine->ledger) && settle_check(&engine->settle));
    khorgos_close(engine);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_reserve();
    /* One input in four (by its length, so a crash replays alike) runs on a data directory:
     * a checkpoint half-way, then a reopen must rebuild the same state (property 5). */
    bool durable = size % 4 == 0;
    struct storage_io *io = NULL;
    struct khorgos *engine = NULL;
    if (durable) {
        const struct storage_fault_config fault = {.seed = 1};
        io = storage_fault_create(&fault);
        const struct storage_superblock superblock = {
            .format_version = STORAGE_FORMAT_VERSION,
            .account_count_max = fuzz_config.account_count_max,
            .transfer_count_max = fuzz_config.transfer_count_max,
            .account_balance_count_max = fuzz_config.account_balance_count_max,
            .segment_bytes = STORAGE_SEGMENT_BYTES_MIN,
            .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN,
            .participant_count_max = fuzz_config.participant_count_max,
            .payment_count_max = fuzz_config.payment_count_max,
        };
        ASSERT(io != NULL && engine_storage_format(io, &superblock) == KHORGOS_ERROR_ok);
        engine = fuzz_durable_open(io);
    } else {
        ASSERT(khorgos_open_memory(&engine, &fuzz_config) == KHORGOS_ERROR_ok);
    }
    const char *text = (const char *)data;
    size_t start = 0;
    for (u32 line = 0; line < FUZZ_LINES_MAX && start < size; line++) {
        const char *newline = memchr(text + start, '\n', size - start);
        size_t end = newline == NULL ? size : (size_t)(newline - text);
        if (end - start <= LIMIT_JSON_LINE_BYTES_MAX) {
            fuzz_line(engine, text + start, (u32)(end - start), durable);
        }
        start = end + 1;
        if (durable && start * 2 >= size && (start - end - 1) * 2 < size) {
            ASSERT(khorgos_checkpoint(engine) == KHORGOS_ERROR_ok);
        }
    }
    if (durable) {
        fuzz_durable_reopen(io, engine);
        storage_fault_destroy(io);
    } else {
        khorgos_close(engine);
    }
    return 0;
}
