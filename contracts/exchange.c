/* The exchange contract (DESIGN.md section 6, "exchange"): a consumer
 * requests an entry at the price it expects and the price (or a per_record
 * budget) moves into the exchange's escrow; the approvals its level and
 * class need are given by the entry's current owner and/or a
 * public_service member (the regulator); the owner delivers the content
 * key sealed to the consumer and the content root; the consumer confirms
 * (the escrow goes to the owner and the grant becomes live) or disputes,
 * and public_service resolves. A grant is revoked by the regulator alone
 * or by owner and consumer together. Rules and codes are listed in
 * contract.h. Pure.
 *
 * Money: "escrow/<id>" holds the same figure as Exchange.escrow, and every
 * move goes between one member's balance and one escrow, so the sum of all
 * balances and escrows never changes here.
 *
 * Deadlines: each step that waits (approval, delivery, confirmation) sets
 * Exchange.deadline, the last height at which the step is accepted, and
 * appends the exchange id to the DueList at "due/<deadline + 1>". At the
 * start of that block contract_block_begin expires what still waits for
 * approval or delivery (refund) and settles what waits for confirmation
 * (silence is acceptance). An entry whose exchange moved on (its deadline
 * changed, or it left the waiting states) is stale and skipped, so
 * entries are never removed from a list, only whole lists once processed.
 *
 * Block mode: contract_block_begin runs on a ctx from
 * contract_ctx_begin_block (member ""). It touches no history heads and
 * emits no events (it has no TxResult), and it cannot refuse: where a tx
 * would refuse an overflowing payment, it moves what fits and leaves the
 * rest in escrow. */
#include "contracts/contract.h"
#include "contracts/params.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/hex.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Bytes of an exchange id shown in reasons (its hex prefix). */
#define XID_SHORT 8u
#define XID_SHORT_HEX TDEI_HEX_SIZE(XID_SHORT)

/* ---- small helpers ------------------------------------------------------- */

/* 1 when @ctx is the block's (contract_ctx_begin_block), not a tx's. */
static int block_mode(const struct contract_ctx *ctx)
{
    return ctx->member[0] == '\0';
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The hex prefix of exchange id @xid, for reasons. */
static const char *xid_short(char out[XID_SHORT_HEX], const uint8_t *xid)
{
    return tdei_hex_encode(out, XID_SHORT_HEX, xid, XID_SHORT);
}

/* Set ctx->reason for a fatal code (contract_refuse takes refusals only). */
static int fatal(struct contract_ctx *ctx, int code, const char *what,
                 const char *detail)
{
    (void)snprintf(ctx->reason, sizeof(ctx->reason), "%s: %s", what, detail);
    return code;
}

static int touch_member(struct contract_ctx *ctx, const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    if (block_mode(ctx)) {
        return 0;
    }
    return contract_touch(ctx, key, contract_key_member(key, id));
}

static int touch_dataset(struct contract_ctx *ctx, const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    if (block_mode(ctx)) {
        return 0;
    }
    return contract_touch(ctx, key, contract_key_dataset(key, id));
}

static int touch_exchange(struct contract_ctx *ctx, const uint8_t *xid)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    if (block_mode(ctx)) {
        return 0;
    }
    return contract_touch(ctx, key, contract_key_exchange(key, xid));
}

/* Replace the string @field of a decoded record by a copy of @value; the
 * record's free releases it. */
static int str_set(struct contract_ctx *ctx, char **field, const char *value)
{
    char *copy = tdei_strdup(value);

    if (copy == NULL) {
        return fatal(ctx, TDEI_NOMEM, "exchange", "out of memory");
    }
    if (*field != protobuf_c_empty_string) {
        tdei_free(*field);
    }
    *field = copy;
    return 0;
}

/* As str_set for a bytes field. */
static int bytes_set(struct contract_ctx *ctx, ProtobufCBinaryData *field,
                     const ProtobufCBinaryData *value)
{
    uint8_t *copy = NULL;

    if (value->len != 0) {
        copy = tdei_malloc(value->len);
        if (copy == NULL) {
            return fatal(ctx, TDEI_NOMEM, "exchange", "out of memory");
        }
        memcpy(copy, value->data, value->len);
    }
    tdei_free(field->data);
    field->data = copy;
    field->len = value->len;
    return 0;
}

static int exchange_put(struct contract_ctx *ctx, const Tdei__Exchange *x)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return contract_record_put(ctx, key, contract_key_exchange(key, x->id.data),
                               &x->base);
}

/* Read the entry exchange @x names. Entries are never deleted, so a
 * missing one is a damaged state. */
static int entry_of(struct contract_ctx *ctx, const Tdei__Exchange *x,
                    Tdei__Dataset **out)
{
    int rc = contract_dataset_get(ctx, x->dataset, out);

    if (rc == TDEI_NOTFOUND) {
        return fatal(ctx, TDEI_CORRUPT, "state record exchange",
                     "it names a catalog entry that does not exist");
    }
    return rc;
}

/* The current owner of the entry of @x, copied into @owner. */
static int owner_of(struct contract_ctx *ctx, const Tdei__Exchange *x,
                    char owner[TDEI_MEMBER_ID_MAX + 1])
{
    Tdei__Dataset *d;
    int rc = entry_of(ctx, x, &d);

    if (rc != 0) {
        return rc;
    }
    (void)snprintf(owner, TDEI_MEMBER_ID_MAX + 1, "%s", d->owner);
    codec_dataset_free(d);
    return 0;
}

/* ---- money --------------------------------------------------------------- */

/* Move @amount of @x's escrow to member @to (its balance up, the escrow
 * and x->escrow down; the caller writes @x). In a tx an overflow of @to's
 * balance refuses with TDEI_OVERFLOW; in block mode only what fits moves
 * and the rest stays in escrow, because a block cannot refuse. */
static int escrow_pay(struct contract_ctx *ctx, const char *op,
                      Tdei__Exchange *x, const char *to, uint64_t amount)
{
    char xs[XID_SHORT_HEX];
    uint64_t held;
    uint64_t balance;
    int rc = contract_escrow_get(ctx, x->id.data, &held);

    TDEI_ASSERT(amount <= x->escrow);
    if (rc != 0) {
        return rc;
    }
    if (held != x->escrow) {
        return fatal(ctx, TDEI_CORRUPT, "state record escrow",
                     "it differs from its exchange's escrow figure");
    }
    rc = contract_balance_get(ctx, to, &balance);
    if (rc != 0) {
        return rc;
    }
    if (balance > UINT64_MAX - amount) {
        if (!block_mode(ctx)) {
            return contract_refuse(ctx, TDEI_OVERFLOW,
                                   "%s: paying %" PRIu64 " credits of "
                                   "exchange %s would overflow the balance "
                                   "of %s (%" PRIu64 "); %s must spend "
                                   "first",
                                   op, amount, xid_short(xs, x->id.data), to,
                                   balance, to);
        }
        amount = UINT64_MAX - balance;
    }
    if (amount == 0) {
        return 0;
    }
    x->escrow -= amount;
    rc = contract_balance_put(ctx, to, balance + amount);
    if (rc == 0) {
        rc = contract_escrow_put(ctx, x->id.data, x->escrow);
    }
    return rc;
}

/* The escrow of @x back to its consumer. */
static int refund(struct contract_ctx *ctx, const char *op, Tdei__Exchange *x)
{
    int rc = touch_member(ctx, x->consumer);

    return rc == 0 ? escrow_pay(ctx, op, x, x->consumer, x->escrow) : rc;
}

/* Point "grant/<entry>/<consumer>" at @x: the consumer's latest grant. */
static int grant_put(struct contract_ctx *ctx, const Tdei__Exchange *x)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__GrantRef ref = TDEI__GRANT_REF__INIT;

    ref.exchange = x->id;
    return contract_record_put(
        ctx, key, contract_key_grant(key, x->dataset, x->consumer), &ref.base);
}

/* Settle @x (confirm, resolve for the owner, silence at block begin): the
 * escrow to the entry's CURRENT owner (revenue follows the owner), the
 * grant live for grant_ttl blocks from now. The caller writes @x.
 * @owner receives the owner paid. */
static int settle(struct contract_ctx *ctx, const char *op, Tdei__Exchange *x,
                  char owner[TDEI_MEMBER_ID_MAX + 1])
{
    int rc = owner_of(ctx, x, owner);

    if (rc == 0) {
        rc = touch_member(ctx, owner);
    }
    if (rc == 0) {
        rc = escrow_pay(ctx, op, x, owner, x->escrow);
    }
    if (rc != 0) {
        return rc;
    }
    x->status = CODEC_EXCHANGE_SETTLED;
    x->settled_height = ctx->height;
    x->grant_expires = add_sat(ctx->height, x->grant_ttl);
    x->deadline = 0;
    return grant_put(ctx, x);
}

/* ---- deadlines ----------------------------------------------------------- */

/* Write DueList page @page of height @due: @n ids at @ids, and (page 0)
 * the page count @pages. */
static int due_page_put(struct contract_ctx *ctx, uint64_t due, uint32_t page,
                        ProtobufCBinaryData *ids, size_t n, uint32_t pages)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__DueList list = TDEI__DUE_LIST__INIT;

    TDEI_ASSERT(n <= CODEC_DUE_PAGE);
    list.n_exchanges = n;
    list.exchanges = ids;
    list.pages = page == 0 && pages > 1 ? pages : 0;
    return contract_record_put(ctx, key, contract_key_due(key, due, page),
                               &list.base);
}

/* Set x->deadline to now + @ttl and append @x to the due list of the
 * block after it. The list is kept in pages of CODEC_DUE_PAGE ids, so an
 * append reads at most two pages and writes at most two; past
 * CODEC_DUE_MAX ids at one height the tx is refused with TDEI_BUDGET (a
 * later block has another list). */
static int due_append(struct contract_ctx *ctx, Tdei__Exchange *x, uint64_t ttl)
{
    ProtobufCBinaryData ids[CODEC_DUE_PAGE];
    Tdei__DueList *first = NULL;
    Tdei__DueList *last = NULL;
    uint32_t pages = 1;
    uint64_t due;
    size_t n = 0;
    int rc;

    x->deadline = add_sat(ctx->height, ttl);
    TDEI_ASSERT(x->deadline < UINT64_MAX);
    due = x->deadline + 1;
    rc = contract_due_get(ctx, due, 0, &first);
    if (rc == TDEI_NOTFOUND) {
        ids[0] = x->id;
        return due_page_put(ctx, due, 0, ids, 1, 1);
    }
    if (rc != 0) {
        return rc;
    }
    pages = first->pages > 1 ? first->pages : 1;
    last = first;
    if (pages > 1) {
        rc = contract_due_get(ctx, due, pages - 1, &last);
        if (rc == TDEI_NOTFOUND) {
            rc = fatal(ctx, TDEI_CORRUPT, "state record due list",
                       "a page is missing");
        }
    }
    if (rc == 0 && last->n_exchanges == CODEC_DUE_PAGE &&
        pages >= CODEC_DUE_PAGES_MAX) {
        rc = contract_refuse(ctx, TDEI_BUDGET,
                             "too many deadlines at height %" PRIu64
                             " (%u exchanges due); retry in a later block",
                             due, CODEC_DUE_MAX);
    }
    if (rc == 0 && last->n_exchanges == CODEC_DUE_PAGE) {
        /* A new page; page 0 learns the new count. */
        ids[0] = x->id;
        rc = due_page_put(ctx, due, pages, ids, 1, 0);
        if (rc == 0) {
            rc = due_page_put(ctx, due, 0, first->exchanges, first->n_exchanges,
                              pages + 1);
        }
    } else if (rc == 0) {
        n = last->n_exchanges;
        memcpy(ids, last->exchanges, n * sizeof(ids[0]));
        ids[n] = x->id;
        rc = due_page_put(ctx, due, pages - 1, ids, n + 1, pages);
    }
    if (last != first) {
        codec_due_list_free(last);
    }
    codec_due_list_free(first);
    return rc;
}

/* Process due entry @xid at the start of block ctx->height. */
static int due_process(struct contract_ctx *ctx, const uint8_t *xid)
{
    char owner[TDEI_MEMBER_ID_MAX + 1];
    Tdei__Exchange *x;
    int rc = contract_exchange_get(ctx, xid, &x);

    if (rc == TDEI_NOTFOUND) {
        return fatal(ctx, TDEI_CORRUPT, "state record due list",
                     "it names an exchange that does not exist");
    }
    if (rc != 0) {
        return rc;
    }
    if (x->deadline == 0 || x->deadline + 1 != ctx->height) {
        codec_exchange_free(x); /* stale: the exchange moved on */
        return 0;
    }
    switch (x->status) {
    case CODEC_EXCHANGE_REQUESTED:
    case CODEC_EXCHANGE_APPROVED:
        rc = refund(ctx, "deadline", x);
        x->status = CODEC_EXCHANGE_EXPIRED;
        x->deadline = 0;
        x->closed_height = ctx->height;
        break;
    case CODEC_EXCHANGE_DELIVERED:
        rc = settle(ctx, "deadline", x, owner);
        break;
    default:
        codec_exchange_free(x);
        return 0;
    }
    if (rc == 0) {
        rc = exchange_put(ctx, x);
    }
    codec_exchange_free(x);
    return rc;
}

int contract_block_begin(struct contract_ctx *ctx)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__DueList *list;
    uint32_t pages = 1;
    int rc = 0;

    TDEI_ASSERT(block_mode(ctx));
    for (uint32_t page = 0; rc == 0 && page < pages; page++) {
        rc = contract_due_get(ctx, ctx->height, page, &list);
        if (rc == TDEI_NOTFOUND) {
            return page == 0 ? 0
                             : fatal(ctx, TDEI_CORRUPT, "state record due list",
                                     "a page is missing");
        }
        if (rc != 0) {
            return rc;
        }
        if (page == 0 && list->pages > 1) {
            pages = list->pages; /* <= CODEC_DUE_PAGES_MAX (codec) */
        }
        for (size_t i = 0; rc == 0 && i < list->n_exchanges; i++) {
            rc = due_process(ctx, list->exchanges[i].data);
        }
        codec_due_list_free(list);
        if (rc == 0) {
            rc = contract_del(ctx, key,
                              contract_key_due(key, ctx->height, page));
        }
    }
    return rc;
}

/* ---- events -------------------------------------------------------------- */

/* Start event @type with the attrs every exchange event has: id, dataset,
 * by. */
static int event_begin(struct contract_ctx *ctx, const char *type,
                       const Tdei__Exchange *x)
{
    char hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    int rc = contract_event(ctx, type);

    (void)tdei_hex_encode(hex, sizeof(hex), x->id.data, CODEC_HASH_SIZE);
    if (rc == 0) {
        rc = contract_event_attr(ctx, "id", hex);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "dataset", x->dataset);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "by", ctx->member);
    }
    return rc;
}

/* Add the status attr and, when set, the note. */
static int event_end(struct contract_ctx *ctx, const Tdei__Exchange *x)
{
    int rc = contract_event_attr(ctx, "status",
                                 codec_exchange_status_name(x->status));

    if (rc == 0 && x->note[0] != '\0') {
        rc = contract_event_attr(ctx, "note", x->note);
    }
    return rc;
}

/* ---- request ------------------------------------------------------------- */

/* What a request's checks decided. */
struct request_terms
{
    uint64_t grant_ttl; /* blocks, as granted */
    uint64_t escrow;    /* credits into escrow */
    int need_owner;     /* the owner must approve */
    int need_regulator; /* a public_service member must approve */
};

/* The level's policy: who may receive, and whether a purpose is due. */
static int policy_check(struct contract_ctx *ctx,
                        const Tdei__ExchangeRequest *op, const Tdei__Dataset *d,
                        const Tdei__LevelPolicy *policy)
{
    const char *role = tdei_role_name(ctx->role);

    if (ctx->role == TDEI_ROLE_AUDITOR) {
        return contract_refuse(ctx, TDEI_POLICY,
                               "exchange_request: %s is an auditor, and "
                               "auditors never receive payloads",
                               ctx->member);
    }
    if (((policy->roles >> (unsigned)ctx->role) & 1u) == 0) {
        return contract_refuse(ctx, TDEI_POLICY,
                               "exchange_request: level %" PRIu32 " entries "
                               "go to the roles of params level%" PRIu32
                               ".roles=%" PRIu32 "; %s is %s, not among them",
                               d->level, d->level, policy->roles, ctx->member,
                               role != NULL ? role : "unknown");
    }
    if (policy->purpose && op->purpose[0] == '\0') {
        return contract_refuse(ctx, TDEI_POLICY,
                               "exchange_request: level %" PRIu32 " requests "
                               "must state a purpose (params level%" PRIu32
                               ".purpose); say why the data is needed",
                               d->level, d->level);
    }
    return 0;
}

/* The grant length: the level's longest (and core_grant_ttl for class
 * core); a subscription's grant is its period. */
static int grant_ttl_check(struct contract_ctx *ctx,
                           const Tdei__ExchangeRequest *op,
                           const Tdei__Dataset *d, const Tdei__Params *params,
                           uint64_t *ttl)
{
    const Tdei__LevelPolicy *policy = params_level(params, d->level);
    uint64_t max = policy->grant_ttl;
    const char *limit = "the level";

    if (d->data_class == CODEC_CLASS_CORE && params->core_grant_ttl < max) {
        max = params->core_grant_ttl;
        limit = "class core (params core_grant_ttl)";
    }
    if (d->price->model == CODEC_PRICE_SUBSCRIPTION) {
        if (d->price->period > max) {
            return contract_refuse(ctx, TDEI_GRANT_TTL,
                                   "exchange_request: %s is a subscription "
                                   "of %" PRIu64 " blocks; %s allows at most "
                                   "%" PRIu64 "; the owner must reprice it",
                                   d->id, d->price->period, limit, max);
        }
        if (op->grant_ttl != 0 && op->grant_ttl != d->price->period) {
            return contract_refuse(ctx, TDEI_GRANT_TTL,
                                   "exchange_request: a subscription grant "
                                   "is its period of %" PRIu64 " blocks; ask "
                                   "for 0 or %" PRIu64 ", not %" PRIu64,
                                   d->price->period, d->price->period,
                                   op->grant_ttl);
        }
        *ttl = d->price->period;
        return 0;
    }
    if (op->grant_ttl > max) {
        return contract_refuse(ctx, TDEI_GRANT_TTL,
                               "exchange_request: a grant of %" PRIu64
                               " blocks; %s allows at most %" PRIu64
                               "; ask for fewer, or 0 for the longest",
                               op->grant_ttl, limit, max);
    }
    *ttl = op->grant_ttl == 0 ? max : op->grant_ttl;
    return 0;
}

/* The price the consumer expects is the catalog's. */
static int price_check(struct contract_ctx *ctx,
                       const Tdei__ExchangeRequest *op, const Tdei__Dataset *d)
{
    if (op->price != d->price->amount) {
        return contract_refuse(ctx, TDEI_PRICE_MISMATCH,
                               "exchange_request expects %" PRIu64 " credits; "
                               "the catalog price of %s is %" PRIu64 " (%s)",
                               op->price, d->id, d->price->amount,
                               codec_price_model_name(d->price->model));
    }
    return 0;
}

/* The budget (per_record streams only) and the funds for the escrow. */
static int funds_check(struct contract_ctx *ctx,
                       const Tdei__ExchangeRequest *op, const Tdei__Dataset *d,
                       uint64_t *escrow)
{
    uint64_t balance;
    int rc;

    if (d->price->model == CODEC_PRICE_PER_RECORD) {
        if (op->budget < op->price) {
            return contract_refuse(ctx, TDEI_BAD_AMOUNT,
                                   "exchange_request: a per_record budget "
                                   "pays at least one record (%" PRIu64
                                   " credits); the budget is %" PRIu64,
                                   op->price, op->budget);
        }
        *escrow = op->budget;
    } else {
        if (op->budget != 0) {
            return contract_refuse(ctx, TDEI_BAD_AMOUNT,
                                   "exchange_request: a budget is for "
                                   "per_record streams; %s is priced %s, "
                                   "so give budget 0",
                                   d->id,
                                   codec_price_model_name(d->price->model));
        }
        *escrow = op->price;
    }
    rc = contract_balance_get(ctx, ctx->member, &balance);
    if (rc != 0) {
        return rc;
    }
    if (balance < *escrow) {
        return contract_refuse(ctx, TDEI_INSUFFICIENT_FUNDS,
                               "request needs %" PRIu64 " credits in escrow; "
                               "%s holds %" PRIu64,
                               *escrow, ctx->member, balance);
    }
    return 0;
}

/* Every rule of a request, in order, on an entry that exists. */
static int request_check(struct contract_ctx *ctx,
                         const Tdei__ExchangeRequest *op,
                         const Tdei__Dataset *d, const Tdei__Params *params,
                         struct request_terms *t)
{
    const Tdei__LevelPolicy *policy;
    int rc;

    if (d->status != CODEC_DATASET_ACTIVE) {
        return contract_refuse(ctx, TDEI_DATASET_STATE,
                               "exchange_request: %s is withdrawn; only "
                               "active entries are requested",
                               d->id);
    }
    if (strcmp(d->owner, ctx->member) == 0) {
        return contract_refuse(ctx, TDEI_OWN_DATASET,
                               "exchange_request: %s owns %s already",
                               ctx->member, d->id);
    }
    policy = params_level(params, d->level);
    rc = policy_check(ctx, op, d, policy);
    if (rc == 0) {
        rc = price_check(ctx, op, d);
    }
    if (rc == 0) {
        rc = grant_ttl_check(ctx, op, d, params, &t->grant_ttl);
    }
    if (rc == 0) {
        rc = funds_check(ctx, op, d, &t->escrow);
    }
    if (rc != 0) {
        return rc;
    }
    t->need_owner = policy->approval == PARAMS_APPROVAL_OWNER ||
                    policy->approval == PARAMS_APPROVAL_OWNER_REGULATOR;
    t->need_regulator = policy->approval == PARAMS_APPROVAL_OWNER_REGULATOR ||
                        d->data_class == CODEC_CLASS_CORE;
    return 0;
}

static int request_apply(struct contract_ctx *ctx,
                         const Tdei__ExchangeRequest *op, Tdei__Dataset *d,
                         const Tdei__Params *params,
                         const struct request_terms *t)
{
    Tdei__Exchange x = TDEI__EXCHANGE__INIT;
    uint64_t balance;
    int rc = contract_balance_get(ctx, ctx->member, &balance);

    x.id = (ProtobufCBinaryData){CODEC_HASH_SIZE, ctx->tx_id};
    x.dataset = d->id;
    x.kind = d->kind;
    if (d->kind == CODEC_KIND_DATASET) {
        x.version = d->version;
        x.content_root = d->content_root;
    }
    x.consumer = ctx->member;
    x.owner = d->owner;
    x.model = d->price->model;
    x.price = d->price->amount;
    x.escrow = t->escrow;
    x.purpose = op->purpose;
    x.level = d->level;
    x.data_class = d->data_class;
    x.need_owner = t->need_owner;
    x.need_regulator = t->need_regulator;
    x.status = t->need_owner || t->need_regulator ? CODEC_EXCHANGE_REQUESTED
                                                  : CODEC_EXCHANGE_APPROVED;
    x.requested_height = ctx->height;
    x.grant_ttl = t->grant_ttl;
    if (rc == 0) {
        TDEI_ASSERT(balance >= t->escrow); /* funds_check, this tx */
        rc = touch_exchange(ctx, x.id.data);
    }
    if (rc == 0 && t->escrow > 0) {
        rc = contract_balance_put(ctx, ctx->member, balance - t->escrow);
    }
    if (rc == 0 && t->escrow > 0) {
        rc = contract_escrow_put(ctx, x.id.data, t->escrow);
    }
    if (rc == 0) {
        rc = due_append(ctx, &x,
                        x.status == CODEC_EXCHANGE_APPROVED
                            ? params->deliver_ttl
                            : params->approve_ttl);
    }
    if (rc == 0) {
        rc = exchange_put(ctx, &x);
    }
    if (rc == 0) {
        rc = event_begin(ctx, "exchange.requested", &x);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "escrow", x.escrow);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "grant_ttl", x.grant_ttl);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "deadline", x.deadline);
    }
    return rc == 0 ? event_end(ctx, &x) : rc;
}

int contract_exchange_request(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__ExchangeRequest *op = body->exchange_request;
    struct request_terms terms = {0};
    Tdei__Params *params = NULL;
    Tdei__Dataset *d = NULL;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_EXCHANGE_REQUEST);
    TDEI_ASSERT(op != NULL);
    rc = touch_member(ctx, ctx->member);
    if (rc == 0) {
        rc = contract_dataset_get(ctx, op->id, &d);
    }
    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_UNKNOWN_DATASET,
                               "exchange_request: no catalog entry %s; check "
                               "the id",
                               op->id);
    }
    if (rc == 0) {
        rc = touch_dataset(ctx, op->id);
    }
    if (rc == 0) {
        rc = contract_params_get(ctx, &params);
    }
    if (rc == 0) {
        rc = request_check(ctx, op, d, params, &terms);
    }
    if (rc == 0) {
        rc = request_apply(ctx, op, d, params, &terms);
    }
    codec_params_free(params);
    codec_dataset_free(d);
    return rc;
}

/* ---- the steps after the request ----------------------------------------- */

/* Touch the signer, read exchange @xid and touch it and its entry. */
static int exchange_load(struct contract_ctx *ctx, const char *op,
                         const ProtobufCBinaryData *xid, Tdei__Exchange **out)
{
    char xs[XID_SHORT_HEX];
    int rc = touch_member(ctx, ctx->member);

    *out = NULL;
    TDEI_ASSERT(xid->len == CODEC_HASH_SIZE);
    if (rc == 0) {
        rc = contract_exchange_get(ctx, xid->data, out);
    }
    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_UNKNOWN_EXCHANGE,
                               "%s: no exchange %s...; give the id of the "
                               "exchange_request tx",
                               op, xid_short(xs, xid->data));
    }
    if (rc == 0) {
        rc = touch_exchange(ctx, xid->data);
    }
    if (rc == 0) {
        rc = touch_dataset(ctx, (*out)->dataset);
    }
    if (rc != 0) {
        codec_exchange_free(*out);
        *out = NULL;
    }
    return rc;
}

static int state_refuse(struct contract_ctx *ctx, const char *op,
                        const Tdei__Exchange *x, const char *needed)
{
    char xs[XID_SHORT_HEX];

    return contract_refuse(ctx, TDEI_EXCHANGE_STATE,
                           "%s: exchange %s... is %s; this step needs it %s",
                           op, xid_short(xs, x->id.data),
                           codec_exchange_status_name(x->status), needed);
}

/* The approvals of @x: present and needed. */
static void approvals_count(const Tdei__Exchange *x, unsigned *present,
                            unsigned *needed)
{
    *needed = (x->need_owner ? 1u : 0u) + (x->need_regulator ? 1u : 0u);
    *present =
        (x->need_owner && x->owner_approval[0] != '\0' ? 1u : 0u) +
        (x->need_regulator && x->regulator_approval[0] != '\0' ? 1u : 0u);
}

/* Refuse an approval by someone who cannot give a missing one, saying
 * who is still needed. */
static int approve_refuse(struct contract_ctx *ctx, const Tdei__Exchange *x,
                          const char *owner)
{
    int owner_missing = x->need_owner && x->owner_approval[0] == '\0';
    int reg_missing = x->need_regulator && x->regulator_approval[0] == '\0';
    char level[48];
    unsigned present;
    unsigned needed;

    approvals_count(x, &present, &needed);
    (void)snprintf(level, sizeof(level), "level %" PRIu32 "%s", x->level,
                   x->data_class == CODEC_CLASS_CORE ? " class core" : "");
    return contract_refuse(
        ctx, TDEI_NOT_PARTY,
        "%s needs %s%s%s%s; %u of %u approvals present; %s cannot give it",
        level, owner_missing ? "the owner's approval (" : "",
        owner_missing ? owner : "",
        owner_missing ? (reg_missing ? ") and " : ")") : "",
        reg_missing ? "the regulator's approval (a public_service member)" : "",
        present, needed, ctx->member);
}

/* Record the signer's approval of @x, if it can give a missing one. */
static int approve_record(struct contract_ctx *ctx, Tdei__Exchange *x,
                          const char *owner)
{
    if (x->need_owner && x->owner_approval[0] == '\0' &&
        strcmp(ctx->member, owner) == 0) {
        return str_set(ctx, &x->owner_approval, ctx->member);
    }
    if (x->need_regulator && x->regulator_approval[0] == '\0' &&
        ctx->role == TDEI_ROLE_PUBLIC_SERVICE) {
        if (strcmp(ctx->member, x->consumer) == 0) {
            /* A regulator that asked for the data would approve itself. */
            return contract_refuse(ctx, TDEI_NOT_PARTY,
                                   "exchange_approve: %s requested this "
                                   "exchange; the regulator's approval "
                                   "must come from another public_service "
                                   "member",
                                   ctx->member);
        }
        return str_set(ctx, &x->regulator_approval, ctx->member);
    }
    return approve_refuse(ctx, x, owner);
}

int contract_exchange_approve(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__ExchangeApprove *op = body->exchange_approve;
    char owner[TDEI_MEMBER_ID_MAX + 1];
    char text[32];
    Tdei__Params *params = NULL;
    Tdei__Exchange *x;
    unsigned present;
    unsigned needed;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_EXCHANGE_APPROVE);
    rc = exchange_load(ctx, "exchange_approve", &op->exchange, &x);
    if (rc != 0) {
        return rc;
    }
    if (x->status != CODEC_EXCHANGE_REQUESTED) {
        rc = state_refuse(ctx, "exchange_approve", x, "requested");
    }
    if (rc == 0) {
        rc = owner_of(ctx, x, owner);
    }
    if (rc == 0) {
        rc = approve_record(ctx, x, owner);
    }
    approvals_count(x, &present, &needed);
    if (rc == 0 && present == needed) {
        rc = contract_params_get(ctx, &params);
        x->status = CODEC_EXCHANGE_APPROVED;
        if (rc == 0) {
            rc = due_append(ctx, x, params->deliver_ttl);
        }
    }
    if (rc == 0) {
        rc = exchange_put(ctx, x);
    }
    if (rc == 0) {
        rc = event_begin(ctx, "exchange.approved", x);
    }
    (void)snprintf(text, sizeof(text), "%u of %u", present, needed);
    if (rc == 0) {
        rc = contract_event_attr(ctx, "approvals", text);
    }
    if (rc == 0) {
        rc = event_end(ctx, x);
    }
    codec_params_free(params);
    codec_exchange_free(x);
    return rc;
}

int contract_exchange_reject(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__ExchangeReject *op = body->exchange_reject;
    char owner[TDEI_MEMBER_ID_MAX + 1];
    Tdei__Exchange *x;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_EXCHANGE_REJECT);
    rc = exchange_load(ctx, "exchange_reject", &op->exchange, &x);
    if (rc != 0) {
        return rc;
    }
    if (x->status != CODEC_EXCHANGE_REQUESTED &&
        x->status != CODEC_EXCHANGE_APPROVED) {
        rc = state_refuse(ctx, "exchange_reject", x, "requested or approved");
    }
    if (rc == 0) {
        rc = owner_of(ctx, x, owner);
    }
    if (rc == 0 && strcmp(ctx->member, owner) != 0 &&
        !(x->need_regulator && ctx->role == TDEI_ROLE_PUBLIC_SERVICE)) {
        rc = contract_refuse(
            ctx, TDEI_NOT_PARTY,
            "exchange_reject: only the owner (%s)%s may "
            "reject; %s is neither",
            owner, x->need_regulator ? " or a public_service member" : "",
            ctx->member);
    }
    if (rc == 0) {
        rc = refund(ctx, "exchange_reject", x);
    }
    if (rc == 0) {
        rc = str_set(ctx, &x->note, op->reason);
    }
    if (rc == 0) {
        x->status = CODEC_EXCHANGE_REJECTED;
        x->deadline = 0;
        x->closed_height = ctx->height;
        rc = exchange_put(ctx, x);
    }
    if (rc == 0) {
        rc = event_begin(ctx, "exchange.rejected", x);
    }
    if (rc == 0) {
        rc = event_end(ctx, x);
    }
    codec_exchange_free(x);
    return rc;
}

/* The delivered content root must be the requested version's (a dataset)
 * or empty (a stream). */
static int content_check(struct contract_ctx *ctx, const Tdei__Exchange *x,
                         const ProtobufCBinaryData *root)
{
    if (x->kind == CODEC_KIND_STREAM) {
        if (root->len != 0) {
            return contract_refuse(ctx, TDEI_CONTENT_MISMATCH,
                                   "exchange_deliver: %s is a stream; "
                                   "deliver it with an empty content root",
                                   x->dataset);
        }
        return 0;
    }
    if (root->len != x->content_root.len ||
        memcmp(root->data, x->content_root.data, root->len) != 0) {
        return contract_refuse(ctx, TDEI_CONTENT_MISMATCH,
                               "exchange_deliver: the content root differs "
                               "from version %" PRIu64 " of %s, the version "
                               "requested; deliver that version",
                               x->version, x->dataset);
    }
    return 0;
}

/* A per_record subscription joins its stream's live subscriptions
 * (ascending ids). */
static int subscribe(struct contract_ctx *ctx, const Tdei__Exchange *x)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    ProtobufCBinaryData subs[CODEC_STREAM_SUBS_MAX];
    ProtobufCBinaryData *old;
    Tdei__Stream *s;
    size_t n;
    size_t at;
    int rc = contract_stream_get(ctx, x->dataset, &s);

    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_STREAM_STATE,
                               "exchange_deliver: stream %s was never "
                               "opened; the owner opens it first",
                               x->dataset);
    }
    if (rc != 0) {
        return rc;
    }
    n = s->n_subscriptions;
    if (s->status != CODEC_STREAM_OPEN) {
        rc = contract_refuse(ctx, TDEI_STREAM_STATE,
                             "exchange_deliver: stream %s is closed; a "
                             "closed stream takes no subscriber",
                             x->dataset);
    } else if (n >= CODEC_STREAM_SUBS_MAX) {
        rc = contract_refuse(ctx, TDEI_SUBS_LIMIT,
                             "exchange_deliver: stream %s has %zu live "
                             "subscriptions, the most (CODEC_STREAM_SUBS_MAX)"
                             "; wait for one to end",
                             x->dataset, n);
    }
    if (rc != 0) {
        codec_stream_free(s);
        return rc;
    }
    at = 0;
    while (at < n &&
           memcmp(s->subscriptions[at].data, x->id.data, CODEC_HASH_SIZE) < 0) {
        at++;
    }
    for (size_t i = 0; i < n; i++) {
        subs[i < at ? i : i + 1] = s->subscriptions[i];
    }
    subs[at] = x->id;
    old = s->subscriptions;
    s->subscriptions = subs;
    s->n_subscriptions = n + 1;
    rc = contract_record_put(ctx, key, contract_key_stream(key, x->dataset),
                             &s->base);
    /* Give the decoded record back its own array before freeing it. */
    s->subscriptions = old;
    s->n_subscriptions = n;
    codec_stream_free(s);
    return rc;
}

/* Deliver checks and effects on @x (approved), by its owner. */
static int deliver_apply(struct contract_ctx *ctx,
                         const Tdei__ExchangeDeliver *op, Tdei__Exchange *x)
{
    Tdei__Params *params;
    int rc = content_check(ctx, x, &op->content_root);

    if (rc == 0) {
        rc = bytes_set(ctx, &x->sealed_key, &op->sealed_key);
    }
    if (rc == 0) {
        rc = bytes_set(ctx, &x->delivered_root, &op->content_root);
    }
    if (rc != 0) {
        return rc;
    }
    x->delivered_height = ctx->height;
    if (x->kind == CODEC_KIND_STREAM && x->model == CODEC_PRICE_PER_RECORD) {
        /* Paid per record as batches come: live at once, the escrow is
         * the prepaid budget. */
        x->status = CODEC_EXCHANGE_SETTLED;
        x->settled_height = ctx->height;
        x->grant_expires = add_sat(ctx->height, x->grant_ttl);
        x->deadline = 0;
        rc = subscribe(ctx, x);
        return rc == 0 ? grant_put(ctx, x) : rc;
    }
    rc = contract_params_get(ctx, &params);
    if (rc != 0) {
        return rc;
    }
    x->status = CODEC_EXCHANGE_DELIVERED;
    rc = due_append(ctx, x, params->confirm_ttl);
    codec_params_free(params);
    return rc;
}

int contract_exchange_deliver(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__ExchangeDeliver *op = body->exchange_deliver;
    char owner[TDEI_MEMBER_ID_MAX + 1];
    Tdei__Exchange *x;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_EXCHANGE_DELIVER);
    rc = exchange_load(ctx, "exchange_deliver", &op->exchange, &x);
    if (rc != 0) {
        return rc;
    }
    if (x->status != CODEC_EXCHANGE_APPROVED) {
        rc = state_refuse(ctx, "exchange_deliver", x, "approved");
    }
    if (rc == 0) {
        rc = owner_of(ctx, x, owner);
    }
    if (rc == 0 && strcmp(ctx->member, owner) != 0) {
        rc = contract_refuse(ctx, TDEI_NOT_PARTY,
                             "exchange_deliver: only the owner of %s (%s) "
                             "delivers; %s is not",
                             x->dataset, owner, ctx->member);
    }
    if (rc == 0) {
        rc = deliver_apply(ctx, op, x);
    }
    if (rc == 0) {
        rc = exchange_put(ctx, x);
    }
    if (rc == 0) {
        rc = event_begin(ctx, "exchange.delivered", x);
    }
    if (rc == 0) {
        rc = event_end(ctx, x);
    }
    codec_exchange_free(x);
    return rc;
}

/* Only the consumer of @x confirms or disputes, and only a delivery. */
static int consumer_step_check(struct contract_ctx *ctx, const char *op,
                               const Tdei__Exchange *x)
{
    if (strcmp(ctx->member, x->consumer) != 0) {
        return contract_refuse(ctx, TDEI_NOT_PARTY,
                               "%s: only the consumer (%s) may; %s is not", op,
                               x->consumer, ctx->member);
    }
    if (x->status != CODEC_EXCHANGE_DELIVERED) {
        return state_refuse(ctx, op, x, "delivered");
    }
    return 0;
}

/* Settle @x for the owner and emit @type with owner and amount. */
static int settle_emit(struct contract_ctx *ctx, const char *op,
                       const char *type, Tdei__Exchange *x)
{
    char owner[TDEI_MEMBER_ID_MAX + 1];
    uint64_t amount = x->escrow;
    int rc = settle(ctx, op, x, owner);

    if (rc == 0) {
        rc = exchange_put(ctx, x);
    }
    if (rc == 0) {
        rc = event_begin(ctx, type, x);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "owner", owner);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "amount", amount);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "grant_expires", x->grant_expires);
    }
    return rc == 0 ? event_end(ctx, x) : rc;
}

int contract_exchange_confirm(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__ExchangeConfirm *op = body->exchange_confirm;
    Tdei__Exchange *x;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_EXCHANGE_CONFIRM);
    rc = exchange_load(ctx, "exchange_confirm", &op->exchange, &x);
    if (rc != 0) {
        return rc;
    }
    rc = consumer_step_check(ctx, "exchange_confirm", x);
    if (rc == 0) {
        rc = settle_emit(ctx, "exchange_confirm", "exchange.settled", x);
    }
    codec_exchange_free(x);
    return rc;
}

int contract_exchange_dispute(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__ExchangeDispute *op = body->exchange_dispute;
    Tdei__Exchange *x;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_EXCHANGE_DISPUTE);
    rc = exchange_load(ctx, "exchange_dispute", &op->exchange, &x);
    if (rc != 0) {
        return rc;
    }
    rc = consumer_step_check(ctx, "exchange_dispute", x);
    if (rc == 0) {
        rc = str_set(ctx, &x->note, op->reason);
    }
    if (rc == 0) {
        /* No deadline: a dispute waits for public_service. */
        x->status = CODEC_EXCHANGE_DISPUTED;
        x->deadline = 0;
        rc = exchange_put(ctx, x);
    }
    if (rc == 0) {
        rc = event_begin(ctx, "exchange.disputed", x);
    }
    if (rc == 0) {
        rc = event_end(ctx, x);
    }
    codec_exchange_free(x);
    return rc;
}

int contract_exchange_resolve(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__ExchangeResolve *op = body->exchange_resolve;
    const char *role = tdei_role_name(ctx->role);
    Tdei__Exchange *x;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_EXCHANGE_RESOLVE);
    rc = touch_member(ctx, ctx->member);
    if (rc == 0 && ctx->role != TDEI_ROLE_PUBLIC_SERVICE) {
        rc = contract_refuse(ctx, TDEI_ROLE,
                             "exchange_resolve needs role public_service; "
                             "%s is %s",
                             ctx->member, role != NULL ? role : "unknown");
    }
    if (rc == 0) {
        rc = exchange_load(ctx, "exchange_resolve", &op->exchange, &x);
    }
    if (rc != 0) {
        return rc;
    }
    if (x->status != CODEC_EXCHANGE_DISPUTED) {
        rc = state_refuse(ctx, "exchange_resolve", x, "disputed");
    }
    if (rc == 0 && op->reason[0] != '\0') {
        /* Without a reason of its own the dispute's reason stays. */
        rc = str_set(ctx, &x->note, op->reason);
    }
    if (rc == 0 && op->refund) {
        uint64_t amount = x->escrow;
        rc = refund(ctx, "exchange_resolve", x);
        x->status = CODEC_EXCHANGE_REFUNDED;
        x->closed_height = ctx->height;
        if (rc == 0) {
            rc = exchange_put(ctx, x);
        }
        if (rc == 0) {
            rc = event_begin(ctx, "exchange.resolved", x);
        }
        if (rc == 0) {
            rc = contract_event_attr_u64(ctx, "refund", amount);
        }
        if (rc == 0) {
            rc = event_end(ctx, x);
        }
    } else if (rc == 0) {
        rc = settle_emit(ctx, "exchange_resolve", "exchange.resolved", x);
    }
    codec_exchange_free(x);
    return rc;
}

/* ---- revocation ---------------------------------------------------------- */

/* A per_record subscription leaves its stream's live subscriptions (a
 * stream that already dropped it is left as it is). */
static int unsubscribe(struct contract_ctx *ctx, const Tdei__Exchange *x)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Stream *s;
    size_t n;
    size_t at = 0;
    int rc = contract_stream_get(ctx, x->dataset, &s);

    if (rc == TDEI_NOTFOUND) {
        return fatal(ctx, TDEI_CORRUPT, "state record stream",
                     "missing while it has a subscriber");
    }
    if (rc != 0) {
        return rc;
    }
    n = s->n_subscriptions;
    while (at < n && memcmp(s->subscriptions[at].data, x->id.data,
                            CODEC_HASH_SIZE) != 0) {
        at++;
    }
    if (at < n) {
        ProtobufCBinaryData gone = s->subscriptions[at];
        /* Shift the rest down; the freed slot goes last, so the record's
         * free still releases every buffer. */
        for (size_t i = at; i + 1 < n; i++) {
            s->subscriptions[i] = s->subscriptions[i + 1];
        }
        s->subscriptions[n - 1] = gone;
        s->n_subscriptions = n - 1;
        rc = contract_record_put(ctx, key, contract_key_stream(key, x->dataset),
                                 &s->base);
        s->n_subscriptions = n;
    }
    codec_stream_free(s);
    return rc;
}

/* Revoke @x now: closed, a subscription's remaining budget refunded. */
static int revoke(struct contract_ctx *ctx, Tdei__Exchange *x)
{
    int rc = 0;

    if (x->kind == CODEC_KIND_STREAM && x->model == CODEC_PRICE_PER_RECORD) {
        rc = unsubscribe(ctx, x);
    }
    if (rc == 0 && x->escrow > 0) {
        rc = refund(ctx, "grant_revoke", x);
    }
    x->status = CODEC_EXCHANGE_REVOKED;
    x->closed_height = ctx->height;
    return rc;
}

/* Record the signer's part in revoking @x: 1 in *@now when it is revoked
 * now. */
static int revoke_consent(struct contract_ctx *ctx, Tdei__Exchange *x, int *now)
{
    char owner[TDEI_MEMBER_ID_MAX + 1];
    int rc;

    *now = 0;
    if (ctx->role == TDEI_ROLE_PUBLIC_SERVICE) {
        *now = 1; /* the regulator acts alone (an incident) */
        return 0;
    }
    rc = owner_of(ctx, x, owner);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(ctx->member, owner) == 0) {
        x->owner_revoke = 1;
    } else if (strcmp(ctx->member, x->consumer) == 0) {
        x->consumer_revoke = 1;
    } else {
        return contract_refuse(ctx, TDEI_NOT_PARTY,
                               "grant_revoke: the regulator, or the owner "
                               "(%s) and the consumer (%s) together, revoke; "
                               "%s is none of them",
                               owner, x->consumer, ctx->member);
    }
    *now = x->owner_revoke && x->consumer_revoke;
    return 0;
}

int contract_grant_revoke(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__GrantRevoke *op = body->grant_revoke;
    Tdei__Exchange *x;
    uint64_t refunded = 0;
    int now = 0;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_GRANT_REVOKE);
    rc = exchange_load(ctx, "grant_revoke", &op->exchange, &x);
    if (rc != 0) {
        return rc;
    }
    if (x->status != CODEC_EXCHANGE_SETTLED) {
        rc = state_refuse(ctx, "grant_revoke", x, "settled");
    }
    if (rc == 0) {
        rc = revoke_consent(ctx, x, &now);
    }
    if (rc == 0 && op->reason[0] != '\0') {
        rc = str_set(ctx, &x->note, op->reason);
    }
    if (rc == 0 && now) {
        refunded = x->escrow;
        rc = revoke(ctx, x);
    }
    if (rc == 0) {
        rc = exchange_put(ctx, x);
    }
    if (rc == 0) {
        rc =
            event_begin(ctx, now ? "grant.revoked" : "grant.revoke_consent", x);
    }
    if (rc == 0 && now) {
        rc = contract_event_attr_u64(ctx, "refund", refunded);
    }
    if (rc == 0) {
        rc = event_end(ctx, x);
    }
    codec_exchange_free(x);
    return rc;
}
