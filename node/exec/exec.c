/* Block execution (see exec.h). */
#include "exec/exec.h"

#include "contracts/params.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/merkle.h"
#include "search/search.h"
#include "votes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

/* The largest validator set the store may hold: the top of the range of
 * params.validators_max (node/genesis.c). */
#define VALIDATORS_LIMIT 1000u

/* An "index" history key: prefix, length byte, object, height, index. */
#define HIST_KEY_SIZE_MAX                                                      \
    (sizeof(EXEC_INDEX_HIST) - 1u + 1u + CODEC_OBJECT_KEY_MAX + 8u + 4u)

_Static_assert(STATE_KEY_SIZE_MAX == STORE_KEY_SIZE_MAX,
               "overlay keys are store keys");
_Static_assert(CONTRACT_KEY_SIZE_MAX <= STATE_KEY_SIZE_MAX,
               "contract keys fit the store");
_Static_assert(HIST_KEY_SIZE_MAX <= STORE_KEY_SIZE_MAX, "hist keys fit");
_Static_assert(CODEC_OBJECT_KEY_MAX <= 255u, "object length fits a byte");
_Static_assert(CODEC_HASH_SIZE == MERKLE_HASH_SIZE, "hash sizes agree");
_Static_assert(CONTRACT_HEAD_SIZE == TDEI_HASH_SIZE, "heads are SHA-256");
_Static_assert(CONTRACT_VALIDATORS_CONSENSUS_MAX == CONS_VALIDATORS_MAX,
               "a change never makes a set the engine cannot hold");
_Static_assert(CONTRACT_VALIDATORS_LIMIT == VALIDATORS_LIMIT,
               "contracts and execution read sets of one size");

struct exec
{
    struct state *state;                 /* the block overlay */
    struct contract_ctx *ctx;            /* one tx's contract context */
    uint8_t (*leaves)[MERKLE_HASH_SIZE]; /* result leaf hashes */
    size_t leaves_cap;                   /* entries allocated */
    uint8_t *result_buf;                 /* one packed TxResult */
    Tdei__Event events[CODEC_EVENTS_MAX];
    Tdei__Event *event_ptrs[CODEC_EVENTS_MAX];
    Tdei__Attr attrs[CONTRACT_ATTRS_TOTAL_MAX];
    Tdei__Attr *attr_ptrs[CONTRACT_ATTRS_TOTAL_MAX];
    Tdei__HeadUpdate heads[CODEC_HEADS_MAX];
    Tdei__HeadUpdate *head_ptrs[CODEC_HEADS_MAX];
    uint8_t head_bytes[CODEC_HEADS_MAX][2][CONTRACT_HEAD_SIZE]; /* prev,new */
};

/* What one block's execution carries from tx to tx. */
struct block_run
{
    struct exec *ex;                      /* the executor */
    struct store_batch *batch;            /* NULL: check only */
    const struct exec_verifier *verifier; /* NULL: verify all */
    const char *chain_id;                 /* the chain's */
    uint64_t height;                      /* the block's */
    uint64_t time_ms;                     /* the block's */
    size_t tx_size_max;                   /* params.tx_size_max */
    size_t refused;                       /* refused txs so far */
};

/* ---- small helpers ------------------------------------------------------- */

static void u32_be(uint8_t out[4], uint32_t v) { store_u32_encode(out, v); }

/* Read state key @key from the store (not the overlay). */
static int store_state_get(struct store_read *r, const uint8_t *key,
                           size_t klen, const uint8_t **val, size_t *vlen,
                           const char *what, char *errmsg)
{
    int rc = store_get(r, STORE_DB_STATE, key, klen, val, vlen);

    if (rc != 0 && rc != TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, ERRSZ, rc, "read %s: %s", what,
                           store_read_errmsg(r));
    }
    return rc;
}

/* A decoder's TDEI_MALFORMED / TDEI_TOOBIG on our own record is
 * corruption. */
static int record_rc(int rc, const char *what, char *errmsg)
{
    if (rc == TDEI_MALFORMED || rc == TDEI_TOOBIG) {
        return tdei_errwrap(errmsg, ERRSZ, TDEI_CORRUPT, "state record %s",
                            what);
    }
    return rc;
}

static int base_get(void *impl, const uint8_t *key, size_t klen,
                    const uint8_t **val, size_t *vlen)
{
    return store_get(impl, STORE_DB_STATE, key, klen, val, vlen);
}

/* Make room for @n leaf hashes. */
static int leaves_reserve(struct exec *ex, size_t n)
{
    uint8_t(*grown)[MERKLE_HASH_SIZE];

    if (n <= ex->leaves_cap) {
        return 0;
    }
    grown = tdei_realloc(ex->leaves, n * sizeof(*grown));
    if (grown == NULL) {
        return TDEI_NOMEM;
    }
    ex->leaves = grown;
    ex->leaves_cap = n;
    return 0;
}

/* ---- life cycle ---------------------------------------------------------- */

static int empty_get(void *impl, const uint8_t *key, size_t klen,
                     const uint8_t **val, size_t *vlen)
{
    (void)impl;
    (void)key;
    (void)klen;
    *val = NULL;
    *vlen = 0;
    return TDEI_NOTFOUND;
}

static const struct state_base empty_base = {.impl = NULL, .get = empty_get};

int exec_create(struct exec **out)
{
    struct exec *ex = tdei_calloc(1, sizeof(*ex));

    *out = NULL;
    if (ex == NULL) {
        return TDEI_NOMEM;
    }
    ex->ctx = tdei_calloc(1, sizeof(*ex->ctx));
    ex->result_buf = tdei_malloc(CODEC_RESULT_SIZE_MAX);
    if (ex->ctx == NULL || ex->result_buf == NULL ||
        state_create(&ex->state, &empty_base, EXEC_STATE_BYTES_MAX) != 0) {
        exec_destroy(ex);
        return TDEI_NOMEM;
    }
    *out = ex;
    return 0;
}

void exec_destroy(struct exec *ex)
{
    if (ex == NULL) {
        return;
    }
    state_destroy(ex->state);
    tdei_free(ex->ctx);
    tdei_free(ex->result_buf);
    tdei_free(ex->leaves);
    tdei_free(ex);
}

/* ---- genesis ------------------------------------------------------------- */

/* Put the packed form of @msg under @key in @st. */
static int put_msg(struct state *st, const uint8_t *key, size_t klen,
                   const ProtobufCMessage *msg)
{
    uint8_t *buf;
    size_t len;
    int rc = codec_encode(msg, &buf, &len);

    if (rc != 0) {
        return rc;
    }
    rc = state_put(st, key, klen, buf, len);
    tdei_free(buf);
    return rc;
}

static int key_compare32(const void *a, const void *b)
{
    return memcmp(a, b, TDEI_PUBKEY_SIZE);
}

static int genesis_member_put(struct state *st, const struct genesis_member *m)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t opkeys[GENESIS_OPERATOR_KEYS_MAX][TDEI_PUBKEY_SIZE];
    ProtobufCBinaryData opbin[GENESIS_OPERATOR_KEYS_MAX];
    Tdei__Member rec = TDEI__MEMBER__INIT;
    Tdei__Account account = TDEI__ACCOUNT__INIT;
    Tdei__OperatorKey opkey = TDEI__OPERATOR_KEY__INIT;
    Tdei__NodeKey nodekey = TDEI__NODE_KEY__INIT;
    size_t n = m->operator_key_count;
    int rc;

    TDEI_ASSERT(n >= 1 && n <= GENESIS_OPERATOR_KEYS_MAX);
    memcpy(opkeys, m->operator_keys, n * TDEI_PUBKEY_SIZE);
    qsort(opkeys, n, TDEI_PUBKEY_SIZE, key_compare32);
    for (size_t i = 0; i < n; i++) {
        opbin[i] = (ProtobufCBinaryData){TDEI_PUBKEY_SIZE, opkeys[i]};
    }
    rec.id = (char *)m->id;
    rec.name = (char *)m->name;
    rec.role = (uint32_t)m->role;
    rec.node_key =
        (ProtobufCBinaryData){TDEI_PUBKEY_SIZE, (uint8_t *)m->node_key};
    rec.encryption_key =
        (ProtobufCBinaryData){TDEI_X25519_SIZE, (uint8_t *)m->encryption_key};
    rec.n_operator_keys = n;
    rec.operator_keys = opbin;
    rec.validator = m->validator ? 1 : 0;
    rec.status = CODEC_MEMBER_ACTIVE;
    rc = put_msg(st, key, contract_key_member(key, m->id), &rec.base);
    if (rc != 0) {
        return rc;
    }
    account.balance = m->balance;
    rc = put_msg(st, key, contract_key_account(key, m->id), &account.base);
    opkey.member = (char *)m->id;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = put_msg(st, key, contract_key_opkey(key, opkeys[i]), &opkey.base);
    }
    nodekey.member = (char *)m->id;
    if (rc == 0) {
        rc = put_msg(st, key, contract_key_nodekey(key, m->node_key),
                     &nodekey.base);
    }
    return rc;
}

/* The validators of @g, sorted by node key, as a ValidatorSet record. */
static int genesis_validators_put(struct state *st, const struct genesis *g)
{
    static const uint8_t key[] = CONTRACT_KEY_VALIDATORS;
    Tdei__Validator *vals;
    Tdei__Validator **ptrs;
    Tdei__ValidatorSet set = TDEI__VALIDATOR_SET__INIT;
    size_t n = 0;
    int rc;

    vals = tdei_calloc(g->member_count, sizeof(*vals));
    ptrs = tdei_calloc(g->member_count, sizeof(*ptrs));
    if (vals == NULL || ptrs == NULL) {
        tdei_free(vals);
        tdei_free(ptrs);
        return TDEI_NOMEM;
    }
    for (size_t i = 0; i < g->member_count; i++) {
        const struct genesis_member *m = &g->members[i];
        size_t at = n;
        if (!m->validator) {
            continue;
        }
        /* Insertion by node key: at most GENESIS_MEMBERS_MAX entries. */
        while (at > 0 && memcmp(vals[at - 1].node_key.data, m->node_key,
                                TDEI_PUBKEY_SIZE) > 0) {
            vals[at] = vals[at - 1];
            at--;
        }
        tdei__validator__init(&vals[at]);
        vals[at].node_key =
            (ProtobufCBinaryData){TDEI_PUBKEY_SIZE, (uint8_t *)m->node_key};
        vals[at].member = (char *)m->id;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = &vals[i];
    }
    set.n_validators = n;
    set.validators = ptrs;
    rc = n == 0 ? TDEI_INVAL : put_msg(st, key, sizeof(key) - 1, &set.base);
    if (rc == 0) {
        /* The history starts: this set votes from height 1 on. */
        uint8_t hkey[CONTRACT_KEY_SIZE_MAX];
        rc = put_msg(st, hkey, contract_key_vset(hkey, 1), &set.base);
    }
    tdei_free(vals);
    tdei_free(ptrs);
    return rc;
}

static int genesis_state(struct state *st, const struct genesis *g)
{
    static const uint8_t params_key[] = CONTRACT_KEY_PARAMS;
    static const uint8_t voters_key[] = CONTRACT_KEY_VOTERS;
    struct params_storage ps;
    Tdei__Params *params = &ps.params;
    Tdei__VoterCount voters = TDEI__VOTER_COUNT__INIT;
    int rc = 0;

    params_storage_init(&ps);
    params->tx_size_max = g->params.tx_size_max;
    params->block_txs_max = g->params.block_txs_max;
    params->block_size_max = g->params.block_size_max;
    params->validators_max = g->params.validators_max;
    for (size_t i = 0; rc == 0 && i < params_count(); i++) {
        /* genesis_parse checked every value against the table. */
        rc = params_set(params, params_at(i), g->params.contract[i]);
    }
    for (size_t i = 0; rc == 0 && i < g->member_count; i++) {
        rc = genesis_member_put(st, &g->members[i]);
        if (g->members[i].role != TDEI_ROLE_AUDITOR) {
            voters.count++;
        }
    }
    if (rc == 0) {
        rc = put_msg(st, params_key, sizeof(params_key) - 1, &params->base);
    }
    if (rc == 0) {
        rc = put_msg(st, voters_key, sizeof(voters_key) - 1, &voters.base);
    }
    if (rc == 0) {
        rc = genesis_validators_put(st, g);
    }
    return rc;
}

/* Append the sorted write set of @st to @batch (state database). */
static int batch_write_set(struct store_batch *batch,
                           const struct state_write *writes, size_t count,
                           char *errmsg)
{
    for (size_t i = 0; i < count; i++) {
        const struct state_write *w = &writes[i];
        int rc = w->kind == STATE_PUT
                     ? store_batch_put(batch, STORE_DB_STATE, w->key, w->klen,
                                       w->val, w->vlen)
                     : store_batch_del(batch, STORE_DB_STATE, w->key, w->klen);
        if (rc != 0) {
            return tdei_errorf(errmsg, ERRSZ, rc, "batch: %s",
                               store_batch_errmsg(batch));
        }
    }
    return 0;
}

static int meta_put(struct store_batch *batch, const char *name,
                    const uint8_t *val, size_t vlen, char *errmsg)
{
    int rc = store_batch_put(batch, STORE_DB_META, (const uint8_t *)name,
                             strlen(name), val, vlen);

    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "batch: %s",
                           store_batch_errmsg(batch));
    }
    return 0;
}

static int meta_put_u64(struct store_batch *batch, const char *name,
                        uint64_t value, char *errmsg)
{
    uint8_t buf[8];

    store_u64_encode(buf, value);
    return meta_put(batch, name, buf, sizeof(buf), errmsg);
}

int exec_genesis(struct store_batch *batch, const struct genesis *g,
                 uint8_t app_hash[CODEC_HASH_SIZE], char *errmsg)
{
    uint8_t hash[CODEC_HASH_SIZE];
    uint8_t empty_root[CODEC_HASH_SIZE];
    const struct state_write *writes;
    size_t count;
    struct state *st;
    int rc;

    if (g->member_count == 0 || genesis_validator_count(g) == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "genesis of %s has %zu members and %zu "
                           "validators; it needs at least one of each",
                           g->chain_id, g->member_count,
                           genesis_validator_count(g));
    }
    rc = state_create(&st, &empty_base, EXEC_STATE_BYTES_MAX);
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "genesis: out of memory");
    }
    rc = genesis_state(st, g);
    if (rc == 0) {
        rc = state_write_set(st, &writes, &count);
    }
    if (rc != 0) {
        (void)tdei_errorf(errmsg, ERRSZ, rc, "genesis state: %s",
                          rc == TDEI_NOSPACE ? state_errmsg(st)
                                             : tdei_strerror(rc));
        state_destroy(st);
        return rc;
    }
    state_write_set_hash(hash, writes, count);
    rc = batch_write_set(batch, writes, count, errmsg);
    state_destroy(st);
    tdei_sha256(empty_root, NULL, 0);
    if (rc == 0) {
        rc = meta_put(batch, EXEC_META_GENESIS_HASH, g->hash, sizeof(g->hash),
                      errmsg);
    }
    if (rc == 0) {
        rc = meta_put(batch, EXEC_META_CHAIN_ID, (const uint8_t *)g->chain_id,
                      strlen(g->chain_id), errmsg);
    }
    if (rc == 0) {
        rc = meta_put_u64(batch, EXEC_META_HEIGHT, 0, errmsg);
    }
    if (rc == 0) {
        rc = meta_put_u64(batch, EXEC_META_TIME, g->time_ms, errmsg);
    }
    if (rc == 0) {
        rc = meta_put(batch, EXEC_META_APP_HASH, hash, sizeof(hash), errmsg);
    }
    if (rc == 0) {
        rc = meta_put(batch, EXEC_META_RESULTS_ROOT, empty_root,
                      sizeof(empty_root), errmsg);
    }
    if (rc == 0 && app_hash != NULL) {
        memcpy(app_hash, hash, CODEC_HASH_SIZE);
    }
    return rc;
}

/* Read a fixed-size meta value. */
static int meta_get_fixed(struct store_read *r, const char *name, uint8_t *out,
                          size_t size, char *errmsg)
{
    const uint8_t *val;
    size_t vlen;
    int rc = store_get(r, STORE_DB_META, (const uint8_t *)name, strlen(name),
                       &val, &vlen);

    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, ERRSZ, rc,
                           "meta %s is missing; the "
                           "store has no genesis",
                           name);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "read meta %s: %s", name,
                           store_read_errmsg(r));
    }
    if (vlen != size) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "meta %s is %zu bytes; it must be %zu", name, vlen,
                           size);
    }
    memcpy(out, val, size);
    return 0;
}

int exec_query_tip(struct store_read *r, struct exec_tip *out, char *errmsg)
{
    uint8_t u64[8];
    const uint8_t *val;
    size_t vlen;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store_get(r, STORE_DB_META, (const uint8_t *)EXEC_META_CHAIN_ID,
                   strlen(EXEC_META_CHAIN_ID), &val, &vlen);
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, ERRSZ, rc,
                           "the store has no genesis; start the node with "
                           "its genesis.json");
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "read meta chain_id: %s",
                           store_read_errmsg(r));
    }
    if (vlen == 0 || vlen > TDEI_CHAIN_ID_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "meta chain_id is %zu bytes; it must be 1-%u", vlen,
                           TDEI_CHAIN_ID_MAX);
    }
    memcpy(out->chain_id, val, vlen);
    out->chain_id[vlen] = '\0';
    rc = meta_get_fixed(r, EXEC_META_GENESIS_HASH, out->genesis_hash,
                        CODEC_HASH_SIZE, errmsg);
    if (rc == 0) {
        rc = meta_get_fixed(r, EXEC_META_HEIGHT, u64, 8, errmsg);
        out->height = store_u64_decode(u64);
    }
    if (rc == 0) {
        rc = meta_get_fixed(r, EXEC_META_TIME, u64, 8, errmsg);
        out->time_ms = store_u64_decode(u64);
    }
    if (rc == 0) {
        rc = meta_get_fixed(r, EXEC_META_APP_HASH, out->app_hash,
                            CODEC_HASH_SIZE, errmsg);
    }
    if (rc == 0) {
        rc = meta_get_fixed(r, EXEC_META_RESULTS_ROOT, out->last_results_root,
                            CODEC_HASH_SIZE, errmsg);
    }
    if (rc == 0 && out->height > 0) {
        rc = meta_get_fixed(r, EXEC_META_BLOCK_ID, out->last_block_id,
                            CODEC_HASH_SIZE, errmsg);
    }
    if (rc == TDEI_NOTFOUND) {
        rc = TDEI_CORRUPT; /* chain_id present, the rest must be too */
    }
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

static void hex8(char out[17], const uint8_t *bytes)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < 8; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15u];
    }
    out[16] = '\0';
}

int exec_genesis_check(struct store_read *r, const struct genesis *g,
                       char *errmsg)
{
    struct exec_tip tip;
    char have[17];
    char want[17];
    int rc = exec_query_tip(r, &tip, errmsg);

    if (rc != 0) {
        return rc;
    }
    if (memcmp(tip.genesis_hash, g->hash, CODEC_HASH_SIZE) == 0 &&
        strcmp(tip.chain_id, g->chain_id) == 0) {
        return 0;
    }
    hex8(have, tip.genesis_hash);
    hex8(want, g->hash);
    return tdei_errorf(errmsg, ERRSZ, TDEI_GENESIS_MISMATCH,
                       "the data directory holds chain %s (genesis %s...), "
                       "but genesis.json is chain %s (genesis %s...); use "
                       "the original genesis.json or a fresh data directory",
                       tip.chain_id, have, g->chain_id, want);
}

/* ---- validators and the next header -------------------------------------- */

/* Decode the ValidatorSet @val of state key @what. */
static int vset_decode(const uint8_t *val, size_t vlen, const char *what,
                       Tdei__ValidatorSet **out, char *errmsg)
{
    const struct codec_limits limits = {
        .tx_size_max = TDEI_TX_SIZE_MAX,
        .block_size_max = TDEI_BLOCK_SIZE_MAX,
        .block_txs_max = TDEI_BLOCK_TXS_MAX,
        .validators_max = VALIDATORS_LIMIT,
    };

    return record_rc(codec_validator_set_decode(out, val, vlen, &limits,
                                                errmsg),
                     what, errmsg);
}

/* Read the ValidatorSet at state key @key of the store (TDEI_NOTFOUND when
 * absent, errmsg not set). */
static int vset_read(struct store_read *r, const char *key,
                     Tdei__ValidatorSet **out, char *errmsg)
{
    const uint8_t *val;
    size_t vlen;
    int rc;

    *out = NULL;
    rc = store_state_get(r, (const uint8_t *)key, strlen(key), &val, &vlen,
                         key, errmsg);
    if (rc != 0) {
        return rc;
    }
    return vset_decode(val, vlen, key, out, errmsg);
}

/* The set of the next height ("validators"). */
static int validators_read(struct store_read *r, Tdei__ValidatorSet **out,
                           char *errmsg)
{
    int rc = vset_read(r, CONTRACT_KEY_VALIDATORS, out, errmsg);

    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, ERRSZ, rc,
                           "state has no validator set; the store has no "
                           "genesis");
    }
    return rc;
}

/* The set of the height after the next: "validators_next", or the next
 * height's set when no change is pending. */
static int validators_next_read(struct store_read *r, Tdei__ValidatorSet **out,
                                char *errmsg)
{
    int rc = vset_read(r, CONTRACT_KEY_VALIDATORS_NEXT, out, errmsg);

    return rc == TDEI_NOTFOUND ? validators_read(r, out, errmsg) : rc;
}

/* The RFC 6962 root over the node keys of @set (validators_hash). */
static int vset_root(const Tdei__ValidatorSet *set,
                     uint8_t root[CODEC_HASH_SIZE], char *errmsg)
{
    uint8_t(*leaves)[MERKLE_HASH_SIZE] =
        tdei_calloc(set->n_validators, sizeof(*leaves));

    if (leaves == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "validators hash: out of memory");
    }
    for (size_t i = 0; i < set->n_validators; i++) {
        merkle_leaf_hash(leaves[i], set->validators[i]->node_key.data,
                         set->validators[i]->node_key.len);
    }
    merkle_root(root, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves,
                set->n_validators);
    tdei_free(leaves);
    return 0;
}

/* The first history record ("vset/" u64 BE) at or after @height, or with
 * @reverse the last one at or below it; its key's height into *@from.
 * Returns: 0; TDEI_NOTFOUND (none, errmsg untouched); TDEI_CORRUPT; a read
 * failure. */
static int vset_seek(struct store_read *r, uint64_t height, int reverse,
                     uint64_t *from, Tdei__ValidatorSet **out, char *errmsg)
{
    static const uint8_t prefix[] = CONTRACT_KEY_VSET;
    uint8_t start[CONTRACT_KEY_SIZE_MAX];
    size_t slen = contract_key_vset(start, height);
    struct store_iter it;
    const uint8_t *key;
    const uint8_t *val;
    size_t klen;
    size_t vlen;
    int rc;

    *out = NULL;
    *from = 0;
    rc = store_iter_init(&it, r, STORE_DB_STATE, prefix, sizeof(prefix) - 1,
                         start, slen, reverse);
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "read the validator history: %s",
                           store_read_errmsg(r));
    }
    rc = store_iter_next(&it, &key, &klen, &val, &vlen);
    if (rc == 0 && klen != sizeof(prefix) - 1 + 8) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                         "state key of the validator history is %zu bytes, "
                         "not %zu",
                         klen, sizeof(prefix) - 1 + 8);
    } else if (rc == 0) {
        *from = store_u64_decode(key + sizeof(prefix) - 1);
        rc = vset_decode(val, vlen, "vset", out, errmsg);
    } else if (rc != TDEI_NOTFOUND) {
        rc = tdei_errorf(errmsg, ERRSZ, rc, "read the validator history: %s",
                         store_read_errmsg(r));
    }
    store_iter_close(&it);
    if (rc != 0) {
        *from = 0;
    }
    return rc;
}

/* The history record in force at @height: the last one at or below it.
 * Its key's height into *@from. */
static int vset_history_at(struct store_read *r, uint64_t height,
                           uint64_t *from, Tdei__ValidatorSet **out,
                           char *errmsg)
{
    int rc = vset_seek(r, height, 1, from, out, errmsg);

    if (rc == TDEI_NOTFOUND) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                         "state holds no validator set for height %" PRIu64
                         " (the history starts at genesis with vset/1); "
                         "restore the store",
                         height);
    }
    return rc;
}

/* Root over @n txs into @root, using @leaves (room for @n). */
static void txs_root(uint8_t root[CODEC_HASH_SIZE],
                     uint8_t (*leaves)[MERKLE_HASH_SIZE],
                     const ProtobufCBinaryData *txs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        merkle_leaf_hash(leaves[i], txs[i].data, txs[i].len);
    }
    merkle_root(root, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n);
}

/* The next header's fields from @tip and the store; txs_root is not
 * filled. validators_hash is the root of "validators" (the set of tip +
 * 1), next_validators_hash that of the set of tip + 2. @set receives the
 * set of tip + 1 when not NULL. */
static int next_header_base(struct store_read *r, const struct exec_tip *tip,
                            struct exec_next_header *out,
                            Tdei__ValidatorSet **set, char *errmsg)
{
    Tdei__ValidatorSet *cur = NULL;
    Tdei__ValidatorSet *next = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    memcpy(out->chain_id, tip->chain_id, sizeof(out->chain_id));
    out->height = tip->height + 1;
    out->time_ms_min = tip->time_ms + 1;
    if (tip->height > 0) {
        memcpy(out->last_block_id, tip->last_block_id, CODEC_HASH_SIZE);
        out->last_block_id_len = CODEC_HASH_SIZE;
    }
    memcpy(out->last_results_root, tip->last_results_root, CODEC_HASH_SIZE);
    memcpy(out->app_hash, tip->app_hash, CODEC_HASH_SIZE);
    rc = validators_read(r, &cur, errmsg);
    if (rc == 0) {
        rc = vset_root(cur, out->validators_hash, errmsg);
    }
    if (rc == 0) {
        rc = validators_next_read(r, &next, errmsg);
    }
    if (rc == 0) {
        rc = vset_root(next, out->next_validators_hash, errmsg);
    }
    codec_validator_set_free(next);
    if (rc == 0 && set != NULL) {
        *set = cur;
        cur = NULL;
    }
    codec_validator_set_free(cur);
    return rc;
}

int exec_next_header(struct store_read *r, const ProtobufCBinaryData *txs,
                     size_t n, struct exec_next_header *out, char *errmsg)
{
    struct exec_tip tip;
    uint8_t(*leaves)[MERKLE_HASH_SIZE] = NULL;
    int rc = exec_query_tip(r, &tip, errmsg);

    if (rc == 0) {
        rc = next_header_base(r, &tip, out, NULL, errmsg);
    }
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    if (n > 0) {
        leaves = tdei_calloc(n, sizeof(*leaves));
        if (leaves == NULL) {
            memset(out, 0, sizeof(*out));
            return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                               "txs root of %zu txs: out of memory", n);
        }
    }
    txs_root(out->txs_root, leaves, txs, n);
    tdei_free(leaves);
    return 0;
}

void exec_header_fill(Tdei__Header *header, struct exec_next_header *next)
{
    header->version = CODEC_VERSION;
    header->chain_id = next->chain_id;
    header->height = next->height;
    header->last_block_id =
        (ProtobufCBinaryData){next->last_block_id_len, next->last_block_id};
    header->txs_root = (ProtobufCBinaryData){CODEC_HASH_SIZE, next->txs_root};
    header->last_results_root =
        (ProtobufCBinaryData){CODEC_HASH_SIZE, next->last_results_root};
    header->app_hash = (ProtobufCBinaryData){CODEC_HASH_SIZE, next->app_hash};
    header->validators_hash =
        (ProtobufCBinaryData){CODEC_HASH_SIZE, next->validators_hash};
    header->next_validators_hash =
        (ProtobufCBinaryData){CODEC_HASH_SIZE, next->next_validators_hash};
}

/* ---- one block ----------------------------------------------------------- */

static int hash_field_check(const ProtobufCBinaryData *got, const uint8_t *want,
                            size_t want_len, const char *name, uint64_t height,
                            char *errmsg)
{
    char have_hex[17] = "(empty)";
    char want_hex[17] = "(empty)";

    if (got->len == want_len &&
        (want_len == 0 || memcmp(got->data, want, want_len) == 0)) {
        return 0;
    }
    if (got->len >= 8) {
        hex8(have_hex, got->data);
    }
    if (want_len >= 8) {
        hex8(want_hex, want);
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_BAD_BLOCK,
                       "block %" PRIu64 " header %s is %s...; this chain "
                       "needs %s...",
                       height, name, have_hex, want_hex);
}

/* Check @header against the tip and the expected execution fields. */
static int header_check(struct exec *ex, struct store_read *r,
                        const struct exec_tip *tip, const Tdei__Block *block,
                        const Tdei__Header *header, const Tdei__Params *params,
                        char *errmsg)
{
    struct exec_next_header next;
    Tdei__ValidatorSet *set = NULL;
    int found = 0;
    int rc;

    if (strcmp(header->chain_id, tip->chain_id) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CHAIN_ID,
                           "block is for chain %.64s; this node runs %s",
                           header->chain_id, tip->chain_id);
    }
    if (header->height != tip->height + 1) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_BAD_BLOCK,
                           "block height %" PRIu64 " does not follow the "
                           "committed height %" PRIu64,
                           header->height, tip->height);
    }
    if (header->time_ms <= tip->time_ms) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_BAD_BLOCK,
                           "block %" PRIu64 " time %" PRIu64 " ms is not "
                           "after the previous block's %" PRIu64 " ms",
                           header->height, header->time_ms, tip->time_ms);
    }
    if (block->n_txs > params->block_txs_max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_BAD_BLOCK,
                           "block %" PRIu64 " has %zu txs; the limit is "
                           "%" PRIu64 " (params.block_txs_max)",
                           header->height, block->n_txs, params->block_txs_max);
    }
    rc = next_header_base(r, tip, &next, &set, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = leaves_reserve(ex, block->n_txs);
    if (rc != 0) {
        codec_validator_set_free(set);
        return tdei_errorf(errmsg, ERRSZ, rc, "txs root: out of memory");
    }
    txs_root(next.txs_root, ex->leaves, block->txs, block->n_txs);
    rc = hash_field_check(&header->last_block_id, next.last_block_id,
                          next.last_block_id_len, "last_block_id",
                          header->height, errmsg);
    if (rc == 0) {
        rc = hash_field_check(&header->txs_root, next.txs_root, CODEC_HASH_SIZE,
                              "txs_root", header->height, errmsg);
    }
    if (rc == 0) {
        rc = hash_field_check(&header->last_results_root,
                              next.last_results_root, CODEC_HASH_SIZE,
                              "last_results_root", header->height, errmsg);
    }
    if (rc == 0) {
        rc = hash_field_check(&header->app_hash, next.app_hash, CODEC_HASH_SIZE,
                              "app_hash", header->height, errmsg);
    }
    if (rc == 0) {
        rc = hash_field_check(&header->validators_hash, next.validators_hash,
                              CODEC_HASH_SIZE, "validators_hash",
                              header->height, errmsg);
    }
    if (rc == 0) {
        rc = hash_field_check(&header->next_validators_hash,
                              next.next_validators_hash, CODEC_HASH_SIZE,
                              "next_validators_hash", header->height, errmsg);
    }
    for (size_t i = 0; rc == 0 && i < set->n_validators; i++) {
        const ProtobufCBinaryData *k = &set->validators[i]->node_key;
        found |= header->proposer.len == k->len &&
                 memcmp(header->proposer.data, k->data, k->len) == 0;
    }
    codec_validator_set_free(set);
    if (rc == 0 && !found) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_BAD_BLOCK,
                         "block %" PRIu64 " proposer is not a validator",
                         header->height);
    }
    return rc;
}

/* Verify the block's last_commit, the commit of height - 1, against the
 * validator set of that height (the history, exec_query_validators_at):
 * after a change, a commit signed by the old set no longer counts. */
static int last_commit_check(struct store_read *r, const struct exec_tip *tip,
                             const Tdei__Block *block,
                             const Tdei__Header *header, char *errmsg)
{
    Tdei__ValidatorSet *set = NULL;
    struct cons_vset vset;
    int rc;

    if (header->height == 1) {
        return 0; /* the first block has no commit to carry */
    }
    if (block->last_commit == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_BAD_BLOCK,
                           "block %" PRIu64 " has no last_commit",
                           header->height);
    }
    rc = exec_query_validators_at(r, header->height - 1, &set, errmsg);
    if (rc == 0) {
        rc = votes_vset_from_proto(&vset, set, errmsg);
        codec_validator_set_free(set);
    }
    if (rc == 0) {
        rc = votes_commit_verify(block->last_commit, tip->chain_id, &vset,
                                 errmsg);
        if (rc != 0) {
            rc = tdei_errwrap(errmsg, ERRSZ, rc,
                              "block %" PRIu64 " last_commit (of block "
                              "%" PRIu64 ")",
                              header->height, header->height - 1);
        }
    }
    return rc;
}

/* The signer of a tx: its registration and member. */
struct tx_signer
{
    Tdei__OperatorKey *opkey; /* decoded, owned */
    enum tdei_role role;      /* the member's role */
};

/* Look the signer up through the overlay (earlier txs of the block count)
 * and check it may sign. */
static int signer_check(struct block_run *run, size_t index,
                        const Tdei__TxBody *body, struct tx_signer *out,
                        char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char shown[17];
    const uint8_t *val;
    size_t vlen;
    Tdei__Member *member;
    uint32_t status;
    int rc;

    out->opkey = NULL;
    hex8(shown, body->signer.data);
    rc = state_get(run->ex->state, key,
                   contract_key_opkey(key, body->signer.data), &val, &vlen);
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_SIGNER,
                           "tx %zu: signer %s... is not a registered "
                           "operator key",
                           index, shown);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "tx %zu: read signer", index);
    }
    rc = codec_operator_key_decode(&out->opkey, val, vlen, errmsg);
    if (rc != 0) {
        return record_rc(rc, "opkey", errmsg);
    }
    rc = state_get(run->ex->state, key,
                   contract_key_member(key, out->opkey->member), &val, &vlen);
    if (rc == TDEI_NOTFOUND) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                         "tx %zu: signer %s... names member %s, which has "
                         "no record",
                         index, shown, out->opkey->member);
    } else if (rc != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, rc, "tx %zu: read member", index);
    } else {
        rc = record_rc(codec_member_decode(&member, val, vlen, errmsg),
                       "member", errmsg);
    }
    if (rc != 0) {
        codec_operator_key_free(out->opkey);
        out->opkey = NULL;
        return rc;
    }
    status = member->status;
    out->role = (enum tdei_role)member->role;
    codec_member_free(member);
    if (status != CODEC_MEMBER_ACTIVE) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_SIGNER,
                         "tx %zu: signer %s... belongs to member %s, which "
                         "is not active",
                         index, shown, out->opkey->member);
    } else if (body->nonce != out->opkey->nonce + 1) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_NONCE,
                         "tx %zu: nonce %" PRIu64 " of signer %s... is not "
                         "its next; expected %" PRIu64,
                         index, body->nonce, shown, out->opkey->nonce + 1);
    }
    if (rc != 0) {
        codec_operator_key_free(out->opkey);
        out->opkey = NULL;
    }
    return rc;
}

/* Store the signer's new nonce (outside the tx checkpoint: it stays even
 * when the contract refuses). */
static int nonce_store(struct block_run *run, size_t index,
                       const Tdei__TxBody *body, Tdei__OperatorKey *opkey,
                       char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CODEC_OPKEY_SIZE_MAX];
    size_t vlen;
    int rc;

    opkey->nonce = body->nonce;
    vlen = tdei__operator_key__get_packed_size(opkey);
    TDEI_ASSERT(vlen <= sizeof(val));
    (void)tdei__operator_key__pack(opkey, val);
    rc = state_put(run->ex->state, key,
                   contract_key_opkey(key, body->signer.data), val, vlen);
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "tx %zu: store nonce: %s", index,
                           state_errmsg(run->ex->state));
    }
    return 0;
}

/* Extend the heads of every touched object with (@tx_id, @code); fill the
 * HeadUpdates of the result and the history index. */
static int heads_extend(struct block_run *run, size_t index,
                        const uint8_t tx_id[CODEC_HASH_SIZE], uint32_t code,
                        char *errmsg)
{
    struct exec *ex = run->ex;
    const struct contract_ctx *ctx = ex->ctx;

    for (size_t i = 0; i < ctx->touched_count; i++) {
        const struct contract_touch *t = &ctx->touched[i];
        uint8_t key[CONTRACT_KEY_SIZE_MAX];
        size_t klen = contract_key_head(key, t->key, t->klen);
        uint8_t *prev = ex->head_bytes[i][0];
        uint8_t *next = ex->head_bytes[i][1];
        uint8_t code_be[4];
        struct tdei_sha256 sha;
        const uint8_t *val;
        size_t vlen;
        int rc = state_get(ex->state, key, klen, &val, &vlen);

        if (rc == TDEI_NOTFOUND) {
            memset(prev, 0, CONTRACT_HEAD_SIZE);
        } else if (rc != 0) {
            return tdei_errorf(errmsg, ERRSZ, rc, "tx %zu: read head", index);
        } else if (vlen != CONTRACT_HEAD_SIZE) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                               "tx %zu: a history head is %zu bytes, not "
                               "32",
                               index, vlen);
        } else {
            memcpy(prev, val, CONTRACT_HEAD_SIZE);
        }
        u32_be(code_be, code);
        tdei_sha256_init(&sha);
        tdei_sha256_update(&sha, prev, CONTRACT_HEAD_SIZE);
        tdei_sha256_update(&sha, tx_id, CODEC_HASH_SIZE);
        tdei_sha256_update(&sha, code_be, sizeof(code_be));
        tdei_sha256_final(&sha, next);
        rc = state_put(ex->state, key, klen, next, CONTRACT_HEAD_SIZE);
        if (rc != 0) {
            return tdei_errorf(errmsg, ERRSZ, rc, "tx %zu: store head: %s",
                               index, state_errmsg(ex->state));
        }
        tdei__head_update__init(&ex->heads[i]);
        ex->heads[i].object = (ProtobufCBinaryData){t->klen, (uint8_t *)t->key};
        ex->heads[i].prev_head =
            (ProtobufCBinaryData){CONTRACT_HEAD_SIZE, prev};
        ex->heads[i].new_head = (ProtobufCBinaryData){CONTRACT_HEAD_SIZE, next};
        ex->head_ptrs[i] = &ex->heads[i];
        if (run->batch != NULL) {
            uint8_t hkey[HIST_KEY_SIZE_MAX];
            uint8_t hval[2 * CONTRACT_HEAD_SIZE];
            size_t pos = sizeof(EXEC_INDEX_HIST) - 1;
            memcpy(hkey, EXEC_INDEX_HIST, pos);
            hkey[pos++] = (uint8_t)t->klen;
            memcpy(hkey + pos, t->key, t->klen);
            pos += t->klen;
            store_u64_encode(hkey + pos, run->height);
            pos += 8;
            store_u32_encode(hkey + pos, (uint32_t)index);
            pos += 4;
            memcpy(hval, prev, CONTRACT_HEAD_SIZE);
            memcpy(hval + CONTRACT_HEAD_SIZE, next, CONTRACT_HEAD_SIZE);
            rc = store_batch_put(run->batch, STORE_DB_INDEX, hkey, pos, hval,
                                 sizeof(hval));
            if (rc != 0) {
                return tdei_errorf(errmsg, ERRSZ, rc, "batch: %s",
                                   store_batch_errmsg(run->batch));
            }
        }
    }
    return 0;
}

/* Pack the TxResult of the tx just run into ex->result_buf. */
static size_t result_pack(struct exec *ex, uint32_t code)
{
    struct contract_ctx *ctx = ex->ctx;
    Tdei__TxResult result = TDEI__TX_RESULT__INIT;
    size_t size;

    result.code = code;
    result.log = ctx->reason;
    for (size_t a = 0; a < ctx->attr_count; a++) {
        tdei__attr__init(&ex->attrs[a]);
        ex->attrs[a].key = ctx->arena + ctx->attrs[a].key;
        ex->attrs[a].value = ctx->arena + ctx->attrs[a].value;
        ex->attr_ptrs[a] = &ex->attrs[a];
    }
    for (size_t e = 0; e < ctx->event_count; e++) {
        const struct contract_event *ev = &ctx->events[e];
        tdei__event__init(&ex->events[e]);
        ex->events[e].type = ctx->arena + ev->type;
        ex->events[e].n_attrs = ev->attr_count;
        ex->events[e].attrs =
            ev->attr_count > 0 ? &ex->attr_ptrs[ev->attr_first] : NULL;
        ex->event_ptrs[e] = &ex->events[e];
    }
    result.n_events = ctx->event_count;
    result.events = ctx->event_count > 0 ? ex->event_ptrs : NULL;
    result.n_heads = ctx->touched_count;
    result.heads = ctx->touched_count > 0 ? ex->head_ptrs : NULL;
    size = tdei__tx_result__get_packed_size(&result);
    TDEI_ASSERT(size <= CODEC_RESULT_SIZE_MAX);
    TDEI_ASSERT(code == 0 || ctx->reason[0] != '\0');
    return tdei__tx_result__pack(&result, ex->result_buf);
}

/* Run the contract of one decoded tx and record its result. */
static int tx_apply(struct block_run *run, size_t index,
                    const Tdei__TxBody *body,
                    const uint8_t tx_id[CODEC_HASH_SIZE],
                    const struct tx_signer *signer, char *errmsg)
{
    struct exec *ex = run->ex;
    struct contract_env env = {
        .ops = &state_contract_ops,
        .state = ex->state,
        .signer = body->signer.data,
        .member = signer->opkey->member,
        .role = signer->role,
        .height = run->height,
        .time_ms = run->time_ms,
        .tx_id = tx_id,
        .chain_id = run->chain_id,
    };
    uint8_t loc[STORE_TX_LOCATION_SIZE];
    size_t size;
    int code;
    int rc;

    contract_ctx_begin(ex->ctx, &env);
    state_tx_begin(ex->state);
    code = contract_dispatch(ex->ctx, body);
    if (code == 0) {
        state_tx_commit(ex->state);
    } else {
        state_tx_rollback(ex->state);
    }
    if (contract_code_is_fatal(code)) {
        return tdei_errorf(errmsg, ERRSZ, code, "tx %zu: %s", index,
                           ex->ctx->reason);
    }
    if (code != 0) {
        run->refused++;
    }
    rc = heads_extend(run, index, tx_id, (uint32_t)code, errmsg);
    if (rc != 0) {
        return rc;
    }
    size = result_pack(ex, (uint32_t)code);
    merkle_leaf_hash(ex->leaves[index], ex->result_buf, size);
    if (run->batch == NULL) {
        return 0;
    }
    store_u64_encode(loc, run->height);
    store_u32_encode(loc + 8, (uint32_t)index);
    rc = store_batch_put(run->batch, STORE_DB_RESULTS, loc, sizeof(loc),
                         ex->result_buf, size);
    if (rc == 0) {
        rc = store_batch_put(run->batch, STORE_DB_TXS, tx_id, CODEC_HASH_SIZE,
                             loc, sizeof(loc));
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "batch: %s",
                           store_batch_errmsg(run->batch));
    }
    return 0;
}

/* Bring the set decided two blocks ago into force (contract.h,
 * "Validator-set changes"): at the start of block B, a pending
 * "validators_next" becomes "validators" (the set of B + 1) and the
 * history record "vset/" B+1, and is deleted. A pending set equal to the
 * current one is only deleted. Part of the block's write set. */
static int validators_rotate(struct block_run *run, char *errmsg)
{
    static const uint8_t next_key[] = CONTRACT_KEY_VALIDATORS_NEXT;
    static const uint8_t cur_key[] = CONTRACT_KEY_VALIDATORS;
    struct state *st = run->ex->state;
    Tdei__ValidatorSet *set = NULL;
    uint8_t hkey[CONTRACT_KEY_SIZE_MAX];
    const uint8_t *val;
    uint8_t *copy;
    size_t vlen;
    size_t clen;
    int same = 0;
    int rc = state_get(st, next_key, sizeof(next_key) - 1, &val, &vlen);

    if (rc == TDEI_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "read validators_next");
    }
    /* A pending set that does not decode would halt every node alike; it
     * is a damaged state, never a set in force. */
    rc = vset_decode(val, vlen, "validators_next", &set, errmsg);
    codec_validator_set_free(set);
    if (rc != 0) {
        return rc;
    }
    copy = tdei_malloc(vlen);
    if (copy == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "validators_next: out of memory");
    }
    memcpy(copy, val, vlen);
    clen = vlen;
    rc = state_get(st, cur_key, sizeof(cur_key) - 1, &val, &vlen);
    if (rc == 0) {
        same = vlen == clen && memcmp(val, copy, clen) == 0;
    } else if (rc == TDEI_NOTFOUND) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                         "state has a pending validator set but no "
                         "current one");
    } else {
        rc = tdei_errorf(errmsg, ERRSZ, rc, "read validators");
    }
    if (rc == 0 && !same) {
        rc = state_put(st, cur_key, sizeof(cur_key) - 1, copy, clen);
        if (rc == 0) {
            rc = state_put(st, hkey, contract_key_vset(hkey, run->height + 1),
                           copy, clen);
        }
    }
    if (rc == 0) {
        rc = state_del(st, next_key, sizeof(next_key) - 1);
    }
    tdei_free(copy);
    if (rc != 0 && rc != TDEI_CORRUPT) {
        return tdei_errorf(errmsg, ERRSZ, rc,
                           "validator set of height %" PRIu64 ": %s",
                           run->height + 1, state_errmsg(st));
    }
    return rc;
}

/* Process the deadlines due at the start of the block
 * (contract_block_begin), before its txs, inside its overlay. Its writes
 * are part of the block's write set but extend no history head and make
 * no TxResult. It cannot be refused by construction (its budget holds a
 * full DueList), so any non-zero code fails the block. */
static int block_begin(struct block_run *run, char *errmsg)
{
    struct exec *ex = run->ex;
    int code;

    contract_ctx_begin_block(ex->ctx, &state_contract_ops, ex->state,
                             run->height, run->time_ms);
    state_tx_begin(ex->state);
    code = contract_block_begin(ex->ctx);
    if (code == 0) {
        state_tx_commit(ex->state);
        TDEI_ASSERT(ex->ctx->touched_count == 0);
        TDEI_ASSERT(ex->ctx->event_count == 0);
        return 0;
    }
    state_tx_rollback(ex->state);
    return tdei_errorf(errmsg, ERRSZ, code,
                       "deadlines due at height %" PRIu64 ": %s", run->height,
                       ex->ctx->reason[0] != '\0' ? ex->ctx->reason
                                                  : tdei_strerror(code));
}

/* Check and run tx @index of the block. */
static int tx_run(struct block_run *run, size_t index,
                  const ProtobufCBinaryData *bytes, char *errmsg)
{
    Tdei__Tx *tx = NULL;
    Tdei__TxBody *body = NULL;
    struct tx_signer signer = {0};
    uint8_t tx_id[CODEC_HASH_SIZE];
    int rc;

    rc =
        codec_tx_decode(&tx, bytes->data, bytes->len, run->tx_size_max, errmsg);
    if (rc == 0) {
        rc = codec_txbody_decode(&body, tx->body.data, tx->body.len, errmsg);
    }
    if (rc != 0) {
        rc = tdei_errwrap(errmsg, ERRSZ, rc, "tx %zu", index);
        goto out;
    }
    codec_tx_id(tx_id, tx->body.data, tx->body.len);
    if (strcmp(body->chain_id, run->chain_id) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_CHAIN_ID,
                         "tx %zu is for chain %s; this chain is %s", index,
                         body->chain_id, run->chain_id);
        goto out;
    }
    rc = signer_check(run, index, body, &signer, errmsg);
    if (rc != 0) {
        goto out;
    }
    if (run->verifier == NULL ||
        !run->verifier->verified(run->verifier->impl, tx_id, tx->sig.data)) {
        rc = tdei_verify_tagged(tx->sig.data, body->signer.data, TDEI_TAG_TX,
                                tx->body.data, tx->body.len);
        if (rc != 0) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_BADSIG,
                             "tx %zu: the signature does not verify under "
                             "its signer key",
                             index);
            goto out;
        }
    }
    rc = nonce_store(run, index, body, signer.opkey, errmsg);
    if (rc == 0) {
        rc = tx_apply(run, index, body, tx_id, &signer, errmsg);
    }
out:
    codec_operator_key_free(signer.opkey);
    codec_txbody_free(body);
    codec_tx_free(tx);
    return rc;
}

static int params_read(struct store_read *r, Tdei__Params **out, char *errmsg)
{
    static const uint8_t key[] = CONTRACT_KEY_PARAMS;
    const uint8_t *val;
    size_t vlen;
    int rc;

    *out = NULL;
    rc =
        store_state_get(r, key, sizeof(key) - 1, &val, &vlen, "params", errmsg);
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, ERRSZ, rc,
                           "state has no params; the store has no genesis");
    }
    if (rc != 0) {
        return rc;
    }
    return record_rc(codec_params_decode(out, val, vlen, errmsg), "params",
                     errmsg);
}

/* Append the block itself, its id, the state writes, the catalog index
 * changes (read against @r, the parent state) and the meta. */
static int block_batch(struct store_batch *batch, struct store_read *r,
                       const struct exec_block_info *info,
                       const Tdei__Header *header, const uint8_t *block_bytes,
                       size_t block_len, const struct state_write *writes,
                       size_t count, char *errmsg)
{
    uint8_t height[STORE_HEIGHT_SIZE];
    int rc;

    store_u64_encode(height, info->height);
    rc = store_batch_put(batch, STORE_DB_BLOCKS, height, sizeof(height),
                         block_bytes, block_len);
    if (rc == 0) {
        rc = store_batch_put(batch, STORE_DB_BLOCK_IDS, info->block_id,
                             CODEC_HASH_SIZE, height, sizeof(height));
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "batch: %s",
                           store_batch_errmsg(batch));
    }
    rc = batch_write_set(batch, writes, count, errmsg);
    if (rc == 0) {
        rc = search_index_update(batch, r, writes, count, errmsg);
    }
    if (rc == 0) {
        rc = meta_put_u64(batch, EXEC_META_HEIGHT, info->height, errmsg);
    }
    if (rc == 0) {
        rc = meta_put_u64(batch, EXEC_META_TIME, header->time_ms, errmsg);
    }
    if (rc == 0) {
        rc = meta_put(batch, EXEC_META_APP_HASH, info->app_hash,
                      CODEC_HASH_SIZE, errmsg);
    }
    if (rc == 0) {
        rc = meta_put(batch, EXEC_META_RESULTS_ROOT, info->results_root,
                      CODEC_HASH_SIZE, errmsg);
    }
    if (rc == 0) {
        rc = meta_put(batch, EXEC_META_BLOCK_ID, info->block_id,
                      CODEC_HASH_SIZE, errmsg);
    }
    return rc;
}

int exec_block(struct exec *ex, struct store_batch *batch,
               struct exec_block_info *out, struct store_read *r,
               const Tdei__Block *block, const Tdei__Header *header,
               const uint8_t *block_bytes, size_t block_len,
               const struct exec_verifier *verifier, char *errmsg)
{
    struct state_base base = {.impl = r, .get = base_get};
    struct exec_tip tip;
    Tdei__Params *params = NULL;
    const struct state_write *writes = NULL;
    size_t count = 0;
    uint8_t ws_hash[CODEC_HASH_SIZE];
    struct tdei_sha256 sha;
    struct block_run run;
    int rc;

    TDEI_ASSERT(batch == NULL || block_bytes != NULL);
    memset(out, 0, sizeof(*out));
    rc = exec_query_tip(r, &tip, errmsg);
    if (rc == 0) {
        rc = params_read(r, &params, errmsg);
    }
    if (rc == 0) {
        rc = header_check(ex, r, &tip, block, header, params, errmsg);
    }
    if (rc == 0) {
        rc = last_commit_check(r, &tip, block, header, errmsg);
    }
    if (rc != 0) {
        codec_params_free(params);
        return rc;
    }
    run = (struct block_run){
        .ex = ex,
        .batch = batch,
        .verifier = verifier,
        .chain_id = tip.chain_id,
        .height = header->height,
        .time_ms = header->time_ms,
        .tx_size_max = (size_t)params->tx_size_max,
    };
    codec_params_free(params);
    state_reset(ex->state, &base);
    rc = validators_rotate(&run, errmsg);
    if (rc == 0) {
        rc = block_begin(&run, errmsg);
    }
    for (size_t i = 0; rc == 0 && i < block->n_txs; i++) {
        rc = tx_run(&run, i, &block->txs[i], errmsg);
    }
    if (rc == 0) {
        rc = state_write_set(ex->state, &writes, &count);
        if (rc != 0) {
            rc = tdei_errorf(errmsg, ERRSZ, rc, "write set: out of memory");
        }
    }
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        state_reset(ex->state, &empty_base);
        return tdei_errwrap(errmsg, ERRSZ, rc, "block %" PRIu64,
                            header->height);
    }
    out->height = header->height;
    codec_block_id(out->block_id, block->header.data, block->header.len);
    state_write_set_hash(ws_hash, writes, count);
    tdei_sha256_init(&sha);
    tdei_sha256_update(&sha, tip.app_hash, CODEC_HASH_SIZE);
    tdei_sha256_update(&sha, ws_hash, CODEC_HASH_SIZE);
    tdei_sha256_final(&sha, out->app_hash);
    merkle_root(out->results_root,
                (const uint8_t(*)[MERKLE_HASH_SIZE])ex->leaves, block->n_txs);
    out->tx_count = block->n_txs;
    out->refused_count = run.refused;
    out->write_count = count;
    if (batch != NULL) {
        rc = block_batch(batch, r, out, header, block_bytes, block_len,
                         writes, count, errmsg);
    }
    /* The overlay borrowed @r; leave it pointing at nothing. */
    state_reset(ex->state, &empty_base);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* ---- queries ------------------------------------------------------------- */

int exec_query_member(struct store_read *r, const char *id, Tdei__Member **out,
                      char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    const uint8_t *val;
    size_t vlen;
    int rc;

    *out = NULL;
    if (tdei_member_id_check(id) != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_MEMBER,
                           "\"%.40s\" is not a member id (3-32 bytes of "
                           "[a-z0-9-])",
                           id);
    }
    rc = store_state_get(r, key, contract_key_member(key, id), &val, &vlen,
                         "member", errmsg);
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_MEMBER,
                           "no member %s on the ledger", id);
    }
    if (rc != 0) {
        return rc;
    }
    return record_rc(codec_member_decode(out, val, vlen, errmsg), "member",
                     errmsg);
}

int exec_query_balance(struct store_read *r, const char *id, uint64_t *balance,
                       char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Member *member;
    Tdei__Account *account;
    const uint8_t *val;
    size_t vlen;
    int rc = exec_query_member(r, id, &member, errmsg);

    *balance = 0;
    if (rc != 0) {
        return rc;
    }
    codec_member_free(member);
    rc = store_state_get(r, key, contract_key_account(key, id), &val, &vlen,
                         "account", errmsg);
    if (rc == TDEI_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    rc = codec_account_decode(&account, val, vlen, errmsg);
    if (rc != 0) {
        return record_rc(rc, "account", errmsg);
    }
    *balance = account->balance;
    codec_account_free(account);
    return 0;
}

int exec_query_signer(struct store_read *r,
                      const uint8_t signer[CODEC_KEY_SIZE],
                      struct exec_signer *out, char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__OperatorKey *opkey;
    Tdei__Member *member;
    const uint8_t *val;
    size_t vlen;
    char shown[17];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store_state_get(r, key, contract_key_opkey(key, signer), &val, &vlen,
                         "opkey", errmsg);
    if (rc == TDEI_NOTFOUND) {
        hex8(shown, signer);
        return tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_SIGNER,
                           "key %s... is not a registered operator key", shown);
    }
    if (rc != 0) {
        return rc;
    }
    rc = codec_operator_key_decode(&opkey, val, vlen, errmsg);
    if (rc != 0) {
        return record_rc(rc, "opkey", errmsg);
    }
    rc = exec_query_member(r, opkey->member, &member, errmsg);
    if (rc == TDEI_UNKNOWN_MEMBER) {
        rc = TDEI_CORRUPT; /* an operator key of no member */
    }
    if (rc == 0) {
        (void)snprintf(out->member, sizeof(out->member), "%s", opkey->member);
        out->role = (enum tdei_role)member->role;
        out->status = member->status;
        out->nonce = opkey->nonce;
        codec_member_free(member);
    }
    codec_operator_key_free(opkey);
    return rc;
}

int exec_query_nonce(struct store_read *r, const uint8_t signer[CODEC_KEY_SIZE],
                     uint64_t *nonce, char *errmsg)
{
    struct exec_signer info;
    int rc = exec_query_signer(r, signer, &info, errmsg);

    *nonce = info.nonce;
    return rc;
}

int exec_query_tx(struct store_read *r, const uint8_t tx_id[CODEC_HASH_SIZE],
                  uint64_t *height, uint32_t *index, Tdei__TxResult **result,
                  char *errmsg)
{
    const uint8_t *val;
    size_t vlen;
    int rc;

    *height = 0;
    *index = 0;
    if (result != NULL) {
        *result = NULL;
    }
    rc = store_get(r, STORE_DB_TXS, tx_id, CODEC_HASH_SIZE, &val, &vlen);
    if (rc == TDEI_NOTFOUND) {
        return tdei_errorf(errmsg, ERRSZ, rc,
                           "tx is not in a committed block (yet)");
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, ERRSZ, rc, "read tx: %s",
                           store_read_errmsg(r));
    }
    if (vlen != STORE_TX_LOCATION_SIZE) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "tx location is %zu bytes, not 12", vlen);
    }
    *height = store_u64_decode(val);
    *index = store_u32_decode(val + 8);
    if (result == NULL) {
        return 0;
    }
    {
        uint8_t loc[STORE_TX_LOCATION_SIZE];
        memcpy(loc, val, sizeof(loc));
        rc = store_get(r, STORE_DB_RESULTS, loc, sizeof(loc), &val, &vlen);
    }
    if (rc != 0) {
        return tdei_errorf(
            errmsg, ERRSZ, rc == TDEI_NOTFOUND ? TDEI_CORRUPT : rc,
            "read result of tx at %" PRIu64 "/%" PRIu32, *height, *index);
    }
    return record_rc(codec_txresult_decode(result, val, vlen, errmsg), "result",
                     errmsg);
}

int exec_query_head(struct store_read *r, const uint8_t *object, size_t olen,
                    uint8_t head[CONTRACT_HEAD_SIZE], char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    const uint8_t *val;
    size_t vlen;
    int rc;

    memset(head, 0, CONTRACT_HEAD_SIZE);
    if (olen == 0 || olen > CODEC_OBJECT_KEY_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "object key is %zu bytes; it must be 1-%u", olen,
                           CODEC_OBJECT_KEY_MAX);
    }
    rc = store_state_get(r, key, contract_key_head(key, object, olen), &val,
                         &vlen, "head", errmsg);
    if (rc == TDEI_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    if (vlen != CONTRACT_HEAD_SIZE) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CORRUPT,
                           "history head is %zu bytes, not 32", vlen);
    }
    memcpy(head, val, CONTRACT_HEAD_SIZE);
    return 0;
}

int exec_query_params(struct store_read *r, Tdei__Params **out, char *errmsg)
{
    return params_read(r, out, errmsg);
}

int exec_query_limits(struct store_read *r, struct codec_limits *out,
                      uint64_t *skew_ms, char *errmsg)
{
    Tdei__Params *params = NULL;
    int rc = params_read(r, &params, errmsg);

    if (rc != 0) {
        return rc;
    }
    out->tx_size_max = params->tx_size_max;
    out->block_size_max = params->block_size_max;
    out->block_txs_max = params->block_txs_max;
    out->validators_max = params->validators_max;
    if (skew_ms != NULL) {
        *skew_ms = params->max_clock_skew_ms;
    }
    codec_params_free(params);
    return 0;
}

int exec_query_validators(struct store_read *r, Tdei__ValidatorSet **out,
                          char *errmsg)
{
    return validators_read(r, out, errmsg);
}

int exec_query_validators_at(struct store_read *r, uint64_t height,
                             Tdei__ValidatorSet **out, char *errmsg)
{
    struct exec_tip tip;
    uint64_t from;
    int rc;

    *out = NULL;
    if (height == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "height 0 has no validator set; blocks start at "
                           "height 1");
    }
    rc = exec_query_tip(r, &tip, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (height > tip.height + 2) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOTFOUND,
                           "the validator set of height %" PRIu64
                           " is decided by block %" PRIu64
                           ", which is not committed yet (the tip is %" PRIu64
                           ")",
                           height, height - 2, tip.height);
    }
    if (height == tip.height + 2) {
        return validators_next_read(r, out, errmsg);
    }
    return vset_history_at(r, height, &from, out, errmsg);
}

int exec_query_validators_change(struct store_read *r, uint64_t after,
                                 uint64_t *from, Tdei__ValidatorSet **out,
                                 char *errmsg)
{
    *out = NULL;
    *from = 0;
    if (after == UINT64_MAX) {
        return TDEI_NOTFOUND;
    }
    return vset_seek(r, after + 1, 0, from, out, errmsg);
}
