#!/usr/bin/env python3
"""cluster_faults.py: traffic, faults and the checker for a Khorgos cluster on this machine.

It formats and starts REPLICAS `khorgos start` processes (3 or 5 replicas of one cluster, or 1:
a single node), runs CLIENTS `khorgos client` processes that send ledger transfers and
settlement payments (each client one session, retrying a request with the same number until
--timeout), and meanwhile makes faults, each bounded in time:

  kill       SIGKILL of the leader or of a follower, restarted after a pause
  stop       SIGSTOP of the leader or of a follower, SIGCONT after a pause
  corrupt    a follower killed, the last bytes of its raft log's newest file flipped, restarted:
             it must refuse to start (exit 4, naming the file and offset), and is replaced
  wipe       a replica (leader or follower) killed and its data directory deleted, then
             replaced
  crash      every replica SIGKILLed at once (a power cut of the whole cluster, as far as the
             processes go: what a replica's journal writer had not written is gone, and must
             come back from raft's log), all restarted after a pause
  (replaced: a fresh directory of the next generation, started, and `khorgos cluster add` run
  until it is a voter in place of the old generation, while the traffic goes on)
  partition  (--netns, as root) a replica's veth link set down, then up again

Every reply line a client wrote is an acknowledged request. At the end, with the faults healed,
the checker asks the cluster (through any address: the leader answers) and checks:

  - every acknowledged transfer and payment is present, once, with its amount;
  - conservation in every currency: the ledger's debits equal its credits and equal the sum of
    the transfers present; the settlement balances sum to what was funded;
  - no acknowledged create answered `exists` (a retry applied twice would be);
  - the replicas, stopped together, hold the same journal: equal last sequence and chain head
    (`khorgos check`), which with the deterministic state machine means equal state digests;
  - no two replicas announced themselves leader in one term (their stderr event lines).

It prints one line of counts (kills, stops, corruptions, wipes, replacements, crashes,
partitions, acknowledged requests checked, lost) and exits 0 when every check holds, 1
otherwise.
"""
import argparse
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

LEDGERS = (840, 978)
ACCOUNTS_PER_LEDGER = 8
BANKS = ("HSBKKZKX", "KCJBKZKX", "ATYNKZKA", "BRKEKZKA")
CURRENCIES = ("KZT", "CNY")
FUND_MAJOR = 1000000000
LOOKUP_CHUNK = 4000


STARTED = time.monotonic()


def log(message):
    """One line, with the seconds since the harness started (to set beside the replicas'
    stderr, which has no times)."""
    print("cluster_faults: [%7.1f] %s" % (time.monotonic() - STARTED, message), flush=True)


class Cluster:
    """The replica processes: their data directories, addresses, logs and pids."""

    def __init__(self, args):
        self.args = args
        self.khorgos = os.path.abspath(args.khorgos)
        self.work = os.path.abspath(args.work)
        self.count = args.replicas
        # With --netns the replicas and the clients all name the same loopback addresses, each
        # in its own namespace; stunnel carries them between namespaces (netns_setup).
        self.hosts = [args.host] * self.count
        self.links = ["10.77.%d.%d" % (args.seed % 200, index + 1)
                      for index in range(self.count)]
        self.ports = [args.port + index for index in range(self.count)]
        self.addresses = ",".join("%s:%d" % (h, p) for h, p in zip(self.hosts, self.ports))
        # Each replica's HTTP port, for `khorgos status` (with --netns inside the replica's
        # namespace, asked there).
        self.http = ["127.0.0.1:%d" % (args.port + self.count + index)
                     for index in range(self.count)]
        self.tunnels = []
        self.processes = [None] * self.count
        self.copiers = [None] * self.count  # the threads copying each replica's stderr
        self.generations = [0] * self.count
        self.stopped = [False] * self.count
        self.link_down = [False] * self.count
        # raft snapshots each replica's process reported on /metrics when last asked, and the
        # sums over the processes that ended (a lower bound: what a process did after its
        # last answer is not counted).
        self.snapshots_seen = [{"taken": 0, "installed": 0, "newer": 0}
                               for _ in range(self.count)]
        self.snapshots = {"taken": 0, "installed": 0, "newer": 0}

    def mark(self, message):
        """Logs `message` and writes it into every replica's stderr file too, where it dates
        the replicas' lines around it."""
        log(message)
        line = "cluster_faults: [%7.1f] %s\n" % (time.monotonic() - STARTED, message)
        for index in range(self.count):
            with open(os.path.join(self.work, "r%d.log" % index), "a") as stream:
                stream.write(line)

    def data(self, index):
        return os.path.join(self.work, "r%d" % index)

    def format(self):
        for index in range(self.count):
            self.format_one(index)

    def format_one(self, index):
        command = [self.khorgos, "format", "--data", self.data(index), "--cluster", "7"]
        if self.count > 1:
            command += ["--replica", str(index), "--replica-count", str(self.count),
                        "--generation", str(self.generations[index])]
        if self.args.payments:
            command += ["--payments", str(self.args.payments)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    # How long a replacement may take: the fresh replica gets the leader's raft snapshot, loads
    # it into an engine of the format's capacities and catches up in rounds that must each end
    # within an election timeout (docs/replication.md, "Adding a replica"). After a crash of
    # the whole cluster on a loaded machine (load 10 to 16 on 2 cores) that took up to about
    # 95 s, from the restart through the new leader to the promotion.
    REPLACE_SECONDS = 180

    def replace(self, index, timeout_seconds=REPLACE_SECONDS):
        """Replica `index`, killed, gets a fresh directory of the next generation, is started
        and added (`khorgos cluster add`, asked through the leader first). False when the
        change did not finish."""
        self.kill(index)
        subprocess.run(["rm", "-rf", self.data(index)], check=True)
        self.generations[index] += 1
        self.format_one(index)
        self.start(index)
        return self.add(index, timeout_seconds)

    def add(self, index, timeout_seconds):
        """`khorgos cluster add` of replica `index`'s current generation, asked through the
        leader first (again, for a replacement that did not finish). False when the change
        did not finish in time."""
        started = time.monotonic()
        addresses = self.addresses.split(",")
        leader = self.leader()
        if leader is not None:
            addresses = addresses[leader:] + addresses[:leader]
        result = subprocess.run([self.khorgos, "cluster", "add", "--addresses",
                                 ",".join(addresses), "--cluster", "7", "--replica", str(index),
                                 "--generation", str(self.generations[index]), "--timeout",
                                 str(timeout_seconds)], capture_output=True, text=True)
        lines = result.stdout.strip().splitlines()
        self.mark("replica %d replaced by generation %d (%.1f s): %s" % (
            index, self.generations[index], time.monotonic() - started,
            lines[-1] if lines else result.stderr.strip()))
        if result.returncode != 0:
            log("the replacement did not finish in %d s; status:\n%s"
                % (timeout_seconds, self.status()))
        return result.returncode == 0

    def start(self, index):
        assert self.processes[index] is None
        command = [self.khorgos, "start", "--data", self.data(index),
                   "--addresses", self.addresses]
        if self.count > 1:
            command += ["--replica", str(index)]
        if self.http:
            command += ["--http", self.http[index]]
        command += self.args.start_option
        if self.args.netns:
            command = ["ip", "netns", "exec", netns_name(self.args, index)] + command
        self.processes[index] = subprocess.Popen(command, stderr=subprocess.PIPE,
                                                 stdout=subprocess.DEVNULL)
        self.copiers[index] = threading.Thread(
            target=copy_timed, daemon=True,
            args=(self.processes[index].stderr, os.path.join(self.work, "r%d.log" % index)))
        self.copiers[index].start()
        self.stopped[index] = False

    def copied(self, index):
        """Waits until replica `index`'s stderr, the process ended, is all in its log."""
        if self.copiers[index] is not None:
            self.copiers[index].join(timeout=10)
            self.copiers[index] = None

    SNAPSHOT_METRICS = {"taken": "khorgos_cluster_snapshots_taken_total",
                        "installed": "khorgos_cluster_snapshots_installed_total",
                        "newer": "khorgos_cluster_snapshot_loads_newer_total"}

    def sample_snapshots(self, index):
        """Reads replica `index`'s raft snapshot counts from its /metrics (not through
        network namespaces; a replica that does not answer within 1 s keeps its last)."""
        if self.args.netns or self.processes[index] is None or self.stopped[index]:
            return
        try:
            with urllib.request.urlopen("http://%s/metrics" % self.http[index],
                                        timeout=1) as answer:
                text = answer.read().decode()
        except (OSError, ValueError):
            return
        for key, name in self.SNAPSHOT_METRICS.items():
            pattern = re.escape(name) if "{" in name else name + r"(?:\{[^}]*\})?"
            match = re.search(r"^%s (\d+)" % pattern, text, re.M)
            if match:
                self.snapshots_seen[index][key] = int(match.group(1))

    def snapshots_end(self, index):
        """Replica `index`'s process ends: its last counts go into the sums."""
        for key in self.snapshots:
            self.snapshots[key] += self.snapshots_seen[index][key]
            self.snapshots_seen[index][key] = 0

    def kill(self, index):
        process = self.processes[index]
        if process is None:
            return
        self.sample_snapshots(index)
        self.snapshots_end(index)
        if self.stopped[index]:
            process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait()
        self.copied(index)
        self.processes[index] = None

    def reap(self):
        """The replicas whose process ended without the harness ending it (a crash of its
        own: an abort, a failed assertion), each with its exit status; their slots are
        cleared so that they can be started again."""
        ended = []
        for index, process in enumerate(self.processes):
            if process is not None and process.poll() is not None:
                self.snapshots_end(index)
                self.copied(index)
                self.processes[index] = None
                ended.append((index, process.returncode))
        return ended

    def signal(self, index, number):
        if self.processes[index] is not None:
            self.processes[index].send_signal(number)
            self.stopped[index] = number == signal.SIGSTOP

    def terminate_all(self):
        """SIGTERM to every replica at once, then wait: their journals end together."""
        for index in range(self.count):
            if self.stopped[index]:
                self.signal(index, signal.SIGCONT)
        for index in range(self.count):
            self.sample_snapshots(index)
            self.snapshots_end(index)
        live = [p for p in self.processes if p is not None]
        for process in live:
            process.send_signal(signal.SIGTERM)
        for process in live:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for index in range(self.count):
            self.copied(index)
        self.processes = [None] * self.count

    def status(self):
        """`khorgos status` of every replica: its text, or None without HTTP ports."""
        if not self.http:
            return None
        if not self.args.netns:
            result = subprocess.run([self.khorgos, "status", "--addresses", ",".join(self.http),
                                     "--timeout", "1"], capture_output=True, text=True)
            return result.stdout
        # One replica a namespace: each asked in its own, the answers one after another.
        texts = []
        for index in range(self.count):
            result = subprocess.run(["ip", "netns", "exec", netns_name(self.args, index),
                                     self.khorgos, "status", "--addresses", self.http[index],
                                     "--timeout", "1"], capture_output=True, text=True)
            texts.append(result.stdout)
        return "".join(texts)

    def leader(self):
        """The leader `khorgos status` names, else the replica the logs last named (the
        highest term), or None."""
        text = self.status() if self.count > 1 else None
        match = re.search(r"^leader: replica (\d+)", text or "", re.M)
        if match:
            return int(match.group(1))
        best = None
        for index in range(self.count):
            for term, leader in leader_events(self.work, index):
                if best is None or term > best[0]:
                    best = (term, leader)
        if self.count == 1:
            return 0
        return best[1] if best is not None else None


def copy_timed(stream, path):
    """Copies a replica's stderr into its log, each line after the harness's seconds (the
    replica's own lines have no times)."""
    with open(path, "ab") as log_file:
        for line in iter(stream.readline, b""):
            log_file.write(b"[%7.1f] " % (time.monotonic() - STARTED) + line)
            log_file.flush()
    stream.close()


# A leader's line once its term's barrier applied, when it begins to accept writes.
LEADER_EVENT = re.compile(r"event=leading replica=(\d+) term=(\d+)")


def leader_events(work, index):
    """(term, replica) for each line where replica `index` said it began to lead a term."""
    path = os.path.join(work, "r%d.log" % index)
    events = []
    if not os.path.exists(path):
        return events
    with open(path, errors="replace") as stream:
        for line in stream:
            match = LEADER_EVENT.search(line)
            if match:
                events.append((int(match.group(2)), int(match.group(1))))
    return events


def netns_name(args, index):
    return "khf%d_%d" % (args.seed % 200, index)


def netns_setup(cluster, args):
    """One namespace per replica, each joined to a bridge in the root namespace by a veth pair;
    the replica's address is on its end. A partition sets the root end of one link down."""
    net = args.seed % 200
    bridge = "khfbr%d" % net
    commands = [["ip", "link", "add", bridge, "type", "bridge"],
                ["ip", "addr", "add", "10.77.%d.254/24" % net, "dev", bridge],
                ["ip", "link", "set", bridge, "up"]]
    for index in range(cluster.count):
        ns = netns_name(args, index)
        outer, inner = "khfv%d_%d" % (net, index), "khfi%d_%d" % (net, index)
        commands += [["ip", "netns", "add", ns],
                     ["ip", "link", "add", outer, "type", "veth", "peer", "name", inner],
                     ["ip", "link", "set", inner, "netns", ns],
                     ["ip", "link", "set", outer, "master", bridge],
                     ["ip", "link", "set", outer, "up"],
                     ["ip", "netns", "exec", ns, "ip", "addr", "add",
                      "%s/24" % cluster.links[index], "dev", inner],
                     ["ip", "netns", "exec", ns, "ip", "link", "set", inner, "up"],
                     ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]]
    for command in commands:
        subprocess.run(command, check=True)


RAFT_PORT_OFFSET = 1000  # the replica's raft port: its client port plus this


def stunnel_service(name, accept, connect, cert, ca, hosts, client):
    lines = ["[%s]" % name, "accept = %s" % accept, "connect = %s" % connect,
             "cert = %s.crt" % cert, "key = %s.key" % cert, "CAfile = %s" % ca,
             "verifyChain = yes", "sslVersionMin = TLSv1.3"]
    lines += ["checkHost = %s" % host for host in hosts]
    if client:
        lines.append("client = yes")
    return "\n".join(lines) + "\n"


def tunnels_start(cluster, args):
    """The TLS sidecars (docs/replication.md, "Replica certificates"): in each replica's
    namespace, stunnel takes TLS on the namespace's link address and forwards it to the
    replica's loopback ports (client and raft), and carries the other replicas' loopback ports
    to their namespaces; in the root namespace it carries the clients' loopback ports to the
    replicas. Replicas present and require `replica` certificates; clients `operator`."""
    ca = os.path.join(cluster.work, "ca")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                          "dev-ca.sh")
    subprocess.run(["sh", script, ca, "replica", "operator"], check=True,
                   stdout=subprocess.DEVNULL)
    head = "foreground = yes\npid =\ndebug = 3\n"
    for index in range(cluster.count + 1):
        text = head
        cert = os.path.join(ca, "replica" if index < cluster.count else "operator")
        for peer in range(cluster.count):
            for offset, kind in ((0, "client"), (RAFT_PORT_OFFSET, "raft")):
                local = "127.0.0.1:%d" % (cluster.ports[peer] + offset)
                remote = "%s:%d" % (cluster.links[peer], cluster.ports[peer] + offset)
                if peer == index:
                    hosts = ["replica"] + (["operator"] if kind == "client" else [])
                    text += stunnel_service("%s-in" % kind, remote, local, cert,
                                            os.path.join(ca, "ca.crt"), hosts, False)
                elif index < cluster.count or kind == "client":
                    text += stunnel_service("%s-%d" % (kind, peer), local, remote, cert,
                                            os.path.join(ca, "ca.crt"), ["replica"], True)
        path = os.path.join(cluster.work, "stunnel%d.conf" % index)
        with open(path, "w") as stream:
            stream.write(text)
        command = ["stunnel", path]
        if index < cluster.count:
            command = ["ip", "netns", "exec", netns_name(args, index)] + command
        log_file = open(os.path.join(cluster.work, "stunnel%d.log" % index), "w")
        cluster.tunnels.append(subprocess.Popen(command, stderr=log_file,
                                                stdout=subprocess.DEVNULL))
    time.sleep(0.5)


def tunnel_refuses(cluster, name):
    """Whether replica 0's raft TLS port refuses a connection with certificate `name`: a TLS
    alert within 2 s (TLS 1.3 refuses a client certificate after the handshake). A close
    without one is the port behind it not listening (a single node has no raft): accepted."""
    ca = os.path.join(cluster.work, "ca")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_verify_locations(os.path.join(ca, "ca.crt"))
    context.load_cert_chain(os.path.join(ca, name + ".crt"), os.path.join(ca, name + ".key"))
    context.check_hostname = False
    address = (cluster.links[0], cluster.ports[0] + RAFT_PORT_OFFSET)
    try:
        with socket.create_connection(address, timeout=5) as raw:
            with context.wrap_socket(raw) as stream:
                stream.settimeout(2)
                stream.recv(1)
                return False
    except (ssl.SSLError, ConnectionResetError):
        return True
    except socket.timeout:
        return False


def tunnels_check(cluster):
    """The raft port takes a replica certificate and refuses an operator's."""
    if tunnel_refuses(cluster, "replica") or not tunnel_refuses(cluster, "operator"):
        raise RuntimeError("the raft TLS port must take `replica` and refuse `operator`")
    log("raft's TLS port takes a replica certificate and refuses an operator's")


def tunnels_stop(cluster):
    for tunnel in cluster.tunnels:
        tunnel.terminate()
        tunnel.wait()
    cluster.tunnels = []


def netns_teardown(cluster, args):
    net = args.seed % 200
    for index in range(cluster.count):
        subprocess.run(["ip", "netns", "del", netns_name(args, index)],
                       stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "link", "del", "khfv%d_%d" % (net, index)],
                       stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "link", "del", "khfbr%d" % net], stderr=subprocess.DEVNULL)


def set_link(args, index, up):
    net = args.seed % 200
    subprocess.run(["ip", "link", "set", "khfv%d_%d" % (net, index), "up" if up else "down"],
                   check=True)


def client_run(cluster, lines, timeout_seconds, stop_at=None, first=None):
    """Runs `khorgos client` and gives it `lines` one at a time, each once the reply to the one
    before it came (the client groups the lines it has into one batch and answers the batch
    at once), so every reply read is one acknowledged request. Returns the reply lines, the
    exit status and standard error. At `stop_at` (a time.monotonic()) it is killed: what it had
    not answered is unacknowledged. `first`: the replica to try first (the leader)."""
    addresses = cluster.addresses.split(",")
    if first is not None:
        addresses = addresses[first:] + addresses[:first]
    command = [cluster.khorgos, "client", "--addresses", ",".join(addresses), "--cluster", "7",
               "--timeout", str(timeout_seconds)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    replies, buffered, killed = [], b"", False
    for line in lines:
        try:
            process.stdin.write(line.encode() + b"\n")
            process.stdin.flush()
        except BrokenPipeError:  # the client stopped (its stderr says why)
            break
        while b"\n" not in buffered:
            wait = None if stop_at is None else stop_at - time.monotonic()
            ready = select.select([process.stdout], [], [], wait)[0] if wait is None or \
                wait > 0 else []
            chunk = os.read(process.stdout.fileno(), 65536) if ready else b""
            if not ready:
                process.kill()
                killed = True
            if not chunk:
                break
            buffered += chunk
        if b"\n" not in buffered:
            break
        reply, buffered = buffered.split(b"\n", 1)
        replies.append(reply.decode())
    if not killed:
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass
    stderr = process.stderr.read().decode(errors="replace")
    process.wait()
    return replies, process.returncode, stderr + (" (killed at the run's end)" if killed else "")


def setup_lines():
    accounts = [{"id": str(ledger * 1000 + k), "ledger": ledger, "code": 1}
                for ledger in LEDGERS for k in range(ACCOUNTS_PER_LEDGER)]
    participants = [{"bic": "NBRKKZKX", "country": "KZ", "role": "settlement_agent",
                     "name": "Central", "currencies": list(CURRENCIES)}]
    participants += [{"bic": bic, "country": "KZ", "role": "bank", "name": bic,
                      "currencies": list(CURRENCIES)} for bic in BANKS]
    days = [{"id": str(1 + i), "currency": c, "date": 20230519, "queue_mode": "fifo"}
            for i, c in enumerate(CURRENCIES)]
    funds = [{"id": str(100 + i), "bic": bic, "currency": c, "amount": "%d.00" % FUND_MAJOR}
             for i, (bic, c) in enumerate((b, c) for b in BANKS for c in CURRENCIES)]
    return [json.dumps({"op": "create_accounts", "events": accounts}),
            json.dumps({"op": "create_participants", "events": participants}),
            json.dumps({"op": "open_day", "events": days}),
            json.dumps({"op": "fund", "events": funds})]


def traffic_lines(client, count, rng):
    """`count` requests: transfers (1 to 4 events) and payments (1 or 2), ids unique to the
    client. Returns the lines and, per line, what it creates."""
    lines, sent = [], []
    for number in range(count):
        base = (client + 1) * 10000000 + number * 10
        if rng.random() < 0.6:
            events = []
            for k in range(rng.randint(1, 4)):
                ledger = rng.choice(LEDGERS)
                debit, credit = rng.sample(range(ACCOUNTS_PER_LEDGER), 2)
                events.append({"id": str(base + k), "debit_account_id": str(ledger * 1000 + debit),
                               "credit_account_id": str(ledger * 1000 + credit),
                               "amount": str(rng.randint(1, 1000)), "ledger": ledger, "code": 10})
            lines.append(json.dumps({"op": "create_transfers", "events": events}))
            sent.append(("transfer", events))
        else:
            events = []
            for k in range(rng.randint(1, 2)):
                debtor, creditor = rng.sample(BANKS, 2)
                events.append({"id": str(base + k), "debtor": debtor, "creditor": creditor,
                               "amount": "%d.%02d" % (rng.randint(1, 999), rng.randint(0, 99)),
                               "currency": rng.choice(CURRENCIES),
                               "end_to_end_id": "C%dN%d" % (client, number)})
            lines.append(json.dumps({"op": "submit_payments", "events": events}))
            sent.append(("payment", events))
    return lines, sent


class ClientSlot(threading.Thread):
    """One client's traffic: `khorgos client` processes one after another (each a new session)
    of --requests requests each, until the deadline."""

    def __init__(self, cluster, args, client, rng):
        super().__init__(daemon=True)
        self.cluster, self.args, self.client, self.rng = cluster, args, client, rng
        self.outputs, self.sents, self.failures = [], [], 0

    def start(self, deadline):
        self.deadline = deadline
        super().start()

    def run(self):
        round_number = 0
        while time.monotonic() < self.deadline:
            number = self.client + self.args.clients * round_number
            lines, sent = traffic_lines(number, self.args.requests, self.rng)
            replies, status, stderr = client_run(self.cluster, lines, self.args.timeout,
                                                 self.deadline + self.args.grace)
            self.outputs.append(replies)
            self.sents.append(sent)
            if status != 0:
                self.failures += 1
                log("client %d: %s" % (number, stderr.strip()[-200:]))
            round_number += 1


def minor(text):
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


# Each kind of fault and the count that records it made.
COUNTED = {"kill": "kills", "stop": "stops", "corrupt": "corruptions", "wipe": "wipes",
           "crash": "crashes", "partition": "partitions"}


class Faults:
    def __init__(self, cluster, args, rng):
        self.cluster, self.args, self.rng = cluster, args, rng
        self.counts = {"kills": 0, "stops": 0, "corruptions": 0, "wipes": 0,
                       "replacements": 0, "crashes": 0, "partitions": 0}
        self.problems = []
        self.made = 0
        self.unfinished = set()  # replicas whose replacement did not finish

    def victim(self):
        leader = self.cluster.leader()
        if self.cluster.count == 1:
            return 0, "single node"
        if leader is not None and self.rng.random() < 0.5:
            return leader, "leader"
        choices = [i for i in range(self.cluster.count) if i != leader] or [0]
        return self.rng.choice(choices), "follower"

    def died(self):
        """A replica that ended by itself is a failure of the run; it is started again so
        that the run goes on."""
        for index, status in self.cluster.reap():
            self.problems.append("replica %d ended by itself (exit status %s; its log says "
                                 "why)" % (index, status))
            for each in range(self.cluster.count):  # the leader's snapshots matter too
                self.keep_raft_state(each, "ended-%d-by-%d" % (len(self.problems), index))
            self.cluster.mark("replica %d ended by itself (exit status %s): started again"
                              % (index, status))
            self.cluster.start(index)

    def keep_raft_state(self, index, label):
        """What raft kept on disk when a replica ended by itself (its snapshots' terms and
        indexes are in their names and .meta files), copied beside the replicas' logs before it
        starts again: the evidence of why."""
        raft = os.path.join(self.cluster.data(index), "raft")
        kept = os.path.join(self.cluster.work, "r%d-%s" % (index, label))
        os.makedirs(kept, exist_ok=True)
        try:
            names = sorted(os.listdir(raft))
        except OSError:
            return
        # The other replicas run on: a segment finalized or a snapshot removed after the
        # listing is left out, not a reason to stop the run.
        with open(os.path.join(kept, "listing"), "w") as stream:
            for name in names:
                try:
                    stream.write("%s %d\n" % (name, os.path.getsize(os.path.join(raft, name))))
                    if name.endswith(".meta") or name.startswith("metadata"):
                        shutil.copy(os.path.join(raft, name), kept)
                except OSError:
                    stream.write("%s gone\n" % name)

    def one(self):
        self.died()
        if not self.finish_replacements():
            return
        kinds = [kind for kind in self.args.faults.split(",")
                 if (kind not in ("corrupt", "wipe") or self.cluster.count > 1)
                 and (kind != "partition" or self.args.netns)]
        # Drawn at random from six kinds, one kind is missed by 22 draws about once in ten
        # runs, so the kinds this run has not made yet are drawn from first: a run of at
        # least as many faults as kinds makes every kind.
        missing = [kind for kind in kinds if self.counts[COUNTED[kind]] == 0]
        if self.args.cycle:
            kind = kinds[self.made % len(kinds)]
        else:
            kind = self.rng.choice(missing or kinds)
        self.made += 1
        index, role = self.victim()
        if kind == "corrupt":
            leader = self.cluster.leader()
            followers = [i for i in range(self.cluster.count) if i != leader]
            index, role = self.rng.choice(followers), "follower"
        pause = self.rng.uniform(self.args.pause_min, self.args.pause_max)
        for each in range(self.cluster.count):
            self.cluster.sample_snapshots(each)
        self.cluster.mark("fault %s of replica %d (%s) for %.1f s" % (kind, index, role, pause))
        if kind == "crash":
            log("crash: every replica killed at once")
            for each in range(self.cluster.count):
                self.cluster.kill(each)
            time.sleep(pause)
            for each in range(self.cluster.count):
                self.cluster.start(each)
            self.counts["crashes"] += 1
        elif kind == "kill":
            self.cluster.kill(index)
            time.sleep(pause)
            self.cluster.start(index)
            self.counts["kills"] += 1
        elif kind == "stop":
            self.cluster.signal(index, signal.SIGSTOP)
            time.sleep(pause)
            self.cluster.signal(index, signal.SIGCONT)
            self.counts["stops"] += 1
        elif kind == "corrupt":
            self.cluster.kill(index)
            damaged = corrupt_raft_tail(self.cluster.data(index), self.rng)
            time.sleep(pause)
            self.cluster.start(index)
            if damaged:
                self.counts["corruptions"] += 1
                self.refused_then_replaced(index)
        elif kind == "wipe":
            self.counts["wipes"] += 1
            self.replaced(index)
        else:
            set_link(self.args, index, False)
            self.cluster.link_down[index] = True
            time.sleep(pause)
            set_link(self.args, index, True)
            self.cluster.link_down[index] = False
            self.counts["partitions"] += 1


    def refused_then_replaced(self, index):
        """A replica whose raft log was damaged must refuse to start (exit 4, the file and the
        offset named); then it is replaced. It refuses once its engine opened (the journal
        verified, the engine's memory reserved): about 4 s on the idle machine for a run's
        directory, and over 20 s measured on a loaded one, so it is given 90 s."""
        process = self.cluster.processes[index]
        try:
            status = process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            status = None
        self.cluster.processes[index] = None if status is not None else process
        if status is not None:
            self.cluster.copied(index)
        path = os.path.join(self.cluster.work, "r%d.log" % index)
        with open(path, errors="replace") as stream:
            said = "the raft log batch at offset" in stream.read()
        if status != 4 or not said:
            self.problems.append("replica %d with a damaged raft log: exit %s, refusal said: %s"
                                 % (index, status, said))
        self.replaced(index)

    def replaced(self, index):
        if self.cluster.replace(index):
            self.counts["replacements"] += 1
        else:
            self.problems.append("replica %d was not replaced" % index)
            self.unfinished.add(index)

    def finish_replacements(self):
        """A replacement that did not finish leaves the cluster one voter short (the old
        generation is out, the new one a standby): one more lost replica would be two faults
        at once, past what three replicas tolerate, and the cluster could never commit again.
        So before another fault the replacement is asked for again; True when none is left."""
        for index in sorted(self.unfinished):
            self.cluster.mark("finishing the replacement of replica %d first" % index)
            if self.cluster.add(index, Cluster.REPLACE_SECONDS):
                self.unfinished.discard(index)
        return not self.unfinished


def corrupt_raft_tail(data, rng):
    """Flips 4 bytes among the last 64 written bytes of the newest file of the replica's raft
    log. raft preallocates its open segments with zeros, so the written end is the last
    nonzero byte, not the file's end."""
    folder = os.path.join(data, "raft")
    if not os.path.isdir(folder):
        log("no raft log in %s: nothing to corrupt" % data)
        return False
    names = [n for n in os.listdir(folder) if n[0].isdigit() or n.startswith("open-")]
    paths = [os.path.join(folder, n) for n in names]
    paths = [p for p in paths if os.path.getsize(p) > 64]
    if not paths:
        return False
    path = max(paths, key=os.path.getmtime)
    with open(path, "rb") as stream:
        content = stream.read()
    end = len(content.rstrip(b"\0"))
    if end <= 64:
        log("%s holds no entry yet: nothing to corrupt" % path)
        return False
    with open(path, "r+b") as stream:
        for _ in range(4):
            offset = end - 1 - rng.randrange(64)
            stream.seek(offset)
            stream.write(bytes([content[offset] ^ 0xFF]))
    log("flipped 4 of the last 64 written bytes of %s (it ends at %d)" % (path, end))
    return True


def acknowledged(outputs, sents):
    """Per kind, the events whose request got a reply, with the reply's status; and the count
    of requests acknowledged."""
    acked = {"transfer": {}, "payment": {}}
    requests = 0
    problems = []
    for lines, sent in zip(outputs, sents):
        for line, (kind, events) in zip(lines, sent):
            reply = json.loads(line)
            if "results" not in reply:
                problems.append("a request was refused: " + line)
                continue
            requests += 1
            for event, result in zip(events, reply["results"]):
                acked[kind][event["id"]] = (event, result["status"])
    return acked, requests, problems


def lookup(cluster, op, key, ids):
    found = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start:start + LOOKUP_CHUNK]
        lines, status, stderr = client_run(cluster, [json.dumps({"op": op, "ids": chunk})], 60,
                                           first=cluster.leader())
        if status != 0 or not lines:
            raise RuntimeError("%s failed: %s" % (op, stderr.strip()))
        for record in json.loads(lines[0])[key]:
            if record["id"] in found:
                raise RuntimeError("%s returned id %s twice" % (op, record["id"]))
            found[record["id"]] = record
    return found


def check_state(cluster, sents, acked):
    problems = []
    all_transfers = [e["id"] for sent in sents for kind, events in sent if kind == "transfer"
                     for e in events]
    all_payments = [e["id"] for sent in sents for kind, events in sent if kind == "payment"
                    for e in events]
    transfers = lookup(cluster, "lookup_transfers", "transfers", all_transfers)
    payments = lookup(cluster, "lookup_payments", "payments", all_payments)
    for event_id, (event, status) in acked["transfer"].items():
        if status != "created":
            problems.append("transfer %s acknowledged %s" % (event_id, status))
        elif event_id not in transfers:
            problems.append("acknowledged transfer %s is missing" % event_id)
        elif transfers[event_id]["amount"] != event["amount"]:
            problems.append("transfer %s has another amount" % event_id)
    for event_id, (event, status) in acked["payment"].items():
        if status not in ("settled", "queued"):
            problems.append("payment %s acknowledged %s" % (event_id, status))
        elif event_id not in payments:
            problems.append("acknowledged payment %s is missing" % event_id)
        elif payments[event_id]["amount"] != event["amount"]:
            problems.append("payment %s has another amount" % event_id)
    account_ids = [str(ledger * 1000 + k) for ledger in LEDGERS
                   for k in range(ACCOUNTS_PER_LEDGER)]
    accounts = lookup(cluster, "lookup_accounts", "accounts", account_ids)
    for ledger in LEDGERS:
        mine = [a for a in accounts.values() if a["ledger"] == ledger]
        debits = sum(int(a["debits_posted"]) for a in mine)
        credits = sum(int(a["credits_posted"]) for a in mine)
        moved = sum(int(t["amount"]) for t in transfers.values() if t["ledger"] == ledger)
        if not debits == credits == moved:
            problems.append("ledger %d: debits %d, credits %d, transfers present %d"
                            % (ledger, debits, credits, moved))
    lines, status, stderr = client_run(cluster, [json.dumps({"op": "get_positions",
                                                             "filter": {}})], 60,
                                       first=cluster.leader())
    if status != 0:
        raise RuntimeError("get_positions failed: " + stderr.strip())
    positions = json.loads(lines[0])["positions"]
    for currency in CURRENCIES:
        held = sum(minor(p["balance"]) for p in positions if p["currency"] == currency)
        if held != len(BANKS) * FUND_MAJOR * 100:
            problems.append("%s: balances sum to %d, funded %d"
                            % (currency, held, len(BANKS) * FUND_MAJOR * 100))
        settled = sum(minor(p["amount"]) for p in payments.values()
                      if p["currency"] == currency and p["state"] == "settled")
        sent = sum(minor(p["sent"]) for p in positions if p["currency"] == currency)
        if settled != sent:
            problems.append("%s: settled payments %d, positions sent %d"
                            % (currency, settled, sent))
    return problems, len(transfers), len(payments)


def save_copy(cluster):
    """--lose: a copy of every replica's directory, taken while it runs."""
    for index in range(cluster.count):
        cluster.signal(index, signal.SIGSTOP)
        subprocess.run(["cp", "-a", cluster.data(index), cluster.data(index) + ".old"],
                       check=True)
        cluster.signal(index, signal.SIGCONT)


def lose_acknowledged(cluster):
    """--lose: every replica goes back to the copy, losing what was acknowledged since; the
    checker must then fail. It shows the checker sees a loss."""
    cluster.terminate_all()
    for index in range(cluster.count):
        subprocess.run(["rm", "-rf", cluster.data(index)], check=True)
        os.rename(cluster.data(index) + ".old", cluster.data(index))
    for index in range(cluster.count):
        cluster.start(index)
    log("--lose: every replica went back to its copy from mid-run")


def wait_caught_up(cluster, seconds=60):
    """Waits until every replica applied what the leader committed (`khorgos status`: each
    answers, lag 0, one commit index), so that replicas stopped together end at one request
    (a replica that just installed a snapshot may take a while on a loaded machine). A single
    node waits 3 s. False when they did not catch up in time."""
    if cluster.count == 1:
        time.sleep(3)
        return True
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = [line.split() for line in (cluster.status() or "").splitlines()]
        rows = [row for row in rows if row and row[0].isdigit() and len(row) >= 8]
        if len(rows) == cluster.count and len({row[5] for row in rows}) == 1 and \
                all(row[7] == "0" for row in rows):
            return True
        time.sleep(0.2)
    log("the replicas did not catch up in %d s:\n%s" % (seconds, cluster.status()))
    return False


def check_journals(cluster):
    """Every replica's journal (after they stopped together) ends at one sequence and head."""
    heads = []
    for index in range(cluster.count):
        result = subprocess.run([cluster.khorgos, "check", "--data", cluster.data(index)],
                                capture_output=True, text=True)
        sequence = re.search(r"last sequence (\d+)", result.stdout)
        head = re.search(r"chain head: (\S+)", result.stdout)
        if result.returncode not in (0, 3) or not sequence or not head:
            return ["replica %d: check exited %d: %s" % (index, result.returncode,
                                                         result.stdout.strip()[-300:])]
        heads.append((int(sequence.group(1)), head.group(1)))
    log("journals: " + ", ".join("r%d %d %s" % (i, s, h[:16]) for i, (s, h) in
                                 enumerate(heads)))
    if len(set(heads)) != 1:
        return ["the replicas' journals differ: %s" % heads]
    return []


def check_leaders(cluster):
    terms = {}
    for index in range(cluster.count):
        for term, replica in leader_events(cluster.work, index):
            terms.setdefault(term, set()).add(replica)
    twice = {term: sorted(r) for term, r in terms.items() if len(r) > 1}
    problems = ["two leaders in term %d: %s" % (t, r) for t, r in twice.items()]
    return problems, len(terms)


def run(args):
    rng = random.Random(args.seed)
    os.makedirs(args.work, exist_ok=True)
    cluster = Cluster(args)
    if args.netns:
        netns_teardown(cluster, args)
        netns_setup(cluster, args)
        tunnels_start(cluster, args)
    try:
        return run_cluster(cluster, args, rng)
    finally:
        cluster.terminate_all()
        if args.netns:
            tunnels_stop(cluster)
            netns_teardown(cluster, args)


def run_cluster(cluster, args, rng):
    cluster.format()
    for index in range(cluster.count):
        cluster.start(index)
    if args.netns:
        tunnels_check(cluster)
    lines, status, stderr = client_run(cluster, setup_lines(), 60, first=cluster.leader())
    if status != 0 or len(lines) != 4:
        log("setup failed: " + stderr.strip())
        return 1
    slots = [ClientSlot(cluster, args, client, random.Random(args.seed * 1000 + client))
             for client in range(args.clients)]
    deadline = time.monotonic() + args.seconds
    for slot in slots:
        slot.start(deadline)
    faults = Faults(cluster, args, rng)
    time.sleep(args.gap)
    saved = False
    while time.monotonic() < deadline:
        if args.lose and not saved: # after the first gap's traffic
            save_copy(cluster)
            saved = True
        faults.one()
        time.sleep(args.gap)
    for slot in slots:
        slot.join()
    faults.died()
    faults.finish_replacements()  # a standby left behind would hold another journal
    problems_faults = faults.problems
    if args.lose:
        lose_acknowledged(cluster)
    outputs = [lines for slot in slots for lines in slot.outputs]
    sents = [sent for slot in slots for sent in slot.sents]
    acked, requests, problems = acknowledged(outputs, sents)
    problems += problems_faults
    try:
        state_problems, transfers, payments = check_state(cluster, sents, acked)
    except RuntimeError as error:
        log("the cluster did not answer the checker: %s; its status:\n%s"
            % (error, cluster.status()))
        raise
    problems += state_problems
    if cluster.count > 1:
        wait_caught_up(cluster)
    cluster.terminate_all()
    if cluster.count > 1:
        problems += check_journals(cluster)
    leader_problems, terms = check_leaders(cluster)
    problems += leader_problems
    for problem in problems[:20]:
        log("FAIL: " + problem)
    lost = sum(1 for p in problems if "missing" in p)
    counts = faults.counts
    log("replicas %d, clients %d, kills %d, stops %d, corruptions %d, wipes %d, "
        "replacements %d, crashes %d, partitions %d, terms with a leader %d, acknowledged "
        "requests checked %d (transfers %d, payments %d; present %d and %d), raft snapshots "
        "taken %d and installed %d, newer snapshots sent under their own term %d (at least), lost: %d"
        % (cluster.count, args.clients, counts["kills"], counts["stops"],
           counts["corruptions"], counts["wipes"], counts["replacements"], counts["crashes"],
           counts["partitions"], terms, requests,
           len(acked["transfer"]), len(acked["payment"]), transfers, payments,
           cluster.snapshots["taken"], cluster.snapshots["installed"],
           cluster.snapshots["newer"], lost))
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--khorgos", default="build/khorgos")
    parser.add_argument("--work", required=True)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4730)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100,
                        help="requests per client process (each a new session)")
    parser.add_argument("--seconds", type=float, default=20, help="time faults are made")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between faults")
    parser.add_argument("--pause-min", type=float, default=0.3)
    parser.add_argument("--pause-max", type=float, default=2.0)
    parser.add_argument("--timeout", type=int, default=30, help="a request's timeout (s)")
    parser.add_argument("--grace", type=float, default=5,
                        help="seconds after the faults' end a client may still run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--netns", action="store_true",
                        help="each replica in a network namespace; partitions by link down")
    parser.add_argument("--faults", default="kill,stop,corrupt,wipe,crash,partition",
                        help="the kinds of fault made (corrupt and wipe only with replicas, "
                        "partition only with --netns)")
    parser.add_argument("--cycle", action="store_true",
                        help="make the kinds of --faults in their order, in turn, instead of "
                        "drawing each at random (so a short run makes each kind)")
    parser.add_argument("--lose", action="store_true",
                        help="the checker's own test: go back to a copy from mid-run, so "
                        "acknowledged requests are lost and the check must fail")
    parser.add_argument("--payments", type=int, default=0,
                        help="the replicas' payment capacity (khorgos format --payments; "
                        "default: format's): a long run's clients submit more than format's "
                        "default holds")
    parser.add_argument("--start-option", action="append", default=[],
                        help="an extra option for `khorgos start` (repeatable)")
    args = parser.parse_args()
    unknown = set(args.faults.split(",")) - {"kill", "stop", "corrupt", "wipe", "crash",
                                             "partition"}
    if unknown:
        parser.error("unknown faults: %s" % ",".join(sorted(unknown)))
    if args.netns and os.geteuid() != 0:
        log("--netns needs root: partitions skipped, replicas on %s" % args.host)
        args.netns = False
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
