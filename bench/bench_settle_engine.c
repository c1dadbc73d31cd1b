/*
 * bench_settle_engine.c: gridlock resolution through the whole engine (khorgos_execute): the
 * issue's figure, 100,000 queued payments among 200 participants in one currency, resolved on
 * request, including loading the queues into the LSM model and booking the settled set on the
 * ledger (receipts, draws, payments through the clearing account, in chains of a batch).
 *
 * Setup: 200 banks with no liquidity but a random intraday credit line; 100,000 payments of
 * random amounts between random pairs, submitted in batches (all queue, fifo); then one
 * resolve_gridlock. Prints the time of the resolution, how many payments and how much value
 * settled, and the ledger transfers it booked. bench_settle_lsm.c times the algorithms alone.
 *
 *   bench_settle_engine [payments] [participants] [fifo|bypass|ring]
 * ring: no credit, every payment i -> i+1 of the same amount: all queue and the whole queue
 * settles in one all-or-nothing set (the heaviest booking: two transfers per payment).
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_settle.h"
#include "engine/engine.h"

static void bench_bic(u32 index, char bic[KHORGOS_BIC_BYTES]) {
    char text[16];
    snprintf(text, sizeof(text), "B%03uKZKX", index % 1000);
    memcpy(bic, text, 8);
    bic[1] = (char)('A' + index / 26 % 26);
    bic[2] = (char)('A' + index % 26);
    bic[3] = (char)('A' + index / 676 % 26);
}

static struct khorgos_settle_result results[LIMIT_BATCH_EVENTS_MAX];
static struct khorgos_payment events[LIMIT_BATCH_EVENTS_MAX];

int main(int argc, char **argv) {
    u32 payments = argc > 1 ? (u32)atoi(argv[1]) : 100000;
    u32 banks = argc > 2 ? (u32)atoi(argv[2]) : 200;
    bool bypass = argc > 3 && strcmp(argv[3], "bypass") == 0;
    bool ring = argc > 3 && strcmp(argv[3], "ring") == 0;
    struct khorgos_config config = {.clock_manual = 1, .participant_count_max = banks + 1,
                                    .transfer_count_max = getenv("BENCH_TRANSFERS") ? (u32)atoi(getenv("BENCH_TRANSFERS")) : 0,
                                    .payment_count_max = payments + 1};
    struct khorgos *engine = NULL;
    ASSERT(khorgos_open_memory(&engine, &config) == KHORGOS_ERROR_ok);
    struct khorgos_participant agent = {.bic = "NBRKKZKX", .country = "KZ", .name = "Agent",
                                        .role = KHORGOS_ROLE_SETTLEMENT_AGENT,
                                        .currencies = {398}};
    bench_execute(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &agent, sizeof(agent), results,
                  sizeof(results));
    ASSERT(results[0].status == KHORGOS_SETTLE_ok);
    u64 seed = 1;
    for (u32 bank = 0; bank < banks; bank++) {
        struct khorgos_participant event = {.country = "KZ", .name = "Bank",
                                            .role = KHORGOS_ROLE_BANK, .currencies = {398}};
        bench_bic(bank, event.bic);
        bench_execute(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &event, sizeof(event),
                      results, sizeof(results));
        ASSERT(results[0].status == KHORGOS_SETTLE_ok);
        struct khorgos_participant_event credit = {.id = bank + 1, .currency = 398,
                                                   .amount = ring ? 0 : bench_lcg(&seed) % 50000};
        memcpy(credit.bic, event.bic, KHORGOS_BIC_BYTES);
        bench_execute(engine, KHORGOS_OPERATION_SET_CREDIT_LINES, &credit, sizeof(credit),
                      results, sizeof(results));
    }
    struct khorgos_business_day day = {.id = 100000, .currency = 398, .date = 20230519,
                                       .queue_mode = bypass ? KHORGOS_QUEUE_MODE_BYPASS_FIFO
                                                            : KHORGOS_QUEUE_MODE_FIFO,
                                       .flags = KHORGOS_DAY_RESOLUTION_ON_REQUEST};
    bench_execute(engine, KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day), results, sizeof(results));
    ASSERT(results[0].status == KHORGOS_SETTLE_ok);
    u32 queued = 0;
    u32 per_request = khorgos_events_max(KHORGOS_OPERATION_SUBMIT_PAYMENTS);
    for (u32 start = 0; start < payments; start += per_request) {
        u32 count = MIN(per_request, payments - start);
        for (u32 index = 0; index < count; index++) {
            u32 payer = ring ? (start + index) % banks : (u32)(bench_lcg(&seed) % banks);
            u32 payee = ring ? (payer + 1) % banks
                             : (payer + 1 + (u32)(bench_lcg(&seed) % (banks - 1))) % banks;
            events[index] = (struct khorgos_payment){.id = start + index + 1, .currency = 398,
                                                     .amount = ring ? 100 : 1 + bench_lcg(&seed) % 10000,
                                                     .priority = KHORGOS_PRIORITY_NORMAL,
                                                     .end_to_end_id = "BENCH"};
            bench_bic(payer, events[index].debtor);
            bench_bic(payee, events[index].creditor);
        }
        bench_execute(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, events,
                      count * (u32)sizeof(events[0]), results, sizeof(results));
        for (u32 index = 0; index < count; index++) {
            queued += results[index].status == KHORGOS_SETTLE_queued;
        }
    }
    u32 transfers_before = engine->ledger.transfer_count;
    struct khorgos_business_day resolve = {.id = 100001, .currency = 398};
    u64 start_ns = base_clock_monotonic_ns();
    bench_execute(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &resolve, sizeof(resolve), results,
                  sizeof(results));
    u64 elapsed_ns = base_clock_monotonic_ns() - start_ns;
    ASSERT(results[0].status == KHORGOS_SETTLE_ok);
    ASSERT(ledger_check(&engine->ledger) && settle_check(&engine->settle));
    printf("settle engine: %u participants, %u payments submitted, %u queued (%s)\n", banks,
           payments, queued, ring ? "ring" : bypass ? "bypass_fifo" : "fifo");
    printf("settle engine: resolve_gridlock %.1f ms: %u payments settled, %u ledger transfers "
           "booked\n",
           (double)elapsed_ns / 1e6, results[0].payments_settled,
           engine->ledger.transfer_count - transfers_before);
    khorgos_close(engine);
    return 0;
}
