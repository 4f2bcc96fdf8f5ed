/* The simulator's state, shared by its .c files (sim.h is the contract).
 *
 * Time is simulated, in microseconds. A run is a queue of events ordered
 * by (time, sequence number); each step pops one, lets the node it
 * concerns act, and checks the invariants. Nodes keep a durable part (what
 * survives a crash: the signer record, the committed chain, the WAL of the
 * current height, the evidence pool) and a volatile part (the engine and
 * everything else). */
#ifndef TDEI_SIM_INTERNAL_H
#define TDEI_SIM_INTERNAL_H

#include "rng.h"
#include "sim.h"

#include <stddef.h>
#include <stdint.h>

/* engine.h names it once the engine lands; the engine's own value. */
#ifndef CONS_ROUNDS_BEHIND_MAX
#define CONS_ROUNDS_BEHIND_MAX 63u
#endif

#define SIM_MS 1000u
/* After GST every message arrives within DELTA (links: 2-20 ms base plus
 * up to 30 ms jitter; before GST a 5% tail adds 0.1-2 s). */
#define SIM_DELTA_US (50u * SIM_MS)
/* A node re-sends its own messages of the height when its state has not
 * moved for one gossip period. */
#define SIM_GOSSIP_US (250u * SIM_MS)
/* Building or checking a block. */
#define SIM_WORK_US (1u * SIM_MS)
/* Evidence items one block carries at most. */
#define SIM_EV_PER_BLOCK 8u
/* Commits one catch-up reply carries at most. */
#define SIM_CATCHUP_HEIGHTS 8u
/* Actions one input may cause before the run is failed as a flood. */
#define SIM_DRAIN_MAX 10000u
/* Heights every honest node must commit past the best one at GST. */
#define SIM_TARGET_HEIGHTS 2u
/* Events after GST at most (a bound on a run that never ends). */
#define SIM_EVENTS_AFTER_GST_MAX 20000000u

enum sim_event_kind {
    EV_DELIVER = 1, /* a message reaches @node */
    EV_TIMEOUT,     /* an engine timeout of @node fires */
    EV_VALUE,       /* @node has built its block for (height, round) */
    EV_VALIDITY,    /* @node has checked block @id */
    EV_GOSSIP,      /* @node's gossip timer */
    EV_CRASH,       /* the crash fault strikes */
    EV_RESTART,     /* @node comes back */
    EV_PARTITION,   /* a partition forms or heals */
    EV_NOISE        /* a Byzantine @node sends votes for unknown ids */
};

enum sim_msg_kind {
    MSG_PROPOSAL = 1,
    MSG_VOTE,
    MSG_DECIDED,  /* commits height_lo..height_hi from @from's chain */
    MSG_EVIDENCE, /* vote and vote_b conflict */
    MSG_STATUS    /* "I am at (height_lo, round)": peers ahead send
                     commits, peers at that height relay its messages */
};

/* A message in flight; shared by its deliveries (refs). */
struct sim_msg
{
    unsigned refs;
    enum sim_msg_kind kind;
    unsigned from;
    struct cons_proposal proposal;
    struct cons_vote vote;
    struct cons_vote vote_b;
    uint64_t height_lo, height_hi;
    uint32_t round; /* STATUS */
};

struct sim_event
{
    uint64_t time; /* us */
    uint64_t seq;  /* tie-break: order of scheduling */
    enum sim_event_kind kind;
    unsigned node;
    uint32_t incarnation; /* timers of an older life are dropped */
    struct sim_msg *msg;  /* DELIVER */
    enum cons_timeout timeout;
    uint64_t height;
    uint32_t round;
    uint8_t id[CONS_ID_SIZE];
};

/* An entry of a node's write-ahead log: every engine input of the current
 * height, and the node's own signed messages, in order. */
enum sim_wal_kind {
    WAL_PROPOSAL = 1,
    WAL_VOTE,
    WAL_TIMEOUT,
    WAL_VALUE,
    WAL_VALIDITY,
    WAL_DECIDED /* the commit of @height in node @from's chain */
};

struct sim_wal
{
    enum sim_wal_kind kind;
    struct cons_proposal proposal;
    struct cons_vote vote;
    enum cons_timeout timeout;
    uint64_t height;
    uint32_t round;
    uint8_t id[CONS_ID_SIZE];
    int valid;
    unsigned from;
};

/* A committed block of a node's chain with its commit. */
struct sim_commit
{
    uint8_t id[CONS_ID_SIZE];
    uint32_t round;
    size_t n;
    struct cons_vote *votes;
};

/* A signed message a node sent at its current height (re-gossiped). */
struct sim_own
{
    int is_proposal;
    struct cons_proposal proposal;
    struct cons_vote vote;
    uint32_t round;
};

/* What a node's engine was given of one validator's votes of one type and
 * round at the current height (the evidence completeness check). */
#define SEEN_ACCEPTED 1u
#define SEEN_EVIDENCE 2u
struct sim_seen
{
    uint8_t state;
    struct cons_id id;
};

struct sim;

/* The crypto impl handed to a node's engine. */
struct sim_signer
{
    struct sim *sim;
    unsigned index;
};

struct sim_node
{
    unsigned index;
    unsigned byz; /* SIM_F_BYZANTINE behaviours; 0: honest */
    int amnesiac; /* its restarts lose the WAL (counts toward f) */
    int up;
    uint32_t incarnation;
    uint32_t rate_permille; /* its clock: local ms x rate / 1000 */
    struct cons_engine *engine;
    struct sim_signer signer;
    struct cons_crypto crypto;

    /* Durable: survives a crash. */
    int has_signed;
    struct cons_signed last_signed;
    uint64_t committed; /* last committed height; 0: none */
    struct sim_commit *chain;
    size_t chain_cap;
    struct sim_wal *wal;
    size_t wal_n, wal_cap;
    uint32_t *pool; /* evidence (indices) not yet in its chain */
    size_t pool_n, pool_cap;

    /* Volatile. */
    struct sim_own *own;
    size_t own_n, own_cap;
    struct sim_seen *seen; /* [round][validator][type] */
    uint32_t seen_rounds;
    uint64_t reply_us[SIM_NODES_MAX]; /* last catch-up reply to each peer */
    uint64_t gossip_mark;             /* state at the last gossip tick */
    /* Prevotes its engine dropped as equivocation at the current height,
     * and the height at which it was then sent a proposal whose pol_round
     * names one of them (a polka it can never see: see check_late). */
    struct sim_hidden
    {
        uint32_t round;
        uint8_t id[CONS_ID_SIZE];
    } hidden[16];
    unsigned hidden_n;
    uint64_t pol_hidden_height;
    const struct sim_commit *decided_hint; /* inside cons_on_decided */
    int replaying;
    size_t replay_next; /* the WAL entry a replay feeds next */
};

struct sim_block
{
    uint8_t id[CONS_ID_SIZE];
    uint8_t used, valid, proposed;
    int8_t change; /* --valset: +1 adds the joiner, -1 removes the leaver */
    uint64_t height;
    unsigned proposer;
    uint32_t ev_n;
    uint32_t ev[SIM_EV_PER_BLOCK];
};

struct sim_evidence
{
    struct cons_vote a, b;
    unsigned validator;
    uint64_t observed_us; /* first EVIDENCE action of an honest engine */
    int observed;
    uint64_t ledger_height; /* 0: not yet committed */
};

/* What an honest node asked to persist at (node, height, round, step). */
struct sim_sigrec
{
    uint8_t used;
    uint8_t step;
    uint16_t node;
    uint32_t round;
    uint64_t height;
    uint8_t digest[32];
};

struct sim_decision
{
    uint8_t set;
    unsigned node;
    uint8_t id[CONS_ID_SIZE];
};

struct sim
{
    struct sim_config cfg;
    const struct sim_engine_ops *ops; /* the honest nodes' engine */
    struct sim_result *res;
    struct sim_rng rng;
    uint64_t now, seq, events;

    struct sim_event *heap;
    size_t heap_n, heap_cap;

    unsigned n, f;
    struct sim_node nodes[SIM_NODES_MAX];
    uint8_t secrets[SIM_NODES_MAX][32];
    struct cons_vset all; /* every node's key, ascending: node i has key i */
    uint64_t genesis_set; /* bit i: node i validates from height 1 */
    unsigned joiner, leaver; /* --valset: who joins, who leaves */
    uint64_t add_from;       /* --valset: blocks carry the add from here */
    struct cons_timeouts timeouts;
    uint32_t rate_max; /* slowest honest clock, permille */

    /* The network. */
    uint32_t base_us[SIM_NODES_MAX][SIM_NODES_MAX];
    uint32_t loss_permille, dup_permille;
    uint8_t group[SIM_NODES_MAX];
    int partitioned;
    uint64_t isolated_until[SIM_NODES_MAX]; /* isolate: cut off till then */
    int healed;
    uint64_t heal_us;

    /* Registries and invariant state. */
    struct sim_block *blocks;
    size_t blocks_cap, blocks_n;
    struct sim_evidence *evidence;
    size_t evidence_n, evidence_cap;
    struct sim_sigrec *sigs;
    size_t sigs_cap, sigs_n;
    struct sim_decision *decided; /* [height - 1] */
    size_t decided_cap;

    /* Progress after GST. */
    uint64_t target_height;
    uint64_t progress_deadline;
    uint64_t evidence_bound_us;
    uint64_t next_deadline_check;
    int done;
};

/* The first failure ends the run; later calls are ignored. */
void sim_fail(struct sim *s, const char *invariant, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_trace(const struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Memory that never fails (a test aborts on exhaustion). */
void *sim_grow(void *items, size_t *cap, size_t need, size_t size);

/* Fake crypto: keyed SHA-256 under each validator's secret. */
size_t sim_vote_bytes(void *impl, const struct cons_vote *v,
                      uint8_t out[CONS_SIGN_BYTES_MAX]);
size_t sim_proposal_bytes(void *impl, const struct cons_proposal *p,
                          uint8_t out[CONS_SIGN_BYTES_MAX]);
int sim_sign(void *impl, const uint8_t *bytes, size_t len,
             uint8_t sig[CONS_SIG_SIZE]);
int sim_verify(void *impl, const uint8_t key[CONS_KEY_SIZE],
               const uint8_t *bytes, size_t len,
               const uint8_t sig[CONS_SIG_SIZE]);
void sim_mac(const struct sim *s, unsigned who, const uint8_t *bytes,
             size_t len, uint8_t sig[CONS_SIG_SIZE]);
/* The node index of @key (every node's key, validator or not), or -1. */
int sim_validator(const struct sim *s, const uint8_t key[CONS_KEY_SIZE]);
/* The validators of @height as node @nd's chain decides them (bit i:
 * node i), from the changes its blocks up to @height - 2 carry; @nd must
 * have committed @height - 2. */
uint64_t sim_vset_mask(struct sim *s, const struct sim_node *nd,
                       uint64_t height);
/* The keys of the nodes in @mask, ascending, as the engine takes them. */
void sim_vset_of(const struct sim *s, uint64_t mask, struct cons_vset *out);
/* Validators in @mask, and more than 2/3 of them. */
unsigned sim_mask_count(uint64_t mask);
unsigned sim_quorum(uint64_t mask);
/* 1 when @v is signed by a validator (its index in @who). */
int sim_vote_ok(const struct sim *s, const struct cons_vote *v, unsigned *who);
int sim_id_equal(const struct cons_id *a, const struct cons_id *b);

/* Registries. */
struct sim_block *sim_block_get(struct sim *s, const uint8_t id[CONS_ID_SIZE]);
struct sim_block *sim_block_add(struct sim *s, const uint8_t id[CONS_ID_SIZE]);

/* Invariants (check.c). */
void check_persist(struct sim *s, struct sim_node *nd,
                   const struct cons_signed *sg);
void check_sent_vote(struct sim *s, struct sim_node *nd,
                     const struct cons_vote *v);
void check_sent_proposal(struct sim *s, struct sim_node *nd,
                         const struct cons_proposal *p);
void check_commit(struct sim *s, struct sim_node *nd, uint64_t height,
                  uint32_t round, const uint8_t id[CONS_ID_SIZE],
                  const struct cons_vote *votes, size_t n);
int check_evidence_pair(struct sim *s, const struct cons_vote *a,
                        const struct cons_vote *b);
void check_deadlines(struct sim *s);
void check_heal(struct sim *s);
void check_free(struct sim *s);

#endif
