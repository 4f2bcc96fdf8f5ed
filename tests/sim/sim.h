/* The deterministic cluster simulator for the consensus engine
 * (DESIGN.md section 13; STYLE.md section 9).
 *
 * One run drives n engines (node/consensus/engine.h) with an in-memory
 * store, a simulated clock and a simulated network, all from one seeded
 * PRNG: the same config gives the same run, byte for byte. Invariants are
 * checked after every event; the first violation ends the run and is
 * reported with the command that replays it.
 *
 * Who is faulty: at most f = floor((n-1)/3) validators, for the whole
 * run, are Byzantine or amnesiac (restarted without their WAL). Crashes
 * with a restart from the store (signer record, chain, WAL) make no node
 * faulty: any number of honest nodes may be down at once before GST, all
 * are up from GST on, and every invariant holds for them.
 *
 * Validator-set changes (--valset): the chain changes its own validator
 * set, as governance does on the ledger (DESIGN.md section 5). One node,
 * the joiner, is not in the genesis set; every block a node builds from
 * height add_from on carries "add the joiner" until its chain holds one,
 * and three heights after that add, "remove the leaver" (another genesis
 * validator) until its chain holds that. A change in block H counts from
 * H+2: each node gives its engine, for each height, the set that its own
 * chain decided, and the certificate check counts precommits against that
 * set. The joiner and the leaver are honest; the smallest set has n-1
 * validators, so at most floor((n-2)/3) nodes are faulty (none with
 * n = 4: Byzantine and amnesia faults are then left out). The run's goal
 * waits until the removal is in force.
 *
 * Pointers are non-NULL unless stated. */
#ifndef TDEI_SIM_H
#define TDEI_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/engine.h"

/* Nodes of one run at most (the long mode runs 31). */
#define SIM_NODES_MAX 64u

/* Faults a run may inject (the --faults list). The first four make up to
 * f validators Byzantine; the rest hit honest nodes or the network. */
enum sim_fault {
    SIM_F_EQUIVOCATE = 1u << 0, /* double proposals and double votes */
    SIM_F_SILENT = 1u << 1,     /* sends nothing */
    SIM_F_UNKNOWN = 1u << 2,    /* votes for ids nobody proposed */
    SIM_F_INVALID = 1u << 3,    /* proposes blocks that are invalid */
    SIM_F_CRASH = 1u << 4,      /* honest crash, restart from the store */
    SIM_F_AMNESIA = 1u << 5,    /* crash that loses the WAL: counts to f */
    SIM_F_PARTITION = 1u << 6,  /* groups that cannot talk, then heal */
    SIM_F_LOSS = 1u << 7,       /* messages lost before GST */
    SIM_F_DUP = 1u << 8,        /* messages delivered twice */
    SIM_F_SKEW = 1u << 9,       /* node clocks run 0.7x to 1.4x */
    SIM_F_ISOLATE = 1u << 10    /* the first to commit a height is cut off */
};
#define SIM_F_BYZANTINE                                                        \
    (SIM_F_EQUIVOCATE | SIM_F_SILENT | SIM_F_UNKNOWN | SIM_F_INVALID)
#define SIM_F_ALL 0x7ffu

/* Deliberately broken variants (--broken), for the simulator's
 * self-check: each must be caught by the invariants. */
enum sim_broken {
    SIM_BROKEN_NONE = 0,
    SIM_BROKEN_LOCK,     /* an engine built never to take the lock */
    SIM_BROKEN_QUORUM,   /* an engine built with quorum f+1 */
    SIM_BROKEN_GUARD,    /* the host never persists the signer record */
    SIM_BROKEN_VALIDITY, /* the host calls every block valid */
    SIM_BROKEN_EVIDENCE, /* the host puts no evidence in its blocks */
    SIM_BROKEN_VALSET    /* the host gives the engine a set change one
                            height early (H+1, not H+2) */
};

struct sim_config
{
    uint64_t seed;
    unsigned nodes;  /* 4..SIM_NODES_MAX */
    unsigned faults; /* enum sim_fault bits */
    uint64_t steps;  /* events before the network heals (GST) */
    enum sim_broken broken;
    int verbose;          /* 1: trace every event to stderr */
    int skip_certificate; /* 1: no certificate check (self-check only:
                             shows agreement alone catches a mutant) */
    int valset;           /* 1: a validator joins and one leaves */
};

struct sim_result
{
    int failed;            /* 1: an invariant was violated */
    char reason[512];      /* which one, with the facts */
    const char *invariant; /* short name of the violated invariant */
    uint64_t events;       /* events processed */
    uint64_t heights;      /* highest height committed by an honest node */
    uint64_t sim_time_us;  /* simulated time at the end */
    uint64_t evidence;     /* distinct equivocations seen by honest nodes */
    uint64_t restarts;     /* crash restarts */
    /* --valset: the heights of the blocks that added the joiner and
     * removed the leaver (0: none), and the certificates from the add's
     * effect on that hold the joiner's precommit. */
    uint64_t vset_added, vset_removed, joiner_signed;
};

/* Run one simulation. Returns 0 when every invariant held, 1 when one was
 * violated (@out says which), 2 when @cfg is unusable (reason says why).
 * Out: @out, always filled. */
int sim_run(const struct sim_config *cfg, struct sim_result *out);

/* The engine entry points the simulator calls, so that a deliberately
 * broken build of the engine can be linked beside the real one. */
struct sim_engine_ops
{
    const char *name;
    int (*create)(struct cons_engine **out, const uint8_t self[CONS_KEY_SIZE],
                  const struct cons_crypto *crypto,
                  const struct cons_timeouts *timeouts);
    void (*destroy)(struct cons_engine *e);
    void (*restore)(struct cons_engine *e, const struct cons_signed *last);
    void (*start_height)(struct cons_engine *e, uint64_t height,
                         const struct cons_vset *vset);
    int (*on_proposal)(struct cons_engine *e, const struct cons_proposal *p);
    int (*on_vote)(struct cons_engine *e, const struct cons_vote *v);
    void (*on_timeout)(struct cons_engine *e, enum cons_timeout kind,
                       uint64_t height, uint32_t round);
    void (*on_value)(struct cons_engine *e, uint64_t height, uint32_t round,
                     const uint8_t id[CONS_ID_SIZE]);
    void (*on_validity)(struct cons_engine *e, uint64_t height,
                        const uint8_t id[CONS_ID_SIZE], int valid);
    int (*on_decided)(struct cons_engine *e, uint64_t height, uint32_t round,
                      const uint8_t id[CONS_ID_SIZE],
                      const struct cons_vote *votes, size_t n);
    int (*next_action)(struct cons_engine *e, struct cons_action *out);
    size_t (*commit_votes)(const struct cons_engine *e, uint64_t height,
                           uint32_t round, const uint8_t id[CONS_ID_SIZE],
                           struct cons_vote *out, size_t cap);
    uint64_t (*height)(const struct cons_engine *e);
    uint32_t (*round)(const struct cons_engine *e);
    enum cons_step (*step)(const struct cons_engine *e);
    int (*commit_verify)(const struct cons_crypto *crypto,
                         const struct cons_vset *vset, uint64_t height,
                         uint32_t round, const uint8_t id[CONS_ID_SIZE],
                         const struct cons_vote *votes, size_t n, char *errmsg);
};

/* The real engine. */
/* The table of the cons_* functions in scope, named @label: ops.c gives
 * the real engine's, engine_broken_ops.c each mutant's renamed copies. */
#define SIM_ENGINE_OPS_INIT(label)                                            \
    {                                                                         \
        .name = (label), .create = cons_engine_create,                        \
        .destroy = cons_engine_destroy, .restore = cons_restore,              \
        .start_height = cons_start_height, .on_proposal = cons_on_proposal,   \
        .on_vote = cons_on_vote, .on_timeout = cons_on_timeout,               \
        .on_value = cons_on_value, .on_validity = cons_on_validity,           \
        .on_decided = cons_on_decided, .next_action = cons_next_action,       \
        .commit_votes = cons_commit_votes, .height = cons_height,             \
        .round = cons_round, .step = cons_step,                               \
        .commit_verify = cons_commit_verify,                                  \
    }

extern const struct sim_engine_ops sim_engine_real;
/* Mutants of engine.c (Makefile.am makes them): quorum() answering f+1,
 * and a lock that is never taken (lockedRound stays -1). */
extern const struct sim_engine_ops sim_quorum_ops;
extern const struct sim_engine_ops sim_lock_ops;

/* Names of faults and broken variants, for the command line. */
int sim_faults_parse(const char *list, unsigned *out);
void sim_faults_format(unsigned faults, char *out, size_t size);
const char *sim_broken_name(enum sim_broken b);

#endif
