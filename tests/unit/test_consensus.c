/* Tests of the consensus engine (node/consensus/engine.h): one engine
 * driven by hand with signed messages from the other validators, one test
 * per rule of Algorithm 1 that changes state (the paper's line numbers as
 * ../shared/CONSENSUS.md §1 gives them), plus vote counting, evidence, the
 * double-sign guard across a restart and commit verification.
 *
 * Crypto is a deterministic fake: a signature is SHA-256 keyed by the
 * validator's key, so the tests can sign as any validator. */
#include "testutil.h"

#include "consensus/engine.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hash.h"

#include <string.h>

#define ACTS_MAX 512
#define H 4u /* the default height: proposer(4, r) = (4 + r) mod n */

/* ---- fake crypto -------------------------------------------------------- */

struct signer
{
    uint8_t key[CONS_KEY_SIZE]; /* whose signatures sign() makes */
    int calls;                  /* sign() calls */
    int fail;                   /* 1: sign() fails */
};

static void put_be(uint8_t *out, uint64_t x, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(x >> (8u * (len - 1u - i)));
    }
}

static size_t fake_vote_bytes(void *impl, const struct cons_vote *v,
                              uint8_t out[CONS_SIGN_BYTES_MAX])
{
    (void)impl;
    memset(out, 0, 47);
    out[0] = 'V';
    out[1] = (uint8_t)v->type;
    put_be(out + 2, v->height, 8);
    put_be(out + 10, v->round, 4);
    out[14] = (uint8_t)(v->id.nil ? 1 : 0);
    if (!v->id.nil) {
        memcpy(out + 15, v->id.bytes, CONS_ID_SIZE);
    }
    return 47;
}

static size_t fake_proposal_bytes(void *impl, const struct cons_proposal *p,
                                  uint8_t out[CONS_SIGN_BYTES_MAX])
{
    (void)impl;
    out[0] = 'P';
    put_be(out + 1, p->height, 8);
    put_be(out + 9, p->round, 4);
    put_be(out + 13, (uint32_t)p->pol_round, 4);
    memcpy(out + 17, p->id, CONS_ID_SIZE);
    return 49;
}

static void fake_sig(const uint8_t key[CONS_KEY_SIZE], const uint8_t *bytes,
                     size_t len, uint8_t sig[CONS_SIG_SIZE])
{
    struct tdei_sha256 c;

    tdei_sha256_init(&c);
    tdei_sha256_update(&c, key, CONS_KEY_SIZE);
    tdei_sha256_update(&c, bytes, len);
    tdei_sha256_final(&c, sig);
    tdei_sha256_init(&c);
    tdei_sha256_update(&c, bytes, len);
    tdei_sha256_update(&c, key, CONS_KEY_SIZE);
    tdei_sha256_final(&c, sig + 32);
}

static int fake_sign(void *impl, const uint8_t *bytes, size_t len,
                     uint8_t sig[CONS_SIG_SIZE])
{
    struct signer *s = impl;

    s->calls++;
    if (s->fail) {
        return TDEI_CRYPTO;
    }
    fake_sig(s->key, bytes, len, sig);
    return 0;
}

static int fake_verify(void *impl, const uint8_t key[CONS_KEY_SIZE],
                       const uint8_t *bytes, size_t len,
                       const uint8_t sig[CONS_SIG_SIZE])
{
    uint8_t want[CONS_SIG_SIZE];

    (void)impl;
    fake_sig(key, bytes, len, want);
    return memcmp(want, sig, CONS_SIG_SIZE) == 0;
}

/* ---- fixture ------------------------------------------------------------ */

static struct
{
    struct cons_vset vset;
    struct signer signer;
    struct cons_crypto crypto;
    struct cons_timeouts timeouts;
    struct cons_engine *e;
    uint64_t h;
    int self_index;                    /* -1: observer */
    struct cons_action acts[ACTS_MAX]; /* drained by drain() */
    size_t nacts;
} fx;

/* Validator i's key: ascending in i. */
static void key_of(int i, uint8_t key[CONS_KEY_SIZE])
{
    memset(key, 0xa0 + i, CONS_KEY_SIZE);
    key[0] = (uint8_t)(0x10 + i);
}

/* Block id x: 32 bytes of x. */
static const uint8_t *blk(int x)
{
    static uint8_t ids[256][CONS_ID_SIZE];

    memset(ids[x], x, CONS_ID_SIZE);
    return ids[x];
}

static void fixture_setup(void)
{
    testutil_leak_setup();
    memset(&fx, 0, sizeof(fx));
    fx.crypto.vote_bytes = fake_vote_bytes;
    fx.crypto.proposal_bytes = fake_proposal_bytes;
    fx.crypto.sign = fake_sign;
    fx.crypto.verify = fake_verify;
    fx.crypto.impl = &fx.signer;
    fx.timeouts = (struct cons_timeouts){.propose_ms = 1000,
                                         .propose_delta_ms = 500,
                                         .prevote_ms = 800,
                                         .prevote_delta_ms = 300,
                                         .precommit_ms = 600,
                                         .precommit_delta_ms = 200};
}

static void fixture_teardown(void)
{
    cons_engine_destroy(fx.e);
    fx.e = NULL;
    testutil_leak_teardown();
}

/* Take every pending action into fx.acts (replacing what was there). */
static void drain(void)
{
    fx.nacts = 0;
    while (cons_next_action(fx.e, &fx.acts[fx.nacts])) {
        fx.nacts++;
        ck_assert_uint_lt(fx.nacts, ACTS_MAX);
    }
}

static size_t count_kind(enum cons_action_kind kind)
{
    size_t n = 0;

    for (size_t i = 0; i < fx.nacts; i++) {
        n += fx.acts[i].kind == kind;
    }
    return n;
}

/* The @nth (0-based) drained action of @kind; fails the test if absent. */
static const struct cons_action *nth_kind(enum cons_action_kind kind,
                                          size_t nth)
{
    for (size_t i = 0; i < fx.nacts; i++) {
        if (fx.acts[i].kind == kind && nth-- == 0) {
            return &fx.acts[i];
        }
    }
    ck_abort_msg("no action of kind %d", (int)kind);
    return NULL;
}

/* The drained timeout schedules of @kind. */
static size_t count_timeouts(enum cons_timeout kind)
{
    size_t n = 0;

    for (size_t i = 0; i < fx.nacts; i++) {
        n += fx.acts[i].kind == CONS_ACT_SCHEDULE_TIMEOUT &&
             fx.acts[i].timeout == kind;
    }
    return n;
}

/* An engine for validator @self (-1: an observer) of @n validators at
 * height @h; its first actions are drained. */
static void engine_new(size_t n, int self, uint64_t h)
{
    fx.vset.n = n;
    for (size_t i = 0; i < n; i++) {
        key_of((int)i, fx.vset.keys[i]);
    }
    if (self >= 0) {
        key_of(self, fx.signer.key);
    } else {
        memset(fx.signer.key, 0xee, CONS_KEY_SIZE);
    }
    cons_engine_destroy(fx.e);
    ck_assert_int_eq(
        cons_engine_create(&fx.e, fx.signer.key, &fx.crypto, &fx.timeouts), 0);
    fx.h = h;
    fx.self_index = self;
    cons_start_height(fx.e, h, &fx.vset);
    drain();
}

/* Validator @i's signed vote; @id NULL is nil. */
static struct cons_vote vote_of(int i, enum cons_vote_type type, uint64_t h,
                                uint32_t r, const uint8_t *id)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    uint8_t key[CONS_KEY_SIZE];
    struct cons_vote v;
    size_t len;

    memset(&v, 0, sizeof(v));
    v.type = type;
    v.height = h;
    v.round = r;
    v.id.nil = id == NULL;
    if (id != NULL) {
        memcpy(v.id.bytes, id, CONS_ID_SIZE);
    }
    key_of(i, key);
    memcpy(v.validator, key, CONS_KEY_SIZE);
    len = fake_vote_bytes(NULL, &v, bytes);
    fake_sig(key, bytes, len, v.sig);
    return v;
}

static struct cons_proposal proposal_of(int i, uint64_t h, uint32_t r,
                                        int32_t pol, const uint8_t *id)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    struct cons_proposal p;
    size_t len;

    memset(&p, 0, sizeof(p));
    p.height = h;
    p.round = r;
    p.pol_round = pol;
    memcpy(p.id, id, CONS_ID_SIZE);
    key_of(i, p.proposer);
    len = fake_proposal_bytes(NULL, &p, bytes);
    fake_sig(p.proposer, bytes, len, p.sig);
    return p;
}

static int vote_eq(const struct cons_vote *a, const struct cons_vote *b)
{
    return a->type == b->type && a->height == b->height &&
           a->round == b->round && a->id.nil == b->id.nil &&
           (a->id.nil || memcmp(a->id.bytes, b->id.bytes, CONS_ID_SIZE) == 0) &&
           memcmp(a->validator, b->validator, CONS_KEY_SIZE) == 0 &&
           memcmp(a->sig, b->sig, CONS_SIG_SIZE) == 0;
}

/* Deliver validator @i's vote at the fixture height; returns the code. */
static int vote(int i, enum cons_vote_type type, uint32_t r, const uint8_t *id)
{
    struct cons_vote v = vote_of(i, type, fx.h, r, id);
    int rc = cons_on_vote(fx.e, &v);

    drain();
    return rc;
}

/* Deliver the proposal of proposer(h, r) (index @i) and answer its
 * validation (if asked) with @valid. */
static int propose(int i, uint32_t r, int32_t pol, const uint8_t *id, int valid)
{
    struct cons_proposal p = proposal_of(i, fx.h, r, pol, id);
    int rc = cons_on_proposal(fx.e, &p);

    drain();
    if (rc == 0 && count_kind(CONS_ACT_VALIDATE) == 1) {
        ck_assert(
            memcmp(nth_kind(CONS_ACT_VALIDATE, 0)->id, id, CONS_ID_SIZE) == 0);
        cons_on_validity(fx.e, fx.h, id, valid);
        drain();
    }
    return rc;
}

static void timeout(enum cons_timeout kind, uint32_t r)
{
    cons_on_timeout(fx.e, kind, fx.h, r);
    drain();
}

/* The drained broadcast vote (exactly one) is of @type for @id (NULL:
 * nil) at round @r, signed by this engine's key. */
static void expect_vote(enum cons_vote_type type, uint32_t r, const uint8_t *id)
{
    const struct cons_vote *v;
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    size_t len;

    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 1);
    v = &nth_kind(CONS_ACT_BROADCAST_VOTE, 0)->vote;
    ck_assert_int_eq(v->type, type);
    ck_assert_uint_eq(v->height, fx.h);
    ck_assert_uint_eq(v->round, r);
    ck_assert_int_eq(v->id.nil, id == NULL);
    if (id != NULL) {
        ck_assert(memcmp(v->id.bytes, id, CONS_ID_SIZE) == 0);
    }
    ck_assert(memcmp(v->validator, fx.signer.key, CONS_KEY_SIZE) == 0);
    len = fake_vote_bytes(NULL, v, bytes);
    ck_assert(fake_verify(NULL, v->validator, bytes, len, v->sig));
}

/* The last signed record the engine persisted among the drained actions. */
static struct cons_signed last_persisted(void)
{
    size_t n = count_kind(CONS_ACT_PERSIST);

    ck_assert_uint_gt(n, 0);
    return nth_kind(CONS_ACT_PERSIST, n - 1)->signed_msg;
}

/* Default non-proposer: n = 4, self = 3 at height 4 (proposers of rounds
 * 0, 1, 2, 3 are 0, 1, 2, 3). */
static void engine4(void) { engine_new(4, 3, H); }

/* Lock on @id at round @r (the engine at round @r, step propose, not the
 * proposer): proposal, own prevote, two more prevotes, own precommit. */
static void lock_on(uint32_t r, const uint8_t *id)
{
    int p = (int)((fx.h + r) % fx.vset.n);
    int sent = 0;

    ck_assert_int_ne(p, fx.self_index);
    ck_assert_int_eq(propose(p, r, -1, id, 1), 0);
    expect_vote(CONS_PREVOTE, r, id);
    /* Two more prevotes (n = 4: 2f+1 = 3 with the own one). */
    for (int i = 0; sent < 2; i++) {
        if (i != fx.self_index) {
            ck_assert_int_eq(vote(i, CONS_PREVOTE, r, id), 0);
            sent++;
        }
    }
    expect_vote(CONS_PRECOMMIT, r, id);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PRECOMMIT);
}

/* ---- [11-21] StartRound ------------------------------------------------- */

START_TEST(test_start_round_proposer_asks_value_then_proposes)
{
    const struct cons_proposal *p;
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    struct cons_signed rec;
    size_t len;

    engine_new(4, 0, H); /* proposer(4, 0) = 0 */
    ck_assert_uint_eq(fx.nacts, 1);
    ck_assert_int_eq(fx.acts[0].kind, CONS_ACT_GET_VALUE);
    ck_assert_uint_eq(fx.acts[0].height, H);
    ck_assert_uint_eq(fx.acts[0].round, 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_SCHEDULE_TIMEOUT), 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);

    cons_on_value(fx.e, H, 0, blk(0xaa));
    drain();
    /* PERSIST then BROADCAST_PROPOSAL, then the own prevote [22-27]. */
    ck_assert_int_eq(fx.acts[0].kind, CONS_ACT_PERSIST);
    ck_assert_int_eq(fx.acts[1].kind, CONS_ACT_BROADCAST_PROPOSAL);
    rec = fx.acts[0].signed_msg;
    p = &fx.acts[1].proposal;
    ck_assert_uint_eq(p->height, H);
    ck_assert_uint_eq(p->round, 0);
    ck_assert_int_eq(p->pol_round, -1);
    ck_assert(memcmp(p->id, blk(0xaa), CONS_ID_SIZE) == 0);
    len = fake_proposal_bytes(NULL, p, bytes);
    ck_assert(fake_verify(NULL, fx.signer.key, bytes, len, p->sig));
    ck_assert_int_eq(rec.step, CONS_STEP_PROPOSE);
    ck_assert_uint_eq(rec.len, len);
    ck_assert(memcmp(rec.bytes, bytes, len) == 0);
    ck_assert(memcmp(rec.sig, p->sig, CONS_SIG_SIZE) == 0);
    ck_assert_int_eq(fx.acts[2].kind, CONS_ACT_PERSIST);
    expect_vote(CONS_PREVOTE, 0, blk(0xaa));
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
    ck_assert_uint_eq(count_kind(CONS_ACT_VALIDATE), 0); /* own: valid */

    /* A stale value (another round) is ignored. */
    cons_on_value(fx.e, H, 1, blk(0xbb));
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
}
END_TEST

START_TEST(test_start_round_non_proposer_arms_timeout_propose)
{
    engine4();
    ck_assert_uint_eq(fx.nacts, 1);
    ck_assert_int_eq(fx.acts[0].kind, CONS_ACT_SCHEDULE_TIMEOUT);
    ck_assert_int_eq(fx.acts[0].timeout, CONS_TIMEOUT_PROPOSE);
    ck_assert_uint_eq(fx.acts[0].ms, 1000);
    ck_assert_uint_eq(fx.acts[0].height, H);
    ck_assert_uint_eq(fx.acts[0].round, 0);
    ck_assert_uint_eq(cons_height(fx.e), H);
    ck_assert_uint_eq(cons_round(fx.e), 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
}
END_TEST

START_TEST(test_start_round_proposer_reproposes_valid_value)
{
    const struct cons_proposal *p;

    engine_new(4, 1, H);   /* proposer(4, 1) = 1 */
    lock_on(0, blk(0xaa)); /* validValue = A, validRound = 0 */
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    ck_assert_uint_eq(cons_round(fx.e), 1);
    ck_assert_uint_eq(count_kind(CONS_ACT_GET_VALUE), 0);
    p = &nth_kind(CONS_ACT_BROADCAST_PROPOSAL, 0)->proposal;
    ck_assert_uint_eq(p->round, 1);
    ck_assert_int_eq(p->pol_round, 0);
    ck_assert(memcmp(p->id, blk(0xaa), CONS_ID_SIZE) == 0);
}
END_TEST

/* ---- [22-27] ------------------------------------------------------------ */

START_TEST(test_proposal_fresh_valid_prevotes_id)
{
    engine4();
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0);
    expect_vote(CONS_PREVOTE, 0, blk(0xaa));
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
}
END_TEST

START_TEST(test_proposal_waits_for_validity)
{
    struct cons_proposal p;

    engine4();
    p = proposal_of(0, H, 0, -1, blk(0xaa));
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), 0);
    drain();
    ck_assert_uint_eq(count_kind(CONS_ACT_VALIDATE), 1);
    ck_assert_uint_eq(nth_kind(CONS_ACT_VALIDATE, 0)->height, H);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
    cons_on_validity(fx.e, H + 1, blk(0xaa), 1); /* another height */
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
    cons_on_validity(fx.e, H, blk(0xaa), 1);
    drain();
    expect_vote(CONS_PREVOTE, 0, blk(0xaa));
}
END_TEST

START_TEST(test_proposal_fresh_invalid_prevotes_nil)
{
    engine4();
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 0), 0);
    expect_vote(CONS_PREVOTE, 0, NULL);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
}
END_TEST

START_TEST(test_proposal_fresh_other_than_locked_prevotes_nil)
{
    engine4();
    lock_on(0, blk(0xaa));
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    ck_assert_int_eq(propose(1, 1, -1, blk(0xbb), 1), 0);
    expect_vote(CONS_PREVOTE, 1, NULL);
}
END_TEST

START_TEST(test_proposal_fresh_equal_to_locked_prevotes_id)
{
    engine4();
    lock_on(0, blk(0xaa));
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    ck_assert_int_eq(propose(1, 1, -1, blk(0xaa), 1), 0);
    expect_vote(CONS_PREVOTE, 1, blk(0xaa));
}
END_TEST

/* ---- [28-33] ------------------------------------------------------------ */

START_TEST(test_reproposal_with_polka_prevotes_id)
{
    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0); /* round 1 */
    ck_assert_int_eq(propose(1, 1, 0, blk(0xaa), 1), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0); /* no polka */
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0); /* 2 of 3 */
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, blk(0xaa)), 0);
    expect_vote(CONS_PREVOTE, 1, blk(0xaa));
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
}
END_TEST

START_TEST(test_reproposal_without_polka_waits)
{
    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    ck_assert_int_eq(propose(1, 1, 0, blk(0xaa), 1), 0);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, blk(0xbb)), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, blk(0xbb)), 0);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
}
END_TEST

START_TEST(test_reproposal_unlocks_when_locked_round_not_later)
{
    engine4();
    lock_on(0, blk(0xbb)); /* lockedRound 0 on B */
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    /* A polka for A at round 1 (not seen by this engine in time). */
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 1, blk(0xaa)), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 1, blk(0xaa)), 0);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 1, blk(0xaa)), 0);
    timeout(CONS_TIMEOUT_PROPOSE, 1);
    timeout(CONS_TIMEOUT_PREVOTE, 1);
    timeout(CONS_TIMEOUT_PRECOMMIT, 1); /* round 2 */
    ck_assert_uint_eq(cons_round(fx.e), 2);
    /* lockedRound 0 <= vr 1: prevote A. */
    ck_assert_int_eq(propose(2, 2, 1, blk(0xaa), 1), 0);
    expect_vote(CONS_PREVOTE, 2, blk(0xaa));
}
END_TEST

START_TEST(test_reproposal_refused_when_locked_at_later_round)
{
    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0); /* round 1 */
    lock_on(1, blk(0xbb));              /* lockedRound 1 on B */
    timeout(CONS_TIMEOUT_PRECOMMIT, 1); /* round 2 */
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, blk(0xaa)), 0);
    /* A with a polka at vr 0 < lockedRound 1 and A != B: prevote nil. */
    ck_assert_int_eq(propose(2, 2, 0, blk(0xaa), 1), 0);
    expect_vote(CONS_PREVOTE, 2, NULL);
}
END_TEST

START_TEST(test_reproposal_locked_same_value_prevotes_id)
{
    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    lock_on(1, blk(0xaa)); /* lockedRound 1 on A */
    timeout(CONS_TIMEOUT_PRECOMMIT, 1);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(propose(2, 2, 0, blk(0xaa), 1), 0);
    expect_vote(CONS_PREVOTE, 2, blk(0xaa));
}
END_TEST

START_TEST(test_reproposal_invalid_with_polka_prevotes_nil)
{
    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(propose(1, 1, 0, blk(0xaa), 0), 0);
    expect_vote(CONS_PREVOTE, 1, NULL);
}
END_TEST

/* ---- [34-35] ------------------------------------------------------------ */

START_TEST(test_prevotes_of_any_kind_arm_timeout_prevote_once)
{
    engine4();
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0); /* own: A */
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_SCHEDULE_TIMEOUT), 0); /* 2 */
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, blk(0xbb)), 0);
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PREVOTE), 1);
    ck_assert_uint_eq(nth_kind(CONS_ACT_SCHEDULE_TIMEOUT, 0)->ms, 800);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PREVOTE), 0);
}
END_TEST

START_TEST(test_prevotes_at_propose_step_arm_nothing)
{
    engine4();
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, blk(0xbb)), 0);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, blk(0xcc)), 0);
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
}
END_TEST

/* ---- [36-43] ------------------------------------------------------------ */

START_TEST(test_polka_at_prevote_locks_and_precommits)
{
    engine4();
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, blk(0xaa)), 0);
    /* timeoutPrevote [34-35] and the precommit, persisted first. */
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PREVOTE), 1);
    ck_assert_int_eq(fx.acts[fx.nacts - 2].kind, CONS_ACT_PERSIST);
    expect_vote(CONS_PRECOMMIT, 0, blk(0xaa));
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PRECOMMIT);
    /* Fires once. */
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(fx.nacts, 0);
    /* Locked: a fresh B at the next round gets nil. */
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    ck_assert_int_eq(propose(1, 1, -1, blk(0xbb), 1), 0);
    expect_vote(CONS_PREVOTE, 1, NULL);
}
END_TEST

START_TEST(test_polka_at_precommit_updates_valid_value_only)
{
    const struct cons_proposal *p;

    engine_new(4, 1, H); /* proposer of round 1 */
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    expect_vote(CONS_PREVOTE, 0, NULL);
    timeout(CONS_TIMEOUT_PREVOTE, 0);
    expect_vote(CONS_PRECOMMIT, 0, NULL);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PRECOMMIT);
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(3, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PRECOMMIT);
    /* validValue = A, validRound = 0: the proposer of round 1 offers A. */
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_GET_VALUE), 0);
    p = &nth_kind(CONS_ACT_BROADCAST_PROPOSAL, 0)->proposal;
    ck_assert_int_eq(p->pol_round, 0);
    ck_assert(memcmp(p->id, blk(0xaa), CONS_ID_SIZE) == 0);
    expect_vote(CONS_PREVOTE, 1, blk(0xaa)); /* [28-33], polka at 0 */
    /* Not locked: a fresh B at round 2 gets B. */
    timeout(CONS_TIMEOUT_PRECOMMIT, 1);
    ck_assert_int_eq(propose(2, 2, -1, blk(0xbb), 1), 0);
    expect_vote(CONS_PREVOTE, 2, blk(0xbb));
}
END_TEST

START_TEST(test_polka_for_invalid_block_does_not_lock)
{
    engine4();
    timeout(CONS_TIMEOUT_PROPOSE, 0); /* prevote nil */
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 0), 0);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
}
END_TEST

/* ---- [44-46] ------------------------------------------------------------ */

START_TEST(test_nil_prevotes_precommit_nil)
{
    engine4();
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    expect_vote(CONS_PREVOTE, 0, NULL);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, NULL), 0);
    expect_vote(CONS_PRECOMMIT, 0, NULL);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PRECOMMIT);
}
END_TEST

/* ---- [47-48] ------------------------------------------------------------ */

START_TEST(test_precommits_of_any_kind_arm_timeout_precommit_once)
{
    engine4(); /* step propose: [47-48] has no step condition */
    ck_assert_int_eq(vote(0, CONS_PRECOMMIT, 0, NULL), 0);
    ck_assert_int_eq(vote(1, CONS_PRECOMMIT, 0, blk(0xbb)), 0);
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(vote(2, CONS_PRECOMMIT, 0, blk(0xcc)), 0);
    ck_assert_uint_eq(fx.nacts, 1);
    ck_assert_int_eq(fx.acts[0].timeout, CONS_TIMEOUT_PRECOMMIT);
    ck_assert_uint_eq(fx.acts[0].ms, 600);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
    /* Once per round. */
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PRECOMMIT), 0);
}
END_TEST

/* ---- [49-54] ------------------------------------------------------------ */

START_TEST(test_decide_in_current_round)
{
    struct cons_vote got[4];
    char errmsg[TDEI_ERRMSG_SIZE];
    const struct cons_action *d;

    engine4();
    lock_on(0, blk(0xaa));
    ck_assert_int_eq(vote(0, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_DECIDE), 0);
    ck_assert_int_eq(vote(2, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    d = nth_kind(CONS_ACT_DECIDE, 0);
    ck_assert_uint_eq(d->height, H);
    ck_assert_uint_eq(d->round, 0);
    ck_assert(memcmp(d->id, blk(0xaa), CONS_ID_SIZE) == 0);
    ck_assert_uint_eq(d->commit_n, 3);
    /* The commit: ascending validator order, and it verifies. */
    ck_assert_uint_eq(cons_commit_votes(fx.e, H, 0, blk(0xaa), got, 4), 3);
    ck_assert_int_eq(got[0].validator[0], 0x10);
    ck_assert_int_eq(got[1].validator[0], 0x12);
    ck_assert_int_eq(got[2].validator[0], 0x13);
    ck_assert_int_eq(cons_commit_verify(&fx.crypto, &fx.vset, H, 0, blk(0xaa),
                                        got, 3, errmsg),
                     0);
    ck_assert_uint_eq(cons_commit_votes(fx.e, H, 0, blk(0xaa), got, 2), 2);
    ck_assert_uint_eq(cons_commit_votes(fx.e, H + 1, 0, blk(0xaa), got, 4), 0);
    /* Decided: timeouts do nothing; then the next height starts. */
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    ck_assert_uint_eq(fx.nacts, 0);
    cons_start_height(fx.e, H + 1, &fx.vset);
    fx.h = H + 1;
    drain();
    ck_assert_uint_eq(cons_height(fx.e), H + 1);
    ck_assert_uint_eq(cons_round(fx.e), 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
    /* proposer(5, 0) = 1: a fresh B is accepted (locks were reset). */
    ck_assert_int_eq(propose(1, 0, -1, blk(0xbb), 1), 0);
    expect_vote(CONS_PREVOTE, 0, blk(0xbb));
}
END_TEST

START_TEST(test_decide_from_older_round)
{
    const struct cons_action *d;

    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    timeout(CONS_TIMEOUT_PRECOMMIT, 1);
    ck_assert_uint_eq(cons_round(fx.e), 2);
    ck_assert_int_eq(vote(0, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(1, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(2, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_DECIDE), 0); /* no proposal */
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0);
    d = nth_kind(CONS_ACT_DECIDE, 0);
    ck_assert_uint_eq(d->round, 0);
    ck_assert_uint_eq(d->commit_n, 3);
    ck_assert(memcmp(d->id, blk(0xaa), CONS_ID_SIZE) == 0);
}
END_TEST

START_TEST(test_decide_refused_for_invalid_block)
{
    engine4();
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 0), 0);
    ck_assert_int_eq(vote(0, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(1, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(2, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_DECIDE), 0);
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PRECOMMIT), 1);
    /* A late "valid" answer does not flip a known invalid block. */
    cons_on_validity(fx.e, H, blk(0xaa), 1);
    drain();
    ck_assert_uint_eq(count_kind(CONS_ACT_DECIDE), 0);
}
END_TEST

START_TEST(test_decide_waits_for_validity)
{
    struct cons_proposal p;

    engine4();
    ck_assert_int_eq(vote(0, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(1, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(2, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    p = proposal_of(0, H, 0, -1, blk(0xaa));
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), 0);
    drain();
    ck_assert_uint_eq(count_kind(CONS_ACT_DECIDE), 0);
    cons_on_validity(fx.e, H, blk(0xaa), 1);
    drain();
    ck_assert_uint_eq(count_kind(CONS_ACT_DECIDE), 1);
}
END_TEST

/* ---- [55-56] ------------------------------------------------------------ */

START_TEST(test_skip_on_f_plus_1_of_any_type)
{
    struct cons_proposal p = proposal_of(2, H, 2, -1, blk(0xaa));

    engine4(); /* f+1 = 2 */
    ck_assert_int_eq(vote(0, CONS_PRECOMMIT, 2, NULL), 0);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 2, NULL), 0); /* same sender */
    ck_assert_uint_eq(cons_round(fx.e), 0);
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), 0); /* a 2nd sender */
    drain();
    ck_assert_uint_eq(cons_round(fx.e), 2);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PROPOSE), 1);
    ck_assert_uint_eq(count_kind(CONS_ACT_VALIDATE), 1);
    /* The new round's proposal then counts at once [22-27]. */
    cons_on_validity(fx.e, H, blk(0xaa), 1);
    drain();
    expect_vote(CONS_PREVOTE, 2, blk(0xaa));
}
END_TEST

START_TEST(test_skip_arms_timeout_propose_of_new_round)
{
    engine4();
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 5, NULL), 0);
    ck_assert_int_eq(vote(1, CONS_PRECOMMIT, 5, NULL), 0);
    ck_assert_uint_eq(cons_round(fx.e), 5);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PROPOSE), 1);
    ck_assert_uint_eq(nth_kind(CONS_ACT_SCHEDULE_TIMEOUT, 0)->round, 5);
    ck_assert_uint_eq(nth_kind(CONS_ACT_SCHEDULE_TIMEOUT, 0)->ms,
                      1000 + 5 * 500);
    /* Lower rounds never skip back. */
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 3, NULL), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 3, NULL), 0);
    ck_assert_uint_eq(cons_round(fx.e), 5);
}
END_TEST

/* ---- timeouts ----------------------------------------------------------- */

START_TEST(test_timeout_propose_prevotes_nil)
{
    engine4();
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    expect_vote(CONS_PREVOTE, 0, NULL);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
}
END_TEST

START_TEST(test_timeout_propose_stale_is_ignored)
{
    engine4();
    cons_on_timeout(fx.e, CONS_TIMEOUT_PROPOSE, H - 1, 0); /* old height */
    cons_on_timeout(fx.e, CONS_TIMEOUT_PROPOSE, H, 1);     /* other round */
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
    /* step = prevote already: the guard tests step = propose. */
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0);
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
    /* A past round's timer. */
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
}
END_TEST

START_TEST(test_timeout_prevote_precommits_nil)
{
    engine4();
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    timeout(CONS_TIMEOUT_PREVOTE, 0);
    expect_vote(CONS_PRECOMMIT, 0, NULL);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PRECOMMIT);
}
END_TEST

START_TEST(test_timeout_prevote_stale_is_ignored)
{
    engine4();
    timeout(CONS_TIMEOUT_PREVOTE, 0); /* step propose */
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    timeout(CONS_TIMEOUT_PREVOTE, 0);
    timeout(CONS_TIMEOUT_PREVOTE, 0); /* step precommit */
    ck_assert_uint_eq(fx.nacts, 0);
    cons_on_timeout(fx.e, CONS_TIMEOUT_PREVOTE, H, 7);
    cons_on_timeout(fx.e, CONS_TIMEOUT_PREVOTE, H + 1, 0);
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
}
END_TEST

START_TEST(test_timeout_precommit_starts_next_round)
{
    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    ck_assert_uint_eq(cons_round(fx.e), 1);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PROPOSE), 1);
}
END_TEST

START_TEST(test_timeout_precommit_stale_is_ignored)
{
    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    timeout(CONS_TIMEOUT_PRECOMMIT, 0); /* round 0 is over */
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_uint_eq(cons_round(fx.e), 1);
    cons_on_timeout(fx.e, CONS_TIMEOUT_PRECOMMIT, H - 1, 1);
    drain();
    ck_assert_uint_eq(cons_round(fx.e), 1);
}
END_TEST

START_TEST(test_timeouts_grow_per_round)
{
    engine_new(4, -1, H); /* an observer: never the proposer */
    for (uint32_t r = 0; r < 5; r++) {
        ck_assert_uint_eq(cons_round(fx.e), r);
        if (r > 0) {
            ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PROPOSE), 1);
            ck_assert_uint_eq(nth_kind(CONS_ACT_SCHEDULE_TIMEOUT, 0)->ms,
                              1000 + r * 500);
        }
        /* 2f+1 prevotes and precommits of any kind at round r. */
        timeout(CONS_TIMEOUT_PROPOSE, r);
        ck_assert_int_eq(vote(0, CONS_PREVOTE, r, NULL), 0);
        ck_assert_int_eq(vote(1, CONS_PREVOTE, r, blk(0xaa)), 0);
        ck_assert_int_eq(vote(2, CONS_PREVOTE, r, blk(0xbb)), 0);
        ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PREVOTE), 1);
        ck_assert_uint_eq(nth_kind(CONS_ACT_SCHEDULE_TIMEOUT, 0)->ms,
                          800 + r * 300);
        ck_assert_uint_eq(nth_kind(CONS_ACT_SCHEDULE_TIMEOUT, 0)->round, r);
        timeout(CONS_TIMEOUT_PREVOTE, r);
        ck_assert_int_eq(vote(0, CONS_PRECOMMIT, r, NULL), 0);
        ck_assert_int_eq(vote(1, CONS_PRECOMMIT, r, blk(0xaa)), 0);
        ck_assert_int_eq(vote(2, CONS_PRECOMMIT, r, blk(0xbb)), 0);
        ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PRECOMMIT), 1);
        ck_assert_uint_eq(nth_kind(CONS_ACT_SCHEDULE_TIMEOUT, 0)->ms,
                          600 + r * 200);
        timeout(CONS_TIMEOUT_PRECOMMIT, r);
    }
}
END_TEST

START_TEST(test_timeouts_reset_at_new_height)
{
    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    timeout(CONS_TIMEOUT_PRECOMMIT, 1);
    ck_assert_uint_eq(nth_kind(CONS_ACT_SCHEDULE_TIMEOUT, 0)->ms, 2000);
    cons_start_height(fx.e, H + 4, &fx.vset); /* proposer(8, 0) = 0 */
    drain();
    ck_assert_uint_eq(nth_kind(CONS_ACT_SCHEDULE_TIMEOUT, 0)->ms, 1000);
}
END_TEST

/* ---- counting ----------------------------------------------------------- */

/* An observer of n validators: 2f+1 = floor(2n/3)+1 precommits arm the
 * timeout, one fewer does not; f+1 = floor((n-1)/3)+1 senders of a later
 * round make it skip, one fewer does not. */
static void check_thresholds(size_t n, size_t q, size_t f1)
{
    engine_new(n, -1, 100);
    for (size_t i = 0; i + 1 < q; i++) {
        ck_assert_int_eq(vote((int)i, CONS_PRECOMMIT, 0, NULL), 0);
        ck_assert_uint_eq(fx.nacts, 0);
    }
    ck_assert_int_eq(vote((int)q - 1, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PRECOMMIT), 1);

    for (size_t i = 0; i + 1 < f1; i++) {
        ck_assert_int_eq(vote((int)i, CONS_PREVOTE, 3, NULL), 0);
    }
    ck_assert_uint_eq(cons_round(fx.e), 0);
    ck_assert_int_eq(vote((int)f1 - 1, CONS_PRECOMMIT, 3, NULL), 0);
    ck_assert_uint_eq(cons_round(fx.e), 3);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0); /* observer */
}

START_TEST(test_thresholds_n1) { check_thresholds(1, 1, 1); }
END_TEST

START_TEST(test_thresholds_n4) { check_thresholds(4, 3, 2); }
END_TEST

START_TEST(test_thresholds_n7) { check_thresholds(7, 5, 3); }
END_TEST

START_TEST(test_thresholds_n10) { check_thresholds(10, 7, 4); }
END_TEST

START_TEST(test_polka_quorum_n7_one_short_does_not_lock)
{
    engine_new(7, 6, 7); /* proposer(7, 0) = 0; quorum 5 */
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0);
    expect_vote(CONS_PREVOTE, 0, blk(0xaa));
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(vote(i, CONS_PREVOTE, 0, blk(0xaa)), 0);
        ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0);
    }
    ck_assert_int_eq(vote(3, CONS_PREVOTE, 0, NULL), 0); /* 5 of any */
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PREVOTE), 1);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0);
    ck_assert_int_eq(vote(4, CONS_PREVOTE, 0, blk(0xaa)), 0); /* 5 for A */
    expect_vote(CONS_PRECOMMIT, 0, blk(0xaa));
}
END_TEST

START_TEST(test_duplicate_vote_counted_once)
{
    engine4();
    timeout(CONS_TIMEOUT_PROPOSE, 0); /* own nil prevote: 1 */
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
    /* The own vote echoed back is a duplicate too. */
    ck_assert_int_eq(vote(3, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, NULL), 0);
    expect_vote(CONS_PRECOMMIT, 0, NULL);
}
END_TEST

START_TEST(test_equivocation_gives_evidence_once)
{
    struct cons_vote a = vote_of(0, CONS_PRECOMMIT, H, 0, blk(0xaa));
    struct cons_vote b = vote_of(0, CONS_PRECOMMIT, H, 0, blk(0xbb));
    struct cons_vote c = vote_of(0, CONS_PRECOMMIT, H, 0, NULL);
    struct cons_vote got[4];
    const struct cons_action *ev;

    engine4();
    ck_assert_int_eq(cons_on_vote(fx.e, &a), 0);
    ck_assert_int_eq(cons_on_vote(fx.e, &b), TDEI_EQUIVOCATION);
    drain();
    ck_assert_uint_eq(fx.nacts, 1);
    ev = nth_kind(CONS_ACT_EVIDENCE, 0);
    ck_assert_uint_eq(ev->height, H);
    ck_assert_uint_eq(ev->round, 0);
    ck_assert(vote_eq(&ev->vote, &a));
    ck_assert(vote_eq(&ev->vote_b, &b));
    /* Once per pair (and per validator and (h, r, type)). */
    ck_assert_int_eq(cons_on_vote(fx.e, &b), TDEI_EQUIVOCATION);
    ck_assert_int_eq(cons_on_vote(fx.e, &c), TDEI_EQUIVOCATION);
    ck_assert_int_eq(cons_on_vote(fx.e, &a), 0);
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
    /* The first vote stays counted. */
    ck_assert_uint_eq(cons_commit_votes(fx.e, H, 0, blk(0xaa), got, 4), 1);
    ck_assert_uint_eq(cons_commit_votes(fx.e, H, 0, blk(0xbb), got, 4), 0);
    /* A prevote of the same validator is another (h, r, type). */
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, blk(0xbb)), 0);
    ck_assert_uint_eq(fx.nacts, 0);
}
END_TEST

/* An equivocator's other vote joins the tally of the block a held
 * proposal names (so every honest node can see the polka or commit some
 * honest node saw), and its precommit goes into the commit with its own
 * signature. An other vote for a block no proposal names is not kept. */
START_TEST(test_equivocator_other_vote_joins_the_tally)
{
    struct cons_vote got[4];
    char msg[256];
    int p;
    int e1 = -1;
    int e2 = -1;

    engine4(); /* self is 3 */
    p = (int)(fx.h % 4);
    for (int i = 0; i < 3; i++) {
        if (i != p) {
            if (e1 < 0) {
                e1 = i;
            } else {
                e2 = i;
            }
        }
    }
    /* e1 prevotes bb first; a second vote for cc (no proposal names cc)
     * is evidence, not kept. */
    ck_assert_int_eq(vote(e1, CONS_PREVOTE, 0, blk(0xbb)), 0);
    ck_assert_int_eq(vote(e1, CONS_PREVOTE, 0, blk(0xcc)), TDEI_EQUIVOCATION);
    ck_assert_uint_eq(count_kind(CONS_ACT_EVIDENCE), 1);
    ck_assert_int_eq(propose(p, 0, -1, blk(0xaa), 1), 0);
    expect_vote(CONS_PREVOTE, 0, blk(0xaa));
    ck_assert_int_eq(vote(e2, CONS_PREVOTE, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0); /* 2 of 3 */
    /* e1's other prevote names the proposal: the polka forms. */
    ck_assert_int_eq(vote(e1, CONS_PREVOTE, 0, blk(0xaa)), TDEI_EQUIVOCATION);
    expect_vote(CONS_PRECOMMIT, 0, blk(0xaa));
    /* Likewise for precommits: a decision with e1's other precommit. */
    ck_assert_int_eq(vote(e2, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(e1, CONS_PRECOMMIT, 0, blk(0xbb)), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_DECIDE), 0);
    ck_assert_int_eq(vote(e1, CONS_PRECOMMIT, 0, blk(0xaa)), TDEI_EQUIVOCATION);
    ck_assert_uint_eq(count_kind(CONS_ACT_DECIDE), 1);
    ck_assert_uint_eq(cons_commit_votes(fx.e, H, 0, blk(0xaa), got, 4), 3);
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 0, blk(0xaa), got, 3, msg),
        0);
    /* The first vote still counts for its own block. */
    ck_assert_uint_eq(cons_commit_votes(fx.e, H, 0, blk(0xbb), got, 4), 1);
}
END_TEST

START_TEST(test_bad_votes_dropped)
{
    struct cons_vote v;

    engine4();
    v = vote_of(0, CONS_PREVOTE, H, 0, NULL);
    v.sig[5] ^= 1;
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_BADSIG);
    v = vote_of(0, CONS_PREVOTE, H, 0, NULL);
    v.id.nil = 0; /* signed as nil, sent as a block id */
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_BADSIG);
    v = vote_of(9, CONS_PREVOTE, H, 0, NULL); /* not in the set */
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_NOT_VOTER);
    v = vote_of(0, CONS_PREVOTE, H + 1, 0, NULL);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_WRONG_HEIGHT);
    v = vote_of(0, CONS_PREVOTE, H - 1, 0, NULL);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_WRONG_HEIGHT);
    v = vote_of(0, CONS_PREVOTE, H, CONS_ROUNDS_AHEAD_MAX + 1, NULL);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_ROUND_RANGE);
    v = vote_of(0, CONS_PREVOTE, H, 0, NULL);
    v.type = (enum cons_vote_type)3;
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_MALFORMED);
    v = vote_of(0, CONS_PREVOTE, H, 0, NULL);
    v.id.nil = 2;
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_MALFORMED);
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
    /* None of them counted: two more nil prevotes are not 2f+1. */
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0);
    /* The far edge of the window is kept. */
    v = vote_of(0, CONS_PREVOTE, H, CONS_ROUNDS_AHEAD_MAX, NULL);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), 0);
}
END_TEST

START_TEST(test_old_rounds_leave_the_window)
{
    struct cons_vote v;

    engine4();
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, NULL), 0); /* round 0 held */
    /* Skip to round 64 + 63 = 127 (two senders at the window's edge). */
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 64, NULL), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 64, NULL), 0);
    ck_assert_uint_eq(cons_round(fx.e), 64);
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 127, NULL), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 127, NULL), 0);
    ck_assert_uint_eq(cons_round(fx.e), 127);
    v = vote_of(0, CONS_PREVOTE, H, 127 - CONS_ROUNDS_BEHIND_MAX - 1, NULL);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_ROUND_RANGE);
    v = vote_of(2, CONS_PREVOTE, H, 127 - CONS_ROUNDS_BEHIND_MAX, NULL);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), 0);
    /* Round 128 takes round 0's slot, round 191 the last one; round
     * 127's state is intact. */
    v = vote_of(2, CONS_PREVOTE, H, 128, NULL);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), 0);
    v = vote_of(2, CONS_PREVOTE, H, 191, NULL);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), 0);
    v = vote_of(0, CONS_PREVOTE, H, 127, NULL);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), 0); /* duplicate */
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_uint_eq(cons_round(fx.e), 127);
    /* 0, 1 and the own nil prevote: 2f+1 nil, so a nil precommit. */
    timeout(CONS_TIMEOUT_PROPOSE, 127);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 2);
    ck_assert_int_eq(nth_kind(CONS_ACT_BROADCAST_VOTE, 1)->vote.type,
                     CONS_PRECOMMIT);
    ck_assert_int_eq(nth_kind(CONS_ACT_BROADCAST_VOTE, 1)->vote.id.nil, 1);
}
END_TEST

START_TEST(test_bad_proposals_dropped)
{
    struct cons_proposal p;

    engine4();
    p = proposal_of(1, H, 0, -1, blk(0xaa)); /* proposer(4, 0) is 0 */
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), TDEI_NOT_PROPOSER);
    p = proposal_of(9, H, 0, -1, blk(0xaa));
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), TDEI_NOT_VOTER);
    p = proposal_of(0, H, 0, -1, blk(0xaa));
    p.sig[0] ^= 1;
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), TDEI_BADSIG);
    p = proposal_of(0, H, 0, 0, blk(0xaa)); /* vr must be < r */
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), TDEI_MALFORMED);
    p = proposal_of(0, H, 0, -2, blk(0xaa));
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), TDEI_MALFORMED);
    p = proposal_of(0, H + 1, 0, -1, blk(0xaa));
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), TDEI_WRONG_HEIGHT);
    p = proposal_of((int)((H + 65) % 4), H, 65, -1, blk(0xaa));
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), TDEI_ROUND_RANGE);
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PROPOSE);
}
END_TEST

START_TEST(test_second_proposal_dropped_first_stands)
{
    struct cons_proposal a = proposal_of(0, H, 0, -1, blk(0xaa));
    struct cons_proposal b = proposal_of(0, H, 0, -1, blk(0xbb));

    engine4();
    ck_assert_int_eq(cons_on_proposal(fx.e, &a), 0);
    ck_assert_int_eq(cons_on_proposal(fx.e, &a), 0); /* identical */
    ck_assert_int_eq(cons_on_proposal(fx.e, &b), TDEI_EQUIVOCATION);
    drain();
    ck_assert_uint_eq(count_kind(CONS_ACT_VALIDATE), 1);
    cons_on_validity(fx.e, H, blk(0xbb), 1); /* not held: nothing */
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
    cons_on_validity(fx.e, H, blk(0xaa), 1);
    drain();
    expect_vote(CONS_PREVOTE, 0, blk(0xaa));
}
END_TEST

START_TEST(test_validity_remembered_per_id)
{
    engine4();
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0);
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    struct cons_proposal p = proposal_of(1, H, 1, -1, blk(0xaa));
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), 0);
    drain();
    ck_assert_uint_eq(count_kind(CONS_ACT_VALIDATE), 0);
    expect_vote(CONS_PREVOTE, 1, blk(0xaa));
}
END_TEST

/* ---- the double-sign guard ---------------------------------------------- */

/* Restart: a new engine for the same validator with @rec restored. */
static void restart(const struct cons_signed *rec)
{
    cons_engine_destroy(fx.e);
    fx.e = NULL;
    ck_assert_int_eq(
        cons_engine_create(&fx.e, fx.signer.key, &fx.crypto, &fx.timeouts), 0);
    cons_restore(fx.e, rec);
    cons_start_height(fx.e, fx.h, &fx.vset);
    drain();
}

START_TEST(test_guard_every_signature_persisted_first)
{
    engine4();
    lock_on(0, blk(0xaa));
    ck_assert_int_eq(fx.acts[fx.nacts - 2].kind, CONS_ACT_PERSIST);
    ck_assert_int_eq(fx.acts[fx.nacts - 1].kind, CONS_ACT_BROADCAST_VOTE);
    ck_assert(memcmp(fx.acts[fx.nacts - 2].signed_msg.sig,
                     fx.acts[fx.nacts - 1].vote.sig, CONS_SIG_SIZE) == 0);
    ck_assert_int_eq(fx.acts[fx.nacts - 2].signed_msg.step,
                     CONS_STEP_PRECOMMIT);
    ck_assert_uint_eq(fx.acts[fx.nacts - 2].signed_msg.round, 0);
    ck_assert_int_eq(fx.acts[fx.nacts - 2].signed_msg.id.nil, 0);
}
END_TEST

START_TEST(test_guard_restart_resends_identical_vote)
{
    struct cons_signed rec;
    struct cons_vote sent;

    engine4();
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0);
    expect_vote(CONS_PREVOTE, 0, blk(0xaa));
    sent = nth_kind(CONS_ACT_BROADCAST_VOTE, 0)->vote;
    rec = last_persisted();

    restart(&rec);
    fx.signer.calls = 0;
    /* Asked again at (4, 0, prevote), now for B: the identical A vote. */
    ck_assert_int_eq(propose(0, 0, -1, blk(0xbb), 1), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_PERSIST), 0);
    ck_assert_int_eq(fx.signer.calls, 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 1);
    ck_assert(vote_eq(&nth_kind(CONS_ACT_BROADCAST_VOTE, 0)->vote, &sent));
    /* The next step is signed normally. */
    ck_assert_int_eq(vote(0, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_int_eq(vote(1, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_int_eq(fx.signer.calls, 0);
    ck_assert_int_eq(vote(2, CONS_PREVOTE, 0, NULL), 0);
    ck_assert_int_eq(fx.signer.calls, 1);
    ck_assert_uint_eq(count_kind(CONS_ACT_PERSIST), 1);
    expect_vote(CONS_PRECOMMIT, 0, NULL);
}
END_TEST

START_TEST(test_guard_restart_never_signs_earlier_step)
{
    struct cons_signed rec;

    engine4();
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    timeout(CONS_TIMEOUT_PRECOMMIT, 1);
    timeout(CONS_TIMEOUT_PROPOSE, 2);
    rec = last_persisted(); /* (4, 2, prevote) nil */
    ck_assert_uint_eq(rec.round, 2);

    restart(&rec); /* back at round 0 */
    fx.signer.calls = 0;
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
    timeout(CONS_TIMEOUT_PREVOTE, 0);
    ck_assert_uint_eq(fx.nacts, 0);
    timeout(CONS_TIMEOUT_PRECOMMIT, 0);
    timeout(CONS_TIMEOUT_PRECOMMIT, 1);
    ck_assert_int_eq(propose(2, 2, -1, blk(0xaa), 1), 0); /* same step */
    expect_vote(CONS_PREVOTE, 2, NULL);                   /* the record's */
    ck_assert_int_eq(fx.signer.calls, 0);
    /* A restore of an older record does not move the guard back. */
    rec.round = 0;
    cons_restore(fx.e, &rec);
    timeout(CONS_TIMEOUT_PREVOTE, 2);
    expect_vote(CONS_PRECOMMIT, 2, NULL);
    ck_assert_int_eq(fx.signer.calls, 1);
}
END_TEST

START_TEST(test_guard_record_without_fields_refuses_conflict)
{
    struct cons_signed rec;

    engine4();
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0);
    rec = last_persisted();
    /* A host that kept only (h, r, step, bytes, sig). */
    memset(&rec.id, 0, sizeof(rec.id));
    rec.pol_round = 0;

    restart(&rec);
    fx.signer.calls = 0;
    ck_assert_int_eq(propose(0, 0, -1, blk(0xbb), 1), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 0); /* conflict */
    ck_assert_int_eq(fx.signer.calls, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);

    restart(&rec);
    ck_assert_int_eq(propose(0, 0, -1, blk(0xaa), 1), 0); /* identical */
    expect_vote(CONS_PREVOTE, 0, blk(0xaa));
    ck_assert(memcmp(nth_kind(CONS_ACT_BROADCAST_VOTE, 0)->vote.sig, rec.sig,
                     CONS_SIG_SIZE) == 0);
    ck_assert_int_eq(fx.signer.calls, 0);
}
END_TEST

START_TEST(test_guard_restart_resends_identical_proposal)
{
    struct cons_signed rec;
    struct cons_proposal sent;

    engine_new(4, 0, H);
    cons_on_value(fx.e, H, 0, blk(0xaa));
    drain();
    sent = nth_kind(CONS_ACT_BROADCAST_PROPOSAL, 0)->proposal;
    rec = nth_kind(CONS_ACT_PERSIST, 0)->signed_msg;
    ck_assert_int_eq(rec.step, CONS_STEP_PROPOSE);

    restart(&rec);
    ck_assert_uint_eq(count_kind(CONS_ACT_GET_VALUE), 0);
    ck_assert_uint_eq(count_kind(CONS_ACT_PERSIST), 0);
    ck_assert(memcmp(&nth_kind(CONS_ACT_BROADCAST_PROPOSAL, 0)->proposal, &sent,
                     sizeof(sent)) == 0);
    /* Its block is validated like a received one, then prevoted. */
    ck_assert_uint_eq(count_kind(CONS_ACT_VALIDATE), 1);
    cons_on_validity(fx.e, H, blk(0xaa), 1);
    drain();
    expect_vote(CONS_PREVOTE, 0, blk(0xaa));
}
END_TEST

START_TEST(test_guard_proposer_after_later_record_times_out)
{
    struct cons_signed rec;

    engine_new(4, 0, H);
    cons_on_value(fx.e, H, 0, blk(0xaa));
    drain();
    rec = last_persisted(); /* (4, 0, prevote) */

    restart(&rec);
    /* Proposing at (4, 0, propose) is earlier than the record: asked for a
     * value, it sends nothing and arms timeoutPropose instead. */
    ck_assert_uint_eq(count_kind(CONS_ACT_GET_VALUE), 1);
    fx.signer.calls = 0;
    cons_on_value(fx.e, H, 0, blk(0xbb));
    drain();
    ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_PROPOSAL), 0);
    ck_assert_uint_eq(count_timeouts(CONS_TIMEOUT_PROPOSE), 1);
    ck_assert_int_eq(fx.signer.calls, 0);
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    expect_vote(CONS_PREVOTE, 0, blk(0xaa)); /* the record's vote */
    ck_assert_int_eq(fx.signer.calls, 0);
}
END_TEST

START_TEST(test_sign_failure_sends_nothing)
{
    engine4();
    fx.signer.fail = 1;
    timeout(CONS_TIMEOUT_PROPOSE, 0);
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_step(fx.e), CONS_STEP_PREVOTE);
    fx.signer.fail = 0;
    timeout(CONS_TIMEOUT_PREVOTE, 0);
    expect_vote(CONS_PRECOMMIT, 0, NULL);
}
END_TEST

/* ---- commits ------------------------------------------------------------ */

static size_t commit_of(struct cons_vote *out, size_t n, uint32_t r,
                        const uint8_t *id)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = vote_of((int)i, CONS_PRECOMMIT, H, r, id);
    }
    return n;
}

START_TEST(test_commit_verify_accepts_and_refuses)
{
    struct cons_vote c[8];
    char msg[TDEI_ERRMSG_SIZE];
    struct cons_vote saved;

    engine4();
    commit_of(c, 4, 1, blk(0xaa));
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 3, msg),
        0);
    ck_assert_int_eq(cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa),
                                        c + 1, 3, msg),
                     0);
    /* 2 of 4 is not more than 2/3. */
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 2, msg),
        TDEI_NO_QUORUM);
    ck_assert_ptr_nonnull(strstr(msg, "2 of 4"));
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 0, msg),
        TDEI_NO_QUORUM);
    /* A bad signature. */
    c[1].sig[9] ^= 1;
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 4, msg),
        TDEI_BADSIG);
    ck_assert_ptr_nonnull(strstr(msg, "vote 1"));
    c[1].sig[9] ^= 1;
    /* One validator twice. */
    c[3] = c[0];
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 4, msg),
        TDEI_MALFORMED);
    /* A key outside the set. */
    c[3] = vote_of(7, CONS_PRECOMMIT, H, 1, blk(0xaa));
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 4, msg),
        TDEI_NOT_VOTER);
    /* Votes for another height, round, id, type, or nil. */
    saved = c[2];
    c[2] = vote_of(2, CONS_PRECOMMIT, H + 1, 1, blk(0xaa));
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 3, msg),
        TDEI_MALFORMED);
    c[2] = vote_of(2, CONS_PRECOMMIT, H, 0, blk(0xaa));
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 3, msg),
        TDEI_MALFORMED);
    c[2] = vote_of(2, CONS_PRECOMMIT, H, 1, blk(0xbb));
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 3, msg),
        TDEI_MALFORMED);
    c[2] = vote_of(2, CONS_PREVOTE, H, 1, blk(0xaa));
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 3, msg),
        TDEI_MALFORMED);
    c[2] = vote_of(2, CONS_PRECOMMIT, H, 1, NULL);
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 3, msg),
        TDEI_MALFORMED);
    ck_assert_uint_gt(strlen(msg), 0);
    c[2] = saved;
    ck_assert_int_eq(
        cons_commit_verify(&fx.crypto, &fx.vset, H, 1, blk(0xaa), c, 3, msg),
        0);
}
END_TEST

START_TEST(test_on_decided_decides_from_a_verified_commit)
{
    struct cons_vote c[4];
    struct cons_vote got[4];
    const struct cons_action *d;

    engine4();
    commit_of(c, 3, 5, blk(0xaa));
    ck_assert_int_eq(cons_on_decided(fx.e, H + 1, 5, blk(0xaa), c, 3),
                     TDEI_WRONG_HEIGHT);
    ck_assert_int_eq(cons_on_decided(fx.e, H, 5, blk(0xaa), c, 2),
                     TDEI_NO_QUORUM);
    c[0].sig[0] ^= 1;
    ck_assert_int_eq(cons_on_decided(fx.e, H, 5, blk(0xaa), c, 3), TDEI_BADSIG);
    c[0].sig[0] ^= 1;
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
    ck_assert_int_eq(cons_on_decided(fx.e, H, 5, blk(0xaa), c, 3), 0);
    drain();
    ck_assert_uint_eq(fx.nacts, 1);
    d = nth_kind(CONS_ACT_DECIDE, 0);
    ck_assert_uint_eq(d->height, H);
    ck_assert_uint_eq(d->round, 5);
    ck_assert_uint_eq(d->commit_n, 3);
    ck_assert_uint_eq(cons_commit_votes(fx.e, H, 5, blk(0xaa), got, 4), 3);
    /* Decided once. */
    ck_assert_int_eq(cons_on_decided(fx.e, H, 5, blk(0xaa), c, 3), 0);
    drain();
    ck_assert_uint_eq(fx.nacts, 0);
}
END_TEST

/* ---- whole heights ------------------------------------------------------ */

START_TEST(test_single_validator_decides_alone)
{
    engine_new(1, 0, 1);
    for (uint64_t h = 1; h <= 3; h++) {
        struct cons_vote got[1];
        char msg[TDEI_ERRMSG_SIZE];
        const struct cons_action *d;
        ck_assert_uint_eq(fx.nacts, 1);
        ck_assert_int_eq(fx.acts[0].kind, CONS_ACT_GET_VALUE);
        cons_on_value(fx.e, h, 0, blk((int)h));
        drain();
        /* Every broadcast right after the PERSIST of its signature. */
        for (size_t i = 0; i < fx.nacts; i++) {
            if (fx.acts[i].kind == CONS_ACT_BROADCAST_VOTE ||
                fx.acts[i].kind == CONS_ACT_BROADCAST_PROPOSAL) {
                ck_assert_uint_gt(i, 0);
                ck_assert_int_eq(fx.acts[i - 1].kind, CONS_ACT_PERSIST);
            }
        }
        ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_PROPOSAL), 1);
        ck_assert_uint_eq(count_kind(CONS_ACT_BROADCAST_VOTE), 2);
        d = nth_kind(CONS_ACT_DECIDE, 0);
        ck_assert_int_eq(fx.acts[fx.nacts - 1].kind, CONS_ACT_DECIDE);
        ck_assert_uint_eq(d->height, h);
        ck_assert_uint_eq(d->round, 0);
        ck_assert_uint_eq(d->commit_n, 1);
        ck_assert(memcmp(d->id, blk((int)h), CONS_ID_SIZE) == 0);
        ck_assert_uint_eq(cons_commit_votes(fx.e, h, 0, d->id, got, 1), 1);
        ck_assert_int_eq(
            cons_commit_verify(&fx.crypto, &fx.vset, h, 0, d->id, got, 1, msg),
            0);
        cons_start_height(fx.e, h + 1, &fx.vset);
        drain();
    }
}
END_TEST

START_TEST(test_four_validators_decide_in_round_zero)
{
    engine_new(4, 0, H); /* the proposer */
    cons_on_value(fx.e, H, 0, blk(0xaa));
    drain();
    for (int i = 1; i < 3; i++) {
        ck_assert_int_eq(vote(i, CONS_PREVOTE, 0, blk(0xaa)), 0);
    }
    expect_vote(CONS_PRECOMMIT, 0, blk(0xaa));
    ck_assert_int_eq(vote(1, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_int_eq(vote(3, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    ck_assert_uint_eq(nth_kind(CONS_ACT_DECIDE, 0)->commit_n, 3);
    /* Late precommits still join the commit. */
    ck_assert_int_eq(vote(2, CONS_PRECOMMIT, 0, blk(0xaa)), 0);
    {
        struct cons_vote got[4];
        ck_assert_uint_eq(cons_commit_votes(fx.e, H, 0, blk(0xaa), got, 4), 4);
    }
}
END_TEST

START_TEST(test_inputs_before_start_are_refused)
{
    struct cons_vote v = vote_of(0, CONS_PREVOTE, 0, 0, NULL);
    struct cons_proposal p = proposal_of(0, 0, 0, -1, blk(1));
    struct cons_action a;

    fx.vset.n = 1;
    key_of(0, fx.signer.key);
    ck_assert_int_eq(
        cons_engine_create(&fx.e, fx.signer.key, &fx.crypto, &fx.timeouts), 0);
    ck_assert_int_eq(cons_on_vote(fx.e, &v), TDEI_WRONG_HEIGHT);
    ck_assert_int_eq(cons_on_proposal(fx.e, &p), TDEI_WRONG_HEIGHT);
    cons_on_timeout(fx.e, CONS_TIMEOUT_PRECOMMIT, 0, 0);
    cons_on_value(fx.e, 0, 0, blk(1));
    ck_assert_int_eq(cons_next_action(fx.e, &a), 0);
    ck_assert_int_eq(a.kind, CONS_ACT_NONE);
}
END_TEST

START_TEST(test_create_out_of_memory)
{
    struct cons_engine *e = (struct cons_engine *)&fx;

    tdei_alloc_fail_inject(0, 1);
    ck_assert_int_eq(
        cons_engine_create(&e, fx.signer.key, &fx.crypto, &fx.timeouts),
        TDEI_NOMEM);
    ck_assert_ptr_null(e);
    tdei_alloc_fail_inject(1, 1);
    ck_assert_int_eq(
        cons_engine_create(&e, fx.signer.key, &fx.crypto, &fx.timeouts),
        TDEI_NOMEM);
    ck_assert_ptr_null(e);
    tdei_alloc_fail_inject(-1, 0);
}
END_TEST

static Suite *consensus_suite(void)
{
    Suite *s = suite_create("consensus");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"l11_proposer", test_start_round_proposer_asks_value_then_proposes},
        {"l11_non_proposer",
         test_start_round_non_proposer_arms_timeout_propose},
        {"l11_valid_value", test_start_round_proposer_reproposes_valid_value},
        {"l22_valid", test_proposal_fresh_valid_prevotes_id},
        {"l22_wait", test_proposal_waits_for_validity},
        {"l22_invalid", test_proposal_fresh_invalid_prevotes_nil},
        {"l22_locked_other",
         test_proposal_fresh_other_than_locked_prevotes_nil},
        {"l22_locked_same", test_proposal_fresh_equal_to_locked_prevotes_id},
        {"l28_polka", test_reproposal_with_polka_prevotes_id},
        {"l28_no_polka", test_reproposal_without_polka_waits},
        {"l28_unlock", test_reproposal_unlocks_when_locked_round_not_later},
        {"l28_locked_later",
         test_reproposal_refused_when_locked_at_later_round},
        {"l28_locked_same", test_reproposal_locked_same_value_prevotes_id},
        {"l28_invalid", test_reproposal_invalid_with_polka_prevotes_nil},
        {"l34_any", test_prevotes_of_any_kind_arm_timeout_prevote_once},
        {"l34_propose_step", test_prevotes_at_propose_step_arm_nothing},
        {"l36_prevote", test_polka_at_prevote_locks_and_precommits},
        {"l36_precommit", test_polka_at_precommit_updates_valid_value_only},
        {"l36_invalid", test_polka_for_invalid_block_does_not_lock},
        {"l44_nil", test_nil_prevotes_precommit_nil},
        {"l47_any", test_precommits_of_any_kind_arm_timeout_precommit_once},
        {"l49_current", test_decide_in_current_round},
        {"l49_older", test_decide_from_older_round},
        {"l49_invalid", test_decide_refused_for_invalid_block},
        {"l49_wait", test_decide_waits_for_validity},
        {"l55_skip", test_skip_on_f_plus_1_of_any_type},
        {"l55_timeout", test_skip_arms_timeout_propose_of_new_round},
        {"to_propose", test_timeout_propose_prevotes_nil},
        {"to_propose_stale", test_timeout_propose_stale_is_ignored},
        {"to_prevote", test_timeout_prevote_precommits_nil},
        {"to_prevote_stale", test_timeout_prevote_stale_is_ignored},
        {"to_precommit", test_timeout_precommit_starts_next_round},
        {"to_precommit_stale", test_timeout_precommit_stale_is_ignored},
        {"to_grow", test_timeouts_grow_per_round},
        {"to_reset", test_timeouts_reset_at_new_height},
        {"n1", test_thresholds_n1},
        {"n4", test_thresholds_n4},
        {"n7", test_thresholds_n7},
        {"n10", test_thresholds_n10},
        {"n7_polka", test_polka_quorum_n7_one_short_does_not_lock},
        {"duplicate", test_duplicate_vote_counted_once},
        {"evidence", test_equivocation_gives_evidence_once},
        {"equivocator_tally", test_equivocator_other_vote_joins_the_tally},
        {"bad_votes", test_bad_votes_dropped},
        {"window", test_old_rounds_leave_the_window},
        {"bad_proposals", test_bad_proposals_dropped},
        {"second_proposal", test_second_proposal_dropped_first_stands},
        {"validity_memo", test_validity_remembered_per_id},
        {"guard_persist", test_guard_every_signature_persisted_first},
        {"guard_vote", test_guard_restart_resends_identical_vote},
        {"guard_earlier", test_guard_restart_never_signs_earlier_step},
        {"guard_bare", test_guard_record_without_fields_refuses_conflict},
        {"guard_proposal", test_guard_restart_resends_identical_proposal},
        {"guard_proposer", test_guard_proposer_after_later_record_times_out},
        {"sign_fail", test_sign_failure_sends_nothing},
        {"commit_verify", test_commit_verify_accepts_and_refuses},
        {"on_decided", test_on_decided_decides_from_a_verified_commit},
        {"single", test_single_validator_decides_alone},
        {"four", test_four_validators_decide_in_round_zero},
        {"before_start", test_inputs_before_start_are_refused},
        {"oom", test_create_out_of_memory},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(consensus_suite()); }
