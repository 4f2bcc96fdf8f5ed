/* Keys and signatures: libsecp256k1 BIP-340 and libsodium X25519 (see
 * keys.h).
 *
 * One secp256k1 context serves the whole process. It is created and
 * randomised once (blinding against side channels) and afterwards only
 * used through const pointers, which libsecp256k1 documents as safe from
 * any number of threads. */
#include "core/keys.h"

#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"

#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <string.h>

/* Fresh random keys are retried this many times when the bytes drawn are
 * not a valid key (probability about 2^-128 per draw for secp256k1). */
#define KEYS_GENERATE_TRIES 8

static secp256k1_context *keys_ctx;    /* set once by keys_init_once */
static int keys_init_rc = TDEI_CRYPTO; /* result of keys_init_once */
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void keys_init_once(void)
{
    uint8_t seed[32];
    secp256k1_context *ctx;

    if (sodium_init() < 0) {
        return;
    }
    /* 0.2.0 ignores the SIGN/VERIFY flags; NONE gives a full context. */
    ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (ctx == NULL) {
        return;
    }
    randombytes_buf(seed, sizeof(seed));
    if (secp256k1_context_randomize(ctx, seed) != 1) {
        sodium_memzero(seed, sizeof(seed));
        secp256k1_context_destroy(ctx);
        return;
    }
    sodium_memzero(seed, sizeof(seed));
    keys_ctx = ctx;
    keys_init_rc = 0;
}

int tdei_crypto_init(void)
{
    if (pthread_once(&keys_once, keys_init_once) != 0) {
        return TDEI_CRYPTO;
    }
    return keys_init_rc;
}

/* The shared context; calling anything before tdei_crypto_init is a bug. */
static const secp256k1_context *keys_context(void)
{
    TDEI_ASSERT(keys_ctx != NULL);
    return keys_ctx;
}

int tdei_keypair_from_secret(struct tdei_keypair *kp,
                             const uint8_t secret[TDEI_SECKEY_SIZE])
{
    const secp256k1_context *ctx = keys_context();
    uint8_t copy[TDEI_SECKEY_SIZE];
    secp256k1_keypair pair;
    secp256k1_xonly_pubkey xonly;
    int rc = TDEI_BADKEY;

    /* @secret may be kp->secret itself: work on a copy. */
    memcpy(copy, secret, sizeof(copy));
    tdei_keypair_wipe(kp);
    if (secp256k1_keypair_create(ctx, &pair, copy) != 1) {
        goto out_wipe;
    }
    if (secp256k1_keypair_xonly_pub(ctx, &xonly, NULL, &pair) != 1) {
        goto out_wipe;
    }
    (void)secp256k1_xonly_pubkey_serialize(ctx, kp->pubkey, &xonly);
    memcpy(kp->secret, copy, sizeof(copy));
    rc = 0;
out_wipe:
    sodium_memzero(copy, sizeof(copy));
    sodium_memzero(&pair, sizeof(pair));
    return rc;
}

int tdei_keypair_generate(struct tdei_keypair *kp)
{
    uint8_t secret[TDEI_SECKEY_SIZE];

    for (int i = 0; i < KEYS_GENERATE_TRIES; i++) {
        randombytes_buf(secret, sizeof(secret));
        if (tdei_keypair_from_secret(kp, secret) == 0) {
            sodium_memzero(secret, sizeof(secret));
            return 0;
        }
    }
    sodium_memzero(secret, sizeof(secret));
    tdei_keypair_wipe(kp);
    return TDEI_CRYPTO;
}

int tdei_pubkey_check(const uint8_t pubkey[TDEI_PUBKEY_SIZE])
{
    secp256k1_xonly_pubkey xonly;

    if (secp256k1_xonly_pubkey_parse(keys_context(), &xonly, pubkey) != 1) {
        return TDEI_BADKEY;
    }
    return 0;
}

int tdei_sign_raw(uint8_t sig[TDEI_SIG_SIZE], const struct tdei_keypair *kp,
                  const uint8_t *msg, size_t len, const uint8_t *aux)
{
    const secp256k1_context *ctx = keys_context();
    secp256k1_schnorrsig_extraparams extra =
        SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
    uint8_t aux_copy[32];
    uint8_t pubkey[TDEI_PUBKEY_SIZE];
    secp256k1_keypair pair;
    secp256k1_xonly_pubkey xonly;
    int rc = TDEI_BADKEY;

    TDEI_ASSERT(msg != NULL || len == 0);
    memset(sig, 0, TDEI_SIG_SIZE);
    if (secp256k1_keypair_create(ctx, &pair, kp->secret) != 1) {
        goto out_wipe;
    }
    if (secp256k1_keypair_xonly_pub(ctx, &xonly, NULL, &pair) != 1) {
        goto out_wipe;
    }
    (void)secp256k1_xonly_pubkey_serialize(ctx, pubkey, &xonly);
    /* A signature under another key than the one the caller publishes
     * would be useless: refuse a pair whose halves do not match. */
    if (sodium_memcmp(pubkey, kp->pubkey, sizeof(pubkey)) != 0) {
        goto out_wipe;
    }
    if (aux != NULL) {
        memcpy(aux_copy, aux, sizeof(aux_copy));
    } else {
        randombytes_buf(aux_copy, sizeof(aux_copy));
    }
    extra.ndata = aux_copy;
    rc = TDEI_CRYPTO;
    if (secp256k1_schnorrsig_sign_custom(ctx, sig, msg, len, &pair, &extra) !=
        1) {
        memset(sig, 0, TDEI_SIG_SIZE);
        goto out_wipe;
    }
    /* BIP-340 "Default Signing": verify before releasing the signature,
     * so that a computation fault never leaks a bad signature. */
    if (secp256k1_schnorrsig_verify(ctx, sig, msg, len, &xonly) != 1) {
        memset(sig, 0, TDEI_SIG_SIZE);
        goto out_wipe;
    }
    rc = 0;
out_wipe:
    sodium_memzero(&pair, sizeof(pair));
    sodium_memzero(aux_copy, sizeof(aux_copy));
    return rc;
}

int tdei_verify_raw(const uint8_t sig[TDEI_SIG_SIZE], const uint8_t *msg,
                    size_t len, const uint8_t pubkey[TDEI_PUBKEY_SIZE])
{
    const secp256k1_context *ctx = keys_context();
    secp256k1_xonly_pubkey xonly;

    TDEI_ASSERT(msg != NULL || len == 0);
    if (secp256k1_xonly_pubkey_parse(ctx, &xonly, pubkey) != 1) {
        return TDEI_BADKEY;
    }
    if (secp256k1_schnorrsig_verify(ctx, sig, msg, len, &xonly) != 1) {
        return TDEI_BADSIG;
    }
    return 0;
}

int tdei_sign_tagged(uint8_t sig[TDEI_SIG_SIZE], const struct tdei_keypair *kp,
                     const char *tag, const uint8_t *data, size_t len)
{
    uint8_t digest[TDEI_HASH_SIZE];

    tdei_tagged_hash(digest, tag, data, len);
    return tdei_sign_raw(sig, kp, digest, sizeof(digest), NULL);
}

int tdei_verify_tagged(const uint8_t sig[TDEI_SIG_SIZE],
                       const uint8_t pubkey[TDEI_PUBKEY_SIZE], const char *tag,
                       const uint8_t *data, size_t len)
{
    uint8_t digest[TDEI_HASH_SIZE];

    tdei_tagged_hash(digest, tag, data, len);
    return tdei_verify_raw(sig, digest, sizeof(digest), pubkey);
}

_Static_assert(sizeof(struct tdei_pubkey_parsed) ==
                   sizeof(secp256k1_xonly_pubkey),
               "a parsed key holds libsecp256k1's parsed key");

int tdei_pubkey_parse(struct tdei_pubkey_parsed *out,
                      const uint8_t pubkey[TDEI_PUBKEY_SIZE])
{
    secp256k1_xonly_pubkey xonly;

    if (secp256k1_xonly_pubkey_parse(keys_context(), &xonly, pubkey) != 1) {
        memset(out, 0, sizeof(*out));
        return TDEI_BADKEY;
    }
    memcpy(out->data, &xonly, sizeof(out->data));
    return 0;
}

int tdei_verify_tagged_parsed(const uint8_t sig[TDEI_SIG_SIZE],
                              const struct tdei_pubkey_parsed *key,
                              const char *tag, const uint8_t *data,
                              size_t len)
{
    uint8_t digest[TDEI_HASH_SIZE];
    secp256k1_xonly_pubkey xonly;

    tdei_tagged_hash(digest, tag, data, len);
    memcpy(&xonly, key->data, sizeof(xonly));
    if (secp256k1_schnorrsig_verify(keys_context(), sig, digest,
                                    sizeof(digest), &xonly) != 1) {
        return TDEI_BADSIG;
    }
    return 0;
}

int tdei_enc_keypair_from_secret(struct tdei_enc_keypair *kp,
                                 const uint8_t secret[TDEI_X25519_SIZE])
{
    uint8_t copy[TDEI_X25519_SIZE];
    int rc = TDEI_BADKEY;

    _Static_assert(crypto_scalarmult_BYTES == TDEI_X25519_SIZE,
                   "X25519 public key size");
    _Static_assert(crypto_scalarmult_SCALARBYTES == TDEI_X25519_SIZE,
                   "X25519 secret key size");
    memcpy(copy, secret, sizeof(copy));
    tdei_enc_keypair_wipe(kp);
    if (crypto_scalarmult_base(kp->pubkey, copy) != 0) {
        goto out_wipe;
    }
    /* The clamped scalar never gives the identity, but a zero public key
     * would make every shared secret zero: never hand one out. */
    if (sodium_is_zero(kp->pubkey, sizeof(kp->pubkey))) {
        goto out_wipe;
    }
    memcpy(kp->secret, copy, sizeof(copy));
    rc = 0;
out_wipe:
    if (rc != 0) {
        tdei_enc_keypair_wipe(kp);
    }
    sodium_memzero(copy, sizeof(copy));
    return rc;
}

int tdei_enc_keypair_generate(struct tdei_enc_keypair *kp)
{
    uint8_t secret[TDEI_X25519_SIZE];

    for (int i = 0; i < KEYS_GENERATE_TRIES; i++) {
        randombytes_buf(secret, sizeof(secret));
        if (tdei_enc_keypair_from_secret(kp, secret) == 0) {
            sodium_memzero(secret, sizeof(secret));
            return 0;
        }
    }
    sodium_memzero(secret, sizeof(secret));
    tdei_enc_keypair_wipe(kp);
    return TDEI_CRYPTO;
}

void tdei_keypair_wipe(struct tdei_keypair *kp)
{
    sodium_memzero(kp, sizeof(*kp));
}

void tdei_enc_keypair_wipe(struct tdei_enc_keypair *kp)
{
    sodium_memzero(kp, sizeof(*kp));
}
