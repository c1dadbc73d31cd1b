/*
 * khorgos_iso20022.h: the ISO 20022 gateway's C interface, beside include/khorgos.h.
 *
 * The gateway sits above the engine (src/iso20022/, docs/iso20022.md): it reads a bank's
 * message, checks it, and submits the engine's fixed-size records through khorgos_execute, so
 * the engine and its journal never see XML. A gateway holds the buffers its queries need,
 * reserved once at open, and keeps nothing else: everything it answers comes from the engine's
 * records, so a gateway opened on a recovered engine answers as the one before the restart.
 *
 * Like the engine, a gateway is not thread-safe: the thread that drives the engine calls it.
 */
#ifndef KHORGOS_ISO20022_H_PUBLIC
#define KHORGOS_ISO20022_H_PUBLIC

#include "khorgos.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest message read: larger input is refused (RJCT FF01) before it is parsed. */
#define KHORGOS_MESSAGE_BYTES_MAX (1u << 20)
/* The largest pacs.002 or camt.029 khorgos_submit_message writes, with its NUL: a reply for a
 * message of 64 transactions (the most a message may hold) fits. */
#define KHORGOS_MESSAGE_REPLY_BYTES_MAX (96u * 1024u)
/* The most entries one camt.053 or camt.054 holds: a participant's day beyond this is refused
 * with too_many_entries rather than cut (the statement would not reconcile). 2,048 entries of
 * at most KHORGOS_STATEMENT_ENTRY_BYTES_MAX bytes each, and the header, fit in
 * KHORGOS_STATEMENT_BYTES_MAX. */
#define KHORGOS_STATEMENT_ENTRY_COUNT_MAX 2048u
#define KHORGOS_STATEMENT_ENTRY_BYTES_MAX 1536u
#define KHORGOS_STATEMENT_BYTES_MAX                                                             \
    (KHORGOS_STATEMENT_ENTRY_COUNT_MAX * KHORGOS_STATEMENT_ENTRY_BYTES_MAX + 4096u)

struct khorgos_gateway;

/* Reserves a gateway's buffers (about 2.2 MiB) for `engine`, which must outlive it. */
khorgos_error khorgos_gateway_open(struct khorgos_gateway **gateway, struct khorgos *engine);
void khorgos_gateway_close(struct khorgos_gateway *gateway);

/* Who the gateway acts for from now on: each engine request it makes carries `actor`, so the
 * engine authorizes it (docs/security.md), and a message khorgos_submit_message reads must come
 * from that participant: its sender (AppHdr/Fr, else the instructing agent) must be the actor's
 * BIC, else the message is refused RJCT AGNT and nothing is submitted. NULL (as at open): the
 * operator, and the sender is not compared. The reader's participant checks (RC01, AC06) read as
 * the auditor, so a bank's message can name another bank. The server sets the session's
 * identity before each call; `apply` and `khorgos message --data` leave the operator. */
void khorgos_gateway_set_actor(struct khorgos_gateway *gateway, const struct khorgos_actor *actor);

/* What khorgos_submit_message did with one message. */
struct khorgos_message_result {
    char group_status[5];       /* "ACSC", "ACSP", "PDNG", "RJCT" or "PART" (mixed) */
    char reason[5];             /* the group's reason code when refused, else "" */
    uint32_t transaction_count; /* transactions the message held (0 when not read) */
    uint32_t rejected_count;    /* transactions refused (RJCT; camt.056: not cancelled) */
    uint32_t reply_size;        /* bytes of the reply, without its NUL */
};

/* Reads and checks one pacs.008, pacs.009, pacs.004 or camt.056 (any bytes: a message that is
 * refused is answered, not an error), submits what it asks of the engine
 * (submit_message_payments: the payments with their references; cancel_payments), and writes
 * the answer into `reply`, NUL-terminated: a pacs.002.001.10 with the group's and each
 * transaction's status, or for a camt.056 a camt.029.001.09. The sender is the gateway's actor
 * (khorgos_gateway_set_actor). Returns ok, reply_too_small when `capacity` is
 * below KHORGOS_MESSAGE_REPLY_BYTES_MAX (nothing is read or submitted), or the engine's error
 * (io, no_space, stopped: the engine stopped, and the reply must not be used). */
khorgos_error khorgos_submit_message(struct khorgos_gateway *gateway, const void *xml,
                                     size_t size, char *reply, size_t capacity,
                                     struct khorgos_message_result *result);

/* get_message_status: a message's payments by their UETR (the payment whose id is the UETR,
 * as the gateway submits them), or by the sender's BIC and MsgId (the payments of the message
 * the gateway took from that sender under that MsgId, by position). Text NUL-terminated;
 * "" = not given. */
struct khorgos_message_status_request {
    char uetr[37];                          /* lower-case UUID v4 text */
    char message_id[36];                    /* MsgId, Max35Text */
    char sender_bic[KHORGOS_BIC_BYTES + 1]; /* 8 or 11 characters */
};

/* The payments the last khorgos_submit_message submitted, for a caller that follows their later
 * statuses (the server pushes them): up to `capacity` payment ids in transaction order, each
 * with the get_message_status request that names it (its UETR, else the sender's BIC and the
 * MsgId). Returns how many: 0 for a message refused whole or a camt.056. */
uint32_t khorgos_message_payments(const struct khorgos_gateway *gateway, khorgos_u128 *ids,
                                  struct khorgos_message_status_request *requests,
                                  uint32_t capacity);

/* Writes the current pacs.002.001.10 of the payments the request names into `reply`, as
 * khorgos_submit_message does, with each payment's status now (a queued payment since settled
 * is ACSC, one queued for want of an FX quote PDNG, one rejected at the cut-off RJCT TM01, one
 * cancelled RJCT NARR "cancelled"), and the original MsgId, message name, InstrId and TxId
 * from the payment's references (NOTPROVIDED for a payment submitted without them).
 * invalid_argument when the request names nothing
 * valid; message_not_found when no payment matches; reply_too_small; the engine's error. */
khorgos_error khorgos_get_message_status(struct khorgos_gateway *gateway,
                                         const struct khorgos_message_status_request *request,
                                         char *reply, size_t capacity,
                                         struct khorgos_message_result *result);

enum khorgos_statement_kind {
    KHORGOS_STATEMENT_CAMT_053 = 53, /* the account's statement for one business day */
    KHORGOS_STATEMENT_CAMT_054 = 54, /* debit and credit notifications over a time range */
};

struct khorgos_statement_request {
    char bic[KHORGOS_BIC_BYTES + 1]; /* the participant, 8 or 11 characters, NUL-terminated */
    uint32_t kind;                   /* enum khorgos_statement_kind */
    uint32_t currency;               /* ISO 4217 numeric */
    uint32_t date;                   /* camt.053: YYYYMMDD, a business day of the currency */
    uint64_t timestamp_min;          /* camt.054: the first and last timestamp (ns) included; */
    uint64_t timestamp_max;          /* 0 and 0 take every entry */
};

/* Writes the camt.053.001.08 or camt.054.001.08 of the participant's settlement account in that
 * currency into `xml`, NUL-terminated, and its length (without the NUL) into *size. A camt.053
 * covers the currency's business day `date`: from its open_day to the next open_day, excluded
 * (the last day opened: to now). invalid_argument for a kind, date or range that is not one;
 * day_not_found when the currency did not open that date (or it is older than the days kept);
 * account_not_found when the participant does not exist or does not hold the currency;
 * too_many_entries beyond KHORGOS_STATEMENT_ENTRY_COUNT_MAX; reply_too_small when `capacity` is
 * below KHORGOS_STATEMENT_BYTES_MAX; or the engine's error. Nothing is changed in any case. */
khorgos_error khorgos_get_statement(struct khorgos_gateway *gateway,
                                    const struct khorgos_statement_request *request, char *xml,
                                    size_t capacity, size_t *size);

#ifdef __cplusplus
}
#endif

#endif /* KHORGOS_ISO20022_H_PUBLIC */
