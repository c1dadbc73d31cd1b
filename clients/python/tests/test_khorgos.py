"""Tests of the Python client against a `khorgos start --clock manual` they launch.

Environment: KHORGOS, the khorgos command (default build/khorgos of the repository);
KHORGOS_SOURCE, the repository (for the checks of the records and names against the C headers;
default: three levels above this file); KHORGOS_CLIENT_LIBRARY_CHECK, libkhorgos_client.so
(optional: the pure-Python checksum is compared with the C one when given).
"""
import ctypes
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import khorgos
from khorgos import aegis, client, names, records

SOURCE = os.environ.get("KHORGOS_SOURCE",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
KHORGOS = os.environ.get("KHORGOS", os.path.join(SOURCE, "build", "khorgos"))
MANUAL_START_NS = 1684454400 * 10**9


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`khorgos start --clock manual` on a fresh data directory and a free port."""

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="khorgos-python-")
        data = os.path.join(self.directory, "data")
        subprocess.run([KHORGOS, "format", "--data", data, "--cluster", "0"], check=True, capture_output=True)
        self.port = free_port()
        self.log = open(os.path.join(self.directory, "server.log"), "w")
        self.process = subprocess.Popen([KHORGOS, "start", "--data", data, "--clock", "manual",
                                         "--addresses", f"127.0.0.1:{self.port}"],
                                        stderr=self.log)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        status = self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)
        return status


def read(*path):
    with open(os.path.join(SOURCE, *path), encoding="utf-8") as file:
        return file.read()


def c_declarations():
    """{C struct name: "field:type[count] ..."} read from include/khorgos.h."""
    header = read("include", "khorgos.h")
    constants = {"KHORGOS_BIC_BYTES": "11", "KHORGOS_NAME_BYTES": "64",
                 "KHORGOS_END_TO_END_ID_BYTES": "35", "KHORGOS_PARTICIPANT_CURRENCIES_MAX": "8"}
    types = {"khorgos_u128": "u128", "uint64_t": "u64", "uint32_t": "u32", "uint16_t": "u16",
             "uint8_t": "u8", "int8_t": "i8", "char": "str"}
    result = {}
    for name, body in re.findall(r"struct (khorgos_\w+) \{\n(.*?)\n\};", header, re.S):
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
        fields = []
        for kind, field, count in re.findall(r"(\w+)\s+(\w+)(?:\[(\w+)\])?;", body):
            if kind not in types:
                break
            count = constants.get(count, count)
            fields.append(f"{field}:{types[kind]}" + (f"[{count}]" if count else ""))
        result[name] = " ".join(fields)
    return result


@unittest.skipUnless(os.path.exists(os.path.join(SOURCE, "include", "khorgos.h")),
                     "the repository's sources are not at KHORGOS_SOURCE")
class TestDeclarations(unittest.TestCase):
    def test_records_match_the_c_header(self):
        declared = c_declarations()
        sizes = {"Payment": 256, "Position": 256, "Account": 128, "Window": 96,
                 "WindowFilter": 24, "SettleResult": 32, "ParticipantEvent": 64}
        for name, (c_name, declaration) in records.RECORDS.items():
            self.assertEqual(" ".join(declaration.split()), declared["khorgos_" + c_name], name)
            if name in sizes:
                self.assertEqual(getattr(khorgos, name).SIZE, sizes[name], name)

    def test_names_match_the_sources(self):
        header = read("include", "khorgos.h")
        # Both lists are append-only (their numbers are stable): the package's must be the
        # header's, or a prefix of it while the package lags (a newer number then shows as such).
        errors = header[header.index("#define KHORGOS_ERRORS"):]
        declared = re.findall(r'X\((\w+), "', errors[:errors.index("ENUM_")])
        self.assertEqual(names.ERRORS, declared[:len(names.ERRORS)])
        self.assertIn("client_closed", names.ERRORS)
        settle = header[header.index("#define KHORGOS_SETTLE_STATUSES"):]
        declared = re.findall(r'X\((\w+), "', settle[:settle.index("ENUM_")])
        self.assertEqual(names.SETTLE_STATUSES, declared[:len(names.SETTLE_STATUSES)])
        self.assertIn("holiday_on_open_day", names.SETTLE_STATUSES)
        translate = read("src", "server", "server_translate.c")
        pairs = re.findall(r'\{"(\w+)", (\d+)u\}', translate)
        tables = {int(number): name for name, number in pairs}
        for number, name in {**names.CREATE_ACCOUNT_STATUSES,
                             **names.CREATE_TRANSFER_STATUSES}.items():
            self.assertIn(number, tables)
        self.assertEqual(len(names.CREATE_ACCOUNT_STATUSES) + len(names.CREATE_TRANSFER_STATUSES),
                         len(pairs))


class TestChecksum(unittest.TestCase):
    def test_empty_and_c_library(self):
        self.assertEqual(aegis._checksum_python(b""), 0x49F174618255402DE6E7E3C40D60CC83)
        path = os.environ.get("KHORGOS_CLIENT_LIBRARY_CHECK")
        if not path:
            self.skipTest("KHORGOS_CLIENT_LIBRARY_CHECK is not set")
        library = ctypes.CDLL(path)
        generator = random.Random(7)
        for size in [1, 15, 16, 31, 32, 33, 255, 256, 1000, 4096]:
            data = bytes(generator.randrange(256) for _ in range(size))
            out = ctypes.create_string_buffer(16)
            library.khorgos_client_checksum(data, ctypes.c_size_t(size), out)
            self.assertEqual(aegis._checksum_python(data), int.from_bytes(out.raw, "little"))


class TestClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        status = cls.server.stop()
        if status != 0:
            raise AssertionError(f"khorgos start exited {status}")

    def client(self, **options):
        return khorgos.Client(addresses=[f"127.0.0.1:{self.server.port}"], cluster_id=0,
                              **options)

    def test_ledger(self):
        with self.client() as c:
            results = c.create_accounts([khorgos.Account(id=101, ledger=156, code=1),
                                         khorgos.Account(id=102, ledger=156, code=1)])
            self.assertEqual([names.CREATE_ACCOUNT_STATUSES[r.status] for r in results],
                             ["created", "created"])
            results = c.create_transfers([khorgos.Transfer(id=110, debit_account_id=101,
                                                           credit_account_id=102, amount=500,
                                                           ledger=156, code=1),
                                          khorgos.Transfer(id=111, debit_account_id=101,
                                                           credit_account_id=999, amount=1,
                                                           ledger=156, code=1)])
            self.assertEqual([names.CREATE_TRANSFER_STATUSES[r.status] for r in results],
                             ["created", "credit_account_not_found"])
            accounts = c.lookup_accounts([101, 102, 103])
            self.assertEqual([a.id for a in accounts], [101, 102])
            self.assertEqual(accounts[1].credits_posted, 500)
            transfers = c.query_transfers(khorgos.QueryFilter(ledger=156, limit=10))
            self.assertEqual([t.id for t in transfers], [110])

    def test_settlement_and_clock(self):
        with self.client() as c:
            participants = [
                khorgos.Participant(bic="NBRKKZKX", country="KZ", role=3, name="National Bank",
                                    currencies=[398]),
                khorgos.Participant(bic="HSBKKZKX", country="KZ", role=1, name="Halyk",
                                    currencies=[398]),
                khorgos.Participant(bic="KCJBKZKX", country="KZ", role=1, name="Kaspi",
                                    currencies=[398])]
            self.assertEqual([r.status for r in c.create_participants(participants)], [0, 0, 0])
            day = khorgos.BusinessDay(id=1, currency=398, date=20230519, queue_mode=2)
            self.assertEqual(c.open_day([day])[0].status, 0)
            fund = khorgos.ParticipantEvent(id=2, bic="HSBKKZKX", currency=398, amount=100000000)
            self.assertEqual(c.fund([fund])[0].status, 0)
            payment = khorgos.Payment(id=10, debtor="HSBKKZKX", creditor="KCJBKZKX",
                                      amount=125050, currency=398, end_to_end_id="INV-1")
            result = c.submit_payments([payment])[0]
            self.assertEqual(names.SETTLE_STATUSES[result.status], "settled")
            self.assertEqual(result.payments_settled, 1)
            looked_up = c.lookup_payments([10])[0]
            self.assertEqual((looked_up.debtor, looked_up.amount), ("HSBKKZKXXXX", 125050))
            positions = c.get_positions(khorgos.SettleFilter(bic="KCJBKZKX"))
            self.assertEqual(positions[0].received, 125050)
            now = c.advance_clock(60 * 10**9)
            self.assertGreaterEqual(now, MANUAL_START_NS + 60 * 10**9)
            with self.assertRaises(khorgos.Error) as refused:
                c.lookup_payments(list(range(1, 4096)))
            self.assertEqual(refused.exception.name, "too_many_events")
            self.assertEqual(c.lookup_payments([10])[0].id, 10)  # the session goes on

    def test_retry_after_lost_reply(self):
        proxy = LossyProxy(self.server.port)
        c = khorgos.Client(addresses=[f"127.0.0.1:{proxy.port}",
                                      f"127.0.0.1:{self.server.port}"], retry=0.2)
        account = khorgos.Account(id=201, ledger=156, code=1)
        status = c.create_accounts([account])[0].status
        self.assertEqual(names.CREATE_ACCOUNT_STATUSES[status], "created")  # not "exists"
        status = c.create_accounts([account])[0].status
        self.assertEqual(names.CREATE_ACCOUNT_STATUSES[status], "exists")
        self.assertTrue(proxy.dropped)
        c.close()
        proxy.close()

    def test_timeout(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        c = khorgos.Client(addresses=[silent.getsockname()[1]], timeout=0.3, retry=0.1)
        start = time.monotonic()
        with self.assertRaises(khorgos.Timeout):
            c.lookup_accounts([1])
        self.assertLess(time.monotonic() - start, 2)
        c.close()
        silent.close()

    def test_reconnect_paced(self):
        """A server that closes every connection at once (as one of another cluster does) is
        not reconnected to in a tight loop: with one address and a retry of 0.2 s the client
        waits 0.05 s after each drop, so a second sees at most about 20 connections."""
        closer = socket.socket()
        closer.bind(("127.0.0.1", 0))
        closer.listen(16)
        closer.settimeout(0.05)
        accepted, stop = [0], threading.Event()

        def close_each():
            while not stop.is_set():
                try:
                    connection, _ = closer.accept()
                except OSError:
                    continue
                accepted[0] += 1
                connection.close()
        thread = threading.Thread(target=close_each)
        thread.start()
        c = khorgos.Client(addresses=[closer.getsockname()[1]], timeout=1.0, retry=0.2)
        with self.assertRaises(khorgos.Timeout):
            c.lookup_accounts([1])
        c.close()
        stop.set()
        thread.join()
        closer.close()
        self.assertGreaterEqual(accepted[0], 2)
        self.assertLessEqual(accepted[0], 40)


class TestMessages(unittest.TestCase):
    """The ISO 20022 operations through the server, and what it pushes: a pacs.008 accepted
    ACSP while its payer has no funds gets its pacs.002 ACSC pushed once the payer is funded,
    and a session subscribed to the payee's account gets the camt.054 of the credit."""

    def setUp(self):
        self.server = Server()

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0)

    def test_message_pushed_status_and_entries(self):
        received = []
        address = [f"127.0.0.1:{self.server.port}"]
        with khorgos.Client(addresses=address) as operator, \
                khorgos.Client(addresses=address,
                               on_notification=lambda *n: received.append(n)) as bank:
            participants = [
                khorgos.Participant(bic=bic, country="KZ", role=role, name=bic[:4],
                                    currencies=[398])
                for bic, role in [("NBRKKZKX", 3), ("HSBKKZKX", 1), ("KCJBKZKX", 1)]]
            self.assertEqual([r.status for r in operator.create_participants(participants)],
                             [0, 0, 0])
            day = khorgos.BusinessDay(id=1, currency=398, date=20230519, queue_mode=2)
            self.assertEqual(operator.open_day([day])[0].status, 0)
            bank.subscribe_entries("KCJBKZKX", 398)
            with open(os.path.join(SOURCE, "tests", "iso20022", "pacs008_v08.xml"), "rb") as f:
                result = bank.submit_message(f.read())
            self.assertEqual((result["status"], result["transactions"]), ("ACSP", 1))
            self.assertIn("<TxSts>ACSP</TxSts>", result["reply_xml"])
            fund = khorgos.ParticipantEvent(id=2, bic="HSBKKZKX", currency=398, amount=10**6)
            self.assertEqual(operator.fund([fund])[0].status, 0)
            deadline = time.monotonic() + 5
            while len(received) < 2 and time.monotonic() < deadline:
                bank.poll_notifications(0.2)
            kinds = {kind: body.decode() for kind, _, body in received}
            self.assertIn("<TxSts>ACSC</TxSts>", kinds[client.NOTIFICATION_PAYMENT_STATUS])
            self.assertIn("<CdtDbtInd>CRDT</CdtDbtInd>", kinds[client.NOTIFICATION_ACCOUNT_ENTRIES])
            status = bank.get_message_status(uetr="e7985fdc-04da-494d-9f89-cc9502ea84bb")
            self.assertEqual(status["status"], "ACSC")
            statement = bank.get_statement("KCJBKZKX", 398, date=20230519)
            self.assertIn("camt.053.001.08", statement)
            self.assertEqual(operator.lookup_payments([1]), [])  # the session goes on


class LossyProxy:
    """Forwards one connection to the server and drops the first reply that is not
    register's, with the connection."""

    def __init__(self, server_port):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.server_port = server_port
        self.dropped = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @staticmethod
    def read_message(connection):
        data = b""
        while len(data) < client.HEADER_BYTES or len(data) < struct.unpack_from("<I", data, 96)[0]:
            chunk = connection.recv(1 << 20)
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def run(self):
        downstream, _ = self.listener.accept()
        upstream = socket.create_connection(("127.0.0.1", self.server_port))
        try:
            while True:
                upstream.sendall(self.read_message(downstream))
                reply = self.read_message(upstream)
                if reply[236] != client.OPERATION_REGISTER:
                    self.dropped = True
                    break
                downstream.sendall(reply)
        except (ConnectionError, OSError):
            pass
        downstream.close()
        upstream.close()

    def close(self):
        self.listener.close()
        self.thread.join(timeout=5)


if __name__ == "__main__":
    unittest.main()
