/*
 * iso20022: the gateway's message layer. It reads ISO 20022 messages (pacs.008, pacs.009,
 * pacs.004, camt.056) from untrusted bytes into fixed-size structs, checks them in a fixed
 * order with the ISO external reason code each failure gets, and writes the replies (pacs.002,
 * camt.029, camt.053, camt.054). It sits above the engine and below cli: the engine and its
 * journal never see XML, and nothing below this layer calls it (replay never calls libxml2).
 * docs/iso20022.md has the mapping, the checks, the gateway and the safety rules.
 *
 * Files of this layer
 *   iso20022_xml.c     the safe parse with libxml2 (size, depth, no DTD, UTF-8 only) and the
 *                      tree helpers (one child by name, its text, an attribute)
 *   iso20022_check.c   the patterns and tables: BIC, IBAN with mod-97, UETR (UUID v4), the
 *                      ISO 4217 minor units of every active code, decimals, dates
 *   iso20022_read.c    the envelope (Document, or AppHdr then Document), the namespace that
 *                      names message and version, amounts and agents
 *   iso20022_fields.c  the fields of each message type (FF01 for structure and patterns)
 *   iso20022_rules.c   the checks after structure, in their order, and the payment ids
 *   iso20022_write.c   pacs.002 and camt.029 out, and their reading back
 *   iso20022_gateway.c the gateway over the engine: khorgos_submit_message (the C interface
 *                      is include/khorgos_iso20022.h)
 *   iso20022_statement.c  camt.053 and camt.054 out: khorgos_get_statement
 *   iso20022_private.h what these files share (libxml2 is included there only)
 *
 * Safety. Input is refused (FF01) before or while parsing when it is larger than
 * ISO20022_MESSAGE_BYTES_MAX, is not UTF-8, declares another encoding, has a DOCTYPE (so no
 * entity is ever declared, and no DTD or entity is loaded: libxml2 runs with XML_PARSE_NONET
 * and without XML_PARSE_NOENT, XML_PARSE_DTDLOAD and XML_PARSE_HUGE), or nests elements
 * deeper than ISO20022_DEPTH_MAX. The parse stops at the DOCTYPE's name, before an internal
 * subset is read, so an entity-expansion document costs one pass over its bytes at most.
 *
 * Outcome. A read ends with a reason: ISO20022_REASON_NONE (accepted: the layer above may
 * submit its payments) or the first failure in this order (the enum's order): structure and
 * patterns FF01, IBAN check digits AC01, decimals AM12, sums AM10, NbOfTxs AM18, currency not
 * settled here AM03, zero amount AM01, participants RC01/AC06, duplicate DUPL. One failure
 * rejects the whole group: no transaction of a rejected message is submitted.
 *
 * Participants and duplicates need the engine; the layer above supplies them through
 * struct iso20022_lookup (NULL: those two checks are skipped).
 */
#ifndef KHORGOS_ISO20022_H
#define KHORGOS_ISO20022_H

#include "base/base.h"

/* ----------------------------------------------------------------------------------------- */
/* Limits, each with its reason.                                                              */

/* Transactions of one message: CBPR+ and T2 RTGS carry exactly one per pacs.008, pacs.009 and
 * pacs.004; 64 leaves room for small batches while the fixed-size model stays under 128 KiB.
 * More is refused FF01 (a cardinality this gateway does not take). */
#define ISO20022_TRANSACTION_COUNT_MAX 64u
/* Bytes of one message: a fully populated CdtTrfTxInf (addresses, remittance, regulatory
 * reporting, an underlying customer transfer) is under 8 KiB of XML, so 64 of them with the
 * headers fit in 1 MiB; the cap bounds libxml2's time and memory for hostile input. */
#define ISO20022_MESSAGE_BYTES_MAX (1u << 20)
/* Element nesting: the deepest path of the accepted messages (an underlying customer transfer's
 * structured remittance inside a pacs.009 COV, inside an envelope) is about 14 levels; 32 is
 * room without letting a hostile document build a deep tree (libxml2's own cap is 256). */
#define ISO20022_DEPTH_MAX 32u
/* Text fields: ISO 20022's Max35Text (MsgId, InstrId, EndToEndId, TxId, CxlId, RtrId). */
#define ISO20022_TEXT_BYTES_MAX 35u
/* AddtlInf is Max105Text. */
#define ISO20022_INFO_BYTES_MAX 105u
/* A message name as "pacs.008.001.08", or for an unknown namespace its text, cut to this. */
#define ISO20022_NAME_BYTES_MAX 35u
/* A UETR as text: 8-4-4-4-12 hex digits. */
#define ISO20022_UETR_TEXT_BYTES 36u
/* An XchgRate (BaseOneRate: 11 digits, a point) carried as written. */
#define ISO20022_RATE_TEXT_BYTES_MAX 12u
/* The payment-versus-payment convention (docs/iso20022.md, "Payment versus payment"): a
 * PmtTpInf/LclInstrm/Prtry of this prefix and an ISO 4217 code asks Khorgos to convert the
 * IntrBkSttlmAmt through its liquidity providers into that currency for the creditor. */
#define ISO20022_PVP_PREFIX "KHORGOS/PVP/"
/* A reply written by this layer: 64 transaction statuses of under 1 KiB each and a header. */
#define ISO20022_REPLY_BYTES_MAX (96u * 1024u)

_Static_assert(ISO20022_TRANSACTION_COUNT_MAX <= LIMIT_BATCH_EVENTS_MAX, "one engine request");
_Static_assert(ISO20022_REPLY_BYTES_MAX >= ISO20022_TRANSACTION_COUNT_MAX * 1024u + 4096u,
               "a reply for a full message fits");

/* ----------------------------------------------------------------------------------------- */
/* Codes.                                                                                     */

enum iso20022_message_type {
    ISO20022_MESSAGE_UNKNOWN = 0, /* no namespace, or not an ISO 20022 one */
    ISO20022_MESSAGE_PACS_008 = 1,
    ISO20022_MESSAGE_PACS_009 = 2,
    ISO20022_MESSAGE_PACS_004 = 3,
    ISO20022_MESSAGE_CAMT_056 = 4,
    ISO20022_MESSAGE_PACS_002 = 5, /* written here; read back, never taken in */
    ISO20022_MESSAGE_CAMT_029 = 6, /* written here; read back, never taken in */
    ISO20022_MESSAGE_OTHER = 7,    /* an ISO 20022 message of another type or version */
};

/* In the order the checks run; the first failure is the message's reason. */
enum iso20022_reason {
    ISO20022_REASON_NONE = 0,
    ISO20022_REASON_FF01 = 1, /* InvalidFileFormat: structure, patterns, lengths, envelope */
    ISO20022_REASON_AC01 = 2, /* IncorrectAccountNumber: IBAN check digits */
    ISO20022_REASON_AM12 = 3, /* InvalidAmount: more decimals than ISO 4217 gives the currency */
    ISO20022_REASON_AM10 = 4, /* InvalidControlSum: CtrlSum or a total is not the sum */
    ISO20022_REASON_AM18 = 5, /* InvalidNumberOfTransactions: NbOfTxs */
    ISO20022_REASON_AM03 = 6, /* NotAllowedCurrency: not a currency settled here */
    ISO20022_REASON_AM01 = 7, /* ZeroAmount */
    ISO20022_REASON_RC01 = 8, /* BankIdentifierIncorrect: no BICFI, or not a participant */
    ISO20022_REASON_AC06 = 9, /* BlockedAccount: a suspended participant */
    ISO20022_REASON_DUPL = 10,/* DuplicatePayment: same sender and MsgId, another body */
    /* Not from reading; used by the layer above in replies. */
    ISO20022_REASON_AGNT = 11,/* IncorrectAgent: the sender is not the session's participant */
    ISO20022_REASON_AM09 = 12,/* WrongAmount: a return above what is left to return */
    ISO20022_REASON_NARR = 13,/* Narrative: a status with no ISO code, said in AddtlInf */
    ISO20022_REASON_ARDT = 14,/* AlreadyReturned/settled: camt.029 refusal */
    ISO20022_REASON_NOOR = 15,/* NoOriginalTransactionReceived: camt.029 refusal */
    /* The other codes of the engine's statuses (khorgos_settle_status_iso_code). */
    ISO20022_REASON_AM04 = 16,/* InsufficientFunds */
    ISO20022_REASON_AM02 = 17,/* NotAllowedAmount: a net debit cap or bilateral limit */
    ISO20022_REASON_AM13 = 18,/* AmountExceedsClearingSystemLimit */
    ISO20022_REASON_AG09 = 19,/* PaymentNotReceived: no conversion route */
    ISO20022_REASON_TM01 = 20,/* InvalidCutOffTime: after a cut-off, the day not open */
    ISO20022_REASON_DT01 = 21,/* InvalidDate: a value date that is not a business day */
    ISO20022_REASON_BE09 = 22,/* InvalidCountry */
    ISO20022_REASON_AG01 = 23,/* TransactionForbidden: the sender may not make this payment */
    ISO20022_REASON_COUNT = 24,
};

/* Four letters, or "" for ISO20022_REASON_NONE. */
const char *iso20022_reason_code(enum iso20022_reason reason);
/* The reason whose code is `code` (four letters, NUL-terminated); false when none is. */
bool iso20022_reason_parse(const char *code, enum iso20022_reason *reason);

enum iso20022_status {
    ISO20022_STATUS_ACSC = 0, /* settled */
    ISO20022_STATUS_ACSP = 1, /* accepted, queued */
    ISO20022_STATUS_PDNG = 2, /* waiting: value date, quote, netting window */
    ISO20022_STATUS_RJCT = 3, /* refused: with a reason */
    ISO20022_STATUS_PART = 4, /* a group whose transactions got different statuses */
    ISO20022_STATUS_COUNT = 5,
};
const char *iso20022_status_code(enum iso20022_status status);

/* SttlmMtd values settled here; COVE and anything else are FF01. */
enum iso20022_settlement_method {
    ISO20022_SETTLEMENT_NONE = 0, /* camt.056 has none */
    ISO20022_SETTLEMENT_CLRG = 1,
    ISO20022_SETTLEMENT_INDA = 2,
    ISO20022_SETTLEMENT_INGA = 3,
};

/* ----------------------------------------------------------------------------------------- */
/* The parsed message. Text is NUL-terminated ASCII or UTF-8 as written; "" when absent.      */

#define ISO20022_TEXT_SIZE (ISO20022_TEXT_BYTES_MAX + 1u)
#define ISO20022_BIC_SIZE (KHORGOS_BIC_BYTES + 1u) /* 8 or 11 characters as written */

struct iso20022_amount {
    u128 digits;          /* as written without the point: "100.01" is 10001 */
    u128 minor;           /* in the currency's minor units (set once decimals are checked) */
    u32 currency_numeric; /* ISO 4217 numeric; 0 = not an active ISO 4217 code */
    u8 fraction_digits;   /* as written */
    bool present;
    char currency[4];     /* the Ccy attribute */
};

/* An agent (BranchAndFinancialInstitutionIdentification): present, and its BICFI if any. */
struct iso20022_agent {
    bool present;
    char bic[ISO20022_BIC_SIZE];
};

struct iso20022_transaction {
    u128 payment_id;        /* set when the message is accepted: see iso20022_payment_id */
    u128 uetr;              /* big-endian bytes as a number (khorgos_payment.uetr); 0 = none */
    u128 original_uetr;     /* pacs.004, camt.056: OrgnlUETR; 0 = none */
    struct iso20022_amount amount;            /* IntrBkSttlmAmt; pacs.004 RtrdIntrBkSttlmAmt */
    struct iso20022_amount instructed_amount; /* InstdAmt (pacs.004 RtrdInstdAmt): carried */
    struct iso20022_amount original_amount;   /* pacs.004, camt.056: OrgnlIntrBkSttlmAmt */
    /* The participants that settle (see docs/iso20022.md, "Participants"): */
    struct iso20022_agent debtor;   /* InstgAgt, else DbtrAgt (pacs.009: else Dbtr) */
    struct iso20022_agent creditor; /* InstdAgt, else CdtrAgt (pacs.009: else Cdtr) */
    u32 settlement_date;    /* IntrBkSttlmDt as YYYYMMDD (transaction's, else group's); 0 */
    u8 priority;            /* enum khorgos_payment_priority from SttlmPrty, else InstrPrty */
    bool cover;             /* pacs.009 COV: has UndrlygCstmrCdtTrf */
    char instruction_id[ISO20022_TEXT_SIZE];
    char end_to_end_id[ISO20022_TEXT_SIZE];
    char transaction_id[ISO20022_TEXT_SIZE];
    char uetr_text[ISO20022_UETR_TEXT_BYTES + 1];
    char purpose[5];        /* Purp/Cd */
    char charges[5];        /* ChrgBr: DEBT, CRED, SHAR, SLEV */
    char exchange_rate[ISO20022_RATE_TEXT_BYTES_MAX + 1]; /* XchgRate as written: carried */
    char target_currency[4]; /* the PvP convention's currency (letters); "" = no conversion */
    /* pacs.004 and camt.056: the original payment. */
    char original_message_id[ISO20022_TEXT_SIZE];
    char original_message_name[ISO20022_TEXT_SIZE];
    char original_instruction_id[ISO20022_TEXT_SIZE];
    char original_end_to_end_id[ISO20022_TEXT_SIZE];
    char original_transaction_id[ISO20022_TEXT_SIZE];
    char original_uetr_text[ISO20022_UETR_TEXT_BYTES + 1];
    u32 original_settlement_date; /* OrgnlIntrBkSttlmDt; 0 = none */
    char return_id[ISO20022_TEXT_SIZE];       /* pacs.004 RtrId */
    char cancellation_id[ISO20022_TEXT_SIZE]; /* camt.056 CxlId */
    char reason_code[5];    /* pacs.004 RtrRsnInf/Rsn/Cd, camt.056 CxlRsnInf/Rsn/Cd */
};

struct iso20022_message {
    enum iso20022_message_type type;
    u8 version;                  /* the .001.NN of the namespace; 0 when unknown */
    bool has_header;             /* an AppHdr came first */
    bool resubmission;           /* the lookup said: same sender, MsgId and body as before */
    enum iso20022_reason reason; /* ISO20022_REASON_NONE = accepted */
    u32 reason_transaction;      /* the failing transaction's position from 1; 0 = the group */
    char reason_detail[ISO20022_INFO_BYTES_MAX + 1]; /* which element, for AddtlInf */
    char name[ISO20022_NAME_BYTES_MAX + 1];          /* "pacs.008.001.08" */
    char message_id[ISO20022_TEXT_SIZE];   /* GrpHdr/MsgId (camt.056: Assgnmt/Id) */
    char sender[ISO20022_BIC_SIZE];        /* AppHdr/Fr BICFI, else the instructing agent */
    char receiver[ISO20022_BIC_SIZE];      /* AppHdr/To BICFI, else the instructed agent */
    char header_message_id[ISO20022_TEXT_SIZE]; /* AppHdr/BizMsgIdr */
    u128 body_checksum;                    /* XXH3-128 of the input bytes, for duplicates */
    enum iso20022_settlement_method settlement_method;
    u32 declared_count;                    /* NbOfTxs (camt.056 CtrlData/NbOfTxs); 0 = none */
    bool has_control_sum;
    u8 control_sum_fraction_digits;
    u128 control_sum_digits;               /* CtrlSum as written without the point */
    struct iso20022_amount total;          /* TtlIntrBkSttlmAmt (pacs.004 TtlRtrdIntrBkSttlmAmt) */
    struct iso20022_agent assigner;        /* camt.056 Assgnmt/Assgnr/Agt */
    struct iso20022_agent assignee;        /* camt.056 Assgnmt/Assgne/Agt */
    u32 transaction_count;
    struct iso20022_transaction transactions[ISO20022_TRANSACTION_COUNT_MAX];
};

/* ----------------------------------------------------------------------------------------- */
/* Reading.                                                                                   */

enum iso20022_participant_state {
    ISO20022_PARTICIPANT_UNKNOWN = 0,
    ISO20022_PARTICIPANT_ACTIVE = 1,
    ISO20022_PARTICIPANT_SUSPENDED = 2,
};
enum iso20022_duplicate {
    ISO20022_DUPLICATE_NONE = 0,       /* a new MsgId for this sender */
    ISO20022_DUPLICATE_SAME_BODY = 1,  /* seen, byte-identical: answer the original pacs.002 */
    ISO20022_DUPLICATE_OTHER_BODY = 2, /* seen with another body: DUPL */
};

/* What the layer above knows (the engine's participants and the messages it took). */
struct iso20022_lookup {
    void *context;
    /* `bic` is 8 or 11 characters, NUL-terminated; `currency` ISO 4217 numeric. */
    enum iso20022_participant_state (*participant)(void *context, const char *bic,
                                                   u32 currency);
    enum iso20022_duplicate (*duplicate)(void *context, const char *sender,
                                         const char *message_id, u128 body_checksum);
};

/* Reads and checks one message. `lookup` may be NULL (participants and duplicates are then
 * not checked). Never fails otherwise: every outcome is in message->reason. */
void iso20022_read(const u8 *bytes, size_t size, const struct iso20022_lookup *lookup,
                   struct iso20022_message *message);

/* The payment id of a transaction without a UETR (see docs/iso20022.md, "Payment ids"): the
 * first 16 bytes of SHA-256("khorgos iso20022 payment id" NUL sender-11 NUL MsgId NUL position
 * as 4 bytes big-endian), with the UUID version nibble set to 8 and the variant to 10, so it
 * is a UUID that no UETR (version 4) equals. `sender` is 8 or 11 characters. */
u128 iso20022_payment_id(const char *sender, const char *message_id, u32 position);

/* ----------------------------------------------------------------------------------------- */
/* Checks used by the reader, exposed for the layer above and the tests.                     */

/* ISO 9362 BICFI pattern: [A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?. */
bool iso20022_bic_valid(const char *text, size_t length);
/* IBAN pattern [A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}. */
bool iso20022_iban_pattern_valid(const char *text, size_t length);
/* IBAN check digits (ISO 13616 mod 97 = 1); the pattern must hold. */
bool iso20022_iban_check_digits_valid(const char *text, size_t length);
/* UETR: lower-case UUID v4 text; sets *value to its 16 bytes big-endian when valid. */
bool iso20022_uetr_parse(const char *text, size_t length, u128 *value);
/* ISO 4217 minor units of an active code; -1 when not an active code with minor units. */
int iso20022_currency_minor_units(const char *letters);
/* ISO 4217 numeric of an active code; 0 when not one. */
u32 iso20022_currency_numeric(const char *letters);
/* An ISO 20022 amount: digits, at most one point, at most `total_digits_max` digits of which
 * at most `fraction_digits_max` after the point, not negative. */
bool iso20022_decimal_parse(const char *text, size_t length, u32 total_digits_max,
                            u32 fraction_digits_max, u128 *digits, u8 *fraction_digits);
/* An ISODate "YYYY-MM-DD" of a real day; *date = YYYYMMDD. */
bool iso20022_date_parse(const char *text, size_t length, u32 *date);

/* ----------------------------------------------------------------------------------------- */
/* Writing. Each writer returns the length written (NUL-terminated), or 0 when `capacity` is  */
/* too small (ISO20022_REPLY_BYTES_MAX is always enough).                                     */

struct iso20022_transaction_status {
    enum iso20022_status status;
    enum iso20022_reason reason;   /* with RJCT (or NARR for a status without an ISO code) */
    char additional_info[ISO20022_INFO_BYTES_MAX + 1]; /* AddtlInf; "" = none */
    char original_instruction_id[ISO20022_TEXT_SIZE];
    char original_end_to_end_id[ISO20022_TEXT_SIZE];
    char original_transaction_id[ISO20022_TEXT_SIZE];
    char original_uetr[ISO20022_UETR_TEXT_BYTES + 1];
    /* camt.029: the original payment's message (CxlDtls/TxInfAndSts/OrgnlGrpInf); "" = the
     * report's original_message_id and name. */
    char original_message_id[ISO20022_TEXT_SIZE];
    char original_message_name[ISO20022_NAME_BYTES_MAX + 1];
};

/* pacs.002.001.10 (the version CBPR+ and T2 RTGS pair with pacs.008.001.08), or a camt.029
 * .001.09 when type is ISO20022_MESSAGE_CAMT_029 (its transaction statuses then mean: ACSC =
 * cancelled, CNCL with TxCxlSts ACCR; RJCT = refused, RJCR with the reason ARDT or NOOR). */
struct iso20022_report {
    enum iso20022_message_type type;
    u64 created_ns;                       /* the engine's clock: CreDtTm, UTC, milliseconds */
    char message_id[ISO20022_TEXT_SIZE];  /* this report's MsgId (camt.029 Assgnmt/Id) */
    char original_message_id[ISO20022_TEXT_SIZE];
    char original_message_name[ISO20022_NAME_BYTES_MAX + 1];
    char from[ISO20022_BIC_SIZE];         /* camt.029 Assgnr; pacs.002 InstgAgt; "" = none */
    char to[ISO20022_BIC_SIZE];           /* camt.029 Assgne; pacs.002 InstdAgt; "" = none */
    enum iso20022_status group_status;
    enum iso20022_reason group_reason;
    char group_additional_info[ISO20022_INFO_BYTES_MAX + 1];
    u32 transaction_count;
    struct iso20022_transaction_status transactions[ISO20022_TRANSACTION_COUNT_MAX];
};

/* Fills the originals of `report` from a read message, each transaction with `status` and
 * the message's reason (RJCT when the message was refused). */
void iso20022_report_from_message(const struct iso20022_message *message,
                                  enum iso20022_status status, struct iso20022_report *report);
size_t iso20022_write_report(const struct iso20022_report *report, char *out, size_t capacity);
/* Reads a pacs.002 or camt.029 this layer wrote (the same safety rules); false with
 * *reason set (FF01) when it is not one. */
bool iso20022_read_report(const u8 *bytes, size_t size, struct iso20022_report *report,
                          enum iso20022_reason *reason);

#endif /* KHORGOS_ISO20022_H */
