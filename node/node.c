/* The node: startup, block production, shutdown (see node.h). */
#include "node.h"

#include "api/api.h"
#include "config.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keyfile.h"
#include "node_plane.h"
#include "core/keys.h"
#include "core/log.h"
#include "exec/exec.h"
#include "genesis.h"
#include "home.h"
#include "mempool/mempool.h"
#include "node_internal.h"
#include "store/store.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

/* Room kept in a block for its header and last commit. */
#define NODE_BLOCK_OVERHEAD (64u * TDEI_KIB)

uint64_t node__wall_ms(void)
{
    struct timespec now;

    (void)clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* ---- mempool state: committed nonces from the store ---------------------- */

static int node_signer_state(void *impl, const uint8_t *key,
                             uint64_t *committed_nonce, char *errmsg)
{
    struct node *node = impl;
    struct store_read *r;
    struct exec_signer signer;
    int rc;

    rc = store_read_begin(node->store, &r, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = exec_query_signer(r, key, &signer, errmsg);
    store_read_end(r);
    if (rc != 0) {
        return rc;
    }
    if (signer.status != CODEC_MEMBER_ACTIVE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MEMBER_INACTIVE,
                           "member %s is not active; its keys cannot sign",
                           signer.member);
    }
    *committed_nonce = signer.nonce;
    return 0;
}

static int node_sig_verified(void *impl, const uint8_t *tx_id,
                             const uint8_t *sig)
{
    return mempool_sig_verified(impl, tx_id, sig);
}

/* ---- building the proposal block ----------------------------------------- */

/* Build the block of the reaped txs and append it to node->batch as meta
 * NODE_META_PROPOSAL. Worker thread. */
static int node_block_build(struct node *node, struct node_job *job)
{
    struct exec_next_header next;
    Tdei__Header header = TDEI__HEADER__INIT;
    Tdei__Block block = TDEI__BLOCK__INIT;
    Tdei__Commit *last_commit = NULL;
    Tdei__Block *decoded = NULL;
    uint8_t *header_bytes = NULL;
    size_t header_len;
    const uint8_t *stored;
    size_t stored_len;
    struct store_read *r = NULL;
    int rc;

    rc = store_read_begin(node->store, &r, job->errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = exec_next_header(r, job->txs, job->count, &next, job->errmsg);
    if (rc != 0) {
        goto out;
    }
    exec_header_fill(&header, &next);
    header.time_ms =
        job->now_ms > next.time_ms_min ? job->now_ms : next.time_ms_min;
    header.proposer.data = node->identity.node_key;
    header.proposer.len = TDEI_PUBKEY_SIZE;
    rc = codec_header_encode(&header, &header_bytes, &header_len);
    if (rc != 0) {
        goto out;
    }
    if (next.height > 1) {
        rc = store_get(r, STORE_DB_META,
                       (const uint8_t *)NODE_META_LAST_COMMIT,
                       strlen(NODE_META_LAST_COMMIT), &stored, &stored_len);
        if (rc == 0) {
            rc = codec_commit_decode(&last_commit, stored, stored_len,
                                     &node->limits, job->errmsg);
        } else {
            (void)tdei_errorf(job->errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                              "the commit of block %llu is missing",
                              (unsigned long long)(next.height - 1));
            rc = TDEI_CORRUPT;
        }
        if (rc != 0) {
            goto out;
        }
        block.last_commit = last_commit;
    }
    block.header.data = header_bytes;
    block.header.len = header_len;
    block.n_txs = job->count;
    block.txs = job->txs;
    rc = codec_block_encode(&block, &job->block_bytes, &job->block_len);
    if (rc == 0) {
        /* What the node proposes passes the checks every node applies. */
        rc = codec_block_decode(&decoded, NULL, job->block_bytes,
                                job->block_len, &node->limits, job->errmsg);
    }
    if (rc != 0) {
        goto out;
    }
    job->height = next.height;
    codec_block_id(job->block_id, header_bytes, header_len);
    rc = store_batch_put(
        node->batch, STORE_DB_META, (const uint8_t *)NODE_META_PROPOSAL,
        strlen(NODE_META_PROPOSAL), job->block_bytes, job->block_len);
out:
    if (r != NULL) {
        store_read_end(r);
    }
    codec_commit_free(last_commit);
    codec_block_free(decoded);
    tdei_free(header_bytes);
    if (rc != 0 && job->errmsg[0] == '\0') {
        (void)tdei_errorf(job->errmsg, TDEI_ERRMSG_SIZE, rc, "%s",
                          tdei_strerror(rc));
    }
    return rc;
}

/* ---- committing a decided block ------------------------------------------ */

static int node_key_compare(const void *a, const void *b)
{
    return memcmp(a, b, TDEI_PUBKEY_SIZE);
}

/* Fill job->tx_ids and job->signers (sorted, unique) from the txs of
 * @block, for the commit waiters and the mempool. The block executed, so
 * every tx decodes. Worker thread. */
static int node_block_txs(struct node_job *job, const Tdei__Block *block)
{
    size_t n = block->n_txs;
    int rc = 0;

    job->tx_ids = tdei_calloc(n + 1, sizeof(*job->tx_ids));
    job->signers = tdei_calloc(n + 1, sizeof(*job->signers));
    if (job->tx_ids == NULL || job->signers == NULL) {
        return tdei_errorf(job->errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "block %llu: no memory for its tx list",
                           (unsigned long long)job->height);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        Tdei__Tx *tx = NULL;
        Tdei__TxBody *body = NULL;
        rc = codec_tx_decode(&tx, block->txs[i].data, block->txs[i].len,
                             block->txs[i].len, job->errmsg);
        if (rc == 0) {
            codec_tx_id(job->tx_ids[i], tx->body.data, tx->body.len);
            rc = codec_txbody_decode(&body, tx->body.data, tx->body.len,
                                     job->errmsg);
        }
        if (rc == 0) {
            memcpy(job->signers[i], body->signer.data, TDEI_PUBKEY_SIZE);
        }
        codec_txbody_free(body);
        codec_tx_free(tx);
    }
    if (rc != 0) {
        return rc;
    }
    qsort(job->signers, n, sizeof(*job->signers), node_key_compare);
    for (size_t i = 0; i < n; i++) {
        if (job->signer_count == 0 ||
            memcmp(job->signers[job->signer_count - 1], job->signers[i],
                   TDEI_PUBKEY_SIZE) != 0) {
            memmove(job->signers[job->signer_count++], job->signers[i],
                    TDEI_PUBKEY_SIZE);
        }
    }
    return 0;
}

/* Execute job->block on the tip into @batch (NULL: check only). Worker
 * thread. */
static int node_block_run(struct node *node, struct node_job *job,
                          struct store_batch *batch, Tdei__Block **decoded)
{
    Tdei__Header *decoded_header = NULL;
    struct exec_verifier verifier = {.impl = node->mempool,
                                     .verified = node_sig_verified};
    struct store_read *r = NULL;
    int rc;

    rc = codec_block_decode(decoded, &decoded_header, job->block_bytes,
                            job->block_len, &node->limits, job->errmsg);
    if (rc == 0 && job->reuse) {
        /* A validation of this very block on this very tip filled
         * node->vbatch with what it changes: nothing to execute again. */
        job->info = node->vbatch_info;
    } else if (rc == 0) {
        rc = store_read_begin(node->store, &r, job->errmsg);
        if (rc == 0) {
            rc = exec_block(node->exec, batch, &job->info, r, *decoded,
                            decoded_header, job->block_bytes, job->block_len,
                            &verifier, job->errmsg);
            store_read_end(r);
        }
    }
    codec_header_free(decoded_header);
    return rc;
}

/* Execute the decided block (or take its validation's batch) and append
 * everything it changes, its Commit, and the removal of the proposal
 * record to @batch. Worker thread. */
static int node_block_execute(struct node *node, struct node_job *job,
                              struct store_batch *batch)
{
    Tdei__Block *decoded = NULL;
    int rc;

    rc = node_block_run(node, job, batch, &decoded);
    if (rc == 0) {
        TDEI_ASSERT(job->info.height == job->height);
        rc = store_batch_put(
            batch, STORE_DB_META, (const uint8_t *)NODE_META_LAST_COMMIT,
            strlen(NODE_META_LAST_COMMIT), job->commit_bytes, job->commit_len);
    }
    if (rc == 0) {
        rc = store_batch_del(batch, STORE_DB_META,
                             (const uint8_t *)NODE_META_PROPOSAL,
                             strlen(NODE_META_PROPOSAL));
    }
    if (rc == 0) {
        rc = node_block_txs(job, decoded);
    }
    codec_block_free(decoded);
    if (rc != 0 && job->errmsg[0] == '\0') {
        (void)tdei_errorf(job->errmsg, TDEI_ERRMSG_SIZE, rc, "%s",
                          tdei_strerror(rc));
    }
    return rc;
}

/* Execute a peer's proposed block on the tip into node->vbatch without
 * committing anything: it is valid when exec_block accepts it, and the
 * batch is kept in case it is decided. Worker thread. */
static int node_block_check(struct node *node, struct node_job *job)
{
    Tdei__Block *decoded = NULL;
    int rc;

    store_batch_reset(node->vbatch);
    rc = node_block_run(node, job, node->vbatch, &decoded);
    codec_block_free(decoded);
    return rc;
}

/* ---- the worker jobs ----------------------------------------------------- */

static void node_job_work(uv_work_t *work)
{
    struct node_job *job = work->data;
    struct node *node = job->node;

    struct store_batch *batch = job->reuse ? node->vbatch : node->batch;

    if (job->kind == NODE_JOB_VALIDATE) {
        job->rc = node_block_check(node, job);
        return;
    }
    if (!job->reuse) {
        store_batch_reset(batch);
    }
    job->rc = job->kind == NODE_JOB_BUILD
                  ? node_block_build(node, job)
                  : node_block_execute(node, job, batch);
    if (job->rc == 0) {
        /* One synced transaction: the durable proposal, or the block. */
        job->rc = store_commit(node->store, batch, job->errmsg);
    }
    store_batch_reset(batch);
}

static void node_job_free(struct node_job *job)
{
    tdei_free(job->entries);
    tdei_free(job->txs);
    if (job->kind == NODE_JOB_BUILD) {
        tdei_free(job->block_bytes); /* NULL once moved to the proposal */
    }
    tdei_free(job->commit_bytes);
    tdei_free(job->tx_ids);
    tdei_free(job->signers);
    tdei_free(job);
}

static void node_proposal_drop(struct node *node)
{
    tdei_free(node->proposal.bytes);
    memset(&node->proposal, 0, sizeof(node->proposal));
}

/* Let go of the blocks a commit job borrowed. */
static void node_unpin(struct node *node)
{
    for (size_t i = 0; i < NODE_HELD_MAX; i++) {
        node->held[i].pinned = 0;
    }
    for (size_t i = 0; i < NODE_SYNC_BATCH; i++) {
        node->synced[i].pinned = 0;
    }
}

/* A validation job ended: a block that does not execute on the tip is
 * invalid (the proposer is faulty or this node diverged: the log says
 * which rule failed). */
static void node_job_validated(struct node *node, struct node_job *job,
                               int status)
{
    char hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    struct node_block *b = node__held_find(node, job->block_id);

    TDEI_ASSERT(b != NULL && b->validity == NODE_CHECKING);
    b->validity = status == 0 && job->rc == 0 ? NODE_VALID : NODE_INVALID;
    node->vbatch_ready = b->validity == NODE_VALID;
    if (node->vbatch_ready) {
        memcpy(node->vbatch_id, b->id, CODEC_HASH_SIZE);
        node->vbatch_info = job->info;
    }
    if (b->validity == NODE_INVALID) {
        TDEI_LOG(TDEI_LOG_WARNING, "consensus", "proposed block is invalid",
                 "height=%llu id=%s code=%s error=\"%s\"",
                 (unsigned long long)b->height,
                 tdei_hex_encode(hex, sizeof(hex), b->id, 8),
                 tdei_errname(job->rc), job->errmsg);
    }
    node_job_free(job);
    if (node->stopping) {
        node__stop(node);
        return;
    }
    node__cons_validated(node, b);
    node__jobs_next(node);
}

static void node_read_params_quiet(struct node *node);
static int node_read_params(struct node *node, char *errmsg);

static void node_job_after(uv_work_t *work, int status)
{
    struct node_job *job = work->data;
    struct node *node = job->node;
    char hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    node->working = 0;
    if (job->kind == NODE_JOB_VALIDATE) {
        node_job_validated(node, job, status);
        return;
    }
    node_unpin(node);
    if (status != 0 || job->rc != 0) {
        /* A block this node built itself, or decided, did not build,
         * execute or commit: a bug or a failing disk. Going on could
         * fork the chain; halt. */
        node__cons_halt(node,
                        job->kind == NODE_JOB_BUILD ? "block build failed"
                                                    : "block failed",
                        job->rc != 0 ? job->rc : TDEI_CANCELED, job->errmsg);
        node_job_free(job);
        return;
    }
    if (job->kind == NODE_JOB_BUILD) {
        node_proposal_drop(node);
        node->proposal.bytes = job->block_bytes;
        node->proposal.len = job->block_len;
        node->proposal.height = job->height;
        memcpy(node->proposal.id, job->block_id, CODEC_HASH_SIZE);
        job->block_bytes = NULL;
        TDEI_LOG(TDEI_LOG_VERBOSE, "node", "block built",
                 "height=%llu txs=%zu id=%s", (unsigned long long)job->height,
                 job->count,
                 tdei_hex_encode(hex, sizeof(hex), job->block_id, 8));
        node_job_free(job);
        if (node->stopping) {
            node__stop(node);
        } else {
            node__cons_value(node);
            node__jobs_next(node);
        }
        return;
    }
    node->last_block_ms = uv_now(&node->loop);
    node->height = job->info.height;
    node_proposal_drop(node);
    TDEI_LOG(TDEI_LOG_NOTICE, "node", "block committed",
             "height=%llu txs=%zu refused=%zu app_hash=%s",
             (unsigned long long)job->info.height, job->info.tx_count,
             job->info.refused_count,
             tdei_hex_encode(hex, sizeof(hex), job->info.app_hash, 8));
    node__waiters_committed(node,
                            (const uint8_t(*)[CODEC_HASH_SIZE])job->tx_ids,
                            job->info.tx_count);
    if (mempool_update(node->mempool, errmsg, (const uint8_t *)job->signers,
                       job->signer_count) != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "node", "mempool update failed",
                 "error=\"%s\"", errmsg);
    }
    node__plane_committed(node,
                          (const uint8_t(*)[CODEC_HASH_SIZE])job->tx_ids,
                          job->info.tx_count);
    node_job_free(job);
    if (node->stopping) {
        node__stop(node);
        return;
    }
    node_read_params_quiet(node);
    node__p2p_committed(node);
    node__cons_committed(node);
    node__jobs_next(node);
}

/* Queue @job on a worker; frees it on failure. */
static int node_job_start(struct node *node, struct node_job *job)
{
    int rc;

    job->node = node;
    job->work.data = job;
    rc = uv_queue_work(&node->loop, &job->work, node_job_work, node_job_after);
    if (rc != 0) {
        return TDEI_IOERR;
    }
    node->working = 1;
    return 0;
}

/* A job of @kind on the block @bytes (borrowed) of @height and @id. */
static struct node_job *node_job_new(enum node_job_kind kind,
                                     const uint8_t *bytes, size_t len,
                                     uint64_t height,
                                     const uint8_t id[CODEC_HASH_SIZE])
{
    struct node_job *job = tdei_calloc(1, sizeof(*job));

    if (job != NULL) {
        job->kind = kind;
        job->block_bytes = (uint8_t *)(uintptr_t)bytes;
        job->block_len = len;
        job->height = height;
        memcpy(job->block_id, id, CODEC_HASH_SIZE);
    }
    return job;
}

int node__block_commit_bytes(struct node *node, const uint8_t *bytes,
                             size_t len, uint64_t height,
                             const uint8_t id[CODEC_HASH_SIZE],
                             uint8_t *commit_bytes, size_t commit_len)
{
    struct node_job *job;
    int rc;

    TDEI_ASSERT(!node->working);
    job = node_job_new(NODE_JOB_COMMIT, bytes, len, height, id);
    if (job == NULL) {
        return TDEI_NOMEM;
    }
    job->reuse = node->vbatch_ready && height == node->height + 1 &&
                 memcmp(node->vbatch_id, id, CODEC_HASH_SIZE) == 0;
    job->commit_bytes = commit_bytes;
    job->commit_len = commit_len;
    rc = node_job_start(node, job);
    if (rc != 0) {
        job->commit_bytes = NULL; /* not taken */
        node_job_free(job);
        return rc;
    }
    node->vbatch_ready = 0; /* the tip moves: the batch is used or stale */
    for (size_t i = 0; i < NODE_HELD_MAX; i++) {
        node->held[i].pinned |= node->held[i].bytes == bytes;
    }
    for (size_t i = 0; i < NODE_SYNC_BATCH; i++) {
        node->synced[i].pinned |= node->synced[i].block == bytes;
    }
    return 0;
}

int node__block_validate(struct node *node, struct node_block *b)
{
    struct node_job *job;
    int rc;

    TDEI_ASSERT(!node->working);
    job = node_job_new(NODE_JOB_VALIDATE, b->bytes, b->len, b->height, b->id);
    if (job == NULL) {
        return TDEI_NOMEM;
    }
    rc = node_job_start(node, job);
    if (rc != 0) {
        node_job_free(job);
        return rc;
    }
    node->vbatch_ready = 0;      /* the job refills it */
    b->validity = NODE_CHECKING; /* keeps the bytes the job borrows */
    return 0;
}

/* Commit the fetched block of the next height, if block sync has it.
 * Returns 1 when a job started (or the node halted). */
static int node_commit_synced(struct node *node)
{
    for (size_t i = 0; i < NODE_SYNC_BATCH; i++) {
        struct node_synced *sb = &node->synced[i];
        int rc;
        if (sb->block == NULL || sb->height != node->height + 1) {
            continue;
        }
        if (!node__synced_verify(node, sb)) {
            return 0; /* dropped: block sync asks again */
        }
        rc = node__block_commit_bytes(node, sb->block, sb->block_len,
                                      sb->height, sb->id, sb->commit,
                                      sb->commit_len);
        if (rc != 0) {
            node__cons_halt(node, "cannot commit a fetched block", rc,
                            tdei_strerror(rc));
            return 1;
        }
        sb->commit = NULL; /* the job owns it */
        TDEI_LOG(TDEI_LOG_VERBOSE, "sync", "committing a fetched block",
                 "height=%llu", (unsigned long long)sb->height);
        return 1;
    }
    return 0;
}

void node__jobs_next(struct node *node)
{
    if (node->working || node->stopping || node->halted) {
        return;
    }
    if (node->decide_wanted && node__cons_commit_decided(node)) {
        return;
    }
    if (node_commit_synced(node)) {
        return;
    }
    for (size_t i = 0; i < NODE_HELD_MAX; i++) {
        struct node_block *b = &node->held[i];
        if (b->bytes != NULL && b->validity == NODE_CHECK_WANTED) {
            if (node__block_validate(node, b) != 0) {
                b->validity = NODE_INVALID;
                node__cons_validated(node, b);
                continue;
            }
            return;
        }
    }
    node__maybe_block(node);
}

/* Reap the waiting txs and build the proposal block on a worker. */
static void node_block_build_start(struct node *node)
{
    struct node_job *job = tdei_calloc(1, sizeof(*job));

    if (job != NULL) {
        job->kind = NODE_JOB_BUILD;
        job->entries = tdei_calloc(node->limits.block_txs_max,
                                   sizeof(*job->entries));
        job->txs = tdei_calloc(node->limits.block_txs_max, sizeof(*job->txs));
    }
    if (job == NULL || job->entries == NULL || job->txs == NULL) {
        TDEI_LOG(TDEI_LOG_WARNING, "node", "no memory for a block", "%s",
                 "");
        if (job != NULL) {
            node_job_free(job);
        }
        return;
    }
    job->count = mempool_reap(node->mempool, job->entries,
                              node->limits.block_txs_max,
                              node->limits.block_size_max -
                                  NODE_BLOCK_OVERHEAD);
    for (size_t i = 0; i < job->count; i++) {
        job->txs[i].data = (uint8_t *)(uintptr_t)job->entries[i].tx;
        job->txs[i].len = job->entries[i].tx_size;
    }
    job->now_ms = node__wall_ms();
    if (node_job_start(node, job) != 0) {
        node_job_free(job);
    }
}

void node__maybe_block(struct node *node)
{
    struct mempool_stats stats;

    if (!node->value_wanted || node->working || node->stopping ||
        node->halted) {
        return;
    }
    if (node->proposal.bytes != NULL &&
        node->proposal.height == node->value_height) {
        /* Built already (an earlier round, or before a restart): propose
         * it again, whatever waits in the pool. */
        node__cons_value(node);
        return;
    }
    if (uv_now(&node->loop) - node->last_block_ms <
        node->cfg.block_interval_ms) {
        return;
    }
    mempool_stats_get(node->mempool, &stats);
    if (stats.txs == 0 &&
        (node->cfg.empty_block_interval_ms == 0 ||
         uv_now(&node->loop) - node->last_block_ms <
             node->cfg.empty_block_interval_ms)) {
        return;
    }
    node_block_build_start(node);
}

static void node_tick(uv_timer_t *timer)
{
    struct node *node = timer->data;

    node__waiters_expire(node);
    node__p2p_tick(node);
    node__plane_tick(node);
    /* A decided block that arrived later, a fetched block, a wanted
     * validation, or the next block to build. */
    node__jobs_next(node);
}

/* ---- startup and shutdown --------------------------------------------------- */

static void node_signal(uv_signal_t *handle, int signum)
{
    struct node *node = handle->data;

    TDEI_LOG(TDEI_LOG_NOTICE, "node", "stopping", "signal=%d", signum);
    node__stop(node);
}

/* Close one of the node's own handles, once. */
static void node_close_handle(uv_handle_t *handle)
{
    if (handle->loop != NULL && !uv_is_closing(handle)) {
        uv_close(handle, NULL);
    }
}

void node__stop(struct node *node)
{
    node->stopping = 1;
    node__waiters_cancel(node);
    node__plane_stop(node);
    if (node->api != NULL) {
        api_stop(node->api, NULL, NULL);
        node->api = NULL;
    }
    if (node->mempool != NULL) {
        mempool_cancel(node->mempool);
    }
    node__p2p_stop(node);
    if (node->working) {
        return; /* node_job_after calls again once the job is done */
    }
    node__cons_stop(node);
    node_close_handle((uv_handle_t *)&node->tick);
    node_close_handle((uv_handle_t *)&node->sigint);
    node_close_handle((uv_handle_t *)&node->sigterm);
}

/* Load the secret node key, which signs this validator's votes. */
static int node_load_key(struct node *node, const char *passphrase,
                         char *errmsg)
{
    char path[HOME_PATH_MAX];
    struct tdei_keyfile_key key;
    int rc;

    (void)home_key_path(path, node->home, HOME_KEY_NODE);
    rc = tdei_keyfile_load(path, &key, passphrase, errmsg);
    if (rc == 0) {
        rc = tdei_keypair_from_secret(&node->node_key, key.secret);
    }
    tdei_keyfile_key_wipe(&key);
    return rc;
}

/* Check that a chain of several validators can be reached: this node
 * must then have peers to dial or a p2p address to be dialled on. A
 * member that genesis does not name (one governance added later) joins a
 * running chain: it needs p2p.peers. Its node key is checked against the
 * ledger once the store is open (node_check_identity). */
static int node_check_genesis(struct node *node, char *errmsg)
{
    const struct genesis_member *me =
        genesis_member_find(&node->genesis, node->identity.member);
    size_t validators = genesis_validator_count(&node->genesis);

    if (me == NULL && node->cfg.p2p_peers[0] == '\0') {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                           "member %s (config.ini node.member) is not in "
                           "genesis.json, so its node joins a running chain "
                           "and needs p2p.peers; set p2p.peers, or add the "
                           "member to a new chain's genesis with `tdei "
                           "genesis add-member`",
                           node->identity.member);
    }
    if (me != NULL && (validators > 1 || !me->validator) &&
        node->cfg.p2p_listen[0] == '\0' && node->cfg.p2p_peers[0] == '\0') {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                           "genesis.json has %zu validators%s, but config.ini "
                           "sets neither p2p.listen nor p2p.peers; this node "
                           "could never reach them",
                           validators,
                           me->validator ? "" : " and this member is not one");
    }
    return 0;
}

/* Check this node's key against the member's record: the ledger's (the
 * committed state: governance may have added the member or changed its
 * node key), else genesis.json's. A member the synced ledger does not
 * know yet starts as an outsider: its peers admit it once the add that
 * names this key is committed. */
static int node_check_identity(struct node *node, char *errmsg)
{
    const struct genesis_member *me =
        genesis_member_find(&node->genesis, node->identity.member);
    char hex[TDEI_HEX_SIZE(TDEI_PUBKEY_SIZE)];
    Tdei__Member *m = NULL;
    struct store_read *r;
    int rc = store_read_begin(node->store, &r, errmsg);

    if (rc != 0) {
        return rc;
    }
    rc = exec_query_member(r, node->identity.member, &m, errmsg);
    store_read_end(r);
    if (rc == 0) {
        int same = m->node_key.len == TDEI_PUBKEY_SIZE &&
                   memcmp(m->node_key.data, node->identity.node_key,
                          TDEI_PUBKEY_SIZE) == 0;
        codec_member_free(m);
        if (same) {
            return 0;
        }
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADKEY,
                           "keys/node.key (%s...) is not the node key the "
                           "ledger gives member %s at height %llu; use that "
                           "key, or have governance change it (member "
                           "propose key-change)",
                           tdei_hex_encode(hex, sizeof(hex),
                                           node->identity.node_key, 8),
                           node->identity.member,
                           (unsigned long long)node->height);
    }
    if (rc != TDEI_UNKNOWN_MEMBER) {
        return rc;
    }
    if (me != NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "genesis.json names member %s, but the ledger "
                           "has no record of it; restore the data directory",
                           me->id);
    }
    TDEI_LOG(TDEI_LOG_NOTICE, "node", "not a member yet",
             "member=%s node_key=%s height=%llu hint=\"peers admit this node "
             "once governance adds the member with this node key\"",
             node->identity.member,
             tdei_hex_encode(hex, sizeof(hex), node->identity.node_key, 8),
             (unsigned long long)node->height);
    return 0;
}

/* Commit genesis on an empty store, or check the stored chain is
 * genesis.json's. */
static int node_open_chain(struct node *node, char *errmsg)
{
    struct store_read *r;
    struct exec_tip tip;
    uint8_t app_hash[CODEC_HASH_SIZE];
    char hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    int rc;

    rc = store_read_begin(node->store, &r, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = exec_genesis_check(r, &node->genesis, errmsg);
    store_read_end(r);
    if (rc == TDEI_NOTFOUND) {
        store_batch_reset(node->batch);
        rc = exec_genesis(node->batch, &node->genesis, app_hash, errmsg);
        if (rc == 0) {
            rc = store_commit(node->store, node->batch, errmsg);
        }
        store_batch_reset(node->batch);
        if (rc != 0) {
            return rc;
        }
        TDEI_LOG(TDEI_LOG_NOTICE, "node", "genesis committed",
                 "chain_id=%s app_hash=%s", node->genesis.chain_id,
                 tdei_hex_encode(hex, sizeof(hex), app_hash, 8));
    } else if (rc != 0) {
        return rc;
    }
    rc = store_read_begin(node->store, &r, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = exec_query_tip(r, &tip, errmsg);
    store_read_end(r);
    if (rc == 0) {
        node->height = tip.height;
        TDEI_LOG(TDEI_LOG_NOTICE, "node", "chain open",
                 "chain_id=%s height=%llu app_hash=%s", tip.chain_id,
                 (unsigned long long)tip.height,
                 tdei_hex_encode(hex, sizeof(hex), tip.app_hash, 8));
    }
    return rc;
}

static int node_open_store(struct node *node, char *errmsg)
{
    struct store_options opts = store_options_default();
    char path[HOME_PATH_MAX];

    opts.map_size_initial = node->cfg.store_map_size_initial_mib << 20;
    opts.map_size_growth = node->cfg.store_map_size_growth_mib << 20;
    opts.map_size_max = node->cfg.store_map_size_max_mib << 20;
    /* An operator who wiped data/ to resync from peers gets it back. */
    if (home_path(path, node->home, "data") == 0 && mkdir(path, 0700) != 0 &&
        errno != EEXIST) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "create %s: %s", path, strerror(errno));
    }
    if (home_path(path, node->home, "data/ledger") != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "home path is too long");
    }
    return store_open(&node->store, path, &opts, errmsg);
}

static int node_open_mempool(struct node *node, char *errmsg)
{
    struct mempool_options opts;
    struct mempool_state_ops ops = {.impl = node,
                                    .signer = node_signer_state};

    mempool_options_default(&opts);
    opts.max_txs = node->cfg.mempool_max_txs;
    opts.max_bytes = node->cfg.mempool_max_bytes;
    opts.max_per_signer = node->cfg.mempool_max_per_signer;
    opts.nonce_window = node->cfg.mempool_nonce_window;
    opts.verify_inflight_max = node->cfg.mempool_verify_inflight_max;
    opts.sig_cache_max = node->cfg.mempool_sig_cache_max;
    opts.tx_size_max = node->limits.tx_size_max;
    randombytes_buf(opts.hash_key, sizeof(opts.hash_key));
    return mempool_create(&node->mempool, &opts, node->genesis.chain_id,
                          &ops, &node->loop, errmsg);
}

/* Read the params again after a block (governance may change them). */
static void node_read_params_quiet(struct node *node)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    if (node_read_params(node, errmsg) != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "node", "cannot read the params",
                 "error=\"%s\"", errmsg);
    }
}

/* Read the ledger limits that blocks and decoders obey. */
static int node_read_params(struct node *node, char *errmsg)
{
    struct store_read *r;
    struct codec_limits limits;
    uint64_t skew_ms;
    int rc;

    rc = store_read_begin(node->store, &r, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = exec_query_limits(r, &limits, &skew_ms, errmsg);
    store_read_end(r);
    if (rc != 0) {
        return rc;
    }
    node->limits = limits;
    node->max_clock_skew_ms = skew_ms;
    return 0;
}

/* Start everything; on failure errmsg says what and the caller cleans. */
static int node_start(struct node *node, const struct node_options *opts,
                      char *errmsg)
{
    const char *passphrase = opts->passphrase;
    char path[HOME_PATH_MAX];
    int rc;

    rc = home_identity_load(node->home, &node->identity, errmsg);
    if (rc != 0) {
        return rc;
    }
    (void)home_path(path, node->home, "config.ini");
    rc = config_load(&node->cfg, path, errmsg);
    if (rc != 0) {
        return rc;
    }
    tdei_log_threshold = node->cfg.log_level;
    if (opts->observer) {
        node->cfg.observer = 1; /* --observer wins over the file */
    }
    rc = node_load_key(node, passphrase, errmsg);
    if (rc != 0) {
        return rc;
    }
    (void)home_path(path, node->home, "genesis.json");
    rc = genesis_load(&node->genesis, path, 0, errmsg);
    if (rc != 0) {
        return rc;
    }
    node->genesis_loaded = 1;
    rc = node_check_genesis(node, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = node_open_store(node, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = store_batch_create(&node->batch, EXEC_BATCH_SIZE_MAX);
    if (rc == 0) {
        rc = store_batch_create(&node->vbatch, EXEC_BATCH_SIZE_MAX);
    }
    if (rc == 0) {
        rc = exec_create(&node->exec);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                           "cannot allocate the executor");
    }
    rc = node_open_chain(node, errmsg);
    if (rc == 0) {
        rc = node_check_identity(node, errmsg);
    }
    if (rc == 0) {
        rc = node_read_params(node, errmsg);
    }
    if (rc == 0) {
        rc = node_open_mempool(node, errmsg);
    }
    if (rc == 0) {
        rc = node__plane_start(node, passphrase, errmsg);
    }
    if (rc == 0) {
        rc = node__api_start(node, errmsg);
    }
    if (rc == 0) {
        rc = node__p2p_start(node, errmsg);
    }
    if (rc == 0) {
        rc = node__cons_start(node, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    if (uv_timer_init(&node->loop, &node->tick) != 0 ||
        uv_timer_start(&node->tick, node_tick, 10, 10) != 0 ||
        uv_signal_init(&node->loop, &node->sigint) != 0 ||
        uv_signal_start(&node->sigint, node_signal, SIGINT) != 0 ||
        uv_signal_init(&node->loop, &node->sigterm) != 0 ||
        uv_signal_start(&node->sigterm, node_signal, SIGTERM) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot start the timers and signal handlers");
    }
    node->tick.data = node;
    node->sigint.data = node;
    node->sigterm.data = node;
    return 0;
}

static void node_cleanup(struct node *node)
{
    if (node->mempool != NULL) {
        mempool_destroy(node->mempool);
    }
    node__plane_free(node);
    node__cons_free(node);
    node__p2p_free(node);
    node_proposal_drop(node);
    node__held_clear(node);
    exec_destroy(node->exec);
    store_batch_destroy(node->batch);
    store_batch_destroy(node->vbatch);
    store_close(node->store);
    if (node->genesis_loaded) {
        genesis_free(&node->genesis);
    }
    node__waiters_free(node);
    tdei_keypair_wipe(&node->node_key);
}

int node_run(const struct node_options *opts)
{
    struct node *node;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    node = tdei_calloc(1, sizeof(*node));
    if (node == NULL) {
        fprintf(stderr, "tdei-node: out of memory\n");
        return 1;
    }
    node->home = opts->home;
    node->exit_status = 0;
    /* A write to a connection the other side closed (a peer, an API
     * client) must come back as EPIPE to libuv, not kill the process. */
    (void)signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&node->loop) != 0) {
        tdei_free(node);
        return 1;
    }
    node->loop.data = node;
    rc = node__waiters_init(node);
    if (rc == 0) {
        rc = node_start(node, opts, errmsg);
    }
    if (rc != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "node", "cannot start",
                 "home=%s code=%s error=\"%s\"", node->home,
                 tdei_errname(rc), errmsg);
        node->exit_status = 1;
        node__stop(node);
    } else {
        TDEI_LOG(TDEI_LOG_NOTICE, "node", "started",
                 "member=%s height=%llu observer=%s", node->identity.member,
                 (unsigned long long)node->height,
                 node->cfg.observer ? "true" : "false");
    }
    (void)uv_run(&node->loop, UV_RUN_DEFAULT);
    node_cleanup(node);
    (void)uv_run(&node->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&node->loop) != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "node", "loop not empty at exit", "%s",
                 "");
    }
    rc = node->exit_status;
    TDEI_LOG(TDEI_LOG_NOTICE, "node", "stopped", "status=%d", rc);
    tdei_free(node);
    return rc;
}
