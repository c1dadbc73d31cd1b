#!/usr/bin/env python3
"""make-seeds.py: writes the seed corpora of the storage fuzz targets and of fuzz_cluster_entry
(fuzz/corpus/NAME/).

The targets recompute checksums and chain hashes themselves when the input asks for it (their
headers say how), so a seed only lays out well-formed fields; the files are committed, and this
script remakes them: python3 fuzz/make-seeds.py.
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
RECORD_MAGIC = 0x524A484B  # "KHJR"


HEADER_BYTES = 192


def record(sequence, offset, operation, body, commit_first, timestamp):
    header = bytearray(HEADER_BYTES)
    struct.pack_into("<QQI", header, 32, offset, commit_first, RECORD_MAGIC)
    struct.pack_into("<QQII", header, 96, sequence, timestamp, operation, len(body))
    header[160:160 + 5] = b"local"
    padded = body + bytes(-len(body) % 16)
    return bytes(header) + padded


def journal(bodies, commits):
    out = b""
    first = 1
    for index, (operation, body) in enumerate(bodies):
        sequence = index + 1
        if sequence in commits:
            first = sequence
        out += record(sequence, len(out), operation, body, first, 1_700_000_000 + sequence)
    return out


def journal_seed(flags, copies, journal_bytes, headers_raw=b""):
    return bytes([flags, copies]) + struct.pack("<H", len(journal_bytes)) + journal_bytes + \
        headers_raw


def write(corpus, name, data):
    directory = os.path.join(HERE, "corpus", corpus)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as out:
        out.write(data)


def journal_seeds():
    rng = random.Random(15)
    account = bytearray(128)
    struct.pack_into("<QQ", account, 0, 1, 0)
    struct.pack_into("<I", account, 112, 398)
    bodies = [(1, bytes(account)), (2, bytes(rng.randrange(256) for _ in range(256))),
              (3, b""), (2, bytes(rng.randrange(256) for _ in range(130)))]
    three = journal(bodies[:3], {1, 3})
    four = journal(bodies, {1, 2, 4})
    write("journal", "clean_3", journal_seed(0x0F, 3, three))
    write("journal", "clean_4_after_2", journal_seed(0x2F, 4, four))
    write("journal", "confirm_2_of_4", journal_seed(0x0F, 2, four))
    write("journal", "torn_tail", journal_seed(0x0F, 3, three + four[len(three):][:100]))
    write("journal", "unsealed", journal_seed(0x00, 0, three, bytes(HEADER_BYTES)))
    write("journal", "copies_raw",
          journal_seed(0x0B, 1, four, four[HEADER_BYTES:2 * HEADER_BYTES]))


def damage(kind, file_index, offset, length, payload=b""):
    return bytes([(kind << 5) | file_index]) + struct.pack("<HB", offset, length - 1) + payload


def recovery_seeds():
    # The image's files in fuzz_recovery's order (KHORGOS_FUZZ_VERBOSE=1 prints them):
    # 0 superblock, 1 journal-7, 2 headers-7, 3 snapshot-6, 4 journal-b, 5 headers-b,
    # 6 snapshot-a. Offsets are taken modulo each file's written bytes + 64.
    write("recovery", "none", b"")
    write("recovery", "snapshot_newest_flip", damage(4, 6, 3000, 3))
    write("recovery", "snapshot_older_overwrite", damage(0, 3, 200, 8, b"\xff" * 8))
    write("recovery", "journal_last_record_flip", damage(4, 4, 300, 1))
    write("recovery", "journal_tail_garbage", damage(0, 4, 442 + 16, 16, b"\x5a" * 16))
    write("recovery", "headers_last_copy_zero", damage(5, 5, 192, 32))
    write("recovery", "headers_truncated", damage(6, 5, 192, 1))
    write("recovery", "closed_segment_copy_flip", damage(4, 2, 140, 2))
    write("recovery", "superblock_flip", damage(4, 0, 30, 1))
    write("recovery", "newest_snapshot_deleted", damage(7, 6, 0, 1))
    write("recovery", "header_truncated_and_flip",
          damage(6, 5, 0, 1) + damage(4, 4, 200, 5))
    write("recovery", "snapshot_flip_and_torn_tail",
          damage(4, 6, 500, 1) + damage(0, 4, 442 + 32, 8, b"\x01" * 8))


def cluster_pack(body):
    """A body packed as cluster.h's version 3: the bitmap, then the words not all zero."""
    padded = body + bytes(-len(body) % 16)
    words = [padded[i:i + 16] for i in range(0, len(padded), 16)]
    bitmap = bytearray((len(words) + 7) // 8)
    kept = b""
    for index, word in enumerate(words):
        if any(word):
            bitmap[index // 8] |= 1 << (index % 8)
            kept += word
    return bytes(bitmap) + bytes(-len(bitmap) % 16) + kept


def cluster_request(operation, body, client=None):
    header = bytearray(80)
    struct.pack_into("<II", header, 0, operation, len(body))
    struct.pack_into("<I", header, 16, 1)  # the operator's role
    header[20:31] = b"KHORGOSXXXX"
    if client is not None:
        struct.pack_into("<I", header, 8, 1)
        struct.pack_into("<QQQQQIHH", header, 32, client, 0, 77, 0, 3, 1, 0, 1)
    return bytes(header) + cluster_pack(body)


def cluster_entry(kind, count, body, mark=0):
    header = struct.pack("<IHHIIQQQQ", 0x4552484B, 3, kind, count, 0,
                         1_700_000_000_000_000_000, mark, len(body), 0)
    return header + body


def cluster_entry_seeds():
    transfers = b""
    for index in range(4):  # the benchmark's: small ids, no pending id, no user data
        transfers += struct.pack("<QQQQQQQQ", index + 1, 0, 1, 0, 2, 0, 5, 0)
        transfers += bytes(48) + struct.pack("<IHHQ", 156, 1, 0, 0)
    write("cluster_entry", "transfers", b"\0" + cluster_entry(1, 1, cluster_request(129, transfers)))
    requests = cluster_request(3, b"", client=5) + cluster_request(130, bytes(range(1, 21)))
    write("cluster_entry", "session_and_small", b"\1" + cluster_entry(1, 2, requests, mark=4))
    check = struct.pack("<QQ", 4, 0) + bytes(range(16))
    write("cluster_entry", "check", b"\0" + cluster_entry(2, 0, check))


if __name__ == "__main__":
    journal_seeds()
    recovery_seeds()
    cluster_entry_seeds()
