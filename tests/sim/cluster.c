/* The cluster: n engines, their hosts (store, WAL, gossip, catch-up), the
 * network and the faults, driven by one event queue and one PRNG. */
#include "sim_internal.h"

#include "core/error.h"
#include "core/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void node_drain(struct sim *s, struct sim_node *nd);

/* ---- the event queue: a binary heap on (time, seq) --------------------- */

static int ev_before(const struct sim_event *a, const struct sim_event *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void ev_push(struct sim *s, struct sim_event *ev)
{
    size_t i;

    ev->seq = s->seq++;
    s->heap = sim_grow(s->heap, &s->heap_cap, s->heap_n + 1, sizeof(*ev));
    i = s->heap_n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!ev_before(ev, &s->heap[up])) {
            break;
        }
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = *ev;
}

static int ev_pop(struct sim *s, struct sim_event *out)
{
    struct sim_event last;
    size_t i = 0;

    if (s->heap_n == 0) {
        return 0;
    }
    *out = s->heap[0];
    last = s->heap[--s->heap_n];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n) {
            break;
        }
        if (c + 1 < s->heap_n && ev_before(&s->heap[c + 1], &s->heap[c])) {
            c++;
        }
        if (!ev_before(&s->heap[c], &last)) {
            break;
        }
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n > 0) {
        s->heap[i] = last;
    }
    return 1;
}

/* @us of @nd's local clock in simulated time. */
static uint64_t local_us(const struct sim_node *nd, uint64_t us)
{
    return us * nd->rate_permille / 1000u;
}

/* Schedule @ev for @nd after @delay_us of simulated time. */
static void node_at(struct sim *s, struct sim_node *nd, uint64_t delay_us,
                    struct sim_event *ev)
{
    ev->node = nd->index;
    ev->incarnation = nd->incarnation;
    ev->time = s->now + delay_us;
    ev_push(s, ev);
}

/* ---- the network ------------------------------------------------------- */

static struct sim_msg *msg_new(enum sim_msg_kind kind, unsigned from)
{
    struct sim_msg *m = calloc(1, sizeof(*m));

    if (m == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    m->kind = kind;
    m->from = from;
    return m;
}

static void msg_release(struct sim_msg *m)
{
    if (m->refs == 0) {
        free(m);
    }
}

static uint64_t net_delay(struct sim *s, unsigned from, unsigned to)
{
    uint64_t d = s->base_us[from][to] + sim_rng_below(&s->rng, 30 * SIM_MS);

    if (!s->healed && sim_rng_permille(&s->rng, 50)) {
        d += sim_rng_between(&s->rng, 100 * SIM_MS, 2000 * SIM_MS);
    }
    return d;
}

static int net_cut(const struct sim *s, unsigned from, unsigned to)
{
    if (s->healed) {
        return 0;
    }
    return (s->partitioned && s->group[from] != s->group[to]) ||
           s->isolated_until[from] > s->now || s->isolated_until[to] > s->now;
}

static void net_deliver_after(struct sim *s, struct sim_msg *m, unsigned to,
                              uint64_t delay)
{
    struct sim_event ev = {0};

    ev.kind = EV_DELIVER;
    ev.node = to;
    ev.msg = m;
    ev.time = s->now + delay;
    m->refs++;
    ev_push(s, &ev);
}

/* Send @m to @to through the faults: partitions and loss (before GST),
 * duplication, and a random delay that reorders. */
static void net_send(struct sim *s, struct sim_msg *m, unsigned to)
{
    if (to == m->from || net_cut(s, m->from, to)) {
        return;
    }
    if (!s->healed && s->loss_permille > 0 &&
        sim_rng_permille(&s->rng, s->loss_permille)) {
        return;
    }
    net_deliver_after(s, m, to, net_delay(s, m->from, to));
    if (s->dup_permille > 0 && sim_rng_permille(&s->rng, s->dup_permille)) {
        net_deliver_after(s, m, to, net_delay(s, m->from, to));
    }
}

static void net_broadcast(struct sim *s, struct sim_msg *m)
{
    for (unsigned to = 0; to < s->n; to++) {
        net_send(s, m, to);
    }
    msg_release(m);
}

static void send_vote(struct sim *s, unsigned from, const struct cons_vote *v,
                      int to) /* -1: everyone */
{
    struct sim_msg *m = msg_new(MSG_VOTE, from);

    m->vote = *v;
    if (to < 0) {
        net_broadcast(s, m);
    } else {
        net_send(s, m, (unsigned)to);
        msg_release(m);
    }
}

static void send_proposal(struct sim *s, unsigned from,
                          const struct cons_proposal *p, int to)
{
    struct sim_msg *m = msg_new(MSG_PROPOSAL, from);

    m->proposal = *p;
    if (to < 0) {
        net_broadcast(s, m);
    } else {
        net_send(s, m, (unsigned)to);
        msg_release(m);
    }
}

/* ---- a node's durable store -------------------------------------------- */

static void wal_append(struct sim_node *nd, const struct sim_wal *w)
{
    nd->wal = sim_grow(nd->wal, &nd->wal_cap, nd->wal_n + 1, sizeof(*w));
    nd->wal[nd->wal_n++] = *w;
}

static void own_add_vote(struct sim_node *nd, const struct cons_vote *v)
{
    for (size_t i = 0; i < nd->own_n; i++) {
        if (!nd->own[i].is_proposal && nd->own[i].vote.type == v->type &&
            nd->own[i].round == v->round &&
            sim_id_equal(&nd->own[i].vote.id, &v->id)) {
            return;
        }
    }
    nd->own = sim_grow(nd->own, &nd->own_cap, nd->own_n + 1, sizeof(*nd->own));
    memset(&nd->own[nd->own_n], 0, sizeof(nd->own[0]));
    nd->own[nd->own_n].vote = *v;
    nd->own[nd->own_n].round = v->round;
    nd->own_n++;
}

static void own_add_proposal(struct sim_node *nd, const struct cons_proposal *p)
{
    for (size_t i = 0; i < nd->own_n; i++) {
        if (nd->own[i].is_proposal && nd->own[i].round == p->round &&
            memcmp(nd->own[i].proposal.id, p->id, CONS_ID_SIZE) == 0) {
            return;
        }
    }
    nd->own = sim_grow(nd->own, &nd->own_cap, nd->own_n + 1, sizeof(*nd->own));
    memset(&nd->own[nd->own_n], 0, sizeof(nd->own[0]));
    nd->own[nd->own_n].is_proposal = 1;
    nd->own[nd->own_n].proposal = *p;
    nd->own[nd->own_n].round = p->round;
    nd->own_n++;
}

/* The seen-table slot of (@round, validator @who, @type) at the current
 * height, grown on demand. */
static struct sim_seen *seen_slot(struct sim *s, struct sim_node *nd,
                                  uint32_t round, unsigned who,
                                  enum cons_vote_type type)
{
    size_t per_round = (size_t)s->n * 2u;

    if (round >= nd->seen_rounds) {
        uint32_t r = nd->seen_rounds == 0 ? 8 : nd->seen_rounds;
        struct sim_seen *p;
        while (r <= round) {
            r *= 2;
        }
        p = realloc(nd->seen, (size_t)r * per_round * sizeof(*p));
        if (p == NULL) {
            fprintf(stderr, "sim: out of memory\n");
            abort();
        }
        memset(p + (size_t)nd->seen_rounds * per_round, 0,
               (size_t)(r - nd->seen_rounds) * per_round * sizeof(*p));
        nd->seen = p;
        nd->seen_rounds = r;
    }
    return &nd->seen[(size_t)round * per_round + (size_t)who * 2u +
                     (type == CONS_PREVOTE ? 0u : 1u)];
}

static void seen_clear(struct sim *s, struct sim_node *nd)
{
    if (nd->seen != NULL) {
        memset(nd->seen, 0,
               (size_t)nd->seen_rounds * s->n * 2u * sizeof(*nd->seen));
    }
}

/* ---- blocks and evidence ----------------------------------------------- */

static void block_id(uint8_t out[CONS_ID_SIZE], const char *tag, unsigned who,
                     uint64_t height, uint32_t round)
{
    uint8_t in[16];

    for (int i = 0; i < 4; i++) {
        in[i] = (uint8_t)(who >> (8 * i));
        in[4 + i] = (uint8_t)(round >> (8 * i));
    }
    for (int i = 0; i < 8; i++) {
        in[8 + i] = (uint8_t)(height >> (8 * i));
    }
    tdei_tagged_hash(out, tag, in, sizeof(in));
}

/* --valset: what a block @nd builds at @height carries: the add of the
 * joiner from add_from on until @nd's chain holds one, then three heights
 * after it the removal of the leaver until its chain holds that. */
static int8_t block_change(struct sim *s, const struct sim_node *nd,
                           uint64_t height)
{
    uint64_t added = 0;
    int removed = 0;

    if (!s->cfg.valset) {
        return 0;
    }
    for (uint64_t h = 1; h < height && h <= nd->committed; h++) {
        const struct sim_block *b = sim_block_get(s, nd->chain[h - 1].id);
        if (b != NULL && b->change > 0 && added == 0) {
            added = h;
        } else if (b != NULL && b->change < 0) {
            removed = 1;
        }
    }
    if (added == 0) {
        return height >= s->add_from ? 1 : 0;
    }
    return !removed && height >= added + 3 ? -1 : 0;
}

/* @nd builds its block for (@height, @round): the same id every time it is
 * asked (a restarted node builds the same block), valid, carrying the
 * evidence its pool holds that its chain does not, and with --valset the
 * change of the validator set its chain calls for (block_change). */
static void build_block(struct sim *s, struct sim_node *nd, uint64_t height,
                        uint32_t round, int invalid, uint8_t id[CONS_ID_SIZE])
{
    struct sim_block *b;

    block_id(id, invalid ? "sim/invalid" : "sim/block", nd->index, height,
             round);
    b = sim_block_get(s, id);
    if (b != NULL) {
        return;
    }
    {
        int8_t change = block_change(s, nd, height);
        b = sim_block_add(s, id);
        b->change = change;
    }
    b->height = height;
    b->proposer = nd->index;
    b->valid = invalid ? 0 : 1;
    for (size_t i = 0; s->cfg.broken != SIM_BROKEN_EVIDENCE && i < nd->pool_n &&
                       b->ev_n < SIM_EV_PER_BLOCK;
         i++) {
        const struct sim_evidence *ev = &s->evidence[nd->pool[i]];
        if (ev->ledger_height == 0 || ev->ledger_height > nd->committed) {
            b->ev[b->ev_n++] = nd->pool[i];
        }
    }
}

static size_t evidence_find(const struct sim *s, const struct cons_vote *a)
{
    for (size_t i = 0; i < s->evidence_n; i++) {
        const struct cons_vote *e = &s->evidence[i].a;
        if (e->height == a->height && e->round == a->round &&
            e->type == a->type &&
            memcmp(e->validator, a->validator, CONS_KEY_SIZE) == 0) {
            return i;
        }
    }
    return s->evidence_n;
}

/* The evidence entry of the equivocation (@a, @b), added if new. */
static size_t evidence_add(struct sim *s, const struct cons_vote *a,
                           const struct cons_vote *b, unsigned who)
{
    size_t i = evidence_find(s, a);

    if (i == s->evidence_n) {
        s->evidence = sim_grow(s->evidence, &s->evidence_cap, s->evidence_n + 1,
                               sizeof(*s->evidence));
        memset(&s->evidence[i], 0, sizeof(s->evidence[i]));
        s->evidence[i].a = *a;
        s->evidence[i].b = *b;
        s->evidence[i].validator = who;
        s->evidence_n++;
    }
    return i;
}

static void pool_add(struct sim_node *nd, uint32_t index)
{
    for (size_t i = 0; i < nd->pool_n; i++) {
        if (nd->pool[i] == index) {
            return;
        }
    }
    nd->pool =
        sim_grow(nd->pool, &nd->pool_cap, nd->pool_n + 1, sizeof(*nd->pool));
    nd->pool[nd->pool_n++] = index;
}

static void pool_remove(struct sim_node *nd, uint32_t index)
{
    for (size_t i = 0; i < nd->pool_n; i++) {
        if (nd->pool[i] == index) {
            nd->pool[i] = nd->pool[--nd->pool_n];
            return;
        }
    }
}

static void broadcast_evidence(struct sim *s, struct sim_node *nd,
                               const struct sim_evidence *ev)
{
    struct sim_msg *m = msg_new(MSG_EVIDENCE, nd->index);

    m->vote = ev->a;
    m->vote_b = ev->b;
    net_broadcast(s, m);
}

/* A proposal that re-proposes a value names the round of its polka
 * (pol_round); its proposer holds those prevotes and sends them along, as
 * Tendermint's gossip does, so that validators which missed one (lost, or
 * from a faulty validator that no longer sends it) can accept the value
 * [28-33]. */
static void send_pol(struct sim *s, struct sim_node *nd,
                     const struct cons_proposal *p)
{
    uint8_t sent[SIM_NODES_MAX] = {0};

    if (p->pol_round < 0) {
        return;
    }
    for (size_t i = 0; i < nd->wal_n; i++) {
        const struct cons_vote *v = &nd->wal[i].vote;
        unsigned who;
        if (nd->wal[i].kind != WAL_VOTE || v->type != CONS_PREVOTE ||
            v->round != (uint32_t)p->pol_round || v->id.nil ||
            memcmp(v->id.bytes, p->id, CONS_ID_SIZE) != 0 ||
            !sim_vote_ok(s, v, &who) || sent[who]) {
            continue;
        }
        sent[who] = 1;
        send_vote(s, nd->index, v, -1);
    }
}

/* ---- feeding the engine ------------------------------------------------ */

/* Give @w to @nd's engine and carry out what it asks. Returns the engine's
 * code for a proposal or vote, else 0. */
static int node_feed(struct sim *s, struct sim_node *nd,
                     const struct sim_wal *w)
{
    const struct sim_engine_ops *ops = s->ops;
    int rc = 0;

    switch (w->kind) {
    case WAL_PROPOSAL:
        rc = ops->on_proposal(nd->engine, &w->proposal);
        break;
    case WAL_VOTE:
        rc = ops->on_vote(nd->engine, &w->vote);
        break;
    case WAL_TIMEOUT:
        ops->on_timeout(nd->engine, w->timeout, w->height, w->round);
        break;
    case WAL_VALUE:
        ops->on_value(nd->engine, w->height, w->round, w->id);
        break;
    case WAL_VALIDITY:
        ops->on_validity(nd->engine, w->height, w->id, w->valid);
        break;
    case WAL_DECIDED: {
        const struct sim_commit *c = &s->nodes[w->from].chain[w->height - 1];
        nd->decided_hint = c;
        rc = ops->on_decided(nd->engine, w->height, c->round, c->id, c->votes,
                             c->n);
        break;
    }
    }
    node_drain(s, nd);
    nd->decided_hint = NULL;
    return rc;
}

/* Write-ahead: an input of the current height is durable before the engine
 * sees it (CONSENSUS.md §1: "write received messages to a WAL and replay
 * it on restart"). Byzantine nodes never restart and keep none. */
static int node_input(struct sim *s, struct sim_node *nd,
                      const struct sim_wal *w)
{
    if (nd->byz == 0 && w->height == s->ops->height(nd->engine)) {
        wal_append(nd, w);
    }
    return node_feed(s, nd, w);
}

/* During a replay: 1 when the WAL after the current entry holds the answer
 * to a GET_VALUE (@kind WAL_VALUE) or VALIDATE (WAL_VALIDITY) request. */
static int wal_answered(const struct sim_node *nd, enum sim_wal_kind kind,
                        const struct cons_action *a)
{
    for (size_t i = nd->replay_next; i < nd->wal_n; i++) {
        const struct sim_wal *w = &nd->wal[i];
        if (w->kind != kind || w->height != a->height) {
            continue;
        }
        if (kind == WAL_VALUE ? w->round == a->round
                              : memcmp(w->id, a->id, CONS_ID_SIZE) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- carrying out actions ---------------------------------------------- */

/* Start @nd's engine on the height after its chain, with the validator
 * set its chain decided for it. */
static void node_start_height(struct sim *s, struct sim_node *nd)
{
    struct cons_vset vset;
    uint64_t height = nd->committed + 1;
    /* --broken valset: a change of block H already at H+1. */
    uint64_t from = s->cfg.broken == SIM_BROKEN_VALSET ? height + 1 : height;

    sim_vset_of(s, sim_vset_mask(s, nd, from), &vset);
    s->ops->start_height(nd->engine, height, &vset);
}

static void node_commit(struct sim *s, struct sim_node *nd,
                        const struct cons_action *a)
{
    struct cons_vote votes[SIM_NODES_MAX];
    struct sim_commit *c;
    size_t k;

    if (a->height != nd->committed + 1) {
        sim_fail(s, "decide",
                 "node %u decided height %llu after committing "
                 "height %llu",
                 nd->index, (unsigned long long)a->height,
                 (unsigned long long)nd->committed);
        return;
    }
    k = s->ops->commit_votes(nd->engine, a->height, a->round, a->id, votes,
                             s->n);
    if (k < sim_quorum(sim_vset_mask(s, nd, a->height)) &&
        nd->decided_hint != NULL &&
        nd->decided_hint->n <= s->n) {
        k = nd->decided_hint->n;
        memcpy(votes, nd->decided_hint->votes, k * sizeof(votes[0]));
    }
    if (nd->byz == 0) {
        int first =
            a->height > s->decided_cap || !s->decided[a->height - 1].set;
        check_commit(s, nd, a->height, a->round, a->id, votes, k);
        /* The isolate fault: an adversarial network that cuts off the
         * first node to commit a height, so that the others must decide
         * without hearing of its commit (what locks are for). */
        if (first && (s->cfg.faults & SIM_F_ISOLATE) && !s->healed &&
            sim_rng_permille(&s->rng, 500)) {
            s->isolated_until[nd->index] =
                s->now + sim_rng_between(&s->rng, 200 * SIM_MS, 3000 * SIM_MS);
            sim_trace(s, "node %u is isolated", nd->index);
        }
    }
    nd->chain =
        sim_grow(nd->chain, &nd->chain_cap, a->height, sizeof(*nd->chain));
    c = &nd->chain[a->height - 1];
    memcpy(c->id, a->id, CONS_ID_SIZE);
    c->round = a->round;
    c->n = k;
    c->votes = malloc((k == 0 ? 1 : k) * sizeof(votes[0]));
    if (c->votes == NULL) {
        abort();
    }
    memcpy(c->votes, votes, k * sizeof(votes[0]));
    nd->committed = a->height;
    if (nd->byz == 0) {
        const struct sim_block *b = sim_block_get(s, a->id);
        for (uint32_t i = 0; b != NULL && i < b->ev_n; i++) {
            struct sim_evidence *ev = &s->evidence[b->ev[i]];
            if (ev->ledger_height == 0) {
                ev->ledger_height = a->height;
            }
            pool_remove(nd, b->ev[i]);
        }
        if (a->height > s->res->heights) {
            s->res->heights = a->height;
        }
    }
    sim_trace(s, "node %u commits height %llu round %u (%zu precommits)",
              nd->index, (unsigned long long)a->height, a->round, k);
    nd->wal_n = 0;
    nd->replaying = 0; /* a replay that decides ends here */
    nd->own_n = 0;
    nd->hidden_n = 0;
    seen_clear(s, nd);
    node_start_height(s, nd);
}

/* An honest engine reports an equivocation: check it, pool it, spread it. */
static void node_evidence(struct sim *s, struct sim_node *nd,
                          const struct cons_action *a)
{
    struct sim_evidence *ev;
    unsigned who;
    size_t i;

    if (!check_evidence_pair(s, &a->vote, &a->vote_b)) {
        sim_fail(s, "evidence",
                 "node %u reported evidence that is not two "
                 "validly signed conflicting votes of one validator at "
                 "(%llu, %u)",
                 nd->index, (unsigned long long)a->vote.height, a->vote.round);
        return;
    }
    (void)sim_vote_ok(s, &a->vote, &who);
    if (s->nodes[who].byz == 0 && s->nodes[who].amnesiac == 0) {
        sim_fail(s, "no-conflicting-signatures",
                 "node %u holds evidence "
                 "that honest validator %u signed conflicting votes at "
                 "height %llu round %u",
                 nd->index, who, (unsigned long long)a->vote.height,
                 a->vote.round);
        return;
    }
    i = evidence_add(s, &a->vote, &a->vote_b, who);
    ev = &s->evidence[i];
    if (!ev->observed) {
        ev->observed = 1;
        ev->observed_us = s->now;
        s->res->evidence++;
    }
    if (a->vote.height == s->ops->height(nd->engine)) {
        seen_slot(s, nd, a->vote.round, who, a->vote.type)->state |=
            SEEN_EVIDENCE;
    }
    if (ev->ledger_height == 0 || ev->ledger_height > nd->committed) {
        pool_add(nd, (uint32_t)i);
    }
    broadcast_evidence(s, nd, ev);
}

static void schedule_request(struct sim *s, struct sim_node *nd,
                             enum sim_event_kind kind,
                             const struct cons_action *a)
{
    struct sim_event ev = {0};

    ev.kind = kind;
    ev.height = a->height;
    ev.round = a->round;
    memcpy(ev.id, a->id, CONS_ID_SIZE);
    node_at(s, nd, local_us(nd, SIM_WORK_US), &ev);
}

static void honest_act(struct sim *s, struct sim_node *nd,
                       const struct cons_action *a)
{
    struct sim_event ev = {0};
    struct sim_wal w = {0};

    switch (a->kind) {
    case CONS_ACT_PERSIST:
        check_persist(s, nd, &a->signed_msg);
        if (s->cfg.broken != SIM_BROKEN_GUARD) {
            nd->last_signed = a->signed_msg;
            nd->has_signed = 1;
        }
        break;
    case CONS_ACT_BROADCAST_PROPOSAL:
        check_sent_proposal(s, nd, &a->proposal);
        sim_block_add(s, a->proposal.id)->proposed = 1;
        own_add_proposal(nd, &a->proposal);
        if (!nd->replaying) {
            w.kind = WAL_PROPOSAL;
            w.proposal = a->proposal;
            w.height = a->proposal.height;
            wal_append(nd, &w);
        }
        send_proposal(s, nd->index, &a->proposal, -1);
        send_pol(s, nd, &a->proposal);
        break;
    case CONS_ACT_BROADCAST_VOTE:
        check_sent_vote(s, nd, &a->vote);
        own_add_vote(nd, &a->vote);
        if (!nd->replaying) {
            w.kind = WAL_VOTE;
            w.vote = a->vote;
            w.height = a->vote.height;
            wal_append(nd, &w);
        }
        send_vote(s, nd->index, &a->vote, -1);
        break;
    case CONS_ACT_SCHEDULE_TIMEOUT:
        ev.kind = EV_TIMEOUT;
        ev.timeout = a->timeout;
        ev.height = a->height;
        ev.round = a->round;
        node_at(s, nd, local_us(nd, a->ms * SIM_MS), &ev);
        break;
    case CONS_ACT_GET_VALUE:
        if (!nd->replaying || !wal_answered(nd, WAL_VALUE, a)) {
            schedule_request(s, nd, EV_VALUE, a);
        }
        break;
    case CONS_ACT_VALIDATE:
        if (!nd->replaying || !wal_answered(nd, WAL_VALIDITY, a)) {
            schedule_request(s, nd, EV_VALIDITY, a);
        }
        break;
    case CONS_ACT_DECIDE:
        node_commit(s, nd, a);
        break;
    case CONS_ACT_EVIDENCE:
        node_evidence(s, nd, a);
        break;
    default:
        sim_fail(s, "actions", "node %u's engine emitted action kind %d",
                 nd->index, (int)a->kind);
    }
}

/* ---- Byzantine behaviour ----------------------------------------------- */

/* Split the peers of @nd in two at random: bit i of the mask set means
 * peer i gets the first message. */
static uint64_t byz_split(struct sim *s) { return sim_rng_next(&s->rng); }

static void byz_sign_vote(struct sim *s, unsigned who, struct cons_vote *v)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    size_t len = sim_vote_bytes(NULL, v, bytes);

    sim_mac(s, who, bytes, len, v->sig);
}

static void byz_sign_proposal(struct sim *s, unsigned who,
                              struct cons_proposal *p)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    size_t len = sim_proposal_bytes(NULL, p, bytes);

    sim_mac(s, who, bytes, len, p->sig);
}

static void random_id(struct sim *s, uint8_t id[CONS_ID_SIZE])
{
    for (unsigned i = 0; i < CONS_ID_SIZE; i += 8) {
        uint64_t r = sim_rng_next(&s->rng);
        memcpy(id + i, &r, 8);
    }
}

static void byz_proposal(struct sim *s, struct sim_node *nd,
                         const struct cons_proposal *orig)
{
    struct cons_proposal p = *orig, q;
    uint64_t mask;

    if ((nd->byz & SIM_F_INVALID) && sim_rng_permille(&s->rng, 500)) {
        build_block(s, nd, p.height, p.round, 1, p.id);
        byz_sign_proposal(s, nd->index, &p);
    } else if ((nd->byz & SIM_F_EQUIVOCATE) && p.pol_round >= 0 &&
               sim_rng_permille(&s->rng, 300)) {
        /* Ignore the polka it should re-propose: a fresh block, which
         * only a validator's lock keeps from being prevoted. */
        build_block(s, nd, p.height, p.round, 0, p.id);
        p.pol_round = -1;
        byz_sign_proposal(s, nd->index, &p);
    }
    sim_block_add(s, p.id)->proposed = 1;
    own_add_proposal(nd, &p);
    if (!(nd->byz & SIM_F_EQUIVOCATE) || !sim_rng_permille(&s->rng, 700)) {
        send_proposal(s, nd->index, &p, -1);
        return;
    }
    /* A second, valid and fresh block at the same (height, round), to
     * the other half of the peers. */
    q = p;
    q.pol_round = -1;
    block_id(q.id, "sim/alt", nd->index, p.height, p.round);
    if (sim_block_get(s, q.id) == NULL) {
        struct sim_block *b = sim_block_add(s, q.id);
        b->height = p.height;
        b->proposer = nd->index;
        b->valid = 1;
    }
    sim_block_add(s, q.id)->proposed = 1;
    byz_sign_proposal(s, nd->index, &q);
    mask = byz_split(s);
    for (unsigned to = 0; to < s->n; to++) {
        send_proposal(s, nd->index, (mask >> (to % 64)) & 1 ? &p : &q, (int)to);
    }
}

static void byz_vote(struct sim *s, struct sim_node *nd,
                     const struct cons_vote *orig)
{
    struct cons_vote v = *orig, u;
    uint64_t mask;

    if ((nd->byz & SIM_F_UNKNOWN) && sim_rng_permille(&s->rng, 300)) {
        v.id.nil = 0;
        random_id(s, v.id.bytes);
        byz_sign_vote(s, nd->index, &v);
    }
    own_add_vote(nd, &v);
    if (!(nd->byz & SIM_F_EQUIVOCATE) || !sim_rng_permille(&s->rng, 500)) {
        send_vote(s, nd->index, &v, -1);
        return;
    }
    /* The other vote: nil for a block, the alternative block for nil. */
    u = v;
    if (v.id.nil) {
        u.id.nil = 0;
        block_id(u.id.bytes, "sim/alt", (unsigned)sim_rng_below(&s->rng, s->n),
                 v.height, v.round);
    } else {
        memset(&u.id, 0, sizeof(u.id));
        u.id.nil = 1;
    }
    byz_sign_vote(s, nd->index, &u);
    mask = byz_split(s);
    if (v.type == CONS_PRECOMMIT && !v.id.nil &&
        sim_rng_permille(&s->rng, 500)) {
        /* Its precommit for the block to one peer only: that peer may
         * commit while the others move on to the next round. */
        mask = 1ull << sim_rng_below(&s->rng, s->n);
    }
    for (unsigned to = 0; to < s->n; to++) {
        send_vote(s, nd->index, (mask >> (to % 64)) & 1 ? &v : &u, (int)to);
    }
}

static void byz_act(struct sim *s, struct sim_node *nd,
                    const struct cons_action *a)
{
    struct sim_event ev = {0};

    switch (a->kind) {
    case CONS_ACT_BROADCAST_PROPOSAL:
        if (!(nd->byz & SIM_F_SILENT)) {
            byz_proposal(s, nd, &a->proposal);
        }
        break;
    case CONS_ACT_BROADCAST_VOTE:
        if (!(nd->byz & SIM_F_SILENT)) {
            byz_vote(s, nd, &a->vote);
        }
        break;
    case CONS_ACT_SCHEDULE_TIMEOUT:
        ev.kind = EV_TIMEOUT;
        ev.timeout = a->timeout;
        ev.height = a->height;
        ev.round = a->round;
        node_at(s, nd, local_us(nd, a->ms * SIM_MS), &ev);
        break;
    case CONS_ACT_GET_VALUE:
        schedule_request(s, nd, EV_VALUE, a);
        break;
    case CONS_ACT_VALIDATE:
        schedule_request(s, nd, EV_VALIDITY, a);
        break;
    case CONS_ACT_DECIDE:
        node_commit(s, nd, a);
        break;
    default: /* PERSIST, EVIDENCE: a Byzantine node keeps neither */
        break;
    }
}

/* Votes for ids nobody proposed, at this round or a few ahead, to a random
 * half of the peers. */
static void byz_noise(struct sim *s, struct sim_node *nd)
{
    struct cons_vote v = {0};
    uint64_t mask = byz_split(s);
    struct sim_event ev = {0};

    v.type = sim_rng_permille(&s->rng, 500) ? CONS_PREVOTE : CONS_PRECOMMIT;
    v.height = s->ops->height(nd->engine);
    v.round = s->ops->round(nd->engine) + (uint32_t)sim_rng_below(&s->rng, 3);
    random_id(s, v.id.bytes);
    memcpy(v.validator, s->all.keys[nd->index], CONS_KEY_SIZE);
    byz_sign_vote(s, nd->index, &v);
    for (unsigned to = 0; to < s->n; to++) {
        if ((mask >> (to % 64)) & 1) {
            send_vote(s, nd->index, &v, (int)to);
        }
    }
    ev.kind = EV_NOISE;
    node_at(s, nd, sim_rng_between(&s->rng, 100 * SIM_MS, 600 * SIM_MS), &ev);
}

/* ---- draining, starting, crashing -------------------------------------- */

static const char *const action_names[] = {"none",     "persist", "proposal",
                                           "vote",     "timeout", "get-value",
                                           "validate", "decide",  "evidence"};

static void trace_action(const struct sim *s, const struct sim_node *nd,
                         const struct cons_action *a)
{
    const char *name = (unsigned)a->kind < 9 ? action_names[a->kind] : "?";

    if (a->kind == CONS_ACT_BROADCAST_VOTE) {
        sim_trace(s, "  node %u: vote %s h%llu r%u %s%02x", nd->index,
                  a->vote.type == CONS_PREVOTE ? "prevote" : "precommit",
                  (unsigned long long)a->vote.height, a->vote.round,
                  a->vote.id.nil ? "nil" : "",
                  a->vote.id.nil ? 0u : a->vote.id.bytes[0]);
    } else if (a->kind == CONS_ACT_BROADCAST_PROPOSAL) {
        sim_trace(s, "  node %u: proposal h%llu r%u pol %d id %02x", nd->index,
                  (unsigned long long)a->proposal.height, a->proposal.round,
                  a->proposal.pol_round, a->proposal.id[0]);
    } else {
        sim_trace(s, "  node %u: %s h%llu r%u", nd->index, name,
                  (unsigned long long)a->height, a->round);
    }
}

static void node_drain(struct sim *s, struct sim_node *nd)
{
    struct cons_action a;

    for (unsigned i = 0; i < SIM_DRAIN_MAX; i++) {
        if (!s->ops->next_action(nd->engine, &a)) {
            return;
        }
        if (s->cfg.verbose) {
            trace_action(s, nd, &a);
        }
        if (s->res->failed) {
            continue; /* drain anyway: the engine's ring must empty */
        }
        if (nd->byz == 0) {
            honest_act(s, nd, &a);
        } else {
            byz_act(s, nd, &a);
        }
    }
    sim_fail(s, "actions",
             "node %u's engine emitted more than %u actions "
             "for one input",
             nd->index, SIM_DRAIN_MAX);
}

static void gossip_schedule(struct sim *s, struct sim_node *nd)
{
    struct sim_event ev = {0};

    ev.kind = EV_GOSSIP;
    node_at(s, nd,
            local_us(nd, sim_rng_between(&s->rng, SIM_GOSSIP_US * 8 / 10,
                                         SIM_GOSSIP_US * 12 / 10)),
            &ev);
}

/* Start @nd's engine from its durable state: the signer record, the height
 * after its chain, then (@replay) the WAL of that height in order. */
static void node_boot(struct sim *s, struct sim_node *nd, int replay)
{
    const struct sim_engine_ops *ops = s->ops;

    if (ops->create(&nd->engine, s->all.keys[nd->index], &nd->crypto,
                    &s->timeouts) != 0) {
        fprintf(stderr, "sim: cons_engine_create failed\n");
        abort();
    }
    nd->up = 1;
    if (!replay) {
        nd->wal_n = 0;
        seen_clear(s, nd);
    }
    if (nd->has_signed) {
        ops->restore(nd->engine, &nd->last_signed);
    }
    /* While replaying, own messages are not logged again and requests the
     * WAL already answers are not made again. */
    nd->replaying = replay;
    nd->replay_next = 0;
    node_start_height(s, nd);
    node_drain(s, nd);
    while (replay && nd->replay_next < nd->wal_n && !s->res->failed) {
        struct sim_wal w = nd->wal[nd->replay_next++];
        /* Its own messages from the WAL are its to gossip again: the
         * engine re-sends none that its guard record has passed. */
        if (w.kind == WAL_VOTE &&
            memcmp(w.vote.validator, s->all.keys[nd->index], CONS_KEY_SIZE) ==
                0) {
            own_add_vote(nd, &w.vote);
        } else if (w.kind == WAL_PROPOSAL &&
                   memcmp(w.proposal.proposer, s->all.keys[nd->index],
                          CONS_KEY_SIZE) == 0) {
            own_add_proposal(nd, &w.proposal);
        }
        (void)node_feed(s, nd, &w);
    }
    nd->replaying = 0;
}

static void node_crash(struct sim *s, struct sim_node *nd)
{
    sim_trace(s, "node %u crashes at height %llu", nd->index,
              (unsigned long long)s->ops->height(nd->engine));
    s->ops->destroy(nd->engine);
    nd->engine = NULL;
    nd->up = 0;
    nd->incarnation++;
    nd->own_n = 0;
    nd->gossip_mark = 0;
    memset(nd->reply_us, 0, sizeof(nd->reply_us));
}

static void node_restart(struct sim *s, struct sim_node *nd)
{
    int replay = !nd->amnesiac;

    sim_trace(s, "node %u restarts at height %llu%s", nd->index,
              (unsigned long long)nd->committed + 1,
              replay ? " replaying its WAL" : " without its WAL");
    s->res->restarts++;
    node_boot(s, nd, replay);
    gossip_schedule(s, nd);
}

/* ---- message delivery -------------------------------------------------- */

/* A peer at an older height: send it the commits it lacks. */
static void catch_up(struct sim *s, struct sim_node *nd, unsigned peer,
                     uint64_t height)
{
    struct sim_msg *m;

    if (height > nd->committed || (nd->byz & SIM_F_SILENT) ||
        (nd->reply_us[peer] != 0 &&
         s->now < nd->reply_us[peer] + SIM_GOSSIP_US / 2)) {
        return;
    }
    nd->reply_us[peer] = s->now;
    m = msg_new(MSG_DECIDED, nd->index);
    m->height_lo = height;
    m->height_hi = height + SIM_CATCHUP_HEIGHTS - 1;
    if (m->height_hi > nd->committed) {
        m->height_hi = nd->committed;
    }
    net_send(s, m, peer);
    msg_release(m);
}

/* A peer at the same height announced its round: send it every message of
 * that round this node holds (its WAL: what it received and what it
 * signed), so that what one correct validator received reaches the others
 * (the paper's gossip assumption) even when the validator that signed it
 * has crashed, forgotten it or is Byzantine. Throttled like catch_up. */
static void relay_round(struct sim *s, struct sim_node *nd, unsigned peer,
                        uint32_t round)
{
    const struct sim_wal *sent[4u * SIM_NODES_MAX];
    size_t sent_n = 0;

    if (nd->byz != 0 || (nd->reply_us[peer] != 0 &&
                         s->now < nd->reply_us[peer] + SIM_GOSSIP_US / 2)) {
        return;
    }
    nd->reply_us[peer] = s->now;
    /* The WAL holds every copy received; send each distinct one once. */
    for (size_t i = 0; i < nd->wal_n && sent_n < 4u * SIM_NODES_MAX; i++) {
        const struct sim_wal *w = &nd->wal[i];
        size_t j;
        if (!(w->kind == WAL_VOTE && w->vote.round == round) &&
            !(w->kind == WAL_PROPOSAL && w->proposal.round == round)) {
            continue;
        }
        for (j = 0; j < sent_n; j++) {
            const struct sim_wal *o = sent[j];
            if (o->kind == w->kind &&
                (w->kind == WAL_VOTE
                     ? o->vote.type == w->vote.type &&
                           memcmp(o->vote.validator, w->vote.validator,
                                  CONS_KEY_SIZE) == 0 &&
                           sim_id_equal(&o->vote.id, &w->vote.id)
                     : memcmp(o->proposal.proposer, w->proposal.proposer,
                              CONS_KEY_SIZE) == 0 &&
                           memcmp(o->proposal.id, w->proposal.id,
                                  CONS_ID_SIZE) == 0)) {
                break;
            }
        }
        if (j < sent_n) {
            continue;
        }
        sent[sent_n++] = w;
        if (w->kind == WAL_VOTE) {
            send_vote(s, nd->index, &w->vote, (int)peer);
        } else {
            send_proposal(s, nd->index, &w->proposal, (int)peer);
        }
    }
}

/* Evidence completeness: once an engine holds a validator's vote for one
 * id, a validly signed vote of the same (height, round, type) for another
 * id must make it report the equivocation. */
static void track_vote(struct sim *s, struct sim_node *nd,
                       const struct cons_vote *v, int rc, uint32_t round)
{
    struct sim_seen *slot;
    unsigned who;

    if (!sim_vote_ok(s, v, &who) || v->round >= round + CONS_ROUNDS_AHEAD_MAX ||
        v->round + CONS_ROUNDS_BEHIND_MAX < round) {
        return;
    }
    slot = seen_slot(s, nd, v->round, who, v->type);
    if (!(slot->state & SEEN_ACCEPTED)) {
        if (rc == 0) {
            slot->state |= SEEN_ACCEPTED;
            slot->id = v->id;
        }
        return;
    }
    if (!sim_id_equal(&slot->id, &v->id) && !(slot->state & SEEN_EVIDENCE)) {
        sim_fail(s, "evidence",
                 "node %u was given two votes of validator "
                 "%u at height %llu round %u type %d for different ids and "
                 "reported no evidence",
                 nd->index, who, (unsigned long long)v->height, v->round,
                 (int)v->type);
    }
}

static void deliver_consensus(struct sim *s, struct sim_node *nd,
                              const struct sim_msg *m)
{
    uint64_t height = s->ops->height(nd->engine);
    uint32_t round = s->ops->round(nd->engine);
    struct sim_wal w = {0};
    uint64_t mh = m->kind == MSG_VOTE ? m->vote.height : m->proposal.height;
    int rc;

    if (mh < height) {
        catch_up(s, nd, m->from, mh);
    }
    w.height = mh;
    if (m->kind == MSG_VOTE) {
        w.kind = WAL_VOTE;
        w.vote = m->vote;
        rc = node_input(s, nd, &w);
        if (rc == TDEI_EQUIVOCATION && mh == height &&
            m->vote.type == CONS_PREVOTE && !m->vote.id.nil &&
            nd->hidden_n < sizeof(nd->hidden) / sizeof(nd->hidden[0])) {
            nd->hidden[nd->hidden_n].round = m->vote.round;
            memcpy(nd->hidden[nd->hidden_n].id, m->vote.id.bytes, CONS_ID_SIZE);
            nd->hidden_n++;
        }
        if (rc != 0 && mh == height) {
            sim_trace(s,
                      "  node %u: vote of %u h%llu r%u %s %s%02x "
                      "dropped: %s",
                      nd->index, m->from, (unsigned long long)mh, m->vote.round,
                      m->vote.type == CONS_PREVOTE ? "prevote" : "precommit",
                      m->vote.id.nil ? "nil" : "",
                      m->vote.id.nil ? 0u : m->vote.id.bytes[0],
                      tdei_errname(rc));
        }
        if (nd->byz == 0 && nd->up && mh == height &&
            s->ops->height(nd->engine) == mh) {
            track_vote(s, nd, &m->vote, rc, round);
        }
    } else {
        for (unsigned i = 0; i < nd->hidden_n && mh == height; i++) {
            if ((int64_t)nd->hidden[i].round == m->proposal.pol_round &&
                memcmp(nd->hidden[i].id, m->proposal.id, CONS_ID_SIZE) == 0) {
                nd->pol_hidden_height = height;
            }
        }
        w.kind = WAL_PROPOSAL;
        w.proposal = m->proposal;
        (void)node_input(s, nd, &w);
    }
}

static void deliver_decided(struct sim *s, struct sim_node *nd,
                            const struct sim_msg *m)
{
    for (uint64_t h = m->height_lo; h <= m->height_hi && !s->res->failed; h++) {
        struct sim_wal w = {0};
        if (s->ops->height(nd->engine) != h) {
            continue;
        }
        w.kind = WAL_DECIDED;
        w.height = h;
        w.from = m->from;
        (void)node_input(s, nd, &w);
    }
}

static void deliver_evidence(struct sim *s, struct sim_node *nd,
                             const struct sim_msg *m)
{
    unsigned who;
    size_t i;

    if (nd->byz != 0 || !check_evidence_pair(s, &m->vote, &m->vote_b)) {
        return;
    }
    (void)sim_vote_ok(s, &m->vote, &who);
    i = evidence_add(s, &m->vote, &m->vote_b, who);
    if (s->evidence[i].ledger_height == 0 ||
        s->evidence[i].ledger_height > nd->committed) {
        pool_add(nd, (uint32_t)i);
    }
}

static void deliver(struct sim *s, const struct sim_event *ev)
{
    struct sim_node *nd = &s->nodes[ev->node];
    struct sim_msg *m = ev->msg;

    m->refs--;
    if (!nd->up || net_cut(s, m->from, ev->node) || (nd->byz & SIM_F_SILENT)) {
        msg_release(m);
        return;
    }
    switch (m->kind) {
    case MSG_PROPOSAL:
    case MSG_VOTE:
        deliver_consensus(s, nd, m);
        break;
    case MSG_DECIDED:
        deliver_decided(s, nd, m);
        break;
    case MSG_EVIDENCE:
        deliver_evidence(s, nd, m);
        break;
    case MSG_STATUS:
        if (m->height_lo < s->ops->height(nd->engine)) {
            catch_up(s, nd, m->from, m->height_lo);
        } else if (m->height_lo == s->ops->height(nd->engine)) {
            relay_round(s, nd, m->from, m->round);
        }
        break;
    }
    msg_release(m);
}

/* ---- timers ------------------------------------------------------------ */

/* Announce the node's height (peers ahead answer with the commits it
 * lacks) and re-send its own messages of the height and its pending
 * evidence, when it has not moved for a whole period: the gossip that
 * carries lost messages after GST. Proposals and precommits of the last two
 * rounds it signed in; prevotes of every round, since any may be the polka a
 * re-proposal names as its pol_round [28-33]. */
static void node_gossip(struct sim *s, struct sim_node *nd)
{
    uint64_t mark = (s->ops->height(nd->engine) << 24) ^
                    ((uint64_t)s->ops->round(nd->engine) << 4) ^
                    (uint64_t)s->ops->step(nd->engine) ^
                    ((uint64_t)nd->own_n << 40);
    struct sim_msg *status;
    uint32_t top = 0;

    gossip_schedule(s, nd);
    if (mark != nd->gossip_mark || (nd->byz & SIM_F_SILENT)) {
        nd->gossip_mark = mark;
        return;
    }
    status = msg_new(MSG_STATUS, nd->index);
    status->height_lo = s->ops->height(nd->engine);
    status->round = s->ops->round(nd->engine);
    net_broadcast(s, status);
    for (size_t i = 0; i < nd->own_n; i++) {
        top = nd->own[i].round > top ? nd->own[i].round : top;
    }
    for (size_t i = 0; i < nd->own_n; i++) {
        if (nd->own[i].round + 1 < top &&
            (nd->own[i].is_proposal || nd->own[i].vote.type != CONS_PREVOTE)) {
            continue;
        }
        if (nd->own[i].is_proposal) {
            send_proposal(s, nd->index, &nd->own[i].proposal, -1);
            if (nd->byz == 0) {
                send_pol(s, nd, &nd->own[i].proposal);
            }
        } else {
            send_vote(s, nd->index, &nd->own[i].vote, -1);
        }
    }
    for (size_t i = 0, sent = 0; i < nd->pool_n && sent < 4; i++) {
        const struct sim_evidence *ev = &s->evidence[nd->pool[i]];
        if (ev->ledger_height == 0) {
            broadcast_evidence(s, nd, ev);
            sent++;
        }
    }
}

static void node_value(struct sim *s, struct sim_node *nd,
                       const struct sim_event *ev)
{
    struct sim_wal w = {0};
    int invalid = (nd->byz & SIM_F_INVALID) && sim_rng_permille(&s->rng, 300);

    w.kind = WAL_VALUE;
    w.height = ev->height;
    w.round = ev->round;
    build_block(s, nd, ev->height, ev->round, invalid, w.id);
    (void)node_input(s, nd, &w);
}

/* The validity oracle: a block is valid at the height it was built for,
 * unless its builder made it invalid; an id nobody built is invalid. */
static void node_validity(struct sim *s, struct sim_node *nd,
                          const struct sim_event *ev)
{
    const struct sim_block *b = sim_block_get(s, ev->id);
    struct sim_wal w = {0};

    w.kind = WAL_VALIDITY;
    w.height = ev->height;
    memcpy(w.id, ev->id, CONS_ID_SIZE);
    w.valid = b != NULL && b->valid && b->height == ev->height;
    if (nd->byz != 0 || s->cfg.broken == SIM_BROKEN_VALIDITY) {
        w.valid = 1;
    }
    (void)node_input(s, nd, &w);
}

/* ---- faults ------------------------------------------------------------ */

static void fault_crash(struct sim *s)
{
    unsigned pick[SIM_NODES_MAX], count = 0;
    struct sim_event ev = {0};

    if (s->healed) {
        return;
    }
    for (unsigned i = 0; i < s->n; i++) {
        const struct sim_node *nd = &s->nodes[i];
        if (nd->byz == 0 && nd->up &&
            ((s->cfg.faults & SIM_F_CRASH) || nd->amnesiac)) {
            pick[count++] = i;
        }
    }
    if (count > 0) {
        struct sim_node *nd = &s->nodes[pick[sim_rng_below(&s->rng, count)]];
        node_crash(s, nd);
        ev.kind = EV_RESTART;
        node_at(s, nd, sim_rng_between(&s->rng, 50 * SIM_MS, 3000 * SIM_MS),
                &ev);
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = EV_CRASH;
    ev.time = s->now + sim_rng_between(&s->rng, 200 * SIM_MS, 2000 * SIM_MS);
    ev_push(s, &ev);
}

static void fault_partition(struct sim *s)
{
    struct sim_event ev = {0};

    if (s->healed) {
        return;
    }
    if (s->partitioned) {
        s->partitioned = 0;
        sim_trace(s, "partition heals");
        ev.time =
            s->now + sim_rng_between(&s->rng, 200 * SIM_MS, 2000 * SIM_MS);
    } else {
        unsigned groups = 2 + (unsigned)sim_rng_below(&s->rng, 2);
        for (unsigned i = 0; i < s->n; i++) {
            s->group[i] = (uint8_t)sim_rng_below(&s->rng, groups);
        }
        s->group[sim_rng_below(&s->rng, s->n)] = 0;
        s->group[sim_rng_below(&s->rng, s->n)] = 1;
        s->partitioned = 1;
        sim_trace(s, "partition forms (%u groups)", groups);
        ev.time =
            s->now + sim_rng_between(&s->rng, 200 * SIM_MS, 4000 * SIM_MS);
    }
    ev.kind = EV_PARTITION;
    ev_push(s, &ev);
}

/* GST: the network heals for good and every crashed node restarts. */
static void heal(struct sim *s)
{
    s->healed = 1;
    s->heal_us = s->now;
    s->partitioned = 0;
    sim_trace(s, "GST: the network heals");
    for (unsigned i = 0; i < s->n && !s->res->failed; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (!nd->up) {
            node_restart(s, nd);
        }
    }
    check_heal(s);
}

/* ---- setup ------------------------------------------------------------- */

static int key_cmp(const void *a, const void *b) { return memcmp(a, b, 64); }

/* Keys: secret_i and key_i = SHA256(secret_i), sorted by key so that node
 * i is validator i. */
static void setup_keys(struct sim *s)
{
    uint8_t pairs[SIM_NODES_MAX][64];

    for (unsigned i = 0; i < s->n; i++) {
        uint8_t in[12];
        for (int b = 0; b < 8; b++) {
            in[b] = (uint8_t)(s->cfg.seed >> (8 * b));
        }
        for (int b = 0; b < 4; b++) {
            in[8 + b] = (uint8_t)(i >> (8 * b));
        }
        tdei_tagged_hash(pairs[i] + 32, "sim/secret", in, sizeof(in));
        tdei_sha256(pairs[i], pairs[i] + 32, 32);
    }
    qsort(pairs, s->n, 64, key_cmp);
    s->all.n = s->n;
    for (unsigned i = 0; i < s->n; i++) {
        memcpy(s->all.keys[i], pairs[i], CONS_KEY_SIZE);
        memcpy(s->secrets[i], pairs[i] + 32, 32);
    }
    s->genesis_set = s->n == 64 ? ~0ull : (1ull << s->n) - 1u;
}

/* --valset: pick the joiner (outside the genesis set), the leaver and the
 * height from which blocks carry the add. */
static void setup_valset(struct sim *s)
{
    if (!s->cfg.valset) {
        return;
    }
    s->joiner = (unsigned)sim_rng_below(&s->rng, s->n);
    do {
        s->leaver = (unsigned)sim_rng_below(&s->rng, s->n);
    } while (s->leaver == s->joiner);
    s->genesis_set &= ~(1ull << s->joiner);
    s->add_from = sim_rng_between(&s->rng, 2, 6);
}

/* Which nodes are faulty: up to f Byzantine ones (each with a non-empty
 * subset of the listed behaviours) and amnesiac ones, f in all. */
static void setup_faulty(struct sim *s)
{
    unsigned byz_faults = s->cfg.faults & SIM_F_BYZANTINE;
    int amnesia = (s->cfg.faults & SIM_F_AMNESIA) != 0;
    unsigned nb = 0, na = 0;

    if (byz_faults != 0 && amnesia) {
        if (s->f == 1) {
            nb = sim_rng_permille(&s->rng, 500) ? 1 : 0;
        } else {
            nb = 1 + (unsigned)sim_rng_below(&s->rng, s->f - 1);
        }
        na = s->f - nb;
    } else if (byz_faults != 0) {
        nb = 1 + (unsigned)sim_rng_below(&s->rng, s->f);
    } else if (amnesia) {
        na = 1 + (unsigned)sim_rng_below(&s->rng, s->f);
    }
    for (unsigned k = 0; k < nb + na;) {
        struct sim_node *nd = &s->nodes[sim_rng_below(&s->rng, s->n)];
        if (nd->byz != 0 || nd->amnesiac ||
            (s->cfg.valset && ((unsigned)(nd - s->nodes) == s->joiner ||
                               (unsigned)(nd - s->nodes) == s->leaver))) {
            continue;
        }
        if (k < nb) {
            while (nd->byz == 0) {
                nd->byz = byz_faults & (unsigned)sim_rng_next(&s->rng);
            }
        } else {
            nd->amnesiac = 1;
        }
        k++;
    }
}

static void setup_network(struct sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        for (unsigned j = 0; j < s->n; j++) {
            s->base_us[i][j] =
                (uint32_t)sim_rng_between(&s->rng, 2 * SIM_MS, 20 * SIM_MS);
        }
    }
    if (s->cfg.faults & SIM_F_LOSS) {
        s->loss_permille = (uint32_t)sim_rng_between(&s->rng, 10, 200);
    }
    if (s->cfg.faults & SIM_F_DUP) {
        s->dup_permille = (uint32_t)sim_rng_between(&s->rng, 10, 200);
    }
}

static void setup_nodes(struct sim *s)
{
    s->rate_max = 1000;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        nd->index = i;
        nd->signer.sim = s;
        nd->signer.index = i;
        nd->crypto.vote_bytes = sim_vote_bytes;
        nd->crypto.proposal_bytes = sim_proposal_bytes;
        nd->crypto.sign = sim_sign;
        nd->crypto.verify = sim_verify;
        nd->crypto.impl = &nd->signer;
        nd->rate_permille = 1000;
        if (s->cfg.faults & SIM_F_SKEW) {
            nd->rate_permille = (uint32_t)sim_rng_between(&s->rng, 700, 1400);
        }
        if (nd->byz == 0 && nd->rate_permille > s->rate_max) {
            s->rate_max = nd->rate_permille;
        }
    }
}

static void setup_events(struct sim *s)
{
    struct sim_event ev = {0};

    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        node_boot(s, nd, 0);
        gossip_schedule(s, nd);
        if ((nd->byz & SIM_F_UNKNOWN) && !(nd->byz & SIM_F_SILENT)) {
            memset(&ev, 0, sizeof(ev));
            ev.kind = EV_NOISE;
            node_at(s, nd, sim_rng_between(&s->rng, 0, 500 * SIM_MS), &ev);
        }
    }
    if (s->cfg.faults & (SIM_F_CRASH | SIM_F_AMNESIA)) {
        memset(&ev, 0, sizeof(ev));
        ev.kind = EV_CRASH;
        ev.time = sim_rng_between(&s->rng, 100 * SIM_MS, 1000 * SIM_MS);
        ev_push(s, &ev);
    }
    if (s->cfg.faults & SIM_F_PARTITION) {
        memset(&ev, 0, sizeof(ev));
        ev.kind = EV_PARTITION;
        ev.time = sim_rng_between(&s->rng, 200 * SIM_MS, 2000 * SIM_MS);
        ev_push(s, &ev);
    }
}

static int sim_setup(struct sim *s, const struct sim_config *cfg,
                     struct sim_result *res)
{
    s->cfg = *cfg;
    s->res = res;
    if (cfg->nodes < 4 || cfg->nodes > SIM_NODES_MAX ||
        (cfg->faults & ~SIM_F_ALL) != 0) {
        snprintf(res->reason, sizeof(res->reason), "--nodes %u is outside 4-%u",
                 cfg->nodes, SIM_NODES_MAX);
        return 2;
    }
    s->ops = cfg->broken == SIM_BROKEN_QUORUM ? &sim_quorum_ops
             : cfg->broken == SIM_BROKEN_LOCK ? &sim_lock_ops
                                              : &sim_engine_real;
    sim_rng_seed(&s->rng, cfg->seed);
    s->n = cfg->nodes;
    s->f = (s->n - 1) / 3;
    if (cfg->valset) {
        /* The smallest set has n - 1 validators; its faulty ones are at
         * most floor((n - 2) / 3), and none are the joiner or leaver. */
        s->f = (s->n - 2) / 3;
        if (s->f == 0) {
            s->cfg.faults &= ~(unsigned)(SIM_F_BYZANTINE | SIM_F_AMNESIA);
        }
    }
    s->timeouts = (struct cons_timeouts){.propose_ms = 300,
                                         .propose_delta_ms = 100,
                                         .prevote_ms = 100,
                                         .prevote_delta_ms = 50,
                                         .precommit_ms = 100,
                                         .precommit_delta_ms = 50};
    setup_keys(s);
    setup_valset(s);
    setup_faulty(s);
    setup_network(s);
    setup_nodes(s);
    setup_events(s);
    return 0;
}

static void sim_free(struct sim *s)
{
    while (s->heap_n > 0) {
        struct sim_event ev;
        (void)ev_pop(s, &ev);
        if (ev.kind == EV_DELIVER) {
            ev.msg->refs--;
            msg_release(ev.msg);
        }
    }
    free(s->heap);
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (nd->engine != NULL) {
            s->ops->destroy(nd->engine);
        }
        for (uint64_t h = 0; h < nd->committed; h++) {
            free(nd->chain[h].votes);
        }
        free(nd->chain);
        free(nd->wal);
        free(nd->pool);
        free(nd->own);
        free(nd->seen);
    }
    free(s->blocks);
    free(s->evidence);
    check_free(s);
}

/* ---- the run ----------------------------------------------------------- */

static const char *const event_names[] = {
    "?",      "deliver", "timeout", "value",     "validity",
    "gossip", "crash",   "restart", "partition", "noise"};
static const char *const msg_names[] = {"?",       "proposal", "vote",
                                        "decided", "evidence", "status"};

static void trace_event(const struct sim *s, const struct sim_event *ev)
{
    const struct sim_node *nd = &s->nodes[ev->node];
    uint64_t h = nd->up ? s->ops->height(nd->engine) : 0;
    uint32_t r = nd->up ? s->ops->round(nd->engine) : 0;
    int step = nd->up ? (int)s->ops->step(nd->engine) : 0;

    if (ev->kind == EV_DELIVER) {
        const struct sim_msg *m = ev->msg;
        uint64_t mh = m->kind == MSG_VOTE       ? m->vote.height
                      : m->kind == MSG_PROPOSAL ? m->proposal.height
                                                : m->height_lo;
        uint32_t mr = m->kind == MSG_VOTE       ? m->vote.round
                      : m->kind == MSG_PROPOSAL ? m->proposal.round
                                                : 0;
        sim_trace(
            s, "node %u [h%llu r%u s%d] <- %u %s h%llu r%u%s", ev->node,
            (unsigned long long)h, r, step, m->from, msg_names[m->kind],
            (unsigned long long)mh, mr,
            m->kind == MSG_VOTE
                ? (m->vote.type == CONS_PREVOTE ? " prevote" : " precommit")
                : "");
    } else if (ev->kind == EV_CRASH || ev->kind == EV_PARTITION) {
        sim_trace(s, "%s", event_names[ev->kind]);
    } else {
        sim_trace(s, "node %u [h%llu r%u s%d] %s h%llu r%u%s", ev->node,
                  (unsigned long long)h, r, step, event_names[ev->kind],
                  (unsigned long long)ev->height, ev->round,
                  ev->incarnation != nd->incarnation ? " (stale)" : "");
    }
}

static void dispatch(struct sim *s, const struct sim_event *ev)
{
    struct sim_node *nd = &s->nodes[ev->node];
    struct sim_wal w = {0};

    if (s->cfg.verbose) {
        trace_event(s, ev);
    }

    if (ev->kind == EV_DELIVER) {
        deliver(s, ev);
    } else if (ev->kind == EV_CRASH) {
        fault_crash(s);
    } else if (ev->kind == EV_PARTITION) {
        fault_partition(s);
    } else if (ev->incarnation != nd->incarnation) {
        return; /* a timer of a life that ended */
    } else if (ev->kind == EV_RESTART) {
        if (!nd->up) {
            node_restart(s, nd);
        }
    } else if (!nd->up) {
        return;
    } else if (ev->kind == EV_TIMEOUT) {
        w.kind = WAL_TIMEOUT;
        w.timeout = ev->timeout;
        w.height = ev->height;
        w.round = ev->round;
        (void)node_input(s, nd, &w);
    } else if (ev->kind == EV_VALUE) {
        node_value(s, nd, ev);
    } else if (ev->kind == EV_VALIDITY) {
        node_validity(s, nd, ev);
    } else if (ev->kind == EV_GOSSIP) {
        node_gossip(s, nd);
    } else if (ev->kind == EV_NOISE) {
        byz_noise(s, nd);
    }
}

int sim_run(const struct sim_config *cfg, struct sim_result *out)
{
    struct sim *s = calloc(1, sizeof(*s));
    struct sim_event ev;
    int rc;

    memset(out, 0, sizeof(*out));
    if (s == NULL) {
        abort();
    }
    rc = sim_setup(s, cfg, out);
    while (rc == 0 && !out->failed && !s->done) {
        if (!ev_pop(s, &ev)) {
            sim_fail(s, "progress", "no event left to run");
            break;
        }
        s->now = ev.time;
        dispatch(s, &ev);
        s->events++;
        if (!s->healed && s->events >= cfg->steps) {
            heal(s);
        }
        if (s->healed) {
            check_deadlines(s);
            if (s->events > cfg->steps + SIM_EVENTS_AFTER_GST_MAX) {
                sim_fail(s, "progress",
                         "%u events after GST without "
                         "reaching the goal",
                         SIM_EVENTS_AFTER_GST_MAX);
            }
        }
    }
    out->events = s->events;
    out->sim_time_us = s->now;
    sim_free(s);
    free(s);
    return rc != 0 ? rc : out->failed;
}
