/*
 * ledger_expiry.c: pending timeouts. A pending transfer with timeout t seconds, created at
 * timestamp T, expires at T + t * 10^9 ns; from then on it can no longer be posted or voided
 * (create_transfers answers pending_transfer_expired as soon as an event's timestamp reaches
 * the instant, even before a pulse has released it), and a pulse releases its reservation.
 *
 * The heap. expiries[0 .. expiry_count) is a binary min-heap of struct ledger_expiry ordered by
 * (expires_at, transfer_index); the transfer index is its timestamp order, so ties expire in
 * creation order, as TigerBeetle's expires_at index does. Entries are 16 bytes:
 *   bytes 0..7   expires_at      u64, ns since the epoch
 *   bytes 8..11  transfer_index  u32, into ledger->transfers
 *   bytes 12..15 padding         zero
 * States of an entry: live (its transfer is PENDING) or resolved (posted or voided since).
 *   - ledger_create_transfers pushes each new pending transfer with a timeout once its request
 *     is applied (so a rolled-back chain never touched the heap);
 *   - a post or void only changes the transfer's state: its entry becomes resolved in place
 *     (lazy deletion, O(1) and nothing to undo if the chain rolls back);
 *   - ledger_expiry_drop_resolved pops resolved entries off the top after every request, so
 *     the top is always live and ledger_expiry_next is O(1);
 *   - ledger_pulse pops live entries that are due and expires them.
 * Each transfer enters the heap at most once, so it never holds more than transfer_count_max.
 *
 * A pulse at T expires every live entry with expires_at <= T, in heap order. An expiry
 * releases the pending amounts and reopens the accounts a closing transfer closed. It appends
 * no history entry: TigerBeetle records an account event for an expiry, but its
 * get_account_balances scans transfers and so never returns one (the event exists for
 * change-data capture, which Khorgos does not offer); leaving it out keeps history in timestamp
 * order even when an imported transfer, which only has to postdate the last transfer, is older
 * than an expiry. With nothing recorded per expiry, expiries need no timestamps of their own
 * (TigerBeetle gives each one), so a pulse takes one timestamp however many it expires.
 */
#include "ledger/ledger_private.h"

u64 ledger_transfer_expires_at(const struct khorgos_transfer *transfer) {
    ASSERT(transfer != NULL);
    ASSERT(transfer->timestamp <= LEDGER_TIMESTAMP_MAX);
    return transfer->timestamp + (u64)transfer->timeout * LEDGER_NANOSECONDS_PER_SECOND;
}

static bool ledger_expiry_before(const struct ledger_expiry *a, const struct ledger_expiry *b) {
    ASSERT(a->transfer_index != b->transfer_index || a == b);
    if (a->expires_at != b->expires_at) return a->expires_at < b->expires_at;
    return a->transfer_index < b->transfer_index;
}

static void ledger_expiry_swap(struct ledger_expiry *expiries, u32 a, u32 b) {
    struct ledger_expiry held = expiries[a];
    expiries[a] = expiries[b];
    expiries[b] = held;
}

void ledger_expiry_push(struct ledger *ledger, u64 expires_at, u32 transfer_index) {
    ASSERT(ledger->expiry_count < ledger->config.transfer_count_max);
    ASSERT(transfer_index < ledger->transfer_count);
    ASSERT(ledger->transfer_states[transfer_index] == LEDGER_TRANSFER_PENDING);
    struct ledger_expiry *expiries = ledger->expiries;
    u32 child = ledger->expiry_count++;
    expiries[child] = (struct ledger_expiry){expires_at, transfer_index, 0};
    while (child > 0) {
        u32 parent = (child - 1) / 2;
        if (!ledger_expiry_before(&expiries[child], &expiries[parent])) break;
        ledger_expiry_swap(expiries, child, parent);
        child = parent;
    }
}

static struct ledger_expiry ledger_expiry_pop(struct ledger *ledger) {
    ASSERT(ledger->expiry_count > 0);
    struct ledger_expiry *expiries = ledger->expiries;
    struct ledger_expiry top = expiries[0];
    u32 count = --ledger->expiry_count;
    expiries[0] = expiries[count];
    memset(&expiries[count], 0, sizeof(expiries[count]));
    u32 parent = 0;
    for (;;) {
        u32 smallest = parent;
        u32 left = 2 * parent + 1;
        u32 right = left + 1;
        if (left < count && ledger_expiry_before(&expiries[left], &expiries[smallest])) {
            smallest = left;
        }
        if (right < count && ledger_expiry_before(&expiries[right], &expiries[smallest])) {
            smallest = right;
        }
        if (smallest == parent) break;
        ledger_expiry_swap(expiries, parent, smallest);
        parent = smallest;
    }
    return top;
}

static bool ledger_expiry_live(const struct ledger *ledger, const struct ledger_expiry *expiry) {
    ASSERT(expiry->transfer_index < ledger->transfer_count);
    return ledger->transfer_states[expiry->transfer_index] == LEDGER_TRANSFER_PENDING;
}

void ledger_expiry_drop_resolved(struct ledger *ledger) {
    ASSERT(!ledger->chain_open);
    while (ledger->expiry_count > 0 && !ledger_expiry_live(ledger, &ledger->expiries[0])) {
        ledger_expiry_pop(ledger);
    }
    ASSERT(ledger->expiry_count == 0 || ledger_expiry_live(ledger, &ledger->expiries[0]));
}

u64 ledger_expiry_next(const struct ledger *ledger) {
    ASSERT(ledger != NULL);
    if (ledger->expiry_count == 0) return 0;
    ASSERT(ledger_expiry_live(ledger, &ledger->expiries[0]));
    ASSERT(ledger->expiries[0].expires_at > 0);
    return ledger->expiries[0].expires_at;
}

/* Live entries due at `timestamp` in the subtree at `node`: a subtree whose root is not due
 * holds nothing due, so this visits O(due entries + resolved ones above them). */
static u32 ledger_expiry_due_below(const struct ledger *ledger, u32 node, u64 timestamp,
                                   u32 depth) {
    ASSERT(depth <= 32); /* a heap of at most 2^32 entries */
    if (node >= ledger->expiry_count) return 0;
    const struct ledger_expiry *expiry = &ledger->expiries[node];
    if (expiry->expires_at > timestamp) return 0;
    u32 due = ledger_expiry_live(ledger, expiry) ? 1 : 0;
    due += ledger_expiry_due_below(ledger, 2 * node + 1, timestamp, depth + 1);
    due += ledger_expiry_due_below(ledger, 2 * node + 2, timestamp, depth + 1);
    return due;
}

u32 ledger_expiry_due_count(const struct ledger *ledger, u64 timestamp) {
    ASSERT(ledger != NULL);
    u32 due = ledger_expiry_due_below(ledger, 0, timestamp, 0);
    ASSERT(due <= ledger->expiry_count);
    return due;
}

/* Expires one pending transfer by a pulse at `timestamp`. */
static void ledger_expire(struct ledger *ledger, u32 transfer_index, u64 timestamp) {
    const struct khorgos_transfer *pending = &ledger->transfers[transfer_index];
    ASSERT(ledger->transfer_states[transfer_index] == LEDGER_TRANSFER_PENDING);
    ASSERT(pending->timeout > 0 && !(pending->flags & KHORGOS_TRANSFER_IMPORTED));
    u32 debit_index = 0, credit_index = 0;
    bool found = ledger_account_index(ledger, pending->debit_account_id, &debit_index) &&
                 ledger_account_index(ledger, pending->credit_account_id, &credit_index);
    ASSERT(found);
    struct khorgos_account *debit = &ledger->accounts[debit_index];
    struct khorgos_account *credit = &ledger->accounts[credit_index];
    ASSERT(debit->debits_pending >= pending->amount);
    ASSERT(credit->credits_pending >= pending->amount);
    debit->debits_pending -= pending->amount;
    credit->credits_pending -= pending->amount;
    if (pending->flags & KHORGOS_TRANSFER_CLOSING_DEBIT) debit->flags &= ~KHORGOS_ACCOUNT_CLOSED;
    if (pending->flags & KHORGOS_TRANSFER_CLOSING_CREDIT) credit->flags &= ~KHORGOS_ACCOUNT_CLOSED;
    ledger->transfer_states[transfer_index] = LEDGER_TRANSFER_EXPIRED;
    ASSERT(ledger_transfer_expires_at(pending) <= timestamp);
}

u32 ledger_pulse(struct ledger *ledger, u64 timestamp) {
    ASSERT(ledger != NULL);
    ASSERT(!ledger->chain_open);
    ASSERT(timestamp > ledger->timestamp_last);
    u32 count = 0;
    ledger_expiry_drop_resolved(ledger);
    while (ledger->expiry_count > 0 && ledger->expiries[0].expires_at <= timestamp) {
        struct ledger_expiry expiry = ledger_expiry_pop(ledger);
        ledger_expire(ledger, expiry.transfer_index, timestamp);
        count++;
        ledger_expiry_drop_resolved(ledger);
    }
    ASSERT(ledger_expiry_next(ledger) == 0 || ledger_expiry_next(ledger) > timestamp);
    ledger->timestamp_last = timestamp;
    return count;
}
