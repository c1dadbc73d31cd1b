/* base_checksum.c: XXH3-128 (libxxhash) for accidents, SHA-256 (OpenSSL) for tampering.
 * Why two: XXH3 is an order of magnitude faster than any cryptographic hash and detects every
 * random corruption a disk or a torn write produces with probability 1 - 2^-128, but anyone can
 * forge it; the journal's chain must resist a person editing the file, so it uses SHA-256. */
#define XXH_STATIC_LINKING_ONLY
#include "base/base.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <xxhash.h>

_Static_assert(sizeof(XXH3_state_t) <= sizeof(struct base_checksum_stream),
               "the opaque stream holds an XXH3 state");
_Static_assert(_Alignof(XXH3_state_t) <= _Alignof(struct base_checksum_stream),
               "the opaque stream is aligned for an XXH3 state");

static u128 checksum_from_xxh128(XXH128_hash_t hash) {
    return ((u128)hash.high64 << 64) | (u128)hash.low64;
}

u128 base_checksum128(const void *data, size_t size) {
    ASSERT(data != NULL || size == 0);
    return checksum_from_xxh128(XXH3_128bits(data, size));
}

void base_checksum_stream_init(struct base_checksum_stream *stream) {
    ASSERT(stream != NULL);
    XXH_errorcode result = XXH3_128bits_reset((XXH3_state_t *)(void *)stream->opaque);
    ASSERT(result == XXH_OK);
}

void base_checksum_stream_add(struct base_checksum_stream *stream, const void *data, size_t size) {
    ASSERT(stream != NULL);
    ASSERT(data != NULL || size == 0);
    XXH_errorcode result = XXH3_128bits_update((XXH3_state_t *)(void *)stream->opaque, data, size);
    ASSERT(result == XXH_OK);
}

u128 base_checksum_stream_final(struct base_checksum_stream *stream) {
    ASSERT(stream != NULL);
    return checksum_from_xxh128(XXH3_128bits_digest((XXH3_state_t *)(void *)stream->opaque));
}

/* SHA-256's implementation, fetched from OpenSSL's default provider once: the one-shot SHA256()
 * fetches it again on every call, which costs as much as hashing a journal record. Kept for the
 * process's life (an EVP_MD may be used by several threads at once). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void) {
    ASSERT(sha256_md == NULL);
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    ASSERT(sha256_md != NULL && EVP_MD_get_size(sha256_md) == BASE_SHA256_BYTES);
}

void base_sha256(const void *data, size_t size, u8 digest[BASE_SHA256_BYTES]) {
    ASSERT(data != NULL || size == 0);
    ASSERT(digest != NULL);
    int status = pthread_once(&sha256_once, sha256_fetch);
    ASSERT(status == 0);
    unsigned int length = 0;
    int digested = EVP_Digest(data, size, digest, &length, sha256_md, NULL);
    ASSERT(digested == 1 && length == BASE_SHA256_BYTES);
}
