/*
 * settle_fx.h: the state of cross-currency payment-versus-payment (settle_fx.c), a part of the
 * settle layer. Included by settle.h, which embeds struct settle_fx in struct settle; the
 * functions are declared in settle_private.h. Design notes: the opening comment of settle_fx.c.
 */
#ifndef KHORGOS_SETTLE_FX_H
#define KHORGOS_SETTLE_FX_H

#include "base/base.h"

/* Limits, each with its reason. */
/* Quotes kept (live, withdrawn or expired): a day of a few dozen providers requoting each of
 * the region's 56 ordered pairs every few minutes fits with room. */
#define SETTLE_FX_QUOTE_COUNT_MAX 8192u
/* A rate has at most 12 significant digits (the issue): its mantissa is below 10^12. */
#define SETTLE_FX_RATE_MANTISSA_LIMIT 1000000000000ull
/* Power-of-ten exponents a rate may have, and minor-unit differences: the scale applied to an
 * amount stays within 10^-(18+9)..10^(18+9), which the conversion handles exactly. */
#define SETTLE_FX_RATE_EXPONENT_MIN (-18)
#define SETTLE_FX_RATE_EXPONENT_MAX 18
/* Cross-currency amounts: amount * mantissa must fit in u128 (10^24 * 10^12 < 2^128 / 10^2). */
#define SETTLE_FX_AMOUNT_MAX ((u128)1000000000000ull * (u128)1000000000000ull)
/* Legs of a cross-currency payment: payer -> provider, provider -> provider (vehicle),
 * provider -> payee; each may need a credit draw. */
#define SETTLE_FX_LEG_COUNT_MAX 3u
#define SETTLE_FX_CURRENCY_VEHICLE_DEFAULT 156u /* CNY */

_Static_assert(SETTLE_FX_RATE_MANTISSA_LIMIT < (1ull << 40), "mantissa fits 40 bits");
_Static_assert(SETTLE_FX_LEG_COUNT_MAX * 2 <= LIMIT_BATCH_EVENTS_MAX, "a chain fits a batch");

/* One leg: `debtor` pays `creditor` (position slots, same currency) `amount`. */
struct settle_fx_leg {
    u128 amount;
    u32 debtor_slot;
    u32 creditor_slot;
};

/* A priced route: quotes (second U32_MAX when direct) and the three amounts (settle_fx.c). */
struct settle_fx_price {
    u32 route;
    u32 quote_first, quote_second;
    u32 vehicle;   /* numeric, 0 when direct */
    u128 source, vehicle_amount, target;
};

/* A queued cross-currency payment admitted to one liquidity-saving run (settle_resolve.c):
 * its price at the run's timestamp and its legs; legs[0] is the source leg the run's model
 * holds as a payment payer -> first provider. */
struct settle_fx_admitted {
    struct settle_fx_price price;
    struct settle_fx_leg legs[SETTLE_FX_LEG_COUNT_MAX];
    u32 leg_count;
    u32 payment;
    u32 room_taken; /* 1: admitted with its quotes' room taken (_admit); 0: not yet (_price) */
    u32 reserved;
};

struct settle_fx {
    struct khorgos_fx_quote *quotes; /* [SETTLE_FX_QUOTE_COUNT_MAX] */
    u32 *quote_provider;             /* participant index per quote */
    u32 quote_count;
    struct base_id_map quote_map;    /* quote id -> the first quote with it */
    u32 *quote_same_id;              /* the next quote with the same id, SETTLE_NONE */
    u32 routing_mode;                /* enum khorgos_fx_routing_mode */
    u32 vehicle_numeric;
    /* Payer slots where a cross-currency payment was queued (retried after each request). */
    u8 *slot_fx_queued;
    u32 queued_slot_count;
    /* Per payment (by index): the vehicle leg's amount and currency (0 = none), and the quotes
     * whose room it took (SETTLE_NONE = none), returned when a window drops it. */
    u128 *amount_vehicle;
    u32 *vehicle_numeric_of;
    u32 *quote_first_of, *quote_second_of;
    /* Liquidity saving (settle_fx.c "Liquidity saving"), scratch of one run, empty between
     * runs: the admitted payments, each payment's entry (U32_MAX = none), and per position
     * slot the outflow reserved for admitted payments' other legs, with the slots touched. */
    struct settle_fx_admitted *admitted; /* [payment_count_max] */
    u32 admitted_count;
    u32 *admitted_of;                    /* [payment_count_max] */
    u128 *slot_reserved;                 /* [slots] */
    u32 *reserved_slots;                 /* [slots] */
    u32 reserved_slot_count;
};

/* Whether a payment uses the cross-currency or net settlement fields: such payments are
 * settled and retried by settle_fx.c / settle_netting.c. */
static inline bool settle_fx_payment_is(const struct khorgos_payment *payment) {
    return payment->currency_target != 0 || payment->amount_kind != 0 ||
           payment->settlement != 0 || payment->amount_target != 0;
}

/* Cross-currency payments in liquidity saving (settle_fx.c; used by settle_resolve.c). A run
 * calls _begin, then _admit for each queued cross-currency payment it loads (true: the model
 * may hold it as a payment to *receiver_slot's participant of *amount), books the chosen set
 * with _take (each chosen one, once off its queue), _transfers and _book (its other legs, in
 * the set's chain after the source currency's part), _settled after the chain, and always
 * ends with _end. */
struct settle;
void settle_fx_lsm_begin(struct settle *settle);
bool settle_fx_lsm_admit(struct settle *settle, u32 payment, u64 timestamp, u32 *receiver_slot,
                         u128 *amount);
/* For the resolution across currencies: prices the payment now and checks its legs' days,
 * cut-offs and parties, but neither funds nor reservations, and takes no quote room (_take
 * takes it for a chosen one). Returns its entry, or NULL when it cannot be admitted. */
const struct settle_fx_admitted *settle_fx_lsm_price(struct settle *settle, u32 payment,
                                                     u64 timestamp);
bool settle_fx_lsm_admitted(const struct settle *settle, u32 payment);
void settle_fx_lsm_take(struct settle *settle, u32 payment);
u32 settle_fx_lsm_transfers(const struct settle *settle, const u32 *set, u32 count);
void settle_fx_lsm_book(struct settle *settle, const u32 *set, u32 count);
void settle_fx_lsm_settled(struct settle *settle, u32 payment, u64 timestamp);
void settle_fx_lsm_end(struct settle *settle);

#endif /* KHORGOS_SETTLE_FX_H */
