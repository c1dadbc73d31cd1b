/*
 * sim_payments_csv.c: an operator's own day of payments, read from CSV (`--payments FILE.csv`),
 * so a real day can be replayed instead of the generated one.
 *
 * Format
 *   - UTF-8 text, one record a line, fields separated by commas, no quoting (no field of this
 *     format can contain a comma or a quote; a quote is refused). Lines may end in CRLF; blank
 *     lines are ignored.
 *   - Line 1 is a header naming the columns, in any order. Required: id, debtor, creditor,
 *     currency, amount. Optional: creditor_currency (default: currency), type (customer |
 *     interbank, default customer), priority (urgent | high | normal, default normal),
 *     submitted_at (whole seconds since the opening, default 0), settlement (gross | net,
 *     default gross), end_to_end_id (up to 35 characters; checked, not kept), kind (trade |
 *     money_market | fx | securities | other, default other). An unknown or repeated column
 *     refuses the file.
 *   - id: an integer 1 .. 4294967295, unique in the file (kept as the payment's id);
 *     debtor, creditor: BICs of the scenario (8 or 11 characters; BIC8 means branch XXX), two
 *     different ones; currency letters of the scenario; amount: a decimal in the currency's
 *     major unit, positive, with at most its minor units of decimals; submitted_at before the
 *     day's close.
 *   - An empty optional field takes its default.
 *
 * A bad row is reported (line number and reason) and skipped, or, when strict, refuses the file.
 * The day is then sorted by (submitted_at, id); its payments have pair SIM_PAIR_NONE.
 */
#include "sim/sim.h"

#include <stdlib.h>

enum column {
    COLUMN_ID, COLUMN_DEBTOR, COLUMN_CREDITOR, COLUMN_CURRENCY, COLUMN_AMOUNT,
    COLUMN_CREDITOR_CURRENCY, COLUMN_TYPE, COLUMN_PRIORITY, COLUMN_SUBMITTED_AT,
    COLUMN_SETTLEMENT, COLUMN_END_TO_END_ID, COLUMN_KIND, COLUMN_COUNT,
};
static const char *const column_names[COLUMN_COUNT] = {
    "id", "debtor", "creditor", "currency", "amount", "creditor_currency", "type", "priority",
    "submitted_at", "settlement", "end_to_end_id", "kind",
};
#define COLUMN_REQUIRED_COUNT 5u
/* Fields in one line: the columns, and a little room to report "too many fields". */
#define FIELD_COUNT_MAX (COLUMN_COUNT + 1u)
/* ISO 20022's end-to-end identification is Max35Text. */
#define END_TO_END_ID_BYTES_MAX 35u

struct fields {
    u32 count;
    const char *start[FIELD_COUNT_MAX];
    u32 length[FIELD_COUNT_MAX];
};

/* Splits one line at commas; false when it has more than FIELD_COUNT_MAX fields. */
static bool fields_split(const char *line, size_t length, struct fields *fields) {
    ASSERT(line != NULL || length == 0);
    ASSERT(fields != NULL);
    fields->count = 0;
    size_t start = 0;
    for (size_t index = 0; index <= length; index++) {
        if (index < length && line[index] != ',') continue;
        if (fields->count == FIELD_COUNT_MAX) return false;
        fields->start[fields->count] = line + start;
        fields->length[fields->count++] = (u32)(index - start);
        start = index + 1;
    }
    return true;
}

static bool field_is(const struct fields *fields, u32 index, const char *text) {
    ASSERT(index < fields->count && text != NULL);
    size_t length = strlen(text);
    return fields->length[index] == length && memcmp(fields->start[index], text, length) == 0;
}

/* The header: which field holds each column (U32_MAX: absent). NULL, or why it is refused. */
static const char *header_parse(const struct fields *fields, u32 *column_field) {
    ASSERT(fields->count <= FIELD_COUNT_MAX);
    for (u32 column = 0; column < COLUMN_COUNT; column++) column_field[column] = U32_MAX;
    for (u32 field = 0; field < fields->count; field++) {
        u32 column = 0;
        while (column < COLUMN_COUNT && !field_is(fields, field, column_names[column])) column++;
        if (column == COLUMN_COUNT) return "unknown column in the header";
        if (column_field[column] != U32_MAX) return "column named twice in the header";
        column_field[column] = field;
    }
    for (u32 column = 0; column < COLUMN_REQUIRED_COUNT; column++) {
        if (column_field[column] == U32_MAX) return "header lacks a required column";
    }
    return NULL;
}

struct row_context {
    const struct sim_scenario *scenario;
    const u32 *column_field;
    const struct fields *fields;
    u32 close_seconds;
};

/* The text of a column in this row; length 0 when the column is absent or the field empty. */
static const char *row_field(const struct row_context *row, u32 column, u32 *length) {
    ASSERT(column < COLUMN_COUNT);
    ASSERT(length != NULL);
    u32 field = row->column_field[column];
    if (field == U32_MAX || field >= row->fields->count) {
        *length = 0;
        return "";
    }
    *length = row->fields->length[field];
    return row->fields->start[field];
}

static int row_bank(const struct row_context *row, u32 column) {
    u32 length = 0;
    const char *text = row_field(row, column, &length);
    char bic[12];
    if (!sim_bic_valid(text, length)) return -1;
    memcpy(bic, text, length);
    if (length == 8) memcpy(bic + 8, "XXX", 3);
    bic[11] = '\0';
    ASSERT(strlen(bic) == 11);
    return sim_scenario_bank_find(row->scenario, bic);
}

static int row_currency(const struct row_context *row, u32 column) {
    u32 length = 0;
    const char *text = row_field(row, column, &length);
    char letters[4];
    if (length != 3) return -1;
    memcpy(letters, text, 3);
    letters[3] = '\0';
    return sim_scenario_currency_find(row->scenario, letters);
}

/* An optional keyword column: the index of the matching name, the default when empty, -1 when
 * it matches none. */
static int row_keyword(const struct row_context *row, u32 column, const char *const *names,
                       u32 name_count, int fallback) {
    u32 length = 0;
    const char *text = row_field(row, column, &length);
    if (length == 0) return fallback;
    for (u32 index = 0; index < name_count; index++) {
        if (strlen(names[index]) == length && memcmp(names[index], text, length) == 0) {
            return (int)index;
        }
    }
    return -1;
}

static const char *row_identity(const struct row_context *row, struct sim_payment *payment) {
    u32 length = 0;
    const char *text = row_field(row, COLUMN_ID, &length);
    u64 id = 0;
    if (sim_decimal_parse(text, length, 0, &id) != 0 || id == 0 || id > U32_MAX) {
        return "id must be an integer 1..4294967295";
    }
    int debtor = row_bank(row, COLUMN_DEBTOR), creditor = row_bank(row, COLUMN_CREDITOR);
    if (debtor < 0 || creditor < 0) return "debtor and creditor must be BICs of the scenario";
    if (debtor == creditor) return "debtor and creditor must differ";
    payment->id = (u32)id;
    payment->debtor = (u16)debtor;
    payment->creditor = (u16)creditor;
    return NULL;
}

static const char *row_money(const struct row_context *row, struct sim_payment *payment) {
    int currency = row_currency(row, COLUMN_CURRENCY);
    if (currency < 0) return "currency must be one of the scenario's";
    u32 length = 0;
    row_field(row, COLUMN_CREDITOR_CURRENCY, &length);
    int creditor_currency = length == 0 ? currency : row_currency(row, COLUMN_CREDITOR_CURRENCY);
    if (creditor_currency < 0) return "creditor_currency must be one of the scenario's";
    const char *text = row_field(row, COLUMN_AMOUNT, &length);
    u128 amount = 0;
    u8 minor_units = row->scenario->currencies[currency].minor_units;
    if (khorgos_amount_parse(text, length, minor_units, &amount) != 0 || amount == 0 ||
        amount > SIM_AMOUNT_MAX) {
        return "amount must be a positive decimal with at most the currency's decimals";
    }
    payment->amount = amount;
    payment->currency = (u8)currency;
    payment->creditor_currency = (u8)creditor_currency;
    return NULL;
}

static const char *row_options(const struct row_context *row, struct sim_payment *payment) {
    static const char *const types[] = {"customer", "interbank"};
    static const char *const priorities[] = {"urgent", "high", "normal"};
    static const char *const settlements[] = {"gross", "net"};
    int type = row_keyword(row, COLUMN_TYPE, types, 2, SIM_PAYMENT_CUSTOMER);
    int priority = row_keyword(row, COLUMN_PRIORITY, priorities, 3, SIM_PRIORITY_NORMAL);
    int settlement = row_keyword(row, COLUMN_SETTLEMENT, settlements, 2, SIM_SETTLEMENT_GROSS);
    if (type < 0) return "type must be customer or interbank";
    if (priority < 0) return "priority must be urgent, high or normal";
    if (settlement < 0) return "settlement must be gross or net";
    u32 length = 0;
    const char *text = row_field(row, COLUMN_SUBMITTED_AT, &length);
    u64 submitted_at = 0;
    if (length > 0 && (sim_decimal_parse(text, length, 0, &submitted_at) != 0 ||
                       submitted_at >= row->close_seconds)) {
        return "submitted_at must be whole seconds since the opening, before the close";
    }
    row_field(row, COLUMN_END_TO_END_ID, &length);
    if (length > END_TO_END_ID_BYTES_MAX) return "end_to_end_id longer than 35 characters";
    text = row_field(row, COLUMN_KIND, &length);
    int kind = length == 0 ? SIM_KIND_OTHER : sim_kind_parse(text, length);
    if (kind < 0) return "kind must be trade, money_market, fx, securities or other";
    payment->kind = (u8)kind;
    payment->type = (u8)type;
    payment->priority = (u8)priority;
    payment->settlement = (u8)settlement;
    payment->submitted_at = (u32)submitted_at;
    return NULL;
}

static const char *row_parse(const struct row_context *row, struct sim_payment *payment) {
    ASSERT(row != NULL && payment != NULL);
    memset(payment, 0, sizeof(*payment));
    payment->pair = SIM_PAIR_NONE;
    for (u32 field = 0; field < row->fields->count; field++) {
        if (memchr(row->fields->start[field], '"', row->fields->length[field]) != NULL) {
            return "quotes are not part of this format";
        }
    }
    const char *problem = row_identity(row, payment);
    if (problem == NULL) problem = row_money(row, payment);
    if (problem == NULL) problem = row_options(row, payment);
    return problem;
}

/* ----------------------------------------------------------------------------------------- */
/* The file.                                                                                  */

/* The next line from *position: its start and length without the line end. */
static const char *line_next(const char *text, size_t length, size_t *position,
                             size_t *line_length) {
    ASSERT(*position < length);
    const char *line = text + *position;
    const char *newline = memchr(line, '\n', length - *position);
    size_t end = newline != NULL ? (size_t)(newline - text) : length;
    *line_length = end - *position;
    if (*line_length > 0 && line[*line_length - 1] == '\r') (*line_length)--;
    *position = end + 1;
    ASSERT(*line_length <= length);
    return line;
}

static bool line_blank(const char *line, size_t length) {
    ASSERT(line != NULL || length == 0);
    for (size_t index = 0; index < length; index++) {
        if (line[index] != ' ' && line[index] != '\t') return false;
    }
    return true;
}

u32 sim_payments_csv_count(const char *text, size_t length) {
    ASSERT(text != NULL || length == 0);
    u64 lines = 0;
    size_t position = 0, line_length = 0;
    while (position < length) {
        const char *line = line_next(text, length, &position, &line_length);
        if (!line_blank(line, line_length)) lines++;
    }
    ASSERT(lines <= length);
    return lines == 0 ? 0 : (u32)MIN(lines - 1, (u64)U32_MAX);
}

static int payment_order(const void *left, const void *right) {
    const struct sim_payment *a = left, *b = right;
    if (a->submitted_at != b->submitted_at) return a->submitted_at < b->submitted_at ? -1 : 1;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return 0;
}

struct csv_reader {
    const struct sim_scenario *scenario;
    struct sim_day *day;
    struct sim_scenario_errors *errors;
    struct base_id_map ids;
    u32 column_field[COLUMN_COUNT];
    u32 header_field_count;
    bool header_seen;
};

/* One non-blank line; false when the file must be refused (a bad header). */
static bool csv_line(struct csv_reader *reader, u32 line_number, const char *line,
                     size_t length) {
    struct fields fields;
    bool split = fields_split(line, length, &fields);
    if (!reader->header_seen) {
        const char *problem = split ? header_parse(&fields, reader->column_field)
                                    : "too many columns in the header";
        if (problem != NULL) sim_error_add(reader->errors, line_number, "%s", problem);
        reader->header_seen = true;
        reader->header_field_count = fields.count;
        return problem == NULL;
    }
    if (!split || fields.count != reader->header_field_count) {
        sim_error_add(reader->errors, line_number, "expected %u fields, as the header has",
                      reader->header_field_count);
        return true;
    }
    struct row_context row = {reader->scenario, reader->column_field, &fields,
                              reader->scenario->day_close_seconds -
                                  reader->scenario->day_open_seconds};
    struct sim_day *day = reader->day;
    ASSERT(day->count < day->count_max);
    struct sim_payment *payment = &day->payments[day->count];
    const char *problem = row_parse(&row, payment);
    u32 existing = 0;
    if (problem == NULL && base_id_map_get(&reader->ids, payment->id, &existing)) {
        problem = "id already used on an earlier line";
    }
    if (problem != NULL) {
        sim_error_add(reader->errors, line_number, "%s", problem);
        return true;
    }
    base_id_map_insert(&reader->ids, payment->id, day->count);
    day->count++;
    return true;
}

khorgos_error sim_payments_csv_parse(const struct sim_scenario *scenario, const char *text,
                                     size_t length, bool strict, struct sim_day *day,
                                     struct sim_scenario_errors *errors) {
    ASSERT(scenario != NULL && day != NULL && errors != NULL);
    ASSERT(text != NULL || length == 0);
    memset(errors, 0, sizeof(*errors));
    day->count = 0;
    u32 rows = sim_payments_csv_count(text, length);
    if (rows > day->count_max || rows > SIM_PAYMENT_COUNT_MAX) return KHORGOS_ERROR_capacity_full;
    struct csv_reader reader = {.scenario = scenario, .day = day, .errors = errors};
    if (base_id_map_init(&reader.ids, MAX(rows, 1u)) != KHORGOS_ERROR_ok) {
        return KHORGOS_ERROR_out_of_memory;
    }
    khorgos_error error = KHORGOS_ERROR_ok;
    size_t position = 0, line_length = 0;
    u32 line_number = 0;
    while (position < length) {
        const char *line = line_next(text, length, &position, &line_length);
        line_number++;
        if (line_blank(line, line_length)) continue;
        if (!csv_line(&reader, line_number, line, line_length)) {
            error = KHORGOS_ERROR_invalid_argument;
            goto free_ids;
        }
    }
    if (!reader.header_seen) {
        sim_error_add(errors, 0, "the file has no header line");
        error = KHORGOS_ERROR_invalid_argument;
    }
    if (strict && errors->count > 0) error = KHORGOS_ERROR_invalid_argument;
free_ids:
    base_id_map_deinit(&reader.ids);
    if (error != KHORGOS_ERROR_ok) {
        day->count = 0;
        return error;
    }
    qsort(day->payments, day->count, sizeof(struct sim_payment), payment_order);
    day->seed = 0;
    day->scale_per_mille = 1000;
    day->close_seconds = scenario->day_close_seconds - scenario->day_open_seconds;
    day->customer_cutoff_seconds = scenario->customer_cutoff_seconds - scenario->day_open_seconds;
    day->interbank_cutoff_seconds = scenario->interbank_cutoff_seconds - scenario->day_open_seconds;
    ASSERT(day->count <= rows);
    return KHORGOS_ERROR_ok;
}
