/* The invariants, checked as the events they concern happen (so after
 * every step):
 *   agreement        no two honest nodes commit different blocks at one
 *                    height;
 *   validity         every block an honest node commits was proposed and
 *                    is valid at its height;
 *   certificate      its commit holds precommits of more than 2/3 of the
 *                    validators of its height (with --valset, the set the
 *                    node's chain decided: changes in block H count from
 *                    H+2), and cons_commit_verify agrees;
 *   (--valset)       the progress goal also waits until the removal is
 *                    in force, so a change that never reaches the chain
 *                    fails as progress; "valset" names a host asking for
 *                    the set of a height its chain cannot decide yet;
 *   no-conflicting-signatures  no honest validator ever asks to persist
 *                    two different messages for one (height, round, step),
 *                    across restarts too, and sends only what it persisted;
 *   evidence         an engine given two conflicting votes reports them,
 *                    never reports an honest validator, and every reported
 *                    equivocation reaches the ledger within a bound;
 *   progress         after GST every honest node commits new heights
 *                    within a bound derived from the timeouts. */
#include "sim_internal.h"

#include "core/error.h"
#include "core/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *step_name(unsigned step)
{
    return step == CONS_STEP_PROPOSE   ? "proposal"
           : step == CONS_STEP_PREVOTE ? "prevote"
                                       : "precommit";
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* ---- the signing record: what each honest node asked to persist ------- */

static size_t sig_slot(uint16_t node, uint64_t height, uint32_t round,
                       uint8_t step, size_t cap)
{
    uint64_t k = height * 0x9e3779b97f4a7c15ull ^
                 ((uint64_t)round << 20 | (uint64_t)node << 4 | step);

    k ^= k >> 29;
    k *= 0xbf58476d1ce4e5b9ull;
    k ^= k >> 32;
    return (size_t)(k & (cap - 1));
}

static struct sim_sigrec *sig_find(struct sim *s, uint16_t node,
                                   uint64_t height, uint32_t round,
                                   uint8_t step)
{
    size_t i;

    if (s->sigs_cap == 0) {
        return NULL;
    }
    for (i = sig_slot(node, height, round, step, s->sigs_cap);;
         i = (i + 1) & (s->sigs_cap - 1)) {
        struct sim_sigrec *r = &s->sigs[i];
        if (!r->used) {
            return NULL;
        }
        if (r->node == node && r->height == height && r->round == round &&
            r->step == step) {
            return r;
        }
    }
}

static void sig_insert(struct sim *s, const struct sim_sigrec *rec)
{
    size_t i;

    if ((s->sigs_n + 1) * 2 > s->sigs_cap) {
        struct sim_sigrec *old = s->sigs;
        size_t old_cap = s->sigs_cap;
        s->sigs_cap = old_cap == 0 ? 1024 : old_cap * 2;
        s->sigs = calloc(s->sigs_cap, sizeof(*s->sigs));
        if (s->sigs == NULL) {
            abort();
        }
        s->sigs_n = 0;
        for (size_t j = 0; j < old_cap; j++) {
            if (old[j].used) {
                sig_insert(s, &old[j]);
            }
        }
        free(old);
    }
    i = sig_slot(rec->node, rec->height, rec->round, rec->step, s->sigs_cap);
    while (s->sigs[i].used) {
        i = (i + 1) & (s->sigs_cap - 1);
    }
    s->sigs[i] = *rec;
    s->sigs[i].used = 1;
    s->sigs_n++;
}

/* Read (height, round, step) back from our own sign bytes. */
static int sign_bytes_hrs(const uint8_t *b, size_t len, uint64_t *height,
                          uint32_t *round, unsigned *step)
{
    if (len == 47 && b[0] == 'V' &&
        (b[1] == CONS_PREVOTE || b[1] == CONS_PRECOMMIT)) {
        *step = b[1] == CONS_PREVOTE ? CONS_STEP_PREVOTE : CONS_STEP_PRECOMMIT;
        *height = get64(b + 2);
        *round = get32(b + 10);
        return 1;
    }
    if (len == 49 && b[0] == 'P') {
        *step = CONS_STEP_PROPOSE;
        *height = get64(b + 1);
        *round = get32(b + 9);
        return 1;
    }
    return 0;
}

void check_persist(struct sim *s, struct sim_node *nd,
                   const struct cons_signed *sg)
{
    struct sim_sigrec rec = {0};
    const struct sim_sigrec *old;
    uint8_t sig[CONS_SIG_SIZE];
    uint64_t height;
    uint32_t round;
    unsigned step;

    if (sg->len > CONS_SIGN_BYTES_MAX ||
        !sign_bytes_hrs(sg->bytes, sg->len, &height, &round, &step) ||
        height != sg->height || round != sg->round ||
        step != (unsigned)sg->step) {
        sim_fail(s, "no-conflicting-signatures",
                 "node %u persisted a "
                 "record whose (height, round, step) is not that of its "
                 "sign bytes",
                 nd->index);
        return;
    }
    sim_mac(s, nd->index, sg->bytes, sg->len, sig);
    if (memcmp(sig, sg->sig, CONS_SIG_SIZE) != 0) {
        sim_fail(s, "no-conflicting-signatures",
                 "node %u persisted a "
                 "record whose signature is not its own over its bytes",
                 nd->index);
        return;
    }
    rec.node = (uint16_t)nd->index;
    rec.height = height;
    rec.round = round;
    rec.step = (uint8_t)step;
    tdei_sha256(rec.digest, sg->bytes, sg->len);
    old = sig_find(s, rec.node, height, round, rec.step);
    if (old == NULL) {
        sig_insert(s, &rec);
    } else if (memcmp(old->digest, rec.digest, 32) != 0) {
        sim_fail(s, "no-conflicting-signatures",
                 "honest node %u signed two "
                 "different %ss at height %llu round %u",
                 nd->index, step_name(step), (unsigned long long)height, round);
    }
}

/* A message an honest node sends must be one it persisted first. */
static void check_sent(struct sim *s, struct sim_node *nd, uint64_t height,
                       uint32_t round, unsigned step, const uint8_t *bytes,
                       size_t len, const uint8_t sig[CONS_SIG_SIZE])
{
    const struct sim_sigrec *rec =
        sig_find(s, (uint16_t)nd->index, height, round, (uint8_t)step);
    uint8_t digest[32], want[CONS_SIG_SIZE];

    tdei_sha256(digest, bytes, len);
    sim_mac(s, nd->index, bytes, len, want);
    if (rec == NULL || memcmp(rec->digest, digest, 32) != 0) {
        sim_fail(s, "no-conflicting-signatures",
                 "node %u sent a %s at "
                 "height %llu round %u that it had not persisted first",
                 nd->index, step_name(step), (unsigned long long)height, round);
    } else if (memcmp(want, sig, CONS_SIG_SIZE) != 0) {
        sim_fail(s, "no-conflicting-signatures",
                 "node %u sent a %s at "
                 "height %llu round %u with a bad signature",
                 nd->index, step_name(step), (unsigned long long)height, round);
    }
}

void check_sent_vote(struct sim *s, struct sim_node *nd,
                     const struct cons_vote *v)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    size_t len = sim_vote_bytes(NULL, v, bytes);

    if (memcmp(v->validator, s->all.keys[nd->index], CONS_KEY_SIZE) != 0) {
        sim_fail(s, "no-conflicting-signatures",
                 "node %u sent a vote "
                 "naming another validator",
                 nd->index);
        return;
    }
    check_sent(s, nd, v->height, v->round,
               v->type == CONS_PREVOTE ? CONS_STEP_PREVOTE
                                       : CONS_STEP_PRECOMMIT,
               bytes, len, v->sig);
}

void check_sent_proposal(struct sim *s, struct sim_node *nd,
                         const struct cons_proposal *p)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    size_t len = sim_proposal_bytes(NULL, p, bytes);

    if (memcmp(p->proposer, s->all.keys[nd->index], CONS_KEY_SIZE) != 0) {
        sim_fail(s, "no-conflicting-signatures",
                 "node %u sent a proposal "
                 "naming another proposer",
                 nd->index);
        return;
    }
    check_sent(s, nd, p->height, p->round, CONS_STEP_PROPOSE, bytes, len,
               p->sig);
}

/* ---- commits ----------------------------------------------------------- */

static void check_certificate(struct sim *s, struct sim_node *nd,
                              uint64_t height, uint32_t round,
                              const uint8_t id[CONS_ID_SIZE],
                              const struct cons_vote *votes, size_t n)
{
    uint8_t counted[SIM_NODES_MAX] = {0};
    char errmsg[TDEI_ERRMSG_SIZE];
    uint64_t mask = sim_vset_mask(s, nd, height);
    struct cons_vset vset;
    unsigned k = 0;
    int clean = 1, rc;

    for (size_t i = 0; i < n; i++) {
        const struct cons_vote *v = &votes[i];
        unsigned who;
        if (sim_vote_ok(s, v, &who) && !(mask & (1ull << who))) {
            /* A signed precommit of a node outside the height's set: the
             * engine counted someone the chain did not make a validator
             * (or the host gave it the wrong set). */
            sim_fail(s, "certificate",
                     "node %u committed height %llu with a precommit of "
                     "node %u, which is not a validator of that height",
                     nd->index, (unsigned long long)height, who);
            return;
        }
        if (!sim_vote_ok(s, v, &who) || !(mask & (1ull << who)) ||
            v->type != CONS_PRECOMMIT || v->height != height ||
            v->round != round || v->id.nil ||
            memcmp(v->id.bytes, id, CONS_ID_SIZE) != 0 || counted[who]) {
            clean = 0;
            continue;
        }
        counted[who] = 1;
        k++;
    }
    if (k < sim_quorum(mask)) {
        sim_fail(s, "certificate",
                 "node %u committed height %llu round %u "
                 "on %u valid precommits of its validators; more than 2/3 "
                 "of %u is %u",
                 nd->index, (unsigned long long)height, round, k,
                 sim_mask_count(mask), sim_quorum(mask));
        return;
    }
    if (s->cfg.valset && counted[s->joiner]) {
        s->res->joiner_signed++;
    }
    sim_vset_of(s, mask, &vset);
    rc = sim_engine_real.commit_verify(&nd->crypto, &vset, height, round, id,
                                       votes, n, errmsg);
    if ((rc == 0) != clean) {
        sim_fail(s, "certificate",
                 "cons_commit_verify says %s (%s) for the "
                 "commit of height %llu that the simulator counts as %s",
                 tdei_errname(rc), errmsg, (unsigned long long)height,
                 clean ? "good" : "holding a bad vote");
    }
}

void check_commit(struct sim *s, struct sim_node *nd, uint64_t height,
                  uint32_t round, const uint8_t id[CONS_ID_SIZE],
                  const struct cons_vote *votes, size_t n)
{
    const struct sim_block *b = sim_block_get(s, id);
    struct sim_decision *d;

    if (!s->cfg.skip_certificate) {
        check_certificate(s, nd, height, round, id, votes, n);
    }
    if (b == NULL || !b->proposed) {
        sim_fail(s, "validity",
                 "node %u committed at height %llu a block "
                 "nobody proposed",
                 nd->index, (unsigned long long)height);
    } else if (!b->valid || b->height != height) {
        sim_fail(s, "validity",
                 "node %u committed at height %llu an invalid "
                 "block (proposed by node %u for height %llu%s)",
                 nd->index, (unsigned long long)height, b->proposer,
                 (unsigned long long)b->height,
                 b->valid ? "" : ", built invalid");
    }
    if (height > s->decided_cap) {
        size_t old = s->decided_cap;
        s->decided =
            sim_grow(s->decided, &s->decided_cap, height, sizeof(*s->decided));
        memset(s->decided + old, 0,
               (s->decided_cap - old) * sizeof(*s->decided));
    }
    d = &s->decided[height - 1];
    if (d->set && memcmp(d->id, id, CONS_ID_SIZE) != 0) {
        sim_fail(s, "agreement",
                 "nodes %u and %u committed different "
                 "blocks at height %llu",
                 d->node, nd->index, (unsigned long long)height);
    } else if (!d->set) {
        d->set = 1;
        d->node = nd->index;
        memcpy(d->id, id, CONS_ID_SIZE);
        if (b != NULL && b->change > 0 && s->res->vset_added == 0) {
            s->res->vset_added = height;
        } else if (b != NULL && b->change < 0 && s->res->vset_removed == 0) {
            s->res->vset_removed = height;
        }
    }
}

int check_evidence_pair(struct sim *s, const struct cons_vote *a,
                        const struct cons_vote *b)
{
    unsigned wa, wb;

    return sim_vote_ok(s, a, &wa) && sim_vote_ok(s, b, &wb) && wa == wb &&
           a->type == b->type && a->height == b->height &&
           a->round == b->round && !sim_id_equal(&a->id, &b->id);
}

/* ---- progress and the evidence deadline after GST ---------------------- */

/* A gossip retry: a node re-sends after a whole period unmoved, so within
 * two periods of its slowest clock. */
static uint64_t gossip_bound_us(const struct sim *s)
{
    return 2u * (SIM_GOSSIP_US * 12u / 10u) * s->rate_max / 1000u;
}

/* One round after GST, at most: its three timeouts on the slowest honest
 * clock, four message delays (proposal, prevotes, precommits, and the
 * skip that brings a late node in), a gossip retry for what was lost
 * before GST, and building plus checking the block. */
static uint64_t round_bound_us(const struct sim *s, uint64_t round)
{
    const struct cons_timeouts *t = &s->timeouts;
    uint64_t ms = t->propose_ms + round * t->propose_delta_ms + t->prevote_ms +
                  round * t->prevote_delta_ms + t->precommit_ms +
                  round * t->precommit_delta_ms;

    return ms * SIM_MS * s->rate_max / 1000u + 4u * SIM_DELTA_US +
           gossip_bound_us(s) + 2u * SIM_WORK_US;
}

/* Rounds 0..@last of one height. */
static uint64_t height_bound_us(const struct sim *s, uint64_t last)
{
    uint64_t sum = 0;

    for (uint64_t r = 0; r <= last; r++) {
        sum += round_bound_us(s, r);
    }
    return sum;
}

/* At GST: the goal (every honest node SIM_TARGET_HEIGHTS past the best
 * honest height) and its deadline. Derivation: laggards fetch missing
 * commits SIM_CATCHUP_HEIGHTS per gossip retry; the first new height may
 * start at the highest round any honest node reached, and within f+1
 * further rounds one has an honest proposer (round-robin over n with at
 * most f faulty), so rounds 0..r_max+f+2 bound it; every later height
 * starts at round 0 and needs rounds 0..f+2. */
void check_heal(struct sim *s)
{
    uint64_t hi = 0, lo = UINT64_MAX, gap, catchup;
    uint32_t r_max = 0;

    for (unsigned i = 0; i < s->n; i++) {
        const struct sim_node *nd = &s->nodes[i];
        if (nd->byz != 0) {
            continue;
        }
        hi = nd->committed > hi ? nd->committed : hi;
        lo = nd->committed < lo ? nd->committed : lo;
        if (nd->up) {
            uint32_t r = s->ops->round(nd->engine);
            r_max = r > r_max ? r : r_max;
        }
    }
    gap = hi - lo;
    catchup = ((gap + SIM_CATCHUP_HEIGHTS - 1) / SIM_CATCHUP_HEIGHTS +
               SIM_TARGET_HEIGHTS + 1) *
              (gossip_bound_us(s) + 2u * SIM_DELTA_US);
    s->target_height = hi + SIM_TARGET_HEIGHTS;
    s->progress_deadline = s->now + catchup +
                           height_bound_us(s, (uint64_t)r_max + s->f + 2) +
                           SIM_TARGET_HEIGHTS * height_bound_us(s, s->f + 2);
    /* Evidence spreads by gossip, then waits for a height whose round-0
     * proposer is honest: one of any f+1 heights in a row. */
    s->evidence_bound_us = s->progress_deadline - s->now +
                           (s->f + 2) * height_bound_us(s, s->f + 2) +
                           gossip_bound_us(s) + 2u * SIM_DELTA_US;
    sim_trace(s, "GST: goal height %llu by %.3f ms (r_max %u, gap %llu)",
              (unsigned long long)s->target_height,
              (double)s->progress_deadline / 1000.0, r_max,
              (unsigned long long)gap);
}

/* --valset: the removal is not in force by the goal height yet (it counts
 * from two heights after its block). */
static int valset_pending(const struct sim *s)
{
    return s->cfg.valset && (s->res->vset_removed == 0 ||
                             s->target_height < s->res->vset_removed + 2);
}

static int evidence_pending(const struct sim *s, uint64_t before_us)
{
    for (size_t i = 0; i < s->evidence_n; i++) {
        const struct sim_evidence *ev = &s->evidence[i];
        if (ev->observed && ev->observed_us <= before_us &&
            ev->ledger_height == 0) {
            return 1;
        }
    }
    return 0;
}

/* A stall with a known cause in the engine (engine.c, as of its first
 * version): an engine keeps the first of an equivocator's two prevotes and
 * drops the second, so an honest validator that got the Byzantine prevote
 * for X at round R first... never sees the polka for (X, R) that another
 * honest validator locked on; once a proposal re-proposes X with
 * pol_round R, the locked validator and the others wait for each other
 * forever. The run still fails, under its own name, so a test can tell it
 * from every other stall. */
static const char *stall_kind(const struct sim *s, uint64_t height)
{
    for (unsigned i = 0; i < s->n; i++) {
        const struct sim_node *nd = &s->nodes[i];
        if (nd->byz == 0 && nd->pol_hidden_height == height) {
            return "progress-pol-hidden";
        }
    }
    return "progress";
}

static void check_late(struct sim *s, int reached)
{
    if (!reached && s->now > s->progress_deadline) {
        for (unsigned i = 0; i < s->n; i++) {
            const struct sim_node *nd = &s->nodes[i];
            if (nd->byz == 0 && nd->committed < s->target_height) {
                sim_fail(s, stall_kind(s, nd->committed + 1),
                         "node %u has committed height %llu, not %llu, "
                         "%.3f ms after GST (deadline %.3f ms after GST)",
                         i, (unsigned long long)nd->committed,
                         (unsigned long long)s->target_height,
                         (double)(s->now - s->heal_us) / 1000.0,
                         (double)(s->progress_deadline - s->heal_us) / 1000.0);
                return;
            }
        }
    }
    for (size_t i = 0; i < s->evidence_n; i++) {
        const struct sim_evidence *ev = &s->evidence[i];
        uint64_t from =
            ev->observed_us > s->heal_us ? ev->observed_us : s->heal_us;
        if (ev->observed && ev->ledger_height == 0 &&
            s->now > from + s->evidence_bound_us) {
            sim_fail(s, "evidence",
                     "the equivocation of validator %u at "
                     "height %llu round %u, seen at %.3f ms, is not in the "
                     "ledger %.3f ms after GST",
                     ev->validator, (unsigned long long)ev->a.height,
                     ev->a.round, (double)ev->observed_us / 1000.0,
                     (double)(s->now - s->heal_us) / 1000.0);
            return;
        }
    }
}

/* After every step past GST: done when every honest node reached the goal
 * and every equivocation seen before GST is in the ledger; failed when a
 * deadline passed. */
void check_deadlines(struct sim *s)
{
    int reached = 1;

    for (unsigned i = 0; i < s->n && reached; i++) {
        const struct sim_node *nd = &s->nodes[i];
        if (nd->byz == 0 && nd->committed < s->target_height) {
            reached = 0;
        }
    }
    if (reached && !evidence_pending(s, s->heal_us) && !valset_pending(s)) {
        s->done = 1;
        return;
    }
    if (reached) {
        /* Still waiting for evidence or for the removal: progress goes
         * on being checked, one more height per height bound. */
        s->target_height++;
        s->progress_deadline = s->now + height_bound_us(s, s->f + 2) +
                               gossip_bound_us(s) + 2u * SIM_DELTA_US;
        return;
    }
    if (s->now >= s->next_deadline_check) {
        s->next_deadline_check = s->now + 100u * SIM_MS;
        check_late(s, reached);
    }
}

void check_free(struct sim *s)
{
    free(s->sigs);
    free(s->decided);
}
