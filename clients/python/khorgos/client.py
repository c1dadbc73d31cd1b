"""khorgos.Client: a session with a Khorgos server over TigerBeetle's client protocol, in pure
Python (docs/protocol.md, docs/clients.md).

One request is in flight at a time (a call blocks until its reply). A request keeps its number
and bytes until it is answered: when the connection fails, the client connects to the next
address and sends the same bytes again, so the server answers a retry from its session and
applies nothing twice. A call that waits longer than `timeout` raises khorgos.Timeout; its
request is still answered (and the answer dropped) before the next call's, so that the
session's chain of requests stays whole.

A cluster's leader is followed as the C client follows it (docs/replication.md, "Clients"):
a message's view modulo the number of addresses names the leader's replica index, and its
`replica` field its sender (a single node's are both 0), from which the client learns which
address is which replica (it assumes replica order until it knows). While it waits, the client pings its
replica every `retry` / PINGS_PER_RETRY seconds and sends a request only once a pong named
the replica itself; a pong naming another replica in a view above any it followed moves it
there at once, and without a pong naming the replica itself or a reply for `retry` seconds it
moves to the next address. A replica that still leads gets the request again every `retry`.
"""
import os
import socket
import ssl
import struct
import time

from . import aegis
from . import names
from .records import (Account, AccountBalance, AccountFilter, BusinessDay, CreateResult,
                      FxQuote, FxRouting, Holiday, Participant, ParticipantEvent, Payment,
                      PaymentChange, Position, QueryFilter, SettleFilter, SettleResult,
                      Transfer, Window, WindowFilter, WindowPosition, pack_all, unpack_all)

HEADER_BYTES = 256
MESSAGE_BYTES_MAX = 1 << 20
RELEASE = (0 << 16) | (17 << 8) | 9  # the client release this package speaks: 0.17.9
COMMAND_PING_CLIENT, COMMAND_PONG_CLIENT, COMMAND_REQUEST = 3, 4, 5
COMMAND_REPLY, COMMAND_EVICTION, COMMAND_NOTIFICATION = 8, 18, 128
OPERATION_REGISTER = 2
OPERATION_ADVANCE_CLOCK = 192
# The ISO 20022 gateway's operations and subscribe_entries (docs/protocol.md, "ISO 20022
# operations"): answered without the session recording them.
OPERATION_SUBMIT_MESSAGE, OPERATION_GET_MESSAGE_STATUS, OPERATION_GET_STATEMENT = 240, 241, 242
OPERATION_SUBSCRIBE_ENTRIES = 243
OPERATIONS_UNRECORDED = {OPERATION_SUBMIT_MESSAGE, OPERATION_GET_MESSAGE_STATUS,
                         OPERATION_GET_STATEMENT, OPERATION_SUBSCRIBE_ENTRIES}
# Notification kinds: a pacs.002 with a payment's later status; a camt.054 of new entries.
NOTIFICATION_PAYMENT_STATUS, NOTIFICATION_ACCOUNT_ENTRIES = 1, 2
# Pings a waiting client sends its replica per `retry`: it learns a leader's change within an
# eighth of it.
PINGS_PER_RETRY = 8
EVICTION_REASONS = ["reserved", "no_session", "client_release_too_low",
                    "client_release_too_high", "invalid_request_operation",
                    "invalid_request_body", "invalid_request_body_size", "session_too_low",
                    "session_release_mismatch"]

# operation: (wire code, kind of argument, request record, reply record, multi-batch)
# kinds: "events" a list of records, "ids" a list of ints, "filter" one record.
OPERATIONS = {
    "create_accounts": (146, "events", Account, CreateResult, True),
    "create_transfers": (147, "events", Transfer, CreateResult, True),
    "lookup_accounts": (140, "ids", None, Account, True),
    "lookup_transfers": (141, "ids", None, Transfer, True),
    "get_account_transfers": (142, "filter", AccountFilter, Transfer, True),
    "get_account_balances": (143, "filter", AccountFilter, AccountBalance, True),
    "query_accounts": (144, "filter", QueryFilter, Account, True),
    "query_transfers": (145, "filter", QueryFilter, Transfer, True),
    "create_participants": (200, "events", Participant, SettleResult, False),
    "fund": (201, "events", ParticipantEvent, SettleResult, False),
    "defund": (202, "events", ParticipantEvent, SettleResult, False),
    "set_credit_lines": (203, "events", ParticipantEvent, SettleResult, False),
    "set_limits": (204, "events", ParticipantEvent, SettleResult, False),
    "suspend": (205, "events", ParticipantEvent, SettleResult, False),
    "reinstate": (206, "events", ParticipantEvent, SettleResult, False),
    "submit_payments": (207, "events", Payment, SettleResult, False),
    "cancel_payments": (208, "events", PaymentChange, SettleResult, False),
    "reprioritize_payments": (209, "events", PaymentChange, SettleResult, False),
    "lookup_payments": (210, "ids", None, Payment, False),
    "get_queue": (211, "filter", SettleFilter, Payment, False),
    "resolve_gridlock": (212, "events", BusinessDay, SettleResult, False),
    "get_positions": (213, "filter", SettleFilter, Position, False),
    "open_day": (214, "events", BusinessDay, SettleResult, False),
    "close_day": (215, "events", BusinessDay, SettleResult, False),
    "set_fx_quotes": (216, "events", FxQuote, SettleResult, False),
    "withdraw_fx_quotes": (217, "ids", None, SettleResult, False),
    "lookup_fx_quotes": (218, "ids", None, FxQuote, False),
    "set_fx_routing": (219, "events", FxRouting, SettleResult, False),
    "open_window": (220, "events", Window, SettleResult, False),
    "close_window": (221, "events", Window, SettleResult, False),
    "settle_window": (222, "events", Window, SettleResult, False),
    "unwind_window": (223, "events", Window, SettleResult, False),
    "abort_window": (224, "events", Window, SettleResult, False),
    "lookup_windows": (225, "events", Window, Window, False),
    "get_window_positions": (226, "filter", WindowFilter, WindowPosition, False),
    "set_holidays": (227, "events", Holiday, SettleResult, False),
}


class Error(Exception):
    """The server refused the request (nothing of it was applied): `name` is the engine's
    error (khorgos_error), e.g. "too_many_events" or "clock_not_manual"."""

    def __init__(self, name):
        super().__init__(name)
        self.name = name


class _Move(Exception):
    """The connection moves to address `index`."""

    def __init__(self, index):
        super().__init__(index)
        self.index = index


class Timeout(Error):
    """No answer within the client's timeout."""

    def __init__(self):
        super().__init__("timeout")


class Evicted(Error):
    """The server ended the session (`reason` is the eviction's); the client stops."""

    def __init__(self, reason):
        super().__init__("evicted")
        self.reason = reason


def _u128(value):
    return (value & (2**64 - 1)).to_bytes(8, "little") + (value >> 64).to_bytes(8, "little")


def _get_u128(data, offset):
    return int.from_bytes(data[offset:offset + 16], "little")


def _parse_address(address):
    text = str(address)
    host, _, port = text.rpartition(":")
    return (host or "127.0.0.1", int(port))


def _trailer_bytes(element_bytes, batch_count):
    return -(-2 * (batch_count + 1) // element_bytes) * element_bytes


def multi_batch_encode(payload, element_bytes):
    """One batch of `payload` (whole elements) as a multi-batch body."""
    trailer = bytearray(b"\xff" * _trailer_bytes(element_bytes, 1))
    struct.pack_into("<HH", trailer, len(trailer) - 4, len(payload) // element_bytes, 1)
    return bytes(payload) + bytes(trailer)


def multi_batch_decode_one(body, element_bytes):
    """The elements of a one-batch multi-batch body."""
    if len(body) < 2 or struct.unpack_from("<H", body, len(body) - 2)[0] != 1:
        raise Error("message_invalid")
    count = struct.unpack_from("<H", body, len(body) - 4)[0]
    if count * element_bytes + _trailer_bytes(element_bytes, 1) != len(body):
        raise Error("message_invalid")
    return body[:count * element_bytes]


def seal(header, body):
    """Sets checksum_body, then (for a reply) context, then checksum, of a 256-byte header."""
    header[32:48] = _u128(aegis.checksum(body))
    header[0:16] = _u128(aegis.checksum(bytes(header[16:HEADER_BYTES])))
    return bytes(header) + bytes(body)


def request_message(cluster, client, session, parent, number, operation, body):
    header = bytearray(HEADER_BYTES)
    header[80:96] = _u128(cluster)
    struct.pack_into("<IIIIHBB", header, 96, HEADER_BYTES + len(body), 0, 0, RELEASE, 0,
                     COMMAND_REQUEST, 0)
    header[128:144] = _u128(parent)
    header[160:176] = _u128(client)
    struct.pack_into("<QQIB", header, 176, session, 0, number, operation)
    return seal(header, body)


class Client:
    """A session with a Khorgos server. `addresses`: ["HOST:PORT", ...] (or ports, for
    127.0.0.1); `cluster_id`: the server's cluster; `timeout`: seconds a call may wait;
    `retry`: seconds before an unanswered request is sent again; `on_notification(kind,
    sequence, body)`: called, inside a call or poll_notifications, for each notification the
    server pushes (kind 1: a pacs.002, kind 2: a camt.054, as bytes);
    `tls_cert`, `tls_key`, `tls_ca`: PEM files for mutual TLS 1.3 (all three or none): this
    client's certificate and key, and the CA that signed the server's certificate, which must
    name the address connected to."""

    def __init__(self, addresses, cluster_id=0, timeout=60.0, retry=1.0, on_notification=None,
                 tls_cert=None, tls_key=None, tls_ca=None):
        if not addresses:
            raise ValueError("at least one address is needed")
        self.addresses = [_parse_address(address) for address in addresses]
        self.cluster = cluster_id
        self.timeout = timeout
        self.retry = retry
        self.on_notification = on_notification
        self.id = int.from_bytes(os.urandom(16), "little") or 1
        self.session = 0
        self.parent = 0
        self.number = 0
        self.batch_size_limit = 0
        self._socket = None
        self._address_index = 0
        self._inbox = bytearray()  # bytes read from the connection, not yet a whole message
        self._leading = False  # the connected replica named itself in a pong
        self._drops_in_a_row = 0  # connections dropped since a reply or a pong naming its own
        self.view = 0  # the highest view a message carried
        self._view_followed = 0  # the highest view whose leader the client went to
        self._replicas = {}  # address index -> the replica index its messages carry
        self._pending = None  # (message, checksum): sent, not yet answered
        self._evicted = None
        self._tls = None
        if (tls_cert, tls_key, tls_ca) != (None, None, None):
            if None in (tls_cert, tls_key, tls_ca):
                raise ValueError("mutual TLS takes tls_cert, tls_key and tls_ca")
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self._tls.minimum_version = ssl.TLSVersion.TLSv1_3
            self._tls.load_verify_locations(tls_ca)
            self._tls.load_cert_chain(tls_cert, tls_key)

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._inbox = bytearray()
        self._leading = False

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()

    # ---- the connection ------------------------------------------------------------------

    def _drop(self, index=None):
        """Closes the connection; the next goes to address `index`, or the next one."""
        self.close()
        if index is None:
            index = (self._address_index + 1) % len(self.addresses)
        self._address_index = index

    def _connect(self, deadline):
        while self._socket is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout()
            try:
                address = self.addresses[self._address_index]
                connection = socket.create_connection(address,
                                                      timeout=min(self.retry, remaining))
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._tls is not None:
                    connection = self._tls.wrap_socket(connection, server_hostname=address[0])
                self._socket = connection
            except OSError:
                self._drop()
                time.sleep(min(self.retry / 4, max(deadline - time.monotonic(), 0)))

    def _fill(self, size, deadline):
        """Reads until the inbox holds `size` bytes; socket.timeout at deadline (what was read
        stays in the inbox for the next call)."""
        while len(self._inbox) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout()
            self._socket.settimeout(remaining)
            chunk = self._socket.recv(max(size - len(self._inbox), 65536))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._inbox += chunk

    def _receive(self, deadline):
        """One checked message: (header, body)."""
        self._fill(HEADER_BYTES, deadline)
        header = bytes(self._inbox[:HEADER_BYTES])
        if _get_u128(header, 0) != aegis.checksum(header[16:]):
            raise ConnectionError("a header checksum does not match")
        if _get_u128(header, 80) != self.cluster:
            raise ConnectionError("a message for another cluster")
        size = struct.unpack_from("<I", header, 96)[0]
        if not HEADER_BYTES <= size <= MESSAGE_BYTES_MAX:
            raise ConnectionError("a message size out of range")
        self._fill(size, deadline)
        body = bytes(self._inbox[HEADER_BYTES:size])
        del self._inbox[:size]
        if _get_u128(header, 32) != aegis.checksum(body):
            raise ConnectionError("a body checksum does not match")
        self.view = max(self.view, struct.unpack_from("<I", header, 104)[0])
        if header[114] != COMMAND_NOTIFICATION:
            self._replicas[self._address_index] = header[115]
        return header, body

    def _ping(self):
        header = bytearray(HEADER_BYTES)
        header[80:96] = _u128(self.cluster)
        struct.pack_into("<IIIIHBB", header, 96, HEADER_BYTES, 0, 0, RELEASE, 0,
                         COMMAND_PING_CLIENT, 0)
        header[128:144] = _u128(self.id)
        struct.pack_into("<QQ", header, 144, time.monotonic_ns(), self.session)
        self._socket.sendall(seal(header, b""))

    def _pong(self, header):
        """A pong's view names the connected replica (it serves: True) or another, which the
        client moves to (_Move) when the view is above any it followed."""
        view = struct.unpack_from("<I", header, 104)[0]
        leader = view % len(self.addresses)
        if leader == header[115]:
            self._leading = True
            self._drops_in_a_row = 0
            self._view_followed = max(self._view_followed, view)
            return True
        self._leading = False
        # A newer view; or the same one when the address guessed for its leader was another's.
        guessed = view == self._view_followed and leader not in self._replicas.values() and \
            len(self._replicas) < len(self.addresses)
        if view > self._view_followed or guessed:
            self._view_followed = view
            raise _Move(self._address_of(leader))
        return False

    def _address_of(self, replica):
        """The address of `replica`: the one known to be it, else the one in its place in
        replica order unless that is known to be another, else the first not known yet, else
        the next address."""
        for index, known in self._replicas.items():
            if known == replica:
                return index
        for index in [replica] + list(range(len(self.addresses))):
            if index not in self._replicas:
                return index
        return (self._address_index + 1) % len(self.addresses)

    def _await_reply(self, message, deadline):
        """Sends `message` to the connected replica once it names itself the leader, and
        returns its reply; _Move when the client must go elsewhere, Timeout at deadline."""
        checksum = _get_u128(message, 0)
        progress = time.monotonic()
        sent_at, sent_view, ping_at = None, 0, progress
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise Timeout()
            if now - progress >= self.retry:
                raise _Move((self._address_index + 1) % len(self.addresses))
            self._socket.settimeout(deadline - now)
            if self._leading and (sent_at is None or now - sent_at >= self.retry):
                self._socket.sendall(message)
                sent_at, sent_view = now, self.view
            if now >= ping_at:
                self._ping()
                ping_at = now + self.retry / PINGS_PER_RETRY
            wake = min(deadline, ping_at, progress + self.retry,
                       sent_at + self.retry if sent_at is not None else deadline)
            try:
                header, body = self._receive(wake)
            except socket.timeout:
                continue
            command = header[114]
            if command == COMMAND_EVICTION and _get_u128(header, 128) == self.id:
                self._evicted = EVICTION_REASONS[header[255]] if header[255] < 9 else "unknown"
                raise Evicted(self._evicted)
            self._notification(header, body)
            if command == COMMAND_PONG_CLIENT and self._pong(header):
                progress = time.monotonic()
                if sent_at is not None and self.view > sent_view:
                    sent_at = None  # sent before the replica led: again
            if command == COMMAND_REPLY and _get_u128(header, 128) == checksum and \
                    _get_u128(header, 192) == self.id:
                self._view_followed = max(self._view_followed, self.view)
                self._drops_in_a_row = 0
                return header, body

    def _notification(self, header, body):
        """Hands a notification for this client to on_notification; False for other messages."""
        if header[114] != COMMAND_NOTIFICATION or _get_u128(header, 128) != self.id:
            return False
        if self.on_notification is not None:
            sequence, kind = struct.unpack_from("<QI", header, 144)
            self.on_notification(kind, sequence, body)
        return True

    def poll_notifications(self, seconds):
        """Waits up to `seconds` for what the server pushes between calls, handing each
        notification to on_notification; returns how many came. A message cut by the end of
        the wait drops the connection (the next call connects again)."""
        deadline = time.monotonic() + seconds
        count = 0
        while self._socket is not None and self._pending is None:
            try:
                header, body = self._receive(deadline)
            except socket.timeout:
                break
            except (ConnectionError, OSError):
                self._drop()
                break
            count += self._notification(header, body)
        return count

    def _exchange(self, message, deadline):
        """Sends `message` until its reply comes, following the leader; returns it."""
        self._pending = (message, deadline)
        while True:
            self._connect(deadline)
            try:
                reply = self._await_reply(message, deadline)
                self._pending = None
                return reply
            except _Move as move:
                self._drop(move.index)
            except (ConnectionError, OSError):
                self._drop()
                self._pace(deadline)

    def _pace(self, deadline):
        """After every address in turn dropped the connection without an answer (a server
        that closes each connection, such as one of another cluster), waits retry / 4 before
        the next attempt rather than reconnecting in a tight loop."""
        self._drops_in_a_row += 1
        if self._drops_in_a_row % len(self.addresses) == 0:
            time.sleep(min(self.retry / 4, max(deadline - time.monotonic(), 0)))

    def _register(self, deadline):
        message = request_message(self.cluster, self.id, 0, 0, 0, OPERATION_REGISTER, bytes(256))
        header, body = self._exchange(message, deadline)
        self.session = struct.unpack_from("<Q", header, 216)[0]
        self.parent = _get_u128(header, 160)
        self.batch_size_limit = struct.unpack_from("<I", body, 0)[0]

    def _reply_taken(self, header):
        """The reply's context becomes the next request's parent, unless the session did not
        record the request (the ISO 20022 operations, or a refusal by the engine's validation: any
        error but forbidden); then the next request reuses its number (docs/protocol.md)."""
        operation, error = header[236], header[237]
        unrecorded = operation in OPERATIONS_UNRECORDED or (
            operation >= 192 and error != 0 and error != names.ERRORS.index("forbidden"))
        if unrecorded:
            self.number -= 1
        else:
            self.parent = _get_u128(header, 160)

    def request(self, operation, body):
        """Sends one request (a wire operation code and its body) and returns (reply body,
        timestamp); raises Error with the engine's error when it was refused."""
        if self._evicted is not None:
            raise Evicted(self._evicted)
        deadline = time.monotonic() + self.timeout
        if self._pending is not None:  # a request that timed out: answered before this one
            header, _ = self._exchange(self._pending[0], deadline)
            self._reply_taken(header)
        if self.session == 0:
            self._register(deadline)
        self.number += 1
        message = request_message(self.cluster, self.id, self.session, self.parent, self.number,
                                  operation, body)
        header, reply = self._exchange(message, deadline)
        self._reply_taken(header)
        error = header[237]
        if error != 0:
            raise Error(names.ERRORS[error] if error < len(names.ERRORS) else str(error))
        return reply, struct.unpack_from("<Q", header, 224)[0]

    def execute(self, name, argument):
        """Runs the operation `name` (docs/api.md) on `argument`: a list of records, a list of
        ids, or one filter record; returns the list of reply records."""
        code, kind, request_record, reply_record, multi_batch = OPERATIONS[name]
        if kind == "ids":
            body, element = b"".join(_u128(value) for value in argument), 16
        elif kind == "filter":
            body, element = argument.pack(), type(argument).SIZE
        else:
            body, element = pack_all(argument), request_record.SIZE
        if multi_batch:
            body = multi_batch_encode(body, element)
        reply, _ = self.request(code, body)
        if multi_batch:
            reply = multi_batch_decode_one(reply, reply_record.SIZE)
        return unpack_all(reply_record, reply)

    def advance_clock(self, nanoseconds):
        """Moves the server's manual clock forward (`khorgos start --clock manual`); returns the
        clock's new time in nanoseconds."""
        reply, _ = self.request(OPERATION_ADVANCE_CLOCK, struct.pack("<Q", nanoseconds))
        return struct.unpack("<Q", reply)[0]


    # ---- ISO 20022 (docs/iso20022.md, "Over the server") ----------------------------------

    @staticmethod
    def _message_result(reply):
        status, reason, transactions, rejected, size = struct.unpack_from("<5s5s2xIII", reply)
        return {"status": status.rstrip(b"\0").decode(), "reason": reason.rstrip(b"\0").decode(),
                "transactions": transactions, "rejected": rejected,
                "reply_xml": reply[24:24 + size].decode()}

    def submit_message(self, xml):
        """Submits one ISO 20022 message (bytes or str); returns a dict with the group's
        status, its reason, the transaction and rejected counts and the reply's XML."""
        body = xml.encode() if isinstance(xml, str) else bytes(xml)
        reply, _ = self.request(OPERATION_SUBMIT_MESSAGE, body)
        return self._message_result(reply)

    def get_message_status(self, uetr="", msg_id="", sender_bic=""):
        """The current pacs.002 of a message's payments, by UETR or by MsgId and sender."""
        body = struct.pack("<37s36s12s", uetr.encode(), msg_id.encode(), sender_bic.encode())
        reply, _ = self.request(OPERATION_GET_MESSAGE_STATUS, body)
        return self._message_result(reply)

    def get_statement(self, bic, currency, message="camt.053", date=0, timestamp_min=0,
                      timestamp_max=0):
        """A settlement account's camt.053 for a day (YYYYMMDD) or camt.054 over a range of
        timestamps; `currency` is ISO 4217 numeric. Returns the XML."""
        kind = {"camt.053": 53, "camt.054": 54}[message]
        body = struct.pack("<12sIIIQQ", bic.encode(), kind, currency, date, timestamp_min,
                           timestamp_max)
        reply, _ = self.request(OPERATION_GET_STATEMENT, body)
        return reply.decode()

    def subscribe_entries(self, bic, currency):
        """Subscribes this session to camt.054 notifications (kind 2) of the settlement
        account of `bic` (a participant's own: "") in `currency` (ISO 4217 numeric)."""
        self.request(OPERATION_SUBSCRIBE_ENTRIES, struct.pack("<12sI", bic.encode(), currency))


def _operation_method(name):
    def method(self, argument):
        return self.execute(name, argument)
    method.__name__ = name
    method.__doc__ = f"The {name} operation (docs/api.md): returns its reply records."
    return method


for _name in OPERATIONS:
    setattr(Client, _name, _operation_method(_name))
