/* Blocking client of the node's API (DESIGN.md section 11), for the CLI
 * and tests: plain POSIX sockets and poll, no libuv.
 *
 * One client is one connection. It sends tdei.api Requests in frames
 * (frame.h) and reads Responses, each step bounded by the client's
 * timeout; frames longer than the client's max_frame are refused like the
 * node refuses them. Also here: the API address syntax, shared with the
 * server (api.h).
 *
 * Pointers are non-NULL unless stated. Each errmsg is a buffer of
 * TDEI_ERRMSG_SIZE bytes; on error it says what was wrong and what to do
 * ("cannot connect to /x/api.sock: No such file or directory; is
 * tdei-node running with --home /x?"). A client belongs to one thread at
 * a time. Writes never raise SIGPIPE. */
#ifndef TDEI_NODE_API_CLIENT_H
#define TDEI_NODE_API_CLIENT_H

#include "api.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Longest Unix socket path: sizeof(sockaddr_un.sun_path) - 1 on Linux. */
#define API_PATH_MAX 107u

/* The default timeout of a client, per connect, send and receive. */
#define API_CLIENT_TIMEOUT_MS 10000u

/* The kind of an API address. */
enum api_addr_kind {
    API_ADDR_UNIX = 1, /* a Unix socket path */
    API_ADDR_TCP = 2   /* an IPv4 loopback address and port */
};

/* A parsed API address. */
struct api_addr
{
    enum api_addr_kind kind;     /* which of the fields below is set */
    char path[API_PATH_MAX + 1]; /* API_ADDR_UNIX: the socket path */
    uint8_t ip[4];               /* API_ADDR_TCP: 127.x.y.z */
    uint16_t port;               /* API_ADDR_TCP: 0-65535 (0 = any) */
};

/* Parse an API address: "unix:PATH", "tcp://127.0.0.1:PORT",
 * "127.0.0.1:PORT" (any 127.x.y.z, or "localhost:PORT"), or else a Unix
 * socket PATH (anything with a '/' or without ':PORT').
 * TCP addresses must be loopback: the API has no authentication, so it
 * never listens on, or talks to, another interface.
 * Returns: 0 or TDEI_INVAL (empty, a path over API_PATH_MAX bytes, a bad
 * port, a host that is not an IPv4 literal, or "10.0.0.1:7000 is not a
 * loopback address; ..."). On error @out is zeroed.
 * In:  text: NUL-terminated, borrowed for the call.
 * Out: out, errmsg. */
int api_addr_parse(struct api_addr *out, const char *text, char *errmsg);

/* A blocking API connection. Fields are read-only for the caller. */
struct api_client
{
    int fd;                       /* the socket, -1 when closed */
    size_t max_frame;             /* largest frame sent or accepted, bytes */
    uint32_t timeout_ms;          /* bound on each connect, send and receive */
    uint64_t next_id;             /* the id api_client_send gives a request
                                     that has none */
    char addr[API_PATH_MAX + 32]; /* the address, for messages */
};

/* Connect to the node at @addr (api_addr_parse syntax).
 * Returns: 0; TDEI_INVAL (bad address); TDEI_NOCONN ("cannot connect to
 * /x/api.sock: No such file or directory; is tdei-node running with
 * --home /x?"); TDEI_TIMEOUT (no answer to the connect within
 * @timeout_ms); TDEI_IOERR (no socket could be made). On error the client
 * is closed (fd -1) and nothing is held.
 * In:  addr: borrowed for the call. timeout_ms: 1 or more (asserted), e.g.
 *      API_CLIENT_TIMEOUT_MS; max_frame: the largest frame sent or
 *      accepted, 1..FRAME_SIZE_LIMIT (asserted), e.g. TDEI_API_FRAME_MAX.
 * Out: client (the caller's memory; close with api_client_close), errmsg. */
int api_client_connect(struct api_client *client, const char *addr,
                       uint32_t timeout_ms, size_t max_frame, char *errmsg);

/* Close the connection; closing a closed client does nothing. */
void api_client_close(struct api_client *client);

/* Send @req in one frame. A request with id 0 gets the next id of the
 * client (written into @req->id), so that ids are unique per connection.
 * Returns: 0; TDEI_TOOBIG (the request is over the client's max_frame
 * bytes, which should be the node's api.max_frame; send less);
 * TDEI_NOCONN (the node closed the connection); TDEI_TIMEOUT (the
 * node did not take the bytes in time); TDEI_NOMEM. After TDEI_TIMEOUT or
 * TDEI_NOCONN part of a frame may have been sent: close the client.
 * In:  req: borrowed for the call (its id may be written).
 * Out: errmsg. */
int api_client_send(struct api_client *client, Tdei__Api__Request *req,
                    char *errmsg);

/* Send @len raw bytes (tests use it to send broken frames).
 * Returns: 0, TDEI_NOCONN or TDEI_TIMEOUT. In: buf: borrowed. */
int api_client_send_raw(struct api_client *client, const uint8_t *buf,
                        size_t len, char *errmsg);

/* Read the next Response (of any id).
 * Returns: 0; TDEI_TIMEOUT (nothing within timeout_ms: "no answer from
 * /x/api.sock within 10000 ms; ..."); TDEI_NOCONN (the node closed the
 * connection); TDEI_MALFORMED (a zero-length frame or bytes that are not
 * a Response); TDEI_TOOBIG (a frame over max_frame; close the client);
 * TDEI_NOMEM. The Response's own code is not an error here: check
 * (*resp)->code.
 * Out: resp: owned by the caller, freed with api_client_response_free;
 *      NULL on error. errmsg. */
int api_client_recv(struct api_client *client, Tdei__Api__Response **resp,
                    char *errmsg);

/* Send @req and read Responses until the one with its id (or id 0, the
 * node's answer to a request it could not decode) arrives; Responses to
 * other requests are dropped.
 * Returns: as api_client_send and api_client_recv.
 * In:  req: borrowed for the call (id written when 0).
 * Out: resp, errmsg: as api_client_recv. */
int api_client_call(struct api_client *client, Tdei__Api__Request *req,
                    Tdei__Api__Response **resp, char *errmsg);

/* Free a Response from api_client_recv or api_client_call; NULL allowed. */
void api_client_response_free(Tdei__Api__Response *resp);

#endif
