/* The stream record store of a node (DESIGN.md sections 8 and 9): a third
 * LMDB environment, the directory DATA/streams, beside the ledger and the
 * blobs. It holds what a node must remember of streams across restarts:
 *
 *   the owner's node   every batch it cut (its sealed records, its batch
 *                      key, its seq range and times), pending until its
 *                      append commits, then applied with the exchanges it
 *                      charged and how many records each paid; a refused
 *                      batch is deleted (its seqs are used again);
 *   a subscriber's     the batches the ledger says it is owed (from the
 *   node               committed appends that charged its exchanges),
 *                      until they arrive, and every record received and
 *                      verified, by seq;
 *   both               per-stream counters and the last refusal.
 *
 * The owner's node also keeps every record it took (IngestRecords) and
 * has not cut into a batch yet, so that an accepted record survives a
 * crash: the queue. Cutting a batch stores it and deletes its records
 * from the queue in one transaction.
 *
 * Databases (keys sort bytewise; integers are big-endian, so seqs sort
 * numerically; SID = u8 len(stream) || stream):
 *   batches  SID || u64 seq_first   -> batch header (below)
 *   bdata    SID || u64 seq_first   -> the sealed records: for each, u32
 *                                      length || bytes
 *   expect   xid (32) || u64 seq_first -> expected batch (below)
 *   records  SID || u64 seq         -> u8 1 || u64 ts_ms || u64 height ||
 *                                      u64 stored_ms || data
 *   streams  stream                 -> counters (below)
 *   queue    SID || u64 qseq        -> u8 1 || u64 ts_ms || data (qseq:
 *                                      the node's own order of taking)
 *   meta     "stream.version"       -> u64 RSTORE_FORMAT_VERSION
 * A batch header exists exactly when its bdata exists (written and
 * deleted together).
 *
 * Batch header, version 1: u8 1, u8 state, u64 count, first_ts, last_ts,
 * created_height, height, applied_ms, 32 root, 32 key, u8 charges, then
 * per charge 32 xid || u64 paid.
 * Expected batch, version 1: u8 1, u64 seq_first, count, paid, first_ts,
 * last_ts, height, 32 root, u8 len || stream, u8 len || owner member.
 * Counters, version 1: u8 1, then u64 each of appended_records,
 * appended_batches, refused_records, refused_batches, received_records,
 * bad_batches, held (0/1), held_from, next_seq, last_ts, u32
 * last_refusal_code, u16 len || last_refusal text.
 *
 * Map: a fixed RSTORE_MAP_SIZE, never grown, so that reads on one thread
 * and the writer on another never need to exclude each other (growing an
 * LMDB map needs every transaction of the process closed). A write that
 * does not fit fails with TDEI_NOSPACE.
 *
 * Threads: each call opens and ends its own LMDB transactions; reads may
 * run on any thread at any time, writes on one thread at a time (the
 * caller serialises them: the node writes on a worker, in order). Every
 * write is durable (synced) when it returns.
 *
 * Errors: errmsg parameters are TDEI_ERRMSG_SIZE bytes; MDB_* and errno
 * codes never leave this module. Pointers are non-NULL unless stated. */
#ifndef TDEI_STREAM_RSTORE_H
#define TDEI_STREAM_RSTORE_H

#include "core/ids.h"
#include "core/limits.h"
#include "stream/records.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define RSTORE_FORMAT_VERSION 1u
#define RSTORE_MAP_SIZE (64ull << 30) /* 64 GiB of address space */
#define RSTORE_CHARGES_MAX 64u        /* CODEC_STREAM_SUBS_MAX */
#define RSTORE_REFUSAL_MAX 1024u      /* bytes of a kept refusal reason */

enum rstore_batch_state {
    RSTORE_PENDING = 1, /* cut and stored; its append not yet committed */
    RSTORE_APPLIED = 2, /* its append was applied by the ledger */
};

/* An exchange charged for a batch, and the records it paid: the first
 * @paid of the batch. */
struct rstore_charge
{
    uint8_t xid[32];
    uint64_t paid;
};

/* A batch cut by the owner's node (the header; its records apart). */
struct rstore_batch
{
    char stream[STREAM_ID_MAX + 1];
    uint64_t seq_first;
    uint64_t count;
    uint64_t first_ts;       /* of the first record, Unix ms */
    uint64_t last_ts;        /* of the last record */
    uint64_t created_height; /* committed height when cut */
    uint64_t height;         /* applied: its block; else 0 */
    uint64_t applied_ms;     /* applied: when learned; else 0 */
    enum rstore_batch_state state;
    uint8_t root[STREAM_ROOT_SIZE]; /* RFC 6962 over the sealed records */
    uint8_t key[STREAM_KEY_SIZE];   /* the batch key: a secret */
    size_t n_charges;               /* entries of @charges */
    struct rstore_charge charges[RSTORE_CHARGES_MAX];
};

/* A record the owner's node took and has not cut into a batch. */
struct rstore_queued
{
    uint64_t qseq;       /* its place in the stream's queue */
    uint64_t ts_ms;      /* source timestamp */
    const uint8_t *data; /* borrowed */
    size_t len;          /* 1..STREAM_RECORD_DATA_MAX */
};

/* A batch a subscriber's node is owed by the ledger. */
struct rstore_expect
{
    uint8_t xid[32]; /* the subscription */
    char stream[STREAM_ID_MAX + 1];
    char owner[TDEI_MEMBER_ID_MAX + 1]; /* the member whose node sends */
    uint64_t seq_first;
    uint64_t count;
    uint64_t paid; /* records paid: the first @paid */
    uint64_t first_ts;
    uint64_t last_ts;
    uint64_t height; /* of the committed append */
    uint8_t root[STREAM_ROOT_SIZE];
};

/* The counters of one stream on this node. */
struct rstore_stats
{
    uint64_t appended_records; /* owner: in applied batches */
    uint64_t appended_batches;
    uint64_t refused_records; /* owner: in refused batches */
    uint64_t refused_batches;
    uint64_t received_records; /* subscriber: received and verified */
    uint64_t bad_batches;      /* subscriber: failed their checks */
    int held;                  /* records are held: the range is valid */
    uint64_t held_from;        /* first seq held */
    uint64_t next_seq;         /* end of the contiguous run from it */
    uint64_t last_ts;          /* owner: last_ts of the last batch cut */
    uint32_t last_refusal_code;
    char last_refusal[RSTORE_REFUSAL_MAX + 1];
};

/* One record as stored by a subscriber (or read back by the owner). */
struct rstore_record
{
    uint64_t seq;
    uint64_t ts_ms;
    uint64_t height;
    uint64_t stored_ms;
    const uint8_t *data; /* borrowed for the callback */
    size_t len;
};

struct rstore; /* an open streams environment */

/* ---- open and close ------------------------------------------------------ */

/* Open (creating it, mode 0700, and the environment, when missing) the
 * streams environment in directory @path (DATA/streams). Only the last
 * component is created.
 * Returns: 0; TDEI_LOCKED (another process has @path open); TDEI_VERSION
 * (another format version); TDEI_NOTFOUND (the parent is missing);
 * TDEI_PERM; TDEI_IOERR; TDEI_NOSPACE; TDEI_CORRUPT; TDEI_NOMEM.
 * Out: @out: the store on 0, NULL otherwise. In: @path: copied. */
int rstore_open(struct rstore **out, const char *path, char *errmsg);

/* Close @s (may be NULL); the pointer is dead. */
void rstore_close(struct rstore *s);

/* ---- the owner's batches ---------------------------------------------------
 */

/* Store batch @b (state pending) with its @n sealed records, and raise the
 * stream's last_ts to b->last_ts. A batch already stored at the same seq
 * (a pending one whose append was refused but not yet deleted cannot be:
 * the caller deletes first) is replaced.
 * Returns: 0; TDEI_INVAL (@n != b->count, or a record above
 * STREAM_SEALED_MAX); TDEI_NOSPACE; TDEI_IOERR; TDEI_NOMEM. */
int rstore_batch_put(struct rstore *s, const struct rstore_batch *b,
                     const ProtobufCBinaryData *records, size_t n,
                     char *errmsg);

/* rstore_batch_put, and in the same transaction delete the @q_count
 * queued records of the stream from @q_first on (the records the batch
 * was cut from). */
int rstore_batch_put_queued(struct rstore *s, const struct rstore_batch *b,
                            const ProtobufCBinaryData *records, size_t n,
                            uint64_t q_first, uint64_t q_count, char *errmsg);

/* ---- the owner's queue ----------------------------------------------------
 */

/* Keep the @n records @recs of @stream (qseqs not stored yet, each
 * 1..STREAM_RECORD_DATA_MAX bytes), all or none.
 * Returns: 0; TDEI_INVAL (a record of another size); TDEI_NOSPACE;
 * TDEI_IOERR. */
int rstore_queue_put(struct rstore *s, const char *stream,
                     const struct rstore_queued *recs, size_t n, char *errmsg);

/* Delete the @count queued records of @stream from @first on (those
 * missing are passed over).
 * Returns: 0; TDEI_NOSPACE; TDEI_IOERR. */
int rstore_queue_delete(struct rstore *s, const char *stream, uint64_t first,
                        uint64_t count, char *errmsg);

/* Call @cb for every queued record, by stream, then qseq; a non-zero
 * return from @cb stops the walk and is returned.
 * Returns: 0, @cb's code, TDEI_CORRUPT or TDEI_IOERR. */
int rstore_queue_each(struct rstore *s,
                      int (*cb)(void *arg, const char *stream,
                                const struct rstore_queued *rec),
                      void *arg, char *errmsg);

/* The append of pending batch (@stream, @seq_first) was applied at
 * @height: mark it applied with @charges (@n, at most RSTORE_CHARGES_MAX),
 * count it and extend the held range.
 * Returns: 0; TDEI_NOTFOUND (no such batch); TDEI_INVAL (too many
 * charges); TDEI_CORRUPT; TDEI_NOSPACE; TDEI_IOERR. */
int rstore_batch_applied(struct rstore *s, const char *stream,
                         uint64_t seq_first, uint64_t height,
                         uint64_t applied_ms,
                         const struct rstore_charge *charges, size_t n,
                         char *errmsg);

/* The append of pending batch (@stream, @seq_first) was refused (or never
 * committed): delete it and its records, count @count refused records and
 * keep @code and @reason (cut to RSTORE_REFUSAL_MAX bytes) as the last
 * refusal. A missing batch still counts (the caller knew it).
 * Returns: 0; TDEI_NOSPACE; TDEI_IOERR; TDEI_CORRUPT. */
int rstore_batch_refused(struct rstore *s, const char *stream,
                         uint64_t seq_first, uint64_t count, uint32_t code,
                         const char *reason, char *errmsg);

/* Read the header of batch (@stream, @seq_first).
 * Returns: 0; TDEI_NOTFOUND; TDEI_CORRUPT; TDEI_IOERR. */
int rstore_batch_get(struct rstore *s, const char *stream, uint64_t seq_first,
                     struct rstore_batch *out, char *errmsg);

/* The first batch of @stream that holds a seq at or after @seq: the one
 * containing @seq, else the next one.
 * Returns: 0; TDEI_NOTFOUND (none); TDEI_CORRUPT; TDEI_IOERR. */
int rstore_batch_at(struct rstore *s, const char *stream, uint64_t seq,
                    struct rstore_batch *out, char *errmsg);

/* Copy the sealed records of batch (@stream, @seq_first) into *@blob
 * (tdei_malloc'd, free with tdei_free) and point @records (room for
 * @cap entries) into it; *@n gets their number.
 * Returns: 0; TDEI_NOTFOUND; TDEI_CORRUPT (the record list does not parse
 * or holds more than @cap); TDEI_IOERR; TDEI_NOMEM. */
int rstore_batch_records(struct rstore *s, const char *stream,
                         uint64_t seq_first, uint8_t **blob,
                         ProtobufCBinaryData *records, size_t cap, size_t *n,
                         char *errmsg);

/* Call @cb for every pending batch (of every stream), in key order;
 * a non-zero return from @cb stops the walk and is returned.
 * Returns: 0, @cb's code, TDEI_CORRUPT or TDEI_IOERR. */
int rstore_pending_each(struct rstore *s,
                        int (*cb)(void *arg, const struct rstore_batch *b),
                        void *arg, char *errmsg);

/* ---- a subscriber's expected batches and records ------------------------- */

/* Remember that @e is owed. An entry already there (the same block walked
 * twice) is replaced. Nothing is written when the records of e->seq_first
 * are already held (the batch came before its append was walked).
 * Returns: 0; TDEI_INVAL (bad stream or owner id); TDEI_NOSPACE;
 * TDEI_IOERR. */
int rstore_expect_put(struct rstore *s, const struct rstore_expect *e,
                      char *errmsg);

/* Read the expected batch (@xid, @seq_first).
 * Returns: 0; TDEI_NOTFOUND; TDEI_CORRUPT; TDEI_IOERR. */
int rstore_expect_get(struct rstore *s, const uint8_t xid[32],
                      uint64_t seq_first, struct rstore_expect *out,
                      char *errmsg);

/* The lowest batch still owed to subscription @xid.
 * Returns: 0; TDEI_NOTFOUND (none); TDEI_CORRUPT; TDEI_IOERR. */
int rstore_expect_first(struct rstore *s, const uint8_t xid[32],
                        struct rstore_expect *out, char *errmsg);

/* Call @cb for the lowest batch owed to each subscription, in xid order
 * (the node's list of what to ask for after a restart).
 * Returns: 0, @cb's code, TDEI_CORRUPT or TDEI_IOERR. */
int rstore_expect_each_first(struct rstore *s,
                             int (*cb)(void *arg,
                                       const struct rstore_expect *e),
                             void *arg, char *errmsg);

/* Store the @n records @recs (seqs e->seq_first.., n <= e->paid) of the
 * owed batch @e, received and verified, at @stored_ms; delete what was
 * owed; count them received and extend the held range.
 * Returns: 0; TDEI_INVAL (n > e->paid); TDEI_NOSPACE; TDEI_IOERR. */
int rstore_records_put(struct rstore *s, const struct rstore_expect *e,
                       const struct stream_plain *recs, size_t n,
                       uint64_t stored_ms, char *errmsg);

/* Whether record (@stream, @seq) is held: 1 yes, 0 no, or a negative
 * TDEI code on a read failure. */
int rstore_record_held(struct rstore *s, const char *stream, uint64_t seq,
                       char *errmsg);

/* The first held record of @stream at or after @seq into *@next.
 * Returns: 0; TDEI_NOTFOUND (none); TDEI_IOERR. */
int rstore_record_next(struct rstore *s, const char *stream, uint64_t seq,
                       uint64_t *next, char *errmsg);

/* The lowest owed batch of @stream (over every subscription) whose paid
 * records end after @seq, into @out: records up to it that are not held
 * are still to come. Walks every owed batch (the owed are few: a
 * subscriber's node receives them as they commit).
 * Returns: 0; TDEI_NOTFOUND (nothing owed from @seq on); TDEI_CORRUPT;
 * TDEI_IOERR. */
int rstore_owed_from(struct rstore *s, const char *stream, uint64_t seq,
                     struct rstore_expect *out, char *errmsg);

/* Call @cb for the held records of @stream from @from_seq on, in seq
 * order, stopping at the first gap, after @limit records, or when @cb
 * returns non-zero (1: stop, fine; another value is returned).
 * Returns: 0, @cb's code, TDEI_CORRUPT or TDEI_IOERR. */
int rstore_records_each(struct rstore *s, const char *stream, uint64_t from_seq,
                        uint64_t limit,
                        int (*cb)(void *arg, const struct rstore_record *rec),
                        void *arg, char *errmsg);

/* Count one batch of @stream that failed its checks.
 * Returns: 0; TDEI_NOSPACE; TDEI_IOERR; TDEI_CORRUPT. */
int rstore_bad_batch(struct rstore *s, const char *stream, char *errmsg);

/* ---- counters -------------------------------------------------------------
 */

/* Read the counters of @stream (all zero when it has none yet).
 * Returns: 0; TDEI_CORRUPT; TDEI_IOERR. */
int rstore_stats_get(struct rstore *s, const char *stream,
                     struct rstore_stats *out, char *errmsg);

#endif
