/*
 * settle_netting.h: the state of deferred net settlement windows (settle_netting.c), a part of
 * the settle layer. Included by settle.h, which embeds struct settle_netting in struct settle;
 * the functions are declared in settle_private.h. Design notes: the opening comment of
 * settle_netting.c.
 */
#ifndef KHORGOS_SETTLE_NETTING_H
#define KHORGOS_SETTLE_NETTING_H

#include "base/base.h"

/* Limits, each with its reason. */
/* Windows kept: hourly netting for a year of business days (24 * 366). */
#define SETTLE_WINDOW_COUNT_MAX 8784u

struct settle_window_entry {
    struct khorgos_window record;
    u32 head, tail;      /* its payments, through payment_next/prev (never also queued) */
    u64 settle_due;      /* timer: settle attempt, 0 = none */
};

struct settle_netting {
    struct settle_window_entry *windows; /* [SETTLE_WINDOW_COUNT_MAX], number = index + 1 */
    u32 window_count;
    u32 window_open;                 /* number of the open window, 0 = none */
    u32 window_unfinished;           /* index of the first window not settled or aborted */
    /* Scratch per position slot, for net positions. */
    u128 *slot_sent, *slot_received;
    u32 *slot_sent_count, *slot_received_count;
    u8 *slot_short;
};

#endif /* KHORGOS_SETTLE_NETTING_H */
