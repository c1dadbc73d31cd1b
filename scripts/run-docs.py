#!/usr/bin/env python3
"""Runs the examples of README.md and docs/*.md that are marked as runnable, and compares each
with the output the document shows, so the documents cannot drift from the program.

The marks are HTML comments (a Markdown viewer shows nothing of them), each on its own line just
before a fenced block (``` ... ```):

    <!-- run -->            the block is a shell script: run with `sh -e`, exit status 0
    <!-- run: COMMAND -->   the block is the standard input of COMMAND (a shell command line),
                            which must exit 0; e.g. <!-- run: khorgos apply --clock manual -->
    <!-- output -->         the block is what the run block before it writes on standard
                            output, line for line; "..." in a line stands for any text (for
                            what must vary, such as a wall-clock time), and nothing else does

A block without a mark is not run: the install and test commands of the Quick start (they
would install packages or run `make test` itself), synopses with placeholders (DIR, FILE),
fragments of C, and the per-operation request and reply shapes of docs/api.md (wrapped for
reading). Each run happens in a new empty temporary directory, which is the data directory's
parent for examples that use one, with the built binary reachable both as `khorgos` (on PATH)
and as `build/khorgos` (a link in that directory), as the README's examples call it, and the
repository's `scripts/` linked there too. Prefer
`--clock manual` in examples that show output, so the output is exact.

Each run block is one result: "docs/FILE:LINE 1 0" (or "0 1") is appended to RESULTS.
With --client, only the blocks marked `<!-- run: khorgos apply --clock manual -->` run, each
twice: through `khorgos apply --clock manual`, and through the network, as `khorgos client`
against `khorgos start --clock manual` on a freshly formatted data directory (a free loopback
port); the two outputs must be equal byte for byte but for the values of time fields (a
client's register and reads are journaled requests of its session and take timestamps, apply's
reads do not, and a status report's MsgId, which derives from those times), and each is one
result "docs/FILE:LINE:client".
With --update, an output block (without "...") that differs is rewritten with what the run
wrote, for a change that alters replies on purpose; read the difference before committing it.
Usage: run-docs.py [--update | --client] KHORGOS RESULTS [FILE.md ...]
       (default README.md docs/*.md)
"""
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

# The repository: examples call its scripts as scripts/NAME (linked into each run's directory).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = re.compile(r"^<!--\s*(run|output)(?::\s*(.*?))?\s*-->\s*$")
SECONDS_PER_RUN = 120
APPLY_MANUAL = "khorgos apply --clock manual"
SECONDS_SERVER_START = 10


def blocks(path):
    """Yields (kind, command, line, text, (first, end)) for each marked fenced block of a
    Markdown file: line is the opening fence's line number, first and end the content's line
    indexes from 0, end excluded."""
    lines = open(path, encoding="utf-8").read().split("\n")
    index = 0
    while index < len(lines):
        match = MARK.match(lines[index])
        index += 1
        if not match:
            continue
        kind, command = match.group(1), match.group(2)
        if index >= len(lines) or not lines[index].startswith("```"):
            raise SystemExit(f"{path}:{index}: a mark must be followed by a fenced block")
        start = index + 1
        end = start
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if end == len(lines):
            raise SystemExit(f"{path}:{start}: the fenced block does not end")
        yield kind, command, start, "\n".join(lines[start:end]) + "\n", (start, end)
        index = end + 1


def run(binary, kind_command, text):
    """Runs one block in a fresh temporary directory; returns (exit status, stdout, stderr)."""
    directory = tempfile.mkdtemp(prefix="khorgos-docs-")
    try:
        os.makedirs(os.path.join(directory, "build"))
        os.symlink(binary, os.path.join(directory, "build", "khorgos"))
        os.makedirs(os.path.join(directory, ".bin"))
        os.symlink(binary, os.path.join(directory, ".bin", "khorgos"))
        os.symlink(os.path.join(ROOT, "scripts"), os.path.join(directory, "scripts"))
        environment = dict(os.environ)
        environment["PATH"] = os.path.join(directory, ".bin") + os.pathsep + environment["PATH"]
        if kind_command:
            argv, stdin = ["sh", "-c", kind_command], text
        else:
            argv, stdin = ["sh", "-e", "-c", text], ""
        process = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                 cwd=directory, env=environment, timeout=SECONDS_PER_RUN)
        return process.returncode, process.stdout, process.stderr
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {SECONDS_PER_RUN} s\n"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def free_port():
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# A client's requests are journaled engine requests of its session, reads and its register
# included, and each takes a timestamp; apply's reads take none. So the two runs' timestamps
# differ, and are compared without them.
TIMESTAMP = re.compile(r'"(\w*timestamp\w*|\w+_at)":"\d+"')
# A status report's MsgId derives from the payments' records, their times included.
REPORT_MESSAGE_ID = re.compile(r'<MsgId>KH[0-9a-f]{32}</MsgId>')


def without_timestamps(output):
    """The output with every timestamp field's value (timestamp*, *_at) replaced by "T", and
    each reply's MsgId derived from them by "KH"."""
    return REPORT_MESSAGE_ID.sub('<MsgId>KH</MsgId>', TIMESTAMP.sub(r'"\1":"T"', output))


def through_server(binary, text):
    """Runs apply's input through `khorgos client` against a fresh `khorgos start --clock
    manual`; returns (exit status, stdout, stderr)."""
    directory = tempfile.mkdtemp(prefix="khorgos-client-docs-")
    server = None
    try:
        data = os.path.join(directory, "data")
        subprocess.run([binary, "format", "--data", data, "--cluster", "0"], check=True, capture_output=True)
        port = free_port()
        log = open(os.path.join(directory, "server.log"), "w")
        server = subprocess.Popen([binary, "start", "--data", data, "--clock", "manual",
                                   "--addresses", f"127.0.0.1:{port}"], stderr=log)
        deadline = time.monotonic() + SECONDS_SERVER_START
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        process = subprocess.run([binary, "client", "--addresses", str(port), "--timeout", "60"],
                                 input=text, capture_output=True, text=True,
                                 timeout=SECONDS_PER_RUN)
        return process.returncode, process.stdout, process.stderr
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {SECONDS_PER_RUN} s\n"
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(directory, ignore_errors=True)


def check_client(binary, path, results):
    """Runs every apply --clock manual block locally and through the server; returns the
    failures."""
    failures = 0
    for kind, command, line, text, _ in blocks(path):
        if kind != "run" or command != APPLY_MANUAL:
            continue
        name = f"{path.removeprefix('docs/')}:{line}:client"
        local = run(binary, command, text)
        remote = through_server(binary, text)
        local = (local[0], without_timestamps(local[1]), local[2])
        remote = (remote[0], without_timestamps(remote[1]), remote[2])
        ok = local[0] == 0 and remote[0] == 0 and local[1] == remote[1]
        if ok:
            print(f"ok   docs/{name}")
        else:
            print(f"FAIL docs/{name}: exit status {remote[0]}, apply's {local[0]}")
            print("    " + remote[2].strip()[-2000:].replace("\n", "\n    "))
            show_difference(local[1], remote[1])
        failures += not ok
        with open(results, "a", encoding="utf-8") as file:
            file.write(f"docs/{name} {1 if ok else 0} {0 if ok else 1}\n")
    return failures


def same_output(shown, written):
    """Whether the written output matches the block shown, "..." matching any text in a line."""
    shown_lines, written_lines = shown.split("\n"), written.split("\n")
    if len(shown_lines) != len(written_lines):
        return False
    for pattern, line in zip(shown_lines, written_lines):
        expression = ".*".join(re.escape(part) for part in pattern.split("..."))
        if not re.fullmatch(expression, line):
            return False
    return True


def show_difference(expected, actual):
    import difflib
    for line in difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                     "shown", "written", lineterm="", n=1):
        print("    " + line)


def check_file(binary, path, results, update):
    """Runs every run block of one file, compares the outputs shown; returns the failures."""
    outcomes = []  # [name, ok, stdout, output block's name] per run block, in order
    updates = []  # (first, end, new lines) of output blocks to rewrite
    for kind, command, line, text, span in blocks(path):
        name = f"{path.removeprefix('docs/')}:{line}"  # docs/api.md:12, README.md:3
        if kind == "run":
            status, stdout, stderr = run(binary, command, text)
            outcomes.append([name, status == 0, stdout, None])
            if status != 0:
                print(f"FAIL docs/{name}: exit status {status}")
                print("    " + stderr.strip()[-2000:].replace("\n", "\n    "))
            continue
        if not outcomes or outcomes[-1][3] is not None:
            raise SystemExit(f"{name}: an output block needs a run block just before it")
        outcomes[-1][3] = name
        run_name, ok, stdout, _ = outcomes[-1]
        if ok and not same_output(text, stdout):
            if update and "..." not in text and stdout.endswith("\n"):
                print(f"updated docs/{name} with what docs/{run_name} writes:")
                show_difference(text, stdout)
                updates.append((span[0], span[1], stdout[:-1].split("\n")))
                continue
            print(f"FAIL docs/{run_name}: what it writes differs from the block at docs/{name}")
            show_difference(text, stdout)
            outcomes[-1][1] = False
    if updates:
        lines = open(path, encoding="utf-8").read().split("\n")
        for first, end, new in reversed(updates):
            lines[first:end] = new
        open(path, "w", encoding="utf-8").write("\n".join(lines))
    with open(results, "a", encoding="utf-8") as file:
        for name, ok, _, _ in outcomes:
            if ok:
                print(f"ok   docs/{name}")
            file.write(f"docs/{name} {1 if ok else 0} {0 if ok else 1}\n")
    return sum(not ok for _, ok, _, _ in outcomes)


def main():
    arguments = sys.argv[1:]
    update = arguments[:1] == ["--update"]
    client = arguments[:1] == ["--client"]
    arguments = arguments[1:] if update or client else arguments
    if len(arguments) < 2:
        raise SystemExit("usage: run-docs.py [--update | --client] KHORGOS RESULTS [FILE.md ...]")
    binary = os.path.abspath(arguments[0])
    results = arguments[1]
    os.makedirs(os.path.dirname(os.path.abspath(results)), exist_ok=True)
    paths = arguments[2:] or ["README.md"] + sorted(glob.glob("docs/*.md"))
    if client:
        failed = sum(check_client(binary, path, results) for path in paths)
    else:
        failed = sum(check_file(binary, path, results, update) for path in paths)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
