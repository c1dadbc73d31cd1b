/*
 * cli_apply.c: `khorgos apply`, JSON lines on standard input, one reply line per request on
 * standard output, in order.
 *
 *   khorgos apply [--data DIR] [--clock manual] [--accounts N] [--transfers N] [--balances N]
 *
 * Flow of one line (states of struct apply, and the function that moves between them):
 *   1. reading   apply_line_next finds the next whole line in the input buffer, reading more
 *                from standard input when none is whole; it blocks only when no request is
 *                waiting in the batch, so the lines already written by the client are grouped.
 *   2. decoded   apply_line decodes it (cli_codec) straight into the batch's body arena and
 *                adds a khorgos_request to the batch.
 *   3. committed apply_batch_flush gives the whole batch to one khorgos_execute (one commit,
 *                one journal write once storage exists), then encodes every reply in line
 *                order and writes them with write(2): replies leave only after their commit.
 * A line that is refused (malformed, unknown op, ...) and advance_clock are barriers: the batch
 * before them is flushed first, so replies stay in line order and the clock moves between the
 * requests that the client sent before and after it.
 *
 * Invariants:
 *   1. replies are written in the order of their lines, exactly one per non-blank line;
 *   2. a reply is written only after khorgos_execute returned for its request;
 *   3. nothing is allocated after start: the input buffer (one line of
 *      LIMIT_JSON_LINE_BYTES_MAX and a read's worth more), the token array, the body and reply
 *      arenas and the output buffer are reserved once;
 *   4. a refused line changes nothing (it never reaches the engine);
 *   5. once the engine stopped (a write or sync of the data directory failed: ENOSPC, EIO,
 *      EDQUOT), no reply is written, no more input is read, and apply exits 1 after one
 *      message naming the file and the cause; the batch that failed is never answered.
 * Blank lines are skipped without a reply but still counted, so "line" numbers match an editor.
 * A line longer than LIMIT_JSON_LINE_BYTES_MAX is discarded up to its newline and answered
 * with line_too_long.
 */
#include "cli/cli.h"
#include "cli/cli_codec.h"
#include "cli/cli_gateway.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Requests committed together at most: enough to amortise a journal sync over many small
 * requests, small enough that a slow batch never holds many replies back. */
#define APPLY_BATCH_REQUESTS_MAX 256u
/* Bytes of bodies of one batch: four full-size requests. The reply arena holds at least as
 * much, and at least two of the largest replies any operation may give (apply_reserve). */
#define APPLY_ARENA_BYTES (4u * LIMIT_REQUEST_BODY_BYTES_MAX)
/* Bytes read from standard input at once, beyond the longest line. */
#define APPLY_READ_BYTES (64u * 1024u)
#define APPLY_INPUT_BYTES (LIMIT_JSON_LINE_BYTES_MAX + APPLY_READ_BYTES)

_Static_assert(APPLY_ARENA_BYTES >= LIMIT_REQUEST_BODY_BYTES_MAX, "one full request fits");
_Static_assert(APPLY_ARENA_BYTES % 64 == 0, "arenas are reserved 64-byte aligned");

struct apply_options {
    const char *data_directory;
    bool clock_manual;
    struct khorgos_config config;
};

enum apply_line_status { APPLY_LINE, APPLY_LINE_TOO_LONG, APPLY_LINE_NONE_WAITING, APPLY_END };

struct apply {
    const struct cli_apply_backend *backend;
    /* Input: bytes [input_start, input_end) are read but not yet consumed. */
    char *input;
    u32 input_start;
    u32 input_end;
    bool input_eof;
    bool input_skipping; /* discarding the rest of a line that is too long */
    u64 line_number;
    struct cli_json_token *tokens;
    struct cli_json_reader reader;
    /* The batch. */
    u8 *bodies;
    u32 body_used;
    u8 *replies;
    u32 reply_used;
    u32 reply_capacity;
    struct khorgos_request requests[APPLY_BATCH_REQUESTS_MAX];
    const struct cli_operation *operations[APPLY_BATCH_REQUESTS_MAX];
    u64 lines[APPLY_BATCH_REQUESTS_MAX];
    u32 request_count;
    /* Output. */
    char *output;
    u32 output_capacity;
    struct cli_json_writer writer;
    bool failed; /* the engine or the output failed: stop */
};

static int apply_usage(const char *problem) {
    ASSERT(problem == NULL || problem[0] != '\0');
    if (problem != NULL) fprintf(stderr, "khorgos apply: %s\n", problem);
    fprintf(stderr,
            "usage: khorgos apply [--data DIR] [--clock manual] [--accounts N] [--transfers N]\n"
            "                     [--balances N]\n"
            "  JSON lines on standard input, one reply line per request on standard output.\n"
            "  --data DIR      the data directory (default: in memory, nothing is durable);\n"
            "                  one writer at a time: apply holds DIR/lock while it runs, and a\n"
            "                  second apply on DIR exits 1 at once, naming the holder's pid\n"
            "  --clock manual  a manual clock from 2023-05-19T00:00:00Z, moved by advance_clock\n"
            "  --accounts N, --transfers N, --balances N  capacities (in-memory mode)\n"
            "  See docs/api.md for the operations.\n");
    return 2;
}

static bool apply_parse_count(const char *text, u32 *count) {
    ASSERT(count != NULL);
    u128 value = 0;
    if (text == NULL || base_u128_parse(text, strlen(text), &value) != 0) return false;
    if (value == 0 || value > U32_MAX) return false;
    *count = (u32)value;
    ASSERT(*count >= 1);
    return true;
}

/* Returns -1 when the options are good, else the exit status (usage printed). */
static int apply_options_parse(int argc, char **argv, struct apply_options *options) {
    ASSERT(argc >= 1 && argv != NULL);
    memset(options, 0, sizeof(*options));
    for (int index = 1; index < argc; index += 2) { /* every option but --help has a value */
        const char *option = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(option, "--help") == 0 || strcmp(option, "-h") == 0) {
            apply_usage(NULL);
            return 0;
        }
        bool counted = true;
        if (strcmp(option, "--data") == 0 && value != NULL) {
            options->data_directory = value;
        } else if (strcmp(option, "--clock") == 0 && value != NULL) {
            if (strcmp(value, "manual") != 0 && strcmp(value, "realtime") != 0) {
                return apply_usage("--clock takes manual or realtime");
            }
            options->clock_manual = strcmp(value, "manual") == 0;
        } else if (strcmp(option, "--accounts") == 0) {
            counted = apply_parse_count(value, &options->config.account_count_max);
        } else if (strcmp(option, "--transfers") == 0) {
            counted = apply_parse_count(value, &options->config.transfer_count_max);
        } else if (strcmp(option, "--balances") == 0) {
            counted = apply_parse_count(value, &options->config.account_balance_count_max);
        } else {
            char problem[160];
            snprintf(problem, sizeof(problem), "unknown option or missing value: %s", option);
            return apply_usage(problem);
        }
        if (!counted) return apply_usage("--accounts/--transfers/--balances take a count >= 1");
    }
    options->config.clock_manual = options->clock_manual;
    ASSERT(options->config.clock_manual == 0 || options->config.clock_manual == 1);
    return -1;
}

/* ----------------------------------------------------------------------------------------- */
/* Output.                                                                                    */

static void apply_write_all(struct apply *apply, const char *bytes, u32 length) {
    ASSERT(apply != NULL);
    ASSERT(bytes != NULL || length == 0);
    u32 written = 0;
    while (written < length && !apply->failed) {
        ssize_t result = write(STDOUT_FILENO, bytes + written, length - written);
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0) {
            fprintf(stderr, "khorgos %s: cannot write a reply: %s\n", apply->backend->name,
                    strerror(errno));
            apply->failed = true;
            break;
        }
        written += (u32)result;
    }
}

static void apply_output_write(struct apply *apply) {
    ASSERT(!apply->writer.overflow);
    ASSERT(apply->writer.buffer == apply->output && apply->writer.length <= apply->output_capacity);
    apply_write_all(apply, apply->output, apply->writer.length);
    cli_json_writer_init(&apply->writer, apply->output, apply->output_capacity);
}

/* Makes room for a reply of at most `bytes` in the output buffer. */
static void apply_output_reserve(struct apply *apply, u32 bytes) {
    ASSERT(bytes <= apply->output_capacity);
    if (apply->output_capacity - apply->writer.length < bytes) apply_output_write(apply);
    ASSERT(apply->output_capacity - apply->writer.length >= bytes);
}

static void apply_error_reply(struct apply *apply, const char *op, u32 op_length,
                              const char *code, const char *message, u64 line_number) {
    ASSERT(code != NULL && message != NULL);
    ASSERT(line_number >= 1);
    apply_output_reserve(apply, CLI_CODEC_ERROR_REPLY_BYTES_MAX);
    bool encoded = cli_codec_error_encode(&apply->writer, op, op_length, code, message,
                                          line_number);
    ASSERT(encoded);
}

/* ----------------------------------------------------------------------------------------- */
/* The batch.                                                                                 */

static void apply_batch_reset(struct apply *apply) {
    ASSERT(apply->request_count <= APPLY_BATCH_REQUESTS_MAX);
    ASSERT(apply->body_used <= APPLY_ARENA_BYTES && apply->reply_used <= apply->reply_capacity);
    apply->request_count = 0;
    apply->body_used = 0;
    apply->reply_used = 0;
}

/* The backend stopped (for the engine: a write or sync of the data directory failed): no
 * reply of the batch is written, nothing more is read, and the command exits 1 (invariant 5). */
static void apply_engine_failed(struct apply *apply, khorgos_error error) {
    ASSERT(error != KHORGOS_ERROR_ok);
    ASSERT(apply->backend != NULL);
    apply->backend->failed(apply->backend->context, error);
    apply->failed = true;
}

/* Commits the batch, then writes its replies in order (invariants 1 and 2). */
static void apply_batch_flush(struct apply *apply) {
    ASSERT(apply->request_count <= APPLY_BATCH_REQUESTS_MAX);
    if (apply->request_count == 0 || apply->failed) return;
    ASSERT(apply->body_used <= APPLY_ARENA_BYTES && apply->reply_used <= apply->reply_capacity);
    khorgos_error error = apply->backend->execute(apply->backend->context, apply->requests,
                                                  apply->request_count);
    if (error != KHORGOS_ERROR_ok) {
        apply_engine_failed(apply, error);
        return;
    }
    for (u32 index = 0; index < apply->request_count; index++) {
        const struct khorgos_request *request = &apply->requests[index];
        const struct cli_operation *operation = apply->operations[index];
        if (request->error != KHORGOS_ERROR_ok) {
            apply_error_reply(apply, operation->name, (u32)strlen(operation->name),
                              khorgos_error_name(request->error),
                              khorgos_strerror(request->error), apply->lines[index]);
            continue;
        }
        u32 records = request->reply_size / operation->reply->size;
        apply_output_reserve(apply, cli_codec_reply_bytes_max(operation, records));
        bool encoded = cli_codec_reply_encode(&apply->writer, operation, request->reply,
                                              request->reply_size);
        ASSERT(encoded);
    }
    apply_output_write(apply);
    apply_batch_reset(apply);
}

static void apply_advance_clock(struct apply *apply, const struct cli_clock_advance *advance) {
    ASSERT(apply->request_count == 0);
    const char *name = "advance_clock";
    const u64 nanoseconds_per_second = 1000000000ull;
    bool overflow = advance->seconds > U64_MAX / nanoseconds_per_second;
    u64 total = overflow ? 0 : advance->seconds * nanoseconds_per_second;
    overflow = overflow || advance->nanoseconds > U64_MAX - total;
    total = overflow ? 0 : total + advance->nanoseconds;
    u64 now = 0;
    khorgos_error error = overflow ? KHORGOS_ERROR_invalid_argument
                                   : apply->backend->clock_advance(apply->backend->context,
                                                                   total, &now);
    if (error == KHORGOS_ERROR_clock_not_manual) {
        apply_error_reply(apply, name, (u32)strlen(name), khorgos_error_name(error),
                          "the clock can be advanced only with --clock manual",
                          apply->line_number);
    } else if (error == KHORGOS_ERROR_invalid_argument) {
        apply_error_reply(apply, name, (u32)strlen(name),
                          cli_codec_error_name(CLI_CODEC_ERROR_out_of_range),
                          "the clock would pass 2^64 - 1 nanoseconds", apply->line_number);
    } else if (error != KHORGOS_ERROR_ok) {
        apply_engine_failed(apply, error); /* the expiries it journaled were not written */
        return;
    } else {
        apply_output_reserve(apply, CLI_CODEC_ERROR_REPLY_BYTES_MAX);
        bool encoded = cli_codec_clock_reply_encode(&apply->writer, now);
        ASSERT(encoded);
    }
    apply_output_write(apply);
}

static bool apply_line_blank(const char *line, u32 length) {
    ASSERT(line != NULL || length == 0);
    ASSERT(length <= LIMIT_JSON_LINE_BYTES_MAX);
    for (u32 index = 0; index < length; index++) {
        char character = line[index];
        if (character != ' ' && character != '\t' && character != '\r') return false;
    }
    return true;
}

/* A gateway operation (submit_message, get_statement) is a barrier: the batch before it is
 * committed first, then it is served at once. Returns whether the line was one. */
static bool apply_gateway_line(struct apply *apply, const char *line, u32 length) {
    ASSERT(apply->line_number >= 1);
    ASSERT(line != NULL);
    struct cli_gateway *gateway = apply->backend->gateway;
    if (gateway == NULL || !cli_gateway_line_is_candidate(line, length)) return false;
    apply_batch_flush(apply);
    if (apply->failed) return true;
    khorgos_error error = KHORGOS_ERROR_ok;
    enum cli_gateway_outcome outcome = cli_gateway_line(gateway, &apply->reader, line, length,
                                                        apply->line_number, &error);
    if (outcome == CLI_GATEWAY_FAILED) apply_engine_failed(apply, error);
    if (outcome == CLI_GATEWAY_ANSWERED) {
        apply_write_all(apply, gateway->line, gateway->line_length);
    }
    return outcome != CLI_GATEWAY_NOT_MINE;
}

/* Decodes one line into the batch, or answers it at once when it is refused or local. */
static void apply_line(struct apply *apply, const char *line, u32 length) {
    ASSERT(apply->line_number >= 1);
    if (apply_line_blank(line, length)) return;
    if (apply->request_count == APPLY_BATCH_REQUESTS_MAX) apply_batch_flush(apply);
    if (apply->failed) return; /* invariant 5: the batch stays as it was, unanswered */
    if (apply_gateway_line(apply, line, length)) return;
    struct cli_codec_request decoded;
    struct cli_codec_error error;
    enum cli_codec_decode_status status = cli_codec_request_decode(
        &apply->reader, line, length, apply->bodies + apply->body_used,
        APPLY_ARENA_BYTES - apply->body_used, &decoded, &error);
    if (status == CLI_CODEC_BODY_FULL) {
        apply_batch_flush(apply);
        if (apply->failed) return;
        status = cli_codec_request_decode(&apply->reader, line, length, apply->bodies,
                                          APPLY_ARENA_BYTES, &decoded, &error);
    }
    ASSERT(status != CLI_CODEC_BODY_FULL);
    if (status == CLI_CODEC_REFUSED) {
        apply_batch_flush(apply);
        if (apply->failed) return;
        apply_error_reply(apply, error.op, error.op_length, cli_codec_error_name(error.code),
                          error.message, apply->line_number);
        apply_output_write(apply);
        return;
    }
    if (decoded.operation->operation == CLI_OPERATION_ADVANCE_CLOCK) {
        struct cli_clock_advance advance;
        memcpy(&advance, apply->bodies + apply->body_used, sizeof(advance));
        apply_batch_flush(apply);
        if (apply->failed) return;
        apply_advance_clock(apply, &advance);
        return;
    }
    u32 reply_size_max = khorgos_reply_size_max(decoded.operation->operation, decoded.body_size);
    ASSERT(reply_size_max <= apply->reply_capacity);
    if (reply_size_max > apply->reply_capacity - apply->reply_used) {
        /* No room for its reply: commit the batch first, and move this body to the front. */
        u8 *body = apply->bodies + apply->body_used;
        apply_batch_flush(apply);
        if (apply->failed) return;
        memmove(apply->bodies, body, decoded.body_size);
    }
    u32 index = apply->request_count++;
    apply->requests[index] = (struct khorgos_request){
        .operation = decoded.operation->operation,
        .body_size = decoded.body_size,
        .body = apply->bodies + apply->body_used,
        .reply = apply->replies + apply->reply_used,
        .reply_capacity = reply_size_max,
    };
    apply->operations[index] = decoded.operation;
    apply->lines[index] = apply->line_number;
    /* Each body and reply starts 16-byte aligned: records hold u128 fields. */
    apply->body_used += (decoded.body_size + 15u) & ~15u;
    apply->reply_used += (reply_size_max + 15u) & ~15u;
    ASSERT(apply->body_used <= APPLY_ARENA_BYTES && apply->reply_used <= apply->reply_capacity);
}

/* ----------------------------------------------------------------------------------------- */
/* Input.                                                                                     */

/* Reads more input; without `blocking`, only what is already waiting. Returns false when
 * nothing was waiting. */
static bool apply_input_read(struct apply *apply, bool blocking) {
    ASSERT(!apply->input_eof);
    if (apply->input_start > 0) {
        memmove(apply->input, apply->input + apply->input_start,
                apply->input_end - apply->input_start);
        apply->input_end -= apply->input_start;
        apply->input_start = 0;
    }
    ASSERT(apply->input_end < APPLY_INPUT_BYTES);
    if (!blocking) {
        struct pollfd descriptor = {.fd = STDIN_FILENO, .events = POLLIN};
        int ready = poll(&descriptor, 1, 0);
        if (ready == 0 || (ready < 0 && errno == EINTR)) return false;
    }
    for (;;) {
        ssize_t result = read(STDIN_FILENO, apply->input + apply->input_end,
                              APPLY_INPUT_BYTES - apply->input_end);
        if (result < 0 && errno == EINTR) continue;
        if (result < 0) {
            fprintf(stderr, "khorgos %s: cannot read standard input: %s\n",
                    apply->backend->name, strerror(errno));
        }
        if (result <= 0) apply->input_eof = true;
        else apply->input_end += (u32)result;
        return true;
    }
}

/* Finds the next line; see the states at the top of the file. */
static enum apply_line_status apply_line_next(struct apply *apply, const char **line,
                                              u32 *length) {
    for (;;) {
        ASSERT(apply->input_start <= apply->input_end);
        char *start = apply->input + apply->input_start;
        u32 available = apply->input_end - apply->input_start;
        char *newline = memchr(start, '\n', available);
        bool last = newline == NULL && apply->input_eof && (available > 0 || apply->input_skipping);
        if (newline != NULL || last) {
            u32 line_length = newline != NULL ? (u32)(newline - start) : available;
            apply->input_start += line_length + (newline != NULL ? 1 : 0);
            apply->line_number++;
            if (apply->input_skipping) {
                apply->input_skipping = false;
                return APPLY_LINE_TOO_LONG;
            }
            *line = start;
            *length = line_length;
            return line_length > LIMIT_JSON_LINE_BYTES_MAX ? APPLY_LINE_TOO_LONG : APPLY_LINE;
        }
        if (apply->input_eof) return APPLY_END;
        if (available > LIMIT_JSON_LINE_BYTES_MAX) {
            apply->input_skipping = true; /* keep nothing of it, look for its end */
            apply->input_start = apply->input_end = 0;
        }
        if (!apply_input_read(apply, apply->request_count == 0)) return APPLY_LINE_NONE_WAITING;
    }
}

static void apply_loop(struct apply *apply) {
    ASSERT(apply->backend != NULL && apply->request_count == 0);
    while (!apply->failed) {
        const char *line = NULL;
        u32 length = 0;
        enum apply_line_status status = apply_line_next(apply, &line, &length);
        if (status == APPLY_END) break;
        if (status == APPLY_LINE_NONE_WAITING) {
            apply_batch_flush(apply);
        } else if (status == APPLY_LINE_TOO_LONG) {
            char message[128];
            snprintf(message, sizeof(message), "the line is longer than %u bytes",
                     LIMIT_JSON_LINE_BYTES_MAX);
            apply_batch_flush(apply);
            if (apply->failed) break;
            apply_error_reply(apply, NULL, 0, cli_codec_error_name(CLI_CODEC_ERROR_line_too_long),
                              message, apply->line_number);
            apply_output_write(apply);
        } else {
            apply_line(apply, line, length);
        }
    }
    apply_batch_flush(apply);
    ASSERT(apply->request_count == 0 || apply->failed);
}

/* ----------------------------------------------------------------------------------------- */
/* Start and end.                                                                             */

static u32 apply_output_bytes_max(void) {
    u32 bytes = CLI_CODEC_ERROR_REPLY_BYTES_MAX;
    for (u32 index = 0; index < cli_operation_count(); index++) {
        bytes = MAX(bytes, cli_codec_reply_bytes_max(cli_operation_at(index),
                                                     LIMIT_BATCH_EVENTS_MAX));
    }
    ASSERT(bytes >= CLI_CODEC_ERROR_REPLY_BYTES_MAX);
    return bytes;
}

/* Reserves every buffer (invariant 3). */
/* Bytes of binary replies a batch may need room for: see APPLY_ARENA_BYTES. */
static u32 apply_reply_capacity(void) {
    u32 bytes = APPLY_ARENA_BYTES;
    for (u32 index = 0; index < cli_operation_count(); index++) {
        const struct cli_operation *operation = cli_operation_at(index);
        if (operation->reply == NULL) continue; /* served by apply itself */
        u32 records = operation->body_shape == CLI_BODY_EVENTS ||
                              operation->body_shape == CLI_BODY_IDS
                          ? khorgos_events_max(operation->operation)
                          : 1;
        u32 reply = khorgos_reply_size_max(operation->operation, records * operation->body->size);
        ASSERT(reply <= U32_MAX / 2);
        bytes = MAX(bytes, 2 * reply);
    }
    bytes = (bytes + 63u) & ~63u; /* aligned_alloc takes a multiple of the alignment */
    ASSERT(bytes >= APPLY_ARENA_BYTES && bytes % 64 == 0);
    return bytes;
}

static bool apply_reserve(struct apply *apply) {
    ASSERT(apply != NULL && apply->input == NULL);
    apply->input = malloc(APPLY_INPUT_BYTES);
    apply->tokens = malloc(sizeof(struct cli_json_token) * LIMIT_JSON_TOKENS_MAX);
    apply->bodies = aligned_alloc(64, APPLY_ARENA_BYTES);
    apply->reply_capacity = apply_reply_capacity();
    apply->replies = aligned_alloc(64, apply->reply_capacity);
    apply->output_capacity = apply_output_bytes_max();
    apply->output = malloc(apply->output_capacity);
    if (apply->input == NULL || apply->tokens == NULL || apply->bodies == NULL ||
        apply->replies == NULL || apply->output == NULL) {
        return false;
    }
    cli_json_reader_init(&apply->reader, apply->tokens, LIMIT_JSON_TOKENS_MAX);
    cli_json_writer_init(&apply->writer, apply->output, apply->output_capacity);
    ASSERT(apply->output_capacity >= CLI_CODEC_ERROR_REPLY_BYTES_MAX);
    return true;
}

static void apply_release(struct apply *apply) {
    ASSERT(apply != NULL);
    ASSERT(apply->request_count == 0 || apply->failed); /* nothing left unanswered */
    free(apply->input);
    free(apply->tokens);
    free(apply->bodies);
    free(apply->replies);
    free(apply->output);
    free(apply);
}

int cli_apply_serve(const struct cli_apply_backend *backend) {
    ASSERT(backend != NULL && backend->execute != NULL);
    ASSERT(backend->clock_advance != NULL && backend->failed != NULL);
    struct apply *apply = calloc(1, sizeof(*apply));
    if (apply == NULL || !apply_reserve(apply)) {
        fprintf(stderr, "khorgos %s: out of memory for the request buffers\n", backend->name);
        if (apply != NULL) apply_release(apply);
        return CLI_EXIT_FAILED;
    }
    apply->backend = backend;
    apply_loop(apply);
    int exit_status = apply->failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
    apply_release(apply);
    return exit_status;
}

/* The engine in this process. */
struct apply_engine {
    struct khorgos *engine;
    const char *data_directory; /* NULL in memory */
    bool clock_manual;
};

static khorgos_error apply_engine_execute(void *context, struct khorgos_request *requests,
                                          u32 count) {
    struct apply_engine *local = context;
    ASSERT(local->engine != NULL && count > 0);
    return khorgos_execute(local->engine, requests, count);
}

static khorgos_error apply_engine_clock_advance(void *context, u64 nanoseconds, u64 *now_ns) {
    struct apply_engine *local = context;
    ASSERT(local->engine != NULL && now_ns != NULL);
    if (!local->clock_manual) return KHORGOS_ERROR_clock_not_manual;
    if (nanoseconds > U64_MAX - khorgos_clock_now(local->engine)) {
        return KHORGOS_ERROR_invalid_argument;
    }
    khorgos_error error = khorgos_clock_advance(local->engine, nanoseconds);
    *now_ns = khorgos_clock_now(local->engine);
    return error;
}

static void apply_engine_failure(void *context, khorgos_error error) {
    struct apply_engine *local = context;
    ASSERT(local->engine != NULL && error != KHORGOS_ERROR_ok);
    char failure[KHORGOS_FAILURE_TEXT_BYTES];
    khorgos_failure_text(local->engine, failure, sizeof(failure));
    if (failure[0] != '\0' && local->data_directory != NULL) {
        fprintf(stderr,
                "khorgos apply: %s/%s; stopped: no further replies (restart once the cause is "
                "cleared: every acknowledged request is recovered)\n",
                local->data_directory, failure);
    } else {
        fprintf(stderr, "khorgos apply: the engine failed: %s\n", khorgos_strerror(error));
    }
}

int cli_apply_main(int argc, char **argv) {
    struct apply_options options;
    int exit_status = apply_options_parse(argc, argv, &options);
    if (exit_status >= 0) return exit_status;
    struct apply_engine local = {.data_directory = options.data_directory,
                                 .clock_manual = options.clock_manual};
    khorgos_error error = KHORGOS_ERROR_ok;
    if (options.data_directory != NULL) { /* capacities come from the directory's format */
        char report[1024] = "";
        struct khorgos_open_options open_options = {.clock_manual = options.clock_manual,
                                                    .report = report,
                                                    .report_capacity = sizeof(report)};
        error = khorgos_open(&local.engine, options.data_directory, &open_options);
        if (report[0] != '\0') fprintf(stderr, "khorgos: %s: %s\n", options.data_directory, report);
    } else {
        error = khorgos_open_memory(&local.engine, &options.config);
    }
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos apply: cannot open the engine: %s\n", khorgos_strerror(error));
        return cli_error_refused(error) ? CLI_EXIT_REFUSED : CLI_EXIT_FAILED;
    }
    struct cli_gateway gateway = {0};
    if (!cli_gateway_reserve(&gateway, local.engine)) {
        fprintf(stderr, "khorgos apply: out of memory for the gateway's buffers\n");
        cli_gateway_release(&gateway);
        khorgos_close(local.engine);
        return CLI_EXIT_FAILED;
    }
    if (options.data_directory == NULL) fprintf(stderr, "khorgos: in memory: nothing is durable\n");
    struct cli_apply_backend backend = {.name = "apply", .context = &local,
                                        .execute = apply_engine_execute,
                                        .clock_advance = apply_engine_clock_advance,
                                        .failed = apply_engine_failure, .gateway = &gateway};
    exit_status = cli_apply_serve(&backend);
    cli_gateway_release(&gateway);
    khorgos_close(local.engine);
    return exit_status;
}
