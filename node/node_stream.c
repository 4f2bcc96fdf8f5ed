/* The stream side of the data plane (node_plane.h, DESIGN.md section 9):
 *
 * The owner's node takes records from collectors (IngestRecords), keeps
 * them in DATA/streams before it answers (so that a crash loses no record
 * it accepted; a restart queues them again), queues them per stream, cuts
 * batches by count and by time, seals each batch under a fresh key
 * (stream/records.h), stores it in DATA/streams (stream/rstore.h), in the
 * same write as it drops its records from the stored queue, and appends
 * it on the ledger (StreamAppend, an own tx).
 * One append per stream is in flight: the next one's seq_first is the
 * committed next_seq, which only the outcome of the last one fixes. An
 * applied append pushes the sealed batch to the node of every exchange it
 * charged, with the batch key wrapped under that subscription's key; a
 * refused one counts its records refused, keeps the contract's reason and
 * is deleted (its seqs are used again). Subscribers' nodes ask again for
 * what they missed (BatchRequest), and are answered from the store with
 * the batches their exchange paid for.
 *
 * A subscriber's node learns from each committed block which batches its
 * exchanges paid for (the append's "stream.charged" events) and remembers
 * them durably; each pushed batch is checked against its committed append
 * (count, root, key, timestamps) before its paid records are stored in
 * seq order. A batch owed for 5 s is asked for, as after a restart and
 * when the owner's node comes back.
 *
 * Threads: everything here runs on the loop thread, except the jobs: every
 * write to the stream store (and the sealing and checking of batches, the
 * CPU-heavy part) runs on a worker, one job at a time in FIFO order, so
 * the loop thread never syncs to disk and the store sees one writer.
 * Reads of the store run on the loop thread (rstore.h allows it). */
#include "api/api.h"
#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/log.h"
#include "node_plane.h"
#include "stream/records.h"
#include "stream/rstore.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_STREAMS_MAX 256u  /* owner streams with a queue, at most */
#define NS_SUBS_MAX 1024u    /* subscriptions followed, at most */
#define NS_WAITERS_MAX 1024u /* ReadStream calls held, at most */
#define NS_HELD_MAX 64u      /* pushed batches held for their block */
#define NS_HELD_BYTES (64u * 1024u * 1024u)
/* Record bytes queued over all streams at most, besides the count limit
 * of stream.queue_records: the count alone would allow 200,000 records of
 * 1 MiB. 64 MiB holds the default queue of 200,000 records at 335 bytes
 * each; a collector sending more waits for the batches (TDEI_BUSY). */
#define NS_QUEUE_BYTES_MAX (64ull * 1024u * 1024u)
#define NS_INGEST_MAX 10000u               /* records of one IngestRecords */
#define NS_READ_MAX 10000u                 /* records of one ReadStream */
#define NS_READ_BYTES (4u * 1024u * 1024u) /* data of one answer, about */
#define NS_WAIT_MS_MAX 60000u              /* ReadStream.wait_ms at most */
#define NS_GAP_MS 5000u       /* an owed batch is asked for after */
#define NS_ASK_MS 5000u       /* and again after */
#define NS_REASK_MS 1000u     /* a bad batch is asked again after */
#define NS_ANSWER_BATCHES 16u /* StreamBatches of one answer */
#define NS_ANSWER_BYTES (8u * 1024u * 1024u) /* their sealed bytes, about */
#define NS_SCAN_BLOCKS_MAX 10000u  /* blocks searched for a lost append */
#define NS_CHECK_MS 200u           /* the gap check runs this often */
#define NS_LEARNED 64u             /* owed batches timed per subscription */
#define NS_RETRY_MS 2000u          /* an append not committed is sent again */
#define NS_SCAN_BATCHES_MAX 65536u /* stored batches one request looks at */

/* ---- state --------------------------------------------------------------- */

/* A record taken by IngestRecords, waiting for its batch. */
struct ns_rec
{
    uint64_t qseq;      /* its key in the stream store's queue */
    uint64_t ts_ms;     /* source timestamp */
    uint64_t queued_ms; /* uv_now when taken */
    size_t len;         /* data bytes */
    uint8_t data[];
};

struct ns_stream;

enum ns_batch_stage {
    NS_SEALING = 1, /* on the worker: sealed and stored */
    NS_SUBMIT,      /* stored; its append waits to be queued (busy) */
    NS_APPENDING,   /* its append is an own tx */
};

/* The batch of a stream in flight: cut, sealed, stored, appended. */
struct ns_batch
{
    struct ns_stream *st;
    enum ns_batch_stage stage;
    struct rstore_batch hdr; /* stream, seqs, times, root, key */
    struct ns_rec **recs;    /* hdr.count records (owned); NULL
                                after a restart (sealed only) */
    uint64_t q_first;        /* the qseqs of @recs in the stored queue: */
    uint64_t q_count;        /* deleted when the batch is stored (0 after a
                                restart: deleted then already) */
    uint8_t *sealed;         /* the sealed records, back to back */
    ProtobufCBinaryData *sealed_recs; /* hdr.count entries into @sealed */
    uint64_t retry_ms;                /* NS_SUBMIT: uv_now to submit at */
};

/* An owner's stream: its queue and its batch in flight. */
struct ns_stream
{
    char id[STREAM_ID_MAX + 1];
    struct ns_rec **q;         /* ring of queued records */
    size_t q_cap;              /* slots of @q */
    size_t q_head;             /* the oldest */
    size_t q_count;            /* records queued */
    uint64_t q_bytes;          /* their data bytes */
    uint64_t last_ts;          /* ts of the last record taken */
    uint64_t qseq_next;        /* the queue key of the next record taken */
    size_t pending;            /* records taken, being written (NJ_QUEUE) */
    struct ns_batch *inflight; /* NULL: none */
};

/* A subscription this node follows as consumer. */
struct ns_sub
{
    uint8_t xid[CODEC_HASH_SIZE];
    char stream[STREAM_ID_MAX + 1];
    char owner[TDEI_MEMBER_ID_MAX + 1]; /* whose node sends its batches */
    int owed;                           /* a batch is owed */
    uint64_t owed_seq;                  /* the lowest owed batch's seq_first */
    uint64_t owed_ms;   /* uv_now when that batch was learned of; 0
                           unknown (owed from before a restart) */
    uint64_t asked_ms;  /* uv_now of the last BatchRequest; 0 none */
    uint64_t asked_seq; /* its from_seq */
    int refused;        /* the owner's node refuses for good (no
                           grant, not the consumer): not asked again
                           until a restart */
    /* When the last owed batches were learned of (the block walk), so
     * that the next lowest owed one is timed from its own commit. */
    struct
    {
        uint64_t seq;
        uint64_t ms;
    } learned[NS_LEARNED];
    size_t learned_next; /* the slot written next */
};

/* A ReadStream call held until a record comes or its wait ends. */
struct ns_waiter
{
    struct api_call *call;
    char stream[STREAM_ID_MAX + 1];
    uint64_t from_seq;
    uint32_t limit;
    uint64_t deadline_ms; /* uv_now */
};

/* A pushed batch whose append this node has not committed yet. */
struct ns_held
{
    uint64_t peer;
    uint64_t height;
    size_t bytes;
    Tdei__P2p__StreamBatch *msg; /* a deep copy (codec_message_free) */
};

enum ns_job_kind {
    NJ_SEAL = 1, /* seal a cut batch and store it */
    NJ_APPLIED,  /* mark a batch applied */
    NJ_REFUSED,  /* delete a refused batch, count it */
    NJ_EXPECT,   /* remember an owed batch */
    NJ_RECEIVE,  /* check a received batch and store its records */
    NJ_QUEUE,    /* keep records taken by IngestRecords, then answer */
    NJ_UNQUEUE,  /* forget queued records refused without a batch */
};

/* One unit of work for the worker; everything it needs is its own. */
struct ns_job
{
    uv_work_t work;
    struct node *node;
    struct ns_job *next;
    enum ns_job_kind kind;
    int rc;
    char errmsg[TDEI_ERRMSG_SIZE];
    /* NJ_SEAL */
    struct ns_batch *batch;
    /* NJ_APPLIED, NJ_REFUSED */
    char stream[STREAM_ID_MAX + 1];
    uint64_t seq_first;
    uint64_t count;
    uint64_t height;
    uint64_t now_ms;
    struct rstore_charge *charges;
    size_t n_charges;
    uint32_t code;
    char reason[RSTORE_REFUSAL_MAX + 1];
    /* NJ_EXPECT */
    struct rstore_expect expect;
    /* NJ_RECEIVE */
    uint8_t xid[CODEC_HASH_SIZE];
    uint8_t sub_key[STREAM_KEY_SIZE];
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];
    size_t wrapped_len;
    uint8_t *blob;                /* the sealed records */
    ProtobufCBinaryData *records; /* @count entries into @blob */
    size_t n_records;
    uint8_t proof[MERKLE_CONSISTENCY_MAX][MERKLE_HASH_SIZE]; /* prefix_proof */
    size_t proof_n;
    int outcome;                    /* enum ns_receive */
    uint64_t stored;                /* records stored */
    int owed_left;                  /* a batch is still owed after it */
    struct rstore_expect next_owed; /* ... this one */
    /* NJ_QUEUE (stream, seq_first = the first qseq, count) */
    struct api_call *call; /* answered when the records are kept */
    struct ns_stream *st;  /* their stream */
    struct ns_rec **recs;  /* @count records (owned until queued) */
    uint64_t bytes;        /* their data bytes */
    uint64_t prev_last_ts; /* st->last_ts before they were taken */
    /* NJ_UNQUEUE: stream, seq_first = the first qseq, count */
};

enum ns_receive {
    NR_STORED = 1, /* checked and stored */
    NR_BAD,        /* failed a check: not stored */
    NR_DUPLICATE,  /* already held */
    NR_NOT_OWED,   /* no owed batch matches it */
};

struct node_streams
{
    struct rstore *rs; /* DATA/streams */
    struct ns_stream *streams[NS_STREAMS_MAX];
    size_t stream_count;
    uint64_t queued;       /* records queued over all streams */
    uint64_t queued_bytes; /* their data bytes */
    struct ns_sub *subs[NS_SUBS_MAX];
    size_t sub_count;
    struct ns_waiter *waiters[NS_WAITERS_MAX];
    size_t waiter_count;
    struct ns_held held[NS_HELD_MAX];
    size_t held_count;
    size_t held_bytes;
    struct ns_job *jobs; /* FIFO; the head runs when running */
    struct ns_job **jobs_tail;
    int running;         /* a job is on the worker */
    uint64_t checked_ms; /* uv_now of the last gap check */
};

static void ns_jobs_next(struct node *node);
static void ns_cut_maybe(struct node *node, struct ns_stream *st, uint64_t now);
static void ns_waiters_wake(struct node *node, const char *stream);
static void ns_batch_free(struct ns_batch *b);

/* ---- small helpers ------------------------------------------------------- */

static uint64_t ns_now(struct node *node) { return uv_now(&node->loop); }

static const char *ns_xid_hex(char out[TDEI_HEX_SIZE(8)], const uint8_t *xid)
{
    return tdei_hex_encode(out, TDEI_HEX_SIZE(8), xid, 8);
}

/* Read state record @key into a decoded message with @decode. */
static int ns_state_get(struct store_read *r, const uint8_t *key, size_t klen,
                        const char *what, const uint8_t **val, size_t *vlen,
                        char *errmsg)
{
    int rc = store_get(r, STORE_DB_STATE, key, klen, val, vlen);

    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "%s is not on the ledger", what);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc, "read %s: %s", what,
                           store_read_errmsg(r));
    }
    return 0;
}

/* The committed catalog entry @id. */
static int ns_dataset_get(struct store_read *r, const char *id,
                          Tdei__Dataset **out, char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char what[96];
    const uint8_t *val;
    size_t vlen;
    int rc;

    *out = NULL;
    (void)snprintf(what, sizeof(what), "entry %s", id);
    rc = ns_state_get(r, key, contract_key_dataset(key, id), what, &val, &vlen,
                      errmsg);
    return rc == 0 ? codec_dataset_decode(out, val, vlen, errmsg) : rc;
}

/* The committed Stream record @id. */
static int ns_stream_get(struct store_read *r, const char *id,
                         Tdei__Stream **out, char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char what[96];
    const uint8_t *val;
    size_t vlen;
    int rc;

    *out = NULL;
    (void)snprintf(what, sizeof(what), "stream %s (never opened)", id);
    rc = ns_state_get(r, key, contract_key_stream(key, id), what, &val, &vlen,
                      errmsg);
    return rc == 0 ? codec_stream_decode(out, val, vlen, errmsg) : rc;
}

static int ns_read_begin(struct node *node, struct store_read **r, char *errmsg)
{
    return store_read_begin(node->store, r, errmsg);
}

/* Parse a "charge" value "<exchange hex> <records> <amount>" (the stream
 * contract's format). Returns 0, or TDEI_MALFORMED. */
static int ns_charge_parse(const char *value, uint8_t xid[CODEC_HASH_SIZE],
                           uint64_t *records)
{
    char hex[2 * CODEC_HASH_SIZE + 1];
    const char *p = value;
    char *end;
    unsigned long long n;

    if (strlen(value) < 2 * CODEC_HASH_SIZE + 2 ||
        value[2 * CODEC_HASH_SIZE] != ' ') {
        return TDEI_MALFORMED;
    }
    memcpy(hex, value, 2 * CODEC_HASH_SIZE);
    hex[2 * CODEC_HASH_SIZE] = '\0';
    if (tdei_hex_decode(xid, CODEC_HASH_SIZE, hex) != 0) {
        return TDEI_MALFORMED;
    }
    p += 2 * CODEC_HASH_SIZE + 1;
    if (*p < '0' || *p > '9') {
        return TDEI_MALFORMED;
    }
    n = strtoull(p, &end, 10);
    if (*end != ' ') {
        return TDEI_MALFORMED;
    }
    *records = (uint64_t)n;
    return 0;
}

/* ---- the owner's streams ------------------------------------------------- */

static struct ns_stream *ns_stream_find(struct node_streams *ns, const char *id)
{
    for (size_t i = 0; i < ns->stream_count; i++) {
        if (strcmp(ns->streams[i]->id, id) == 0) {
            return ns->streams[i];
        }
    }
    return NULL;
}

/* The owner state of stream @id in *@out, made when missing (its last
 * taken time from the store).
 * Returns: 0; TDEI_BUSY (the table is full); TDEI_NOMEM; a store read
 * failure. */
static int ns_stream_open(struct node *node, const char *id,
                          struct ns_stream **out, char *errmsg)
{
    struct node_streams *ns = node->streams;
    struct ns_stream *st = ns_stream_find(ns, id);
    struct rstore_stats stats;
    int rc;

    *out = st;
    if (st != NULL) {
        return 0;
    }
    if (ns->stream_count == NS_STREAMS_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                           "this node feeds %u streams, the most; ingest "
                           "into one of them",
                           NS_STREAMS_MAX);
    }
    rc = rstore_stats_get(ns->rs, id, &stats, errmsg);
    if (rc != 0) {
        return rc;
    }
    st = tdei_calloc(1, sizeof(*st));
    if (st == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for stream %s", id);
    }
    (void)snprintf(st->id, sizeof(st->id), "%s", id);
    st->last_ts = stats.last_ts;
    ns->streams[ns->stream_count++] = st;
    *out = st;
    return 0;
}

/* Make room in @st's ring for @n more records. */
static int ns_queue_reserve(struct ns_stream *st, size_t n)
{
    size_t cap = st->q_cap == 0 ? 1024 : st->q_cap;
    struct ns_rec **q;

    if (st->q_count + n <= st->q_cap) {
        return 0;
    }
    while (cap < st->q_count + n) {
        cap *= 2;
    }
    q = tdei_calloc(cap, sizeof(*q));
    if (q == NULL) {
        return TDEI_NOMEM;
    }
    for (size_t i = 0; i < st->q_count; i++) {
        q[i] = st->q[(st->q_head + i) % st->q_cap];
    }
    tdei_free(st->q);
    st->q = q;
    st->q_cap = cap;
    st->q_head = 0;
    return 0;
}

static struct ns_rec *ns_queue_at(const struct ns_stream *st, size_t i)
{
    TDEI_ASSERT(i < st->q_count);
    return st->q[(st->q_head + i) % st->q_cap];
}

/* Take the @n oldest records of @st's queue. */
static void ns_queue_take(struct node_streams *ns, struct ns_stream *st,
                          struct ns_rec **out, size_t n)
{
    TDEI_ASSERT(n <= st->q_count);
    for (size_t i = 0; i < n; i++) {
        struct ns_rec *rec = st->q[st->q_head];

        out[i] = rec;
        st->q[st->q_head] = NULL;
        st->q_head = (st->q_head + 1) % st->q_cap;
        st->q_count--;
        st->q_bytes -= rec->len;
        ns->queued--;
        ns->queued_bytes -= rec->len;
    }
}

/* Records @n of @b are refused without an append (the stream can no
 * longer take them): count, log and remember the reason. */
static void ns_refuse_records(struct node *node, const char *stream,
                              uint64_t seq_first, uint64_t count, int code,
                              const char *reason);

/* ---- jobs on the worker -------------------------------------------------- */

static void ns_job_free(struct ns_job *job)
{
    if (job->recs != NULL) {
        for (uint64_t i = 0; i < job->count; i++) {
            tdei_free(job->recs[i]);
        }
        tdei_free(job->recs);
    }
    tdei_free(job->charges);
    tdei_free(job->blob);
    tdei_free(job->records);
    sodium_memzero(job->sub_key, sizeof(job->sub_key));
    tdei_free(job);
}

static struct ns_job *ns_job_new(struct node *node, enum ns_job_kind kind)
{
    struct ns_job *job = tdei_calloc(1, sizeof(*job));

    if (job != NULL) {
        job->node = node;
        job->kind = kind;
        job->work.data = job;
    }
    return job;
}

static void ns_job_queue(struct node *node, struct ns_job *job)
{
    struct node_streams *ns = node->streams;

    *ns->jobs_tail = job;
    ns->jobs_tail = &job->next;
    ns_jobs_next(node);
}

/* Seal the batch's records under its key, find its root, store it. */
static void ns_work_seal(struct ns_job *job, struct rstore *rs)
{
    struct ns_batch *b = job->batch;
    struct stream_root root;
    size_t total = 0;
    size_t off = 0;

    for (uint64_t i = 0; i < b->hdr.count; i++) {
        total += b->recs[i]->len + STREAM_RECORD_OVERHEAD;
    }
    b->sealed = tdei_malloc(total);
    b->sealed_recs = tdei_calloc((size_t)b->hdr.count, sizeof(*b->sealed_recs));
    if (b->sealed == NULL || b->sealed_recs == NULL) {
        job->rc = tdei_errorf(
            job->errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
            "no memory to seal a batch of %" PRIu64 " records", b->hdr.count);
        return;
    }
    stream_root_init(&root);
    for (uint64_t i = 0; i < b->hdr.count; i++) {
        const struct ns_rec *rec = b->recs[i];
        size_t len = rec->len + STREAM_RECORD_OVERHEAD;

        job->rc = stream_record_seal(
            b->sealed + off, b->hdr.stream, b->hdr.seq_first + i, rec->ts_ms,
            rec->data, rec->len, b->hdr.key, job->errmsg);
        if (job->rc != 0) {
            return;
        }
        b->sealed_recs[i].data = b->sealed + off;
        b->sealed_recs[i].len = len;
        stream_root_add(&root, b->sealed + off, len);
        off += len;
    }
    stream_root_final(&root, b->hdr.root);
    job->rc = rstore_batch_put_queued(rs, &b->hdr, b->sealed_recs,
                                      (size_t)b->hdr.count, b->q_first,
                                      b->q_count, job->errmsg);
}

/* Keep the records an IngestRecords took, before it is answered. */
static void ns_work_queue(struct ns_job *job, struct rstore *rs)
{
    struct rstore_queued *q = tdei_calloc((size_t)job->count, sizeof(*q));

    if (q == NULL) {
        job->rc =
            tdei_errorf(job->errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                        "no memory to keep %" PRIu64 " records", job->count);
        return;
    }
    for (uint64_t i = 0; i < job->count; i++) {
        q[i].qseq = job->recs[i]->qseq;
        q[i].ts_ms = job->recs[i]->ts_ms;
        q[i].data = job->recs[i]->data;
        q[i].len = job->recs[i]->len;
    }
    job->rc =
        rstore_queue_put(rs, job->stream, q, (size_t)job->count, job->errmsg);
    tdei_free(q);
}

/* Check a received batch against what is owed and store its records. */
static void ns_work_receive(struct ns_job *job, struct rstore *rs)
{
    struct rstore_expect e;
    struct stream_plain *plain = NULL;
    uint8_t *buf = NULL;
    size_t buf_size = 0;
    struct stream_batch_expect be;
    int rc = rstore_expect_get(rs, job->xid, job->seq_first, &e, job->errmsg);

    if (rc == TDEI_NOTFOUND) {
        rc = rstore_record_held(rs, job->stream, job->seq_first, job->errmsg);
        job->outcome = rc == 1 ? NR_DUPLICATE : NR_NOT_OWED;
        job->rc = rc < 0 ? -rc : 0;
        return;
    }
    if (rc != 0) {
        job->rc = rc;
        return;
    }
    if (strcmp(e.stream, job->stream) != 0 || e.height != job->height) {
        job->outcome = NR_BAD;
        (void)tdei_errorf(job->errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                          "the batch names stream %s at height %" PRIu64
                          "; the ledger's append is of %s at %" PRIu64,
                          job->stream, job->height, e.stream, e.height);
    } else {
        for (size_t i = 0; i < job->n_records; i++) {
            buf_size += job->records[i].len;
        }
        buf = tdei_malloc(buf_size == 0 ? 1 : buf_size);
        plain = tdei_calloc(e.paid == 0 ? 1 : (size_t)e.paid, sizeof(*plain));
        if (buf == NULL || plain == NULL) {
            job->rc = tdei_errorf(job->errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                                  "no memory to check a batch");
            goto out;
        }
        be = (struct stream_batch_expect){.stream = e.stream,
                                          .seq_first = e.seq_first,
                                          .count = e.count,
                                          .paid = e.paid,
                                          .first_ts = e.first_ts,
                                          .last_ts = e.last_ts};
        memcpy(be.root, e.root, sizeof(be.root));
        rc = stream_batch_open(&be, job->xid, job->records, job->n_records,
                               (const uint8_t(*)[MERKLE_HASH_SIZE])job->proof,
                               job->proof_n, job->wrapped, job->wrapped_len,
                               job->sub_key, plain, buf, buf_size, job->errmsg);
        job->outcome = rc == 0 ? NR_STORED : NR_BAD;
    }
    if (job->outcome == NR_BAD) {
        char msg[TDEI_ERRMSG_SIZE];
        job->code = (uint32_t)(rc != 0 ? rc : TDEI_MALFORMED);
        job->rc = rstore_bad_batch(rs, job->stream, msg);
        if (job->rc != 0) {
            memcpy(job->errmsg, msg, sizeof(msg));
        }
        goto out;
    }
    job->rc = rstore_records_put(rs, &e, plain, (size_t)e.paid, job->now_ms,
                                 job->errmsg);
    if (job->rc == 0) {
        job->stored = e.paid;
        rc = rstore_expect_first(rs, job->xid, &job->next_owed, job->errmsg);
        job->owed_left = rc == 0;
        job->rc = rc == TDEI_NOTFOUND ? 0 : rc;
    }
out:
    if (buf != NULL) {
        sodium_memzero(buf, buf_size);
    }
    tdei_free(buf);
    tdei_free(plain);
}

static void ns_work(uv_work_t *work)
{
    struct ns_job *job = work->data;
    struct rstore *rs = job->node->streams->rs;

    switch (job->kind) {
    case NJ_SEAL:
        ns_work_seal(job, rs);
        break;
    case NJ_APPLIED:
        job->rc = rstore_batch_applied(rs, job->stream, job->seq_first,
                                       job->height, job->now_ms, job->charges,
                                       job->n_charges, job->errmsg);
        break;
    case NJ_REFUSED:
        job->rc =
            rstore_batch_refused(rs, job->stream, job->seq_first, job->count,
                                 job->code, job->reason, job->errmsg);
        break;
    case NJ_EXPECT:
        job->rc = rstore_expect_put(rs, &job->expect, job->errmsg);
        break;
    case NJ_RECEIVE:
        ns_work_receive(job, rs);
        break;
    case NJ_QUEUE:
        ns_work_queue(job, rs);
        break;
    case NJ_UNQUEUE:
        job->rc = rstore_queue_delete(rs, job->stream, job->seq_first,
                                      job->count, job->errmsg);
        break;
    }
}

static void ns_seal_done(struct node *node, struct ns_job *job);
static void ns_receive_done(struct node *node, struct ns_job *job);
static void ns_queue_done(struct node *node, struct ns_job *job);

static void ns_work_done(uv_work_t *work, int status)
{
    struct ns_job *job = work->data;
    struct node *node = job->node;
    struct node_streams *ns = node->streams;

    TDEI_ASSERT(ns->jobs == job);
    ns->jobs = job->next;
    if (ns->jobs == NULL) {
        ns->jobs_tail = &ns->jobs;
    }
    ns->running = 0;
    if (status != 0 && job->rc == 0) {
        job->rc = tdei_errorf(job->errmsg, TDEI_ERRMSG_SIZE, TDEI_CANCELED,
                              "the job was canceled");
    }
    switch (job->kind) {
    case NJ_SEAL:
        ns_seal_done(node, job);
        break;
    case NJ_APPLIED:
        if (job->rc != 0) {
            TDEI_LOG(TDEI_LOG_WARNING, "stream", "cannot mark a batch applied",
                     "stream=%s seq_first=%" PRIu64 " error=\"%s\"",
                     job->stream, job->seq_first, job->errmsg);
        }
        ns_waiters_wake(node, job->stream);
        break;
    case NJ_REFUSED:
    case NJ_EXPECT:
    case NJ_UNQUEUE:
        if (job->rc != 0) {
            TDEI_LOG(TDEI_LOG_WARNING, "stream",
                     "cannot write the stream "
                     "store",
                     "stream=%s seq_first=%" PRIu64 " error=\"%s\"",
                     job->kind == NJ_EXPECT ? job->expect.stream : job->stream,
                     job->kind == NJ_EXPECT ? job->expect.seq_first
                                            : job->seq_first,
                     job->errmsg);
        }
        break;
    case NJ_RECEIVE:
        ns_receive_done(node, job);
        break;
    case NJ_QUEUE:
        ns_queue_done(node, job);
        break;
    }
    ns_job_free(job);
    ns_jobs_next(node);
}

static void ns_jobs_next(struct node *node)
{
    struct node_streams *ns = node->streams;
    int rc;

    if (ns->running || ns->jobs == NULL) {
        return;
    }
    ns->running = 1;
    rc = uv_queue_work(&node->loop, &ns->jobs->work, ns_work, ns_work_done);
    if (rc != 0) {
        /* Cannot happen with a valid loop and callbacks; run it here
         * rather than lose a write. */
        ns_work(&ns->jobs->work);
        ns_work_done(&ns->jobs->work, 0);
    }
}

/* ---- cutting and appending batches --------------------------------------- */

static void ns_batch_free(struct ns_batch *b)
{
    if (b == NULL) {
        return;
    }
    if (b->recs != NULL) {
        for (uint64_t i = 0; i < b->hdr.count; i++) {
            tdei_free(b->recs[i]);
        }
    }
    tdei_free(b->recs);
    tdei_free(b->sealed);
    tdei_free(b->sealed_recs);
    sodium_memzero(b->hdr.key, sizeof(b->hdr.key));
    tdei_free(b);
}

static void ns_refuse_records(struct node *node, const char *stream,
                              uint64_t seq_first, uint64_t count, int code,
                              const char *reason)
{
    struct ns_job *job = ns_job_new(node, NJ_REFUSED);

    node->dp.records_refused += count;
    node->dp.batches_refused++;
    TDEI_LOG(TDEI_LOG_WARNING, "stream",
             "batch refused; its records are "
             "not on the ledger",
             "stream=%s seq_first=%" PRIu64 " seq_last=%" PRIu64
             " records=%" PRIu64 " code=%s reason=\"%s\"",
             stream, seq_first, seq_first + count - 1, count,
             tdei_errname(code), reason);
    if (job == NULL) {
        return; /* the log line above stays the record of it */
    }
    (void)snprintf(job->stream, sizeof(job->stream), "%s", stream);
    job->seq_first = seq_first;
    job->count = count;
    job->code = (uint32_t)code;
    (void)snprintf(job->reason, sizeof(job->reason), "%s", reason);
    ns_job_queue(node, job);
}

/* Forget the @count queued records of @stream from qseq @first on: they
 * were refused without a batch that would have taken them out. */
static void ns_unqueue(struct node *node, const char *stream, uint64_t first,
                       uint64_t count)
{
    struct ns_job *job = ns_job_new(node, NJ_UNQUEUE);

    if (job == NULL) {
        TDEI_LOG(TDEI_LOG_WARNING, "stream",
                 "no memory to forget refused records; they are batched "
                 "again after a restart",
                 "stream=%s records=%" PRIu64, stream, count);
        return;
    }
    (void)snprintf(job->stream, sizeof(job->stream), "%s", stream);
    job->seq_first = first;
    job->count = count;
    ns_job_queue(node, job);
}

static void ns_append_done(struct node *node, void *arg, int code,
                           const uint8_t *tx_id, uint64_t height,
                           const Tdei__TxResult *result, const char *errmsg);

/* Queue @b's StreamAppend as an own tx. */
static void ns_submit(struct node *node, struct ns_batch *b)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__StreamAppend op = TDEI__STREAM_APPEND__INIT;
    int rc;

    op.id = b->hdr.stream;
    op.seq_first = b->hdr.seq_first;
    op.count = b->hdr.count;
    op.first_ts = b->hdr.first_ts;
    op.last_ts = b->hdr.last_ts;
    op.batch_root.data = b->hdr.root;
    op.batch_root.len = sizeof(b->hdr.root);
    body.op_case = TDEI__TX_BODY__OP_STREAM_APPEND;
    body.stream_append = &op;
    rc = node__own_submit(node, &body, ns_append_done, b);
    if (rc == 0) {
        b->stage = NS_APPENDING;
    } else if (rc == TDEI_BUSY) {
        b->stage = NS_SUBMIT; /* the tick tries again */
        b->retry_ms = ns_now(node) + 100;
    } else if (rc == TDEI_CANCELED) {
        /* Stopping: the batch stays pending in the store and is appended
         * after the restart. */
        b->stage = NS_SUBMIT;
    } else {
        struct ns_stream *st = b->st;
        char reason[TDEI_ERRMSG_SIZE];

        (void)snprintf(reason, sizeof(reason),
                       "the append tx could not be made: %s",
                       tdei_strerror(rc));
        ns_refuse_records(node, b->hdr.stream, b->hdr.seq_first, b->hdr.count,
                          rc, reason);
        st->inflight = NULL;
        ns_batch_free(b);
    }
}

static void ns_seal_done(struct node *node, struct ns_job *job)
{
    struct ns_batch *b = job->batch;
    struct ns_stream *st = b->st;

    if (job->rc != 0) {
        char reason[TDEI_ERRMSG_SIZE + 32];

        (void)snprintf(reason, sizeof(reason), "cannot store the batch: %s",
                       job->errmsg);
        ns_refuse_records(node, b->hdr.stream, b->hdr.seq_first, b->hdr.count,
                          job->rc, reason);
        ns_unqueue(node, b->hdr.stream, b->q_first, b->q_count);
        st->inflight = NULL;
        ns_batch_free(b);
        return;
    }
    if (node->stopping) {
        b->stage = NS_SUBMIT; /* appended after the restart */
        return;
    }
    ns_submit(node, b);
}

/* Cut a batch of @st when it is due: enough records, or the oldest has
 * waited stream.batch_ms. */
static void ns_cut_maybe(struct node *node, struct ns_stream *st, uint64_t now)
{
    struct node_streams *ns = node->streams;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct store_read *r = NULL;
    Tdei__Params *params = NULL;
    Tdei__Stream *s = NULL;
    Tdei__Dataset *ds = NULL;
    struct ns_batch *b = NULL;
    struct ns_job *job = NULL;
    uint64_t want = node->cfg.stream_batch_records;
    size_t n = 0;
    size_t bytes = 0;
    int rc;

    if (st->inflight != NULL || st->q_count == 0 || node->stopping) {
        return;
    }
    if (st->q_count < want &&
        now - ns_queue_at(st, 0)->queued_ms < node->cfg.stream_batch_ms) {
        return;
    }
    rc = ns_read_begin(node, &r, errmsg);
    if (rc == 0) {
        rc = exec_query_params(r, &params, errmsg);
    }
    if (rc == 0) {
        rc = ns_dataset_get(r, st->id, &ds, errmsg);
    }
    if (rc == 0) {
        rc = ns_stream_get(r, st->id, &s, errmsg);
    }
    if (r != NULL) {
        store_read_end(r);
    }
    if (rc == 0 && strcmp(ds->owner, node->identity.member) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_OWNER,
                         "stream %s is owned by %s now, not by %s", st->id,
                         ds->owner, node->identity.member);
    } else if (rc == 0 && s->status != CODEC_STREAM_OPEN) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_STREAM_STATE,
                         "stream %s is closed and takes no more appends",
                         st->id);
    }
    if (rc == TDEI_NOT_OWNER || rc == TDEI_STREAM_STATE ||
        rc == TDEI_NOTFOUND) {
        /* The queue can never be appended: refuse all of it. */
        uint64_t count = st->q_count;
        struct ns_rec **all = tdei_calloc(st->q_count, sizeof(*all));

        if (all != NULL) {
            uint64_t q_first;
            uint64_t q_count;

            ns_queue_take(ns, st, all, st->q_count);
            q_first = all[0]->qseq;
            q_count = all[count - 1]->qseq - q_first + 1;
            for (uint64_t i = 0; i < count; i++) {
                tdei_free(all[i]);
            }
            tdei_free(all);
            ns_refuse_records(node, st->id, s != NULL ? s->next_seq : 0, count,
                              rc, errmsg);
            ns_unqueue(node, st->id, q_first, q_count);
        }
        goto out;
    }
    if (rc != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "stream",
                 "cannot cut a batch; trying "
                 "again",
                 "stream=%s error=\"%s\"", st->id, errmsg);
        goto out;
    }
    if (params->stream_batch_max < want) {
        want = params->stream_batch_max;
    }
    if (want > STREAM_BATCH_RECORDS_MAX) {
        want = STREAM_BATCH_RECORDS_MAX;
    }
    /* Up to @want records whose sealed size stays below the limit; the
     * first always fits (a record is at most 1 MiB). */
    while (n < st->q_count && n < want) {
        size_t len = ns_queue_at(st, n)->len + STREAM_RECORD_OVERHEAD;
        if (n > 0 && bytes + len >= STREAM_BATCH_SEALED_MAX) {
            break;
        }
        bytes += len;
        n++;
    }
    if (s->next_seq > UINT64_MAX - n) {
        goto out; /* the stream's seqs are used up */
    }
    b = tdei_calloc(1, sizeof(*b));
    if (b != NULL) {
        b->recs = tdei_calloc(n, sizeof(*b->recs));
    }
    job = ns_job_new(node, NJ_SEAL);
    if (b == NULL || b->recs == NULL || job == NULL) {
        if (b != NULL) {
            tdei_free(b->recs);
        }
        tdei_free(b);
        tdei_free(job);
        goto out; /* no memory now: the next tick tries again */
    }
    b->st = st;
    b->stage = NS_SEALING;
    (void)snprintf(b->hdr.stream, sizeof(b->hdr.stream), "%s", st->id);
    b->hdr.seq_first = s->next_seq;
    b->hdr.count = n;
    b->hdr.created_height = node->height;
    b->hdr.state = RSTORE_PENDING;
    randombytes_buf(b->hdr.key, sizeof(b->hdr.key));
    ns_queue_take(ns, st, b->recs, n);
    /* The ring holds the kept records in qseq order (with gaps where a
     * write failed): the batch takes the range from its first to its
     * last out of the store's queue. */
    b->q_first = b->recs[0]->qseq;
    b->q_count = b->recs[n - 1]->qseq - b->q_first + 1;
    b->hdr.first_ts = b->recs[0]->ts_ms;
    b->hdr.last_ts = b->recs[n - 1]->ts_ms;
    st->inflight = b;
    job->batch = b;
    ns_job_queue(node, job);
out:
    codec_params_free(params);
    codec_stream_free(s);
    codec_dataset_free(ds);
}

/* ---- the append's outcome ------------------------------------------------ */

/* Send batch @hdr (applied at @height; its @count sealed records @recs)
 * to peer @peer for subscription @xid, which paid for @paid of them: the
 * batch key wrapped under the subscription key, and all the records, or
 * only the first @paid with the consistency proof from their tree to the
 * batch root, so that the records it did not pay for stay on this node.
 * *@bytes gets the sealed bytes sent.
 * Returns: 0 or a TDEI code. */
static int ns_batch_send(struct node *node, uint64_t peer,
                         const struct rstore_batch *hdr, uint64_t height,
                         const uint8_t *xid, uint64_t paid,
                         ProtobufCBinaryData *recs, size_t count, size_t *bytes)
{
    Tdei__P2p__DataMessage msg = TDEI__P2P__DATA_MESSAGE__INIT;
    Tdei__P2p__StreamBatch sb = TDEI__P2P__STREAM_BATCH__INIT;
    struct merkle_consistency proof;
    ProtobufCBinaryData items[MERKLE_CONSISTENCY_MAX];
    uint8_t sub_key[STREAM_KEY_SIZE];
    uint8_t wrapped[STREAM_WRAPPED_KEY_SIZE];
    int rc;

    *bytes = 0;
    sb.records = recs;
    sb.n_records = count;
    if (paid > 0 && paid < count) {
        rc = stream_prefix_prove(&proof, recs, count, paid);
        if (rc != 0) {
            return rc;
        }
        for (size_t i = 0; i < proof.count; i++) {
            items[i].data = proof.path[i];
            items[i].len = MERKLE_HASH_SIZE;
        }
        sb.n_records = (size_t)paid;
        sb.prefix_proof = items;
        sb.n_prefix_proof = proof.count;
    }
    for (size_t i = 0; i < sb.n_records; i++) {
        *bytes += recs[i].len;
    }
    node__plane_subkey(node, xid, sub_key);
    stream_key_wrap(wrapped, hdr->key, sub_key, xid, hdr->seq_first);
    sodium_memzero(sub_key, sizeof(sub_key));
    sb.exchange.data = (uint8_t *)(uintptr_t)xid;
    sb.exchange.len = CODEC_HASH_SIZE;
    sb.stream = (char *)(uintptr_t)hdr->stream;
    sb.seq_first = hdr->seq_first;
    sb.height = height;
    sb.wrapped_key.data = wrapped;
    sb.wrapped_key.len = sizeof(wrapped);
    msg.msg_case = TDEI__P2P__DATA_MESSAGE__MSG_BATCH;
    msg.batch = &sb;
    rc = node__plane_send(node, peer, &msg);
    if (rc == 0) {
        node->dp.batches_pushed++;
    }
    return rc;
}

/* Push batch @b (applied at @height) to the node of charged exchange
 * @xid, which paid for @paid of its records. */
static void ns_push(struct node *node, struct store_read *r,
                    const struct ns_batch *b, const uint8_t *xid, uint64_t paid,
                    uint64_t height)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    char hex[TDEI_HEX_SIZE(8)];
    Tdei__Exchange *ex = NULL;
    uint64_t peer;
    size_t bytes;
    int rc = node__plane_exchange(r, xid, &ex, errmsg);

    if (rc != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "stream", "cannot read a charged exchange",
                 "exchange=%s error=\"%s\"", ns_xid_hex(hex, xid), errmsg);
        return;
    }
    peer = node__plane_member_peer(node, r, ex->consumer);
    if (peer == 0) {
        TDEI_LOG(TDEI_LOG_VERBOSE, "stream",
                 "subscriber's node not "
                 "connected; it asks later",
                 "stream=%s seq_first=%" PRIu64 " consumer=%s", b->hdr.stream,
                 b->hdr.seq_first, ex->consumer);
        codec_exchange_free(ex);
        return;
    }
    rc = ns_batch_send(node, peer, &b->hdr, height, xid, paid, b->sealed_recs,
                       (size_t)b->hdr.count, &bytes);
    if (rc != 0) {
        TDEI_LOG(TDEI_LOG_NOTICE, "stream",
                 "batch not pushed; the "
                 "subscriber asks later",
                 "stream=%s seq_first=%" PRIu64 " consumer=%s code=%s",
                 b->hdr.stream, b->hdr.seq_first, ex->consumer,
                 tdei_errname(rc));
    }
    codec_exchange_free(ex);
}

/* The charges of an applied append's result: (xid, paid) pairs. */
static size_t ns_charges(const Tdei__TxResult *result,
                         struct rstore_charge *out)
{
    size_t n = 0;

    for (size_t i = 0; i < result->n_events; i++) {
        const Tdei__Event *ev = result->events[i];

        if (strcmp(ev->type, "stream.charged") != 0) {
            continue;
        }
        for (size_t j = 0; j < ev->n_attrs && n < RSTORE_CHARGES_MAX; j++) {
            uint64_t paid;

            if (strcmp(ev->attrs[j]->key, "charge") != 0 ||
                ns_charge_parse(ev->attrs[j]->value, out[n].xid, &paid) != 0) {
                continue;
            }
            out[n].paid = paid;
            n++;
        }
    }
    return n;
}

/* @b's append was applied at @height with @result. */
static void ns_applied(struct node *node, struct ns_batch *b, uint64_t height,
                       const Tdei__TxResult *result)
{
    struct ns_job *job = ns_job_new(node, NJ_APPLIED);
    struct rstore_charge charges[RSTORE_CHARGES_MAX];
    size_t n = ns_charges(result, charges);
    struct store_read *r = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];

    node->dp.records_appended += b->hdr.count;
    node->dp.batches_appended++;
    TDEI_LOG(TDEI_LOG_VERBOSE, "stream", "batch appended",
             "stream=%s seq_first=%" PRIu64 " records=%" PRIu64
             " height=%" PRIu64 " charged=%zu",
             b->hdr.stream, b->hdr.seq_first, b->hdr.count, height, n);
    if (n > 0 && ns_read_begin(node, &r, errmsg) == 0) {
        for (size_t i = 0; i < n; i++) {
            ns_push(node, r, b, charges[i].xid, charges[i].paid, height);
        }
        store_read_end(r);
    }
    if (job == NULL) {
        TDEI_LOG(TDEI_LOG_WARNING, "stream",
                 "no memory to record an "
                 "applied batch",
                 "stream=%s seq_first=%" PRIu64, b->hdr.stream,
                 b->hdr.seq_first);
        return;
    }
    (void)snprintf(job->stream, sizeof(job->stream), "%s", b->hdr.stream);
    job->seq_first = b->hdr.seq_first;
    job->height = height;
    job->now_ms = node__wall_ms();
    if (n > 0) {
        job->charges = tdei_calloc(n, sizeof(*job->charges));
        if (job->charges != NULL) {
            memcpy(job->charges, charges, n * sizeof(*charges));
            job->n_charges = n;
        }
    }
    ns_job_queue(node, job);
}

struct ns_find
{
    const uint8_t *root;
    const char *stream;
    uint64_t height;        /* found: its block */
    Tdei__TxResult *result; /* found: a copy of its result */
};

static int ns_find_cb(void *arg, const struct node_block_tx *tx)
{
    struct ns_find *f = arg;
    const Tdei__StreamAppend *op = tx->body->stream_append;
    uint8_t *bytes = NULL;
    size_t len = 0;
    char errmsg[TDEI_ERRMSG_SIZE];

    if (tx->body->op_case != TDEI__TX_BODY__OP_STREAM_APPEND ||
        tx->result->code != 0 || strcmp(op->id, f->stream) != 0 ||
        op->batch_root.len != STREAM_ROOT_SIZE ||
        memcmp(op->batch_root.data, f->root, STREAM_ROOT_SIZE) != 0) {
        return 0;
    }
    if (codec_encode(&tx->result->base, &bytes, &len) == 0) {
        (void)codec_txresult_decode(&f->result, bytes, len, errmsg);
    }
    tdei_free(bytes);
    f->height = tx->height;
    return 1;
}

/* Whether @b's append was applied by an earlier submission (the stream's
 * last batch root is @b's): find it in the blocks since @b was cut and
 * take that outcome. Returns 1 when it was. */
static int ns_applied_before(struct node *node, struct ns_batch *b)
{
    struct store_read *r = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Stream *s = NULL;
    struct ns_find f = {.root = b->hdr.root, .stream = b->hdr.stream};
    int ours;
    int rc = ns_read_begin(node, &r, errmsg);

    if (rc != 0) {
        return 0;
    }
    rc = ns_stream_get(r, b->hdr.stream, &s, errmsg);
    ours =
        rc == 0 && s->last_batch_root.len == STREAM_ROOT_SIZE &&
        memcmp(s->last_batch_root.data, b->hdr.root, STREAM_ROOT_SIZE) == 0 &&
        s->next_seq == b->hdr.seq_first + b->hdr.count;
    codec_stream_free(s);
    for (uint64_t h = b->hdr.created_height + 1;
         ours && h <= node->height &&
         h - b->hdr.created_height <= NS_SCAN_BLOCKS_MAX;
         h++) {
        rc = node__plane_block_txs(node, r, h, ns_find_cb, &f, errmsg);
        if (rc != 0) {
            break;
        }
    }
    store_read_end(r);
    if (!ours) {
        return 0;
    }
    if (f.result != NULL) {
        ns_applied(node, b, f.height, f.result);
        codec_txresult_free(f.result);
    } else {
        /* Applied, but its block is out of reach: mark it applied with no
         * subscriber to push to (they ask for it). */
        Tdei__TxResult none = TDEI__TX_RESULT__INIT;
        TDEI_LOG(TDEI_LOG_WARNING, "stream",
                 "applied batch not found in "
                 "the blocks searched; its charges are unknown",
                 "stream=%s seq_first=%" PRIu64, b->hdr.stream,
                 b->hdr.seq_first);
        ns_applied(node, b, node->height, &none);
    }
    return 1;
}

static void ns_append_done(struct node *node, void *arg, int code,
                           const uint8_t *tx_id, uint64_t height,
                           const Tdei__TxResult *result, const char *errmsg)
{
    struct ns_batch *b = arg;
    struct ns_stream *st = b->st;

    (void)tx_id;
    if (code == TDEI_CANCELED) {
        /* Stopping: still pending in the store; appended after a
         * restart. */
        st->inflight = NULL;
        ns_batch_free(b);
        return;
    }
    if ((code == TDEI_TIMEOUT || code == TDEI_DUPLICATE) &&
        !ns_applied_before(node, b)) {
        /* Not committed in time (a stalled chain), or the same tx is
         * still pending: it may yet commit from a mempool, so it is not
         * given up; append it again after a pause (the stream's seq
         * check refuses one of the two). */
        TDEI_LOG(TDEI_LOG_NOTICE, "stream",
                 "append not committed yet; appending it again shortly",
                 "stream=%s seq_first=%" PRIu64 " code=%s", b->hdr.stream,
                 b->hdr.seq_first, tdei_errname(code));
        b->stage = NS_SUBMIT;
        b->retry_ms = ns_now(node) + NS_RETRY_MS;
        return;
    }
    if (code == TDEI_TIMEOUT || code == TDEI_DUPLICATE) {
        st->inflight = NULL;
        ns_batch_free(b);
        ns_cut_maybe(node, st, ns_now(node));
        return;
    }
    if (code == 0 && result != NULL && result->code == 0) {
        ns_applied(node, b, height, result);
    } else if (!ns_applied_before(node, b)) {
        int why = code != 0 ? code : (int)result->code;
        const char *reason = tdei_strerror(why);

        if (code != 0 && errmsg != NULL && errmsg[0] != '\0') {
            reason = errmsg;
        } else if (code == 0 && result->log[0] != '\0') {
            reason = result->log;
        }
        ns_refuse_records(node, b->hdr.stream, b->hdr.seq_first, b->hdr.count,
                          why, reason);
    }
    st->inflight = NULL;
    ns_batch_free(b);
    if (!node->stopping) {
        ns_cut_maybe(node, st, ns_now(node));
    }
}

/* ---- IngestRecords ------------------------------------------------------- */

/* Check an ingest against the ledger: an open stream of this member. */
static int ns_ingest_entry_check(struct node *node, const char *id,
                                 char *errmsg)
{
    struct store_read *r = NULL;
    Tdei__Dataset *ds = NULL;
    Tdei__Stream *s = NULL;
    int rc = ns_read_begin(node, &r, errmsg);

    if (rc == 0) {
        rc = ns_dataset_get(r, id, &ds, errmsg);
        if (rc == TDEI_NOTFOUND) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                             "stream %s is not in the catalog; publish it "
                             "with kind stream and open it first",
                             id);
        }
    }
    if (rc == 0 && ds->kind != CODEC_KIND_STREAM) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_DATASET_STATE,
                         "%s is a dataset, not a stream; records go to a "
                         "stream entry",
                         id);
    } else if (rc == 0 && strcmp(ds->owner, node->identity.member) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_OWNER,
                         "stream %s is owned by %s; this node is %s's and "
                         "takes records for its own streams only",
                         id, ds->owner, node->identity.member);
    }
    if (rc == 0) {
        rc = ns_stream_get(r, id, &s, errmsg);
        if (rc == TDEI_NOTFOUND) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_STREAM_STATE,
                             "stream %s was never opened; open it with "
                             "`tdei stream open %s` first",
                             id, id);
        } else if (rc == 0 && s->status != CODEC_STREAM_OPEN) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_STREAM_STATE,
                             "stream %s is closed and takes no more "
                             "records; publish a new stream entry",
                             id);
        }
    }
    codec_stream_free(s);
    codec_dataset_free(ds);
    if (r != NULL) {
        store_read_end(r);
    }
    return rc;
}

/* Check every record of @in; all or nothing. */
static int ns_ingest_records_check(struct node *node,
                                   const Tdei__Api__IngestRecords *in,
                                   uint64_t last_ts, uint64_t *bytes,
                                   char *errmsg)
{
    uint64_t prev = last_ts;

    *bytes = 0;
    if (in->n_records == 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "no records; send 1-%u records per request",
                           NS_INGEST_MAX);
    }
    if (in->n_records > NS_INGEST_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "%zu records in one request; send at most %u "
                           "per request",
                           in->n_records, NS_INGEST_MAX);
    }
    for (size_t i = 0; i < in->n_records; i++) {
        const Tdei__Api__IngestRecord *rec = in->records[i];

        if (rec->data.len == 0 || rec->data.len > node->cfg.stream_record_max) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                               "record %zu has %zu bytes of data; a record "
                               "has 1-%" PRIu64 " bytes (stream.record_max)",
                               i, rec->data.len, node->cfg.stream_record_max);
        }
        if (rec->ts_ms == 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                               "record %zu has ts_ms 0; give its source "
                               "time in Unix ms",
                               i);
        }
        if (rec->ts_ms < prev) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                               "record %zu has ts_ms %" PRIu64 ", before "
                               "%" PRIu64 " (%s); timestamps of a stream "
                               "must not go backwards",
                               i, rec->ts_ms, prev,
                               i > 0 ? "the record before it"
                                     : "the last record this node took for "
                                       "the stream");
        }
        prev = rec->ts_ms;
        *bytes += rec->data.len;
    }
    return 0;
}

static void ns_ingest(struct node *node, struct api_call *call,
                      const Tdei__Api__IngestRecords *in)
{
    struct node_streams *ns = node->streams;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct ns_stream *st = NULL;
    struct ns_job *job = NULL;
    uint64_t bytes = 0;
    uint64_t now = ns_now(node);
    size_t n = in->n_records;
    int rc;

    if (!codec_dataset_id_valid(in->stream)) {
        api_call_respond_error(call, TDEI_INVAL,
                               "stream '%.64s' is not an entry id: 3-64 "
                               "bytes of a-z, 0-9 and -",
                               in->stream);
        return;
    }
    rc = ns_ingest_entry_check(node, in->stream, errmsg);
    if (rc == 0) {
        rc = ns_stream_open(node, in->stream, &st, errmsg);
    }
    if (rc == 0) {
        rc = ns_ingest_records_check(node, in, st->last_ts, &bytes, errmsg);
    }
    if (rc == 0 && (ns->queued + n > node->cfg.stream_queue_records ||
                    ns->queued_bytes + bytes > NS_QUEUE_BYTES_MAX)) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                         "%" PRIu64 " records (%" PRIu64 " bytes) wait to "
                         "be batched; %zu more would pass %" PRIu64
                         " records (stream.queue_records) or %llu bytes; "
                         "retry shortly",
                         ns->queued, ns->queued_bytes, n,
                         node->cfg.stream_queue_records,
                         (unsigned long long)NS_QUEUE_BYTES_MAX);
    }
    if (rc == 0 && ns_queue_reserve(st, st->pending + n) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                         "no memory to queue %zu records", n);
    }
    if (rc == 0) {
        job = ns_job_new(node, NJ_QUEUE);
        if (job != NULL) {
            job->recs = tdei_calloc(n, sizeof(*job->recs));
        }
        if (job == NULL || job->recs == NULL) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                             "no memory to queue %zu records", n);
        }
    }
    /* Copy every record first, so that a short memory takes none. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const Tdei__Api__IngestRecord *in_rec = in->records[i];
        struct ns_rec *rec = tdei_malloc(sizeof(*rec) + in_rec->data.len);

        if (rec == NULL) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                             "no memory to queue %zu records", n);
            break;
        }
        rec->qseq = st->qseq_next + i;
        rec->ts_ms = in_rec->ts_ms;
        rec->queued_ms = now;
        rec->len = in_rec->data.len;
        memcpy(rec->data, in_rec->data.data, in_rec->data.len);
        job->recs[i] = rec;
        job->count = i + 1;
    }
    if (rc != 0) {
        if (job != NULL) {
            ns_job_free(job);
        }
        api_call_respond_error(call, rc, "%s", errmsg);
        return;
    }
    /* Taken now (the limits and the timestamp order count them); the
     * answer waits until the stream store keeps them, so that an accepted
     * record survives a crash. */
    job->call = call;
    job->st = st;
    (void)snprintf(job->stream, sizeof(job->stream), "%s", st->id);
    job->seq_first = st->qseq_next;
    job->bytes = bytes;
    job->prev_last_ts = st->last_ts;
    st->qseq_next += n;
    st->pending += n;
    st->last_ts = in->records[n - 1]->ts_ms;
    ns->queued += n;
    ns->queued_bytes += bytes;
    ns_job_queue(node, job);
}

/* The records of an IngestRecords are kept (or could not be): queue them
 * for their batch and answer. */
static void ns_queue_done(struct node *node, struct ns_job *job)
{
    struct node_streams *ns = node->streams;
    struct ns_stream *st = job->st;
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__IngestResult res = TDEI__API__INGEST_RESULT__INIT;
    uint64_t n = job->count;

    TDEI_ASSERT(st->pending >= n);
    st->pending -= n;
    if (job->rc != 0) {
        ns->queued -= n;
        ns->queued_bytes -= job->bytes;
        /* Give the stream back its order when nothing was taken after. */
        if (st->pending == 0 && st->last_ts == job->recs[n - 1]->ts_ms) {
            st->last_ts = job->prev_last_ts;
        }
        TDEI_LOG(TDEI_LOG_WARNING, "stream", "cannot keep ingested records",
                 "stream=%s records=%" PRIu64 " error=\"%s\"", job->stream, n,
                 job->errmsg);
        api_call_respond_error(job->call, job->rc,
                               "the records were not taken: %s", job->errmsg);
        return;
    }
    /* The ring has room: ns_ingest reserved it with the pending ones. */
    TDEI_ASSERT(st->q_count + n <= st->q_cap);
    for (uint64_t i = 0; i < n; i++) {
        st->q[(st->q_head + st->q_count) % st->q_cap] = job->recs[i];
        st->q_count++;
    }
    tdei_free(job->recs);
    job->recs = NULL;
    st->q_bytes += job->bytes;
    node->dp.records_ingested += n;
    res.accepted = n;
    res.queued = ns->queued;
    resp.resp_case = TDEI__API__RESPONSE__RESP_INGEST;
    resp.ingest = &res;
    api_call_respond(job->call, &resp);
    ns_cut_maybe(node, st, ns_now(node));
}

/* ---- reading records back ------------------------------------------------ */

/* An answer being built. */
struct ns_read
{
    Tdei__Api__StreamRecord *recs; /* up to limit */
    Tdei__Api__StreamRecord **ptrs;
    uint8_t **bufs; /* data copies (owned) */
    size_t n;
    size_t cap;
    size_t bytes;
    uint64_t next_seq;
};

static void ns_read_free(struct ns_read *rd)
{
    for (size_t i = 0; i < rd->n; i++) {
        if (rd->bufs[i] != NULL) {
            sodium_memzero(rd->bufs[i], rd->recs[i].data.len);
        }
        tdei_free(rd->bufs[i]);
    }
    tdei_free(rd->recs);
    tdei_free(rd->ptrs);
    tdei_free(rd->bufs);
}

static int ns_read_init(struct ns_read *rd, uint32_t limit, uint64_t from)
{
    memset(rd, 0, sizeof(*rd));
    rd->cap = limit;
    rd->next_seq = from;
    rd->recs = tdei_calloc(limit, sizeof(*rd->recs));
    rd->ptrs = tdei_calloc(limit, sizeof(*rd->ptrs));
    rd->bufs = tdei_calloc(limit, sizeof(*rd->bufs));
    if (rd->recs == NULL || rd->ptrs == NULL || rd->bufs == NULL) {
        ns_read_free(rd);
        return TDEI_NOMEM;
    }
    return 0;
}

/* Whether @rd is full: @limit records, or NS_READ_BYTES of data with at
 * least one record. */
static int ns_read_full(const struct ns_read *rd, size_t next_len)
{
    return rd->n == rd->cap ||
           (rd->n > 0 && rd->bytes + next_len > NS_READ_BYTES);
}

/* Add a record; @data is moved in (owned by @rd from now). */
static void ns_read_add(struct ns_read *rd, uint64_t seq, uint64_t ts,
                        uint8_t *data, size_t len, uint64_t height,
                        uint64_t stored_ms)
{
    Tdei__Api__StreamRecord *rec = &rd->recs[rd->n];

    tdei__api__stream_record__init(rec);
    rec->seq = seq;
    rec->ts_ms = ts;
    rec->data.data = data;
    rec->data.len = len;
    rec->height = height;
    rec->stored_ms = stored_ms;
    rd->ptrs[rd->n] = rec;
    rd->bufs[rd->n] = data;
    rd->n++;
    rd->bytes += len;
    rd->next_seq = seq + 1;
}

static int ns_read_sub_cb(void *arg, const struct rstore_record *rec)
{
    struct ns_read *rd = arg;
    uint8_t *copy;

    if (ns_read_full(rd, rec->len)) {
        return 1;
    }
    copy = tdei_malloc(rec->len == 0 ? 1 : rec->len);
    if (copy == NULL) {
        return TDEI_NOMEM;
    }
    memcpy(copy, rec->data, rec->len);
    ns_read_add(rd, rec->seq, rec->ts_ms, copy, rec->len, rec->height,
                rec->stored_ms);
    return 0;
}

/* The owner's records from @from: its applied batches, opened with their
 * keys. */
static int ns_read_owner(struct node *node, const char *stream, uint64_t from,
                         uint64_t end, struct ns_read *rd, char *errmsg)
{
    struct rstore *rs = node->streams->rs;
    ProtobufCBinaryData *recs =
        tdei_calloc(STREAM_BATCH_RECORDS_MAX, sizeof(*recs));
    uint64_t seq = from;
    int rc = recs == NULL ? TDEI_NOMEM : 0;

    while (rc == 0 && seq < end && !ns_read_full(rd, 0)) {
        struct rstore_batch b;
        uint8_t *blob = NULL;
        size_t n = 0;

        rc = rstore_batch_at(rs, stream, seq, &b, errmsg);
        if (rc == TDEI_NOTFOUND ||
            (rc == 0 && (b.state != RSTORE_APPLIED || b.seq_first > seq))) {
            rc = 0;
            sodium_memzero(b.key, sizeof(b.key));
            break;
        }
        if (rc == 0) {
            rc = rstore_batch_records(rs, stream, b.seq_first, &blob, recs,
                                      STREAM_BATCH_RECORDS_MAX, &n, errmsg);
        }
        for (uint64_t i = seq - b.seq_first; rc == 0 && i < n; i++) {
            size_t room = recs[i].len;
            uint8_t *plain;
            size_t len;
            uint64_t ts;

            if (ns_read_full(rd, room - STREAM_RECORD_OVERHEAD) || seq >= end) {
                break;
            }
            plain = tdei_malloc(room);
            if (plain == NULL) {
                rc = TDEI_NOMEM;
                break;
            }
            rc = stream_record_open(plain, &len, &ts, recs[i].data, recs[i].len,
                                    stream, b.seq_first + i, b.key, errmsg);
            if (rc != 0) {
                tdei_free(plain);
                rc = tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                                  "stored batch %" PRIu64 " of %s", b.seq_first,
                                  stream);
                break;
            }
            ns_read_add(rd, b.seq_first + i, ts, plain, len, b.height,
                        b.applied_ms);
            seq = b.seq_first + i + 1;
        }
        sodium_memzero(b.key, sizeof(b.key));
        tdei_free(blob);
        if (rc == 0 && seq < b.seq_first + b.count) {
            break; /* full */
        }
    }
    tdei_free(recs);
    return rc;
}

/* A subscriber's read from *@from: when that record is not held, move
 * *@from to the next record held, unless a batch still owed (paid for,
 * not yet received) lies before it: records this member never paid for
 * never come, and a reader must not wait for them; owed ones come, and
 * the reader waits for them to keep the order.
 * Returns: 0 (read from *@from), TDEI_NOTFOUND (nothing to read now),
 * or a store failure. */
static int ns_read_skip(struct node *node, const char *stream, uint64_t *from,
                        char *errmsg)
{
    struct rstore *rs = node->streams->rs;
    struct rstore_expect owed;
    uint64_t next = 0;
    int rc = rstore_record_held(rs, stream, *from, errmsg);

    if (rc == 1) {
        return 0;
    }
    if (rc < 0) {
        return -rc;
    }
    rc = rstore_record_next(rs, stream, *from, &next, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = rstore_owed_from(rs, stream, *from, &owed, errmsg);
    if (rc == 0 && owed.seq_first < next) {
        return TDEI_NOTFOUND; /* wait for the owed batch */
    }
    if (rc != 0 && rc != TDEI_NOTFOUND) {
        return rc;
    }
    *from = next;
    return 0;
}

/* Read @stream from @from_seq into @rd. *@held says whether any record is
 * held at all. */
static int ns_read_records(struct node *node, const char *stream,
                           uint64_t from_seq, int owner, struct ns_read *rd,
                           int *held, char *errmsg)
{
    struct rstore_stats stats;
    uint64_t from = from_seq;
    int rc = rstore_stats_get(node->streams->rs, stream, &stats, errmsg);

    *held = 0;
    if (rc != 0) {
        return rc;
    }
    *held = stats.held;
    if (!stats.held) {
        return 0;
    }
    if (from < stats.held_from) {
        from = stats.held_from;
    }
    rd->next_seq = from;
    if (owner) {
        if (from >= stats.next_seq) {
            return 0;
        }
        return ns_read_owner(node, stream, from, stats.next_seq, rd, errmsg);
    }
    rc = ns_read_skip(node, stream, &from, errmsg);
    if (rc != 0) {
        return rc == TDEI_NOTFOUND ? 0 : rc;
    }
    rd->next_seq = from;
    return rstore_records_each(node->streams->rs, stream, from, rd->cap,
                               ns_read_sub_cb, rd, errmsg);
}

/* Whether this member owns @stream (committed); -code on a failure,
 * TDEI_NOTFOUND for an entry not in the catalog. */
static int ns_is_owner(struct node *node, const char *stream, int *owner,
                       char *errmsg)
{
    struct store_read *r = NULL;
    Tdei__Dataset *ds = NULL;
    int rc = ns_read_begin(node, &r, errmsg);

    *owner = 0;
    if (rc == 0) {
        rc = ns_dataset_get(r, stream, &ds, errmsg);
        store_read_end(r);
    }
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "%s is not in the catalog; check the stream id",
                           stream);
    }
    if (rc == 0 && ds->kind != CODEC_KIND_STREAM) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_DATASET_STATE,
                         "%s is a dataset, not a stream; fetch it with "
                         "`tdei exchange fetch`",
                         stream);
    }
    if (rc == 0) {
        *owner = strcmp(ds->owner, node->identity.member) == 0;
    }
    codec_dataset_free(ds);
    return rc;
}

/* Answer @call with what @stream holds from @from_seq, or keep waiting.
 * Returns 1 when answered. */
static int ns_read_answer(struct node *node, struct api_call *call,
                          const char *stream, uint64_t from_seq, uint32_t limit,
                          int final)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__StreamRecords out = TDEI__API__STREAM_RECORDS__INIT;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct ns_read rd;
    int owner = 0;
    int held = 0;
    int rc = ns_is_owner(node, stream, &owner, errmsg);

    if (rc == 0) {
        rc = ns_read_init(&rd, limit, from_seq);
        if (rc != 0) {
            (void)tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                              "no memory for %u records", limit);
        } else {
            rc = ns_read_records(node, stream, from_seq, owner, &rd, &held,
                                 errmsg);
            if (rc != 0) {
                ns_read_free(&rd);
            }
        }
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s", errmsg);
        return 1;
    }
    if (rd.n == 0 && !final) {
        ns_read_free(&rd);
        return 0;
    }
    if (rd.n == 0 && !held && final == 2) {
        ns_read_free(&rd);
        api_call_respond_error(call, TDEI_NOTFOUND,
                               "this node holds no record of stream %s%s",
                               stream,
                               owner ? "; ingest records and wait for "
                                       "their append"
                                     : "; subscribe to it, or wait for "
                                       "its records (wait_ms)");
        return 1;
    }
    out.records = rd.ptrs;
    out.n_records = rd.n;
    out.next_seq = rd.next_seq;
    resp.resp_case = TDEI__API__RESPONSE__RESP_STREAM_RECORDS;
    resp.stream_records = &out;
    api_call_respond(call, &resp);
    ns_read_free(&rd);
    return 1;
}

static void ns_read_stream(struct node *node, struct api_call *call,
                           const Tdei__Api__ReadStream *in)
{
    struct node_streams *ns = node->streams;
    struct ns_waiter *w;

    if (!codec_dataset_id_valid(in->stream)) {
        api_call_respond_error(call, TDEI_INVAL,
                               "stream '%.64s' is not an entry id: 3-64 "
                               "bytes of a-z, 0-9 and -",
                               in->stream);
        return;
    }
    if (in->limit < 1 || in->limit > NS_READ_MAX) {
        api_call_respond_error(call, TDEI_INVAL,
                               "limit %u is outside 1-%u records", in->limit,
                               NS_READ_MAX);
        return;
    }
    if (in->wait_ms > NS_WAIT_MS_MAX) {
        api_call_respond_error(call, TDEI_INVAL,
                               "wait_ms %u is outside 0-%u ms", in->wait_ms,
                               NS_WAIT_MS_MAX);
        return;
    }
    /* wait_ms 0: answer now (TDEI_NOTFOUND when nothing is held). */
    if (ns_read_answer(node, call, in->stream, in->from_seq, in->limit,
                       in->wait_ms == 0 ? 2 : 0)) {
        return;
    }
    if (ns->waiter_count == NS_WAITERS_MAX) {
        api_call_respond_error(call, TDEI_BUSY,
                               "%u reads wait for records already, the "
                               "most; retry shortly or read without wait_ms",
                               NS_WAITERS_MAX);
        return;
    }
    w = tdei_calloc(1, sizeof(*w));
    if (w == NULL) {
        api_call_respond_error(call, TDEI_NOMEM, "no memory to hold a read");
        return;
    }
    w->call = call;
    (void)snprintf(w->stream, sizeof(w->stream), "%s", in->stream);
    w->from_seq = in->from_seq;
    w->limit = in->limit;
    w->deadline_ms = ns_now(node) + in->wait_ms;
    ns->waiters[ns->waiter_count++] = w;
}

static void ns_waiter_remove(struct node_streams *ns, size_t i)
{
    tdei_free(ns->waiters[i]);
    ns->waiters[i] = ns->waiters[ns->waiter_count - 1];
    ns->waiters[ns->waiter_count - 1] = NULL;
    ns->waiter_count--;
}

/* Records of @stream were stored: answer the reads waiting for them. */
static void ns_waiters_wake(struct node *node, const char *stream)
{
    struct node_streams *ns = node->streams;

    for (size_t i = 0; i < ns->waiter_count;) {
        struct ns_waiter *w = ns->waiters[i];

        if (strcmp(w->stream, stream) == 0 &&
            ns_read_answer(node, w->call, w->stream, w->from_seq, w->limit,
                           0)) {
            ns_waiter_remove(ns, i);
        } else {
            i++;
        }
    }
}

/* Answer the reads whose wait ended (empty when nothing came). */
static void ns_waiters_expire(struct node *node, uint64_t now)
{
    struct node_streams *ns = node->streams;

    for (size_t i = 0; i < ns->waiter_count;) {
        struct ns_waiter *w = ns->waiters[i];

        if (now >= w->deadline_ms) {
            (void)ns_read_answer(node, w->call, w->stream, w->from_seq,
                                 w->limit, 1);
            ns_waiter_remove(ns, i);
        } else {
            i++;
        }
    }
}

/* ---- GetStreamState ------------------------------------------------------ */

static void ns_state(struct node *node, struct api_call *call,
                     const Tdei__Api__GetStreamState *in)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__StreamState out = TDEI__API__STREAM_STATE__INIT;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct rstore_stats stats;
    struct ns_stream *st;
    int owner = 0;
    int rc;

    if (!codec_dataset_id_valid(in->stream)) {
        api_call_respond_error(call, TDEI_INVAL,
                               "stream '%.64s' is not an entry id: 3-64 "
                               "bytes of a-z, 0-9 and -",
                               in->stream);
        return;
    }
    rc = ns_is_owner(node, in->stream, &owner, errmsg);
    if (rc == 0) {
        rc = rstore_stats_get(node->streams->rs, in->stream, &stats, errmsg);
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s", errmsg);
        return;
    }
    st = ns_stream_find(node->streams, in->stream);
    out.stream = in->stream;
    out.owner = owner != 0;
    if (st != NULL) {
        out.queued = st->q_count;
        out.in_flight = st->inflight != NULL ? st->inflight->hdr.count : 0;
    }
    out.appended_records = stats.appended_records;
    out.appended_batches = stats.appended_batches;
    out.refused_records = stats.refused_records;
    out.refused_batches = stats.refused_batches;
    out.last_refusal = stats.last_refusal;
    out.last_refusal_code = stats.last_refusal_code;
    out.held_from = stats.held ? stats.held_from : 0;
    out.next_seq = stats.held ? stats.next_seq : 0;
    out.received_records = stats.received_records;
    out.bad_batches = stats.bad_batches;
    resp.resp_case = TDEI__API__RESPONSE__RESP_STREAM_STATE;
    resp.stream_state = &out;
    api_call_respond(call, &resp);
}

/* ---- the subscriber's side ----------------------------------------------- */

static struct ns_sub *ns_sub_find(struct node_streams *ns,
                                  const uint8_t xid[CODEC_HASH_SIZE])
{
    for (size_t i = 0; i < ns->sub_count; i++) {
        if (memcmp(ns->subs[i]->xid, xid, CODEC_HASH_SIZE) == 0) {
            return ns->subs[i];
        }
    }
    return NULL;
}

/* Batch (@xid, @seq) of @stream from @owner's node is owed since @now. */
static void ns_sub_owed(struct node *node, const uint8_t *xid,
                        const char *stream, const char *owner, uint64_t seq,
                        uint64_t now)
{
    struct node_streams *ns = node->streams;
    struct ns_sub *sub = ns_sub_find(ns, xid);
    char hex[TDEI_HEX_SIZE(8)];

    if (sub == NULL) {
        if (ns->sub_count == NS_SUBS_MAX) {
            TDEI_LOG(TDEI_LOG_WARNING, "stream",
                     "too many subscriptions to "
                     "follow; this one is asked for after a restart",
                     "exchange=%s most=%u", ns_xid_hex(hex, xid), NS_SUBS_MAX);
            return;
        }
        sub = tdei_calloc(1, sizeof(*sub));
        if (sub == NULL) {
            return;
        }
        memcpy(sub->xid, xid, CODEC_HASH_SIZE);
        ns->subs[ns->sub_count++] = sub;
    }
    (void)snprintf(sub->stream, sizeof(sub->stream), "%s", stream);
    (void)snprintf(sub->owner, sizeof(sub->owner), "%s", owner);
    sub->learned[sub->learned_next].seq = seq;
    sub->learned[sub->learned_next].ms = now;
    sub->learned_next = (sub->learned_next + 1) % NS_LEARNED;
    if (!sub->owed || seq < sub->owed_seq) {
        sub->owed = 1;
        sub->owed_seq = seq;
        sub->owed_ms = now;
    }
}

/* When owed batch @seq of @sub was learned of; 0 when not known (it is
 * then overdue at once). */
static uint64_t ns_sub_learned(const struct ns_sub *sub, uint64_t seq)
{
    for (size_t i = 0; i < NS_LEARNED; i++) {
        if (sub->learned[i].ms != 0 && sub->learned[i].seq == seq) {
            return sub->learned[i].ms;
        }
    }
    return 0;
}

/* Ask @sub's owner's node for the batches from the lowest owed. */
static void ns_sub_ask(struct node *node, struct store_read *r,
                       struct ns_sub *sub, uint64_t now)
{
    Tdei__P2p__DataMessage msg = TDEI__P2P__DATA_MESSAGE__INIT;
    Tdei__P2p__BatchRequest req = TDEI__P2P__BATCH_REQUEST__INIT;
    uint64_t peer = node__plane_member_peer(node, r, sub->owner);
    char hex[TDEI_HEX_SIZE(8)];
    int rc;

    if (peer == 0) {
        return; /* node__stream_peer_up asks when it comes */
    }
    req.exchange.data = sub->xid;
    req.exchange.len = CODEC_HASH_SIZE;
    req.from_seq = sub->owed_seq;
    msg.msg_case = TDEI__P2P__DATA_MESSAGE__MSG_BATCH_REQUEST;
    msg.batch_request = &req;
    rc = node__plane_send(node, peer, &msg);
    sub->asked_ms = now;
    sub->asked_seq = sub->owed_seq;
    TDEI_LOG(TDEI_LOG_NOTICE, "stream", "asking for missing batches",
             "stream=%s exchange=%s from_seq=%" PRIu64 " owner=%s code=%s",
             sub->stream, ns_xid_hex(hex, sub->xid), sub->owed_seq, sub->owner,
             tdei_errname(rc));
}

/* Ask for every batch owed too long (@force: every owed one whose owner
 * has node key @key, now). */
static void ns_subs_check(struct node *node, uint64_t now, int force,
                          const uint8_t *key)
{
    struct node_streams *ns = node->streams;
    struct store_read *r = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    int opened = 0;

    for (size_t i = 0; i < ns->sub_count; i++) {
        struct ns_sub *sub = ns->subs[i];
        /* Owed for NS_GAP_MS, and not asked for lately: NS_ASK_MS since
         * the last ask, or NS_REASK_MS once the answer moved the lowest
         * owed batch on (catching up after a restart). */
        int due = sub->owed && !sub->refused &&
                  now - sub->owed_ms >= NS_GAP_MS &&
                  (sub->asked_ms == 0 || now - sub->asked_ms >= NS_ASK_MS ||
                   (sub->owed_seq != sub->asked_seq &&
                    now - sub->asked_ms >= NS_REASK_MS));

        if (force && sub->owed && !sub->refused) {
            Tdei__Member *m = NULL;
            due = 0;
            if (!opened) {
                opened = ns_read_begin(node, &r, errmsg) == 0;
                if (!opened) {
                    return;
                }
            }
            if (exec_query_member(r, sub->owner, &m, errmsg) == 0) {
                due = m->node_key.len == TDEI_PUBKEY_SIZE &&
                      memcmp(m->node_key.data, key, TDEI_PUBKEY_SIZE) == 0;
                codec_member_free(m);
            }
        }
        if (!due) {
            continue;
        }
        if (!opened) {
            opened = ns_read_begin(node, &r, errmsg) == 0;
            if (!opened) {
                return;
            }
        }
        ns_sub_ask(node, r, sub, now);
    }
    if (opened) {
        store_read_end(r);
    }
}

/* The block walk: applied appends that charged this member's exchanges. */
struct ns_walk
{
    struct node *node;
    struct store_read *r;
};

static int ns_walk_cb(void *arg, const struct node_block_tx *tx)
{
    struct ns_walk *w = arg;
    struct node *node = w->node;
    const Tdei__StreamAppend *op = tx->body->stream_append;
    struct rstore_charge charges[RSTORE_CHARGES_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Dataset *ds = NULL;
    size_t n;

    if (tx->body->op_case != TDEI__TX_BODY__OP_STREAM_APPEND ||
        tx->result->code != 0) {
        return 0;
    }
    n = ns_charges(tx->result, charges);
    for (size_t i = 0; i < n; i++) {
        Tdei__Exchange *ex = NULL;
        struct ns_job *job;

        if (charges[i].paid == 0 ||
            node__plane_exchange(w->r, charges[i].xid, &ex, errmsg) != 0) {
            continue;
        }
        if (strcmp(ex->consumer, node->identity.member) != 0) {
            codec_exchange_free(ex);
            continue;
        }
        codec_exchange_free(ex);
        if (ds == NULL && ns_dataset_get(w->r, op->id, &ds, errmsg) != 0) {
            TDEI_LOG(TDEI_LOG_WARNING, "stream",
                     "cannot read a charged "
                     "stream's entry",
                     "stream=%s error=\"%s\"", op->id, errmsg);
            return 0;
        }
        job = ns_job_new(node, NJ_EXPECT);
        if (job == NULL) {
            continue;
        }
        memcpy(job->expect.xid, charges[i].xid, CODEC_HASH_SIZE);
        (void)snprintf(job->expect.stream, sizeof(job->expect.stream), "%s",
                       op->id);
        (void)snprintf(job->expect.owner, sizeof(job->expect.owner), "%s",
                       ds->owner);
        job->expect.seq_first = op->seq_first;
        job->expect.count = op->count;
        job->expect.paid =
            charges[i].paid < op->count ? charges[i].paid : op->count;
        job->expect.first_ts = op->first_ts;
        job->expect.last_ts = op->last_ts;
        job->expect.height = tx->height;
        memcpy(job->expect.root, op->batch_root.data, STREAM_ROOT_SIZE);
        ns_sub_owed(node, charges[i].xid, op->id, ds->owner, op->seq_first,
                    ns_now(node));
        ns_job_queue(node, job);
    }
    codec_dataset_free(ds);
    return 0;
}

/* Only the node of the entry's current owner sends its batches: a batch
 * from any other node is not taken (it could only waste the check). */
static int ns_sender_check(struct node *node, struct store_read *r,
                           uint64_t peer, const char *stream, char *errmsg)
{
    uint8_t key[TDEI_PUBKEY_SIZE];
    char member[TDEI_MEMBER_ID_MAX + 1] = "";
    Tdei__Dataset *ds = NULL;
    int rc;

    if (!node__plane_peer_key(node, peer, key)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "its sender (peer %llu) is gone",
                           (unsigned long long)peer);
    }
    rc = node__plane_member_of(r, key, member, errmsg);
    if (rc == 0) {
        rc = ns_dataset_get(r, stream, &ds, errmsg);
    }
    if (rc == 0 && strcmp(ds->owner, member) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_OWNER,
                         "it comes from %s's node; stream %s is %s's", member,
                         stream, ds->owner);
    }
    codec_dataset_free(ds);
    return rc;
}

/* Queue the check of pushed batch @sb from @peer (its append is
 * committed here), reading the ledger with @held when the caller holds a
 * read (a thread holds one at a time), else with a read of its own. */
static void ns_receive_queue(struct node *node, struct store_read *held,
                             uint64_t peer, const Tdei__P2p__StreamBatch *sb)
{
    struct ns_job *job = NULL;
    struct store_read *r = held;
    Tdei__Exchange *ex = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char hex[TDEI_HEX_SIZE(8)];
    size_t total = 0;
    size_t off = 0;
    int rc = held != NULL ? 0 : ns_read_begin(node, &r, errmsg);

    if (rc == 0) {
        rc = node__plane_exchange(r, sb->exchange.data, &ex, errmsg);
    }
    if (rc == 0 && strcmp(ex->consumer, node->identity.member) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_PARTY,
                         "its consumer is %s, not this node's member %s",
                         ex->consumer, node->identity.member);
    }
    if (rc == 0) {
        rc = ns_sender_check(node, r, peer, ex->dataset, errmsg);
    }
    if (held == NULL && r != NULL) {
        store_read_end(r);
    }
    if (rc == 0) {
        job = ns_job_new(node, NJ_RECEIVE);
        if (job == NULL) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                             "no memory to check it");
        } else {
            rc = node__plane_unseal(node, ex->sealed_key.data,
                                    ex->sealed_key.len, job->sub_key, errmsg);
        }
    }
    codec_exchange_free(ex);
    for (size_t i = 0; rc == 0 && i < sb->n_records; i++) {
        total += sb->records[i].len;
    }
    if (rc == 0) {
        job->blob = tdei_malloc(total == 0 ? 1 : total);
        job->records = tdei_calloc(sb->n_records, sizeof(*job->records));
        if (job->blob == NULL || job->records == NULL) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                             "no memory to check it");
        }
    }
    if (rc != 0) {
        if (job != NULL) {
            ns_job_free(job);
        }
        node->dp.batches_bad++;
        TDEI_LOG(TDEI_LOG_WARNING, "stream", "pushed batch not taken",
                 "stream=%s exchange=%s seq_first=%" PRIu64 " peer=%llu "
                 "code=%s error=\"%s\"",
                 sb->stream, ns_xid_hex(hex, sb->exchange.data), sb->seq_first,
                 (unsigned long long)peer, tdei_errname(rc), errmsg);
        return;
    }
    for (size_t i = 0; i < sb->n_records; i++) {
        memcpy(job->blob + off, sb->records[i].data, sb->records[i].len);
        job->records[i].data = job->blob + off;
        job->records[i].len = sb->records[i].len;
        off += sb->records[i].len;
    }
    job->n_records = sb->n_records;
    for (size_t i = 0; i < sb->n_prefix_proof; i++) {
        memcpy(job->proof[i], sb->prefix_proof[i].data, MERKLE_HASH_SIZE);
    }
    job->proof_n = sb->n_prefix_proof;
    memcpy(job->xid, sb->exchange.data, CODEC_HASH_SIZE);
    (void)snprintf(job->stream, sizeof(job->stream), "%s", sb->stream);
    job->seq_first = sb->seq_first;
    job->height = sb->height;
    job->now_ms = node__wall_ms();
    memcpy(job->wrapped, sb->wrapped_key.data, sb->wrapped_key.len);
    job->wrapped_len = sb->wrapped_key.len;
    ns_job_queue(node, job);
}

static void ns_receive_done(struct node *node, struct ns_job *job)
{
    struct node_streams *ns = node->streams;
    struct ns_sub *sub = ns_sub_find(ns, job->xid);
    char hex[TDEI_HEX_SIZE(8)];
    uint64_t now = ns_now(node);

    if (job->rc != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "stream", "cannot store a received batch",
                 "stream=%s exchange=%s seq_first=%" PRIu64 " error=\"%s\"",
                 job->stream, ns_xid_hex(hex, job->xid), job->seq_first,
                 job->errmsg);
        return;
    }
    switch (job->outcome) {
    case NR_STORED:
        node->dp.records_received += job->stored;
        if (sub != NULL) {
            sub->owed = job->owed_left;
            sub->owed_seq = job->next_owed.seq_first;
            sub->owed_ms = ns_sub_learned(sub, sub->owed_seq);
        }
        ns_waiters_wake(node, job->stream);
        break;
    case NR_BAD:
        node->dp.batches_bad++;
        TDEI_LOG(TDEI_LOG_WARNING, "stream",
                 "received batch failed its "
                 "checks; not stored, asking again",
                 "stream=%s exchange=%s seq_first=%" PRIu64 " code=%s "
                 "error=\"%s\"",
                 job->stream, ns_xid_hex(hex, job->xid), job->seq_first,
                 tdei_errname((int)job->code), job->errmsg);
        if (sub != NULL && sub->owed) {
            /* Ask again soon, but not in a loop with a broken sender. */
            sub->owed_ms = 0;
            sub->asked_ms = now > NS_ASK_MS ? now - NS_ASK_MS + NS_REASK_MS : 0;
        }
        break;
    case NR_DUPLICATE:
        break;
    case NR_NOT_OWED:
        TDEI_LOG(TDEI_LOG_NOTICE, "stream",
                 "received a batch this node is "
                 "not owed; dropped",
                 "stream=%s exchange=%s seq_first=%" PRIu64, job->stream,
                 ns_xid_hex(hex, job->xid), job->seq_first);
        break;
    }
}

/* Hold pushed batch @sb until block @sb->height is committed here. */
static void ns_hold(struct node *node, uint64_t peer,
                    const Tdei__P2p__StreamBatch *sb)
{
    struct node_streams *ns = node->streams;
    struct ns_held *h;
    uint8_t *bytes = NULL;
    size_t len = 0;
    char errmsg[TDEI_ERRMSG_SIZE];
    ProtobufCMessage *copy = NULL;

    if (codec_encode(&sb->base, &bytes, &len) != 0) {
        return;
    }
    /* Drop the oldest until it fits (they are asked for again later). */
    while (ns->held_count > 0 && (ns->held_count == NS_HELD_MAX ||
                                  ns->held_bytes + len > NS_HELD_BYTES)) {
        codec_message_free(&ns->held[0].msg->base);
        ns->held_bytes -= ns->held[0].bytes;
        memmove(&ns->held[0], &ns->held[1],
                (ns->held_count - 1) * sizeof(ns->held[0]));
        ns->held_count--;
    }
    if (len > NS_HELD_BYTES ||
        codec_message_unpack(&copy, &tdei__p2p__stream_batch__descriptor, bytes,
                             len, "stream batch", errmsg) != 0) {
        tdei_free(bytes);
        return;
    }
    tdei_free(bytes);
    h = &ns->held[ns->held_count++];
    h->peer = peer;
    h->height = sb->height;
    h->bytes = len;
    h->msg = (Tdei__P2p__StreamBatch *)copy;
    ns->held_bytes += len;
}

/* Batches held for blocks now committed go to their check (@r: the
 * caller's read of the ledger). */
static void ns_held_release(struct node *node, struct store_read *r)
{
    struct node_streams *ns = node->streams;

    for (size_t i = 0; i < ns->held_count;) {
        struct ns_held *h = &ns->held[i];

        if (h->height > node->height) {
            i++;
            continue;
        }
        ns_receive_queue(node, r, h->peer, h->msg);
        codec_message_free(&h->msg->base);
        ns->held_bytes -= h->bytes;
        memmove(&ns->held[i], &ns->held[i + 1],
                (ns->held_count - i - 1) * sizeof(ns->held[0]));
        ns->held_count--;
    }
}

/* A pushed or answered StreamBatch. Wrong lengths are faults. */
static int ns_on_batch(struct node *node, uint64_t peer,
                       const Tdei__P2p__StreamBatch *sb, char *errmsg)
{
    if (sb->exchange.len != CODEC_HASH_SIZE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "stream batch with a %zu-byte exchange id; it "
                           "has %u",
                           sb->exchange.len, CODEC_HASH_SIZE);
    }
    if (!codec_dataset_id_valid(sb->stream)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "stream batch for a stream id that is not an "
                           "entry id");
    }
    if (sb->n_records < 1 || sb->n_records > STREAM_BATCH_RECORDS_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "stream batch of %zu records; a batch has 1-%u",
                           sb->n_records, STREAM_BATCH_RECORDS_MAX);
    }
    for (size_t i = 0; i < sb->n_records; i++) {
        if (sb->records[i].len < STREAM_RECORD_OVERHEAD ||
            sb->records[i].len > STREAM_SEALED_MAX) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                               "stream batch record %zu has %zu bytes; a "
                               "sealed record has %u-%u",
                               i, sb->records[i].len, STREAM_RECORD_OVERHEAD,
                               STREAM_SEALED_MAX);
        }
    }
    if (sb->wrapped_key.len != STREAM_WRAPPED_KEY_SIZE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "stream batch with a %zu-byte wrapped key; it "
                           "has %u",
                           sb->wrapped_key.len, STREAM_WRAPPED_KEY_SIZE);
    }
    if (sb->n_prefix_proof > MERKLE_CONSISTENCY_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "stream batch with a prefix proof of %zu hashes; "
                           "one has at most %u",
                           sb->n_prefix_proof, MERKLE_CONSISTENCY_MAX);
    }
    for (size_t i = 0; i < sb->n_prefix_proof; i++) {
        if (sb->prefix_proof[i].len != MERKLE_HASH_SIZE) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                               "stream batch prefix proof hash %zu has %zu "
                               "bytes, not %u",
                               i, sb->prefix_proof[i].len, MERKLE_HASH_SIZE);
        }
    }
    if (sb->height > node->height) {
        ns_hold(node, peer, sb);
        return 0;
    }
    ns_receive_queue(node, NULL, peer, sb);
    return 0;
}

/* ---- serving BatchRequests (owner) --------------------------------------- */

static void ns_refuse_request(struct node *node, uint64_t peer,
                              const uint8_t *xid, uint64_t seq, int code,
                              const char *reason)
{
    Tdei__P2p__DataMessage msg = TDEI__P2P__DATA_MESSAGE__INIT;
    Tdei__P2p__BatchRefused ref = TDEI__P2P__BATCH_REFUSED__INIT;
    char hex[TDEI_HEX_SIZE(8)];

    ref.exchange.data = (uint8_t *)(uintptr_t)xid;
    ref.exchange.len = CODEC_HASH_SIZE;
    ref.seq = seq;
    ref.code = (uint32_t)code;
    ref.reason = (char *)(uintptr_t)reason;
    msg.msg_case = TDEI__P2P__DATA_MESSAGE__MSG_BATCH_REFUSED;
    msg.batch_refused = &ref;
    TDEI_LOG(TDEI_LOG_NOTICE, "stream", "batch request refused",
             "exchange=%s from_seq=%" PRIu64 " code=%s reason=\"%s\"",
             ns_xid_hex(hex, xid), seq, tdei_errname(code), reason);
    (void)node__plane_send(node, peer, &msg);
}

/* The charge of @xid by batch @b, or NULL when it charged no such exchange. */
static const struct rstore_charge *ns_charge_find(const struct rstore_batch *b,
                                                  const uint8_t *xid)
{
    for (size_t i = 0; i < b->n_charges; i++) {
        if (memcmp(b->charges[i].xid, xid, CODEC_HASH_SIZE) == 0) {
            return &b->charges[i];
        }
    }
    return NULL;
}

/* Send stored batch @b to @peer for subscription @xid. Returns its sealed
 * bytes, or 0 when it could not be sent. */
static size_t ns_send_stored(struct node *node, uint64_t peer,
                             const struct rstore_batch *b, const uint8_t *xid,
                             ProtobufCBinaryData *recs)
{
    const struct rstore_charge *charge = ns_charge_find(b, xid);
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *blob = NULL;
    size_t n = 0;
    size_t bytes = 0;
    int rc =
        rstore_batch_records(node->streams->rs, b->stream, b->seq_first, &blob,
                             recs, STREAM_BATCH_RECORDS_MAX, &n, errmsg);

    if (rc != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "stream", "cannot read a stored batch",
                 "stream=%s seq_first=%" PRIu64 " error=\"%s\"", b->stream,
                 b->seq_first, errmsg);
        return 0;
    }
    rc = ns_batch_send(node, peer, b, b->height, xid,
                       charge != NULL ? charge->paid : 0, recs, n, &bytes);
    tdei_free(blob);
    if (rc != 0) {
        return 0;
    }
    return bytes == 0 ? 1 : bytes;
}

static int ns_on_request(struct node *node, uint64_t peer,
                         const Tdei__P2p__BatchRequest *req, char *errmsg)
{
    uint8_t key[TDEI_PUBKEY_SIZE];
    char member[TDEI_MEMBER_ID_MAX + 1] = "";
    char why[TDEI_ERRMSG_SIZE] = "";
    struct store_read *r = NULL;
    Tdei__Exchange *ex = NULL;
    Tdei__Dataset *ds = NULL;
    ProtobufCBinaryData *recs = NULL;
    uint64_t seq = req->from_seq;
    size_t sent = 0;
    size_t bytes = 0;
    size_t scanned = 0;
    int rc;

    if (req->exchange.len != CODEC_HASH_SIZE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "batch request with a %zu-byte exchange id; it "
                           "has %u",
                           req->exchange.len, CODEC_HASH_SIZE);
    }
    if (!node__plane_peer_key(node, peer, key)) {
        return 0; /* gone meanwhile */
    }
    rc = ns_read_begin(node, &r, why);
    if (rc == 0) {
        rc = node__plane_member_of(r, key, member, why);
    }
    if (rc == 0) {
        rc = node__plane_exchange(r, req->exchange.data, &ex, why);
        if (rc == TDEI_NOTFOUND) {
            rc = tdei_errorf(why, TDEI_ERRMSG_SIZE, TDEI_UNKNOWN_EXCHANGE,
                             "no such exchange on the ledger");
        }
    }
    if (rc == 0 && strcmp(ex->consumer, member) != 0) {
        rc = tdei_errorf(why, TDEI_ERRMSG_SIZE, TDEI_NOT_PARTY,
                         "the exchange's consumer is %s; %s asked",
                         ex->consumer, member);
    } else if (rc == 0 && ex->kind != CODEC_KIND_STREAM) {
        rc = tdei_errorf(why, TDEI_ERRMSG_SIZE, TDEI_NOT_PARTY,
                         "the exchange is for dataset %s, not a stream",
                         ex->dataset);
    } else if (rc == 0 && ex->status == CODEC_EXCHANGE_REVOKED) {
        rc = tdei_errorf(why, TDEI_ERRMSG_SIZE, TDEI_NO_GRANT,
                         "the grant was revoked at height %" PRIu64
                         "; no batch is served for it",
                         ex->closed_height);
    }
    if (rc == 0) {
        rc = ns_dataset_get(r, ex->dataset, &ds, why);
    }
    if (rc == 0 && strcmp(ds->owner, node->identity.member) != 0) {
        rc = tdei_errorf(why, TDEI_ERRMSG_SIZE, TDEI_NOT_OWNER,
                         "stream %s is %s's now; ask that member's node",
                         ex->dataset, ds->owner);
    }
    if (r != NULL) {
        store_read_end(r);
    }
    if (rc == 0) {
        recs = tdei_calloc(STREAM_BATCH_RECORDS_MAX, sizeof(*recs));
        if (recs == NULL) {
            rc = tdei_errorf(why, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                             "no memory now; ask again later");
        }
    }
    /* Up to NS_ANSWER_BATCHES applied batches that charged it, looking at
     * NS_SCAN_BATCHES_MAX stored batches at most. */
    while (rc == 0 && sent < NS_ANSWER_BATCHES && bytes < NS_ANSWER_BYTES &&
           scanned < NS_SCAN_BATCHES_MAX) {
        struct rstore_batch b;
        size_t one;

        scanned++;

        rc = rstore_batch_at(node->streams->rs, ex->dataset, seq, &b, why);
        if (rc != 0) {
            break;
        }
        seq = b.seq_first + b.count;
        if (b.state == RSTORE_APPLIED &&
            ns_charge_find(&b, req->exchange.data) != NULL) {
            one = ns_send_stored(node, peer, &b, req->exchange.data, recs);
            if (one == 0) {
                sodium_memzero(b.key, sizeof(b.key));
                break;
            }
            bytes += one;
            sent++;
        }
        sodium_memzero(b.key, sizeof(b.key));
    }
    if (rc == TDEI_NOTFOUND && sent > 0) {
        rc = 0;
    }
    if (rc == TDEI_NOTFOUND) {
        (void)tdei_errorf(why, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                          "no stored batch from seq %" PRIu64
                          " was paid by this exchange",
                          req->from_seq);
    }
    if (rc != 0) {
        ns_refuse_request(node, peer, req->exchange.data, req->from_seq, rc,
                          why);
    }
    tdei_free(recs);
    codec_dataset_free(ds);
    codec_exchange_free(ex);
    return 0;
}

static int ns_on_refused(struct node *node, const Tdei__P2p__BatchRefused *m,
                         char *errmsg)
{
    struct ns_sub *sub;
    char hex[TDEI_HEX_SIZE(8)];

    if (m->exchange.len != CODEC_HASH_SIZE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "batch refusal with a %zu-byte exchange id; it "
                           "has %u",
                           m->exchange.len, CODEC_HASH_SIZE);
    }
    sub = ns_sub_find(node->streams, m->exchange.data);
    TDEI_LOG(TDEI_LOG_WARNING, "stream",
             "owner's node refused to send "
             "batches",
             "exchange=%s seq=%" PRIu64 " code=%s reason=\"%s\"",
             ns_xid_hex(hex, m->exchange.data), m->seq,
             tdei_errname((int)m->code), m->reason);
    if (sub != NULL) {
        sub->asked_ms = ns_now(node); /* the next try waits NS_ASK_MS */
        /* What no later ask can change: the grant is gone, or this
         * member is not the consumer. */
        sub->refused = m->code == TDEI_NO_GRANT || m->code == TDEI_NOT_PARTY ||
                       m->code == TDEI_UNKNOWN_EXCHANGE;
    }
    return 0;
}

/* ---- restart ------------------------------------------------------------- */

/* Pending batches found at start, to resolve once everything is open. */
struct ns_pending
{
    struct rstore_batch *items;
    size_t n;
    size_t cap;
};

static int ns_pending_cb(void *arg, const struct rstore_batch *b)
{
    struct ns_pending *p = arg;

    if (p->n == p->cap) {
        size_t cap = p->cap == 0 ? 8 : p->cap * 2;
        struct rstore_batch *items = tdei_calloc(cap, sizeof(*items));
        if (items == NULL) {
            return TDEI_NOMEM;
        }
        if (p->n > 0) {
            memcpy(items, p->items, p->n * sizeof(*items));
            sodium_memzero(p->items, p->n * sizeof(*items));
        }
        tdei_free(p->items);
        p->items = items;
        p->cap = cap;
    }
    p->items[p->n++] = *b;
    return 0;
}

/* Take up pending batch @hdr after a restart: its append may have been
 * applied, refused, or never committed. */
static void ns_resume_batch(struct node *node, const struct rstore_batch *hdr)
{
    struct ns_stream *st;
    struct ns_batch *b;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct store_read *r = NULL;
    Tdei__Stream *s = NULL;
    uint8_t *blob = NULL;
    size_t n = 0;
    int rc;

    rc = ns_stream_open(node, hdr->stream, &st, errmsg);
    b = rc == 0 ? tdei_calloc(1, sizeof(*b)) : NULL;
    if (b != NULL) {
        b->sealed_recs =
            tdei_calloc(STREAM_BATCH_RECORDS_MAX, sizeof(*b->sealed_recs));
    }
    if (st == NULL || b == NULL || b->sealed_recs == NULL) {
        ns_batch_free(b);
        TDEI_LOG(TDEI_LOG_WARNING, "stream",
                 "cannot take up a pending "
                 "batch",
                 "stream=%s seq_first=%" PRIu64 " error=\"%s\"", hdr->stream,
                 hdr->seq_first, errmsg);
        return;
    }
    b->st = st;
    b->hdr = *hdr;
    rc = rstore_batch_records(node->streams->rs, hdr->stream, hdr->seq_first,
                              &blob, b->sealed_recs, STREAM_BATCH_RECORDS_MAX,
                              &n, errmsg);
    b->sealed = blob;
    if (rc == 0 && n != hdr->count) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                         "%zu records stored for a count of %" PRIu64, n,
                         hdr->count);
    }
    if (rc == 0) {
        rc = ns_read_begin(node, &r, errmsg);
    }
    if (rc == 0) {
        rc = ns_stream_get(r, hdr->stream, &s, errmsg);
        store_read_end(r);
    }
    st->inflight = b;
    if (rc == 0 && s->next_seq == hdr->seq_first &&
        s->status == CODEC_STREAM_OPEN) {
        /* Not appended: append it now. */
        TDEI_LOG(TDEI_LOG_NOTICE, "stream",
                 "appending a batch stored "
                 "before the restart",
                 "stream=%s seq_first=%" PRIu64 " records=%" PRIu64,
                 hdr->stream, hdr->seq_first, hdr->count);
        ns_submit(node, b);
    } else if (rc == 0 && ns_applied_before(node, b)) {
        st->inflight = NULL;
        ns_batch_free(b);
    } else {
        int why = rc != 0 ? rc : TDEI_STREAM_SEQ;
        const char *reason = "the stream moved on past this batch while "
                             "the node was down";

        if (rc != 0) {
            reason = errmsg;
        } else if (s->status != CODEC_STREAM_OPEN) {
            why = TDEI_STREAM_STATE;
            reason = "the stream was closed while the node was down";
        }
        ns_refuse_records(node, hdr->stream, hdr->seq_first, hdr->count, why,
                          reason);
        st->inflight = NULL;
        ns_batch_free(b);
    }
    codec_stream_free(s);
}

static int ns_owed_cb(void *arg, const struct rstore_expect *e)
{
    struct node *node = arg;
    uint64_t now = ns_now(node);

    struct ns_sub *sub;

    /* Owed from before the restart: ask at the first chance. */
    ns_sub_owed(node, e->xid, e->stream, e->owner, e->seq_first, now);
    sub = ns_sub_find(node->streams, e->xid);
    if (sub != NULL) {
        sub->owed_ms = 0;
        memset(sub->learned, 0, sizeof(sub->learned));
    }
    return 0;
}

/* Take up a record kept in the queue before the restart: it goes back to
 * its stream's queue, after the records before it. */
struct ns_queued
{
    struct node *node;
    char *errmsg; /* why the walk stopped */
};

static int ns_queued_cb(void *arg, const char *stream,
                        const struct rstore_queued *q)
{
    struct ns_queued *walk = arg;
    struct node *node = walk->node;
    char *errmsg = walk->errmsg;
    struct node_streams *ns = node->streams;
    struct ns_stream *st = NULL;
    struct ns_rec *rec;
    int rc = ns_stream_open(node, stream, &st, errmsg);

    if (rc != 0) {
        return rc;
    }
    rec = tdei_malloc(sizeof(*rec) + q->len);
    if (rec == NULL || ns_queue_reserve(st, 1) != 0) {
        tdei_free(rec);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for the queued records of %s", stream);
    }
    rec->qseq = q->qseq;
    rec->ts_ms = q->ts_ms;
    rec->queued_ms = ns_now(node);
    rec->len = q->len;
    memcpy(rec->data, q->data, q->len);
    st->q[(st->q_head + st->q_count) % st->q_cap] = rec;
    st->q_count++;
    st->q_bytes += q->len;
    st->qseq_next = q->qseq + 1;
    if (q->ts_ms > st->last_ts) {
        st->last_ts = q->ts_ms;
    }
    ns->queued++;
    ns->queued_bytes += q->len;
    return 0;
}

/* ---- the interface of node_plane.h --------------------------------------- */

int node__stream_start(struct node *node, char *errmsg)
{
    struct node_streams *ns;
    struct ns_pending pending = {0};
    char path[HOME_PATH_MAX];
    int rc;

    ns = tdei_calloc(1, sizeof(*ns));
    if (ns == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for the stream side");
    }
    ns->jobs_tail = &ns->jobs;
    node->streams = ns;
    if (home_path(path, node->home, "data/streams") != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "home path is too long");
    }
    rc = rstore_open(&ns->rs, path, errmsg);
    if (rc == 0) {
        rc = rstore_pending_each(ns->rs, ns_pending_cb, &pending, errmsg);
    }
    if (rc == 0) {
        rc = rstore_expect_each_first(ns->rs, ns_owed_cb, node, errmsg);
    }
    for (size_t i = 0; rc == 0 && i < pending.n; i++) {
        ns_resume_batch(node, &pending.items[i]);
    }
    /* After the batches in flight: the records kept and not cut yet. */
    if (rc == 0) {
        struct ns_queued walk = {.node = node, .errmsg = errmsg};

        rc = rstore_queue_each(ns->rs, ns_queued_cb, &walk, errmsg);
    }
    if (rc == 0 && ns->queued > 0) {
        TDEI_LOG(TDEI_LOG_NOTICE, "stream",
                 "records taken before the restart are queued again",
                 "records=%" PRIu64, ns->queued);
    }
    if (pending.items != NULL) {
        sodium_memzero(pending.items, pending.cap * sizeof(*pending.items));
    }
    tdei_free(pending.items);
    return rc;
}

void node__stream_stop(struct node *node)
{
    struct node_streams *ns = node->streams;

    if (ns == NULL) {
        return;
    }
    while (ns->waiter_count > 0) {
        api_call_respond_error(ns->waiters[0]->call, TDEI_CANCELED,
                               "the node is stopping; read again after it "
                               "restarts");
        ns_waiter_remove(ns, 0);
    }
    if (ns->queued > 0) {
        TDEI_LOG(TDEI_LOG_NOTICE, "stream",
                 "stopping with records not batched; the stream store "
                 "keeps them and they are batched after the restart",
                 "records=%" PRIu64, ns->queued);
    }
}

void node__stream_free(struct node *node)
{
    struct node_streams *ns = node->streams;

    if (ns == NULL) {
        return;
    }
    TDEI_ASSERT(!ns->running);
    while (ns->jobs != NULL) {
        struct ns_job *job = ns->jobs;
        ns->jobs = job->next;
        ns_job_free(job);
    }
    for (size_t i = 0; i < ns->stream_count; i++) {
        struct ns_stream *st = ns->streams[i];

        while (st->q_count > 0) {
            tdei_free(st->q[st->q_head]);
            st->q_head = (st->q_head + 1) % st->q_cap;
            st->q_count--;
        }
        tdei_free(st->q);
        ns_batch_free(st->inflight);
        tdei_free(st);
    }
    for (size_t i = 0; i < ns->sub_count; i++) {
        tdei_free(ns->subs[i]);
    }
    for (size_t i = 0; i < ns->waiter_count; i++) {
        tdei_free(ns->waiters[i]);
    }
    for (size_t i = 0; i < ns->held_count; i++) {
        codec_message_free(&ns->held[i].msg->base);
    }
    rstore_close(ns->rs);
    tdei_free(ns);
    node->streams = NULL;
}

void node__stream_committed(struct node *node, struct store_read *r)
{
    struct ns_walk w = {.node = node, .r = r};
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    if (node->streams == NULL) {
        return;
    }
    rc = node__plane_block_txs(node, r, node->height, ns_walk_cb, &w, errmsg);
    if (rc != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "stream", "cannot walk a committed block",
                 "height=%" PRIu64 " error=\"%s\"", node->height, errmsg);
    }
    ns_held_release(node, r);
}

void node__stream_tick(struct node *node)
{
    struct node_streams *ns = node->streams;
    uint64_t now;

    if (ns == NULL || node->stopping) {
        return;
    }
    now = ns_now(node);
    for (size_t i = 0; i < ns->stream_count; i++) {
        struct ns_stream *st = ns->streams[i];

        if (st->inflight != NULL && st->inflight->stage == NS_SUBMIT) {
            if (now >= st->inflight->retry_ms) {
                ns_submit(node, st->inflight);
            }
        } else {
            ns_cut_maybe(node, st, now);
        }
    }
    ns_waiters_expire(node, now);
    if (now - ns->checked_ms >= NS_CHECK_MS) {
        ns->checked_ms = now;
        ns_subs_check(node, now, 0, NULL);
    }
}

void node__stream_peer_up(struct node *node, uint64_t peer,
                          const uint8_t key[TDEI_PUBKEY_SIZE])
{
    (void)peer;
    if (node->streams == NULL || node->stopping) {
        return;
    }
    ns_subs_check(node, ns_now(node), 1, key);
}

void node__stream_peer_down(struct node *node, uint64_t peer)
{
    (void)node;
    (void)peer;
}

int node__stream_receive(struct node *node, uint64_t peer,
                         const Tdei__P2p__DataMessage *msg, char *errmsg)
{
    if (node->streams == NULL || node->stopping) {
        return 0;
    }
    switch (msg->msg_case) {
    case TDEI__P2P__DATA_MESSAGE__MSG_BATCH:
        return ns_on_batch(node, peer, msg->batch, errmsg);
    case TDEI__P2P__DATA_MESSAGE__MSG_BATCH_REQUEST:
        return ns_on_request(node, peer, msg->batch_request, errmsg);
    case TDEI__P2P__DATA_MESSAGE__MSG_BATCH_REFUSED:
        return ns_on_refused(node, msg->batch_refused, errmsg);
    default:
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "data message %d is not a stream message",
                           (int)msg->msg_case);
    }
}

void node__stream_request(struct node *node, struct api_call *call,
                          const Tdei__Api__Request *req)
{
    if (node->streams == NULL || node->stopping) {
        api_call_respond_error(call, TDEI_CANCELED,
                               "the node is stopping; try again after it "
                               "restarts");
        return;
    }
    switch (req->req_case) {
    case TDEI__API__REQUEST__REQ_INGEST:
        ns_ingest(node, call, req->ingest);
        return;
    case TDEI__API__REQUEST__REQ_READ_STREAM:
        ns_read_stream(node, call, req->read_stream);
        return;
    case TDEI__API__REQUEST__REQ_GET_STREAM_STATE:
        ns_state(node, call, req->get_stream_state);
        return;
    default:
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "request type %d is not a stream request",
                               (int)req->req_case);
        return;
    }
}

int node__stream_cancel(struct node *node, struct api_call *call)
{
    struct node_streams *ns = node->streams;

    if (ns == NULL) {
        return 0;
    }
    for (size_t i = 0; i < ns->waiter_count; i++) {
        if (ns->waiters[i]->call == call) {
            api_call_respond_error(call, TDEI_CANCELED, "client left");
            ns_waiter_remove(ns, i);
            return 1;
        }
    }
    return 0;
}
