/* The contract interface: dispatch, budget, events, heads, refusals and the
 * record helpers (see contract.h). Pure: no I/O, clock or randomness. */
#include "contracts/contract.h"

#include "core/alloc.h"
#include "core/assert.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Generous per-entry protobuf overheads (tags and length prefixes) used to
 * bound a TxResult built from a full ctx. */
#define RESULT_ATTR_OVERHEAD 16u
#define RESULT_EVENT_OVERHEAD 16u
#define RESULT_HEAD_OVERHEAD 16u

_Static_assert(16u + CODEC_LOG_MAX + CONTRACT_EVENT_BYTES_MAX +
                       RESULT_ATTR_OVERHEAD * CONTRACT_ATTRS_TOTAL_MAX +
                       RESULT_EVENT_OVERHEAD * CODEC_EVENTS_MAX +
                       CODEC_HEADS_MAX *
                           (RESULT_HEAD_OVERHEAD + CODEC_OBJECT_KEY_MAX +
                            2u * CONTRACT_HEAD_SIZE) <=
                   CODEC_RESULT_SIZE_MAX,
               "a full contract ctx fits in one TxResult");
_Static_assert(CONTRACT_EVENT_BYTES_MAX < UINT32_MAX,
               "arena offsets fit in u32");
_Static_assert(sizeof(CONTRACT_KEY_HEAD) - 1u + CODEC_OBJECT_KEY_MAX <=
                   CONTRACT_KEY_SIZE_MAX,
               "head keys fit");
_Static_assert(sizeof(CONTRACT_KEY_ACCOUNT) - 1u + TDEI_MEMBER_ID_MAX <=
                   CONTRACT_KEY_SIZE_MAX,
               "member keys fit");

/* The dispatch table: one row per op. Ranges per contract are in
 * tdei.proto (TxBody). */
static const struct
{
    Tdei__TxBody__OpCase op; /* the oneof case */
    const char *name;        /* for messages */
    contract_handler_fn fn;  /* the handler */
} dispatch_table[] = {
    {TDEI__TX_BODY__OP_TRANSFER, "transfer", contract_settle_transfer},
    {TDEI__TX_BODY__OP_MINT, "mint", contract_settle_mint},
    {TDEI__TX_BODY__OP_MEMBER_PROPOSE, "member_propose",
     contract_member_propose},
    {TDEI__TX_BODY__OP_MEMBER_VOTE, "member_vote", contract_member_vote},
    {TDEI__TX_BODY__OP_OPERATOR_KEY_ROTATE, "operator_key_rotate",
     contract_operator_key_rotate},
    {TDEI__TX_BODY__OP_CATALOG_PUBLISH, "catalog_publish",
     contract_catalog_publish},
    {TDEI__TX_BODY__OP_CATALOG_VERSION, "catalog_version",
     contract_catalog_version},
    {TDEI__TX_BODY__OP_CATALOG_WITHDRAW, "catalog_withdraw",
     contract_catalog_withdraw},
    {TDEI__TX_BODY__OP_CATALOG_REPRICE, "catalog_reprice",
     contract_catalog_reprice},
    {TDEI__TX_BODY__OP_CLASSIFY_SET, "classify_set", contract_classify_set},
    {TDEI__TX_BODY__OP_CLASSIFY_APPROVE, "classify_approve",
     contract_classify_approve},
    {TDEI__TX_BODY__OP_OWNERSHIP_OFFER, "ownership_offer",
     contract_ownership_offer},
    {TDEI__TX_BODY__OP_OWNERSHIP_ACCEPT, "ownership_accept",
     contract_ownership_accept},
    {TDEI__TX_BODY__OP_OWNERSHIP_CANCEL, "ownership_cancel",
     contract_ownership_cancel},
    {TDEI__TX_BODY__OP_EXCHANGE_REQUEST, "exchange_request",
     contract_exchange_request},
    {TDEI__TX_BODY__OP_EXCHANGE_APPROVE, "exchange_approve",
     contract_exchange_approve},
    {TDEI__TX_BODY__OP_EXCHANGE_REJECT, "exchange_reject",
     contract_exchange_reject},
    {TDEI__TX_BODY__OP_EXCHANGE_DELIVER, "exchange_deliver",
     contract_exchange_deliver},
    {TDEI__TX_BODY__OP_EXCHANGE_CONFIRM, "exchange_confirm",
     contract_exchange_confirm},
    {TDEI__TX_BODY__OP_EXCHANGE_DISPUTE, "exchange_dispute",
     contract_exchange_dispute},
    {TDEI__TX_BODY__OP_EXCHANGE_RESOLVE, "exchange_resolve",
     contract_exchange_resolve},
    {TDEI__TX_BODY__OP_GRANT_REVOKE, "grant_revoke", contract_grant_revoke},
    {TDEI__TX_BODY__OP_STREAM_OPEN, "stream_open", contract_stream_open},
    {TDEI__TX_BODY__OP_STREAM_APPEND, "stream_append", contract_stream_append},
    {TDEI__TX_BODY__OP_STREAM_CLOSE, "stream_close", contract_stream_close},
    {TDEI__TX_BODY__OP_EVIDENCE, "evidence", contract_evidence},
};

#define DISPATCH_COUNT (sizeof(dispatch_table) / sizeof(dispatch_table[0]))

/* ---- entry points -------------------------------------------------------- */

void contract_ctx_begin(struct contract_ctx *ctx,
                        const struct contract_env *env)
{
    size_t mlen = strlen(env->member);

    TDEI_ASSERT(tdei_member_id_check_n(env->member, mlen) == 0);
    TDEI_ASSERT(env->chain_id != NULL);
    TDEI_ASSERT(tdei_chain_id_check(env->chain_id) == 0);
    ctx->ops = env->ops;
    ctx->state = env->state;
    memcpy(ctx->signer, env->signer, sizeof(ctx->signer));
    memcpy(ctx->member, env->member, mlen + 1);
    ctx->role = env->role;
    ctx->height = env->height;
    ctx->time_ms = env->time_ms;
    memcpy(ctx->tx_id, env->tx_id, sizeof(ctx->tx_id));
    memcpy(ctx->chain_id, env->chain_id, strlen(env->chain_id) + 1);
    ctx->steps_left = CONTRACT_STEPS_MAX;
    ctx->write_bytes_left = CONTRACT_WRITE_BYTES_MAX;
    ctx->reason[0] = '\0';
    ctx->event_count = 0;
    ctx->attr_count = 0;
    ctx->arena_used = 0;
    ctx->touched_count = 0;
}

_Static_assert(CONTRACT_BLOCK_STEPS_MAX <= UINT32_MAX,
               "the block budget fits ctx->steps_left");

void contract_ctx_begin_block(struct contract_ctx *ctx,
                              const struct contract_state_ops *ops, void *state,
                              uint64_t height, uint64_t time_ms)
{
    ctx->ops = ops;
    ctx->state = state;
    memset(ctx->signer, 0, sizeof(ctx->signer));
    ctx->member[0] = '\0'; /* no signer: the block itself */
    ctx->role = (enum tdei_role)0;
    ctx->height = height;
    ctx->time_ms = time_ms;
    memset(ctx->tx_id, 0, sizeof(ctx->tx_id));
    ctx->chain_id[0] = '\0'; /* the block-begin work checks no signature */
    ctx->steps_left = CONTRACT_BLOCK_STEPS_MAX;
    ctx->write_bytes_left = CONTRACT_BLOCK_WRITE_BYTES_MAX;
    ctx->reason[0] = '\0';
    ctx->event_count = 0;
    ctx->attr_count = 0;
    ctx->arena_used = 0;
    ctx->touched_count = 0;
}

const char *contract_op_name(const Tdei__TxBody *body)
{
    for (size_t i = 0; i < DISPATCH_COUNT; i++) {
        if (dispatch_table[i].op == body->op_case) {
            return dispatch_table[i].name;
        }
    }
    return "unknown";
}

int contract_code_is_fatal(int code)
{
    return code == TDEI_NOMEM || code == TDEI_IOERR || code == TDEI_CORRUPT;
}

/* Keep reasons printable ASCII (they reach terminals and must be UTF-8). */
static void reason_sanitize(char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20u || c > 0x7eu) {
            *s = '?';
        }
    }
}

static void reason_set(struct contract_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reason_set(struct contract_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
    va_end(ap);
    reason_sanitize(ctx->reason);
}

int contract_dispatch(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    contract_handler_fn fn = NULL;
    int rc;

    for (size_t i = 0; i < DISPATCH_COUNT; i++) {
        if (dispatch_table[i].op == body->op_case) {
            fn = dispatch_table[i].fn;
            break;
        }
    }
    if (fn == NULL) {
        reason_set(ctx, "tx op %d has no contract on this node; upgrade tdei",
                   (int)body->op_case);
        rc = TDEI_UNKNOWN_OP;
    } else {
        rc = fn(ctx, body);
    }
    if (rc != 0) {
        if (ctx->reason[0] == '\0') {
            reason_set(ctx, "%s: %s", contract_op_name(body),
                       tdei_strerror(rc));
        }
        ctx->event_count = 0;
        ctx->attr_count = 0;
        ctx->arena_used = 0;
    }
    if (rc == 0) {
        ctx->reason[0] = '\0'; /* an applied tx has no reason */
    }
    return rc;
}

/* ---- what a handler may do ----------------------------------------------- */

int contract_refuse(struct contract_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;

    TDEI_ASSERT(code != 0);
    TDEI_ASSERT(!contract_code_is_fatal(code));
    va_start(ap, fmt);
    (void)vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
    va_end(ap);
    reason_sanitize(ctx->reason);
    return code;
}

/* Charge one step and @bytes written. */
static int budget_charge(struct contract_ctx *ctx, size_t bytes)
{
    if (ctx->steps_left == 0) {
        return contract_refuse(ctx, TDEI_BUDGET,
                               "tx used all %u state operations of its "
                               "budget (CONTRACT_STEPS_MAX); split it",
                               CONTRACT_STEPS_MAX);
    }
    if (bytes > ctx->write_bytes_left) {
        return contract_refuse(ctx, TDEI_BUDGET,
                               "tx writes more than %u bytes of state "
                               "(CONTRACT_WRITE_BYTES_MAX); split it",
                               CONTRACT_WRITE_BYTES_MAX);
    }
    ctx->steps_left--;
    ctx->write_bytes_left -= bytes;
    return 0;
}

/* Turn a write failure of the state into a refusal or a fatal code. */
static int write_failed(struct contract_ctx *ctx, int rc)
{
    if (rc == TDEI_NOSPACE) {
        return contract_refuse(ctx, TDEI_NOSPACE,
                               "the block's state budget is spent; submit "
                               "the tx again for a later block");
    }
    if (!contract_code_is_fatal(rc)) {
        rc = TDEI_NOMEM;
    }
    reason_set(ctx, "state write failed: %s", tdei_errname(rc));
    return rc;
}

int contract_get(struct contract_ctx *ctx, const uint8_t *key, size_t klen,
                 uint8_t *val, size_t cap, size_t *vlen)
{
    int rc = budget_charge(ctx, 0);

    *vlen = 0;
    if (rc != 0) {
        return rc;
    }
    TDEI_ASSERT(klen >= 1 && klen <= CONTRACT_KEY_SIZE_MAX);
    rc = ctx->ops->get(ctx->state, key, klen, val, cap, vlen);
    if (contract_code_is_fatal(rc)) {
        reason_set(ctx, "state read failed: %s", tdei_errname(rc));
    }
    return rc;
}

int contract_put(struct contract_ctx *ctx, const uint8_t *key, size_t klen,
                 const uint8_t *val, size_t vlen)
{
    int rc;

    TDEI_ASSERT(klen >= 1 && klen <= CONTRACT_KEY_SIZE_MAX);
    if (vlen > CONTRACT_WRITE_BYTES_MAX) {
        return budget_charge(ctx, SIZE_MAX);
    }
    rc = budget_charge(ctx, klen + vlen);
    if (rc != 0) {
        return rc;
    }
    rc = ctx->ops->put(ctx->state, key, klen, val, vlen);
    return rc == 0 ? 0 : write_failed(ctx, rc);
}

int contract_del(struct contract_ctx *ctx, const uint8_t *key, size_t klen)
{
    int rc;

    TDEI_ASSERT(klen >= 1 && klen <= CONTRACT_KEY_SIZE_MAX);
    rc = budget_charge(ctx, klen);
    if (rc != 0) {
        return rc;
    }
    rc = ctx->ops->del(ctx->state, key, klen);
    return rc == 0 ? 0 : write_failed(ctx, rc);
}

int contract_touch(struct contract_ctx *ctx, const uint8_t *key, size_t klen)
{
    struct contract_touch *t;

    TDEI_ASSERT(klen >= 1 && klen <= CODEC_OBJECT_KEY_MAX);
    for (size_t i = 0; i < ctx->touched_count; i++) {
        if (ctx->touched[i].klen == klen &&
            memcmp(ctx->touched[i].key, key, klen) == 0) {
            return 0;
        }
    }
    if (ctx->touched_count == CODEC_HEADS_MAX) {
        return contract_refuse(ctx, TDEI_BUDGET,
                               "tx touches more than %u objects "
                               "(CODEC_HEADS_MAX); split it",
                               CODEC_HEADS_MAX);
    }
    t = &ctx->touched[ctx->touched_count++];
    memcpy(t->key, key, klen);
    t->klen = klen;
    return 0;
}

/* Copy @s (with its NUL) into the arena. Returns 0 and its offset, or
 * TDEI_BUDGET. */
static int arena_push(struct contract_ctx *ctx, const char *s, size_t len,
                      uint32_t *offset)
{
    if (len + 1 > sizeof(ctx->arena) - ctx->arena_used) {
        return contract_refuse(ctx, TDEI_BUDGET,
                               "tx events exceed %u bytes "
                               "(CONTRACT_EVENT_BYTES_MAX); split it",
                               CONTRACT_EVENT_BYTES_MAX);
    }
    *offset = (uint32_t)ctx->arena_used;
    memcpy(ctx->arena + ctx->arena_used, s, len + 1);
    ctx->arena_used += len + 1;
    return 0;
}

int contract_event(struct contract_ctx *ctx, const char *type)
{
    struct contract_event *ev;
    uint32_t offset = 0;
    int rc;

    TDEI_ASSERT(codec_token_valid(type, CODEC_EVENT_TYPE_MAX));
    if (ctx->event_count == CODEC_EVENTS_MAX) {
        return contract_refuse(ctx, TDEI_BUDGET,
                               "tx emits more than %u events "
                               "(CODEC_EVENTS_MAX); split it",
                               CODEC_EVENTS_MAX);
    }
    rc = arena_push(ctx, type, strlen(type), &offset);
    if (rc != 0) {
        return rc;
    }
    ev = &ctx->events[ctx->event_count++];
    ev->type = offset;
    ev->attr_first = (uint32_t)ctx->attr_count;
    ev->attr_count = 0;
    return 0;
}

int contract_event_attr(struct contract_ctx *ctx, const char *key,
                        const char *value)
{
    struct contract_event *ev;
    struct contract_attr attr = {0};
    size_t vlen = strlen(value);
    int rc;

    TDEI_ASSERT(ctx->event_count > 0);
    TDEI_ASSERT(codec_token_valid(key, CODEC_ATTR_KEY_MAX));
    ev = &ctx->events[ctx->event_count - 1];
    if (ev->attr_count == CODEC_ATTRS_MAX ||
        ctx->attr_count == CONTRACT_ATTRS_TOTAL_MAX) {
        return contract_refuse(ctx, TDEI_BUDGET,
                               "tx event attributes exceed %u per event or "
                               "%u in all; split it",
                               CODEC_ATTRS_MAX, CONTRACT_ATTRS_TOTAL_MAX);
    }
    if (vlen > CODEC_ATTR_VALUE_MAX) {
        return contract_refuse(ctx, TDEI_TOOBIG,
                               "event attribute %s is %zu bytes; the limit "
                               "is %u",
                               key, vlen, CODEC_ATTR_VALUE_MAX);
    }
    if (!codec_utf8_valid((const uint8_t *)value, vlen)) {
        return contract_refuse(ctx, TDEI_MALFORMED,
                               "event attribute %s is not valid UTF-8", key);
    }
    rc = arena_push(ctx, key, strlen(key), &attr.key);
    if (rc == 0) {
        rc = arena_push(ctx, value, vlen, &attr.value);
    }
    if (rc != 0) {
        return rc;
    }
    ctx->attrs[ctx->attr_count++] = attr;
    ev->attr_count++;
    return 0;
}

int contract_event_attr_u64(struct contract_ctx *ctx, const char *key,
                            uint64_t value)
{
    char text[24];

    (void)snprintf(text, sizeof(text), "%" PRIu64, value);
    return contract_event_attr(ctx, key, text);
}

/* ---- keys and records ---------------------------------------------------- */

static size_t key_text(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *prefix,
                       const char *id)
{
    size_t plen = strlen(prefix);
    size_t ilen = strlen(id);

    TDEI_ASSERT(tdei_member_id_check_n(id, ilen) == 0);
    memcpy(out, prefix, plen);
    memcpy(out + plen, id, ilen);
    return plen + ilen;
}

static size_t key_bytes(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *prefix,
                        const uint8_t *bytes, size_t len)
{
    size_t plen = strlen(prefix);

    TDEI_ASSERT(plen + len <= CONTRACT_KEY_SIZE_MAX);
    memcpy(out, prefix, plen);
    memcpy(out + plen, bytes, len);
    return plen + len;
}

size_t contract_key_member(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id)
{
    return key_text(out, CONTRACT_KEY_MEMBER, id);
}

size_t contract_key_account(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id)
{
    return key_text(out, CONTRACT_KEY_ACCOUNT, id);
}

size_t contract_key_opkey(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                          const uint8_t key[CODEC_KEY_SIZE])
{
    return key_bytes(out, CONTRACT_KEY_OPKEY, key, CODEC_KEY_SIZE);
}

size_t contract_key_nodekey(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                            const uint8_t key[CODEC_KEY_SIZE])
{
    return key_bytes(out, CONTRACT_KEY_NODEKEY, key, CODEC_KEY_SIZE);
}

size_t contract_key_head(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                         const uint8_t *object, size_t olen)
{
    TDEI_ASSERT(olen >= 1 && olen <= CODEC_OBJECT_KEY_MAX);
    return key_bytes(out, CONTRACT_KEY_HEAD, object, olen);
}

/* A record that does not decode, or does not fit its largest size. */
static int record_corrupt(struct contract_ctx *ctx, const char *what,
                          const char *detail)
{
    reason_set(ctx, "state record %s is damaged: %s", what, detail);
    return TDEI_CORRUPT;
}

int contract_member_get(struct contract_ctx *ctx, const char *id,
                        Tdei__Member **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t val[CONTRACT_RECORD_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t klen = contract_key_member(key, id);
    size_t vlen;
    int rc;

    *out = NULL;
    rc = contract_get(ctx, key, klen, val, sizeof(val), &vlen);
    if (rc == TDEI_TOOBIG) {
        return record_corrupt(ctx, "member", "larger than any member");
    }
    if (rc != 0) {
        return rc;
    }
    rc = codec_member_decode(out, val, vlen, errmsg);
    if (rc == TDEI_NOMEM) {
        reason_set(ctx, "member %s: out of memory", id);
        return rc;
    }
    return rc == 0 ? 0 : record_corrupt(ctx, "member", errmsg);
}

int contract_params_get(struct contract_ctx *ctx, Tdei__Params **out)
{
    static const uint8_t key[] = CONTRACT_KEY_PARAMS;
    uint8_t val[CODEC_PARAMS_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    size_t vlen;
    int rc;

    *out = NULL;
    rc = contract_get(ctx, key, sizeof(key) - 1, val, sizeof(val), &vlen);
    if (rc == TDEI_NOTFOUND) {
        return record_corrupt(ctx, "params", "missing");
    }
    if (rc == TDEI_TOOBIG) {
        return record_corrupt(ctx, "params", "larger than any params");
    }
    if (rc != 0) {
        return rc;
    }
    rc = codec_params_decode(out, val, vlen, errmsg);
    if (rc == TDEI_NOMEM) {
        reason_set(ctx, "params: out of memory");
        return rc;
    }
    return rc == 0 ? 0 : record_corrupt(ctx, "params", errmsg);
}

/* ---- the exchange-rule records ------------------------------------------- */

static size_t key_entry(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *prefix,
                        const char *id)
{
    TDEI_ASSERT(codec_dataset_id_valid(id));
    return key_bytes(out, prefix, (const uint8_t *)id, strlen(id));
}

size_t contract_key_dataset(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id)
{
    return key_entry(out, CONTRACT_KEY_DATASET, id);
}

size_t contract_key_dsver(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id,
                          uint64_t version)
{
    size_t n = key_entry(out, CONTRACT_KEY_DSVER, id);

    out[n++] = '/';
    for (int i = 7; i >= 0; i--) {
        out[n++] = (uint8_t)(version >> (8 * i));
    }
    return n;
}

size_t contract_key_exchange(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                             const uint8_t xid[CODEC_HASH_SIZE])
{
    return key_bytes(out, CONTRACT_KEY_EXCHANGE, xid, CODEC_HASH_SIZE);
}

size_t contract_key_escrow(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                           const uint8_t xid[CODEC_HASH_SIZE])
{
    return key_bytes(out, CONTRACT_KEY_ESCROW, xid, CODEC_HASH_SIZE);
}

size_t contract_key_grant(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id,
                          const char *member)
{
    size_t n = key_entry(out, CONTRACT_KEY_GRANT, id);
    size_t mlen = strlen(member);

    TDEI_ASSERT(tdei_member_id_check_n(member, mlen) == 0);
    out[n++] = '/';
    memcpy(out + n, member, mlen);
    return n + mlen;
}

size_t contract_key_stream(uint8_t out[CONTRACT_KEY_SIZE_MAX], const char *id)
{
    return key_entry(out, CONTRACT_KEY_STREAM, id);
}

size_t contract_key_due(uint8_t out[CONTRACT_KEY_SIZE_MAX], uint64_t height,
                        uint32_t page)
{
    uint8_t be[12];
    size_t n = 8;

    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)(height >> (8 * (7 - i)));
    }
    if (page != 0) {
        for (int i = 0; i < 4; i++) {
            be[8 + i] = (uint8_t)(page >> (8 * (3 - i)));
        }
        n = 12;
    }
    return key_bytes(out, CONTRACT_KEY_DUE, be, n);
}

size_t contract_key_evidence(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                             const uint8_t id[CODEC_HASH_SIZE])
{
    return key_bytes(out, CONTRACT_KEY_EVIDENCE, id, CODEC_HASH_SIZE);
}

size_t contract_key_vset(uint8_t out[CONTRACT_KEY_SIZE_MAX], uint64_t height)
{
    uint8_t be[8];

    TDEI_ASSERT(height >= 1);
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)(height >> (8 * (7 - i)));
    }
    return key_bytes(out, CONTRACT_KEY_VSET, be, sizeof(be));
}

int contract_record_put(struct contract_ctx *ctx, const uint8_t *key,
                        size_t klen, const ProtobufCMessage *msg)
{
    uint8_t *buf;
    size_t len;
    int rc = codec_encode(msg, &buf, &len);

    if (rc != 0) {
        reason_set(ctx, "encoding a state record: out of memory");
        return rc;
    }
    rc = contract_put(ctx, key, klen, buf, len);
    tdei_free(buf);
    return rc;
}

/* Read the value of @key (at most @size_max bytes) into a buffer from
 * tdei_malloc. Returns 0 (*val the caller's), TDEI_NOTFOUND, TDEI_BUDGET
 * or a fatal code (reason set). */
static int record_read(struct contract_ctx *ctx, const uint8_t *key,
                       size_t klen, size_t size_max, const char *what,
                       uint8_t **val, size_t *vlen)
{
    size_t cap = size_max < 1024u ? size_max : 1024u;
    uint8_t *buf;
    int rc;

    *val = NULL;
    for (;;) {
        buf = tdei_malloc(cap == 0 ? 1 : cap);
        if (buf == NULL) {
            reason_set(ctx, "%s: out of memory", what);
            return TDEI_NOMEM;
        }
        rc = contract_get(ctx, key, klen, buf, cap, vlen);
        if (rc != TDEI_TOOBIG) {
            break;
        }
        tdei_free(buf);
        if (*vlen > size_max || cap == size_max) {
            return record_corrupt(ctx, what, "larger than its largest size");
        }
        cap = *vlen;
    }
    if (rc != 0) {
        tdei_free(buf);
        return rc;
    }
    *val = buf;
    return 0;
}

/* A decoder's result as a contract code: TDEI_NOMEM stays, the rest is a
 * damaged record. */
static int decode_rc(struct contract_ctx *ctx, int rc, const char *what,
                     const char *errmsg)
{
    if (rc == 0 || rc == TDEI_NOMEM) {
        if (rc != 0) {
            reason_set(ctx, "%s: out of memory", what);
        }
        return rc;
    }
    return record_corrupt(ctx, what, errmsg);
}

/* The body of each typed getter: read @key, decode with @decode_call. */
#define RECORD_GET(ctx, key, klen, size_max, what, decode_call)                \
    do {                                                                       \
        char errmsg[TDEI_ERRMSG_SIZE];                                         \
        uint8_t *val;                                                          \
        size_t vlen;                                                           \
        int rc_ = record_read(ctx, key, klen, size_max, what, &val, &vlen);    \
        if (rc_ != 0) {                                                        \
            return rc_;                                                        \
        }                                                                      \
        rc_ = decode_call;                                                     \
        tdei_free(val);                                                        \
        return decode_rc(ctx, rc_, what, errmsg);                              \
    } while (0)

int contract_dataset_get(struct contract_ctx *ctx, const char *id,
                         Tdei__Dataset **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_dataset(key, id);

    *out = NULL;
    RECORD_GET(ctx, key, klen, CODEC_DATASET_SIZE_MAX, "dataset",
               codec_dataset_decode(out, val, vlen, errmsg));
}

int contract_dataset_version_get(struct contract_ctx *ctx, const char *id,
                                 uint64_t version, Tdei__DatasetVersion **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_dsver(key, id, version);

    *out = NULL;
    RECORD_GET(ctx, key, klen, CODEC_DATASET_VERSION_SIZE_MAX,
               "dataset version",
               codec_dataset_version_decode(out, val, vlen, errmsg));
}

int contract_exchange_get(struct contract_ctx *ctx,
                          const uint8_t xid[CODEC_HASH_SIZE],
                          Tdei__Exchange **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_exchange(key, xid);

    *out = NULL;
    RECORD_GET(ctx, key, klen, CODEC_EXCHANGE_SIZE_MAX, "exchange",
               codec_exchange_decode(out, val, vlen, errmsg));
}

int contract_grant_get(struct contract_ctx *ctx, const char *id,
                       const char *member, Tdei__GrantRef **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_grant(key, id, member);

    *out = NULL;
    RECORD_GET(ctx, key, klen, CODEC_GRANT_REF_SIZE_MAX, "grant",
               codec_grant_ref_decode(out, val, vlen, errmsg));
}

int contract_stream_get(struct contract_ctx *ctx, const char *id,
                        Tdei__Stream **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_stream(key, id);

    *out = NULL;
    RECORD_GET(ctx, key, klen, CODEC_STREAM_SIZE_MAX, "stream",
               codec_stream_decode(out, val, vlen, errmsg));
}

int contract_due_get(struct contract_ctx *ctx, uint64_t height, uint32_t page,
                     Tdei__DueList **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_due(key, height, page);

    *out = NULL;
    RECORD_GET(ctx, key, klen, CODEC_DUE_LIST_SIZE_MAX, "due list",
               codec_due_list_decode(out, val, vlen, errmsg));
}

/* Read the ValidatorSet at @key (named @what in reasons). */
static int validator_set_read(struct contract_ctx *ctx, const uint8_t *key,
                              size_t klen, const char *what,
                              Tdei__ValidatorSet **out)
{
    const struct codec_limits limits = {
        .tx_size_max = TDEI_TX_SIZE_MAX,
        .block_size_max = TDEI_BLOCK_SIZE_MAX,
        .block_txs_max = TDEI_BLOCK_TXS_MAX,
        .validators_max = CONTRACT_VALIDATORS_LIMIT,
    };
    char errmsg[TDEI_ERRMSG_SIZE];
    uint8_t *val;
    size_t vlen;
    int rc;

    *out = NULL;
    rc = record_read(ctx, key, klen,
                     CODEC_VALIDATOR_SET_SIZE_MAX(CONTRACT_VALIDATORS_LIMIT),
                     what, &val, &vlen);
    if (rc != 0) {
        return rc;
    }
    rc = codec_validator_set_decode(out, val, vlen, &limits, errmsg);
    tdei_free(val);
    return decode_rc(ctx, rc, what, errmsg);
}

int contract_validators_get(struct contract_ctx *ctx, Tdei__ValidatorSet **out)
{
    static const uint8_t key[] = CONTRACT_KEY_VALIDATORS;
    int rc = validator_set_read(ctx, key, sizeof(key) - 1, "validators", out);

    return rc == TDEI_NOTFOUND ? record_corrupt(ctx, "validators", "missing")
                               : rc;
}

int contract_validators_next_get(struct contract_ctx *ctx,
                                 Tdei__ValidatorSet **out)
{
    static const uint8_t key[] = CONTRACT_KEY_VALIDATORS_NEXT;
    int rc =
        validator_set_read(ctx, key, sizeof(key) - 1, "validators_next", out);

    return rc == TDEI_NOTFOUND ? contract_validators_get(ctx, out) : rc;
}

int contract_validators_next_put(struct contract_ctx *ctx,
                                 const Tdei__ValidatorSet *set)
{
    static const uint8_t key[] = CONTRACT_KEY_VALIDATORS_NEXT;

    TDEI_ASSERT(set->n_validators >= 1);
    TDEI_ASSERT(set->n_validators <= CONTRACT_VALIDATORS_LIMIT);
    return contract_record_put(ctx, key, sizeof(key) - 1, &set->base);
}

int contract_node_key_get(struct contract_ctx *ctx,
                          const uint8_t node_key[CODEC_KEY_SIZE],
                          Tdei__NodeKey **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_nodekey(key, node_key);

    *out = NULL;
    RECORD_GET(ctx, key, klen, CODEC_NODEKEY_SIZE_MAX, "node key",
               codec_node_key_decode(out, val, vlen, errmsg));
}

int contract_evidence_record_get(struct contract_ctx *ctx,
                                 const uint8_t id[CODEC_HASH_SIZE],
                                 Tdei__EvidenceRecord **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_evidence(key, id);

    *out = NULL;
    RECORD_GET(ctx, key, klen, CODEC_EVIDENCE_RECORD_SIZE_MAX,
               "evidence record",
               codec_evidence_record_decode(out, val, vlen, errmsg));
}

/* ---- catalog entries ----------------------------------------------------- */

int contract_entry_get(struct contract_ctx *ctx, const char *op, const char *id,
                       Tdei__Dataset **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    int rc = contract_dataset_get(ctx, id, out);

    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_UNKNOWN_DATASET,
                               "%s %s: no catalog entry has this id; check "
                               "it with tdei catalog search",
                               op, id);
    }
    if (rc != 0) {
        return rc;
    }
    rc = contract_touch(ctx, key, contract_key_dataset(key, id));
    if (rc != 0) {
        codec_dataset_free(*out);
        *out = NULL;
    }
    return rc;
}

int contract_entry_owned_get(struct contract_ctx *ctx, const char *op,
                             const char *id, Tdei__Dataset **out)
{
    int rc = contract_entry_get(ctx, op, id, out);

    if (rc != 0) {
        return rc;
    }
    if (strcmp((*out)->owner, ctx->member) != 0) {
        rc = contract_refuse(ctx, TDEI_NOT_OWNER,
                             "%s %s: only its owner %s may do this; %s is "
                             "not the owner",
                             op, id, (*out)->owner, ctx->member);
        codec_dataset_free(*out);
        *out = NULL;
    }
    return rc;
}

int contract_entry_active_check(struct contract_ctx *ctx, const char *op,
                                const Tdei__Dataset *d)
{
    if (d->status == CODEC_DATASET_ACTIVE) {
        return 0;
    }
    return contract_refuse(ctx, TDEI_DATASET_STATE,
                           "%s %s: the entry is withdrawn; this needs an "
                           "active entry (publish a new one instead)",
                           op, d->id);
}

int contract_entry_put(struct contract_ctx *ctx, Tdei__Dataset *d)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    d->updated_height = ctx->height;
    return contract_record_put(ctx, key, contract_key_dataset(key, d->id),
                               &d->base);
}

int contract_entry_event(struct contract_ctx *ctx, const char *type,
                         const char *id)
{
    int rc = contract_event(ctx, type);

    if (rc == 0) {
        rc = contract_event_attr(ctx, "id", id);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "by", ctx->member);
    }
    return rc;
}

/* Read an Account record at @key: a missing one is a balance of 0. */
static int account_at_get(struct contract_ctx *ctx, const uint8_t *key,
                          size_t klen, const char *what, uint64_t *balance)
{
    uint8_t val[CODEC_ACCOUNT_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Account *account;
    size_t vlen;
    int rc;

    *balance = 0;
    rc = contract_get(ctx, key, klen, val, sizeof(val), &vlen);
    if (rc == TDEI_NOTFOUND) {
        return 0;
    }
    if (rc == TDEI_TOOBIG) {
        return record_corrupt(ctx, what, "larger than any account");
    }
    if (rc != 0) {
        return rc;
    }
    rc = codec_account_decode(&account, val, vlen, errmsg);
    if (rc != 0) {
        return decode_rc(ctx, rc, what, errmsg);
    }
    *balance = account->balance;
    codec_account_free(account);
    return 0;
}

static int account_at_put(struct contract_ctx *ctx, const uint8_t *key,
                          size_t klen, uint64_t balance)
{
    uint8_t val[CODEC_ACCOUNT_SIZE_MAX];
    Tdei__Account account = TDEI__ACCOUNT__INIT;
    size_t vlen;

    account.balance = balance;
    vlen = tdei__account__get_packed_size(&account);
    TDEI_ASSERT(vlen <= sizeof(val));
    (void)tdei__account__pack(&account, val);
    return contract_put(ctx, key, klen, val, vlen);
}

int contract_escrow_get(struct contract_ctx *ctx,
                        const uint8_t xid[CODEC_HASH_SIZE], uint64_t *balance)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_escrow(key, xid);

    return account_at_get(ctx, key, klen, "escrow", balance);
}

int contract_escrow_put(struct contract_ctx *ctx,
                        const uint8_t xid[CODEC_HASH_SIZE], uint64_t balance)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_escrow(key, xid);

    return account_at_put(ctx, key, klen, balance);
}

int contract_balance_get(struct contract_ctx *ctx, const char *id,
                         uint64_t *balance)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_account(key, id);

    return account_at_get(ctx, key, klen, "account", balance);
}

int contract_balance_put(struct contract_ctx *ctx, const char *id,
                         uint64_t balance)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_account(key, id);

    return account_at_put(ctx, key, klen, balance);
}
