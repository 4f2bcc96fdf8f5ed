/* Codec rules of the stream ops and of the Stream record (see codec.h,
 * "The exchange rules"). */
#include "core/codec.h"
#include "core/codec_internal.h"

#include "core/error.h"

#include <inttypes.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

static int stream_id_check(const char *id, const char *what, char *errmsg)
{
    char shown[CODEC_ECHO_SIZE];

    if (codec_dataset_id_valid(id)) {
        return 0;
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s id \"%s\" is not an entry id: %u-%u bytes of "
                       "[a-z0-9-]",
                       what, codec_echo(shown, id), CODEC_DATASET_ID_MIN,
                       CODEC_DATASET_ID_MAX);
}

static int append_check(const Tdei__StreamAppend *a, char *errmsg)
{
    int rc = codec_no_unknown(&a->base, "tx stream_append", errmsg);

    if (rc == 0) {
        rc = stream_id_check(a->id, "tx stream_append", errmsg);
    }
    if (rc == 0 && a->count == 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx stream_append count is 0; a batch holds at "
                         "least one record");
    }
    if (rc == 0 && a->count - 1 > UINT64_MAX - a->seq_first) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx stream_append seq_first + count overflows");
    }
    if (rc == 0 && a->first_ts > a->last_ts) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx stream_append first_ts %" PRIu64 " is after "
                         "last_ts %" PRIu64 "; timestamps are monotonic",
                         a->first_ts, a->last_ts);
    }
    if (rc == 0 && a->count == 1 && a->first_ts != a->last_ts) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx stream_append has one record but two "
                         "timestamps");
    }
    if (rc == 0) {
        rc = codec_len_check(a->batch_root.len, CODEC_HASH_SIZE, errmsg,
                             "tx stream_append batch_root");
    }
    return rc;
}

int codec_stream_op_check(const Tdei__TxBody *body, char *errmsg)
{
    int rc;

    switch (body->op_case) {
    case TDEI__TX_BODY__OP_STREAM_OPEN:
        rc = codec_no_unknown(&body->stream_open->base, "tx stream_open",
                              errmsg);
        return rc != 0 ? rc
                       : stream_id_check(body->stream_open->id,
                                         "tx stream_open", errmsg);
    case TDEI__TX_BODY__OP_STREAM_APPEND:
        return append_check(body->stream_append, errmsg);
    case TDEI__TX_BODY__OP_STREAM_CLOSE:
        rc = codec_no_unknown(&body->stream_close->base, "tx stream_close",
                              errmsg);
        return rc != 0 ? rc
                       : stream_id_check(body->stream_close->id,
                                         "tx stream_close", errmsg);
    default:
        return tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_OP,
                           "tx op %d is not a stream op", (int)body->op_case);
    }
}

static int stream_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__Stream *s = (const Tdei__Stream *)msg;
    int rc = stream_id_check(s->id, "stream record", errmsg);

    if (rc == 0 &&
        (s->status < CODEC_STREAM_OPEN || s->status > CODEC_STREAM_CLOSED)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "stream record status %" PRIu32 " is not 1-2",
                         s->status);
    }
    if (rc == 0) {
        rc = codec_key_or_empty(s->last_batch_root.len,
                                "stream last_batch_root", errmsg);
    }
    if (rc == 0 && s->n_subscriptions > CODEC_STREAM_SUBS_MAX) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "stream record has %zu subscriptions; the limit is "
                         "%u",
                         s->n_subscriptions, CODEC_STREAM_SUBS_MAX);
    }
    for (size_t i = 0; rc == 0 && i < s->n_subscriptions; i++) {
        rc = codec_len_check(s->subscriptions[i].len, CODEC_HASH_SIZE, errmsg,
                             "stream subscription %zu", i);
        if (rc == 0 && i > 0 &&
            memcmp(s->subscriptions[i - 1].data, s->subscriptions[i].data,
                   CODEC_HASH_SIZE) >= 0) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                             "stream record subscriptions are not strictly "
                             "ascending");
        }
    }
    return rc;
}

int codec_stream_decode(Tdei__Stream **out, const uint8_t *buf, size_t len,
                        char *errmsg)
{
    return codec_record_decode(
        (ProtobufCMessage **)out, &tdei__stream__descriptor, buf, len,
        CODEC_STREAM_SIZE_MAX, "stream", stream_record_check, errmsg);
}

void codec_stream_free(Tdei__Stream *stream)
{
    codec_message_free((ProtobufCMessage *)stream);
}
