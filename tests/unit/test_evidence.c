/* Tests of the evidence contract, run over the in-memory state with real
 * BIP-340 validator keys: a committed equivocation (record, event, the
 * histories it touches), any active member may submit it, and each
 * refusal in rule order (not a validator, a signature that does not
 * verify, votes that do not conflict, an equivocation already recorded,
 * also under other signatures), with nothing written on a refusal. */
#include "contract_fixture.h"
#include "testutil.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "exec/state.h"

#include <string.h>

#define st fixture_st
#define CHAIN "test-chain"

static struct contract_ctx ctx;
static uint8_t signer[32] = {0x02};
static uint8_t tx_id[32];

/* Validators with real keys: val-one and val-two are in the set; outsider
 * has a registered node key but is not a validator. */
static struct tdei_keypair val_one, val_two, outsider;

static void keypair(struct tdei_keypair *kp, uint8_t byte)
{
    uint8_t secret[32];

    memset(secret, byte, sizeof(secret));
    ck_assert_int_eq(tdei_keypair_from_secret(kp, secret), 0);
}

/* Member @id running the node key of @kp: Member and NodeKey records. */
static void node_member(struct state *s, const char *id,
                        const struct tdei_keypair *kp, uint8_t opbyte)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t op[32] = {0};
    ProtobufCBinaryData opbin = {32, op};
    Tdei__Member m = TDEI__MEMBER__INIT;
    Tdei__NodeKey nk = TDEI__NODE_KEY__INIT;

    op[0] = opbyte;
    m.id = (char *)(uintptr_t)id;
    m.name = (char *)(uintptr_t)id;
    m.role = TDEI_ROLE_PLATFORM;
    m.node_key = (ProtobufCBinaryData){32, (uint8_t *)kp->pubkey};
    m.encryption_key = (ProtobufCBinaryData){32, op};
    m.n_operator_keys = 1;
    m.operator_keys = &opbin;
    m.status = CODEC_MEMBER_ACTIVE;
    m.validator = 1;
    fixture_put(s, key, contract_key_member(key, id), &m.base);
    nk.member = (char *)(uintptr_t)id;
    fixture_put(s, key, contract_key_nodekey(key, kp->pubkey), &nk.base);
}

/* The set {val-one, val-two}, in ascending key order. */
static void validators_put(struct state *s)
{
    static const uint8_t vkey[] = CONTRACT_KEY_VALIDATORS;
    Tdei__ValidatorSet set = TDEI__VALIDATOR_SET__INIT;
    Tdei__Validator v[2] = {TDEI__VALIDATOR__INIT, TDEI__VALIDATOR__INIT};
    Tdei__Validator *ptrs[2] = {&v[0], &v[1]};
    int one_first = memcmp(val_one.pubkey, val_two.pubkey, 32) < 0;

    v[0].node_key =
        (ProtobufCBinaryData){32, one_first ? val_one.pubkey : val_two.pubkey};
    v[0].member = one_first ? (char *)"val-one" : (char *)"val-two";
    v[1].node_key =
        (ProtobufCBinaryData){32, one_first ? val_two.pubkey : val_one.pubkey};
    v[1].member = one_first ? (char *)"val-two" : (char *)"val-one";
    set.n_validators = 2;
    set.validators = ptrs;
    fixture_put(s, vkey, sizeof(vkey) - 1, &set.base);
}

/* Seed the ledger; @with_validators 0 leaves the validators record out,
 * @with_nodekey 0 leaves out val-one's NodeKey record. */
static void seed_with(int with_validators, int with_nodekey)
{
    struct state *s = fixture_seed_begin();
    struct params_storage p;

    keypair(&val_one, 0x31);
    keypair(&val_two, 0x32);
    keypair(&outsider, 0x33);
    fixture_member(s, "pub-svc", TDEI_ROLE_PUBLIC_SERVICE, CODEC_MEMBER_ACTIVE,
                   1, 0);
    fixture_member(s, "acme-steel", TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE,
                   2, 0);
    fixture_member(s, "audit-co", TDEI_ROLE_AUDITOR, CODEC_MEMBER_ACTIVE, 5, 0);
    node_member(s, "val-two", &val_two, 0x62);
    node_member(s, "outsider", &outsider, 0x63);
    if (with_nodekey) {
        node_member(s, "val-one", &val_one, 0x61);
    }
    fixture_params_default(&p);
    fixture_params_put(s, &p.params);
    if (with_validators) {
        validators_put(s);
    }
    fixture_seed_end(s);
}

static void seed(void) { seed_with(1, 1); }

/* ---- votes and evidence -------------------------------------------------- */

/* A signed vote of @kp, on @chain; @block 0 for nil, else a block id of
 * 32 bytes @block. */
struct vote_fx
{
    Tdei__Vote vote;
    uint8_t block_id[32];
    uint8_t validator[32];
    uint8_t sig[64];
};

static void vote_make(struct vote_fx *fx, const struct tdei_keypair *kp,
                      const char *chain, uint32_t type, uint64_t height,
                      uint32_t round, uint8_t block)
{
    uint8_t bytes[CODEC_VOTE_SIGN_BYTES_MAX];
    size_t len;

    memset(fx, 0, sizeof(*fx));
    tdei__vote__init(&fx->vote);
    memset(fx->block_id, block, sizeof(fx->block_id));
    memcpy(fx->validator, kp->pubkey, 32);
    fx->vote.type = type;
    fx->vote.height = height;
    fx->vote.round = round;
    fx->vote.block_id = (ProtobufCBinaryData){block == 0 ? 0 : 32,
                                              block == 0 ? NULL : fx->block_id};
    fx->vote.validator = (ProtobufCBinaryData){32, fx->validator};
    len =
        codec_vote_sign_bytes(bytes, chain, (enum codec_vote_type)type, height,
                              round, block == 0 ? NULL : fx->block_id);
    ck_assert_int_eq(tdei_sign_tagged(fx->sig, kp, TDEI_TAG_VOTE, bytes, len),
                     0);
    fx->vote.sig = (ProtobufCBinaryData){64, fx->sig};
}

/* Start a tx of @member (role @role) at @height, id byte @id_byte. */
static void begin(const char *member, enum tdei_role role, uint8_t id_byte,
                  uint64_t height)
{
    struct contract_env env = {
        .ops = &state_contract_ops,
        .state = st,
        .signer = signer,
        .member = member,
        .role = role,
        .height = height,
        .time_ms = 1764000000000ull,
        .tx_id = tx_id,
        .chain_id = CHAIN,
    };

    memset(tx_id, 0, sizeof(tx_id));
    tx_id[0] = id_byte;
    contract_ctx_begin(&ctx, &env);
}

/* @member submits the evidence (@a, @b) at @height in a tx @id_byte. */
static int submit(const char *member, enum tdei_role role, Tdei__Vote *a,
                  Tdei__Vote *b, uint8_t id_byte, uint64_t height)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Evidence ev = TDEI__EVIDENCE__INIT;
    int rc;

    begin(member, role, id_byte, height);
    ev.a = a;
    ev.b = b;
    body.op_case = TDEI__TX_BODY__OP_EVIDENCE;
    body.evidence = &ev;
    state_tx_begin(st);
    rc = contract_dispatch(&ctx, &body);
    if (rc == 0) {
        state_tx_commit(st);
    } else {
        state_tx_rollback(st);
    }
    return rc;
}

/* val-one's precommits at (40, 2) for nil and for block 0x20: a canonical
 * pair (nil first). */
static struct vote_fx nil_vote, block_vote;

static void equivocation(void)
{
    vote_make(&nil_vote, &val_one, CHAIN, CODEC_VOTE_PRECOMMIT, 40, 2, 0);
    vote_make(&block_vote, &val_one, CHAIN, CODEC_VOTE_PRECOMMIT, 40, 2, 0x20);
}

static int submit_equivocation(const char *member, uint8_t id_byte,
                               uint64_t height)
{
    return submit(member, TDEI_ROLE_MANUFACTURER, &nil_vote.vote,
                  &block_vote.vote, id_byte, height);
}

/* ---- inspection ---------------------------------------------------------- */

static int touched_member(size_t at, const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_member(key, id);

    return at < ctx.touched_count && ctx.touched[at].klen == klen &&
           memcmp(ctx.touched[at].key, key, klen) == 0;
}

/* The id of (@a, @b). */
static void evidence_id(uint8_t id[32], Tdei__Vote *a, Tdei__Vote *b)
{
    Tdei__Evidence ev = TDEI__EVIDENCE__INIT;

    ev.a = a;
    ev.b = b;
    codec_evidence_id(id, &ev);
}

/* The record of @id, or NULL (free with codec_evidence_record_free). */
static Tdei__EvidenceRecord *record_of(const uint8_t id[32])
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_EVIDENCE_RECORD_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__EvidenceRecord *rec;
    size_t vlen;

    if (state_get_copy(st, key, contract_key_evidence(key, id), val,
                       sizeof(val), &vlen) != 0) {
        return NULL;
    }
    ck_assert_int_eq(codec_evidence_record_decode(&rec, val, vlen, errmsg), 0);
    return rec;
}

static const char *attr(size_t event, size_t index, const char *key)
{
    const struct contract_attr *a;

    ck_assert_uint_lt(event, ctx.event_count);
    ck_assert_uint_lt(index, ctx.events[event].attr_count);
    a = &ctx.attrs[ctx.events[event].attr_first + index];
    ck_assert_str_eq(ctx.arena + a->key, key);
    return ctx.arena + a->value;
}

/* ---- success ------------------------------------------------------------- */

START_TEST(test_evidence_committed_with_record_event_and_history)
{
    uint8_t id[32];
    char hex[65];
    Tdei__EvidenceRecord *rec;

    seed();
    equivocation();
    ck_assert_int_eq(submit_equivocation("acme-steel", 0x10, 41), 0);
    ck_assert_str_eq(ctx.reason, "");

    evidence_id(id, &nil_vote.vote, &block_vote.vote);
    rec = record_of(id);
    ck_assert_ptr_nonnull(rec);
    ck_assert_uint_eq(rec->height, 41);
    ck_assert_mem_eq(rec->tx.data, tx_id, 32);
    ck_assert_mem_eq(rec->validator.data, val_one.pubkey, 32);
    ck_assert_str_eq(rec->member, "val-one");
    codec_evidence_record_free(rec);

    /* The submitter's history, then the validator's member's. */
    ck_assert_uint_eq(ctx.touched_count, 2);
    ck_assert(touched_member(0, "acme-steel"));
    ck_assert(touched_member(1, "val-one"));

    ck_assert_uint_eq(ctx.event_count, 1);
    ck_assert_str_eq(ctx.arena + ctx.events[0].type, "evidence.committed");
    ck_assert_uint_eq(ctx.events[0].attr_count, 7);
    ck_assert_str_eq(attr(0, 0, "id"),
                     tdei_hex_encode(hex, sizeof(hex), id, 32));
    ck_assert_str_eq(attr(0, 1, "validator"),
                     tdei_hex_encode(hex, sizeof(hex), val_one.pubkey, 32));
    ck_assert_str_eq(attr(0, 2, "member"), "val-one");
    ck_assert_str_eq(attr(0, 3, "height"), "40");
    ck_assert_str_eq(attr(0, 4, "round"), "2");
    ck_assert_str_eq(attr(0, 5, "type"), "precommit");
    ck_assert_str_eq(attr(0, 6, "by"), "acme-steel");
    ck_assert_str_eq(contract_op_name(&(Tdei__TxBody){
                         .op_case = TDEI__TX_BODY__OP_EVIDENCE}),
                     "evidence");
}
END_TEST

START_TEST(test_evidence_any_member_may_submit)
{
    struct vote_fx a, b;

    seed();
    /* An auditor, for a prevote equivocation of val-two. */
    vote_make(&a, &val_two, CHAIN, CODEC_VOTE_PREVOTE, 7, 0, 0x11);
    vote_make(&b, &val_two, CHAIN, CODEC_VOTE_PREVOTE, 7, 0, 0x12);
    ck_assert_int_eq(
        submit("audit-co", TDEI_ROLE_AUDITOR, &a.vote, &b.vote, 1, 9), 0);
    ck_assert_str_eq(attr(0, 5, "type"), "prevote");
    ck_assert(touched_member(1, "val-two"));
    /* The validator's own member reports itself: touched once. */
    equivocation();
    ck_assert_int_eq(submit("val-one", TDEI_ROLE_PLATFORM, &nil_vote.vote,
                            &block_vote.vote, 2, 9),
                     0);
    ck_assert_uint_eq(ctx.touched_count, 1);
    ck_assert(touched_member(0, "val-one"));
}
END_TEST

START_TEST(test_evidence_other_votes_are_another_equivocation)
{
    struct vote_fx other;

    seed();
    equivocation();
    ck_assert_int_eq(submit_equivocation("acme-steel", 1, 41), 0);
    /* Block 0x20 against block 0x30: another pair, another record. */
    vote_make(&other, &val_one, CHAIN, CODEC_VOTE_PRECOMMIT, 40, 2, 0x30);
    ck_assert_int_eq(submit("acme-steel", TDEI_ROLE_MANUFACTURER,
                            &block_vote.vote, &other.vote, 2, 41),
                     0);
}
END_TEST

/* ---- refusals, in rule order --------------------------------------------- */

START_TEST(test_evidence_refused_not_a_validator)
{
    struct vote_fx a, b;
    char hex[65];
    char want[512];

    seed();
    vote_make(&a, &outsider, CHAIN, CODEC_VOTE_PREVOTE, 5, 1, 0);
    vote_make(&b, &outsider, CHAIN, CODEC_VOTE_PREVOTE, 5, 1, 0x44);
    ck_assert_int_eq(
        submit("acme-steel", TDEI_ROLE_MANUFACTURER, &a.vote, &b.vote, 1, 6),
        TDEI_NOT_VALIDATOR);
    (void)snprintf(want, sizeof(want),
                   "evidence vote a names %s, which is not a validator of "
                   "the current set (2 validators); evidence is taken "
                   "against current validators only",
                   tdei_hex_encode(hex, sizeof(hex), outsider.pubkey, 32));
    ck_assert_str_eq(ctx.reason, want);
    /* Refused before anything is known about the validator: only the
     * submitter's history records it, and nothing else is written. */
    ck_assert_uint_eq(ctx.touched_count, 1);
    ck_assert(touched_member(0, "acme-steel"));
    ck_assert_uint_eq(ctx.event_count, 0);
    /* Vote b alone from outside: still refused, naming vote b. */
    vote_make(&a, &val_one, CHAIN, CODEC_VOTE_PREVOTE, 5, 1, 0);
    ck_assert_int_eq(
        submit("acme-steel", TDEI_ROLE_MANUFACTURER, &a.vote, &b.vote, 2, 6),
        TDEI_NOT_VALIDATOR);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "evidence vote b names"));
}
END_TEST

START_TEST(test_evidence_refused_bad_signature)
{
    struct vote_fx foreign;
    char hex[65];
    char want[512];
    uint8_t id[32];

    seed();
    equivocation();
    block_vote.sig[10] ^= 1;
    ck_assert_int_eq(submit_equivocation("acme-steel", 1, 41), TDEI_BADSIG);
    (void)snprintf(want, sizeof(want),
                   "evidence vote b: its signature does not verify for "
                   "validator %s on chain test-chain; submit the votes "
                   "exactly as the validator signed them",
                   tdei_hex_encode(hex, sizeof(hex), val_one.pubkey, 32));
    ck_assert_str_eq(ctx.reason, want);
    ck_assert_uint_eq(ctx.touched_count, 1); /* not the accused member */
    block_vote.sig[10] ^= 1;
    nil_vote.sig[0] ^= 1;
    ck_assert_int_eq(submit_equivocation("acme-steel", 2, 41), TDEI_BADSIG);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "evidence vote a: "));
    nil_vote.sig[0] ^= 1;
    /* Votes signed for another chain do not verify on this one. */
    vote_make(&foreign, &val_one, "other-chain", CODEC_VOTE_PRECOMMIT, 40, 2,
              0x20);
    ck_assert_int_eq(submit("acme-steel", TDEI_ROLE_MANUFACTURER,
                            &nil_vote.vote, &foreign.vote, 3, 41),
                     TDEI_BADSIG);
    /* Nothing was recorded by the refusals. */
    evidence_id(id, &nil_vote.vote, &block_vote.vote);
    ck_assert_ptr_null(record_of(id));
    ck_assert_int_eq(submit_equivocation("acme-steel", 4, 41), 0);
}
END_TEST

START_TEST(test_evidence_refused_votes_that_do_not_conflict)
{
    struct vote_fx a, b;

    /* The codec refuses such evidence in a tx; the contract's rule holds
     * on its own (bodies built by hand reach it here). */
    seed();
    vote_make(&a, &val_one, CHAIN, CODEC_VOTE_PREVOTE, 5, 1, 0x11);
    vote_make(&b, &val_one, CHAIN, CODEC_VOTE_PREVOTE, 5, 1, 0x11);
    ck_assert_int_eq(
        submit("acme-steel", TDEI_ROLE_MANUFACTURER, &a.vote, &b.vote, 1, 6),
        TDEI_MALFORMED);
    ck_assert_str_eq(ctx.reason,
                     "evidence votes do not conflict: they differ in "
                     "validator, height, round or type, or vote for the same "
                     "block; submit two votes of one validator for one "
                     "height, round and type with different block ids");
    vote_make(&b, &val_one, CHAIN, CODEC_VOTE_PREVOTE, 5, 2, 0x12);
    ck_assert_int_eq(
        submit("acme-steel", TDEI_ROLE_MANUFACTURER, &a.vote, &b.vote, 2, 6),
        TDEI_MALFORMED);
    vote_make(&b, &val_one, CHAIN, CODEC_VOTE_PRECOMMIT, 5, 1, 0x12);
    ck_assert_int_eq(
        submit("acme-steel", TDEI_ROLE_MANUFACTURER, &a.vote, &b.vote, 3, 6),
        TDEI_MALFORMED);
    vote_make(&b, &val_two, CHAIN, CODEC_VOTE_PREVOTE, 5, 1, 0x12);
    ck_assert_int_eq(
        submit("acme-steel", TDEI_ROLE_MANUFACTURER, &a.vote, &b.vote, 4, 6),
        TDEI_MALFORMED);
    ck_assert_uint_eq(ctx.touched_count, 1);
}
END_TEST

START_TEST(test_evidence_refused_when_already_recorded)
{
    struct vote_fx again;
    char hex[65];
    char want[512];

    seed();
    equivocation();
    ck_assert_int_eq(submit_equivocation("acme-steel", 1, 41), 0);
    ck_assert_int_eq(submit_equivocation("pub-svc", 2, 45),
                     TDEI_EVIDENCE_EXISTS);
    (void)snprintf(want, sizeof(want),
                   "this equivocation of validator %s (height 40 round 2 "
                   "precommit) was recorded at height 41; it is on the "
                   "ledger already",
                   tdei_hex_encode(hex, sizeof(hex), val_one.pubkey, 32));
    ck_assert_str_eq(ctx.reason, want);
    /* A genuine equivocation: the accused member's history shows the
     * refused attempt too. */
    ck_assert(touched_member(0, "pub-svc"));
    ck_assert(touched_member(1, "val-one"));
    ck_assert_uint_eq(ctx.event_count, 0);
    /* The same votes under fresh signatures: the same equivocation. */
    vote_make(&again, &val_one, CHAIN, CODEC_VOTE_PRECOMMIT, 40, 2, 0x20);
    ck_assert_mem_ne(again.sig, block_vote.sig, 64);
    ck_assert_int_eq(submit("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, &nil_vote.vote,
                            &again.vote, 3, 45),
                     TDEI_EVIDENCE_EXISTS);
}
END_TEST

START_TEST(test_evidence_damaged_state_is_fatal)
{
    seed_with(0, 1);
    equivocation();
    ck_assert_int_eq(submit_equivocation("acme-steel", 1, 41), TDEI_CORRUPT);
    ck_assert_str_eq(ctx.reason, "state record validators is damaged: "
                                 "missing");
    fixture_teardown();
    fixture_setup();
    seed_with(1, 0);
    ck_assert_int_eq(submit_equivocation("acme-steel", 1, 41), TDEI_CORRUPT);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "is missing"));
}
END_TEST

static Suite *evidence_suite(void)
{
    Suite *s = suite_create("evidence");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"committed", test_evidence_committed_with_record_event_and_history},
        {"any_member", test_evidence_any_member_may_submit},
        {"other_pair", test_evidence_other_votes_are_another_equivocation},
        {"not_validator", test_evidence_refused_not_a_validator},
        {"bad_signature", test_evidence_refused_bad_signature},
        {"no_conflict", test_evidence_refused_votes_that_do_not_conflict},
        {"recorded", test_evidence_refused_when_already_recorded},
        {"damaged", test_evidence_damaged_state_is_fatal},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(evidence_suite()); }
