/* Keys and signatures (DESIGN.md section 3).
 *
 * Node and operator keys are secp256k1 keys; public keys are 32-byte x-only
 * keys and signatures are 64-byte BIP-340 Schnorr signatures, made and
 * checked by libsecp256k1. Encryption keys are X25519 (libsodium). Every
 * tdei signature is over a tagged hash (hash.h); the raw functions exist
 * for the BIP-340 test vectors and for callers that already hold one.
 *
 * Call tdei_crypto_init once, before any other function here, from the
 * main thread. After it, every function is safe to call from any thread.
 * Pointers are non-NULL unless stated. Secret material is wiped with
 * sodium_memzero by the *_wipe functions; callers wipe their copies. */
#ifndef TDEI_CORE_KEYS_H
#define TDEI_CORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define TDEI_SECKEY_SIZE 32 /* secp256k1 secret scalar, big-endian */
#define TDEI_PUBKEY_SIZE 32 /* BIP-340 x-only public key */
#define TDEI_SIG_SIZE 64    /* BIP-340 signature */
#define TDEI_X25519_SIZE 32 /* X25519 public or secret key */

/* A secp256k1 key pair: node key or operator key. */
struct tdei_keypair {
    uint8_t secret[TDEI_SECKEY_SIZE]; /* secret key; wipe after use */
    uint8_t pubkey[TDEI_PUBKEY_SIZE]; /* x-only public key */
};

/* An X25519 key pair: the member's encryption key. */
struct tdei_enc_keypair {
    uint8_t secret[TDEI_X25519_SIZE]; /* X25519 secret key */
    uint8_t pubkey[TDEI_X25519_SIZE]; /* X25519 public key */
};

/* Initialise libsodium and the shared, randomised secp256k1 context.
 * Idempotent. Returns: 0 or TDEI_CRYPTO (libsodium failed to start). */
int tdei_crypto_init(void);

/* Fill @kp with a fresh key pair from the system's random source.
 * Returns: 0 or TDEI_CRYPTO. */
int tdei_keypair_generate(struct tdei_keypair *kp);

/* Derive the key pair of @secret into @kp.
 * Returns: 0, or TDEI_BADKEY when @secret is zero or not below the curve
 * order (then @kp is zeroed). */
int tdei_keypair_from_secret(struct tdei_keypair *kp,
                             const uint8_t secret[TDEI_SECKEY_SIZE]);

/* Check that @pubkey is the x coordinate of a point on the curve.
 * Returns: 0 or TDEI_BADKEY. */
int tdei_pubkey_check(const uint8_t pubkey[TDEI_PUBKEY_SIZE]);

/* BIP-340 sign @msg (@len bytes, any length) with @kp; @aux is 32 bytes of
 * auxiliary randomness, or NULL to draw them from the system source.
 * Returns: 0, TDEI_BADKEY (@kp does not hold a valid key, or its public
 * half is not the one of its secret) or TDEI_CRYPTO (the signature failed
 * the check made before releasing it). On error @sig is zeroed. */
int tdei_sign_raw(uint8_t sig[TDEI_SIG_SIZE], const struct tdei_keypair *kp,
                  const uint8_t *msg, size_t len, const uint8_t *aux);

/* BIP-340 verify @sig over @msg (@len bytes) under the x-only @pubkey.
 * Returns: 0, TDEI_BADKEY (@pubkey is not on the curve) or TDEI_BADSIG. */
int tdei_verify_raw(const uint8_t sig[TDEI_SIG_SIZE], const uint8_t *msg,
                    size_t len, const uint8_t pubkey[TDEI_PUBKEY_SIZE]);

/* Sign the tagged hash (@tag, @data) with @kp: what every tdei signature
 * is. Returns as tdei_sign_raw. */
int tdei_sign_tagged(uint8_t sig[TDEI_SIG_SIZE],
                     const struct tdei_keypair *kp, const char *tag,
                     const uint8_t *data, size_t len);

/* Verify @sig over the tagged hash (@tag, @data). Returns as
 * tdei_verify_raw. */
int tdei_verify_tagged(const uint8_t sig[TDEI_SIG_SIZE],
                       const uint8_t pubkey[TDEI_PUBKEY_SIZE],
                       const char *tag, const uint8_t *data, size_t len);

/* A public key lifted onto the curve once, for many verifications: the
 * lift (a square root) is about a tenth of a verification, so a signer
 * seen again need not pay it (the mempool keeps one per pending signer).
 * The bytes are libsecp256k1's secp256k1_xonly_pubkey. */
struct tdei_pubkey_parsed {
    unsigned char data[64];
};

/* Parse @pubkey into @out. Returns: 0 or TDEI_BADKEY (not on the curve;
 * @out zeroed). */
int tdei_pubkey_parse(struct tdei_pubkey_parsed *out,
                      const uint8_t pubkey[TDEI_PUBKEY_SIZE]);

/* tdei_verify_tagged under a parsed key. Returns: 0 or TDEI_BADSIG. */
int tdei_verify_tagged_parsed(const uint8_t sig[TDEI_SIG_SIZE],
                              const struct tdei_pubkey_parsed *key,
                              const char *tag, const uint8_t *data,
                              size_t len);

/* Fill @kp with a fresh X25519 key pair. Returns: 0 or TDEI_CRYPTO. */
int tdei_enc_keypair_generate(struct tdei_enc_keypair *kp);

/* Derive the X25519 public key of @secret into @kp.
 * Returns: 0 or TDEI_BADKEY (the public key would be a low-order point). */
int tdei_enc_keypair_from_secret(struct tdei_enc_keypair *kp,
                                 const uint8_t secret[TDEI_X25519_SIZE]);

/* Wipe the secret halves (and the rest) of key pairs. */
void tdei_keypair_wipe(struct tdei_keypair *kp);
void tdei_enc_keypair_wipe(struct tdei_enc_keypair *kp);

#endif
