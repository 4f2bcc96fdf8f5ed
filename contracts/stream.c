/* The stream contract (DESIGN.md section 6, "stream (real-time, valid
 * collection)"): the owner of a stream entry opens it once, appends
 * batches that continue its sequence exactly, keep its timestamps
 * monotonic and stay within params.max_lag_ms behind and
 * params.max_clock_skew_ms ahead of block time, and closes it for good.
 * Each append charges every live per_record subscription (an exchange
 * listed in Stream.subscriptions) for the batch's records, from the
 * subscription's prepaid escrow to the entry's current owner. Rules and
 * codes are listed in contract.h. Pure.
 *
 * Budget: one append or close works on at most CODEC_STREAM_SUBS_MAX (64)
 * subscriptions. Its state operations are at most 2 (stream) + 2 (entry)
 * + 1 (params) + 64 * 6 (per subscription: exchange read, up to 2 steps,
 * exchange write, escrow write, consumer balance read and write) + 2
 * (owner balance) + 1 (stream write) = 392, well inside
 * CONTRACT_STEPS_MAX. The owner is credited once per tx with the sum of
 * its charges, so its balance costs 2 steps, not 2 per subscription.
 * Bytes written are mostly the 64 exchange records: about 19 KiB for a
 * full stream of typical records, and 60930 of the
 * CONTRACT_WRITE_BYTES_MAX 65536 when every record has its largest
 * purpose, note, ids and approvals (tests/unit/test_stream.c); an escrow
 * that did not change is not rewritten.
 *
 * Events and history heads: a TxResult holds at most CODEC_EVENTS_MAX
 * (64) events, CONTRACT_ATTRS_TOTAL_MAX (256) attributes and
 * CODEC_HEADS_MAX (32) heads, too few for one event of three attributes,
 * or one head, per subscription of a full stream. So the subscriptions'
 * outcomes are grouped: a "stream.charged" or "stream.ended" event holds
 * id, by and up to OUTCOMES_PER_EVENT outcomes, one attribute each, and
 * the tx touches only the entry ("dataset/<id>": the stream shares its
 * entry's history). The exchanges' own records (status, escrow, records)
 * carry the rest. */
#include "contracts/contract.h"

#include "core/assert.h"
#include "core/hex.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Why a subscription ended; SUB_LIVE when it goes on. */
enum sub_end {
    SUB_LIVE = 0,
    SUB_SPENT,       /* escrow below one record's price */
    SUB_EXPIRED,     /* height past grant_expires */
    SUB_NOT_SETTLED, /* the exchange is no longer settled */
    SUB_CLOSED       /* the stream closed */
};

/* What one append or close did to one subscription. */
struct sub_outcome
{
    const uint8_t *xid; /* exchange id, borrowed from the Stream record */
    int charged;        /* 1 when it was charged for the batch */
    uint64_t records;   /* records paid */
    uint64_t amount;    /* credits paid to the owner */
    enum sub_end end;   /* why it ended, SUB_LIVE when it goes on */
    uint64_t refund;    /* escrow returned to the consumer on end */
};

/* One pass over a stream's subscriptions. */
struct sub_run
{
    const char *owner;     /* the entry's current owner */
    uint64_t batch;        /* records in the batch; 0 when closing */
    int closing;           /* 1: end every subscription */
    uint64_t owner_credit; /* charges, plus refunds when owner = consumer */
    uint64_t amount;       /* sum of charges */
    uint64_t refund;       /* sum of refunds */
    size_t charged;        /* subscriptions charged */
    size_t ended;          /* subscriptions ended */
    struct sub_outcome out[CODEC_STREAM_SUBS_MAX];   /* in list order */
    size_t n;                                        /* entries of out[] */
    ProtobufCBinaryData keep[CODEC_STREAM_SUBS_MAX]; /* still live */
    size_t kept;                                     /* entries of keep[] */
};

/* Outcome attributes per grouped event: the rest of CODEC_ATTRS_MAX after
 * id and by. */
#define OUTCOMES_PER_EVENT (CODEC_ATTRS_MAX - 2u)
#define HEX_ID (2u * CODEC_HASH_SIZE)
#define U64_DIGITS 20u
/* Largest attribute values: "<hex> <records> <amount>" and
 * "<hex> <refund> <why>" (why at most "not_settled"). */
#define CHARGE_VALUE_MAX (HEX_ID + 1u + U64_DIGITS + 1u + U64_DIGITS)
#define END_VALUE_MAX (HEX_ID + 1u + U64_DIGITS + 1u + 11u)
/* Arena bytes of a full stream's events at their largest: the appended
 * event (at most 11 attributes of at most 64-byte keys and entry-id or
 * hex values), and for each subscription one charge and one end, with
 * the group events' type, id and by. */
#define GROUPS_MAX                                                             \
    ((CODEC_STREAM_SUBS_MAX + OUTCOMES_PER_EVENT - 1u) / OUTCOMES_PER_EVENT)
#define GROUP_HEAD_MAX                                                         \
    (16u + 3u + CODEC_DATASET_ID_MAX + 1u + 3u + TDEI_MEMBER_ID_MAX + 1u)
_Static_assert(GROUP_HEAD_MAX + 11u * (16u + HEX_ID + 1u) +
                       2u * GROUPS_MAX * GROUP_HEAD_MAX +
                       CODEC_STREAM_SUBS_MAX * (7u + CHARGE_VALUE_MAX + 1u +
                                                4u + END_VALUE_MAX + 1u) <=
                   CONTRACT_EVENT_BYTES_MAX,
               "a full stream's events fit the event arena");
_Static_assert(11u + 2u * GROUPS_MAX * 2u + 2u * CODEC_STREAM_SUBS_MAX <=
                   CONTRACT_ATTRS_TOTAL_MAX,
               "a full stream's attributes fit the tx");
_Static_assert(1u + 2u * GROUPS_MAX <= CODEC_EVENTS_MAX,
               "a full stream's events fit the tx");

static const char *end_name(enum sub_end end)
{
    switch (end) {
    case SUB_SPENT:
        return "spent";
    case SUB_EXPIRED:
        return "expired";
    case SUB_NOT_SETTLED:
        return "not_settled";
    case SUB_CLOSED:
        return "closed";
    default:
        return "live";
    }
}

/* ---- entry, owner, stream ------------------------------------------------ */

/* Only the entry's current owner opens, appends to and closes it. */
static int owner_check(struct contract_ctx *ctx, const char *op,
                       const Tdei__Dataset *ds)
{
    if (strcmp(ds->owner, ctx->member) == 0) {
        return 0;
    }
    return contract_refuse(ctx, TDEI_NOT_OWNER,
                           "%s %s needs its owner %s; %s does not own it", op,
                           ds->id, ds->owner, ctx->member);
}

/* Read the Stream record of @id and require it open. Once the record is
 * known to exist the entry is touched, so that a refused append is in
 * the stream's history. */
static int stream_open_get(struct contract_ctx *ctx, const char *op,
                           const char *id, Tdei__Stream **out)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    int rc = contract_stream_get(ctx, id, out);

    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_STREAM_STATE,
                               "%s: stream %s was never opened; its owner "
                               "opens it with stream_open first",
                               op, id);
    }
    if (rc == 0) {
        rc = contract_touch(ctx, key, contract_key_dataset(key, id));
    }
    if (rc == 0 && (*out)->status != CODEC_STREAM_OPEN) {
        codec_stream_free(*out);
        *out = NULL;
        return contract_refuse(ctx, TDEI_STREAM_STATE,
                               "%s: stream %s is closed, and a closed stream "
                               "never reopens; publish a new stream entry",
                               op, id);
    }
    if (rc != 0) {
        codec_stream_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- money --------------------------------------------------------------- */

/* Add @amount to @member's balance, refusing an overflow. */
static int credit(struct contract_ctx *ctx, const char *member, uint64_t amount)
{
    uint64_t balance;
    int rc;

    if (amount == 0) {
        return 0;
    }
    rc = contract_balance_get(ctx, member, &balance);
    if (rc != 0) {
        return rc;
    }
    if (balance > UINT64_MAX - amount) {
        return contract_refuse(ctx, TDEI_OVERFLOW,
                               "paying %" PRIu64 " credits would overflow "
                               "the balance of %s (%" PRIu64 "); the stream "
                               "cannot settle",
                               amount, member, balance);
    }
    return contract_balance_put(ctx, member, balance + amount);
}

/* Add @amount to what the owner receives at the end of the run. */
static int owner_add(struct contract_ctx *ctx, struct sub_run *run,
                     uint64_t amount)
{
    if (run->owner_credit > UINT64_MAX - amount) {
        return contract_refuse(ctx, TDEI_OVERFLOW,
                               "the stream's payments to %s exceed %" PRIu64
                               " credits in one tx",
                               run->owner, UINT64_MAX);
    }
    run->owner_credit += amount;
    return 0;
}

/* End @ex for @why: its whole escrow goes back to the consumer (through
 * the owner's sum when the consumer owns the entry now). */
static int sub_end(struct contract_ctx *ctx, struct sub_run *run,
                   Tdei__Exchange *ex, struct sub_outcome *o, enum sub_end why)
{
    uint64_t refund = ex->escrow;

    o->end = why;
    o->refund = refund;
    ex->escrow = 0;
    ex->status = CODEC_EXCHANGE_ENDED;
    ex->closed_height = ctx->height;
    run->ended++;
    /* Only reported in the event: saturate rather than refuse. */
    run->refund =
        refund > UINT64_MAX - run->refund ? UINT64_MAX : run->refund + refund;
    if (strcmp(ex->consumer, run->owner) == 0) {
        return owner_add(ctx, run, refund);
    }
    return credit(ctx, ex->consumer, refund);
}

/* Charge live @ex for the batch: paid = min(batch, escrow / price)
 * records (all of them when the price is 0), ending it when what is left
 * buys no further record. */
static int sub_charge(struct contract_ctx *ctx, struct sub_run *run,
                      Tdei__Exchange *ex, struct sub_outcome *o)
{
    uint64_t paid = run->batch;
    uint64_t amount = 0;
    int rc;

    if (ex->price != 0) {
        if (ex->escrow / ex->price < paid) {
            paid = ex->escrow / ex->price;
        }
        if (paid > UINT64_MAX / ex->price) {
            return contract_refuse(ctx, TDEI_OVERFLOW,
                                   "charging %" PRIu64 " records at %" PRIu64
                                   " credits overflows",
                                   paid, ex->price);
        }
        amount = paid * ex->price;
    }
    rc = owner_add(ctx, run, amount);
    if (rc != 0) {
        return rc;
    }
    ex->escrow -= amount; /* amount <= escrow by the min above */
    ex->records += paid;  /* records <= the stream's seq: no overflow */
    o->charged = 1;
    o->records = paid;
    o->amount = amount;
    run->charged++;
    run->amount += amount;
    if (ex->price != 0 && ex->escrow < ex->price) {
        return sub_end(ctx, run, ex, o, SUB_SPENT);
    }
    return 0;
}

/* Charge or end subscription @xid and write it back. */
static int sub_process(struct contract_ctx *ctx, struct sub_run *run,
                       const Tdei__Stream *s, const ProtobufCBinaryData *xid)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    struct sub_outcome *o = &run->out[run->n];
    Tdei__Exchange *ex;
    uint64_t escrow;
    int rc = contract_exchange_get(ctx, xid->data, &ex);

    if (rc == TDEI_NOTFOUND) {
        (void)tdei_hex_encode(hex, sizeof(hex), xid->data, CODEC_HASH_SIZE);
        (void)snprintf(ctx->reason, sizeof(ctx->reason),
                       "state record stream %s is damaged: it lists "
                       "exchange %s, which does not exist",
                       s->id, hex);
        return TDEI_CORRUPT;
    }
    if (rc != 0) {
        return rc;
    }
    TDEI_ASSERT(run->n < CODEC_STREAM_SUBS_MAX);
    *o = (struct sub_outcome){.xid = xid->data};
    run->n++;
    escrow = ex->escrow;
    if (run->closing) {
        rc = sub_end(ctx, run, ex, o, SUB_CLOSED);
    } else if (ex->status != CODEC_EXCHANGE_SETTLED) {
        rc = sub_end(ctx, run, ex, o, SUB_NOT_SETTLED);
    } else if (ctx->height > ex->grant_expires) {
        rc = sub_end(ctx, run, ex, o, SUB_EXPIRED);
    } else {
        rc = sub_charge(ctx, run, ex, o);
    }
    if (rc == 0) {
        rc = contract_record_put(
            ctx, key, contract_key_exchange(key, ex->id.data), &ex->base);
    }
    if (rc == 0 && ex->escrow != escrow) {
        rc = contract_escrow_put(ctx, ex->id.data, ex->escrow);
    }
    if (rc == 0 && o->end == SUB_LIVE) {
        run->keep[run->kept++] = *xid;
    }
    codec_exchange_free(ex);
    return rc;
}

/* Run every subscription of @s in list (ascending id) order, then pay the
 * owner its sum. */
static int subs_run(struct contract_ctx *ctx, struct sub_run *run,
                    const Tdei__Stream *s)
{
    int rc = 0;

    TDEI_ASSERT(s->n_subscriptions <= CODEC_STREAM_SUBS_MAX);
    for (size_t i = 0; rc == 0 && i < s->n_subscriptions; i++) {
        rc = sub_process(ctx, run, s, &s->subscriptions[i]);
    }
    if (rc == 0) {
        rc = credit(ctx, run->owner, run->owner_credit);
    }
    return rc;
}

/* Write @s with the live subscriptions of @run (borrowed for the put). */
static int stream_put(struct contract_ctx *ctx, Tdei__Stream *s,
                      struct sub_run *run)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    ProtobufCBinaryData *subs = s->subscriptions;
    size_t n = s->n_subscriptions;
    int rc;

    /* The decoded array stays owned by @s: swap ours in for the encode,
     * then put it back so that codec_stream_free frees what it owns. */
    s->subscriptions = run->keep;
    s->n_subscriptions = run->kept;
    rc = contract_record_put(ctx, key, contract_key_stream(key, s->id),
                             &s->base);
    s->subscriptions = subs;
    s->n_subscriptions = n;
    return rc;
}

/* ---- events -------------------------------------------------------------- */

static int event_head(struct contract_ctx *ctx, const char *type,
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

/* Emit the charges (@ended 0) or the ends (@ended 1) of @run, grouped
 * OUTCOMES_PER_EVENT to an event: "charge" = "<exchange hex> <records>
 * <amount>", "end" = "<exchange hex> <refund> <why>". */
static int outcomes_emit(struct contract_ctx *ctx, const char *id,
                         const struct sub_run *run, int ended)
{
    char hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    char value[CHARGE_VALUE_MAX + 8];
    size_t in_event = OUTCOMES_PER_EVENT;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < run->n; i++) {
        const struct sub_outcome *o = &run->out[i];
        if (ended ? o->end == SUB_LIVE : !o->charged) {
            continue;
        }
        if (in_event == OUTCOMES_PER_EVENT) {
            rc = event_head(ctx, ended ? "stream.ended" : "stream.charged", id);
            in_event = 0;
        }
        (void)tdei_hex_encode(hex, sizeof(hex), o->xid, CODEC_HASH_SIZE);
        if (ended) {
            (void)snprintf(value, sizeof(value), "%s %" PRIu64 " %s", hex,
                           o->refund, end_name(o->end));
        } else {
            (void)snprintf(value, sizeof(value), "%s %" PRIu64 " %" PRIu64, hex,
                           o->records, o->amount);
        }
        if (rc == 0) {
            rc = contract_event_attr(ctx, ended ? "end" : "charge", value);
        }
        in_event++;
    }
    return rc;
}

/* ---- stream_open --------------------------------------------------------- */

int contract_stream_open(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__StreamOpen *op = body->stream_open;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Stream rec = TDEI__STREAM__INIT;
    Tdei__Stream *old;
    Tdei__Dataset *ds;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_STREAM_OPEN);
    TDEI_ASSERT(op != NULL);
    rc = contract_entry_get(ctx, "stream_open", op->id, &ds);
    if (rc != 0) {
        return rc;
    }
    if (ds->kind != CODEC_KIND_STREAM) {
        rc = contract_refuse(ctx, TDEI_DATASET_STATE,
                             "stream_open: %s is a dataset, not a stream; "
                             "publish it with kind stream",
                             op->id);
    } else if (ds->status != CODEC_DATASET_ACTIVE) {
        rc = contract_refuse(ctx, TDEI_DATASET_STATE,
                             "stream_open: stream %s is withdrawn; only an "
                             "active entry opens",
                             op->id);
    } else {
        rc = owner_check(ctx, "stream_open", ds);
    }
    codec_dataset_free(ds);
    if (rc != 0) {
        return rc;
    }
    rc = contract_stream_get(ctx, op->id, &old);
    if (rc == 0) {
        rc = contract_refuse(
            ctx, TDEI_STREAM_STATE,
            "stream_open: stream %s was already opened "
            "(it is %s); a stream opens once and a closed "
            "one never reopens",
            op->id, old->status == CODEC_STREAM_OPEN ? "open" : "closed");
        codec_stream_free(old);
        return rc;
    }
    if (rc != TDEI_NOTFOUND) {
        return rc;
    }
    rec.id = op->id;
    rec.status = CODEC_STREAM_OPEN;
    rc = contract_record_put(ctx, key, contract_key_stream(key, op->id),
                             &rec.base);
    if (rc == 0) {
        rc = event_head(ctx, "stream.opened", op->id);
    }
    return rc;
}

/* ---- stream_append ------------------------------------------------------- */

/* The batch rules that need the params: size, then the clock bounds. */
static int batch_check(struct contract_ctx *ctx, const Tdei__StreamAppend *op,
                       const Tdei__Stream *s)
{
    Tdei__Params *params;
    uint64_t batch_max, lag_max, skew_max;
    int rc = contract_params_get(ctx, &params);

    if (rc != 0) {
        return rc;
    }
    batch_max = params->stream_batch_max;
    lag_max = params->max_lag_ms;
    skew_max = params->max_clock_skew_ms;
    codec_params_free(params);
    if (op->count > batch_max) {
        return contract_refuse(ctx, TDEI_TOOBIG,
                               "stream_append: batch of %" PRIu64 " records; "
                               "params.stream_batch_max allows %" PRIu64
                               "; split the batch",
                               op->count, batch_max);
    }
    if (op->seq_first != s->next_seq) {
        return contract_refuse(ctx, TDEI_STREAM_SEQ,
                               "stream_append: batch starts at seq %" PRIu64
                               "; stream %s expects %" PRIu64,
                               op->seq_first, s->id, s->next_seq);
    }
    if (op->first_ts < s->last_ts) {
        return contract_refuse(ctx, TDEI_STREAM_TIME,
                               "stream_append: first_ts %" PRIu64 " is before "
                               "the stream's last_ts %" PRIu64
                               "; timestamps must not go backwards",
                               op->first_ts, s->last_ts);
    }
    /* Differences, not sums: a timestamp near UINT64_MAX must not wrap. */
    if (op->last_ts < ctx->time_ms && ctx->time_ms - op->last_ts > lag_max) {
        return contract_refuse(ctx, TDEI_STREAM_STALE,
                               "stream_append: last_ts %" PRIu64 " is %" PRIu64
                               " ms behind block time %" PRIu64
                               "; params.max_lag_ms allows %" PRIu64,
                               op->last_ts, ctx->time_ms - op->last_ts,
                               ctx->time_ms, lag_max);
    }
    if (op->last_ts > ctx->time_ms && op->last_ts - ctx->time_ms > skew_max) {
        return contract_refuse(ctx, TDEI_STREAM_AHEAD,
                               "stream_append: last_ts %" PRIu64 " is %" PRIu64
                               " ms ahead of block time %" PRIu64
                               "; params.max_clock_skew_ms allows %" PRIu64,
                               op->last_ts, op->last_ts - ctx->time_ms,
                               ctx->time_ms, skew_max);
    }
    return 0;
}

static int appended_emit(struct contract_ctx *ctx, const Tdei__StreamAppend *op,
                         const struct sub_run *run)
{
    char hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    int rc = event_head(ctx, "stream.appended", op->id);

    (void)tdei_hex_encode(hex, sizeof(hex), op->batch_root.data,
                          CODEC_HASH_SIZE);
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "seq_first", op->seq_first);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "count", op->count);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "first_ts", op->first_ts);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "last_ts", op->last_ts);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "batch_root", hex);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "charged", run->charged);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "amount", run->amount);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "ended", run->ended);
    }
    if (rc == 0) {
        rc = outcomes_emit(ctx, op->id, run, 0);
    }
    if (rc == 0) {
        rc = outcomes_emit(ctx, op->id, run, 1);
    }
    return rc;
}

/* Check the batch, charge the subscriptions and write the stream. */
static int append_apply(struct contract_ctx *ctx, const Tdei__StreamAppend *op,
                        Tdei__Stream *s, const char *owner)
{
    struct sub_run run = {.owner = owner, .batch = op->count};
    ProtobufCBinaryData root = s->last_batch_root;
    int rc = batch_check(ctx, op, s);

    if (rc == 0) {
        rc = subs_run(ctx, &run, s);
    }
    if (rc != 0) {
        return rc;
    }
    /* seq_first + count fits: codec_txbody_decode checked it. */
    s->next_seq = op->seq_first + op->count;
    s->last_ts = op->last_ts;
    s->batches++;
    s->last_batch_root = op->batch_root; /* borrowed for the put */
    rc = stream_put(ctx, s, &run);
    s->last_batch_root = root;
    if (rc == 0) {
        rc = appended_emit(ctx, op, &run);
    }
    return rc;
}

int contract_stream_append(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__StreamAppend *op = body->stream_append;
    Tdei__Dataset *ds = NULL;
    Tdei__Stream *s;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_STREAM_APPEND);
    TDEI_ASSERT(op != NULL);
    rc = stream_open_get(ctx, "stream_append", op->id, &s);
    if (rc != 0) {
        return rc;
    }
    rc = contract_entry_get(ctx, "stream_append", op->id, &ds);
    if (rc == 0) {
        rc = owner_check(ctx, "stream_append", ds);
    }
    if (rc == 0) {
        rc = append_apply(ctx, op, s, ds->owner);
    }
    codec_dataset_free(ds);
    codec_stream_free(s);
    return rc;
}

/* ---- stream_close -------------------------------------------------------- */

int contract_stream_close(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__StreamClose *op = body->stream_close;
    struct sub_run run = {.closing = 1};
    Tdei__Dataset *ds;
    Tdei__Stream *s = NULL;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_STREAM_CLOSE);
    TDEI_ASSERT(op != NULL);
    rc = contract_entry_get(ctx, "stream_close", op->id, &ds);
    if (rc != 0) {
        return rc;
    }
    run.owner = ds->owner;
    rc = owner_check(ctx, "stream_close", ds);
    if (rc == 0) {
        rc = stream_open_get(ctx, "stream_close", op->id, &s);
    }
    if (rc == 0) {
        rc = subs_run(ctx, &run, s);
    }
    if (rc == 0) {
        s->status = CODEC_STREAM_CLOSED;
        rc = stream_put(ctx, s, &run);
    }
    if (rc == 0) {
        rc = event_head(ctx, "stream.closed", op->id);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "ended", run.ended);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "refund", run.refund);
    }
    if (rc == 0) {
        rc = outcomes_emit(ctx, op->id, &run, 1);
    }
    codec_stream_free(s);
    codec_dataset_free(ds);
    return rc;
}
