/* Reads and data-plane calls of one node's client API, for the commands
 * that drive a localnet from the outside (`tdei localnet demo`, `tdei
 * bench --data`): each returns a TDEI code with a message instead of
 * printing, so that the caller says which of its steps failed.
 *
 * A struct nodecall keeps one API connection to one node, opened on the
 * first call and opened again after a transport failure. Every call is
 * bounded by the nodecall's timeout (a held call, such as a fetch or a
 * follow-mode read, by its own wait plus that timeout).
 *
 * Pointers are non-NULL unless stated; errmsg buffers are
 * TDEI_ERRMSG_SIZE bytes and say what failed and on which node. */
#ifndef TDEI_CLI_NODECALL_H
#define TDEI_CLI_NODECALL_H

#include "api.pb-c.h"
#include "api/client.h"
#include "tdei.pb-c.h"

#include <stddef.h>
#include <stdint.h>

struct nodecall
{
    char addr[API_PATH_MAX + 32]; /* the node's API address */
    uint32_t timeout_ms;          /* bound of a connect, send, receive */
    struct api_client client;     /* the connection, fd -1 when closed */
};

/* Prepare @nc for the node at API address @addr (copied); nothing is
 * connected yet. In: timeout_ms >= 1 (asserted). */
void nodecall_init(struct nodecall *nc, const char *addr, uint32_t timeout_ms);

/* Close the connection of @nc (idempotent). */
void nodecall_close(struct nodecall *nc);

/* Send @req and wait for its answer, up to @extra_ms more than the
 * nodecall's timeout (for requests the node holds).
 * Returns: 0 with *@resp (free with api_client_response_free); a
 * transport code (TDEI_NOCONN, TDEI_TIMEOUT...); or the answer's own
 * non-zero code, with the node's message in errmsg and *@resp NULL. */
int nodecall_call(struct nodecall *nc, Tdei__Api__Request *req,
                  uint32_t extra_ms, Tdei__Api__Response **resp, char *errmsg);

/* The node's committed height. Returns: 0 or a nodecall_call code. */
int nodecall_height(struct nodecall *nc, uint64_t *height, char *errmsg);

/* The state record at @key (@klen bytes) unpacked as @desc into *@out
 * (free with codec_message_free); *@height (may be NULL) gets the height
 * it was read at. Returns: 0; TDEI_NOTFOUND (no record: *@out NULL);
 * TDEI_MALFORMED (it does not decode as @desc); or a nodecall_call code. */
int nodecall_object(struct nodecall *nc, const uint8_t *key, size_t klen,
                    const ProtobufCMessageDescriptor *desc,
                    ProtobufCMessage **out, uint64_t *height, char *errmsg);

/* Exchange @xid (32 bytes) into *@out (codec_message_free).
 * Returns: as nodecall_object. */
int nodecall_exchange(struct nodecall *nc, const uint8_t *xid,
                      Tdei__Exchange **out, char *errmsg);

/* Catalog entry @id into *@out (codec_message_free). Returns: as
 * nodecall_object. */
int nodecall_dataset(struct nodecall *nc, const char *id, Tdei__Dataset **out,
                     char *errmsg);

/* The balance of member @member. Returns: 0, TDEI_UNKNOWN_MEMBER or a
 * nodecall_call code. */
int nodecall_balance(struct nodecall *nc, const char *member, uint64_t *balance,
                     char *errmsg);

/* The exchange id of the latest grant of @member on entry @entry
 * ("grant/<entry>/<member>") into @xid (32 bytes).
 * Returns: 0, TDEI_NOTFOUND (none yet) or a nodecall_object code. */
int nodecall_grant(struct nodecall *nc, const char *entry, const char *member,
                   uint8_t xid[32], char *errmsg);

/* The member whose operator key is @key (32 bytes) into @member
 * (TDEI_MEMBER_ID_MAX + 1 bytes). Returns: as nodecall_object. */
int nodecall_opkey_member(struct nodecall *nc, const uint8_t *key, char *member,
                          char *errmsg);

/* The history head of the object with state key @object (@olen bytes)
 * into @head (32 bytes). Returns: as nodecall_object (TDEI_MALFORMED
 * when the record is not 32 bytes). */
int nodecall_head(struct nodecall *nc, const uint8_t *object, size_t olen,
                  uint8_t head[32], char *errmsg);

/* Committed block @height: *@block and *@header (codec_message_free
 * each). Returns: 0, TDEI_NOTFOUND (not committed), TDEI_MALFORMED or a
 * nodecall_call code. */
int nodecall_block(struct nodecall *nc, uint64_t height, Tdei__Block **block,
                   Tdei__Header **header, char *errmsg);

/* The result of committed tx @tx_id (32 bytes) into *@result
 * (codec_txresult_free). Returns: 0, TDEI_NOTFOUND, a decode failure or
 * a nodecall_call code. */
int nodecall_tx_result(struct nodecall *nc, const uint8_t *tx_id,
                       Tdei__TxResult **result, char *errmsg);

/* The transfer state of one payload on one node (PayloadState and
 * FetchResult fields). */
struct nodecall_payload
{
    uint32_t state;            /* 0 not here, 1 partial, 2 complete */
    uint64_t size;             /* plaintext bytes */
    uint64_t chunk_count;      /* chunks of the payload */
    uint64_t chunks_present;   /* of them here */
    uint64_t chunks_fetched;   /* received for it */
    uint64_t chunks_refetched; /* failed their proof, asked again */
};

/* Ask for the transfer state of the payload of exchange @xid into *@out.
 * Returns: 0 or a nodecall_call code. */
int nodecall_payload_state(struct nodecall *nc, const uint8_t *xid,
                           struct nodecall_payload *out, char *errmsg);

/* Fetch the payload of exchange @xid into the absolute @out_path, the
 * node waiting up to @timeout_ms for the chunks (FetchPayload).
 * Returns: 0 with *@out filled (state 2); or the node's code
 * (TDEI_TIMEOUT, TDEI_NOT_DELIVERED, TDEI_BADSIG...) or a transport code. */
int nodecall_fetch(struct nodecall *nc, const uint8_t *xid,
                   const char *out_path, uint32_t timeout_ms,
                   struct nodecall_payload *out, char *errmsg);

/* Queue @count records (@ts_ms[i], @data[i] of @len[i] bytes) of stream
 * @stream on its owner's node (IngestRecords, 1-10,000 records).
 * Returns: 0, TDEI_BUSY (the node's queue is full: nothing taken; retry),
 * another refusal of the node, or a transport code. */
int nodecall_ingest(struct nodecall *nc, const char *stream,
                    const uint64_t *ts_ms, const uint8_t *const *data,
                    const size_t *len, size_t count, char *errmsg);

/* Read records of @stream from @from_seq on (ReadStream: @limit records
 * at most, waiting up to @wait_ms for the first). *@out is the answer
 * (free with api_client_response_free); its stream_records may hold no
 * record. Returns: 0, TDEI_NOTFOUND (the node holds no record of the
 * stream) or another nodecall_call code. */
int nodecall_read_stream(struct nodecall *nc, const char *stream,
                         uint64_t from_seq, uint32_t limit, uint32_t wait_ms,
                         Tdei__Api__Response **out, char *errmsg);

#endif
