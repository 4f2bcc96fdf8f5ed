/* The node's proof and audit API handlers (node_audit.h). */
#include "node_audit.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"
#include "core/merkle.h"
#include "node.h"
#include "node_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

#define AUDIT_HISTORY_LIMIT_MAX 1000u /* GetHistory.limit */
#define AUDIT_CHANGES_LIMIT_MAX 100u  /* GetValidatorChanges.limit */
#define AUDIT_ITEMS_MAX 256u          /* GetTxProofs.txs, GetHeaders.heights */
#define AUDIT_READ_BYTES_MAX (64u * TDEI_MIB)  /* blocks read per answer */
#define AUDIT_ANSWER_BYTES_MAX (8u * TDEI_MIB) /* bytes of one answer */

/* The "index" key of an object's history: "hist/", the key's length as a
 * byte, the key, then height and index (node/exec/exec.h). */
#define HIST_PREFIX_MAX                                                        \
    (sizeof(EXEC_INDEX_HIST) - 1u + 1u + CODEC_OBJECT_KEY_MAX)

_Static_assert(HIST_PREFIX_MAX + 12u <= STORE_KEY_SIZE_MAX,
               "history keys fit the store");

/* ---- GetHistory -----------------------------------------------------------
 */

static size_t hist_prefix(uint8_t out[HIST_PREFIX_MAX], const uint8_t *key,
                          size_t len)
{
    size_t pos = sizeof(EXEC_INDEX_HIST) - 1;

    memcpy(out, EXEC_INDEX_HIST, pos);
    out[pos++] = (uint8_t)len;
    memcpy(out + pos, key, len);
    return pos + len;
}

/* Fill @hist with the page of @req from @r; events point into @r. */
static int history_page(struct store_read *r, const Tdei__Api__GetHistory *req,
                        Tdei__Api__HistoryEvent *events,
                        Tdei__Api__HistoryEvent **ptrs,
                        Tdei__Api__History *hist, char *errmsg)
{
    uint8_t prefix[HIST_PREFIX_MAX];
    uint8_t start[HIST_PREFIX_MAX + 12];
    size_t plen = hist_prefix(prefix, req->object.data, req->object.len);
    struct store_iter it;
    int rc;

    memcpy(start, prefix, plen);
    store_u64_encode(start + plen, req->from_height);
    store_u32_encode(start + plen + 8, req->from_index);
    rc = store_iter_init(&it, r, STORE_DB_INDEX, prefix, plen, start, plen + 12,
                         0);
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "read the history: %s",
                           store_read_errmsg(r));
    }
    /* Bounded: at most limit events and one more key. */
    for (;;) {
        const uint8_t *key;
        const uint8_t *val;
        size_t klen;
        size_t vlen;
        Tdei__Api__HistoryEvent *e;
        rc = store_iter_next(&it, &key, &klen, &val, &vlen);
        if (rc != 0) {
            break;
        }
        if (klen != plen + 12 || vlen != 2 * CONTRACT_HEAD_SIZE) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                             "a history record of the object is %zu bytes "
                             "with a %zu-byte key; the index is damaged",
                             vlen, klen);
            break;
        }
        if (hist->n_events == req->limit) {
            hist->more = 1;
            break;
        }
        e = &events[hist->n_events];
        tdei__api__history_event__init(e);
        e->height = store_u64_decode(key + plen);
        e->index = store_u32_decode(key + plen + 8);
        e->prev_head.data = (uint8_t *)(uintptr_t)val;
        e->prev_head.len = CONTRACT_HEAD_SIZE;
        e->new_head.data = (uint8_t *)(uintptr_t)val + CONTRACT_HEAD_SIZE;
        e->new_head.len = CONTRACT_HEAD_SIZE;
        ptrs[hist->n_events++] = e;
    }
    if (rc == TDEI_NOTFOUND) {
        rc = 0;
    } else if (rc != 0 && errmsg[0] == '\0') {
        rc = tdei_errorf(errmsg, ERRSZ, rc, "read the history: %s",
                         store_read_errmsg(r));
    }
    store_iter_close(&it);
    hist->events = ptrs;
    return rc;
}

static void handle_history(struct node *node, struct api_call *call,
                           const Tdei__Api__GetHistory *req)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__History hist = TDEI__API__HISTORY__INIT;
    Tdei__Api__HistoryEvent *events = NULL;
    Tdei__Api__HistoryEvent **ptrs = NULL;
    uint8_t head[CONTRACT_HEAD_SIZE];
    struct store_read *r = NULL;
    struct exec_tip tip;
    char errmsg[ERRSZ] = "";
    int rc;

    if (req->object.len == 0 || req->object.len > CODEC_OBJECT_KEY_MAX) {
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "object must be a state key of 1-%u bytes "
                               "(\"dataset/ID\", \"member/ID\", "
                               "\"exchange/\" and 32 bytes), not %zu bytes",
                               CODEC_OBJECT_KEY_MAX, req->object.len);
        return;
    }
    if (req->limit == 0 || req->limit > AUDIT_HISTORY_LIMIT_MAX) {
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "limit %u is outside 1-%u; ask for at most "
                               "%u events a page",
                               req->limit, AUDIT_HISTORY_LIMIT_MAX,
                               AUDIT_HISTORY_LIMIT_MAX);
        return;
    }
    events = tdei_calloc(req->limit, sizeof(*events));
    ptrs = tdei_calloc(req->limit, sizeof(*ptrs));
    if (events == NULL || ptrs == NULL) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM, "out of memory; retry");
    } else {
        rc = store_read_begin(node->store, &r, errmsg);
    }
    if (rc == 0) {
        rc = exec_query_tip(r, &tip, errmsg);
    }
    if (rc == 0) {
        rc =
            exec_query_head(r, req->object.data, req->object.len, head, errmsg);
    }
    if (rc == 0) {
        rc = history_page(r, req, events, ptrs, &hist, errmsg);
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "cannot read the history: %s", errmsg);
    } else {
        hist.height = tip.height; /* the snapshot of the page */
        hist.head.data = head;
        hist.head.len = CONTRACT_HEAD_SIZE;
        resp.resp_case = TDEI__API__RESPONSE__RESP_HISTORY;
        resp.history = &hist;
        api_call_respond(call, &resp);
    }
    if (r != NULL) {
        store_read_end(r);
    }
    tdei_free(ptrs);
    tdei_free(events);
}

/* ---- GetValidatorChanges ------------------------------------------------- */

static void handle_changes(struct node *node, struct api_call *call,
                           const Tdei__Api__GetValidatorChanges *req)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__ValidatorChanges list = TDEI__API__VALIDATOR_CHANGES__INIT;
    Tdei__Api__ValidatorChange changes[AUDIT_CHANGES_LIMIT_MAX];
    Tdei__Api__ValidatorChange *ptrs[AUDIT_CHANGES_LIMIT_MAX];
    struct store_read *r = NULL;
    struct exec_tip tip;
    char errmsg[ERRSZ] = "";
    uint64_t after = req->after;
    int rc;

    if (req->limit == 0 || req->limit > AUDIT_CHANGES_LIMIT_MAX) {
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "limit %u is outside 1-%u; ask for at most "
                               "%u changes at once",
                               req->limit, AUDIT_CHANGES_LIMIT_MAX,
                               AUDIT_CHANGES_LIMIT_MAX);
        return;
    }
    rc = store_read_begin(node->store, &r, errmsg);
    if (rc == 0) {
        rc = exec_query_tip(r, &tip, errmsg);
    }
    /* Bounded: limit sets, and one more to tell whether more follow. */
    while (rc == 0) {
        Tdei__ValidatorSet *set = NULL;
        uint64_t from = 0;
        uint8_t *bytes = NULL;
        size_t len = 0;
        rc = exec_query_validators_change(r, after, &from, &set, errmsg);
        if (rc == TDEI_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc == 0 && list.n_changes == req->limit) {
            codec_validator_set_free(set);
            list.more = 1;
            break;
        }
        if (rc == 0) {
            rc = codec_validator_set_encode(set, &bytes, &len);
        }
        codec_validator_set_free(set);
        if (rc == 0) {
            Tdei__Api__ValidatorChange *c = &changes[list.n_changes];
            tdei__api__validator_change__init(c);
            c->from_height = from;
            c->set.data = bytes;
            c->set.len = len;
            ptrs[list.n_changes++] = c;
            after = from;
        }
    }
    if (r != NULL) {
        store_read_end(r);
    }
    if (rc != 0) {
        api_call_respond_error(
            call, rc, "cannot read the validator-set history: %s", errmsg);
    } else {
        list.changes = ptrs;
        list.height = tip.height;
        resp.resp_case = TDEI__API__RESPONSE__RESP_VALIDATOR_CHANGES;
        resp.validator_changes = &list;
        api_call_respond(call, &resp);
    }
    for (size_t i = 0; i < list.n_changes; i++) {
        tdei_free(changes[i].set.data);
    }
}

/* ---- worker jobs: GetTxProofs, GetHeaders ----------------------------------
 */

/* One proof answer built on a worker. */
struct audit_job
{
    uv_work_t work; /* the worker request */
    struct node *node;
    struct api_call *call;         /* answered in audit_after */
    const Tdei__Api__Request *req; /* borrowed until answered */
    struct codec_limits limits;    /* the params' limits, copied */
    size_t answer_max;             /* bytes one answer may hold */
    int rc;                        /* 0 or the failure */
    char errmsg[ERRSZ];            /* why it failed */
    uint64_t height;               /* the snapshot's height */
    /* GetTxProofs */
    Tdei__Api__TxProof *proofs; /* req->n_txs slots */
    Tdei__Api__TxProof **proof_ptrs;
    size_t proof_count;
    /* GetHeaders */
    Tdei__Api__HeaderCommit *headers; /* req->n_heights slots */
    Tdei__Api__HeaderCommit **header_ptrs;
    size_t header_count;
};

/* Leaf hashes of one block's txs and results, kept while consecutive
 * items ask for the same height. */
struct leaves
{
    uint64_t height;    /* 0: none */
    Tdei__Block *block; /* the decoded block */
    uint8_t (*tx)[MERKLE_HASH_SIZE];
    uint8_t (*result)[MERKLE_HASH_SIZE];
    size_t count;
};

static void leaves_clear(struct leaves *lv)
{
    codec_block_free(lv->block);
    tdei_free(lv->tx);
    tdei_free(lv->result);
    memset(lv, 0, sizeof(*lv));
}

/* Read block @height and its results into @lv. *@read counts bytes. */
static int leaves_load(struct audit_job *job, struct store_read *r,
                       uint64_t height, struct leaves *lv, size_t *read)
{
    const uint8_t *bytes;
    size_t len;
    uint8_t key[12];
    int rc;

    leaves_clear(lv);
    store_u64_encode(key, height);
    rc = store_get(r, STORE_DB_BLOCKS, key, 8, &bytes, &len);
    if (rc == 0) {
        char why[ERRSZ] = "";
        *read += len;
        rc =
            codec_block_decode(&lv->block, NULL, bytes, len, &job->limits, why);
        if (rc != 0) {
            return tdei_errorf(job->errmsg, ERRSZ, TDEI_CORRUPT,
                               "stored block %" PRIu64 " does not decode: %s",
                               height, why);
        }
    }
    if (rc == 0) {
        store_u64_encode(key, height + 1);
        rc = store_get(r, STORE_DB_BLOCKS, key, 8, &bytes, &len);
        if (rc == TDEI_NOTFOUND) {
            return tdei_errorf(job->errmsg, ERRSZ, TDEI_NOTFOUND,
                               "the results root of block %" PRIu64
                               " is in header %" PRIu64
                               ", which is not committed yet; ask again "
                               "after the next block",
                               height, height + 1);
        }
    }
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(job->errmsg, ERRSZ, rc,
                           "block %" PRIu64 " is not committed (the chain is "
                           "at height %" PRIu64 ")",
                           height, job->height);
    }
    if (rc != 0) {
        return tdei_errorf(job->errmsg, ERRSZ, rc, "read block %" PRIu64 ": %s",
                           height, store_read_errmsg(r));
    }
    lv->count = lv->block->n_txs;
    lv->tx = tdei_calloc(lv->count + 1, MERKLE_HASH_SIZE);
    lv->result = tdei_calloc(lv->count + 1, MERKLE_HASH_SIZE);
    if (lv->tx == NULL || lv->result == NULL) {
        return tdei_errorf(job->errmsg, ERRSZ, TDEI_NOMEM,
                           "out of memory for the leaves of block %" PRIu64,
                           height);
    }
    store_u64_encode(key, height);
    for (size_t i = 0; i < lv->count; i++) {
        const ProtobufCBinaryData *tx = &lv->block->txs[i];
        merkle_leaf_hash(lv->tx[i], tx->data, tx->len);
        store_u32_encode(key + 8, (uint32_t)i);
        rc = store_get(r, STORE_DB_RESULTS, key, sizeof(key), &bytes, &len);
        if (rc != 0) {
            return tdei_errorf(
                job->errmsg, ERRSZ, rc == TDEI_NOTFOUND ? TDEI_CORRUPT : rc,
                "read the result of tx %zu of block %" PRIu64 ": %s", i, height,
                rc == TDEI_NOTFOUND ? "missing" : store_read_errmsg(r));
        }
        *read += len;
        merkle_leaf_hash(lv->result[i], bytes, len);
    }
    lv->height = height;
    return 0;
}

/* Copy @n bytes into new memory as a ProtobufCBinaryData. */
static int bytes_copy(ProtobufCBinaryData *out, const uint8_t *data, size_t n)
{
    out->data = tdei_malloc(n);
    if (out->data == NULL) {
        out->len = 0;
        return TDEI_NOMEM;
    }
    memcpy(out->data, data, n);
    out->len = n;
    return 0;
}

/* Fill @out with the audit path of leaf @index among @leaves. */
static int path_make(ProtobufCBinaryData **out, size_t *count,
                     const uint8_t (*leaves)[MERKLE_HASH_SIZE], size_t n,
                     uint32_t index)
{
    struct merkle_inclusion inc;
    uint8_t *hashes;

    *out = NULL;
    *count = 0;
    if (merkle_inclusion_prove(&inc, leaves, n, index) != 0) {
        return TDEI_INVAL;
    }
    if (inc.count == 0) {
        return 0; /* a block of one tx: the leaf is the root */
    }
    *out = tdei_calloc(inc.count, sizeof(**out));
    hashes = tdei_malloc(inc.count * MERKLE_HASH_SIZE);
    if (*out == NULL || hashes == NULL) {
        tdei_free(*out);
        tdei_free(hashes);
        *out = NULL;
        return TDEI_NOMEM;
    }
    memcpy(hashes, inc.path, inc.count * MERKLE_HASH_SIZE);
    for (size_t i = 0; i < inc.count; i++) {
        (*out)[i].data = hashes + i * MERKLE_HASH_SIZE;
        (*out)[i].len = MERKLE_HASH_SIZE;
    }
    *count = inc.count;
    return 0;
}

static void proof_free(Tdei__Api__TxProof *p)
{
    tdei_free(p->tx.data);
    tdei_free(p->result.data);
    if (p->tx_path != NULL) {
        tdei_free(p->tx_path[0].data);
    }
    if (p->result_path != NULL) {
        tdei_free(p->result_path[0].data);
    }
    tdei_free(p->tx_path);
    tdei_free(p->result_path);
}

/* Build the proof of tx @ref into @p from the leaves of its block. */
static int proof_make(struct audit_job *job, struct store_read *r,
                      const Tdei__Api__TxRef *ref, const struct leaves *lv,
                      Tdei__Api__TxProof *p)
{
    const ProtobufCBinaryData *tx = &lv->block->txs[ref->index];
    const uint8_t *res;
    size_t res_len;
    uint8_t key[12];
    int rc;

    tdei__api__tx_proof__init(p);
    p->height = ref->height;
    p->index = ref->index;
    p->tx_count = lv->count;
    store_u64_encode(key, ref->height);
    store_u32_encode(key + 8, ref->index);
    rc = store_get(r, STORE_DB_RESULTS, key, sizeof(key), &res, &res_len);
    if (rc == 0) {
        rc = bytes_copy(&p->tx, tx->data, tx->len);
    }
    if (rc == 0) {
        rc = bytes_copy(&p->result, res, res_len);
    }
    if (rc == 0) {
        rc = path_make(&p->tx_path, &p->n_tx_path,
                       (const uint8_t(*)[MERKLE_HASH_SIZE])lv->tx, lv->count,
                       ref->index);
    }
    if (rc == 0) {
        rc = path_make(&p->result_path, &p->n_result_path,
                       (const uint8_t(*)[MERKLE_HASH_SIZE])lv->result,
                       lv->count, ref->index);
    }
    if (rc != 0) {
        proof_free(p);
        tdei__api__tx_proof__init(p);
        return tdei_errorf(job->errmsg, ERRSZ, rc,
                           "build the proofs of tx %u of block %" PRIu64,
                           ref->index, ref->height);
    }
    return 0;
}

/* Worker: the proofs of req->get_tx_proofs->txs, in order, within the
 * budgets. */
static void tx_proofs_work(struct audit_job *job, struct store_read *r)
{
    const Tdei__Api__GetTxProofs *req = job->req->get_tx_proofs;
    struct leaves lv = {0};
    size_t read = 0;
    size_t answer = 0;

    for (size_t i = 0; i < req->n_txs && job->rc == 0; i++) {
        const Tdei__Api__TxRef *ref = req->txs[i];
        Tdei__Api__TxProof *p = &job->proofs[job->proof_count];
        size_t size;
        if (i > 0 &&
            (read > AUDIT_READ_BYTES_MAX || answer > job->answer_max)) {
            break; /* the client asks again for the rest */
        }
        if (lv.height != ref->height) {
            job->rc = leaves_load(job, r, ref->height, &lv, &read);
            if (job->rc != 0) {
                break;
            }
        }
        if (ref->index >= lv.count) {
            job->rc = tdei_errorf(job->errmsg, ERRSZ, TDEI_NOTFOUND,
                                  "block %" PRIu64 " has %zu txs; there is "
                                  "no tx at index %u",
                                  ref->height, lv.count, ref->index);
            break;
        }
        job->rc = proof_make(job, r, ref, &lv, p);
        if (job->rc != 0) {
            break;
        }
        size = p->tx.len + p->result.len +
               (p->n_tx_path + p->n_result_path) * (MERKLE_HASH_SIZE + 2) + 32;
        if (i > 0 && answer + size > job->answer_max) {
            proof_free(p);
            break;
        }
        answer += size;
        job->proof_ptrs[job->proof_count++] = p;
    }
    leaves_clear(&lv);
}

/* Read block @height, decoded into *@block (the caller's). *@read counts
 * bytes. */
static int header_read(struct audit_job *job, struct store_read *r,
                       uint64_t height, Tdei__Block **block, size_t *read)
{
    char why[ERRSZ] = "";
    const uint8_t *bytes;
    size_t len;
    uint8_t key[8];
    int rc;

    store_u64_encode(key, height);
    rc = store_get(r, STORE_DB_BLOCKS, key, sizeof(key), &bytes, &len);
    if (rc != 0) {
        return tdei_errorf(
            job->errmsg, ERRSZ, rc, "read block %" PRIu64 ": %s", height,
            rc == TDEI_NOTFOUND ? "not committed" : store_read_errmsg(r));
    }
    *read += len;
    rc = codec_block_decode(block, NULL, bytes, len, &job->limits, why);
    if (rc != 0) {
        return tdei_errorf(job->errmsg, ERRSZ, TDEI_CORRUPT,
                           "stored block %" PRIu64 " does not decode: %s",
                           height, why);
    }
    return 0;
}

/* Worker: req->get_headers->heights, in order, within the budgets. The
 * commit of block H is block H+1's last_commit, or for the tip the meta
 * record. */
static void headers_work(struct audit_job *job, struct store_read *r)
{
    const Tdei__Api__GetHeaders *req = job->req->get_headers;
    Tdei__Block *cached = NULL; /* the block of cached_height */
    uint64_t cached_height = 0;
    size_t read = 0;
    size_t answer = 0;

    for (size_t i = 0; i < req->n_heights && job->rc == 0; i++) {
        uint64_t h = req->heights[i];
        Tdei__Api__HeaderCommit *hc = &job->headers[job->header_count];
        Tdei__Block *block = NULL;
        Tdei__Block *next = NULL;
        if (i > 0 &&
            (read > AUDIT_READ_BYTES_MAX || answer > job->answer_max)) {
            break;
        }
        if (h == 0 || h > job->height) {
            job->rc = tdei_errorf(job->errmsg, ERRSZ, TDEI_NOTFOUND,
                                  "no block at height %" PRIu64
                                  "; the chain is at height %" PRIu64,
                                  h, job->height);
            break;
        }
        if (cached != NULL && cached_height == h) {
            block = cached;
            cached = NULL;
        } else {
            job->rc = header_read(job, r, h, &block, &read);
        }
        if (job->rc == 0 && h < job->height) {
            job->rc = header_read(job, r, h + 1, &next, &read);
        }
        tdei__api__header_commit__init(hc);
        hc->height = h;
        if (job->rc == 0) {
            job->rc =
                bytes_copy(&hc->header, block->header.data, block->header.len);
        }
        if (job->rc == 0 && next != NULL && next->last_commit != NULL) {
            job->rc = codec_commit_encode(next->last_commit, &hc->commit.data,
                                          &hc->commit.len);
        } else if (job->rc == 0 && h == job->height) {
            const uint8_t *c;
            size_t clen;
            if (store_get(r, STORE_DB_META,
                          (const uint8_t *)NODE_META_LAST_COMMIT,
                          strlen(NODE_META_LAST_COMMIT), &c, &clen) == 0) {
                job->rc = bytes_copy(&hc->commit, c, clen);
            }
        }
        codec_block_free(block);
        codec_block_free(cached);
        cached = next;
        cached_height = h + 1;
        if (job->rc != 0) {
            tdei_free(hc->header.data);
            tdei_free(hc->commit.data);
            if (job->errmsg[0] == '\0') {
                (void)tdei_errorf(job->errmsg, ERRSZ, job->rc,
                                  "out of memory for header %" PRIu64, h);
            }
            break;
        }
        answer += hc->header.len + hc->commit.len + 16;
        job->header_ptrs[job->header_count++] = hc;
    }
    codec_block_free(cached);
}

static void audit_work(uv_work_t *work)
{
    struct audit_job *job = work->data;
    struct store_read *r = NULL;
    struct exec_tip tip;

    job->rc = store_read_begin(job->node->store, &r, job->errmsg);
    if (job->rc == 0) {
        job->rc = exec_query_tip(r, &tip, job->errmsg);
        job->height = tip.height;
    }
    if (job->rc == 0) {
        if (job->req->req_case == TDEI__API__REQUEST__REQ_GET_TX_PROOFS) {
            tx_proofs_work(job, r);
        } else {
            headers_work(job, r);
        }
    }
    if (r != NULL) {
        store_read_end(r);
    }
}

static void audit_job_free(struct audit_job *job)
{
    for (size_t i = 0; i < job->proof_count; i++) {
        proof_free(job->proof_ptrs[i]);
    }
    for (size_t i = 0; i < job->header_count; i++) {
        tdei_free(job->header_ptrs[i]->header.data);
        tdei_free(job->header_ptrs[i]->commit.data);
    }
    tdei_free(job->proofs);
    tdei_free(job->proof_ptrs);
    tdei_free(job->headers);
    tdei_free(job->header_ptrs);
    tdei_free(job);
}

static void audit_after(uv_work_t *work, int status)
{
    struct audit_job *job = work->data;
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__TxProofs proofs = TDEI__API__TX_PROOFS__INIT;
    Tdei__Api__Headers headers = TDEI__API__HEADERS__INIT;

    TDEI_ASSERT(job->node->audit_jobs > 0);
    job->node->audit_jobs--;
    if (status != 0 && job->rc == 0) {
        job->rc = tdei_errorf(job->errmsg, ERRSZ, TDEI_CANCELED,
                              "the node is stopping; ask again when it is "
                              "back");
    }
    if (job->rc != 0) {
        api_call_respond_error(job->call, job->rc, "%s", job->errmsg);
    } else if (job->req->req_case == TDEI__API__REQUEST__REQ_GET_TX_PROOFS) {
        proofs.n_proofs = job->proof_count;
        proofs.proofs = job->proof_ptrs;
        proofs.height = job->height;
        resp.resp_case = TDEI__API__RESPONSE__RESP_TX_PROOFS;
        resp.tx_proofs = &proofs;
        api_call_respond(job->call, &resp);
    } else {
        headers.n_headers = job->header_count;
        headers.headers = job->header_ptrs;
        headers.height = job->height;
        resp.resp_case = TDEI__API__RESPONSE__RESP_HEADERS;
        resp.headers = &headers;
        api_call_respond(job->call, &resp);
    }
    audit_job_free(job);
}

/* Check a GetTxProofs or GetHeaders; answer the refusal and return
 * non-zero if bad. */
static int items_check(struct api_call *call, const Tdei__Api__Request *req)
{
    if (req->req_case == TDEI__API__REQUEST__REQ_GET_TX_PROOFS) {
        const Tdei__Api__GetTxProofs *q = req->get_tx_proofs;
        if (q->n_txs == 0 || q->n_txs > AUDIT_ITEMS_MAX) {
            api_call_respond_error(call, TDEI_BADREQUEST,
                                   "txs has %zu entries; ask for 1-%u txs "
                                   "at once",
                                   q->n_txs, AUDIT_ITEMS_MAX);
            return 1;
        }
        for (size_t i = 0; i < q->n_txs; i++) {
            if (q->txs[i]->height == 0) {
                api_call_respond_error(call, TDEI_BADREQUEST,
                                       "txs[%zu] has height 0; blocks start "
                                       "at height 1",
                                       i);
                return 1;
            }
        }
        return 0;
    }
    if (req->get_headers->n_heights == 0 ||
        req->get_headers->n_heights > AUDIT_ITEMS_MAX) {
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "heights has %zu entries; ask for 1-%u "
                               "headers at once",
                               req->get_headers->n_heights, AUDIT_ITEMS_MAX);
        return 1;
    }
    for (size_t i = 0; i < req->get_headers->n_heights; i++) {
        if (req->get_headers->heights[i] == 0) {
            api_call_respond_error(call, TDEI_BADREQUEST,
                                   "heights[%zu] is 0; blocks start at "
                                   "height 1",
                                   i);
            return 1;
        }
    }
    return 0;
}

static void handle_worker(struct node *node, struct api_call *call,
                          const Tdei__Api__Request *req)
{
    struct audit_job *job;
    size_t n;

    if (items_check(call, req) != 0) {
        return;
    }
    if (node->audit_jobs >= NODE_AUDIT_JOBS) {
        api_call_respond_error(call, TDEI_BUSY,
                               "the node is building %u proof answers "
                               "already; ask again shortly",
                               NODE_AUDIT_JOBS);
        return;
    }
    n = req->req_case == TDEI__API__REQUEST__REQ_GET_TX_PROOFS
            ? req->get_tx_proofs->n_txs
            : req->get_headers->n_heights;
    job = tdei_calloc(1, sizeof(*job));
    if (job != NULL) {
        if (req->req_case == TDEI__API__REQUEST__REQ_GET_TX_PROOFS) {
            job->proofs = tdei_calloc(n, sizeof(*job->proofs));
            job->proof_ptrs = tdei_calloc(n, sizeof(*job->proof_ptrs));
        } else {
            job->headers = tdei_calloc(n, sizeof(*job->headers));
            job->header_ptrs = tdei_calloc(n, sizeof(*job->header_ptrs));
        }
    }
    if (job == NULL || (job->proofs == NULL && job->headers == NULL) ||
        (job->proof_ptrs == NULL && job->header_ptrs == NULL)) {
        if (job != NULL) {
            audit_job_free(job);
        }
        api_call_respond_error(call, TDEI_NOMEM, "out of memory; retry");
        return;
    }
    job->node = node;
    job->call = call;
    job->req = req;
    job->limits = node->limits;
    job->answer_max = node->cfg.api_max_frame / 2;
    if (job->answer_max > AUDIT_ANSWER_BYTES_MAX) {
        job->answer_max = AUDIT_ANSWER_BYTES_MAX;
    }
    job->work.data = job;
    if (uv_queue_work(&node->loop, &job->work, audit_work, audit_after) != 0) {
        audit_job_free(job);
        api_call_respond_error(call, TDEI_BUSY,
                               "the node cannot start a worker now; ask "
                               "again shortly");
        return;
    }
    node->audit_jobs++;
}

void node__audit_request(struct node *node, struct api_call *call,
                         const Tdei__Api__Request *req)
{
    switch (req->req_case) {
    case TDEI__API__REQUEST__REQ_GET_HISTORY:
        handle_history(node, call, req->get_history);
        return;
    case TDEI__API__REQUEST__REQ_GET_VALIDATOR_CHANGES:
        handle_changes(node, call, req->get_validator_changes);
        return;
    case TDEI__API__REQUEST__REQ_GET_TX_PROOFS:
    case TDEI__API__REQUEST__REQ_GET_HEADERS:
        handle_worker(node, call, req);
        return;
    default:
        TDEI_ASSERT(!"node__audit_request: not an audit request");
    }
}
