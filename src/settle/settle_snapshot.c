/*
 * settle_snapshot.c: the settlement layer's section of a snapshot (module
 * SETTLE_SNAPSHOT_SECTION, version 5) and its digest. The storage layer frames and checksums
 * the section (src/storage/storage.h); this file decides what of struct settle is state.
 *
 * Section bytes, little-endian, back to back:
 *     0  4 participant_count   4 4 currency_count   8 4 payment_count   12 4 timer_count
 *    16  4 limit_count        20 4 request_count   24 8 payment_sequence 32 8 transfer_sequence
 *    40      participants      participant_count x 128 (struct khorgos_participant)
 *            positions         participant_count x 8 slots x SETTLE_SNAPSHOT_POSITION_BYTES
 *                              (struct settle_position up to retry_pending: no padding inside)
 *            currencies        currency_count x sizeof(struct settle_currency) (zeroed before
 *                              use, so its padding is zero; from version 3 it holds
 *                              holiday_count and opened_at)
 *            payments          payment_count x 256 (struct khorgos_payment)
 *            links             payment_count x 4, five times: next, prev, payer slot, payee
 *                              slot, submit status
 *            timers            timer_count x 16 (the settle-by heap's array as it is)
 *            limits            limit_count x 40: limit 16, position 16, slot 4, counterparty 4
 *            requests          request_count x 80: id 16, checksum 16, result 32, actor 11
 *                              (the acting participant's BIC, zero for the operator), zero 5
 *            holidays          per currency in order, its holiday_count dates x 4 (u32
 *                              YYYYMMDD, ascending) (version 3)
 *            fx and windows    (version 2) 32 bytes of counts: quote_count 4,
 *                              window_count 4, window_open 4, window_unfinished 4,
 *                              routing_mode 4, vehicle_numeric 4, queued_slot_count 4, zero 4;
 *                              then the quotes (settle_fx_snapshot_emit_quotes: quote_count x
 *                              128, struct khorgos_fx_quote, then quote_count x 4 provider
 *                              indexes), the windows (settle_netting_snapshot_emit:
 *                              window_count x 112, struct settle_window_entry: record 96, head
 *                              4, tail 4, settle_due 8), and per payment and slot
 *                              (settle_fx_snapshot_emit_payments: payment_count x 16 vehicle
 *                              amount, then x 4 three times: vehicle currency, first quote,
 *                              second quote; then participant_count x 8 bytes slot_fx_queued)
 *            references        (version 5) payment_count x 224 (struct
 *                              khorgos_payment_references, all zero for a payment without)
 *            days              (version 5) per currency in order, its day_count days opened x
 *                              32 (struct khorgos_business_day_record, oldest first)
 *
 * Versions: 1 the RTGS state; 2 the quotes and netting windows appended; 3 the calendar (the
 * holidays and the two fields of struct settle_currency); 4 a position's closing_balance
 * (inside struct settle_position, so a position is 16 bytes longer); 5 a request id's actor
 * (request ids are scoped by participant, settle.h "Idempotency"), the payments' ISO 20022
 * references (settle_references.c) and the days each currency opened (with day_count in
 * struct settle_currency, where padding was). Only the current version is read (the engine
 * refuses others with format_version): a data directory of an older build replays its
 * journal from an older snapshot only with that build.
 * Not written, being derived: the four id maps (rebuilt from the records: an id's value is
 * its index), the references' two maps and their links (settle_references.c), and the
 * scratch. The retry list and the chain are empty between requests.
 * The digest is XXH3-128 of exactly these bytes, so replay checks can compare it.
 */
#include "settle/settle_private.h"
#include "storage/storage.h"

struct settle_snapshot_counts {
    u32 participant_count;
    u32 currency_count;
    u32 payment_count;
    u32 timer_count;
    u32 limit_count;
    u32 request_count;
    u64 payment_sequence;
    u64 transfer_sequence;
};
_Static_assert(sizeof(struct settle_snapshot_counts) == 40, "the section starts with 40 bytes");

#define SETTLE_SNAPSHOT_POSITION_BYTES (offsetof(struct settle_position, retry_pending) + 1)
#define SETTLE_SNAPSHOT_LIMIT_BYTES 40u
_Static_assert(offsetof(struct settle_position, retry_pending) ==
                   offsetof(struct settle_position, in_use) + 1,
               "positions have no padding before their end");
_Static_assert(sizeof(struct settle_request) == 80, "a request is 80 bytes, no padding");

/* The counts of the cross-currency and netting part, which the two files' parts follow. */
struct settle_snapshot_exchange_counts {
    u32 quote_count, window_count, window_open, window_unfinished;
    u32 routing_mode, vehicle_numeric, queued_slot_count, zero;
};
_Static_assert(sizeof(struct settle_snapshot_exchange_counts) == 32, "32 bytes, no padding");
_Static_assert(sizeof(struct settle_window_entry) == 112, "a window entry has no padding");

/* The cross-currency and netting part: counts, quotes, windows, per payment and slot. */
static void settle_snapshot_emit_exchange(const struct settle *settle, storage_put_function put,
                                          void *context) {
    const struct settle_fx *fx = &settle->fx;
    const struct settle_netting *netting = &settle->netting;
    ASSERT(fx->quote_count <= SETTLE_FX_QUOTE_COUNT_MAX);
    ASSERT(netting->window_count <= SETTLE_WINDOW_COUNT_MAX);
    const struct settle_snapshot_exchange_counts counts = {
        fx->quote_count, netting->window_count, netting->window_open,
        netting->window_unfinished, fx->routing_mode, fx->vehicle_numeric,
        fx->queued_slot_count, 0};
    put(context, &counts, sizeof(counts));
    settle_fx_snapshot_emit_quotes(settle, put, context);
    settle_netting_snapshot_emit(settle, put, context);
    settle_fx_snapshot_emit_payments(settle, put, context);
}

static void settle_snapshot_emit(const struct settle *settle, storage_put_function put,
                                 void *context) {
    ASSERT(settle->retry_count == 0 && settle->chain_count == 0);
    const struct settle_snapshot_counts counts = {
        settle->participant_count, settle->currency_count, settle->payment_count,
        settle->timer_count, settle->limit_count, settle->request_count,
        settle->payment_sequence, settle->transfer_sequence};
    put(context, &counts, sizeof(counts));
    put(context, settle->participants,
        (u64)settle->participant_count * sizeof(*settle->participants));
    for (u32 slot = 0; slot < settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
         slot++) {
        put(context, &settle->positions[slot], SETTLE_SNAPSHOT_POSITION_BYTES);
    }
    put(context, settle->currencies, (u64)settle->currency_count * sizeof(settle->currencies[0]));
    u64 payments = settle->payment_count;
    put(context, settle->payments, payments * sizeof(*settle->payments));
    const u32 *links[] = {settle->payment_next, settle->payment_prev, settle->payment_payer_slot,
                          settle->payment_payee_slot, settle->payment_submit_status};
    for (u32 index = 0; index < ARRAY_COUNT(links); index++) {
        put(context, links[index], payments * 4);
    }
    put(context, settle->timers, (u64)settle->timer_count * sizeof(*settle->timers));
    for (u32 index = 0; index < settle->limit_count; index++) {
        const struct settle_bilateral_limit *limit = &settle->limits[index];
        u8 bytes[SETTLE_SNAPSHOT_LIMIT_BYTES];
        memcpy(bytes, &limit->limit, 16);
        memcpy(bytes + 16, &limit->position, 16);
        memcpy(bytes + 32, &limit->position_slot, 4);
        memcpy(bytes + 36, &limit->counterparty, 4);
        put(context, bytes, sizeof(bytes));
    }
    put(context, settle->requests, (u64)settle->request_count * sizeof(*settle->requests));
    for (u32 currency = 0; currency < settle->currency_count; currency++) {
        ASSERT(settle->currencies[currency].holiday_count <= SETTLE_HOLIDAY_COUNT_MAX);
        put(context, &settle->holidays[currency * SETTLE_HOLIDAY_COUNT_MAX],
            (u64)settle->currencies[currency].holiday_count * sizeof(u32));
    }
    settle_snapshot_emit_exchange(settle, put, context);
    settle_references_snapshot_emit(settle, put, context);
    for (u32 currency = 0; currency < settle->currency_count; currency++) {
        ASSERT(settle->currencies[currency].day_count <= SETTLE_DAY_HISTORY_MAX);
        put(context, &settle->days[currency * SETTLE_DAY_HISTORY_MAX],
            (u64)settle->currencies[currency].day_count * sizeof(*settle->days));
    }
}

void settle_snapshot_write(const struct settle *settle, struct storage_writer *writer) {
    ASSERT(settle != NULL && writer != NULL);
    storage_writer_section_begin(writer, SETTLE_SNAPSHOT_SECTION, SETTLE_SNAPSHOT_VERSION);
    settle_snapshot_emit(settle, storage_put_writer, writer);
    storage_writer_section_end(writer);
}

u128 settle_digest(const struct settle *settle) {
    ASSERT(settle != NULL);
    struct base_checksum_stream stream;
    base_checksum_stream_init(&stream);
    settle_snapshot_emit(settle, storage_put_checksum, &stream);
    return base_checksum_stream_final(&stream);
}

/* ---- load ---------------------------------------------------------------------------------- */

static bool settle_counts_valid(const struct settle *settle,
                                const struct settle_snapshot_counts *counts) {
    return counts->participant_count <= settle->config.participant_count_max &&
           counts->currency_count <= SETTLE_CURRENCY_COUNT_MAX &&
           counts->payment_count <= settle->config.payment_count_max &&
           counts->timer_count <= settle->config.payment_count_max &&
           counts->limit_count <= settle->config.limit_count_max &&
           counts->request_count <= settle->config.request_count_max &&
           counts->payment_sequence >= counts->payment_count;
}

/* Whether the byte at `offset` of a record read from a snapshot is a valid bool (0 or 1): a
 * bool holding any other value is undefined behaviour to read, so it is checked as a byte. */
static bool settle_byte_is_bool(const void *record, size_t offset) {
    ASSERT(record != NULL);
    ASSERT(offset < sizeof(struct settle_currency) || offset < sizeof(struct settle_position));
    u8 byte;
    memcpy(&byte, (const u8 *)record + offset, 1);
    return byte <= 1;
}

/* The bools of the positions and currencies read, before anything reads them as bools. */
static bool settle_bools_valid(const struct settle *settle) {
    ASSERT(settle->participant_count <= settle->config.participant_count_max);
    ASSERT(settle->currency_count <= SETTLE_CURRENCY_COUNT_MAX);
    u32 slots = settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    for (u32 slot = 0; slot < slots; slot++) {
        const struct settle_position *position = &settle->positions[slot];
        if (!settle_byte_is_bool(position, offsetof(struct settle_position, in_use)) ||
            !settle_byte_is_bool(position, offsetof(struct settle_position, retry_pending))) {
            return false;
        }
    }
    for (u32 index = 0; index < settle->currency_count; index++) {
        const struct settle_currency *currency = &settle->currencies[index];
        if (!settle_byte_is_bool(currency, offsetof(struct settle_currency, day_open)) ||
            !settle_byte_is_bool(currency,
                                 offsetof(struct settle_currency, cut_off_customer_passed)) ||
            !settle_byte_is_bool(currency,
                                 offsetof(struct settle_currency, cut_off_interbank_passed))) {
            return false;
        }
    }
    return true;
}

/* Rebuilds the id maps; false on a zero or repeated id or a reference out of range. */
static bool settle_maps_rebuild(struct settle *settle) {
    u32 slots = settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    for (u32 slot = 0; slot < slots; slot++) {
        const struct settle_position *position = &settle->positions[slot];
        if (position->in_use &&
            (position->currency >= settle->currency_count ||
             position->participant != slot / KHORGOS_PARTICIPANT_CURRENCIES_MAX ||
             position->retry_pending)) {
            return false;
        }
    }
    struct settle_scoped_ids payments = settle_scoped_payments(settle);
    for (u32 index = 0; index < settle->payment_count; index++) {
        u128 id = settle->payments[index].id;
        u32 payer = settle->payment_payer_slot[index];
        if (payer != SETTLE_NONE && (payer >= slots || !settle->positions[payer].in_use)) {
            return false;
        }
        if (id == 0 || !settle_scoped_insert(&settle->payment_map, settle->payment_same_id,
                                             &payments, id, index)) {
            return false;
        }
    }
    for (u32 index = 0; index < settle->limit_count; index++) {
        const struct settle_bilateral_limit *limit = &settle->limits[index];
        if (limit->position_slot >= slots || limit->counterparty >= settle->participant_count) {
            return false;
        }
        u128 key = (((u128)limit->position_slot << 32) | limit->counterparty) + 1;
        if (base_id_map_get(&settle->limit_map, key, &(u32){0})) return false;
        base_id_map_insert(&settle->limit_map, key, index);
    }
    struct settle_scoped_ids requests = settle_scoped_requests(settle);
    static const u8 zero[sizeof(settle->requests[0].padding)];
    for (u32 index = 0; index < settle->request_count; index++) {
        const struct settle_request *request = &settle->requests[index];
        if (request->id == 0 || memcmp(request->padding, zero, sizeof(zero)) != 0 ||
            !settle_scoped_insert(&settle->request_map, settle->request_same_id, &requests,
                                  request->id, index)) {
            return false;
        }
    }
    for (u32 index = 0; index < settle->timer_count; index++) {
        if (settle->timers[index].payment >= settle->payment_count) return false;
    }
    return true;
}

static khorgos_error settle_read_limits(struct settle *settle, struct storage_reader *reader) {
    for (u32 index = 0; index < settle->limit_count; index++) {
        u8 bytes[SETTLE_SNAPSHOT_LIMIT_BYTES];
        khorgos_error error = storage_reader_get(reader, bytes, sizeof(bytes));
        if (error != KHORGOS_ERROR_ok) return error;
        struct settle_bilateral_limit *limit = &settle->limits[index];
        memset(limit, 0, sizeof(*limit));
        memcpy(&limit->limit, bytes, 16);
        memcpy(&limit->position, bytes + 16, 16);
        memcpy(&limit->position_slot, bytes + 32, 4);
        memcpy(&limit->counterparty, bytes + 36, 4);
    }
    return KHORGOS_ERROR_ok;
}

/* The calendar: each currency's dates (their count was read with the currency and is checked
 * here before the dates are; their order by settle_check). */
static khorgos_error settle_read_holidays(struct settle *settle, struct storage_reader *reader) {
    for (u32 currency = 0; currency < settle->currency_count; currency++) {
        u32 count = settle->currencies[currency].holiday_count;
        if (count > SETTLE_HOLIDAY_COUNT_MAX) return KHORGOS_ERROR_corrupt;
        khorgos_error error =
            storage_reader_get(reader, &settle->holidays[currency * SETTLE_HOLIDAY_COUNT_MAX],
                               (u64)count * sizeof(u32));
        if (error != KHORGOS_ERROR_ok) return error;
    }
    return KHORGOS_ERROR_ok;
}

/* The days each currency opened (their count was read with the currency; their order is
 * settle_check's). */
static khorgos_error settle_read_days(struct settle *settle, struct storage_reader *reader) {
    ASSERT(settle != NULL && reader != NULL);
    ASSERT(settle->currency_count <= SETTLE_CURRENCY_COUNT_MAX);
    for (u32 currency = 0; currency < settle->currency_count; currency++) {
        u32 count = settle->currencies[currency].day_count;
        if (count > SETTLE_DAY_HISTORY_MAX) return KHORGOS_ERROR_corrupt;
        khorgos_error error =
            storage_reader_get(reader, &settle->days[currency * SETTLE_DAY_HISTORY_MAX],
                               (u64)count * sizeof(*settle->days));
        if (error != KHORGOS_ERROR_ok) return error;
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error settle_get_reader(void *context, void *data, u64 size) {
    return storage_reader_get(context, data, size);
}

/* Reads what settle_snapshot_emit_exchange wrote; corrupt when the counts do not fit, the
 * quotes do not rebuild their map or the two parts break their invariants. */
static khorgos_error settle_read_exchange(struct settle *settle, struct storage_reader *reader) {
    struct settle_snapshot_exchange_counts counts;
    khorgos_error error = storage_reader_get(reader, &counts, sizeof(counts));
    if (error != KHORGOS_ERROR_ok) return error;
    if (counts.quote_count > SETTLE_FX_QUOTE_COUNT_MAX ||
        counts.window_count > SETTLE_WINDOW_COUNT_MAX || counts.window_open > counts.window_count ||
        counts.window_unfinished > counts.window_count || counts.zero != 0) {
        return KHORGOS_ERROR_corrupt;
    }
    settle->fx.routing_mode = counts.routing_mode;
    settle->fx.vehicle_numeric = counts.vehicle_numeric;
    settle->fx.queued_slot_count = counts.queued_slot_count;
    error = settle_fx_snapshot_read_quotes(settle, counts.quote_count, settle_get_reader, reader);
    if (error == KHORGOS_ERROR_ok) {
        error = settle_netting_snapshot_read(settle, counts.window_count, counts.window_open,
                                             counts.window_unfinished, settle_get_reader, reader);
    }
    if (error == KHORGOS_ERROR_ok) {
        error = settle_fx_snapshot_read_payments(settle, settle_get_reader, reader);
    }
    if (error != KHORGOS_ERROR_ok) return error;
    return settle_fx_check(settle) && settle_netting_check(settle) ? KHORGOS_ERROR_ok
                                                                   : KHORGOS_ERROR_corrupt;
}

khorgos_error settle_snapshot_read(struct settle *settle, struct storage_reader *reader) {
    ASSERT(settle != NULL && reader != NULL);
    ASSERT(settle->participant_count == 0 && settle->payment_count == 0);
    struct settle_snapshot_counts counts;
    khorgos_error error = storage_reader_get(reader, &counts, sizeof(counts));
    if (error != KHORGOS_ERROR_ok) return error;
    if (!settle_counts_valid(settle, &counts)) return KHORGOS_ERROR_corrupt;
    settle->participant_count = counts.participant_count;
    settle->currency_count = counts.currency_count;
    settle->payment_count = counts.payment_count;
    settle->timer_count = counts.timer_count;
    settle->limit_count = counts.limit_count;
    settle->request_count = counts.request_count;
    settle->payment_sequence = counts.payment_sequence;
    settle->transfer_sequence = counts.transfer_sequence;
    u64 payments = counts.payment_count;
    error = storage_reader_get(reader, settle->participants,
                               (u64)counts.participant_count * sizeof(*settle->participants));
    for (u32 slot = 0; error == KHORGOS_ERROR_ok &&
                       slot < counts.participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
         slot++) {
        error =
            storage_reader_get(reader, &settle->positions[slot], SETTLE_SNAPSHOT_POSITION_BYTES);
    }
    if (error == KHORGOS_ERROR_ok) {
        error = storage_reader_get(reader, settle->currencies,
                                   (u64)counts.currency_count * sizeof(settle->currencies[0]));
    }
    if (error == KHORGOS_ERROR_ok) {
        error = storage_reader_get(reader, settle->payments, payments * sizeof(*settle->payments));
    }
    u32 *links[] = {settle->payment_next, settle->payment_prev, settle->payment_payer_slot,
                    settle->payment_payee_slot, settle->payment_submit_status};
    for (u32 index = 0; error == KHORGOS_ERROR_ok && index < ARRAY_COUNT(links); index++) {
        error = storage_reader_get(reader, links[index], payments * 4);
    }
    if (error == KHORGOS_ERROR_ok) {
        error = storage_reader_get(reader, settle->timers,
                                   (u64)counts.timer_count * sizeof(*settle->timers));
    }
    if (error == KHORGOS_ERROR_ok) error = settle_read_limits(settle, reader);
    if (error == KHORGOS_ERROR_ok) {
        error = storage_reader_get(reader, settle->requests,
                                   (u64)counts.request_count * sizeof(*settle->requests));
    }
    if (error == KHORGOS_ERROR_ok) error = settle_read_holidays(settle, reader);
    if (error != KHORGOS_ERROR_ok) return error;
    if (!settle_bools_valid(settle) || !settle_maps_rebuild(settle)) return KHORGOS_ERROR_corrupt;
    error = settle_read_exchange(settle, reader);
    if (error == KHORGOS_ERROR_ok) {
        error = settle_references_snapshot_read(settle, settle_get_reader, reader);
    }
    if (error == KHORGOS_ERROR_ok) error = settle_read_days(settle, reader);
    if (error != KHORGOS_ERROR_ok) return error;
    if (storage_reader_remaining(reader) != 0) {
        return KHORGOS_ERROR_corrupt;
    }
    return settle_check(settle) ? KHORGOS_ERROR_ok : KHORGOS_ERROR_corrupt;
}
