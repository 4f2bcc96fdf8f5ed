/* Reads and data-plane calls of one node's API (nodecall.h). */
#include "nodecall.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/ids.h"

#include <stdio.h>
#include <string.h>

void nodecall_init(struct nodecall *nc, const char *addr, uint32_t timeout_ms)
{
    TDEI_ASSERT(timeout_ms >= 1);
    memset(nc, 0, sizeof(*nc));
    (void)snprintf(nc->addr, sizeof(nc->addr), "%s", addr);
    nc->timeout_ms = timeout_ms;
    nc->client.fd = -1;
}

void nodecall_close(struct nodecall *nc) { api_client_close(&nc->client); }

int nodecall_call(struct nodecall *nc, Tdei__Api__Request *req,
                  uint32_t extra_ms, Tdei__Api__Response **resp, char *errmsg)
{
    int rc = 0;

    *resp = NULL;
    req->id = 0;
    if (nc->client.fd < 0) {
        rc = api_client_connect(&nc->client, nc->addr, nc->timeout_ms,
                                TDEI_API_FRAME_MAX, errmsg);
    }
    if (rc == 0) {
        nc->client.timeout_ms = nc->timeout_ms + extra_ms;
        rc = api_client_call(&nc->client, req, resp, errmsg);
        nc->client.timeout_ms = nc->timeout_ms;
    }
    if (rc != 0) {
        /* A broken or timed-out connection may hold half a frame. */
        api_client_close(&nc->client);
        return rc;
    }
    if ((*resp)->code != 0) {
        rc = (int)(*resp)->code;
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "%s",
                       (*resp)->error[0] != '\0' ? (*resp)->error
                                                 : tdei_strerror(rc));
        api_client_response_free(*resp);
        *resp = NULL;
    }
    return rc;
}

/* A call whose answer must have the result @resp_case; a node that
 * answers another one is malformed. */
static int call_expect(struct nodecall *nc, Tdei__Api__Request *req,
                       uint32_t extra_ms, int resp_case,
                       Tdei__Api__Response **resp, char *errmsg)
{
    int rc = nodecall_call(nc, req, extra_ms, resp, errmsg);

    if (rc == 0 && (int)(*resp)->resp_case != resp_case) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "the node at %.100s answered with result %d where "
                       "%d was asked for",
                       nc->addr, (int)(*resp)->resp_case, resp_case);
        api_client_response_free(*resp);
        *resp = NULL;
        rc = TDEI_MALFORMED;
    }
    return rc;
}

int nodecall_height(struct nodecall *nc, uint64_t *height, char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = call_expect(nc, &req, 0, TDEI__API__RESPONSE__RESP_STATUS, &resp,
                     errmsg);
    if (rc == 0) {
        *height = resp->status->height;
    }
    api_client_response_free(resp);
    return rc;
}

/* The raw state record at @key: *@resp holds it in resp->object. */
static int object_raw(struct nodecall *nc, const uint8_t *key, size_t klen,
                      Tdei__Api__Response **resp, char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetObject get = TDEI__API__GET_OBJECT__INIT;

    get.key.data = (uint8_t *)(uintptr_t)key;
    get.key.len = klen;
    req.req_case = TDEI__API__REQUEST__REQ_GET_OBJECT;
    req.get_object = &get;
    return call_expect(nc, &req, 0, TDEI__API__RESPONSE__RESP_OBJECT, resp,
                       errmsg);
}

int nodecall_object(struct nodecall *nc, const uint8_t *key, size_t klen,
                    const ProtobufCMessageDescriptor *desc,
                    ProtobufCMessage **out, uint64_t *height, char *errmsg)
{
    Tdei__Api__Response *resp = NULL;
    int rc;

    *out = NULL;
    rc = object_raw(nc, key, klen, &resp, errmsg);
    if (rc == 0) {
        rc = codec_message_unpack(out, desc, resp->object->value.data,
                                  resp->object->value.len, "state record",
                                  errmsg);
        if (height != NULL) {
            *height = resp->object->height;
        }
    }
    api_client_response_free(resp);
    return rc;
}

int nodecall_exchange(struct nodecall *nc, const uint8_t *xid,
                      Tdei__Exchange **out, char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_exchange(key, xid);

    return nodecall_object(nc, key, klen, &tdei__exchange__descriptor,
                           (ProtobufCMessage **)out, NULL, errmsg);
}

int nodecall_dataset(struct nodecall *nc, const char *id, Tdei__Dataset **out,
                     char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_dataset(key, id);

    return nodecall_object(nc, key, klen, &tdei__dataset__descriptor,
                           (ProtobufCMessage **)out, NULL, errmsg);
}

int nodecall_balance(struct nodecall *nc, const char *member, uint64_t *balance,
                     char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetAccount get = TDEI__API__GET_ACCOUNT__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    get.member = (char *)(uintptr_t)member;
    req.req_case = TDEI__API__REQUEST__REQ_GET_ACCOUNT;
    req.get_account = &get;
    rc = call_expect(nc, &req, 0, TDEI__API__RESPONSE__RESP_ACCOUNT, &resp,
                     errmsg);
    if (rc == 0) {
        *balance = resp->account->balance;
    }
    api_client_response_free(resp);
    return rc;
}

int nodecall_grant(struct nodecall *nc, const char *entry, const char *member,
                   uint8_t xid[32], char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_grant(key, entry, member);
    Tdei__GrantRef *ref = NULL;
    int rc;

    rc = nodecall_object(nc, key, klen, &tdei__grant_ref__descriptor,
                         (ProtobufCMessage **)&ref, NULL, errmsg);
    if (rc == 0 && ref->exchange.len != 32) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "the grant of %.40s on %.64s names an exchange of %zu "
                       "bytes, not 32",
                       member, entry, ref->exchange.len);
        rc = TDEI_MALFORMED;
    }
    if (rc == 0) {
        memcpy(xid, ref->exchange.data, 32);
    }
    codec_message_free((ProtobufCMessage *)ref);
    return rc;
}

int nodecall_opkey_member(struct nodecall *nc, const uint8_t *key, char *member,
                          char *errmsg)
{
    uint8_t k[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_opkey(k, key);
    Tdei__OperatorKey *op = NULL;
    int rc;

    rc = nodecall_object(nc, k, klen, &tdei__operator_key__descriptor,
                         (ProtobufCMessage **)&op, NULL, errmsg);
    if (rc == 0) {
        (void)snprintf(member, TDEI_MEMBER_ID_MAX + 1, "%s", op->member);
    }
    codec_message_free((ProtobufCMessage *)op);
    return rc;
}

int nodecall_head(struct nodecall *nc, const uint8_t *object, size_t olen,
                  uint8_t head[32], char *errmsg)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Api__Response *resp = NULL;
    size_t klen = contract_key_head(key, object, olen);
    int rc;

    rc = object_raw(nc, key, klen, &resp, errmsg);
    if (rc == 0 && resp->object->value.len != 32) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "a history head of %zu bytes, not 32",
                       resp->object->value.len);
        rc = TDEI_MALFORMED;
    }
    if (rc == 0) {
        memcpy(head, resp->object->value.data, 32);
    }
    api_client_response_free(resp);
    return rc;
}

int nodecall_block(struct nodecall *nc, uint64_t height, Tdei__Block **block,
                   Tdei__Header **header, char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetBlock get = TDEI__API__GET_BLOCK__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    *block = NULL;
    *header = NULL;
    get.height = height;
    req.req_case = TDEI__API__REQUEST__REQ_GET_BLOCK;
    req.get_block = &get;
    rc = call_expect(nc, &req, 0, TDEI__API__RESPONSE__RESP_BLOCK, &resp,
                     errmsg);
    if (rc == 0) {
        rc = codec_message_unpack(
            (ProtobufCMessage **)block, &tdei__block__descriptor,
            resp->block->block.data, resp->block->block.len, "block", errmsg);
    }
    if (rc == 0) {
        rc = codec_message_unpack(
            (ProtobufCMessage **)header, &tdei__header__descriptor,
            (*block)->header.data, (*block)->header.len, "header", errmsg);
    }
    api_client_response_free(resp);
    if (rc != 0) {
        codec_message_free((ProtobufCMessage *)*block);
        *block = NULL;
    }
    return rc;
}

int nodecall_tx_result(struct nodecall *nc, const uint8_t *tx_id,
                       Tdei__TxResult **result, char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetTx get = TDEI__API__GET_TX__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    *result = NULL;
    get.tx_id.data = (uint8_t *)(uintptr_t)tx_id;
    get.tx_id.len = 32;
    req.req_case = TDEI__API__REQUEST__REQ_GET_TX;
    req.get_tx = &get;
    rc = call_expect(nc, &req, 0, TDEI__API__RESPONSE__RESP_TX, &resp, errmsg);
    if (rc == 0) {
        rc = codec_txresult_decode(result, resp->tx->result.data,
                                   resp->tx->result.len, errmsg);
    }
    api_client_response_free(resp);
    return rc;
}

int nodecall_payload_state(struct nodecall *nc, const uint8_t *xid,
                           struct nodecall_payload *out, char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetPayloadState get = TDEI__API__GET_PAYLOAD_STATE__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    get.exchange.data = (uint8_t *)(uintptr_t)xid;
    get.exchange.len = 32;
    req.req_case = TDEI__API__REQUEST__REQ_GET_PAYLOAD_STATE;
    req.get_payload_state = &get;
    rc = call_expect(nc, &req, 0, TDEI__API__RESPONSE__RESP_PAYLOAD_STATE,
                     &resp, errmsg);
    if (rc == 0) {
        const Tdei__Api__PayloadState *st = resp->payload_state;
        out->state = st->state;
        out->size = st->size;
        out->chunk_count = st->chunk_count;
        out->chunks_present = st->chunks_present;
        out->chunks_fetched = st->chunks_fetched;
        out->chunks_refetched = st->chunks_refetched;
    }
    api_client_response_free(resp);
    return rc;
}

int nodecall_fetch(struct nodecall *nc, const uint8_t *xid,
                   const char *out_path, uint32_t timeout_ms,
                   struct nodecall_payload *out, char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__FetchPayload fetch = TDEI__API__FETCH_PAYLOAD__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    fetch.exchange.data = (uint8_t *)(uintptr_t)xid;
    fetch.exchange.len = 32;
    fetch.out_path = (char *)(uintptr_t)out_path;
    fetch.timeout_ms = timeout_ms;
    req.req_case = TDEI__API__REQUEST__REQ_FETCH_PAYLOAD;
    req.fetch_payload = &fetch;
    rc = call_expect(nc, &req, timeout_ms, TDEI__API__RESPONSE__RESP_FETCH,
                     &resp, errmsg);
    if (rc == 0) {
        out->state = 2;
        out->size = resp->fetch->size;
        out->chunk_count = resp->fetch->chunk_count;
        out->chunks_present = resp->fetch->chunk_count;
        out->chunks_fetched = resp->fetch->chunks_fetched;
        out->chunks_refetched = resp->fetch->chunks_refetched;
    }
    api_client_response_free(resp);
    return rc;
}

/* Most records of one IngestRecords (proto/api.proto). */
#define NODECALL_INGEST_MAX 10000u

int nodecall_ingest(struct nodecall *nc, const char *stream,
                    const uint64_t *ts_ms, const uint8_t *const *data,
                    const size_t *len, size_t count, char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__IngestRecords ingest = TDEI__API__INGEST_RECORDS__INIT;
    Tdei__Api__IngestRecord *records;
    Tdei__Api__IngestRecord **ptrs;
    Tdei__Api__Response *resp = NULL;
    int rc;

    TDEI_ASSERT(count >= 1 && count <= NODECALL_INGEST_MAX);
    records = tdei_calloc(count, sizeof(*records));
    ptrs = tdei_calloc(count, sizeof(*ptrs));
    if (records == NULL || ptrs == NULL) {
        tdei_free(records);
        tdei_free(ptrs);
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "%s",
                       tdei_strerror(TDEI_NOMEM));
        return TDEI_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        tdei__api__ingest_record__init(&records[i]);
        records[i].ts_ms = ts_ms[i];
        records[i].data.data = (uint8_t *)(uintptr_t)data[i];
        records[i].data.len = len[i];
        ptrs[i] = &records[i];
    }
    ingest.stream = (char *)(uintptr_t)stream;
    ingest.records = ptrs;
    ingest.n_records = count;
    req.req_case = TDEI__API__REQUEST__REQ_INGEST;
    req.ingest = &ingest;
    rc = call_expect(nc, &req, 0, TDEI__API__RESPONSE__RESP_INGEST, &resp,
                     errmsg);
    if (rc == 0 && resp->ingest->accepted != count) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "the node took %llu of %zu records",
                       (unsigned long long)resp->ingest->accepted, count);
        rc = TDEI_MALFORMED;
    }
    api_client_response_free(resp);
    tdei_free(records);
    tdei_free(ptrs);
    return rc;
}

int nodecall_read_stream(struct nodecall *nc, const char *stream,
                         uint64_t from_seq, uint32_t limit, uint32_t wait_ms,
                         Tdei__Api__Response **out, char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__ReadStream read = TDEI__API__READ_STREAM__INIT;

    read.stream = (char *)(uintptr_t)stream;
    read.from_seq = from_seq;
    read.limit = limit;
    read.wait_ms = wait_ms;
    req.req_case = TDEI__API__REQUEST__REQ_READ_STREAM;
    req.read_stream = &read;
    return call_expect(nc, &req, wait_ms,
                       TDEI__API__RESPONSE__RESP_STREAM_RECORDS, out, errmsg);
}
