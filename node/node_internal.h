/* The node's parts, shared by node.c (startup, block building and
 * committing), node_cons.c (the consensus engine's host) and node_api.c
 * (client API handlers, commit waiters). Loop thread unless stated. */
#ifndef TDEI_NODE_NODE_INTERNAL_H
#define TDEI_NODE_NODE_INTERNAL_H

#include "config.h"
#include "consensus/engine.h"
#include "core/codec.h"
#include "core/keys.h"
#include "exec/exec.h"
#include "genesis.h"
#include "home.h"
#include "mempool/mempool.h"
#include "store/store.h"
#include "votes.h"

#include <uv.h>

struct api;
struct node_waiter;

/* What a worker job does. */
enum node_job_kind {
    NODE_JOB_BUILD = 1, /* build the proposal block and make it durable */
    NODE_JOB_COMMIT     /* execute a decided block and commit it */
};

/* One job on a worker: at most one at a time (struct node.working). */
struct node_job {
    uv_work_t work;               /* the worker request */
    struct node *node;            /* back pointer */
    enum node_job_kind kind;
    /* NODE_JOB_BUILD: the reaped txs, borrowed from the pool (reaping
     * removes nothing; they stay pending until mempool_update). */
    struct mempool_entry *entries;
    ProtobufCBinaryData *txs;     /* the same, as Block.txs */
    size_t count;                 /* txs in the block */
    uint64_t now_ms;              /* wall clock when the block started */
    /* Both: the block. BUILD: made here, then moved to node->proposal;
     * COMMIT: borrowed from node->proposal. */
    uint8_t *block_bytes;         /* the serialized block */
    size_t block_len;             /* its length */
    uint64_t height;              /* its height */
    uint8_t block_id[CODEC_HASH_SIZE]; /* its id */
    /* NODE_JOB_COMMIT. */
    uint8_t *commit_bytes;        /* the block's Commit (owned) */
    size_t commit_len;            /* its length */
    uint8_t (*tx_ids)[CODEC_HASH_SIZE]; /* the block's tx ids, in order */
    uint8_t (*signers)[TDEI_PUBKEY_SIZE]; /* its signers, sorted, unique */
    size_t signer_count;          /* entries of @signers */
    struct exec_block_info info;  /* what execution produced */
    int rc;                       /* 0 or the failure */
    char errmsg[TDEI_ERRMSG_SIZE]; /* why it failed */
};

/* The block this node built to propose at one height. It is durable in
 * meta (NODE_META_PROPOSAL) before the engine may sign anything for it:
 * a precommit signed for it locks this validator on it, so after a crash
 * the node must still be able to commit exactly this block. It stays
 * until the height is committed, and is proposed again in later rounds
 * of the height. */
struct node_proposal {
    uint8_t *bytes;               /* the serialized block; NULL: none */
    size_t len;                   /* its length */
    uint64_t height;              /* its height */
    uint8_t id[CODEC_HASH_SIZE];  /* its id */
};

/* A consensus timeout armed on a uv timer. */
struct node_timeout {
    uv_timer_t timer;             /* one per enum cons_timeout */
    uint64_t height;              /* what cons_on_timeout is told */
    uint32_t round;
    enum cons_timeout kind;
};

#define NODE_TIMEOUTS 3 /* propose, prevote, precommit */

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
    int working;                    /* a node_job is on a worker */
    int stopping;                   /* a signal or a failure arrived */
    int exit_status;                /* of node_run */
    struct node_waiter **waiters;   /* hash buckets by tx id */
    size_t waiter_count;            /* waiters registered */
    /* Consensus (node_cons.c). */
    struct cons_engine *engine;     /* the engine; NULL before start */
    struct votes_crypto votes;      /* behind @crypto */
    struct cons_crypto crypto;      /* BIP-340 over the codec's bytes */
    struct node_timeout timeouts[NODE_TIMEOUTS]; /* by kind - 1 */
    int timeouts_ready;             /* the timers are initialised */
    struct cons_vote *commit_votes; /* CONS_VALIDATORS_MAX, for DECIDE */
    int draining;                   /* node__cons_drain is running */
    int halted;                     /* consensus stopped on a failure */
    int halt_code;                  /* ... with this code */
    int value_wanted;               /* GET_VALUE waits for an answer */
    uint64_t value_height;          /* ... for this height */
    uint32_t value_round;           /* ... and round */
    struct node_proposal proposal;  /* this node's block for the height */
    uint64_t persist_count;         /* signer_persist calls */
    uint64_t persist_us_total;      /* their time, microseconds */
    uint64_t persist_us_max;        /* the longest */
};

/* Wall-clock milliseconds since 1970 (block times). */
uint64_t node__wall_ms(void);

/* Answer the engine's GET_VALUE when it can be answered: at once with
 * the block already built for the height, else by building one when txs
 * wait and chain.block_interval_ms has passed since the last commit (the
 * engine waits meanwhile). Called when GET_VALUE arrives, on every tick
 * and when a tx is admitted (node.c). */
void node__maybe_block(struct node *node);

/* Execute and commit node->proposal, decided at its height, with the
 * Commit @commit_bytes (ownership moves to the job on 0), on a worker.
 * Returns: 0 (node__cons_committed runs when it is done) or TDEI_NOMEM /
 * the uv_queue_work failure (nothing started; @commit_bytes not taken)
 * (node.c). */
int node__block_commit(struct node *node, uint8_t *commit_bytes,
                       size_t commit_len);

/* Start consensus once the chain, the mempool and the API are open:
 * the engine with the node key as self, its guard restored from the
 * signer record, the block this node built for the next height (if it
 * survived a restart), and the next height started.
 * Returns: 0, or a code with errmsg (the node does not start) (node_cons.c). */
int node__cons_start(struct node *node, char *errmsg);

/* Carry out the engine's actions in order until there is none; the
 * caller has just given the engine an input (node_cons.c). */
void node__cons_drain(struct node *node);

/* A worker built node->proposal for the engine's GET_VALUE: answer it
 * (node_cons.c). */
void node__cons_value(struct node *node);

/* Height node->height was committed: start the next one (node_cons.c). */
void node__cons_committed(struct node *node);

/* Close the consensus timers; free the engine once the loop closed them
 * (node__cons_free) (node_cons.c). */
void node__cons_stop(struct node *node);
void node__cons_free(struct node *node);

/* Consensus cannot go on (a failed guard write, a failed block): log
 * @why, stop the node with exit status 1 and ignore the engine from now
 * on (node_cons.c). */
void node__cons_halt(struct node *node, const char *what, int code,
                     const char *why);

/* Stop: API, waiters, mempool, then the node's handles once no block is
 * being committed (node.c). */
void node__stop(struct node *node);

/* Start the client API server of the config (node_api.c).
 * Returns: 0 or the api_start code, errmsg naming the address. */
int node__api_start(struct node *node, char *errmsg);

/* Commit waiters: submits with wait=true are answered when their tx
 * commits or when their deadline passes (node_api.c). */
int node__waiters_init(struct node *node);
void node__waiters_committed(struct node *node,
                             const uint8_t (*tx_ids)[CODEC_HASH_SIZE],
                             size_t count);
void node__waiters_expire(struct node *node);
void node__waiters_cancel(struct node *node);
void node__waiters_free(struct node *node);

#endif
