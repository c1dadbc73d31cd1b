/*
 * settle_private.h: what the settlement layer's files share and nothing outside the layer may
 * use (settle.h is the engine's interface). Tests of the layer include it too.
 *
 * The files call one another in one direction only, from the top of this list to the bottom
 * (scripts/layer-calls.py checks it in `make test`; docs/architecture.md draws it):
 *
 *   settle_snapshot.c      the layer's snapshot section and digest
 *   settle_apply.c         init, the dispatch of operations, the loop of every event with a
 *                          request id, timers (the settle pulse), the retries after an event
 *                          or a request, the invariant check: the only file that calls
 *                          across features
 *   settle_references.c    payments submitted with their ISO 20022 references, the checks of
 *                          a message's duplicates and of a return against its original, the
 *                          references' lookups and snapshot part
 *   settle_day.c           open/close of day, cut-offs, holidays, positions
 *   settle_participants.c  participants, funding, credit lines, limits, suspension
 *   settle_payments.c      payment in: submission of every kind, the per-kind table (local,
 *                          PvP, net) of entry and retry, entry of a local payment, the waiting
 *                          payments of an opened day, cancel, reprioritise, lookups
 *   settle_netting.c       deferred net settlement windows (their state: struct settle_netting)
 *   settle_resolve.c       offsetting on entry and gridlock resolution (with settle_gridlock.c
 *                          across currencies and settle_lsm.c per currency)
 *   settle_fx.c            cross-currency PvP: quotes, routing, pricing, booking the legs
 *   settle_book.c          ids, lookups, balances, positions, chains, the one credit draw, the
 *                          payment records' queues, legs and retry list, timers, limits,
 *                          holidays
 *   settle_lsm.c           the pure liquidity-saving algorithms (settle_lsm.h)
 *   settle_gridlock.c      the pure resolution across currencies (settle_gridlock.h)
 */
#ifndef KHORGOS_SETTLE_PRIVATE_H
#define KHORGOS_SETTLE_PRIVATE_H

#include "settle/settle.h"

/* ---- settle_book.c ------------------------------------------------------------------------ */

u128 settle_account_id(u32 kind, u32 currency_numeric, u32 participant_number);
u128 settle_transfer_id_next(struct settle *settle, u32 kind);
/* The participant with this BIC (normalised), SETTLE_NONE if none. */
u32 settle_participant_find(const struct settle *settle, const char bic[KHORGOS_BIC_BYTES]);
bool settle_country_valid(const char country[2]);
u32 settle_currency_find(const struct settle *settle, u32 numeric);
u128 settle_balance(const struct settle *settle, u32 slot);
u128 settle_liquidity(const struct settle *settle, u32 slot);
bool settle_participant_suspended(const struct settle *settle, u32 participant);
/* A calendar date YYYYMMDD from 1970 on. */
bool settle_date_valid(u32 date);
/* Which participant and currency a filter selects (SETTLE_NONE: all); false when it names an
 * unknown one. */
bool settle_filter_select(const struct settle *settle, const struct khorgos_settle_filter *filter,
                          u32 *participant, u32 *currency);

/* Ids scoped by participant (settle.h, "Idempotency"): `map` holds an id's first record,
 * next[index] the next record with the same id; a record's scope is the BIC at `scopes` +
 * index x `stride` (its payer, actor or provider). */
struct settle_scoped_ids {
    const struct base_id_map *map;
    const u32 *next;
    const u8 *scopes;
    size_t stride;
};
struct settle_scoped_ids settle_scoped_payments(const struct settle *settle);
struct settle_scoped_ids settle_scoped_requests(const struct settle *settle);
/* The record of (scope, id), SETTLE_NONE when none; a NULL scope: the first with the id. */
u32 settle_scoped_find(const struct settle_scoped_ids *ids, u128 id, const char *scope);
/* Adds record `index` (its scope already stored) after the others with its id; false when
 * its (scope, id) is taken. */
bool settle_scoped_insert(struct base_id_map *map, u32 *next, const struct settle_scoped_ids *ids,
                          u128 id, u32 index);
/* The scope a lookup or change names: the acting participant's BIC, NULL for the operator. */
const char *settle_actor_scope(const struct settle *settle);
/* The payment of this payer (any BIC text, normalised here for the comparison) and id,
 * SETTLE_NONE when none. */
u32 settle_payment_find(const struct settle *settle, const char payer[KHORGOS_BIC_BYTES], u128 id);

/* Request ids: true when `id` was seen (then *result is the stored answer, or the
 * exists_with_different_fields answer); otherwise the caller applies and calls _store. */
bool settle_request_seen(struct settle *settle, u32 operation, u128 id, const void *event,
                         u32 size, struct khorgos_settle_result *result);
void settle_request_store(struct settle *settle, u32 operation, u128 id, const void *event,
                          u32 size, const struct khorgos_settle_result *result);
/* The checks every request event of settlement starts with: a nonzero id, a retry answered
 * from the stored result, room for one more request id. True when the event is to be applied;
 * false when *result already holds its answer. */
bool settle_request_begin(struct settle *settle, u32 operation, u128 id, const void *event,
                          u32 size, struct khorgos_settle_result *result);

/* Timestamps (see settle.h, "Timestamps"): the next one of the request, and an event's result
 * begun with a timestamp of its own (returned). */
u64 settle_timestamp_take(struct settle *settle);
u64 settle_event_begin(struct settle *settle, struct khorgos_settle_result *result);

/* Ledger booking: append events to the chain, then flush them (asserting all are created). */
void settle_chain_add(struct settle *settle, u32 kind, u128 id, u128 debit, u128 credit,
                      u128 amount, u32 ledger, u128 user_data);
void settle_chain_flush(struct settle *settle);
bool settle_chain_capacity(const struct settle *settle, u32 count);
/* The one credit draw: `draw` for `slot` (0: none) into the chain; its transfer id or 0. */
u128 settle_credit_draw(struct settle *settle, u32 slot, u128 draw);
/* A draw of what `amount` exceeds the slot's balance by; its transfer id or 0. */
u128 settle_credit_cover(struct settle *settle, u32 slot, u128 amount);

/* Payment records. */
u32 settle_payment_append(struct settle *settle, const struct khorgos_payment *event,
                          u64 timestamp);
void settle_queue_append(struct settle *settle, u32 payment);
void settle_queue_remove(struct settle *settle, u32 payment);
/* Whether the slot's queue holds a payment of `priority` or a higher one. */
bool settle_queue_holds(const struct settle *settle, u32 slot, u32 priority);
void settle_waiting_append(struct settle *settle, u32 payment);
void settle_waiting_remove(struct settle *settle, u32 payment);
void settle_payment_finish(struct settle *settle, u32 payment, u8 state, u32 reason,
                           u64 timestamp);
/* The one place a payment becomes settled (settle.h, "Results"). */
void settle_payment_mark_settled(struct settle *settle, u32 payment, u8 settled_in,
                                 u64 timestamp);
/* A local payment booked alone or in a set: settled, with its statistics and limits. */
void settle_payment_settled(struct settle *settle, u32 payment, u64 timestamp);
/* Payments settled since settle->payments_settled was `before` (an event's count). */
u32 settle_settled_since(const struct settle *settle, u64 before);
/* The legs of a payment from its record: one for a local payment, two or three priced ones. */
u32 settle_payment_legs(const struct settle *settle, u32 payment, struct settle_fx_leg *legs);
/* Puts a position on the retry list (settle_retry_run in settle_payments.c walks it). */
void settle_retry_add(struct settle *settle, u32 slot);

/* The settle-by heap. */
void settle_timer_push(struct settle *settle, u64 due, u32 payment);
void settle_timer_pop(struct settle *settle);

/* Bilateral limits and the limit check of a payer slot paying `amount` to participant
 * `payee`: ok, or the status. */
u128 settle_limit_key(u32 slot, u32 counterparty);
struct settle_bilateral_limit *settle_limit_find(const struct settle *settle, u32 slot,
                                                 u32 counterparty);
u32 settle_limits_status(const struct settle *settle, u32 payer_slot, u32 payee, u128 amount);

/* The calendar: currency index c's holidays, the first at or after `date`, and whether `date`
 * is one. */
u32 *settle_holidays_of(struct settle *settle, u32 currency);
u32 settle_holiday_lower_bound(const struct settle *settle, u32 currency, u32 date);
bool settle_holiday_is(const struct settle *settle, u32 currency, u32 date);

/* ---- The other files -------------------------------------------------------------------- */

/* Payments (settle_payments.c). */
/* Printable ASCII, NUL-padded to `size` bytes; not empty when `required`. */
bool settle_text_valid(const char *text, u32 size, bool required);
void settle_submit_payments(struct settle *settle, u64 timestamp,
                            const struct khorgos_payment *events, u32 count,
                            struct khorgos_settle_result *results);
u32 settle_payment_enter(struct settle *settle, u32 payment, u64 timestamp);
/* At open_day of the currency: the payments waiting for a value date up to the day's enter. */
void settle_release_waiting(struct settle *settle, u32 currency, u64 timestamp);
u32 settle_retry_run(struct settle *settle, u64 timestamp);
void settle_cancel_payments(struct settle *settle, u64 timestamp,
                            const struct khorgos_payment_change *events, u32 count,
                            struct khorgos_settle_result *results);
void settle_reprioritize_payments(struct settle *settle, u64 timestamp,
                                  const struct khorgos_payment_change *events, u32 count,
                                  struct khorgos_settle_result *results);
u32 settle_lookup_payments(const struct settle *settle, const u128 *ids, u32 count,
                           struct khorgos_payment *out);
u32 settle_get_queue(const struct settle *settle, const struct khorgos_settle_filter *filter,
                     struct khorgos_payment *out, u32 count_max);

/* Participants (settle_participants.c). */
void settle_create_participants(struct settle *settle, u64 timestamp,
                                const struct khorgos_participant *events, u32 count,
                                struct khorgos_settle_result *results);

/* One event of a request with a request id, applied at its timestamp: its status. The loop
 * around it (the request id, the retries after it, its count) is settle_apply.c's. */
u32 settle_participant_event_one(struct settle *settle, u32 operation, const void *event,
                                 u64 timestamp);
u32 settle_day_event_one(struct settle *settle, u32 operation, const void *event, u64 timestamp);
u32 settle_holiday_event_one(struct settle *settle, u32 operation, const void *event,
                             u64 timestamp);
u32 settle_resolve_event_one(struct settle *settle, u32 operation, const void *event,
                             u64 timestamp);
u32 settle_netting_window_event_one(struct settle *settle, u32 operation, const void *event,
                                    u64 timestamp);

/* Liquidity saving (settle_resolve.c). Returns payments settled. A resolution leaves the
 * retries of the queues it released to its caller. settle_offset_pvp_enter enters a gross
 * cross-currency payment (alone, offset, or queued; returns its status). */
u32 settle_offset_on_entry(struct settle *settle, u32 payment, u64 timestamp);
u32 settle_offset_pvp_enter(struct settle *settle, u32 payment, u64 timestamp);
u32 settle_resolve(struct settle *settle, u32 currency, u64 timestamp);

u32 settle_get_positions(const struct settle *settle, const struct khorgos_settle_filter *filter,
                         struct khorgos_position *out, u32 count_max);
/* The day's timers, fired by the settle pulse (settle_apply.c): settle-by rejections, a
 * currency's cut-offs, and whether its timed resolution is due (then rescheduled). */
void settle_day_settle_by(struct settle *settle, u64 timestamp);
bool settle_day_cut_off_due(const struct settle *settle, u32 currency, u64 timestamp);
void settle_day_cut_offs(struct settle *settle, u32 currency, u64 timestamp);
bool settle_day_resolution_due(struct settle *settle, u32 currency, u64 timestamp);

/* The days each currency opened (settle_day.c): get_business_days, and the check of one
 * currency's history. */
u32 settle_get_business_days(const struct settle *settle, const struct khorgos_day_filter *filter,
                             struct khorgos_business_day_record *out, u32 count_max);
bool settle_day_history_check(const struct settle *settle, u32 currency);

/* Cross-currency PvP (settle_fx.c) and netting windows (settle_netting.c). */
khorgos_error settle_fx_init(struct settle *settle);
void settle_fx_deinit(struct settle *settle);
bool settle_fx_convert_floor(const struct khorgos_fx_quote *quote, u128 source, u128 *target);
bool settle_fx_convert_ceil(const struct khorgos_fx_quote *quote, u128 target, u128 *source);
void settle_fx_set_quotes(struct settle *settle, u64 timestamp,
                          const struct khorgos_fx_quote *events, u32 count,
                          struct khorgos_settle_result *results);
void settle_fx_withdraw_quotes(struct settle *settle, u64 timestamp, const u128 *ids, u32 count,
                               struct khorgos_settle_result *results);
u32 settle_fx_lookup_quotes(const struct settle *settle, const u128 *ids, u32 count,
                            struct khorgos_fx_quote *out);
void settle_fx_set_routing(struct settle *settle, u64 timestamp,
                           const struct khorgos_fx_routing *events, u32 count,
                           struct khorgos_settle_result *results);
/* Why a new cross-currency or net payment cannot be taken, ok when it can; and the record as
 * its submitter gave it (out fields zero), to compare a retried submission. */
u32 settle_fx_submit_status(struct settle *settle, u32 payment, u64 timestamp);
void settle_fx_input_view(struct khorgos_payment *record);
u32 settle_fx_enter_try(struct settle *settle, u32 payment, u64 timestamp, bool *may_offset);
u32 settle_fx_enter_queue(struct settle *settle, u32 payment, u32 reason);
/* A queued cross-currency payment tried again (requoted): settled, or why not. */
u32 settle_fx_retry(struct settle *settle, u32 payment, u64 timestamp);
/* Puts the payer queues holding cross-currency payments on the retry list; false when none. */
bool settle_fx_retry_mark(struct settle *settle);
u32 settle_fx_price_take(struct settle *settle, u32 payment, u64 timestamp);
void settle_fx_price_release(struct settle *settle, u32 payment);
void settle_fx_leg_settled(struct settle *settle, const struct settle_fx_leg *leg);
bool settle_fx_check(const struct settle *settle);
u32 settle_netting_enter(struct settle *settle, u32 payment, u64 timestamp);
u32 settle_netting_lookup_windows(const struct settle *settle, const struct khorgos_window *events,
                                  u32 count, struct khorgos_window *out);
u32 settle_netting_get_positions(struct settle *settle, const struct khorgos_window_filter *filter,
                                 struct khorgos_window_position *out, u32 count_max);
u64 settle_netting_timer_next(const struct settle *settle);
void settle_netting_pulse(struct settle *settle, u64 timestamp);
bool settle_netting_check(const struct settle *settle);
/* The snapshot parts of fx and netting (their layout: settle_snapshot.c). */
typedef void (*settle_snapshot_put)(void *context, const void *data, u64 size);
typedef khorgos_error (*settle_snapshot_get)(void *context, void *data, u64 size);
void settle_fx_snapshot_emit_quotes(const struct settle *settle, settle_snapshot_put put,
                                    void *context);
void settle_fx_snapshot_emit_payments(const struct settle *settle, settle_snapshot_put put,
                                      void *context);
khorgos_error settle_fx_snapshot_read_quotes(struct settle *settle, u32 quote_count,
                                             settle_snapshot_get get, void *context);
khorgos_error settle_fx_snapshot_read_payments(struct settle *settle, settle_snapshot_get get,
                                               void *context);
khorgos_error settle_netting_init(struct settle *settle);
void settle_netting_deinit(struct settle *settle);
void settle_netting_snapshot_emit(const struct settle *settle, settle_snapshot_put put,
                                  void *context);
khorgos_error settle_netting_snapshot_read(struct settle *settle, u32 count, u32 open,
                                           u32 unfinished, settle_snapshot_get get,
                                           void *context);

/* ISO 20022 references (settle_references.c). */
khorgos_error settle_references_init(struct settle *settle);
void settle_references_deinit(struct settle *settle);
void settle_submit_message_payments(struct settle *settle, u64 timestamp,
                                    const struct khorgos_message_payment *events, u32 count,
                                    struct khorgos_settle_result *results);
u32 settle_get_payment_references(const struct settle *settle,
                                  const struct khorgos_references_filter *filter,
                                  struct khorgos_payment_references *out, u32 count_max);
bool settle_references_check(const struct settle *settle);
void settle_references_snapshot_emit(const struct settle *settle, settle_snapshot_put put,
                                     void *context);
/* Reads payment_count records (the payments are read) and rebuilds the maps; corrupt when
 * they do not describe valid references. */
khorgos_error settle_references_snapshot_read(struct settle *settle, settle_snapshot_get get,
                                              void *context);

#endif /* KHORGOS_SETTLE_PRIVATE_H */
