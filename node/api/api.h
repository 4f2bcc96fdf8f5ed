/* The node's client API server (DESIGN.md section 11): tdei.api Requests
 * in frames (frame.h) over a Unix socket and/or TCP on 127.0.0.1, handed
 * to a handler the node provides, answered with api_call_respond, now or
 * later.
 *
 * Listening: the Unix socket is created mode 0600 (the owner only) before
 * it listens; a socket file left by a dead node is replaced, one that a
 * live process listens on is refused (TDEI_ADDR_IN_USE), and the file is
 * removed on api_stop. TCP binds only loopback addresses (the API has no
 * authentication); port 0 picks a free port (api_tcp_port).
 *
 * Per connection: a frame decoder (max_frame), then each frame decodes as
 * a Request and goes to the handler as one call. The server answers by
 * itself, with id 0 when the request id is unknown:
 *   - a zero-length frame or bytes that are not a Request: TDEI_MALFORMED,
 *     and the connection goes on with the next frame;
 *   - a frame length over max_frame: TDEI_TOOBIG, then the connection is
 *     closed once the answer is written (the stream cannot be resynced);
 *   - a Request without a known type: TDEI_BADREQUEST;
 *   - more than max_pending calls unanswered on the connection:
 *     TDEI_BUSY.
 * A connection beyond max_connections gets one TDEI_BUSY answer (id 0)
 * and is closed. A client that does not read its answers is disconnected
 * when the answers queued for it pass write_queue_max bytes, so memory
 * stays bounded. Nothing a client sends stops the server.
 *
 * Threads: everything runs on the loop thread (the one that runs @loop),
 * including the handler. Pointers are non-NULL unless stated. Each errmsg
 * is a buffer of TDEI_ERRMSG_SIZE bytes. */
#ifndef TDEI_NODE_API_API_H
#define TDEI_NODE_API_API_H

#include "api.pb-c.h"
#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>

struct uv_loop_s;

/* Defaults of the settings without a config key yet. */
#define API_MAX_CONNECTIONS_DEFAULT 64u /* api.max_connections */
#define API_MAX_PENDING_DEFAULT 64u     /* unanswered calls per connection */
#define API_WRITE_QUEUE_DEFAULT (TDEI_API_FRAME_MAX + TDEI_MIB) /* bytes */

/* Error codes counted one by one in api_stats.errors: code
 * API_STATS_CODE_BASE + i is errors[i], for i in 1..API_STATS_CODES-1;
 * errors[0] counts every other code. */
#define API_STATS_CODE_BASE 1000
#define API_STATS_CODES 128

/* Server settings. */
struct api_config
{
    const char *socket_path;  /* api.socket: Unix socket path, or NULL or ""
                                 for none; at most API_PATH_MAX bytes */
    const char *listen;       /* api.listen: "127.0.0.1:PORT" (port 0 = any
                                 free port), or NULL or "" for none */
    uint32_t max_connections; /* api.max_connections: 1-4096 */
    uint32_t max_pending;     /* calls unanswered per connection: 1-4096 */
    size_t max_frame;         /* api.max_frame: bytes per frame, 1024 to
                                 FRAME_SIZE_LIMIT */
    size_t write_queue_max;   /* bytes of answers per connection that the
                                 kernel has not taken yet (the client is
                                 not reading); at least max_frame + 4 */
};

/* A configuration with every default and no listener. */
#define API_CONFIG_DEFAULT                                                     \
    {                                                                          \
        .socket_path = NULL, .listen = NULL,                                   \
        .max_connections = API_MAX_CONNECTIONS_DEFAULT,                        \
        .max_pending = API_MAX_PENDING_DEFAULT,                                \
        .max_frame = TDEI_API_FRAME_MAX,                                       \
        .write_queue_max = API_WRITE_QUEUE_DEFAULT,                            \
    }

/* One request in flight: created by the server for each decoded Request,
 * owned by the handler until it calls api_call_respond. Opaque. */
struct api_call;

/* What the node provides to answer requests. */
struct api_handler
{
    void *impl; /* the node's state, passed back to each function */

    /* Handle @req, whose type (req->req_case) is set. The handler must
     * call api_call_respond(@call, ...) exactly once: inside this function
     * or later on the loop thread (for example when a block commits).
     * @req stays valid until then (api_call_request gives it back). */
    void (*request)(void *impl, struct api_call *call,
                    const Tdei__Api__Request *req);

    /* May be NULL. Called when @call's connection goes away (the client
     * disconnected, or api_stop) while the call is unanswered: the answer
     * can no longer be delivered, so the handler should drop the work and
     * call api_call_respond now (which only frees the call); it may also
     * keep the call and respond later. */
    void (*cancel)(void *impl, struct api_call *call);
};

/* Counters for /metrics, since api_start. */
struct api_stats
{
    uint64_t connections_accepted;    /* connections taken into service */
    uint64_t connections_refused;     /* closed at once: over max_connections */
    uint64_t connections_open;        /* open now */
    uint64_t slow_disconnects;        /* closed: write queue over its bound */
    uint64_t requests;                /* frames received (good or bad) */
    uint64_t calls;                   /* requests handed to the handler */
    uint64_t responses;               /* answers queued for writing */
    uint64_t calls_canceled;          /* calls whose connection went away
                                         unanswered */
    uint64_t errors_total;            /* answers with a code other than 0 */
    uint64_t bytes_in;                /* bytes read from clients */
    uint64_t bytes_out;               /* bytes of answers queued */
    uint64_t errors[API_STATS_CODES]; /* answers by code, see above */
};

/* The server. Opaque. */
struct api;

/* Called once when api_stop has closed every handle; @data as given. */
typedef void (*api_stop_cb)(void *data);

/* Create the server and start listening on the configured addresses.
 * Returns: 0; TDEI_CONFIG (a setting out of range, no listener, a bad or
 * non-loopback api.listen, a socket path too long; errmsg names the key,
 * the value and the accepted range); TDEI_ADDR_IN_USE (a live process
 * listens on the socket path, or the TCP port is taken); TDEI_EXISTS (the
 * socket path exists and is not a socket); TDEI_PERM or TDEI_IOERR
 * (socket, bind, chmod or listen failed: errmsg says which and on what
 * path); TDEI_NOMEM. On error nothing is left open or allocated.
 * In:  loop: the node's loop, borrowed until the api_stop callback.
 *      config: copied (its strings too). handler: copied; impl borrowed
 *      until the api_stop callback.
 * Out: out: the server, to be stopped with api_stop; NULL on error.
 *      errmsg.
 * Thread: the loop thread, or any thread before the loop runs. */
int api_start(struct api **out, struct uv_loop_s *loop,
              const struct api_config *config,
              const struct api_handler *handler, char *errmsg);

/* Stop the server: close the listeners and every connection, remove the
 * socket file, and cancel the unanswered calls (the handler's cancel runs
 * for each; their api_call_respond is then a no-op that frees). The
 * server is freed, and @cb (may be NULL) runs, once the loop has run
 * every close callback. @api is dead after this call.
 * In:  data: passed to @cb. Thread: the loop thread. */
void api_stop(struct api *api, api_stop_cb cb, void *data);

/* The TCP port the server listens on (useful with port 0), or 0 when it
 * has no TCP listener. */
uint16_t api_tcp_port(const struct api *api);

/* Copy the counters of @api into @out. Thread: the loop thread. */
void api_stats_get(const struct api *api, struct api_stats *out);

/* Answer @call with @resp and free the call. The server sets the id of
 * the answer to the request's (resp->id is ignored). When the connection
 * is gone, the answer is dropped. When @resp does not fit max_frame, a
 * TDEI_TOOBIG error is sent in its place; when the connection's write
 * queue would pass write_queue_max, the connection is closed (slow
 * client). Never fails towards the handler.
 * In:  resp: borrowed for the call; either resp->code is not 0 (an error,
 *      with resp->error saying what was wrong and what to do) or a result
 *      (resp->resp_case) is set (asserted: every request has a result).
 * State: @call is dead after this call. Thread: the loop thread. */
void api_call_respond(struct api_call *call, const Tdei__Api__Response *resp);

/* Answer @call with error @code (not 0, asserted) and a message built
 * from @fmt ("what was wrong; what to do"). As api_call_respond. */
void api_call_respond_error(struct api_call *call, int code, const char *fmt,
                            ...) __attribute__((format(printf, 3, 4)));

/* The request of @call (borrowed until api_call_respond). */
const Tdei__Api__Request *api_call_request(const struct api_call *call);

/* 1 while the answer to @call can still be delivered, 0 once its
 * connection is gone. */
int api_call_active(const struct api_call *call);

#endif
