/* Interim: the payload side of the data plane before node_payload.c
 * lands. Payload requests are refused and channel-5 chunk messages are
 * treated as unserved (a protocol fault, as before the data plane). This
 * file goes away with node_payload.c. */
#include "api/api.h"
#include "node_plane.h"

int node__payload_start(struct node *node, char *errmsg)
{
    (void)node;
    (void)errmsg;
    return 0;
}

void node__payload_stop(struct node *node) { (void)node; }
void node__payload_free(struct node *node) { (void)node; }

void node__payload_committed(struct node *node, struct store_read *r)
{
    (void)node;
    (void)r;
}

void node__payload_peer_up(struct node *node, uint64_t peer,
                           const uint8_t key[TDEI_PUBKEY_SIZE])
{
    (void)node;
    (void)peer;
    (void)key;
}

void node__payload_peer_down(struct node *node, uint64_t peer)
{
    (void)node;
    (void)peer;
}

int node__payload_receive(struct node *node, uint64_t peer,
                          const Tdei__P2p__DataMessage *msg, char *errmsg)
{
    (void)node;
    (void)peer;
    (void)msg;
    return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                       "payload chunks are not served by this node");
}

void node__payload_request(struct node *node, struct api_call *call,
                           const Tdei__Api__Request *req)
{
    (void)node;
    api_call_respond_error(call, TDEI_BADREQUEST,
                           "request type %d is not served by this node yet",
                           (int)req->req_case);
}

int node__payload_cancel(struct node *node, struct api_call *call)
{
    (void)node;
    (void)call;
    return 0;
}
