/* test_sim_payments_csv.c: reading an operator's day from CSV: every column and its default,
 * sorting by submission, bad rows reported by line number and skipped (or the file refused
 * when strict), bad headers refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/sim.h"

static struct sim_scenario scenario;
static struct sim_day day;

static int setup(void **state) {
    (void)state;
    sim_scenario_default(&scenario);
    return sim_day_init(&day, 16) == KHORGOS_ERROR_ok ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    sim_day_deinit(&day);
    return 0;
}

static khorgos_error parse(const char *text, bool strict, struct sim_scenario_errors *errors) {
    return sim_payments_csv_parse(&scenario, text, strlen(text), strict, &day, errors);
}

static void test_columns_defaults_and_order(void **state) {
    (void)state;
    const char *text =
        "amount,currency,creditor,debtor,id,submitted_at,priority,type,settlement,"
        "creditor_currency,end_to_end_id\r\n"
        "1234.5,CNY,BKAACNBJ,BKAAKZKAXXX,7,600,high,interbank,net,,E2E-1\r\n"
        "\n"
        "10,KZT,BKABCNBJXXX,BKABKZKAXXX,3,600,,,,CNY,\n"
        "0.01,USD,BKAARUMMXXX,BKAAUZTAXXX,9,0,urgent,customer,gross,RUB,\n";
    struct sim_scenario_errors errors;
    assert_int_equal(sim_payments_csv_count(text, strlen(text)), 3);
    assert_int_equal(parse(text, true, &errors), KHORGOS_ERROR_ok);
    assert_int_equal(errors.count, 0);
    assert_int_equal(day.count, 3);
    /* Sorted by submission, then id: 9 at 0, then 3 and 7 at 600. */
    assert_int_equal(day.payments[0].id, 9);
    assert_int_equal(day.payments[1].id, 3);
    assert_int_equal(day.payments[2].id, 7);
    const struct sim_payment *first = &day.payments[2];
    assert_true(first->amount == 123450);
    assert_int_equal(first->currency, sim_scenario_currency_find(&scenario, "CNY"));
    assert_int_equal(first->creditor_currency, first->currency); /* default: the same */
    assert_int_equal(first->debtor, sim_scenario_bank_find(&scenario, "BKAAKZKAXXX"));
    assert_int_equal(first->creditor, sim_scenario_bank_find(&scenario, "BKAACNBJXXX"));
    assert_int_equal(first->priority, SIM_PRIORITY_HIGH);
    assert_int_equal(first->type, SIM_PAYMENT_INTERBANK);
    assert_int_equal(first->settlement, SIM_SETTLEMENT_NET);
    assert_int_equal(first->submitted_at, 600);
    assert_int_equal(first->pair, SIM_PAIR_NONE);
    const struct sim_payment *second = &day.payments[1];
    assert_int_equal(second->priority, SIM_PRIORITY_NORMAL);
    assert_int_equal(second->type, SIM_PAYMENT_CUSTOMER);
    assert_int_equal(second->settlement, SIM_SETTLEMENT_GROSS);
    assert_int_equal(second->creditor_currency, sim_scenario_currency_find(&scenario, "CNY"));
    assert_int_equal(day.payments[0].priority, SIM_PRIORITY_URGENT);
    assert_true(day.payments[0].amount == 1);
    assert_int_equal(day.close_seconds, 9 * 3600);
}

static void test_bad_rows_are_reported_and_skipped(void **state) {
    (void)state;
    const char *text = "id,debtor,creditor,currency,amount,submitted_at\n"  /* 1 */
                       "1,BKAAKZKAXXX,BKAACNBJXXX,CNY,100,0\n"               /* 2 good */
                       "2,BKAAKZKAXXX,BKAACNBJXXX,CNY,100.001,0\n"           /* 3 decimals */
                       "3,BKAAKZKAXXX,BKAAKZKAXXX,CNY,100,0\n"               /* 4 same bank */
                       "1,BKAAKZKAXXX,BKAACNBJXXX,CNY,100,0\n"               /* 5 duplicate */
                       "4,BKZZKZKAXXX,BKAACNBJXXX,CNY,100,0\n"               /* 6 unknown BIC */
                       "5,BKAAKZKAXXX,BKAACNBJXXX,EUR,100,0\n"               /* 7 currency */
                       "6,BKAAKZKAXXX,BKAACNBJXXX,CNY,0,0\n"                 /* 8 zero */
                       "7,BKAAKZKAXXX,BKAACNBJXXX,CNY,100,32400\n"           /* 9 at close */
                       "8,BKAAKZKAXXX,BKAACNBJXXX,CNY,100\n"                 /* 10 short */
                       "9,BKAAKZKAXXX,BKAACNBJXXX,\"CNY\",100,0\n"           /* 11 quote */
                       "0,BKAAKZKAXXX,BKAACNBJXXX,CNY,100,0\n"               /* 12 id 0 */
                       "10,BKAAKZKAXXX,BKAACNBJXXX,CNY,-5,0\n"               /* 13 negative */
                       "11,BKAAKZKAXXX,BKAACNBJXXX,CNY,5,10\n";              /* 14 good */
    struct sim_scenario_errors errors;
    assert_int_equal(parse(text, false, &errors), KHORGOS_ERROR_ok);
    assert_int_equal(day.count, 2);
    assert_int_equal(day.payments[0].id, 1);
    assert_int_equal(day.payments[1].id, 11);
    const u32 lines[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    assert_int_equal(errors.count, ARRAY_COUNT(lines));
    for (u32 index = 0; index < ARRAY_COUNT(lines); index++) {
        assert_int_equal(errors.errors[index].line, lines[index]);
    }
    assert_non_null(strstr(errors.errors[2].message, "id already used"));
    /* Strict: the same file is refused whole. */
    assert_int_equal(parse(text, true, &errors), KHORGOS_ERROR_invalid_argument);
    assert_int_equal(day.count, 0);
    assert_int_equal(errors.count, ARRAY_COUNT(lines));
}

static void test_bad_headers_refuse_the_file(void **state) {
    (void)state;
    struct sim_scenario_errors errors;
    const char *missing = "id,debtor,creditor,currency\n1,BKAAKZKAXXX,BKAACNBJXXX,CNY\n";
    assert_int_equal(parse(missing, false, &errors), KHORGOS_ERROR_invalid_argument);
    assert_int_equal(errors.count, 1);
    assert_int_equal(errors.errors[0].line, 1);
    const char *unknown = "\nid,debtor,creditor,currency,amount,colour\n";
    assert_int_equal(parse(unknown, false, &errors), KHORGOS_ERROR_invalid_argument);
    assert_int_equal(errors.errors[0].line, 2);
    const char *twice = "id,debtor,creditor,currency,amount,id\n";
    assert_int_equal(parse(twice, false, &errors), KHORGOS_ERROR_invalid_argument);
    assert_non_null(strstr(errors.errors[0].message, "twice"));
    assert_int_equal(parse("", false, &errors), KHORGOS_ERROR_invalid_argument);
    assert_int_equal(errors.errors[0].line, 0);
    assert_int_equal(day.count, 0);
    /* More rows than the day holds. */
    char many[4096] = "id,debtor,creditor,currency,amount\n";
    for (u32 id = 1; id <= 17; id++) {
        char row[64];
        snprintf(row, sizeof(row), "%u,BKAAKZKAXXX,BKAACNBJXXX,CNY,1\n", id);
        strcat(many, row);
    }
    assert_int_equal(parse(many, false, &errors), KHORGOS_ERROR_capacity_full);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns_defaults_and_order),
        cmocka_unit_test(test_bad_rows_are_reported_and_skipped),
        cmocka_unit_test(test_bad_headers_refuse_the_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
