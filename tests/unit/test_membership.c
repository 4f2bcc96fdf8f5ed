/* Tests of the membership contract (equal standing), run over the
 * in-memory state: proposals and votes for add, remove and suspend, the
 * 2/3 pass and 1/3 fail thresholds, lazy expiry, each refusal code with
 * its reason, history touches, and the codec checks of the new ops. */
#include "contract_fixture.h"
#include "testutil.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "exec/state.h"

#include <stdio.h>
#include <string.h>


static struct contract_ctx ctx;
static uint8_t signer[32] = {0x01};

/* ---- fixture: four voting members, an auditor, a suspended member -------- */

#define st fixture_st

/* Seed the ledger; @ttl is params.proposal_ttl, 0 for its default. */
static void seed(uint64_t ttl)
{
    static const uint8_t voters_key[] = CONTRACT_KEY_VOTERS;
    struct state *s = fixture_seed_begin();
    struct params_storage p;
    Tdei__VoterCount v = TDEI__VOTER_COUNT__INIT;

    fixture_member(s, "pub-svc", TDEI_ROLE_PUBLIC_SERVICE, CODEC_MEMBER_ACTIVE,
                   1, 0);
    fixture_member(s, "acme-steel", TDEI_ROLE_MANUFACTURER,
                   CODEC_MEMBER_ACTIVE, 2, 0);
    fixture_member(s, "beta-works", TDEI_ROLE_PLATFORM, CODEC_MEMBER_ACTIVE, 3,
                   0);
    fixture_member(s, "gamma-co", TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE,
                   4, 0);
    fixture_member(s, "audit-co", TDEI_ROLE_AUDITOR, CODEC_MEMBER_ACTIVE, 5,
                   0);
    fixture_member(s, "sleepy-co", TDEI_ROLE_MANUFACTURER,
                   CODEC_MEMBER_SUSPENDED, 6, 0);
    fixture_params_default(&p);
    if (ttl != 0) {
        p.params.proposal_ttl = ttl;
    }
    fixture_params_put(s, &p.params);
    v.count = 4;
    fixture_put(s, voters_key, sizeof(voters_key) - 1, &v.base);
    fixture_seed_end(s);
}

/* ---- helpers ------------------------------------------------------------- */

static uint8_t tx_id[32];

/* Start a tx of @member at @height whose id begins with @id_byte. */
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
        .chain_id = "test-chain",
    };

    memset(tx_id, 0, sizeof(tx_id));
    tx_id[0] = id_byte;
    contract_ctx_begin(&ctx, &env);
}

static int run(const Tdei__TxBody *body)
{
    int rc;

    state_tx_begin(st);
    rc = contract_dispatch(&ctx, body);
    if (rc == 0) {
        state_tx_commit(st);
    } else {
        state_tx_rollback(st);
    }
    return rc;
}

static enum tdei_role role_of(const char *member)
{
    if (strcmp(member, "pub-svc") == 0) {
        return TDEI_ROLE_PUBLIC_SERVICE;
    }
    if (strcmp(member, "audit-co") == 0) {
        return TDEI_ROLE_AUDITOR;
    }
    return TDEI_ROLE_MANUFACTURER;
}

static uint8_t new_key[32] = {0x77};
static const char *param_name = "proposal_ttl";
static uint64_t param_value = 5;

/* @by proposes @kind on @target in tx @id_byte at height 7. */
static int propose(const char *by, uint32_t kind, const char *target,
                   uint8_t id_byte)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__MemberPropose p = TDEI__MEMBER_PROPOSE__INIT;

    begin(by, role_of(by), id_byte, 7);
    p.kind = kind;
    p.member = (char *)target;
    if (kind == CODEC_PROPOSE_ADD) {
        p.name = (char *)"New Co";
        p.role = TDEI_ROLE_MANUFACTURER;
        p.node_key = (ProtobufCBinaryData){32, new_key};
        p.operator_key = (ProtobufCBinaryData){32, new_key};
        p.encryption_key = (ProtobufCBinaryData){32, new_key};
    }
    if (kind == CODEC_PROPOSE_KEY_CHANGE) {
        p.node_key = (ProtobufCBinaryData){32, new_key};
    }
    if (kind == CODEC_PROPOSE_PARAMS) {
        p.member = (char *)"";
        p.param = (char *)param_name;
        p.value = param_value;
    }
    body.op_case = TDEI__TX_BODY__OP_MEMBER_PROPOSE;
    body.member_propose = &p;
    return run(&body);
}

/* @by votes on proposal @proposal_byte at @height. */
static int vote(const char *by, uint8_t proposal_byte, int approve,
                uint64_t height)
{
    uint8_t id[32] = {0};
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__MemberVote v = TDEI__MEMBER_VOTE__INIT;

    id[0] = proposal_byte;
    begin(by, role_of(by), (uint8_t)(proposal_byte + 100u), height);
    v.proposal = (ProtobufCBinaryData){32, id};
    v.approve = approve;
    body.op_case = TDEI__TX_BODY__OP_MEMBER_VOTE;
    body.member_vote = &v;
    return run(&body);
}

/* Status of @id, or 0 when absent. */
static uint32_t member_status(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_MEMBER_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Member *m;
    size_t vlen;
    uint32_t status;

    if (state_get_copy(st, key, contract_key_member(key, id), val, sizeof(val),
                       &vlen) != 0) {
        return 0;
    }
    ck_assert_int_eq(codec_member_decode(&m, val, vlen, errmsg), 0);
    status = m->status;
    codec_member_free(m);
    return status;
}

static uint64_t voters(void)
{
    static const uint8_t key[] = CONTRACT_KEY_VOTERS;
    uint8_t val[CODEC_VOTER_COUNT_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__VoterCount *v;
    size_t vlen;
    uint64_t count;

    ck_assert_int_eq(
        state_get_copy(st, key, sizeof(key) - 1, val, sizeof(val), &vlen), 0);
    ck_assert_int_eq(codec_voter_count_decode(&v, val, vlen, errmsg), 0);
    count = v->count;
    codec_voter_count_free(v);
    return count;
}

/* The outcome attribute of the last tx's "member.proposal" event (a
 * change of the validator set adds a "validators.changed" before it). */
static const char *outcome(void)
{
    for (size_t e = 0; e < ctx.event_count; e++) {
        const struct contract_event *ev = &ctx.events[e];
        const struct contract_attr *a;
        if (strcmp(ctx.arena + ev->type, "member.proposal") != 0) {
            continue;
        }
        ck_assert_uint_eq(ev->attr_count, 5);
        a = &ctx.attrs[ev->attr_first + 4];
        ck_assert_str_eq(ctx.arena + a->key, "outcome");
        return ctx.arena + a->value;
    }
    ck_abort_msg("the tx emitted no member.proposal event");
    return NULL;
}

static int touched(const uint8_t *key, size_t klen)
{
    for (size_t i = 0; i < ctx.touched_count; i++) {
        if (ctx.touched[i].klen == klen &&
            memcmp(ctx.touched[i].key, key, klen) == 0) {
            return 1;
        }
    }
    return 0;
}

static int touched_member(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return touched(key, contract_key_member(key, id));
}

static int touched_proposal(uint8_t id_byte)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t plen = sizeof(CONTRACT_KEY_PROPOSAL) - 1;

    memset(key, 0, sizeof(key));
    memcpy(key, CONTRACT_KEY_PROPOSAL, plen);
    key[plen] = id_byte;
    return touched(key, plen + 32);
}

/* ---- success ------------------------------------------------------------- */

START_TEST(test_membership_add_passes_at_three_of_four)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t vlen;

    seed(0);
    ck_assert_int_eq(propose("acme-steel", CODEC_PROPOSE_ADD, "new-co", 1), 0);
    ck_assert_str_eq(outcome(), "open: needs more than 2/3 of 4 voting "
                                "members; 1 approvals, 0 rejections present");
    ck_assert(touched_member("acme-steel"));
    ck_assert(touched_proposal(1));
    ck_assert_uint_eq(member_status("new-co"), 0);
    ck_assert_int_eq(vote("beta-works", 1, 1, 8), 0);
    ck_assert_str_eq(outcome(), "open: needs more than 2/3 of 4 voting "
                                "members; 2 approvals, 0 rejections present");
    ck_assert_uint_eq(member_status("new-co"), 0);
    ck_assert_int_eq(vote("pub-svc", 1, 1, 9), 0);
    ck_assert_str_eq(outcome(), "passed: 3 of 4 voting members approved "
                                "(more than 2/3 needed)");
    ck_assert(touched_member("pub-svc"));
    ck_assert(touched_proposal(1));
    ck_assert(touched_member("new-co"));
    ck_assert_uint_eq(member_status("new-co"), CODEC_MEMBER_ACTIVE);
    ck_assert_uint_eq(voters(), 5);
    ck_assert_int_eq(state_get_copy(st, key, contract_key_opkey(key, new_key),
                                    NULL, 0, &vlen),
                     TDEI_TOOBIG);
    ck_assert_int_eq(state_get_copy(st, key, contract_key_nodekey(key, new_key),
                                    NULL, 0, &vlen),
                     TDEI_TOOBIG);
    /* Decided: a fourth vote is refused. */
    ck_assert_int_eq(vote("gamma-co", 1, 1, 10), TDEI_PROPOSAL_CLOSED);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "already passed"));
}
END_TEST

START_TEST(test_membership_remove_passes_and_leaves_the_count)
{
    seed(0);
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_REMOVE, "gamma-co", 2),
                     0);
    ck_assert(touched_member("gamma-co"));
    ck_assert_int_eq(vote("acme-steel", 2, 1, 8), 0);
    ck_assert_int_eq(vote("beta-works", 2, 1, 8), 0);
    ck_assert_str_eq(outcome(), "passed: 3 of 4 voting members approved "
                                "(more than 2/3 needed)");
    ck_assert_uint_eq(member_status("gamma-co"), CODEC_MEMBER_REMOVED);
    ck_assert_uint_eq(voters(), 3);
}
END_TEST

START_TEST(test_membership_suspend_passes)
{
    seed(0);
    ck_assert_int_eq(
        propose("gamma-co", CODEC_PROPOSE_SUSPEND, "acme-steel", 3), 0);
    ck_assert_int_eq(vote("beta-works", 3, 1, 8), 0);
    ck_assert_uint_eq(member_status("acme-steel"), CODEC_MEMBER_ACTIVE);
    ck_assert_int_eq(vote("pub-svc", 3, 1, 8), 0);
    ck_assert_uint_eq(member_status("acme-steel"), CODEC_MEMBER_SUSPENDED);
    ck_assert_uint_eq(voters(), 3);
    /* A suspended member neither proposes nor votes. */
    ck_assert_int_eq(propose("acme-steel", CODEC_PROPOSE_REMOVE, "gamma-co", 4),
                     TDEI_NOT_VOTER);
}
END_TEST

START_TEST(test_membership_fails_at_one_third_rejecting)
{
    seed(0);
    ck_assert_int_eq(
        propose("acme-steel", CODEC_PROPOSE_REMOVE, "beta-works", 5), 0);
    ck_assert_int_eq(vote("beta-works", 5, 0, 8), 0);
    /* 1 of 4 rejects: 3 < 4, still open. */
    ck_assert_str_eq(outcome(), "open: needs more than 2/3 of 4 voting "
                                "members; 1 approvals, 1 rejections present");
    ck_assert_int_eq(vote("gamma-co", 5, 0, 8), 0);
    ck_assert_str_eq(outcome(), "failed: 2 of 4 voting members rejected (at "
                                "least 1/3 fails it)");
    ck_assert_uint_eq(member_status("beta-works"), CODEC_MEMBER_ACTIVE);
    ck_assert_int_eq(vote("pub-svc", 5, 1, 8), TDEI_PROPOSAL_CLOSED);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "already failed"));
}
END_TEST

/* ---- refusals ------------------------------------------------------------ */

START_TEST(test_membership_refused_not_voter)
{
    seed(0);
    ck_assert_int_eq(propose("audit-co", CODEC_PROPOSE_REMOVE, "gamma-co", 6),
                     TDEI_NOT_VOTER);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "auditor"));
    ck_assert(touched_member("audit-co"));
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_REMOVE, "gamma-co", 6),
                     0);
    ck_assert_int_eq(vote("sleepy-co", 6, 1, 8), TDEI_NOT_VOTER);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "suspended"));
    ck_assert_int_eq(vote("audit-co", 6, 1, 8), TDEI_NOT_VOTER);
}
END_TEST

START_TEST(test_membership_refused_second_vote_of_one_member)
{
    seed(0);
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_REMOVE, "gamma-co", 7),
                     0);
    /* The proposer's proposal is its approval. */
    ck_assert_int_eq(vote("pub-svc", 7, 1, 8), TDEI_ALREADY_VOTED);
    ck_assert_int_eq(vote("acme-steel", 7, 0, 8), 0);
    /* Another operator key of the same member: still one vote. */
    signer[0] = 0x99;
    ck_assert_int_eq(vote("acme-steel", 7, 1, 8), TDEI_ALREADY_VOTED);
    signer[0] = 0x01;
    ck_assert_ptr_nonnull(strstr(ctx.reason, "acme-steel already voted"));
}
END_TEST

START_TEST(test_membership_refused_unknown_proposal)
{
    seed(0);
    ck_assert_int_eq(vote("pub-svc", 42, 1, 8), TDEI_UNKNOWN_PROPOSAL);
    ck_assert_str_ne(ctx.reason, "");
}
END_TEST

START_TEST(test_membership_refused_after_expiry)
{
    seed(10);
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_REMOVE, "gamma-co", 8),
                     0);
    /* Proposed at 7 with ttl 10: votes accepted through height 17. */
    ck_assert_int_eq(vote("acme-steel", 8, 1, 17), 0);
    ck_assert_int_eq(vote("beta-works", 8, 1, 18), TDEI_PROPOSAL_EXPIRED);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "after height 17"));
    ck_assert_uint_eq(member_status("gamma-co"), CODEC_MEMBER_ACTIVE);
}
END_TEST

START_TEST(test_membership_refused_add_existing)
{
    seed(0);
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_ADD, "acme-steel", 9),
                     TDEI_MEMBER_EXISTS);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "id is taken"));
    new_key[0] = 2; /* acme-steel's node key */
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_ADD, "new-co", 9),
                     TDEI_MEMBER_EXISTS);
    new_key[0] = 0x77;
    ck_assert_ptr_nonnull(strstr(ctx.reason, "node key"));
}
END_TEST

START_TEST(test_membership_refused_unknown_or_wrong_state_target)
{
    seed(0);
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_REMOVE, "nobody", 10),
                     TDEI_UNKNOWN_MEMBER);
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_SUSPEND, "sleepy-co", 10),
                     TDEI_MEMBER_STATE);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "is suspended"));
    /* A suspended member may still be removed. */
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_REMOVE, "sleepy-co", 10),
                     0);
}
END_TEST

/* pub-svc proposes; acme-steel and beta-works approve: 3 of 4 pass it. */
static void pass_three(uint32_t kind, const char *target, uint8_t id_byte)
{
    ck_assert_int_eq(propose("pub-svc", kind, target, id_byte), 0);
    ck_assert_int_eq(vote("acme-steel", id_byte, 1, 8), 0);
    ck_assert_int_eq(vote("beta-works", id_byte, 1, 8), 0);
    ck_assert_str_eq(outcome(), "passed: 3 of 4 voting members approved "
                                "(more than 2/3 needed)");
}

static int has_key(const char *prefix_key, const uint8_t k[32])
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen;
    size_t vlen;

    klen = strcmp(prefix_key, "node") == 0 ? contract_key_nodekey(key, k)
                                           : contract_key_opkey(key, k);
    return state_get_copy(st, key, klen, NULL, 0, &vlen) == TDEI_TOOBIG;
}

START_TEST(test_membership_key_change_passes)
{
    uint8_t old_key[32] = {4};

    seed(0);
    pass_three(CODEC_PROPOSE_KEY_CHANGE, "gamma-co", 11);
    ck_assert(touched_member("gamma-co"));
    ck_assert(has_key("node", new_key));
    ck_assert(!has_key("node", old_key));
    ck_assert_uint_eq(member_status("gamma-co"), CODEC_MEMBER_ACTIVE);
    /* The key is now taken. */
    ck_assert_int_eq(
        propose("pub-svc", CODEC_PROPOSE_KEY_CHANGE, "acme-steel", 12),
        TDEI_MEMBER_EXISTS);
}
END_TEST

static uint64_t ttl_now(void)
{
    static const uint8_t key[] = CONTRACT_KEY_PARAMS;
    uint8_t val[CODEC_PARAMS_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Params *p;
    size_t vlen;
    uint64_t ttl;

    ck_assert_int_eq(
        state_get_copy(st, key, sizeof(key) - 1, val, sizeof(val), &vlen), 0);
    ck_assert_int_eq(codec_params_decode(&p, val, vlen, errmsg), 0);
    ttl = p->proposal_ttl;
    codec_params_free(p);
    return ttl;
}

START_TEST(test_membership_params_passes_and_refusals)
{
    uint8_t key[] = CONTRACT_KEY_PARAMS;

    seed(0);
    param_name = "proposal_ttl";
    param_value = 5;
    pass_three(CODEC_PROPOSE_PARAMS, "", 13);
    ck_assert(touched(key, sizeof(key) - 1));
    ck_assert_uint_eq(ttl_now(), 5);
    param_value = 0;
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_PARAMS, "", 14),
                     TDEI_PARAM_RANGE);
    param_name = "mint_enabled";
    param_value = 2;
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_PARAMS, "", 14),
                     TDEI_PARAM_RANGE);
    param_name = "tx_size_max";
    param_value = 1;
    ck_assert_int_eq(propose("pub-svc", CODEC_PROPOSE_PARAMS, "", 14),
                     TDEI_UNKNOWN_PARAM);
    param_name = "proposal_ttl";
    param_value = 5;
}
END_TEST

static int rotate(const uint8_t *add, const uint8_t *remove)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__OperatorKeyRotate r = TDEI__OPERATOR_KEY_ROTATE__INIT;

    begin("acme-steel", TDEI_ROLE_MANUFACTURER, 50, 8);
    if (add != NULL) {
        r.add_key = (ProtobufCBinaryData){32, (uint8_t *)add};
    }
    if (remove != NULL) {
        r.remove_key = (ProtobufCBinaryData){32, (uint8_t *)remove};
    }
    body.op_case = TDEI__TX_BODY__OP_OPERATOR_KEY_ROTATE;
    body.operator_key_rotate = &r;
    return run(&body);
}

START_TEST(test_membership_operator_key_rotate)
{
    uint8_t first[32] = {2}; /* acme-steel's seeded key */
    uint8_t k[32] = {0};

    seed(0);
    /* Sign with the first key: removing it is refused. */
    memcpy(signer, first, 32);
    ck_assert_int_eq(rotate(NULL, first), TDEI_SIGNING_KEY);
    uint8_t low[32] = {0x00, 0x01}; /* sorts before {2} */
    ck_assert_int_eq(rotate(low, NULL), 0);
    ck_assert(touched_member("acme-steel"));
    ck_assert(has_key("op", low));
    ck_assert_int_eq(rotate(low, NULL), TDEI_MEMBER_EXISTS);
    k[0] = 0x03; /* beta-works' key */
    ck_assert_int_eq(rotate(k, NULL), TDEI_MEMBER_EXISTS);
    k[0] = 0xEE;
    ck_assert_int_eq(rotate(NULL, k), TDEI_UNKNOWN_KEY);
    /* Sign with the low key, remove {2}: the low key stays alone. */
    memcpy(signer, low, 32);
    ck_assert_int_eq(rotate(NULL, first), 0);
    ck_assert(!has_key("op", first));
    signer[0] = 0x40; /* as if another key of the member signed */
    ck_assert_int_eq(rotate(NULL, low), TDEI_LAST_KEY);
    /* Fill to 8 keys, the 9th is refused. */
    for (uint8_t i = 0; i < 7; i++) {
        k[0] = (uint8_t)(0x80 + i);
        ck_assert_int_eq(rotate(k, NULL), 0);
    }
    k[0] = 0x90;
    ck_assert_int_eq(rotate(k, NULL), TDEI_KEY_LIMIT);
    memset(signer, 0, 32);
    signer[0] = 0x01;
}
END_TEST

START_TEST(test_membership_refusal_writes_nothing)
{
    seed(0);
    ck_assert_int_eq(propose("audit-co", CODEC_PROPOSE_REMOVE, "gamma-co", 12),
                     TDEI_NOT_VOTER);
    ck_assert_uint_eq(ctx.event_count, 0);
    ck_assert_int_eq(vote("pub-svc", 12, 1, 8), TDEI_UNKNOWN_PROPOSAL);
}
END_TEST

/* ---- the validator set --------------------------------------------------- */

/* Seed as seed(0), then make the members @ids (NULL-terminated) the
 * validators: Member.validator set, and the "validators" record; with
 * params.validators_max @max. */
static void seed_validators(const char *const *ids, uint64_t max)
{
    static const uint8_t voters_key[] = CONTRACT_KEY_VOTERS;
    static const uint8_t vkey[] = CONTRACT_KEY_VALIDATORS;
    static const struct
    {
        const char *id;
        uint8_t keybyte;
    } all[] = {{"pub-svc", 1}, {"acme-steel", 2}, {"beta-works", 3},
               {"gamma-co", 4}};
    uint8_t keys[4][32];
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Validator vals[4];
    Tdei__Validator *ptrs[4];
    Tdei__ValidatorSet set = TDEI__VALIDATOR_SET__INIT;
    Tdei__VoterCount v = TDEI__VOTER_COUNT__INIT;
    struct params_storage p;
    struct state *s = fixture_seed_begin();

    fixture_member(s, "pub-svc", TDEI_ROLE_PUBLIC_SERVICE, CODEC_MEMBER_ACTIVE,
                   1, 0);
    fixture_member(s, "acme-steel", TDEI_ROLE_MANUFACTURER,
                   CODEC_MEMBER_ACTIVE, 2, 0);
    fixture_member(s, "beta-works", TDEI_ROLE_PLATFORM, CODEC_MEMBER_ACTIVE, 3,
                   0);
    fixture_member(s, "gamma-co", TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE,
                   4, 0);
    fixture_member(s, "audit-co", TDEI_ROLE_AUDITOR, CODEC_MEMBER_ACTIVE, 5,
                   0);
    for (size_t i = 0; i < 4; i++) {
        Tdei__Member m = TDEI__MEMBER__INIT;
        ProtobufCBinaryData op = {32, keys[i]};
        int is_validator = 0;
        memset(keys[i], 0, 32);
        keys[i][0] = all[i].keybyte;
        for (size_t j = 0; ids[j] != NULL; j++) {
            is_validator |= strcmp(ids[j], all[i].id) == 0;
        }
        m.id = (char *)all[i].id;
        m.name = (char *)all[i].id;
        m.role = i == 0 ? TDEI_ROLE_PUBLIC_SERVICE : TDEI_ROLE_MANUFACTURER;
        m.node_key = op;
        m.encryption_key = op;
        m.n_operator_keys = 1;
        m.operator_keys = &op;
        m.status = CODEC_MEMBER_ACTIVE;
        m.validator = is_validator;
        fixture_put(s, key, contract_key_member(key, all[i].id), &m.base);
        if (is_validator) {
            tdei__validator__init(&vals[set.n_validators]);
            vals[set.n_validators].node_key = op;
            vals[set.n_validators].member = (char *)all[i].id;
            ptrs[set.n_validators] = &vals[set.n_validators];
            set.n_validators++;
        }
    }
    set.validators = ptrs;
    fixture_put(s, vkey, sizeof(vkey) - 1, &set.base);
    fixture_params_default(&p);
    p.params.validators_max = max;
    fixture_params_put(s, &p.params);
    v.count = 4;
    fixture_put(s, voters_key, sizeof(voters_key) - 1, &v.base);
    fixture_seed_end(s);
}

/* The first key bytes of the set at state key @name, as "01,02,77"; "-"
 * when the record is absent. */
static const char *set_at(const char *name)
{
    static char text[64];
    uint8_t val[CODEC_VALIDATOR_SET_SIZE_MAX(8)];
    const struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__ValidatorSet *set;
    size_t vlen;
    size_t used = 0;
    int rc = state_get_copy(st, (const uint8_t *)name, strlen(name), val,
                            sizeof(val), &vlen);

    if (rc == TDEI_NOTFOUND) {
        return "-";
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(codec_validator_set_decode(&set, val, vlen, &limits,
                                                errmsg),
                     0);
    text[0] = '\0';
    for (size_t i = 0; i < set->n_validators; i++) {
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%02x",
                                 i > 0 ? "," : "",
                                 set->validators[i]->node_key.data[0]);
    }
    codec_validator_set_free(set);
    return text;
}

/* Member.validator of @id. */
static int member_validator(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_MEMBER_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Member *m;
    size_t vlen;
    int validator;

    ck_assert_int_eq(state_get_copy(st, key, contract_key_member(key, id), val,
                                    sizeof(val), &vlen),
                     0);
    ck_assert_int_eq(codec_member_decode(&m, val, vlen, errmsg), 0);
    validator = m->validator;
    codec_member_free(m);
    return validator;
}

/* The value of attribute @name of event @type of the last tx, or NULL. */
static const char *event_attr(const char *type, const char *name)
{
    for (size_t e = 0; e < ctx.event_count; e++) {
        const struct contract_event *ev = &ctx.events[e];
        if (strcmp(ctx.arena + ev->type, type) != 0) {
            continue;
        }
        for (size_t a = 0; a < ev->attr_count; a++) {
            const struct contract_attr *at = &ctx.attrs[ev->attr_first + a];
            if (strcmp(ctx.arena + at->key, name) == 0) {
                return ctx.arena + at->value;
            }
        }
    }
    return NULL;
}

static const char *const two_validators[] = {"pub-svc", "acme-steel", NULL};

/* pub-svc proposes an add of a validator; the set of height + 2 gains its
 * node key (in key order), the current set stays, and the Member says
 * validator. */
START_TEST(test_membership_validator_added)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__MemberPropose p = TDEI__MEMBER_PROPOSE__INIT;

    seed_validators(two_validators, 100);
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "-");
    begin("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, 30, 7);
    p.kind = CODEC_PROPOSE_ADD;
    p.member = (char *)"new-co";
    p.name = (char *)"New Co";
    p.role = TDEI_ROLE_MANUFACTURER;
    new_key[0] = 0x01;
    new_key[1] = 0x80; /* 01 80 ...: after pub-svc's 01 00 ... */
    p.node_key = (ProtobufCBinaryData){32, new_key};
    p.operator_key = (ProtobufCBinaryData){32, new_key};
    p.encryption_key = (ProtobufCBinaryData){32, new_key};
    p.validator = 1;
    body.op_case = TDEI__TX_BODY__OP_MEMBER_PROPOSE;
    body.member_propose = &p;
    ck_assert_int_eq(run(&body), 0);
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "-");
    ck_assert_int_eq(vote("acme-steel", 30, 1, 8), 0);
    ck_assert_int_eq(vote("beta-works", 30, 1, 9), 0);
    ck_assert_str_eq(event_attr("validators.changed", "change"), "add");
    ck_assert_str_eq(event_attr("validators.changed", "member"), "new-co");
    ck_assert_str_eq(event_attr("validators.changed", "validators"), "3");
    ck_assert_str_eq(event_attr("validators.changed", "from_height"), "11");
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS), "01,02");
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "01,01,02");
    ck_assert_int_eq(member_validator("new-co"), 1);
    new_key[0] = 0x77;
    new_key[1] = 0;
}
END_TEST

/* A remove and a suspend of validators each take its key out of the set
 * of height + 2, cumulatively, and clear Member.validator; a member that
 * is not a validator leaves the set alone. */
START_TEST(test_membership_validator_removed_and_suspended)
{
    static const char *const three[] = {"pub-svc", "acme-steel", "gamma-co",
                                        NULL};

    seed_validators(three, 100);
    pass_three(CODEC_PROPOSE_REMOVE, "gamma-co", 31);
    ck_assert_str_eq(event_attr("validators.changed", "change"), "remove");
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "01,02");
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS), "01,02,04");
    ck_assert_int_eq(member_validator("gamma-co"), 0);
    ck_assert_uint_eq(member_status("gamma-co"), CODEC_MEMBER_REMOVED);
    /* 3 voters now: pub-svc and acme-steel pass a suspend of acme-steel
     * with beta-works. */
    ck_assert_int_eq(
        propose("pub-svc", CODEC_PROPOSE_SUSPEND, "acme-steel", 32), 0);
    ck_assert_int_eq(vote("beta-works", 32, 1, 8), 0);
    ck_assert_int_eq(vote("acme-steel", 32, 1, 8), 0);
    ck_assert_uint_eq(member_status("acme-steel"), CODEC_MEMBER_SUSPENDED);
    ck_assert_int_eq(member_validator("acme-steel"), 0);
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "01");
    /* beta-works runs no validator: its removal changes no set. */
    ck_assert_int_eq(
        propose("pub-svc", CODEC_PROPOSE_REMOVE, "beta-works", 33), 0);
    ck_assert_int_eq(vote("beta-works", 33, 1, 9), 0);
    ck_assert_uint_eq(member_status("beta-works"), CODEC_MEMBER_REMOVED);
    ck_assert_ptr_null(event_attr("validators.changed", "change"));
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "01");
}
END_TEST

/* A key_change of a validator's node key is no longer refused: the new
 * key replaces the old one in the set of height + 2, in key order. */
START_TEST(test_membership_validator_key_changed)
{
    seed_validators(two_validators, 100);
    new_key[0] = 0x00; /* sorts first */
    pass_three(CODEC_PROPOSE_KEY_CHANGE, "acme-steel", 34);
    new_key[0] = 0x77;
    ck_assert_str_eq(event_attr("validators.changed", "change"),
                     "key_change");
    ck_assert_str_eq(event_attr("validators.changed", "validators"), "2");
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "00,01");
    ck_assert_int_eq(member_validator("acme-steel"), 1);
    /* Changing only the encryption key of a validator changes no set. */
    {
        Tdei__TxBody body = TDEI__TX_BODY__INIT;
        Tdei__MemberPropose p = TDEI__MEMBER_PROPOSE__INIT;
        begin("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, 35, 9);
        p.kind = CODEC_PROPOSE_KEY_CHANGE;
        p.member = (char *)"acme-steel";
        p.encryption_key = (ProtobufCBinaryData){32, new_key};
        body.op_case = TDEI__TX_BODY__OP_MEMBER_PROPOSE;
        body.member_propose = &p;
        ck_assert_int_eq(run(&body), 0);
    }
    ck_assert_int_eq(vote("acme-steel", 35, 1, 9), 0);
    ck_assert_int_eq(vote("beta-works", 35, 1, 9), 0);
    ck_assert_ptr_nonnull(strstr(outcome(), "passed"));
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "00,01");
}
END_TEST

/* Removing or suspending the last validator is refused with
 * TDEI_NO_VALIDATORS, when proposed and again when a vote would apply it
 * after another change took the second-to-last one. */
START_TEST(test_membership_refused_no_validators)
{
    static const char *const one[] = {"pub-svc", NULL};

    seed_validators(one, 100);
    ck_assert_int_eq(propose("acme-steel", CODEC_PROPOSE_REMOVE, "pub-svc", 36),
                     TDEI_NO_VALIDATORS);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "only validator"));
    ck_assert_int_eq(
        propose("acme-steel", CODEC_PROPOSE_SUSPEND, "pub-svc", 36),
        TDEI_NO_VALIDATORS);
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "-");
    ck_assert_int_eq(member_validator("pub-svc"), 1);
}
END_TEST

START_TEST(test_membership_refused_no_validators_when_applied)
{
    seed_validators(two_validators, 100);
    /* Each alone leaves one validator: both are proposed. */
    ck_assert_int_eq(propose("beta-works", CODEC_PROPOSE_REMOVE, "pub-svc", 37),
                     0);
    ck_assert_int_eq(
        propose("beta-works", CODEC_PROPOSE_REMOVE, "acme-steel", 38), 0);
    ck_assert_int_eq(vote("gamma-co", 37, 1, 8), 0);
    ck_assert_int_eq(vote("acme-steel", 37, 1, 8), 0);
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "02");
    /* 3 voters left (pub-svc removed): the vote that passes the second
     * removal is refused, and changes nothing. */
    ck_assert_int_eq(vote("gamma-co", 38, 1, 9), 0);
    ck_assert_ptr_nonnull(strstr(outcome(), "open"));
    ck_assert_int_eq(vote("acme-steel", 38, 1, 9), TDEI_NO_VALIDATORS);
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "02");
    ck_assert_uint_eq(member_status("acme-steel"), CODEC_MEMBER_ACTIVE);
    ck_assert_int_eq(member_validator("acme-steel"), 1);
}
END_TEST

/* An add of a validator past params.validators_max is refused with
 * TDEI_VALIDATORS_FULL; the same member as a non-validator is taken. */
START_TEST(test_membership_refused_validators_full)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__MemberPropose p = TDEI__MEMBER_PROPOSE__INIT;

    seed_validators(two_validators, 2);
    begin("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, 39, 7);
    p.kind = CODEC_PROPOSE_ADD;
    p.member = (char *)"new-co";
    p.name = (char *)"New Co";
    p.role = TDEI_ROLE_MANUFACTURER;
    p.node_key = (ProtobufCBinaryData){32, new_key};
    p.operator_key = (ProtobufCBinaryData){32, new_key};
    p.encryption_key = (ProtobufCBinaryData){32, new_key};
    p.validator = 1;
    body.op_case = TDEI__TX_BODY__OP_MEMBER_PROPOSE;
    body.member_propose = &p;
    ck_assert_int_eq(run(&body), TDEI_VALIDATORS_FULL);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "would hold 3 validators; at "
                                             "most 2"));
    ck_assert_str_eq(set_at(CONTRACT_KEY_VALIDATORS_NEXT), "-");
    p.validator = 0;
    begin("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, 39, 7);
    ck_assert_int_eq(run(&body), 0);
}
END_TEST

/* A validator member whose key is not in the set is a damaged state: the
 * tx fails as fatal, not as a refusal. */
START_TEST(test_membership_validator_missing_from_set_is_corrupt)
{
    static const char *const only_acme[] = {"acme-steel", NULL};

    seed_validators(only_acme, 100);
    /* pub-svc's Member says validator (fixture_member), the set says no:
     * rewrite pub-svc as a validator member outside the set. */
    {
        uint8_t key[CONTRACT_KEY_SIZE_MAX];
        uint8_t k[32] = {1};
        ProtobufCBinaryData b = {32, k};
        Tdei__Member m = TDEI__MEMBER__INIT;
        m.id = (char *)"pub-svc";
        m.name = (char *)"pub-svc";
        m.role = TDEI_ROLE_PUBLIC_SERVICE;
        m.node_key = b;
        m.encryption_key = b;
        m.n_operator_keys = 1;
        m.operator_keys = &b;
        m.status = CODEC_MEMBER_ACTIVE;
        m.validator = 1;
        fixture_put(st, key, contract_key_member(key, "pub-svc"), &m.base);
    }
    ck_assert_int_eq(propose("acme-steel", CODEC_PROPOSE_REMOVE, "pub-svc", 40),
                     TDEI_CORRUPT);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "not in it"));
}
END_TEST

/* ---- codec --------------------------------------------------------------- */

/* Pack @body with a valid envelope and decode it. */
static int decode(Tdei__TxBody *body)
{
    static uint8_t key32[32] = {1};
    Tdei__TxBody *out;
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *buf;
    size_t len;
    int rc;

    body->version = 1;
    body->chain_id = (char *)"test-chain";
    body->signer = (ProtobufCBinaryData){32, key32};
    body->nonce = 1;
    ck_assert_int_eq(codec_encode(&body->base, &buf, &len), 0);
    rc = codec_txbody_decode(&out, buf, len, errmsg);
    tdei_free(buf);
    if (rc == 0) {
        codec_message_free(&out->base);
    }
    return rc;
}

START_TEST(test_membership_codec_checks_ops)
{
    static uint8_t key32[32] = {3};
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__MemberPropose p = TDEI__MEMBER_PROPOSE__INIT;
    Tdei__MemberVote v = TDEI__MEMBER_VOTE__INIT;
    Tdei__OperatorKeyRotate r = TDEI__OPERATOR_KEY_ROTATE__INIT;

    body.op_case = TDEI__TX_BODY__OP_MEMBER_PROPOSE;
    body.member_propose = &p;
    p.kind = CODEC_PROPOSE_REMOVE;
    p.member = (char *)"gamma-co";
    ck_assert_int_eq(decode(&body), 0);
    p.kind = 9;
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
    p.kind = CODEC_PROPOSE_REMOVE;
    p.name = (char *)"stray";
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
    p.kind = CODEC_PROPOSE_ADD;
    p.role = TDEI_ROLE_AUDITOR;
    p.node_key = (ProtobufCBinaryData){32, key32};
    p.operator_key = (ProtobufCBinaryData){32, key32};
    p.encryption_key = (ProtobufCBinaryData){32, key32};
    ck_assert_int_eq(decode(&body), 0);
    p.validator = 1;
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
    p.validator = 0;
    p.operator_key.len = 31;
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
    p.operator_key.len = 32;
    p.member = (char *)"X";
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);

    body.op_case = TDEI__TX_BODY__OP_MEMBER_VOTE;
    body.member_vote = &v;
    v.proposal = (ProtobufCBinaryData){32, key32};
    ck_assert_int_eq(decode(&body), 0);
    v.proposal.len = 16;
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);

    body.op_case = TDEI__TX_BODY__OP_OPERATOR_KEY_ROTATE;
    body.operator_key_rotate = &r;
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
    r.add_key = (ProtobufCBinaryData){32, key32};
    ck_assert_int_eq(decode(&body), 0);
    r.remove_key = (ProtobufCBinaryData){32, key32};
    ck_assert_int_eq(decode(&body), TDEI_MALFORMED);
}
END_TEST

static Suite *membership_suite(void)
{
    Suite *s = suite_create("membership");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"add", test_membership_add_passes_at_three_of_four},
        {"remove", test_membership_remove_passes_and_leaves_the_count},
        {"suspend", test_membership_suspend_passes},
        {"fail", test_membership_fails_at_one_third_rejecting},
        {"not_voter", test_membership_refused_not_voter},
        {"voted", test_membership_refused_second_vote_of_one_member},
        {"unknown_proposal", test_membership_refused_unknown_proposal},
        {"expired", test_membership_refused_after_expiry},
        {"exists", test_membership_refused_add_existing},
        {"target", test_membership_refused_unknown_or_wrong_state_target},
        {"key_change", test_membership_key_change_passes},
        {"params", test_membership_params_passes_and_refusals},
        {"rotate", test_membership_operator_key_rotate},
        {"refusal", test_membership_refusal_writes_nothing},
        {"codec", test_membership_codec_checks_ops},
        {"validator_add", test_membership_validator_added},
        {"validator_remove", test_membership_validator_removed_and_suspended},
        {"validator_key", test_membership_validator_key_changed},
        {"no_validators", test_membership_refused_no_validators},
        {"no_validators_applied",
         test_membership_refused_no_validators_when_applied},
        {"validators_full", test_membership_refused_validators_full},
        {"validator_corrupt",
         test_membership_validator_missing_from_set_is_corrupt},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(membership_suite()); }
