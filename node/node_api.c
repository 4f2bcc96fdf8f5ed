/* The node's client API handlers and commit waiters (node_internal.h). */
#include "api/api.h"
#include "build-config.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"
#include "node.h"
#include "node_audit.h"
#include "node_internal.h"
#include "node_plane.h"
#include "search/search.h"

#include "contracts/contract.h"

#include <stdio.h>
#include <string.h>

#define NODE_WAIT_BUCKETS 4096u    /* hash buckets of the waiters */
#define NODE_WAITERS_MAX 65536u    /* submits waiting for commit at once */
#define NODE_WAIT_DEFAULT_MS 10000u /* SubmitTx.timeout_ms 0 means this */
#define NODE_WAIT_MAX_MS 120000u   /* the longest wait a client may ask */
#define NODE_LIST_LIMIT_MAX 1000u  /* ListObjects.limit */
#define NODE_LIST_BYTES_MAX (4u * 1024u * 1024u) /* keys + values a page */

_Static_assert((NODE_WAIT_BUCKETS & (NODE_WAIT_BUCKETS - 1)) == 0,
               "buckets are a power of two");

/* A submit with wait=true whose tx was admitted and is not committed. */
struct node_waiter {
    uint8_t tx_id[CODEC_HASH_SIZE]; /* the tx waited for */
    struct api_call *call;          /* answered on commit or deadline */
    uint64_t deadline_ms;           /* uv_now after which it times out */
    struct node_waiter *next;       /* bucket chain */
};

/* A submit whose signature is being verified by the mempool. */
struct node_submit {
    struct node *node;
    struct api_call *call; /* NULL once the connection went away */
    int wait;              /* SubmitTx.wait */
    uint32_t timeout_ms;   /* SubmitTx.timeout_ms, 0 = default */
};

static size_t waiter_bucket(const uint8_t tx_id[CODEC_HASH_SIZE])
{
    size_t h;

    memcpy(&h, tx_id, sizeof(h)); /* tx ids are SHA-256: uniform */
    return h & (NODE_WAIT_BUCKETS - 1);
}

int node__waiters_init(struct node *node)
{
    node->waiters = tdei_calloc(NODE_WAIT_BUCKETS, sizeof(*node->waiters));
    return node->waiters == NULL ? TDEI_NOMEM : 0;
}

void node__waiters_free(struct node *node)
{
    TDEI_ASSERT(node->waiter_count == 0);
    tdei_free(node->waiters);
    node->waiters = NULL;
}

/* Answer a submit that committed: its id, height, index and result. */
static void respond_committed(struct node *node, struct api_call *call,
                              const uint8_t tx_id[CODEC_HASH_SIZE])
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__SubmitResult result = TDEI__API__SUBMIT_RESULT__INIT;
    Tdei__TxResult *txresult = NULL;
    struct store_read *r;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint8_t *bytes = NULL;
    size_t len = 0;
    uint64_t height = 0;
    uint32_t index = 0;
    int rc;

    rc = store_read_begin(node->store, &r, errmsg);
    if (rc == 0) {
        rc = exec_query_tx(r, tx_id, &height, &index, &txresult, errmsg);
        store_read_end(r);
    }
    if (rc == 0) {
        rc = codec_txresult_encode(txresult, &bytes, &len);
    }
    codec_txresult_free(txresult);
    if (rc != 0) {
        api_call_respond_error(call, rc, "tx committed but its result "
                                         "cannot be read: %s",
                               errmsg);
        return;
    }
    result.tx_id.data = (uint8_t *)(uintptr_t)tx_id;
    result.tx_id.len = CODEC_HASH_SIZE;
    result.height = height;
    result.index = index;
    result.result.data = bytes;
    result.result.len = len;
    resp.resp_case = TDEI__API__RESPONSE__RESP_SUBMIT;
    resp.submit = &result;
    api_call_respond(call, &resp);
    tdei_free(bytes);
}

void node__waiters_committed(struct node *node,
                             const uint8_t (*tx_ids)[CODEC_HASH_SIZE],
                             size_t count)
{
    uint8_t tx_id[CODEC_HASH_SIZE];

    if (node->waiter_count == 0) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        struct node_waiter **link;
        memcpy(tx_id, tx_ids[i], CODEC_HASH_SIZE);
        link = &node->waiters[waiter_bucket(tx_id)];
        while (*link != NULL) {
            struct node_waiter *w = *link;
            if (memcmp(w->tx_id, tx_id, CODEC_HASH_SIZE) != 0) {
                link = &w->next;
                continue;
            }
            *link = w->next;
            node->waiter_count--;
            respond_committed(node, w->call, tx_id);
            tdei_free(w);
        }
    }
}

/* Answer and remove the waiters whose deadline is before @now_ms
 * (TDEI_TIMEOUT), or every waiter when @cancel_all (TDEI_CANCELED). */
static void waiters_drop(struct node *node, uint64_t now_ms, int cancel_all)
{
    for (size_t b = 0; b < NODE_WAIT_BUCKETS && node->waiter_count > 0;
         b++) {
        struct node_waiter **link = &node->waiters[b];
        while (*link != NULL) {
            struct node_waiter *w = *link;
            if (!cancel_all && w->deadline_ms > now_ms) {
                link = &w->next;
                continue;
            }
            *link = w->next;
            node->waiter_count--;
            api_call_respond_error(
                w->call, cancel_all ? TDEI_CANCELED : TDEI_TIMEOUT,
                cancel_all ? "the node is stopping; query the tx later with "
                             "`tdei tx show`"
                           : "the tx was admitted but not committed within "
                             "the wait; query it later with `tdei tx show`");
            tdei_free(w);
        }
    }
}

void node__waiters_expire(struct node *node)
{
    if (node->waiter_count > 0) {
        waiters_drop(node, uv_now(&node->loop), 0);
    }
}

void node__waiters_cancel(struct node *node)
{
    waiters_drop(node, 0, 1);
}

/* ---- submit ----------------------------------------------------------------- */

static void respond_submitted(struct api_call *call, const uint8_t *tx_id)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__SubmitResult result = TDEI__API__SUBMIT_RESULT__INIT;

    result.tx_id.data = (uint8_t *)(uintptr_t)tx_id;
    result.tx_id.len = CODEC_HASH_SIZE;
    resp.resp_case = TDEI__API__RESPONSE__RESP_SUBMIT;
    resp.submit = &result;
    api_call_respond(call, &resp);
}

/* Send a tx the mempool just admitted from a client to the peers. */
static void node_gossip_admitted(struct node *node, const uint8_t *txid)
{
    struct mempool_entry entry;

    if (mempool_lookup(node->mempool, &entry, txid) == 0) {
        node__p2p_tx(node, entry.tx, entry.tx_size);
    }
}

static void submit_done(void *data, int status, const uint8_t *txid,
                        const char *errmsg)
{
    struct node_submit *sub = data;
    struct node *node = sub->node;
    struct node_waiter *w;
    uint32_t timeout_ms;

    if (!api_call_active(sub->call)) {
        api_call_respond_error(sub->call, TDEI_CANCELED, "client left");
    } else if (status != 0) {
        api_call_respond_error(sub->call, status, "%s",
                               errmsg != NULL && errmsg[0] != '\0'
                                   ? errmsg
                                   : tdei_strerror(status));
    } else if (!sub->wait || node->stopping) {
        respond_submitted(sub->call, txid);
    } else if (node->waiter_count >= NODE_WAITERS_MAX ||
               (w = tdei_calloc(1, sizeof(*w))) == NULL) {
        /* Admitted, but no room to wait: say so, with the id. */
        api_call_respond_error(sub->call, TDEI_BUSY,
                               "tx admitted but %u submits already wait "
                               "for commit; query it with `tdei tx show`",
                               NODE_WAITERS_MAX);
    } else {
        timeout_ms = sub->timeout_ms == 0 ? NODE_WAIT_DEFAULT_MS
                                          : sub->timeout_ms;
        memcpy(w->tx_id, txid, CODEC_HASH_SIZE);
        w->call = sub->call;
        w->deadline_ms = uv_now(&node->loop) + timeout_ms;
        w->next = node->waiters[waiter_bucket(txid)];
        node->waiters[waiter_bucket(txid)] = w;
        node->waiter_count++;
        node__maybe_block(node);
    }
    if (status == 0) {
        node_gossip_admitted(node, txid);
    }
    tdei_free(sub);
}

static void handle_submit(struct node *node, struct api_call *call,
                          const Tdei__Api__SubmitTx *req)
{
    struct node_submit *sub;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    if (req->timeout_ms > NODE_WAIT_MAX_MS) {
        api_call_respond_error(call, TDEI_INVAL,
                               "timeout_ms %u is over %u; ask for less",
                               req->timeout_ms, NODE_WAIT_MAX_MS);
        return;
    }
    sub = tdei_calloc(1, sizeof(*sub));
    if (sub == NULL) {
        api_call_respond_error(call, TDEI_NOMEM, "out of memory; retry");
        return;
    }
    sub->node = node;
    sub->call = call;
    sub->wait = req->wait;
    sub->timeout_ms = req->timeout_ms;
    rc = mempool_submit(node->mempool, errmsg, req->tx.data, req->tx.len,
                        sub, submit_done);
    if (rc != 0) {
        tdei_free(sub);
        api_call_respond_error(call, rc, "%s",
                               errmsg[0] != '\0' ? errmsg
                                                 : tdei_strerror(rc));
    }
}

/* ---- queries ------------------------------------------------------------------ */

static void handle_get_tx(struct node *node, struct api_call *call,
                          struct store_read *r, const Tdei__Api__GetTx *req)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__TxInfo info = TDEI__API__TX_INFO__INIT;
    Tdei__TxResult *result = NULL;
    Tdei__Block *block = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint8_t key[8];
    uint8_t *result_bytes = NULL;
    size_t result_len = 0;
    const uint8_t *stored;
    size_t stored_len;
    uint64_t height;
    uint32_t index;
    int rc;

    if (req->tx_id.len != CODEC_HASH_SIZE) {
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "tx_id must be 32 bytes, not %zu",
                               req->tx_id.len);
        return;
    }
    rc = exec_query_tx(r, req->tx_id.data, &height, &index, &result, errmsg);
    if (rc == TDEI_NOTFOUND) {
        struct mempool_entry entry;
        api_call_respond_error(
            call, TDEI_NOTFOUND, "%s",
            mempool_lookup(node->mempool, &entry, req->tx_id.data) == 0
                ? "tx is pending in the mempool, not committed yet; ask "
                  "again after the next block"
                : "no committed or pending tx has this id");
        return;
    }
    if (rc == 0) {
        rc = codec_txresult_encode(result, &result_bytes, &result_len);
    }
    if (rc == 0) {
        store_u64_encode(key, height);
        rc = store_get(r, STORE_DB_BLOCKS, key, sizeof(key), &stored,
                       &stored_len);
    }
    if (rc == 0) {
        rc = codec_block_decode(&block, NULL, stored, stored_len,
                                &node->limits, errmsg);
    }
    if (rc == 0 && index >= block->n_txs) {
        rc = TDEI_CORRUPT;
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "cannot read the tx: %s", errmsg);
    } else {
        info.height = height;
        info.index = index;
        info.tx = block->txs[index];
        info.result.data = result_bytes;
        info.result.len = result_len;
        resp.resp_case = TDEI__API__RESPONSE__RESP_TX;
        resp.tx = &info;
        api_call_respond(call, &resp);
    }
    codec_block_free(block);
    codec_txresult_free(result);
    tdei_free(result_bytes);
}

int node__block_read(struct node *node, struct store_read *r, uint64_t height,
                     const uint8_t **block, size_t *block_len,
                     uint8_t **commit, size_t *commit_len, char *errmsg)
{
    Tdei__Block *next = NULL;
    uint8_t key[8];
    const uint8_t *stored;
    size_t stored_len;
    int rc;

    *commit = NULL;
    *commit_len = 0;
    store_u64_encode(key, height);
    rc = store_get(r, STORE_DB_BLOCKS, key, sizeof(key), block, block_len);
    if (rc != 0) {
        return rc == TDEI_NOTFOUND
                   ? tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                                 "no block at height %llu",
                                 (unsigned long long)height)
                   : tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                                 "read block %llu: %s",
                                 (unsigned long long)height,
                                 store_read_errmsg(r));
    }
    /* The commit of block H: carried by block H+1, or for the tip in meta. */
    store_u64_encode(key, height + 1);
    if (store_get(r, STORE_DB_BLOCKS, key, sizeof(key), &stored,
                  &stored_len) == 0) {
        rc = codec_block_decode(&next, NULL, stored, stored_len,
                                &node->limits, errmsg);
        if (rc == 0 && next->last_commit != NULL) {
            rc = codec_commit_encode(next->last_commit, commit, commit_len);
        }
        codec_block_free(next);
        return rc;
    }
    if (store_get(r, STORE_DB_META, (const uint8_t *)NODE_META_LAST_COMMIT,
                  strlen(NODE_META_LAST_COMMIT), &stored, &stored_len) == 0) {
        *commit = tdei_malloc(stored_len);
        if (*commit == NULL) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                               "no memory for a commit");
        }
        memcpy(*commit, stored, stored_len);
        *commit_len = stored_len;
    }
    return 0;
}

static void handle_get_block(struct node *node, struct api_call *call,
                             struct store_read *r,
                             const Tdei__Api__GetBlock *req)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__BlockInfo info = TDEI__API__BLOCK_INFO__INIT;
    Tdei__Block *block = NULL;
    uint8_t *commit_bytes = NULL;
    size_t commit_len = 0;
    uint8_t block_id[CODEC_HASH_SIZE];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    const uint8_t *stored;
    size_t stored_len;
    uint64_t height = req->height == 0 ? node->height : req->height;
    int rc;

    rc = node__block_read(node, r, height, &stored, &stored_len,
                          &commit_bytes, &commit_len, errmsg);
    if (rc == TDEI_NOTFOUND) {
        api_call_respond_error(call, TDEI_NOTFOUND,
                               "no block at height %llu; the chain is at "
                               "height %llu",
                               (unsigned long long)height,
                               (unsigned long long)node->height);
        return;
    }
    if (rc == 0) {
        rc = codec_block_decode(&block, NULL, stored, stored_len,
                                &node->limits, errmsg);
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "cannot read block %llu: %s",
                               (unsigned long long)height, errmsg);
    } else {
        codec_block_id(block_id, block->header.data, block->header.len);
        info.block.data = (uint8_t *)(uintptr_t)stored;
        info.block.len = stored_len;
        info.commit.data = commit_bytes;
        info.commit.len = commit_len;
        info.block_id.data = block_id;
        info.block_id.len = CODEC_HASH_SIZE;
        info.height = height;
        resp.resp_case = TDEI__API__RESPONSE__RESP_BLOCK;
        resp.block = &info;
        api_call_respond(call, &resp);
    }
    codec_block_free(block);
    tdei_free(commit_bytes);
}

static void handle_get_object(struct api_call *call, struct store_read *r,
                              const Tdei__Api__GetObject *req)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__ObjectInfo info = TDEI__API__OBJECT_INFO__INIT;
    struct exec_tip tip;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    const uint8_t *value;
    size_t len;
    int rc;

    if (req->key.len == 0 || req->key.len > STORE_KEY_SIZE_MAX) {
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "key must be 1-%u bytes, not %zu",
                               STORE_KEY_SIZE_MAX, req->key.len);
        return;
    }
    rc = store_get(r, STORE_DB_STATE, req->key.data, req->key.len, &value,
                   &len);
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s",
                               rc == TDEI_NOTFOUND
                                   ? "no state record has this key"
                                   : "cannot read the state");
        return;
    }
    if (exec_query_tip(r, &tip, errmsg) != 0) {
        api_call_respond_error(call, TDEI_CORRUPT, "%s", errmsg);
        return;
    }
    info.value.data = (uint8_t *)(uintptr_t)value;
    info.value.len = len;
    info.height = tip.height; /* the snapshot the record was read in */
    resp.resp_case = TDEI__API__RESPONSE__RESP_OBJECT;
    resp.object = &info;
    api_call_respond(call, &resp);
}

static void handle_get_account(struct api_call *call, struct store_read *r,
                               const Tdei__Api__GetAccount *req)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__AccountInfo info = TDEI__API__ACCOUNT_INFO__INIT;
    Tdei__Member *member = NULL;
    struct exec_tip tip;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t balance = 0;
    int rc;

    if (tdei_member_id_check(req->member) != 0) {
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "member '%.40s' is not 3-32 bytes of "
                               "[a-z0-9-]",
                               req->member);
        return;
    }
    rc = exec_query_member(r, req->member, &member, errmsg);
    if (rc == 0) {
        rc = exec_query_balance(r, req->member, &balance, errmsg);
    }
    if (rc == 0) {
        rc = exec_query_tip(r, &tip, errmsg);
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s", errmsg);
    } else {
        info.member = req->member;
        info.balance = balance;
        info.role = member->role;
        info.status = member->status;
        info.height = tip.height;
        resp.resp_case = TDEI__API__RESPONSE__RESP_ACCOUNT;
        resp.account = &info;
        api_call_respond(call, &resp);
    }
    codec_member_free(member);
}

/* The state prefixes a ListObjects may name (contracts/contract.h). */
static const char *const list_prefixes[] = {
    CONTRACT_KEY_MEMBER,  CONTRACT_KEY_ACCOUNT,  CONTRACT_KEY_OPKEY,
    CONTRACT_KEY_NODEKEY, CONTRACT_KEY_HEAD,     CONTRACT_KEY_PROPOSAL,
    CONTRACT_KEY_DATASET, CONTRACT_KEY_DSVER,    CONTRACT_KEY_EXCHANGE,
    CONTRACT_KEY_ESCROW,  CONTRACT_KEY_GRANT,    CONTRACT_KEY_STREAM,
    CONTRACT_KEY_DUE,     CONTRACT_KEY_EVIDENCE,
};

static int list_prefix_known(const ProtobufCBinaryData *prefix)
{
    for (size_t i = 0; i < sizeof(list_prefixes) / sizeof(list_prefixes[0]);
         i++) {
        size_t len = strlen(list_prefixes[i]);
        if (prefix->len >= len &&
            memcmp(prefix->data, list_prefixes[i], len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Check a ListObjects; answer the refusal and return non-zero if bad. */
static int list_check(struct api_call *call, const Tdei__Api__ListObjects *req)
{
    const char *bad = NULL;

    if (req->prefix.len == 0 || req->prefix.len > STORE_KEY_SIZE_MAX) {
        bad = "prefix must be 1-511 bytes";
    } else if (!list_prefix_known(&req->prefix)) {
        bad = "prefix must begin with a state prefix: member/, account/, "
              "opkey/, nodekey/, head/, mproposal/, dataset/, dsver/, "
              "exchange/, escrow/, grant/, stream/, due/ or evidence/";
    } else if (req->limit == 0 || req->limit > NODE_LIST_LIMIT_MAX) {
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "limit %u is outside 1-%u; ask for at most "
                               "%u entries a page",
                               req->limit, NODE_LIST_LIMIT_MAX,
                               NODE_LIST_LIMIT_MAX);
        return 1;
    } else if (req->start_after.len > 0 &&
               (req->start_after.len > STORE_KEY_SIZE_MAX ||
                req->start_after.len < req->prefix.len ||
                memcmp(req->start_after.data, req->prefix.data,
                       req->prefix.len) != 0)) {
        bad = "start_after must be empty or a key that begins with "
              "prefix: the last key of the previous page";
    }
    if (bad != NULL) {
        api_call_respond_error(call, TDEI_BADREQUEST, "%s", bad);
        return 1;
    }
    return 0;
}

/* Fill @list with the page @req asks for, borrowing keys and values from
 * @r. Returns 0 or a code with @errmsg. */
static int list_page(struct store_read *r, const Tdei__Api__ListObjects *req,
                     size_t budget, Tdei__Api__KeyValue *kvs,
                     Tdei__Api__KeyValue **ptrs, Tdei__Api__ObjectList *list,
                     char *errmsg)
{
    struct store_iter it;
    const uint8_t *start =
        req->start_after.len > 0 ? req->start_after.data : NULL;
    size_t bytes = 0;
    int rc;

    rc = store_iter_init(&it, r, STORE_DB_STATE, req->prefix.data,
                         req->prefix.len, start, req->start_after.len, 0);
    if (rc != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "%s", store_read_errmsg(r));
        return rc;
    }
    /* Bounded: the start key itself, at most limit entries, and one more
     * key to tell whether anything follows. */
    for (;;) {
        const uint8_t *key;
        const uint8_t *val;
        size_t klen;
        size_t vlen;
        rc = store_iter_next(&it, &key, &klen, &val, &vlen);
        if (rc != 0) {
            break;
        }
        if (list->n_entries == 0 && start != NULL &&
            klen == req->start_after.len && memcmp(key, start, klen) == 0) {
            continue; /* the page starts strictly after it */
        }
        if (list->n_entries == req->limit ||
            (list->n_entries > 0 && bytes + klen + vlen > budget)) {
            list->more = 1;
            break;
        }
        tdei__api__key_value__init(&kvs[list->n_entries]);
        kvs[list->n_entries].key.data = (uint8_t *)(uintptr_t)key;
        kvs[list->n_entries].key.len = klen;
        kvs[list->n_entries].value.data = (uint8_t *)(uintptr_t)val;
        kvs[list->n_entries].value.len = vlen;
        ptrs[list->n_entries] = &kvs[list->n_entries];
        list->n_entries++;
        bytes += klen + vlen;
    }
    if (rc == TDEI_NOTFOUND) {
        rc = 0; /* the end of the prefix */
    } else if (rc != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "%s", store_read_errmsg(r));
    }
    store_iter_close(&it);
    list->entries = ptrs;
    return rc;
}

static void handle_list_objects(struct node *node, struct api_call *call,
                                struct store_read *r,
                                const Tdei__Api__ListObjects *req)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__ObjectList list = TDEI__API__OBJECT_LIST__INIT;
    Tdei__Api__KeyValue *kvs;
    Tdei__Api__KeyValue **ptrs;
    struct exec_tip tip;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    size_t budget = node->cfg.api_max_frame / 2;
    int rc;

    if (list_check(call, req) != 0) {
        return;
    }
    if (budget > NODE_LIST_BYTES_MAX) {
        budget = NODE_LIST_BYTES_MAX;
    }
    kvs = tdei_calloc(req->limit, sizeof(*kvs));
    ptrs = tdei_calloc(req->limit, sizeof(*ptrs));
    if (kvs == NULL || ptrs == NULL) {
        rc = TDEI_NOMEM;
        (void)snprintf(errmsg, sizeof(errmsg), "out of memory; retry");
    } else {
        rc = exec_query_tip(r, &tip, errmsg);
    }
    if (rc == 0) {
        rc = list_page(r, req, budget, kvs, ptrs, &list, errmsg);
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "cannot list the state: %s", errmsg);
    } else {
        list.height = tip.height; /* the snapshot of the whole page */
        resp.resp_case = TDEI__API__RESPONSE__RESP_OBJECT_LIST;
        resp.object_list = &list;
        api_call_respond(call, &resp);
    }
    tdei_free(ptrs);
    tdei_free(kvs);
}

/* 1 when this node's key is in the validator set of the next height (a
 * node that is not an observer then votes on the next block; a change
 * decided by block H counts from H + 2). */
static int node_is_validator(struct node *node, struct store_read *r)
{
    Tdei__ValidatorSet *set = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    int found = 0;

    if (exec_query_validators(r, &set, errmsg) != 0) {
        return 0;
    }
    for (size_t i = 0; i < set->n_validators && !found; i++) {
        const ProtobufCBinaryData *key = &set->validators[i]->node_key;
        found = key->len == TDEI_PUBKEY_SIZE &&
                memcmp(key->data, node->identity.node_key,
                       TDEI_PUBKEY_SIZE) == 0;
    }
    codec_validator_set_free(set);
    return found;
}

static void handle_get_status(struct node *node, struct api_call *call,
                              struct store_read *r)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__Status status = TDEI__API__STATUS__INIT;
    Tdei__Api__PeerCounters counters = TDEI__API__PEER_COUNTERS__INIT;
    Tdei__Api__DataPlaneCounters plane = TDEI__API__DATA_PLANE_COUNTERS__INIT;
    struct mempool_stats stats;
    struct exec_tip tip;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    rc = exec_query_tip(r, &tip, errmsg);
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s", errmsg);
        return;
    }
    mempool_stats_get(node->mempool, &stats);
    status.chain_id = tip.chain_id;
    status.height = tip.height;
    status.app_hash.data = tip.app_hash;
    status.app_hash.len = CODEC_HASH_SIZE;
    status.last_block_id.data = tip.last_block_id;
    status.last_block_id.len = tip.height > 0 ? CODEC_HASH_SIZE : 0;
    status.time_ms = tip.time_ms;
    status.member = node->identity.member;
    status.node_key.data = node->identity.node_key;
    status.node_key.len = TDEI_PUBKEY_SIZE;
    status.mempool_txs = stats.txs;
    status.mempool_bytes = stats.bytes;
    status.validator = !node->cfg.observer && node_is_validator(node, r);
    status.observer = node->cfg.observer != 0;
    status.peers = (uint32_t)node__p2p_peer_count(node);
    if (node__p2p_status_fill(node, &status, &counters) != 0) {
        api_call_respond_error(call, TDEI_NOMEM, "out of memory; retry");
        return;
    }
    node__plane_counters_fill(node, &plane);
    status.data_plane = &plane;
    status.version = PACKAGE_VERSION;
    status.now_ms = node__wall_ms();
    resp.resp_case = TDEI__API__RESPONSE__RESP_STATUS;
    resp.status = &status;
    api_call_respond(call, &resp);
    node__p2p_status_free(&status);
}

/* Search the catalog in the snapshot @r (search.h); refusals of bad
 * fields come back as TDEI_INVAL with search's message. */
static void handle_search(struct api_call *call, struct store_read *r,
                          const Tdei__Api__SearchCatalog *req)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    Tdei__Api__SearchResult result = TDEI__API__SEARCH_RESULT__INIT;
    Tdei__Api__SearchHit hits[SEARCH_LIMIT_MAX];
    Tdei__Api__SearchHit *hit_ptrs[SEARCH_LIMIT_MAX];
    char words[SEARCH_WORDS_MAX][SEARCH_TOKEN_MAX + 1];
    char *word_ptrs[SEARCH_WORDS_MAX];
    struct search_query q = {
        .words = (const char *const *)req->words,
        .word_count = req->n_words,
        .level = req->level,
        .domain = req->domain,
        .owner = req->owner,
        .owner_role = req->owner_role,
        .kind = req->kind,
        .price_min = req->min_price,
        .price_max = req->has_max_price ? req->max_price : UINT64_MAX,
        .status = req->status,
        .offset = req->offset,
        .limit = req->limit,
    };
    struct search_result *res = tdei_malloc(sizeof(*res));
    struct exec_tip tip;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    if (res == NULL) {
        api_call_respond_error(call, TDEI_NOMEM, "out of memory; retry");
        return;
    }
    rc = search_query_run(r, &q, res, errmsg);
    if (rc == 0) {
        rc = exec_query_tip(r, &tip, errmsg);
    }
    if (rc != 0) {
        api_call_respond_error(call, rc, "%s",
                               errmsg[0] != '\0' ? errmsg
                                                 : tdei_strerror(rc));
        tdei_free(res);
        return;
    }
    for (size_t i = 0; i < res->count; i++) {
        tdei__api__search_hit__init(&hits[i]);
        hits[i].id = res->hits[i].id;
        hits[i].score = res->hits[i].score;
        hits[i].dataset.data = (uint8_t *)(uintptr_t)res->hits[i].record;
        hits[i].dataset.len = res->hits[i].record_len;
        hit_ptrs[i] = &hits[i];
    }
    for (size_t i = 0; i < res->words.count; i++) {
        const struct search_token *t = &res->words.tokens[i];
        memcpy(words[i], t->bytes, t->len);
        words[i][t->len] = '\0';
        word_ptrs[i] = words[i];
    }
    result.total = res->total;
    result.n_hits = res->count;
    result.hits = res->count > 0 ? hit_ptrs : NULL;
    result.height = tip.height; /* the snapshot searched */
    result.offset = req->offset;
    result.limit = req->limit;
    result.n_words = res->words.count;
    result.words = res->words.count > 0 ? word_ptrs : NULL;
    resp.resp_case = TDEI__API__RESPONSE__RESP_SEARCH;
    resp.search = &result;
    api_call_respond(call, &resp);
    tdei_free(res);
}

static void node_request(void *impl, struct api_call *call,
                         const Tdei__Api__Request *req)
{
    struct node *node = impl;
    struct store_read *r;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    if (node->stopping) {
        api_call_respond_error(call, TDEI_CANCELED,
                               "the node is stopping; retry when it is "
                               "back");
        return;
    }
    switch (req->req_case) {
    case TDEI__API__REQUEST__REQ_SUBMIT:
        handle_submit(node, call, req->submit);
        return;
    case TDEI__API__REQUEST__REQ_INGEST:
    case TDEI__API__REQUEST__REQ_READ_STREAM:
    case TDEI__API__REQUEST__REQ_GET_STREAM_STATE:
    case TDEI__API__REQUEST__REQ_IMPORT_PAYLOAD:
    case TDEI__API__REQUEST__REQ_FETCH_PAYLOAD:
    case TDEI__API__REQUEST__REQ_GET_PAYLOAD_STATE:
    case TDEI__API__REQUEST__REQ_SET_DELIVERY:
    case TDEI__API__REQUEST__REQ_DELIVER_NOW:
        node__plane_request(node, call, req);
        return;
    case TDEI__API__REQUEST__REQ_GET_HISTORY:
    case TDEI__API__REQUEST__REQ_GET_TX_PROOFS:
    case TDEI__API__REQUEST__REQ_GET_HEADERS:
    case TDEI__API__REQUEST__REQ_GET_VALIDATOR_CHANGES:
        node__audit_request(node, call, req);
        return;
    default:
        break;
    }
    if (store_read_begin(node->store, &r, errmsg) != 0) {
        api_call_respond_error(call, TDEI_BUSY, "cannot read the ledger: %s",
                               errmsg);
        return;
    }
    switch (req->req_case) {
    case TDEI__API__REQUEST__REQ_GET_TX:
        handle_get_tx(node, call, r, req->get_tx);
        break;
    case TDEI__API__REQUEST__REQ_GET_BLOCK:
        handle_get_block(node, call, r, req->get_block);
        break;
    case TDEI__API__REQUEST__REQ_GET_OBJECT:
        handle_get_object(call, r, req->get_object);
        break;
    case TDEI__API__REQUEST__REQ_GET_ACCOUNT:
        handle_get_account(call, r, req->get_account);
        break;
    case TDEI__API__REQUEST__REQ_GET_STATUS:
        handle_get_status(node, call, r);
        break;
    case TDEI__API__REQUEST__REQ_LIST_OBJECTS:
        handle_list_objects(node, call, r, req->list_objects);
        break;
    case TDEI__API__REQUEST__REQ_SEARCH_CATALOG:
        handle_search(call, r, req->search_catalog);
        break;
    default:
        api_call_respond_error(call, TDEI_BADREQUEST,
                               "request type %d is not known to this node",
                               (int)req->req_case);
        break;
    }
    store_read_end(r);
}

/* The connection of @call went away: waiters answer into the void. */
static void node_cancel(void *impl, struct api_call *call)
{
    struct node *node = impl;

    if (node__plane_cancel(node, call)) {
        return;
    }
    for (size_t b = 0; b < NODE_WAIT_BUCKETS; b++) {
        struct node_waiter **link = &node->waiters[b];
        while (*link != NULL) {
            struct node_waiter *w = *link;
            if (w->call != call) {
                link = &w->next;
                continue;
            }
            *link = w->next;
            node->waiter_count--;
            api_call_respond_error(call, TDEI_CANCELED, "client left");
            tdei_free(w);
            return;
        }
    }
    /* A submit still being verified: submit_done answers it later. */
}

int node__api_start(struct node *node, char *errmsg)
{
    struct api_config config = API_CONFIG_DEFAULT;
    struct api_handler handler = {.impl = node,
                                  .request = node_request,
                                  .cancel = node_cancel};
    char socket_path[HOME_PATH_MAX];

    if (node->cfg.api_socket[0] != '\0') {
        if (node->cfg.api_socket[0] == '/') {
            (void)snprintf(socket_path, sizeof(socket_path), "%s",
                           node->cfg.api_socket);
        } else if (home_path(socket_path, node->home,
                             node->cfg.api_socket) != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                               "api.socket path is too long");
        }
        config.socket_path = socket_path;
    }
    config.listen = node->cfg.api_listen;
    config.max_connections = (uint32_t)node->cfg.api_max_connections;
    config.max_frame = node->cfg.api_max_frame;
    if (config.write_queue_max < config.max_frame + 4) {
        config.write_queue_max = config.max_frame + 4;
    }
    return api_start(&node->api, &node->loop, &config, &handler, errmsg);
}
