/* The consensus engine: Tendermint Algorithm 1 ("The latest gossip on BFT
 * consensus", Buchman, Kwon, Milosevic 2018; ../shared/CONSENSUS.md §1;
 * DESIGN.md §5) as a pure state machine.
 *
 * Pure: no I/O, no clock, no randomness, no libuv or LMDB. Everything the
 * engine learns comes in through the cons_on_* calls; everything it wants
 * done comes out as actions (cons_next_action), in the order they must be
 * carried out. The host (the node, or the simulator in tests/sim/) owns
 * the network, the clock, block building and validation, and the store.
 * Signing and signature checks go through the host's struct cons_crypto,
 * so the node uses BIP-340 over the codec's sign bytes and the simulator
 * may use a cheaper keyed hash; the engine never sees a secret key.
 *
 * Values are block ids (32 bytes); the block bytes stay with the host.
 * Every validator has equal voting power: with n validators, f =
 * floor((n-1)/3), quorum = floor(2n/3) + 1 ("2f+1": more than 2/3) and
 * the round-skip threshold is f+1 ("more than 1/3").
 *
 * Proposer of (h, r): validators sorted by key, index (h + r) mod n.
 * Timeouts: timeout_X(r) = X_ms + r * X_delta_ms, for X in propose,
 * prevote, precommit; they reset at each height.
 *
 * Double-sign guard: before any message this validator signs leaves, the
 * engine emits CONS_ACT_PERSIST with (height, round, step, sign bytes);
 * the host must make it durable before carrying out any later action.
 * After a restart the host passes the last persisted record to
 * cons_restore, and the engine never signs a message that conflicts with
 * it (for the same (h, r, step) it re-sends the identical message).
 *
 * Validator sets: the host gives the set of each height to
 * cons_start_height (sets decided by block H apply at H+2: the host's
 * business, computed from the ledger).
 *
 * Evidence: two signed votes of one validator for the same (h, r, type)
 * with different block ids (nil counts as an id) become CONS_ACT_EVIDENCE.
 * The first vote keeps counting; the other joins the tally of its block
 * too when a held proposal names that block (one per validator, round and
 * type), so an equivocator cannot hide from one honest node a polka or a
 * commit that another honest node saw.
 *
 * Threads: an engine belongs to one thread at a time. Pointers are
 * non-NULL unless stated. */
#ifndef TDEI_CONSENSUS_ENGINE_H
#define TDEI_CONSENSUS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define CONS_KEY_SIZE 32u
#define CONS_ID_SIZE 32u
#define CONS_SIG_SIZE 64u
/* Sign bytes of a vote or a proposal (codec.h layouts fit). */
#define CONS_SIGN_BYTES_MAX 128u
/* Validators of one height at most (params.validators_max's ceiling). */
#define CONS_VALIDATORS_MAX 128u
/* Rounds the engine keeps votes for in one height; a message for a round
 * this far beyond the current one is dropped (bounded memory against a
 * flood of far-future rounds). */
#define CONS_ROUNDS_AHEAD_MAX 64u
/* Added with the engine: rounds the engine keeps behind the current one.
 * Votes and proposals of older rounds of the height are forgotten and new
 * ones dropped (TDEI_ROUND_RANGE); a commit or polka that old is left to
 * block sync (cons_on_decided) and the next rounds. Memory per engine:
 * (CONS_ROUNDS_BEHIND_MAX + 1 + CONS_ROUNDS_AHEAD_MAX) rounds x 2 vote
 * types x CONS_VALIDATORS_MAX vote slots (about 100 bytes each), allocated
 * once by cons_engine_create. */
#define CONS_ROUNDS_BEHIND_MAX 63u
/* Added with the engine: actions the engine holds for the host. One input
 * call emits at most a few dozen (two round starts with every rule of a
 * round firing); the host drains them (cons_next_action until 0) after
 * every call. Overflow is an assertion failure (host misuse). */
#define CONS_ACTIONS_MAX 256u

enum cons_step {
    CONS_STEP_PROPOSE = 1,
    CONS_STEP_PREVOTE = 2,
    CONS_STEP_PRECOMMIT = 3
};

enum cons_vote_type { CONS_PREVOTE = 1, CONS_PRECOMMIT = 2 };

enum cons_timeout { CONS_TIMEOUT_PROPOSE = 1, CONS_TIMEOUT_PREVOTE = 2,
                    CONS_TIMEOUT_PRECOMMIT = 3 };

/* A block id or nil. */
struct cons_id {
    int nil;                    /* 1: nil (bytes ignored) */
    uint8_t bytes[CONS_ID_SIZE];
};

/* A signed vote. */
struct cons_vote {
    enum cons_vote_type type;
    uint64_t height;
    uint32_t round;
    struct cons_id id;
    uint8_t validator[CONS_KEY_SIZE];
    uint8_t sig[CONS_SIG_SIZE];
};

/* A signed proposal of block @id at (height, round); pol_round is the
 * proposer's validRound, -1 for a fresh value. */
struct cons_proposal {
    uint64_t height;
    uint32_t round;
    int32_t pol_round;
    uint8_t id[CONS_ID_SIZE];
    uint8_t proposer[CONS_KEY_SIZE];
    uint8_t sig[CONS_SIG_SIZE];
};

/* The validators of one height, in strictly ascending key order. */
struct cons_vset {
    size_t n;                                   /* 1..CONS_VALIDATORS_MAX */
    uint8_t keys[CONS_VALIDATORS_MAX][CONS_KEY_SIZE];
};

/* Signing and checking, provided by the host. Sign bytes are built by the
 * host too (the node: codec_vote_sign_bytes / codec_proposal_sign_bytes
 * with its chain id), so the engine stays free of the wire format.
 *   vote_bytes:     the sign bytes of @v's (type, height, round, id).
 *   proposal_bytes: the sign bytes of @p's (height, round, pol_round, id).
 *   sign:           sign @len bytes with this validator's key into @sig;
 *                   0 or a TDEI_* code (the engine then sends nothing).
 *   verify:         1 when @sig by @key verifies over the @len bytes.
 * Each returns the number of bytes written where it builds bytes. */
struct cons_crypto {
    size_t (*vote_bytes)(void *impl, const struct cons_vote *v,
                         uint8_t out[CONS_SIGN_BYTES_MAX]);
    size_t (*proposal_bytes)(void *impl, const struct cons_proposal *p,
                             uint8_t out[CONS_SIGN_BYTES_MAX]);
    int (*sign)(void *impl, const uint8_t *bytes, size_t len,
                uint8_t sig[CONS_SIG_SIZE]);
    int (*verify)(void *impl, const uint8_t key[CONS_KEY_SIZE],
                  const uint8_t *bytes, size_t len,
                  const uint8_t sig[CONS_SIG_SIZE]);
    void *impl;
};

/* Timeout settings (ms), fixed for an engine's life. */
struct cons_timeouts {
    uint64_t propose_ms, propose_delta_ms;
    uint64_t prevote_ms, prevote_delta_ms;
    uint64_t precommit_ms, precommit_delta_ms;
};

/* The last message this validator signed, as persisted (the double-sign
 * guard's record). */
struct cons_signed {
    uint64_t height;
    uint32_t round;
    enum cons_step step;             /* propose: a proposal; else a vote */
    size_t len;                      /* sign bytes */
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    uint8_t sig[CONS_SIG_SIZE];
    /* Added with the engine: the signed message's fields, so that a
     * restarted engine can re-send the identical message even when its
     * own rules would now pick another one. The engine rebuilds the sign
     * bytes from them and uses them only when those equal @bytes (a record
     * without them still guards: the engine then re-sends only a message
     * whose bytes equal @bytes). The host persists them with the rest. */
    struct cons_id id;  /* the vote's id, or the proposal's block id */
    int32_t pol_round;  /* propose: the proposal's pol_round; else -1 */
};

/* What the engine asks the host to do. */
enum cons_action_kind {
    CONS_ACT_NONE = 0,
    /* Make @signed durable before carrying out any later action. */
    CONS_ACT_PERSIST,
    /* Send @proposal to every peer (the host attaches the block). */
    CONS_ACT_BROADCAST_PROPOSAL,
    /* Send @vote to every peer. */
    CONS_ACT_BROADCAST_VOTE,
    /* Call cons_on_timeout(kind, height, round) after @ms. */
    CONS_ACT_SCHEDULE_TIMEOUT,
    /* This validator proposes at (height, round): build a block and call
     * cons_on_value with its id. */
    CONS_ACT_GET_VALUE,
    /* Check the block @id proposed at @height and call cons_on_validity. */
    CONS_ACT_VALIDATE,
    /* Block @id is decided at @height in @round; @commit_n precommits
     * (from cons_commit_votes) make its commit. Commit the block, then
     * call cons_start_height for height + 1. */
    CONS_ACT_DECIDE,
    /* Two conflicting signed votes of one validator. */
    CONS_ACT_EVIDENCE
};

struct cons_action {
    enum cons_action_kind kind;
    uint64_t height;
    uint32_t round;
    enum cons_timeout timeout; /* SCHEDULE_TIMEOUT */
    uint64_t ms;               /* SCHEDULE_TIMEOUT */
    uint8_t id[CONS_ID_SIZE];  /* VALIDATE, DECIDE */
    struct cons_signed signed_msg;  /* PERSIST */
    struct cons_proposal proposal;  /* BROADCAST_PROPOSAL */
    struct cons_vote vote;          /* BROADCAST_VOTE; EVIDENCE: a */
    struct cons_vote vote_b;        /* EVIDENCE: b */
    /* Added with the engine: DECIDE: the precommits for (height, round,
     * id) the engine holds (cons_commit_votes gives them); from
     * cons_on_decided with a round outside the kept window, 0 (the host
     * holds the synced commit). */
    size_t commit_n;
};

struct cons_engine;

/* Create an engine for the validator with key @self (it may also be a
 * non-validator observer: then it never signs). Returns 0, TDEI_NOMEM. */
int cons_engine_create(struct cons_engine **out,
                       const uint8_t self[CONS_KEY_SIZE],
                       const struct cons_crypto *crypto,
                       const struct cons_timeouts *timeouts);
void cons_engine_destroy(struct cons_engine *e);

/* After a restart: the last persisted signed record (NULL: none). */
void cons_restore(struct cons_engine *e, const struct cons_signed *last);

/* Start height @height with validator set @vset (copied): round 0. */
void cons_start_height(struct cons_engine *e, uint64_t height,
                       const struct cons_vset *vset);

/* Inputs. Messages for another height are ignored (the host syncs
 * blocks); bad signatures, unknown validators and malformed fields are
 * dropped. Each returns 0, or TDEI_* when the message was dropped (for the
 * host's peer scoring).
 * Returns (cons_on_proposal, cons_on_vote): 0 (also for an identical
 * duplicate, and for a proposal once the height is decided: votes are
 * still kept then, for the commit), or
 *   TDEI_WRONG_HEIGHT  another height, or no height started yet;
 *   TDEI_MALFORMED     bad vote type, id.nil not 0/1, or pol_round not in
 *                      -1..round-1;
 *   TDEI_ROUND_RANGE   round outside [round - CONS_ROUNDS_BEHIND_MAX,
 *                      round + CONS_ROUNDS_AHEAD_MAX];
 *   TDEI_NOT_VOTER     the signer is not in the height's validator set;
 *   TDEI_NOT_PROPOSER  a proposal not signed by proposer(h, r);
 *   TDEI_BADSIG        the signature does not verify;
 *   TDEI_EQUIVOCATION  a second, different signed message of the signer
 *                      for the same (h, r, type): the first one stays
 *                      counted; for votes the pair goes out once as
 *                      CONS_ACT_EVIDENCE.
 * cons_on_timeout, cons_on_value and cons_on_validity ignore stale calls
 * (another height or round, or a step the handler's guard excludes). */
int cons_on_proposal(struct cons_engine *e, const struct cons_proposal *p);
int cons_on_vote(struct cons_engine *e, const struct cons_vote *v);
void cons_on_timeout(struct cons_engine *e, enum cons_timeout kind,
                     uint64_t height, uint32_t round);
void cons_on_value(struct cons_engine *e, uint64_t height, uint32_t round,
                   const uint8_t id[CONS_ID_SIZE]);
void cons_on_validity(struct cons_engine *e, uint64_t height,
                      const uint8_t id[CONS_ID_SIZE], int valid);

/* Block sync: height @height was decided elsewhere as @id in @round with
 * the @n precommits @votes. When the engine is at @height and the votes
 * pass cons_commit_verify against its validator set, it decides at once
 * (CONS_ACT_DECIDE). Returns 0 or the verify refusal. */
int cons_on_decided(struct cons_engine *e, uint64_t height, uint32_t round,
                    const uint8_t id[CONS_ID_SIZE],
                    const struct cons_vote *votes, size_t n);

/* Take the next action; returns 0 when there is none (kind NONE). */
int cons_next_action(struct cons_engine *e, struct cons_action *out);

/* The precommits for (@height, @round, @id) the engine holds, in strictly
 * ascending validator order: at most @cap into @out. Returns the count. */
size_t cons_commit_votes(const struct cons_engine *e, uint64_t height,
                         uint32_t round, const uint8_t id[CONS_ID_SIZE],
                         struct cons_vote *out, size_t cap);

/* Where the engine is. */
uint64_t cons_height(const struct cons_engine *e);
uint32_t cons_round(const struct cons_engine *e);
enum cons_step cons_step(const struct cons_engine *e);

/* "propose", "prevote" or "precommit" (for logs); "?" for anything else,
 * such as a step read back from a damaged record. */
const char *cons_step_name(unsigned step);

/* Verify a commit alone: @n precommits for (@height, @round, @id) from
 * distinct validators of @vset, each signature checked with @crypto,
 * more than 2/3 of @vset; @errmsg (TDEI_ERRMSG_SIZE) says which rule
 * failed. The same function serves block sync, the light client and
 * audits.
 * Returns: 0, or
 *   TDEI_MALFORMED  a vote that is not a precommit for (@height, @round,
 *                   @id) (nil included), or a validator twice;
 *   TDEI_NOT_VOTER  a vote from a key outside @vset;
 *   TDEI_NO_QUORUM  precommits of floor(2n/3) or fewer validators;
 *   TDEI_BADSIG     a signature that does not verify (checked last). */
int cons_commit_verify(const struct cons_crypto *crypto,
                       const struct cons_vset *vset, uint64_t height,
                       uint32_t round, const uint8_t id[CONS_ID_SIZE],
                       const struct cons_vote *votes, size_t n, char *errmsg);

#endif
