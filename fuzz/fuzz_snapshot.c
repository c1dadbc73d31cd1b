/*
 * fuzz_snapshot.c: libFuzzer target for snapshot decoding: the snapshot file's reader
 * (storage_snapshot_open, storage_reader_section_next, storage_reader_get) and the section
 * loaders it feeds (ledger_snapshot_read, settle_snapshot_read, engine_sessions_read, and the
 * engine's 32 bytes).
 *
 * Input: flags (1 byte); when flags bit 0 is set, a section-table patch: an entry index
 * (1 byte) and 32 bytes that replace that entry of the table after the file is written (the
 * checksums are then recomputed, so the reader's table checks are reached); then the sections,
 * each a module (1 byte), a version (1 byte), a length (4 bytes, little-endian) and its bytes.
 * The harness writes them with the real snapshot writer into the in-memory I/O, opens the file
 * and loads each section as recovery does (engine_storage.c, engine_snapshot_load) into an
 * engine in memory with the fuzz directory's capacities.
 * Properties, a failure aborting:
 *   1. the file the writer sealed opens (its checksums verify) unless the table was patched;
 *   2. every section either loads or is refused with corrupt, never a crash;
 *   3. a state that loads is one the engine can serve: ledger_check and settle_check hold,
 *      and lookups, a transfer, a payment and the clock's expiry run on it without a crash.
 * Seeds: KHORGOS_FUZZ_SEEDS=DIR build/fuzz/fuzz_snapshot writes the sections of engines that
 * ran each session of fuzz/corpus/settle_requests to DIR (fuzz/corpus/snapshot) and exits.
 */
#include "cli/cli_codec.h"
#include "engine/engine.h"
#include "fuzz_support.h"

#include <stdio.h>

#define FUZZ_SECTIONS_MAX 8u
#define FUZZ_SNAPSHOT_SEQUENCE 7u
#define FUZZ_ENGINE_SECTION_BYTES 32u
#define FUZZ_SEED_BYTES_MAX (4u << 20)

static struct storage_io *fuzz_io;
static struct storage *fuzz_storage;

static void fuzz_open_storage(void) {
    if (fuzz_storage != NULL) return;
    fuzz_io = fuzz_io_create();
    ASSERT(storage_create(fuzz_io, &fuzz_superblock, &fuzz_storage) == KHORGOS_ERROR_ok);
}

static struct khorgos *fuzz_engine_open(void) {
    const struct khorgos_config config = {
        .account_count_max = fuzz_superblock.account_count_max,
        .transfer_count_max = fuzz_superblock.transfer_count_max,
        .account_balance_count_max = fuzz_superblock.account_balance_count_max,
        .clock_manual = 1,
        .participant_count_max = fuzz_superblock.participant_count_max,
        .payment_count_max = fuzz_superblock.payment_count_max,
    };
    struct khorgos *engine = NULL;
    ASSERT(khorgos_open_memory(&engine, &config) == KHORGOS_ERROR_ok);
    return engine;
}

/* Writes the input's sections as snapshot-<FUZZ_SNAPSHOT_SEQUENCE>. */
static void fuzz_snapshot_write(struct fuzz_input *input) {
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_SNAPSHOT, FUZZ_SNAPSHOT_SEQUENCE, name);
    khorgos_error error = fuzz_io->unlink(fuzz_io, name);
    ASSERT(error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_not_found);
    struct storage_writer *writer = NULL;
    ASSERT(storage_snapshot_begin(fuzz_storage, FUZZ_SNAPSHOT_SEQUENCE, &writer) ==
           KHORGOS_ERROR_ok);
    for (u32 index = 0; index < FUZZ_SECTIONS_MAX && input->offset < input->size; index++) {
        u32 module = fuzz_u8(input);
        u32 version = fuzz_u8(input);
        const u8 *bytes = NULL;
        size_t length = fuzz_take(input, fuzz_u32(input, 4), &bytes);
        storage_writer_section_begin(writer, module, version);
        storage_writer_put(writer, bytes, length);
        storage_writer_section_end(writer);
    }
    const u8 chain_head[BASE_SHA256_BYTES] = {0};
    ASSERT(storage_snapshot_end(writer, 1, 0, chain_head) == KHORGOS_ERROR_ok);
}

/* Replaces one entry of the section table and recomputes both checksums of the header. */
static void fuzz_table_patch(u32 entry, const u8 patch[32]) {
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_SNAPSHOT, FUZZ_SNAPSHOT_SEQUENCE, name);
    u64 length = 0;
    u8 *file = fuzz_file_read(fuzz_io, name, &length);
    ASSERT(file != NULL && length >= sizeof(struct storage_snapshot_header));
    struct storage_snapshot_header header;
    memcpy(&header, file, sizeof(header));
    u64 table_bytes = (u64)header.section_count * sizeof(struct storage_section_header);
    u64 table = sizeof(header) + header.body_size - table_bytes;
    if (header.section_count > 0) {
        memcpy(file + table + (u64)(entry % header.section_count) * 32, patch, 32);
    }
    header.checksum_body = base_checksum128(file + table, table_bytes);
    header.checksum = base_checksum128((const u8 *)&header + 16, sizeof(header) - 16);
    memcpy(file, &header, sizeof(header));
    ASSERT(fuzz_io->unlink(fuzz_io, name) == KHORGOS_ERROR_ok);
    fuzz_file_write(fuzz_io, name, file, length, 0);
    free(file);
}

/* The engine's section as engine_storage.c reads it. */
static khorgos_error fuzz_engine_section(struct khorgos *engine, struct storage_reader *reader) {
    u64 words[FUZZ_ENGINE_SECTION_BYTES / 8];
    khorgos_error error = storage_reader_get(reader, words, sizeof(words));
    if (error != KHORGOS_ERROR_ok) return error;
    if (words[3] != 0 || storage_reader_remaining(reader) != 0) return KHORGOS_ERROR_corrupt;
    engine->request_count = words[0];
    engine->timestamp_last = words[1];
    return KHORGOS_ERROR_ok;
}

/* Loads every section as engine_snapshot_load does; ok when the engine's, the ledger's and
 * settlement's loaded (the session table's is loaded when present). */
static khorgos_error fuzz_snapshot_load(struct khorgos *engine, struct storage_reader *reader) {
    bool seen[STORAGE_SECTION_SESSIONS + 1] = {false};
    struct storage_section_header section;
    khorgos_error error = KHORGOS_ERROR_ok;
    while ((error = storage_reader_section_next(reader, &section)) == KHORGOS_ERROR_ok) {
        if (section.module == STORAGE_SECTION_ENGINE && section.version == 1 && !seen[1]) {
            error = fuzz_engine_section(engine, reader);
        } else if (section.module == STORAGE_SECTION_LEDGER &&
                   section.version == LEDGER_SNAPSHOT_VERSION && !seen[2]) {
            error = ledger_snapshot_read(&engine->ledger, reader);
        } else if (section.module == STORAGE_SECTION_SETTLE &&
                   section.version == SETTLE_SNAPSHOT_VERSION && seen[2] && !seen[3]) {
            error = settle_snapshot_read(&engine->settle, reader);
        } else if (section.module == STORAGE_SECTION_SESSIONS &&
                   section.version == ENGINE_SESSIONS_SECTION_VERSION &&
                   !seen[STORAGE_SECTION_SESSIONS]) {
            error = engine_sessions_read(&engine->sessions, reader);
        } else {
            return KHORGOS_ERROR_format_version;
        }
        /* Property 2. */
        ASSERT(error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_corrupt);
        if (error != KHORGOS_ERROR_ok) return error;
        seen[section.module] = true;
    }
    ASSERT(error == KHORGOS_ERROR_not_found || error == KHORGOS_ERROR_corrupt);
    if (error == KHORGOS_ERROR_corrupt) return error;
    return seen[1] && seen[2] && seen[3] ? KHORGOS_ERROR_ok : KHORGOS_ERROR_corrupt;
}

/* Runs one request on the loaded engine; the engine itself never fails in memory. */
static void fuzz_execute(struct khorgos *engine, u32 operation, const void *body,
                         u32 body_size) {
    static u8 reply[LIMIT_BATCH_EVENTS_MAX * 512u] __attribute__((aligned(64)));
    struct khorgos_request request = {
        .operation = operation,
        .body_size = body_size,
        .body = body,
        .reply = reply,
        .reply_capacity = khorgos_reply_size_max(operation, body_size),
    };
    ASSERT(request.reply_capacity <= sizeof(reply));
    ASSERT(khorgos_execute(engine, &request, 1) == KHORGOS_ERROR_ok);
    ASSERT(ledger_check(&engine->ledger));
    ASSERT(settle_check(&engine->settle));
}

/* Property 3: the loaded state serves requests. */
static void fuzz_serve(struct khorgos *engine) {
    ASSERT(ledger_check(&engine->ledger));
    ASSERT(settle_check(&engine->settle));
    struct ledger *ledger = &engine->ledger;
    u32 accounts = 0;
    u32 clients = 0;
    u32 client_indexes[2] = {0, 0};
    u128 ids[8];
    for (u32 index = 0; index < ledger->account_count; index++) {
        const struct khorgos_account *account = &ledger->accounts[index];
        if (accounts < ARRAY_COUNT(ids)) ids[accounts++] = account->id;
        /* A client's transfer stays out of the settlement's own accounts (settle.h). */
        if (clients < 2 && (u32)(account->id >> 112) != SETTLE_NAMESPACE) {
            client_indexes[clients++] = index;
        }
    }
    fuzz_execute(engine, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, ids, accounts * sizeof(u128));
    if (clients == 2) {
        struct khorgos_transfer transfer = {
            .id = (u128)1 << 100,
            .debit_account_id = ledger->accounts[client_indexes[0]].id,
            .credit_account_id = ledger->accounts[client_indexes[1]].id,
            .amount = 1,
            .ledger = ledger->accounts[client_indexes[0]].ledger,
            .code = 1,
        };
        fuzz_execute(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, &transfer, sizeof(transfer));
    }
    if (engine->settle.participant_count >= 2 && engine->settle.currency_count >= 1) {
        struct khorgos_payment payment;
        memset(&payment, 0, sizeof(payment));
        payment.id = (u128)1 << 101;
        const struct settle_participant *participants = engine->settle.participants;
        memcpy(payment.debtor, participants[0].record.bic, sizeof(payment.debtor));
        memcpy(payment.creditor, participants[1].record.bic, sizeof(payment.creditor));
        payment.amount = 1;
        payment.currency = engine->settle.currencies[0].numeric;
        fuzz_execute(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment, sizeof(payment));
    }
    /* A day later: every pending transfer and settle-by timer is due. */
    ASSERT(khorgos_clock_advance(engine, 86400ull * 1000000000ull) == KHORGOS_ERROR_ok);
    fuzz_execute(engine, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, ids, accounts * sizeof(u128));
}

static void fuzz_seeds_write(const char *directory);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    ASSERT(argc != NULL && argv != NULL);
    const char *seeds = getenv("KHORGOS_FUZZ_SEEDS");
    if (seeds != NULL) {
        fuzz_seeds_write(seeds);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_open_storage();
    struct fuzz_input input = {.data = data, .size = size};
    u8 flags = fuzz_u8(&input);
    u32 patch_entry = 0;
    const u8 *patch = NULL;
    if (flags & 1) {
        patch_entry = fuzz_u8(&input);
        if (fuzz_take(&input, 32, &patch) < 32) return 0;
    }
    fuzz_snapshot_write(&input);
    if (patch != NULL) fuzz_table_patch(patch_entry, patch);
    struct storage_snapshot_header header;
    struct storage_reader *reader = NULL;
    struct storage_report report;
    memset(&report, 0, sizeof(report));
    khorgos_error error = storage_snapshot_open(fuzz_storage, FUZZ_SNAPSHOT_SEQUENCE, &header,
                                                &reader, &report);
    ASSERT(error == KHORGOS_ERROR_ok || (patch != NULL && error == KHORGOS_ERROR_corrupt));
    if (error != KHORGOS_ERROR_ok) return 0; /* property 1 */
    struct khorgos *engine = fuzz_engine_open();
    error = fuzz_snapshot_load(engine, reader);
    storage_reader_close(reader);
    if (error == KHORGOS_ERROR_ok) fuzz_serve(engine);
    khorgos_close(engine);
    return 0;
}

/* ---- seeds --------------------------------------------------------------------------------- */

static void fuzz_seed_section(FILE *out, u32 module, u32 version, const void *bytes, u64 size) {
    u8 head[6] = {(u8)module, (u8)version, (u8)size, (u8)(size >> 8), (u8)(size >> 16),
                  (u8)(size >> 24)};
    ASSERT(size < U32_MAX);
    ASSERT(fwrite(head, 1, sizeof(head), out) == sizeof(head));
    ASSERT(fwrite(bytes, 1, size, out) == size);
}

/* A module's section captured through a writer to memory. */
static u64 fuzz_seed_capture(const struct khorgos *engine, u32 module, u8 *memory) {
    struct storage_writer writer;
    struct storage_section_header section;
    storage_writer_memory_begin(&writer, memory, FUZZ_SEED_BYTES_MAX);
    if (module == STORAGE_SECTION_LEDGER) ledger_snapshot_write(&engine->ledger, &writer);
    if (module == STORAGE_SECTION_SETTLE) settle_snapshot_write(&engine->settle, &writer);
    ASSERT(storage_writer_memory_end(&writer, &section) == KHORGOS_ERROR_ok);
    return section.size;
}

/* Runs a session of request lines on an engine in memory (as fuzz_settle_requests does). */
static void fuzz_seed_session(struct khorgos *engine, const char *text, size_t size) {
    static struct cli_json_token tokens[LIMIT_JSON_TOKENS_MAX];
    static u8 body[LIMIT_REQUEST_BODY_BYTES_MAX] __attribute__((aligned(64)));
    static u8 reply[LIMIT_BATCH_EVENTS_MAX * 512u] __attribute__((aligned(64)));
    struct cli_json_reader reader;
    cli_json_reader_init(&reader, tokens, LIMIT_JSON_TOKENS_MAX);
    for (size_t start = 0; start < size;) {
        const char *newline = memchr(text + start, '\n', size - start);
        size_t end = newline == NULL ? size : (size_t)(newline - text);
        struct cli_codec_request decoded;
        struct cli_codec_error error;
        if (cli_codec_request_decode(&reader, text + start, (u32)(end - start), body,
                                     sizeof(body), &decoded, &error) == CLI_CODEC_DECODED &&
            decoded.operation->operation != CLI_OPERATION_ADVANCE_CLOCK) {
            struct khorgos_request request = {
                .operation = decoded.operation->operation,
                .body_size = decoded.body_size,
                .body = body,
                .reply = reply,
                .reply_capacity = khorgos_reply_size_max(decoded.operation->operation,
                                                         decoded.body_size),
            };
            ASSERT(khorgos_execute(engine, &request, 1) == KHORGOS_ERROR_ok);
        }
        start = end + 1;
    }
}

static void fuzz_seeds_write(const char *directory) {
    static const char *const sessions[] = {"api_rtgs", "fx_netting_session", "gridlock_session",
                                           "rtgs_session"};
    u8 *memory = malloc(FUZZ_SEED_BYTES_MAX);
    ASSERT(memory != NULL);
    for (u32 index = 0; index < ARRAY_COUNT(sessions); index++) {
        char path[512];
        snprintf(path, sizeof(path), "fuzz/corpus/settle_requests/%s", sessions[index]);
        FILE *in = fopen(path, "rb");
        ASSERT(in != NULL);
        size_t size = fread(memory, 1, FUZZ_SEED_BYTES_MAX, in);
        fclose(in);
        struct khorgos *engine = fuzz_engine_open();
        fuzz_seed_session(engine, (const char *)memory, size);
        snprintf(path, sizeof(path), "%s/%s", directory, sessions[index]);
        FILE *out = fopen(path, "wb");
        ASSERT(out != NULL);
        ASSERT(fputc(0, out) == 0); /* flags: no table patch */
        const u64 words[4] = {engine->request_count, engine->timestamp_last,
                              engine->clock_manual_ns, 0};
        fuzz_seed_section(out, STORAGE_SECTION_ENGINE, 1, words, sizeof(words));
        u64 size_ledger = fuzz_seed_capture(engine, STORAGE_SECTION_LEDGER, memory);
        fuzz_seed_section(out, STORAGE_SECTION_LEDGER, LEDGER_SNAPSHOT_VERSION, memory,
                          size_ledger);
        u64 size_settle = fuzz_seed_capture(engine, STORAGE_SECTION_SETTLE, memory);
        fuzz_seed_section(out, STORAGE_SECTION_SETTLE, SETTLE_SNAPSHOT_VERSION, memory,
                          size_settle);
        ASSERT(fclose(out) == 0);
        khorgos_close(engine);
        printf("%s: ledger %llu bytes, settle %llu bytes\n", path,
               (unsigned long long)size_ledger, (unsigned long long)size_settle);
    }
    free(memory);
}
