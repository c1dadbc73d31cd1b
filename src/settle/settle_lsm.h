/*
 * settle_lsm: the liquidity-saving algorithms of real-time gross settlement (TARGET2, ECB/2007/7
 * Appendix I; Bech and Soramaki, Bank of Finland DP 9/2001), as a pure, deterministic module
 * over a compact model of one currency's queue. It decides WHICH queued payments can settle
 * together; booking them on the ledger is the settle layer's job (settle.h, later).
 *
 * Model
 *
 *   Participants 0..P-1 of one currency. For participant i:
 *     liquidity_i      balance plus unused intraday credit, minor units (u128, >= 0);
 *     net debit cap    optional: a cap on i's position "sent minus received since the day
 *                      opened"; the caller gives the cap and the position now;
 *     bilateral limits optional, per counterparty j: a cap on "sent to j minus received from
 *                      j since the day opened"; the caller gives the cap and the position now.
 *   Queued payments k = 0..n-1: payer, payee, amount (> 0), priority (urgent, high, normal) and
 *   an arrival sequence. A payer's queue is its payments ordered by priority (urgent first),
 *   then arrival, then index in the input: this is "queue order"; the "tail" of a queue is its
 *   lowest-priority, latest-queued payment.
 *
 *   Queue mode of the currency:
 *     fifo         a set X of payments may settle only if, for every payer, X holds a PREFIX
 *                  of that payer's (remaining) queue;
 *     bypass_fifo  any subset may settle.
 *
 *   For a set X and participant i, net_sent_i(X) = sent by i in X - received by i in X, and
 *   flow_ij(X) = sent by i to j in X - sent by j to i in X. Capacities are derived once:
 *     capacity_i  = min(liquidity_i, max(0, cap_i - position_i))   (no cap: liquidity_i)
 *     headroom_ij = max(0, limit_ij - position_ij)
 *   X is FEASIBLE when it obeys the queue mode and, for all i and every limit (i, j):
 *     net_sent_i(X) <= capacity_i    (nobody below zero, net debit cap respected)
 *     flow_ij(X)    <= headroom_ij   (bilateral limit respected)
 *   A set is booked through a technical clearing account, all receipts first, then all
 *   payments, so only the final positions matter: no step in between breaks a limit. A limit
 *   already breached (a cap lowered below the position) gives headroom 0: it blocks further
 *   net outflow but never payments that leave the position unchanged or better.
 *
 * Algorithms (each on the payments still queued, "the queue"; X starts empty)
 *
 *   Offsetting on entry (settle_lsm_offset_on_entry), new payment e from A to B, amount x:
 *     1. fifo: if A's queue holds a payment of e's priority or higher, e waits: nothing settles.
 *     2. Candidates: B's queued payments to A in queue order; under fifo only the run of them
 *        at the head of B's queue (B may not settle past anything ahead of them).
 *     3. e settles with candidates of total S when A, B and both bilateral limits stay covered;
 *        each constraint is a bound on S, so together they give an interval [low, high].
 *     4. fifo: take the longest prefix of the candidates with S <= high. bypass_fifo: walk the
 *        candidates in queue order, taking each one that keeps S <= high.
 *     5. If S >= low, e and the taken candidates settle together; otherwise nothing does.
 *
 *   Algorithm 1, all-or-nothing (settle_lsm_all_or_nothing):
 *     1. Let T be the whole queue; compute every net_sent_i and flow_ij of X + T.
 *     2. If every participant and every limit is covered, settle T (the queue empties);
 *        otherwise settle nothing.
 *
 *   Algorithm 2, partial (settle_lsm_partial):
 *     1. Let T be the whole queue; compute positions of X + T.
 *     2. While some constraint is breached, take the one with the largest uncovered amount
 *        (ties: participant constraints before bilateral ones, then lower participant index,
 *        then lower counterparty index) and remove from T ONE payment:
 *          participant i breached          -> the tail of i's payments in T;
 *          limit (i, j) breached, fifo     -> the tail of i's payments in T (the prefix rule
 *                                             forces everything after i's last payment to j
 *                                             out before it);
 *          limit (i, j) breached, bypass   -> the tail of i's payments to j in T.
 *        Positions of the payer, the payee and their two limits move by the amount.
 *     3. Settle what is left of T (possibly nothing).
 *
 *   Algorithm 3, bilateral (settle_lsm_bilateral):
 *     1. Group the queue by unordered pair {a, b}, a < b. Order the pairs by how much their
 *        mutual queued payments differ, |sum a->b - sum b->a|, then by a, then by b.
 *     2. For each pair in that order, with positions as settled so far in this run:
 *        candidates are a's queued payments to b and b's to a, in queue order (fifo: only the
 *        run at the head of each payer's queue). While a constraint of a, b, limit (a, b) or
 *        limit (b, a) is breached, drop the tail of the side with the largest uncovered amount
 *        (ties as in algorithm 2).
 *     3. bypass_fifo only: walk the dropped payments in queue order, a's side first, and take
 *        back each one that keeps all four constraints covered (a later payment that fits is
 *        not held up by an earlier one that does not: what bypass_fifo means).
 *     4. Settle the candidates taken, if any.
 *
 *   Resolution (settle_lsm_resolve), exact order:
 *     round: algorithm 1; if it settled, stop (the queue is empty).
 *            algorithm 2; if it settled anything, start the next round.
 *            algorithm 3; if it settled anything, start the next round.
 *            otherwise stop (no algorithm can settle more).
 *     Except: a round right after one where algorithm 2 settled starts at algorithm 3, because
 *     algorithms 1 and 2 provably settle nothing then. (Algorithm 1: the rest R with the set X
 *     just settled is the whole queue algorithm 1 already refused. Algorithm 2 is idempotent:
 *     the uncovered amounts of R after settling X equal those of X + R before, and the latest
 *     payment of a participant in X + R that algorithm 2 removed is also its latest in R, so it
 *     removes the same payments again, all of R.) The outcome equals the literal order's.
 *     At most SETTLE_LSM_ROUND_COUNT_MAX rounds; result.rounds_exhausted says when the last
 *     round still settled something (a later run may then settle more).
 *     Under fifo algorithm 2 alone is exact (see invariant 7), so 3 never adds to it there.
 *
 * Invariants (checked with ASSERT)
 *
 *   1. Every set settled in a run is feasible given the sets settled before it, so their union
 *      (the result) is feasible from the starting positions: after every call
 *      net_sent_i <= capacity_i and flow_ij <= headroom_ij.
 *   2. Capacities and headrooms are >= 0, so the empty set is feasible and algorithm 2 always
 *      ends with a feasible set: a breached participant (or limit) always has a payment to
 *      remove, since with none of its outgoing payments left its net_sent (flow) is <= 0.
 *   3. Under fifo, the payments still queued of every payer are a suffix of its queue and the
 *      payments settled form a prefix; algorithm 2 only removes tails, algorithm 3 and
 *      offsetting only take head runs.
 *   4. Each payment is settled at most once; the result lists each settled index once, in
 *      ascending order, and selected_value is the sum of their amounts.
 *   5. Sums never overflow: amounts <= SETTLE_LSM_AMOUNT_MAX and at most 2^20 payments, so
 *      every position lies within +-2^120; capacities are clamped to SETTLE_LSM_CAPACITY_MAX,
 *      above any sum of payments, which changes no answer.
 *   6. The same problem always yields the same result (no randomness, no clock, ties broken by
 *      the rules above).
 *   7. Under fifo, algorithm 2 settles the greatest feasible set, hence the most value: feasible
 *      prefix choices are closed under union (per payer the longer prefix: a participant's
 *      outflow is that of the set that took more of its queue, its receipts are no less, and
 *      likewise for each bilateral flow), so a greatest one M exists; algorithm 2 keeps T
 *      containing M, because when a participant or its limit is uncovered in T, M cannot hold
 *      the tail of its payments in T (M would then send as much and receive no more). The
 *      oracle test checks it on every fifo instance. Under bypass_fifo the problem is
 *      knapsack-like and the algorithms are heuristics.
 *
 * Memory. settle_lsm_workspace_init reserves every array once for the caller's maxima (within
 * the hard limits below); no call allocates. Results point into the workspace and stay valid
 * until the next call on it. A workspace serves one caller at a time.
 *
 * Complexity, n queued payments, P participants, L bilateral limits, per call:
 *   loading (validation, queue order, pair groups)   O(n + P + L log L) when the payments come
 *                                                     in arrival order (counting sorts), else
 *                                                     O(n log n + L log L)
 *   algorithm 1                                       O(n + P + L)
 *   algorithm 2                                       O(n + (P + L) + r log(P + L)), r removals
 *   algorithm 3                                       O(n + q log q), q pairs with queued payments
 *   offsetting on entry                               O(size of A's and B's queues) after loading
 *   resolution                                        at most SETTLE_LSM_ROUND_COUNT_MAX rounds
 *                                                     of the three
 */
#ifndef KHORGOS_SETTLE_LSM_H
#define KHORGOS_SETTLE_LSM_H

#include "base/base.h"

typedef __int128 i128;

/* ----------------------------------------------------------------------------------------- */
/* Limits, each with its reason.                                                              */

/* Participants of one currency: TARGET2 had about 1,000 direct participants; pair keys
 * (a * P + b) then fit in 20 bits. */
#define SETTLE_LSM_PARTICIPANT_COUNT_MAX 1024u
/* Payments queued in one currency at once: far above any observed RTGS queue (TARGET2 settles
 * about 350,000 payments a day in total); indexes stay u32 with room for the NONE sentinel. */
#define SETTLE_LSM_PAYMENT_COUNT_MAX (1u << 20)
/* Bilateral limits: one per ordered pair of the largest participant set. */
#define SETTLE_LSM_LIMIT_COUNT_MAX (1u << 20)
/* Rounds of one resolution: each round is O(n log n); past this the run returns and the rest
 * waits for the next run (on request or on the timer). */
#define SETTLE_LSM_ROUND_COUNT_MAX 32u
/* Successful steps recorded in a result: a round ends at its first success, so one per round. */
#define SETTLE_LSM_STEP_COUNT_MAX SETTLE_LSM_ROUND_COUNT_MAX
/* Largest payment amount, minor units: 2^100 - 1 (10^30, beyond any money), so that sums of
 * 2^20 of them stay within 2^120 and positions fit i128 with room to spare. */
#define SETTLE_LSM_AMOUNT_MAX ((((u128)1) << 100) - 1)
/* Capacities are clamped here: above the sum of all payments, so the clamp changes nothing. */
#define SETTLE_LSM_CAPACITY_MAX (((i128)1) << 121)
/* Positions given for net debit caps and bilateral limits must lie within +-2^124 so that
 * cap - position never overflows. */
#define SETTLE_LSM_POSITION_MAX (((i128)1) << 124)
#define SETTLE_LSM_NONE U32_MAX

_Static_assert(SETTLE_LSM_PARTICIPANT_COUNT_MAX * SETTLE_LSM_PARTICIPANT_COUNT_MAX <=
                   (1u << 20), "pair keys fit in 20 bits");
_Static_assert(SETTLE_LSM_PAYMENT_COUNT_MAX < SETTLE_LSM_NONE, "indexes leave room for NONE");
_Static_assert(SETTLE_LSM_PARTICIPANT_COUNT_MAX * (SETTLE_LSM_PARTICIPANT_COUNT_MAX - 1) <=
                   SETTLE_LSM_LIMIT_COUNT_MAX, "a limit for every ordered pair fits");
_Static_assert(SETTLE_LSM_PAYMENT_COUNT_MAX <= (1u << 20), "2^20 amounts sum below 2^120");
_Static_assert(SETTLE_LSM_CAPACITY_MAX > (i128)(((u128)1) << 120), "clamp above any sum");
_Static_assert(SETTLE_LSM_POSITION_MAX > SETTLE_LSM_CAPACITY_MAX, "positions span capacities");

/* ----------------------------------------------------------------------------------------- */
/* The problem.                                                                               */

enum settle_lsm_priority {
    SETTLE_LSM_PRIORITY_URGENT = 0,
    SETTLE_LSM_PRIORITY_HIGH = 1,
    SETTLE_LSM_PRIORITY_NORMAL = 2,
};
#define SETTLE_LSM_PRIORITY_COUNT 3u

enum settle_lsm_queue_mode {
    SETTLE_LSM_QUEUE_FIFO = 0,
    SETTLE_LSM_QUEUE_BYPASS_FIFO = 1,
};

enum settle_lsm_algorithm {
    SETTLE_LSM_ALGORITHM_OFFSET_ON_ENTRY = 0,
    SETTLE_LSM_ALGORITHM_ALL_OR_NOTHING = 1,
    SETTLE_LSM_ALGORITHM_PARTIAL = 2,
    SETTLE_LSM_ALGORITHM_BILATERAL = 3,
};

struct settle_lsm_participant {
    u128 liquidity;                 /* balance plus unused intraday credit */
    u128 net_debit_cap;             /* only when has_net_debit_cap */
    i128 net_debit_position;        /* sent - received since the day opened */
    u8 has_net_debit_cap;           /* 0 or 1 */
    u8 reserved[15];
};

struct settle_lsm_bilateral_limit {
    u128 limit;     /* the most `participant` may have sent to `counterparty`, net */
    i128 position;  /* sent to counterparty - received from it, since the day opened */
    u32 participant;
    u32 counterparty;
    u8 reserved[8];
};

struct settle_lsm_payment {
    u128 amount;     /* minor units, 1..SETTLE_LSM_AMOUNT_MAX */
    u64 arrival;     /* arrival sequence; earlier first within a priority */
    u32 payer;
    u32 payee;
    u8 priority;     /* enum settle_lsm_priority */
    u8 reserved[15];
};

struct settle_lsm_problem {
    const struct settle_lsm_participant *participants;
    const struct settle_lsm_bilateral_limit *limits; /* at most one per ordered pair */
    const struct settle_lsm_payment *payments;       /* the queue */
    u32 participant_count;
    u32 limit_count;
    u32 payment_count;
    u32 queue_mode; /* enum settle_lsm_queue_mode */
};

/* One successful step of a run: which algorithm settled how much. */
struct settle_lsm_step {
    u128 value;
    u32 payment_count;
    u32 algorithm; /* enum settle_lsm_algorithm */
    u32 round;
    u32 reserved;
};

struct settle_lsm_result {
    const u32 *selected;      /* settled queued payments: ascending indexes into the problem */
    const i128 *net_sent;     /* per participant: sent - received in the whole selection */
    u128 selected_value;      /* sum of the selected amounts (plus the new payment's, if any) */
    u32 selected_count;
    u32 round_count;          /* rounds run (resolution); 1 for the single algorithms */
    u8 rounds_exhausted;      /* the last allowed round still settled something */
    u8 incoming_settles;      /* offsetting on entry: the new payment settles */
    u8 reserved[2];
    u32 step_count;
    struct settle_lsm_step steps[SETTLE_LSM_STEP_COUNT_MAX];
};

/* ----------------------------------------------------------------------------------------- */
/* The workspace: every array reserved once.                                                 */

struct settle_lsm_workspace {
    u32 participant_count_max;
    u32 payment_count_max;
    u32 limit_count_max;
    u32 participant_count;     /* of the problem loaded last */
    u32 payment_count;
    u32 limit_count;
    u32 pair_count;
    u32 queue_mode;
    u32 queued_count;          /* payments still queued in this run */
    void *memory;              /* the one allocation */
    const struct settle_lsm_payment *payments;
    const struct settle_lsm_bilateral_limit *limits;
    /* Per participant. */
    i128 *capacity;
    i128 *net_sent;            /* settled so far in this run */
    i128 *trial_net_sent;      /* settled plus the trial set */
    u32 *queue_head, *queue_tail;   /* still-queued payments, queue order */
    u32 *trial_head, *trial_tail;   /* the trial set of algorithms 1 and 2 */
    u32 *limit_first;          /* limits of participant i: sorted_limits[limit_first[i]..[i+1]) */
    u32 *bucket;               /* counting sorts: P * SETTLE_LSM_PRIORITY_COUNT + 1 counters */
    /* Per bilateral limit (in sorted order). */
    u32 *sorted_limits;        /* sorted by (participant, counterparty) -> input index */
    u32 *limit_participant, *limit_counterparty;
    i128 *headroom;
    i128 *flow;                /* settled so far */
    i128 *trial_flow;
    u32 *limit_head, *limit_tail;   /* trial payments participant -> counterparty */
    /* Heap of breached constraints: 0..P-1 participants, P..P+L-1 limits. */
    u32 *heap, *heap_position;
    u32 heap_count;
    /* Per payment. */
    u32 *order;                /* queue order: by (payer, priority, arrival, index) */
    u32 *scratch;              /* merge sort buffer; also candidate lists */
    u32 *queue_prev, *queue_next;
    u32 *trial_prev, *trial_next;
    u32 *limit_prev, *limit_next;   /* the lists of limit_head / limit_tail */
    u32 *limit_forward;        /* limit of (payer, payee) or NONE */
    u32 *limit_reverse;        /* limit of (payee, payer) or NONE */
    u8 *settled;               /* 1 once settled in this run */
    u8 *in_trial;
    u32 *selected;             /* result list */
    u32 *candidates;           /* algorithm 3 and offsetting: the second side's candidates */
    /* Per pair (at most one per payment). */
    u32 *pair_order;           /* payments grouped by pair, queue order within a pair */
    u32 *pair_first;           /* pair p: pair_order[pair_first[p] .. pair_first[p + 1]) */
    u32 *pair_sorted;
    i128 *pair_difference;
    /* Steps of the current run. */
    u32 round;
    u8 rounds_exhausted;
    u32 step_count;
    struct settle_lsm_step steps[SETTLE_LSM_STEP_COUNT_MAX];
};

/* Reserves a workspace for problems up to the given sizes (each 1..its hard limit, limits may
 * be 0). Returns ok, invalid_argument or out_of_memory. */
khorgos_error settle_lsm_workspace_init(struct settle_lsm_workspace *workspace,
                                        u32 participant_count_max, u32 payment_count_max,
                                        u32 limit_count_max);
void settle_lsm_workspace_deinit(struct settle_lsm_workspace *workspace);

/* Each call validates the problem first: counts over the workspace's maxima give
 * capacity_full; a participant index out of range, payer == payee, an amount of 0 or over
 * SETTLE_LSM_AMOUNT_MAX, an unknown priority or queue mode, a position out of range, a limit
 * on oneself or two limits on one ordered pair give invalid_argument. On error *result is left
 * untouched. */
khorgos_error settle_lsm_offset_on_entry(struct settle_lsm_workspace *workspace,
                                         const struct settle_lsm_problem *problem,
                                         const struct settle_lsm_payment *incoming,
                                         struct settle_lsm_result *result);
khorgos_error settle_lsm_all_or_nothing(struct settle_lsm_workspace *workspace,
                                        const struct settle_lsm_problem *problem,
                                        struct settle_lsm_result *result);
khorgos_error settle_lsm_partial(struct settle_lsm_workspace *workspace,
                                 const struct settle_lsm_problem *problem,
                                 struct settle_lsm_result *result);
khorgos_error settle_lsm_bilateral(struct settle_lsm_workspace *workspace,
                                   const struct settle_lsm_problem *problem,
                                   struct settle_lsm_result *result);
khorgos_error settle_lsm_resolve(struct settle_lsm_workspace *workspace,
                                 const struct settle_lsm_problem *problem,
                                 struct settle_lsm_result *result);

/* The name of an algorithm ("partial"); never NULL. */
const char *settle_lsm_algorithm_name(u32 algorithm);

#endif /* KHORGOS_SETTLE_LSM_H */
