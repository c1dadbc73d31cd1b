/*
 * settle_gridlock.c: gridlock resolution across currencies. The model, the algorithm, its
 * invariants and complexity are in settle_gridlock.h; this note says how the data is kept.
 *
 * 1. Constraints. Ids 0..S-1 are the positions, S..S+E-1 the exposure limits. bound[c] is the
 *    available amount or the limit (clamped), load[c] is net_out or used over the trial set T.
 *
 * 2. Nodes, entries and queues: arrays and indexes, no links. A node is one leg, one charge or
 *    one pair-limit effect of a payment (struct settle_gridlock_node: amount, the constraint
 *    it loads, the one it relieves, its payment and its payment's node count; 32 bytes),
 *    copied into the workspace at load. A payment's nodes are contiguous from node_first,
 *    and payments are loaded in queue order, so the walks of step 3 read the nodes in order.
 *    A removal reads node_first and the nodes only: the queue is the first node's loaded
 *    constraint. After loading, the algorithm reads nodes, not the caller's 224-byte records.
 *    Each constraint has a segment [list_start, list_end) of ENTRIES, in queue order: one per
 *    node that loads it (the legs debiting a position, the charges on a limit), holding the
 *    fields the choice of a removal reads, in arrays of their own: entry_payment, entry_amount
 *    and entry_alone (its payment's weighed_alone). So a constraint's last few candidates lie
 *    in a few cache lines, and deciding among them reads no node unless they are weighed
 *    (their nodes are prefetched then). A removal does not touch the lists: it clears the
 *    payment's bit in in_trial (a bit a payment, so that T stays in cache), and an entry
 *    whose payment is out of T is dead. The walk that collects a constraint's candidates
 *    (from the end) skips dead entries and packs the part it walked, moving its live entries
 *    down over the dead ones and the segment's end with them, so each dead entry is walked
 *    past once.
 *    Each position has a segment [queue_start, queue_end) of queue_items: its queue's
 *    payments in queue order. In a fifo queue, T's part is a prefix and removals take its
 *    tail, so the segment is kept to exactly T's part by lowering queue_end; a bypass_fifo
 *    queue's segment is not read after loading. The segments are laid out by counting at
 *    load, then filling (gridlock_lists_build).
 *
 * 3. The breach heap: an indexed binary heap over constraint ids holding exactly the breached
 *    constraints, ordered queue-only positions first, then by shortfall, then by smaller id.
 *    Each slot keeps its constraint's order key beside its id (heap_key: the shortfall, plus
 *    2^124 when queue-only), so a comparison reads the heap's own slots. The order is strict,
 *    so the top is the same whatever the heap's shape. A removal changes the load of at most
 *    2 L positions and the charges' limits, and the foreign count of its legs' debtors; each
 *    is re-placed in the heap, with its key recomputed, in O(log(S + E)).
 *
 * 4. Checking. The call ends by recomputing every load from the selection and asserting that
 *    it equals the tracked one, that every constraint holds and that every fifo queue's
 *    selected payments are a prefix of it.
 *
 * 5. Where the time goes (bypass_fifo, perf): the removals, each reading its candidates'
 *    entries (compact, above) and its own nodes and moving its constraints in the heap, then
 *    loading (which prefetches the caller's records a few payments ahead), then fill-back's
 *    tries. So: candidates are sorted only when they are weighed, a unit's value is read
 *    from the caller's record only to break a tie, and fill-back does not try again a
 *    payment whose blocking constraint (the one it would breach at its last try,
 *    fill_blocker) has not been relieved by an addition since (relief_stamp): its load there
 *    is no lower, so the try would fail again. None of this changes a result.
 */
#include "settle/settle_gridlock.h"

#include <stdlib.h>

#define NONE SETTLE_GRIDLOCK_NONE
#define NODE_SLOTS SETTLE_GRIDLOCK_NODE_COUNT_MAX

_Static_assert(SETTLE_GRIDLOCK_LEG_COUNT_MAX + SETTLE_GRIDLOCK_CHARGE_COUNT_MAX <= NODE_SLOTS,
               "a payment's legs and charges always fit");

_Static_assert(sizeof(struct settle_gridlock_node) == 32, "two nodes to a cache line");
_Static_assert((u64)SETTLE_GRIDLOCK_PAYMENT_COUNT_MAX * NODE_SLOTS < SETTLE_GRIDLOCK_NONE,
               "node indexes fit u32 with room for NONE");

/* ----------------------------------------------------------------------------------------- */
/* Workspace memory: one allocation carved into arrays, 16-byte aligned for i128.             */

static void *gridlock_carve(unsigned char *base, size_t *offset, size_t count, size_t size) {
    ASSERT(offset != NULL);
    ASSERT(size > 0 && size <= 32);
    *offset = (*offset + 15u) & ~(size_t)15u;
    void *pointer = base == NULL ? NULL : base + *offset;
    *offset += count * size;
    return pointer;
}

static size_t gridlock_layout(struct settle_gridlock_workspace *w, unsigned char *base) {
    ASSERT(w->position_count_max > 0 && w->payment_count_max > 0);
    size_t offset = 0, positions = w->position_count_max, payments = w->payment_count_max;
    size_t constraints = positions + w->exposure_count_max + w->pair_limit_count_max;
    size_t pairs = w->pair_limit_count_max;
    w->bound = gridlock_carve(base, &offset, constraints, sizeof(i128));
    w->load = gridlock_carve(base, &offset, constraints, sizeof(i128));
    w->check_load = gridlock_carve(base, &offset, constraints, sizeof(i128));
    w->delta = gridlock_carve(base, &offset, constraints, sizeof(i128));
    w->heap_key = gridlock_carve(base, &offset, constraints, sizeof(i128));
    w->queue_need = gridlock_carve(base, &offset, payments, sizeof(i128));
    w->weighed_alone = gridlock_carve(base, &offset, payments, sizeof(u8));
    w->nodes = gridlock_carve(base, &offset, payments * NODE_SLOTS,
                              sizeof(struct settle_gridlock_node));
    w->entry_amount = gridlock_carve(base, &offset, payments * NODE_SLOTS, sizeof(i128));
    w->entry_payment = gridlock_carve(base, &offset, payments * NODE_SLOTS, sizeof(u32));
    w->entry_alone = gridlock_carve(base, &offset, payments * NODE_SLOTS, sizeof(u8));
    w->queue_items = gridlock_carve(base, &offset, payments, sizeof(u32));
    w->touched_mark = gridlock_carve(base, &offset, constraints, sizeof(u8));
    w->pair_key = gridlock_carve(base, &offset, pairs, sizeof(u64));
    w->pair_sorted = gridlock_carve(base, &offset, pairs, sizeof(u32));
    w->pair_scratch = gridlock_carve(base, &offset, pairs, sizeof(u32));
    u32 **per_constraint[] = {&w->list_start, &w->list_end, &w->heap, &w->heap_position,
                              &w->touched, &w->foreign_count, &w->relief_stamp};
    for (size_t index = 0; index < ARRAY_COUNT(per_constraint); index++) {
        *per_constraint[index] = gridlock_carve(base, &offset, constraints, sizeof(u32));
    }
    u32 **per_position[] = {&w->queue_start, &w->queue_end, &w->queue_last};
    for (size_t index = 0; index < ARRAY_COUNT(per_position); index++) {
        *per_position[index] = gridlock_carve(base, &offset, positions, sizeof(u32));
    }
    u32 **per_payment[] = {&w->order,    &w->scratch,  &w->queue_before, &w->queue_of,
                           &w->selected, &w->fill_blocker, &w->fill_stamp, &w->node_first};
    for (size_t index = 0; index < ARRAY_COUNT(per_payment); index++) {
        *per_payment[index] = gridlock_carve(base, &offset, payments, sizeof(u32));
    }
    w->in_trial = gridlock_carve(base, &offset, (payments + 63) / 64, sizeof(u64));
    ASSERT(offset > 0);
    return offset;
}

khorgos_error settle_gridlock_workspace_init(struct settle_gridlock_workspace *workspace,
                                             u32 position_count_max, u32 payment_count_max,
                                             u32 exposure_count_max, u32 pair_limit_count_max) {
    ASSERT(workspace != NULL);
    memset(workspace, 0, sizeof(*workspace));
    if (position_count_max == 0 || position_count_max > SETTLE_GRIDLOCK_POSITION_COUNT_MAX ||
        payment_count_max == 0 || payment_count_max > SETTLE_GRIDLOCK_PAYMENT_COUNT_MAX ||
        exposure_count_max > SETTLE_GRIDLOCK_EXPOSURE_LIMIT_COUNT_MAX ||
        pair_limit_count_max > SETTLE_GRIDLOCK_PAIR_LIMIT_COUNT_MAX) {
        return KHORGOS_ERROR_invalid_argument;
    }
    workspace->position_count_max = position_count_max;
    workspace->payment_count_max = payment_count_max;
    workspace->exposure_count_max = exposure_count_max;
    workspace->pair_limit_count_max = pair_limit_count_max;
    size_t size = gridlock_layout(workspace, NULL);
    unsigned char *memory = calloc(1, size);
    if (memory == NULL) {
        memset(workspace, 0, sizeof(*workspace));
        return KHORGOS_ERROR_out_of_memory;
    }
    workspace->memory = memory;
    size_t carved = gridlock_layout(workspace, memory);
    ASSERT(carved == size);
    return KHORGOS_ERROR_ok;
}

void settle_gridlock_workspace_deinit(struct settle_gridlock_workspace *workspace) {
    ASSERT(workspace != NULL);
    free(workspace->memory);
    memset(workspace, 0, sizeof(*workspace));
    ASSERT(workspace->memory == NULL);
}

/* Whether the payment is in T: one bit a payment, so that the whole set stays in cache. */
static inline bool gridlock_in_trial(const struct settle_gridlock_workspace *w, u32 payment) {
    ASSERT(payment < w->payment_count_max);
    ASSERT(w->in_trial != NULL);
    return (w->in_trial[payment / 64] >> (payment % 64)) & 1u;
}

static void gridlock_trial_mark(struct settle_gridlock_workspace *w, u32 payment, bool in) {
    ASSERT(payment < w->payment_count_max);
    u64 bit = (u64)1 << (payment % 64);
    w->in_trial[payment / 64] = in ? w->in_trial[payment / 64] | bit
                                   : w->in_trial[payment / 64] & ~bit;
    ASSERT(gridlock_in_trial(w, payment) == in);
}

/* ----------------------------------------------------------------------------------------- */
/* Validation.                                                                                */

static bool gridlock_leg_valid(const struct settle_gridlock_problem *problem,
                               const struct settle_gridlock_leg *leg) {
    ASSERT(problem != NULL && leg != NULL);
    ASSERT(problem->positions != NULL);
    u32 count = problem->position_count;
    if (leg->debtor >= count || leg->creditor >= count || leg->debtor == leg->creditor) {
        return false;
    }
    if (leg->amount == 0 || leg->amount > SETTLE_GRIDLOCK_AMOUNT_MAX) return false;
    return problem->positions[leg->debtor].currency ==
           problem->positions[leg->creditor].currency;
}

static bool gridlock_payment_valid(const struct settle_gridlock_problem *problem,
                                   const struct settle_gridlock_payment *payment) {
    ASSERT(problem != NULL && payment != NULL);
    ASSERT(problem->position_count > 0);
    if (payment->leg_count == 0 || payment->leg_count > SETTLE_GRIDLOCK_LEG_COUNT_MAX ||
        payment->charge_count > SETTLE_GRIDLOCK_CHARGE_COUNT_MAX ||
        payment->priority > SETTLE_GRIDLOCK_PRIORITY_NORMAL) {
        return false;
    }
    for (u32 index = 0; index < payment->leg_count; index++) {
        if (!gridlock_leg_valid(problem, &payment->legs[index])) return false;
    }
    for (u32 index = 0; index < payment->charge_count; index++) {
        const struct settle_gridlock_charge *charge = &payment->charges[index];
        if (charge->exposure >= problem->exposure_count || charge->amount == 0 ||
            charge->amount > SETTLE_GRIDLOCK_AMOUNT_MAX) {
            return false;
        }
    }
    return true;
}

static khorgos_error gridlock_validate(const struct settle_gridlock_workspace *workspace,
                                       const struct settle_gridlock_problem *problem) {
    ASSERT(workspace != NULL && workspace->memory != NULL);
    ASSERT(problem != NULL);
    if (problem->position_count == 0 ||
        problem->position_count > workspace->position_count_max ||
        problem->payment_count > workspace->payment_count_max ||
        problem->exposure_count > workspace->exposure_count_max ||
        problem->pair_limit_count > workspace->pair_limit_count_max) {
        return problem->position_count == 0 ? KHORGOS_ERROR_invalid_argument
                                            : KHORGOS_ERROR_capacity_full;
    }
    if (problem->positions == NULL || (problem->payment_count > 0 && problem->payments == NULL) ||
        (problem->exposure_count > 0 && problem->exposure_limits == NULL) ||
        (problem->pair_limit_count > 0 && problem->pair_limits == NULL)) {
        return KHORGOS_ERROR_invalid_argument;
    }
    for (u32 index = 0; index < problem->pair_limit_count; index++) {
        const struct settle_gridlock_pair_limit *pair = &problem->pair_limits[index];
        if (pair->debtor >= problem->position_count ||
            pair->creditor >= problem->position_count || pair->debtor == pair->creditor ||
            problem->positions[pair->debtor].currency !=
                problem->positions[pair->creditor].currency) {
            return KHORGOS_ERROR_invalid_argument;
        }
    }
    for (u32 index = 0; index < problem->position_count; index++) {
        if (problem->positions[index].bypass_fifo > 1) return KHORGOS_ERROR_invalid_argument;
    }
    for (u32 index = 0; index < problem->payment_count; index++) {
        if (!gridlock_payment_valid(problem, &problem->payments[index])) {
            return KHORGOS_ERROR_invalid_argument;
        }
    }
    return KHORGOS_ERROR_ok;
}

/* ----------------------------------------------------------------------------------------- */
/* Queue order: priority, then arrival, then index. A stable bottom-up merge sort.            */

static bool gridlock_before(const struct settle_gridlock_payment *payments, u32 a, u32 b) {
    ASSERT(a != b);
    ASSERT(payments != NULL);
    const struct settle_gridlock_payment *x = &payments[a], *y = &payments[b];
    if (x->priority != y->priority) return x->priority < y->priority;
    if (x->arrival != y->arrival) return x->arrival < y->arrival;
    return a < b;
}

static void gridlock_merge(const struct settle_gridlock_payment *payments, const u32 *from,
                           u32 *to, u32 start, u32 middle, u32 end) {
    ASSERT(start <= middle && middle <= end);
    ASSERT(from != to);
    u32 left = start, right = middle, out = start;
    while (left < middle && right < end) {
        bool take_right = gridlock_before(payments, from[right], from[left]);
        to[out++] = take_right ? from[right++] : from[left++];
    }
    while (left < middle) to[out++] = from[left++];
    while (right < end) to[out++] = from[right++];
}

/* Sorts order[start, end) into queue order with the scratch. */
static void gridlock_merge_sort(struct settle_gridlock_workspace *w,
                                const struct settle_gridlock_payment *payments, u32 start,
                                u32 end) {
    ASSERT(start <= end && end <= w->payment_count_max);
    u32 *from = w->order, *to = w->scratch;
    for (u32 width = 1; width < end - start; width *= 2) {
        for (u32 first = start; first < end; first += 2 * width) {
            u32 middle = MIN(first + width, end), last = MIN(first + 2 * width, end);
            gridlock_merge(payments, from, to, first, middle, last);
        }
        u32 *swap = from;
        from = to;
        to = swap;
    }
    if (from != w->order) {
        memcpy(w->order + start, from + start, (size_t)(end - start) * sizeof(u32));
    }
    ASSERT(end - start < 2 || gridlock_before(payments, w->order[start], w->order[start + 1]));
}

/* Queue order: a stable counting sort by priority keeps index order within a priority, which
 * is queue order when arrivals do not decrease with the index (a queue appended to); a
 * priority where they do is merge sorted. */
static void gridlock_sort(struct settle_gridlock_workspace *w,
                          const struct settle_gridlock_problem *problem) {
    u32 count = problem->payment_count, first[SETTLE_GRIDLOCK_PRIORITY_NORMAL + 2] = {0};
    ASSERT(count <= w->payment_count_max);
    for (u32 index = 0; index < count; index++) first[problem->payments[index].priority + 1]++;
    for (u32 priority = 1; priority < ARRAY_COUNT(first); priority++) {
        first[priority] += first[priority - 1];
    }
    u32 next[SETTLE_GRIDLOCK_PRIORITY_NORMAL + 1], last_arrival_index[ARRAY_COUNT(next)];
    bool sorted[ARRAY_COUNT(next)];
    for (u32 priority = 0; priority < ARRAY_COUNT(next); priority++) {
        next[priority] = first[priority];
        last_arrival_index[priority] = NONE;
        sorted[priority] = true;
    }
    for (u32 index = 0; index < count; index++) {
        const struct settle_gridlock_payment *payment = &problem->payments[index];
        u32 priority = payment->priority, previous = last_arrival_index[priority];
        if (previous != NONE && problem->payments[previous].arrival > payment->arrival) {
            sorted[priority] = false;
        }
        last_arrival_index[priority] = index;
        w->order[next[priority]++] = index;
    }
    for (u32 priority = 0; priority < ARRAY_COUNT(next); priority++) {
        if (!sorted[priority]) {
            gridlock_merge_sort(w, problem->payments, first[priority], first[priority + 1]);
        }
    }
    ASSERT(count < 2 || gridlock_before(problem->payments, w->order[0], w->order[1]));
}

/* ----------------------------------------------------------------------------------------- */
/* The breach heap.                                                                           */

struct gridlock_run {
    struct settle_gridlock_workspace *w;
    const struct settle_gridlock_problem *problem;
    u32 position_count;
    u32 constraint_count;
    u32 pair_base;  /* the first pair limit's constraint id: S + E */
    u32 reserved;
};

/* ----------------------------------------------------------------------------------------- */
/* Pair limits: ids sorted by (debtor, creditor), found by binary search.                     */

static u64 gridlock_pair_key(u32 debtor, u32 creditor) {
    ASSERT(debtor != creditor);
    ASSERT(debtor != NONE && creditor != NONE);
    return (u64)debtor << 32 | creditor;
}

static void gridlock_pairs_merge(const u64 *key, const u32 *from, u32 *to, u32 first,
                                 u32 middle, u32 last) {
    ASSERT(first <= middle && middle <= last);
    ASSERT(from != to);
    u32 left = first, right = middle, out = first;
    while (left < middle && right < last) {
        to[out++] = key[from[right]] < key[from[left]] ? from[right++] : from[left++];
    }
    while (left < middle) to[out++] = from[left++];
    while (right < last) to[out++] = from[right++];
}

/* Sorts the pair limits' ids by key; false when two limits share an ordered pair. */
static bool gridlock_pairs_sort(struct settle_gridlock_workspace *w,
                                const struct settle_gridlock_problem *problem) {
    u32 count = problem->pair_limit_count;
    ASSERT(count <= w->pair_limit_count_max);
    for (u32 index = 0; index < count; index++) {
        const struct settle_gridlock_pair_limit *pair = &problem->pair_limits[index];
        w->pair_key[index] = gridlock_pair_key(pair->debtor, pair->creditor);
        w->pair_sorted[index] = index;
    }
    u32 *from = w->pair_sorted, *to = w->pair_scratch;
    for (u32 width = 1; width < count; width *= 2) {
        for (u32 first = 0; first < count; first += 2 * width) {
            gridlock_pairs_merge(w->pair_key, from, to, first, MIN(first + width, count),
                                 MIN(first + 2 * width, count));
        }
        u32 *swap = from;
        from = to;
        to = swap;
    }
    if (from != w->pair_sorted) memcpy(w->pair_sorted, from, (size_t)count * sizeof(u32));
    for (u32 index = 1; index < count; index++) {
        if (w->pair_key[w->pair_sorted[index - 1]] == w->pair_key[w->pair_sorted[index]]) {
            return false;
        }
    }
    return true;
}

/* The constraint id of the pair limit on (debtor, creditor), or NONE. */
static u32 gridlock_pair_find(const struct gridlock_run *run, u32 debtor, u32 creditor) {
    const struct settle_gridlock_workspace *w = run->w;
    u64 key = gridlock_pair_key(debtor, creditor);
    u32 low = 0, high = run->problem->pair_limit_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (w->pair_key[w->pair_sorted[middle]] < key) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    ASSERT(low <= run->problem->pair_limit_count);
    if (low == run->problem->pair_limit_count || w->pair_key[w->pair_sorted[low]] != key) {
        return NONE;
    }
    return run->pair_base + w->pair_sorted[low];
}

/* The nodes a payment needs: legs, charges, and a node per leg with a pair limit either way. */
static u32 gridlock_node_need(const struct gridlock_run *run, u32 payment) {
    const struct settle_gridlock_payment *record = &run->problem->payments[payment];
    u32 need = (u32)record->leg_count + record->charge_count;
    for (u32 index = 0; index < record->leg_count; index++) {
        const struct settle_gridlock_leg *leg = &record->legs[index];
        if (gridlock_pair_find(run, leg->debtor, leg->creditor) != NONE ||
            gridlock_pair_find(run, leg->creditor, leg->debtor) != NONE) {
            need++;
        }
    }
    ASSERT(need >= 1);
    return need;
}

/* The position whose queue a position or pair limit belongs to (a pair limit's: its
 * debtor's); NONE for an exposure limit. */
static u32 gridlock_owner(const struct gridlock_run *run, u32 constraint) {
    ASSERT(constraint < run->constraint_count);
    if (constraint < run->position_count) return constraint;
    if (constraint < run->pair_base) return NONE;
    return run->problem->pair_limits[constraint - run->pair_base].debtor;
}

static bool gridlock_forced(const struct gridlock_run *run, u32 constraint) {
    ASSERT(constraint < run->constraint_count);
    ASSERT(run->w != NULL);
    return gridlock_owner(run, constraint) != NONE && run->w->foreign_count[constraint] == 0;
}

/* The heap's order key of a breached constraint: its shortfall (at most 2^122, invariant 6),
 * plus 2^124 when it is queue-only, so that queue-only ones come first. */
static i128 gridlock_heap_key(const struct gridlock_run *run, u32 constraint) {
    i128 shortfall = run->w->load[constraint] - run->w->bound[constraint];
    ASSERT(shortfall > 0 && shortfall <= ((i128)1 << 122));
    return gridlock_forced(run, constraint) ? shortfall + ((i128)1 << 124) : shortfall;
}

/* Whether breached constraint a (with its key) comes before b: the larger key, the lower id. */
static bool gridlock_heap_above(i128 key_a, u32 a, i128 key_b, u32 b) {
    ASSERT(a != b); /* keys are checked where they are set */
    if (key_a != key_b) return key_a > key_b;
    return a < b;
}

static void gridlock_heap_set(struct settle_gridlock_workspace *w, u32 slot, u32 constraint,
                              i128 key) {
    ASSERT(slot < w->heap_count && key > 0);
    w->heap[slot] = constraint;
    w->heap_key[slot] = key;
    w->heap_position[constraint] = slot;
    ASSERT(w->heap[w->heap_position[constraint]] == constraint);
}

/* Moves the entry at the slot up or down to where its key places it. */
static void gridlock_heap_sift(struct settle_gridlock_workspace *w, u32 slot) {
    ASSERT(slot < w->heap_count);
    u32 item = w->heap[slot];
    i128 key = w->heap_key[slot];
    while (slot > 0) {
        u32 parent = (slot - 1) / 2;
        if (!gridlock_heap_above(key, item, w->heap_key[parent], w->heap[parent])) break;
        gridlock_heap_set(w, slot, w->heap[parent], w->heap_key[parent]);
        slot = parent;
    }
    for (;;) {
        u32 child = 2 * slot + 1;
        if (child >= w->heap_count) break;
        if (child + 1 < w->heap_count &&
            gridlock_heap_above(w->heap_key[child + 1], w->heap[child + 1], w->heap_key[child],
                                w->heap[child])) {
            child++;
        }
        if (!gridlock_heap_above(w->heap_key[child], w->heap[child], key, item)) break;
        gridlock_heap_set(w, slot, w->heap[child], w->heap_key[child]);
        slot = child;
    }
    gridlock_heap_set(w, slot, item, key);
}

/* Puts a constraint where its load says: in the heap when breached, out of it otherwise. */
static void gridlock_heap_update(const struct gridlock_run *run, u32 constraint) {
    struct settle_gridlock_workspace *w = run->w;
    ASSERT(constraint < run->constraint_count);
    bool breached = w->load[constraint] > w->bound[constraint];
    u32 slot = w->heap_position[constraint];
    if (slot == NONE && breached) {
        w->heap_count++;
        gridlock_heap_set(w, w->heap_count - 1, constraint, gridlock_heap_key(run, constraint));
        gridlock_heap_sift(w, w->heap_count - 1);
    } else if (slot != NONE && !breached) {
        u32 last = w->heap[w->heap_count - 1];
        i128 last_key = w->heap_key[w->heap_count - 1];
        w->heap_position[constraint] = NONE;
        w->heap_count--;
        if (last != constraint) {
            gridlock_heap_set(w, slot, last, last_key);
            gridlock_heap_sift(w, slot);
        }
    } else if (slot != NONE) {
        w->heap_key[slot] = gridlock_heap_key(run, constraint);
        gridlock_heap_sift(w, slot);
    }
    ASSERT((w->heap_position[constraint] != NONE) == breached);
}

/* ----------------------------------------------------------------------------------------- */
/* Loading: every payment in T, every list in queue order.                                    */

static void gridlock_load_constraints(const struct gridlock_run *run) {
    struct settle_gridlock_workspace *w = run->w;
    const struct settle_gridlock_problem *problem = run->problem;
    ASSERT(run->position_count > 0 && run->position_count == problem->position_count);
    for (u32 id = 0; id < run->constraint_count; id++) {
        u128 bound = id < run->position_count ? problem->positions[id].available
                     : id < run->pair_base ? problem->exposure_limits[id - run->position_count]
                                           : problem->pair_limits[id - run->pair_base].room;
        w->bound[id] = bound > (u128)SETTLE_GRIDLOCK_BOUND_MAX ? SETTLE_GRIDLOCK_BOUND_MAX
                                                                : (i128)bound;
        w->load[id] = 0;
        w->list_end[id] = 0; /* counts its entries until gridlock_lists_build */
        w->heap_position[id] = NONE;
        w->foreign_count[id] = 0;
    }
    for (u32 id = 0; id < run->position_count; id++) {
        w->queue_end[id] = 0; /* counts its payments until gridlock_lists_build */
        w->queue_last[id] = NONE;
    }
    w->heap_count = 0;
    w->node_count_total = 0;
    ASSERT(run->constraint_count >= run->position_count);
}

/* Whether the payment touches each constraint through one node only, so that one node's
 * amount is its whole effect there. */
static bool gridlock_touches_once(const struct settle_gridlock_node *nodes, u32 node_count) {
    ASSERT(nodes != NULL && node_count <= NODE_SLOTS);
    u32 ids[2 * NODE_SLOTS], count = 0;
    for (u32 slot = 0; slot < node_count; slot++) {
        if (nodes[slot].loaded != NONE) ids[count++] = nodes[slot].loaded;
        if (nodes[slot].relieved != NONE) ids[count++] = nodes[slot].relieved;
    }
    ASSERT(count >= 2 && count <= ARRAY_COUNT(ids));
    for (u32 a = 0; a < count; a++) {
        for (u32 b = a + 1; b < count; b++) {
            if (ids[a] == ids[b]) return false;
        }
    }
    return true;
}

static void gridlock_node_set(struct settle_gridlock_node *node, u128 amount, u32 loaded,
                              u32 relieved, u32 payment) {
    ASSERT(amount > 0 && amount <= SETTLE_GRIDLOCK_AMOUNT_MAX);
    ASSERT(loaded != NONE || relieved != NONE);
    *node = (struct settle_gridlock_node){(i128)amount, loaded, relieved, payment, 0};
}

/* The payment's nodes, after the nodes loaded so far: its legs, then its charges, then its
 * legs' pair limits (the limit of the leg's direction loaded, the reverse one relieved). */
static void gridlock_load_nodes(const struct gridlock_run *run, u32 payment) {
    struct settle_gridlock_workspace *w = run->w;
    const struct settle_gridlock_payment *record = &run->problem->payments[payment];
    struct settle_gridlock_node *nodes = &w->nodes[w->node_count_total];
    ASSERT(record->leg_count > 0);
    u32 slot = 0;
    for (u32 index = 0; index < record->leg_count; index++, slot++) {
        const struct settle_gridlock_leg *leg = &record->legs[index];
        gridlock_node_set(&nodes[slot], leg->amount, leg->debtor, leg->creditor, payment);
    }
    for (u32 index = 0; index < record->charge_count; index++, slot++) {
        gridlock_node_set(&nodes[slot], record->charges[index].amount,
                          run->position_count + record->charges[index].exposure, NONE, payment);
    }
    for (u32 index = 0; run->problem->pair_limit_count > 0 && index < record->leg_count;
         index++) {
        const struct settle_gridlock_leg *leg = &record->legs[index];
        u32 forward = gridlock_pair_find(run, leg->debtor, leg->creditor);
        u32 reverse = gridlock_pair_find(run, leg->creditor, leg->debtor);
        if (forward == NONE && reverse == NONE) continue;
        gridlock_node_set(&nodes[slot++], leg->amount, forward, reverse, payment);
    }
    for (u32 index = 0; index < slot; index++) nodes[index].count = slot;
    w->node_first[payment] = w->node_count_total;
    w->node_count_total += slot;
    ASSERT(slot >= 1 && slot <= NODE_SLOTS);
    ASSERT(nodes[0].relieved != NONE);
}

/* Whether a node loading the constraint is foreign in a payment of the queue: a position or
 * pair limit owned by another queue than the payment's. */
static bool gridlock_foreign(const struct gridlock_run *run, u32 loaded, u32 queue) {
    ASSERT(loaded != NONE);
    ASSERT(queue < run->position_count);
    u32 owner = gridlock_owner(run, loaded);
    return owner != NONE && owner != queue;
}

/* Loads a payment, the next in queue order, into T: its nodes and loads, and counts it in
 * its queue and each constraint it loads (gridlock_lists_build places it). */
static void gridlock_load_payment(const struct gridlock_run *run, u32 payment) {
    struct settle_gridlock_workspace *w = run->w;
    gridlock_load_nodes(run, payment);
    const struct settle_gridlock_node *nodes = &w->nodes[w->node_first[payment]];
    u32 count = nodes[0].count, queue = nodes[0].loaded;
    w->queue_before[payment] = w->queue_last[queue];
    w->queue_last[queue] = payment;
    w->queue_end[queue]++;
    w->queue_of[payment] = queue;
    w->queue_need[payment] = 0;
    gridlock_trial_mark(w, payment, true);
    for (u32 slot = 0; slot < count; slot++) {
        const struct settle_gridlock_node *node = &nodes[slot];
        if (node->loaded != NONE) {
            w->list_end[node->loaded]++;
            w->load[node->loaded] += node->amount;
            if (gridlock_foreign(run, node->loaded, queue)) w->foreign_count[node->loaded]++;
        }
        if (node->relieved != NONE) w->load[node->relieved] -= node->amount;
        if (node->loaded == queue) w->queue_need[payment] += node->amount;
        if (node->relieved == queue) w->queue_need[payment] -= node->amount;
    }
    w->weighed_alone[payment] = run->problem->positions[queue].bypass_fifo &&
                                gridlock_touches_once(nodes, count);
    ASSERT(w->queue_last[queue] == payment);
}

/* Turns the counts in list_end and queue_end into segments, and fills them in queue order:
 * each constraint's entries from the nodes (loaded in queue order), each queue's payments. */
static void gridlock_lists_build(const struct gridlock_run *run) {
    struct settle_gridlock_workspace *w = run->w;
    u32 next = 0;
    for (u32 id = 0; id < run->constraint_count; id++) {
        w->list_start[id] = next;
        next += w->list_end[id];
        w->list_end[id] = w->list_start[id];
    }
    ASSERT(next <= w->node_count_total);
    for (u32 index = 0; index < w->node_count_total; index++) {
        const struct settle_gridlock_node *node = &w->nodes[index];
        if (node->loaded == NONE) continue;
        u32 entry = w->list_end[node->loaded]++;
        w->entry_payment[entry] = node->payment;
        w->entry_amount[entry] = node->amount;
        w->entry_alone[entry] = w->weighed_alone[node->payment];
    }
    next = 0;
    for (u32 id = 0; id < run->position_count; id++) {
        w->queue_start[id] = next;
        next += w->queue_end[id];
        w->queue_end[id] = w->queue_start[id];
    }
    ASSERT(next == run->problem->payment_count);
    for (u32 rank = 0; rank < run->problem->payment_count; rank++) {
        u32 payment = w->order[rank];
        w->queue_items[w->queue_end[w->queue_of[payment]]++] = payment;
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Step 2: removals.                                                                          */

/* Moves one constraint's load and re-places it in the heap at once, so every other heap entry
 * stays in order while this one moves. */
static void gridlock_move(const struct gridlock_run *run, u32 constraint, i128 delta) {
    ASSERT(constraint < run->constraint_count);
    ASSERT(delta != 0);
    run->w->load[constraint] += delta;
    gridlock_heap_update(run, constraint);
}

static bool gridlock_bypass(const struct gridlock_run *run, u32 queue) {
    ASSERT(queue < run->position_count);
    ASSERT(run->problem->positions[queue].bypass_fifo <= 1);
    return run->problem->positions[queue].bypass_fifo;
}

/* The last payment of a fifo queue in T (its segment holds exactly T's part), or NONE. */
static u32 gridlock_queue_tail(const struct gridlock_run *run, u32 queue) {
    const struct settle_gridlock_workspace *w = run->w;
    ASSERT(!gridlock_bypass(run, queue));
    if (w->queue_end[queue] == w->queue_start[queue]) return NONE;
    u32 tail = w->queue_items[w->queue_end[queue] - 1];
    ASSERT(gridlock_in_trial(w, tail) && w->queue_of[tail] == queue);
    return tail;
}

/* Takes the payment out of T: out of its fifo queue's segment (it is the tail), and its loads
 * moved. Its constraints' entries stay until a walk of the list drops them. */
static void gridlock_remove(const struct gridlock_run *run, u32 payment) {
    struct settle_gridlock_workspace *w = run->w;
    const struct settle_gridlock_node *nodes = &w->nodes[w->node_first[payment]];
    ASSERT(gridlock_in_trial(w, payment));
    u32 queue = nodes[0].loaded, count = nodes[0].count; /* no other per-payment read */
    ASSERT(count >= 1 && count <= NODE_SLOTS);
    if (!gridlock_bypass(run, queue)) {
        ASSERT(gridlock_queue_tail(run, queue) == payment);
        w->queue_end[queue]--;
    }
    gridlock_trial_mark(w, payment, false);
    for (u32 slot = 0; slot < count; slot++) {
        const struct settle_gridlock_node *node = &nodes[slot];
        if (node->loaded != NONE) {
            if (gridlock_foreign(run, node->loaded, queue)) w->foreign_count[node->loaded]--;
            gridlock_move(run, node->loaded, -node->amount);
        }
        if (node->relieved != NONE) gridlock_move(run, node->relieved, node->amount);
    }
    ASSERT(!gridlock_in_trial(w, payment));
}

/* Adds a payment's removal to the scratch deltas (each constraint listed once in touched). */
static void gridlock_delta_add(const struct gridlock_run *run, u32 payment, u32 *touched_count) {
    struct settle_gridlock_workspace *w = run->w;
    const struct settle_gridlock_node *nodes = &w->nodes[w->node_first[payment]];
    u32 count = nodes[0].count;
    for (u32 slot = 0; slot < 2 * count; slot++) {
        const struct settle_gridlock_node *node = &nodes[slot / 2];
        u32 id = slot % 2 == 0 ? node->loaded : node->relieved;
        if (id == NONE) continue;
        if (!w->touched_mark[id]) {
            w->touched_mark[id] = 1;
            w->delta[id] = 0;
            w->touched[(*touched_count)++] = id;
        }
        w->delta[id] += slot % 2 == 0 ? -node->amount : node->amount;
    }
    ASSERT(*touched_count <= run->constraint_count);
    ASSERT(count > 0 && nodes[0].amount > 0);
}

/* The largest shortfall left, after the removal in the scratch deltas, among the constraints
 * it changes; clears the scratch. */
static i128 gridlock_delta_take(const struct gridlock_run *run, u32 touched_count) {
    struct settle_gridlock_workspace *w = run->w;
    ASSERT(touched_count <= run->constraint_count);
    i128 worst = 0;
    for (u32 slot = 0; slot < touched_count; slot++) {
        u32 id = w->touched[slot];
        i128 shortfall = w->load[id] + w->delta[id] - w->bound[id];
        if (shortfall > worst) worst = shortfall;
        w->touched_mark[id] = 0;
    }
    ASSERT(worst >= 0);
    return worst;
}

/* Member `step` (0 the latest) of a payment's removal unit: in a bypass_fifo queue the payment
 * alone; in a fifo queue its queue's payments in T from the tail back to the payment. */
static u32 gridlock_unit_member(const struct gridlock_run *run, u32 payment, u32 step) {
    const struct settle_gridlock_workspace *w = run->w;
    u32 queue = w->queue_of[payment];
    ASSERT(gridlock_in_trial(w, payment));
    if (gridlock_bypass(run, queue)) {
        ASSERT(step == 0);
        return payment;
    }
    ASSERT(w->queue_end[queue] - w->queue_start[queue] > step);
    u32 member = w->queue_items[w->queue_end[queue] - 1 - step];
    ASSERT(gridlock_in_trial(w, member));
    return member;
}

/* The value of a payment's removal unit (read only to break a tie of shortfalls: the caller's
 * records are large, and most weighings never need it). */
static u128 gridlock_unit_value(const struct gridlock_run *run, u32 payment) {
    u128 value = 0;
    for (u32 step = 0;; step++) {
        u32 member = gridlock_unit_member(run, payment, step);
        value += run->problem->payments[member].value;
        if (member == payment) break;
    }
    ASSERT(gridlock_in_trial(run->w, payment));
    return value;
}

/* The removal unit of a payment: itself in a bypass_fifo queue; in a fifo queue the payment
 * and everything after it in T. Returns false when the unit is longer than the look allows;
 * otherwise its shortfall after removal. */
static bool gridlock_unit_weigh(const struct gridlock_run *run, u32 payment, i128 *shortfall) {
    u32 touched_count = 0;
    ASSERT(gridlock_in_trial(run->w, payment));
    for (u32 step = 0;; step++) {
        if (step >= SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX) {
            (void)gridlock_delta_take(run, touched_count);
            return false;
        }
        u32 member = gridlock_unit_member(run, payment, step);
        gridlock_delta_add(run, member, &touched_count);
        if (member == payment) break;
    }
    *shortfall = gridlock_delta_take(run, touched_count);
    ASSERT(*shortfall >= 0);
    return true;
}

struct gridlock_candidate {
    i128 least;  /* a lower bound of the shortfall its removal leaves; 0 when none is known */
    u32 payment;
    u32 seen;    /* 0 for the latest */
};

/* A lower bound of the largest shortfall left after removing the payment alone: the
 * constraint's own, exact when the payment loads it through this one entry only and is its
 * own removal unit (bypass_fifo); 0 otherwise. */
static i128 gridlock_candidate_least(const struct gridlock_run *run, u32 constraint,
                                     u32 entry) {
    const struct settle_gridlock_workspace *w = run->w;
    u32 payment = w->entry_payment[entry];
    ASSERT(gridlock_in_trial(w, payment));
    if (!w->entry_alone[entry]) return 0;
    i128 left = w->load[constraint] - w->entry_amount[entry] - w->bound[constraint];
    ASSERT(w->entry_amount[entry] > 0);
    return MAX(left, (i128)0);
}

/* The last SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX payments in T loading the constraint, latest
 * first. Entries of payments out of T are dropped on the way: the live entries of the part
 * walked move down over them and the list's end with them, so each is walked past once. */
static u32 gridlock_candidates(const struct gridlock_run *run, u32 constraint,
                               struct gridlock_candidate *candidates) {
    struct settle_gridlock_workspace *w = run->w;
    u32 start = w->list_start[constraint], end = w->list_end[constraint], read = end;
    u32 count = 0, places[SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX];
    while (read > start && count < SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX) {
        read--;
        if (!gridlock_in_trial(w, w->entry_payment[read])) continue;
        u32 payment = w->entry_payment[read];
        candidates[count] = (struct gridlock_candidate){
            gridlock_candidate_least(run, constraint, read), payment, count};
        places[count++] = read;
    }
    if (read + count != end) {
        for (u32 index = 0; index < count; index++) {
            u32 from = places[count - 1 - index], to = read + index;
            ASSERT(to <= from);
            w->entry_payment[to] = w->entry_payment[from];
            w->entry_amount[to] = w->entry_amount[from];
            w->entry_alone[to] = w->entry_alone[from];
        }
        w->list_end[constraint] = read + count;
    }
    ASSERT(count > 0);
    return count;
}

/* The payment whose removal unit goes for a breached provider position or exposure limit,
 * or any breached position of a bypass_fifo queue. Candidates: the last
 * SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX payments in T loading it, in reverse queue order, with a
 * unit of at most that many payments. The one whose unit leaves the smallest shortfall among
 * the constraints it changes goes; ties go to the smaller value, then to the later payment.
 * With no candidate, the last payment loading it (its queue's tail goes first). Candidates
 * are weighed in order of a lower bound of their shortfall, and those whose bound exceeds the
 * best found are not weighed: they cannot win, so the choice is the rule's. When every
 * candidate is its own unit and none alone closes the gap, none is weighed: the one that
 * relieves the constraint most goes. */
static u32 gridlock_choose(const struct gridlock_run *run, u32 constraint) {
    const struct settle_gridlock_workspace *w = run->w;
    struct gridlock_candidate candidates[SETTLE_GRIDLOCK_CANDIDATE_COUNT_MAX];
    u32 count = gridlock_candidates(run, constraint, candidates), lowest = 0;
    u32 latest = candidates[0].payment;
    for (u32 index = 1; index < count; index++) {
        if (candidates[index].least < candidates[lowest].least) lowest = index;
    }
    /* No candidate alone closes this constraint's gap (a least above 0 is only given to a
     * payment that is its own unit): take the one relieving it most, the later on a tie. */
    if (candidates[lowest].least > 0) return candidates[lowest].payment;
    for (u32 index = 0; index < count; index++) { /* each weighing reads its nodes */
        __builtin_prefetch(&w->nodes[w->node_first[candidates[index].payment]]);
    }
    /* Otherwise weigh them in order of their least (a stable insertion sort: ties keep the
     * later first). */
    for (u32 index = 1; index < count; index++) {
        struct gridlock_candidate candidate = candidates[index];
        u32 slot = index;
        while (slot > 0 && candidates[slot - 1].least > candidate.least) {
            candidates[slot] = candidates[slot - 1];
            slot--;
        }
        candidates[slot] = candidate;
    }
    u32 best = NONE, best_seen = 0;
    i128 best_shortfall = 0;
    u128 best_value = 0;
    bool best_value_known = false; /* read only when a tie needs it */
    for (u32 index = 0; index < count; index++) {
        const struct gridlock_candidate *candidate = &candidates[index];
        if (best != NONE && candidate->least > best_shortfall) break;
        i128 shortfall;
        if (!gridlock_unit_weigh(run, candidate->payment, &shortfall)) continue;
        ASSERT(shortfall >= candidate->least);
        bool better = best == NONE || shortfall < best_shortfall;
        u128 value = 0;
        if (!better && shortfall == best_shortfall) {
            value = gridlock_unit_value(run, candidate->payment);
            if (!best_value_known) best_value = gridlock_unit_value(run, best);
            better = value < best_value || (value == best_value && candidate->seen < best_seen);
            best_value_known = true;
        }
        if (better) {
            best_value_known = shortfall == best_shortfall && best != NONE;
            best = candidate->payment;
            best_seen = candidate->seen;
            best_shortfall = shortfall;
            best_value = value;
        }
    }
    if (best == NONE) best = latest;
    ASSERT(gridlock_in_trial(w, best));
    return best;
}

/* Removes the payment's removal unit (in a fifo queue: its queue's tail first, up to it). */
static void gridlock_remove_unit(const struct gridlock_run *run, u32 payment) {
    const struct settle_gridlock_problem *problem = run->problem;
    u32 queue = run->w->queue_of[payment];
    ASSERT(gridlock_in_trial(run->w, payment));
    if (problem->positions[queue].bypass_fifo) {
        gridlock_remove(run, payment);
        return;
    }
    u32 tail;
    do {
        tail = gridlock_queue_tail(run, queue);
        gridlock_remove(run, tail);
    } while (tail != payment);
    ASSERT(!gridlock_in_trial(run->w, payment));
}

/* Step 2 of the algorithm: remove payments until no constraint is breached. */
static void gridlock_remove_until_feasible(const struct gridlock_run *run,
                                           struct settle_gridlock_result *result) {
    struct settle_gridlock_workspace *w = run->w;
    for (u32 id = 0; id < run->constraint_count; id++) gridlock_heap_update(run, id);
    while (w->heap_count > 0) {
        u32 constraint = w->heap[0], queue = gridlock_owner(run, constraint);
        if (gridlock_forced(run, constraint) && !run->problem->positions[queue].bypass_fifo) {
            ASSERT(gridlock_queue_tail(run, queue) != NONE);
            gridlock_remove(run, gridlock_queue_tail(run, queue));
            result->removed_forced++;
        } else {
            gridlock_remove_unit(run, gridlock_choose(run, constraint));
            result->removed_weighed++;
        }
    }
    ASSERT(w->heap_count == 0);
}

/* ----------------------------------------------------------------------------------------- */
/* Step 3: fill back.                                                                         */

static void gridlock_apply(const struct gridlock_run *run, u32 payment, i128 sign) {
    struct settle_gridlock_workspace *w = run->w;
    const struct settle_gridlock_node *nodes = &w->nodes[w->node_first[payment]];
    u32 count = nodes[0].count;
    ASSERT(sign == 1 || sign == -1);
    for (u32 slot = 0; slot < count; slot++) {
        const struct settle_gridlock_node *node = &nodes[slot];
        if (node->loaded != NONE) w->load[node->loaded] += sign * node->amount;
        if (node->relieved != NONE) w->load[node->relieved] -= sign * node->amount;
    }
    ASSERT(nodes[0].amount > 0);
}

/* Adds the payment to T when every constraint it loads stays covered; returns NONE then, else
 * a constraint it would breach. An addition stamps the constraints it relieves. */
static u32 gridlock_try_add(const struct gridlock_run *run, u32 payment, u32 stamp) {
    struct settle_gridlock_workspace *w = run->w;
    const struct settle_gridlock_node *nodes = &w->nodes[w->node_first[payment]];
    u32 count = nodes[0].count;
    ASSERT(!gridlock_in_trial(w, payment));
    gridlock_apply(run, payment, 1);
    u32 breached = NONE;
    for (u32 slot = 0; slot < count; slot++) {
        u32 loaded = nodes[slot].loaded;
        if (loaded != NONE && w->load[loaded] > w->bound[loaded]) breached = loaded;
    }
    if (breached != NONE) {
        gridlock_apply(run, payment, -1);
    } else {
        gridlock_trial_mark(w, payment, true);
        for (u32 slot = 0; slot < count; slot++) {
            if (nodes[slot].relieved != NONE) w->relief_stamp[nodes[slot].relieved] = stamp;
        }
    }
    ASSERT(gridlock_in_trial(w, payment) == (breached == NONE));
    return breached;
}

/* Whether a payment left out can fit now: not when the constraint that kept it out last time
 * (fill_blocker) has not been relieved since (its load is no lower, and the payment's own
 * effect on it is the same). Skipping such a payment changes no result. */
static bool gridlock_fill_may_fit(const struct settle_gridlock_workspace *w, u32 payment) {
    u32 blocker = w->fill_blocker[payment];
    ASSERT(blocker == NONE || w->fill_stamp[payment] > 0);
    return blocker == NONE || w->relief_stamp[blocker] > w->fill_stamp[payment];
}

/* Step 3. The payments left out are listed in queue order (in the sort's scratch, free by
 * now); each walk goes through the list and drops from it what it puts back. */
static void gridlock_fill_back(const struct gridlock_run *run,
                               struct settle_gridlock_result *result) {
    struct settle_gridlock_workspace *w = run->w;
    const struct settle_gridlock_problem *problem = run->problem;
    u32 *left_out = w->scratch, count = 0, stamp = 1;
    for (u32 rank = 0; rank < problem->payment_count; rank++) {
        u32 payment = w->order[rank];
        if (gridlock_in_trial(w, payment)) continue;
        left_out[count++] = payment;
        w->fill_blocker[payment] = NONE;
    }
    for (u32 id = 0; id < run->constraint_count; id++) w->relief_stamp[id] = 0;
    u32 added = 1;
    while (added > 0 && count > 0 && result->fill_passes < SETTLE_GRIDLOCK_FILL_PASS_MAX) {
        added = 0;
        result->fill_passes++;
        u32 kept = 0;
        for (u32 index = 0; index < count; index++) {
            u32 payment = left_out[index], before = w->queue_before[payment];
            u32 queue = w->queue_of[payment];
            bool blocked = (!problem->positions[queue].bypass_fifo && before != NONE &&
                            !gridlock_in_trial(w, before)) ||
                           !gridlock_fill_may_fit(w, payment);
            u32 blocker = NONE;
            if (!blocked && w->load[queue] + w->queue_need[payment] > w->bound[queue]) {
                blocker = queue;
            } else if (!blocked) {
                blocker = gridlock_try_add(run, payment, stamp + 1);
                if (blocker == NONE) {
                    added++;
                    stamp++;
                    continue;
                }
            }
            if (blocker != NONE) {
                w->fill_blocker[payment] = blocker;
                w->fill_stamp[payment] = stamp;
            }
            left_out[kept++] = payment;
        }
        count = kept;
        result->filled_back += added;
    }
    result->fill_converged = added == 0 || count == 0;
    ASSERT(count <= problem->payment_count);
    ASSERT(result->fill_passes <= SETTLE_GRIDLOCK_FILL_PASS_MAX);
}

/* ----------------------------------------------------------------------------------------- */
/* The result, checked from scratch.                                                          */

static void gridlock_check(const struct gridlock_run *run) {
    struct settle_gridlock_workspace *w = run->w;
    const struct settle_gridlock_problem *problem = run->problem;
    for (u32 id = 0; id < run->constraint_count; id++) w->check_load[id] = 0;
    for (u32 payment = 0; payment < problem->payment_count; payment++) {
        if (!gridlock_in_trial(w, payment)) continue;
        const struct settle_gridlock_payment *record = &problem->payments[payment];
        for (u32 index = 0; index < record->leg_count; index++) {
            const struct settle_gridlock_leg *leg = &record->legs[index];
            w->check_load[leg->debtor] += (i128)leg->amount;
            w->check_load[leg->creditor] -= (i128)leg->amount;
            if (problem->pair_limit_count == 0) continue;
            u32 forward = gridlock_pair_find(run, leg->debtor, leg->creditor);
            u32 reverse = gridlock_pair_find(run, leg->creditor, leg->debtor);
            if (forward != NONE) w->check_load[forward] += (i128)leg->amount;
            if (reverse != NONE) w->check_load[reverse] -= (i128)leg->amount;
        }
        for (u32 index = 0; index < record->charge_count; index++) {
            u32 id = run->position_count + record->charges[index].exposure;
            w->check_load[id] += (i128)record->charges[index].amount;
        }
        u32 before = w->queue_before[payment];
        ASSERT(problem->positions[record->legs[0].debtor].bypass_fifo || before == NONE ||
               gridlock_in_trial(w, before));
    }
    for (u32 id = 0; id < run->constraint_count; id++) {
        ASSERT(w->check_load[id] == w->load[id]);
        ASSERT(w->load[id] <= w->bound[id]);
    }
}

static void gridlock_result(const struct gridlock_run *run,
                            struct settle_gridlock_result *result) {
    struct settle_gridlock_workspace *w = run->w;
    const struct settle_gridlock_problem *problem = run->problem;
    result->selected = w->selected;
    result->net_out = w->load;
    result->selected_count = 0;
    result->selected_value = 0;
    for (u32 payment = 0; payment < problem->payment_count; payment++) {
        if (!gridlock_in_trial(w, payment)) continue;
        w->selected[result->selected_count++] = payment;
        result->selected_value += problem->payments[payment].value;
    }
    ASSERT(result->selected_count <= problem->payment_count);
    ASSERT(result->selected_count == 0 || result->selected != NULL);
}

khorgos_error settle_gridlock_resolve(struct settle_gridlock_workspace *workspace,
                                      const struct settle_gridlock_problem *problem,
                                      struct settle_gridlock_result *result) {
    ASSERT(workspace != NULL && problem != NULL);
    ASSERT(result != NULL);
    khorgos_error error = gridlock_validate(workspace, problem);
    if (error != KHORGOS_ERROR_ok) return error;
    struct gridlock_run run = {
        .w = workspace,
        .problem = problem,
        .position_count = problem->position_count,
        .constraint_count =
            problem->position_count + problem->exposure_count + problem->pair_limit_count,
        .pair_base = problem->position_count + problem->exposure_count,
    };
    if (!gridlock_pairs_sort(workspace, problem)) return KHORGOS_ERROR_invalid_argument;
    for (u32 payment = 0; problem->pair_limit_count > 0 && payment < problem->payment_count;
         payment++) { /* without pair limits legs and charges always fit */
        if (gridlock_node_need(&run, payment) > NODE_SLOTS) return KHORGOS_ERROR_invalid_argument;
    }
    struct settle_gridlock_result out;
    memset(&out, 0, sizeof(out));
    gridlock_sort(workspace, problem);
    gridlock_load_constraints(&run);
    for (u32 rank = 0; rank < problem->payment_count; rank++) {
        if (rank + 8 < problem->payment_count) {
            __builtin_prefetch(&problem->payments[workspace->order[rank + 8]].legs[0]);
        }
        gridlock_load_payment(&run, workspace->order[rank]);
    }
    gridlock_lists_build(&run);
    gridlock_remove_until_feasible(&run, &out);
    gridlock_fill_back(&run, &out);
    gridlock_check(&run);
    gridlock_result(&run, &out);
    *result = out;
    return KHORGOS_ERROR_ok;
}
