/* The payload side of the data plane (node_plane.h, DESIGN.md section 9):
 *
 *   - import: ImportPayload cuts a file into sealed chunks in DATA/blobs
 *     and keeps its content key there (blob.h);
 *   - delivery (owner's node): an exchange of this member's entry that
 *     becomes approved is delivered on its own (the content key, or for a
 *     stream the subscription key, sealed to the consumer), unless the
 *     entry is set to manual delivery; DeliverNow does the same by hand;
 *   - transfers (consumer's node): once a dataset exchange of this member
 *     is delivered, its chunks are pulled from the owner's node, at most
 *     payload.parallel asked and not stored, each checked against the
 *     ledger's content root before it is stored, asked again after
 *     payload.request_timeout_ms; transfers resume after a restart (the
 *     blobs store lists them) and when the owner's node comes back;
 *   - serving (owner's node): a ChunkRequest is checked against the
 *     committed state at that moment (the asking node's member is the
 *     consumer and holds a live grant), so a revocation bites at once;
 *   - fetch: FetchPayload waits for the chunks, unseals the content key
 *     and writes the plaintext (blob_export_file).
 *
 * Threads: everything here runs on the loop thread except the blob store
 * calls, which run on workers one at a time, in the order they were
 * queued (the store is single-threaded): a FIFO of jobs (struct pl_job),
 * the next one started when the one before has come back.
 *
 * Memory: every list has a cap (PL_* below): transfers, missing indexes
 * read at once, chunks held per transfer (payload.parallel), queued jobs,
 * held API calls, deliveries waiting. A cap that is reached refuses with
 * TDEI_BUSY, or (for work the node finds by itself) is logged.
 *
 * Test hook: with TDEI_TEST_FLIP_CHUNK=N in the environment, the node
 * flips one bit of chunk N (of any payload) the first time it serves it,
 * so that a test can show a consumer's node catching a chunk that fails
 * its proof. The node logs a warning at start when the hook is on. */
#include "api/api.h"
#include "blob/blob.h"
#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/log.h"
#include "node_plane.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_TIMER_MS 50u          /* transfers, retries, deadlines */
#define PL_QUEUE_MAX 4096u       /* blob jobs waiting for the worker */
#define PL_SERVES_MAX 256u       /* of them chunk requests being served */
#define PL_IMPORTS_MAX 4u        /* of them imports */
#define PL_TRANSFERS_MAX 64u     /* transfers this node pulls at once */
#define PL_WANT_CAP 512u         /* missing indexes read at once */
#define PL_REQ_MAX 16u           /* indexes per ChunkRequest (p2p.proto) */
#define PL_RETRY_MS 5000u        /* a refused transfer asks again after */
#define PL_RETRY_SOON_MS 500u    /* ... when the owner's node was behind */
#define PL_HELD_MAX 256u         /* fetch calls held at once */
#define PL_DELIVERIES_MAX 4096u  /* deliveries waiting or in flight */
#define PL_RETRY_MAX 64u         /* failed automatic deliveries kept */
#define PL_PATH_MAX 4096u        /* bytes of a path in a request */
#define PL_FETCH_WAIT_MS 300000u /* FetchPayload.timeout_ms 0 */
#define PL_FETCH_WAIT_MAX_MS 3600000u
#define PL_REASON_MAX 200u /* bytes of a peer's refusal kept */
#define PL_PEER_TICKS 20u  /* timer ticks between peer lookups */
#define PL_FLIP_ENV "TDEI_TEST_FLIP_CHUNK"

_Static_assert(PL_WANT_CAP > 256u, "more than payload.parallel at most, so "
                                   "a refill always finds a chunk to ask");
_Static_assert(PL_REQ_MAX <= BLOB_PUT_MAX, "one put holds a window");
_Static_assert(BLOB_XID_SIZE == CODEC_HASH_SIZE, "exchange ids");

/* ---- state --------------------------------------------------------------- */

enum pl_job_kind {
    PL_JOB_IMPORT = 1, /* ImportPayload */
    PL_JOB_EXPECT,     /* a transfer starts: manifest, record, missing */
    PL_JOB_MISSING,    /* a transfer reads more missing indexes */
    PL_JOB_PUT,        /* a transfer stores what arrived */
    PL_JOB_SERVE,      /* read chunks for a ChunkRequest */
    PL_JOB_DELIVER,    /* read the delivery setting and the content key */
    PL_JOB_EXPORT,     /* FetchPayload: decrypt and write */
    PL_JOB_INFO,       /* GetPayloadState */
    PL_JOB_SETTING     /* SetDelivery */
};

enum pl_slot_state {
    PL_SLOT_FREE = 0,
    PL_SLOT_ASKED,    /* asked of the owner's node, not answered */
    PL_SLOT_RECEIVED, /* its ChunkData arrived; waits for a put */
    PL_SLOT_STORING   /* in the put on the worker */
};

/* One chunk of a transfer between its ask and its store. */
struct pl_slot
{
    enum pl_slot_state state;
    uint64_t index;
    uint64_t asked_ms; /* uv_now of the last ask; 0: ask now */
    uint8_t *sealed;   /* RECEIVED, STORING: the chunk */
    size_t len;
    struct merkle_inclusion proof; /* RECEIVED, STORING */
};

enum pl_transfer_state {
    PL_T_OPENING = 0, /* the EXPECT job is queued */
    PL_T_RUNNING,     /* pulling */
    PL_T_COMPLETE,    /* every chunk is stored */
    PL_T_FAILED       /* the store refused it (last_error says why) */
};

/* A payload this node pulls (or pulled) for an exchange of its member. */
struct pl_transfer
{
    struct pl_transfer *next;
    uint8_t xid[CODEC_HASH_SIZE]; /* the exchange */
    uint8_t root[BLOB_ROOT_SIZE]; /* its delivered content root */
    char dataset[CODEC_DATASET_ID_MAX + 1];
    uint32_t version;
    uint64_t size;                      /* plaintext bytes */
    uint64_t count;                     /* chunks */
    char owner[TDEI_MEMBER_ID_MAX + 1]; /* whose node is asked */
    uint64_t peer;                      /* its ready peer; 0: none */
    enum pl_transfer_state state;
    uint64_t present;           /* chunks stored (last read) */
    uint64_t want[PL_WANT_CAP]; /* missing, not yet asked */
    size_t want_n;
    size_t want_at;        /* the next one to ask */
    int refill;            /* a MISSING job is queued */
    int put_queued;        /* a PUT job is queued or runs */
    struct pl_slot *slots; /* payload.parallel of them */
    size_t slot_count;
    int refused;        /* a ChunkRefused stopped it */
    uint64_t retry_ms;  /* ... until uv_now reaches this */
    uint64_t fetched;   /* chunks received and stored */
    uint64_t refetched; /* chunks that failed the check */
    uint32_t last_code; /* the last refusal or failure */
    char last_error[TDEI_ERRMSG_SIZE];
    int jobs;            /* jobs that point at it */
    uint64_t started_ms; /* uv_now of the first ask */
};

/* A FetchPayload call waiting for its transfer. */
struct pl_fetch
{
    struct pl_fetch *next;
    struct api_call *call; /* NULL once answered or gone */
    uint8_t xid[CODEC_HASH_SIZE];
    uint8_t root[BLOB_ROOT_SIZE];
    uint8_t sealed_key[CODEC_SEALED_KEY_SIZE];
    char *out_path;
    uint64_t deadline_ms; /* uv_now */
    int exporting;        /* an EXPORT job has it */
};

/* A delivery this node makes: waiting for its DELIVER job, then for its
 * own tx. One per exchange at a time. */
struct pl_delivery
{
    struct pl_delivery *next;
    uint8_t xid[CODEC_HASH_SIZE];
    struct api_call *call; /* DeliverNow; NULL: automatic */
    int submitted;         /* the own tx is queued */
};

/* One blob store call on a worker. */
struct pl_job
{
    uv_work_t work;
    struct pl_job *next; /* the FIFO */
    struct node *node;
    enum pl_job_kind kind;
    struct api_call *call;        /* answered when done; NULL: none */
    struct pl_transfer *transfer; /* EXPECT, MISSING, PUT */
    struct pl_fetch *fetch;       /* EXPORT */
    struct pl_delivery *delivery; /* DELIVER */
    int rc;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t root[BLOB_ROOT_SIZE];
    uint8_t xid[CODEC_HASH_SIZE];
    char dataset[BLOB_DATASET_ID_MAX + 1];
    uint32_t version;
    uint64_t size;
    uint64_t count;
    int stream;                 /* DELIVER: a stream (no key) */
    int manual;                 /* DELIVER out, SETTING in */
    uint8_t key[BLOB_KEY_SIZE]; /* IMPORT, DELIVER out; EXPORT in */
    char *path;                 /* IMPORT, EXPORT */
    struct blob_info info;      /* EXPECT, MISSING, PUT, INFO */
    int info_rc;
    uint64_t *indexes;            /* EXPECT, MISSING: PL_WANT_CAP */
    size_t n;                     /* ... read */
    struct blob_chunk_in *chunks; /* PUT: the slots' chunks */
    struct pl_slot **slots;       /* PUT: their slots */
    size_t chunk_count;
    uint64_t peer;              /* SERVE: who asked */
    uint64_t serve[PL_REQ_MAX]; /* SERVE: the indexes */
    size_t serve_n;
    uint8_t *sealed; /* SERVE out: serve_n chunks */
    size_t lens[PL_REQ_MAX];
    struct merkle_inclusion *proofs; /* SERVE out */
    size_t served;                   /* SERVE out: chunks read */
};

struct node_payload
{
    struct blob_store *blobs; /* DATA/blobs */
    uv_timer_t timer;
    int timer_ready;
    int stopping;
    struct pl_job *head; /* queued jobs, FIFO */
    struct pl_job **tail;
    size_t queued;
    size_t serves;          /* SERVE jobs queued or running */
    size_t imports;         /* IMPORT jobs queued or running */
    struct pl_job *running; /* on the worker; NULL: none */
    struct pl_transfer *transfers;
    size_t transfer_count;
    struct pl_fetch *fetches;
    size_t fetch_count;
    struct pl_delivery *deliveries;
    size_t delivery_count;
    /* Automatic deliveries whose tx did not commit (a timeout, a stalled
     * chain): tried again after the next block while still approved. */
    uint8_t retry[PL_RETRY_MAX][CODEC_HASH_SIZE];
    size_t retry_count;
    uint64_t ticks;      /* timer ticks so far */
    int flip_on;         /* TDEI_TEST_FLIP_CHUNK is set */
    uint64_t flip_index; /* ... to this index */
};

/* ---- small helpers ------------------------------------------------------- */

/* The first 8 bytes of @bytes in hex, for logs and messages. */
static const char *pl_short(char out[TDEI_HEX_SIZE(8)], const uint8_t *bytes)
{
    return tdei_hex_encode(out, TDEI_HEX_SIZE(8), bytes, 8);
}

static int pl_is_xid(const ProtobufCBinaryData *b)
{
    return b->len == CODEC_HASH_SIZE;
}

/* The owner of entry @id now, from @r. Returns 0, TDEI_UNKNOWN_DATASET or
 * a read failure. */
static int pl_entry_owner(struct store_read *r, const char *id,
                          char owner[TDEI_MEMBER_ID_MAX + 1], char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen;
    const uint8_t *val;
    size_t vlen;
    Tdei__Dataset *d = NULL;
    int rc;

    owner[0] = '\0';
    if (!codec_dataset_id_valid(id)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "'%.70s' is not an entry id (3-64 bytes of "
                           "[a-z0-9-])",
                           id);
    }
    klen = contract_key_dataset(key, id);
    rc = store_get(r, STORE_DB_STATE, key, klen, &val, &vlen);
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_UNKNOWN_DATASET,
                           "no catalog entry %s; check the id with `tdei "
                           "catalog list`",
                           id);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc, "read entry %s: %s",
                           id, store_read_errmsg(r));
    }
    rc = codec_dataset_decode(&d, val, vlen, errmsg);
    if (rc != 0) {
        return rc;
    }
    (void)snprintf(owner, TDEI_MEMBER_ID_MAX + 1, "%s", d->owner);
    codec_dataset_free(d);
    return 0;
}

/* Whether this node's member owns the entry of @ex now. */
static int pl_owns(struct node *node, struct store_read *r,
                   const Tdei__Exchange *ex)
{
    char owner[TDEI_MEMBER_ID_MAX + 1];
    char errmsg[TDEI_ERRMSG_SIZE];

    return pl_entry_owner(r, ex->dataset, owner, errmsg) == 0 &&
           strcmp(owner, node->identity.member) == 0;
}

/* The size of version @ex->version of dataset @ex->dataset, checked
 * against the root @ex delivered. Returns 0 or a code with errmsg. */
static int pl_version_size(struct store_read *r, const Tdei__Exchange *ex,
                           uint64_t *size, char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_dsver(key, ex->dataset, ex->version);
    const uint8_t *val;
    size_t vlen;
    Tdei__DatasetVersion *v = NULL;
    int rc = store_get(r, STORE_DB_STATE, key, klen, &val, &vlen);

    if (rc != 0) {
        return tdei_errorf(
            errmsg, TDEI_ERRMSG_SIZE, rc == TDEI_NOTFOUND ? TDEI_CORRUPT : rc,
            "read version %" PRIu64 " of %s: %s", ex->version, ex->dataset,
            rc == TDEI_NOTFOUND ? "missing" : store_read_errmsg(r));
    }
    rc = codec_dataset_version_decode(&v, val, vlen, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (ex->delivered_root.len != BLOB_ROOT_SIZE ||
        memcmp(v->content_root.data, ex->delivered_root.data, BLOB_ROOT_SIZE) !=
            0 ||
        v->size > BLOB_SIZE_MAX) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                         "version %" PRIu64 " of %s does not match the "
                         "delivered root, or is over %llu bytes",
                         ex->version, ex->dataset, BLOB_SIZE_MAX);
    } else {
        *size = v->size;
    }
    codec_dataset_version_free(v);
    return rc;
}

/* Keep a peer's refusal text: printable ASCII, at most PL_REASON_MAX
 * bytes. */
static void pl_reason_copy(char *out, size_t size, const char *in)
{
    size_t n = 0;

    for (size_t i = 0;
         in != NULL && in[i] != '\0' && i < PL_REASON_MAX && n + 1 < size;
         i++) {
        out[n++] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
    }
    out[n] = '\0';
}

/* ---- the job queue ------------------------------------------------------- */

static void pl_next(struct node *node);
static void pl_after_cb(uv_work_t *work, int status);

static struct pl_job *pl_job_new(struct node *node, enum pl_job_kind kind)
{
    struct pl_job *job = tdei_calloc(1, sizeof(*job));

    if (job != NULL) {
        job->node = node;
        job->kind = kind;
        job->work.data = job;
    }
    return job;
}

static void pl_job_free(struct pl_job *job)
{
    if (job == NULL) {
        return;
    }
    sodium_memzero(job->key, sizeof(job->key));
    tdei_free(job->path);
    tdei_free(job->indexes);
    tdei_free(job->chunks);
    tdei_free(job->slots);
    tdei_free(job->sealed);
    tdei_free(job->proofs);
    tdei_free(job);
}

/* Queue @job (ownership moves on 0). Returns 0 or TDEI_BUSY. */
static int pl_job_queue(struct node *node, struct pl_job *job)
{
    struct node_payload *pl = node->payload;

    if (pl->queued >= PL_QUEUE_MAX) {
        return TDEI_BUSY;
    }
    if (job->transfer != NULL) {
        job->transfer->jobs++;
    }
    if (job->kind == PL_JOB_SERVE) {
        pl->serves++;
    } else if (job->kind == PL_JOB_IMPORT) {
        pl->imports++;
    }
    *pl->tail = job;
    pl->tail = &job->next;
    pl->queued++;
    pl_next(node);
    return 0;
}

/* What a job leaves behind on the loop thread, before its own after. */
static void pl_job_release(struct node *node, struct pl_job *job)
{
    struct node_payload *pl = node->payload;

    if (job->transfer != NULL) {
        TDEI_ASSERT(job->transfer->jobs > 0);
        job->transfer->jobs--;
    }
    if (job->kind == PL_JOB_SERVE) {
        pl->serves--;
    } else if (job->kind == PL_JOB_IMPORT) {
        pl->imports--;
    }
}

/* ---- worker side (no loop state is touched here) ------------------------- */

static void pl_work_expect(struct blob_store *b, struct pl_job *job)
{
    job->rc = blob_expect(b, job->root, job->dataset, job->version, job->size,
                          job->count, job->errmsg);
    if (job->rc == 0) {
        job->info_rc = blob_info(b, job->root, &job->info);
        job->rc = job->info_rc;
    }
    if (job->rc == 0 && job->info.state == BLOB_STATE_COMPLETE) {
        job->rc = blob_transfer_del(b, job->root, job->errmsg);
        return;
    }
    if (job->rc == 0) {
        job->rc = blob_transfer_put(b, job->root, job->xid, job->errmsg);
    }
    if (job->rc == 0) {
        job->rc = blob_missing(b, job->root, job->indexes, PL_WANT_CAP, &job->n,
                               job->errmsg);
    }
}

static void pl_work_missing(struct blob_store *b, struct pl_job *job)
{
    job->rc = blob_missing(b, job->root, job->indexes, PL_WANT_CAP, &job->n,
                           job->errmsg);
    if (job->rc == 0) {
        job->info_rc = blob_info(b, job->root, &job->info);
        job->rc = job->info_rc;
    }
}

static void pl_work_put(struct blob_store *b, struct pl_job *job)
{
    job->rc = blob_put_chunks(b, job->root, job->chunks, job->chunk_count,
                              job->errmsg);
    if (job->rc == 0) {
        job->info_rc = blob_info(b, job->root, &job->info);
        job->rc = job->info_rc;
    }
    if (job->rc == 0 && job->info.state == BLOB_STATE_COMPLETE) {
        /* Nothing left to resume; a failure here only costs a resume that
         * finds the blob complete. */
        char ignored[TDEI_ERRMSG_SIZE];
        (void)blob_transfer_del(b, job->root, ignored);
    }
}

static void pl_work_serve(struct blob_store *b, struct pl_job *job)
{
    job->sealed = tdei_malloc(job->serve_n * BLOB_SEALED_SIZE_MAX);
    job->proofs = tdei_calloc(job->serve_n, sizeof(*job->proofs));
    if (job->sealed == NULL || job->proofs == NULL) {
        job->rc = tdei_errorf(job->errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                              "no memory to serve %zu chunks", job->serve_n);
        return;
    }
    for (job->served = 0; job->served < job->serve_n; job->served++) {
        size_t i = job->served;
        job->rc = blob_get_chunk(b, job->root, job->serve[i],
                                 job->sealed + i * BLOB_SEALED_SIZE_MAX,
                                 &job->lens[i], &job->proofs[i], job->errmsg);
        if (job->rc != 0) {
            return;
        }
    }
}

static void pl_work_deliver(struct blob_store *b, struct pl_job *job)
{
    job->rc = blob_delivery_get(b, job->dataset, &job->manual, job->errmsg);
    if (job->rc == 0 && !job->stream) {
        job->rc = blob_key_get(b, job->root, job->key, job->errmsg);
    }
}

static void pl_work_cb(uv_work_t *work)
{
    struct pl_job *job = work->data;
    struct blob_store *b = job->node->payload->blobs;

    switch (job->kind) {
    case PL_JOB_IMPORT:
        job->rc =
            blob_import_file(b, job->path, job->dataset, job->version, job->key,
                             job->root, &job->size, &job->count, job->errmsg);
        break;
    case PL_JOB_EXPECT:
        pl_work_expect(b, job);
        break;
    case PL_JOB_MISSING:
        pl_work_missing(b, job);
        break;
    case PL_JOB_PUT:
        pl_work_put(b, job);
        break;
    case PL_JOB_SERVE:
        pl_work_serve(b, job);
        break;
    case PL_JOB_DELIVER:
        pl_work_deliver(b, job);
        break;
    case PL_JOB_EXPORT:
        job->rc =
            blob_export_file(b, job->root, job->key, job->path, job->errmsg);
        sodium_memzero(job->key, sizeof(job->key));
        break;
    case PL_JOB_INFO:
        job->info_rc = blob_info(b, job->root, &job->info);
        break;
    case PL_JOB_SETTING:
        job->rc = blob_delivery_set(b, job->dataset, job->manual, job->errmsg);
        break;
    }
}

/* ---- consumer: transfers ------------------------------------------------- */

static void pl_fetch_export(struct node *node, struct pl_fetch *f);

static struct pl_transfer *pl_transfer_find(struct node_payload *pl,
                                            const uint8_t *xid)
{
    for (struct pl_transfer *t = pl->transfers; t != NULL; t = t->next) {
        if (memcmp(t->xid, xid, CODEC_HASH_SIZE) == 0) {
            return t;
        }
    }
    return NULL;
}

static struct pl_transfer *pl_transfer_by_root(struct node_payload *pl,
                                               const uint8_t *root)
{
    for (struct pl_transfer *t = pl->transfers; t != NULL; t = t->next) {
        if (memcmp(t->root, root, BLOB_ROOT_SIZE) == 0) {
            return t;
        }
    }
    return NULL;
}

/* Free slot @s for another chunk; its buffer stays for the next one. */
static void pl_slot_reset(struct pl_slot *s)
{
    s->state = PL_SLOT_FREE;
    s->index = 0;
    s->asked_ms = 0;
    s->len = 0;
}

/* Free slot @s and its buffer (the transfer is done or goes away). */
static void pl_slot_clear(struct pl_slot *s)
{
    tdei_free(s->sealed);
    memset(s, 0, sizeof(*s));
}

/* Unlink and free @t, which no job and no fetch holds. */
static void pl_transfer_free(struct node_payload *pl, struct pl_transfer *t)
{
    struct pl_transfer **link = &pl->transfers;

    TDEI_ASSERT(t->jobs == 0);
    while (*link != t) {
        link = &(*link)->next;
    }
    *link = t->next;
    pl->transfer_count--;
    for (size_t i = 0; i < t->slot_count; i++) {
        pl_slot_clear(&t->slots[i]);
    }
    tdei_free(t->slots);
    tdei_free(t);
}

/* Make room for one more transfer: drop a finished one nobody holds.
 * Returns 0 or TDEI_BUSY. */
static int pl_transfer_room(struct node_payload *pl)
{
    if (pl->transfer_count < PL_TRANSFERS_MAX) {
        return 0;
    }
    for (struct pl_transfer *t = pl->transfers; t != NULL; t = t->next) {
        int held = 0;
        for (struct pl_fetch *f = pl->fetches; f != NULL && !held;
             f = f->next) {
            held = memcmp(f->root, t->root, BLOB_ROOT_SIZE) == 0;
        }
        if (t->jobs == 0 && !held &&
            (t->state == PL_T_COMPLETE || t->state == PL_T_FAILED)) {
            pl_transfer_free(pl, t);
            return 0;
        }
    }
    return TDEI_BUSY;
}

/* Send one ChunkRequest for @n indexes of @t. */
static void pl_ask(struct node *node, struct pl_transfer *t, uint64_t *indexes,
                   size_t n)
{
    Tdei__P2p__DataMessage msg = TDEI__P2P__DATA_MESSAGE__INIT;
    Tdei__P2p__ChunkRequest req = TDEI__P2P__CHUNK_REQUEST__INIT;
    int rc;

    req.exchange.data = t->xid;
    req.exchange.len = CODEC_HASH_SIZE;
    req.indexes = indexes;
    req.n_indexes = n;
    msg.msg_case = TDEI__P2P__DATA_MESSAGE__MSG_CHUNK_REQUEST;
    msg.chunk_request = &req;
    rc = node__plane_send(node, t->peer, &msg);
    if (rc != 0) {
        /* The asks stay in their slots and go again after the timeout. */
        TDEI_LOG(TDEI_LOG_DEBUG, "payload", "chunk request not sent",
                 "peer=%" PRIu64 " code=%s", t->peer, tdei_errname(rc));
    }
}

/* Is the grant of @t still live on this node's ledger? Sets last_error
 * when not. */
static int pl_grant_still_live(struct node *node, struct pl_transfer *t)
{
    struct store_read *r;
    Tdei__Exchange *ex = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc = store_read_begin(node->store, &r, errmsg);

    if (rc == 0) {
        rc = node__plane_exchange(r, t->xid, &ex, errmsg);
        store_read_end(r);
    }
    if (rc == 0) {
        rc = node__plane_grant_live(ex, node->height, errmsg);
    }
    codec_exchange_free(ex);
    if (rc != 0 && rc != TDEI_NOT_DELIVERED) {
        t->last_code = (uint32_t)rc;
        (void)snprintf(t->last_error, sizeof(t->last_error),
                       "%s; the transfer is stopped", errmsg);
        return 0;
    }
    return 1;
}

static void pl_transfer_refill(struct node *node, struct pl_transfer *t)
{
    struct pl_job *job = pl_job_new(node, PL_JOB_MISSING);

    if (job != NULL) {
        job->indexes = tdei_calloc(PL_WANT_CAP, sizeof(*job->indexes));
    }
    if (job == NULL || job->indexes == NULL) {
        pl_job_free(job);
        return; /* the next pump tries again */
    }
    job->transfer = t;
    memcpy(job->root, t->root, BLOB_ROOT_SIZE);
    t->refill = 1;
    if (pl_job_queue(node, job) != 0) {
        t->refill = 0;
        pl_job_free(job);
    }
}

/* Ask for what @t may ask now: chunks whose ask timed out (or was lost
 * with a connection) and free slots filled from the missing list. */
static void pl_pump(struct node *node, struct pl_transfer *t)
{
    uint64_t now = uv_now(&node->loop);
    uint64_t timeout = node->cfg.payload_request_timeout_ms;
    uint64_t batch[PL_REQ_MAX];
    size_t n = 0;
    size_t busy = 0;

    if (t->state != PL_T_RUNNING || t->peer == 0 || node->payload->stopping) {
        return;
    }
    if (t->refused) {
        if (now < t->retry_ms) {
            return;
        }
        if (!pl_grant_still_live(node, t)) {
            t->retry_ms = now + PL_RETRY_MS;
            return;
        }
        t->refused = 0;
    }
    if (t->started_ms == 0) {
        t->started_ms = now;
    }
    for (size_t i = 0; i < t->slot_count; i++) {
        struct pl_slot *s = &t->slots[i];
        if (s->state == PL_SLOT_FREE && t->want_at < t->want_n) {
            s->state = PL_SLOT_ASKED;
            s->index = t->want[t->want_at++];
            s->asked_ms = 0;
        }
        if (s->state == PL_SLOT_ASKED &&
            (s->asked_ms == 0 || now - s->asked_ms >= timeout)) {
            s->asked_ms = now;
            batch[n++] = s->index;
            if (n == PL_REQ_MAX) {
                pl_ask(node, t, batch, n);
                n = 0;
            }
        }
        busy += s->state != PL_SLOT_FREE;
    }
    if (n > 0) {
        pl_ask(node, t, batch, n);
    }
    if (t->want_at == t->want_n && !t->refill && t->present + busy < t->count) {
        pl_transfer_refill(node, t);
    }
}

/* @t is complete: every fetch waiting for its root goes on. */
static void pl_transfer_complete(struct node *node, struct pl_transfer *t)
{
    char hex[TDEI_HEX_SIZE(8)];
    uint64_t ms = uv_now(&node->loop) - t->started_ms;

    if (t->state != PL_T_COMPLETE) {
        t->state = PL_T_COMPLETE;
        TDEI_LOG(TDEI_LOG_NOTICE, "payload", "transfer complete",
                 "exchange=%s dataset=%s version=%" PRIu32 " chunks=%" PRIu64
                 " fetched=%" PRIu64 " refetched=%" PRIu64 " ms=%" PRIu64,
                 pl_short(hex, t->xid), t->dataset, t->version, t->count,
                 t->fetched, t->refetched, t->started_ms != 0 ? ms : 0);
    }
    for (size_t i = 0; i < t->slot_count; i++) {
        pl_slot_clear(&t->slots[i]);
    }
    for (struct pl_fetch *f = node->payload->fetches; f != NULL; f = f->next) {
        if (!f->exporting && f->call != NULL &&
            memcmp(f->root, t->root, BLOB_ROOT_SIZE) == 0) {
            pl_fetch_export(node, f);
        }
    }
}

/* Take the missing indexes @job read, but not those in a slot. */
static void pl_want_set(struct pl_transfer *t, const struct pl_job *job)
{
    t->want_n = 0;
    t->want_at = 0;
    for (size_t i = 0; i < job->n; i++) {
        int busy = 0;
        for (size_t k = 0; k < t->slot_count && !busy; k++) {
            busy = t->slots[k].state != PL_SLOT_FREE &&
                   t->slots[k].index == job->indexes[i];
        }
        if (!busy) {
            t->want[t->want_n++] = job->indexes[i];
        }
    }
}

/* A transfer failed in the store: say so; it is tried again later. */
static void pl_transfer_error(struct node *node, struct pl_transfer *t,
                              int code, const char *errmsg)
{
    char hex[TDEI_HEX_SIZE(8)];

    t->last_code = (uint32_t)code;
    (void)snprintf(t->last_error, sizeof(t->last_error), "%s", errmsg);
    t->refused = 1;
    t->retry_ms = uv_now(&node->loop) + PL_RETRY_MS;
    TDEI_LOG(TDEI_LOG_WARNING, "payload", "transfer store failure",
             "exchange=%s code=%s error=\"%s\"", pl_short(hex, t->xid),
             tdei_errname(code), errmsg);
}

static void pl_after_expect(struct node *node, struct pl_job *job)
{
    struct pl_transfer *t = job->transfer;
    char hex[TDEI_HEX_SIZE(8)];

    if (job->rc != 0) {
        t->state = PL_T_FAILED;
        t->last_code = (uint32_t)job->rc;
        (void)snprintf(t->last_error, sizeof(t->last_error), "%s", job->errmsg);
        TDEI_LOG(TDEI_LOG_WARNING, "payload", "transfer cannot start",
                 "exchange=%s code=%s error=\"%s\"", pl_short(hex, t->xid),
                 tdei_errname(job->rc), job->errmsg);
        for (struct pl_fetch *f = node->payload->fetches; f != NULL;
             f = f->next) {
            if (f->call != NULL && !f->exporting &&
                memcmp(f->root, t->root, BLOB_ROOT_SIZE) == 0) {
                api_call_respond_error(f->call, job->rc,
                                       "the payload cannot be stored here: "
                                       "%s",
                                       job->errmsg);
                f->call = NULL;
            }
        }
        return;
    }
    t->present = job->info.chunks_present;
    if (job->info.state == BLOB_STATE_COMPLETE) {
        pl_transfer_complete(node, t);
        return;
    }
    t->state = PL_T_RUNNING;
    pl_want_set(t, job);
    TDEI_LOG(TDEI_LOG_NOTICE, "payload", "transfer started",
             "exchange=%s dataset=%s version=%" PRIu32 " chunks=%" PRIu64
             " present=%" PRIu64 " owner=%s peer=%" PRIu64,
             pl_short(hex, t->xid), t->dataset, t->version, t->count,
             t->present, t->owner, t->peer);
    pl_pump(node, t);
}

static void pl_after_missing(struct node *node, struct pl_job *job)
{
    struct pl_transfer *t = job->transfer;

    t->refill = 0;
    if (t->state != PL_T_RUNNING) {
        return;
    }
    if (job->rc != 0) {
        pl_transfer_error(node, t, job->rc, job->errmsg);
        return;
    }
    t->present = job->info.chunks_present;
    if (job->info.state == BLOB_STATE_COMPLETE) {
        pl_transfer_complete(node, t);
        return;
    }
    pl_want_set(t, job);
    pl_pump(node, t);
}

/* Queue a put of what arrived for @t, unless one is queued. */
static void pl_put_queue(struct node *node, struct pl_transfer *t)
{
    struct pl_job *job;

    if (t->put_queued) {
        return;
    }
    job = pl_job_new(node, PL_JOB_PUT);
    if (job == NULL) {
        return; /* the chunks wait in their slots for the next arrival */
    }
    job->transfer = t;
    memcpy(job->root, t->root, BLOB_ROOT_SIZE);
    /* Set first: the job may start (and find nothing) inside the call. */
    t->put_queued = 1;
    if (pl_job_queue(node, job) != 0) {
        t->put_queued = 0;
        pl_job_free(job);
    }
}

/* A PUT job starts: it takes every chunk that arrived by now. Returns 0
 * when there is nothing to store. */
static size_t pl_put_take(struct pl_job *job)
{
    struct pl_transfer *t = job->transfer;
    size_t n = 0;

    for (size_t i = 0; i < t->slot_count; i++) {
        n += t->slots[i].state == PL_SLOT_RECEIVED;
    }
    if (n == 0) {
        return 0;
    }
    job->chunks = tdei_calloc(n, sizeof(*job->chunks));
    job->slots = tdei_calloc(n, sizeof(*job->slots));
    if (job->chunks == NULL || job->slots == NULL) {
        return 0;
    }
    for (size_t i = 0; i < t->slot_count; i++) {
        struct pl_slot *s = &t->slots[i];
        struct blob_chunk_in *c = &job->chunks[job->chunk_count];
        if (s->state != PL_SLOT_RECEIVED) {
            continue;
        }
        s->state = PL_SLOT_STORING;
        c->index = s->index;
        c->sealed = s->sealed;
        c->len = s->len;
        c->proof = &s->proof;
        job->slots[job->chunk_count++] = s;
    }
    return job->chunk_count;
}

static void pl_after_put(struct node *node, struct pl_job *job)
{
    struct pl_transfer *t = job->transfer;
    char hex[TDEI_HEX_SIZE(8)];

    t->put_queued = 0;
    for (size_t i = 0; i < job->chunk_count; i++) {
        struct pl_slot *s = job->slots[i];
        struct blob_chunk_in *c = &job->chunks[i];
        if (job->rc != 0) {
            /* Not stored: the chunk is asked for again. */
            s->state = PL_SLOT_ASKED;
            s->asked_ms = 0;
        } else if (c->rc == 0) {
            t->fetched++;
            node->dp.chunks_fetched++;
            node->dp.bytes_fetched += c->len;
            pl_slot_reset(s);
        } else {
            t->refetched++;
            node->dp.chunks_bad++;
            TDEI_LOG(TDEI_LOG_WARNING, "payload", "chunk refused",
                     "exchange=%s index=%" PRIu64 " code=%s error=\"%s\"",
                     pl_short(hex, t->xid), c->index, tdei_errname(c->rc),
                     c->errmsg);
            s->state = PL_SLOT_ASKED;
            s->asked_ms = 0; /* ask again at once */
        }
    }
    if (job->rc != 0) {
        pl_transfer_error(node, t, job->rc, job->errmsg);
        return;
    }
    t->present = job->info.chunks_present;
    if (job->info.state == BLOB_STATE_COMPLETE) {
        pl_transfer_complete(node, t);
        return;
    }
    for (size_t i = 0; i < t->slot_count; i++) {
        if (t->slots[i].state == PL_SLOT_RECEIVED) {
            pl_put_queue(node, t);
            break;
        }
    }
    pl_pump(node, t);
}

/* Start pulling the payload of delivered dataset exchange @ex for this
 * node's member (or find the transfer that does). Returns 0 with *@out,
 * or a code with errmsg. */
static int pl_transfer_start(struct node *node, struct store_read *r,
                             const Tdei__Exchange *ex, struct pl_transfer **out,
                             char *errmsg)
{
    struct node_payload *pl = node->payload;
    struct pl_transfer *t = pl_transfer_find(pl, ex->id.data);
    struct pl_job *job;
    uint64_t size = 0;
    int rc;

    *out = NULL;
    if (t == NULL && ex->delivered_root.len == BLOB_ROOT_SIZE) {
        t = pl_transfer_by_root(pl, ex->delivered_root.data);
        if (t != NULL) {
            /* The same payload under a newer grant: ask with that one. */
            memcpy(t->xid, ex->id.data, CODEC_HASH_SIZE);
            t->refused = 0;
        }
    }
    if (t != NULL) {
        if (t->state == PL_T_FAILED && t->jobs == 0) {
            pl_transfer_free(pl, t);
            t = NULL;
        } else {
            if (t->peer == 0) {
                t->peer = node__plane_member_peer(node, r, t->owner);
            }
            *out = t;
            return 0;
        }
    }
    rc = pl_version_size(r, ex, &size, errmsg);
    if (rc == 0 && pl_transfer_room(pl) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                         "this node pulls %u payloads already; ask again "
                         "when one is done",
                         PL_TRANSFERS_MAX);
    }
    if (rc != 0) {
        return rc;
    }
    t = tdei_calloc(1, sizeof(*t));
    job = pl_job_new(node, PL_JOB_EXPECT);
    if (t != NULL) {
        t->slot_count = (size_t)node->cfg.payload_parallel;
        t->slots = tdei_calloc(t->slot_count, sizeof(*t->slots));
    }
    if (job != NULL) {
        job->indexes = tdei_calloc(PL_WANT_CAP, sizeof(*job->indexes));
    }
    if (t == NULL || t->slots == NULL || job == NULL || job->indexes == NULL) {
        if (t != NULL) {
            tdei_free(t->slots);
        }
        tdei_free(t);
        pl_job_free(job);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for a transfer");
    }
    memcpy(t->xid, ex->id.data, CODEC_HASH_SIZE);
    memcpy(t->root, ex->delivered_root.data, BLOB_ROOT_SIZE);
    (void)snprintf(t->dataset, sizeof(t->dataset), "%s", ex->dataset);
    t->version = (uint32_t)ex->version;
    t->size = size;
    t->count = blob_chunk_count(size);
    (void)snprintf(t->owner, sizeof(t->owner), "%s", ex->owner);
    t->peer = node__plane_member_peer(node, r, t->owner);
    t->state = PL_T_OPENING;
    job->transfer = t;
    memcpy(job->root, t->root, BLOB_ROOT_SIZE);
    memcpy(job->xid, t->xid, CODEC_HASH_SIZE);
    memcpy(job->dataset, t->dataset, sizeof(t->dataset));
    job->version = t->version;
    job->size = t->size;
    job->count = t->count;
    t->next = pl->transfers;
    pl->transfers = t;
    pl->transfer_count++;
    if (pl_job_queue(node, job) != 0) {
        pl_job_free(job);
        pl_transfer_free(pl, t);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                           "the payload store has %u jobs waiting; ask "
                           "again shortly",
                           PL_QUEUE_MAX);
    }
    *out = t;
    return 0;
}

/* A ChunkData from @peer. */
static int pl_on_chunk(struct node *node, uint64_t peer,
                       const Tdei__P2p__ChunkData *c, char *errmsg)
{
    struct pl_transfer *t;
    struct pl_slot *s = NULL;

    if (!pl_is_xid(&c->exchange) || c->sealed.len < BLOB_TAG_SIZE ||
        c->sealed.len > BLOB_SEALED_SIZE_MAX ||
        c->n_path > MERKLE_INCLUSION_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "chunk data with a %zu-byte exchange id, %zu "
                           "sealed bytes (16-%u) or %zu proof hashes "
                           "(at most %d)",
                           c->exchange.len, c->sealed.len, BLOB_SEALED_SIZE_MAX,
                           c->n_path, MERKLE_INCLUSION_MAX);
    }
    for (size_t i = 0; i < c->n_path; i++) {
        if (c->path[i].len != MERKLE_HASH_SIZE) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                               "proof hash %zu has %zu bytes, not 32", i,
                               c->path[i].len);
        }
    }
    t = pl_transfer_find(node->payload, c->exchange.data);
    if (t == NULL || t->peer != peer || t->state != PL_T_RUNNING) {
        return 0; /* late or unasked: dropped */
    }
    for (size_t i = 0; i < t->slot_count && s == NULL; i++) {
        if (t->slots[i].state == PL_SLOT_ASKED &&
            t->slots[i].index == c->index) {
            s = &t->slots[i];
        }
    }
    if (s == NULL) {
        return 0; /* answered already (an ask after a timeout) */
    }
    if (s->sealed == NULL) {
        /* Once per slot and transfer: reused for every chunk after. */
        s->sealed = tdei_malloc(BLOB_SEALED_SIZE_MAX);
        if (s->sealed == NULL) {
            return 0; /* asked again after the timeout */
        }
    }
    memcpy(s->sealed, c->sealed.data, c->sealed.len);
    s->len = c->sealed.len;
    s->proof.leaf_index = c->index;
    s->proof.tree_size = t->count;
    s->proof.count = c->n_path;
    for (size_t i = 0; i < c->n_path; i++) {
        memcpy(s->proof.path[i], c->path[i].data, MERKLE_HASH_SIZE);
    }
    s->state = PL_SLOT_RECEIVED;
    pl_put_queue(node, t);
    return 0;
}

/* A refusal is transient when the owner's node has not committed the
 * delivery yet or is busy: the transfer asks again soon. */
static int pl_refusal_transient(uint32_t code)
{
    return code == TDEI_NOT_DELIVERED || code == TDEI_BUSY;
}

/* Stop asking for @t (a refusal, or the grant ended on this node's
 * ledger): @t->last_error says why. Unless the cause is transient, the
 * fetches waiting for it are answered with @code; the transfer asks again
 * after PL_RETRY_MS while the grant is live on this node's ledger. */
static void pl_transfer_stop(struct node *node, struct pl_transfer *t,
                             uint32_t code)
{
    char hex[TDEI_HEX_SIZE(8)];
    int soon = pl_refusal_transient(code);

    t->refused = 1;
    t->retry_ms = uv_now(&node->loop) + (soon ? PL_RETRY_SOON_MS : PL_RETRY_MS);
    t->last_code = code;
    for (size_t i = 0; i < t->slot_count; i++) {
        if (t->slots[i].state == PL_SLOT_ASKED) {
            pl_slot_reset(&t->slots[i]); /* listed missing again later */
        }
    }
    TDEI_LOG(soon ? TDEI_LOG_VERBOSE : TDEI_LOG_NOTICE, "payload",
             "transfer stopped", "exchange=%s code=%s error=\"%s\" retry_ms=%u",
             pl_short(hex, t->xid), tdei_errname((int)code), t->last_error,
             soon ? PL_RETRY_SOON_MS : PL_RETRY_MS);
    if (soon) {
        return;
    }
    for (struct pl_fetch *f = node->payload->fetches; f != NULL; f = f->next) {
        if (f->call != NULL && !f->exporting &&
            memcmp(f->xid, t->xid, CODEC_HASH_SIZE) == 0) {
            api_call_respond_error(f->call, (int)code,
                                   "%s; %" PRIu64 " of %" PRIu64
                                   " chunks are here, and the transfer "
                                   "tries again every %u s while the grant "
                                   "is live",
                                   t->last_error, t->present, t->count,
                                   PL_RETRY_MS / 1000);
            f->call = NULL;
        }
    }
}

/* A ChunkRefused from @peer. */
static int pl_on_refused(struct node *node, uint64_t peer,
                         const Tdei__P2p__ChunkRefused *m, char *errmsg)
{
    struct pl_transfer *t;
    char reason[PL_REASON_MAX + 1];

    if (!pl_is_xid(&m->exchange)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "chunk refusal with a %zu-byte exchange id",
                           m->exchange.len);
    }
    t = pl_transfer_find(node->payload, m->exchange.data);
    if (t == NULL || t->peer != peer || t->state != PL_T_RUNNING) {
        return 0;
    }
    pl_reason_copy(reason, sizeof(reason), m->reason);
    (void)snprintf(t->last_error, sizeof(t->last_error),
                   "the owner's node refused chunk %" PRIu64 ": %s", m->index,
                   reason);
    pl_transfer_stop(node, t, m->code);
    return 0;
}

/* Whether @t is stopped by more than a passing refusal. */
static int pl_transfer_stopped(const struct pl_transfer *t)
{
    return t->refused && !pl_refusal_transient(t->last_code);
}

/* ---- owner: serving chunks ----------------------------------------------- */

/* Refuse the request of @peer for @xid (its first index @index). */
static void pl_refuse(struct node *node, uint64_t peer, const uint8_t *xid,
                      uint64_t index, int code, const char *reason)
{
    Tdei__P2p__DataMessage msg = TDEI__P2P__DATA_MESSAGE__INIT;
    Tdei__P2p__ChunkRefused ref = TDEI__P2P__CHUNK_REFUSED__INIT;
    char hex[TDEI_HEX_SIZE(8)];

    ref.exchange.data = (uint8_t *)(uintptr_t)xid;
    ref.exchange.len = CODEC_HASH_SIZE;
    ref.index = index;
    ref.code = (uint32_t)code;
    ref.reason = (char *)(uintptr_t)reason;
    msg.msg_case = TDEI__P2P__DATA_MESSAGE__MSG_CHUNK_REFUSED;
    msg.chunk_refused = &ref;
    node->dp.chunks_refused++;
    TDEI_LOG(TDEI_LOG_NOTICE, "payload", "chunk request refused",
             "peer=%" PRIu64 " exchange=%s code=%s reason=\"%s\"", peer,
             pl_short(hex, xid), tdei_errname(code), reason);
    (void)node__plane_send(node, peer, &msg);
}

/* Check a ChunkRequest of @peer against the committed state now.
 * Returns 0 (serve it: @root and @count filled), a refusal code with
 * @reason (answered with a ChunkRefused), or -1 with errmsg when the
 * request breaks the protocol. */
static int pl_serve_check(struct node *node, uint64_t peer,
                          const Tdei__P2p__ChunkRequest *req,
                          uint8_t root[BLOB_ROOT_SIZE], uint64_t *count,
                          char *reason, char *errmsg)
{
    uint8_t key[TDEI_PUBKEY_SIZE];
    char member[TDEI_MEMBER_ID_MAX + 1];
    struct store_read *r = NULL;
    Tdei__Exchange *ex = NULL;
    uint64_t size = 0;
    int rc;

    if (!node__plane_peer_key(node, peer, key)) {
        return tdei_errorf(reason, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "the peer is gone");
    }
    rc = store_read_begin(node->store, &r, reason);
    if (rc != 0) {
        return TDEI_BUSY;
    }
    rc = node__plane_member_of(r, key, member, reason);
    if (rc == 0) {
        rc = node__plane_exchange(r, req->exchange.data, &ex, reason);
        if (rc == TDEI_NOTFOUND) {
            rc = tdei_errorf(reason, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                             "no exchange has this id on this node's "
                             "ledger");
        }
    }
    if (rc == 0 && strcmp(ex->consumer, member) != 0) {
        rc = tdei_errorf(reason, TDEI_ERRMSG_SIZE, TDEI_NOT_PARTY,
                         "member %s is not the consumer of this exchange; "
                         "request the data with `tdei exchange request`",
                         member);
    }
    if (rc == 0) {
        rc = node__plane_grant_live(ex, node->height, reason);
    }
    if (rc == 0 && ex->kind != CODEC_KIND_DATASET) {
        rc = tdei_errorf(reason, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                         "exchange of stream %s has no chunks", ex->dataset);
    }
    if (rc == 0) {
        rc = pl_version_size(r, ex, &size, reason);
    }
    if (rc == 0) {
        *count = blob_chunk_count(size);
        memcpy(root, ex->delivered_root.data, BLOB_ROOT_SIZE);
        for (size_t i = 0; i < req->n_indexes; i++) {
            if (req->indexes[i] >= *count) {
                rc = -1;
                (void)tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                                  "chunk request for index %" PRIu64
                                  " of a payload of %" PRIu64 " chunks",
                                  req->indexes[i], *count);
                break;
            }
        }
    }
    codec_exchange_free(ex);
    store_read_end(r);
    return rc;
}

static int pl_on_request(struct node *node, uint64_t peer,
                         const Tdei__P2p__ChunkRequest *req, char *errmsg)
{
    struct node_payload *pl = node->payload;
    char reason[TDEI_ERRMSG_SIZE] = "";
    uint8_t root[BLOB_ROOT_SIZE];
    uint64_t count = 0;
    struct pl_job *job;
    int rc;

    if (!pl_is_xid(&req->exchange) || req->n_indexes == 0 ||
        req->n_indexes > PL_REQ_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "chunk request with a %zu-byte exchange id and "
                           "%zu indexes (1-%u)",
                           req->exchange.len, req->n_indexes, PL_REQ_MAX);
    }
    rc = pl_serve_check(node, peer, req, root, &count, reason, errmsg);
    if (rc < 0) {
        return TDEI_MALFORMED;
    }
    if (rc == 0 && pl->serves >= PL_SERVES_MAX) {
        rc = tdei_errorf(reason, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                         "%u chunk requests are waiting here; ask again",
                         PL_SERVES_MAX);
    }
    job = rc == 0 ? pl_job_new(node, PL_JOB_SERVE) : NULL;
    if (rc == 0 && job == NULL) {
        rc = tdei_errorf(reason, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                         "out of memory here; ask again");
    }
    if (rc != 0) {
        pl_refuse(node, peer, req->exchange.data, req->indexes[0], rc, reason);
        return 0;
    }
    job->peer = peer;
    memcpy(job->xid, req->exchange.data, CODEC_HASH_SIZE);
    memcpy(job->root, root, BLOB_ROOT_SIZE);
    job->count = count;
    job->serve_n = req->n_indexes;
    memcpy(job->serve, req->indexes, req->n_indexes * sizeof(uint64_t));
    if (pl_job_queue(node, job) != 0) {
        pl_job_free(job);
        pl_refuse(node, peer, req->exchange.data, req->indexes[0], TDEI_BUSY,
                  "the payload store is busy here; ask again");
    }
    return 0;
}

/* Send what a SERVE job read. */
static void pl_after_serve(struct node *node, struct pl_job *job)
{
    struct node_payload *pl = node->payload;
    char hex[TDEI_HEX_SIZE(8)];

    for (size_t i = 0; i < job->served; i++) {
        Tdei__P2p__DataMessage msg = TDEI__P2P__DATA_MESSAGE__INIT;
        Tdei__P2p__ChunkData data = TDEI__P2P__CHUNK_DATA__INIT;
        ProtobufCBinaryData path[MERKLE_INCLUSION_MAX];
        uint8_t *sealed = job->sealed + i * BLOB_SEALED_SIZE_MAX;
        int rc;

        for (size_t k = 0; k < job->proofs[i].count; k++) {
            path[k].data = job->proofs[i].path[k];
            path[k].len = MERKLE_HASH_SIZE;
        }
        if (pl->flip_on && job->serve[i] == pl->flip_index) {
            pl->flip_on = 0;
            sealed[job->lens[i] / 2] ^= 0x01;
            TDEI_LOG(TDEI_LOG_WARNING, "payload", "test hook flipped a bit",
                     "exchange=%s index=%" PRIu64, pl_short(hex, job->xid),
                     job->serve[i]);
        }
        data.exchange.data = job->xid;
        data.exchange.len = CODEC_HASH_SIZE;
        data.index = job->serve[i];
        data.sealed.data = sealed;
        data.sealed.len = job->lens[i];
        data.path = path;
        data.n_path = job->proofs[i].count;
        msg.msg_case = TDEI__P2P__DATA_MESSAGE__MSG_CHUNK;
        msg.chunk = &data;
        rc = node__plane_send(node, job->peer, &msg);
        if (rc != 0) {
            TDEI_LOG(TDEI_LOG_VERBOSE, "payload", "chunk not sent",
                     "peer=%" PRIu64 " index=%" PRIu64 " code=%s", job->peer,
                     job->serve[i], tdei_errname(rc));
            return; /* the consumer asks again after its timeout */
        }
        node->dp.chunks_served++;
        node->dp.bytes_served += job->lens[i];
    }
    if (job->rc != 0) {
        char reason[TDEI_ERRMSG_SIZE];
        (void)snprintf(reason, sizeof(reason),
                       "%.180s; this node does not hold that payload "
                       "complete",
                       job->errmsg);
        pl_refuse(node, job->peer, job->xid, job->serve[job->served], job->rc,
                  reason);
    }
}

/* ---- owner: deliveries --------------------------------------------------- */

static struct pl_delivery *pl_delivery_find(struct node_payload *pl,
                                            const uint8_t *xid)
{
    for (struct pl_delivery *d = pl->deliveries; d != NULL; d = d->next) {
        if (memcmp(d->xid, xid, CODEC_HASH_SIZE) == 0) {
            return d;
        }
    }
    return NULL;
}

static void pl_delivery_free(struct node_payload *pl, struct pl_delivery *d)
{
    struct pl_delivery **link = &pl->deliveries;

    while (*link != d) {
        link = &(*link)->next;
    }
    *link = d->next;
    pl->delivery_count--;
    tdei_free(d);
}

/* Answer a DeliverNow with the committed tx. */
static void pl_respond_deliver(struct node *node, struct api_call *call,
                               const uint8_t *tx_id, uint64_t height,
                               const Tdei__TxResult *result)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__SubmitResult sr = TDEI__API__SUBMIT_RESULT__INIT;
    Tdei__TxResult *stored = NULL;
    struct store_read *r;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint8_t *bytes = NULL;
    size_t len = 0;
    uint64_t h = 0;
    uint32_t index = 0;
    int rc = store_read_begin(node->store, &r, errmsg);

    if (rc == 0) {
        rc = exec_query_tx(r, tx_id, &h, &index, &stored, errmsg);
        store_read_end(r);
    }
    codec_txresult_free(stored);
    if (rc == 0) {
        rc = codec_txresult_encode(result, &bytes, &len);
    }
    if (rc != 0) {
        api_call_respond_error(call, rc,
                               "the deliver tx committed at height %" PRIu64
                               " but its result cannot be read: %s; see it "
                               "with `tdei exchange show`",
                               height, errmsg);
        return;
    }
    sr.tx_id.data = (uint8_t *)(uintptr_t)tx_id;
    sr.tx_id.len = CODEC_HASH_SIZE;
    sr.height = height;
    sr.index = index;
    sr.result.data = bytes;
    sr.result.len = len;
    resp.resp_case = TDEI__API__RESPONSE__RESP_DELIVER_NOW;
    resp.deliver_now = &sr;
    api_call_respond(call, &resp);
    tdei_free(bytes);
}

/* The deliver tx of @arg (a struct pl_delivery) is done. */
static void pl_delivered_cb(struct node *node, void *arg, int code,
                            const uint8_t *tx_id, uint64_t height,
                            const Tdei__TxResult *result, const char *errmsg)
{
    struct pl_delivery *d = arg;
    char hex[TDEI_HEX_SIZE(8)];

    if (code == 0 && result->code == 0) {
        TDEI_LOG(TDEI_LOG_NOTICE, "payload", "delivered",
                 "exchange=%s height=%" PRIu64 " by=%s", pl_short(hex, d->xid),
                 height, d->call != NULL ? "hand" : "auto");
    } else {
        TDEI_LOG(TDEI_LOG_WARNING, "payload", "delivery failed",
                 "exchange=%s code=%s error=\"%s\"", pl_short(hex, d->xid),
                 tdei_errname(code == 0 ? (int)result->code : code),
                 code == 0 ? result->log : errmsg);
    }
    if (d->call == NULL && code != 0 && code != TDEI_CANCELED &&
        node->payload->retry_count < PL_RETRY_MAX) {
        memcpy(node->payload->retry[node->payload->retry_count++], d->xid,
               CODEC_HASH_SIZE);
    }
    if (d->call != NULL) {
        if (code == 0) {
            pl_respond_deliver(node, d->call, tx_id, height, result);
        } else {
            api_call_respond_error(
                d->call, code, "the deliver tx was not committed: %s", errmsg);
        }
        d->call = NULL;
    }
    pl_delivery_free(node->payload, d);
}

/* Seal the key of @job to the consumer of its exchange and submit the
 * deliver tx. Returns 0 or a code with errmsg. */
static int pl_deliver_submit(struct node *node, struct pl_job *job,
                             struct pl_delivery *d, char *errmsg)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeDeliver op = TDEI__EXCHANGE_DELIVER__INIT;
    Tdei__Exchange *ex = NULL;
    struct store_read *r;
    uint8_t sealed[CODEC_SEALED_KEY_SIZE];
    uint8_t key[BLOB_KEY_SIZE];
    int rc = store_read_begin(node->store, &r, errmsg);

    if (rc != 0) {
        return rc;
    }
    rc = node__plane_exchange(r, d->xid, &ex, errmsg);
    if (rc == 0 && ex->status != CODEC_EXCHANGE_APPROVED) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_EXCHANGE_STATE,
                         "the exchange is %s now; only an approved exchange "
                         "is delivered",
                         codec_exchange_status_name(ex->status));
    }
    if (rc == 0) {
        if (job->stream) {
            node__plane_subkey(node, d->xid, key);
        } else {
            memcpy(key, job->key, sizeof(key));
        }
        rc = node__plane_seal_to(r, ex->consumer, key, sealed, errmsg);
        sodium_memzero(key, sizeof(key));
    }
    if (rc == 0) {
        op.exchange.data = d->xid;
        op.exchange.len = CODEC_HASH_SIZE;
        op.sealed_key.data = sealed;
        op.sealed_key.len = sizeof(sealed);
        if (!job->stream) {
            op.content_root.data = job->root;
            op.content_root.len = BLOB_ROOT_SIZE;
        }
        body.op_case = TDEI__TX_BODY__OP_EXCHANGE_DELIVER;
        body.exchange_deliver = &op;
        rc = node__own_submit(node, &body, pl_delivered_cb, d);
        if (rc != 0) {
            (void)tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                              "cannot queue the deliver tx: %s",
                              tdei_strerror(rc));
        }
    }
    codec_exchange_free(ex);
    store_read_end(r);
    return rc;
}

static void pl_after_deliver(struct node *node, struct pl_job *job)
{
    struct pl_delivery *d = job->delivery;
    char hex[TDEI_HEX_SIZE(8)];
    char root[TDEI_HEX_SIZE(BLOB_ROOT_SIZE)];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc = job->rc;

    if (rc == 0 && job->manual && d->call == NULL) {
        TDEI_LOG(TDEI_LOG_NOTICE, "payload", "delivery left to the operator",
                 "exchange=%s dataset=%s setting=manual", pl_short(hex, d->xid),
                 job->dataset);
        pl_delivery_free(node->payload, d);
        return;
    }
    if (rc == TDEI_NOTFOUND && !job->stream) {
        (void)tdei_hex_encode(root, sizeof(root), job->root, BLOB_ROOT_SIZE);
        (void)snprintf(errmsg, sizeof(errmsg),
                       "this node does not hold the content key of root %s; "
                       "deliver by hand with `tdei exchange deliver ID "
                       "--key-file FILE`",
                       root);
    } else if (rc != 0) {
        (void)snprintf(errmsg, sizeof(errmsg), "%s", job->errmsg);
    } else {
        rc = pl_deliver_submit(node, job, d, errmsg);
    }
    if (rc == 0) {
        d->submitted = 1;
        node->dp.deliveries++;
        return;
    }
    TDEI_LOG(TDEI_LOG_WARNING, "payload", "cannot deliver",
             "exchange=%s dataset=%s code=%s error=\"%s\"",
             pl_short(hex, d->xid), job->dataset, tdei_errname(rc), errmsg);
    if (d->call != NULL) {
        api_call_respond_error(d->call, rc, "%s", errmsg);
        d->call = NULL;
    }
    pl_delivery_free(node->payload, d);
}

/* Deliver exchange @ex (approved, of this member's entry): automatically
 * when @call is NULL, else for DeliverNow @call (which joins an automatic
 * delivery of the same exchange already under way). Returns 0 (what
 * follows is logged, and @call answered later) or a code with errmsg. */
static int pl_deliver(struct node *node, const Tdei__Exchange *ex,
                      struct api_call *call, char *errmsg)
{
    struct node_payload *pl = node->payload;
    struct pl_delivery *d;
    struct pl_job *job;

    d = pl_delivery_find(pl, ex->id.data);
    if (d != NULL && call != NULL && d->call == NULL) {
        d->call = call; /* the automatic one answers it */
        return 0;
    }
    if (d != NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                           "a delivery of this exchange is already on its "
                           "way; follow it with `tdei exchange show`");
    }
    if (pl->delivery_count >= PL_DELIVERIES_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                           "%u deliveries wait already; deliver this one "
                           "later with `tdei exchange deliver`",
                           PL_DELIVERIES_MAX);
    }
    d = tdei_calloc(1, sizeof(*d));
    job = pl_job_new(node, PL_JOB_DELIVER);
    if (d == NULL || job == NULL) {
        tdei_free(d);
        pl_job_free(job);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for a delivery");
    }
    memcpy(d->xid, ex->id.data, CODEC_HASH_SIZE);
    d->call = call;
    job->delivery = d;
    job->stream = ex->kind == CODEC_KIND_STREAM;
    (void)snprintf(job->dataset, sizeof(job->dataset), "%s", ex->dataset);
    if (!job->stream) {
        if (ex->content_root.len != BLOB_ROOT_SIZE) {
            tdei_free(d);
            pl_job_free(job);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                               "the exchange of dataset %s has no content "
                               "root",
                               ex->dataset);
        }
        memcpy(job->root, ex->content_root.data, BLOB_ROOT_SIZE);
    }
    if (pl_job_queue(node, job) != 0) {
        tdei_free(d);
        pl_job_free(job);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                           "the payload store has %u jobs waiting; deliver "
                           "later",
                           PL_QUEUE_MAX);
    }
    d->next = pl->deliveries;
    pl->deliveries = d;
    pl->delivery_count++;
    return 0;
}

/* An exchange that may have become approved: deliver it when it is, and
 * this member owns its entry. */
static void pl_maybe_deliver(struct node *node, struct store_read *r,
                             const uint8_t *xid)
{
    Tdei__Exchange *ex = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char hex[TDEI_HEX_SIZE(8)];
    int rc = node__plane_exchange(r, xid, &ex, errmsg);

    if (rc == 0 && ex->status == CODEC_EXCHANGE_APPROVED &&
        pl_owns(node, r, ex) && pl_delivery_find(node->payload, xid) == NULL) {
        rc = pl_deliver(node, ex, NULL, errmsg);
        if (rc != 0) {
            TDEI_LOG(TDEI_LOG_WARNING, "payload", "cannot deliver",
                     "exchange=%s code=%s error=\"%s\"", pl_short(hex, xid),
                     tdei_errname(rc), errmsg);
        }
    }
    codec_exchange_free(ex);
}

/* ---- fetch --------------------------------------------------------------- */

static void pl_fetch_free(struct node_payload *pl, struct pl_fetch *f)
{
    struct pl_fetch **link = &pl->fetches;

    while (*link != f) {
        link = &(*link)->next;
    }
    *link = f->next;
    pl->fetch_count--;
    tdei_free(f->out_path);
    tdei_free(f);
}

/* Drop the fetches that were answered and hold no job. */
static void pl_fetch_sweep(struct node_payload *pl)
{
    struct pl_fetch *f = pl->fetches;

    while (f != NULL) {
        struct pl_fetch *next = f->next;
        if (f->call == NULL && !f->exporting) {
            pl_fetch_free(pl, f);
        }
        f = next;
    }
}

/* Every chunk of @f's root is here: unseal the key, write the file. */
static void pl_fetch_export(struct node *node, struct pl_fetch *f)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct pl_job *job = pl_job_new(node, PL_JOB_EXPORT);
    int rc = job == NULL ? TDEI_NOMEM : 0;

    if (rc == 0) {
        job->path = tdei_strdup(f->out_path);
        rc = job->path == NULL ? TDEI_NOMEM : 0;
    }
    if (rc == 0) {
        rc = node__plane_unseal(node, f->sealed_key, sizeof(f->sealed_key),
                                job->key, errmsg);
    }
    if (rc == 0) {
        memcpy(job->root, f->root, BLOB_ROOT_SIZE);
        job->fetch = f;
        rc = pl_job_queue(node, job);
        if (rc != 0) {
            (void)snprintf(errmsg, sizeof(errmsg),
                           "the payload store has %u jobs waiting; ask "
                           "again shortly",
                           PL_QUEUE_MAX);
        }
    }
    if (rc != 0) {
        pl_job_free(job);
        api_call_respond_error(f->call, rc, "%s",
                               errmsg[0] != '\0' ? errmsg
                                                 : "out of memory; retry");
        f->call = NULL;
        return;
    }
    f->exporting = 1;
}

static void pl_after_export(struct node *node, struct pl_job *job)
{
    struct pl_fetch *f = job->fetch;
    struct pl_transfer *t = pl_transfer_by_root(node->payload, f->root);
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__FetchResult res = TDEI__API__FETCH_RESULT__INIT;
    struct blob_info info = {0};

    f->exporting = 0;
    if (f->call == NULL) {
        return; /* the client left */
    }
    if (job->rc == TDEI_BADSIG) {
        api_call_respond_error(f->call, TDEI_BADSIG,
                               "the payload fails authentication with the "
                               "delivered key (%s); nothing written; dispute "
                               "the exchange with `tdei exchange dispute`",
                               job->errmsg);
    } else if (job->rc != 0) {
        api_call_respond_error(f->call, job->rc, "%s; nothing written",
                               job->errmsg);
    } else {
        if (t != NULL) {
            info.size = t->size;
            info.chunk_count = t->count;
            res.chunks_fetched = t->fetched;
            res.chunks_refetched = t->refetched;
        }
        res.content_root.data = f->root;
        res.content_root.len = BLOB_ROOT_SIZE;
        res.size = info.size;
        res.chunk_count = info.chunk_count;
        res.out_path = f->out_path;
        resp.resp_case = TDEI__API__RESPONSE__RESP_FETCH;
        resp.fetch = &res;
        api_call_respond(f->call, &resp);
    }
    f->call = NULL;
}

/* Check an absolute path from a request. */
static int pl_path_check(const char *path, const char *what, char *errmsg)
{
    size_t len = strlen(path);

    if (len == 0 || len > PL_PATH_MAX || path[0] != '/') {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s '%.60s%s' (%zu bytes) must be an absolute "
                           "path of 1-%u bytes",
                           what, path, len > 60 ? "..." : "", len, PL_PATH_MAX);
    }
    return 0;
}

static void handle_fetch(struct node *node, struct api_call *call,
                         const Tdei__Api__FetchPayload *req)
{
    struct node_payload *pl = node->payload;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct store_read *r = NULL;
    Tdei__Exchange *ex = NULL;
    struct pl_transfer *t = NULL;
    struct pl_fetch *f = NULL;
    int rc = 0;

    if (!pl_is_xid(&req->exchange)) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_INVAL,
                         "exchange must be 32 bytes, not %zu",
                         req->exchange.len);
    } else if (req->timeout_ms > PL_FETCH_WAIT_MAX_MS) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_INVAL,
                         "timeout_ms %u is over %u; ask for less",
                         req->timeout_ms, PL_FETCH_WAIT_MAX_MS);
    } else if (pl->fetch_count >= PL_HELD_MAX) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_BUSY,
                         "%u fetches wait already; ask again later",
                         PL_HELD_MAX);
    } else {
        rc = pl_path_check(req->out_path, "out_path", errmsg);
    }
    if (rc == 0) {
        rc = store_read_begin(node->store, &r, errmsg);
    }
    if (rc == 0) {
        rc = node__plane_exchange(r, req->exchange.data, &ex, errmsg);
        if (rc == TDEI_NOTFOUND) {
            rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_UNKNOWN_EXCHANGE,
                             "no exchange has this id; check it with `tdei "
                             "exchange list`");
        }
    }
    if (rc == 0 && strcmp(ex->consumer, node->identity.member) != 0) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_NOT_PARTY,
                         "the consumer of this exchange is %s; this node "
                         "fetches for %s only",
                         ex->consumer, node->identity.member);
    }
    if (rc == 0 && ex->kind != CODEC_KIND_DATASET) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_INVAL,
                         "%s is a stream; read its records with `tdei "
                         "stream read`",
                         ex->dataset);
    }
    if (rc == 0) {
        rc = node__plane_grant_live(ex, node->height, errmsg);
    }
    if (rc == 0 && ex->sealed_key.len != CODEC_SEALED_KEY_SIZE) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_CORRUPT,
                         "the delivered exchange has no sealed key");
    }
    if (rc == 0) {
        rc = pl_transfer_start(node, r, ex, &t, errmsg);
    }
    if (rc == 0) {
        f = tdei_calloc(1, sizeof(*f));
        if (f != NULL) {
            f->out_path = tdei_strdup(req->out_path);
        }
        if (f == NULL || f->out_path == NULL) {
            tdei_free(f);
            rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_NOMEM,
                             "out of memory; retry");
        }
    }
    if (rc != 0) {
        codec_exchange_free(ex);
        if (r != NULL) {
            store_read_end(r);
        }
        api_call_respond_error(call, rc, "%s", errmsg);
        return;
    }
    f->call = call;
    memcpy(f->xid, ex->id.data, CODEC_HASH_SIZE);
    memcpy(f->root, t->root, BLOB_ROOT_SIZE);
    memcpy(f->sealed_key, ex->sealed_key.data, CODEC_SEALED_KEY_SIZE);
    f->deadline_ms =
        uv_now(&node->loop) +
        (req->timeout_ms == 0 ? PL_FETCH_WAIT_MS : req->timeout_ms);
    f->next = pl->fetches;
    pl->fetches = f;
    pl->fetch_count++;
    codec_exchange_free(ex);
    store_read_end(r);
    if (t->state == PL_T_COMPLETE) {
        pl_fetch_export(node, f);
    } else if (t->state == PL_T_RUNNING) {
        if (t->refused && !pl_refusal_transient(t->last_code)) {
            t->retry_ms = 0; /* an operator asks: try now */
        }
        pl_pump(node, t);
    }
}

/* Fetches whose wait is over are answered. */
static void pl_fetch_expire(struct node *node)
{
    uint64_t now = uv_now(&node->loop);

    for (struct pl_fetch *f = node->payload->fetches; f != NULL; f = f->next) {
        struct pl_transfer *t;
        if (f->call == NULL || f->exporting || now < f->deadline_ms) {
            continue;
        }
        t = pl_transfer_by_root(node->payload, f->root);
        api_call_respond_error(
            f->call, TDEI_TIMEOUT,
            "%" PRIu64 " of %" PRIu64 " chunks are here%s%s%s%s%s; ask "
            "again, the transfer goes on",
            t != NULL ? t->present : 0, t != NULL ? t->count : 0,
            t != NULL && t->peer == 0 ? "; the node of owner " : "",
            t != NULL && t->peer == 0 ? t->owner : "",
            t != NULL && t->peer == 0 ? " is not connected" : "",
            t != NULL && t->last_error[0] != '\0' ? "; last error: " : "",
            t != NULL ? t->last_error : "");
        f->call = NULL;
    }
    pl_fetch_sweep(node->payload);
}

/* ---- the other requests -------------------------------------------------- */

static void handle_import(struct node *node, struct api_call *call,
                          const Tdei__Api__ImportPayload *req)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct pl_job *job;
    int rc = pl_path_check(req->path, "path", errmsg);

    if (rc == 0 && !codec_dataset_id_valid(req->dataset)) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_INVAL,
                         "dataset '%.70s' is not an entry id (3-64 bytes "
                         "of [a-z0-9-])",
                         req->dataset);
    }
    if (rc == 0 && req->version == 0) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_INVAL,
                         "version must be 1 or more (the version the "
                         "payload will be published as)");
    }
    if (rc == 0 && node->payload->imports >= PL_IMPORTS_MAX) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_BUSY,
                         "%u imports are running; import again when one is "
                         "done",
                         PL_IMPORTS_MAX);
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s", errmsg);
        return;
    }
    job = pl_job_new(node, PL_JOB_IMPORT);
    if (job != NULL) {
        job->path = tdei_strdup(req->path);
    }
    if (job == NULL || job->path == NULL) {
        pl_job_free(job);
        api_call_respond_error(call, TDEI_NOMEM, "out of memory; retry");
        return;
    }
    (void)snprintf(job->dataset, sizeof(job->dataset), "%s", req->dataset);
    job->version = req->version;
    job->call = call;
    if (pl_job_queue(node, job) != 0) {
        pl_job_free(job);
        api_call_respond_error(call, TDEI_BUSY,
                               "the payload store has %u jobs waiting; "
                               "import again shortly",
                               PL_QUEUE_MAX);
    }
}

static void pl_after_import(struct node *node, struct pl_job *job)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__PayloadInfo info = TDEI__API__PAYLOAD_INFO__INIT;
    char hex[TDEI_HEX_SIZE(8)];

    (void)node;
    sodium_memzero(job->key, sizeof(job->key)); /* kept in the store */
    if (job->rc != 0) {
        TDEI_LOG(TDEI_LOG_NOTICE, "payload", "import refused",
                 "path=\"%s\" code=%s error=\"%s\"", job->path,
                 tdei_errname(job->rc), job->errmsg);
        if (job->call != NULL) {
            api_call_respond_error(job->call, job->rc, "%s", job->errmsg);
        }
        return;
    }
    TDEI_LOG(TDEI_LOG_NOTICE, "payload", "imported",
             "dataset=%s version=%" PRIu32 " root=%s size=%" PRIu64
             " chunks=%" PRIu64,
             job->dataset, job->version, pl_short(hex, job->root), job->size,
             job->count);
    if (job->call == NULL) {
        return;
    }
    info.content_root.data = job->root;
    info.content_root.len = BLOB_ROOT_SIZE;
    info.size = job->size;
    info.chunk_count = job->count;
    info.dataset = job->dataset;
    info.version = job->version;
    resp.resp_case = TDEI__API__RESPONSE__RESP_PAYLOAD;
    resp.payload = &info;
    api_call_respond(job->call, &resp);
}

static void handle_state(struct node *node, struct api_call *call,
                         const Tdei__Api__GetPayloadState *req)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct store_read *r = NULL;
    Tdei__Exchange *ex = NULL;
    struct pl_job *job = NULL;
    int rc = 0;

    if (!pl_is_xid(&req->exchange)) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_INVAL,
                         "exchange must be 32 bytes, not %zu",
                         req->exchange.len);
    }
    if (rc == 0) {
        rc = store_read_begin(node->store, &r, errmsg);
    }
    if (rc == 0) {
        rc = node__plane_exchange(r, req->exchange.data, &ex, errmsg);
        if (rc == TDEI_NOTFOUND) {
            rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_UNKNOWN_EXCHANGE,
                             "no exchange has this id; check it with `tdei "
                             "exchange list`");
        }
        store_read_end(r);
    }
    if (rc == 0 && ex->kind != CODEC_KIND_DATASET) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_INVAL,
                         "%s is a stream: it has no payload; see `tdei "
                         "stream state`",
                         ex->dataset);
    }
    if (rc == 0 && ex->content_root.len != BLOB_ROOT_SIZE) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_CORRUPT,
                         "the exchange of dataset %s has no content root",
                         ex->dataset);
    }
    if (rc == 0) {
        job = pl_job_new(node, PL_JOB_INFO);
        rc = job == NULL ? tdei_errorf(errmsg, sizeof(errmsg), TDEI_NOMEM,
                                       "out of memory; retry")
                         : 0;
    }
    if (rc == 0) {
        const ProtobufCBinaryData *root =
            ex->delivered_root.len == BLOB_ROOT_SIZE ? &ex->delivered_root
                                                     : &ex->content_root;
        memcpy(job->root, root->data, BLOB_ROOT_SIZE);
        memcpy(job->xid, ex->id.data, CODEC_HASH_SIZE);
        job->call = call;
        if (pl_job_queue(node, job) != 0) {
            rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_BUSY,
                             "the payload store has %u jobs waiting; ask "
                             "again shortly",
                             PL_QUEUE_MAX);
            pl_job_free(job);
        }
    }
    codec_exchange_free(ex);
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s", errmsg);
    }
}

static void pl_after_info(struct node *node, struct pl_job *job)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__PayloadState st = TDEI__API__PAYLOAD_STATE__INIT;
    struct pl_transfer *t = pl_transfer_find(node->payload, job->xid);

    if (job->call == NULL) {
        return;
    }
    if (job->info_rc != 0 && job->info_rc != TDEI_NOTFOUND) {
        api_call_respond_error(job->call, job->info_rc,
                               "cannot read the payload store");
        return;
    }
    st.content_root.data = job->root;
    st.content_root.len = BLOB_ROOT_SIZE;
    st.state = job->info_rc == 0 ? (uint32_t)job->info.state : 0;
    st.size = job->info.size;
    st.chunk_count = job->info.chunk_count;
    st.chunks_present = job->info.chunks_present;
    if (t != NULL) {
        st.fetching = (t->state == PL_T_RUNNING || t->state == PL_T_OPENING) &&
                      !pl_transfer_stopped(t);
        st.chunks_fetched = t->fetched;
        st.chunks_refetched = t->refetched;
        st.last_error = t->last_error;
        st.last_error_code = t->last_code;
        if (job->info_rc != 0) {
            st.size = t->size;
            st.chunk_count = t->count;
        }
    }
    resp.resp_case = TDEI__API__RESPONSE__RESP_PAYLOAD_STATE;
    resp.payload_state = &st;
    api_call_respond(job->call, &resp);
}

static void handle_set_delivery(struct node *node, struct api_call *call,
                                const Tdei__Api__SetDelivery *req)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char owner[TDEI_MEMBER_ID_MAX + 1];
    struct store_read *r = NULL;
    struct pl_job *job;
    int rc = store_read_begin(node->store, &r, errmsg);

    if (rc == 0) {
        rc = pl_entry_owner(r, req->dataset, owner, errmsg);
        store_read_end(r);
    }
    if (rc == 0 && strcmp(owner, node->identity.member) != 0) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_NOT_OWNER,
                         "entry %s is owned by %s; this node delivers for "
                         "%s only",
                         req->dataset, owner, node->identity.member);
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s", errmsg);
        return;
    }
    job = pl_job_new(node, PL_JOB_SETTING);
    if (job == NULL) {
        api_call_respond_error(call, TDEI_NOMEM, "out of memory; retry");
        return;
    }
    (void)snprintf(job->dataset, sizeof(job->dataset), "%s", req->dataset);
    job->manual = req->manual;
    job->call = call;
    if (pl_job_queue(node, job) != 0) {
        pl_job_free(job);
        api_call_respond_error(call, TDEI_BUSY,
                               "the payload store has %u jobs waiting; ask "
                               "again shortly",
                               PL_QUEUE_MAX);
    }
}

static void pl_after_setting(struct node *node, struct pl_job *job)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__DeliverySetting set = TDEI__API__DELIVERY_SETTING__INIT;

    (void)node;
    if (job->rc == 0) {
        TDEI_LOG(TDEI_LOG_NOTICE, "payload", "delivery set",
                 "dataset=%s setting=%s", job->dataset,
                 job->manual ? "manual" : "auto");
    }
    if (job->call == NULL) {
        return;
    }
    if (job->rc != 0) {
        api_call_respond_error(job->call, job->rc, "%s", job->errmsg);
        return;
    }
    set.dataset = job->dataset;
    set.manual = job->manual;
    resp.resp_case = TDEI__API__RESPONSE__RESP_DELIVERY;
    resp.delivery = &set;
    api_call_respond(job->call, &resp);
}

static void handle_deliver_now(struct node *node, struct api_call *call,
                               const Tdei__Api__DeliverNow *req)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char owner[TDEI_MEMBER_ID_MAX + 1] = "";
    struct store_read *r = NULL;
    Tdei__Exchange *ex = NULL;
    int rc = 0;

    if (!pl_is_xid(&req->exchange)) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_INVAL,
                         "exchange must be 32 bytes, not %zu",
                         req->exchange.len);
    }
    if (rc == 0) {
        rc = store_read_begin(node->store, &r, errmsg);
    }
    if (rc == 0) {
        rc = node__plane_exchange(r, req->exchange.data, &ex, errmsg);
        if (rc == TDEI_NOTFOUND) {
            rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_UNKNOWN_EXCHANGE,
                             "no exchange has this id; check it with `tdei "
                             "exchange list`");
        }
    }
    if (rc == 0) {
        rc = pl_entry_owner(r, ex->dataset, owner, errmsg);
    }
    if (rc == 0 && strcmp(owner, node->identity.member) != 0) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_NOT_OWNER,
                         "entry %s is owned by %s; its owner's node "
                         "delivers (this node is %s's)",
                         ex->dataset, owner, node->identity.member);
    }
    if (rc == 0 && ex->status != CODEC_EXCHANGE_APPROVED) {
        rc = tdei_errorf(errmsg, sizeof(errmsg), TDEI_EXCHANGE_STATE,
                         "the exchange is %s; only an approved exchange is "
                         "delivered",
                         codec_exchange_status_name(ex->status));
    }
    if (r != NULL) {
        store_read_end(r);
    }
    if (rc == 0) {
        rc = pl_deliver(node, ex, call, errmsg);
    }
    codec_exchange_free(ex);
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s", errmsg);
    }
}

/* ---- the job queue, loop side -------------------------------------------- */

/* A job whose node is stopping: answer its call, drop what it holds. */
static void pl_after_stopping(struct node *node, struct pl_job *job)
{
    if (job->call != NULL) {
        api_call_respond_error(job->call, TDEI_CANCELED,
                               "the node is stopping; retry when it is "
                               "back");
        job->call = NULL;
    }
    if (job->kind == PL_JOB_DELIVER) {
        if (job->delivery->call != NULL) {
            api_call_respond_error(job->delivery->call, TDEI_CANCELED,
                                   "the node is stopping; deliver when it "
                                   "is back");
            job->delivery->call = NULL;
        }
        pl_delivery_free(node->payload, job->delivery);
    }
    if (job->kind == PL_JOB_EXPORT) {
        job->fetch->exporting = 0;
    }
    if (job->kind == PL_JOB_PUT) {
        for (size_t i = 0; i < job->chunk_count; i++) {
            job->slots[i]->state = PL_SLOT_RECEIVED;
        }
        job->transfer->put_queued = 0;
    }
    if (job->kind == PL_JOB_MISSING) {
        job->transfer->refill = 0;
    }
}

static void pl_after_cb(uv_work_t *work, int status)
{
    struct pl_job *job = work->data;
    struct node *node = job->node;
    struct node_payload *pl = node->payload;

    TDEI_ASSERT(pl->running == job);
    pl->running = NULL;
    if (status != 0 && job->rc == 0) {
        job->rc = TDEI_CANCELED;
        (void)snprintf(job->errmsg, sizeof(job->errmsg), "job canceled");
    }
    if (pl->stopping) {
        pl_after_stopping(node, job);
    } else {
        switch (job->kind) {
        case PL_JOB_IMPORT:
            pl_after_import(node, job);
            break;
        case PL_JOB_EXPECT:
            pl_after_expect(node, job);
            break;
        case PL_JOB_MISSING:
            pl_after_missing(node, job);
            break;
        case PL_JOB_PUT:
            pl_after_put(node, job);
            break;
        case PL_JOB_SERVE:
            pl_after_serve(node, job);
            break;
        case PL_JOB_DELIVER:
            pl_after_deliver(node, job);
            break;
        case PL_JOB_EXPORT:
            pl_after_export(node, job);
            break;
        case PL_JOB_INFO:
            pl_after_info(node, job);
            break;
        case PL_JOB_SETTING:
            pl_after_setting(node, job);
            break;
        }
    }
    pl_job_release(node, job);
    pl_job_free(job);
    pl_next(node);
}

/* Start the next queued job when none runs. */
static void pl_next(struct node *node)
{
    struct node_payload *pl = node->payload;

    /* Bounded: each round takes one job off the queue. */
    while (pl->running == NULL && pl->head != NULL && !pl->stopping) {
        struct pl_job *job = pl->head;
        int rc;
        pl->head = job->next;
        if (pl->head == NULL) {
            pl->tail = &pl->head;
        }
        pl->queued--;
        job->next = NULL;
        if (job->kind == PL_JOB_PUT && pl_put_take(job) == 0) {
            job->transfer->put_queued = 0;
            pl_job_release(node, job);
            pl_job_free(job);
            continue;
        }
        pl->running = job;
        rc = uv_queue_work(&node->loop, &job->work, pl_work_cb, pl_after_cb);
        if (rc != 0) {
            /* Cannot happen with a valid loop and callbacks; treat it as a
             * canceled job so that everything is answered. */
            pl->running = NULL;
            job->rc = TDEI_IOERR;
            (void)snprintf(job->errmsg, sizeof(job->errmsg),
                           "cannot start a worker: %s", uv_strerror(rc));
            pl->running = job;
            pl_after_cb(&job->work, 0);
            return;
        }
    }
}

/* ---- committed blocks, peers, the timer ---------------------------------- */

/* A grant of this node's member may have ended (revoked): stop pulling
 * it at once. The owner's node refuses it anyway; this saves the asks. */
static void pl_maybe_stop(struct node *node, struct store_read *r,
                          const uint8_t *xid)
{
    struct pl_transfer *t = pl_transfer_find(node->payload, xid);
    Tdei__Exchange *ex = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    if (t == NULL || t->state == PL_T_COMPLETE || t->state == PL_T_FAILED ||
        node__plane_exchange(r, xid, &ex, errmsg) != 0) {
        return;
    }
    rc = node__plane_grant_live(ex, node->height, errmsg);
    codec_exchange_free(ex);
    if (rc != 0) {
        (void)snprintf(t->last_error, sizeof(t->last_error), "%s", errmsg);
        pl_transfer_stop(node, t, (uint32_t)rc);
    }
}

struct pl_walk
{
    struct node *node;
    struct store_read *r;
};

static int pl_walk_tx(void *arg, const struct node_block_tx *tx)
{
    struct pl_walk *w = arg;
    struct node *node = w->node;
    const Tdei__TxBody *body = tx->body;
    const ProtobufCBinaryData *xid = NULL;
    Tdei__Exchange *ex = NULL;
    struct pl_transfer *t = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char hex[TDEI_HEX_SIZE(8)];
    int rc;

    if (tx->result->code != 0) {
        return 0;
    }
    switch (body->op_case) {
    case TDEI__TX_BODY__OP_EXCHANGE_REQUEST:
        pl_maybe_deliver(node, w->r, tx->tx_id); /* approved at once */
        return 0;
    case TDEI__TX_BODY__OP_EXCHANGE_APPROVE:
        if (pl_is_xid(&body->exchange_approve->exchange)) {
            pl_maybe_deliver(node, w->r, body->exchange_approve->exchange.data);
        }
        return 0;
    case TDEI__TX_BODY__OP_EXCHANGE_DELIVER:
        xid = &body->exchange_deliver->exchange;
        break;
    case TDEI__TX_BODY__OP_GRANT_REVOKE:
        if (pl_is_xid(&body->grant_revoke->exchange)) {
            pl_maybe_stop(node, w->r, body->grant_revoke->exchange.data);
        }
        return 0;
    default:
        return 0;
    }
    if (!pl_is_xid(xid) ||
        node__plane_exchange(w->r, xid->data, &ex, errmsg) != 0) {
        return 0;
    }
    if (ex->kind == CODEC_KIND_DATASET &&
        strcmp(ex->consumer, node->identity.member) == 0 &&
        node__plane_grant_live(ex, node->height, errmsg) == 0) {
        rc = pl_transfer_start(node, w->r, ex, &t, errmsg);
        if (rc != 0) {
            TDEI_LOG(TDEI_LOG_WARNING, "payload", "cannot start a transfer",
                     "exchange=%s code=%s error=\"%s\"",
                     pl_short(hex, xid->data), tdei_errname(rc), errmsg);
        }
    }
    codec_exchange_free(ex);
    return 0;
}

void node__payload_committed(struct node *node, struct store_read *r)
{
    struct pl_walk w = {.node = node, .r = r};
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    if (node->payload == NULL || node->payload->stopping) {
        return;
    }
    rc = node__plane_block_txs(node, r, node->height, pl_walk_tx, &w, errmsg);
    if (rc != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "payload", "cannot read the block",
                 "height=%" PRIu64 " code=%s error=\"%s\"", node->height,
                 tdei_errname(rc), errmsg);
    }
    /* Deliveries that failed to commit: again, if still approved. A
     * failure now is kept for the block after. */
    for (size_t n = node->payload->retry_count; n > 0; n--) {
        uint8_t xid[CODEC_HASH_SIZE];
        memcpy(xid, node->payload->retry[0], CODEC_HASH_SIZE);
        memmove(node->payload->retry[0], node->payload->retry[1],
                (node->payload->retry_count - 1) * CODEC_HASH_SIZE);
        node->payload->retry_count--;
        pl_maybe_deliver(node, r, xid);
    }
}

/* Tie the running transfers without a peer to their owner's node, when
 * it is connected. */
static void pl_peers_find(struct node *node)
{
    struct node_payload *pl = node->payload;
    struct store_read *r;
    char errmsg[TDEI_ERRMSG_SIZE];

    if (pl->transfers == NULL ||
        store_read_begin(node->store, &r, errmsg) != 0) {
        return;
    }
    for (struct pl_transfer *t = pl->transfers; t != NULL; t = t->next) {
        if (t->peer == 0 && t->state == PL_T_RUNNING) {
            t->peer = node__plane_member_peer(node, r, t->owner);
            if (t->peer != 0) {
                t->refused = 0; /* a new connection: ask at once */
            }
        }
    }
    store_read_end(r);
}

void node__payload_peer_up(struct node *node, uint64_t peer,
                           const uint8_t key[TDEI_PUBKEY_SIZE])
{
    struct node_payload *pl = node->payload;

    (void)peer;
    (void)key;
    if (pl == NULL || pl->stopping) {
        return;
    }
    pl_peers_find(node);
    for (struct pl_transfer *t = pl->transfers; t != NULL; t = t->next) {
        pl_pump(node, t);
    }
}

void node__payload_peer_down(struct node *node, uint64_t peer)
{
    struct node_payload *pl = node->payload;

    if (pl == NULL) {
        return;
    }
    for (struct pl_transfer *t = pl->transfers; t != NULL; t = t->next) {
        if (t->peer != peer) {
            continue;
        }
        t->peer = 0;
        for (size_t i = 0; i < t->slot_count; i++) {
            if (t->slots[i].state == PL_SLOT_ASKED) {
                pl_slot_reset(&t->slots[i]); /* lost with the connection */
            }
        }
    }
}

static void pl_timer_cb(uv_timer_t *timer)
{
    struct node *node = timer->data;
    struct node_payload *pl = node->payload;

    if (pl->stopping) {
        return;
    }
    /* A connection the peer callbacks did not tie to a transfer (the
     * owner's node came up before the transfer started). */
    if (++pl->ticks % PL_PEER_TICKS == 0) {
        pl_peers_find(node);
    }
    for (struct pl_transfer *t = pl->transfers; t != NULL; t = t->next) {
        pl_pump(node, t);
    }
    pl_fetch_expire(node);
}

/* ---- channel 5 and the API ----------------------------------------------- */

int node__payload_receive(struct node *node, uint64_t peer,
                          const Tdei__P2p__DataMessage *msg, char *errmsg)
{
    if (node->payload == NULL || node->payload->stopping) {
        return 0;
    }
    switch (msg->msg_case) {
    case TDEI__P2P__DATA_MESSAGE__MSG_CHUNK_REQUEST:
        return pl_on_request(node, peer, msg->chunk_request, errmsg);
    case TDEI__P2P__DATA_MESSAGE__MSG_CHUNK:
        return pl_on_chunk(node, peer, msg->chunk, errmsg);
    case TDEI__P2P__DATA_MESSAGE__MSG_CHUNK_REFUSED:
        return pl_on_refused(node, peer, msg->chunk_refused, errmsg);
    default:
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "data message %d is not a chunk message",
                           (int)msg->msg_case);
    }
}

void node__payload_request(struct node *node, struct api_call *call,
                           const Tdei__Api__Request *req)
{
    if (node->payload == NULL || node->payload->stopping) {
        api_call_respond_error(call, TDEI_CANCELED,
                               "the node is stopping; retry when it is "
                               "back");
        return;
    }
    switch (req->req_case) {
    case TDEI__API__REQUEST__REQ_IMPORT_PAYLOAD:
        handle_import(node, call, req->import_payload);
        return;
    case TDEI__API__REQUEST__REQ_FETCH_PAYLOAD:
        handle_fetch(node, call, req->fetch_payload);
        return;
    case TDEI__API__REQUEST__REQ_GET_PAYLOAD_STATE:
        handle_state(node, call, req->get_payload_state);
        return;
    case TDEI__API__REQUEST__REQ_SET_DELIVERY:
        handle_set_delivery(node, call, req->set_delivery);
        return;
    case TDEI__API__REQUEST__REQ_DELIVER_NOW:
        handle_deliver_now(node, call, req->deliver_now);
        return;
    default:
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "request type %d is not a payload request",
                               (int)req->req_case);
        return;
    }
}

/* Answer every call the payload side holds with @code (the client left,
 * or the node stops). Returns 1 when @only (NULL: every call) was held. */
static int pl_calls_drop(struct node *node, struct api_call *only, int code,
                         const char *why)
{
    struct node_payload *pl = node->payload;
    int found = 0;

    for (struct pl_fetch *f = pl->fetches; f != NULL; f = f->next) {
        if (f->call != NULL && (only == NULL || f->call == only)) {
            api_call_respond_error(f->call, code, "%s", why);
            f->call = NULL;
            found = 1;
        }
    }
    for (struct pl_delivery *d = pl->deliveries; d != NULL; d = d->next) {
        if (d->call != NULL && (only == NULL || d->call == only)) {
            api_call_respond_error(d->call, code, "%s", why);
            d->call = NULL; /* the delivery itself goes on */
            found = 1;
        }
    }
    for (struct pl_job *j = pl->head; j != NULL; j = j->next) {
        if (j->call != NULL && (only == NULL || j->call == only)) {
            api_call_respond_error(j->call, code, "%s", why);
            j->call = NULL;
            found = 1;
        }
    }
    if (pl->running != NULL && pl->running->call != NULL &&
        (only == NULL || pl->running->call == only)) {
        api_call_respond_error(pl->running->call, code, "%s", why);
        pl->running->call = NULL;
        found = 1;
    }
    pl_fetch_sweep(pl);
    return found;
}

int node__payload_cancel(struct node *node, struct api_call *call)
{
    if (node->payload == NULL) {
        return 0;
    }
    return pl_calls_drop(node, call, TDEI_CANCELED, "client left");
}

/* ---- life cycle ---------------------------------------------------------- */

/* Resume the transfers recorded in the store, and deliver the approved
 * exchanges of this member's entries (what happened while the node was
 * down). The loop does not run yet: these reads may take their time. */
static void pl_resume(struct node *node)
{
    struct node_payload *pl = node->payload;
    uint8_t(*roots)[BLOB_ROOT_SIZE] = tdei_calloc(PL_TRANSFERS_MAX, 32);
    uint8_t(*xids)[BLOB_XID_SIZE] = tdei_calloc(PL_TRANSFERS_MAX, 32);
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char hex[TDEI_HEX_SIZE(8)];
    struct store_read *r = NULL;
    struct store_iter it;
    size_t n = 0;
    int rc = roots == NULL || xids == NULL ? TDEI_NOMEM : 0;

    if (rc == 0) {
        rc = blob_transfer_list(pl->blobs, roots, xids, PL_TRANSFERS_MAX, &n,
                                errmsg);
    }
    if (rc == 0) {
        rc = store_read_begin(node->store, &r, errmsg);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        Tdei__Exchange *ex = NULL;
        struct pl_transfer *t = NULL;
        int trc = node__plane_exchange(r, xids[i], &ex, errmsg);
        if (trc == 0) {
            trc = node__plane_grant_live(ex, node->height, errmsg);
        }
        if (trc == 0) {
            trc = pl_transfer_start(node, r, ex, &t, errmsg);
        }
        TDEI_LOG(trc == 0 ? TDEI_LOG_NOTICE : TDEI_LOG_WARNING, "payload",
                 trc == 0 ? "transfer resumed" : "transfer not resumed",
                 "exchange=%s code=%s error=\"%s\"", pl_short(hex, xids[i]),
                 tdei_errname(trc), errmsg);
        codec_exchange_free(ex);
    }
    if (rc == 0) {
        rc = store_iter_init(&it, r, STORE_DB_STATE,
                             (const uint8_t *)CONTRACT_KEY_EXCHANGE,
                             strlen(CONTRACT_KEY_EXCHANGE), NULL, 0, 0);
    }
    /* Bounded by the exchanges on the ledger, once at start. */
    while (rc == 0) {
        const uint8_t *key;
        const uint8_t *val;
        size_t klen;
        size_t vlen;
        Tdei__Exchange *ex = NULL;
        if (store_iter_next(&it, &key, &klen, &val, &vlen) != 0) {
            store_iter_close(&it);
            break;
        }
        if (codec_exchange_decode(&ex, val, vlen, errmsg) == 0 &&
            ex->status == CODEC_EXCHANGE_APPROVED) {
            pl_maybe_deliver(node, r, ex->id.data);
        }
        codec_exchange_free(ex);
    }
    if (r != NULL) {
        store_read_end(r);
    }
    if (rc != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "payload", "cannot resume",
                 "code=%s error=\"%s\"", tdei_errname(rc), errmsg);
    }
    tdei_free(roots);
    tdei_free(xids);
}

int node__payload_start(struct node *node, char *errmsg)
{
    struct node_payload *pl;
    char path[HOME_PATH_MAX];
    const char *flip = getenv(PL_FLIP_ENV);
    int rc;

    pl = tdei_calloc(1, sizeof(*pl));
    if (pl == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for the payload side");
    }
    pl->tail = &pl->head;
    node->payload = pl;
    if (home_path(path, node->home, "data/blobs") != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "home path is too long");
    }
    rc = blob_store_open(&pl->blobs, path,
                         node->cfg.blobs_map_size_max_mib << 20, errmsg);
    if (rc != 0) {
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, rc,
                            "open the payload store");
    }
    if (uv_timer_init(&node->loop, &pl->timer) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot start the payload timer");
    }
    pl->timer.data = node;
    pl->timer_ready = 1;
    if (uv_timer_start(&pl->timer, pl_timer_cb, PL_TIMER_MS, PL_TIMER_MS) !=
        0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot start the payload timer");
    }
    if (flip != NULL && flip[0] != '\0') {
        char *end = NULL;
        unsigned long long v = strtoull(flip, &end, 10);
        if (end == NULL || *end != '\0' || flip[0] == '-') {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                               "%s='%.40s' is not a chunk index; unset it",
                               PL_FLIP_ENV, flip);
        }
        pl->flip_on = 1;
        pl->flip_index = v;
        TDEI_LOG(TDEI_LOG_WARNING, "payload", "test hook on",
                 "%s=%" PRIu64 " effect=\"the first chunk served at that "
                 "index gets one bit flipped\"",
                 PL_FLIP_ENV, pl->flip_index);
    }
    pl_resume(node);
    return 0;
}

void node__payload_stop(struct node *node)
{
    struct node_payload *pl = node->payload;

    if (pl == NULL || pl->stopping) {
        return;
    }
    pl->stopping = 1;
    if (pl->timer_ready && !uv_is_closing((uv_handle_t *)&pl->timer)) {
        uv_close((uv_handle_t *)&pl->timer, NULL);
    }
    (void)pl_calls_drop(node, NULL, TDEI_CANCELED,
                        "the node is stopping; retry when it is back");
    /* Queued jobs never start; the running one comes back and is
     * dropped in its after callback. */
    while (pl->head != NULL) {
        struct pl_job *job = pl->head;
        pl->head = job->next;
        pl->queued--;
        pl_after_stopping(node, job);
        pl_job_release(node, job);
        pl_job_free(job);
    }
    pl->tail = &pl->head;
}

void node__payload_free(struct node *node)
{
    struct node_payload *pl = node->payload;

    if (pl == NULL) {
        return;
    }
    TDEI_ASSERT(pl->running == NULL);
    while (pl->head != NULL) {
        struct pl_job *job = pl->head;
        pl->head = job->next;
        pl_job_release(node, job);
        pl_job_free(job);
    }
    while (pl->fetches != NULL) {
        pl_fetch_free(pl, pl->fetches);
    }
    while (pl->deliveries != NULL) {
        pl_delivery_free(pl, pl->deliveries);
    }
    while (pl->transfers != NULL) {
        pl->transfers->jobs = 0;
        pl_transfer_free(pl, pl->transfers);
    }
    blob_store_close(pl->blobs);
    tdei_free(pl);
    node->payload = NULL;
}
