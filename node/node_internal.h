/* The node's parts, shared by node.c (startup, blocks) and node_api.c
 * (client API handlers, commit waiters). Loop thread unless stated. */
#ifndef TDEI_NODE_NODE_INTERNAL_H
#define TDEI_NODE_NODE_INTERNAL_H

#include "config.h"
#include "core/codec.h"
#include "core/keys.h"
#include "exec/exec.h"
#include "genesis.h"
#include "home.h"
#include "mempool/mempool.h"
#include "store/store.h"

#include <uv.h>

struct api;
struct node_waiter;

/* One block being built, executed and committed on a worker. */
struct node_job {
    uv_work_t work;               /* the worker request */
    struct node *node;            /* back pointer */
    struct mempool_entry *entries; /* reaped txs (borrowed from the pool) */
    ProtobufCBinaryData *txs;     /* the same, as Block.txs */
    size_t count;                 /* txs in the block */
    uint64_t now_ms;              /* wall clock when the block started */
    uint8_t *block_bytes;         /* the serialized block */
    size_t block_len;             /* its length */
    uint8_t block_id[CODEC_HASH_SIZE]; /* its id */
    struct exec_block_info info;  /* what execution produced */
    int rc;                       /* 0 or the failure */
    char errmsg[TDEI_ERRMSG_SIZE]; /* why it failed */
};

struct node {
    uv_loop_t loop;                 /* the one loop thread */
    const char *home;               /* the node home (borrowed) */
    struct tdei_config cfg;         /* config.ini */
    struct home_identity identity;  /* member, role, public keys */
    struct tdei_keypair node_key;   /* signs this validator's votes */
    struct genesis genesis;         /* genesis.json */
    int genesis_loaded;             /* genesis must be freed */
    struct codec_limits limits;     /* ledger params for decoders, blocks */
    struct store *store;            /* the ledger */
    struct store_batch *batch;      /* reused for every block */
    struct exec *exec;              /* the executor (worker thread) */
    struct mempool *mempool;        /* pending txs */
    struct api *api;                /* the client API server */
    uv_timer_t tick;                /* blocks and waiter deadlines */
    uv_signal_t sigint;             /* SIGINT: stop */
    uv_signal_t sigterm;            /* SIGTERM: stop */
    uint64_t height;                /* committed height */
    uint64_t last_block_ms;         /* uv_now of the last commit */
    int committing;                 /* a node_job is on a worker */
    int stopping;                   /* a signal or a failure arrived */
    int exit_status;                /* of node_run */
    struct node_waiter **waiters;   /* hash buckets by tx id */
    size_t waiter_count;            /* waiters registered */
};

/* Wall-clock milliseconds since 1970 (block times). */
uint64_t node__wall_ms(void);

/* Start a block if one is due (node.c). */
void node__maybe_block(struct node *node);

/* Stop: API, waiters, mempool, then the node's handles once no block is
 * being committed (node.c). */
void node__stop(struct node *node);

/* Start the client API server of the config (node_api.c).
 * Returns: 0 or the api_start code, errmsg naming the address. */
int node__api_start(struct node *node, char *errmsg);

/* Commit waiters: submits with wait=true are answered when their tx
 * commits or when their deadline passes (node_api.c). */
int node__waiters_init(struct node *node);
void node__waiters_committed(struct node *node, const struct node_job *job);
void node__waiters_expire(struct node *node);
void node__waiters_cancel(struct node *node);
void node__waiters_free(struct node *node);

#endif
