/* Tests of the settle contract and the contract interface, run over the
 * in-memory state: every rule's success and each refusal code with its
 * reason, history touches, events, the per-tx budget and dispatch of an
 * unknown op. */
#include "contract_fixture.h"
#include "testutil.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "exec/state.h"

#include <string.h>


static struct contract_ctx ctx;
static const uint8_t tx_id[32] = {0x42};
static const uint8_t signer[32] = {0x01};

/* ---- fixture: a small ledger --------------------------------------------- */

#define st fixture_st

static void seed(int mint_enabled)
{
    struct state *s = fixture_seed_begin();
    struct params_storage p;

    fixture_member(s, "pub-svc", TDEI_ROLE_PUBLIC_SERVICE, CODEC_MEMBER_ACTIVE,
                   1, 0);
    fixture_member(s, "acme-steel", TDEI_ROLE_MANUFACTURER,
                   CODEC_MEMBER_ACTIVE, 2, 120);
    fixture_member(s, "beta-works", TDEI_ROLE_PLATFORM, CODEC_MEMBER_ACTIVE, 3,
                   500);
    fixture_member(s, "sleepy-co", TDEI_ROLE_MANUFACTURER,
                   CODEC_MEMBER_SUSPENDED, 4, 7);
    fixture_member(s, "rich-co", TDEI_ROLE_MANUFACTURER, CODEC_MEMBER_ACTIVE,
                   5, UINT64_MAX - 5);
    fixture_params_default(&p);
    p.params.mint_enabled = mint_enabled;
    fixture_params_put(s, &p.params);
    fixture_seed_end(s);
}

/* ---- helpers ------------------------------------------------------------- */

static void begin(const char *member, enum tdei_role role)
{
    struct contract_env env = {
        .ops = &state_contract_ops,
        .state = st,
        .signer = signer,
        .member = member,
        .role = role,
        .height = 7,
        .time_ms = 1764000000000ull,
        .tx_id = tx_id,
        .chain_id = "test-chain",
    };

    contract_ctx_begin(&ctx, &env);
}

/* Run one op as a tx: a checkpoint rolled back on refusal, as exec does. */
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

static int transfer(const char *from, const char *to, uint64_t amount)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Transfer t = TDEI__TRANSFER__INIT;

    begin(from, TDEI_ROLE_MANUFACTURER);
    t.to = (char *)to;
    t.amount = amount;
    body.op_case = TDEI__TX_BODY__OP_TRANSFER;
    body.transfer = &t;
    return run(&body);
}

static int mint(const char *by, enum tdei_role role, const char *to,
                uint64_t amount)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Mint m = TDEI__MINT__INIT;

    begin(by, role);
    m.to = (char *)to;
    m.amount = amount;
    body.op_case = TDEI__TX_BODY__OP_MINT;
    body.mint = &m;
    return run(&body);
}

static uint64_t balance(const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_ACCOUNT_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Account *a;
    size_t vlen;
    uint64_t b;

    ck_assert_int_eq(state_get_copy(st, key, contract_key_account(key, id), val,
                                    sizeof(val), &vlen),
                     0);
    ck_assert_int_eq(codec_account_decode(&a, val, vlen, errmsg), 0);
    b = a->balance;
    codec_account_free(a);
    return b;
}

static void expect_touched(size_t index, const char *member)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_member(key, member);

    ck_assert_uint_gt(ctx.touched_count, index);
    ck_assert_uint_eq(ctx.touched[index].klen, klen);
    ck_assert(memcmp(ctx.touched[index].key, key, klen) == 0);
}

static const char *attr(size_t event, size_t index, const char **key)
{
    const struct contract_attr *a =
        &ctx.attrs[ctx.events[event].attr_first + index];

    *key = ctx.arena + a->key;
    return ctx.arena + a->value;
}

/* ---- transfer ------------------------------------------------------------ */

START_TEST(test_settle_transfer_moves_credits)
{
    const char *key;

    seed(0);
    ck_assert_int_eq(transfer("acme-steel", "beta-works", 120), 0);
    ck_assert_str_eq(ctx.reason, "");
    ck_assert_uint_eq(balance("acme-steel"), 0);
    ck_assert_uint_eq(balance("beta-works"), 620);
    ck_assert_uint_eq(ctx.touched_count, 2);
    expect_touched(0, "acme-steel");
    expect_touched(1, "beta-works");
    ck_assert_uint_eq(ctx.event_count, 1);
    ck_assert_str_eq(ctx.arena + ctx.events[0].type, "transfer");
    ck_assert_uint_eq(ctx.events[0].attr_count, 3);
    ck_assert_str_eq(attr(0, 0, &key), "acme-steel");
    ck_assert_str_eq(key, "from");
    ck_assert_str_eq(attr(0, 1, &key), "beta-works");
    ck_assert_str_eq(key, "to");
    ck_assert_str_eq(attr(0, 2, &key), "120");
    ck_assert_str_eq(key, "amount");
}
END_TEST

START_TEST(test_settle_transfer_refused_insufficient_funds)
{
    seed(0);
    ck_assert_int_eq(transfer("acme-steel", "beta-works", 500),
                     TDEI_INSUFFICIENT_FUNDS);
    ck_assert_str_eq(ctx.reason,
                     "transfer needs 500 credits; acme-steel holds 120");
    ck_assert_uint_eq(balance("acme-steel"), 120);
    ck_assert_uint_eq(balance("beta-works"), 500);
    /* Both objects keep the refusal in their history; no events. */
    ck_assert_uint_eq(ctx.touched_count, 2);
    ck_assert_uint_eq(ctx.event_count, 0);
    /* 121 is one past the balance; 120 is all of it. */
    ck_assert_int_eq(transfer("acme-steel", "beta-works", 121),
                     TDEI_INSUFFICIENT_FUNDS);
}
END_TEST

START_TEST(test_settle_transfer_refused_unknown_receiver)
{
    seed(0);
    ck_assert_int_eq(transfer("acme-steel", "nobody-co", 1),
                     TDEI_UNKNOWN_MEMBER);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "nobody-co"));
    ck_assert_uint_eq(ctx.touched_count, 1); /* only the sender exists */
    expect_touched(0, "acme-steel");
}
END_TEST

START_TEST(test_settle_transfer_refused_inactive_receiver)
{
    seed(0);
    ck_assert_int_eq(transfer("acme-steel", "sleepy-co", 1),
                     TDEI_MEMBER_INACTIVE);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "suspended"));
    ck_assert_uint_eq(balance("sleepy-co"), 7);
}
END_TEST

START_TEST(test_settle_transfer_refused_to_self)
{
    seed(0);
    ck_assert_int_eq(transfer("acme-steel", "acme-steel", 1),
                     TDEI_SELF_TRANSFER);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "itself"));
    ck_assert_uint_eq(balance("acme-steel"), 120);
}
END_TEST

START_TEST(test_settle_transfer_refused_zero_amount)
{
    seed(0);
    ck_assert_int_eq(transfer("acme-steel", "beta-works", 0), TDEI_BAD_AMOUNT);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "at least 1"));
}
END_TEST

START_TEST(test_settle_transfer_refused_overflow_at_u64_max)
{
    seed(0);
    /* rich-co holds 2^64-1-5: 6 more is one past the largest balance. */
    ck_assert_int_eq(transfer("acme-steel", "rich-co", 6), TDEI_OVERFLOW);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "overflow"));
    ck_assert_uint_eq(balance("acme-steel"), 120);
    ck_assert_int_eq(transfer("acme-steel", "rich-co", 5), 0);
    ck_assert_uint_eq(balance("rich-co"), UINT64_MAX);
    ck_assert_uint_eq(balance("acme-steel"), 115);
}
END_TEST

/* ---- mint ---------------------------------------------------------------- */

START_TEST(test_settle_mint_by_public_service_when_enabled)
{
    seed(1);
    ck_assert_int_eq(
        mint("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, "acme-steel", 1000), 0);
    ck_assert_uint_eq(balance("acme-steel"), 1120);
    ck_assert_str_eq(ctx.arena + ctx.events[0].type, "mint");
    expect_touched(0, "pub-svc");
    expect_touched(1, "acme-steel");
    ck_assert_int_eq(mint("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, "rich-co", 6),
                     TDEI_OVERFLOW);
    ck_assert_int_eq(mint("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, "ghost-co", 1),
                     TDEI_UNKNOWN_MEMBER);
    ck_assert_int_eq(mint("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, "acme-steel", 0),
                     TDEI_BAD_AMOUNT);
}
END_TEST

START_TEST(test_settle_mint_refused_for_other_roles)
{
    seed(1);
    ck_assert_int_eq(
        mint("acme-steel", TDEI_ROLE_MANUFACTURER, "acme-steel", 10),
        TDEI_ROLE);
    ck_assert_str_eq(ctx.reason,
                     "mint needs role public_service; acme-steel is "
                     "manufacturer");
    ck_assert_uint_eq(balance("acme-steel"), 120);
    ck_assert_uint_eq(ctx.touched_count, 1);
}
END_TEST

START_TEST(test_settle_mint_refused_when_disabled)
{
    seed(0);
    ck_assert_int_eq(
        mint("pub-svc", TDEI_ROLE_PUBLIC_SERVICE, "acme-steel", 10),
        TDEI_DISABLED);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "params.mint_enabled"));
    ck_assert_uint_eq(balance("acme-steel"), 120);
}
END_TEST

/* ---- the contract interface ---------------------------------------------- */

START_TEST(test_contract_unknown_op_refused)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;

    seed(0);
    begin("acme-steel", TDEI_ROLE_MANUFACTURER);
    ck_assert_int_eq(run(&body), TDEI_UNKNOWN_OP);
    ck_assert_str_ne(ctx.reason, "");
    ck_assert_str_eq(contract_op_name(&body), "unknown");
}
END_TEST

START_TEST(test_contract_budget_one_past_refused)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[16];
    size_t vlen;

    seed(0);
    begin("acme-steel", TDEI_ROLE_MANUFACTURER);
    for (unsigned i = 0; i < CONTRACT_STEPS_MAX; i++) {
        ck_assert_int_eq(contract_get(&ctx, (const uint8_t *)"x", 1, val,
                                      sizeof(val), &vlen),
                         TDEI_NOTFOUND);
    }
    ck_assert_int_eq(
        contract_get(&ctx, (const uint8_t *)"x", 1, val, sizeof(val), &vlen),
        TDEI_BUDGET);
    ck_assert_ptr_nonnull(strstr(ctx.reason, "CONTRACT_STEPS_MAX"));

    /* Heads: CODEC_HEADS_MAX objects fit, one more is refused; touching
     * one again is free. */
    begin("acme-steel", TDEI_ROLE_MANUFACTURER);
    for (unsigned i = 0; i < CODEC_HEADS_MAX; i++) {
        key[0] = (uint8_t)i;
        ck_assert_int_eq(contract_touch(&ctx, key, 1), 0);
    }
    ck_assert_int_eq(contract_touch(&ctx, key, 1), 0);
    key[0] = 0xff;
    ck_assert_int_eq(contract_touch(&ctx, key, 1), TDEI_BUDGET);

    /* Events: CODEC_EVENTS_MAX fit, one more is refused. */
    begin("acme-steel", TDEI_ROLE_MANUFACTURER);
    for (unsigned i = 0; i < CODEC_EVENTS_MAX; i++) {
        ck_assert_int_eq(contract_event(&ctx, "e"), 0);
    }
    ck_assert_int_eq(contract_event(&ctx, "e"), TDEI_BUDGET);

    /* Bytes written: a put of more than the budget is refused. */
    begin("acme-steel", TDEI_ROLE_MANUFACTURER);
    {
        static uint8_t blob[CONTRACT_WRITE_BYTES_MAX];
        ck_assert_int_eq(contract_put(&ctx, (const uint8_t *)"k", 1, blob,
                                      CONTRACT_WRITE_BYTES_MAX - 1),
                         0);
        ck_assert_int_eq(contract_put(&ctx, (const uint8_t *)"j", 1, blob, 0),
                         TDEI_BUDGET);
    }
}
END_TEST

START_TEST(test_contract_event_attr_rules)
{
    static char big[CODEC_ATTR_VALUE_MAX + 2];

    seed(0);
    begin("acme-steel", TDEI_ROLE_MANUFACTURER);
    ck_assert_int_eq(contract_event(&ctx, "transfer"), 0);
    memset(big, 'a', CODEC_ATTR_VALUE_MAX);
    ck_assert_int_eq(contract_event_attr(&ctx, "memo", big), 0);
    big[CODEC_ATTR_VALUE_MAX] = 'a';
    ck_assert_int_eq(contract_event_attr(&ctx, "memo", big), TDEI_TOOBIG);
    ck_assert_int_eq(contract_event_attr(&ctx, "memo", "\xff"), TDEI_MALFORMED);
    for (unsigned i = 1; i < CODEC_ATTRS_MAX; i++) {
        ck_assert_int_eq(contract_event_attr_u64(&ctx, "n", i), 0);
    }
    ck_assert_int_eq(contract_event_attr(&ctx, "n", "x"), TDEI_BUDGET);
}
END_TEST

START_TEST(test_contract_refusal_drops_events_and_writes)
{
    seed(0);
    /* A refused transfer wrote nothing: balances stay and the write set is
     * empty. */
    ck_assert_int_eq(transfer("acme-steel", "beta-works", 9999),
                     TDEI_INSUFFICIENT_FUNDS);
    {
        const struct state_write *w;
        size_t count;
        ck_assert_int_eq(state_write_set(st, &w, &count), 0);
        ck_assert_uint_eq(count, 0);
    }
    ck_assert_int_eq(contract_code_is_fatal(TDEI_INSUFFICIENT_FUNDS), 0);
    ck_assert_int_eq(contract_code_is_fatal(TDEI_CORRUPT), 1);
}
END_TEST

static Suite *settle_suite(void)
{
    Suite *s = suite_create("settle");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"transfer", test_settle_transfer_moves_credits},
        {"funds", test_settle_transfer_refused_insufficient_funds},
        {"unknown", test_settle_transfer_refused_unknown_receiver},
        {"inactive", test_settle_transfer_refused_inactive_receiver},
        {"self", test_settle_transfer_refused_to_self},
        {"zero", test_settle_transfer_refused_zero_amount},
        {"overflow", test_settle_transfer_refused_overflow_at_u64_max},
        {"mint", test_settle_mint_by_public_service_when_enabled},
        {"mint_role", test_settle_mint_refused_for_other_roles},
        {"mint_disabled", test_settle_mint_refused_when_disabled},
        {"unknown_op", test_contract_unknown_op_refused},
        {"budget", test_contract_budget_one_past_refused},
        {"attrs", test_contract_event_attr_rules},
        {"refusal", test_contract_refusal_drops_events_and_writes},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(settle_suite()); }
