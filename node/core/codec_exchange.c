/* Codec rules of the exchange ops and of the Exchange, GrantRef and
 * DueList records (see codec.h, "The exchange rules"). */
#include "core/codec.h"
#include "core/codec_internal.h"

#include "core/error.h"

#include <inttypes.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

static int exchange_id_check(const ProtobufCBinaryData *id, const char *what,
                             char *errmsg)
{
    return codec_len_check(id->len, CODEC_HASH_SIZE, errmsg, "%s exchange id",
                           what);
}

static int request_check(const Tdei__ExchangeRequest *r, char *errmsg)
{
    char shown[CODEC_ECHO_SIZE];
    int rc = codec_no_unknown(&r->base, "tx exchange_request", errmsg);

    if (rc == 0 && !codec_dataset_id_valid(r->id)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx exchange_request id \"%s\" is not an entry id: "
                         "%u-%u bytes of [a-z0-9-]",
                         codec_echo(shown, r->id), CODEC_DATASET_ID_MIN,
                         CODEC_DATASET_ID_MAX);
    }
    if (rc == 0) {
        rc = codec_text_check(r->purpose, CODEC_NOTE_MAX,
                              "tx exchange_request purpose", errmsg);
    }
    return rc;
}

/* An op that names an exchange and may carry a note. */
static int note_op_check(const ProtobufCMessage *msg,
                         const ProtobufCBinaryData *id, const char *note,
                         int note_required, const char *what, char *errmsg)
{
    int rc = codec_no_unknown(msg, what, errmsg);

    if (rc == 0) {
        rc = exchange_id_check(id, what, errmsg);
    }
    if (rc == 0 && note != NULL) {
        rc = codec_text_check(note, CODEC_NOTE_MAX, what, errmsg);
    }
    if (rc == 0 && note_required && note[0] == '\0') {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "%s has no reason; say what is wrong (1-%u bytes)",
                         what, CODEC_NOTE_MAX);
    }
    return rc;
}

static int deliver_check(const Tdei__ExchangeDeliver *d, char *errmsg)
{
    int rc = note_op_check(&d->base, &d->exchange, NULL, 0,
                           "tx exchange_deliver", errmsg);

    if (rc == 0) {
        rc = codec_len_check(d->sealed_key.len, CODEC_SEALED_KEY_SIZE, errmsg,
                             "tx exchange_deliver sealed_key");
    }
    if (rc == 0) {
        rc = codec_key_or_empty(d->content_root.len,
                                "tx exchange_deliver content_root", errmsg);
    }
    return rc;
}

int codec_exchange_op_check(const Tdei__TxBody *body, char *errmsg)
{
    switch (body->op_case) {
    case TDEI__TX_BODY__OP_EXCHANGE_REQUEST:
        return request_check(body->exchange_request, errmsg);
    case TDEI__TX_BODY__OP_EXCHANGE_APPROVE:
        return note_op_check(&body->exchange_approve->base,
                             &body->exchange_approve->exchange, NULL, 0,
                             "tx exchange_approve", errmsg);
    case TDEI__TX_BODY__OP_EXCHANGE_REJECT:
        return note_op_check(
            &body->exchange_reject->base, &body->exchange_reject->exchange,
            body->exchange_reject->reason, 0, "tx exchange_reject", errmsg);
    case TDEI__TX_BODY__OP_EXCHANGE_DELIVER:
        return deliver_check(body->exchange_deliver, errmsg);
    case TDEI__TX_BODY__OP_EXCHANGE_CONFIRM:
        return note_op_check(&body->exchange_confirm->base,
                             &body->exchange_confirm->exchange, NULL, 0,
                             "tx exchange_confirm", errmsg);
    case TDEI__TX_BODY__OP_EXCHANGE_DISPUTE:
        return note_op_check(
            &body->exchange_dispute->base, &body->exchange_dispute->exchange,
            body->exchange_dispute->reason, 1, "tx exchange_dispute", errmsg);
    case TDEI__TX_BODY__OP_EXCHANGE_RESOLVE:
        return note_op_check(
            &body->exchange_resolve->base, &body->exchange_resolve->exchange,
            body->exchange_resolve->reason, 0, "tx exchange_resolve", errmsg);
    case TDEI__TX_BODY__OP_GRANT_REVOKE:
        return note_op_check(
            &body->grant_revoke->base, &body->grant_revoke->exchange,
            body->grant_revoke->reason, 0, "tx grant_revoke", errmsg);
    default:
        return tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_OP,
                           "tx op %d is not an exchange op",
                           (int)body->op_case);
    }
}

/* ---- records ------------------------------------------------------------- */

static int in_range(uint64_t v, uint64_t min, uint64_t max)
{
    return v >= min && v <= max;
}

static int exchange_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__Exchange *x = (const Tdei__Exchange *)msg;
    int rc = codec_len_check(x->id.len, CODEC_HASH_SIZE, errmsg,
                             "exchange record id");

    if (rc == 0 && !codec_dataset_id_valid(x->dataset)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "exchange record dataset is not an entry id");
    }
    if (rc == 0 && (!in_range(x->kind, 1, 2) || !in_range(x->model, 1, 3) ||
                    !codec_labels_allowed(x->level, x->data_class) ||
                    !in_range(x->status, CODEC_EXCHANGE_REQUESTED,
                              CODEC_EXCHANGE_ENDED))) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "exchange record has a kind, model, label pair or "
                         "status out of range");
    }
    if (rc == 0) {
        rc = codec_member_id_check(x->consumer, "exchange consumer", errmsg);
    }
    if (rc == 0) {
        rc = codec_member_id_check(x->owner, "exchange owner", errmsg);
    }
    if (rc == 0 && x->owner_approval[0] != '\0') {
        rc = codec_member_id_check(x->owner_approval, "exchange owner_approval",
                                   errmsg);
    }
    if (rc == 0 && x->regulator_approval[0] != '\0') {
        rc = codec_member_id_check(x->regulator_approval,
                                   "exchange regulator_approval", errmsg);
    }
    if (rc == 0) {
        rc = codec_key_or_empty(x->content_root.len, "exchange content_root",
                                errmsg);
    }
    if (rc == 0) {
        rc = codec_key_or_empty(x->delivered_root.len,
                                "exchange delivered_root", errmsg);
    }
    if (rc == 0 && x->sealed_key.len != 0) {
        rc = codec_len_check(x->sealed_key.len, CODEC_SEALED_KEY_SIZE, errmsg,
                             "exchange sealed_key");
    }
    if (rc == 0) {
        rc = codec_text_check(x->purpose, CODEC_NOTE_MAX, "exchange purpose",
                              errmsg);
    }
    if (rc == 0) {
        rc = codec_text_check(x->note, CODEC_NOTE_MAX, "exchange note", errmsg);
    }
    return rc;
}

static int grant_ref_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__GrantRef *g = (const Tdei__GrantRef *)msg;

    return codec_len_check(g->exchange.len, CODEC_HASH_SIZE, errmsg,
                           "grant ref exchange");
}

static int due_list_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__DueList *d = (const Tdei__DueList *)msg;

    if (d->n_exchanges > CODEC_DUE_PAGE || d->pages > CODEC_DUE_PAGES_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "due list page holds %zu ids of %u, or counts "
                           "%" PRIu32 " pages of %u",
                           d->n_exchanges, CODEC_DUE_PAGE, d->pages,
                           CODEC_DUE_PAGES_MAX);
    }
    for (size_t i = 0; i < d->n_exchanges; i++) {
        int rc = codec_len_check(d->exchanges[i].len, CODEC_HASH_SIZE, errmsg,
                                 "due list entry %zu", i);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int codec_exchange_decode(Tdei__Exchange **out, const uint8_t *buf, size_t len,
                          char *errmsg)
{
    return codec_record_decode(
        (ProtobufCMessage **)out, &tdei__exchange__descriptor, buf, len,
        CODEC_EXCHANGE_SIZE_MAX, "exchange", exchange_record_check, errmsg);
}

int codec_grant_ref_decode(Tdei__GrantRef **out, const uint8_t *buf, size_t len,
                           char *errmsg)
{
    return codec_record_decode(
        (ProtobufCMessage **)out, &tdei__grant_ref__descriptor, buf, len,
        CODEC_GRANT_REF_SIZE_MAX, "grant ref", grant_ref_record_check, errmsg);
}

int codec_due_list_decode(Tdei__DueList **out, const uint8_t *buf, size_t len,
                          char *errmsg)
{
    return codec_record_decode(
        (ProtobufCMessage **)out, &tdei__due_list__descriptor, buf, len,
        CODEC_DUE_LIST_SIZE_MAX, "due list", due_list_record_check, errmsg);
}

void codec_exchange_free(Tdei__Exchange *exchange)
{
    codec_message_free((ProtobufCMessage *)exchange);
}

void codec_grant_ref_free(Tdei__GrantRef *ref)
{
    codec_message_free((ProtobufCMessage *)ref);
}

void codec_due_list_free(Tdei__DueList *list)
{
    codec_message_free((ProtobufCMessage *)list);
}
