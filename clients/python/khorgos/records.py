"""The engine's fixed-size binary records (include/khorgos.h), as Python dataclasses.

Each record is declared by its C fields in order, "name:type" or "name:type[count]"; the layout
(offsets, padding, size) follows the C rules for x86-64 and arm64 (an integer is aligned to its
size, u128 to 16), so that `pack` gives exactly the bytes khorgos_execute takes and `unpack`
reads the bytes it returns. u128 values are Python ints; `str` fields are ASCII text padded with
NUL; `u8[N]` fields are bytes; `u32[N]` fields are lists of ints. tests/test_records.py checks
every declaration against include/khorgos.h.
"""
import dataclasses
import struct

_SCALARS = {"u128": (16, "QQ"), "u64": (8, "Q"), "u32": (4, "I"), "u16": (2, "H"),
            "u8": (1, "B"), "i8": (1, "b"), "str": (1, None)}

RECORDS = {
    "Account": ("account", "id:u128 debits_pending:u128 debits_posted:u128 credits_pending:u128 "
        "credits_posted:u128 user_data_128:u128 user_data_64:u64 user_data_32:u32 reserved:u32 "
        "ledger:u32 code:u16 flags:u16 timestamp:u64"),
    "Transfer": ("transfer", "id:u128 debit_account_id:u128 credit_account_id:u128 amount:u128 pending_id:u128 "
        "user_data_128:u128 user_data_64:u64 user_data_32:u32 timeout:u32 ledger:u32 code:u16 "
        "flags:u16 timestamp:u64"),
    "AccountBalance": ("account_balance", "debits_pending:u128 debits_posted:u128 credits_pending:u128 credits_posted:u128 "
        "timestamp:u64 reserved:u8[56]"),
    "AccountFilter": ("account_filter", "account_id:u128 user_data_128:u128 user_data_64:u64 user_data_32:u32 code:u16 "
        "reserved:u8[58] timestamp_min:u64 timestamp_max:u64 limit:u32 flags:u32"),
    "QueryFilter": ("query_filter", "user_data_128:u128 user_data_64:u64 user_data_32:u32 ledger:u32 code:u16 "
        "reserved:u8[6] timestamp_min:u64 timestamp_max:u64 limit:u32 flags:u32"),
    "CreateResult": ("create_result", "timestamp:u64 status:u32 reserved:u32"),
    "Participant": ("participant", "bic:str[11] country:str[2] role:u8 flags:u8 reserved:u8 currencies:u32[8] name:str[64] "
        "timestamp:u64 number:u32 reserved_2:u32"),
    "ParticipantEvent": ("participant_event", "id:u128 amount:u128 bic:str[11] counterparty:str[11] limit_kind:u8 reserved:u8 "
        "currency:u32 reserved_2:u32"),
    "Payment": ("payment", "id:u128 amount:u128 uetr:u128 debtor:str[11] creditor:str[11] end_to_end_id:str[35] "
        "purpose:str[4] type:u8 priority:u8 state:u8 currency:u32 value_date:u32 settle_by:u64 "
        "submitted_at:u64 finished_at:u64 transfer_id_debit:u128 transfer_id_credit:u128 "
        "transfer_id_credit_draw:u128 reason:u32 settled_in:u8 reserved:u8[3] sequence:u64 currency_target:u32 "
        "amount_kind:u8 settlement:u8 route:u8 rate_exponent:i8 rate_mantissa:u64 "
        "amount_target:u128 window:u32 provider:u32 provider_vehicle:u32 reserved_3:u32"),
    "PaymentChange": ("payment_change",
        "id:u128 payment_id:u128 priority:u8 debtor:str[11] reserved:u8[4] message_checksum:u128"),
    "SettleFilter": ("settle_filter", "bic:str[11] reserved:u8 currency:u32 limit:u32 reserved_2:u8[12]"),
    "Position": ("position", "bic:str[11] flags:u8 currency:u32 opening_balance:u128 balance:u128 sent:u128 "
        "received:u128 queued:u128 rejected:u128 credit_line:u128 credit_outstanding:u128 "
        "credit_used:u128 credit_repaid:u128 overnight_credit:u128 net_debit_cap:u128 "
        "sent_count:u32 received_count:u32 queued_count:u32 rejected_count:u32 "
        "closing_balance:u128 reserved:u8[16]"),
    "BusinessDay": ("business_day", "id:u128 currency:u32 date:u32 cut_off_customer:u64 cut_off_interbank:u64 "
        "resolution_interval:u64 queue_mode:u8 flags:u8 reserved:u8[14]"),
    "Holiday": ("holiday", "id:u128 currency:u32 date:u32 flags:u8 reserved:u8[7]"),
    "SettleResult": ("settle_result", "timestamp:u64 status:u32 flags:u32 payments_settled:u32 reserved:u32 reserved_2:u64"),
    "FxQuote": ("fx_quote", "id:u128 amount_max:u128 amount_used:u128 provider:str[11] state:u8 currency_source:u32 "
        "currency_target:u32 rate_exponent:i8 reserved_2:u8[3] rate_mantissa:u64 expires_at:u64 "
        "timestamp:u64 number:u32 reserved:u8[28]"),
    "FxRouting": ("fx_routing", "id:u128 vehicle_currency:u32 mode:u8 reserved:u8[11]"),
    "Window": ("window", "id:u128 number:u32 state:u8 reserved:u8[3] close_at:u64 settle_after:u64 opened_at:u64 "
        "closed_at:u64 finished_at:u64 payment_count:u32 short_count:u32 unwound_count:u32 "
        "reason:u32 interval:u64"),
    "WindowFilter": ("window_filter", "window:u32 currency:u32 bic:str[11] reserved:u8 limit:u32"),
    "WindowPosition": ("window_position", "bic:str[11] short_flag:u8 currency:u32 window:u32 sent_count:u32 received_count:u32 "
        "reserved:u32 sent:u128 received:u128 net_debit:u128 net_credit:u128 shortfall:u128 "
        "reserved_2:u8[16]"),
}


def _parse(declaration):
    """[(name, type, count)] of a declaration string."""
    fields = []
    for item in declaration.split():
        name, kind = item.split(":")
        count = 1
        if "[" in kind:
            kind, count = kind[:-1].split("[")
            count = int(count)
        fields.append((name, kind, count))
    return fields


def _layout(fields):
    """The struct format (little-endian, explicit padding) and the size of a C struct."""
    offset, align_max, parts = 0, 1, []
    for _, kind, count in fields:
        size, _ = _SCALARS[kind]
        if offset % size:
            parts.append(f"{size - offset % size}x")
            offset += size - offset % size
        align_max = max(align_max, size)
        if kind == "str" or (kind == "u8" and count > 1):
            parts.append(f"{count}s")
        else:
            parts.append(_SCALARS[kind][1] * count)
        offset += size * count
    if offset % align_max:
        parts.append(f"{align_max - offset % align_max}x")
        offset += align_max - offset % align_max
    return struct.Struct("<" + "".join(parts)), offset


def _default(kind, count):
    if kind == "str":
        return ""
    if kind == "u8" and count > 1:
        return bytes(count)
    if count > 1:
        return dataclasses.field(default_factory=lambda: [0] * count)
    return 0


def _make(name, c_name, declaration):
    fields = _parse(declaration)
    layout, size = _layout(fields)
    cls = dataclasses.make_dataclass(
        name, [(field, object, _default(kind, count)) for field, kind, count in fields])

    def pack(self):
        values = []
        for field, kind, count in fields:
            value = getattr(self, field)
            if kind == "u128":
                values += [value & (2**64 - 1), value >> 64]
            elif kind == "str":
                values.append(value.encode("ascii"))
            elif kind == "u8" and count > 1:
                values.append(bytes(value))
            elif count > 1:
                values += list(value) + [0] * (count - len(value))
            else:
                values.append(value)
        return layout.pack(*values)

    def unpack(klass, data):
        values, index, result = layout.unpack(data), 0, {}
        for field, kind, count in fields:
            if kind == "u128":
                result[field] = values[index] | values[index + 1] << 64
                index += 2
            elif kind == "str":
                result[field] = values[index].rstrip(b"\0").decode("ascii")
                index += 1
            elif kind == "u8" and count > 1:
                result[field] = values[index]
                index += 1
            elif count > 1:
                result[field] = list(values[index:index + count])
                index += count
            else:
                result[field] = values[index]
                index += 1
        return klass(**result)

    cls.pack = pack
    cls.unpack = classmethod(unpack)
    cls.SIZE = size
    cls.C_NAME = "khorgos_" + c_name
    cls.FIELDS = fields
    cls.__doc__ = f"struct khorgos_{c_name} ({size} bytes)."
    return cls


def pack_all(records):
    """The records' bytes back to back (a request body)."""
    return b"".join(record.pack() for record in records)


def unpack_all(cls, data):
    """The records of a reply body."""
    if len(data) % cls.SIZE:
        raise ValueError(f"{len(data)} bytes are not whole {cls.__name__} records")
    return [cls.unpack(data[offset:offset + cls.SIZE])
            for offset in range(0, len(data), cls.SIZE)]


for _name, (_c_name, _declaration) in RECORDS.items():
    globals()[_name] = _make(_name, _c_name, _declaration)
