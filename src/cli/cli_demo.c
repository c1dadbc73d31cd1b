/*
 * cli_demo.c: `khorgos demo`, the main job until the simulator exists. Banks of China, Central
 * Asia and Russia settle trade payments in their own currencies on an in-memory engine, through
 * the public API only (include/khorgos.h), as an embedding application would.
 *
 * Steps:
 *   1. open accounts: for each currency its central bank's issuance account (no limit: it is
 *      debited as money is issued) and commercial banks' settlement accounts, which may not go
 *      overdrawn (debits_must_not_exceed_credits); the ledger is the ISO 4217 numeric code;
 *   2. fund every settlement account from its central bank;
 *   3. settle trade: single-phase payments in one batch, a two-phase payment reserved (pending)
 *      and then partly posted, a linked payment-versus-payment pair that fails on an overdraft
 *      and rolls back whole, one that succeeds, and an overdraft refused on its own;
 *   4. print every account's balances in its currency's decimals, and per ledger check that
 *      debits equal credits, posted and pending alike.
 * Each request's statuses are compared with the expected ones; the exit status is 0 only when
 * every status is as expected and every ledger balances.
 *
 * The engine is reached through include/khorgos.h only; base/base.h is included for the
 * always-on ASSERT alone.
 *
 * Ids: an account is (holder number + 1) * 1000 + ledger, so "9156" is holder 8's CNY account;
 * transfers are numbered from 1 in the order of the table below.
 */
#include "cli/cli.h"

#include "khorgos.h"
#include "base/base.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DEMO_CODE_ISSUANCE 1u   /* account code: a central bank's issuance account */
#define DEMO_CODE_SETTLEMENT 2u /* account code: a bank's settlement account */
#define DEMO_CODE_FUNDING 1u    /* transfer code: money issued to a bank */
#define DEMO_CODE_TRADE 10u     /* transfer code: payment for goods or services */
#define DEMO_CODE_SWAP 11u      /* transfer code: a leg of a currency swap */
#define DEMO_PENDING_TIMEOUT_SECONDS 86400u
#define DEMO_ACCOUNTS_MAX 32u
#define DEMO_EVENTS_MAX 32u

enum { CNY = 156, KZT = 398, KGS = 417, UZS = 860, TJS = 972, TMT = 934, RUB = 643, USD = 840 };

static const char *const demo_holders[] = {
    "People's Bank of China",     "National Bank of Kazakhstan",
    "National Bank of Kyrgyzstan", "Central Bank of Uzbekistan",
    "National Bank of Tajikistan", "Central Bank of Turkmenistan",
    "Bank of Russia",              "Federal Reserve Bank of NY",
    "Bank of China (Xinjiang)",    "Halyk Bank",
    "Kazkommertsbank",             "KICB",
    "Kapitalbank",                 "Amonatbonk",
    "Dayhanbank",                  "Sberbank",
    "Citibank (USD correspondent)",
};
enum {
    PBOC, NBK, NBKR, CBU, NBT, CBT, CBR, FED,
    BOC, HALYK, KKB, KICB, KAPITAL, AMONAT, DAYHAN, SBER, CITI,
};

struct demo_account {
    uint32_t holder;
    uint32_t ledger;
};

/* Central banks first (issuance), then the banks' settlement accounts. */
static const struct demo_account demo_accounts[] = {
    {PBOC, CNY}, {NBK, KZT}, {NBKR, KGS}, {CBU, UZS}, {NBT, TJS}, {CBT, TMT}, {CBR, RUB},
    {FED, USD}, {BOC, CNY}, {BOC, USD}, {HALYK, KZT}, {HALYK, CNY}, {HALYK, RUB}, {KKB, KZT},
    {KKB, RUB}, {KICB, KGS}, {KICB, CNY}, {KAPITAL, UZS}, {KAPITAL, RUB}, {AMONAT, TJS},
    {AMONAT, CNY}, {DAYHAN, TMT}, {DAYHAN, USD}, {SBER, RUB}, {SBER, KZT}, {SBER, CNY},
    {CITI, USD},
};
#define DEMO_CENTRAL_BANK_COUNT 8u
_Static_assert(sizeof(demo_accounts) / sizeof(demo_accounts[0]) <= DEMO_ACCOUNTS_MAX, "fits");

/* What each settlement account receives from its central bank, in major units. */
static const struct {
    uint32_t ledger;
    const char *amount;
} demo_funding[] = {
    {CNY, "10000000.00"}, {KZT, "5000000000.00"}, {KGS, "500000000.00"},
    {UZS, "100000000000.00"}, {TJS, "50000000.00"}, {TMT, "20000000.00"},
    {RUB, "1000000000.00"}, {USD, "10000000.00"},
};

struct demo_payment {
    const char *what;
    uint32_t request;  /* payments of one request are committed together */
    uint32_t debit_holder;
    uint32_t credit_holder;
    uint32_t ledger;
    const char *amount; /* major units */
    uint16_t flags;
    uint32_t pending_payment; /* 1-based index of the pending payment a post refers to */
    uint32_t expected;        /* enum khorgos_create_transfer_status */
};

#define LINKED KHORGOS_TRANSFER_LINKED
static const struct demo_payment demo_payments[] = {
    {"machinery to Almaty", 1, HALYK, BOC, CNY, "1250000.00", 0, 0,
     KHORGOS_CREATE_TRANSFER_created},
    {"textiles to Bishkek", 1, KICB, BOC, CNY, "480000.00", 0, 0, KHORGOS_CREATE_TRANSFER_created},
    {"cotton to Moscow", 1, KAPITAL, SBER, RUB, "15000000.00", 0, 0,
     KHORGOS_CREATE_TRANSFER_created},
    {"grain to Novosibirsk", 1, SBER, KKB, KZT, "230000000.00", 0, 0,
     KHORGOS_CREATE_TRANSFER_created},
    {"gas pipeline services", 1, DAYHAN, CITI, USD, "2000000.00", 0, 0,
     KHORGOS_CREATE_TRANSFER_created},
    {"solar panels to Dushanbe: reserved while in transit", 1, AMONAT, BOC, CNY, "300000.00",
     KHORGOS_TRANSFER_PENDING, 0, KHORGOS_CREATE_TRANSFER_created},
    {"solar panels delivered: 280,000 of 300,000 posted", 2, AMONAT, BOC, CNY, "280000.00",
     KHORGOS_TRANSFER_POST_PENDING_TRANSFER, 6, KHORGOS_CREATE_TRANSFER_created},
    {"rare earths to Almaty: reserved until delivery", 2, HALYK, BOC, CNY, "150000.00",
     KHORGOS_TRANSFER_PENDING, 0, KHORGOS_CREATE_TRANSFER_created},
    {"swap leg RUB (overdraft: the pair rolls back)", 3, KKB, SBER, RUB, "2000000000.00", LINKED,
     0, KHORGOS_CREATE_TRANSFER_exceeds_credits},
    {"swap leg KZT (rolled back with its pair)", 3, SBER, KKB, KZT, "11000000000.00", 0, 0,
     KHORGOS_CREATE_TRANSFER_linked_event_failed},
    {"swap leg RUB", 4, HALYK, SBER, RUB, "40000000.00", LINKED, 0,
     KHORGOS_CREATE_TRANSFER_created},
    {"swap leg KZT", 4, SBER, HALYK, KZT, "260000000.00", 0, 0, KHORGOS_CREATE_TRANSFER_created},
    {"electronics beyond KICB's funds: refused", 5, KICB, BOC, CNY, "99000000.00", 0, 0,
     KHORGOS_CREATE_TRANSFER_exceeds_credits},
};
#define DEMO_PAYMENT_COUNT (sizeof(demo_payments) / sizeof(demo_payments[0]))
/* Transfer ids: funding transfers take 1..N, payments start here. */
#define DEMO_PAYMENT_ID_BASE 1000u

static khorgos_u128 demo_account_id(uint32_t holder, uint32_t ledger) {
    ASSERT(holder < ARRAY_COUNT(demo_holders));
    ASSERT(ledger > 0 && ledger < 1000);
    return (khorgos_u128)(holder + 1) * 1000u + ledger;
}

static uint8_t demo_decimals(uint32_t ledger) {
    const struct khorgos_currency *currency = khorgos_currency_by_numeric(ledger);
    ASSERT(currency != NULL); /* the demo uses table currencies only */
    ASSERT(currency->minor_units <= 3);
    return currency != NULL ? currency->minor_units : 0;
}

static const char *demo_letters(uint32_t ledger) {
    const struct khorgos_currency *currency = khorgos_currency_by_numeric(ledger);
    return currency != NULL ? currency->letters : "???";
}

static khorgos_u128 demo_amount(uint32_t ledger, const char *text) {
    ASSERT(text != NULL && text[0] != '\0');
    khorgos_u128 amount = 0;
    int parsed = khorgos_amount_parse(text, strlen(text), demo_decimals(ledger), &amount);
    if (parsed != 0) {
        fprintf(stderr, "khorgos demo: bad amount in the demo's table: %s\n", text);
        return 0;
    }
    ASSERT(amount > 0);
    return amount;
}

/* Runs one request; returns the reply's size, or -1 when the engine refused it. */
static int demo_execute(struct khorgos *engine, uint32_t operation, const void *body,
                        uint32_t body_size, void *reply, uint32_t reply_capacity) {
    ASSERT(body != NULL && body_size > 0);
    ASSERT(reply != NULL && reply_capacity >= khorgos_reply_size_max(operation, body_size));
    struct khorgos_request request = {.operation = operation, .body_size = body_size,
                                      .body = body, .reply = reply,
                                      .reply_capacity = reply_capacity};
    khorgos_error error = khorgos_execute(engine, &request, 1);
    if (error == KHORGOS_ERROR_ok) error = request.error;
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos demo: %s refused: %s\n", khorgos_operation_name(operation),
                khorgos_strerror(error));
        return -1;
    }
    return (int)request.reply_size;
}

static bool demo_open_accounts(struct khorgos *engine) {
    struct khorgos_account accounts[DEMO_ACCOUNTS_MAX];
    struct khorgos_create_result results[DEMO_ACCOUNTS_MAX];
    uint32_t count = sizeof(demo_accounts) / sizeof(demo_accounts[0]);
    ASSERT(count <= DEMO_ACCOUNTS_MAX && count > DEMO_CENTRAL_BANK_COUNT);
    memset(accounts, 0, sizeof(accounts));
    for (uint32_t index = 0; index < count; index++) {
        bool central = index < DEMO_CENTRAL_BANK_COUNT;
        accounts[index].id = demo_account_id(demo_accounts[index].holder,
                                             demo_accounts[index].ledger);
        accounts[index].ledger = demo_accounts[index].ledger;
        accounts[index].code = central ? DEMO_CODE_ISSUANCE : DEMO_CODE_SETTLEMENT;
        accounts[index].flags = central ? KHORGOS_ACCOUNT_HISTORY
                                        : KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
    }
    int size = demo_execute(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts,
                            count * (uint32_t)sizeof(accounts[0]), results, sizeof(results));
    if (size != (int)(count * sizeof(results[0]))) return false;
    bool ok = true;
    for (uint32_t index = 0; index < count; index++) {
        if (results[index].status != KHORGOS_CREATE_ACCOUNT_created) {
            fprintf(stderr, "khorgos demo: account %u: %s\n", index,
                    khorgos_create_account_status_name(results[index].status));
            ok = false;
        }
    }
    printf("Opened %u accounts in 8 currencies (ledger = ISO 4217 numeric code).\n", count);
    return ok;
}

static bool demo_fund(struct khorgos *engine) {
    struct khorgos_transfer transfers[DEMO_ACCOUNTS_MAX];
    struct khorgos_create_result results[DEMO_ACCOUNTS_MAX];
    uint32_t account_count = sizeof(demo_accounts) / sizeof(demo_accounts[0]);
    uint32_t count = 0;
    memset(transfers, 0, sizeof(transfers));
    for (uint32_t index = DEMO_CENTRAL_BANK_COUNT; index < account_count; index++) {
        const struct demo_account *account = &demo_accounts[index];
        uint32_t central = 0;
        while (demo_accounts[central].ledger != account->ledger) central++;
        ASSERT(central < DEMO_CENTRAL_BANK_COUNT);
        uint32_t funding = 0;
        while (demo_funding[funding].ledger != account->ledger) funding++;
        ASSERT(funding < ARRAY_COUNT(demo_funding));
        struct khorgos_transfer *transfer = &transfers[count++];
        transfer->id = count;
        transfer->debit_account_id = demo_account_id(demo_accounts[central].holder,
                                                     account->ledger);
        transfer->credit_account_id = demo_account_id(account->holder, account->ledger);
        transfer->amount = demo_amount(account->ledger, demo_funding[funding].amount);
        transfer->ledger = account->ledger;
        transfer->code = DEMO_CODE_FUNDING;
    }
    int size = demo_execute(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, transfers,
                            count * (uint32_t)sizeof(transfers[0]), results, sizeof(results));
    if (size != (int)(count * sizeof(results[0]))) return false;
    for (uint32_t index = 0; index < count; index++) {
        if (results[index].status != KHORGOS_CREATE_TRANSFER_created) {
            fprintf(stderr, "khorgos demo: funding %u: %s\n", index,
                    khorgos_create_transfer_status_name(results[index].status));
            return false;
        }
    }
    printf("Funded %u settlement accounts from their central banks.\n\n", count);
    return true;
}

static void demo_payment_build(uint32_t index, struct khorgos_transfer *transfer) {
    ASSERT(index < DEMO_PAYMENT_COUNT);
    const struct demo_payment *payment = &demo_payments[index];
    ASSERT(payment->pending_payment <= index); /* a post refers to an earlier payment */
    memset(transfer, 0, sizeof(*transfer));
    transfer->id = DEMO_PAYMENT_ID_BASE + index + 1;
    transfer->debit_account_id = demo_account_id(payment->debit_holder, payment->ledger);
    transfer->credit_account_id = demo_account_id(payment->credit_holder, payment->ledger);
    transfer->amount = demo_amount(payment->ledger, payment->amount);
    transfer->ledger = payment->ledger;
    /* A linked chain here is a swap: its members are the linked ones and the one after. */
    bool swap =
        (payment->flags & LINKED) || (index > 0 && (demo_payments[index - 1].flags & LINKED));
    transfer->code = swap ? DEMO_CODE_SWAP : DEMO_CODE_TRADE;
    transfer->flags = payment->flags;
    if (payment->flags & KHORGOS_TRANSFER_PENDING) transfer->timeout = DEMO_PENDING_TIMEOUT_SECONDS;
    if (payment->pending_payment != 0) {
        transfer->pending_id = DEMO_PAYMENT_ID_BASE + payment->pending_payment;
    }
}

/* "1,234,567.50": an amount in major units with its thousands grouped, for people. */
static void demo_amount_format(khorgos_u128 amount, uint8_t decimals, bool negative, char *out,
                               size_t capacity) {
    ASSERT(out != NULL && capacity > 0);
    char plain[64];
    size_t length = khorgos_amount_format(amount, decimals, plain, sizeof(plain));
    size_t integer_length = decimals > 0 ? length - decimals - 1 : length;
    size_t written = 0;
    if (length == 0 || capacity < length + length / 3 + 2) {
        snprintf(out, capacity, "?");
        return;
    }
    if (negative) out[written++] = '-';
    for (size_t index = 0; index < length; index++) {
        bool group = index > 0 && index < integer_length && (integer_length - index) % 3 == 0;
        if (group) out[written++] = ',';
        out[written++] = plain[index];
    }
    out[written] = '\0';
}

/* "-1,234.50": a signed difference of two u128 amounts in major units. */
static void demo_signed_format(khorgos_u128 plus, khorgos_u128 minus, uint8_t decimals,
                               char *out, size_t capacity) {
    ASSERT(out != NULL);
    bool negative = minus > plus;
    demo_amount_format(negative ? minus - plus : plus - minus, decimals, negative, out, capacity);
}

/* Sends the payments request by request and compares every status with the expected one. */
static bool demo_settle(struct khorgos *engine) {
    bool ok = true;
    printf("%-52s %-22s %s\n", "Payment", "Amount", "Status");
    printf("%-52s %-22s %s\n", "-------", "------", "------");
    for (uint32_t first = 0; first < DEMO_PAYMENT_COUNT;) {
        struct khorgos_transfer transfers[DEMO_EVENTS_MAX];
        struct khorgos_create_result results[DEMO_EVENTS_MAX];
        uint32_t count = 0;
        while (first + count < DEMO_PAYMENT_COUNT &&
               demo_payments[first + count].request == demo_payments[first].request) {
            ASSERT(count < DEMO_EVENTS_MAX);
            demo_payment_build(first + count, &transfers[count]);
            count++;
        }
        ASSERT(count >= 1);
        int size = demo_execute(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, transfers,
                                count * (uint32_t)sizeof(transfers[0]), results, sizeof(results));
        if (size != (int)(count * sizeof(results[0]))) return false;
        for (uint32_t index = 0; index < count; index++) {
            const struct demo_payment *payment = &demo_payments[first + index];
            const char *status = khorgos_create_transfer_status_name(results[index].status);
            bool expected = results[index].status == payment->expected;
            char grouped[64], amount[72];
            demo_amount_format(transfers[index].amount, demo_decimals(payment->ledger), false,
                               grouped, sizeof(grouped));
            snprintf(amount, sizeof(amount), "%s %s", demo_letters(payment->ledger), grouped);
            printf("%-52s %-22s %s%s\n", payment->what, amount, status ? status : "?",
                   expected ? "" : "  <-- UNEXPECTED");
            ok = ok && expected;
        }
        first += count;
    }
    return ok;
}

static bool demo_print_balances(struct khorgos *engine, struct khorgos_account *accounts) {
    khorgos_u128 ids[DEMO_ACCOUNTS_MAX];
    uint32_t count = sizeof(demo_accounts) / sizeof(demo_accounts[0]);
    ASSERT(accounts != NULL && count <= DEMO_ACCOUNTS_MAX);
    for (uint32_t index = 0; index < count; index++) {
        ids[index] = demo_account_id(demo_accounts[index].holder, demo_accounts[index].ledger);
    }
    int size = demo_execute(engine, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, ids,
                            count * (uint32_t)sizeof(ids[0]), accounts,
                            DEMO_ACCOUNTS_MAX * sizeof(accounts[0]));
    if (size != (int)(count * sizeof(accounts[0]))) {
        fprintf(stderr, "khorgos demo: lookup_accounts found %d bytes of accounts\n", size);
        return false;
    }
    printf("\n%-30s %-4s %22s %22s %20s\n", "Account holder", "Cur", "Balance (cr - dr)",
           "Reserved (pending)", "Account id");
    for (uint32_t index = 0; index < count; index++) {
        const struct khorgos_account *account = &accounts[index];
        uint8_t decimals = demo_decimals(account->ledger);
        char balance[64], pending[64], id[48];
        demo_signed_format(account->credits_posted, account->debits_posted, decimals, balance,
                           sizeof(balance));
        demo_amount_format(account->debits_pending + account->credits_pending, decimals, false,
                           pending, sizeof(pending));
        khorgos_amount_format(account->id, 0, id, sizeof(id));
        printf("%-30s %-4s %22s %22s %20s\n", demo_holders[demo_accounts[index].holder],
               demo_letters(account->ledger), balance, pending, id);
    }
    return true;
}

/* Per ledger: total debits equal total credits, posted and pending alike. */
static bool demo_check_ledgers(const struct khorgos_account *accounts) {
    uint32_t count = sizeof(demo_accounts) / sizeof(demo_accounts[0]);
    ASSERT(accounts != NULL && count <= DEMO_ACCOUNTS_MAX);
    bool ok = true;
    printf("\nPer ledger, total debits must equal total credits (posted and pending):\n");
    printf("%-4s %6s %26s %26s %20s %8s\n", "Cur", "Ledger", "Debits posted", "Credits posted",
           "Pending dr = cr", "Check");
    for (uint32_t currency = 0; currency < DEMO_CENTRAL_BANK_COUNT; currency++) {
        uint32_t ledger = demo_accounts[currency].ledger;
        khorgos_u128 debits = 0, credits = 0, debits_pending = 0, credits_pending = 0;
        for (uint32_t index = 0; index < count; index++) {
            if (accounts[index].ledger != ledger) continue;
            debits += accounts[index].debits_posted;
            credits += accounts[index].credits_posted;
            debits_pending += accounts[index].debits_pending;
            credits_pending += accounts[index].credits_pending;
        }
        bool balanced = debits == credits && debits_pending == credits_pending;
        char debits_text[64], credits_text[64];
        demo_amount_format(debits, demo_decimals(ledger), false, debits_text, sizeof(debits_text));
        demo_amount_format(credits, demo_decimals(ledger), false, credits_text,
                           sizeof(credits_text));
        char pending_text[64];
        demo_amount_format(debits_pending, demo_decimals(ledger), false, pending_text,
                           sizeof(pending_text));
        printf("%-4s %6u %26s %26s %20s %8s\n", demo_letters(ledger), ledger, debits_text,
               credits_text, pending_text, balanced ? "ok" : "MISMATCH");
        ok = ok && balanced;
    }
    return ok;
}

int cli_demo_main(int argc, char **argv) {
    ASSERT(argc >= 1 && argv != NULL);
    if (argc > 1) {
        bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        fprintf(help ? stdout : stderr, "usage: khorgos demo\n  banks of China, Central Asia "
                "and Russia settle trade payments in their currencies, in memory\n");
        return help ? 0 : 2;
    }
    struct khorgos *engine = NULL;
    struct khorgos_config config = {.account_count_max = 1024, .transfer_count_max = 1024,
                                    .account_balance_count_max = 1024};
    khorgos_error error = khorgos_open_memory(&engine, &config);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos demo: cannot open the engine: %s\n", khorgos_strerror(error));
        return 1;
    }
    printf("Khorgos demo: cross-border trade settled in local currencies (in memory).\n\n");
    struct khorgos_account accounts[DEMO_ACCOUNTS_MAX];
    bool ok = demo_open_accounts(engine) && demo_fund(engine);
    bool settled = ok && demo_settle(engine);
    bool printed = ok && demo_print_balances(engine, accounts);
    bool balanced = printed && demo_check_ledgers(accounts);
    khorgos_close(engine);
    ok = ok && settled && printed && balanced;
    printf("\n%s\n", ok ? "Every status as expected; every ledger balances."
                         : "DEMO FAILED: see the lines marked above.");
    return ok ? 0 : 1;
}
