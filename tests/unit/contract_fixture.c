/* A small ledger for contract tests (see contract_fixture.h). */
#include "contract_fixture.h"

#include "core/alloc.h"
#include "core/codec.h"
#include "testutil.h"

#include <string.h>

struct state_mem *fixture_mem;
struct state *fixture_st;

void fixture_setup(void)
{
    testutil_leak_setup();
    ck_assert_int_eq(state_mem_create(&fixture_mem, FIXTURE_STATE_BYTES), 0);
}

void fixture_teardown(void)
{
    state_destroy(fixture_st);
    fixture_st = NULL;
    state_mem_destroy(fixture_mem);
    fixture_mem = NULL;
    testutil_leak_teardown();
}

struct state *fixture_seed_begin(void)
{
    struct state_base base = state_mem_base(fixture_mem);
    struct state *s;

    ck_assert_int_eq(state_create(&s, &base, FIXTURE_STATE_BYTES), 0);
    return s;
}

void fixture_seed_end(struct state *seed)
{
    struct state_base base = state_mem_base(fixture_mem);
    const struct state_write *w;
    size_t count;

    ck_assert_int_eq(state_write_set(seed, &w, &count), 0);
    ck_assert_int_eq(state_mem_apply(fixture_mem, w, count), 0);
    state_destroy(seed);
    ck_assert_int_eq(state_create(&fixture_st, &base, FIXTURE_STATE_BYTES),
                     0);
}

void fixture_put(struct state *s, const uint8_t *key, size_t klen,
                 const ProtobufCMessage *msg)
{
    uint8_t *buf;
    size_t len;

    ck_assert_int_eq(codec_encode(msg, &buf, &len), 0);
    ck_assert_int_eq(state_put(s, key, klen, buf, len), 0);
    tdei_free(buf);
}

void fixture_member(struct state *s, const char *id, enum tdei_role role,
                    uint32_t status, uint8_t keybyte, uint64_t balance)
{
    uint8_t key32[32] = {0};
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    ProtobufCBinaryData op = {32, key32};
    Tdei__Member m = TDEI__MEMBER__INIT;
    Tdei__OperatorKey ok = TDEI__OPERATOR_KEY__INIT;
    Tdei__NodeKey nk = TDEI__NODE_KEY__INIT;
    Tdei__Account a = TDEI__ACCOUNT__INIT;

    key32[0] = keybyte;
    m.id = (char *)(uintptr_t)id;
    m.name = (char *)(uintptr_t)id;
    m.role = (uint32_t)role;
    m.node_key = (ProtobufCBinaryData){32, key32};
    m.encryption_key = (ProtobufCBinaryData){32, key32};
    m.n_operator_keys = 1;
    m.operator_keys = &op;
    m.status = status;
    m.validator = strcmp(id, "pub-svc") == 0;
    fixture_put(s, key, contract_key_member(key, id), &m.base);
    ok.member = (char *)(uintptr_t)id;
    fixture_put(s, key, contract_key_opkey(key, key32), &ok.base);
    nk.member = (char *)(uintptr_t)id;
    fixture_put(s, key, contract_key_nodekey(key, key32), &nk.base);
    a.balance = balance;
    fixture_put(s, key, contract_key_account(key, id), &a.base);
}

void fixture_params_default(struct params_storage *ps)
{
    Tdei__Params *p = &ps->params;

    params_storage_init(ps);
    p->tx_size_max = 65536;
    p->block_txs_max = 10000;
    p->block_size_max = 8u << 20;
    p->validators_max = 100;
}

void fixture_params_put(struct state *s, const Tdei__Params *p)
{
    static const uint8_t params_key[] = CONTRACT_KEY_PARAMS;

    fixture_put(s, params_key, sizeof(params_key) - 1, &p->base);
}
