/* tdei audit: build the proof bundle of one ledger object through the
 * node's API (api.proto 96-111), for `tdei verify` to check offline
 * (doc/bundle.md).
 *
 *   tdei audit dataset ID -o BUNDLE    (also stream ID, exchange XID,
 *                                       member ID)
 *
 * The group also runs `tdei audit chain` (cmd_audit_chain.c).
 *
 * The bundle is read in one history snapshot at height S: the object's
 * events below S, each tx with its result and both inclusion proofs, the
 * headers and commits of every height involved (each event's block and
 * the next, S itself, the highest) and every validator-set change in
 * force by S + 1, with the header that announces it. When the last event
 * is in block S itself, the command waits (--wait, default 10 s) for
 * block S + 1 and reads the history again. The file is written whole or
 * not at all. */
#include "cli.h"

#include "api/client.h"
#include "audit/bundle.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/fileio.h"
#include "core/hex.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_PAGE 1000u         /* GetHistory.limit */
#define AUDIT_BATCH 256u         /* txs or heights per request */
#define AUDIT_CHANGES_PAGE 100u  /* GetValidatorChanges.limit */
#define AUDIT_WAIT_S_DEFAULT 10u /* --wait */
#define AUDIT_WAIT_S_MAX 600u
#define AUDIT_BUSY_RETRY_MS 50u      /* after TDEI_BUSY, ask again */
#define AUDIT_BUSY_TRIES 400u        /* ... at most this often (20 s) */
#define AUDIT_CALL_TIMEOUT_MS 60000u /* one answer of the node */

/* One event of the history as the node lists it. */
struct hist_event
{
    uint64_t height;
    uint32_t index;
    uint8_t new_head[CODEC_HASH_SIZE];
};

/* What one build holds. */
struct build
{
    const struct cli_ctx *ctx;
    struct api_client client;
    struct hist_event *hist; /* the object's events, in order */
    size_t hist_count;
    uint64_t snapshot; /* the history's snapshot height S */
    uint8_t head[CODEC_HASH_SIZE];
    uint64_t *heights; /* headers wanted, ascending, unique */
    size_t height_count;
    struct bundle b; /* being assembled */
};

/* Send @req on the build's connection; a TDEI_BUSY answer is asked again
 * shortly. A failure is printed and returned as an exit code; on
 * success *@resp is the caller's. With @notfound_ok a TDEI_NOTFOUND
 * answer is returned as CLI_EXIT_OK with *@resp holding it. */
static int build_call(struct build *bd, Tdei__Api__Request *req,
                      Tdei__Api__Response **resp, int notfound_ok)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    for (unsigned tries = 0;; tries++) {
        req->id = 0;
        rc = api_client_call(&bd->client, req, resp, errmsg);
        if (rc != 0) {
            return cli_fail(rc, errmsg);
        }
        if ((*resp)->code == TDEI_BUSY && tries < AUDIT_BUSY_TRIES) {
            api_client_response_free(*resp);
            *resp = NULL;
            cli_sleep_ms(AUDIT_BUSY_RETRY_MS);
            continue;
        }
        if ((*resp)->code == 0 ||
            ((*resp)->code == TDEI_NOTFOUND && notfound_ok)) {
            return CLI_EXIT_OK;
        }
        rc = cli_fail((int)(*resp)->code, (*resp)->error);
        api_client_response_free(*resp);
        *resp = NULL;
        return rc;
    }
}

/* The node's committed height and chain id. */
static int build_status(struct build *bd, uint64_t *height)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = build_call(bd, &req, &resp, 0);
    if (rc == CLI_EXIT_OK) {
        *height = resp->status->height;
        (void)snprintf(bd->b.chain_id, sizeof(bd->b.chain_id), "%s",
                       resp->status->chain_id);
        api_client_response_free(resp);
    }
    return rc;
}

/* Check that the object exists and, for an entry, is of the kind asked. */
static int build_object(struct build *bd)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetObject get = TDEI__API__GET_OBJECT__INIT;
    Tdei__Api__Response *resp = NULL;
    ProtobufCMessage *msg = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    const char *kind = bundle_kind_name(bd->b.kind);
    int rc;

    get.key.data = bd->b.key;
    get.key.len = bd->b.key_len;
    req.req_case = TDEI__API__REQUEST__REQ_GET_OBJECT;
    req.get_object = &get;
    rc = build_call(bd, &req, &resp, 1);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (resp->code == TDEI_NOTFOUND) {
        api_client_response_free(resp);
        return cli_fail(TDEI_NOTFOUND, bd->b.kind == BUNDLE_KIND_EXCHANGE
                                           ? "no exchange has this id on "
                                             "the ledger; give the tx id of "
                                             "its request"
                                           : "the ledger has no such object; "
                                             "check the id");
    }
    if (bd->b.kind == BUNDLE_KIND_DATASET || bd->b.kind == BUNDLE_KIND_STREAM) {
        rc = codec_message_unpack(&msg, &tdei__dataset__descriptor,
                                  resp->object->value.data,
                                  resp->object->value.len, "the entry", errmsg);
        if (rc != 0) {
            rc = cli_fail(rc, errmsg);
        } else {
            uint32_t want = bd->b.kind == BUNDLE_KIND_DATASET ? 1u : 2u;
            uint32_t is = ((Tdei__Dataset *)msg)->kind;
            if (is != want) {
                char text[TDEI_ERRMSG_SIZE];
                (void)snprintf(text, sizeof(text),
                               "entry %s is a %s, not a %s; run `tdei audit "
                               "%s %s`",
                               bd->b.id, is == 2 ? "stream" : "dataset", kind,
                               is == 2 ? "stream" : "dataset", bd->b.id);
                rc = cli_fail(TDEI_INVAL, text);
            }
        }
        codec_message_free(msg);
    }
    api_client_response_free(resp);
    return rc;
}

static int hist_push(struct build *bd, const Tdei__Api__HistoryEvent *e,
                     size_t *cap)
{
    if (e->prev_head.len != CODEC_HASH_SIZE ||
        e->new_head.len != CODEC_HASH_SIZE) {
        return cli_fail(TDEI_MALFORMED, "the node sent a history event "
                                        "without 32-byte heads");
    }
    if (bd->hist_count == *cap) {
        size_t grown = *cap == 0 ? 1024 : *cap * 2;
        void *p = tdei_realloc(bd->hist, grown * sizeof(*bd->hist));
        if (p == NULL) {
            return cli_error("out of memory for %zu events", grown);
        }
        bd->hist = p;
        *cap = grown;
    }
    bd->hist[bd->hist_count].height = e->height;
    bd->hist[bd->hist_count].index = e->index;
    memcpy(bd->hist[bd->hist_count].new_head, e->new_head.data,
           CODEC_HASH_SIZE);
    bd->hist_count++;
    return CLI_EXIT_OK;
}

/* Read the object's history, page by page, from the start; keep what the
 * first page's snapshot holds (bd->snapshot, bd->head). */
static int build_history(struct build *bd)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetHistory get = TDEI__API__GET_HISTORY__INIT;
    size_t cap = 0;
    int more = 1;
    int first = 1;
    int rc = CLI_EXIT_OK;

    tdei_free(bd->hist);
    bd->hist = NULL;
    bd->hist_count = 0;
    get.object.data = bd->b.key;
    get.object.len = bd->b.key_len;
    get.limit = AUDIT_PAGE;
    req.req_case = TDEI__API__REQUEST__REQ_GET_HISTORY;
    req.get_history = &get;
    /* Bounded: each page moves past at least one event; the history of
     * the snapshot is finite. */
    while (more && rc == CLI_EXIT_OK) {
        Tdei__Api__Response *resp = NULL;
        const Tdei__Api__History *h;
        rc = build_call(bd, &req, &resp, 0);
        if (rc != CLI_EXIT_OK) {
            break;
        }
        h = resp->history;
        if (first) {
            if (h->head.len != CODEC_HASH_SIZE) {
                api_client_response_free(resp);
                return cli_fail(TDEI_MALFORMED,
                                "the node sent a head that is not 32 bytes");
            }
            bd->snapshot = h->height;
            memcpy(bd->head, h->head.data, CODEC_HASH_SIZE);
            first = 0;
        }
        more = h->more && h->n_events > 0;
        for (size_t i = 0; i < h->n_events && rc == CLI_EXIT_OK; i++) {
            if (h->events[i]->height > bd->snapshot) {
                more = 0; /* after the snapshot: not in this bundle */
                break;
            }
            rc = hist_push(bd, h->events[i], &cap);
        }
        if (h->n_events > 0) {
            const Tdei__Api__HistoryEvent *last = h->events[h->n_events - 1];
            get.from_height = last->height;
            get.from_index = last->index + 1;
        }
        api_client_response_free(resp);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (bd->hist_count == 0) {
        return cli_fail(TDEI_NOTFOUND, "the object has no history on the "
                                       "ledger: no tx touched it");
    }
    if (memcmp(bd->hist[bd->hist_count - 1].new_head, bd->head,
               CODEC_HASH_SIZE) != 0) {
        return cli_fail(TDEI_BUSY, "the object's history changed while it "
                                   "was read; run the command again");
    }
    return CLI_EXIT_OK;
}

/* Wait until block @height is committed (at most @wait_s seconds). */
static int build_wait_height(struct build *bd, uint64_t height, uint64_t wait_s)
{
    uint64_t tip = 0;
    char text[160];

    for (uint64_t waited_ms = 0;; waited_ms += 200) {
        int rc = build_status(bd, &tip);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        if (tip >= height) {
            return CLI_EXIT_OK;
        }
        if (waited_ms >= wait_s * 1000u) {
            break;
        }
        cli_sleep_ms(200);
    }
    (void)snprintf(text, sizeof(text),
                   "the last event is in block %" PRIu64
                   "; its results root is in header %" PRIu64
                   ", not committed within %" PRIu64
                   " s; run again after the next block",
                   height - 1, height, wait_s);
    return cli_fail(TDEI_TIMEOUT, text);
}

static int copy_path(struct bundle_proof *p, ProtobufCBinaryData *const path,
                     size_t n)
{
    p->count = n;
    if (n == 0) {
        return 0;
    }
    if (n > MERKLE_INCLUSION_MAX) {
        return cli_fail(TDEI_MALFORMED, "the node sent an audit path longer "
                                        "than 64 hashes");
    }
    p->path = tdei_calloc(n, MERKLE_HASH_SIZE);
    if (p->path == NULL) {
        return cli_error("out of memory for a proof");
    }
    for (size_t i = 0; i < n; i++) {
        if (path[i].len != MERKLE_HASH_SIZE) {
            return cli_fail(TDEI_MALFORMED, "the node sent an audit path "
                                            "entry that is not 32 bytes");
        }
        memcpy(p->path[i], path[i].data, MERKLE_HASH_SIZE);
    }
    return 0;
}

static int bytes_dup(uint8_t **out, size_t *len, const ProtobufCBinaryData *in)
{
    *out = tdei_malloc(in->len);
    if (*out == NULL) {
        return cli_error("out of memory for %zu bytes", in->len);
    }
    memcpy(*out, in->data, in->len);
    *len = in->len;
    return CLI_EXIT_OK;
}

/* Take the proof @p for event @e (its roots are set from the headers
 * later). */
static int event_take(struct bundle_event *e, const Tdei__Api__TxProof *p)
{
    int rc = bytes_dup(&e->tx, &e->tx_len, &p->tx);

    if (rc == CLI_EXIT_OK) {
        rc = bytes_dup(&e->result, &e->result_len, &p->result);
    }
    if (rc == CLI_EXIT_OK) {
        rc = copy_path(&e->tx_proof, p->tx_path, p->n_tx_path);
    }
    if (rc == CLI_EXIT_OK) {
        rc = copy_path(&e->result_proof, p->result_path, p->n_result_path);
    }
    if (rc == CLI_EXIT_OK) {
        merkle_leaf_hash(e->tx_proof.leaf_hash, e->tx, e->tx_len);
        merkle_leaf_hash(e->result_proof.leaf_hash, e->result, e->result_len);
        e->tx_proof.leaf_index = e->index;
        e->result_proof.leaf_index = e->index;
        e->tx_proof.tree_size = p->tx_count;
        e->result_proof.tree_size = p->tx_count;
    }
    return rc;
}

/* Fetch the proofs of every event, AUDIT_BATCH at a time (the node may
 * answer fewer: ask again from there). */
static int build_proofs(struct bundle *b, struct build *bd)
{
    Tdei__Api__TxRef refs[AUDIT_BATCH];
    Tdei__Api__TxRef *ptrs[AUDIT_BATCH];
    size_t done = 0;

    b->events = tdei_calloc(bd->hist_count, sizeof(*b->events));
    if (b->events == NULL) {
        return cli_error("out of memory for %zu events", bd->hist_count);
    }
    b->event_count = bd->hist_count;
    while (done < bd->hist_count) {
        Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
        Tdei__Api__GetTxProofs get = TDEI__API__GET_TX_PROOFS__INIT;
        Tdei__Api__Response *resp = NULL;
        size_t n = bd->hist_count - done;
        int rc;
        if (n > AUDIT_BATCH) {
            n = AUDIT_BATCH;
        }
        for (size_t i = 0; i < n; i++) {
            tdei__api__tx_ref__init(&refs[i]);
            refs[i].height = bd->hist[done + i].height;
            refs[i].index = bd->hist[done + i].index;
            ptrs[i] = &refs[i];
        }
        get.n_txs = n;
        get.txs = ptrs;
        req.req_case = TDEI__API__REQUEST__REQ_GET_TX_PROOFS;
        req.get_tx_proofs = &get;
        rc = build_call(bd, &req, &resp, 0);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        if (resp->tx_proofs->n_proofs == 0 || resp->tx_proofs->n_proofs > n) {
            api_client_response_free(resp);
            return cli_fail(TDEI_MALFORMED, "the node answered a proof "
                                            "request with no proof");
        }
        for (size_t i = 0; i < resp->tx_proofs->n_proofs && rc == 0; i++) {
            const Tdei__Api__TxProof *p = resp->tx_proofs->proofs[i];
            struct bundle_event *e = &b->events[done + i];
            if (p->height != refs[i].height || p->index != refs[i].index) {
                rc = cli_fail(TDEI_MALFORMED, "the node answered with the "
                                              "proof of another tx");
                break;
            }
            e->height = p->height;
            e->index = p->index;
            rc = event_take(e, p);
        }
        done += resp->tx_proofs->n_proofs;
        api_client_response_free(resp);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }
    return CLI_EXIT_OK;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Add @h to the wanted heights (sorted and made unique later). */
static int want(struct build *bd, uint64_t h, size_t *cap)
{
    if (bd->height_count == *cap) {
        size_t grown = *cap == 0 ? 1024 : *cap * 2;
        void *p = tdei_realloc(bd->heights, grown * sizeof(*bd->heights));
        if (p == NULL) {
            return cli_error("out of memory for %zu heights", grown);
        }
        bd->heights = p;
        *cap = grown;
    }
    bd->heights[bd->height_count++] = h;
    return CLI_EXIT_OK;
}

static void wanted_sort(struct build *bd)
{
    size_t n = 0;

    qsort(bd->heights, bd->height_count, sizeof(*bd->heights), u64_cmp);
    for (size_t i = 0; i < bd->height_count; i++) {
        if (n == 0 || bd->heights[n - 1] != bd->heights[i]) {
            bd->heights[n++] = bd->heights[i];
        }
    }
    bd->height_count = n;
}

/* The validator-set changes in force by @max_height + 1, after genesis. */
static int build_changes(struct bundle *b, struct build *bd,
                         uint64_t max_height)
{
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    uint64_t after = 1; /* genesis's set votes from 1: skip it */
    size_t cap = 0;

    limits.validators_max = BUNDLE_VALIDATORS_MAX;
    for (;;) {
        Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
        Tdei__Api__GetValidatorChanges get =
            TDEI__API__GET_VALIDATOR_CHANGES__INIT;
        Tdei__Api__Response *resp = NULL;
        const Tdei__Api__ValidatorChanges *list;
        int more;
        int rc;
        get.after = after;
        get.limit = AUDIT_CHANGES_PAGE;
        req.req_case = TDEI__API__REQUEST__REQ_GET_VALIDATOR_CHANGES;
        req.get_validator_changes = &get;
        rc = build_call(bd, &req, &resp, 0);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        list = resp->validator_changes;
        more = list->more && list->n_changes > 0;
        for (size_t i = 0; i < list->n_changes && rc == CLI_EXIT_OK; i++) {
            const Tdei__Api__ValidatorChange *c = list->changes[i];
            Tdei__ValidatorSet *set = NULL;
            char errmsg[TDEI_ERRMSG_SIZE] = "";
            struct bundle_change *bc;
            if (c->from_height <= after) {
                rc = cli_fail(TDEI_MALFORMED, "the node listed validator-set "
                                              "changes out of order");
                break;
            }
            after = c->from_height;
            if (c->from_height > max_height + 1) {
                more = 0;
                break;
            }
            if (b->change_count == cap) {
                size_t grown = cap == 0 ? 16 : cap * 2;
                void *p = tdei_realloc(b->changes, grown * sizeof(*b->changes));
                if (p == NULL) {
                    rc = cli_error("out of memory for validator sets");
                    break;
                }
                b->changes = p;
                cap = grown;
            }
            rc = codec_validator_set_decode(&set, c->set.data, c->set.len,
                                            &limits, errmsg);
            if (rc != 0) {
                rc = cli_fail(rc, errmsg);
                break;
            }
            bc = &b->changes[b->change_count];
            memset(bc, 0, sizeof(*bc));
            bc->from_height = c->from_height;
            bc->keys = tdei_calloc(set->n_validators, TDEI_PUBKEY_SIZE);
            if (bc->keys == NULL) {
                codec_validator_set_free(set);
                rc = cli_error("out of memory for a validator set");
                break;
            }
            bc->count = set->n_validators;
            for (size_t k = 0; k < set->n_validators; k++) {
                memcpy(bc->keys[k], set->validators[k]->node_key.data,
                       TDEI_PUBKEY_SIZE);
            }
            codec_validator_set_free(set);
            b->change_count++;
        }
        api_client_response_free(resp);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        if (!more) {
            return CLI_EXIT_OK;
        }
    }
}

/* Fetch the wanted headers with their commits, AUDIT_BATCH at a time. */
static int build_headers(struct bundle *b, struct build *bd)
{
    size_t done = 0;

    b->headers = tdei_calloc(bd->height_count + 1, sizeof(*b->headers));
    if (b->headers == NULL) {
        return cli_error("out of memory for %zu headers", bd->height_count);
    }
    while (done < bd->height_count) {
        Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
        Tdei__Api__GetHeaders get = TDEI__API__GET_HEADERS__INIT;
        Tdei__Api__Response *resp = NULL;
        size_t n = bd->height_count - done;
        int rc;
        if (n > AUDIT_BATCH) {
            n = AUDIT_BATCH;
        }
        get.n_heights = n;
        get.heights = bd->heights + done;
        req.req_case = TDEI__API__REQUEST__REQ_GET_HEADERS;
        req.get_headers = &get;
        rc = build_call(bd, &req, &resp, 0);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        if (resp->headers->n_headers == 0 || resp->headers->n_headers > n) {
            api_client_response_free(resp);
            return cli_fail(TDEI_MALFORMED, "the node answered a header "
                                            "request with no header");
        }
        for (size_t i = 0; i < resp->headers->n_headers && rc == 0; i++) {
            const Tdei__Api__HeaderCommit *hc = resp->headers->headers[i];
            struct bundle_header *bh = &b->headers[b->header_count];
            char text[160];
            if (hc->height != bd->heights[done + i]) {
                rc = cli_fail(TDEI_MALFORMED, "the node answered with "
                                              "another header");
                break;
            }
            if (hc->commit.len == 0) {
                (void)snprintf(text, sizeof(text),
                               "the node has no commit of block %" PRIu64
                               " yet; run again after the next block",
                               hc->height);
                rc = cli_fail(TDEI_NOTFOUND, text);
                break;
            }
            bh->height = hc->height;
            rc = bytes_dup(&bh->header, &bh->header_len, &hc->header);
            if (rc == CLI_EXIT_OK) {
                rc = bytes_dup(&bh->commit, &bh->commit_len, &hc->commit);
            }
            b->header_count++;
        }
        done += resp->headers->n_headers;
        api_client_response_free(resp);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }
    return CLI_EXIT_OK;
}

/* Copy each proof's root from its header: the txs_root of the event's
 * height, the last_results_root of the next. */
static int build_roots(struct bundle *b)
{
    for (size_t i = 0; i < b->event_count; i++) {
        struct bundle_event *e = &b->events[i];
        for (uint64_t which = 0; which < 2; which++) {
            const struct bundle_header *bh =
                bundle_header_find(b, e->height + which);
            Tdei__Header *hd = NULL;
            char errmsg[TDEI_ERRMSG_SIZE] = "";
            int rc;
            if (bh == NULL) {
                return cli_fail(TDEI_MALFORMED, "a header the bundle needs "
                                                "is missing");
            }
            rc = codec_header_decode(&hd, bh->header, bh->header_len, errmsg);
            if (rc != 0) {
                return cli_fail(rc, errmsg);
            }
            if (which == 0) {
                memcpy(e->tx_proof.root, hd->txs_root.data, MERKLE_HASH_SIZE);
            } else {
                memcpy(e->result_proof.root, hd->last_results_root.data,
                       MERKLE_HASH_SIZE);
            }
            codec_header_free(hd);
        }
    }
    return CLI_EXIT_OK;
}

/* Write @len bytes of @text to @path through a temporary file, synced,
 * then renamed over it. */
static int write_file(const char *path, const char *text, size_t len)
{
    char tmp[CLI_PATH_SIZE + 16];
    int fd;
    int err;

    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return cli_error("cannot create %s: %s; check that its directory "
                         "exists and is writable",
                         tmp, strerror(errno));
    }
    err = tdei_write_all(fd, text, len);
    if (err == 0 && fsync(fd) != 0) {
        err = errno;
    }
    if (close(fd) != 0 && err == 0) {
        err = errno;
    }
    if (err == 0 && rename(tmp, path) != 0) {
        err = errno;
    }
    if (err != 0) {
        (void)unlink(tmp);
        return cli_error("cannot write %s: %s", path, strerror(err));
    }
    tdei_sync_parent_dir(path);
    return CLI_EXIT_OK;
}

static int build_run(struct build *bd, const char *out, uint64_t wait_s)
{
    struct bundle *b = &bd->b;
    uint64_t tip = 0;
    uint64_t last;
    uint64_t max_height;
    size_t cap = 0;
    char *text = NULL;
    size_t len = 0;
    int rc;

    rc = build_status(bd, &tip);
    if (rc == CLI_EXIT_OK) {
        rc = build_object(bd);
    }
    if (rc == CLI_EXIT_OK) {
        rc = build_history(bd);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    /* The bundle holds the events below its highest header, as_of (whose
     * last_results_root proves the results of the block before it): the
     * snapshot. When the last event is in the snapshot's own block, wait
     * for the next block and read the history again. */
    if (bd->hist[bd->hist_count - 1].height >= bd->snapshot) {
        rc = build_wait_height(bd, bd->snapshot + 1, wait_s);
        if (rc == CLI_EXIT_OK) {
            rc = build_history(bd);
        }
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }
    while (bd->hist_count > 0 &&
           bd->hist[bd->hist_count - 1].height >= bd->snapshot) {
        bd->hist_count--; /* in the snapshot's block: the next bundle's */
    }
    if (bd->hist_count == 0) {
        return cli_fail(TDEI_NOTFOUND, "the object's only events are in the "
                                       "latest block; run again after the "
                                       "next one");
    }
    last = bd->hist[bd->hist_count - 1].height;
    memcpy(bd->head, bd->hist[bd->hist_count - 1].new_head, CODEC_HASH_SIZE);
    rc = build_proofs(b, bd);
    for (size_t i = 0; rc == CLI_EXIT_OK && i < bd->hist_count; i++) {
        rc = want(bd, bd->hist[i].height, &cap);
        if (rc == CLI_EXIT_OK) {
            rc = want(bd, bd->hist[i].height + 1, &cap);
        }
    }
    if (rc == CLI_EXIT_OK) {
        rc = want(bd, bd->snapshot, &cap);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    max_height = bd->snapshot;
    rc = build_changes(b, bd, max_height);
    for (size_t i = 0; rc == CLI_EXIT_OK && i < b->change_count; i++) {
        rc = want(bd, b->changes[i].from_height - 1, &cap);
    }
    if (rc == CLI_EXIT_OK) {
        wanted_sort(bd);
        rc = build_headers(b, bd);
    }
    if (rc == CLI_EXIT_OK) {
        rc = build_roots(b);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    b->as_of = bd->snapshot;
    memcpy(b->head, bd->head, CODEC_HASH_SIZE);
    if (bundle_encode(b, &text, &len) != 0) {
        return cli_error("out of memory for the bundle text");
    }
    rc = write_file(out, text, len);
    tdei_free(text);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (bd->ctx->json) {
        return cli_print_json(json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "bundle",
            out, "chain_id", b->chain_id, "kind", bundle_kind_name(b->kind),
            "id", b->id, "events", (json_int_t)b->event_count, "first_height",
            (json_int_t)b->events[0].height, "last_height", (json_int_t)last,
            "as_of", (json_int_t)b->as_of, "headers",
            (json_int_t)b->header_count, "validator_changes",
            (json_int_t)b->change_count, "bytes", (json_int_t)len));
    }
    printf("bundle             %s\n"
           "object             %s %s\n"
           "chain              %s\n"
           "events             %zu (heights %" PRIu64 " to %" PRIu64 ")\n"
           "as of height       %" PRIu64 "\n"
           "headers            %zu\n"
           "validator changes  %zu\n"
           "bytes              %zu\n"
           "check it offline with: tdei verify %s --genesis genesis.json\n",
           out, bundle_kind_name(b->kind), b->id, b->chain_id, b->event_count,
           b->events[0].height, last, b->as_of, b->header_count,
           b->change_count, len, out);
    return CLI_EXIT_OK;
}

/* `-o FILE` is `--output FILE` (cli_parse reads long options only). */
static void output_short_option(int argc, char **argv, char **out)
{
    for (int i = 0; i < argc; i++) {
        out[i] = strcmp(argv[i], "-o") == 0 ? "--output" : argv[i];
    }
    out[argc] = NULL;
}

static int audit_object(struct cli_ctx *ctx, int argc, char **argv,
                        enum bundle_kind kind)
{
    const char *output = NULL;
    uint64_t wait_s = AUDIT_WAIT_S_DEFAULT;
    char what[32];
    char about[1024];
    char operand[16];
    const struct cli_opt opts[] = {
        {.name = "output",
         .type = CLI_OPT_TEXT,
         .dest = &output,
         .meta = "BUNDLE",
         .help = "write the bundle to BUNDLE (also -o BUNDLE); its "
                 "directory must exist",
         .flags = CLI_REQUIRED},
        {.name = "wait",
         .type = CLI_OPT_U64,
         .dest = &wait_s,
         .meta = "SEC",
         .help = "when the last event is in the latest block, wait at most "
                 "SEC seconds for the next one (default 10)",
         .min = 0,
         .max = AUDIT_WAIT_S_MAX},
    };
    struct cli_spec spec = {
        .what = what,
        .operands = operand,
        .operands_min = 1,
        .operands_max = 1,
        .about = about,
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct build bd;
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    char path[CLI_PATH_SIZE];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int first;
    int rc;

    (void)snprintf(what, sizeof(what), "audit %s", bundle_kind_name(kind));
    (void)snprintf(operand, sizeof(operand), "%s",
                   kind == BUNDLE_KIND_EXCHANGE ? "EXCHANGE-ID" : "ID");
    (void)snprintf(about, sizeof(about),
                   "Write the proof bundle of %s %s to BUNDLE: every tx "
                   "that touched it,\nwith its result and the RFC 6962 "
                   "inclusion proofs of both, the headers\nand commits of "
                   "those heights and the validator-set changes from "
                   "genesis.\nCheck it offline with `tdei verify BUNDLE "
                   "--genesis genesis.json`\n(doc/bundle.md).",
                   bundle_kind_name(kind), operand);
    if (args == NULL) {
        return cli_error("out of memory");
    }
    output_short_option(argc, argv, args);
    if (!cli_parse(&spec, argc, args, &first, &rc)) {
        free(args);
        return rc;
    }
    memset(&bd, 0, sizeof(bd));
    bd.ctx = ctx;
    bd.client.fd = -1;
    bd.b.kind = kind;
    (void)snprintf(bd.b.id, sizeof(bd.b.id), "%s", args[first]);
    if (strlen(args[first]) > BUNDLE_ID_MAX ||
        bundle_object_key(kind, args[first], bd.b.key, &bd.b.key_len, errmsg) !=
            0) {
        rc = cli_usage_error(what, "%s",
                             errmsg[0] != '\0' ? errmsg : "id is too long");
    } else {
        rc = cli_path_absolute(what, "--output", output, path);
    }
    free(args);
    if (rc == CLI_EXIT_OK) {
        rc = cli_connect(ctx, &bd.client, AUDIT_CALL_TIMEOUT_MS);
    }
    if (rc == CLI_EXIT_OK) {
        rc = build_run(&bd, path, wait_s);
    }
    api_client_close(&bd.client);
    bundle_free(&bd.b);
    tdei_free(bd.hist);
    tdei_free(bd.heights);
    return rc;
}

static int audit_dataset(struct cli_ctx *ctx, int argc, char **argv)
{
    return audit_object(ctx, argc, argv, BUNDLE_KIND_DATASET);
}

static int audit_stream(struct cli_ctx *ctx, int argc, char **argv)
{
    return audit_object(ctx, argc, argv, BUNDLE_KIND_STREAM);
}

static int audit_exchange(struct cli_ctx *ctx, int argc, char **argv)
{
    return audit_object(ctx, argc, argv, BUNDLE_KIND_EXCHANGE);
}

static int audit_member(struct cli_ctx *ctx, int argc, char **argv)
{
    return audit_object(ctx, argc, argv, BUNDLE_KIND_MEMBER);
}

int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"dataset", audit_dataset, "write the proof bundle of a dataset"},
        {"stream", audit_stream, "write the proof bundle of a stream"},
        {"exchange", audit_exchange, "write the proof bundle of an exchange"},
        {"member", audit_member, "write the proof bundle of a member"},
        {"chain", cli_audit_chain,
         "re-verify the chain from genesis: headers, commits, app hashes"},
    };

    return cli_dispatch(ctx, "audit", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
