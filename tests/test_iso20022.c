/* test_iso20022.c: the ISO 20022 layer: the whole corpus of tests/iso20022/ against its
 * manifest (each message's outcome, its reply written and read back), the fields each message
 * maps to, the payment ids, the validators, the safety caps, and the replies. Run from the
 * repository's root (as make test does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "iso20022/iso20022.h"

#define CORPUS "tests/iso20022/"
/* uuid d91dce27-b8d3-8559-b29d-4501c0d715ae; recomputed outside C from the documented rule */
#define PAYMENT_ID_PINNED "288597233017701899606209158564474721710"

static struct iso20022_message message_buffer;
static struct iso20022_report report_buffer;
static struct iso20022_report report_read_buffer;
static char reply[ISO20022_REPLY_BYTES_MAX];

/* ---- the lookup the corpus assumes (its manifest's header says the same) ---------------- */

static enum iso20022_participant_state lookup_participant(void *context, const char *bic,
                                                          u32 currency) {
    (void)context, (void)currency;
    static const char *const known[] = {"HSBKKZKX", "KCJBKZKX", "NBRKKZKX", "DEUTDEFF",
                                        "BNPAFRPP", "BKCHCNBJ"};
    for (size_t index = 0; index < ARRAY_COUNT(known); index++) {
        if (strncmp(bic, known[index], 8) == 0) return ISO20022_PARTICIPANT_ACTIVE;
    }
    if (strncmp(bic, "SUSPKZKX", 8) == 0) return ISO20022_PARTICIPANT_SUSPENDED;
    return ISO20022_PARTICIPANT_UNKNOWN;
}

static enum iso20022_duplicate lookup_duplicate(void *context, const char *sender,
                                                const char *message_id, u128 checksum) {
    (void)context, (void)sender, (void)checksum;
    if (strcmp(message_id, "HSBK-DUPLICATE") == 0) return ISO20022_DUPLICATE_OTHER_BODY;
    if (strcmp(message_id, "HSBK-RESUBMITTED") == 0) return ISO20022_DUPLICATE_SAME_BODY;
    return ISO20022_DUPLICATE_NONE;
}

static const struct iso20022_lookup lookup = {
    .context = NULL, .participant = lookup_participant, .duplicate = lookup_duplicate};

static u8 *file_read(const char *name, size_t *size) {
    char path[256];
    snprintf(path, sizeof(path), CORPUS "%s", name);
    FILE *file = fopen(path, "rb");
    if (file == NULL) fail_msg("cannot open %s", path);
    u8 *bytes = malloc(ISO20022_MESSAGE_BYTES_MAX + 1);
    assert_non_null(bytes);
    *size = fread(bytes, 1, ISO20022_MESSAGE_BYTES_MAX + 1, file);
    fclose(file);
    return bytes;
}

static const struct iso20022_message *read_file(const char *name) {
    size_t size = 0;
    u8 *bytes = file_read(name, &size);
    iso20022_read(bytes, size, &lookup, &message_buffer);
    free(bytes);
    return &message_buffer;
}

/* The reply to a read message, written and read back: same originals, statuses, reasons. */
static void check_reply_round_trip(const struct iso20022_message *message) {
    bool cancellation = message->type == ISO20022_MESSAGE_CAMT_056;
    iso20022_report_from_message(message, cancellation ? ISO20022_STATUS_ACSC
                                                       : ISO20022_STATUS_ACSP, &report_buffer);
    snprintf(report_buffer.message_id, ISO20022_TEXT_SIZE, "KHORGOS-REPLY-1");
    report_buffer.created_ns = 1684454400123000000ull;
    size_t length = iso20022_write_report(&report_buffer, reply, sizeof(reply));
    assert_true(length > 0 && length == strlen(reply));
    enum iso20022_reason reason = ISO20022_REASON_COUNT;
    bool read = iso20022_read_report((const u8 *)reply, length, &report_read_buffer, &reason);
    if (!read) fail_msg("reply not read back (%s): %s", iso20022_reason_code(reason), reply);
    const struct iso20022_report *a = &report_buffer, *b = &report_read_buffer;
    assert_int_equal(a->type, b->type);
    assert_true(a->created_ns == b->created_ns);
    assert_string_equal(a->message_id, b->message_id);
    assert_int_equal(a->group_status, b->group_status);
    assert_int_equal(a->transaction_count, b->transaction_count);
    if (a->type == ISO20022_MESSAGE_PACS_002) assert_int_equal(a->group_reason, b->group_reason);
    for (u32 index = 0; index < a->transaction_count; index++) {
        assert_int_equal(a->transactions[index].status, b->transactions[index].status);
        assert_int_equal(a->transactions[index].reason, b->transactions[index].reason);
        assert_string_equal(a->transactions[index].original_uetr,
                            b->transactions[index].original_uetr);
        if (a->transactions[index].original_end_to_end_id[0] != '\0') {
            assert_string_equal(a->transactions[index].original_end_to_end_id,
                                b->transactions[index].original_end_to_end_id);
        }
    }
}

static void test_corpus_matches_its_manifest(void **state) {
    (void)state;
    FILE *manifest = fopen(CORPUS "manifest.txt", "r");
    assert_non_null(manifest);
    char line[512];
    u32 count = 0, refused = 0;
    while (fgets(line, sizeof(line), manifest) != NULL) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char name[128], outcome[8], reason[8], message_name[64];
        assert_int_equal(sscanf(line, "%127s %7s %7s %63s", name, outcome, reason,
                                message_name), 4);
        const struct iso20022_message *message = read_file(name);
        const char *got = message->reason == ISO20022_REASON_NONE
                              ? "-" : iso20022_reason_code(message->reason);
        if (strcmp(got, reason) != 0 ||
            strcmp(outcome, message->reason == ISO20022_REASON_NONE ? "OK" : "RJCT") != 0) {
            fail_msg("%s: expected %s %s, got %s (%s)", name, outcome, reason, got,
                     message->reason_detail);
        }
        if (strcmp(message_name, "-") != 0) assert_string_equal(message->name, message_name);
        check_reply_round_trip(message);
        count++;
        refused += message->reason != ISO20022_REASON_NONE;
    }
    fclose(manifest);
    assert_true(count >= 70);
    assert_true(refused >= 50);
}

static void test_pacs008_fields(void **state) {
    (void)state;
    const struct iso20022_message *message = read_file("pacs008_v08.xml");
    assert_int_equal(message->reason, ISO20022_REASON_NONE);
    assert_int_equal(message->type, ISO20022_MESSAGE_PACS_008);
    assert_int_equal(message->version, 8);
    assert_false(message->has_header);
    assert_string_equal(message->message_id, "HSBK20230519-0001");
    assert_string_equal(message->sender, "HSBKKZKX");   /* InstgAgt: no AppHdr */
    assert_string_equal(message->receiver, "KCJBKZKX");
    assert_int_equal(message->settlement_method, ISO20022_SETTLEMENT_CLRG);
    assert_int_equal(message->transaction_count, 1);
    const struct iso20022_transaction *transaction = &message->transactions[0];
    assert_true(transaction->amount.minor == 125050);
    assert_string_equal(transaction->amount.currency, "KZT");
    assert_string_equal(transaction->debtor.bic, "HSBKKZKX");
    assert_string_equal(transaction->creditor.bic, "KCJBKZKX");
    assert_int_equal(transaction->settlement_date, 20230519);
    assert_int_equal(transaction->priority, KHORGOS_PRIORITY_NORMAL);
    assert_string_equal(transaction->instruction_id, "HSBK-INSTR-0001");
    assert_string_equal(transaction->end_to_end_id, "INV-2023-0042");
    assert_string_equal(transaction->transaction_id, "HSBK-TX-0001");
    assert_string_equal(transaction->uetr_text, "e7985fdc-04da-494d-9f89-cc9502ea84bb");
    u128 uetr = ((u128)0xe7985fdc04da494dull << 64) | 0x9f89cc9502ea84bbull;
    assert_true(transaction->uetr == uetr);
    assert_true(transaction->payment_id == uetr); /* the UETR where there is one */
    assert_string_equal(transaction->purpose, "GDDS");
    assert_string_equal(transaction->charges, "SHAR");
    assert_false(transaction->instructed_amount.present);
    assert_string_equal(transaction->target_currency, ""); /* no conversion asked */
    /* The PvP convention: PmtTpInf/LclInstrm/Prtry KHORGOS/PVP/CNY names the creditor's
     * currency; the settlement amount stays the debtor's. */
    message = read_file("pacs008_v08_pvp.xml");
    assert_int_equal(message->reason, ISO20022_REASON_NONE);
    assert_string_equal(message->transactions[0].target_currency, "CNY");
    assert_string_equal(message->transactions[0].amount.currency, "KZT");
    assert_int_equal(message->transactions[0].priority, KHORGOS_PRIORITY_NORMAL);
}

static void test_header_and_older_versions(void **state) {
    (void)state;
    const struct iso20022_message *message = read_file("pacs008_v08_apphdr.xml");
    assert_int_equal(message->reason, ISO20022_REASON_NONE);
    assert_true(message->has_header);
    assert_string_equal(message->sender, "HSBKKZKX");   /* AppHdr/Fr */
    assert_string_equal(message->receiver, "NBRKKZKX"); /* AppHdr/To */
    assert_string_equal(message->header_message_id, "HSBK20230519-0001");
    message = read_file("pacs008_v02.xml");
    assert_int_equal(message->reason, ISO20022_REASON_NONE);
    assert_int_equal(message->version, 2);
    assert_string_equal(message->transactions[0].debtor.bic, "HSBKKZKX"); /* FinInstnId/BIC */
    message = read_file("pacs008_v08_debtor_agent_only.xml");
    assert_string_equal(message->transactions[0].debtor.bic, "HSBKKZKX"); /* DbtrAgt */
    assert_string_equal(message->transactions[0].creditor.bic, "KCJBKZKX"); /* CdtrAgt */
    message = read_file("pacs008_v08_jpy.xml");
    assert_true(message->transactions[0].amount.minor == 100);
}

static void test_pacs009_fields(void **state) {
    (void)state;
    const struct iso20022_message *message = read_file("pacs009_v08_cov.xml");
    assert_int_equal(message->reason, ISO20022_REASON_NONE);
    assert_int_equal(message->type, ISO20022_MESSAGE_PACS_009);
    const struct iso20022_transaction *transaction = &message->transactions[0];
    assert_true(transaction->cover);
    assert_int_equal(transaction->priority, KHORGOS_PRIORITY_URGENT); /* SttlmPrty URGT */
    assert_true(transaction->amount.minor == 500000000);
    assert_string_equal(transaction->debtor.bic, "DEUTDEFF");
    message = read_file("pacs009_v08_core.xml");
    assert_false(message->transactions[0].cover);
    message = read_file("pacs009_v08_dbtr_only.xml");
    assert_string_equal(message->transactions[0].debtor.bic, "DEUTDEFF");   /* Dbtr */
    assert_string_equal(message->transactions[0].creditor.bic, "BNPAFRPP"); /* Cdtr */
}

static void test_pacs004_and_camt056_fields(void **state) {
    (void)state;
    const struct iso20022_message *message = read_file("pacs004_v09.xml");
    assert_int_equal(message->reason, ISO20022_REASON_NONE);
    const struct iso20022_transaction *transaction = &message->transactions[0];
    assert_string_equal(transaction->original_end_to_end_id, "INV-2023-0042");
    assert_string_equal(transaction->original_uetr_text, "e7985fdc-04da-494d-9f89-cc9502ea84bb");
    assert_string_equal(transaction->original_message_name, "pacs.008.001.08");
    assert_true(transaction->amount.minor == 125050);          /* RtrdIntrBkSttlmAmt */
    assert_true(transaction->original_amount.minor == 125050);
    assert_string_equal(transaction->debtor.bic, "KCJBKZKX");  /* the reverse direction */
    assert_string_equal(transaction->creditor.bic, "HSBKKZKX");
    assert_string_equal(transaction->reason_code, "AC04");
    /* A return has no UETR of its own: its id is derived, never the original's. */
    assert_true(transaction->payment_id != transaction->original_uetr);
    assert_true(transaction->payment_id ==
                iso20022_payment_id("KCJBKZKX", "KCJB20230520-R001", 1));
    message = read_file("camt056_v08.xml");
    assert_int_equal(message->reason, ISO20022_REASON_NONE);
    assert_string_equal(message->message_id, "HSBK20230519-C001");
    assert_string_equal(message->sender, "HSBKKZKX");
    transaction = &message->transactions[0];
    assert_string_equal(transaction->cancellation_id, "HSBK-CXL-0001");
    assert_string_equal(transaction->original_transaction_id, "HSBK-TX-0001");
    assert_string_equal(transaction->reason_code, "DUPL");
    assert_true(transaction->payment_id == 0);
}

static void test_payment_id_derivation(void **state) {
    (void)state;
    const struct iso20022_message *message = read_file("pacs008_v08_no_uetr.xml");
    assert_int_equal(message->reason, ISO20022_REASON_NONE);
    u128 id = iso20022_payment_id("HSBKKZKX", "HSBK20230519-0001", 1);
    assert_true(message->transactions[0].payment_id == id);
    assert_true(id == iso20022_payment_id("HSBKKZKXXXX", "HSBK20230519-0001", 1));
    assert_true(id != iso20022_payment_id("HSBKKZKX", "HSBK20230519-0001", 2));
    assert_true(id != iso20022_payment_id("HSBKKZKX", "HSBK20230519-0002", 1));
    assert_true(id != iso20022_payment_id("KCJBKZKX", "HSBK20230519-0001", 1));
    assert_int_equal((u32)(id >> 76) & 0xF, 8);  /* UUID version 8, never a UETR's 4 */
    assert_int_equal((u32)(id >> 62) & 0x3, 2);  /* variant 10 */
    /* Pinned: the derivation is part of the stored data's meaning (docs/iso20022.md). */
    char text[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    base_u128_format(id, text);
    assert_string_equal(text, PAYMENT_ID_PINNED);
}

static void test_iban_check_digits(void **state) {
    (void)state;
    const char *const valid[] = {"GB82WEST12345698765432", "DE89370400440532013000",
                                 "FR7630006000011234567890189", "KZ86125KZT5004100100"};
    for (size_t index = 0; index < ARRAY_COUNT(valid); index++) {
        assert_true(iso20022_iban_pattern_valid(valid[index], strlen(valid[index])));
        assert_true(iso20022_iban_check_digits_valid(valid[index], strlen(valid[index])));
    }
    const char *const wrong[] = {"GB83WEST12345698765432", "DE89370400440532013001",
                                 "KZ86125KZT5004100010"};
    for (size_t index = 0; index < ARRAY_COUNT(wrong); index++) {
        assert_false(iso20022_iban_check_digits_valid(wrong[index], strlen(wrong[index])));
    }
    assert_true(iso20022_iban_check_digits_valid("GB82west12345698765432", 22)); /* a-z ok */
    assert_false(iso20022_iban_pattern_valid("gb82WEST12345698765432", 22));
    assert_false(iso20022_iban_pattern_valid("GB8XWEST12345698765432", 22));
    assert_false(iso20022_iban_pattern_valid("GB82", 4));
    assert_false(iso20022_iban_pattern_valid("GB82WEST1234569876543212345678901", 35));
    assert_false(iso20022_iban_pattern_valid("GB82 WEST12345698765432", 23));
}

static void test_bic_pattern(void **state) {
    (void)state;
    assert_true(iso20022_bic_valid("HSBKKZKX", 8));
    assert_true(iso20022_bic_valid("DEUTDEFF500", 11));
    assert_true(iso20022_bic_valid("1234DEFF", 8)); /* the party prefix may hold digits */
    assert_false(iso20022_bic_valid("HSBK1ZKX", 8)); /* the country is letters */
    assert_false(iso20022_bic_valid("hsbkkzkx", 8));
    assert_false(iso20022_bic_valid("HSBKKZK", 7));
    assert_false(iso20022_bic_valid("HSBKKZKX1", 9));
    assert_false(iso20022_bic_valid("HSBKKZKX12", 10));
}

static void test_uetr_pattern(void **state) {
    (void)state;
    u128 value = 0;
    assert_true(iso20022_uetr_parse("e7985fdc-04da-494d-9f89-cc9502ea84bb", 36, &value));
    assert_true(value == (((u128)0xe7985fdc04da494dull << 64) | 0x9f89cc9502ea84bbull));
    assert_true(iso20022_uetr_parse("00000000-0000-4000-b000-000000000000", 36, &value));
    assert_false(iso20022_uetr_parse("E7985FDC-04DA-494D-9F89-CC9502EA84BB", 36, &value));
    assert_false(iso20022_uetr_parse("e7985fdc-04da-194d-9f89-cc9502ea84bb", 36, &value));
    assert_false(iso20022_uetr_parse("e7985fdc-04da-494d-cf89-cc9502ea84bb", 36, &value));
    assert_false(iso20022_uetr_parse("e7985fdc04da494d9f89cc9502ea84bb", 32, &value));
    assert_false(iso20022_uetr_parse("e7985fdc-04da-494d-9f89-cc9502ea84bg", 36, &value));
}

static void test_decimals_and_currencies(void **state) {
    (void)state;
    u128 digits = 0;
    u8 fraction = 0;
    assert_true(iso20022_decimal_parse("100.01", 6, 18, 5, &digits, &fraction));
    assert_true(digits == 10001 && fraction == 2);
    assert_true(iso20022_decimal_parse("999999999999999999", 18, 18, 5, &digits, &fraction));
    assert_false(iso20022_decimal_parse("9999999999999999999", 19, 18, 5, &digits, &fraction));
    assert_false(iso20022_decimal_parse("1.000001", 8, 18, 5, &digits, &fraction));
    const char *const refused[] = {"", ".5", "5.", "-5", "+5", "1e3", "1.2.3", " 5", "5,00"};
    for (size_t index = 0; index < ARRAY_COUNT(refused); index++) {
        assert_false(iso20022_decimal_parse(refused[index], strlen(refused[index]), 18, 5,
                                            &digits, &fraction));
    }
    assert_int_equal(iso20022_currency_minor_units("JPY"), 0);
    assert_int_equal(iso20022_currency_minor_units("KZT"), 2);
    assert_int_equal(iso20022_currency_minor_units("BHD"), 3);
    assert_int_equal(iso20022_currency_minor_units("CLF"), 4);
    assert_int_equal(iso20022_currency_minor_units("XAU"), -1); /* no minor unit */
    assert_int_equal(iso20022_currency_minor_units("XYZ"), -1);
    assert_int_equal(iso20022_currency_minor_units("KZ"), -1);
    /* The engine's table agrees with ISO 4217 on every currency it settles. */
    const char *const engine[] = {"CNY", "KZT", "KGS", "UZS", "TJS", "TMT", "RUB", "USD",
                                  "EUR", "GBP", "JPY", "CHF", "HKD", "SGD", "KRW", "INR",
                                  "TRY", "AZN", "GEL", "AMD", "BYN", "MNT", "AFN", "IRR",
                                  "PKR", "AED", "SAR", "BHD", "KWD", "OMR"};
    for (size_t index = 0; index < ARRAY_COUNT(engine); index++) {
        const struct khorgos_currency *currency = khorgos_currency_by_letters(engine[index]);
        assert_non_null(currency);
        assert_int_equal(iso20022_currency_minor_units(engine[index]), currency->minor_units);
        assert_int_equal(iso20022_currency_numeric(engine[index]), currency->numeric);
    }
    u32 date = 0;
    assert_true(iso20022_date_parse("2024-02-29", 10, &date) && date == 20240229);
    assert_false(iso20022_date_parse("2023-02-29", 10, &date));
    assert_false(iso20022_date_parse("2023-13-01", 10, &date));
    assert_false(iso20022_date_parse("2023-5-19", 9, &date));
}

static u64 monotonic_ns(void) { return base_clock_monotonic_ns(); }

/* A billion-laughs document ten times deeper than the classic one, built here: refused at its
 * DOCTYPE, in far less than a second. */
static void test_entity_expansion_refused_in_bounded_time(void **state) {
    (void)state;
    static char text[64 * 1024];
    size_t length = (size_t)snprintf(text, sizeof(text),
                                     "<?xml version=\"1.0\"?>\n<!DOCTYPE d [<!ENTITY a0 \"ha\">");
    for (u32 level = 1; level < 100; level++) {
        length += (size_t)snprintf(text + length, sizeof(text) - length, "<!ENTITY a%u \"", level);
        for (u32 copy = 0; copy < 10; copy++) {
            length += (size_t)snprintf(text + length, sizeof(text) - length, "&a%u;", level - 1);
        }
        length += (size_t)snprintf(text + length, sizeof(text) - length, "\">");
    }
    length += (size_t)snprintf(text + length, sizeof(text) - length,
                               "]><d>&a99;</d>");
    assert_true(length < sizeof(text));
    u64 start_ns = monotonic_ns();
    iso20022_read((const u8 *)text, length, &lookup, &message_buffer);
    u64 elapsed_ns = monotonic_ns() - start_ns;
    assert_int_equal(message_buffer.reason, ISO20022_REASON_FF01);
    assert_true(elapsed_ns < 100000000ull); /* 0.1 s; it is microseconds */
    assert_non_null(strstr(message_buffer.reason_detail, "DOCTYPE"));
}

static void test_size_cap(void **state) {
    (void)state;
    size_t size = 0;
    u8 *bytes = file_read("pacs008_v08.xml", &size);
    u8 *big = malloc(ISO20022_MESSAGE_BYTES_MAX + 1);
    assert_non_null(big);
    memcpy(big, bytes, size);
    memset(big + size, ' ', ISO20022_MESSAGE_BYTES_MAX + 1 - size); /* trailing white space */
    iso20022_read(big, ISO20022_MESSAGE_BYTES_MAX, &lookup, &message_buffer);
    assert_int_equal(message_buffer.reason, ISO20022_REASON_NONE); /* at the cap: taken */
    iso20022_read(big, ISO20022_MESSAGE_BYTES_MAX + 1, &lookup, &message_buffer);
    assert_int_equal(message_buffer.reason, ISO20022_REASON_FF01); /* one byte over */
    assert_non_null(strstr(message_buffer.reason_detail, "too large"));
    iso20022_read(bytes, 0, &lookup, &message_buffer);
    assert_int_equal(message_buffer.reason, ISO20022_REASON_FF01);
    bytes[size / 2] = 0; /* a NUL is not UTF-8 text */
    iso20022_read(bytes, size, &lookup, &message_buffer);
    assert_int_equal(message_buffer.reason, ISO20022_REASON_FF01);
    free(big);
    free(bytes);
}

static void test_without_lookup_participants_are_not_checked(void **state) {
    (void)state;
    size_t size = 0;
    u8 *bytes = file_read("participant_unknown.xml", &size);
    iso20022_read(bytes, size, NULL, &message_buffer);
    assert_int_equal(message_buffer.reason, ISO20022_REASON_NONE);
    free(bytes);
    bytes = file_read("agent_without_bic.xml", &size);
    iso20022_read(bytes, size, NULL, &message_buffer); /* no BICFI is never a participant */
    assert_int_equal(message_buffer.reason, ISO20022_REASON_RC01);
    free(bytes);
    const struct iso20022_message *message = read_file("duplicate_same_body.xml");
    assert_true(message->resubmission);
    message = read_file("amount_zero_second.xml");
    assert_int_equal(message->reason_transaction, 2); /* the group is refused for it */
}

static void fill_status(struct iso20022_transaction_status *status, enum iso20022_status code,
                        enum iso20022_reason reason, const char *info) {
    memset(status, 0, sizeof(*status));
    status->status = code;
    status->reason = reason;
    snprintf(status->additional_info, sizeof(status->additional_info), "%s", info);
    snprintf(status->original_end_to_end_id, ISO20022_TEXT_SIZE, "INV<1>&'\"");
    snprintf(status->original_uetr, sizeof(status->original_uetr),
             "e7985fdc-04da-494d-9f89-cc9502ea84bb");
}

static void test_pacs002_statuses_round_trip(void **state) {
    (void)state;
    struct iso20022_report *report = &report_buffer;
    memset(report, 0, sizeof(*report));
    report->type = ISO20022_MESSAGE_PACS_002;
    report->created_ns = 1684454400000000000ull; /* 2023-05-19T00:00:00Z */
    snprintf(report->message_id, ISO20022_TEXT_SIZE, "KHORGOS-1");
    snprintf(report->original_message_id, ISO20022_TEXT_SIZE, "HSBK20230519-0001");
    snprintf(report->original_message_name, ISO20022_TEXT_SIZE, "pacs.008.001.08");
    snprintf(report->from, ISO20022_BIC_SIZE, "NBRKKZKX");
    report->group_status = ISO20022_STATUS_RJCT;
    report->group_reason = ISO20022_REASON_NARR;
    snprintf(report->group_additional_info, ISO20022_INFO_BYTES_MAX + 1, "settle_by_passed");
    report->transaction_count = 4;
    fill_status(&report->transactions[0], ISO20022_STATUS_ACSC, ISO20022_REASON_NONE, "");
    fill_status(&report->transactions[1], ISO20022_STATUS_ACSP, ISO20022_REASON_NONE, "");
    fill_status(&report->transactions[2], ISO20022_STATUS_PDNG, ISO20022_REASON_NONE, "");
    fill_status(&report->transactions[3], ISO20022_STATUS_RJCT, ISO20022_REASON_NARR,
                "quote_unavailable");
    size_t length = iso20022_write_report(report, reply, sizeof(reply));
    assert_true(length > 0);
    assert_non_null(strstr(reply, "xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10\""));
    assert_non_null(strstr(reply, "<CreDtTm>2023-05-19T00:00:00.000+00:00</CreDtTm>"));
    assert_non_null(strstr(reply, "<StsRsnInf><Rsn><Cd>NARR</Cd></Rsn>"
                                  "<AddtlInf>quote_unavailable</AddtlInf></StsRsnInf>"));
    assert_non_null(strstr(reply, "INV&lt;1&gt;&amp;&apos;&quot;"));
    enum iso20022_reason reason = ISO20022_REASON_NONE;
    assert_true(iso20022_read_report((const u8 *)reply, length, &report_read_buffer, &reason));
    const struct iso20022_report *back = &report_read_buffer;
    assert_true(back->created_ns == report->created_ns);
    assert_string_equal(back->from, "NBRKKZKX");
    assert_string_equal(back->group_additional_info, "settle_by_passed");
    for (u32 index = 0; index < 4; index++) {
        assert_int_equal(back->transactions[index].status, report->transactions[index].status);
        assert_string_equal(back->transactions[index].original_end_to_end_id, "INV<1>&'\"");
    }
    assert_string_equal(back->transactions[3].additional_info, "quote_unavailable");
    assert_int_equal(iso20022_write_report(report, reply, 100), 0); /* too small: nothing */
    assert_string_equal(reply, "");
    /* A reply is not a message the gateway takes: FF01 naming it. */
    length = iso20022_write_report(report, reply, sizeof(reply));
    iso20022_read((const u8 *)reply, length, &lookup, &message_buffer);
    assert_int_equal(message_buffer.reason, ISO20022_REASON_FF01);
    assert_string_equal(message_buffer.name, "pacs.002.001.10");
}

static void test_camt029_round_trip(void **state) {
    (void)state;
    const struct iso20022_message *message = read_file("camt056_v08.xml");
    struct iso20022_report *report = &report_buffer;
    iso20022_report_from_message(message, ISO20022_STATUS_ACSC, report);
    assert_int_equal(report->type, ISO20022_MESSAGE_CAMT_029);
    snprintf(report->message_id, ISO20022_TEXT_SIZE, "KHORGOS-CXL-1");
    report->created_ns = 1684494000000000000ull;
    size_t length = iso20022_write_report(report, reply, sizeof(reply));
    assert_true(length > 0);
    assert_non_null(strstr(reply, "camt.029.001.09"));
    assert_non_null(strstr(reply, "<Sts><Conf>CNCL</Conf></Sts>"));
    assert_non_null(strstr(reply, "<TxCxlSts>ACCR</TxCxlSts>"));
    assert_non_null(strstr(reply, "<OrgnlTxId>HSBK-TX-0001</OrgnlTxId>"));
    enum iso20022_reason reason = ISO20022_REASON_NONE;
    assert_true(iso20022_read_report((const u8 *)reply, length, &report_read_buffer, &reason));
    assert_int_equal(report_read_buffer.group_status, ISO20022_STATUS_ACSC);
    assert_string_equal(report_read_buffer.from, "NBRKKZKX");
    assert_string_equal(report_read_buffer.to, "HSBKKZKX");
    const enum iso20022_reason refusals[] = {ISO20022_REASON_ARDT, ISO20022_REASON_NOOR};
    for (u32 index = 0; index < ARRAY_COUNT(refusals); index++) {
        report->group_status = ISO20022_STATUS_RJCT;
        report->transactions[0].status = ISO20022_STATUS_RJCT;
        report->transactions[0].reason = refusals[index];
        length = iso20022_write_report(report, reply, sizeof(reply));
        assert_non_null(strstr(reply, "<Sts><Conf>RJCR</Conf></Sts>"));
        assert_non_null(strstr(reply, "<TxCxlSts>RJCR</TxCxlSts>"));
        assert_true(iso20022_read_report((const u8 *)reply, length, &report_read_buffer,
                                         &reason));
        assert_int_equal(report_read_buffer.transactions[0].reason, refusals[index]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_matches_its_manifest),
        cmocka_unit_test(test_pacs008_fields),
        cmocka_unit_test(test_header_and_older_versions),
        cmocka_unit_test(test_pacs009_fields),
        cmocka_unit_test(test_pacs004_and_camt056_fields),
        cmocka_unit_test(test_payment_id_derivation),
        cmocka_unit_test(test_iban_check_digits),
        cmocka_unit_test(test_bic_pattern),
        cmocka_unit_test(test_uetr_pattern),
        cmocka_unit_test(test_decimals_and_currencies),
        cmocka_unit_test(test_entity_expansion_refused_in_bounded_time),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_without_lookup_participants_are_not_checked),
        cmocka_unit_test(test_pacs002_statuses_round_trip),
        cmocka_unit_test(test_camt029_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
