/* SHA-256 and tagged hashes (see hash.h). */
#include "core/hash.h"

#include <string.h>

void tdei_sha256_init(struct tdei_sha256 *ctx)
{
    (void)crypto_hash_sha256_init(&ctx->state);
}

void tdei_sha256_update(struct tdei_sha256 *ctx, const uint8_t *data,
                        size_t len)
{
    if (len == 0) {
        return;
    }
    (void)crypto_hash_sha256_update(&ctx->state, data, len);
}

void tdei_sha256_final(struct tdei_sha256 *ctx, uint8_t out[TDEI_HASH_SIZE])
{
    (void)crypto_hash_sha256_final(&ctx->state, out);
    sodium_memzero(ctx, sizeof(*ctx));
}

void tdei_sha256(uint8_t out[TDEI_HASH_SIZE], const uint8_t *data,
                 size_t len)
{
    struct tdei_sha256 ctx;

    tdei_sha256_init(&ctx);
    tdei_sha256_update(&ctx, data, len);
    tdei_sha256_final(&ctx, out);
}

void tdei_tagged_init(struct tdei_sha256 *ctx, const char *tag)
{
    uint8_t tag_hash[TDEI_HASH_SIZE];

    tdei_sha256(tag_hash, (const uint8_t *)tag, strlen(tag));
    tdei_sha256_init(ctx);
    tdei_sha256_update(ctx, tag_hash, sizeof(tag_hash));
    tdei_sha256_update(ctx, tag_hash, sizeof(tag_hash));
}

void tdei_tagged_hash(uint8_t out[TDEI_HASH_SIZE], const char *tag,
                      const uint8_t *data, size_t len)
{
    struct tdei_sha256 ctx;

    tdei_tagged_init(&ctx, tag);
    tdei_sha256_update(&ctx, data, len);
    tdei_sha256_final(&ctx, out);
}

int tdei_hash_equal(const uint8_t a[TDEI_HASH_SIZE],
                    const uint8_t b[TDEI_HASH_SIZE])
{
    return sodium_memcmp(a, b, TDEI_HASH_SIZE) == 0;
}
