/* The consensus engine's host (node_internal.h): the node gives the pure
 * engine (consensus/engine.h) its inputs and carries out its actions on
 * the loop thread, in order.
 *
 *   PERSIST            signer_persist, synchronously: one small synced
 *                      LMDB commit (tests/bench/bench_signer measures it),
 *                      done before the next action is even looked at.
 *   BROADCAST_*        node_cons_broadcast: no peers yet (one validator).
 *   SCHEDULE_TIMEOUT   a uv timer per kind that calls cons_on_timeout.
 *   GET_VALUE          node__maybe_block answers, now or later.
 *   VALIDATE           valid when it is the block this node built.
 *   DECIDE             the Commit from cons_commit_votes; the block is
 *                      executed and committed on a worker; then the next
 *                      height starts (node__cons_committed).
 *   EVIDENCE           logged (committing it needs the network's txs).
 *
 * While a job runs on a worker the engine is idle: it waits for the value
 * (build) or has decided (commit), so no PERSIST meets a block commit. */
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/log.h"
#include "node.h"
#include "node_internal.h"
#include "signer.h"

#include <inttypes.h>
#include <string.h>

static const char *node_cons_step_name(enum cons_step step)
{
    switch (step) {
    case CONS_STEP_PROPOSE:
        return "propose";
    case CONS_STEP_PREVOTE:
        return "prevote";
    case CONS_STEP_PRECOMMIT:
        return "precommit";
    }
    return "?";
}

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

/* Send a signed proposal or vote to every peer. With this layer's one
 * validator there is no peer: the message has done its work by being
 * counted by the engine (and, for a precommit, by going into the Commit).
 * The network issue sends the proposal with its block here. */
static void node_cons_broadcast(struct node *node, const struct cons_action *a)
{
    char hex[TDEI_HEX_SIZE(CONS_ID_SIZE)];

    (void)node;
    if (a->kind == CONS_ACT_BROADCAST_PROPOSAL) {
        TDEI_LOG(TDEI_LOG_DEBUG, "consensus", "proposal signed",
                 "height=%llu round=%u pol_round=%d id=%s peers=0",
                 (unsigned long long)a->proposal.height, a->proposal.round,
                 (int)a->proposal.pol_round,
                 tdei_hex_encode(hex, sizeof(hex), a->proposal.id, 8));
        return;
    }
    TDEI_LOG(TDEI_LOG_DEBUG, "consensus", "vote signed",
             "height=%llu round=%u type=%s id=%s peers=0",
             (unsigned long long)a->vote.height, a->vote.round,
             a->vote.type == CONS_PREVOTE ? "prevote" : "precommit",
             a->vote.id.nil
                 ? "nil"
                 : tdei_hex_encode(hex, sizeof(hex), a->vote.id.bytes, 8));
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
             node_cons_step_name(a->signed_msg.step), (unsigned long long)us);
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

/* VALIDATE: the only block this node can judge is the one it built. */
static void node_cons_validate(struct node *node, const struct cons_action *a)
{
    char hex[TDEI_HEX_SIZE(CONS_ID_SIZE)];
    int valid = node->proposal.bytes != NULL &&
                node->proposal.height == a->height &&
                memcmp(node->proposal.id, a->id, CONS_ID_SIZE) == 0;

    if (!valid) {
        TDEI_LOG(TDEI_LOG_NOTICE, "consensus", "proposal for an unknown block",
                 "height=%llu round=%u id=%s", (unsigned long long)a->height,
                 a->round, tdei_hex_encode(hex, sizeof(hex), a->id, 8));
    }
    cons_on_validity(node->engine, a->height, a->id, valid);
}

/* DECIDE: the Commit of the engine's precommits, then the block on a
 * worker. */
static void node_cons_decide(struct node *node, const struct cons_action *a)
{
    char hex[TDEI_HEX_SIZE(CONS_ID_SIZE)];
    uint8_t *commit = NULL;
    size_t commit_len = 0;
    size_t n;
    int rc;

    node->value_wanted = 0;
    if (node->proposal.bytes == NULL || node->proposal.height != a->height ||
        memcmp(node->proposal.id, a->id, CONS_ID_SIZE) != 0) {
        node__cons_halt(node, "decided a block this node does not hold",
                        TDEI_NOTFOUND,
                        "block sync comes with the network; restart the "
                        "node");
        return;
    }
    n = cons_commit_votes(node->engine, a->height, a->round, a->id,
                          node->commit_votes, CONS_VALIDATORS_MAX);
    rc = n == 0 ? TDEI_NO_QUORUM
                : votes_commit_encode(&commit, &commit_len, a->height, a->round,
                                      a->id, node->commit_votes, n);
    if (rc == 0) {
        rc = node__block_commit(node, commit, commit_len);
    }
    if (rc != 0) {
        tdei_free(commit);
        node__cons_halt(node, "cannot commit the decided block", rc,
                        tdei_strerror(rc));
        return;
    }
    TDEI_LOG(TDEI_LOG_VERBOSE, "consensus", "decided",
             "height=%llu round=%u id=%s precommits=%zu",
             (unsigned long long)a->height, a->round,
             tdei_hex_encode(hex, sizeof(hex), a->id, 8), n);
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

/* ---- heights ------------------------------------------------------------- */

/* Read the validator set that votes at the next height: the state's (no
 * validator changes exist yet; they take effect at H+2). */
static int node_cons_vset(struct node *node, struct cons_vset *vset,
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
    int rc = node_cons_vset(node, &vset, errmsg);

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
    rc = node_cons_start_height(node, errmsg);
    if (rc != 0) {
        node__cons_halt(node, "cannot read the next validator set", rc, errmsg);
        return;
    }
    node__cons_drain(node);
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
    if (rec->step == CONS_STEP_PRECOMMIT && !rec->id.nil && !decided) {
        /* Only when the durable proposal was lost or damaged: the engine
         * goes on by its timeouts and may commit another block. */
        TDEI_LOG(TDEI_LOG_WARNING, "consensus",
                 "the precommitted block is not held", "height=%llu round=%u",
                 (unsigned long long)rec->height, rec->round);
    }
    TDEI_LOG(TDEI_LOG_NOTICE, "consensus", "resuming from the signed record",
             "height=%llu round=%u step=%s block_held=%d code=%s "
             "decided=%d",
             (unsigned long long)rec->height, rec->round,
             node_cons_step_name(rec->step), node->proposal.bytes != NULL,
             tdei_errname(rc), decided);
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
    votes_crypto_init(&node->votes, &node->crypto, tip.chain_id,
                      &node->node_key);
    node->commit_votes =
        tdei_calloc(CONS_VALIDATORS_MAX, sizeof(*node->commit_votes));
    if (node->commit_votes == NULL ||
        cons_engine_create(&node->engine, node->identity.node_key,
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
    if (has_rec && rec.height == node->height + 1) {
        node_cons_resume(node, &rec);
    }
    TDEI_LOG(TDEI_LOG_NOTICE, "consensus", "started",
             "height=%llu last_signed_height=%llu last_signed_round=%u "
             "last_signed_step=%s",
             (unsigned long long)(node->height + 1),
             (unsigned long long)(has_rec ? rec.height : 0),
             has_rec ? rec.round : 0,
             has_rec ? node_cons_step_name(rec.step) : "none");
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
