"""The protocol's checksum: the 128-bit tag of AEGIS-128L (draft-irtf-cfrg-aegis-aead) with an
all-zero key and nonce, the data as associated data and an empty message, read as a
little-endian integer (TigerBeetle's vsr checksum; docs/protocol.md, "Checksum").

Pure Python, with the AES round function written out (T-tables over 32-bit columns), because
Python's standard library has no AES and the package must install with Debian's tools alone.
It is slow (about 1 MB in 3 s); a header is 256 bytes and the bodies of ordinary requests are
small. When the environment names the C library (KHORGOS_CLIENT_LIBRARY=path of
libkhorgos_client.so), its AES-NI checksum is used instead, through ctypes.
"""
import ctypes
import os

_SBOX = bytes.fromhex(
    "637c777bf26b6fc53001672bfed7ab76ca82c97dfa5947f0add4a2af9ca472c0"
    "b7fd9326363ff7cc34a5e5f171d8311504c723c31896059a071280e2eb27b275"
    "09832c1a1b6e5aa0523bd6b329e32f8453d100ed20fcb15b6acbbe394a4c58cf"
    "d0efaafb434d338545f9027f503c9fa851a3408f929d38f5bcb6da2110fff3d2"
    "cd0c13ec5f974417c4a77e3d645d197360814fdc222a908846eeb814de5e0bdb"
    "e0323a0a4906245cc2d3ac629195e479e7c8376d8dd54ea96c56f4ea657aae08"
    "ba78252e1ca6b4c6e8dd741f4bbd8b8a703eb5664803f60e613557b986c11d9e"
    "e1f8981169d98e949b1e87e9ce5528df8ca1890dbfe6426841992d0fb054bb16")


def _double(value):
    value <<= 1
    return (value ^ 0x11B) if value & 0x100 else value


def _tables():
    tables = ([], [], [], [])
    for byte in range(256):
        s = _SBOX[byte]
        s2 = _double(s)
        s3 = s2 ^ s
        tables[0].append(s2 | s << 8 | s << 16 | s3 << 24)
        tables[1].append(s3 | s2 << 8 | s << 16 | s << 24)
        tables[2].append(s | s3 << 8 | s2 << 16 | s << 24)
        tables[3].append(s | s << 8 | s3 << 16 | s2 << 24)
    return tables


_T0, _T1, _T2, _T3 = _tables()


def _round(block, key):
    """AESENC: MixColumns(ShiftRows(SubBytes(block))) xor key; blocks are 4 little-endian
    32-bit columns."""
    a0, a1, a2, a3 = block
    return (
        _T0[a0 & 255] ^ _T1[a1 >> 8 & 255] ^ _T2[a2 >> 16 & 255] ^ _T3[a3 >> 24] ^ key[0],
        _T0[a1 & 255] ^ _T1[a2 >> 8 & 255] ^ _T2[a3 >> 16 & 255] ^ _T3[a0 >> 24] ^ key[1],
        _T0[a2 & 255] ^ _T1[a3 >> 8 & 255] ^ _T2[a0 >> 16 & 255] ^ _T3[a1 >> 24] ^ key[2],
        _T0[a3 & 255] ^ _T1[a0 >> 8 & 255] ^ _T2[a1 >> 16 & 255] ^ _T3[a2 >> 24] ^ key[3],
    )


def _xor(a, b):
    return (a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3])


def _block(data):
    return tuple(int.from_bytes(data[i:i + 4], "little") for i in range(0, 16, 4))


_C0 = _block(bytes.fromhex("000101020305080d1522375990e97962"))
_C1 = _block(bytes.fromhex("db3d18556dc22ff12011314273b528dd"))
_ZERO = (0, 0, 0, 0)


def _update(state, m0, m1):
    s0, s1, s2, s3, s4, s5, s6, s7 = state
    return (_round(s7, _xor(s0, m0)), _round(s0, s1), _round(s1, s2), _round(s2, s3),
            _round(s3, _xor(s4, m1)), _round(s4, s5), _round(s5, s6), _round(s6, s7))


def _initial_state():
    """The state after initialisation with the zero key and nonce (the same for every
    checksum, computed once)."""
    state = (_ZERO, _C1, _C0, _C1, _ZERO, _C0, _C1, _C0)
    for _ in range(10):
        state = _update(state, _ZERO, _ZERO)
    return state


_INITIAL = _initial_state()


def _checksum_python(data):
    data = bytes(data)
    state = _INITIAL
    padded = data + bytes(-len(data) % 32)
    for offset in range(0, len(padded), 32):
        state = _update(state, _block(padded[offset:offset + 16]),
                        _block(padded[offset + 16:offset + 32]))
    lengths = _block((len(data) * 8).to_bytes(8, "little") + bytes(8))
    t = _xor(state[2], lengths)
    for _ in range(7):
        state = _update(state, t, t)
    tag = _ZERO
    for block in state[:7]:
        tag = _xor(tag, block)
    return sum(word << (32 * index) for index, word in enumerate(tag))


def _library():
    path = os.environ.get("KHORGOS_CLIENT_LIBRARY")
    if not path:
        return None
    library = ctypes.CDLL(path)
    library.khorgos_client_checksum.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                                ctypes.c_char_p]
    library.khorgos_client_checksum.restype = None
    return library


_LIBRARY = _library()


def checksum(data):
    """The protocol's checksum of `data` (bytes), an int below 2**128."""
    if _LIBRARY is None:
        return _checksum_python(data)
    data = bytes(data)
    out = ctypes.create_string_buffer(16)
    _LIBRARY.khorgos_client_checksum(data, len(data), out)
    return int.from_bytes(out.raw, "little")
