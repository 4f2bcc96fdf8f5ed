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
#include "api.pb-c.h"

#include <uv.h>

struct api;
struct node_waiter;
struct p2p;

/* What a worker job does. */
enum node_job_kind {
    NODE_JOB_BUILD = 1, /* build the proposal block and make it durable */
    NODE_JOB_COMMIT,    /* execute a decided block and commit it */
    NODE_JOB_VALIDATE   /* execute a peer's proposed block, commit nothing */
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
    /* The block. BUILD: made here, then moved to node->proposal;
     * COMMIT, VALIDATE: borrowed from node->proposal or a held block,
     * which stays until the job is done. */
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
    int reuse;                    /* COMMIT: node->vbatch holds the block's
                                     execution already */
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

/* A block of the height being decided that a peer proposed, or that
 * block sync fetched: kept until the height is committed. */
struct node_block {
    uint8_t *bytes;               /* the serialized block; NULL: free slot */
    size_t len;                   /* its length */
    uint64_t height;              /* its height */
    uint8_t id[CODEC_HASH_SIZE];  /* its id */
    uint64_t time_ms;             /* its header's time */
    int validity;                 /* enum node_validity */
    int pinned;                   /* a commit job borrows the bytes */
    uint64_t seq;                 /* arrival order, for eviction */
};

enum node_validity {
    NODE_UNCHECKED = 0,           /* not asked yet */
    NODE_CHECK_WANTED,            /* the engine asked; waits for a worker */
    NODE_CHECKING,                /* on a worker now */
    NODE_VALID,                   /* executes on the tip; answer valid */
    NODE_INVALID                  /* does not; answer invalid */
};

/* Peer blocks held at once; the oldest is evicted first. A decided
 * block that was evicted is fetched by block sync. */
#define NODE_HELD_MAX 8

/* A consensus message for the height after the engine's, kept until the
 * engine gets there (a peer that committed first has moved on). */
struct node_future {
    uint8_t *bytes;               /* the serialized ConsensusMessage */
    size_t len;
    uint64_t height;              /* the message's height */
    int is_proposal;              /* it carries a proposal */
};

#define NODE_FUTURE_MAX 1024      /* messages kept at most */
#define NODE_FUTURE_PROPOSALS_MAX 8 /* of them proposals (with blocks) */

/* A ready peer as the node sees it. */
struct node_peer {
    uint64_t id;                  /* p2p peer id; 0: free slot */
    uint8_t key[TDEI_PUBKEY_SIZE];/* its node key */
    uint64_t height;              /* its committed height (Status) */
};

/* Peers' txs the mempool could not take yet (its verification queue was
 * full): kept in arrival order and submitted again on the next ticks, so
 * a burst of gossip does not leave nonce gaps in this node's pool. */
#define NODE_BACKLOG_MAX 16384u            /* txs at most */
#define NODE_BACKLOG_BYTES (32u * TDEI_MIB) /* their bytes at most */

struct node_backlog_tx {
    uint8_t *bytes;
    size_t len;
};

/* Blocks block sync asks for per request, and serves per answer. */
#define NODE_SYNC_BATCH 16
/* An unanswered sync request is asked again of another peer after: */
#define NODE_SYNC_TIMEOUT_MS 5000

/* A block fetched by block sync: committed in height order once the node
 * gets to it, after its commit verified against the validator set of its
 * height. That set is known up to tip + 2 (changes decided by block H vote
 * from H + 2); a block further ahead waits unverified until it is. */
struct node_synced {
    uint8_t *block;               /* the serialized block; NULL: free */
    size_t block_len;
    uint8_t *commit;              /* its serialized Commit */
    size_t commit_len;
    uint64_t height;
    int pinned;                   /* a commit job borrows the bytes */
    int verified;                 /* 1: the commit verified */
    uint64_t peer;                /* the peer that sent it */
    uint8_t id[CODEC_HASH_SIZE];
};

/* A consensus timeout armed on a uv timer. */
struct node_timeout {
    uv_timer_t timer;             /* one per enum cons_timeout */
    uint64_t height;              /* what cons_on_timeout is told */
    uint32_t round;
    enum cons_timeout kind;
};

#define NODE_TIMEOUTS 3 /* propose, prevote, precommit */

/* What the data plane counted (Status.data_plane, node_plane.h); only
 * grow. */
struct node_plane_counters {
    uint64_t chunks_served;
    uint64_t chunks_refused;
    uint64_t chunks_fetched;
    uint64_t chunks_bad;
    uint64_t bytes_served;
    uint64_t bytes_fetched;
    uint64_t deliveries;
    uint64_t records_ingested;
    uint64_t records_appended;
    uint64_t records_refused;
    uint64_t batches_appended;
    uint64_t batches_refused;
    uint64_t batches_pushed;
    uint64_t records_received;
    uint64_t batches_bad;
};

struct node_own;      /* node_plane.c: own txs */
struct node_payload;  /* node_payload.c */
struct node_streams;  /* node_stream.c */

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
    /* What validating a peer's block wrote (node_block_check): committed
     * as is when that block is decided on the same tip. */
    struct store_batch *vbatch;
    int vbatch_ready;               /* holds the execution of vbatch_id */
    uint8_t vbatch_id[CODEC_HASH_SIZE];
    struct exec_block_info vbatch_info; /* what that execution produced */
    struct exec *exec;              /* the executor (worker thread) */
    struct mempool *mempool;        /* pending txs */
    struct api *api;                /* the client API server */
    uv_timer_t tick;                /* blocks and waiter deadlines */
    uv_signal_t sigint;             /* SIGINT: stop */
    uv_signal_t sigterm;            /* SIGTERM: stop */
    uint64_t height;                /* committed height */
    uint64_t last_block_ms;         /* uv_now of the last commit */
    int working;                    /* a node_job is on a worker */
    unsigned audit_jobs;            /* proof answers on workers
                                       (node_audit.c) */
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
    struct node_block held[NODE_HELD_MAX]; /* peers' blocks of the height */
    uint64_t held_seq;              /* arrival counter */
    int decide_wanted;              /* a DECIDE waits for the worker */
    uint64_t decide_height;         /* ... its height */
    uint32_t decide_round;          /* ... round */
    uint8_t decide_id[CODEC_HASH_SIZE]; /* ... and block */
    uint64_t max_clock_skew_ms;     /* params: a proposal's time vs ours */
    /* The network (node_p2p.c). */
    struct p2p *p2p;                /* NULL: no peers configured */
    int p2p_stopped;                /* p2p_stop was called */
    char *peer_text;                /* p2p.peers, split in place */
    struct node_peer *peers;        /* cfg.p2p_max_peers slots */
    size_t peer_slots;              /* entries of @peers */
    struct node_future *future;     /* NODE_FUTURE_MAX slots */
    size_t future_count;            /* used slots, from the start */
    struct node_synced synced[NODE_SYNC_BATCH]; /* fetched, in order */
    uint64_t sync_peer;             /* asked peer; 0: no request open */
    uint64_t sync_from;             /* first height asked */
    uint64_t sync_to;               /* last height asked */
    uint64_t sync_asked_ms;         /* uv_now when asked */
    uint8_t *own_msgs[3];           /* own proposal, prevote, precommit of
                                       the height (ConsensusMessage) */
    size_t own_lens[3];
    uv_timer_t gossip;              /* re-sends own_msgs; sync timeouts */
    int gossip_ready;               /* the timer is initialised */
    struct node_backlog_tx *backlog; /* NODE_BACKLOG_MAX, a ring */
    size_t backlog_head;            /* its oldest entry */
    size_t backlog_count;           /* entries in use */
    size_t backlog_bytes;           /* their bytes */
    uint64_t backlog_dropped;       /* peers' txs dropped: backlog full */
    uint8_t *tx_batch;              /* TxGossip being filled */
    size_t tx_batch_len;            /* its bytes (encoded repeated field) */
    size_t tx_batch_count;          /* txs in it */
    uint64_t persist_count;         /* signer_persist calls */
    uint64_t persist_us_total;      /* their time, microseconds */
    uint64_t persist_us_max;        /* the longest */
    /* The data plane (node_plane.h). */
    struct tdei_keypair op_key;     /* keys/operator.key: signs own txs */
    uint8_t enc_secret[32];         /* keys/encryption.key (X25519) */
    int plane_keys;                 /* both keys are loaded */
    struct node_plane_counters dp;  /* Status.data_plane */
    struct node_own *own;           /* own txs */
    struct node_payload *payload;   /* payload side */
    struct node_streams *streams;   /* stream side */
};

/* Wall-clock milliseconds since 1970 (block times). */
uint64_t node__wall_ms(void);

/* Answer the engine's GET_VALUE when it can be answered: at once with
 * the block already built for the height, else by building one when txs
 * wait and chain.block_interval_ms has passed since the last commit (the
 * engine waits meanwhile). Called when GET_VALUE arrives, on every tick
 * and when a tx is admitted (node.c). */
void node__maybe_block(struct node *node);

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

/* Start the next worker job if none runs: a pending DECIDE's commit,
 * then a fetched block of the next height, then a peer block the engine
 * asked to validate (node.c). Called whenever one of them is queued and
 * when a job ends. */
void node__jobs_next(struct node *node);

/* Commit @bytes (block @id at @height, borrowed until the job ends) with
 * the Commit @commit_bytes (ownership moves to the job on 0) on a worker.
 * Returns as node__block_commit (node.c). */
int node__block_commit_bytes(struct node *node, const uint8_t *bytes,
                             size_t len, uint64_t height,
                             const uint8_t id[CODEC_HASH_SIZE],
                             uint8_t *commit_bytes, size_t commit_len);

/* Validate held block @b on a worker (b->validity becomes NODE_CHECKING;
 * node__cons_validated runs when done). Returns 0 or a uv failure
 * (node.c). */
int node__block_validate(struct node *node, struct node_block *b);

/* The held peer block @id of the engine's height; NULL when none
 * (node_cons.c). */
struct node_block *node__held_find(struct node *node,
                                   const uint8_t id[CODEC_HASH_SIZE]);

/* Drop the held blocks no job borrows (node_cons.c). */
void node__held_clear(struct node *node);

/* Start committing the decided block (node->decide_*) when it is held.
 * Returns 1 when a job started or the node halted, 0 when the block is
 * not held (block sync brings it) (node_cons.c). */
int node__cons_commit_decided(struct node *node);

/* A validation job ended: answer the engine (node_cons.c). */
void node__cons_validated(struct node *node, struct node_block *b);

/* A peer's proposal or vote (the ConsensusMessage @bytes) for the engine
 * (node_cons.c). Returns 0, or a code with errmsg when it shows the peer
 * is faulty (it does not decode, a bad signature). */
int node__cons_receive(struct node *node, const uint8_t *bytes, size_t len,
                       char *errmsg);

/* Read block @height as stored and the Commit that decided it (carried
 * by block @height + 1, or for the tip the meta record). Returns 0,
 * TDEI_NOTFOUND or a read/decode failure; *commit is tdei_malloc'd
 * (node.c). */
int node__block_read(struct node *node, struct store_read *r, uint64_t height,
                     const uint8_t **block, size_t *block_len,
                     uint8_t **commit, size_t *commit_len, char *errmsg);

/* The network (node_p2p.c): start the peer manager when [p2p] has a
 * listener or peers; stop it; tell peers of a new tip; send a consensus
 * message (kept for re-sending until the next height); gossip a tx
 * admitted through the API; the height started: give the engine the
 * messages kept for it. */
int node__p2p_start(struct node *node, char *errmsg);
void node__p2p_stop(struct node *node);
void node__p2p_free(struct node *node);
void node__p2p_committed(struct node *node);
void node__p2p_consensus_out(struct node *node, int slot, const uint8_t *bytes,
                             size_t len);
void node__p2p_tx(struct node *node, const uint8_t *tx, size_t len);
void node__p2p_height_started(struct node *node);
/* The height was committed: forget this node's messages of it (they are
 * no longer sent again). */
void node__p2p_height_ended(struct node *node);
/* Keep a ConsensusMessage for height @height (the engine's + 1). */
void node__p2p_future_keep(struct node *node, const uint8_t *bytes, size_t len,
                           uint64_t height, int is_proposal);
/* Ready peers now. */
size_t node__p2p_peer_count(const struct node *node);
/* Fill @st's peer_info (allocated: node__p2p_status_free) and, through
 * @c, peer_counters. Returns 0 or TDEI_NOMEM. */
int node__p2p_status_fill(struct node *node, Tdei__Api__Status *st,
                          Tdei__Api__PeerCounters *c);
void node__p2p_status_free(Tdei__Api__Status *st);
/* Send the txs gathered for gossip (node.c's tick). */
void node__p2p_tick(struct node *node);

/* The validator set that votes at the next height, tip + 1 (the state
 * record "validators"; changes decided by block H vote from H + 2)
 * (node_cons.c). */
int node__cons_vset(struct node *node, struct cons_vset *vset, char *errmsg);

/* Verify the commit of the fetched block @sb, of height tip + 1, against
 * the validator set of that height when it waits unverified (its set was
 * not known when it came). Returns 1 when it may be committed; 0 when it
 * was dropped (the commit does not verify: its peer is disconnected and
 * banned; or this node could not read the set), and block sync asks
 * again (node_p2p.c). */
int node__synced_verify(struct node *node, struct node_synced *sb);

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
