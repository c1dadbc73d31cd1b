/*
 * settle_lsm.c: the liquidity-saving algorithms over a compact queue model. The model, the
 * algorithms step by step, the invariants and the complexity are in settle_lsm.h; this note
 * says how the data is kept.
 *
 * 1. Loading. Each call validates the problem, derives capacities and headrooms, sorts the
 *    limits by (participant, counterparty) (binary search per payment finds its two limits),
 *    sorts the payments into queue order and groups them by unordered pair, so each group
 *    lists the lower participant's payments first, each side in queue order. When the
 *    payments come in arrival order (the usual case: a queue is appended to), queue order is
 *    one stable counting sort by (payer, priority); otherwise a stable bottom-up merge sort.
 *    Pair groups are two stable counting sorts of the queue order (by the higher participant,
 *    then by the lower one). All buffers are reserved in the workspace.
 *
 * 2. Lists. Every list is doubly linked through per-payment prev/next arrays with head/tail
 *    per owner, so appending, unlinking and reading the tail are O(1):
 *      queue   per payer, the payments still queued, in queue order;
 *      trial   per payer, the trial set of algorithms 1 and 2;
 *      limit   per bilateral limit (i, j), the trial payments from i to j.
 *    Algorithm 2 removes only tails of trial or limit lists, each removal O(1) plus heap work.
 *
 * 3. Positions. net_sent and flow hold what is settled so far in this run; trial_net_sent and
 *    trial_flow hold settled plus the trial set. Moving a payment in or out changes four
 *    numbers (payer, payee, the limit each way), so positions update in O(1).
 *
 * 4. The breach heap (algorithm 2) is an indexed binary max-heap over constraint ids: 0..P-1
 *    for participants, P + s for the limit at sorted position s. It holds exactly the breached
 *    constraints; ordering is by breach, then by smaller id, which is the documented tie rule
 *    (participants first, then lower participant, then lower counterparty).
 *
 * 5. Checking. Every call ends by recomputing all positions from the settled flags and
 *    asserting they equal the tracked ones, that every constraint holds and (fifo) that each
 *    payer's settled payments form a prefix of its queue: invariants 1, 3 and 4, O(n + P + L).
 */
#include "settle/settle_lsm.h"

#include <stdlib.h>

#define NONE SETTLE_LSM_NONE
/* Caps are clamped here before subtracting a position (|position| <= 2^124), so the
 * difference fits i128 and, when clamped, still exceeds SETTLE_LSM_CAPACITY_MAX. */
#define LSM_CAP_CLAMP (((i128)1) << 126)

_Static_assert(LSM_CAP_CLAMP - SETTLE_LSM_POSITION_MAX > SETTLE_LSM_CAPACITY_MAX,
               "a clamped cap still gives the largest capacity");

/* ----------------------------------------------------------------------------------------- */
/* Workspace memory: one allocation carved into arrays, 16-byte aligned for i128.             */

struct lsm_carver {
    unsigned char *base; /* NULL while measuring */
    size_t offset;
};

static void *lsm_carve(struct lsm_carver *carver, size_t count, size_t size) {
    ASSERT(carver != NULL);
    ASSERT(size > 0 && size <= 16);
    carver->offset = (carver->offset + 15u) & ~(size_t)15u;
    void *pointer = carver->base == NULL ? NULL : carver->base + carver->offset;
    carver->offset += count * size;
    return pointer;
}

static void lsm_layout(struct settle_lsm_workspace *w, struct lsm_carver *c) {
    ASSERT(w->participant_count_max > 0 && w->payment_count_max > 0);
    size_t participants = w->participant_count_max, limits = w->limit_count_max;
    size_t payments = w->payment_count_max;
    w->capacity = lsm_carve(c, participants, sizeof(i128));
    w->net_sent = lsm_carve(c, participants, sizeof(i128));
    w->trial_net_sent = lsm_carve(c, participants, sizeof(i128));
    w->queue_head = lsm_carve(c, participants, sizeof(u32));
    w->queue_tail = lsm_carve(c, participants, sizeof(u32));
    w->trial_head = lsm_carve(c, participants, sizeof(u32));
    w->trial_tail = lsm_carve(c, participants, sizeof(u32));
    w->limit_first = lsm_carve(c, participants + 1, sizeof(u32));
    w->bucket = lsm_carve(c, participants * SETTLE_LSM_PRIORITY_COUNT + 1, sizeof(u32));
    w->sorted_limits = lsm_carve(c, limits, sizeof(u32));
    w->limit_participant = lsm_carve(c, limits, sizeof(u32));
    w->limit_counterparty = lsm_carve(c, limits, sizeof(u32));
    w->limit_head = lsm_carve(c, limits, sizeof(u32));
    w->limit_tail = lsm_carve(c, limits, sizeof(u32));
    w->headroom = lsm_carve(c, limits, sizeof(i128));
    w->flow = lsm_carve(c, limits, sizeof(i128));
    w->trial_flow = lsm_carve(c, limits, sizeof(i128));
    w->heap = lsm_carve(c, participants + limits, sizeof(u32));
    w->heap_position = lsm_carve(c, participants + limits, sizeof(u32));
    u32 **per_payment[] = {&w->order,        &w->scratch,       &w->queue_prev,
                           &w->queue_next,   &w->trial_prev,    &w->trial_next,
                           &w->limit_prev,   &w->limit_next,    &w->limit_forward,
                           &w->limit_reverse, &w->selected,     &w->candidates,
                           &w->pair_order,   &w->pair_sorted};
    for (size_t index = 0; index < ARRAY_COUNT(per_payment); index++) {
        *per_payment[index] = lsm_carve(c, payments, sizeof(u32));
    }
    w->pair_first = lsm_carve(c, payments + 1, sizeof(u32));
    w->pair_difference = lsm_carve(c, payments, sizeof(i128));
    w->settled = lsm_carve(c, payments, sizeof(u8));
    w->in_trial = lsm_carve(c, payments, sizeof(u8));
    ASSERT(c->offset > 0);
}

khorgos_error settle_lsm_workspace_init(struct settle_lsm_workspace *workspace,
                                        u32 participant_count_max, u32 payment_count_max,
                                        u32 limit_count_max) {
    ASSERT(workspace != NULL);
    memset(workspace, 0, sizeof(*workspace));
    if (participant_count_max == 0 || participant_count_max > SETTLE_LSM_PARTICIPANT_COUNT_MAX ||
        payment_count_max == 0 || payment_count_max > SETTLE_LSM_PAYMENT_COUNT_MAX ||
        limit_count_max > SETTLE_LSM_LIMIT_COUNT_MAX) {
        return KHORGOS_ERROR_invalid_argument;
    }
    workspace->participant_count_max = participant_count_max;
    workspace->payment_count_max = payment_count_max;
    workspace->limit_count_max = limit_count_max;
    struct lsm_carver carver = {NULL, 0};
    lsm_layout(workspace, &carver);
    size_t size = carver.offset;
    workspace->memory = calloc(1, size);
    if (workspace->memory == NULL) {
        memset(workspace, 0, sizeof(*workspace));
        return KHORGOS_ERROR_out_of_memory;
    }
    carver = (struct lsm_carver){workspace->memory, 0};
    lsm_layout(workspace, &carver);
    ASSERT(carver.offset == size);
    return KHORGOS_ERROR_ok;
}

void settle_lsm_workspace_deinit(struct settle_lsm_workspace *workspace) {
    ASSERT(workspace != NULL);
    ASSERT(workspace->payment_count <= workspace->payment_count_max);
    free(workspace->memory);
    memset(workspace, 0, sizeof(*workspace));
}

/* ----------------------------------------------------------------------------------------- */
/* Sorting and lists.                                                                         */

typedef bool (*lsm_before_function)(const struct settle_lsm_workspace *w, u32 a, u32 b);

/* Stable bottom-up merge sort of `items` using `buffer` (same length); `before` is strict. */
static void lsm_sort(const struct settle_lsm_workspace *w, u32 *items, u32 *buffer, u32 count,
                     lsm_before_function before) {
    ASSERT(items != buffer);
    ASSERT(count <= SETTLE_LSM_PAYMENT_COUNT_MAX + SETTLE_LSM_LIMIT_COUNT_MAX);
    u32 *source = items;
    u32 *target = buffer;
    for (u64 width = 1; width < count; width *= 2) {
        for (u64 start = 0; start < count; start += 2 * width) {
            u64 middle = MIN(start + width, (u64)count);
            u64 end = MIN(start + 2 * width, (u64)count);
            u64 left = start, right = middle, out = start;
            while (left < middle && right < end) {
                if (before(w, source[right], source[left])) target[out++] = source[right++];
                else target[out++] = source[left++];
            }
            while (left < middle) target[out++] = source[left++];
            while (right < end) target[out++] = source[right++];
        }
        u32 *swap = source;
        source = target;
        target = swap;
    }
    if (source != items) memcpy(items, source, (size_t)count * sizeof(u32));
}

static void lsm_list_append(u32 *head, u32 *tail, u32 *prev, u32 *next, u32 item) {
    ASSERT(item != NONE);
    ASSERT((*head == NONE) == (*tail == NONE));
    prev[item] = *tail;
    next[item] = NONE;
    if (*tail == NONE) *head = item;
    else next[*tail] = item;
    *tail = item;
}

static void lsm_list_unlink(u32 *head, u32 *tail, u32 *prev, u32 *next, u32 item) {
    ASSERT(item != NONE);
    ASSERT(*head != NONE && *tail != NONE);
    if (prev[item] == NONE) *head = next[item];
    else next[prev[item]] = next[item];
    if (next[item] == NONE) *tail = prev[item];
    else prev[next[item]] = prev[item];
    prev[item] = NONE;
    next[item] = NONE;
}

static bool lsm_payment_before(const struct settle_lsm_workspace *w, u32 a, u32 b) {
    ASSERT(a < w->payment_count && b < w->payment_count);
    ASSERT(a != b); /* merge sort never compares an item with itself */
    const struct settle_lsm_payment *x = &w->payments[a];
    const struct settle_lsm_payment *y = &w->payments[b];
    if (x->payer != y->payer) return x->payer < y->payer;
    if (x->priority != y->priority) return x->priority < y->priority;
    if (x->arrival != y->arrival) return x->arrival < y->arrival;
    return a < b;
}

static bool lsm_limit_before(const struct settle_lsm_workspace *w, u32 a, u32 b) {
    ASSERT(a < w->limit_count && b < w->limit_count);
    ASSERT(a != b);
    const struct settle_lsm_bilateral_limit *x = &w->limits[a];
    const struct settle_lsm_bilateral_limit *y = &w->limits[b];
    if (x->participant != y->participant) return x->participant < y->participant;
    return x->counterparty < y->counterparty;
}

/* The unordered pair of a payment as lower * P + higher. */
static u32 lsm_pair_key(const struct settle_lsm_workspace *w, u32 payment) {
    ASSERT(payment < w->payment_count);
    const struct settle_lsm_payment *p = &w->payments[payment];
    ASSERT(p->payer != p->payee);
    return MIN(p->payer, p->payee) * w->participant_count + MAX(p->payer, p->payee);
}

typedef u32 (*lsm_key_function)(const struct settle_lsm_workspace *w, u32 item);

/* Stable counting sort of `items` into `target` by key(item) < key_count. */
static void lsm_counting_sort(struct settle_lsm_workspace *w, const u32 *items, u32 *target,
                              u32 count, u32 key_count, lsm_key_function key) {
    ASSERT(items != target);
    ASSERT(key_count <= w->participant_count_max * SETTLE_LSM_PRIORITY_COUNT);
    memset(w->bucket, 0, ((size_t)key_count + 1) * sizeof(u32));
    for (u32 index = 0; index < count; index++) w->bucket[key(w, items[index]) + 1]++;
    for (u32 index = 0; index < key_count; index++) w->bucket[index + 1] += w->bucket[index];
    ASSERT(w->bucket[key_count] == count);
    for (u32 index = 0; index < count; index++) {
        target[w->bucket[key(w, items[index])]++] = items[index];
    }
}

static u32 lsm_key_payer_priority(const struct settle_lsm_workspace *w, u32 payment) {
    ASSERT(payment < w->payment_count);
    const struct settle_lsm_payment *p = &w->payments[payment];
    ASSERT(p->priority < SETTLE_LSM_PRIORITY_COUNT);
    return p->payer * SETTLE_LSM_PRIORITY_COUNT + p->priority;
}

static u32 lsm_key_pair_higher(const struct settle_lsm_workspace *w, u32 payment) {
    ASSERT(payment < w->payment_count);
    ASSERT(w->payments[payment].payer != w->payments[payment].payee);
    return MAX(w->payments[payment].payer, w->payments[payment].payee);
}

static u32 lsm_key_pair_lower(const struct settle_lsm_workspace *w, u32 payment) {
    ASSERT(payment < w->payment_count);
    ASSERT(w->payments[payment].payer != w->payments[payment].payee);
    return MIN(w->payments[payment].payer, w->payments[payment].payee);
}

static bool lsm_pair_difference_before(const struct settle_lsm_workspace *w, u32 a, u32 b) {
    ASSERT(a < w->pair_count && b < w->pair_count);
    ASSERT(w->pair_difference[a] >= 0 && w->pair_difference[b] >= 0);
    if (w->pair_difference[a] != w->pair_difference[b]) {
        return w->pair_difference[a] < w->pair_difference[b];
    }
    return a < b; /* pairs are numbered in pair-key order: lower a, then lower b */
}

/* The sorted position of the limit on (participant, counterparty), or NONE. */
static u32 lsm_limit_find(const struct settle_lsm_workspace *w, u32 participant,
                          u32 counterparty) {
    ASSERT(participant < w->participant_count && counterparty < w->participant_count);
    u32 low = w->limit_first[participant];
    u32 high = w->limit_first[participant + 1];
    ASSERT(low <= high && high <= w->limit_count);
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (w->limit_counterparty[middle] < counterparty) low = middle + 1;
        else high = middle;
    }
    if (low < w->limit_first[participant + 1] && w->limit_counterparty[low] == counterparty) {
        return low;
    }
    return NONE;
}

/* ----------------------------------------------------------------------------------------- */
/* Validation and loading.                                                                    */

static bool lsm_position_valid(i128 position) {
    _Static_assert(SETTLE_LSM_POSITION_MAX > 0, "a symmetric range around zero");
    return position >= -SETTLE_LSM_POSITION_MAX && position <= SETTLE_LSM_POSITION_MAX;
}

static bool lsm_payment_valid(const struct settle_lsm_payment *payment, u32 participant_count) {
    ASSERT(payment != NULL);
    ASSERT(participant_count > 0);
    return payment->payer < participant_count && payment->payee < participant_count &&
           payment->payer != payment->payee && payment->amount > 0 &&
           payment->amount <= SETTLE_LSM_AMOUNT_MAX &&
           payment->priority < SETTLE_LSM_PRIORITY_COUNT;
}

static khorgos_error lsm_validate(const struct settle_lsm_workspace *w,
                                  const struct settle_lsm_problem *problem) {
    ASSERT(w != NULL && w->memory != NULL);
    ASSERT(w->participant_count_max <= SETTLE_LSM_PARTICIPANT_COUNT_MAX);
    if (problem == NULL) return KHORGOS_ERROR_invalid_argument;
    if (problem->participant_count > w->participant_count_max ||
        problem->payment_count > w->payment_count_max ||
        problem->limit_count > w->limit_count_max) {
        return KHORGOS_ERROR_capacity_full;
    }
    u32 participant_count = problem->participant_count;
    if (participant_count == 0 || problem->participants == NULL ||
        (problem->payment_count > 0 && problem->payments == NULL) ||
        (problem->limit_count > 0 && problem->limits == NULL) ||
        problem->queue_mode > SETTLE_LSM_QUEUE_BYPASS_FIFO) {
        return KHORGOS_ERROR_invalid_argument;
    }
    for (u32 index = 0; index < participant_count; index++) {
        const struct settle_lsm_participant *participant = &problem->participants[index];
        if (participant->has_net_debit_cap > 1) return KHORGOS_ERROR_invalid_argument;
        if (!lsm_position_valid(participant->net_debit_position)) {
            return KHORGOS_ERROR_invalid_argument;
        }
    }
    for (u32 index = 0; index < problem->payment_count; index++) {
        if (!lsm_payment_valid(&problem->payments[index], participant_count)) {
            return KHORGOS_ERROR_invalid_argument;
        }
    }
    for (u32 index = 0; index < problem->limit_count; index++) {
        const struct settle_lsm_bilateral_limit *limit = &problem->limits[index];
        if (limit->participant >= participant_count || limit->counterparty >= participant_count ||
            limit->participant == limit->counterparty || !lsm_position_valid(limit->position)) {
            return KHORGOS_ERROR_invalid_argument;
        }
    }
    return KHORGOS_ERROR_ok;
}

/* max(0, cap - position), at most SETTLE_LSM_CAPACITY_MAX. */
static i128 lsm_headroom(u128 cap, i128 position) {
    ASSERT(lsm_position_valid(position));
    i128 cap_clamped = cap > (u128)LSM_CAP_CLAMP ? LSM_CAP_CLAMP : (i128)cap;
    i128 headroom = cap_clamped - position;
    if (headroom < 0) headroom = 0;
    if (headroom > SETTLE_LSM_CAPACITY_MAX) headroom = SETTLE_LSM_CAPACITY_MAX;
    ASSERT(headroom >= 0 && headroom <= SETTLE_LSM_CAPACITY_MAX);
    return headroom;
}

static void lsm_load_participants(struct settle_lsm_workspace *w,
                                  const struct settle_lsm_problem *problem) {
    ASSERT(problem->participant_count == w->participant_count);
    for (u32 index = 0; index < w->participant_count; index++) {
        const struct settle_lsm_participant *participant = &problem->participants[index];
        i128 capacity = participant->liquidity > (u128)SETTLE_LSM_CAPACITY_MAX
                            ? SETTLE_LSM_CAPACITY_MAX
                            : (i128)participant->liquidity;
        if (participant->has_net_debit_cap) {
            capacity = MIN(capacity, lsm_headroom(participant->net_debit_cap,
                                                  participant->net_debit_position));
        }
        ASSERT(capacity >= 0);
        w->capacity[index] = capacity;
        w->net_sent[index] = 0;
        w->queue_head[index] = NONE;
        w->queue_tail[index] = NONE;
    }
}

/* Sorts the limits, rejects two on one ordered pair, fills the per-limit arrays. */
static khorgos_error lsm_load_limits(struct settle_lsm_workspace *w) {
    ASSERT(w->limit_count <= w->limit_count_max);
    for (u32 index = 0; index < w->limit_count; index++) w->sorted_limits[index] = index;
    lsm_sort(w, w->sorted_limits, w->heap, w->limit_count, lsm_limit_before);
    memset(w->limit_first, 0, ((size_t)w->participant_count + 1) * sizeof(u32));
    for (u32 sorted = 0; sorted < w->limit_count; sorted++) {
        const struct settle_lsm_bilateral_limit *limit = &w->limits[w->sorted_limits[sorted]];
        if (sorted > 0 && w->limit_participant[sorted - 1] == limit->participant &&
            w->limit_counterparty[sorted - 1] == limit->counterparty) {
            return KHORGOS_ERROR_invalid_argument;
        }
        w->limit_participant[sorted] = limit->participant;
        w->limit_counterparty[sorted] = limit->counterparty;
        w->headroom[sorted] = lsm_headroom(limit->limit, limit->position);
        w->flow[sorted] = 0;
        w->limit_first[limit->participant + 1]++;
    }
    for (u32 index = 0; index < w->participant_count; index++) {
        w->limit_first[index + 1] += w->limit_first[index];
    }
    ASSERT(w->limit_first[w->participant_count] == w->limit_count);
    return KHORGOS_ERROR_ok;
}

static void lsm_load_queue(struct settle_lsm_workspace *w) {
    ASSERT(w->payment_count <= w->payment_count_max);
    bool arrival_ordered = true;
    for (u32 index = 1; index < w->payment_count; index++) {
        arrival_ordered &= w->payments[index - 1].arrival <= w->payments[index].arrival;
    }
    if (arrival_ordered) { /* ties already in index order: one stable pass suffices */
        for (u32 index = 0; index < w->payment_count; index++) w->scratch[index] = index;
        lsm_counting_sort(w, w->scratch, w->order, w->payment_count,
                          w->participant_count * SETTLE_LSM_PRIORITY_COUNT,
                          lsm_key_payer_priority);
    } else {
        for (u32 index = 0; index < w->payment_count; index++) w->order[index] = index;
        lsm_sort(w, w->order, w->scratch, w->payment_count, lsm_payment_before);
    }
    for (u32 rank = 0; rank < w->payment_count; rank++) {
        u32 payment = w->order[rank];
        const struct settle_lsm_payment *p = &w->payments[payment];
        lsm_list_append(&w->queue_head[p->payer], &w->queue_tail[p->payer], w->queue_prev,
                        w->queue_next, payment);
        w->limit_forward[payment] = lsm_limit_find(w, p->payer, p->payee);
        w->limit_reverse[payment] = lsm_limit_find(w, p->payee, p->payer);
        w->settled[payment] = 0;
        w->in_trial[payment] = 0;
    }
    w->queued_count = w->payment_count;
    ASSERT(w->payment_count == 0 || w->queue_head[w->payments[w->order[0]].payer] == w->order[0]);
}

static void lsm_load_pairs(struct settle_lsm_workspace *w) {
    ASSERT(w->payment_count <= w->payment_count_max);
    lsm_counting_sort(w, w->order, w->scratch, w->payment_count, w->participant_count,
                      lsm_key_pair_higher);
    lsm_counting_sort(w, w->scratch, w->pair_order, w->payment_count, w->participant_count,
                      lsm_key_pair_lower);
    w->pair_count = 0;
    for (u32 rank = 0; rank < w->payment_count; rank++) {
        if (rank == 0 ||
            lsm_pair_key(w, w->pair_order[rank]) != lsm_pair_key(w, w->pair_order[rank - 1])) {
            w->pair_first[w->pair_count++] = rank;
        }
    }
    w->pair_first[w->pair_count] = w->payment_count;
    ASSERT(w->pair_count <= w->payment_count);
}

static khorgos_error lsm_load(struct settle_lsm_workspace *w,
                              const struct settle_lsm_problem *problem) {
    ASSERT(w != NULL && w->memory != NULL);
    khorgos_error error = lsm_validate(w, problem);
    if (error != KHORGOS_ERROR_ok) return error;
    w->participant_count = problem->participant_count;
    w->payment_count = problem->payment_count;
    w->limit_count = problem->limit_count;
    w->queue_mode = problem->queue_mode;
    w->payments = problem->payments;
    w->limits = problem->limits;
    w->round = 0;
    w->rounds_exhausted = 0;
    w->step_count = 0;
    lsm_load_participants(w, problem);
    error = lsm_load_limits(w);
    if (error != KHORGOS_ERROR_ok) return error;
    lsm_load_queue(w);
    lsm_load_pairs(w);
    ASSERT(w->queued_count == w->payment_count);
    return KHORGOS_ERROR_ok;
}

/* ----------------------------------------------------------------------------------------- */
/* Positions and settling.                                                                    */

/* Adds sign * amount of `payment` to the positions in `net_sent` and `flow`. */
static void lsm_contribute(const struct settle_lsm_workspace *w, i128 *net_sent, i128 *flow,
                           u32 payment, i128 sign) {
    ASSERT(sign == 1 || sign == -1);
    ASSERT(payment < w->payment_count);
    const struct settle_lsm_payment *p = &w->payments[payment];
    i128 amount = sign * (i128)p->amount;
    net_sent[p->payer] += amount;
    net_sent[p->payee] -= amount;
    if (w->limit_forward[payment] != NONE) flow[w->limit_forward[payment]] += amount;
    if (w->limit_reverse[payment] != NONE) flow[w->limit_reverse[payment]] -= amount;
}

static void lsm_step_record(struct settle_lsm_workspace *w, u32 algorithm, u32 count,
                            u128 value) {
    ASSERT(algorithm <= SETTLE_LSM_ALGORITHM_BILATERAL);
    ASSERT((count == 0) == (value == 0));
    if (count == 0) return;
    ASSERT(w->step_count < SETTLE_LSM_STEP_COUNT_MAX);
    struct settle_lsm_step *step = &w->steps[w->step_count++];
    memset(step, 0, sizeof(*step));
    step->value = value;
    step->payment_count = count;
    step->algorithm = algorithm;
    step->round = w->round;
}

/* Settles one queued payment on top of what this run settled already. */
static void lsm_settle_payment(struct settle_lsm_workspace *w, u32 payment) {
    ASSERT(payment < w->payment_count && !w->settled[payment]);
    ASSERT(w->queued_count > 0);
    const struct settle_lsm_payment *p = &w->payments[payment];
    w->settled[payment] = 1;
    lsm_list_unlink(&w->queue_head[p->payer], &w->queue_tail[p->payer], w->queue_prev,
                    w->queue_next, payment);
    lsm_contribute(w, w->net_sent, w->flow, payment, 1);
    w->queued_count--;
}

/* ----------------------------------------------------------------------------------------- */
/* The trial set (algorithms 1 and 2) and the breach heap.                                    */

static void lsm_trial_begin(struct settle_lsm_workspace *w) {
    ASSERT(w->queued_count > 0);
    memcpy(w->trial_net_sent, w->net_sent, (size_t)w->participant_count * sizeof(i128));
    memcpy(w->trial_flow, w->flow, (size_t)w->limit_count * sizeof(i128));
    for (u32 index = 0; index < w->limit_count; index++) {
        w->limit_head[index] = NONE;
        w->limit_tail[index] = NONE;
    }
    u32 count = 0;
    for (u32 payer = 0; payer < w->participant_count; payer++) {
        w->trial_head[payer] = NONE;
        w->trial_tail[payer] = NONE;
        for (u32 payment = w->queue_head[payer]; payment != NONE;
             payment = w->queue_next[payment]) {
            w->in_trial[payment] = 1;
            lsm_list_append(&w->trial_head[payer], &w->trial_tail[payer], w->trial_prev,
                            w->trial_next, payment);
            u32 forward = w->limit_forward[payment];
            if (forward != NONE) {
                lsm_list_append(&w->limit_head[forward], &w->limit_tail[forward],
                                w->limit_prev, w->limit_next, payment);
            }
            lsm_contribute(w, w->trial_net_sent, w->trial_flow, payment, 1);
            count++;
        }
    }
    ASSERT(count == w->queued_count);
}

/* How far constraint `id` is breached by settled plus trial (> 0: breached). */
static i128 lsm_breach(const struct settle_lsm_workspace *w, u32 id) {
    ASSERT(id < w->participant_count + w->limit_count);
    if (id < w->participant_count) return w->trial_net_sent[id] - w->capacity[id];
    u32 limit = id - w->participant_count;
    ASSERT(w->headroom[limit] >= 0);
    return w->trial_flow[limit] - w->headroom[limit];
}

static bool lsm_heap_before(const struct settle_lsm_workspace *w, u32 a, u32 b) {
    ASSERT(a != b);
    ASSERT(w->heap_position[a] != NONE || w->heap_position[b] != NONE);
    i128 breach_a = lsm_breach(w, a);
    i128 breach_b = lsm_breach(w, b);
    if (breach_a != breach_b) return breach_a > breach_b;
    return a < b;
}

static void lsm_heap_place(struct settle_lsm_workspace *w, u32 slot, u32 id) {
    ASSERT(slot < w->heap_count);
    ASSERT(id < w->participant_count + w->limit_count);
    w->heap[slot] = id;
    w->heap_position[id] = slot;
}

static void lsm_heap_sift_up(struct settle_lsm_workspace *w, u32 slot) {
    ASSERT(slot < w->heap_count);
    u32 id = w->heap[slot];
    while (slot > 0) {
        u32 parent = (slot - 1) / 2;
        if (!lsm_heap_before(w, id, w->heap[parent])) break;
        lsm_heap_place(w, slot, w->heap[parent]);
        slot = parent;
    }
    lsm_heap_place(w, slot, id);
    ASSERT(lsm_breach(w, id) > 0); /* the heap holds breached constraints only */
}

static void lsm_heap_sift_down(struct settle_lsm_workspace *w, u32 slot) {
    ASSERT(slot < w->heap_count);
    u32 id = w->heap[slot];
    for (;;) {
        u32 child = 2 * slot + 1;
        if (child >= w->heap_count) break;
        if (child + 1 < w->heap_count && lsm_heap_before(w, w->heap[child + 1], w->heap[child])) {
            child++;
        }
        if (!lsm_heap_before(w, w->heap[child], id)) break;
        lsm_heap_place(w, slot, w->heap[child]);
        slot = child;
    }
    lsm_heap_place(w, slot, id);
    ASSERT(lsm_breach(w, id) > 0);
}

/* Puts constraint `id` where its breach now says: in the heap if breached, out if not. */
static void lsm_heap_update(struct settle_lsm_workspace *w, u32 id) {
    ASSERT(id < w->participant_count + w->limit_count);
    u32 slot = w->heap_position[id];
    bool breached = lsm_breach(w, id) > 0;
    if (breached && slot == NONE) {
        w->heap_count++;
        lsm_heap_place(w, w->heap_count - 1, id);
        lsm_heap_sift_up(w, w->heap_count - 1);
    } else if (breached) {
        lsm_heap_sift_up(w, slot);
        lsm_heap_sift_down(w, w->heap_position[id]);
    } else if (slot != NONE) {
        w->heap_position[id] = NONE;
        w->heap_count--;
        if (slot < w->heap_count) {
            u32 last = w->heap[w->heap_count];
            lsm_heap_place(w, slot, last);
            lsm_heap_sift_up(w, slot);
            lsm_heap_sift_down(w, w->heap_position[last]);
        }
    }
    ASSERT(w->heap_count <= w->participant_count + w->limit_count);
}

static void lsm_trial_remove(struct settle_lsm_workspace *w, u32 payment) {
    ASSERT(payment < w->payment_count && w->in_trial[payment]);
    ASSERT(!w->settled[payment]);
    const struct settle_lsm_payment *p = &w->payments[payment];
    u32 forward = w->limit_forward[payment];
    u32 reverse = w->limit_reverse[payment];
    lsm_list_unlink(&w->trial_head[p->payer], &w->trial_tail[p->payer], w->trial_prev,
                    w->trial_next, payment);
    if (forward != NONE) {
        lsm_list_unlink(&w->limit_head[forward], &w->limit_tail[forward], w->limit_prev,
                        w->limit_next, payment);
    }
    w->in_trial[payment] = 0;
    /* One key changes at a time and is put in place at once, so the heap never holds more
     * than one misplaced entry (sifting is only correct then). */
    i128 amount = (i128)p->amount;
    w->trial_net_sent[p->payer] -= amount;
    lsm_heap_update(w, p->payer);
    w->trial_net_sent[p->payee] += amount;
    lsm_heap_update(w, p->payee);
    if (forward != NONE) {
        w->trial_flow[forward] -= amount;
        lsm_heap_update(w, w->participant_count + forward);
    }
    if (reverse != NONE) {
        w->trial_flow[reverse] += amount;
        lsm_heap_update(w, w->participant_count + reverse);
    }
}

/* Settles the whole trial set; returns how many payments that was. */
static u32 lsm_trial_settle(struct settle_lsm_workspace *w, u32 algorithm) {
    ASSERT(algorithm == SETTLE_LSM_ALGORITHM_ALL_OR_NOTHING ||
           algorithm == SETTLE_LSM_ALGORITHM_PARTIAL);
    u32 count = 0;
    u128 value = 0;
    for (u32 payer = 0; payer < w->participant_count; payer++) {
        for (u32 payment = w->trial_head[payer]; payment != NONE;
             payment = w->trial_next[payment]) {
            ASSERT(!w->settled[payment]);
            w->settled[payment] = 1;
            w->in_trial[payment] = 0;
            lsm_list_unlink(&w->queue_head[payer], &w->queue_tail[payer], w->queue_prev,
                            w->queue_next, payment);
            count++;
            value += w->payments[payment].amount;
        }
    }
    memcpy(w->net_sent, w->trial_net_sent, (size_t)w->participant_count * sizeof(i128));
    memcpy(w->flow, w->trial_flow, (size_t)w->limit_count * sizeof(i128));
    ASSERT(count <= w->queued_count);
    w->queued_count -= count;
    lsm_step_record(w, algorithm, count, value);
    return count;
}

/* ----------------------------------------------------------------------------------------- */
/* Algorithm 1: all or nothing.                                                               */

static u32 lsm_all_or_nothing_run(struct settle_lsm_workspace *w) {
    ASSERT(w->round > 0);
    if (w->queued_count == 0) return 0;
    lsm_trial_begin(w);
    for (u32 id = 0; id < w->participant_count + w->limit_count; id++) {
        if (lsm_breach(w, id) > 0) return 0;
    }
    u32 count = lsm_trial_settle(w, SETTLE_LSM_ALGORITHM_ALL_OR_NOTHING);
    ASSERT(w->queued_count == 0);
    return count;
}

/* ----------------------------------------------------------------------------------------- */
/* Algorithm 2: partial, removing single payments from the largest uncovered position.       */

/* The payment to take out of the trial set for breached constraint `id`. */
static u32 lsm_partial_victim(const struct settle_lsm_workspace *w, u32 id) {
    ASSERT(lsm_breach(w, id) > 0);
    u32 payment;
    if (id < w->participant_count) {
        payment = w->trial_tail[id];
    } else {
        u32 limit = id - w->participant_count;
        payment = w->queue_mode == SETTLE_LSM_QUEUE_FIFO
                      ? w->trial_tail[w->limit_participant[limit]]
                      : w->limit_tail[limit];
    }
    ASSERT(payment != NONE); /* invariant 2 */
    ASSERT(w->in_trial[payment]);
    return payment;
}

static u32 lsm_partial_run(struct settle_lsm_workspace *w) {
    ASSERT(w->round > 0);
    if (w->queued_count == 0) return 0;
    lsm_trial_begin(w);
    u32 constraint_count = w->participant_count + w->limit_count;
    w->heap_count = 0;
    for (u32 id = 0; id < constraint_count; id++) w->heap_position[id] = NONE;
    for (u32 id = 0; id < constraint_count; id++) lsm_heap_update(w, id);
    u32 removed = 0;
    while (w->heap_count > 0) {
        lsm_trial_remove(w, lsm_partial_victim(w, w->heap[0]));
        removed++;
        ASSERT(removed <= w->queued_count);
    }
    if (removed == w->queued_count) return 0;
    return lsm_trial_settle(w, SETTLE_LSM_ALGORITHM_PARTIAL);
}

/* ----------------------------------------------------------------------------------------- */
/* Algorithm 3: bilateral, pair by pair.                                                      */

/* |sum lower->higher - sum higher->lower| over the pair's queued payments; false if none. */
static bool lsm_pair_measure(struct settle_lsm_workspace *w, u32 pair) {
    ASSERT(pair < w->pair_count);
    u32 lower = w->payment_count; /* set from the first payment */
    i128 difference = 0;
    bool queued = false;
    for (u32 rank = w->pair_first[pair]; rank < w->pair_first[pair + 1]; rank++) {
        u32 payment = w->pair_order[rank];
        const struct settle_lsm_payment *p = &w->payments[payment];
        if (lower == w->payment_count) lower = MIN(p->payer, p->payee);
        if (w->settled[payment]) continue;
        queued = true;
        difference += p->payer == lower ? (i128)p->amount : -(i128)p->amount;
    }
    w->pair_difference[pair] = difference < 0 ? -difference : difference;
    ASSERT(w->pair_difference[pair] >= 0);
    return queued;
}

/* Writes the payer's queued payments to the payee that may settle as a pair, in queue order:
 * fifo, the run at the head of the payer's queue; bypass_fifo, all of them. */
static u32 lsm_pair_candidates(const struct settle_lsm_workspace *w, u32 pair, u32 payer,
                               u32 payee, u32 *out) {
    ASSERT(payer != payee);
    u32 count = 0;
    if (w->queue_mode == SETTLE_LSM_QUEUE_FIFO) {
        for (u32 payment = w->queue_head[payer];
             payment != NONE && w->payments[payment].payee == payee;
             payment = w->queue_next[payment]) {
            out[count++] = payment;
        }
    } else {
        for (u32 rank = w->pair_first[pair]; rank < w->pair_first[pair + 1]; rank++) {
            u32 payment = w->pair_order[rank];
            if (!w->settled[payment] && w->payments[payment].payer == payer) out[count++] = payment;
        }
    }
    ASSERT(count <= w->queued_count);
    return count;
}

/* Which side of the pair to shrink: 0 none (all covered), 1 lower, 2 higher. `sent` is the
 * lower participant's net sending in the candidate set. Ties as in algorithm 2. */
static u32 lsm_pair_uncovered_side(const struct settle_lsm_workspace *w, u32 lower, u32 higher,
                                   u32 forward, u32 reverse, i128 sent) {
    ASSERT(lower < higher);
    i128 breaches[4] = {
        w->net_sent[lower] + sent - w->capacity[lower],
        w->net_sent[higher] - sent - w->capacity[higher],
        forward == NONE ? 0 : w->flow[forward] + sent - w->headroom[forward],
        reverse == NONE ? 0 : w->flow[reverse] - sent - w->headroom[reverse],
    };
    static const u32 sides[4] = {1, 2, 1, 2};
    i128 largest = 0;
    u32 side = 0;
    for (u32 index = 0; index < 4; index++) {
        if (breaches[index] > largest) {
            largest = breaches[index];
            side = sides[index];
        }
    }
    ASSERT(side <= 2);
    return side;
}

static u128 lsm_sum(const struct settle_lsm_workspace *w, const u32 *payments, u32 count) {
    ASSERT(count <= w->payment_count);
    u128 sum = 0;
    for (u32 index = 0; index < count; index++) sum += w->payments[payments[index]].amount;
    ASSERT(count == 0 || sum > 0);
    return sum;
}

/* One pair's candidates during algorithm 3: side 0 the lower participant's payments to the
 * higher, side 1 the reverse; side[s][0..count[s]) are taken, [count[s]..total[s]) dropped. */
struct lsm_pair {
    u32 participant[2];
    u32 limit[2]; /* limit (participant[s], participant[1 - s]) or NONE */
    u32 *side[2];
    u32 count[2];
    u32 total[2];
    i128 sum[2];
};

/* Which side to shrink: 0 none (all covered), 1 lower, 2 higher (lsm_pair_uncovered_side). */
static u32 lsm_pair_uncovered(const struct settle_lsm_workspace *w, const struct lsm_pair *pair) {
    ASSERT(pair->sum[0] >= 0 && pair->sum[1] >= 0);
    return lsm_pair_uncovered_side(w, pair->participant[0], pair->participant[1],
                                   pair->limit[0], pair->limit[1], pair->sum[0] - pair->sum[1]);
}

/* bypass_fifo: dropped payments that fit after all are taken back, in queue order, lower
 * side first (bypass means a later payment that fits is not held up by one that does not). */
static void lsm_pair_readmit(const struct settle_lsm_workspace *w, struct lsm_pair *pair) {
    ASSERT(w->queue_mode == SETTLE_LSM_QUEUE_BYPASS_FIFO);
    ASSERT(lsm_pair_uncovered(w, pair) == 0);
    for (u32 s = 0; s < 2; s++) {
        for (u32 index = pair->count[s]; index < pair->total[s]; index++) {
            u32 payment = pair->side[s][index];
            pair->sum[s] += (i128)w->payments[payment].amount;
            if (lsm_pair_uncovered(w, pair) != 0) {
                pair->sum[s] -= (i128)w->payments[payment].amount;
                continue;
            }
            pair->side[s][index] = pair->side[s][pair->count[s]]; /* keep taken ones first */
            pair->side[s][pair->count[s]++] = payment;
        }
    }
    ASSERT(lsm_pair_uncovered(w, pair) == 0);
}

/* Settles what the pair's positions cover; adds to *count and *value. */
static void lsm_bilateral_pair(struct settle_lsm_workspace *w, u32 pair_index, u32 *count,
                               u128 *value) {
    ASSERT(pair_index < w->pair_count);
    const struct settle_lsm_payment *first =
        &w->payments[w->pair_order[w->pair_first[pair_index]]];
    struct lsm_pair pair = {.participant = {MIN(first->payer, first->payee),
                                            MAX(first->payer, first->payee)},
                            .side = {w->scratch, w->candidates}};
    for (u32 s = 0; s < 2; s++) {
        pair.limit[s] = lsm_limit_find(w, pair.participant[s], pair.participant[1 - s]);
        pair.total[s] = lsm_pair_candidates(w, pair_index, pair.participant[s],
                                            pair.participant[1 - s], pair.side[s]);
        pair.count[s] = pair.total[s];
        pair.sum[s] = (i128)lsm_sum(w, pair.side[s], pair.count[s]);
    }
    for (u32 side = lsm_pair_uncovered(w, &pair); side != 0; side = lsm_pair_uncovered(w, &pair)) {
        u32 s = side - 1;
        ASSERT(pair.count[s] > 0); /* invariant 2 */
        pair.sum[s] -= (i128)w->payments[pair.side[s][--pair.count[s]]].amount;
    }
    if (w->queue_mode == SETTLE_LSM_QUEUE_BYPASS_FIFO) lsm_pair_readmit(w, &pair);
    for (u32 s = 0; s < 2; s++) {
        for (u32 index = 0; index < pair.count[s]; index++) {
            lsm_settle_payment(w, pair.side[s][index]);
        }
        *count += pair.count[s];
        *value += (u128)pair.sum[s];
    }
}

static u32 lsm_bilateral_run(struct settle_lsm_workspace *w) {
    ASSERT(w->round > 0);
    if (w->queued_count == 0) return 0;
    u32 sorted_count = 0;
    for (u32 pair = 0; pair < w->pair_count; pair++) {
        if (lsm_pair_measure(w, pair)) w->pair_sorted[sorted_count++] = pair;
    }
    ASSERT(sorted_count > 0);
    lsm_sort(w, w->pair_sorted, w->scratch, sorted_count, lsm_pair_difference_before);
    u32 count = 0;
    u128 value = 0;
    for (u32 index = 0; index < sorted_count; index++) {
        lsm_bilateral_pair(w, w->pair_sorted[index], &count, &value);
    }
    lsm_step_record(w, SETTLE_LSM_ALGORITHM_BILATERAL, count, value);
    return count;
}

/* ----------------------------------------------------------------------------------------- */
/* Offsetting on entry.                                                                       */

/* Chooses which of B's queued payments to A settle with the incoming payment A -> B; returns
 * false (and changes nothing) when the incoming payment cannot settle. */
static bool lsm_offset_select(struct settle_lsm_workspace *w,
                              const struct settle_lsm_payment *incoming) {
    ASSERT(lsm_payment_valid(incoming, w->participant_count));
    u32 a = incoming->payer, b = incoming->payee;
    bool fifo = w->queue_mode == SETTLE_LSM_QUEUE_FIFO;
    u32 head = w->queue_head[a];
    if (fifo && head != NONE && w->payments[head].priority <= incoming->priority) return false;
    u32 forward = lsm_limit_find(w, a, b), reverse = lsm_limit_find(w, b, a);
    i128 amount = (i128)incoming->amount;
    /* Bounds on S, the total of B's payments taken: see settle_lsm.h, offsetting step 3. */
    i128 low = MAX((i128)0, amount - w->capacity[a]);
    if (forward != NONE) low = MAX(low, amount - w->headroom[forward]);
    i128 high = amount + w->capacity[b];
    if (reverse != NONE) high = MIN(high, amount + w->headroom[reverse]);
    u32 taken = 0;
    i128 sum = 0;
    for (u32 payment = w->queue_head[b]; payment != NONE; payment = w->queue_next[payment]) {
        if (w->payments[payment].payee != a) {
            if (fifo) break;
            continue;
        }
        i128 next = sum + (i128)w->payments[payment].amount;
        if (next > high) {
            if (fifo) break;
            continue;
        }
        sum = next;
        w->candidates[taken++] = payment;
    }
    if (sum < low) return false;
    for (u32 index = 0; index < taken; index++) lsm_settle_payment(w, w->candidates[index]);
    w->net_sent[a] += amount;
    w->net_sent[b] -= amount;
    if (forward != NONE) w->flow[forward] += amount;
    if (reverse != NONE) w->flow[reverse] -= amount;
    lsm_step_record(w, SETTLE_LSM_ALGORITHM_OFFSET_ON_ENTRY, taken + 1, (u128)(amount + sum));
    ASSERT(w->net_sent[a] <= w->capacity[a] && w->net_sent[b] <= w->capacity[b]);
    return true;
}

/* ----------------------------------------------------------------------------------------- */
/* Checking and the result.                                                                   */

/* Invariants 1, 3 and 4: recomputes every position from the settled flags. */
static void lsm_verify(struct settle_lsm_workspace *w, const struct settle_lsm_payment *incoming) {
    ASSERT(w->participant_count > 0);
    memset(w->trial_net_sent, 0, (size_t)w->participant_count * sizeof(i128));
    memset(w->trial_flow, 0, (size_t)w->limit_count * sizeof(i128));
    for (u32 payment = 0; payment < w->payment_count; payment++) {
        if (w->settled[payment]) lsm_contribute(w, w->trial_net_sent, w->trial_flow, payment, 1);
    }
    if (incoming != NULL) {
        i128 amount = (i128)incoming->amount;
        u32 forward = lsm_limit_find(w, incoming->payer, incoming->payee);
        u32 reverse = lsm_limit_find(w, incoming->payee, incoming->payer);
        w->trial_net_sent[incoming->payer] += amount;
        w->trial_net_sent[incoming->payee] -= amount;
        if (forward != NONE) w->trial_flow[forward] += amount;
        if (reverse != NONE) w->trial_flow[reverse] -= amount;
    }
    for (u32 index = 0; index < w->participant_count; index++) {
        ASSERT(w->trial_net_sent[index] == w->net_sent[index]);
        ASSERT(w->net_sent[index] <= w->capacity[index]);
    }
    for (u32 index = 0; index < w->limit_count; index++) {
        ASSERT(w->trial_flow[index] == w->flow[index]);
        ASSERT(w->flow[index] <= w->headroom[index]);
    }
    if (w->queue_mode != SETTLE_LSM_QUEUE_FIFO) return;
    for (u32 rank = 1; rank < w->payment_count; rank++) {
        u32 payment = w->order[rank], previous = w->order[rank - 1];
        if (w->payments[payment].payer != w->payments[previous].payer) continue;
        ASSERT(!w->settled[payment] || w->settled[previous]);
    }
}

static void lsm_result_build(struct settle_lsm_workspace *w, struct settle_lsm_result *result,
                             const struct settle_lsm_payment *incoming_settled) {
    ASSERT(result != NULL);
    lsm_verify(w, incoming_settled);
    u32 count = 0;
    u128 value = incoming_settled == NULL ? 0 : incoming_settled->amount;
    for (u32 payment = 0; payment < w->payment_count; payment++) {
        if (!w->settled[payment]) continue;
        w->selected[count++] = payment;
        value += w->payments[payment].amount;
    }
    ASSERT(count + w->queued_count == w->payment_count);
    memset(result, 0, sizeof(*result));
    result->selected = w->selected;
    result->net_sent = w->net_sent;
    result->selected_value = value;
    result->selected_count = count;
    result->round_count = w->round;
    result->rounds_exhausted = w->rounds_exhausted;
    result->incoming_settles = incoming_settled != NULL;
    result->step_count = w->step_count;
    memcpy(result->steps, w->steps, (size_t)w->step_count * sizeof(w->steps[0]));
}

/* ----------------------------------------------------------------------------------------- */
/* The public calls.                                                                          */

khorgos_error settle_lsm_offset_on_entry(struct settle_lsm_workspace *workspace,
                                         const struct settle_lsm_problem *problem,
                                         const struct settle_lsm_payment *incoming,
                                         struct settle_lsm_result *result) {
    ASSERT(workspace != NULL && workspace->memory != NULL);
    ASSERT(result != NULL);
    if (incoming == NULL) return KHORGOS_ERROR_invalid_argument;
    khorgos_error error = lsm_load(workspace, problem);
    if (error != KHORGOS_ERROR_ok) return error;
    if (!lsm_payment_valid(incoming, workspace->participant_count)) {
        return KHORGOS_ERROR_invalid_argument;
    }
    workspace->round = 1;
    bool settles = lsm_offset_select(workspace, incoming);
    lsm_result_build(workspace, result, settles ? incoming : NULL);
    return KHORGOS_ERROR_ok;
}

typedef u32 (*lsm_algorithm_function)(struct settle_lsm_workspace *w);

static khorgos_error lsm_run_one(struct settle_lsm_workspace *workspace,
                                 const struct settle_lsm_problem *problem,
                                 struct settle_lsm_result *result,
                                 lsm_algorithm_function algorithm) {
    ASSERT(workspace != NULL && workspace->memory != NULL);
    ASSERT(result != NULL && algorithm != NULL);
    khorgos_error error = lsm_load(workspace, problem);
    if (error != KHORGOS_ERROR_ok) return error;
    workspace->round = 1;
    algorithm(workspace);
    lsm_result_build(workspace, result, NULL);
    return KHORGOS_ERROR_ok;
}

khorgos_error settle_lsm_all_or_nothing(struct settle_lsm_workspace *workspace,
                                        const struct settle_lsm_problem *problem,
                                        struct settle_lsm_result *result) {
    ASSERT(workspace != NULL);
    ASSERT(result != NULL);
    return lsm_run_one(workspace, problem, result, lsm_all_or_nothing_run);
}

khorgos_error settle_lsm_partial(struct settle_lsm_workspace *workspace,
                                 const struct settle_lsm_problem *problem,
                                 struct settle_lsm_result *result) {
    ASSERT(workspace != NULL);
    ASSERT(result != NULL);
    return lsm_run_one(workspace, problem, result, lsm_partial_run);
}

khorgos_error settle_lsm_bilateral(struct settle_lsm_workspace *workspace,
                                   const struct settle_lsm_problem *problem,
                                   struct settle_lsm_result *result) {
    ASSERT(workspace != NULL);
    ASSERT(result != NULL);
    return lsm_run_one(workspace, problem, result, lsm_bilateral_run);
}

khorgos_error settle_lsm_resolve(struct settle_lsm_workspace *workspace,
                                 const struct settle_lsm_problem *problem,
                                 struct settle_lsm_result *result) {
    ASSERT(workspace != NULL && workspace->memory != NULL);
    ASSERT(result != NULL);
    khorgos_error error = lsm_load(workspace, problem);
    if (error != KHORGOS_ERROR_ok) return error;
    /* The exact order of settle_lsm.h: 1, 2, 3; back to 1 after any success, except that
     * right after a successful 2 the round starts at 3 (1 and 2 provably settle nothing). */
    bool progress = true;
    bool after_partial = false;
    while (progress && workspace->round < SETTLE_LSM_ROUND_COUNT_MAX &&
           workspace->queued_count > 0) {
        workspace->round++;
        bool settled_all = !after_partial && lsm_all_or_nothing_run(workspace) > 0;
        after_partial = !settled_all && !after_partial && lsm_partial_run(workspace) > 0;
        progress = settled_all || after_partial || lsm_bilateral_run(workspace) > 0;
    }
    workspace->rounds_exhausted = progress && workspace->queued_count > 0;
    lsm_result_build(workspace, result, NULL);
    return KHORGOS_ERROR_ok;
}

const char *settle_lsm_algorithm_name(u32 algorithm) {
    ASSERT(SETTLE_LSM_ALGORITHM_OFFSET_ON_ENTRY == 0);
    static const char *const names[] = {"offset_on_entry", "all_or_nothing", "partial",
                                        "bilateral"};
    _Static_assert(ARRAY_COUNT(names) == SETTLE_LSM_ALGORITHM_BILATERAL + 1, "one name each");
    if (algorithm >= ARRAY_COUNT(names)) return "unknown";
    return names[algorithm];
}
