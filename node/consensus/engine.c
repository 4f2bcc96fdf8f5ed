/* The consensus engine (engine.h): Tendermint Algorithm 1 as a pure state
 * machine. Comments in brackets cite the paper's line numbers as
 * ../shared/CONSENSUS.md §1 gives them. Pure: no I/O, clock or randomness;
 * all memory is allocated once by cons_engine_create.
 *
 * Layout: the votes and proposals of one height live in a ring of round
 * states indexed by round mod ROUND_SLOTS. The kept window is
 * [round - CONS_ROUNDS_BEHIND_MAX, round + CONS_ROUNDS_AHEAD_MAX]; its
 * rounds map to distinct slots, so a slot is recycled only when its round
 * has fallen out of the window. Each round state tallies, per vote type,
 * the distinct voters, the nil votes and the votes for its proposal's id,
 * so that every upon-rule is a constant-time check. */
#include "consensus/engine.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"

#include <string.h>

#define ROUND_SLOTS (CONS_ROUNDS_BEHIND_MAX + 1u + CONS_ROUNDS_AHEAD_MAX)
#define VOTE_TYPES 2u

/* Passes of the rule loop in one call: each pass fires at least one rule,
 * a rule fires at most once per round, and one call starts at most a few
 * rounds (a skip, a precommit timeout). */
#define RULE_PASSES_MAX 64

_Static_assert(CONS_VALIDATORS_MAX % 8u == 0, "sender bitmaps are bytes");
_Static_assert(CONS_VALIDATORS_MAX <= UINT32_MAX / 3u, "tallies fit u32");
_Static_assert(CONS_ACTIONS_MAX >= 64u, "room for a worst-case call");

/* What the host said about a proposed block. */
enum validity {
    VALIDITY_UNKNOWN = 0, /* never asked */
    VALIDITY_PENDING,     /* CONS_ACT_VALIDATE sent, no answer yet */
    VALIDITY_VALID,
    VALIDITY_INVALID
};

/* One validator's vote of one type in one round (the key, height, round
 * and type are the slot's position). */
struct vote_slot
{
    uint8_t present;            /* 1: a vote is stored */
    uint8_t reported;           /* 1: evidence against it already sent */
    uint8_t nil;                /* 1: a nil vote */
    uint8_t id[CONS_ID_SIZE];   /* block id unless nil (zeroes if nil) */
    uint8_t sig[CONS_SIG_SIZE]; /* its signature */
    /* An equivocator's other vote, kept when it names a block some held
     * proposal names: each value's tally counts every validator that
     * voted for it once, so the polka or commit an honest node saw can
     * form here too, whichever of the two votes arrived first. Safe: two
     * values with 2f+1 each would still need f+1 equivocators. */
    uint8_t alt;                    /* 1: an other vote is kept */
    uint8_t alt_id[CONS_ID_SIZE];   /* its block id (never nil) */
    uint8_t alt_sig[CONS_SIG_SIZE]; /* its signature */
};

/* Everything the engine holds of one round of the current height. */
struct round_state
{
    int used; /* 1: holds round @round's messages */
    uint32_t round;
    int has_proposal; /* 1: @proposal is the round's proposal */
    struct cons_proposal proposal;
    enum validity validity; /* of proposal.id */
    struct vote_slot votes[VOTE_TYPES][CONS_VALIDATORS_MAX];
    uint32_t count[VOTE_TYPES];                /* distinct voters */
    uint32_t nil_count[VOTE_TYPES];            /* nil votes */
    uint32_t prop_count[VOTE_TYPES];           /* votes for proposal.id */
    uint8_t senders[CONS_VALIDATORS_MAX / 8u]; /* any message, by index */
    uint32_t sender_count;                     /* bits set in @senders */
};

struct cons_engine
{
    uint8_t self[CONS_KEY_SIZE];
    struct cons_crypto crypto;
    struct cons_timeouts timeouts;

    int started;     /* 1: cons_start_height was called */
    uint64_t height; /* h */
    struct cons_vset vset;
    int self_index; /* in vset; -1: observer (never signs) */
    uint32_t round;
    enum cons_step step;
    int decided; /* 1: decision[h] is set */

    int64_t locked_round; /* -1: lockedValue = nil */
    uint8_t locked_id[CONS_ID_SIZE];
    int64_t valid_round; /* -1: validValue = nil */
    uint8_t valid_id[CONS_ID_SIZE];

    /* "First time" flags of the current round [34-35], [36-43], [47-48];
     * cleared by StartRound. */
    int fired_prevote_any;
    int fired_lock;
    int fired_precommit_any;
    int awaiting_value; /* 1: GET_VALUE out for (h, round) */

    int has_signed; /* 1: @last_signed holds a record */
    struct cons_signed last_signed;

    struct round_state *rounds; /* ROUND_SLOTS of them */

    struct cons_action ring[CONS_ACTIONS_MAX];
    size_t ring_head;  /* next action to hand out */
    size_t ring_count; /* actions held */
};

/* ---- small helpers ------------------------------------------------------ */

/* Votes counted for "2f+1": more than 2/3 of n validators. */
static uint32_t quorum(size_t n) { return (uint32_t)(2u * n / 3u + 1u); }

/* Validators counted for "f+1": more than 1/3 of n [55-56]. */
static uint32_t skip_threshold(size_t n)
{
    return (uint32_t)((n - 1u) / 3u + 1u);
}

static size_t type_index(enum cons_vote_type type)
{
    TDEI_ASSERT(type == CONS_PREVOTE || type == CONS_PRECOMMIT);
    return type == CONS_PREVOTE ? 0u : 1u;
}

/* The index of @key in @vset (sorted ascending), or -1. */
static int vset_find(const struct cons_vset *vset,
                     const uint8_t key[CONS_KEY_SIZE])
{
    size_t lo = 0;
    size_t hi = vset->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2u;
        int c = memcmp(vset->keys[mid], key, CONS_KEY_SIZE);
        if (c == 0) {
            return (int)mid;
        }
        if (c < 0) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return -1;
}

/* proposer(h, r): index (h + r) mod n over the sorted set. */
static size_t proposer_index(uint64_t height, uint32_t round, size_t n)
{
    return (size_t)((height % n + round % n) % n);
}

/* timeout_X(r) = X_ms + r * X_delta_ms, saturating. */
static uint64_t timeout_for(uint64_t base_ms, uint64_t delta_ms, uint32_t round)
{
    if (delta_ms != 0 && round > (UINT64_MAX - base_ms) / delta_ms) {
        return UINT64_MAX;
    }
    return base_ms + (uint64_t)round * delta_ms;
}

/* Order of (h, r, step) triples: -1, 0 or 1 as a < b, a = b, a > b. */
static int hrs_cmp(uint64_t ha, uint32_t ra, enum cons_step sa, uint64_t hb,
                   uint32_t rb, enum cons_step sb)
{
    if (ha != hb) {
        return ha < hb ? -1 : 1;
    }
    if (ra != rb) {
        return ra < rb ? -1 : 1;
    }
    if (sa != sb) {
        return sa < sb ? -1 : 1;
    }
    return 0;
}

static int id_equal(const uint8_t a[CONS_ID_SIZE],
                    const uint8_t b[CONS_ID_SIZE])
{
    return memcmp(a, b, CONS_ID_SIZE) == 0;
}

/* ---- the action ring ---------------------------------------------------- */

/* Append an action of @kind for (h, round) and return it to fill in. */
static struct cons_action *action_push(struct cons_engine *e,
                                       enum cons_action_kind kind)
{
    struct cons_action *a;

    TDEI_ASSERT(e->ring_count < CONS_ACTIONS_MAX); /* host drains per call */
    a = &e->ring[(e->ring_head + e->ring_count) % CONS_ACTIONS_MAX];
    e->ring_count++;
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->height = e->height;
    a->round = e->round;
    return a;
}

static void schedule_timeout(struct cons_engine *e, enum cons_timeout kind)
{
    struct cons_action *a = action_push(e, CONS_ACT_SCHEDULE_TIMEOUT);
    const struct cons_timeouts *t = &e->timeouts;

    a->timeout = kind;
    switch (kind) {
    case CONS_TIMEOUT_PROPOSE:
        a->ms = timeout_for(t->propose_ms, t->propose_delta_ms, e->round);
        break;
    case CONS_TIMEOUT_PREVOTE:
        a->ms = timeout_for(t->prevote_ms, t->prevote_delta_ms, e->round);
        break;
    case CONS_TIMEOUT_PRECOMMIT:
        a->ms = timeout_for(t->precommit_ms, t->precommit_delta_ms, e->round);
        break;
    }
}

/* ---- round states ------------------------------------------------------- */

static uint64_t window_low(const struct cons_engine *e)
{
    return e->round > CONS_ROUNDS_BEHIND_MAX
               ? (uint64_t)e->round - CONS_ROUNDS_BEHIND_MAX
               : 0u;
}

static int round_in_window(const struct cons_engine *e, uint32_t round)
{
    return (uint64_t)round >= window_low(e) &&
           (uint64_t)round <= (uint64_t)e->round + CONS_ROUNDS_AHEAD_MAX;
}

/* The state of @round, or NULL when none is held. */
static struct round_state *round_get(const struct cons_engine *e,
                                     uint32_t round)
{
    struct round_state *rs;

    if (!round_in_window(e, round)) {
        return NULL;
    }
    rs = &e->rounds[round % ROUND_SLOTS];
    return rs->used && rs->round == round ? rs : NULL;
}

/* The state of @round (in the window: asserted), recycling its slot when
 * the slot holds a round that has left the window. */
static struct round_state *round_claim(struct cons_engine *e, uint32_t round)
{
    struct round_state *rs = &e->rounds[round % ROUND_SLOTS];

    TDEI_ASSERT(round_in_window(e, round));
    if (rs->used && rs->round == round) {
        return rs;
    }
    TDEI_ASSERT(!rs->used || (uint64_t)rs->round < window_low(e));
    memset(rs, 0, sizeof(*rs));
    rs->used = 1;
    rs->round = round;
    return rs;
}

static void sender_mark(struct round_state *rs, int index)
{
    uint8_t bit = (uint8_t)(1u << ((unsigned)index % 8u));
    uint8_t *byte = &rs->senders[(unsigned)index / 8u];

    if ((*byte & bit) == 0) {
        *byte = (uint8_t)(*byte | bit);
        rs->sender_count++;
    }
}

/* 1 when the slot holds a vote for block @id (its first or other vote). */
static int slot_matches(const struct vote_slot *s,
                        const uint8_t id[CONS_ID_SIZE])
{
    return s->present && ((!s->nil && id_equal(s->id, id)) ||
                          (s->alt && id_equal(s->alt_id, id)));
}

/* Prevotes at @rs for block @id (a polka check at a past round). */
static uint32_t prevotes_for(const struct cons_engine *e,
                             const struct round_state *rs,
                             const uint8_t id[CONS_ID_SIZE])
{
    uint32_t n = 0;

    for (size_t i = 0; i < e->vset.n; i++) {
        if (slot_matches(&rs->votes[0][i], id)) {
            n++;
        }
    }
    return n;
}

/* Precommits held for (h, @round, block @id). */
static size_t precommits_for(const struct cons_engine *e, uint32_t round,
                             const uint8_t id[CONS_ID_SIZE])
{
    const struct round_state *rs = round_get(e, round);
    size_t n = 0;

    for (size_t i = 0; rs != NULL && i < e->vset.n; i++) {
        if (slot_matches(&rs->votes[1][i], id)) {
            n++;
        }
    }
    return n;
}

/* The vote stored at (@rs, @t, @index) as a full cons_vote. */
static void slot_vote(const struct cons_engine *e, const struct round_state *rs,
                      size_t t, size_t index, struct cons_vote *out)
{
    const struct vote_slot *s = &rs->votes[t][index];

    memset(out, 0, sizeof(*out));
    out->type = t == 0 ? CONS_PREVOTE : CONS_PRECOMMIT;
    out->height = e->height;
    out->round = rs->round;
    out->id.nil = s->nil;
    memcpy(out->id.bytes, s->id, CONS_ID_SIZE);
    memcpy(out->validator, e->vset.keys[index], CONS_KEY_SIZE);
    memcpy(out->sig, s->sig, CONS_SIG_SIZE);
}

/* As slot_vote, for the slot's vote for block @id (its first or its other
 * vote; slot_matches must hold). */
static void slot_vote_for(const struct cons_engine *e,
                          const struct round_state *rs, size_t t, size_t index,
                          const uint8_t id[CONS_ID_SIZE], struct cons_vote *out)
{
    const struct vote_slot *s = &rs->votes[t][index];

    slot_vote(e, rs, t, index, out);
    if (s->nil || !id_equal(s->id, id)) {
        TDEI_ASSERT(s->alt && id_equal(s->alt_id, id));
        out->id.nil = 0;
        memcpy(out->id.bytes, s->alt_id, CONS_ID_SIZE);
        memcpy(out->sig, s->alt_sig, CONS_SIG_SIZE);
    }
}

/* 1 when a proposal held in any round of the window names block @id. */
static int proposal_names(const struct cons_engine *e,
                          const uint8_t id[CONS_ID_SIZE]);

static int slot_same_id(const struct vote_slot *s, const struct cons_id *id)
{
    if (s->nil || id->nil) {
        return s->nil && id->nil;
    }
    return id_equal(s->id, id->bytes);
}

/* Keep @v, a vote that differs from the first one in slot @s, as the
 * slot's other vote when it names a block some held proposal names and
 * the slot has none yet, or replaces one that does not name @rs's own
 * proposal with one that does. Returns 2 when kept (the tallies may have
 * changed), TDEI_EQUIVOCATION when not. */
static int vote_store_other(struct cons_engine *e, struct round_state *rs,
                            struct vote_slot *s, size_t t,
                            const struct cons_vote *v)
{
    int first_is_prop;
    int alt_was_prop;
    int new_is_prop;

    if (v->id.nil || !proposal_names(e, v->id.bytes)) {
        return TDEI_EQUIVOCATION;
    }
    first_is_prop =
        rs->has_proposal && !s->nil && id_equal(s->id, rs->proposal.id);
    alt_was_prop =
        rs->has_proposal && s->alt && id_equal(s->alt_id, rs->proposal.id);
    new_is_prop = rs->has_proposal && id_equal(v->id.bytes, rs->proposal.id);
    if (s->alt && (alt_was_prop || !new_is_prop)) {
        return TDEI_EQUIVOCATION;
    }
    s->alt = 1;
    memcpy(s->alt_id, v->id.bytes, CONS_ID_SIZE);
    memcpy(s->alt_sig, v->sig, CONS_SIG_SIZE);
    if (new_is_prop && !first_is_prop) {
        rs->prop_count[t]++;
    }
    return 2;
}

/* Store @v (signature checked) from validator @index in @rs.
 * Returns 0 when stored, 1 for a vote of the same id already held (kept
 * as it was); for a different one the first stays counted, the pair goes
 * out once as CONS_ACT_EVIDENCE, and the vote is kept as the slot's other
 * vote when vote_store_other takes it (2) or dropped
 * (TDEI_EQUIVOCATION). */
static int vote_store(struct cons_engine *e, struct round_state *rs, int index,
                      const struct cons_vote *v)
{
    size_t t = type_index(v->type);
    struct vote_slot *s = &rs->votes[t][index];

    if (s->present) {
        struct cons_action *a;
        if (slot_same_id(s, &v->id) ||
            (!v->id.nil && s->alt && id_equal(s->alt_id, v->id.bytes))) {
            return 1;
        }
        if (!s->reported) {
            /* One piece of evidence per (validator, h, r, type): a third
             * different vote would prove nothing new. */
            s->reported = 1;
            a = action_push(e, CONS_ACT_EVIDENCE);
            a->round = rs->round;
            slot_vote(e, rs, t, (size_t)index, &a->vote);
            a->vote_b = *v;
        }
        return vote_store_other(e, rs, s, t, v);
    }
    s->present = 1;
    s->nil = v->id.nil ? 1 : 0;
    if (!s->nil) {
        memcpy(s->id, v->id.bytes, CONS_ID_SIZE);
    }
    memcpy(s->sig, v->sig, CONS_SIG_SIZE);
    rs->count[t]++;
    if (s->nil) {
        rs->nil_count[t]++;
    } else if (rs->has_proposal && id_equal(s->id, rs->proposal.id)) {
        rs->prop_count[t]++;
    }
    sender_mark(rs, index);
    return 0;
}

/* The validity known for block @id in any held round, else UNKNOWN. */
static enum validity validity_known(const struct cons_engine *e,
                                    const uint8_t id[CONS_ID_SIZE])
{
    for (size_t i = 0; i < ROUND_SLOTS; i++) {
        const struct round_state *rs = &e->rounds[i];
        if (rs->used && rs->has_proposal && rs->validity != VALIDITY_UNKNOWN &&
            round_in_window(e, rs->round) && id_equal(rs->proposal.id, id)) {
            return rs->validity;
        }
    }
    return VALIDITY_UNKNOWN;
}

static int proposal_names(const struct cons_engine *e,
                          const uint8_t id[CONS_ID_SIZE])
{
    for (size_t i = 0; i < ROUND_SLOTS; i++) {
        const struct round_state *rs = &e->rounds[i];
        if (rs->used && rs->has_proposal && round_in_window(e, rs->round) &&
            id_equal(rs->proposal.id, id)) {
            return 1;
        }
    }
    return 0;
}

/* Install @p (checked) as the proposal of @rs, tally the votes already
 * held for its id, and learn its validity: @own proposals (a value the
 * host built, or validValue) are valid; otherwise reuse what is known of
 * the id or ask the host once (CONS_ACT_VALIDATE). */
static void proposal_store(struct cons_engine *e, struct round_state *rs,
                           const struct cons_proposal *p, int own)
{
    TDEI_ASSERT(!rs->has_proposal);
    rs->has_proposal = 1;
    rs->proposal = *p;
    for (size_t t = 0; t < VOTE_TYPES; t++) {
        rs->prop_count[t] = 0;
        for (size_t i = 0; i < e->vset.n; i++) {
            if (slot_matches(&rs->votes[t][i], p->id)) {
                rs->prop_count[t]++;
            }
        }
    }
    sender_mark(rs, (int)proposer_index(e->height, p->round, e->vset.n));
    if (own) {
        rs->validity = VALIDITY_VALID;
        return;
    }
    rs->validity = validity_known(e, p->id);
    if (rs->validity == VALIDITY_UNKNOWN) {
        struct cons_action *a = action_push(e, CONS_ACT_VALIDATE);
        a->round = p->round;
        memcpy(a->id, p->id, CONS_ID_SIZE);
        rs->validity = VALIDITY_PENDING;
    }
}

/* ---- the double-sign guard and own messages ----------------------------- */

/* Where (h, round, @step) stands against the last signed record: < 0
 * earlier (never sign), 0 the same (re-send it), > 0 later (sign). */
static int guard_cmp(const struct cons_engine *e, enum cons_step step)
{
    const struct cons_signed *r = &e->last_signed;

    if (!e->has_signed) {
        return 1;
    }
    return hrs_cmp(e->height, e->round, step, r->height, r->round, r->step);
}

static int bytes_match(const struct cons_signed *r, const uint8_t *bytes,
                       size_t len)
{
    return len == r->len && memcmp(bytes, r->bytes, len) == 0;
}

/* Record the signature of @bytes for (h, round, @step) and emit PERSIST;
 * the caller emits the broadcast right after (the host makes the record
 * durable first). */
static void guard_record(struct cons_engine *e, enum cons_step step,
                         const uint8_t *bytes, size_t len,
                         const uint8_t sig[CONS_SIG_SIZE],
                         const struct cons_id *id, int32_t pol_round)
{
    struct cons_signed *r = &e->last_signed;
    struct cons_action *a;

    TDEI_ASSERT(guard_cmp(e, step) > 0);
    memset(r, 0, sizeof(*r));
    r->height = e->height;
    r->round = e->round;
    r->step = step;
    r->len = len;
    memcpy(r->bytes, bytes, len);
    memcpy(r->sig, sig, CONS_SIG_SIZE);
    r->id = *id;
    if (r->id.nil) {
        memset(r->id.bytes, 0, CONS_ID_SIZE);
    }
    r->pol_round = pol_round;
    e->has_signed = 1;
    a = action_push(e, CONS_ACT_PERSIST);
    a->signed_msg = *r;
}

/* Fill @v as this validator's vote of @type for @id at (h, round). */
static void vote_fill(const struct cons_engine *e, struct cons_vote *v,
                      enum cons_vote_type type, const struct cons_id *id)
{
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->height = e->height;
    v->round = e->round;
    v->id.nil = id->nil ? 1 : 0;
    if (!v->id.nil) {
        memcpy(v->id.bytes, id->bytes, CONS_ID_SIZE);
    }
    memcpy(v->validator, e->self, CONS_KEY_SIZE);
}

/* The vote already signed at (h, round, step): the record's own message
 * when its fields rebuild its sign bytes, else @v when @v's bytes are the
 * record's. Fills @v (with the record's signature) and returns 1, or 0
 * when neither matches (then nothing may be sent). */
static int vote_from_record(const struct cons_engine *e, struct cons_vote *v)
{
    const struct cons_signed *r = &e->last_signed;
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    struct cons_vote rv;
    size_t len;

    vote_fill(e, &rv, v->type, &r->id);
    len = e->crypto.vote_bytes(e->crypto.impl, &rv, bytes);
    TDEI_ASSERT(len <= CONS_SIGN_BYTES_MAX);
    if (!bytes_match(r, bytes, len)) {
        rv = *v;
        len = e->crypto.vote_bytes(e->crypto.impl, &rv, bytes);
        TDEI_ASSERT(len <= CONS_SIGN_BYTES_MAX);
        if (!bytes_match(r, bytes, len)) {
            return 0;
        }
    }
    memcpy(rv.sig, r->sig, CONS_SIG_SIZE);
    *v = rv;
    return 1;
}

/* Sign and broadcast this validator's vote of @type for @id at (h, round)
 * through the guard, and count it. Observers, a refused guard or a failed
 * signature send nothing; the caller's step change happens regardless. */
static void vote_send(struct cons_engine *e, enum cons_vote_type type,
                      const struct cons_id *id)
{
    enum cons_step step =
        type == CONS_PREVOTE ? CONS_STEP_PREVOTE : CONS_STEP_PRECOMMIT;
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    struct cons_vote v;
    struct cons_action *a;
    int cmp;

    if (e->self_index < 0) {
        return;
    }
    vote_fill(e, &v, type, id);
    cmp = guard_cmp(e, step);
    if (cmp < 0) {
        return; /* earlier than the last signed (h, r, step): never */
    }
    if (cmp == 0) {
        if (!vote_from_record(e, &v)) {
            return; /* would conflict, and the record cannot be rebuilt */
        }
    } else {
        size_t len = e->crypto.vote_bytes(e->crypto.impl, &v, bytes);
        TDEI_ASSERT(len > 0 && len <= CONS_SIGN_BYTES_MAX);
        if (e->crypto.sign(e->crypto.impl, bytes, len, v.sig) != 0) {
            return;
        }
        guard_record(e, step, bytes, len, v.sig, &v.id, -1);
    }
    a = action_push(e, CONS_ACT_BROADCAST_VOTE);
    a->vote = v;
    (void)vote_store(e, round_claim(e, e->round), e->self_index, &v);
}

/* The proposal already signed at (h, round): as vote_from_record. */
static int proposal_from_record(const struct cons_engine *e,
                                struct cons_proposal *p)
{
    const struct cons_signed *r = &e->last_signed;
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    struct cons_proposal rp = *p;
    size_t len;

    if (!r->id.nil && r->pol_round >= -1 &&
        (int64_t)r->pol_round < (int64_t)e->round) {
        memcpy(rp.id, r->id.bytes, CONS_ID_SIZE);
        rp.pol_round = r->pol_round;
        len = e->crypto.proposal_bytes(e->crypto.impl, &rp, bytes);
        TDEI_ASSERT(len <= CONS_SIGN_BYTES_MAX);
        if (bytes_match(r, bytes, len)) {
            memcpy(rp.sig, r->sig, CONS_SIG_SIZE);
            *p = rp;
            return 1;
        }
    }
    len = e->crypto.proposal_bytes(e->crypto.impl, p, bytes);
    TDEI_ASSERT(len <= CONS_SIGN_BYTES_MAX);
    if (!bytes_match(r, bytes, len)) {
        return 0;
    }
    memcpy(p->sig, r->sig, CONS_SIG_SIZE);
    return 1;
}

/* Sign and broadcast PROPOSAL(h, round, @id, @pol_round) through the
 * guard [11-21] and hold it as the round's proposal. Returns 1 when a
 * proposal went out. A re-sent record's block is validated like a
 * received one (the restarted host may no longer hold it). */
static int proposal_send(struct cons_engine *e, const uint8_t id[CONS_ID_SIZE],
                         int32_t pol_round)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    struct cons_proposal p;
    struct cons_action *a;
    struct round_state *rs;
    int cmp = guard_cmp(e, CONS_STEP_PROPOSE);

    TDEI_ASSERT(e->self_index >= 0);
    TDEI_ASSERT(pol_round >= -1 && (int64_t)pol_round < (int64_t)e->round);
    memset(&p, 0, sizeof(p));
    p.height = e->height;
    p.round = e->round;
    p.pol_round = pol_round;
    memcpy(p.id, id, CONS_ID_SIZE);
    memcpy(p.proposer, e->self, CONS_KEY_SIZE);
    if (cmp < 0) {
        return 0; /* earlier than the last signed (h, r, step): never */
    }
    if (cmp == 0) {
        if (!proposal_from_record(e, &p)) {
            return 0;
        }
    } else {
        size_t len = e->crypto.proposal_bytes(e->crypto.impl, &p, bytes);
        struct cons_id cid = {.nil = 0};
        TDEI_ASSERT(len > 0 && len <= CONS_SIGN_BYTES_MAX);
        if (e->crypto.sign(e->crypto.impl, bytes, len, p.sig) != 0) {
            return 0;
        }
        memcpy(cid.bytes, id, CONS_ID_SIZE);
        guard_record(e, CONS_STEP_PROPOSE, bytes, len, p.sig, &cid, pol_round);
    }
    a = action_push(e, CONS_ACT_BROADCAST_PROPOSAL);
    a->proposal = p;
    rs = round_claim(e, e->round);
    if (!rs->has_proposal) {
        proposal_store(e, rs, &p, cmp > 0);
    }
    return 1;
}

/* ---- Algorithm 1 -------------------------------------------------------- */

/* StartRound(r) [11-21]. */
static void start_round(struct cons_engine *e, uint32_t round)
{
    e->round = round;
    e->step = CONS_STEP_PROPOSE;
    e->fired_prevote_any = 0;
    e->fired_lock = 0;
    e->fired_precommit_any = 0;
    e->awaiting_value = 0;
    if (e->self_index < 0 ||
        proposer_index(e->height, round, e->vset.n) != (size_t)e->self_index) {
        schedule_timeout(e, CONS_TIMEOUT_PROPOSE);
        return;
    }
    if (e->has_signed && guard_cmp(e, CONS_STEP_PROPOSE) == 0 &&
        !e->last_signed.id.nil && e->last_signed.pol_round >= -1 &&
        (int64_t)e->last_signed.pol_round < (int64_t)round) {
        /* Restarted after proposing at (h, r): the identical proposal. */
        if (!proposal_send(e, e->last_signed.id.bytes,
                           e->last_signed.pol_round)) {
            schedule_timeout(e, CONS_TIMEOUT_PROPOSE);
        }
        return;
    }
    if (e->valid_round >= 0) {
        if (!proposal_send(e, e->valid_id, (int32_t)e->valid_round)) {
            /* Not the paper's: a proposer that cannot send (guard,
             * signer) still leaves the round by timeout. */
            schedule_timeout(e, CONS_TIMEOUT_PROPOSE);
        }
        return;
    }
    e->awaiting_value = 1;
    (void)action_push(e, CONS_ACT_GET_VALUE);
}

/* Decide [49-54]: decision[h] = v. The host commits the block and calls
 * cons_start_height(h + 1), which resets the height's state. */
static void decide(struct cons_engine *e, const struct round_state *rs)
{
    struct cons_action *a = action_push(e, CONS_ACT_DECIDE);

    a->round = rs->round;
    memcpy(a->id, rs->proposal.id, CONS_ID_SIZE);
    a->commit_n = rs->prop_count[1];
    e->decided = 1;
}

/* [49-54] from any held round: the proposal v for (h, r), 2f+1
 * PRECOMMIT(h, r, id(v)), valid(v). An invalid v is never decided; a
 * pending one waits for the host's answer. */
static int rule_decide(struct cons_engine *e)
{
    uint32_t q = quorum(e->vset.n);
    uint64_t hi = (uint64_t)e->round + CONS_ROUNDS_AHEAD_MAX;

    for (uint64_t r = window_low(e); r <= hi; r++) {
        const struct round_state *rs = round_get(e, (uint32_t)r);
        if (rs != NULL && rs->has_proposal && rs->prop_count[1] >= q &&
            rs->validity == VALIDITY_VALID) {
            decide(e, rs);
            return 1;
        }
    }
    return 0;
}

/* [55-56]: messages for a round r' > round from f+1 validators:
 * StartRound(r'), the highest such r'. */
static int rule_skip(struct cons_engine *e)
{
    uint32_t f1 = skip_threshold(e->vset.n);
    uint64_t hi = (uint64_t)e->round + CONS_ROUNDS_AHEAD_MAX;

    for (uint64_t r = hi; r > e->round; r--) {
        const struct round_state *rs = round_get(e, (uint32_t)r);
        if (rs != NULL && rs->sender_count >= f1) {
            start_round(e, (uint32_t)r);
            return 1;
        }
    }
    return 0;
}

/* [22-27] and [28-33]: the round's proposal while step = propose. */
static int rule_proposal(struct cons_engine *e)
{
    const struct round_state *rs = round_get(e, e->round);
    struct cons_id vote = {.nil = 1};
    int32_t vr;
    int accept;

    if (e->step != CONS_STEP_PROPOSE || rs == NULL || !rs->has_proposal ||
        (rs->validity != VALIDITY_VALID && rs->validity != VALIDITY_INVALID)) {
        return 0;
    }
    vr = rs->proposal.pol_round;
    if (vr == -1) {
        /* [22-27] */
        accept =
            rs->validity == VALIDITY_VALID &&
            (e->locked_round == -1 || id_equal(e->locked_id, rs->proposal.id));
    } else {
        /* [28-33]: only with 2f+1 PREVOTE(h, vr, id(v)) (a polka at vr);
         * vr < round is checked on receipt. */
        const struct round_state *pr = round_get(e, (uint32_t)vr);
        if (pr == NULL ||
            prevotes_for(e, pr, rs->proposal.id) < quorum(e->vset.n)) {
            return 0;
        }
        accept = rs->validity == VALIDITY_VALID &&
                 (e->locked_round <= (int64_t)vr ||
                  id_equal(e->locked_id, rs->proposal.id));
    }
    if (accept) {
        vote.nil = 0;
        memcpy(vote.bytes, rs->proposal.id, CONS_ID_SIZE);
    }
    vote_send(e, CONS_PREVOTE, &vote);
    e->step = CONS_STEP_PREVOTE;
    return 1;
}

/* [34-35]: 2f+1 prevotes of any kind for (h, round), first time, while
 * step = prevote: arm timeoutPrevote. */
static int rule_prevote_any(struct cons_engine *e)
{
    const struct round_state *rs = round_get(e, e->round);

    if (e->fired_prevote_any || e->step != CONS_STEP_PREVOTE || rs == NULL ||
        rs->count[0] < quorum(e->vset.n)) {
        return 0;
    }
    e->fired_prevote_any = 1;
    schedule_timeout(e, CONS_TIMEOUT_PREVOTE);
    return 1;
}

/* [36-43]: the round's proposal v, valid, with 2f+1 PREVOTE(h, round,
 * id(v)), step >= prevote, first time. At prevote: lock and precommit
 * id(v). In every case: validValue = v, validRound = round. */
static int rule_lock(struct cons_engine *e)
{
    const struct round_state *rs = round_get(e, e->round);

    if (e->fired_lock || e->step < CONS_STEP_PREVOTE || rs == NULL ||
        !rs->has_proposal || rs->validity != VALIDITY_VALID ||
        rs->prop_count[0] < quorum(e->vset.n)) {
        return 0;
    }
    e->fired_lock = 1;
    if (e->step == CONS_STEP_PREVOTE) {
        struct cons_id vote = {.nil = 0};
        e->locked_round = e->round;
        memcpy(e->locked_id, rs->proposal.id, CONS_ID_SIZE);
        memcpy(vote.bytes, rs->proposal.id, CONS_ID_SIZE);
        vote_send(e, CONS_PRECOMMIT, &vote);
        e->step = CONS_STEP_PRECOMMIT;
    }
    e->valid_round = e->round;
    memcpy(e->valid_id, rs->proposal.id, CONS_ID_SIZE);
    return 1;
}

/* [44-46]: 2f+1 PREVOTE(h, round, nil) while step = prevote: precommit
 * nil. */
static int rule_prevote_nil(struct cons_engine *e)
{
    const struct round_state *rs = round_get(e, e->round);
    struct cons_id nil = {.nil = 1};

    if (e->step != CONS_STEP_PREVOTE || rs == NULL ||
        rs->nil_count[0] < quorum(e->vset.n)) {
        return 0;
    }
    vote_send(e, CONS_PRECOMMIT, &nil);
    e->step = CONS_STEP_PRECOMMIT;
    return 1;
}

/* [47-48]: 2f+1 precommits of any kind for (h, round), first time: arm
 * timeoutPrecommit. */
static int rule_precommit_any(struct cons_engine *e)
{
    const struct round_state *rs = round_get(e, e->round);

    if (e->fired_precommit_any || rs == NULL ||
        rs->count[1] < quorum(e->vset.n)) {
        return 0;
    }
    e->fired_precommit_any = 1;
    schedule_timeout(e, CONS_TIMEOUT_PRECOMMIT);
    return 1;
}

/* Fire every upon-rule whose condition holds until none does. */
static void rules_run(struct cons_engine *e)
{
    for (int pass = 0; pass < RULE_PASSES_MAX; pass++) {
        int fired;
        if (e->decided || rule_decide(e)) {
            return;
        }
        fired = rule_skip(e);
        fired |= rule_proposal(e);
        fired |= rule_prevote_any(e);
        fired |= rule_lock(e);
        fired |= rule_prevote_nil(e);
        fired |= rule_precommit_any(e);
        if (!fired) {
            return;
        }
    }
    TDEI_ASSERT(!"the rules did not settle");
}

/* ---- public API --------------------------------------------------------- */

int cons_engine_create(struct cons_engine **out,
                       const uint8_t self[CONS_KEY_SIZE],
                       const struct cons_crypto *crypto,
                       const struct cons_timeouts *timeouts)
{
    struct cons_engine *e;

    TDEI_ASSERT(crypto->vote_bytes != NULL && crypto->proposal_bytes != NULL);
    TDEI_ASSERT(crypto->sign != NULL && crypto->verify != NULL);
    *out = NULL;
    e = tdei_calloc(1, sizeof(*e));
    if (e == NULL) {
        return TDEI_NOMEM;
    }
    e->rounds = tdei_calloc(ROUND_SLOTS, sizeof(*e->rounds));
    if (e->rounds == NULL) {
        tdei_free(e);
        return TDEI_NOMEM;
    }
    memcpy(e->self, self, CONS_KEY_SIZE);
    e->crypto = *crypto;
    e->timeouts = *timeouts;
    e->self_index = -1;
    e->step = CONS_STEP_PROPOSE;
    e->locked_round = -1;
    e->valid_round = -1;
    *out = e;
    return 0;
}

void cons_engine_destroy(struct cons_engine *e)
{
    if (e == NULL) {
        return;
    }
    tdei_free(e->rounds);
    tdei_free(e);
}

void cons_restore(struct cons_engine *e, const struct cons_signed *last)
{
    if (last == NULL) {
        return;
    }
    TDEI_ASSERT(last->step >= CONS_STEP_PROPOSE &&
                last->step <= CONS_STEP_PRECOMMIT);
    TDEI_ASSERT(last->len <= CONS_SIGN_BYTES_MAX);
    /* Never move the guard backwards. */
    if (e->has_signed &&
        hrs_cmp(last->height, last->round, last->step, e->last_signed.height,
                e->last_signed.round, e->last_signed.step) < 0) {
        return;
    }
    e->last_signed = *last;
    e->has_signed = 1;
}

void cons_start_height(struct cons_engine *e, uint64_t height,
                       const struct cons_vset *vset)
{
    TDEI_ASSERT(vset->n >= 1 && vset->n <= CONS_VALIDATORS_MAX);
    for (size_t i = 1; i < vset->n; i++) {
        TDEI_ASSERT(memcmp(vset->keys[i - 1], vset->keys[i], CONS_KEY_SIZE) <
                    0);
    }
    e->started = 1;
    e->height = height;
    e->vset.n = vset->n;
    memcpy(e->vset.keys, vset->keys, vset->n * CONS_KEY_SIZE);
    e->self_index = vset_find(&e->vset, e->self);
    e->decided = 0;
    e->locked_round = -1;
    e->valid_round = -1;
    memset(e->locked_id, 0, CONS_ID_SIZE);
    memset(e->valid_id, 0, CONS_ID_SIZE);
    for (size_t i = 0; i < ROUND_SLOTS; i++) {
        e->rounds[i].used = 0; /* cleared when claimed */
    }
    e->round = 0;
    start_round(e, 0);
    rules_run(e);
}

int cons_on_proposal(struct cons_engine *e, const struct cons_proposal *p)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    struct round_state *rs;
    size_t len;
    int index;

    if (!e->started || p->height != e->height) {
        return TDEI_WRONG_HEIGHT;
    }
    if (p->pol_round < -1 || (int64_t)p->pol_round >= (int64_t)p->round) {
        return TDEI_MALFORMED;
    }
    if (!round_in_window(e, p->round)) {
        return TDEI_ROUND_RANGE;
    }
    index = vset_find(&e->vset, p->proposer);
    if (index < 0) {
        return TDEI_NOT_VOTER;
    }
    if ((size_t)index != proposer_index(e->height, p->round, e->vset.n)) {
        return TDEI_NOT_PROPOSER;
    }
    rs = round_get(e, p->round);
    if (rs != NULL && rs->has_proposal && id_equal(rs->proposal.id, p->id) &&
        rs->proposal.pol_round == p->pol_round &&
        memcmp(rs->proposal.sig, p->sig, CONS_SIG_SIZE) == 0) {
        return 0; /* the same message again */
    }
    len = e->crypto.proposal_bytes(e->crypto.impl, p, bytes);
    TDEI_ASSERT(len <= CONS_SIGN_BYTES_MAX);
    if (!e->crypto.verify(e->crypto.impl, p->proposer, bytes, len, p->sig)) {
        return TDEI_BADSIG;
    }
    if (e->decided) {
        return 0; /* decision[h] is set: nothing left to validate */
    }
    if (rs != NULL && rs->has_proposal) {
        if (id_equal(rs->proposal.id, p->id) &&
            rs->proposal.pol_round == p->pol_round) {
            return 0; /* the same proposal, another valid signature */
        }
        /* A second, conflicting proposal signed by proposer(h, r): the
         * first one stands. This is proposer equivocation, but the
         * Evidence message carries two votes only, so it is reported to
         * the host through the code alone. */
        return TDEI_EQUIVOCATION;
    }
    rs = round_claim(e, p->round);
    proposal_store(e, rs, p, 0);
    rules_run(e);
    return 0;
}

int cons_on_vote(struct cons_engine *e, const struct cons_vote *v)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    struct round_state *rs;
    size_t len;
    int index;
    int rc;

    if (!e->started || v->height != e->height) {
        return TDEI_WRONG_HEIGHT;
    }
    if ((v->type != CONS_PREVOTE && v->type != CONS_PRECOMMIT) ||
        (v->id.nil != 0 && v->id.nil != 1)) {
        return TDEI_MALFORMED;
    }
    if (!round_in_window(e, v->round)) {
        return TDEI_ROUND_RANGE;
    }
    index = vset_find(&e->vset, v->validator);
    if (index < 0) {
        return TDEI_NOT_VOTER;
    }
    rs = round_get(e, v->round);
    if (rs != NULL) {
        const struct vote_slot *s = &rs->votes[type_index(v->type)][index];
        if (s->present && slot_same_id(s, &v->id) &&
            memcmp(s->sig, v->sig, CONS_SIG_SIZE) == 0) {
            return 0; /* the same message again */
        }
    }
    len = e->crypto.vote_bytes(e->crypto.impl, v, bytes);
    TDEI_ASSERT(len <= CONS_SIGN_BYTES_MAX);
    if (!e->crypto.verify(e->crypto.impl, v->validator, bytes, len, v->sig)) {
        return TDEI_BADSIG;
    }
    rs = round_claim(e, v->round);
    rc = vote_store(e, rs, index, v);
    if (rc == 1) {
        return 0; /* the same vote, another valid signature */
    }
    if (rc == 2) {
        rules_run(e); /* an equivocator's other vote joined a tally */
        return TDEI_EQUIVOCATION;
    }
    if (rc != 0) {
        return rc;
    }
    rules_run(e);
    return 0;
}

void cons_on_timeout(struct cons_engine *e, enum cons_timeout kind,
                     uint64_t height, uint32_t round)
{
    struct cons_id nil = {.nil = 1};

    /* Each handler first checks that (h, round) is unchanged. */
    if (!e->started || e->decided || height != e->height || round != e->round) {
        return;
    }
    switch (kind) {
    case CONS_TIMEOUT_PROPOSE: /* OnTimeoutPropose: guard step = propose */
        if (e->step != CONS_STEP_PROPOSE) {
            return;
        }
        vote_send(e, CONS_PREVOTE, &nil);
        e->step = CONS_STEP_PREVOTE;
        break;
    case CONS_TIMEOUT_PREVOTE: /* OnTimeoutPrevote */
        if (e->step != CONS_STEP_PREVOTE) {
            return;
        }
        vote_send(e, CONS_PRECOMMIT, &nil);
        e->step = CONS_STEP_PRECOMMIT;
        break;
    case CONS_TIMEOUT_PRECOMMIT: /* OnTimeoutPrecommit */
        TDEI_ASSERT(e->round < UINT32_MAX);
        start_round(e, e->round + 1u);
        break;
    default:
        return;
    }
    rules_run(e);
}

void cons_on_value(struct cons_engine *e, uint64_t height, uint32_t round,
                   const uint8_t id[CONS_ID_SIZE])
{
    if (!e->started || e->decided || !e->awaiting_value ||
        height != e->height || round != e->round ||
        e->step != CONS_STEP_PROPOSE) {
        return; /* stale: the round moved on */
    }
    e->awaiting_value = 0;
    if (!proposal_send(e, id, -1)) {
        schedule_timeout(e, CONS_TIMEOUT_PROPOSE); /* as in start_round */
    }
    rules_run(e);
}

void cons_on_validity(struct cons_engine *e, uint64_t height,
                      const uint8_t id[CONS_ID_SIZE], int valid)
{
    int changed = 0;

    if (!e->started || height != e->height) {
        return;
    }
    for (size_t i = 0; i < ROUND_SLOTS; i++) {
        struct round_state *rs = &e->rounds[i];
        if (rs->used && rs->has_proposal && round_in_window(e, rs->round) &&
            rs->validity == VALIDITY_PENDING && id_equal(rs->proposal.id, id)) {
            rs->validity = valid ? VALIDITY_VALID : VALIDITY_INVALID;
            changed = 1;
        }
    }
    if (changed) {
        rules_run(e);
    }
}

int cons_on_decided(struct cons_engine *e, uint64_t height, uint32_t round,
                    const uint8_t id[CONS_ID_SIZE],
                    const struct cons_vote *votes, size_t n)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct cons_action *a;
    int rc;

    if (!e->started || height != e->height) {
        return TDEI_WRONG_HEIGHT;
    }
    rc = cons_commit_verify(&e->crypto, &e->vset, height, round, id, votes, n,
                            errmsg);
    if (rc != 0) {
        return rc;
    }
    if (e->decided) {
        return 0;
    }
    if (round_in_window(e, round)) {
        /* Keep the commit's precommits for cons_commit_votes. */
        struct round_state *rs = round_claim(e, round);
        for (size_t i = 0; i < n; i++) {
            (void)vote_store(e, rs, vset_find(&e->vset, votes[i].validator),
                             &votes[i]);
        }
    }
    a = action_push(e, CONS_ACT_DECIDE);
    a->round = round;
    memcpy(a->id, id, CONS_ID_SIZE);
    a->commit_n = precommits_for(e, round, id);
    e->decided = 1;
    return 0;
}

int cons_next_action(struct cons_engine *e, struct cons_action *out)
{
    if (e->ring_count == 0) {
        memset(out, 0, sizeof(*out));
        out->kind = CONS_ACT_NONE;
        return 0;
    }
    *out = e->ring[e->ring_head];
    e->ring_head = (e->ring_head + 1u) % CONS_ACTIONS_MAX;
    e->ring_count--;
    return 1;
}

size_t cons_commit_votes(const struct cons_engine *e, uint64_t height,
                         uint32_t round, const uint8_t id[CONS_ID_SIZE],
                         struct cons_vote *out, size_t cap)
{
    const struct round_state *rs;
    size_t count = 0;

    if (!e->started || height != e->height) {
        return 0;
    }
    rs = round_get(e, round);
    if (rs == NULL) {
        return 0;
    }
    for (size_t i = 0; i < e->vset.n && count < cap; i++) {
        if (slot_matches(&rs->votes[1][i], id)) {
            slot_vote_for(e, rs, 1, i, id, &out[count]);
            count++;
        }
    }
    return count;
}

uint64_t cons_height(const struct cons_engine *e) { return e->height; }

uint32_t cons_round(const struct cons_engine *e) { return e->round; }

enum cons_step cons_step(const struct cons_engine *e) { return e->step; }

const char *cons_step_name(unsigned step)
{
    switch (step) {
    case CONS_STEP_PROPOSE:
        return "propose";
    case CONS_STEP_PREVOTE:
        return "prevote";
    case CONS_STEP_PRECOMMIT:
        return "precommit";
    default:
        return "?";
    }
}

int cons_commit_verify(const struct cons_crypto *crypto,
                       const struct cons_vset *vset, uint64_t height,
                       uint32_t round, const uint8_t id[CONS_ID_SIZE],
                       const struct cons_vote *votes, size_t n, char *errmsg)
{
    uint8_t seen[CONS_VALIDATORS_MAX / 8u] = {0};
    uint8_t bytes[CONS_SIGN_BYTES_MAX];

    TDEI_ASSERT(vset->n >= 1 && vset->n <= CONS_VALIDATORS_MAX);
    errmsg[0] = '\0';
    /* The cheap checks and the count first, the signatures last: a forged
     * commit costs no signature checks. The loop stops at the first
     * repeat, so it runs at most vset->n + 1 times. */
    for (size_t i = 0; i < n; i++) {
        const struct cons_vote *v = &votes[i];
        int index;
        uint8_t bit;
        if (v->type != CONS_PRECOMMIT || v->height != height ||
            v->round != round || v->id.nil != 0 || !id_equal(v->id.bytes, id)) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                               "commit vote %zu is not a precommit for the "
                               "block at height %llu round %u",
                               i, (unsigned long long)height, round);
        }
        index = vset_find(vset, v->validator);
        if (index < 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOT_VOTER,
                               "commit vote %zu is from a key outside the "
                               "validator set",
                               i);
        }
        bit = (uint8_t)(1u << ((unsigned)index % 8u));
        if ((seen[(unsigned)index / 8u] & bit) != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                               "commit vote %zu repeats validator %d", i,
                               index);
        }
        seen[(unsigned)index / 8u] =
            (uint8_t)(seen[(unsigned)index / 8u] | bit);
    }
    if (n < quorum(vset->n)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NO_QUORUM,
                           "commit has precommits of %zu of %zu validators, "
                           "needs %u (more than 2/3)",
                           n, vset->n, quorum(vset->n));
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = crypto->vote_bytes(crypto->impl, &votes[i], bytes);
        TDEI_ASSERT(len <= CONS_SIGN_BYTES_MAX);
        if (!crypto->verify(crypto->impl, votes[i].validator, bytes, len,
                            votes[i].sig)) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADSIG,
                               "commit vote %zu has a bad signature", i);
        }
    }
    return 0;
}
