/*
 * bench_settle_fx.c: cross-currency PvP and netting through the whole engine (khorgos_execute).
 *
 * Setup: `banks` banks holding KZT, CNY and KGS, 8 liquidity providers, every one funded well
 * above the day's needs; each provider quotes KZT -> CNY and CNY -> KGS at its own rate, and
 * `quotes` more quotes are spread among them (best-quote choice scans them all). Then:
 *   1. gross: `payments` cross-currency payments (three in four KZT -> CNY direct, one in four
 *      KZT -> KGS through CNY), in batches of 1,000; all settle at once, two or three legs each;
 *   2. net: as many net KZT payments between banks into one window, then close and settle it.
 * Prints CPU time (the shared machine inflates wall time) and rates.
 *
 *   bench_settle_fx [payments] [banks] [quotes]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_settle.h"
#include "engine/engine.h"

#define BENCH_BATCH 1000u
#define BENCH_PROVIDERS 8u

static double bench_cpu_seconds(void) { return (double)clock() / CLOCKS_PER_SEC; }

/* "B" + three letters + "KZKX" (banks) or "P" + ... (providers). */
static void bench_bic(char prefix, u32 index, char bic[KHORGOS_BIC_BYTES]) {
    memset(bic, 0, KHORGOS_BIC_BYTES);
    bic[0] = prefix;
    bic[1] = (char)('A' + index / 676 % 26);
    bic[2] = (char)('A' + index / 26 % 26);
    bic[3] = (char)('A' + index % 26);
    memcpy(bic + 4, "KZKX", 4);
}

static struct khorgos_settle_result bench_results[BENCH_BATCH];

static void bench_setup(struct khorgos *engine, u32 banks) {
    static const u32 currencies[3] = {398, 156, 417};
    static const char *const agents[3] = {"NBRKKZKX", "PBOCCNBJ", "NBKGKGKG"};
    struct khorgos_participant participant = {0};
    u128 request = 1;
    for (u32 c = 0; c < 3; c++) {
        participant = (struct khorgos_participant){.role = KHORGOS_ROLE_SETTLEMENT_AGENT,
                                                   .currencies = {currencies[c]}};
        memcpy(participant.bic, agents[c], 8);
        memcpy(participant.country, agents[c] + 4, 2);
        memcpy(participant.name, "agent", 5);
        bench_execute(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &participant,
                      sizeof(participant), bench_results, sizeof(bench_results));
    }
    for (u32 index = 0; index < banks + BENCH_PROVIDERS; index++) {
        bool provider = index >= banks;
        participant = (struct khorgos_participant){
            .role = provider ? KHORGOS_ROLE_LIQUIDITY_PROVIDER : KHORGOS_ROLE_BANK,
            .currencies = {398, 156, 417}, .country = {'K', 'Z'}};
        bench_bic(provider ? 'P' : 'B', index, participant.bic);
        memcpy(participant.name, "participant", 11);
        bench_execute(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &participant,
                      sizeof(participant), bench_results, sizeof(bench_results));
        for (u32 c = 0; c < 3; c++) {
            struct khorgos_participant_event fund = {.id = request++, .amount = (u128)1 << 60,
                                                     .currency = currencies[c]};
            memcpy(fund.bic, participant.bic, KHORGOS_BIC_BYTES);
            bench_execute(engine, KHORGOS_OPERATION_FUND, &fund, sizeof(fund), bench_results,
                          sizeof(bench_results));
        }
    }
    for (u32 c = 0; c < 3; c++) {
        struct khorgos_business_day day = {.id = request++, .currency = currencies[c],
                                           .date = 20230519,
                                           .queue_mode = KHORGOS_QUEUE_MODE_BYPASS_FIFO};
        bench_execute(engine, KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day), bench_results,
                      sizeof(bench_results));
    }
}

static void bench_quotes(struct khorgos *engine, u32 banks, u32 quotes, u64 *seed) {
    u64 expires_at = khorgos_clock_now(engine) + 86400ull * 1000000000ull;
    for (u32 index = 0; index < 2 * BENCH_PROVIDERS + quotes; index++) {
        bool vehicle_leg = index % 2 == 1;
        struct khorgos_fx_quote quote = {
            .id = index + 1, .amount_max = (u128)1 << 70, .currency_source = vehicle_leg ? 156 : 398,
            .currency_target = vehicle_leg ? 417 : 156,
            .rate_mantissa = (vehicle_leg ? 1200 : 140) + bench_lcg(seed) % 30,
            .rate_exponent = vehicle_leg ? -2 : -4, .expires_at = expires_at};
        bench_bic('P', banks + index / 2 % BENCH_PROVIDERS, quote.provider);
        bench_execute(engine, KHORGOS_OPERATION_SET_FX_QUOTES, &quote, sizeof(quote),
                      bench_results, sizeof(bench_results));
        ASSERT(bench_results[0].status == KHORGOS_SETTLE_ok);
    }
}

/* Submits `payments` payments in batches; returns how many settled (or entered the window). */
static u32 bench_payments(struct khorgos *engine, u32 banks, u32 payments, bool net, u64 *seed,
                          u128 first_id) {
    static struct khorgos_payment batch[BENCH_BATCH];
    u32 accepted = 0;
    for (u32 done = 0; done < payments; done += BENCH_BATCH) {
        u32 count = MIN(BENCH_BATCH, payments - done);
        for (u32 index = 0; index < count; index++) {
            u32 payer = (u32)(bench_lcg(seed) % banks);
            u32 payee = (payer + 1 + (u32)(bench_lcg(seed) % (banks - 1))) % banks;
            bool vehicle = bench_lcg(seed) % 4 == 0;
            batch[index] = (struct khorgos_payment){
                .id = first_id + done + index, .amount = 1 + bench_lcg(seed) % 10000000,
                .currency = 398, .currency_target = net ? 0 : (vehicle ? 417 : 156),
                .settlement = net ? KHORGOS_SETTLEMENT_NET : KHORGOS_SETTLEMENT_GROSS,
                .type = KHORGOS_PAYMENT_INTERBANK, .priority = KHORGOS_PRIORITY_NORMAL};
            bench_bic('B', payer, batch[index].debtor);
            bench_bic('B', payee, batch[index].creditor);
            snprintf(batch[index].end_to_end_id, sizeof(batch[index].end_to_end_id), "B-%u",
                     done + index);
        }
        bench_execute(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, batch, count * sizeof(batch[0]),
                      bench_results, sizeof(bench_results));
        for (u32 index = 0; index < count; index++) {
            u32 expected = net ? KHORGOS_SETTLE_in_window : KHORGOS_SETTLE_settled;
            accepted += bench_results[index].status == expected;
        }
    }
    return accepted;
}

static u32 bench_window(struct khorgos *engine, u32 operation, u128 id, u32 number) {
    struct khorgos_window window = {.id = id, .number = number};
    bench_execute(engine, operation, &window, sizeof(window), bench_results, sizeof(bench_results));
    return bench_results[0].status;
}

int main(int argc, char **argv) {
    u32 payments = argc > 1 ? (u32)strtoul(argv[1], NULL, 10) : 50000;
    u32 banks = argc > 2 ? (u32)strtoul(argv[2], NULL, 10) : 40;
    u32 quotes = argc > 3 ? (u32)strtoul(argv[3], NULL, 10) : 200;
    ASSERT(payments > 0 && banks >= 2 && banks + BENCH_PROVIDERS + 3 <= 256);
    struct khorgos_config config = {.account_count_max = 1u << 14, .transfer_count_max = 1u << 22,
                                    .account_balance_count_max = 1024, .clock_manual = 1,
                                    .participant_count_max = 256,
                                    .payment_count_max = 2 * payments + 16};
    struct khorgos *engine = NULL;
    ASSERT(khorgos_open_memory(&engine, &config) == KHORGOS_ERROR_ok);
    u64 seed = 42;
    bench_setup(engine, banks);
    bench_quotes(engine, banks, quotes, &seed);
    double start = bench_cpu_seconds();
    u32 settled = bench_payments(engine, banks, payments, false, &seed, 1);
    double gross = bench_cpu_seconds() - start;
    printf("fx gross: %u cross-currency payments (%u quotes), %u settled PvP, %u ledger transfers, "
           "%.3f s CPU, %.0f payments/s\n",
           payments, 2 * BENCH_PROVIDERS + quotes, settled, engine->ledger.transfer_count, gross,
           payments / gross);
    ASSERT(bench_window(engine, KHORGOS_OPERATION_OPEN_WINDOW, 1u << 30, 0) == KHORGOS_SETTLE_ok);
    start = bench_cpu_seconds();
    u32 windowed = bench_payments(engine, banks, payments, true, &seed, (u128)1 << 40);
    double entered = bench_cpu_seconds() - start;
    start = bench_cpu_seconds();
    ASSERT(bench_window(engine, KHORGOS_OPERATION_CLOSE_WINDOW, (1u << 30) + 1, 0) ==
           KHORGOS_SETTLE_ok);
    u32 status = bench_window(engine, KHORGOS_OPERATION_SETTLE_WINDOW, (1u << 30) + 2, 1);
    if (status != KHORGOS_SETTLE_ok) {
        fprintf(stderr, "settle_window: %s\n", khorgos_settle_status_name(status));
        return 1;
    }
    double netted = bench_cpu_seconds() - start;
    printf("netting: %u net payments entered in %.3f s CPU; close and settle of the window "
           "(%u banks' nets) %.3f s CPU\n",
           windowed, entered, banks, netted);
    khorgos_close(engine);
    return 0;
}
