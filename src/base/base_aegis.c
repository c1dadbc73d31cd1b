/* base_aegis.c: AEGIS-128L (draft-irtf-cfrg-aegis-aead) and the checksum built on it.
 *
 * The algorithm, as the specification defines it (every block is 16 bytes, `^` is xor, `&` is
 * and, and AESRound(x, key) is one AES encryption round: SubBytes, ShiftRows, MixColumns, then
 * xor with the round key):
 *   - the state is eight blocks S0..S7;
 *   - Update(M0, M1) sets, from the old state, S0 = AESRound(S7, S0 ^ M0),
 *     Si = AESRound(S(i-1), Si) for i in 1..7 except S4 = AESRound(S3, S4 ^ M1);
 *   - Init(key, nonce): S0 = key ^ nonce, S1 = C1, S2 = C0, S3 = C1, S4 = key ^ nonce,
 *     S5 = key ^ C0, S6 = key ^ C1, S7 = key ^ C0, then Update(nonce, key) ten times;
 *   - associated data is absorbed 32 bytes at a time, Update(first half, second half), the
 *     last piece padded with zeros;
 *   - each 32-byte message piece P (the last one padded with zeros) is encrypted as
 *     P ^ (S6 ^ S1 ^ (S2 & S3) || S2 ^ S5 ^ (S6 & S7)), keystream taken before Update(P);
 *     the ciphertext of the padded last piece is cut to the message's length;
 *   - Finalize: t = S2 ^ (LE64(bits of associated data) || LE64(bits of message)), Update(t, t)
 *     seven times, and the 128-bit tag is S0 ^ S1 ^ S2 ^ S3 ^ S4 ^ S5 ^ S6.
 *
 * TigerBeetle's checksum (src/vsr/checksum.zig) is this AEAD with an all-zero key, an all-zero
 * nonce, the data as associated data and an empty message; its 16 tag bytes read as a
 * little-endian u128. The key is public, so the checksum detects damage, not forgery.
 *
 * Two implementations compute the same function: one on the CPU's AES instructions (x86
 * AES-NI, chosen at run time when the CPU has them) and a portable one with an S-box table.
 * Nothing here is secret (the key is zero), so the table lookups' timing does not matter. */
#include "base/base.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#define AEGIS_X86 1
#include <wmmintrin.h>
#else
#define AEGIS_X86 0
#endif

#define AEGIS_BLOCK_BYTES 16u
#define AEGIS_RATE_BYTES 32u
#define AEGIS_INIT_ROUNDS 10u
#define AEGIS_FINAL_ROUNDS 7u

static const u8 aegis_c0[AEGIS_BLOCK_BYTES] = {0x00, 0x01, 0x01, 0x02, 0x03, 0x05, 0x08, 0x0d,
                                               0x15, 0x22, 0x37, 0x59, 0x90, 0xe9, 0x79, 0x62};
static const u8 aegis_c1[AEGIS_BLOCK_BYTES] = {0xdb, 0x3d, 0x18, 0x55, 0x6d, 0xc2, 0x2f, 0xf1,
                                               0x20, 0x11, 0x31, 0x42, 0x73, 0xb5, 0x28, 0xdd};

/* The sizes block of Finalize: bit lengths of the associated data and the message, LE64 each. */
static void aegis_sizes_block(u64 ad_size, u64 message_size, u8 out[AEGIS_BLOCK_BYTES]) {
    ASSERT(ad_size < (U64_MAX >> 3));
    ASSERT(message_size < (U64_MAX >> 3));
    for (u32 i = 0; i < 8; i++) {
        out[i] = (u8)((ad_size * 8u) >> (8u * i));
        out[8 + i] = (u8)((message_size * 8u) >> (8u * i));
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Portable implementation.                                                                   */

struct aegis_block {
    u8 bytes[AEGIS_BLOCK_BYTES];
};

struct aegis_portable {
    struct aegis_block s[8];
};

static u8 aegis_sbox[256];
static pthread_once_t aegis_sbox_once = PTHREAD_ONCE_INIT;

static u8 aegis_rotl8(u8 value, unsigned shift) {
    ASSERT(shift > 0 && shift < 8);
    return (u8)((value << shift) | (value >> (8u - shift)));
}

/* Builds the AES S-box: walks the field's multiplicative group by powers of 3 (a generator),
 * pairing each element p with its inverse q, and applies the affine map to q. */
static void aegis_sbox_build(void) {
    u8 p = 1;
    u8 q = 1;
    do {
        p = (u8)(p ^ (u8)(p << 1) ^ ((p & 0x80u) ? 0x1bu : 0u));
        q = (u8)(q ^ (u8)(q << 1));
        q = (u8)(q ^ (u8)(q << 2));
        q = (u8)(q ^ (u8)(q << 4));
        if (q & 0x80u) q ^= 0x09u;
        u8 affine = (u8)(q ^ aegis_rotl8(q, 1) ^ aegis_rotl8(q, 2) ^ aegis_rotl8(q, 3) ^
                         aegis_rotl8(q, 4));
        aegis_sbox[p] = (u8)(affine ^ 0x63u);
    } while (p != 1);
    aegis_sbox[0] = 0x63;
    ASSERT(aegis_sbox[1] == 0x7c);
    ASSERT(aegis_sbox[0x53] == 0xed);
}

static u8 aegis_xtime(u8 value) {
    return (u8)((u8)(value << 1) ^ ((value & 0x80u) ? 0x1bu : 0u));
}

/* One AES round: SubBytes, ShiftRows, MixColumns, xor key. Byte i is row i % 4 of column
 * i / 4, as AES lays a block out. */
static struct aegis_block aegis_round(struct aegis_block in, struct aegis_block key) {
    ASSERT(aegis_sbox[0] == 0x63); /* the S-box is built */
    u8 shifted[AEGIS_BLOCK_BYTES];
    for (u32 column = 0; column < 4; column++) {
        for (u32 row = 0; row < 4; row++) {
            shifted[row + 4 * column] = aegis_sbox[in.bytes[row + 4 * ((column + row) % 4)]];
        }
    }
    struct aegis_block out;
    for (u32 column = 0; column < 4; column++) {
        const u8 *a = &shifted[4 * column];
        u8 all = (u8)(a[0] ^ a[1] ^ a[2] ^ a[3]);
        for (u32 row = 0; row < 4; row++) {
            /* 2a[r] ^ 3a[r+1] ^ a[r+2] ^ a[r+3] = a[r] ^ all ^ 2(a[r] ^ a[r+1]). */
            u8 mixed = (u8)(a[row] ^ all ^ aegis_xtime((u8)(a[row] ^ a[(row + 1) % 4])));
            out.bytes[row + 4 * column] = (u8)(mixed ^ key.bytes[row + 4 * column]);
        }
    }
    ASSERT(sizeof(out) == AEGIS_BLOCK_BYTES);
    return out;
}

static struct aegis_block aegis_xor(struct aegis_block a, struct aegis_block b) {
    struct aegis_block out;
    for (u32 i = 0; i < AEGIS_BLOCK_BYTES; i++) out.bytes[i] = (u8)(a.bytes[i] ^ b.bytes[i]);
    return out;
}

static struct aegis_block aegis_and(struct aegis_block a, struct aegis_block b) {
    struct aegis_block out;
    for (u32 i = 0; i < AEGIS_BLOCK_BYTES; i++) out.bytes[i] = (u8)(a.bytes[i] & b.bytes[i]);
    return out;
}

static struct aegis_block aegis_load(const u8 *bytes) {
    ASSERT(bytes != NULL);
    struct aegis_block out;
    memcpy(out.bytes, bytes, AEGIS_BLOCK_BYTES);
    return out;
}

static void portable_update(struct aegis_portable *state, const u8 *m0, const u8 *m1) {
    ASSERT(state != NULL);
    ASSERT(m0 != NULL && m1 != NULL);
    struct aegis_block *s = state->s;
    struct aegis_block last = s[7];
    for (u32 i = 7; i > 0; i--) {
        struct aegis_block key = (i == 4) ? aegis_xor(s[4], aegis_load(m1)) : s[i];
        s[i] = aegis_round(s[i - 1], key);
    }
    s[0] = aegis_round(last, aegis_xor(s[0], aegis_load(m0)));
}

static void portable_init(struct aegis_portable *state, const u8 *key, const u8 *nonce) {
    ASSERT(key != NULL && nonce != NULL);
    struct aegis_block k = aegis_load(key);
    struct aegis_block c0 = aegis_load(aegis_c0);
    struct aegis_block c1 = aegis_load(aegis_c1);
    state->s[0] = aegis_xor(k, aegis_load(nonce));
    state->s[1] = c1;
    state->s[2] = c0;
    state->s[3] = c1;
    state->s[4] = state->s[0];
    state->s[5] = aegis_xor(k, c0);
    state->s[6] = aegis_xor(k, c1);
    state->s[7] = aegis_xor(k, c0);
    for (u32 i = 0; i < AEGIS_INIT_ROUNDS; i++) portable_update(state, nonce, key);
    ASSERT(sizeof(state->s) == 8 * AEGIS_BLOCK_BYTES);
}

/* Encrypts one 32-byte piece in place (plain in, cipher out) and updates the state. */
static void portable_enc(struct aegis_portable *state, u8 piece[AEGIS_RATE_BYTES]) {
    ASSERT(state != NULL && piece != NULL);
    const struct aegis_block *s = state->s;
    struct aegis_block z0 = aegis_xor(aegis_xor(s[6], s[1]), aegis_and(s[2], s[3]));
    struct aegis_block z1 = aegis_xor(aegis_xor(s[2], s[5]), aegis_and(s[6], s[7]));
    u8 plain[AEGIS_RATE_BYTES];
    memcpy(plain, piece, AEGIS_RATE_BYTES);
    portable_update(state, plain, plain + AEGIS_BLOCK_BYTES);
    ASSERT(sizeof(plain) == 2 * sizeof(z0));
    for (u32 i = 0; i < AEGIS_BLOCK_BYTES; i++) {
        piece[i] = (u8)(plain[i] ^ z0.bytes[i]);
        piece[AEGIS_BLOCK_BYTES + i] = (u8)(plain[AEGIS_BLOCK_BYTES + i] ^ z1.bytes[i]);
    }
}

static void portable_encrypt(const struct base_aegis_input *input, u8 *ciphertext,
                             u8 tag[BASE_AEGIS_TAG_BYTES]) {
    ASSERT(input != NULL && tag != NULL);
    ASSERT(ciphertext != NULL || input->message_size == 0);
    pthread_once(&aegis_sbox_once, aegis_sbox_build);
    struct aegis_portable state;
    portable_init(&state, input->key, input->nonce);
    const u8 *ad = input->ad;
    u8 piece[AEGIS_RATE_BYTES];
    for (size_t i = 0; i < input->ad_size; i += AEGIS_RATE_BYTES) {
        size_t size = MIN(input->ad_size - i, (size_t)AEGIS_RATE_BYTES);
        memset(piece, 0, sizeof(piece));
        memcpy(piece, ad + i, size);
        portable_update(&state, piece, piece + AEGIS_BLOCK_BYTES);
    }
    const u8 *message = input->message;
    for (size_t i = 0; i < input->message_size; i += AEGIS_RATE_BYTES) {
        size_t size = MIN(input->message_size - i, (size_t)AEGIS_RATE_BYTES);
        memset(piece, 0, sizeof(piece));
        memcpy(piece, message + i, size);
        portable_enc(&state, piece);
        memcpy(ciphertext + i, piece, size);
    }
    u8 sizes[AEGIS_BLOCK_BYTES];
    aegis_sizes_block(input->ad_size, input->message_size, sizes);
    struct aegis_block t = aegis_xor(state.s[2], aegis_load(sizes));
    for (u32 i = 0; i < AEGIS_FINAL_ROUNDS; i++) portable_update(&state, t.bytes, t.bytes);
    struct aegis_block result = state.s[0];
    for (u32 i = 1; i < 7; i++) result = aegis_xor(result, state.s[i]);
    memcpy(tag, result.bytes, BASE_AEGIS_TAG_BYTES);
}

/* ----------------------------------------------------------------------------------------- */
/* AES-NI implementation (x86).                                                               */

#if AEGIS_X86
#define AEGIS_AESNI __attribute__((target("aes,sse4.1")))

struct aegis_aesni {
    __m128i s[8];
};

AEGIS_AESNI static inline void aesni_update(struct aegis_aesni *state, __m128i m0, __m128i m1) {
    ASSERT(state != NULL);
    __m128i *s = state->s;
    __m128i last = s[7];
    s[7] = _mm_aesenc_si128(s[6], s[7]);
    s[6] = _mm_aesenc_si128(s[5], s[6]);
    s[5] = _mm_aesenc_si128(s[4], s[5]);
    s[4] = _mm_aesenc_si128(s[3], _mm_xor_si128(s[4], m1));
    s[3] = _mm_aesenc_si128(s[2], s[3]);
    s[2] = _mm_aesenc_si128(s[1], s[2]);
    s[1] = _mm_aesenc_si128(s[0], s[1]);
    s[0] = _mm_aesenc_si128(last, _mm_xor_si128(s[0], m0));
}

AEGIS_AESNI static __m128i aesni_load(const u8 *bytes) {
    ASSERT(bytes != NULL);
    return _mm_loadu_si128((const __m128i *)(const void *)bytes);
}

AEGIS_AESNI static void aesni_init(struct aegis_aesni *state, const u8 *key, const u8 *nonce) {
    ASSERT(key != NULL && nonce != NULL);
    __m128i k = aesni_load(key);
    __m128i n = aesni_load(nonce);
    __m128i c0 = aesni_load(aegis_c0);
    __m128i c1 = aesni_load(aegis_c1);
    state->s[0] = _mm_xor_si128(k, n);
    state->s[1] = c1;
    state->s[2] = c0;
    state->s[3] = c1;
    state->s[4] = _mm_xor_si128(k, n);
    state->s[5] = _mm_xor_si128(k, c0);
    state->s[6] = _mm_xor_si128(k, c1);
    state->s[7] = _mm_xor_si128(k, c0);
    for (u32 i = 0; i < AEGIS_INIT_ROUNDS; i++) aesni_update(state, n, k);
    ASSERT(sizeof(state->s) == 8 * AEGIS_BLOCK_BYTES);
}

AEGIS_AESNI static void aesni_enc(struct aegis_aesni *state, u8 piece[AEGIS_RATE_BYTES]) {
    ASSERT(state != NULL);
    ASSERT(piece != NULL);
    const __m128i *s = state->s;
    __m128i z0 = _mm_xor_si128(_mm_xor_si128(s[6], s[1]), _mm_and_si128(s[2], s[3]));
    __m128i z1 = _mm_xor_si128(_mm_xor_si128(s[2], s[5]), _mm_and_si128(s[6], s[7]));
    __m128i p0 = aesni_load(piece);
    __m128i p1 = aesni_load(piece + AEGIS_BLOCK_BYTES);
    aesni_update(state, p0, p1);
    _mm_storeu_si128((__m128i *)(void *)piece, _mm_xor_si128(p0, z0));
    _mm_storeu_si128((__m128i *)(void *)(piece + AEGIS_BLOCK_BYTES), _mm_xor_si128(p1, z1));
}

AEGIS_AESNI static void aesni_absorb(struct aegis_aesni *state, const u8 *ad, size_t size) {
    ASSERT(ad != NULL || size == 0);
    size_t whole = size - size % AEGIS_RATE_BYTES;
    for (size_t i = 0; i < whole; i += AEGIS_RATE_BYTES) {
        aesni_update(state, aesni_load(ad + i), aesni_load(ad + i + AEGIS_BLOCK_BYTES));
    }
    if (whole < size) {
        u8 piece[AEGIS_RATE_BYTES] = {0};
        memcpy(piece, ad + whole, size - whole);
        aesni_update(state, aesni_load(piece), aesni_load(piece + AEGIS_BLOCK_BYTES));
    }
    ASSERT(whole <= size);
}

/* Encrypts from a state already initialised with the input's key and nonce. */
AEGIS_AESNI static void aesni_encrypt_from(struct aegis_aesni state,
                                           const struct base_aegis_input *input,
                                           u8 *ciphertext, u8 tag[BASE_AEGIS_TAG_BYTES]) {
    ASSERT(input != NULL && tag != NULL);
    ASSERT(ciphertext != NULL || input->message_size == 0);
    aesni_absorb(&state, input->ad, input->ad_size);
    const u8 *message = input->message;
    for (size_t i = 0; i < input->message_size; i += AEGIS_RATE_BYTES) {
        size_t size = MIN(input->message_size - i, (size_t)AEGIS_RATE_BYTES);
        u8 piece[AEGIS_RATE_BYTES] = {0};
        memcpy(piece, message + i, size);
        aesni_enc(&state, piece);
        memcpy(ciphertext + i, piece, size);
    }
    u8 sizes[AEGIS_BLOCK_BYTES];
    aegis_sizes_block(input->ad_size, input->message_size, sizes);
    __m128i t = _mm_xor_si128(state.s[2], aesni_load(sizes));
    for (u32 i = 0; i < AEGIS_FINAL_ROUNDS; i++) aesni_update(&state, t, t);
    __m128i result = state.s[0];
    for (u32 i = 1; i < 7; i++) result = _mm_xor_si128(result, state.s[i]);
    _mm_storeu_si128((__m128i *)(void *)tag, result);
}

AEGIS_AESNI static void aesni_encrypt(const struct base_aegis_input *input, u8 *ciphertext,
                                      u8 tag[BASE_AEGIS_TAG_BYTES]) {
    ASSERT(input != NULL && tag != NULL);
    ASSERT(input->key != NULL && input->nonce != NULL);
    struct aegis_aesni state;
    aesni_init(&state, input->key, input->nonce);
    aesni_encrypt_from(state, input, ciphertext, tag);
}

/* The checksum's key and nonce are always zero, so their initialised state is computed once
 * (ten of the about 25 state updates a 256-byte header costs). */
static struct aegis_aesni aesni_zero_state;
static pthread_once_t aesni_zero_state_once = PTHREAD_ONCE_INIT;

AEGIS_AESNI static void aesni_zero_state_build(void) {
    static const u8 zero[AEGIS_BLOCK_BYTES] = {0};
    aesni_init(&aesni_zero_state, zero, zero);
    ASSERT(base_aegis_hardware_available());
}

AEGIS_AESNI static void aesni_checksum(const void *data, size_t size,
                                       u8 tag[BASE_AEGIS_TAG_BYTES]) {
    ASSERT(data != NULL || size == 0);
    ASSERT(tag != NULL);
    pthread_once(&aesni_zero_state_once, aesni_zero_state_build);
    static const u8 zero[AEGIS_BLOCK_BYTES] = {0};
    struct base_aegis_input input = {.key = zero, .nonce = zero, .ad = data, .ad_size = size};
    aesni_encrypt_from(aesni_zero_state, &input, NULL, tag);
}
#endif

/* ----------------------------------------------------------------------------------------- */
/* Dispatch.                                                                                  */

bool base_aegis_hardware_available(void) {
#if AEGIS_X86
    return __builtin_cpu_supports("aes") != 0;
#else
    return false;
#endif
}

void base_aegis128l_encrypt_with(enum base_aegis_engine engine,
                                 const struct base_aegis_input *input, void *ciphertext,
                                 u8 tag[BASE_AEGIS_TAG_BYTES]) {
    ASSERT(input != NULL && tag != NULL);
    ASSERT(input->ad != NULL || input->ad_size == 0);
    ASSERT(input->message != NULL || input->message_size == 0);
    if (engine == BASE_AEGIS_ENGINE_AUTO) {
        engine = base_aegis_hardware_available() ? BASE_AEGIS_ENGINE_AES_INSTRUCTIONS
                                                 : BASE_AEGIS_ENGINE_PORTABLE;
    }
#if AEGIS_X86
    if (engine == BASE_AEGIS_ENGINE_AES_INSTRUCTIONS) {
        ASSERT(base_aegis_hardware_available());
        aesni_encrypt(input, ciphertext, tag);
        return;
    }
#endif
    ASSERT(engine == BASE_AEGIS_ENGINE_PORTABLE);
    portable_encrypt(input, ciphertext, tag);
}

void base_aegis128l_encrypt(const struct base_aegis_input *input, void *ciphertext,
                            u8 tag[BASE_AEGIS_TAG_BYTES]) {
    ASSERT(input != NULL);
    ASSERT(tag != NULL);
    base_aegis128l_encrypt_with(BASE_AEGIS_ENGINE_AUTO, input, ciphertext, tag);
}

u128 base_aegis_checksum_with(enum base_aegis_engine engine, const void *data, size_t size) {
    ASSERT(data != NULL || size == 0);
    static const u8 zero[AEGIS_BLOCK_BYTES] = {0};
    struct base_aegis_input input = {
        .key = zero, .nonce = zero, .ad = data, .ad_size = size, .message = NULL,
        .message_size = 0};
    u8 tag[BASE_AEGIS_TAG_BYTES];
    if (engine == BASE_AEGIS_ENGINE_AUTO && base_aegis_hardware_available()) {
        engine = BASE_AEGIS_ENGINE_AES_INSTRUCTIONS;
    }
#if AEGIS_X86
    if (engine == BASE_AEGIS_ENGINE_AES_INSTRUCTIONS) {
        ASSERT(base_aegis_hardware_available());
        aesni_checksum(data, size, tag);
    } else {
        base_aegis128l_encrypt_with(engine, &input, NULL, tag);
    }
#else
    base_aegis128l_encrypt_with(engine, &input, NULL, tag);
#endif
    u128 checksum = 0;
    for (u32 i = BASE_AEGIS_TAG_BYTES; i > 0; i--) checksum = (checksum << 8) | tag[i - 1];
    ASSERT(sizeof(checksum) == BASE_AEGIS_TAG_BYTES);
    return checksum;
}

u128 base_aegis_checksum(const void *data, size_t size) {
    ASSERT(data != NULL || size == 0);
    return base_aegis_checksum_with(BASE_AEGIS_ENGINE_AUTO, data, size);
}
