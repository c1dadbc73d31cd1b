/*
 * model_driver.c: the randomised workload and the comparisons (see model_driver.h).
 *
 * Generation reads the reference model (which accounts exist, which transfers are pending, the
 * next timestamp), never an engine, so every engine sees the same requests. Within a step the
 * model runs each request as soon as it is generated (so the next one is generated against the
 * state it will meet) and keeps its replies; the engines then run the step's requests in one
 * khorgos_execute call and their replies are compared with the kept ones.
 *
 * Account ids of an epoch:
 *   1..36   regular accounts on ledgers 156, 398, 840 (by id); 840 is the ledger of huge
 *           amounts, where overflows happen;
 *   37..44  doomed ids: every create_accounts event for them carries a permanent fault, so they
 *           never exist and transfers naming them find no account;
 *   45..52  accounts created by imported batches.
 * Transfer ids count up from 1 per epoch; resubmissions reuse earlier ones.
 */
#include "model_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/reference_model.h"
#include "engine/engine.h"

typedef khorgos_u128 driver_u128;

#define DRIVER_BATCH_MAX 160u
#define DRIVER_REQUESTS_PER_STEP_MAX 4u
#define DRIVER_RECORD_BYTES 128u
#define DRIVER_REPLY_BYTES_MAX (DRIVER_BATCH_MAX * DRIVER_RECORD_BYTES)
#define DRIVER_RING_SIZE 256u
#define DRIVER_PENDING_RING_SIZE 64u

#define DRIVER_REGULAR_LAST 36u
#define DRIVER_REGULAR_CREATED_FIRST 30u /* ids above this are created later in an epoch */
#define DRIVER_DOOMED_FIRST 37u
#define DRIVER_DOOMED_LAST 44u
#define DRIVER_IMPORTED_FIRST 45u
#define DRIVER_IMPORTED_LAST 52u
#define DRIVER_ACCOUNT_ID_LAST 52u
#define DRIVER_HUGE_LEDGER 840u
#define DRIVER_NS_PER_S 1000000000ull
/* The far-future instant of an epoch's last steps: near 2^63, so timeouts overflow. */
#define DRIVER_FAR_FUTURE_NS (REFERENCE_MODEL_TIMESTAMP_MAX - 3000000000000000000ull)
/* With two engines, their ledger digests are compared every this many steps (a digest reads
 * the whole state, so not after every step). */
#define DRIVER_DIGEST_STEPS 256u
#define DRIVER_FNV_OFFSET 0xCBF29CE484222325ull
#define DRIVER_FNV_PRIME 0x100000001B3ull

_Static_assert(DRIVER_ACCOUNT_ID_LAST + 2 <= DRIVER_BATCH_MAX, "one lookup holds every account");
_Static_assert(DRIVER_ACCOUNT_ID_LAST < REFERENCE_MODEL_ACCOUNT_COUNT_MAX, "model holds them");

static const uint32_t driver_ledgers[3] = {156, 398, DRIVER_HUGE_LEDGER};

struct driver_request {
    uint32_t operation;
    uint32_t count;
    struct khorgos_account accounts[DRIVER_BATCH_MAX];
    struct khorgos_transfer transfers[DRIVER_BATCH_MAX];
    driver_u128 ids[DRIVER_BATCH_MAX];
    /* Replies hold records with u128 fields: aligned as those records are. */
    _Alignas(16) unsigned char model_reply[DRIVER_REPLY_BYTES_MAX];
    uint32_t model_reply_size;
    uint64_t model_timestamp;
    _Alignas(16) unsigned char replies[MODEL_DRIVER_ENGINE_COUNT_MAX][DRIVER_REPLY_BYTES_MAX];
};

struct model_driver {
    const struct model_driver_config *config;
    struct model_driver_statistics *statistics;
    uint64_t random_state;
    struct khorgos *engines[MODEL_DRIVER_ENGINE_COUNT_MAX];
    struct reference_model *model;
    uint64_t epoch_operations;
    bool failed;
    bool far_future_done;

    driver_u128 transfer_id_next;
    struct khorgos_transfer submitted[DRIVER_RING_SIZE];
    uint64_t submitted_count;
    driver_u128 pending_ids[DRIVER_PENDING_RING_SIZE];
    uint64_t pending_count;
    struct khorgos_account templates[DRIVER_ACCOUNT_ID_LAST + 1];

    struct driver_request requests[DRIVER_REQUESTS_PER_STEP_MAX];
    uint32_t request_count;

    /* A query may answer up to a full batch of records. */
    _Alignas(16) unsigned char query_model_reply[KHORGOS_BATCH_EVENTS_MAX * DRIVER_RECORD_BYTES];
    _Alignas(16) unsigned char query_replies[MODEL_DRIVER_ENGINE_COUNT_MAX]
                               [KHORGOS_BATCH_EVENTS_MAX * DRIVER_RECORD_BYTES];
};

/* ----------------------------------------------------------------------------------------- */
/* Randomness (splitmix64: tiny, seedable, good enough for a workload).                      */

static uint64_t driver_random(struct model_driver *driver) {
    uint64_t z = (driver->random_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t driver_below(struct model_driver *driver, uint64_t bound) {
    return bound == 0 ? 0 : driver_random(driver) % bound;
}

static bool driver_percent(struct model_driver *driver, uint32_t percent) {
    return driver_below(driver, 100) < percent;
}

static driver_u128 driver_random_u128(struct model_driver *driver) {
    return ((driver_u128)driver_random(driver) << 64) | driver_random(driver);
}

/* ----------------------------------------------------------------------------------------- */
/* Text for failure reports.                                                                 */

static const char *driver_u128_text(driver_u128 value, char out[48]) {
    char digits[48];
    int length = 0;
    do {
        digits[length++] = (char)('0' + (int)(value % 10));
        value /= 10;
    } while (value != 0);
    for (int index = 0; index < length; index++) out[index] = digits[length - 1 - index];
    out[length] = '\0';
    return out;
}

/* Status names from the header's own lists, so reports need nothing else of the library. */
#define DRIVER_STATUS_NAME_(name) #name,
static const char *const driver_account_status_names[] = {
    KHORGOS_CREATE_ACCOUNT_STATUSES(DRIVER_STATUS_NAME_)};
static const char *const driver_transfer_status_names[] = {
    KHORGOS_CREATE_TRANSFER_STATUSES(DRIVER_STATUS_NAME_)};
#undef DRIVER_STATUS_NAME_

static const char *driver_account_status_name(uint32_t status) {
    return status < KHORGOS_CREATE_ACCOUNT_STATUS_COUNT ? driver_account_status_names[status]
                                                        : "(out of range)";
}

static const char *driver_transfer_status_name(uint32_t status) {
    return status < KHORGOS_CREATE_TRANSFER_STATUS_COUNT ? driver_transfer_status_names[status]
                                                         : "(out of range)";
}

static size_t driver_describe_transfer(const struct khorgos_transfer *t, char *out, size_t size) {
    char id[48], debit[48], credit[48], amount[48], pending_id[48], user_data[48];
    return (size_t)snprintf(
        out, size,
        "{id=%s debit=%s credit=%s amount=%s pending_id=%s ud128=%s ud64=%llu ud32=%u "
        "timeout=%u ledger=%u code=%u flags=0x%x timestamp=%llu}",
        driver_u128_text(t->id, id), driver_u128_text(t->debit_account_id, debit),
        driver_u128_text(t->credit_account_id, credit), driver_u128_text(t->amount, amount),
        driver_u128_text(t->pending_id, pending_id), driver_u128_text(t->user_data_128, user_data),
        (unsigned long long)t->user_data_64, t->user_data_32, t->timeout, t->ledger, t->code,
        t->flags, (unsigned long long)t->timestamp);
}

static size_t driver_describe_account(const struct khorgos_account *a, char *out, size_t size) {
    char id[48], dp[48], dq[48], cp[48], cq[48], user_data[48];
    return (size_t)snprintf(
        out, size,
        "{id=%s debits_pending=%s debits_posted=%s credits_pending=%s credits_posted=%s "
        "ud128=%s ud64=%llu ud32=%u reserved=%u ledger=%u code=%u flags=0x%x timestamp=%llu}",
        driver_u128_text(a->id, id), driver_u128_text(a->debits_pending, dp),
        driver_u128_text(a->debits_posted, dq), driver_u128_text(a->credits_pending, cp),
        driver_u128_text(a->credits_posted, cq), driver_u128_text(a->user_data_128, user_data),
        (unsigned long long)a->user_data_64, a->user_data_32, a->reserved, a->ledger, a->code,
        a->flags, (unsigned long long)a->timestamp);
}

/* Records the first disagreement (later ones only add to the count of failures). */
static void driver_fail(struct model_driver *driver, const char *text) {
    if (!driver->failed) {
        snprintf(driver->statistics->failure, sizeof(driver->statistics->failure),
                 "seed %llu, epoch %llu, step %llu, operation %llu: %s",
                 (unsigned long long)driver->config->seed,
                 (unsigned long long)driver->statistics->epoch_count,
                 (unsigned long long)driver->statistics->step_count,
                 (unsigned long long)driver->statistics->operation_count, text);
    }
    driver->failed = true;
}

static uint64_t driver_fnv(uint64_t hash, const void *data, size_t size) {
    const unsigned char *bytes = data;
    for (size_t index = 0; index < size; index++) {
        hash = (hash ^ bytes[index]) * DRIVER_FNV_PRIME;
    }
    return hash;
}

/* Two engines fed the same requests must hold the same state. */
static void driver_digests_compare(struct model_driver *driver) {
    if (driver->config->engine_count != 2 || driver->failed) return;
    driver_u128 digest_a = ledger_digest(&driver->engines[0]->ledger);
    driver_u128 digest_b = ledger_digest(&driver->engines[1]->ledger);
    driver->statistics->digest_comparison_count++;
    if (digest_a != digest_b) driver_fail(driver, "the two engines' ledger digests differ");
}

/* ----------------------------------------------------------------------------------------- */
/* Epochs: fresh engines, model and generator state.                                         */

static void driver_templates_init(struct model_driver *driver) {
    memset(driver->templates, 0, sizeof(driver->templates));
    for (uint32_t id = 1; id <= DRIVER_ACCOUNT_ID_LAST; id++) {
        struct khorgos_account *account = &driver->templates[id];
        account->id = id;
        account->ledger = driver_ledgers[(id - 1) % 3];
        account->code = (uint16_t)(1 + driver_below(driver, 3));
        account->user_data_128 = driver_below(driver, 3);
        account->user_data_64 = driver_below(driver, 3);
        account->user_data_32 = (uint32_t)driver_below(driver, 3);
        uint64_t limit = driver_below(driver, 100);
        if (limit < 22) account->flags |= KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
        else if (limit < 44) account->flags |= KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
        if (driver_percent(driver, 30)) account->flags |= KHORGOS_ACCOUNT_HISTORY;
        if (id >= DRIVER_IMPORTED_FIRST) account->flags |= KHORGOS_ACCOUNT_IMPORTED;
    }
    /* One account of each epoch may be created closed: transfers to it always fail. */
    if (driver_percent(driver, 60)) driver->templates[DRIVER_REGULAR_LAST].flags |= KHORGOS_ACCOUNT_CLOSED;
}

static bool driver_epoch_open(struct model_driver *driver) {
    const uint64_t transfers_max = driver->config->epoch_operation_count + 4 * DRIVER_BATCH_MAX;
    struct khorgos_config config = {
        .account_count_max = 1024,
        .transfer_count_max = (uint32_t)transfers_max,
        .account_balance_count_max = (uint32_t)(2 * transfers_max + 1024),
        .clock_manual = 1,
    };
    for (uint32_t engine = 0; engine < driver->config->engine_count; engine++) {
        khorgos_error error = khorgos_open_memory(&driver->engines[engine], &config);
        if (error != KHORGOS_ERROR_ok) {
            driver_fail(driver, "khorgos_open_memory failed");
            return false;
        }
    }
    driver->model = reference_model_create((uint32_t)transfers_max);
    if (driver->model == NULL) {
        driver_fail(driver, "reference_model_create failed");
        return false;
    }
    driver->epoch_operations = 0;
    driver->far_future_done = false;
    driver->transfer_id_next = 1;
    driver->submitted_count = 0;
    driver->pending_count = 0;
    driver_templates_init(driver);
    return true;
}

static void driver_epoch_close(struct model_driver *driver) {
    if (driver->model != NULL) {
        for (uint32_t index = 0; index < driver->model->transfer_count; index++) {
            if (driver->model->transfer_states[index] == REFERENCE_MODEL_EXPIRED) {
                driver->statistics->expiry_count++;
            }
        }
    }
    if (driver->engines[0] != NULL && !driver->failed) {
        driver_digests_compare(driver);
        driver_u128 digest = ledger_digest(&driver->engines[0]->ledger);
        driver->statistics->state_hash =
            driver_fnv(driver->statistics->state_hash, &digest, sizeof(digest));
    }
    for (uint32_t engine = 0; engine < MODEL_DRIVER_ENGINE_COUNT_MAX; engine++) {
        khorgos_close(driver->engines[engine]);
        driver->engines[engine] = NULL;
    }
    reference_model_destroy(driver->model);
    driver->model = NULL;
    driver->statistics->epoch_count++;
}

/* ----------------------------------------------------------------------------------------- */
/* Choosing accounts, amounts and ids.                                                       */

static const struct khorgos_account *driver_account(const struct model_driver *driver,
                                                    driver_u128 id) {
    return reference_model_account_find(driver->model, id);
}

/* A random account id the model holds, optionally on `ledger` (0: any) and not `other`;
 * 0 when there is none. */
static driver_u128 driver_existing_account(struct model_driver *driver, uint32_t ledger,
                                           driver_u128 other) {
    driver_u128 candidates[REFERENCE_MODEL_ACCOUNT_COUNT_MAX];
    uint32_t count = 0;
    for (uint32_t index = 0; index < driver->model->account_count; index++) {
        const struct khorgos_account *account = &driver->model->accounts[index];
        if (ledger != 0 && account->ledger != ledger) continue;
        if (account->id == other) continue;
        candidates[count++] = account->id;
    }
    return count == 0 ? 0 : candidates[driver_below(driver, count)];
}

static driver_u128 driver_huge_amount(struct model_driver *driver) {
    const driver_u128 half = (driver_u128)1 << 127;
    switch (driver_below(driver, 7)) {
    case 0: return half;
    case 1: return half - driver_below(driver, 1000);
    case 2: return KHORGOS_U128_MAX - driver_below(driver, 1000);
    case 3: return (driver_u128)1 << 126;
    case 4: return driver_random_u128(driver);
    case 5: return ((driver_u128)1 << 64) * (1 + driver_below(driver, 1000));
    default: return half + driver_below(driver, 1000);
    }
}

static driver_u128 driver_amount(struct model_driver *driver, uint32_t ledger) {
    if (ledger == DRIVER_HUGE_LEDGER && driver_percent(driver, 30)) {
        return driver_huge_amount(driver);
    }
    uint64_t choice = driver_below(driver, 100);
    if (choice < 4) return 0;
    if (choice < 72) return 1 + driver_below(driver, 100);
    if (choice < 97) return 1 + driver_below(driver, 1000000);
    return 1 + driver_below(driver, 1000000000000ull);
}

static driver_u128 driver_transfer_id_new(struct model_driver *driver) {
    return driver->transfer_id_next++;
}

static void driver_remember(struct model_driver *driver, const struct khorgos_transfer *t) {
    driver->submitted[driver->submitted_count % DRIVER_RING_SIZE] = *t;
    driver->submitted_count++;
    if (t->flags & KHORGOS_TRANSFER_PENDING) {
        driver->pending_ids[driver->pending_count % DRIVER_PENDING_RING_SIZE] = t->id;
        driver->pending_count++;
    }
}

static const struct khorgos_transfer *driver_submitted_random(struct model_driver *driver) {
    if (driver->submitted_count == 0) return NULL;
    uint64_t count = driver->submitted_count < DRIVER_RING_SIZE ? driver->submitted_count
                                                                : DRIVER_RING_SIZE;
    return &driver->submitted[driver_below(driver, count)];
}

/* A pending transfer's id, preferring ones still pending. */
static driver_u128 driver_pending_id(struct model_driver *driver) {
    if (driver->pending_count == 0) return driver_transfer_id_new(driver);
    uint64_t count = driver->pending_count < DRIVER_PENDING_RING_SIZE ? driver->pending_count
                                                                      : DRIVER_PENDING_RING_SIZE;
    driver_u128 id = 0;
    for (uint32_t attempt = 0; attempt < 6; attempt++) {
        id = driver->pending_ids[driver_below(driver, count)];
        uint8_t state = 0;
        if (reference_model_transfer_find(driver->model, id, &state) != NULL &&
            state == REFERENCE_MODEL_PENDING) {
            break;
        }
    }
    return id;
}

/* ----------------------------------------------------------------------------------------- */
/* Transfers.                                                                                */

static uint32_t driver_timeout(struct model_driver *driver) {
    if (driver->far_future_done && driver_percent(driver, 30)) {
        return UINT32_MAX - (uint32_t)driver_below(driver, 10);
    }
    uint64_t choice = driver_below(driver, 100);
    if (choice < 35) return 0;
    if (choice < 88) return 1 + (uint32_t)driver_below(driver, 5);
    if (choice < 97) return 10 + (uint32_t)driver_below(driver, 1000);
    return UINT32_MAX - (uint32_t)driver_below(driver, 10);
}

static void driver_transfer_new(struct model_driver *driver, struct khorgos_transfer *t) {
    memset(t, 0, sizeof(*t));
    t->id = driver_transfer_id_new(driver);
    driver_u128 debit = driver_existing_account(driver, 0, 0);
    uint32_t ledger = debit == 0 ? driver_ledgers[0] : driver_account(driver, debit)->ledger;
    driver_u128 credit = driver_existing_account(driver, ledger, debit);
    uint64_t accounts = driver_below(driver, 100);
    if (accounts < 4) credit = driver_existing_account(driver, 0, debit); /* any ledger */
    else if (accounts < 6) credit = DRIVER_DOOMED_FIRST + driver_below(driver, 8);
    else if (accounts < 8) debit = DRIVER_DOOMED_FIRST + driver_below(driver, 8);
    else if (accounts < 10) credit = 1 + driver_below(driver, DRIVER_REGULAR_LAST);
    if (debit == 0) debit = 1 + driver_below(driver, DRIVER_REGULAR_LAST);
    if (credit == 0) credit = 1 + driver_below(driver, DRIVER_REGULAR_LAST);
    t->debit_account_id = debit;
    t->credit_account_id = credit;
    t->ledger = ledger;
    t->code = (uint16_t)(1 + driver_below(driver, 3));
    t->amount = driver_amount(driver, ledger);
    t->user_data_128 = driver_below(driver, 4);
    t->user_data_64 = driver_below(driver, 4);
    t->user_data_32 = (uint32_t)driver_below(driver, 4);
    if (driver_percent(driver, 38)) t->flags |= KHORGOS_TRANSFER_PENDING;
    if (driver_percent(driver, 9)) t->flags |= KHORGOS_TRANSFER_BALANCING_DEBIT;
    if (driver_percent(driver, 9)) t->flags |= KHORGOS_TRANSFER_BALANCING_CREDIT;
    if (t->flags & (KHORGOS_TRANSFER_BALANCING_DEBIT | KHORGOS_TRANSFER_BALANCING_CREDIT)) {
        if (driver_percent(driver, 40)) t->amount = KHORGOS_AMOUNT_MAX;
    }
    if (driver_percent(driver, 4)) {
        t->flags |= driver_percent(driver, 50) ? KHORGOS_TRANSFER_CLOSING_DEBIT
                                               : KHORGOS_TRANSFER_CLOSING_CREDIT;
        if (driver_percent(driver, 92)) t->flags |= KHORGOS_TRANSFER_PENDING;
    }
    if (t->flags & KHORGOS_TRANSFER_PENDING) t->timeout = driver_timeout(driver);
    /* Closing transfers mostly expire, so accounts do not stay closed for the whole epoch. */
    if ((t->flags & (KHORGOS_TRANSFER_CLOSING_DEBIT | KHORGOS_TRANSFER_CLOSING_CREDIT)) &&
        (t->flags & KHORGOS_TRANSFER_PENDING) && driver_percent(driver, 80)) {
        t->timeout = 1 + (uint32_t)driver_below(driver, 3);
    }
}

static void driver_transfer_post_or_void(struct model_driver *driver,
                                         struct khorgos_transfer *t) {
    memset(t, 0, sizeof(*t));
    t->id = driver_transfer_id_new(driver);
    uint64_t target = driver_below(driver, 100);
    if (target < 78) {
        t->pending_id = driver_pending_id(driver);
    } else if (target < 88) {
        const struct khorgos_transfer *any = driver_submitted_random(driver);
        t->pending_id = any == NULL ? 1 : any->id;
    } else if (target < 94) {
        t->pending_id = driver_transfer_id_new(driver); /* never created */
    } else if (target < 96) {
        t->pending_id = 0;
    } else if (target < 98) {
        t->pending_id = KHORGOS_U128_MAX;
    } else {
        t->pending_id = t->id;
    }
    const bool post = driver_percent(driver, 55);
    t->flags = post ? KHORGOS_TRANSFER_POST_PENDING_TRANSFER : KHORGOS_TRANSFER_VOID_PENDING_TRANSFER;
    if (driver_percent(driver, 4)) {
        static const uint16_t conflicting[] = {
            KHORGOS_TRANSFER_PENDING, KHORGOS_TRANSFER_BALANCING_DEBIT,
            KHORGOS_TRANSFER_BALANCING_CREDIT, KHORGOS_TRANSFER_CLOSING_DEBIT,
            KHORGOS_TRANSFER_CLOSING_CREDIT, KHORGOS_TRANSFER_POST_PENDING_TRANSFER,
            KHORGOS_TRANSFER_VOID_PENDING_TRANSFER};
        t->flags |= conflicting[driver_below(driver, 7)];
    }
    uint8_t state = 0;
    const struct khorgos_transfer *p = reference_model_transfer_find(driver->model, t->pending_id,
                                                                     &state);
    const driver_u128 p_amount = p == NULL ? driver_amount(driver, 156) : p->amount;
    uint64_t amount = driver_below(driver, 100);
    if (post) {
        if (amount < 30) t->amount = KHORGOS_AMOUNT_MAX;
        else if (amount < 40) t->amount = 0;
        else if (amount < 60) t->amount = p_amount;
        else if (amount < 90) t->amount = p_amount == 0 ? 0 : driver_below(driver, 1000) % p_amount;
        else t->amount = p_amount + 1 + driver_below(driver, 10);
    } else {
        if (amount < 50) t->amount = 0;
        else if (amount < 80) t->amount = p_amount;
        else if (amount < 90) t->amount = p_amount > 1 ? p_amount - 1 : 1;
        else t->amount = p_amount + 1 + driver_below(driver, 10);
    }
    if (p != NULL) {
        uint64_t fields = driver_below(driver, 100);
        if (fields < 12) {
            t->debit_account_id = p->debit_account_id;
            t->credit_account_id = p->credit_account_id;
            t->ledger = p->ledger;
            t->code = p->code;
        } else if (fields < 14) {
            t->debit_account_id = p->credit_account_id;
        } else if (fields < 16) {
            t->credit_account_id = p->debit_account_id;
        } else if (fields < 18) {
            t->ledger = p->ledger == 156 ? 398 : 156;
        } else if (fields < 20) {
            t->code = (uint16_t)(p->code + 1);
        }
    }
    if (driver_percent(driver, 50)) t->user_data_128 = driver_below(driver, 4);
    if (driver_percent(driver, 50)) t->user_data_64 = driver_below(driver, 4);
    if (driver_percent(driver, 50)) t->user_data_32 = (uint32_t)driver_below(driver, 4);
    if (driver_percent(driver, 2)) t->timeout = 1;
}

/* An earlier event again: identical, or with one field changed (the exists_* family). */
static void driver_transfer_resubmit(struct model_driver *driver, struct khorgos_transfer *t,
                                     bool mutate) {
    const struct khorgos_transfer *earlier = driver_submitted_random(driver);
    if (earlier == NULL) {
        driver_transfer_new(driver, t);
        return;
    }
    *t = *earlier;
    if (!mutate) return;
    switch (driver_below(driver, 11)) {
    case 0: t->flags ^= (uint16_t)(1u << (1 + driver_below(driver, 7))); break;
    case 1: t->pending_id += 1; break;
    case 2: t->timeout += 1; break;
    case 3: t->debit_account_id = 1 + driver_below(driver, DRIVER_REGULAR_LAST); break;
    case 4: t->credit_account_id = 1 + driver_below(driver, DRIVER_REGULAR_LAST); break;
    case 5: t->amount = driver_percent(driver, 50) ? t->amount + 1 : t->amount - 1; break;
    case 6: t->user_data_128 += 1; break;
    case 7: t->user_data_64 += 1; break;
    case 8: t->user_data_32 += 1; break;
    case 9: t->ledger = driver_ledgers[driver_below(driver, 3)]; break;
    default: t->code = (uint16_t)(t->code + 1); break;
    }
}

/* One deliberate fault on a new transfer (sometimes two, for precedence). */
static void driver_transfer_fault(struct model_driver *driver, struct khorgos_transfer *t) {
    switch (driver_below(driver, 17)) {
    case 0: t->flags |= (uint16_t)(1u << (9 + driver_below(driver, 7))); break;
    case 1: t->id = 0; break;
    case 2: t->id = KHORGOS_U128_MAX; break;
    case 3: t->debit_account_id = driver_percent(driver, 50) ? 0 : KHORGOS_U128_MAX; break;
    case 4: t->credit_account_id = driver_percent(driver, 50) ? 0 : KHORGOS_U128_MAX; break;
    case 5: t->credit_account_id = t->debit_account_id; break;
    case 6: t->pending_id = 1 + driver_below(driver, 100); break;
    case 7: t->flags &= (uint16_t)~KHORGOS_TRANSFER_PENDING; t->timeout = 1; break;
    case 8:
        t->flags &= (uint16_t)~KHORGOS_TRANSFER_PENDING;
        t->flags |= KHORGOS_TRANSFER_CLOSING_DEBIT;
        t->timeout = 0;
        break;
    case 9: t->ledger = 0; break;
    case 10: t->code = 0; break;
    case 11: t->debit_account_id = DRIVER_DOOMED_FIRST + driver_below(driver, 8); break;
    case 12: t->credit_account_id = DRIVER_DOOMED_FIRST + driver_below(driver, 8); break;
    case 13: t->ledger = t->ledger == 156 ? 398 : 156; break;
    case 14: t->timestamp = 1 + driver_below(driver, 1000); break;
    case 15: t->flags |= KHORGOS_TRANSFER_IMPORTED; break;
    default: t->amount = driver_huge_amount(driver); break;
    }
}

static void driver_transfer_generate(struct model_driver *driver, struct khorgos_transfer *t) {
    uint64_t kind = driver_below(driver, 100);
    if (kind < 44) {
        driver_transfer_new(driver, t);
    } else if (kind < 66) {
        driver_transfer_post_or_void(driver, t);
    } else if (kind < 76) {
        driver_transfer_resubmit(driver, t, false);
    } else if (kind < 86) {
        driver_transfer_resubmit(driver, t, true);
    } else {
        driver_transfer_new(driver, t);
        driver_transfer_fault(driver, t);
        if (driver_percent(driver, 25)) driver_transfer_fault(driver, t);
    }
    driver_remember(driver, t);
}

/* ----------------------------------------------------------------------------------------- */
/* Accounts.                                                                                 */

static bool driver_account_exists(const struct model_driver *driver, driver_u128 id) {
    return driver_account(driver, id) != NULL;
}

static void driver_account_mutate(struct model_driver *driver, struct khorgos_account *a) {
    static const uint16_t flags[] = {KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS,
                                     KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS,
                                     KHORGOS_ACCOUNT_HISTORY};
    switch (driver_below(driver, 6)) {
    case 0: a->flags ^= flags[driver_below(driver, 3)]; break;
    case 1: a->user_data_128 += 1; break;
    case 2: a->user_data_64 += 1; break;
    case 3: a->user_data_32 += 1; break;
    case 4: a->ledger = a->ledger == 156 ? 398 : 156; break;
    default: a->code = (uint16_t)(a->code + 1); break;
    }
}

/* A fault that can never be cured, so a doomed id is never created. */
static void driver_account_doom(struct model_driver *driver, struct khorgos_account *a) {
    switch (driver_below(driver, 7)) {
    case 0:
        a->flags |= KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
                    KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
        break;
    case 1: a->debits_pending = 1 + driver_below(driver, 10); break;
    case 2: a->debits_posted = 1 + driver_below(driver, 10); break;
    case 3: a->credits_pending = 1 + driver_below(driver, 10); break;
    case 4: a->credits_posted = 1 + driver_below(driver, 10); break;
    case 5: a->ledger = 0; break;
    default: a->code = 0; break;
    }
}

static void driver_account_early_fault(struct model_driver *driver, struct khorgos_account *a) {
    switch (driver_below(driver, 6)) {
    case 0: a->reserved = 1 + (uint32_t)driver_below(driver, 10); break;
    case 1: a->flags |= (uint16_t)(1u << (6 + driver_below(driver, 10))); break;
    case 2: a->id = 0; break;
    case 3: a->id = KHORGOS_U128_MAX; break;
    case 4: a->timestamp = 1 + driver_below(driver, 1000); break;
    default: a->flags |= KHORGOS_ACCOUNT_IMPORTED; break;
    }
}

static void driver_account_generate(struct model_driver *driver, struct khorgos_account *a) {
    uint64_t kind = driver_below(driver, 100);
    uint32_t id = 1 + (uint32_t)driver_below(driver, DRIVER_REGULAR_LAST);
    *a = driver->templates[id];
    if (kind < 35) return;
    if (kind < 50) {
        driver_account_mutate(driver, a);
    } else if (kind < 72) {
        *a = driver->templates[DRIVER_DOOMED_FIRST + driver_below(driver, 8)];
        a->flags &= (uint16_t)~KHORGOS_ACCOUNT_IMPORTED;
        driver_account_doom(driver, a);
        if (driver_percent(driver, 30)) driver_account_doom(driver, a);
    } else if (kind < 87) {
        driver_account_early_fault(driver, a);
        if (driver_percent(driver, 20)) driver_account_doom(driver, a);
    } else {
        for (uint32_t fresh = DRIVER_REGULAR_CREATED_FIRST + 1; fresh <= DRIVER_REGULAR_LAST;
             fresh++) {
            if (!driver_account_exists(driver, fresh)) {
                *a = driver->templates[fresh];
                break;
            }
        }
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Batches: sizes and linked chains.                                                         */

static uint32_t driver_batch_size(struct model_driver *driver) {
    uint64_t choice = driver_below(driver, 100);
    if (choice < 80) return 1 + (uint32_t)driver_below(driver, 8);
    if (choice < 97) return 8 + (uint32_t)driver_below(driver, 33);
    return 64 + (uint32_t)driver_below(driver, DRIVER_BATCH_MAX - 64 + 1);
}

/* Sets linked on chains of events; `flags` points at the first event's flags, `stride` bytes
 * apart. Sometimes leaves the last event linked (linked_event_chain_open). */
static void driver_batch_link(struct model_driver *driver, uint16_t *flags, size_t stride,
                              uint32_t count) {
#define DRIVER_FLAGS_AT(index) (*(uint16_t *)((unsigned char *)flags + (size_t)(index) * stride))
    if (count >= 2 && driver_percent(driver, 30)) {
        uint32_t chains = 1 + (uint32_t)driver_below(driver, 3);
        for (uint32_t chain = 0; chain < chains; chain++) {
            uint32_t first = (uint32_t)driver_below(driver, count - 1);
            uint32_t length = 2 + (uint32_t)driver_below(driver, count - first - 1);
            for (uint32_t index = first; index + 1 < first + length; index++) {
                DRIVER_FLAGS_AT(index) |= 1u;
            }
        }
    }
    if (driver_percent(driver, 3)) DRIVER_FLAGS_AT(count - 1) |= 1u;
#undef DRIVER_FLAGS_AT
}

/* ----------------------------------------------------------------------------------------- */
/* Requests: generate, run on the model now, on the engines with the step.                   */

static struct driver_request *driver_request_add(struct model_driver *driver, uint32_t operation,
                                                 uint32_t count) {
    struct driver_request *request = &driver->requests[driver->request_count++];
    request->operation = operation;
    request->count = count;
    return request;
}

static void driver_model_apply(struct model_driver *driver, struct driver_request *request) {
    struct reference_model *model = driver->model;
    uint32_t found = 0;
    switch (request->operation) {
    case KHORGOS_OPERATION_CREATE_ACCOUNTS:
        request->model_timestamp = reference_model_create_accounts(
            model, request->accounts, request->count,
            (struct khorgos_create_result *)request->model_reply);
        request->model_reply_size = request->count * sizeof(struct khorgos_create_result);
        break;
    case KHORGOS_OPERATION_CREATE_TRANSFERS:
        request->model_timestamp = reference_model_create_transfers(
            model, request->transfers, request->count,
            (struct khorgos_create_result *)request->model_reply);
        request->model_reply_size = request->count * sizeof(struct khorgos_create_result);
        break;
    case KHORGOS_OPERATION_LOOKUP_ACCOUNTS:
        request->model_timestamp = reference_model_lookup_accounts(
            model, request->ids, request->count, (struct khorgos_account *)request->model_reply,
            &found);
        request->model_reply_size = found * sizeof(struct khorgos_account);
        break;
    case KHORGOS_OPERATION_LOOKUP_TRANSFERS:
        request->model_timestamp = reference_model_lookup_transfers(
            model, request->ids, request->count, (struct khorgos_transfer *)request->model_reply,
            &found);
        request->model_reply_size = found * sizeof(struct khorgos_transfer);
        break;
    default: abort();
    }
    if (request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS ||
        request->operation == KHORGOS_OPERATION_CREATE_TRANSFERS) {
        const struct khorgos_create_result *results =
            (const struct khorgos_create_result *)request->model_reply;
        for (uint32_t index = 0; index < request->count; index++) {
            if (request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS) {
                driver->statistics->account_status_counts[results[index].status]++;
            } else {
                driver->statistics->transfer_status_counts[results[index].status]++;
            }
        }
        driver->statistics->operation_count += request->count;
        driver->epoch_operations += request->count;
    } else {
        driver->statistics->operation_count++;
        driver->epoch_operations++;
        driver->statistics->lookup_count++;
    }
    driver->statistics->request_count++;
}

static void driver_generate_transfers(struct model_driver *driver, uint32_t count) {
    struct driver_request *request =
        driver_request_add(driver, KHORGOS_OPERATION_CREATE_TRANSFERS, count);
    for (uint32_t index = 0; index < count; index++) {
        driver_transfer_generate(driver, &request->transfers[index]);
    }
    if (count > 0) {
        driver_batch_link(driver, &request->transfers[0].flags, sizeof(struct khorgos_transfer),
                          count);
    }
    driver_model_apply(driver, request);
}

static void driver_generate_accounts(struct model_driver *driver, uint32_t count) {
    struct driver_request *request =
        driver_request_add(driver, KHORGOS_OPERATION_CREATE_ACCOUNTS, count);
    for (uint32_t index = 0; index < count; index++) {
        driver_account_generate(driver, &request->accounts[index]);
    }
    if (count > 0) {
        driver_batch_link(driver, &request->accounts[0].flags, sizeof(struct khorgos_account),
                          count);
    }
    driver_model_apply(driver, request);
}

static void driver_generate_lookup_transfers(struct model_driver *driver) {
    uint32_t count = 1 + (uint32_t)driver_below(driver, 8);
    struct driver_request *request =
        driver_request_add(driver, KHORGOS_OPERATION_LOOKUP_TRANSFERS, count);
    for (uint32_t index = 0; index < count; index++) {
        uint64_t choice = driver_below(driver, 100);
        const struct khorgos_transfer *earlier = driver_submitted_random(driver);
        if (choice < 55 && earlier != NULL) {
            request->ids[index] = earlier->id;
        } else if (choice < 85 && driver->model->transfer_count > 0) {
            request->ids[index] =
                driver->model->transfers[driver_below(driver, driver->model->transfer_count)].id;
        } else if (choice < 95) {
            request->ids[index] = driver->transfer_id_next + driver_below(driver, 10);
        } else {
            request->ids[index] = driver_percent(driver, 50) ? 0 : KHORGOS_U128_MAX;
        }
    }
    driver_model_apply(driver, request);
}

static void driver_generate_lookup_accounts(struct model_driver *driver) {
    uint32_t count = 1 + (uint32_t)driver_below(driver, 8);
    struct driver_request *request =
        driver_request_add(driver, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, count);
    for (uint32_t index = 0; index < count; index++) {
        request->ids[index] = driver_percent(driver, 3) ? KHORGOS_U128_MAX
                                                        : driver_below(driver, DRIVER_ACCOUNT_ID_LAST + 3);
    }
    driver_model_apply(driver, request);
}

/* ----------------------------------------------------------------------------------------- */
/* Imported batches: timestamps chosen in the past, mostly valid, sometimes not.             */

/* A timestamp in (low, high), spreading `remaining` more events over the room left. */
static uint64_t driver_timestamp_between(struct model_driver *driver, uint64_t low, uint64_t high,
                                         uint32_t remaining) {
    if (high <= low + 1) return low + 1;
    uint64_t room = (high - low - 1) / (remaining + 1);
    return low + 1 + driver_below(driver, room == 0 ? 1 : room);
}

static uint64_t driver_account_timestamp_max(const struct model_driver *driver) {
    const struct reference_model *model = driver->model;
    return model->account_count == 0 ? 0 : model->accounts[model->account_count - 1].timestamp;
}

static uint64_t driver_transfer_timestamp_max(const struct model_driver *driver) {
    const struct reference_model *model = driver->model;
    return model->transfer_count == 0 ? 0
                                      : model->transfers[model->transfer_count - 1].timestamp;
}

static void driver_clock_advance(struct model_driver *driver, uint64_t nanoseconds);

/* Breaks an imported event's timestamp in one of the ways TigerBeetle checks. */
static uint64_t driver_imported_timestamp_fault(struct model_driver *driver, uint64_t timestamp,
                                                uint64_t request_timestamp, uint64_t low) {
    switch (driver_below(driver, 4)) {
    case 0: return driver_percent(driver, 50) ? 0 : REFERENCE_MODEL_TIMESTAMP_MAX + 1 + driver_below(driver, 5);
    case 1: return request_timestamp + driver_below(driver, 3);
    case 2: return low == 0 ? 0 : low - driver_below(driver, 3);
    default: return timestamp;
    }
}

static void driver_generate_imported_accounts(struct model_driver *driver) {
    driver_clock_advance(driver, 1000000 + driver_below(driver, 50000000));
    uint32_t count = 1 + (uint32_t)driver_below(driver, 3);
    uint64_t request_timestamp = reference_model_timestamp_next(driver->model, count);
    uint64_t low = driver_account_timestamp_max(driver);
    /* Mostly after the last transfer too, so imported transfers can be made to predate it. */
    if (driver_percent(driver, 70) && driver_transfer_timestamp_max(driver) > low) {
        low = driver_transfer_timestamp_max(driver);
    }
    struct driver_request *request =
        driver_request_add(driver, KHORGOS_OPERATION_CREATE_ACCOUNTS, count);
    for (uint32_t index = 0; index < count; index++) {
        struct khorgos_account *a = &request->accounts[index];
        *a = driver->templates[DRIVER_IMPORTED_FIRST + driver_below(driver, 8)];
        uint64_t timestamp = driver_timestamp_between(driver, low, request_timestamp,
                                                      count - index - 1);
        a->timestamp = timestamp;
        uint64_t fault = driver_below(driver, 100);
        if (fault < 12) {
            a->timestamp = driver_imported_timestamp_fault(driver, timestamp, request_timestamp,
                                                           driver_account_timestamp_max(driver));
        } else if (fault < 18 && driver->model->transfer_count > 0) {
            /* Collides with a transfer's timestamp: must_not_regress when above the accounts'. */
            a->timestamp = driver_transfer_timestamp_max(driver);
        } else if (fault < 21 && index > 0) {
            a->flags &= (uint16_t)~KHORGOS_ACCOUNT_IMPORTED; /* imported_event_expected */
            a->timestamp = 0;
        } else if (fault < 24) {
            driver_account_mutate(driver, a);
        }
        if (a->timestamp > low) low = a->timestamp;
    }
    if (driver_percent(driver, 10)) {
        driver_batch_link(driver, &request->accounts[0].flags, sizeof(struct khorgos_account),
                          count);
    }
    driver_model_apply(driver, request);
}

static void driver_generate_imported_transfers(struct model_driver *driver) {
    driver_clock_advance(driver, 1000000 + driver_below(driver, 50000000));
    uint32_t count = 1 + (uint32_t)driver_below(driver, 4);
    uint64_t request_timestamp = reference_model_timestamp_next(driver->model, count);
    uint64_t low = driver_transfer_timestamp_max(driver);
    struct driver_request *request =
        driver_request_add(driver, KHORGOS_OPERATION_CREATE_TRANSFERS, count);
    for (uint32_t index = 0; index < count; index++) {
        struct khorgos_transfer *t = &request->transfers[index];
        uint64_t kind = driver_below(driver, 100);
        uint64_t event_low = low;
        if (kind < 30) {
            driver_transfer_post_or_void(driver, t);
        } else {
            driver_transfer_new(driver, t);
            if (kind < 92) t->timeout = 0; /* the rest: imported_event_timeout_must_be_zero */
            const struct reference_model *model = driver->model;
            if (kind < 60 && model->account_count > 0) {
                /* The newest account, which may postdate the last transfer. */
                const struct khorgos_account *newest = &model->accounts[model->account_count - 1];
                driver_u128 other = driver_existing_account(driver, newest->ledger, newest->id);
                if (other != 0) {
                    const bool debit_side = driver_percent(driver, 50);
                    t->debit_account_id = debit_side ? newest->id : other;
                    t->credit_account_id = debit_side ? other : newest->id;
                    t->ledger = newest->ledger;
                }
            }
            const struct khorgos_account *debit = driver_account(driver, t->debit_account_id);
            const struct khorgos_account *credit = driver_account(driver, t->credit_account_id);
            uint64_t accounts_low = 0;
            if (debit != NULL && debit->timestamp > accounts_low) accounts_low = debit->timestamp;
            if (credit != NULL && credit->timestamp > accounts_low) accounts_low = credit->timestamp;
            if (accounts_low > low && driver_percent(driver, 75)) {
                /* Between the last transfer and an account: must_postdate (or, on the
                 * account's own timestamp, must_not_regress). */
                event_low = low;
                t->timestamp = low + 1 + driver_below(driver, accounts_low - low);
            } else if (accounts_low > event_low) {
                event_low = accounts_low;
            }
        }
        t->flags |= KHORGOS_TRANSFER_IMPORTED;
        if (t->timestamp == 0) {
            t->timestamp = driver_timestamp_between(driver, event_low, request_timestamp,
                                                    count - index - 1);
        }
        uint64_t fault = driver_below(driver, 100);
        if (fault < 12) {
            t->timestamp = driver_imported_timestamp_fault(driver, t->timestamp,
                                                           request_timestamp, low);
        } else if (fault < 16 && driver_account_timestamp_max(driver) > low) {
            t->timestamp = driver_account_timestamp_max(driver); /* collides with an account */
        } else if (fault < 19 && index > 0) {
            t->flags &= (uint16_t)~KHORGOS_TRANSFER_IMPORTED; /* imported_event_expected */
            t->timestamp = 0;
        }
        if (t->timestamp > low && t->timestamp < request_timestamp) low = t->timestamp;
        driver_remember(driver, t);
    }
    if (driver_percent(driver, 10)) {
        driver_batch_link(driver, &request->transfers[0].flags, sizeof(struct khorgos_transfer),
                          count);
    }
    driver_model_apply(driver, request);
}

/* ----------------------------------------------------------------------------------------- */
/* Running a step's requests on the engines and comparing.                                   */

static void driver_compare_create(struct model_driver *driver, const struct driver_request *request,
                                  uint32_t engine) {
    const struct khorgos_create_result *expected =
        (const struct khorgos_create_result *)request->model_reply;
    const struct khorgos_create_result *actual =
        (const struct khorgos_create_result *)request->replies[engine];
    for (uint32_t index = 0; index < request->count; index++) {
        if (memcmp(&expected[index], &actual[index], sizeof(expected[index])) == 0) continue;
        char text[3800];
        size_t length = 0;
        const bool accounts = request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS;
        length += (size_t)snprintf(
            text + length, sizeof(text) - length,
            "%s event %u of %u: expected %s at %llu, engine %u answered %s at %llu (reserved %u)\n",
            accounts ? "create_accounts" : "create_transfers", index, request->count,
            accounts ? driver_account_status_name(expected[index].status)
                     : driver_transfer_status_name(expected[index].status),
            (unsigned long long)expected[index].timestamp, engine,
            accounts ? driver_account_status_name(actual[index].status)
                     : driver_transfer_status_name(actual[index].status),
            (unsigned long long)actual[index].timestamp, actual[index].reserved);
        length += (size_t)snprintf(
            text + length, sizeof(text) - length,
            "  (after the step: last account timestamp %llu, last transfer timestamp %llu, clock "
            "%llu)\n",
            (unsigned long long)driver_account_timestamp_max(driver),
            (unsigned long long)driver_transfer_timestamp_max(driver),
            (unsigned long long)driver->model->clock_ns);
        if (!accounts) {
            const struct reference_model *model = driver->model;
            for (uint32_t back = model->transfer_count < 4 ? model->transfer_count : 4; back > 0;
                 back--) {
                length += (size_t)snprintf(text + length, sizeof(text) - length,
                                           "  model transfer [%u] ", model->transfer_count - back);
                length += driver_describe_transfer(&model->transfers[model->transfer_count - back],
                                                   text + length, sizeof(text) - length);
                length += (size_t)snprintf(text + length, sizeof(text) - length, "\n");
            }
            const struct khorgos_transfer *failing = &request->transfers[index];
            const driver_u128 ids[2] = {failing->debit_account_id, failing->credit_account_id};
            for (uint32_t side = 0; side < 2; side++) {
                const struct khorgos_account *account = driver_account(driver, ids[side]);
                if (account == NULL) continue;
                length += (size_t)snprintf(text + length, sizeof(text) - length, "  %s account ",
                                           side == 0 ? "debit" : "credit");
                length += driver_describe_account(account, text + length, sizeof(text) - length);
                length += (size_t)snprintf(text + length, sizeof(text) - length, "\n");
            }
        }
        for (uint32_t event = 0; event < request->count && length < sizeof(text) - 600; event++) {
            length += (size_t)snprintf(text + length, sizeof(text) - length, "  [%u] %s ", event,
                                       accounts ? driver_account_status_name(expected[event].status)
                                                : driver_transfer_status_name(expected[event].status));
            if (accounts) {
                length += driver_describe_account(&request->accounts[event], text + length,
                                                  sizeof(text) - length);
            } else {
                length += driver_describe_transfer(&request->transfers[event], text + length,
                                                   sizeof(text) - length);
            }
            length += (size_t)snprintf(text + length, sizeof(text) - length, "\n");
        }
        driver_fail(driver, text);
        return;
    }
}

static void driver_compare_lookup(struct model_driver *driver, const struct driver_request *request,
                                  uint32_t engine, uint32_t reply_size) {
    if (reply_size == request->model_reply_size &&
        memcmp(request->model_reply, request->replies[engine], reply_size) == 0) {
        return;
    }
    const bool accounts = request->operation == KHORGOS_OPERATION_LOOKUP_ACCOUNTS;
    char text[3800];
    size_t length = (size_t)snprintf(text, sizeof(text),
                                     "%s of %u ids: expected %u bytes, engine %u gave %u\n",
                                     accounts ? "lookup_accounts" : "lookup_transfers",
                                     request->count, request->model_reply_size, engine, reply_size);
    for (uint32_t offset = 0; offset < request->model_reply_size && length < sizeof(text) - 700;
         offset += DRIVER_RECORD_BYTES) {
        const void *expected = request->model_reply + offset;
        const void *actual = request->replies[engine] + offset;
        if (offset < reply_size && memcmp(expected, actual, DRIVER_RECORD_BYTES) == 0) continue;
        length += (size_t)snprintf(text + length, sizeof(text) - length, "  expected ");
        length += accounts ? driver_describe_account(expected, text + length, sizeof(text) - length)
                           : driver_describe_transfer(expected, text + length, sizeof(text) - length);
        if (offset < reply_size) {
            length += (size_t)snprintf(text + length, sizeof(text) - length, "\n  actual   ");
            length += accounts ? driver_describe_account(actual, text + length, sizeof(text) - length)
                               : driver_describe_transfer(actual, text + length, sizeof(text) - length);
        }
        length += (size_t)snprintf(text + length, sizeof(text) - length, "\n");
    }
    driver_fail(driver, text);
}

static uint32_t driver_request_body_size(const struct driver_request *request) {
    switch (request->operation) {
    case KHORGOS_OPERATION_CREATE_ACCOUNTS: return request->count * sizeof(struct khorgos_account);
    case KHORGOS_OPERATION_CREATE_TRANSFERS: return request->count * sizeof(struct khorgos_transfer);
    default: return request->count * sizeof(driver_u128);
    }
}

static const void *driver_request_body(const struct driver_request *request) {
    switch (request->operation) {
    case KHORGOS_OPERATION_CREATE_ACCOUNTS: return request->accounts;
    case KHORGOS_OPERATION_CREATE_TRANSFERS: return request->transfers;
    default: return request->ids;
    }
}

/* Compares engine `engine`'s answer to request `index` with engine 0's and the model's. */
static void driver_compare_request(struct model_driver *driver, uint32_t index, uint32_t engine,
                                   const struct khorgos_request *done,
                                   const struct khorgos_request *first) {
    const struct driver_request *request = &driver->requests[index];
    char text[256];
    if (done->error != KHORGOS_ERROR_ok) {
        snprintf(text, sizeof(text), "engine %u refused request %u (%s): %s", engine, index,
                 khorgos_operation_name(request->operation), khorgos_error_name(done->error));
        driver_fail(driver, text);
        return;
    }
    if (engine > 0 && (done->reply_size != first->reply_size ||
                       done->timestamp != first->timestamp ||
                       memcmp(request->replies[0], request->replies[engine], done->reply_size) != 0)) {
        snprintf(text, sizeof(text), "engines 0 and %u disagree on request %u (%s)", engine, index,
                 khorgos_operation_name(request->operation));
        driver_fail(driver, text);
        return;
    }
    if (!driver->config->compare_model) return;
    if (done->timestamp != request->model_timestamp) {
        snprintf(text, sizeof(text),
                 "request %u (%s, %u events): expected request timestamp %llu, engine %u reported "
                 "%llu",
                 index, khorgos_operation_name(request->operation), request->count,
                 (unsigned long long)request->model_timestamp, engine,
                 (unsigned long long)done->timestamp);
        driver_fail(driver, text);
        return;
    }
    if (request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS ||
        request->operation == KHORGOS_OPERATION_CREATE_TRANSFERS) {
        if (done->reply_size != request->model_reply_size) {
            snprintf(text, sizeof(text), "request %u: reply of %u bytes, expected %u", index,
                     done->reply_size, request->model_reply_size);
            driver_fail(driver, text);
            return;
        }
        driver_compare_create(driver, request, engine);
    } else {
        driver_compare_lookup(driver, request, engine, done->reply_size);
    }
}

/* Runs the step's requests in one khorgos_execute call per engine, then compares. */
static void driver_execute(struct model_driver *driver) {
    struct khorgos_request engine_requests[MODEL_DRIVER_ENGINE_COUNT_MAX][DRIVER_REQUESTS_PER_STEP_MAX];
    for (uint32_t engine = 0; engine < driver->config->engine_count; engine++) {
        for (uint32_t index = 0; index < driver->request_count; index++) {
            struct driver_request *request = &driver->requests[index];
            engine_requests[engine][index] = (struct khorgos_request){
                .operation = request->operation,
                .body_size = driver_request_body_size(request),
                .body = request->count == 0 ? NULL : driver_request_body(request),
                .reply = request->replies[engine],
                .reply_capacity = DRIVER_REPLY_BYTES_MAX,
            };
        }
        khorgos_error error =
            khorgos_execute(driver->engines[engine], engine_requests[engine], driver->request_count);
        if (error != KHORGOS_ERROR_ok) {
            driver_fail(driver, "khorgos_execute failed");
            return;
        }
    }
    for (uint32_t index = 0; index < driver->request_count && driver->config->engine_count > 0;
         index++) {
        const struct khorgos_request *done = &engine_requests[0][index];
        uint64_t hash = driver_fnv(driver->statistics->reply_hash, &done->timestamp,
                                   sizeof(done->timestamp));
        driver->statistics->reply_hash =
            driver_fnv(hash, driver->requests[index].replies[0], done->reply_size);
    }
    for (uint32_t index = 0; index < driver->request_count && !driver->failed; index++) {
        for (uint32_t engine = 0; engine < driver->config->engine_count && !driver->failed;
             engine++) {
            driver_compare_request(driver, index, engine, &engine_requests[engine][index],
                                   &engine_requests[0][index]);
        }
    }
    driver->request_count = 0;
}

static void driver_clock_advance(struct model_driver *driver, uint64_t nanoseconds) {
    for (uint32_t engine = 0; engine < driver->config->engine_count; engine++) {
        khorgos_error error = khorgos_clock_advance(driver->engines[engine], nanoseconds);
        if (error != KHORGOS_ERROR_ok) driver_fail(driver, "khorgos_clock_advance failed");
    }
    reference_model_clock_advance(driver->model, nanoseconds);
    driver->statistics->clock_advance_count++;
    driver->statistics->operation_count++;
    driver->epoch_operations++;
}

/* After every step: every account byte for byte, and debits equal credits per ledger. */
static void driver_verify_accounts(struct model_driver *driver) {
    struct driver_request *request =
        driver_request_add(driver, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, DRIVER_ACCOUNT_ID_LAST + 2);
    for (uint32_t id = 0; id <= DRIVER_ACCOUNT_ID_LAST; id++) request->ids[id] = id;
    request->ids[DRIVER_ACCOUNT_ID_LAST + 1] = KHORGOS_U128_MAX;
    uint32_t found = 0;
    request->model_timestamp = reference_model_lookup_accounts(
        driver->model, request->ids, request->count, (struct khorgos_account *)request->model_reply,
        &found);
    request->model_reply_size = found * sizeof(struct khorgos_account);
    driver_execute(driver);
    if (!reference_model_invariants_hold(driver->model)) {
        driver_fail(driver, "the reference model broke an invariant");
    }
    for (uint32_t engine = 0; engine < driver->config->engine_count && !driver->failed; engine++) {
        const struct khorgos_account *accounts = (const struct khorgos_account *)request->replies[engine];
        for (uint32_t ledger_index = 0; ledger_index < 3; ledger_index++) {
            driver_u128 sums[4] = {0, 0, 0, 0};
            for (uint32_t index = 0; index < found; index++) {
                if (accounts[index].ledger != driver_ledgers[ledger_index]) continue;
                sums[0] += accounts[index].debits_pending;
                sums[1] += accounts[index].credits_pending;
                sums[2] += accounts[index].debits_posted;
                sums[3] += accounts[index].credits_posted;
            }
            if (sums[0] != sums[1] || sums[2] != sums[3]) {
                char text[128];
                snprintf(text, sizeof(text), "engine %u: ledger %u does not balance", engine,
                         driver_ledgers[ledger_index]);
                driver_fail(driver, text);
            }
        }
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Steps and the run.                                                                        */

/* ----------------------------------------------------------------------------------------- */
/* Queries: random filters, valid and not, compared byte for byte.                           */

static uint64_t driver_query_timestamp(struct model_driver *driver) {
    const struct reference_model *model = driver->model;
    uint64_t choice = driver_below(driver, 100);
    if (choice < 60 || model->transfer_count == 0) return 0;
    if (choice < 92) return model->transfers[driver_below(driver, model->transfer_count)].timestamp;
    if (choice < 96) return UINT64_MAX;
    return model->clock_ns + driver_below(driver, 1000);
}

static uint32_t driver_query_limit(struct model_driver *driver) {
    uint64_t choice = driver_below(driver, 100);
    if (choice < 72) return 1 + (uint32_t)driver_below(driver, 20);
    if (choice < 80) return 0;
    if (choice < 90) return KHORGOS_BATCH_EVENTS_MAX + (uint32_t)driver_below(driver, 2);
    return UINT32_MAX;
}

/* Fills the fields both filters share. */
#define DRIVER_QUERY_FIELDS(driver, filter)                                                    \
    do {                                                                                       \
        if (driver_percent(driver, 15)) (filter)->user_data_128 = driver_below(driver, 4);      \
        if (driver_percent(driver, 15)) (filter)->user_data_64 = driver_below(driver, 4);       \
        if (driver_percent(driver, 15)) (filter)->user_data_32 = (uint32_t)driver_below(driver, 4); \
        if (driver_percent(driver, 20)) (filter)->code = (uint16_t)driver_below(driver, 4);     \
        (filter)->timestamp_min = driver_query_timestamp(driver);                               \
        (filter)->timestamp_max = driver_query_timestamp(driver);                               \
        (filter)->limit = driver_query_limit(driver);                                           \
        if (driver_percent(driver, 2)) {                                                        \
            (filter)->reserved[driver_below(driver, sizeof((filter)->reserved))] = 1;           \
        }                                                                                      \
    } while (0)

/* Describes a query the engine answered differently. */
static void driver_query_report(struct model_driver *driver, uint64_t kind,
                                const struct khorgos_account_filter *account_filter_pointer,
                                const struct khorgos_query_filter *query_filter_pointer,
                                uint32_t found, uint32_t engine, uint32_t reply_size) {
    static const uint32_t operations[4] = {
        KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS, KHORGOS_OPERATION_QUERY_ACCOUNTS,
        KHORGOS_OPERATION_QUERY_TRANSFERS, KHORGOS_OPERATION_GET_ACCOUNT_BALANCES};
    const uint32_t operation = operations[kind];
    const struct khorgos_account_filter account_filter = *account_filter_pointer;
    const struct khorgos_query_filter query_filter = *query_filter_pointer;
    char text[1200];
    char ids[2][48];
    const bool account_side = kind == 0 || kind == 3;
    size_t length = (size_t)snprintf(
        text, sizeof(text),
        "%s: expected %u records, engine %u gave %u bytes (%u records); filter account=%s "
        "ud128=%s ud64=%llu ud32=%u ledger=%u code=%u timestamp_min=%llu timestamp_max=%llu "
        "limit=%u flags=0x%x\n",
        khorgos_operation_name(operation), found, engine, reply_size,
        reply_size / DRIVER_RECORD_BYTES,
        driver_u128_text(account_filter.account_id, ids[0]),
        driver_u128_text(account_side ? account_filter.user_data_128 : query_filter.user_data_128, ids[1]),
        (unsigned long long)(account_side ? account_filter.user_data_64 : query_filter.user_data_64),
        account_side ? account_filter.user_data_32 : query_filter.user_data_32,
        query_filter.ledger, account_side ? account_filter.code : query_filter.code,
        (unsigned long long)(account_side ? account_filter.timestamp_min : query_filter.timestamp_min),
        (unsigned long long)(account_side ? account_filter.timestamp_max : query_filter.timestamp_max),
        account_side ? account_filter.limit : query_filter.limit,
        account_side ? account_filter.flags : query_filter.flags);
    for (uint32_t record = 0; kind != 3 && record < found && record < 3 &&
                              length < sizeof(text) - 400;
         record++) {
        length += (size_t)snprintf(text + length, sizeof(text) - length, "  expected[%u] ", record);
        length += kind == 1 ? driver_describe_account(
                                  (const struct khorgos_account *)driver->query_model_reply + record,
                                  text + length, sizeof(text) - length)
                            : driver_describe_transfer(
                                  (const struct khorgos_transfer *)driver->query_model_reply + record,
                                  text + length, sizeof(text) - length);
        length += (size_t)snprintf(text + length, sizeof(text) - length, "\n");
    }
    driver_fail(driver, text);
}

static void driver_query(struct model_driver *driver) {
    struct khorgos_account_filter account_filter;
    struct khorgos_query_filter query_filter;
    memset(&account_filter, 0, sizeof(account_filter));
    memset(&query_filter, 0, sizeof(query_filter));
    const uint64_t kind = driver_below(driver, 4);
    uint32_t operation, body_size, found = 0;
    const void *body;
    uint64_t timestamp;
    if (kind == 0 || kind == 3) {
        operation = kind == 0 ? KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS
                              : KHORGOS_OPERATION_GET_ACCOUNT_BALANCES;
        uint64_t account = driver_below(driver, 100);
        account_filter.account_id = account < 85   ? driver_existing_account(driver, 0, 0)
                                    : account < 90 ? DRIVER_DOOMED_FIRST
                                    : account < 95 ? 0
                                                   : KHORGOS_U128_MAX;
        account_filter.flags = 1 + (uint32_t)driver_below(driver, 3);
        if (driver_percent(driver, 50)) account_filter.flags |= KHORGOS_ACCOUNT_FILTER_REVERSED;
        if (driver_percent(driver, 4)) account_filter.flags &= KHORGOS_ACCOUNT_FILTER_REVERSED;
        if (driver_percent(driver, 3)) account_filter.flags |= 1u << (3 + driver_below(driver, 29));
        DRIVER_QUERY_FIELDS(driver, &account_filter);
        body = &account_filter;
        body_size = sizeof(account_filter);
        timestamp = kind == 0 ? reference_model_get_account_transfers(
                                    driver->model, &account_filter,
                                    (struct khorgos_transfer *)driver->query_model_reply, &found)
                              : reference_model_get_account_balances(
                                    driver->model, &account_filter,
                                    (struct khorgos_account_balance *)driver->query_model_reply,
                                    &found);
    } else {
        operation = kind == 1 ? KHORGOS_OPERATION_QUERY_ACCOUNTS : KHORGOS_OPERATION_QUERY_TRANSFERS;
        if (driver_percent(driver, 30)) query_filter.ledger = driver_ledgers[driver_below(driver, 3)];
        if (driver_percent(driver, 50)) query_filter.flags = KHORGOS_QUERY_FILTER_REVERSED;
        if (driver_percent(driver, 3)) query_filter.flags |= 1u << (1 + driver_below(driver, 31));
        DRIVER_QUERY_FIELDS(driver, &query_filter);
        body = &query_filter;
        body_size = sizeof(query_filter);
        timestamp = kind == 1 ? reference_model_query_accounts(
                                    driver->model, &query_filter,
                                    (struct khorgos_account *)driver->query_model_reply, &found)
                              : reference_model_query_transfers(
                                    driver->model, &query_filter,
                                    (struct khorgos_transfer *)driver->query_model_reply, &found);
    }
    const uint32_t expected_size = found * DRIVER_RECORD_BYTES;
    uint32_t first_reply_size = 0;
    driver->statistics->query_count++;
    driver->statistics->query_record_count += found;
    driver->statistics->operation_count++;
    driver->epoch_operations++;
    for (uint32_t engine = 0; engine < driver->config->engine_count && !driver->failed; engine++) {
        struct khorgos_request request = {
            .operation = operation,
            .body_size = body_size,
            .body = body,
            .reply = driver->query_replies[engine],
            .reply_capacity = sizeof(driver->query_replies[engine]),
        };
        if (khorgos_execute(driver->engines[engine], &request, 1) != KHORGOS_ERROR_ok ||
            request.error != KHORGOS_ERROR_ok) {
            driver_fail(driver, "a query was refused");
            return;
        }
        if (engine == 0) first_reply_size = request.reply_size;
        if (engine > 0 && (request.reply_size != first_reply_size ||
                           memcmp(driver->query_replies[0], driver->query_replies[engine],
                                  request.reply_size) != 0)) {
            driver_fail(driver, "the engines' query replies differ");
            return;
        }
        if (!driver->config->compare_model) continue;
        if (request.timestamp == timestamp && request.reply_size == expected_size &&
            memcmp(driver->query_model_reply, driver->query_replies[engine], expected_size) == 0) {
            continue;
        }
        driver_query_report(driver, kind, &account_filter, &query_filter, found, engine,
                            request.reply_size);
    }
}

/* Adds one random request of any kind that may share an execute call with others. */
static void driver_generate_request(struct model_driver *driver) {
    uint64_t kind = driver_below(driver, 1000);
    if (kind < 620) {
        driver_generate_transfers(driver, driver_batch_size(driver));
    } else if (kind < 720) {
        driver_generate_accounts(driver, 1 + (uint32_t)driver_below(driver, 5));
    } else if (kind < 880) {
        driver_generate_lookup_transfers(driver);
    } else if (kind < 960) {
        driver_generate_lookup_accounts(driver);
    } else if (kind < 975) {
        if (driver_percent(driver, 50)) driver_generate_transfers(driver, 0);
        else driver_generate_accounts(driver, 0);
    } else {
        driver_generate_transfers(driver, 1);
    }
}

static void driver_step(struct model_driver *driver) {
    if (driver->config->clock_tick_ns != 0) {
        driver_clock_advance(driver, driver->config->clock_tick_ns);
    }
    uint64_t kind = driver_below(driver, 1000);
    if (kind < 130) {
        uint64_t choice = driver_below(driver, 100);
        uint64_t nanoseconds = choice < 55   ? driver_below(driver, DRIVER_NS_PER_S)
                               : choice < 90 ? DRIVER_NS_PER_S * (1 + driver_below(driver, 6))
                               : choice < 97 ? 0
                                             : DRIVER_NS_PER_S * (10 + driver_below(driver, 2000));
        driver_clock_advance(driver, nanoseconds);
    } else if (kind < 175) {
        if (driver_percent(driver, 60)) {
            driver_generate_imported_accounts(driver);
            driver_execute(driver);
        }
        driver_generate_imported_transfers(driver);
    } else if (kind < 200) {
        driver_generate_imported_accounts(driver);
    } else if (kind < 250) {
        driver_query(driver);
    } else if (kind < 340) {
        uint32_t count = 2 + (uint32_t)driver_below(driver, DRIVER_REQUESTS_PER_STEP_MAX - 1);
        for (uint32_t index = 0; index < count; index++) driver_generate_request(driver);
    } else {
        driver_generate_request(driver);
    }
    if (driver->request_count > 0) driver_execute(driver);
    if (!driver->failed) driver_verify_accounts(driver);
    driver->statistics->step_count++;
    if (driver->statistics->step_count % DRIVER_DIGEST_STEPS == 0) driver_digests_compare(driver);
}

/* The first accounts of an epoch: most regular ones, in a few batches, some linked. */
static void driver_epoch_seed(struct model_driver *driver) {
    for (uint32_t first = 1; first <= DRIVER_REGULAR_CREATED_FIRST; first += 10) {
        struct driver_request *request =
            driver_request_add(driver, KHORGOS_OPERATION_CREATE_ACCOUNTS, 10);
        for (uint32_t index = 0; index < 10; index++) {
            request->accounts[index] = driver->templates[first + index];
            request->accounts[index].flags &= (uint16_t)~KHORGOS_ACCOUNT_IMPORTED;
        }
        if (driver_percent(driver, 50)) request->accounts[3].flags |= KHORGOS_ACCOUNT_LINKED;
        driver_model_apply(driver, request);
        driver_execute(driver);
    }
    if (driver_percent(driver, 60)) {
        struct driver_request *request =
            driver_request_add(driver, KHORGOS_OPERATION_CREATE_ACCOUNTS, 1);
        request->accounts[0] = driver->templates[DRIVER_REGULAR_LAST];
        driver_model_apply(driver, request);
        driver_execute(driver);
    }
}

bool model_driver_run(const struct model_driver_config *config,
                      struct model_driver_statistics *statistics) {
    /* engine_count 0 runs the model alone, to check the workload's coverage. */
    if (config->engine_count > MODEL_DRIVER_ENGINE_COUNT_MAX) {
        return false;
    }
    memset(statistics, 0, sizeof(*statistics));
    statistics->reply_hash = DRIVER_FNV_OFFSET;
    statistics->state_hash = DRIVER_FNV_OFFSET;
    struct model_driver *driver = calloc(1, sizeof(*driver));
    if (driver == NULL) return false;
    driver->config = config;
    driver->statistics = statistics;
    driver->random_state = config->seed;
    while (statistics->operation_count < config->operation_count && !driver->failed) {
        if (!driver_epoch_open(driver)) break;
        driver_epoch_seed(driver);
        const bool far_future_epoch = statistics->epoch_count % 2 == 1;
        while (driver->epoch_operations < config->epoch_operation_count && !driver->failed &&
               statistics->operation_count < config->operation_count) {
            if (far_future_epoch && !driver->far_future_done &&
                driver->epoch_operations * 100 >= config->epoch_operation_count * 97) {
                /* The epoch's last steps happen near 2^63 ns, where timeouts overflow. */
                if (driver->model->clock_ns < DRIVER_FAR_FUTURE_NS) {
                    driver_clock_advance(driver, DRIVER_FAR_FUTURE_NS - driver->model->clock_ns);
                }
                driver->far_future_done = true;
            }
            driver_step(driver);
        }
        driver_epoch_close(driver);
    }
    if (driver->model != NULL) driver_epoch_close(driver);
    bool passed = !driver->failed;
    free(driver);
    return passed;
}

/* ----------------------------------------------------------------------------------------- */
/* Reporting.                                                                                */

void model_driver_print(const struct model_driver_statistics *statistics) {
    printf("model test: %llu operations in %llu steps, %llu requests, %llu epochs, %llu lookups, "
           "%llu queries (%llu records), %llu clock advances, %llu expiries, "
           "%llu digest comparisons\n",
           (unsigned long long)statistics->operation_count,
           (unsigned long long)statistics->step_count,
           (unsigned long long)statistics->request_count,
           (unsigned long long)statistics->epoch_count,
           (unsigned long long)statistics->lookup_count,
           (unsigned long long)statistics->query_count,
           (unsigned long long)statistics->query_record_count,
           (unsigned long long)statistics->clock_advance_count,
           (unsigned long long)statistics->expiry_count,
           (unsigned long long)statistics->digest_comparison_count);
    printf("create_accounts statuses:\n");
    for (uint32_t status = 0; status < KHORGOS_CREATE_ACCOUNT_STATUS_COUNT; status++) {
        printf("  %10llu %s\n", (unsigned long long)statistics->account_status_counts[status],
               driver_account_status_name(status));
    }
    printf("create_transfers statuses:\n");
    for (uint32_t status = 0; status < KHORGOS_CREATE_TRANSFER_STATUS_COUNT; status++) {
        printf("  %10llu %s\n", (unsigned long long)statistics->transfer_status_counts[status],
               driver_transfer_status_name(status));
    }
}

uint32_t model_driver_statuses_unseen(const struct model_driver_statistics *statistics) {
    uint32_t unseen = 0;
    for (uint32_t status = 0; status < KHORGOS_CREATE_ACCOUNT_STATUS_COUNT; status++) {
        if (statistics->account_status_counts[status] != 0) continue;
        printf("create_accounts status never seen: %s\n", driver_account_status_name(status));
        unseen++;
    }
    for (uint32_t status = 0; status < KHORGOS_CREATE_TRANSFER_STATUS_COUNT; status++) {
        if (statistics->transfer_status_counts[status] != 0) continue;
        printf("create_transfers status never seen: %s\n", driver_transfer_status_name(status));
        unseen++;
    }
    return unseen;
}
