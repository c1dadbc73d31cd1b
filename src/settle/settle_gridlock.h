/*
 * settle_gridlock: gridlock resolution across currencies, as a pure, deterministic module. It
 * decides WHICH queued payments, each with all its legs in every currency, can settle together;
 * it does not read or book the ledger and calls nothing of the settle layer. The caller loads
 * the model, calls settle_gridlock_resolve, and books the selected set as one linked chain.
 *
 * Model
 *
 *   Positions s = 0..S-1: one per (participant, currency) that takes part. For each:
 *     available_s  what s may pay out net, minor units of its currency: balance plus unused
 *                  intraday credit, already lowered by the caller to any net debit cap's room;
 *     currency     any number the caller uses to tell currencies apart (a leg must stay in
 *                  one currency);
 *     bypass_fifo  the queue mode of the queue this position owns (0 fifo, 1 bypass_fifo).
 *   Exposure limits e = 0..E-1, each a bound on a provider's gross conversions (a quote's
 *   room, a provider's exposure to the run), in any unit the caller chose for it.
 *   Pair limits b = 0..B-1 (bilateral limits), each on an ordered pair of positions (debtor d,
 *   creditor c) of one currency, with a room: how much more d may pay c net of what it
 *   receives from c (the caller gives limit - position, at least 0, so a limit already
 *   exceeded admits only sets that pay c no more than they receive from it). At most one per
 *   ordered pair.
 *   Queued payments k = 0..n-1. Each has 1..SETTLE_GRIDLOCK_LEG_COUNT_MAX legs, each a move of
 *   an amount from a debtor position to a creditor position of the same currency:
 *     a same-currency payment:   payer -> payee;
 *     a cross-currency payment:  payer -> provider (source currency), provider -> payee
 *                                (target currency);
 *     through a vehicle:         payer -> provider 1 (source), provider 1 -> provider 2
 *                                (vehicle currency), provider 2 -> payee (target).
 *   The legs of a payment are selected or dropped together. The FIRST leg's debtor is the
 *   payment's QUEUE: the payer's position in the source currency, where the payment waits.
 *   A payment also has up to SETTLE_GRIDLOCK_CHARGE_COUNT_MAX charges (limit e, amount)
 *   against exposure limits, a priority (urgent, high, normal), an arrival sequence and a
 *   value in one common unit (what "value settled" counts, and the tie-break of step 2b).
 *   QUEUE ORDER: priority (urgent first), then arrival, then index. The same key orders all
 *   payments globally ("rank"); a queue's order is the global order restricted to it.
 *
 *   For a set X: net_out_s(X) = sum of legs of X debiting s - sum of legs of X crediting s,
 *   used_e(X) = sum of the charges of X on e, pair_b(X) = sum of legs of X from d to c - sum
 *   of legs of X from c to d. X is FEASIBLE when
 *     net_out_s(X) <= available_s for every s    (every debit AND every receipt counted)
 *     used_e(X)    <= limit_e for every e
 *     pair_b(X)    <= room_b for every b
 *     every fifo queue holds a PREFIX of its queue order in X.
 *   A set is booked receipts first (through the clearing account, or all legs in one chain
 *   whose failure rolls everything back), so only final positions matter.
 *
 *   A leg is FOREIGN to its debtor s when s is not the payment's queue (a provider paying a
 *   target or vehicle leg). A position with no foreign leg in the trial set T is QUEUE-ONLY
 *   in T: everything it pays out in T comes from its own queue. Likewise a pair limit whose
 *   loading legs in T (from d to c) all come from d's own queue is queue-only; its queue is
 *   d's.
 *
 * Algorithm (settle_gridlock_resolve): partial optimisation with a removal order, TARGET2's
 * algorithm 2 over every position of every currency at once.
 *
 *   1. T = every queued payment. Compute net_out and used for T.
 *   2. While some constraint is breached (net_out_s > available_s, used_e > limit_e or
 *      pair_b > room_b), take the breached one first in this order: queue-only positions and
 *      pair limits before the others (their removals are forced, see invariant 3), then the
 *      largest shortfall (load - bound), then the lower id (positions 0..S-1, then exposure
 *      limits S + e, then pair limits S + E + b).
 *      a) A queue-only position s, or pair limit of debtor s, of a fifo queue: remove the tail
 *         of s's queue in T (its lowest-priority, latest payment): TARGET2's rule, and forced.
 *      b) Any other breached constraint (a provider position or pair limit, an exposure limit,
 *         a position or pair limit of a bypass_fifo queue): weigh candidates. They are the last
 *         SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX payments in T loading it (debiting the
 *         position, charging the limit), latest first in queue order. A candidate's REMOVAL
 *         UNIT is itself in a bypass_fifo queue and, in a fifo queue, itself and everything
 *         after it in T (a fifo queue is cut from its end, as TARGET2 does); a unit longer
 *         than SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX is not weighed. Remove the unit after
 *         whose removal the largest shortfall among the constraints it changes (its legs'
 *         debtors, which gain room, and creditors, which lose receipts, and its charged
 *         limits) is smallest; ties: the smaller value, then the later candidate. With no
 *         candidate weighed, remove the tail of the last loading payment's queue. (A candidate
 *         whose own constraint alone would keep more shortfall than the best weighed so far
 *         is not weighed: it cannot win, so this saves work without changing the choice.)
 *         Except: when every candidate is a single payment of a bypass_fifo queue touching
 *         each constraint once, and none alone would close this constraint's gap, none is
 *         weighed and the one relieving it most goes (ties: the later). That saves the
 *         weighing far from covered, where it costs most; docs/liquidity-saving.md gives its
 *         effect on the oracle figures and the bench.
 *      Each removal updates the positions of the payment's legs and its charges and re-places
 *      each in the heap of breached constraints: O(L log(S + E)).
 *   3. Fill back: walk the removed payments in queue order and put back each one that keeps
 *      every constraint (under fifo only when its queue predecessor is selected). Repeat the
 *      walk while it put back anything, at most SETTLE_GRIDLOCK_FILL_PASS_MAX walks.
 *   4. T is the selection. It is checked from scratch before it is returned.
 *
 * Invariants (checked with ASSERT)
 *
 *   1. Feasibility. Available amounts and limits are >= 0, so the empty set is feasible and a
 *      breached constraint always has a payment to remove (a position paying out more than it
 *      receives has a debiting leg in T; an exposure over its limit has a charge in T). Step 2
 *      ends with T feasible; step 3 adds a payment only when the result stays feasible.
 *      Every fifo queue's part of T is a prefix throughout (removals take tails, fill-back
 *      adds only right after the prefix).
 *   2. Termination. Each iteration of step 2 removes at least one payment: at most n.
 *      Step 3 makes at most SETTLE_GRIDLOCK_FILL_PASS_MAX walks of at most n payments.
 *   3. Forced removals. Let F be any feasible set within T (all queues fifo). If a
 *      queue-only position s is breached in T, F does not hold the tail of s's queue in T:
 *      it would hold all of s's queue in T (a prefix), so pay out all that s pays out in T
 *      (everything s pays in T is its own queue's) while receiving no more: breached too.
 *      The same holds for a queue-only pair limit of debtor s: F would pay c all that T pays
 *      it and receive from c no more. So a forced removal never loses a feasible set, least
 *      of all the best one.
 *   4. Exactness where no provider constraint binds (fifo). Let R be the problem without the
 *      constraints of the positions and pair limits that have a foreign loading leg in the
 *      whole queue, and without exposure limits. In R every constrained position and pair
 *      limit is queue-only, so the union of two feasible sets (per queue, the longer prefix)
 *      is feasible: a position pays out what the set with its longer prefix pays and
 *      receives at least as much (a pair limit's debtor likewise pays its creditor what that
 *      set pays it and receives from it at least as much). So R has a greatest
 *      feasible set M_R. "No provider constraint binds" means M_R is feasible in the full
 *      problem; then M_R is the greatest feasible set of the full problem (anything feasible
 *      there is feasible in R, so within M_R), and it holds the most value. Step 2 returns
 *      exactly M_R then: by invariant 3 T keeps M_R; positions of R stay queue-only, so while
 *      one is breached the step is forced; when none is, T is feasible in R and contains
 *      M_R, hence equals it, and it is feasible, so the loop has stopped.
 *   5. Otherwise (a provider position or an exposure limit binds) choosing the best set is a
 *      multi-dimensional knapsack (NP-hard); steps 2 and 3 are a heuristic. Its guarantees:
 *      feasible, forced removals never lose the optimum (invariant 3), and the result is
 *      MAXIMAL when fill-back converged (result.fill_converged): no payment left out can be
 *      added on its own (under fifo: the first one left out of its queue). The rule has no
 *      constant ratio to the best value: docs/liquidity-saving.md gives an instance family
 *      where it settles an arbitrarily small share.
 *   6. Sums never overflow: amounts <= SETTLE_GRIDLOCK_AMOUNT_MAX, at most
 *      SETTLE_GRIDLOCK_LEG_COUNT_MAX legs per payment and 2^20 payments, so every sum lies
 *      within +-2^122; available amounts, limits and rooms are clamped to
 *      SETTLE_GRIDLOCK_BOUND_MAX, above any sum, which changes no answer.
 *   7. The same problem always gives the same result (no randomness, fixed tie rules).
 *
 * Memory. settle_gridlock_workspace_init reserves every array once for the caller's maxima;
 * no call allocates. Results point into the workspace, valid until its next call.
 *
 * Complexity, n payments with at most L legs each, S positions, E exposure limits, B pair
 *   limits: sort into queue order O(n) when arrivals come in index order within each
 *   priority, else O(n log n); pair limits sorted O(B log B) and looked up O(n L log B);
 *   lists O(n L + S + E + B); step 2 O(r L log(S + E)) for r removals (r <= n) plus
 *   O(K^2 L) per weighed removal (K = SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX); step 3 O(n) per
 *   walk plus O(L) per payment whose own queue position has room; the final check
 *   O(n L + S + E).
 */
#ifndef KHORGOS_SETTLE_GRIDLOCK_H
#define KHORGOS_SETTLE_GRIDLOCK_H

#include "base/base.h"

typedef __int128 i128;

/* ----------------------------------------------------------------------------------------- */
/* Limits, each with its reason.                                                              */

/* Positions: every (participant, currency) of the settle layer fits (1,024 participants times
 * 8 currencies is 8,192), with room; a constraint id (position, or S + exposure limit) then
 * fits u32 with room for NONE. */
#define SETTLE_GRIDLOCK_POSITION_COUNT_MAX (1u << 16)
/* Exposure limits: one per quote of the FX layer (SETTLE_FX_QUOTE_COUNT_MAX is 8,192) with
 * room for per-provider limits besides. */
#define SETTLE_GRIDLOCK_EXPOSURE_LIMIT_COUNT_MAX (1u << 16)
/* Queued payments in one run: as settle_lsm, far above any RTGS queue; 2^20 payments of
 * four legs keep every sum within 2^122. */
#define SETTLE_GRIDLOCK_PAYMENT_COUNT_MAX (1u << 20)
/* Legs of one payment: source, vehicle, target, and one more for a route through two
 * vehicle hops; the settle layer's routes use at most three. */
#define SETTLE_GRIDLOCK_LEG_COUNT_MAX 4u
/* Exposure charges of one payment: a route through a vehicle takes two quotes. */
#define SETTLE_GRIDLOCK_CHARGE_COUNT_MAX 2u
/* Pair limits in one run: the settle layer's bilateral limits (2^14) with room; a constraint
 * id (S + E + b) still fits u32 with room for NONE. */
#define SETTLE_GRIDLOCK_PAIR_LIMIT_COUNT_MAX (1u << 20)
/* Nodes the workspace keeps per payment: its legs, its charges, and one node per leg between
 * a pair of positions with a pair limit in either direction. Eight hold every route of the
 * settle layer (3 legs, 2 charges, 3 such legs); a payment needing more is refused
 * (invalid_argument). The workspace reserves room for eight per payment. */
#define SETTLE_GRIDLOCK_NODE_COUNT_MAX 8u
/* Fill-back walks: each is O(n) plus O(L) per payment that passes its queue's check; a later
 * walk adds only what an earlier one's receipts made room for. The bench's 100,000 payments
 * need at most 16; past the limit the selection is feasible but may not be maximal. */
#define SETTLE_GRIDLOCK_FILL_PASS_MAX 32u
/* Payments weighed for one removal at a provider position or exposure limit: a bounded look
 * keeps a removal O(legs log(S + E)); the latest few are where TARGET2's order looks first. */
#define SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX 8u
/* Largest leg amount or charge: 2^100 - 1 (as settle_lsm), so sums stay within 2^122. */
#define SETTLE_GRIDLOCK_AMOUNT_MAX ((((u128)1) << 100) - 1)
/* Available amounts and limits are clamped here: above every sum, so the clamp changes
 * nothing, and available - net_out cannot overflow. */
#define SETTLE_GRIDLOCK_BOUND_MAX (((i128)1) << 123)
#define SETTLE_GRIDLOCK_NONE U32_MAX

_Static_assert((u64)SETTLE_GRIDLOCK_PAYMENT_COUNT_MAX * SETTLE_GRIDLOCK_LEG_COUNT_MAX <=
                   (1u << 22), "2^22 amounts of 2^100 sum below 2^122");
_Static_assert((u64)SETTLE_GRIDLOCK_POSITION_COUNT_MAX +
                       SETTLE_GRIDLOCK_EXPOSURE_LIMIT_COUNT_MAX +
                       SETTLE_GRIDLOCK_PAIR_LIMIT_COUNT_MAX < SETTLE_GRIDLOCK_NONE,
               "constraint ids leave room for NONE");

/* ----------------------------------------------------------------------------------------- */
/* The problem.                                                                               */

enum settle_gridlock_priority {
    SETTLE_GRIDLOCK_PRIORITY_URGENT = 0,
    SETTLE_GRIDLOCK_PRIORITY_HIGH = 1,
    SETTLE_GRIDLOCK_PRIORITY_NORMAL = 2,
};

struct settle_gridlock_position {
    u128 available;  /* may pay out net: balance + unused credit, within any net debit cap */
    u32 currency;    /* legs stay within one currency */
    u8 bypass_fifo;  /* the queue this position owns: 0 fifo, 1 bypass_fifo */
    u8 reserved[11];
};

struct settle_gridlock_leg {
    u128 amount;    /* minor units of the debtor's currency, 1..SETTLE_GRIDLOCK_AMOUNT_MAX */
    u32 debtor;     /* position */
    u32 creditor;   /* position of the same currency, not the debtor */
    u8 reserved[8];
};

struct settle_gridlock_charge {
    u128 amount;    /* 1..SETTLE_GRIDLOCK_AMOUNT_MAX */
    u32 exposure;   /* exposure limit index */
    u8 reserved[12];
};

/* The small fields come first so that they share a cache line with the first legs. */
struct settle_gridlock_payment {
    u128 value;        /* in one common unit: value settled, and step 2b's tie-break */
    u64 arrival;       /* earlier first within a priority */
    u8 leg_count;      /* 1..SETTLE_GRIDLOCK_LEG_COUNT_MAX; legs[0].debtor is the queue */
    u8 charge_count;   /* 0..SETTLE_GRIDLOCK_CHARGE_COUNT_MAX */
    u8 priority;       /* enum settle_gridlock_priority */
    u8 reserved[5];
    struct settle_gridlock_leg legs[SETTLE_GRIDLOCK_LEG_COUNT_MAX];
    struct settle_gridlock_charge charges[SETTLE_GRIDLOCK_CHARGE_COUNT_MAX];
};

/* A bilateral limit: debtor may pay creditor (positions of one currency) at most `room` more
 * than it receives from it over the set. */
struct settle_gridlock_pair_limit {
    u128 room;
    u32 debtor;
    u32 creditor;
    u8 reserved[8];
};

struct settle_gridlock_problem {
    const struct settle_gridlock_position *positions;
    const u128 *exposure_limits;                      /* [exposure_count] */
    const struct settle_gridlock_payment *payments;   /* the queued payments */
    const struct settle_gridlock_pair_limit *pair_limits; /* [pair_limit_count] */
    u32 position_count;
    u32 exposure_count;
    u32 payment_count;
    u32 pair_limit_count;
};

struct settle_gridlock_result {
    const u32 *selected;      /* ascending payment indexes */
    const i128 *net_out;      /* per position: paid out - received over the selection */
    u128 selected_value;      /* sum of the selected payments' values */
    u32 selected_count;
    u32 removed_forced;       /* step 2: tails removed at queue-only positions of fifo queues */
    u32 removed_weighed;      /* step 2: units chosen by weighing (provider positions,
                               * exposure limits, positions of bypass_fifo queues) */
    u32 filled_back;          /* payments put back by step 3 */
    u32 fill_passes;          /* walks of step 3 */
    u8 fill_converged;        /* the last walk put nothing back: the selection is maximal */
    u8 reserved[3];
};

/* One leg, charge or pair-limit effect of a payment, as the workspace keeps it: its amount,
 * the constraint it loads (a leg's debtor, S + exposure limit, or S + E + the pair limit of
 * the leg's direction; NONE when only the reverse direction has one), the one it relieves
 * (a leg's creditor; the pair limit of the reverse direction; NONE for a charge), its
 * payment and how many nodes that payment has. A payment's nodes are contiguous: its legs,
 * then its charges, then its pair-limit nodes; payments follow each other in queue order. */
struct settle_gridlock_node {
    i128 amount;
    u32 loaded;
    u32 relieved;
    u32 payment;
    u32 count;             /* its payment's nodes */
};

struct settle_gridlock_workspace {
    void *memory;
    u32 position_count_max;
    u32 exposure_count_max;
    u32 payment_count_max;
    u32 pair_limit_count_max;
    /* Per constraint (positions, then exposure limits, then pair limits). */
    i128 *bound;           /* available or limit, clamped */
    i128 *load;            /* net_out or used, of T */
    i128 *check_load;      /* the same recomputed from scratch by the final check */
    i128 *delta;           /* scratch: a removal's change per constraint, while weighed */
    u32 *touched;          /* scratch: the constraints with a delta */
    u8 *touched_mark;
    u32 *foreign_count;    /* per position or pair limit: foreign legs in T loading it */
    u32 *relief_stamp;     /* step 3: the addition that last relieved it (0: none yet) */
    u32 *list_start;       /* per constraint: its entries [list_start, list_end), queue */
    u32 *list_end;         /* order, the nodes loading it (a payment out of T: skipped) */
    u32 *queue_start;      /* per position: its queue's payments [queue_start, queue_end) */
    u32 *queue_end;        /* of queue_items, queue order (a fifo queue: exactly T's) */
    u32 *queue_last;       /* loading: the last payment of its queue so far */
    u32 *heap;             /* breached constraints */
    i128 *heap_key;        /* per heap slot: its constraint's order key */
    u32 *heap_position;
    u32 heap_count;
    u32 node_count_total;  /* nodes loaded */
    /* Per pair limit: ids sorted by (debtor, creditor), and their keys. */
    u32 *pair_sorted;
    u32 *pair_scratch;
    u64 *pair_key;
    /* Per payment. */
    u32 *order;            /* payments in queue order */
    u32 *scratch;          /* merge sort */
    u32 *queue_items;      /* the queues' segments (queue_start, queue_end) */
    u32 *queue_before;     /* in its queue, the whole queue (for fill-back under fifo) */
    u32 *queue_of;         /* its queue: legs[0].debtor, kept compact */
    i128 *queue_need;      /* what its legs take out of its queue's position, net */
    u8 *weighed_alone;     /* bypass_fifo, each constraint touched through one node only */
    u32 *fill_blocker;     /* step 3: the constraint that kept it out at its last try */
    u32 *fill_stamp;       /* step 3: additions made before that try */
    u32 *node_first;       /* its first node (each of its nodes holds their count) */
    u32 *selected;
    u64 *in_trial;         /* one bit a payment: in T */
    /* Nodes, and the constraints' entries: each node that loads a constraint, with the
     * fields the choice of a removal reads, kept apart. Room for
     * SETTLE_GRIDLOCK_NODE_COUNT_MAX of each per payment. */
    struct settle_gridlock_node *nodes;
    u32 *entry_payment;
    i128 *entry_amount;
    u8 *entry_alone;       /* its payment's weighed_alone */
};

/* Reserves a workspace for problems up to the given sizes (positions and payments
 * 1..their limits, exposure and pair limits 0..theirs). Returns ok, invalid_argument or
 * out_of_memory. */
khorgos_error settle_gridlock_workspace_init(struct settle_gridlock_workspace *workspace,
                                             u32 position_count_max, u32 payment_count_max,
                                             u32 exposure_count_max, u32 pair_limit_count_max);
void settle_gridlock_workspace_deinit(struct settle_gridlock_workspace *workspace);

/* Validates the problem, then resolves it. Counts over the workspace's maxima give
 * capacity_full; a position or exposure index out of range, a leg count of 0 or over the
 * limit, a leg whose debtor is its creditor or whose two positions differ in currency, an
 * amount of 0 or over SETTLE_GRIDLOCK_AMOUNT_MAX, a charge count over the limit, an unknown
 * priority, a queue mode other than 0 or 1, a pair limit whose positions are out of range, the
 * same, or of two currencies, two pair limits on one ordered pair, or a payment needing more
 * than SETTLE_GRIDLOCK_NODE_COUNT_MAX nodes give invalid_argument. On error *result is left
 * untouched. */
khorgos_error settle_gridlock_resolve(struct settle_gridlock_workspace *workspace,
                                      const struct settle_gridlock_problem *problem,
                                      struct settle_gridlock_result *result);

#endif /* KHORGOS_SETTLE_GRIDLOCK_H */
