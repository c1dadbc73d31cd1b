/*
 * fuzz_iso20022_reader.c: libFuzzer target for the ISO 20022 message reader (src/iso20022/).
 *
 * Any bytes are read as one message. The reader must never crash, leak or read out of bounds
 * (AddressSanitizer and UndefinedBehaviorSanitizer watch), and must stay within its caps.
 * Beyond that, three properties are checked and a failure aborts:
 *   1. the outcome is a reason of the table; a refused message has a detail, an accepted one
 *      has transactions, each payment with a nonzero id and a settlement amount;
 *   2. the reply to any outcome (pacs.002, or camt.029 for a camt.056) is written and read
 *      back by the same reader with the same statuses, reasons and originals;
 *   3. a second read of the same bytes gives the same outcome (no hidden state).
 * The seed corpus is fuzz/corpus/iso20022_reader (copies of tests/iso20022/ messages).
 */
#include "iso20022/iso20022.h"

#include <stdlib.h>

static struct iso20022_message fuzz_message;
static struct iso20022_message fuzz_message_again;
static struct iso20022_report fuzz_report;
static struct iso20022_report fuzz_report_read;
static char fuzz_reply[ISO20022_REPLY_BYTES_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_outcome(const struct iso20022_message *message) {
    ASSERT(message->reason < ISO20022_REASON_COUNT);
    ASSERT(message->transaction_count <= ISO20022_TRANSACTION_COUNT_MAX);
    if (message->reason != ISO20022_REASON_NONE) {
        ASSERT(message->reason_detail[0] != '\0');
        return;
    }
    ASSERT(message->transaction_count > 0);
    ASSERT(message->sender[0] != '\0');
    for (u32 index = 0; index < message->transaction_count; index++) {
        const struct iso20022_transaction *transaction = &message->transactions[index];
        if (message->type == ISO20022_MESSAGE_CAMT_056) continue;
        ASSERT(transaction->payment_id != 0);
        ASSERT(transaction->amount.present && transaction->amount.minor > 0);
        ASSERT(khorgos_currency_by_letters(transaction->amount.currency) != NULL);
    }
}

static void fuzz_check_reply(const struct iso20022_message *message) {
    iso20022_report_from_message(message, ISO20022_STATUS_ACSC, &fuzz_report);
    memcpy(fuzz_report.message_id, "FUZZ-1", 7);
    fuzz_report.created_ns = 1684454400123000000ull;
    size_t length = iso20022_write_report(&fuzz_report, fuzz_reply, sizeof(fuzz_reply));
    ASSERT(length > 0);
    enum iso20022_reason reason = ISO20022_REASON_NONE;
    bool read = iso20022_read_report((const u8 *)fuzz_reply, length, &fuzz_report_read, &reason);
    ASSERT(read);
    ASSERT(fuzz_report_read.type == fuzz_report.type);
    ASSERT(fuzz_report_read.created_ns == fuzz_report.created_ns);
    ASSERT(fuzz_report_read.group_status == fuzz_report.group_status);
    ASSERT(fuzz_report_read.transaction_count == fuzz_report.transaction_count);
    for (u32 index = 0; index < fuzz_report.transaction_count; index++) {
        const struct iso20022_transaction_status *a = &fuzz_report.transactions[index];
        const struct iso20022_transaction_status *b = &fuzz_report_read.transactions[index];
        ASSERT(a->status == b->status && a->reason == b->reason);
        ASSERT(strcmp(a->original_uetr, b->original_uetr) == 0);
        ASSERT(strcmp(a->original_transaction_id, b->original_transaction_id) == 0);
        ASSERT(a->original_end_to_end_id[0] == '\0' ||
               strcmp(a->original_end_to_end_id, b->original_end_to_end_id) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    iso20022_read(data, size, NULL, &fuzz_message);
    fuzz_check_outcome(&fuzz_message);
    fuzz_check_reply(&fuzz_message);
    iso20022_read(data, size, NULL, &fuzz_message_again);
    ASSERT(fuzz_message_again.reason == fuzz_message.reason);
    ASSERT(memcmp(&fuzz_message_again, &fuzz_message, sizeof(fuzz_message)) == 0);
    return 0;
}
