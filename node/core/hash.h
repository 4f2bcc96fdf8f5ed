/* SHA-256 and tagged hashes (DESIGN.md section 3), through libsodium.
 *
 * A tagged hash is SHA256(SHA256(tag) || SHA256(tag) || bytes), as in
 * BIP-340: the tag makes a signature or hash for one purpose useless for
 * any other. Every signature in tdei is over a tagged hash with one of the
 * tags below. Pointers are non-NULL unless stated. */
#ifndef TDEI_CORE_HASH_H
#define TDEI_CORE_HASH_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define TDEI_HASH_SIZE 32

/* Tags (DESIGN.md section 3). tdei/message is for `tdei keys sign`:
 * operator statements that can never be mistaken for a tx or a vote. */
#define TDEI_TAG_TX "tdei/tx"
#define TDEI_TAG_VOTE "tdei/vote"
#define TDEI_TAG_PROPOSAL "tdei/proposal"
#define TDEI_TAG_HANDSHAKE "tdei/handshake"
#define TDEI_TAG_MESSAGE "tdei/message"

/* Incremental SHA-256. */
struct tdei_sha256 {
    crypto_hash_sha256_state state; /* libsodium's state */
};

void tdei_sha256_init(struct tdei_sha256 *ctx);
void tdei_sha256_update(struct tdei_sha256 *ctx, const uint8_t *data,
                        size_t len);
void tdei_sha256_final(struct tdei_sha256 *ctx, uint8_t out[TDEI_HASH_SIZE]);

/* out = SHA256(@data[0..@len)); @data may be NULL when @len is 0. */
void tdei_sha256(uint8_t out[TDEI_HASH_SIZE], const uint8_t *data,
                 size_t len);

/* Start a tagged hash: feeds SHA256(tag) twice. Continue with
 * tdei_sha256_update and tdei_sha256_final. */
void tdei_tagged_init(struct tdei_sha256 *ctx, const char *tag);

/* out = SHA256(SHA256(tag) || SHA256(tag) || data). */
void tdei_tagged_hash(uint8_t out[TDEI_HASH_SIZE], const char *tag,
                      const uint8_t *data, size_t len);

/* Compare two 32-byte hashes in constant time. Returns 1 when equal. */
int tdei_hash_equal(const uint8_t a[TDEI_HASH_SIZE],
                    const uint8_t b[TDEI_HASH_SIZE]);

#endif
