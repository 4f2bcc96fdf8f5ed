/* Stream records: sealing, batch roots and key wrapping (see records.h
 * for the protocol definitions). */
#include "stream/records.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"

#include <inttypes.h>
#include <sodium.h>
#include <string.h>

_Static_assert(STREAM_KEY_SIZE == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "XChaCha20 key size");
_Static_assert(STREAM_NONCE_SIZE ==
                   crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "XChaCha20 nonce size");
_Static_assert(STREAM_TAG_SIZE == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "Poly1305 tag size");
_Static_assert(STREAM_ID_MAX <= 255u, "the nonce encodes the id after a u8");

static void u64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

static uint64_t u64_get(const uint8_t in[8])
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

/* ---- records ------------------------------------------------------------- */

void stream_record_nonce(uint8_t nonce[STREAM_NONCE_SIZE], const char *stream,
                         uint64_t seq)
{
    struct tdei_sha256 ctx;
    uint8_t hash[TDEI_HASH_SIZE];
    uint8_t seq_be[8];
    size_t len = strlen(stream);
    uint8_t len8;

    TDEI_ASSERT(len >= 1);
    TDEI_ASSERT(len <= STREAM_ID_MAX);
    len8 = (uint8_t)len;
    u64_put(seq_be, seq);
    tdei_tagged_init(&ctx, STREAM_TAG_RECORD);
    tdei_sha256_update(&ctx, &len8, 1);
    tdei_sha256_update(&ctx, (const uint8_t *)stream, len);
    tdei_sha256_update(&ctx, seq_be, sizeof(seq_be));
    tdei_sha256_final(&ctx, hash);
    memcpy(nonce, hash, STREAM_NONCE_SIZE);
}

int stream_record_seal(uint8_t *sealed, const char *stream, uint64_t seq,
                       uint64_t ts_ms, const uint8_t *data, size_t len,
                       const uint8_t key[STREAM_KEY_SIZE], char *errmsg)
{
    uint8_t nonce[STREAM_NONCE_SIZE];
    unsigned long long out_len = 0;

    TDEI_ASSERT(data != NULL || len == 0);
    if (len > STREAM_RECORD_DATA_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "record %" PRIu64 " of %s has %zu bytes of data; "
                           "the most is %u",
                           seq, stream, len, STREAM_RECORD_DATA_MAX);
    }
    stream_record_nonce(nonce, stream, seq);
    /* The plaintext is ts || data: encrypt the two parts in place in the
     * output (the cipher works in place), so no plaintext copy is kept. */
    u64_put(sealed, ts_ms);
    if (len > 0) {
        memcpy(sealed + STREAM_TS_SIZE, data, len);
    }
    (void)crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, &out_len, sealed,
                                                     STREAM_TS_SIZE + len, NULL,
                                                     0, NULL, nonce, key);
    TDEI_ASSERT(out_len == len + STREAM_RECORD_OVERHEAD);
    return 0;
}

int stream_record_open(uint8_t *data, size_t *data_len, uint64_t *ts_ms,
                       const uint8_t *sealed, size_t len, const char *stream,
                       uint64_t seq, const uint8_t key[STREAM_KEY_SIZE],
                       char *errmsg)
{
    uint8_t nonce[STREAM_NONCE_SIZE];
    unsigned long long plain_len = 0;
    int rc;

    *data_len = 0;
    *ts_ms = 0;
    if (len < STREAM_RECORD_OVERHEAD || len > STREAM_SEALED_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "sealed record %" PRIu64 " of %s has %zu bytes; "
                           "a sealed record has %u-%u",
                           seq, stream, len, STREAM_RECORD_OVERHEAD,
                           STREAM_SEALED_MAX);
    }
    stream_record_nonce(nonce, stream, seq);
    rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
        data, &plain_len, NULL, sealed, len, NULL, 0, nonce, key);
    if (rc != 0) {
        /* libsodium leaves the output untouched on failure; wipe anyway
         * so that no caller can read a partial plaintext. */
        sodium_memzero(data, len - STREAM_TAG_SIZE);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADSIG,
                           "record %" PRIu64 " of %s does not authenticate "
                           "(wrong key, moved to another seq, or altered)",
                           seq, stream);
    }
    TDEI_ASSERT(plain_len == len - STREAM_TAG_SIZE);
    *ts_ms = u64_get(data);
    *data_len = (size_t)plain_len - STREAM_TS_SIZE;
    memmove(data, data + STREAM_TS_SIZE, *data_len);
    return 0;
}

/* ---- batch roots --------------------------------------------------------- */

void stream_root_init(struct stream_root *r) { memset(r, 0, sizeof(*r)); }

void stream_root_add(struct stream_root *r, const uint8_t *data, size_t len)
{
    TDEI_ASSERT(r->depth < 64);
    merkle_leaf_hash(r->stack[r->depth], data, len);
    r->sizes[r->depth] = 1;
    r->depth++;
    r->count++;
    /* Merge equal-sized neighbours: the stack then holds one complete
     * subtree per set bit of count, largest first, as RFC 6962 splits a
     * tree at the largest power of two below its size. */
    while (r->depth >= 2 && r->sizes[r->depth - 2] == r->sizes[r->depth - 1]) {
        merkle_node_hash(r->stack[r->depth - 2], r->stack[r->depth - 2],
                         r->stack[r->depth - 1]);
        r->sizes[r->depth - 2] *= 2;
        r->depth--;
    }
}

void stream_root_final(const struct stream_root *r,
                       uint8_t root[STREAM_ROOT_SIZE])
{
    uint8_t acc[MERKLE_HASH_SIZE];

    if (r->depth == 0) {
        tdei_sha256(root, NULL, 0);
        return;
    }
    /* Fold from the right: the last (smallest) subtree is the right child
     * of the one before it, and so on up to the largest. */
    memcpy(acc, r->stack[r->depth - 1], sizeof(acc));
    for (size_t i = r->depth - 1; i > 0; i--) {
        merkle_node_hash(acc, r->stack[i - 1], acc);
    }
    memcpy(root, acc, STREAM_ROOT_SIZE);
}

void stream_batch_root(uint8_t root[STREAM_ROOT_SIZE],
                       const ProtobufCBinaryData *records, size_t count)
{
    struct stream_root r;

    stream_root_init(&r);
    for (size_t i = 0; i < count; i++) {
        stream_root_add(&r, records[i].data, records[i].len);
    }
    stream_root_final(&r, root);
}

int stream_prefix_prove(struct merkle_consistency *proof,
                        const ProtobufCBinaryData *records, size_t count,
                        uint64_t paid)
{
    uint8_t (*leaves)[MERKLE_HASH_SIZE];
    int rc;

    if (paid == 0 || paid >= count) {
        memset(proof, 0, sizeof(*proof));
        return TDEI_INVAL;
    }
    leaves = tdei_calloc(count, MERKLE_HASH_SIZE);
    if (leaves == NULL) {
        memset(proof, 0, sizeof(*proof));
        return TDEI_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        merkle_leaf_hash(leaves[i], records[i].data, records[i].len);
    }
    rc = merkle_consistency_prove(
        proof, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, paid, count);
    tdei_free(leaves);
    return rc;
}

/* ---- batch keys ---------------------------------------------------------- */

void stream_key_nonce(uint8_t nonce[STREAM_NONCE_SIZE],
                      const uint8_t xid[MERKLE_HASH_SIZE], uint64_t seq_first)
{
    struct tdei_sha256 ctx;
    uint8_t hash[TDEI_HASH_SIZE];
    uint8_t seq_be[8];

    u64_put(seq_be, seq_first);
    tdei_tagged_init(&ctx, STREAM_TAG_BATCH_KEY);
    tdei_sha256_update(&ctx, xid, MERKLE_HASH_SIZE);
    tdei_sha256_update(&ctx, seq_be, sizeof(seq_be));
    tdei_sha256_final(&ctx, hash);
    memcpy(nonce, hash, STREAM_NONCE_SIZE);
}

void stream_key_wrap(uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE],
                     const uint8_t batch_key[STREAM_KEY_SIZE],
                     const uint8_t sub_key[STREAM_KEY_SIZE],
                     const uint8_t xid[MERKLE_HASH_SIZE], uint64_t seq_first)
{
    uint8_t nonce[STREAM_NONCE_SIZE];
    unsigned long long out_len = 0;

    stream_key_nonce(nonce, xid, seq_first);
    (void)crypto_aead_xchacha20poly1305_ietf_encrypt(
        wrapped, &out_len, batch_key, STREAM_KEY_SIZE, NULL, 0, NULL, nonce,
        sub_key);
    TDEI_ASSERT(out_len == STREAM_WRAPPED_KEY_SIZE);
}

int stream_key_unwrap(uint8_t batch_key[STREAM_KEY_SIZE],
                      const uint8_t *wrapped, size_t len,
                      const uint8_t sub_key[STREAM_KEY_SIZE],
                      const uint8_t xid[MERKLE_HASH_SIZE], uint64_t seq_first,
                      char *errmsg)
{
    uint8_t nonce[STREAM_NONCE_SIZE];
    unsigned long long out_len = 0;

    memset(batch_key, 0, STREAM_KEY_SIZE);
    if (len != STREAM_WRAPPED_KEY_SIZE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "wrapped batch key has %zu bytes; it has %u", len,
                           STREAM_WRAPPED_KEY_SIZE);
    }
    stream_key_nonce(nonce, xid, seq_first);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(batch_key, &out_len, NULL,
                                                   wrapped, len, NULL, 0, nonce,
                                                   sub_key) != 0) {
        sodium_memzero(batch_key, STREAM_KEY_SIZE);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                           "the batch key at seq %" PRIu64 " does not open "
                           "under this subscription's key",
                           seq_first);
    }
    TDEI_ASSERT(out_len == STREAM_KEY_SIZE);
    return 0;
}

/* ---- checking a received batch ------------------------------------------- */

/* Counts, lengths and the root: what needs no key. */
static int batch_shape_check(const struct stream_batch_expect *e,
                             const ProtobufCBinaryData *records, size_t n,
                             const uint8_t (*proof)[MERKLE_HASH_SIZE],
                             size_t proof_n, size_t buf_size, char *errmsg)
{
    uint8_t root[STREAM_ROOT_SIZE];
    size_t total = 0;
    int prefix = n < e->count;

    if (n != e->count && !(n == e->paid && n > 0 && prefix)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "batch at seq %" PRIu64 " of %s has %zu records; "
                           "its append on the ledger has %" PRIu64
                           " and the subscription paid for %" PRIu64,
                           e->seq_first, e->stream, n, e->count, e->paid);
    }
    if (!prefix && proof_n != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "batch at seq %" PRIu64 " of %s is whole and "
                           "comes with a prefix proof",
                           e->seq_first, e->stream);
    }
    for (size_t i = 0; i < n; i++) {
        if (records[i].len < STREAM_RECORD_OVERHEAD ||
            records[i].len > STREAM_SEALED_MAX) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                               "record %" PRIu64 " of %s has %zu sealed "
                               "bytes; a sealed record has %u-%u",
                               e->seq_first + i, e->stream, records[i].len,
                               STREAM_RECORD_OVERHEAD, STREAM_SEALED_MAX);
        }
        total += records[i].len;
    }
    TDEI_ASSERT(total <= buf_size);
    stream_batch_root(root, records, n);
    if (prefix) {
        if (merkle_consistency_verify(n, e->count, root, e->root, proof,
                                      proof_n) != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADPROOF,
                               "the first %zu records of the batch at seq "
                               "%" PRIu64 " of %s do not lead to the batch "
                               "root on the ledger with their proof "
                               "(altered, missing or reordered records)",
                               n, e->seq_first, e->stream);
        }
    } else if (!tdei_hash_equal(root, e->root)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADPROOF,
                           "batch at seq %" PRIu64 " of %s does not match "
                           "the batch root on the ledger (altered, missing "
                           "or reordered records)",
                           e->seq_first, e->stream);
    }
    return 0;
}

int stream_batch_open(const struct stream_batch_expect *e,
                      const uint8_t xid[MERKLE_HASH_SIZE],
                      const ProtobufCBinaryData *records, size_t n,
                      const uint8_t (*proof)[MERKLE_HASH_SIZE], size_t proof_n,
                      const uint8_t *wrapped, size_t wrapped_len,
                      const uint8_t sub_key[STREAM_KEY_SIZE],
                      struct stream_plain *plain, uint8_t *buf, size_t buf_size,
                      char *errmsg)
{
    uint8_t key[STREAM_KEY_SIZE];
    uint64_t prev_ts = e->first_ts;
    size_t used = 0;
    int rc;

    TDEI_ASSERT(e->paid <= e->count);
    rc = batch_shape_check(e, records, n, proof, proof_n, buf_size, errmsg);
    if (rc == 0) {
        rc = stream_key_unwrap(key, wrapped, wrapped_len, sub_key, xid,
                               e->seq_first, errmsg);
    }
    for (uint64_t i = 0; rc == 0 && i < e->paid; i++) {
        uint64_t seq = e->seq_first + i;
        struct stream_plain *p = &plain[i];

        rc = stream_record_open(buf + used, &p->len, &p->ts_ms, records[i].data,
                                records[i].len, e->stream, seq, key, errmsg);
        if (rc != 0) {
            break;
        }
        p->data = buf + used;
        used += records[i].len - STREAM_TAG_SIZE;
        if (p->ts_ms < prev_ts || p->ts_ms > e->last_ts) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_STREAM_TIME,
                             "record %" PRIu64 " of %s has ts %" PRIu64
                             "; the batch's records lie in %" PRIu64 "-%" PRIu64
                             " and do not go backwards "
                             "(previous %" PRIu64 ")",
                             seq, e->stream, p->ts_ms, e->first_ts, e->last_ts,
                             prev_ts);
        }
        prev_ts = p->ts_ms;
    }
    sodium_memzero(key, sizeof(key));
    if (rc != 0) {
        sodium_memzero(buf, used);
        memset(plain, 0, (size_t)e->paid * sizeof(*plain));
    }
    return rc;
}
