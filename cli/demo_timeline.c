/* The timeline of one exchange, read back from the ledger (demo.h). */
#include "demo.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/limits.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define TL_ROWS_MAX 512u   /* rows printed at most; more are counted */
#define TL_SIGNERS_MAX 16u /* signer keys whose member is remembered */

struct tl_row
{
    uint64_t height;                     /* the block */
    uint64_t time_ms;                    /* its header time */
    char member[TDEI_MEMBER_ID_MAX + 1]; /* the signer's member */
    char action[48];                     /* what the tx did to it */
    char price[24];                      /* credits moved, or "-" */
    char result[48];                     /* applied, or the code */
};

struct tl_signer
{
    uint8_t key[32];
    char member[TDEI_MEMBER_ID_MAX + 1];
};

struct tl
{
    struct nodecall *nc;
    uint8_t object[CONTRACT_KEY_SIZE_MAX]; /* "exchange/" + id */
    size_t object_len;
    char xid_hex[TDEI_HEX_SIZE(32)];
    const char *stream;  /* the subscribed stream, or NULL */
    uint8_t head[32];    /* the chain so far */
    size_t chain_txs;    /* txs on the chain so far */
    uint64_t charged;    /* credits of the charge rows */
    struct tl_row *rows; /* TL_ROWS_MAX */
    size_t row_count;    /* rows kept */
    size_t rows_dropped; /* rows over TL_ROWS_MAX */
    struct tl_signer signers[TL_SIGNERS_MAX];
    size_t signer_count;
};

/* The member of signer key @key ("?" when the ledger does not say). */
static const char *tl_member(struct tl *t, const uint8_t *key)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tl_signer *s;

    for (size_t i = 0; i < t->signer_count; i++) {
        if (memcmp(t->signers[i].key, key, 32) == 0) {
            return t->signers[i].member;
        }
    }
    s = &t->signers[t->signer_count < TL_SIGNERS_MAX ? t->signer_count
                                                     : TL_SIGNERS_MAX - 1];
    memcpy(s->key, key, 32);
    if (nodecall_opkey_member(t->nc, key, s->member, errmsg) != 0) {
        (void)snprintf(s->member, sizeof(s->member), "?");
    }
    if (t->signer_count < TL_SIGNERS_MAX) {
        t->signer_count++;
    }
    return s->member;
}

/* A new row for the tx at @height / @time_ms signed by @signer (32
 * bytes); NULL when the table is full (counted). */
static struct tl_row *tl_row_add(struct tl *t, uint64_t height,
                                 uint64_t time_ms, const uint8_t *signer)
{
    struct tl_row *row;

    if (t->row_count == TL_ROWS_MAX) {
        t->rows_dropped++;
        return NULL;
    }
    row = &t->rows[t->row_count++];
    memset(row, 0, sizeof(*row));
    row->height = height;
    row->time_ms = time_ms;
    (void)snprintf(row->member, sizeof(row->member), "%s",
                   tl_member(t, signer));
    (void)snprintf(row->price, sizeof(row->price), "-");
    return row;
}

/* The name of an exchange op, NULL for any other op. */
static const char *exchange_op_name(Tdei__TxBody__OpCase op)
{
    switch (op) {
    case TDEI__TX_BODY__OP_EXCHANGE_REQUEST:
        return "exchange request";
    case TDEI__TX_BODY__OP_EXCHANGE_APPROVE:
        return "exchange approve";
    case TDEI__TX_BODY__OP_EXCHANGE_REJECT:
        return "exchange reject";
    case TDEI__TX_BODY__OP_EXCHANGE_DELIVER:
        return "exchange deliver";
    case TDEI__TX_BODY__OP_EXCHANGE_CONFIRM:
        return "exchange confirm";
    case TDEI__TX_BODY__OP_EXCHANGE_DISPUTE:
        return "exchange dispute";
    case TDEI__TX_BODY__OP_EXCHANGE_RESOLVE:
        return "exchange resolve";
    case TDEI__TX_BODY__OP_GRANT_REVOKE:
        return "grant revoke";
    default:
        return NULL;
    }
}

/* The value of attribute @key of @ev, or NULL. */
static const char *ev_attr(const Tdei__Event *ev, const char *key)
{
    for (size_t i = 0; i < ev->n_attrs; i++) {
        if (strcmp(ev->attrs[i]->key, key) == 0) {
            return ev->attrs[i]->value;
        }
    }
    return NULL;
}

/* Fill @row's price from the events of an applied exchange op: the
 * escrow a request took, the amount a settlement paid, a refund. */
static void tl_price_from_events(struct tl_row *row, const Tdei__TxResult *r)
{
    static const char *const keys[] = {"escrow", "amount", "refund"};

    for (size_t i = 0; i < r->n_events; i++) {
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            const char *v = ev_attr(r->events[i], keys[k]);
            if (v != NULL) {
                (void)snprintf(row->price, sizeof(row->price), "%s", v);
                return;
            }
        }
    }
}

/* The result column: "applied (exchange.settled)" or the code. */
static void tl_result(struct tl_row *row, const Tdei__TxResult *r)
{
    if (r->code != 0) {
        (void)snprintf(row->result, sizeof(row->result), "refused %s",
                       tdei_errname((int)r->code));
    } else if (r->n_events > 0) {
        (void)snprintf(row->result, sizeof(row->result), "applied %.36s",
                       r->events[0]->type);
    } else {
        (void)snprintf(row->result, sizeof(row->result), "applied");
    }
}

/* Follow the history chain through the head updates of @r for the
 * exchange. Returns 1 when the tx touched it, 0 when not, -1 on a gap
 * (errmsg says where). */
static int tl_chain(struct tl *t, const Tdei__TxResult *r, uint64_t height,
                    char *errmsg)
{
    int touched = 0;

    for (size_t i = 0; i < r->n_heads; i++) {
        const Tdei__HeadUpdate *hu = r->heads[i];
        if (hu->object.len != t->object_len ||
            memcmp(hu->object.data, t->object, t->object_len) != 0) {
            continue;
        }
        if (hu->prev_head.len != 32 || hu->new_head.len != 32 ||
            memcmp(hu->prev_head.data, t->head, 32) != 0) {
            (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                           "the history chain of exchange %.16s... has a "
                           "gap at height %llu (after %zu txs): its "
                           "previous head is not the one before",
                           t->xid_hex, (unsigned long long)height,
                           t->chain_txs);
            return -1;
        }
        memcpy(t->head, hu->new_head.data, 32);
        t->chain_txs++;
        touched = 1;
    }
    return touched;
}

/* Rows for the outcomes of a stream append that name the exchange:
 * "charge" = "<xid> <records> <amount>", "end" = "<xid> <refund> <why>". */
static void tl_stream_rows(struct tl *t, const Tdei__TxResult *r,
                           uint64_t height, uint64_t time_ms,
                           const uint8_t *signer)
{
    for (size_t i = 0; i < r->n_events; i++) {
        const Tdei__Event *ev = r->events[i];
        int charge = strcmp(ev->type, "stream.charged") == 0;
        int end = strcmp(ev->type, "stream.ended") == 0;

        for (size_t a = 0; (charge || end) && a < ev->n_attrs; a++) {
            const Tdei__Attr *at = ev->attrs[a];
            unsigned long long x = 0, y = 0;
            char why[32] = "";
            struct tl_row *row;

            if (strcmp(at->key, charge ? "charge" : "end") != 0 ||
                strncmp(at->value, t->xid_hex, 64) != 0 ||
                at->value[64] != ' ') {
                continue;
            }
            if ((charge && sscanf(at->value + 65, "%llu %llu", &x, &y) != 2) ||
                (end && sscanf(at->value + 65, "%llu %31s", &x, why) != 2)) {
                continue;
            }
            row = tl_row_add(t, height, time_ms, signer);
            if (charge) {
                t->charged += y;
            }
            if (row == NULL) {
                continue;
            }
            if (charge) {
                (void)snprintf(row->action, sizeof(row->action),
                               "stream append: %llu records", x);
                (void)snprintf(row->price, sizeof(row->price), "%llu", y);
                (void)snprintf(row->result, sizeof(row->result),
                               "applied stream.charged");
            } else {
                (void)snprintf(row->action, sizeof(row->action),
                               "subscription ends (%s)", why);
                (void)snprintf(row->price, sizeof(row->price), "%llu", x);
                (void)snprintf(row->result, sizeof(row->result),
                               "applied stream.ended");
            }
        }
    }
}

/* Whether the tx with @body may concern the exchange (the rest is not
 * asked for its result). */
static int tl_candidate(const struct tl *t, const Tdei__TxBody *body)
{
    if (exchange_op_name(body->op_case) != NULL) {
        return 1;
    }
    return t->stream != NULL &&
           ((body->op_case == TDEI__TX_BODY__OP_STREAM_APPEND &&
             strcmp(body->stream_append->id, t->stream) == 0) ||
            (body->op_case == TDEI__TX_BODY__OP_STREAM_CLOSE &&
             strcmp(body->stream_close->id, t->stream) == 0));
}

/* One tx of block @height: rows for what it did to the exchange. */
static int tl_tx(struct tl *t, const ProtobufCBinaryData *bytes,
                 uint64_t height, uint64_t time_ms, char *errmsg)
{
    Tdei__Tx *tx = NULL;
    Tdei__TxBody *body = NULL;
    Tdei__TxResult *r = NULL;
    uint8_t tx_id[32];
    int rc;

    rc = codec_message_unpack((ProtobufCMessage **)&tx, &tdei__tx__descriptor,
                              bytes->data, bytes->len, "tx", errmsg);
    if (rc == 0) {
        rc = codec_message_unpack((ProtobufCMessage **)&body,
                                  &tdei__tx_body__descriptor, tx->body.data,
                                  tx->body.len, "tx body", errmsg);
    }
    if (rc == 0 && tl_candidate(t, body) && body->signer.len == 32) {
        tdei_sha256(tx_id, tx->body.data, tx->body.len);
        rc = nodecall_tx_result(t->nc, tx_id, &r, errmsg);
    }
    if (rc == 0 && r != NULL) {
        int touched = tl_chain(t, r, height, errmsg);
        const char *name = exchange_op_name(body->op_case);

        if (touched < 0) {
            rc = TDEI_CORRUPT;
        } else if (touched && name != NULL) {
            struct tl_row *row =
                tl_row_add(t, height, time_ms, body->signer.data);
            if (row != NULL) {
                (void)snprintf(row->action, sizeof(row->action), "%s", name);
                tl_result(row, r);
                if (r->code == 0) {
                    tl_price_from_events(row, r);
                }
            }
        } else if (r->code == 0 && t->stream != NULL) {
            tl_stream_rows(t, r, height, time_ms, body->signer.data);
        }
    }
    codec_txresult_free(r);
    codec_message_free((ProtobufCMessage *)body);
    codec_message_free((ProtobufCMessage *)tx);
    return rc;
}

/* "HH:MM:SS.mmm" (UTC) of Unix ms @ms into @out (16 bytes). */
static void tl_time(char *out, size_t size, uint64_t ms)
{
    time_t s = (time_t)(ms / 1000u);
    struct tm tm;

    (void)gmtime_r(&s, &tm);
    (void)snprintf(out, size, "%02d:%02d:%02d.%03u", tm.tm_hour % 100,
                   tm.tm_min % 100, tm.tm_sec % 100, (unsigned)(ms % 1000u));
}

static void tl_print(const struct tl *t)
{
    char when[32];

    printf("    %-7s %-13s %-10s %-30s %10s  %s\n", "HEIGHT", "TIME (UTC)",
           "MEMBER", "ACTION", "PRICE", "RESULT");
    for (size_t i = 0; i < t->row_count; i++) {
        const struct tl_row *row = &t->rows[i];
        tl_time(when, sizeof(when), row->time_ms);
        printf("    %-7llu %-13s %-10s %-30s %10s  %s\n",
               (unsigned long long)row->height, when, row->member, row->action,
               row->price, row->result);
    }
    if (t->rows_dropped > 0) {
        printf("    ... and %zu rows more\n", t->rows_dropped);
    }
}

/* Walk the blocks @from..@to, then check the chain against the ledger's
 * head. */
static int tl_walk(struct tl *t, uint64_t from, uint64_t to, char *errmsg)
{
    uint8_t ledger_head[32];
    int rc = 0;

    for (uint64_t h = from; rc == 0 && h <= to; h++) {
        Tdei__Block *block = NULL;
        Tdei__Header *header = NULL;

        rc = nodecall_block(t->nc, h, &block, &header, errmsg);
        for (size_t i = 0; rc == 0 && i < block->n_txs; i++) {
            rc = tl_tx(t, &block->txs[i], h, header->time_ms, errmsg);
        }
        codec_message_free((ProtobufCMessage *)header);
        codec_message_free((ProtobufCMessage *)block);
    }
    if (rc == 0) {
        rc =
            nodecall_head(t->nc, t->object, t->object_len, ledger_head, errmsg);
    }
    if (rc == 0 && (t->chain_txs == 0 || memcmp(ledger_head, t->head, 32))) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "the %zu txs of heights %llu-%llu that touched "
                       "exchange %.16s... do not end at its history head on "
                       "the ledger: a tx is missing",
                       t->chain_txs, (unsigned long long)from,
                       (unsigned long long)to, t->xid_hex);
        rc = TDEI_CORRUPT;
    }
    return rc;
}

int demo_timeline_print(struct nodecall *nc, const uint8_t *xid,
                        const char *stream, uint64_t from, uint64_t to,
                        uint64_t *charged, char *errmsg)
{
    struct tl t;
    int rc;

    memset(&t, 0, sizeof(t));
    t.nc = nc;
    t.stream = stream;
    t.object_len = contract_key_exchange(t.object, xid);
    (void)tdei_hex_encode(t.xid_hex, sizeof(t.xid_hex), xid, 32);
    t.rows = tdei_calloc(TL_ROWS_MAX, sizeof(*t.rows));
    if (t.rows == NULL) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "%s",
                       tdei_strerror(TDEI_NOMEM));
        return TDEI_NOMEM;
    }
    rc = tl_walk(&t, from, to, errmsg);
    if (rc == 0) {
        tl_print(&t);
        printf("    history of exchange/%.16s...: %zu txs, a gapless "
               "chain from its first tx to the head on the ledger\n",
               t.xid_hex, t.chain_txs);
    }
    if (charged != NULL) {
        *charged = t.charged;
    }
    tdei_free(t.rows);
    return rc;
}
