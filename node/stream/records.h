/* Stream records of the data plane (DESIGN.md section 9): how one batch
 * of records is sealed, how its root is made, and how its key travels to
 * a subscriber. No I/O, no ledger, no clock: every function may run on
 * any thread.
 *
 * Protocol definitions (proto/p2p.proto StreamBatch; changing any of them
 * changes every batch root on the ledger):
 *
 * - Record sealing. Record number @seq of stream @stream (an entry id) is
 *   sealed with XChaCha20-Poly1305-IETF (libsodium, no additional data)
 *   under its batch's 32-byte random key, with
 *     nonce = first 24 bytes of tagged_hash("tdei/record",
 *             u8 len(stream) || stream || u64 BE seq)
 *   and plaintext u64 BE ts_ms || data. A sealed record is the ciphertext
 *   followed by its 16-byte tag: len(data) + STREAM_RECORD_OVERHEAD bytes.
 *   The nonce binds a record to its stream and position, so a record
 *   moved to another seq (or stream) no longer opens.
 *
 * - Batch root. The RFC 6962 root (core/merkle.h) over the sealed records
 *   of the batch in order, leaf i = the whole sealed record i. The
 *   ledger's StreamAppend.batch_root holds it, so a subscriber checks a
 *   pushed batch against the committed append without any key.
 *
 * - Key wrapping. The batch key travels to the node of a subscription
 *   (exchange @xid) sealed with XChaCha20-Poly1305-IETF under the
 *   subscription key (the key delivered, sealed, to the consumer), with
 *     nonce = first 24 bytes of tagged_hash("tdei/batch-key",
 *             xid (32) || u64 BE seq_first)
 *   so the wrapped key of one batch is useless for any other batch or
 *   subscription: STREAM_WRAPPED_KEY_SIZE (48) bytes.
 *
 * Errors: errmsg parameters are TDEI_ERRMSG_SIZE bytes. Pointers are
 * non-NULL unless stated. Secrets (keys, plaintext) are the caller's to
 * wipe. */
#ifndef TDEI_STREAM_RECORDS_H
#define TDEI_STREAM_RECORDS_H

#include "core/merkle.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define STREAM_KEY_SIZE 32u   /* batch key, subscription key */
#define STREAM_NONCE_SIZE 24u /* XChaCha20 nonce */
#define STREAM_TAG_SIZE 16u   /* Poly1305 tag */
#define STREAM_TS_SIZE 8u     /* u64 BE ts_ms before the data */
/* Bytes a sealed record has beyond its data. */
#define STREAM_RECORD_OVERHEAD (STREAM_TS_SIZE + STREAM_TAG_SIZE)
#define STREAM_WRAPPED_KEY_SIZE (STREAM_KEY_SIZE + STREAM_TAG_SIZE)
#define STREAM_ROOT_SIZE MERKLE_HASH_SIZE
/* Records in one batch at most (DESIGN.md section 4, "stream batch"; the
 * ledger's params.stream_batch_max can only be lower). */
#define STREAM_BATCH_RECORDS_MAX 10000u
/* Sealed bytes of one batch stay below this, so that a StreamBatch (with
 * its per-record framing, at most 4 bytes each, and its header) fits the
 * default 16 MiB p2p frame with room to spare. */
#define STREAM_BATCH_SEALED_MAX (8u * 1024u * 1024u)
/* The largest record data (config stream.record_max is at most this). */
#define STREAM_RECORD_DATA_MAX (1024u * 1024u)
#define STREAM_SEALED_MAX (STREAM_RECORD_DATA_MAX + STREAM_RECORD_OVERHEAD)
/* Stream ids are entry ids: at most 64 bytes, so the u8 length holds. */
#define STREAM_ID_MAX 64u

#define STREAM_TAG_RECORD "tdei/record"
#define STREAM_TAG_BATCH_KEY "tdei/batch-key"

/* ---- records ------------------------------------------------------------- */

/* The nonce of record @seq of @stream (see above).
 * In: @stream: NUL-terminated, 1..STREAM_ID_MAX bytes (asserted). */
void stream_record_nonce(uint8_t nonce[STREAM_NONCE_SIZE], const char *stream,
                         uint64_t seq);

/* Seal record @seq of @stream: @ts_ms and @data (@len bytes) under @key.
 * Returns: 0, or TDEI_TOOBIG when @len > STREAM_RECORD_DATA_MAX (nothing
 * written).
 * In:  @data: may be NULL when @len is 0.
 * Out: @sealed: @len + STREAM_RECORD_OVERHEAD bytes. */
int stream_record_seal(uint8_t *sealed, const char *stream, uint64_t seq,
                       uint64_t ts_ms, const uint8_t *data, size_t len,
                       const uint8_t key[STREAM_KEY_SIZE], char *errmsg);

/* Open the sealed record @sealed (@len bytes) as record @seq of @stream.
 * Returns: 0; TDEI_MALFORMED (@len is below STREAM_RECORD_OVERHEAD or
 * above STREAM_SEALED_MAX); TDEI_BADSIG (it does not authenticate: a wrong
 * key, another seq or stream, or altered bytes; errmsg names the seq). On
 * failure no plaintext is left in @data.
 * Out: @data: room for @len - STREAM_TAG_SIZE bytes (the whole
 *      plaintext passes through it); on 0 it holds the record's data,
 *      @data_len = @len - STREAM_RECORD_OVERHEAD bytes, and @ts_ms its
 *      source timestamp. */
int stream_record_open(uint8_t *data, size_t *data_len, uint64_t *ts_ms,
                       const uint8_t *sealed, size_t len, const char *stream,
                       uint64_t seq, const uint8_t key[STREAM_KEY_SIZE],
                       char *errmsg);

/* ---- batch roots ----------------------------------------------------------
 */

/* An RFC 6962 root built one leaf at a time, in O(log n) memory: the
 * roots of the complete subtrees so far, one per set bit of the count. */
struct stream_root
{
    uint8_t stack[64][MERKLE_HASH_SIZE]; /* complete subtree roots */
    uint64_t sizes[64];                  /* their leaf counts */
    size_t depth;                        /* entries in use */
    uint64_t count;                      /* leaves added */
};

void stream_root_init(struct stream_root *r);

/* Add the leaf @data (@len bytes; the whole sealed record). */
void stream_root_add(struct stream_root *r, const uint8_t *data, size_t len);

/* The root over the leaves added (SHA-256 of nothing when none). @r is
 * not changed. */
void stream_root_final(const struct stream_root *r,
                       uint8_t root[STREAM_ROOT_SIZE]);

/* The root over the @count sealed records @records, in order. */
void stream_batch_root(uint8_t root[STREAM_ROOT_SIZE],
                       const ProtobufCBinaryData *records, size_t count);

/* The consistency proof from the tree of the first @paid of the @count
 * sealed records @records to the tree of all of them: what a subscriber
 * that paid for @paid records gets instead of the rest.
 * Returns: 0; TDEI_INVAL unless 0 < @paid < @count; TDEI_NOMEM. */
int stream_prefix_prove(struct merkle_consistency *proof,
                        const ProtobufCBinaryData *records, size_t count,
                        uint64_t paid);

/* ---- batch keys ------------------------------------------------------------
 */

void stream_key_nonce(uint8_t nonce[STREAM_NONCE_SIZE],
                      const uint8_t xid[MERKLE_HASH_SIZE], uint64_t seq_first);

/* Wrap @batch_key for subscription @xid under @sub_key (see above). */
void stream_key_wrap(uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE],
                     const uint8_t batch_key[STREAM_KEY_SIZE],
                     const uint8_t sub_key[STREAM_KEY_SIZE],
                     const uint8_t xid[MERKLE_HASH_SIZE], uint64_t seq_first);

/* Unwrap the batch key of the batch at @seq_first of subscription @xid.
 * Returns: 0; TDEI_MALFORMED (@len is not STREAM_WRAPPED_KEY_SIZE);
 * TDEI_BADKEY (it does not open under @sub_key for this subscription and
 * seq). @batch_key is zeroed on failure. */
int stream_key_unwrap(uint8_t batch_key[STREAM_KEY_SIZE],
                      const uint8_t *wrapped, size_t len,
                      const uint8_t sub_key[STREAM_KEY_SIZE],
                      const uint8_t xid[MERKLE_HASH_SIZE], uint64_t seq_first,
                      char *errmsg);

/* ---- checking a received batch ------------------------------------------ */

/* What the committed StreamAppend says of a batch, and what a subscription
 * paid of it. */
struct stream_batch_expect
{
    const char *stream;             /* the entry id */
    uint64_t seq_first;             /* first record's seq */
    uint64_t count;                 /* records in the batch */
    uint64_t paid;                  /* of them paid: the first @paid */
    uint64_t first_ts;              /* the append's first_ts */
    uint64_t last_ts;               /* and last_ts */
    uint8_t root[STREAM_ROOT_SIZE]; /* the append's batch_root */
};

/* One opened record (of stream_batch_open). */
struct stream_plain
{
    uint64_t ts_ms;      /* its source timestamp */
    const uint8_t *data; /* into the caller's plaintext buffer */
    size_t len;          /* data bytes */
};

/* Check the batch @records (@n sealed records) received for subscription
 * @xid against @e and open the records it paid for, in this order: either
 * @n is e->count and @proof is empty, or (a subscription that paid for
 * part of the batch) @n is e->paid, below e->count, and @proof (@proof_n
 * hashes) is the RFC 6962 consistency proof from the tree of those @n
 * records to the tree of e->count; every record is
 * STREAM_RECORD_OVERHEAD..STREAM_SEALED_MAX bytes; the root over them is
 * e->root (or the proof leads from theirs to it, so the unpaid records
 * never reach the subscriber); the wrapped key @wrapped opens
 * under @sub_key; each of the first e->paid records opens, and their
 * timestamps lie in [first_ts, last_ts] without going backwards.
 * Returns: 0; TDEI_MALFORMED (count or length); TDEI_BADPROOF (the root
 * differs: altered, missing or reordered records); TDEI_BADKEY (the key
 * does not unwrap); TDEI_BADSIG (a record does not open); TDEI_STREAM_TIME
 * (a timestamp outside the append's range or going backwards). errmsg
 * says which record. On failure @plain holds no plaintext.
 * Out: @plain: e->paid entries; @buf: room for the sum of the records'
 *      lengths (@buf_size bytes, asserted), where the data goes. */
int stream_batch_open(const struct stream_batch_expect *e,
                      const uint8_t xid[MERKLE_HASH_SIZE],
                      const ProtobufCBinaryData *records, size_t n,
                      const uint8_t (*proof)[MERKLE_HASH_SIZE], size_t proof_n,
                      const uint8_t *wrapped, size_t wrapped_len,
                      const uint8_t sub_key[STREAM_KEY_SIZE],
                      struct stream_plain *plain, uint8_t *buf, size_t buf_size,
                      char *errmsg);

#endif
