"""Khorgos's Python client: `khorgos.Client(addresses=[...], cluster_id=0)` speaks the server's
protocol (TigerBeetle's client protocol with Khorgos's operations, docs/protocol.md) in pure
Python, with the engine's records as dataclasses (khorgos.Account, khorgos.Payment, ...).
docs/clients.md describes it."""
from .client import OPERATIONS, Client, Error, Evicted, Timeout
from .names import CREATE_ACCOUNT_STATUSES, CREATE_TRANSFER_STATUSES, ERRORS, SETTLE_STATUSES
from .records import RECORDS, pack_all, unpack_all
from .records import (Account, AccountBalance, AccountFilter, BusinessDay, CreateResult,
                      FxQuote, FxRouting, Holiday, Participant, ParticipantEvent, Payment,
                      PaymentChange, Position, QueryFilter, SettleFilter, SettleResult,
                      Transfer, Window, WindowFilter, WindowPosition)

__all__ = ["Client", "Error", "Evicted", "Timeout", "OPERATIONS", "RECORDS", "ERRORS",
           "SETTLE_STATUSES", "CREATE_ACCOUNT_STATUSES", "CREATE_TRANSFER_STATUSES",
           "pack_all", "unpack_all"] + list(RECORDS)
