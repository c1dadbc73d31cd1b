/*
 * settle: real-time gross settlement (RTGS) in local currencies on top of the ledger:
 * participants, payments, queues, liquidity saving and the business day. This is the layer's
 * engine's interface header; settle_lsm.h is the header of the pure algorithms it uses.
 *
 * Files of this layer: settle_private.h lists them, top to bottom, in the one direction their
 * calls go (apply -> day, participants, payments -> netting, resolve -> fx -> book), and
 * declares what they share; this header is the engine's. The state of cross-currency PvP is
 * struct settle_fx (settle_fx.h), of netting windows struct settle_netting (settle_netting.h).
 *
 * Participants. Identified by BIC (ISO 9362: 4 letters, a 2-letter ISO 3166 country, 2
 * letters/digits of location, optionally 3 of branch); an 8-character BIC is stored as its
 * 11-character form ending in "XXX", so both spell the same participant. Each has a name, a
 * country (ISO 3166 alpha-2), a role (bank, liquidity provider, settlement agent) and up to
 * KHORGOS_PARTICIPANT_CURRENCIES_MAX currencies. The settlement agent of a currency (its
 * central bank) is the one participant with that role listing the currency; it must be created
 * before banks can be funded in it.
 *
 * Ledger account ids (deterministic, so a replay creates the same ids). A settlement id is a
 * u128 laid out, from the most significant bits:
 *      bits 127..112  0x4B53 ("KS"), the settlement namespace (clients must not use it)
 *      bits 111..104  kind (enum settle_account_kind / settle_transfer_kind)
 *      bits 103..96   zero
 *      bits  95..64   accounts: the currency's ISO 4217 numeric code; transfers: zero
 *      bits  63..0    accounts: the participant number (index + 1; 0 for a per-currency
 *                     account); transfers: a sequence number, from 1, over all transfers
 *   Accounts per participant and currency (ledger = ISO numeric, code = kind):
 *     settlement (1)  debits_must_not_exceed_credits: it never goes below zero;
 *     credit (2)      the agent's intraday loan account for this participant: a draw debits it
 *                     and credits the settlement account; its debit balance is the credit
 *                     outstanding;
 *   and per currency: issuance (3), the agent's, debited by funding; clearing (4), the
 *   technical account through which sets are booked (back at zero after every set).
 *
 * Booking model.
 *   - fund: issuance -> settlement; defund: settlement -> issuance (at most the balance).
 *   - a payment alone: [credit draw: credit -> payer settlement, only the missing amount, up
 *     to the unused credit line] then payer settlement -> payee settlement, one linked chain.
 *   - a set (offsetting on entry, gridlock resolution): one linked chain, first every receipt
 *     (clearing -> payee, one per payment), then each payer's credit draw if its net position
 *     needs one, then every payment (payer -> clearing). Each payment keeps its own two
 *     transfers (transfer_id_credit, transfer_id_debit). The set is feasible (checked), so no
 *     step breaks a limit. A set longer than a ledger call (SETTLE_CHAIN_EVENTS_MAX) is still one
 *     chain: it is handed over in parts the ledger keeps open between calls
 *     (ledger_chain_continue), so a failure anywhere would roll back all of it; none happens,
 *     because the set is feasible (asserted).
 *   - close of day: credit repaid (settlement -> credit) up to the balance; what remains is
 *     overnight credit, reported in the position.
 *   Every transfer has user_data_128 = the payment id (0 for funding and credit moves) and
 *   code = its kind.
 *
 * Timestamps. The engine reserves a request of n events the n timestamps ending at T; an event
 * may book several ledger calls. The layer hands timestamps out in order from a cursor that
 * starts at T - n + 1: each event takes the next one (its result's, a new payment's
 * submitted_at), the ledger records it books take those after it, and the next event follows;
 * the closing pass over waiting cross-currency payments takes one of its own. So the cursor may
 * pass T; settle.timestamp_last is the last one used (at least T), and the engine takes it as
 * its own last timestamp. Every event and record gets a unique timestamp, increasing in the
 * order things happened, and all derives from T and the state, so a replay is exact.
 *
 * Results. Each event gets a settle_result: its timestamp, its status, and payments_settled,
 * the payments settled while it was applied, whichever path released them (the event's own
 * payment, an offsetting set, queued payments retried after a change, a gridlock resolution, a
 * window): settle_payment_mark_settled (settle_book.c) is the one place a payment becomes
 * settled, and it counts; its caller says how (the record's settled_in: alone, in a set
 * whatever its currencies, or in a window). After the last event, every state-changing
 * request retries the queued cross-currency payments (a quote, a limit or a provider's funds
 * may have released them; settle_apply.c); what that settles counts in the request's last
 * result. So a request's results add up to every payment it settled. A retried event answers
 * its first result again.
 *
 * Payments. States and who moves them:
 *     (submit) -> settled   settle_payments.c, covered and not held behind its queue
 *     (submit) -> queued    uncovered, or over a limit, or behind its queue (fifo)
 *     (submit) -> rejected  invalid, or uncovered with queue mode none, or after the cut-off
 *     (submit) -> waiting   value date after the current business day (a holiday of its
 *                           currency: rejected, value_date_holiday; see settle_day.c)
 *     waiting  -> (submit)  open_day of that date (in arrival order)
 *     queued   -> settled   retry when the payer receives funds or credit, offsetting,
 *                           gridlock resolution
 *     queued   -> rejected  cut-off (after_cut_off, TM01), settle-by passed, close of day
 *     queued   -> cancelled cancel_payments
 *     waiting  -> rejected  set_holidays declares its value date a holiday
 *   A queue is per payer and currency, ordered by priority (urgent, high, normal) then arrival;
 *   re-prioritising moves a payment to the back of its new priority.
 *
 * Idempotency. Payments by their payer and id (same fields: the first answer again, flagged
 * KHORGOS_SETTLE_RESULT_RETRY; other fields: exists_with_different_fields, DUPL); participants
 * by BIC; quotes by provider and id; every other state-changing event carries a client request
 * id, remembered with its actor and a checksum of the event and its answer (up to
 * request_count_max of them). Ids are scoped by participant: two payers may each have payment
 * 7, two agents request 7, two providers quote 7, and none of them sees the other's. An id map
 * holds an id's first record and a per-record link (payment_same_id, request_same_id,
 * quote_same_id) chains the later ones with the same id (settle_scoped_find). A change, lookup
 * or withdrawal names a record in the actor's scope (a change record may name its payer); the
 * operator, who has no scope of its own, reaches by a bare id the record with that id made
 * first.
 *
 * Timers. Cut-offs, settle-by times and timed resolution runs fire inside the state machine:
 * the engine applies an internal KHORGOS_OPERATION_SETTLE_PULSE request, with its own
 * timestamp, before any request whose timestamp reaches settle_timer_next() (and when a manual
 * clock passes it), exactly as it does PULSE for expiries; a replay of the journal repeats it.
 *
 * Invariants (checked by settle_check in tests):
 *  1. A payment is in exactly one queue iff its state is queued; queue counts and values match.
 *  2. Every clearing account is at zero between requests.
 *  3. credit_outstanding of a position equals its credit account's debit balance, and never
 *     exceeds the credit line at the time it was drawn.
 *  4. Every settlement account has debits <= credits (the ledger enforces it).
 *  5. A currency's holidays are valid dates, strictly ascending, all after its current (or
 *     last) business day, at most SETTLE_HOLIDAY_COUNT_MAX (settle_day.c, the calendar).
 *  6. A payment's settled_in names how it settled (alone, in a set, in a window) exactly when
 *     its state is settled, and is none otherwise; in a window only with its window set.
 */
#ifndef KHORGOS_SETTLE_H
#define KHORGOS_SETTLE_H

#include "base/base.h"
#include "ledger/ledger.h"
#include "settle/settle_lsm.h"
#include "settle/settle_gridlock.h"
#include "settle/settle_fx.h"
#include "settle/settle_netting.h"

/* ----------------------------------------------------------------------------------------- */
/* Limits, each with its reason.                                                              */

/* Participants: TARGET2 had about 1,000 direct participants; the LSM's model holds that many. */
#define SETTLE_PARTICIPANT_COUNT_DEFAULT 256u
#define SETTLE_PARTICIPANT_COUNT_MAX SETTLE_LSM_PARTICIPANT_COUNT_MAX
/* Distinct currencies in use: the region's eight and room for the world's main ones. */
#define SETTLE_CURRENCY_COUNT_MAX 32u
/* Payments kept (any state): a simulated business day of the region with room; the issue's
 * benchmark queues 100,000. Each costs 256 bytes plus links. */
#define SETTLE_PAYMENT_COUNT_DEFAULT (1u << 17)
#define SETTLE_PAYMENT_COUNT_MAX SETTLE_LSM_PAYMENT_COUNT_MAX
/* Request ids remembered for retries: non-payment requests are few (funding, limits, days);
 * an engine keeps as many as it keeps payments, within these bounds. */
#define SETTLE_REQUEST_COUNT_MIN 1024u
#define SETTLE_REQUEST_COUNT_MAX (1u << 16)
/* Bilateral limits in force at once: one per ordered pair of participants, within this. */
#define SETTLE_BILATERAL_LIMIT_COUNT_MAX (1u << 14)
/* Events of one ledger call from this layer (the chain scratch): the ledger's batch. A longer
 * chain is handed over in parts of this size and stays one chain (settle_book.c). */
#define SETTLE_CHAIN_EVENTS_MAX LIMIT_BATCH_EVENTS_MAX
/* Holidays per currency, future ones only (open_day drops those before its date): a calendar
 * two years ahead for a currency that also closes on weekends is 2 x (104 weekend days + at
 * most 20 public holidays, the region's most) = 248. 32 currencies x 256 x 4 bytes = 32 KiB. */
#define SETTLE_HOLIDAY_COUNT_MAX 256u
/* Business days kept per currency (get_business_days, statements by business day): two years
 * of a five-day week is 522; the oldest is dropped beyond. 32 currencies x 512 x 32 bytes =
 * 512 KiB. */
#define SETTLE_DAY_HISTORY_MAX 512u

_Static_assert(SETTLE_PARTICIPANT_COUNT_DEFAULT <= SETTLE_PARTICIPANT_COUNT_MAX, "default");
_Static_assert(SETTLE_PAYMENT_COUNT_DEFAULT <= SETTLE_PAYMENT_COUNT_MAX, "default");
_Static_assert(SETTLE_BILATERAL_LIMIT_COUNT_MAX <= SETTLE_LSM_LIMIT_COUNT_MAX, "lsm holds them");
_Static_assert((u64)SETTLE_PARTICIPANT_COUNT_MAX * KHORGOS_PARTICIPANT_CURRENCIES_MAX < U32_MAX,
               "position slots fit u32");
_Static_assert(SETTLE_CHAIN_EVENTS_MAX >= 3, "a payment with a draw fits one call");
_Static_assert(SETTLE_HOLIDAY_COUNT_MAX >= 2 * (104 + 20), "two years of weekends and holidays");
_Static_assert((u64)SETTLE_CURRENCY_COUNT_MAX * SETTLE_HOLIDAY_COUNT_MAX < U32_MAX,
               "holiday table indexes fit u32");

#define SETTLE_NAMESPACE 0x4B53u
#define SETTLE_NONE U32_MAX

enum settle_account_kind {
    SETTLE_ACCOUNT_SETTLEMENT = 1,
    SETTLE_ACCOUNT_CREDIT = 2,
    SETTLE_ACCOUNT_ISSUANCE = 3,
    SETTLE_ACCOUNT_CLEARING = 4,
};

enum settle_transfer_kind {
    SETTLE_TRANSFER_PAYMENT = 1,       /* payer -> payee, a payment alone */
    SETTLE_TRANSFER_PAYMENT_DEBIT = 2, /* payer -> clearing, in a set */
    SETTLE_TRANSFER_PAYMENT_CREDIT = 3,/* clearing -> payee, in a set */
    SETTLE_TRANSFER_CREDIT_DRAW = 4,
    SETTLE_TRANSFER_CREDIT_REPAY = 5,
    SETTLE_TRANSFER_FUND = 6,
    SETTLE_TRANSFER_DEFUND = 7,
};

struct settle_config {
    u32 participant_count_max;
    u32 payment_count_max;
    /* Derived in settle_init (callers leave them zero). */
    u32 request_count_max;
    u32 limit_count_max;
};

/* One participant in one currency. */
struct settle_position {
    u128 settlement_account_id;
    u128 credit_account_id;
    u128 credit_line;
    u128 credit_outstanding;
    u128 credit_used;        /* the most outstanding at once today */
    u128 credit_repaid;
    u128 overnight_credit;
    u128 net_debit_cap;      /* KHORGOS_AMOUNT_MAX = none */
    u128 opening_balance;
    u128 sent;
    u128 received;
    u128 queued_value;
    u128 rejected_value;
    u128 closing_balance;    /* at close_day; 0 while the day is open */
    u32 sent_count, received_count, queued_count, rejected_count;
    u32 queue_head[KHORGOS_PRIORITY_COUNT]; /* payment indexes, SETTLE_NONE = empty */
    u32 queue_tail[KHORGOS_PRIORITY_COUNT];
    u32 participant;         /* index */
    u32 currency;            /* index into settle.currencies */
    bool in_use;
    bool retry_pending;      /* on the retry work list */
};

struct settle_participant {
    struct khorgos_participant record;
};

struct settle_currency {
    u32 numeric;
    u8 minor_units;
    u8 queue_mode;
    u8 flags;                /* enum khorgos_business_day_flags */
    bool day_open;
    bool cut_off_customer_passed;
    bool cut_off_interbank_passed;
    u32 agent;               /* participant index, SETTLE_NONE = none yet */
    u32 date;                /* current (or last) business day, YYYYMMDD; 0 = never opened */
    u32 holiday_count;       /* dates in settle.holidays for this currency */
    u32 day_count;           /* days in settle.days for this currency */
    u64 opened_at;           /* timestamp of the open_day of `date`: limits count from it */
    u64 cut_off_customer;
    u64 cut_off_interbank;
    u64 resolution_interval;
    u64 resolution_next;     /* 0 = none */
    u32 waiting_head, waiting_tail; /* payments waiting for a value date, arrival order */
    u128 clearing_account_id;
    u128 issuance_account_id;
};

struct settle_bilateral_limit {
    u128 limit;
    i128 position;           /* sent to counterparty - received from it since the day opened
                                (a limit set mid-day starts from the day's payments so far) */
    u32 position_slot;       /* the payer's position slot */
    u32 counterparty;        /* participant index */
};

/* A request id is the actor's own: the key is (actor, id). */
struct settle_request {
    u128 id;
    u128 checksum;
    struct khorgos_settle_result result;
    char actor[KHORGOS_BIC_BYTES]; /* the participant's BIC; zero for the operator */
    u8 padding[5];
};

struct settle_timer {
    u64 due;
    u32 payment;
    u32 padding;
};

struct settle {
    struct settle_config config;
    struct ledger *ledger;

    struct settle_participant *participants; /* [participant_count_max] */
    u32 participant_count;
    /* Position slot of (participant p, its k-th currency) is p * CURRENCIES_MAX + k. */
    struct settle_position *positions;

    struct settle_currency currencies[SETTLE_CURRENCY_COUNT_MAX];
    u32 currency_count;

    struct khorgos_payment *payments; /* [payment_count_max] */
    u32 *payment_next, *payment_prev; /* queue / waiting list links */
    u32 *payment_payer_slot, *payment_payee_slot;
    u32 *payment_submit_status;
    u32 payment_count;
    struct base_id_map payment_map;   /* id -> the first payment with it (settle_scoped_find) */
    u32 *payment_same_id;             /* the next payment with the same id, SETTLE_NONE */
    u64 payment_sequence;

    struct settle_timer *timers; /* settle-by min-heap, [payment_count_max] */
    u32 timer_count;

    /* The calendar: currency c's holidays are holidays[c * SETTLE_HOLIDAY_COUNT_MAX ..] (its
     * holiday_count of them), strictly ascending, all after its last opened date. */
    u32 *holidays;
    /* The days each currency opened: currency c's are days[c * SETTLE_DAY_HISTORY_MAX ..]
     * (its day_count of them), oldest first (settle_day.c). */
    struct khorgos_business_day_record *days;

    struct settle_bilateral_limit *limits;
    u32 limit_count;
    struct base_id_map limit_map; /* key (slot << 32 | counterparty) + 1 -> index */

    struct settle_request *requests;
    u32 request_count;
    struct base_id_map request_map;   /* id -> the first request with it (settle_scoped_find) */
    u32 *request_same_id;             /* the next request with the same id, SETTLE_NONE */
    /* The scope of the request being applied (settle_actor_set): the acting participant's BIC,
     * zero for the operator. Not state: set before each request. */
    char actor[KHORGOS_BIC_BYTES];

    u64 transfer_sequence;
    /* Payments settled since init, by any path (settle_payment_mark_settled); not in snapshots:
     * a result's payments_settled is how much it grew over its event. */
    u64 payments_settled;
    /* The request id entry stored last and the result it copied (NULL: none in this request),
     * so that releases at the request's end are added to both (settle_apply). */
    u32 request_stored_last;
    struct khorgos_settle_result *request_stored_result;
    u64 timestamp_cursor;  /* the next timestamp to give a ledger event */
    u64 timestamp_last;    /* the last timestamp used by the request being applied */

    /* Scratch, reserved at init. */
    struct khorgos_transfer *chain;         /* [SETTLE_CHAIN_EVENTS_MAX] */
    struct khorgos_create_result *chain_results;
    u32 chain_count;
    u32 *retry_list;                        /* position slots to retry */
    u32 retry_count;
    u32 *set;                               /* payment indexes of the set being booked */
    i128 *set_net;                          /* per participant, for a set */
    u128 *set_draw;                         /* per participant: credit the set draws */
    struct settle_lsm_workspace lsm;
    struct settle_lsm_participant *lsm_participants;
    struct settle_lsm_payment *lsm_payments;
    struct settle_lsm_bilateral_limit *lsm_limits;
    u32 *lsm_payment_index;                 /* problem index -> payment index */
    /* The resolution across currencies (settle_resolve.c): its model and per slot the credit
     * draw of the set being booked (its id, or 1 when the balance covered it; 0 between). */
    struct settle_gridlock_workspace grid;
    struct settle_gridlock_position *grid_positions; /* [slots] */
    struct settle_gridlock_payment *grid_payments;   /* [payment_count_max] */
    u128 *grid_exposure_limits;                      /* [SETTLE_FX_QUOTE_COUNT_MAX] */
    u128 *grid_slot_draw;                            /* [slots] */
    struct settle_gridlock_pair_limit *grid_pair_limits; /* [limit_count_max] */
    /* Once per tick: the resolution across currencies ran in the request being applied (a
     * request's events or a pulse) and nothing has settled since (payments_settled was
     * grid_settled_mark then); cleared when a request starts or a cut-off passes. A later run
     * of the same tick then goes straight to its currency's step (settle_resolve.c). */
    u8 grid_fresh;
    u64 grid_settled_mark;
    u64 grid_runs;         /* runs of the resolution across currencies since init; a count */

    /* ISO 20022 references beside the payments (settle_references.c): references[i] belongs
     * to payments[i] and is all zero when it has none. The maps and links are derived from
     * them: a message's payments (key: sender and MsgId) and a payment's returns, each newest
     * first, linked to the one before through the two next arrays (SETTLE_NONE ends). */
    struct khorgos_payment_references *references; /* [payment_count_max] */
    u32 *reference_message_next;                   /* [payment_count_max] */
    u32 *reference_return_next;                    /* [payment_count_max] */
    struct base_id_map reference_message_map;      /* message key -> newest payment index */
    struct base_id_map reference_return_map;       /* original payment id -> newest return */

    struct settle_fx fx;           /* cross-currency PvP (settle_fx.h) */
    struct settle_netting netting; /* deferred net settlement windows (settle_netting.h) */
};

khorgos_error settle_init(struct settle *settle, const struct settle_config *config,
                          struct ledger *ledger);
void settle_deinit(struct settle *settle);

/* The actor of the requests applied next (NULL: the operator): the scope of request ids, and
 * of the payment and quote ids a lookup, cancel, re-prioritisation or withdrawal names (see
 * "Idempotency"). The engine sets it before each request, after authorizing it. */
void settle_actor_set(struct settle *settle, const char bic[KHORGOS_BIC_BYTES]);

/* Whether `operation` is one of this layer's (200..230 or SETTLE_PULSE). */
bool settle_operation_is(u32 operation);
/* Applies one settlement operation at timestamp T (see "Timestamps"); returns the number of
 * reply records written. Bodies are whole records, already validated in size by the engine. */
u32 settle_apply(struct settle *settle, u32 operation, u64 timestamp, const void *body,
                 u32 count, void *reply);
/* The earliest timer due (cut-off, settle-by, timed resolution), 0 when none. */
u64 settle_timer_next(const struct settle *settle);

/* Checks the invariants above; true when they hold. For tests. */
bool settle_check(const struct settle *settle);

/* Read by the layers above (settle_book.c): the engine's authorization and statistics, and
 * the server's certificate identities, which must name a participant as this layer does. */
/* Normalises a BIC in place to 11 characters (8 -> + "XXX"); false when invalid. */
bool settle_bic_normalize(char bic[KHORGOS_BIC_BYTES]);
/* The position slot of participant p in currency index c, SETTLE_NONE when it lacks it. */
u32 settle_position_slot(const struct settle *settle, u32 participant, u32 currency);

/* Snapshots (settle_snapshot.c): the layer's section of a snapshot, for the storage layer's
 * checkpoints, and a digest of the same bytes (equal states, equal digests). The section's
 * module number is SETTLE_SNAPSHOT_SECTION (storage.h numbers 1 engine and 2 ledger). */
#define SETTLE_SNAPSHOT_SECTION 3u
/* 2: the quotes and netting windows appended; 3: the holiday calendar and each currency's
 * opened_at; 4: a position's closing balance; 5: a request id's actor, the payments' ISO 20022
 * references and the days each currency opened (settle_snapshot.c). */
#define SETTLE_SNAPSHOT_VERSION 5u
struct storage_writer;
struct storage_reader;
void settle_snapshot_write(const struct settle *settle, struct storage_writer *writer);
/* Loads a section (positioned at its start) into a settle freshly initialised over the ledger
 * already loaded; corrupt when it does not describe a valid state. */
khorgos_error settle_snapshot_read(struct settle *settle, struct storage_reader *reader);
u128 settle_digest(const struct settle *settle);

#endif /* KHORGOS_SETTLE_H */
