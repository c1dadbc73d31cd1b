/* test_base_aegis.c: AEGIS-128L against the specification's test vectors
 * (draft-irtf-cfrg-aegis-aead, appendix "AEGIS-128L Test Vectors") and TigerBeetle's checksum
 * against the vectors of its src/vsr/checksum.zig (0.17), on both implementations, and the two
 * implementations against each other on random inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"

/* The implementations this machine can run: the portable one always, the AES-NI one when the
 * CPU has AES instructions. */
static size_t engines(enum base_aegis_engine out[2]) {
    size_t count = 0;
    out[count++] = BASE_AEGIS_ENGINE_PORTABLE;
    if (base_aegis_hardware_available()) out[count++] = BASE_AEGIS_ENGINE_AES_INSTRUCTIONS;
    return count;
}

static size_t hex_decode(const char *hex, u8 *out, size_t capacity) {
    size_t length = strlen(hex);
    assert_true(length % 2 == 0);
    assert_true(length / 2 <= capacity);
    for (size_t i = 0; i < length / 2; i++) {
        unsigned value = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &value), 1);
        out[i] = (u8)value;
    }
    return length / 2;
}

struct spec_vector {
    const char *key, *nonce, *ad, *message, *ciphertext, *tag;
};

/* AEGIS-128L test vectors 1 to 5 of the specification. */
static const struct spec_vector spec_vectors[] = {
    {"10010000000000000000000000000000", "10000200000000000000000000000000", "",
     "00000000000000000000000000000000", "c1c0e58bd913006feba00f4b3cc3594e",
     "abe0ece80c24868a226a35d16bdae37a"},
    {"10010000000000000000000000000000", "10000200000000000000000000000000", "", "", "",
     "c2b879a67def9d74e6c14f708bbcc9b4"},
    {"10010000000000000000000000000000", "10000200000000000000000000000000", "0001020304050607",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "79d94593d8c2119d7e8fd9b8fc77845c5c077a05b2528b6ac54b563aed8efe84",
     "cc6f3372f6aa1bb82388d695c3962d9a"},
    {"10010000000000000000000000000000", "10000200000000000000000000000000", "0001020304050607",
     "000102030405060708090a0b0c0d", "79d94593d8c2119d7e8fd9b8fc77",
     "5c04b3dba849b2701effbe32c7f0fab7"},
    {"10010000000000000000000000000000", "10000200000000000000000000000000",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829",
     "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
     "b31052ad1cca4e291abcf2df3502e6bdb1bfd6db36798be3607b1f94d34478aa7ede7f7a990fec10",
     "7542a745733014f9474417b337399507"},
};

static void check_spec_vector(enum base_aegis_engine engine, const struct spec_vector *vector) {
    u8 key[16], nonce[16], ad[64], message[64], expected_cipher[64], expected_tag[16];
    assert_int_equal(hex_decode(vector->key, key, sizeof(key)), 16);
    assert_int_equal(hex_decode(vector->nonce, nonce, sizeof(nonce)), 16);
    size_t ad_size = hex_decode(vector->ad, ad, sizeof(ad));
    size_t message_size = hex_decode(vector->message, message, sizeof(message));
    assert_int_equal(hex_decode(vector->ciphertext, expected_cipher, sizeof(expected_cipher)),
                     message_size);
    assert_int_equal(hex_decode(vector->tag, expected_tag, sizeof(expected_tag)), 16);
    struct base_aegis_input input = {.key = key, .nonce = nonce, .ad = ad, .ad_size = ad_size,
                                     .message = message, .message_size = message_size};
    u8 cipher[64] = {0};
    u8 tag[BASE_AEGIS_TAG_BYTES] = {0};
    base_aegis128l_encrypt_with(engine, &input, cipher, tag);
    assert_memory_equal(cipher, expected_cipher, message_size);
    assert_memory_equal(tag, expected_tag, sizeof(tag));
}

static void test_specification_vectors(void **state) {
    (void)state;
    enum base_aegis_engine list[2];
    size_t count = engines(list);
    for (size_t e = 0; e < count; e++) {
        for (size_t v = 0; v < ARRAY_COUNT(spec_vectors); v++) {
            check_spec_vector(list[e], &spec_vectors[v]);
        }
    }
    /* The automatic choice gives the same answer. */
    u8 tag[BASE_AEGIS_TAG_BYTES];
    static const u8 zero[16] = {0};
    struct base_aegis_input input = {.key = zero, .nonce = zero};
    base_aegis128l_encrypt(&input, NULL, tag);
    assert_int_equal(tag[0], 0x83);
    assert_int_equal(tag[15], 0x49);
}

static u128 u128_from_parts(u64 high, u64 low) { return ((u128)high << 64) | (u128)low; }

/* checksum.zig's "checksum test vectors": 16 zero bytes and the empty input. */
static void test_tigerbeetle_vectors(void **state) {
    (void)state;
    enum base_aegis_engine list[2];
    size_t count = engines(list);
    const u8 zeros[16] = {0};
    for (size_t e = 0; e < count; e++) {
        /* @byteSwap(0x83cc600dc4e3e7e62d4055826174f149) */
        assert_true(base_aegis_checksum_with(list[e], NULL, 0) ==
                    u128_from_parts(0x49F174618255402Dull, 0xE6E7E3C40D60CC83ull));
        /* @byteSwap(0xf72ad48dd05dd1656133101cd4be3a26) */
        assert_true(base_aegis_checksum_with(list[e], zeros, 16) ==
                    u128_from_parts(0x263abed41c103361ull, 0x65d15dd08dd42af7ull));
    }
    assert_true(base_aegis_checksum(NULL, 0) ==
                u128_from_parts(0x49F174618255402Dull, 0xE6E7E3C40D60CC83ull));
}

/* TigerBeetle's test PRNG (stdx/prng.zig): xoshiro256++ seeded by four splitmix64 outputs;
 * fill writes each 64-bit output little-endian, the last one cut to what remains. */
struct prng {
    u64 s[4];
};

static u64 splitmix64(u64 *state) {
    *state += 0x9e3779b97f4a7c15ull;
    u64 z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static u64 rotl64(u64 value, unsigned shift) { return (value << shift) | (value >> (64 - shift)); }

static struct prng prng_from_seed(u64 seed) {
    struct prng prng;
    for (int i = 0; i < 4; i++) prng.s[i] = splitmix64(&seed);
    return prng;
}

static u64 prng_next(struct prng *prng) {
    u64 *s = prng->s;
    u64 result = rotl64(s[0] + s[3], 23) + s[0];
    u64 t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

static void prng_fill(struct prng *prng, u8 *target, size_t size) {
    for (size_t i = 0; i < size; i += 8) {
        u64 value = prng_next(prng);
        for (size_t j = 0; j < 8 && i + j < size; j++) target[i + j] = (u8)(value >> (8 * j));
    }
}

static void store_u128(u8 *out, u128 value) {
    for (int i = 0; i < 16; i++) out[i] = (u8)(value >> (8 * i));
}

/* checksum.zig's "checksum stability": 896 checksums (zeros of lengths 0..127, 64 bytes with one
 * bit set, pseudo-random data of lengths 13..268), then the checksum of all of them. */
static u128 stability_hash(enum base_aegis_engine engine) {
    u8 buffer[1024];
    static u8 cases[896 * 16];
    size_t index = 0;
    for (size_t length = 0; length < 128; length++) {
        memset(buffer, 0, length);
        store_u128(&cases[16 * index++], base_aegis_checksum_with(engine, buffer, length));
    }
    for (size_t bit = 0; bit < 64 * 8; bit++) {
        memset(buffer, 0, 64);
        buffer[bit / 8] = (u8)(1u << (bit % 8));
        store_u128(&cases[16 * index++], base_aegis_checksum_with(engine, buffer, 64));
    }
    struct prng prng = prng_from_seed(92);
    for (size_t length = 13; length < 256 + 13; length++) {
        prng_fill(&prng, buffer, length);
        store_u128(&cases[16 * index++], base_aegis_checksum_with(engine, buffer, length));
    }
    assert_int_equal(index, 896);
    return base_aegis_checksum_with(engine, cases, sizeof(cases));
}

/* checksum.zig's "checksum alignment and sizing": every start 0..15 of 8 KiB of pseudo-random
 * data, whole and cut to lengths 0..255. */
static u128 alignment_hash(enum base_aegis_engine engine) {
    static u8 input[8 * 1024];
    static u8 cases[4112 * 16];
    struct prng prng = prng_from_seed(92);
    prng_fill(&prng, input, sizeof(input));
    size_t index = 0;
    for (size_t start = 0; start < 16; start++) {
        store_u128(&cases[16 * index++],
                   base_aegis_checksum_with(engine, input + start, sizeof(input) - start));
        for (size_t size = 0; size < 256; size++) {
            store_u128(&cases[16 * index++], base_aegis_checksum_with(engine, input + start, size));
        }
    }
    assert_int_equal(index, 4112);
    return base_aegis_checksum_with(engine, cases, sizeof(cases));
}

static void test_tigerbeetle_stability(void **state) {
    (void)state;
    enum base_aegis_engine list[2];
    size_t count = engines(list);
    for (size_t e = 0; e < count; e++) {
        assert_true(stability_hash(list[e]) ==
                    u128_from_parts(0x82dcaacf4875b279ull, 0x446825b6830d1263ull));
        assert_true(alignment_hash(list[e]) ==
                    u128_from_parts(0xC8E7102D72CE9645ull, 0x8639F6027DA0FBA0ull));
    }
}

/* The two implementations agree on random keys, nonces, data and messages of every length
 * around the 32-byte rate, and on long inputs. */
static void test_implementations_agree(void **state) {
    (void)state;
    if (!base_aegis_hardware_available()) skip();
    struct prng prng = prng_from_seed(2024);
    static u8 ad[70000], message[70000], cipher_a[70000], cipher_b[70000];
    for (int round = 0; round < 400; round++) {
        u8 key[16], nonce[16], tag_a[16], tag_b[16];
        prng_fill(&prng, key, sizeof(key));
        prng_fill(&prng, nonce, sizeof(nonce));
        size_t limit = round < 300 ? 100 : sizeof(ad);
        size_t ad_size = prng_next(&prng) % limit;
        size_t message_size = prng_next(&prng) % limit;
        prng_fill(&prng, ad, ad_size);
        prng_fill(&prng, message, message_size);
        struct base_aegis_input input = {.key = key, .nonce = nonce, .ad = ad,
                                         .ad_size = ad_size, .message = message,
                                         .message_size = message_size};
        base_aegis128l_encrypt_with(BASE_AEGIS_ENGINE_PORTABLE, &input, cipher_a, tag_a);
        base_aegis128l_encrypt_with(BASE_AEGIS_ENGINE_AES_INSTRUCTIONS, &input, cipher_b, tag_b);
        assert_memory_equal(tag_a, tag_b, sizeof(tag_a));
        if (message_size > 0) assert_memory_equal(cipher_a, cipher_b, message_size);
        assert_true(base_aegis_checksum_with(BASE_AEGIS_ENGINE_PORTABLE, ad, ad_size) ==
                    base_aegis_checksum_with(BASE_AEGIS_ENGINE_AES_INSTRUCTIONS, ad, ad_size));
    }
}

/* A one-bit change anywhere changes the checksum. */
static void test_checksum_detects_bit_flips(void **state) {
    (void)state;
    u8 data[300];
    struct prng prng = prng_from_seed(7);
    prng_fill(&prng, data, sizeof(data));
    u128 original = base_aegis_checksum(data, sizeof(data));
    for (size_t bit = 0; bit < sizeof(data) * 8; bit += 7) {
        data[bit / 8] ^= (u8)(1u << (bit % 8));
        assert_true(base_aegis_checksum(data, sizeof(data)) != original);
        data[bit / 8] ^= (u8)(1u << (bit % 8));
    }
    assert_true(base_aegis_checksum(data, sizeof(data)) == original);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_specification_vectors),
        cmocka_unit_test(test_tigerbeetle_vectors),
        cmocka_unit_test(test_tigerbeetle_stability),
        cmocka_unit_test(test_implementations_agree),
        cmocka_unit_test(test_checksum_detects_bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
