/* The consensus engine's host (node_internal.h): the node gives the pure
 * engine (consensus/engine.h) its inputs and carries out its actions on
 * the loop thread, in order.
 *
 *   PERSIST            signer_persist, synchronously: one small synced
 *                      LMDB commit (tests/bench/bench_signer measures it),
 *                      done before the next action is even looked at.
 *   BROADCAST_*        the message (a proposal with its block) goes to
 *                      every peer and is sent again every
 *                      consensus.gossip_interval_ms until the height is
 *                      committed (node_p2p.c).
 *   SCHEDULE_TIMEOUT   a uv timer per kind that calls cons_on_timeout.
 *   GET_VALUE          node__maybe_block answers, now or later.
 *   VALIDATE           the block this node built is valid; a peer's block
 *                      is checked for its time, then executed on a worker
 *                      without committing (node__block_validate).
 *   DECIDE             the Commit from cons_commit_votes; the block (own
 *                      or held) is executed and committed on a worker as
 *                      soon as it is free; a block not held comes by
 *                      block sync. Then the next height starts
 *                      (node__cons_committed).
 *   EVIDENCE           logged (committing it is left to a later change).
 *
 * Peers' messages (node__cons_receive) for the engine's height go to the
 * engine; those for the next height are kept until it starts (node_p2p.c).
 * Proposed blocks of the height are held in node->held. */
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/log.h"
#include "node.h"
#include "node_internal.h"
#include "p2p.pb-c.h"
#include "signer.h"

#include <inttypes.h>
#include <string.h>

void node__cons_halt(struct node *node, const char *what, int code,
                     const char *why)
{
    TDEI_LOG(TDEI_LOG_WARNING, "node", "consensus halted",
             "what=\"%s\" height=%llu code=%s error=\"%s\"", what,
             (unsigned long long)(node->height + 1), tdei_errname(code), why);
    node->halted = 1;
    node->halt_code = code;
    node->value_wanted = 0;
    node->exit_status = 1;
    node__stop(node);
}

/* ---- actions ------------------------------------------------------------- */

/* The bytes of block @id: this node's own proposal or a held block;
 * 0 when neither. */
static int node_cons_block_bytes(struct node *node, uint64_t height,
                                 const uint8_t id[CONS_ID_SIZE],
                                 const uint8_t **bytes, size_t *len)
{
    struct node_block *b;

    if (node->proposal.bytes != NULL && node->proposal.height == height &&
        memcmp(node->proposal.id, id, CONS_ID_SIZE) == 0) {
        *bytes = node->proposal.bytes;
        *len = node->proposal.len;
        return 1;
    }
    b = node__held_find(node, id);
    if (b == NULL || b->height != height) {
        return 0;
    }
    *bytes = b->bytes;
    *len = b->len;
    return 1;
}

/* Wrap @inner (a serialized Proposal or Vote) in a ConsensusMessage. */
static int node_cons_wrap(int is_proposal, const uint8_t *inner, size_t len,
                          uint8_t **out, size_t *out_len)
{
    Tdei__P2p__ConsensusMessage msg = TDEI__P2P__CONSENSUS_MESSAGE__INIT;

    if (is_proposal) {
        msg.proposal.data = (uint8_t *)(uintptr_t)inner;
        msg.proposal.len = len;
    } else {
        msg.vote.data = (uint8_t *)(uintptr_t)inner;
        msg.vote.len = len;
    }
    return codec_encode(&msg.base, out, out_len);
}

/* Serialize the Proposal of @a with its block. */
static int node_cons_proposal_encode(struct node *node,
                                     const struct cons_proposal *cp,
                                     uint8_t **out, size_t *len)
{
    Tdei__Proposal p = TDEI__PROPOSAL__INIT;
    Tdei__Block *block = NULL;
    char errmsg[TDEI_ERRMSG_SIZE];
    const uint8_t *bytes;
    size_t blen;
    int rc;

    if (!node_cons_block_bytes(node, cp->height, cp->id, &bytes, &blen)) {
        return TDEI_NOTFOUND;
    }
    rc = codec_block_decode(&block, NULL, bytes, blen, &node->limits, errmsg);
    if (rc != 0) {
        return rc;
    }
    p.height = cp->height;
    p.round = cp->round;
    p.pol_round = cp->pol_round;
    p.block_id.data = (uint8_t *)(uintptr_t)cp->id;
    p.block_id.len = CONS_ID_SIZE;
    p.block = block;
    p.proposer.data = (uint8_t *)(uintptr_t)cp->proposer;
    p.proposer.len = CONS_KEY_SIZE;
    p.sig.data = (uint8_t *)(uintptr_t)cp->sig;
    p.sig.len = CONS_SIG_SIZE;
    rc = codec_proposal_encode(&p, out, len);
    codec_block_free(block);
    return rc;
}

static int node_cons_vote_encode(const struct cons_vote *cv, uint8_t **out,
                                 size_t *len)
{
    Tdei__Vote v = TDEI__VOTE__INIT;

    v.type = (uint32_t)cv->type;
    v.height = cv->height;
    v.round = cv->round;
    if (!cv->id.nil) {
        v.block_id.data = (uint8_t *)(uintptr_t)cv->id.bytes;
        v.block_id.len = CONS_ID_SIZE;
    }
    v.validator.data = (uint8_t *)(uintptr_t)cv->validator;
    v.validator.len = CONS_KEY_SIZE;
    v.sig.data = (uint8_t *)(uintptr_t)cv->sig;
    v.sig.len = CONS_SIG_SIZE;
    return codec_vote_encode(&v, out, len);
}

/* Send a signed proposal (with its block) or vote to every peer; the
 * network keeps it to send again until the height is committed. */
static void node_cons_broadcast(struct node *node, const struct cons_action *a)
{
    char hex[TDEI_HEX_SIZE(CONS_ID_SIZE)];
    int is_proposal = a->kind == CONS_ACT_BROADCAST_PROPOSAL;
    uint8_t *inner = NULL;
    uint8_t *msg = NULL;
    size_t inner_len = 0;
    size_t msg_len = 0;
    int rc;

    rc = is_proposal
             ? node_cons_proposal_encode(node, &a->proposal, &inner,
                                         &inner_len)
             : node_cons_vote_encode(&a->vote, &inner, &inner_len);
    if (rc == 0) {
        rc = node_cons_wrap(is_proposal, inner, inner_len, &msg, &msg_len);
    }
    if (rc == 0) {
        node__p2p_consensus_out(
            node, is_proposal ? 0 : (a->vote.type == CONS_PREVOTE ? 1 : 2),
            msg, msg_len);
    }
    if (is_proposal) {
        TDEI_LOG(rc == 0 ? TDEI_LOG_DEBUG : TDEI_LOG_WARNING, "consensus",
                 "proposal signed",
                 "height=%llu round=%u pol_round=%d id=%s code=%s",
                 (unsigned long long)a->proposal.height, a->proposal.round,
                 (int)a->proposal.pol_round,
                 tdei_hex_encode(hex, sizeof(hex), a->proposal.id, 8),
                 tdei_errname(rc));
    } else {
        TDEI_LOG(rc == 0 ? TDEI_LOG_DEBUG : TDEI_LOG_WARNING, "consensus",
                 "vote signed", "height=%llu round=%u type=%s id=%s code=%s",
                 (unsigned long long)a->vote.height, a->vote.round,
                 a->vote.type == CONS_PREVOTE ? "prevote" : "precommit",
                 a->vote.id.nil ? "nil"
                                : tdei_hex_encode(hex, sizeof(hex),
                                                  a->vote.id.bytes, 8),
                 tdei_errname(rc));
    }
    tdei_free(inner);
    tdei_free(msg);
}

/* Make the guard's record durable. Returns 0, or the signer_persist code
 * after halting the node: no later action may be carried out. */
static int node_cons_persist(struct node *node, const struct cons_action *a)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint64_t start = uv_hrtime();
    uint64_t us;
    int rc;

    rc = signer_persist(node->store, &a->signed_msg, errmsg);
    us = (uv_hrtime() - start) / 1000u;
    node->persist_count++;
    node->persist_us_total += us;
    if (us > node->persist_us_max) {
        node->persist_us_max = us;
    }
    if (rc != 0) {
        node__cons_halt(node, "the double-sign guard refused to record", rc,
                        errmsg);
        return rc;
    }
    TDEI_LOG(TDEI_LOG_DEBUG, "consensus", "signed record persisted",
             "height=%llu round=%u step=%s us=%llu",
             (unsigned long long)a->signed_msg.height, a->signed_msg.round,
             cons_step_name(a->signed_msg.step), (unsigned long long)us);
    return 0;
}

static void node_cons_timeout_cb(uv_timer_t *timer)
{
    struct node_timeout *t = timer->data;
    struct node *node = timer->loop->data;

    if (node->halted || node->stopping || node->engine == NULL) {
        return;
    }
    TDEI_LOG(TDEI_LOG_VERBOSE, "consensus", "timeout",
             "height=%llu round=%u kind=%d", (unsigned long long)t->height,
             t->round, (int)t->kind);
    cons_on_timeout(node->engine, t->kind, t->height, t->round);
    node__cons_drain(node);
}

/* Arm the timer of @a's kind; a later timeout of the same kind replaces
 * an earlier one, which could only be for an earlier (height, round) and
 * would be ignored by the engine as stale. */
static void node_cons_schedule(struct node *node, const struct cons_action *a)
{
    struct node_timeout *t;

    TDEI_ASSERT(a->timeout >= CONS_TIMEOUT_PROPOSE &&
                a->timeout <= CONS_TIMEOUT_PRECOMMIT);
    t = &node->timeouts[a->timeout - 1];
    t->height = a->height;
    t->round = a->round;
    t->kind = a->timeout;
    (void)uv_timer_start(&t->timer, node_cons_timeout_cb, a->ms, 0);
}

/* VALIDATE: the block this node built is valid; a peer's block is valid
 * when its time is within params.max_clock_skew_ms of this node's clock
 * and it executes on the tip (a worker job, node__block_validate). */
static void node_cons_validate(struct node *node, const struct cons_action *a)
{
    char hex[TDEI_HEX_SIZE(CONS_ID_SIZE)];
    struct node_block *b;
    uint64_t now;

    if (node->proposal.bytes != NULL && node->proposal.height == a->height &&
        memcmp(node->proposal.id, a->id, CONS_ID_SIZE) == 0) {
        cons_on_validity(node->engine, a->height, a->id, 1);
        return;
    }
    b = node__held_find(node, a->id);
    if (b == NULL || b->height != a->height) {
        TDEI_LOG(TDEI_LOG_NOTICE, "consensus", "proposal for an unknown block",
                 "height=%llu round=%u id=%s", (unsigned long long)a->height,
                 a->round, tdei_hex_encode(hex, sizeof(hex), a->id, 8));
        cons_on_validity(node->engine, a->height, a->id, 0);
        return;
    }
    if (b->validity == NODE_UNCHECKED) {
        now = node__wall_ms();
        if (b->time_ms > now + node->max_clock_skew_ms ||
            b->time_ms + node->max_clock_skew_ms < now) {
            TDEI_LOG(TDEI_LOG_NOTICE, "consensus",
                     "proposed block's time is off this node's clock",
                     "height=%llu id=%s block_ms=%llu now_ms=%llu "
                     "max_clock_skew_ms=%llu",
                     (unsigned long long)a->height,
                     tdei_hex_encode(hex, sizeof(hex), a->id, 8),
                     (unsigned long long)b->time_ms, (unsigned long long)now,
                     (unsigned long long)node->max_clock_skew_ms);
            b->validity = NODE_INVALID;
        } else {
            b->validity = NODE_CHECK_WANTED;
            node__jobs_next(node);
            return;
        }
    }
    if (b->validity == NODE_VALID || b->validity == NODE_INVALID) {
        cons_on_validity(node->engine, a->height, a->id,
                         b->validity == NODE_VALID);
    }
    /* else: a worker checks it; node__cons_validated answers. */
}

void node__cons_validated(struct node *node, struct node_block *b)
{
    if (node->halted || node->engine == NULL) {
        return;
    }
    cons_on_validity(node->engine, b->height, b->id,
                     b->validity == NODE_VALID);
    node__cons_drain(node);
}

/* DECIDE: the block is committed on a worker with the Commit of the
 * engine's precommits, as soon as the worker is free (node__jobs_next);
 * a block this node does not hold comes by block sync. */
static void node_cons_decide(struct node *node, const struct cons_action *a)
{
    char hex[TDEI_HEX_SIZE(CONS_ID_SIZE)];

    node->value_wanted = 0;
    node->decide_wanted = 1;
    node->decide_height = a->height;
    node->decide_round = a->round;
    memcpy(node->decide_id, a->id, CONS_ID_SIZE);
    TDEI_LOG(TDEI_LOG_VERBOSE, "consensus", "decided",
             "height=%llu round=%u id=%s precommits=%zu",
             (unsigned long long)a->height, a->round,
             tdei_hex_encode(hex, sizeof(hex), a->id, 8), a->commit_n);
    node__jobs_next(node);
}

/* Start committing the decided block when this node holds it. Returns 1
 * when a job started (or the node halted), 0 when it must wait for the
 * block. */
int node__cons_commit_decided(struct node *node)
{
    const uint8_t *bytes;
    size_t len;
    uint8_t *commit = NULL;
    size_t commit_len = 0;
    size_t n;
    int rc;

    if (!node_cons_block_bytes(node, node->decide_height, node->decide_id,
                               &bytes, &len)) {
        return 0;
    }
    node->decide_wanted = 0;
    n = cons_commit_votes(node->engine, node->decide_height,
                          node->decide_round, node->decide_id,
                          node->commit_votes, CONS_VALIDATORS_MAX);
    rc = n == 0 ? TDEI_NO_QUORUM
                : votes_commit_encode(&commit, &commit_len,
                                      node->decide_height, node->decide_round,
                                      node->decide_id, node->commit_votes, n);
    if (rc == 0) {
        rc = node__block_commit_bytes(node, bytes, len, node->decide_height,
                                      node->decide_id, commit, commit_len);
    }
    if (rc != 0) {
        tdei_free(commit);
        node__cons_halt(node, "cannot commit the decided block", rc,
                        tdei_strerror(rc));
    }
    return 1;
}

static void node_cons_evidence(const struct cons_action *a)
{
    char hex[TDEI_HEX_SIZE(CONS_KEY_SIZE)];

    TDEI_LOG(TDEI_LOG_WARNING, "consensus", "equivocation seen",
             "height=%llu round=%u validator=%s", (unsigned long long)a->height,
             a->round, tdei_hex_encode(hex, sizeof(hex), a->vote.validator, 8));
}

void node__cons_drain(struct node *node)
{
    struct cons_action a;

    if (node->draining) {
        return; /* the running drain takes the new actions in order */
    }
    node->draining = 1;
    while (!node->halted && cons_next_action(node->engine, &a)) {
        switch (a.kind) {
        case CONS_ACT_PERSIST:
            (void)node_cons_persist(node, &a);
            break;
        case CONS_ACT_BROADCAST_PROPOSAL:
        case CONS_ACT_BROADCAST_VOTE:
            node_cons_broadcast(node, &a);
            break;
        case CONS_ACT_SCHEDULE_TIMEOUT:
            node_cons_schedule(node, &a);
            break;
        case CONS_ACT_GET_VALUE:
            node->value_wanted = 1;
            node->value_height = a.height;
            node->value_round = a.round;
            node__maybe_block(node);
            break;
        case CONS_ACT_VALIDATE:
            node_cons_validate(node, &a);
            break;
        case CONS_ACT_DECIDE:
            node_cons_decide(node, &a);
            break;
        case CONS_ACT_EVIDENCE:
            node_cons_evidence(&a);
            break;
        case CONS_ACT_NONE:
            break;
        }
    }
    node->draining = 0;
}

void node__cons_value(struct node *node)
{
    TDEI_ASSERT(node->proposal.bytes != NULL);
    if (node->halted || !node->value_wanted ||
        node->proposal.height != node->value_height) {
        return; /* kept for a later GET_VALUE of its height */
    }
    node->value_wanted = 0;
    cons_on_value(node->engine, node->value_height, node->value_round,
                  node->proposal.id);
    node__cons_drain(node);
}

/* ---- peer blocks and messages ------------------------------------------- */

struct node_block *node__held_find(struct node *node,
                                   const uint8_t id[CODEC_HASH_SIZE])
{
    for (size_t i = 0; i < NODE_HELD_MAX; i++) {
        struct node_block *b = &node->held[i];
        if (b->bytes != NULL && memcmp(b->id, id, CODEC_HASH_SIZE) == 0) {
            return b;
        }
    }
    return NULL;
}

static void node_cons_held_drop(struct node_block *b)
{
    tdei_free(b->bytes);
    memset(b, 0, sizeof(*b));
}

/* Drop every held block not borrowed by a running job. */
void node__held_clear(struct node *node)
{
    for (size_t i = 0; i < NODE_HELD_MAX; i++) {
        struct node_block *b = &node->held[i];
        if (b->bytes != NULL && !b->pinned && b->validity != NODE_CHECKING) {
            node_cons_held_drop(b);
        }
    }
}

/* A free slot, evicting the oldest block no job borrows and the engine
 * did not decide; NULL when every slot is busy. */
static struct node_block *node_cons_held_slot(struct node *node)
{
    struct node_block *oldest = NULL;

    for (size_t i = 0; i < NODE_HELD_MAX; i++) {
        struct node_block *b = &node->held[i];
        if (b->bytes == NULL) {
            return b;
        }
        if (b->pinned || b->validity == NODE_CHECKING ||
            (node->decide_wanted &&
             memcmp(b->id, node->decide_id, CODEC_HASH_SIZE) == 0)) {
            continue;
        }
        if (oldest == NULL || b->seq < oldest->seq) {
            oldest = b;
        }
    }
    if (oldest != NULL) {
        node_cons_held_drop(oldest);
    }
    return oldest;
}

/* Hold the block of a peer's proposal. Returns the held block (new or
 * already there), or NULL (no memory, no slot). *added says it is new. */
static struct node_block *node_cons_held_add(struct node *node,
                                             const Tdei__Proposal *p,
                                             const Tdei__Header *header,
                                             int *added)
{
    struct node_block *b = node__held_find(node, p->block_id.data);
    uint8_t *bytes = NULL;
    size_t len = 0;

    *added = 0;
    if (b != NULL) {
        return b;
    }
    if (codec_block_encode(p->block, &bytes, &len) != 0) {
        return NULL;
    }
    b = node_cons_held_slot(node);
    if (b == NULL) {
        tdei_free(bytes);
        return NULL;
    }
    b->bytes = bytes;
    b->len = len;
    b->height = header->height;
    memcpy(b->id, p->block_id.data, CODEC_HASH_SIZE);
    b->time_ms = header->time_ms;
    b->validity = NODE_UNCHECKED;
    b->seq = ++node->held_seq;
    *added = 1;
    return b;
}

/* Give the engine a peer's proposal, holding its block; *future = 1
 * when it is for the next height. */
static int node_cons_on_proposal(struct node *node, const uint8_t *bytes,
                                 size_t len, int *future, char *errmsg)
{
    Tdei__Proposal *p = NULL;
    Tdei__Header *header = NULL;
    struct cons_proposal cp;
    struct node_block *b;
    uint64_t height = cons_height(node->engine);
    int added = 0;
    int rc;

    rc = codec_proposal_decode(&p, &header, bytes, len, &node->limits,
                               errmsg);
    if (rc != 0) {
        return rc;
    }
    if (p->height == height + 1) {
        *future = 1;
    } else if (p->height == height) {
        memset(&cp, 0, sizeof(cp));
        cp.height = p->height;
        cp.round = p->round;
        cp.pol_round = p->pol_round;
        memcpy(cp.id, p->block_id.data, CONS_ID_SIZE);
        memcpy(cp.proposer, p->proposer.data, CONS_KEY_SIZE);
        memcpy(cp.sig, p->sig.data, CONS_SIG_SIZE);
        b = node_cons_held_add(node, p, header, &added);
        rc = b == NULL ? TDEI_NOMEM : cons_on_proposal(node->engine, &cp);
        if (rc != 0 && added) {
            node_cons_held_drop(b);
        }
        if (rc == TDEI_BADSIG) {
            (void)tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                              "proposal for height %llu round %u: the "
                              "signature does not verify",
                              (unsigned long long)p->height, p->round);
        } else {
            rc = 0; /* late, early, or not this node's business */
        }
    }
    codec_proposal_free(p);
    codec_header_free(header);
    return rc;
}

/* Give the engine a peer's vote; *future as for proposals. */
static int node_cons_on_vote(struct node *node, const uint8_t *bytes,
                             size_t len, int *future, char *errmsg)
{
    Tdei__Vote *v = NULL;
    struct cons_vote cv;
    uint64_t height = cons_height(node->engine);
    int rc;

    rc = codec_vote_decode(&v, bytes, len, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (v->height == height + 1) {
        *future = 1;
    } else if (v->height == height) {
        memset(&cv, 0, sizeof(cv));
        cv.type = (enum cons_vote_type)v->type;
        cv.height = v->height;
        cv.round = v->round;
        cv.id.nil = v->block_id.len == 0;
        if (!cv.id.nil) {
            memcpy(cv.id.bytes, v->block_id.data, CONS_ID_SIZE);
        }
        memcpy(cv.validator, v->validator.data, CONS_KEY_SIZE);
        memcpy(cv.sig, v->sig.data, CONS_SIG_SIZE);
        rc = cons_on_vote(node->engine, &cv);
        if (rc == TDEI_BADSIG) {
            (void)tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                              "vote for height %llu round %u: the "
                              "signature does not verify",
                              (unsigned long long)v->height, v->round);
        } else {
            rc = 0;
        }
    }
    codec_vote_free(v);
    return rc;
}

int node__cons_receive(struct node *node, const uint8_t *bytes, size_t len,
                       char *errmsg)
{
    Tdei__P2p__ConsensusMessage *msg = NULL;
    int rc;

    if (node->engine == NULL || node->halted) {
        return 0;
    }
    rc = codec_message_unpack((ProtobufCMessage **)&msg,
                              &tdei__p2p__consensus_message__descriptor, bytes,
                              len, "consensus message", errmsg);
    if (rc != 0) {
        return rc;
    }
    if ((msg->proposal.len > 0) == (msg->vote.len > 0)) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                         "a consensus message carries exactly one of "
                         "proposal and vote");
    } else {
        int is_proposal = msg->proposal.len > 0;
        int future = 0;
        rc = is_proposal ? node_cons_on_proposal(node, msg->proposal.data,
                                                 msg->proposal.len, &future,
                                                 errmsg)
                         : node_cons_on_vote(node, msg->vote.data,
                                             msg->vote.len, &future, errmsg);
        if (future) {
            /* For the next height (peers committed first): kept whole. */
            node__p2p_future_keep(node, bytes, len,
                                  cons_height(node->engine) + 1,
                                  is_proposal);
        }
    }
    codec_message_free(&msg->base);
    node__cons_drain(node);
    return rc;
}

/* ---- heights ------------------------------------------------------------- */

/* Read the validator set that votes at the next height: the state record
 * "validators" after the tip (exec.h: changes decided by block H vote
 * from H+2, and execution brings them into force at the start of block
 * H+1). The engine gets it for each height it starts. */
int node__cons_vset(struct node *node, struct cons_vset *vset,
                          char *errmsg)
{
    struct store_read *r;
    Tdei__ValidatorSet *set = NULL;
    int rc;

    rc = store_read_begin(node->store, &r, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = exec_query_validators(r, &set, errmsg);
    store_read_end(r);
    if (rc == 0) {
        rc = votes_vset_from_proto(vset, set, errmsg);
    }
    codec_validator_set_free(set);
    return rc;
}

static int node_cons_start_height(struct node *node, char *errmsg)
{
    struct cons_vset vset;
    int rc = node__cons_vset(node, &vset, errmsg);

    if (rc == 0) {
        cons_start_height(node->engine, node->height + 1, &vset);
    }
    return rc;
}

void node__cons_committed(struct node *node)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    if (node->halted) {
        return;
    }
    for (size_t i = 0; i < NODE_TIMEOUTS; i++) {
        /* Every armed timeout is for the height just committed. */
        (void)uv_timer_stop(&node->timeouts[i].timer);
    }
    node__held_clear(node);
    node__p2p_height_ended(node);
    node->decide_wanted = 0;
    rc = node_cons_start_height(node, errmsg);
    if (rc != 0) {
        node__cons_halt(node, "cannot read the next validator set", rc, errmsg);
        return;
    }
    node__cons_drain(node);
    node__p2p_height_started(node);
}

/* ---- startup and restart ------------------------------------------------- */

/* Take back the block this node built for the next height before a
 * restart (meta NODE_META_PROPOSAL), if there is one. */
static int node_cons_load_proposal(struct node *node, char *errmsg)
{
    struct store_read *r;
    Tdei__Block *block = NULL;
    Tdei__Header *header = NULL;
    const uint8_t *val;
    size_t vlen;
    int rc;

    rc = store_read_begin(node->store, &r, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = store_get(r, STORE_DB_META, (const uint8_t *)NODE_META_PROPOSAL,
                   strlen(NODE_META_PROPOSAL), &val, &vlen);
    if (rc == 0) {
        rc = codec_block_decode(&block, &header, val, vlen, &node->limits,
                                errmsg);
        if (rc != 0) {
            TDEI_LOG(TDEI_LOG_WARNING, "consensus",
                     "stored proposal does not decode; ignored", "error=\"%s\"",
                     errmsg);
        } else if (header->height == node->height + 1) {
            node->proposal.bytes = tdei_malloc(vlen);
            if (node->proposal.bytes == NULL) {
                rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                                 "no memory for the stored proposal");
            } else {
                memcpy(node->proposal.bytes, val, vlen);
                node->proposal.len = vlen;
                node->proposal.height = header->height;
                codec_block_id(node->proposal.id, block->header.data,
                               block->header.len);
            }
        }
        if (rc != TDEI_NOMEM) {
            rc = 0;
        }
    } else if (rc == TDEI_NOTFOUND) {
        rc = 0;
    } else {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                         "read the stored proposal: %s", store_read_errmsg(r));
    }
    store_read_end(r);
    codec_block_free(block);
    codec_header_free(header);
    return rc;
}

/* After a restart in the middle of the next height: give the engine its
 * own last signed message again, as a peer would, so that it resumes
 * where it stopped. A vote for a later round makes the engine skip to
 * that round (one validator is more than 1/3); a proposal is validated
 * (it is the durable block); a precommit for the durable block is, with
 * one validator, a commit: the engine decides it at once, so a block
 * this validator precommitted is the block it commits (its lock is
 * honoured across the crash). Nothing here signs: the guard refuses any
 * conflicting message, and the engine re-sends the record's own. */
static void node_cons_resume(struct node *node, const struct cons_signed *rec)
{
    struct cons_vote v;
    struct cons_proposal p;
    size_t n;
    int rc = 0;
    int decided = 0;

    if (rec->step == CONS_STEP_PROPOSE) {
        memset(&p, 0, sizeof(p));
        p.height = rec->height;
        p.round = rec->round;
        p.pol_round = rec->pol_round;
        memcpy(p.id, rec->id.bytes, CONS_ID_SIZE);
        memcpy(p.proposer, node->identity.node_key, CONS_KEY_SIZE);
        memcpy(p.sig, rec->sig, CONS_SIG_SIZE);
        rc = cons_on_proposal(node->engine, &p);
    } else {
        memset(&v, 0, sizeof(v));
        v.type = rec->step == CONS_STEP_PREVOTE ? CONS_PREVOTE : CONS_PRECOMMIT;
        v.height = rec->height;
        v.round = rec->round;
        v.id = rec->id;
        memcpy(v.validator, node->identity.node_key, CONS_KEY_SIZE);
        memcpy(v.sig, rec->sig, CONS_SIG_SIZE);
        rc = cons_on_vote(node->engine, &v);
        if (rc == 0 && v.type == CONS_PRECOMMIT && !v.id.nil &&
            node->proposal.bytes != NULL &&
            memcmp(node->proposal.id, v.id.bytes, CONS_ID_SIZE) == 0) {
            n = cons_commit_votes(node->engine, v.height, v.round, v.id.bytes,
                                  node->commit_votes, CONS_VALIDATORS_MAX);
            decided = cons_on_decided(node->engine, v.height, v.round,
                                      v.id.bytes, node->commit_votes, n) == 0;
        }
    }
    if (rec->step == CONS_STEP_PRECOMMIT && !rec->id.nil && !decided &&
        (node->proposal.bytes == NULL ||
         memcmp(node->proposal.id, rec->id.bytes, CONS_ID_SIZE) != 0)) {
        /* A peer's block (held in memory only), or the durable proposal
         * was lost: the engine goes on with the peers' messages and its
         * timeouts, and block sync brings what the others decided. */
        TDEI_LOG(TDEI_LOG_WARNING, "consensus",
                 "the precommitted block is not held", "height=%llu round=%u",
                 (unsigned long long)rec->height, rec->round);
    }
    TDEI_LOG(TDEI_LOG_NOTICE, "consensus", "resuming from the signed record",
             "height=%llu round=%u step=%s block_held=%d code=%s "
             "decided=%d",
             (unsigned long long)rec->height, rec->round,
             cons_step_name(rec->step), node->proposal.bytes != NULL,
             tdei_errname(rc), decided);
}

/* The self key of an observer's engine: in no validator set. */
static const uint8_t node_cons_no_key[CONS_KEY_SIZE];

/* Say at start that this node observes, and whether its key is in the
 * set of the next height (then the others need a quorum without it). */
static void node_cons_observer_log(struct node *node)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char hex[TDEI_HEX_SIZE(CONS_KEY_SIZE)];
    struct cons_vset vset;
    int in_set = 0;

    vset.n = 0;
    if (node__cons_vset(node, &vset, errmsg) == 0) {
        for (size_t i = 0; i < vset.n && !in_set; i++) {
            in_set = memcmp(vset.keys[i], node->identity.node_key,
                            CONS_KEY_SIZE) == 0;
        }
    }
    TDEI_LOG(TDEI_LOG_NOTICE, "consensus",
             "observer: this node never signs a proposal or vote",
             "node_key=%s in_validator_set=%s validators=%zu",
             tdei_hex_encode(hex, sizeof(hex), node->identity.node_key, 8),
             in_set ? "true" : "false", vset.n);
    if (in_set && vset.n - 1 < vset.n * 2 / 3 + 1) {
        /* DESIGN.md section 5: quorum = floor(2n/3) + 1. */
        TDEI_LOG(TDEI_LOG_WARNING, "consensus",
                 "the other validators are no quorum without this node",
                 "validators=%zu quorum=%zu hint=\"the chain stops until "
                 "this node runs without --observer (and node.observer = "
                 "false), or governance changes the set\"",
                 vset.n, vset.n * 2 / 3 + 1);
    }
}

int node__cons_start(struct node *node, char *errmsg)
{
    struct cons_timeouts timeouts = {
        .propose_ms = node->cfg.timeout_propose_ms,
        .propose_delta_ms = node->cfg.timeout_propose_delta_ms,
        .prevote_ms = node->cfg.timeout_prevote_ms,
        .prevote_delta_ms = node->cfg.timeout_prevote_delta_ms,
        .precommit_ms = node->cfg.timeout_precommit_ms,
        .precommit_delta_ms = node->cfg.timeout_precommit_delta_ms,
    };
    struct cons_signed rec;
    struct store_read *r;
    struct exec_tip tip;
    int has_rec;
    int rc;

    rc = store_read_begin(node->store, &r, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = exec_query_tip(r, &tip, errmsg);
    store_read_end(r);
    if (rc != 0) {
        return rc;
    }
    /* An observer's engine is given no key to sign with and a self key
     * that is in no validator set (zeros are not a valid x-only key), so
     * it never proposes, votes or persists a signed record; it follows
     * the peers' proposals and votes and decides on their quorum. */
    votes_crypto_init(&node->votes, &node->crypto, tip.chain_id,
                      node->cfg.observer ? NULL : &node->node_key);
    node->commit_votes =
        tdei_calloc(CONS_VALIDATORS_MAX, sizeof(*node->commit_votes));
    if (node->commit_votes == NULL ||
        cons_engine_create(&node->engine,
                           node->cfg.observer ? node_cons_no_key
                                              : node->identity.node_key,
                           &node->crypto, &timeouts) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for the consensus engine");
    }
    for (size_t i = 0; i < NODE_TIMEOUTS; i++) {
        if (uv_timer_init(&node->loop, &node->timeouts[i].timer) != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                               "cannot create the consensus timers");
        }
        node->timeouts[i].timer.data = &node->timeouts[i];
    }
    node->timeouts_ready = 1;
    rc = signer_load(node->store, &rec, errmsg);
    if (rc != 0 && rc != TDEI_NOTFOUND) {
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, rc,
                            "the double-sign guard's record");
    }
    has_rec = rc == 0;
    errmsg[0] = '\0';
    rc = node_cons_load_proposal(node, errmsg);
    if (rc != 0) {
        return rc;
    }
    cons_restore(node->engine, has_rec ? &rec : NULL);
    rc = node_cons_start_height(node, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (has_rec && rec.height == node->height + 1 && !node->cfg.observer) {
        node_cons_resume(node, &rec);
    }
    if (node->cfg.observer) {
        node_cons_observer_log(node);
    }
    TDEI_LOG(TDEI_LOG_NOTICE, "consensus", "started",
             "height=%llu last_signed_height=%llu last_signed_round=%u "
             "last_signed_step=%s",
             (unsigned long long)(node->height + 1),
             (unsigned long long)(has_rec ? rec.height : 0),
             has_rec ? rec.round : 0,
             has_rec ? cons_step_name(rec.step) : "none");
    node__cons_drain(node);
    if (node->halted) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, node->halt_code,
                           "consensus halted at startup; the log says why");
    }
    return 0;
}

/* ---- shutdown ------------------------------------------------------------ */

void node__cons_stop(struct node *node)
{
    if (!node->timeouts_ready) {
        return;
    }
    for (size_t i = 0; i < NODE_TIMEOUTS; i++) {
        uv_handle_t *h = (uv_handle_t *)&node->timeouts[i].timer;
        if (!uv_is_closing(h)) {
            uv_close(h, NULL);
        }
    }
    if (node->persist_count > 0) {
        TDEI_LOG(
            TDEI_LOG_NOTICE, "consensus", "signed records persisted",
            "count=%llu mean_us=%llu max_us=%llu",
            (unsigned long long)node->persist_count,
            (unsigned long long)(node->persist_us_total / node->persist_count),
            (unsigned long long)node->persist_us_max);
    }
}

void node__cons_free(struct node *node)
{
    cons_engine_destroy(node->engine);
    node->engine = NULL;
    tdei_free(node->commit_votes);
    node->commit_votes = NULL;
}
