/* The client API server on libuv (see api.h). */
#include "api/api.h"

#include "api/client.h"
#include "api/frame.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#define ERRSZ TDEI_ERRMSG_SIZE

#define API_BACKLOG 128            /* listen(2) backlog */
#define API_READ_SIZE (16u * 1024) /* bytes per read from a client */
/* Wire fields per message of a Request: IngestRecords carries up to
 * 10,000 records (api.proto), one field each. */
#define API_FIELDS_MAX 10016u
#define API_LIMIT_MAX 4096u        /* top of max_connections/max_pending */
#define API_FRAME_MIN 1024u        /* bottom of api.max_frame */
#define API_ERROR_TEXT_MAX 1024u   /* bytes of Response.error we build */

/* A client stream: a Unix or a TCP socket. */
union api_stream {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
};

struct api_conn
{
    union api_stream h;    /* first: handle.data points here */
    struct api *api;       /* the server */
    struct api_conn *prev; /* open connections of the server */
    struct api_conn *next;
    struct api_call *calls;   /* unanswered calls, newest first */
    uint32_t pending;         /* their number */
    size_t write_queue_bytes; /* bytes handed to uv_write whose
                                 callback has not run */
    struct frame_decoder decoder;
    uv_shutdown_t shutdown; /* after TDEI_TOOBIG */
    int draining;           /* 1: no more reads, closing after write */
    int closing;            /* 1: uv_close called */
    uint8_t read_buffer[API_READ_SIZE];
};

struct api_call
{
    struct api_conn *conn; /* NULL once the connection is gone */
    struct api_call *prev; /* conn->calls list */
    struct api_call *next;
    uint64_t id;             /* the request's id */
    Tdei__Api__Request *req; /* decoded, owned by the call */
};

/* A connection over max_connections: told TDEI_BUSY, then closed. */
struct api_refused
{
    union api_stream h; /* first */
    struct api *api;
};

/* One answer being written. */
struct api_write
{
    uv_write_t req;
    struct api_conn *conn;
    uv_buf_t buf; /* from frame_encode_message */
};

struct api
{
    uv_loop_t *loop;
    struct api_config config; /* copied; strings below */
    char *socket_path;        /* NULL when there is no Unix socket */
    struct api_handler handler;
    uv_pipe_t pipe; /* Unix listener, when socket_path */
    uv_tcp_t tcp;   /* TCP listener, when has_tcp */
    int has_tcp;
    uint16_t tcp_port; /* bound port */
    dev_t socket_dev;  /* the socket file we created */
    ino_t socket_ino;
    struct api_conn *conns; /* open connections */
    uint32_t conn_count;    /* their number */
    uint32_t handles_open;  /* handles whose close cb has not run */
    int stopping;
    api_stop_cb stop_cb;
    void *stop_data;
    struct api_stats stats;
};

static void conn_close(struct api_conn *conn);

/* ------------------------------------------------------------------------
 * Stop and close bookkeeping
 * ------------------------------------------------------------------------ */

static void api_handle_closed(struct api *api)
{
    api_stop_cb cb;
    void *data;

    TDEI_ASSERT(api->handles_open > 0);
    api->handles_open--;
    if (!api->stopping || api->handles_open > 0) {
        return;
    }
    cb = api->stop_cb;
    data = api->stop_data;
    tdei_free(api->socket_path);
    tdei_free(api);
    if (cb != NULL) {
        cb(data);
    }
}

static void on_listener_close(uv_handle_t *handle)
{
    api_handle_closed(handle->data);
}

/* ------------------------------------------------------------------------
 * Writing answers
 * ------------------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status)
{
    struct api_write *w = (struct api_write *)req;
    struct api_conn *conn = w->conn;

    TDEI_ASSERT(conn->write_queue_bytes >= w->buf.len);
    conn->write_queue_bytes -= w->buf.len;
    tdei_free(w->buf.base);
    tdei_free(w);
    if (status < 0 && !conn->closing) {
        conn_close(conn);
    }
}

/* Queue @size bytes of @frame (taken over) for writing to @conn. */
static void conn_write(struct api_conn *conn, uint8_t *frame, size_t size)
{
    struct api *api = conn->api;
    struct api_write *w;

    if (conn->closing) {
        tdei_free(frame);
        return;
    }
    /* Bytes libuv holds because the kernel would not take them: the
     * client does not read its answers, so drop it rather than grow
     * (write_queue_max >= max_frame + 4, so one answer always fits an
     * empty queue). */
    if (size > api->config.write_queue_max -
                   uv_stream_get_write_queue_size(&conn->h.stream)) {
        api->stats.slow_disconnects++;
        tdei_free(frame);
        conn_close(conn);
        return;
    }
    w = tdei_malloc(sizeof(*w));
    if (w == NULL) {
        tdei_free(frame);
        conn_close(conn);
        return;
    }
    w->conn = conn;
    w->buf = uv_buf_init((char *)frame, (unsigned)size);
    if (uv_write(&w->req, &conn->h.stream, &w->buf, 1, on_write) != 0) {
        tdei_free(frame);
        tdei_free(w);
        conn_close(conn);
        return;
    }
    conn->write_queue_bytes += size;
    api->stats.responses++;
    api->stats.bytes_out += size;
}

static void stats_count_code(struct api_stats *stats, uint32_t code)
{
    if (code == 0) {
        return;
    }
    stats->errors_total++;
    if (code > API_STATS_CODE_BASE &&
        code < API_STATS_CODE_BASE + API_STATS_CODES) {
        stats->errors[code - API_STATS_CODE_BASE]++;
    } else {
        stats->errors[0]++;
    }
}

/* Encode @resp and queue it; an answer over max_frame becomes a
 * TDEI_TOOBIG error. */
static void conn_send(struct api_conn *conn, const Tdei__Api__Response *resp)
{
    struct api *api = conn->api;
    Tdei__Api__Response toobig = TDEI__API__RESPONSE__INIT;
    char errmsg[ERRSZ];
    uint8_t *frame = NULL;
    size_t size = 0;
    int rc;

    rc = frame_encode_message(&resp->base, api->config.max_frame,
                              "api.max_frame", &frame, &size, errmsg);
    if (rc == TDEI_TOOBIG) {
        toobig.id = resp->id;
        toobig.code = TDEI_TOOBIG;
        toobig.error = errmsg;
        resp = &toobig;
        rc = frame_encode_message(&resp->base, api->config.max_frame,
                                  "api.max_frame", &frame, &size, errmsg);
    }
    if (rc != 0) {
        /* Out of memory: the client would wait forever, so hang up. */
        conn_close(conn);
        return;
    }
    stats_count_code(&api->stats, resp->code);
    conn_write(conn, frame, size);
}

static void conn_send_error(struct api_conn *conn, uint64_t id, int code,
                            const char *text)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;

    TDEI_ASSERT(code != 0);
    resp.id = id;
    resp.code = (uint32_t)code;
    resp.error = (char *)text;
    conn_send(conn, &resp);
}

/* ------------------------------------------------------------------------
 * Calls
 * ------------------------------------------------------------------------ */

static void call_unlink(struct api_call *call)
{
    struct api_conn *conn = call->conn;

    TDEI_ASSERT(conn != NULL);
    TDEI_ASSERT(conn->pending > 0);
    if (call->prev != NULL) {
        call->prev->next = call->next;
    } else {
        conn->calls = call->next;
    }
    if (call->next != NULL) {
        call->next->prev = call->prev;
    }
    call->prev = NULL;
    call->next = NULL;
    call->conn = NULL;
    conn->pending--;
}

void api_call_respond(struct api_call *call, const Tdei__Api__Response *resp)
{
    struct api_conn *conn = call->conn;
    Tdei__Api__Response copy;

    TDEI_ASSERT(resp->code != 0 ||
                resp->resp_case != TDEI__API__RESPONSE__RESP__NOT_SET);
    if (conn != NULL) {
        call_unlink(call);
        copy = *resp;
        copy.id = call->id;
        conn_send(conn, &copy);
    }
    frame_message_free(&call->req->base);
    tdei_free(call);
}

void api_call_respond_error(struct api_call *call, int code, const char *fmt,
                            ...)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    char text[API_ERROR_TEXT_MAX];
    va_list ap;

    TDEI_ASSERT(code != 0);
    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    resp.code = (uint32_t)code;
    resp.error = text;
    api_call_respond(call, &resp);
}

const Tdei__Api__Request *api_call_request(const struct api_call *call)
{
    return call->req;
}

int api_call_active(const struct api_call *call)
{
    return call->conn != NULL && !call->conn->closing;
}

/* ------------------------------------------------------------------------
 * Reading requests
 * ------------------------------------------------------------------------ */

static void handle_frame(struct api_conn *conn, const uint8_t *frame,
                         size_t size)
{
    struct api *api = conn->api;
    ProtobufCMessage *msg = NULL;
    Tdei__Api__Request *req;
    struct api_call *call;
    char errmsg[ERRSZ];
    int rc;

    rc = frame_message_decode(&tdei__api__request__descriptor, frame, size,
                              API_FIELDS_MAX, "api request", &msg, errmsg);
    if (rc != 0) {
        conn_send_error(conn, 0, rc, errmsg);
        return;
    }
    req = (Tdei__Api__Request *)msg;
    if (req->req_case == TDEI__API__REQUEST__REQ__NOT_SET) {
        if (req->base.n_unknown_fields > 0) {
            (void)snprintf(errmsg, sizeof(errmsg),
                           "request %llu has field %u, which this node does "
                           "not know; upgrade tdei-node or use a client of "
                           "its version",
                           (unsigned long long)req->id,
                           req->base.unknown_fields[0].tag);
        } else {
            (void)snprintf(errmsg, sizeof(errmsg),
                           "request %llu has no type; set one of submit, "
                           "get_tx, get_block, get_object, get_account, "
                           "get_status, list_objects",
                           (unsigned long long)req->id);
        }
        conn_send_error(conn, req->id, TDEI_BADREQUEST, errmsg);
        frame_message_free(msg);
        return;
    }
    if (conn->pending >= api->config.max_pending) {
        (void)snprintf(errmsg, sizeof(errmsg),
                       "%u requests of this connection are unanswered; "
                       "wait for their answers before sending more",
                       conn->pending);
        conn_send_error(conn, req->id, TDEI_BUSY, errmsg);
        frame_message_free(msg);
        return;
    }
    call = tdei_malloc(sizeof(*call));
    if (call == NULL) {
        conn_send_error(conn, req->id, TDEI_NOMEM,
                        "out of memory taking the request; retry later");
        frame_message_free(msg);
        return;
    }
    *call = (struct api_call){
        .conn = conn, .next = conn->calls, .id = req->id, .req = req};
    if (conn->calls != NULL) {
        conn->calls->prev = call;
    }
    conn->calls = call;
    conn->pending++;
    api->stats.calls++;
    api->handler.request(api->handler.impl, call, req);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct api_conn *conn = req->data;

    (void)status;
    if (!conn->closing) {
        conn_close(conn);
    }
}

/* The stream cannot go on: stop reading, flush the answers, close. */
static void conn_drain(struct api_conn *conn)
{
    if (conn->draining || conn->closing) {
        return;
    }
    conn->draining = 1;
    (void)uv_read_stop(&conn->h.stream);
    conn->shutdown.data = conn;
    if (uv_shutdown(&conn->shutdown, &conn->h.stream, on_shutdown) != 0) {
        conn_close(conn);
    }
}

static void conn_feed(struct api_conn *conn, const uint8_t *data, size_t len)
{
    struct api *api = conn->api;
    char errmsg[ERRSZ];
    uint8_t *frame;
    size_t frame_size;
    size_t used;
    int rc;

    /* Each pass consumes at least one byte or ends the loop, so it runs
     * at most @len times. */
    while (len > 0 && !conn->closing && !conn->draining) {
        rc = frame_decode(&conn->decoder, data, len, "api.max_frame", &used,
                          &frame, &frame_size, errmsg);
        TDEI_ASSERT(used > 0 || rc != 0);
        data += used;
        len -= used;
        if (rc == TDEI_MALFORMED) {
            api->stats.requests++;
            conn_send_error(conn, 0, rc, errmsg);
            continue;
        }
        if (rc != 0) {
            /* TDEI_TOOBIG, or TDEI_NOMEM with bytes already consumed:
             * the stream is out of step for good. */
            api->stats.requests++;
            conn_send_error(conn, 0, rc, errmsg);
            conn_drain(conn);
            return;
        }
        if (frame != NULL) {
            api->stats.requests++;
            handle_frame(conn, frame, frame_size);
            tdei_free(frame);
        }
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct api_conn *conn = handle->data;

    (void)suggested;
    *buf = uv_buf_init((char *)conn->read_buffer, API_READ_SIZE);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct api_conn *conn = stream->data;

    if (nread > 0) {
        conn->api->stats.bytes_in += (uint64_t)nread;
        conn_feed(conn, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    if (nread < 0 && !conn->closing) {
        /* End of stream or an error: either way the client is gone. */
        conn_close(conn);
    }
}

/* ------------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------------ */

static void on_conn_close(uv_handle_t *handle)
{
    struct api_conn *conn = handle->data;
    struct api *api = conn->api;

    TDEI_ASSERT(conn->write_queue_bytes == 0);
    frame_decoder_close(&conn->decoder);
    tdei_free(conn);
    api_handle_closed(api);
}

/* Close @conn: detach and cancel its calls, then close the handle (the
 * memory goes in on_conn_close). Idempotent. */
static void conn_close(struct api_conn *conn)
{
    struct api *api = conn->api;
    struct api_call *call;

    if (conn->closing) {
        return;
    }
    conn->closing = 1;
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        api->conns = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    TDEI_ASSERT(api->conn_count > 0);
    api->conn_count--;
    api->stats.connections_open = api->conn_count;
    /* At most max_pending calls. The cancel hook may respond at once;
     * the call is detached first, so that only frees it. */
    while (conn->calls != NULL) {
        call = conn->calls;
        call_unlink(call);
        api->stats.calls_canceled++;
        if (api->handler.cancel != NULL) {
            api->handler.cancel(api->handler.impl, call);
        }
    }
    uv_close(&conn->h.handle, on_conn_close);
}

/* Initialise @h as a stream of the kind of @server and accept into it.
 * Returns 0, or a libuv error after which @h still needs uv_close. */
static int stream_accept(struct api *api, uv_stream_t *server,
                         union api_stream *h)
{
    if (server == (uv_stream_t *)&api->pipe) {
        (void)uv_pipe_init(api->loop, &h->pipe, 0);
    } else {
        (void)uv_tcp_init(api->loop, &h->tcp);
    }
    return uv_accept(server, &h->stream);
}

static void on_refused_close(uv_handle_t *handle)
{
    struct api_refused *r = handle->data;
    struct api *api = r->api;

    tdei_free(r);
    api_handle_closed(api);
}

/* Accept a connection over max_connections, tell it why, close it. */
static void conn_refuse(struct api *api, uv_stream_t *server)
{
    Tdei__Api__Response resp = TDEI__API__RESPONSE__INIT;
    struct api_refused *r = tdei_calloc(1, sizeof(*r));
    char errmsg[ERRSZ];
    char text[ERRSZ];
    uint8_t *frame = NULL;
    size_t size = 0;
    uv_buf_t buf;

    if (r == NULL) {
        return; /* libuv retries the accept on the next readiness */
    }
    r->api = api;
    r->h.handle.data = r;
    api->handles_open++;
    api->stats.connections_refused++;
    if (stream_accept(api, server, &r->h) == 0) {
        (void)snprintf(text, sizeof(text),
                       "the node serves %u API connections already "
                       "(api.max_connections); close idle clients or raise "
                       "api.max_connections",
                       api->conn_count);
        resp.code = TDEI_BUSY;
        resp.error = text;
        if (frame_encode_message(&resp.base, api->config.max_frame,
                                 "api.max_frame", &frame, &size, errmsg) == 0) {
            buf = uv_buf_init((char *)frame, (unsigned)size);
            /* Best effort: a fresh socket takes a small frame at once. */
            (void)uv_try_write(&r->h.stream, &buf, 1);
            stats_count_code(&api->stats, resp.code);
            tdei_free(frame);
        }
    }
    uv_close(&r->h.handle, on_refused_close);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct api *api = server->data;
    struct api_conn *conn;

    if (status < 0 || api->stopping) {
        return;
    }
    if (api->conn_count >= api->config.max_connections) {
        conn_refuse(api, server);
        return;
    }
    conn = tdei_calloc(1, sizeof(*conn));
    if (conn == NULL) {
        return; /* libuv retries the accept on the next readiness */
    }
    conn->api = api;
    conn->h.handle.data = conn;
    frame_decoder_init(&conn->decoder, api->config.max_frame);
    api->handles_open++;
    conn->next = api->conns;
    if (api->conns != NULL) {
        api->conns->prev = conn;
    }
    api->conns = conn;
    api->conn_count++;
    api->stats.connections_accepted++;
    api->stats.connections_open = api->conn_count;
    if (stream_accept(api, server, &conn->h) != 0 ||
        uv_read_start(&conn->h.stream, on_alloc, on_read) != 0) {
        conn_close(conn);
    }
}

/* ------------------------------------------------------------------------
 * Listening
 * ------------------------------------------------------------------------ */

static int errno_code(int err)
{
    if (err == EACCES || err == EPERM || err == EROFS) {
        return TDEI_PERM;
    }
    if (err == EADDRINUSE) {
        return TDEI_ADDR_IN_USE;
    }
    return TDEI_IOERR;
}

/* Remove a socket file at @path that nothing listens on. */
static int unix_clear_stale(const char *path, char *errmsg)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;
    int rc;

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        return tdei_errorf(errmsg, ERRSZ, errno_code(errno),
                           "api.socket=%s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_EXISTS,
                           "api.socket=%s exists and is not a socket; move "
                           "it away or change api.socket",
                           path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_IOERR,
                           "api.socket=%s: socket: %s", path, strerror(errno));
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    rc = connect(fd, (const struct sockaddr *)&sun, sizeof(sun));
    if (rc == 0 || errno == EAGAIN) {
        (void)close(fd);
        return tdei_errorf(errmsg, ERRSZ, TDEI_ADDR_IN_USE,
                           "another process listens on api.socket=%s (a "
                           "tdei-node with this home?); stop it or change "
                           "api.socket",
                           path);
    }
    rc = errno;
    (void)close(fd);
    if (rc != ECONNREFUSED) {
        return tdei_errorf(errmsg, ERRSZ, errno_code(rc),
                           "api.socket=%s: cannot tell whether it is in use: "
                           "%s",
                           path, strerror(rc));
    }
    /* Left by a node that died: nobody listens, so it is ours to reuse. */
    if (unlink(path) != 0 && errno != ENOENT) {
        return tdei_errorf(errmsg, ERRSZ, errno_code(errno),
                           "api.socket=%s: remove the stale socket: %s", path,
                           strerror(errno));
    }
    return 0;
}

/* Create, bind (mode 0600) and listen on the Unix socket at @path. */
static int unix_listen(struct api *api, const char *path, int *fd_out,
                       char *errmsg)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;
    int rc;

    rc = unix_clear_stale(path, errmsg);
    if (rc != 0) {
        return rc;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_IOERR,
                           "api.socket=%s: socket: %s", path, strerror(errno));
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (bind(fd, (const struct sockaddr *)&sun, sizeof(sun)) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, errno_code(errno),
                         "api.socket=%s: bind: %s", path, strerror(errno));
        goto err_after_socket;
    }
    /* Nobody can connect before listen(), so this leaves no window. */
    if (chmod(path, S_IRUSR | S_IWUSR) != 0 || lstat(path, &st) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, errno_code(errno),
                         "api.socket=%s: chmod 600: %s", path, strerror(errno));
        goto err_after_bind;
    }
    if (listen(fd, API_BACKLOG) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, errno_code(errno),
                         "api.socket=%s: listen: %s", path, strerror(errno));
        goto err_after_bind;
    }
    api->socket_dev = st.st_dev;
    api->socket_ino = st.st_ino;
    *fd_out = fd;
    return 0;

err_after_bind:
    (void)unlink(path);
err_after_socket:
    (void)close(fd);
    return rc;
}

/* Create, bind and listen on the loopback TCP address @addr. */
static int tcp_listen(struct api *api, const struct api_addr *addr,
                      const char *text, int *fd_out, char *errmsg)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sin_len = sizeof(sin);
    int one = 1;
    int fd;
    int rc;

    sin.sin_port = htons(addr->port);
    memcpy(&sin.sin_addr.s_addr, addr->ip, 4);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_IOERR,
                           "api.listen=%s: socket: %s", text, strerror(errno));
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&sin, sizeof(sin)) != 0) {
        rc = errno_code(errno);
        rc = tdei_errorf(errmsg, ERRSZ, rc, "api.listen=%s: bind: %s%s", text,
                         strerror(errno),
                         rc == TDEI_ADDR_IN_USE
                             ? "; stop the other process or change "
                               "api.listen"
                             : "");
        goto err_after_socket;
    }
    if (listen(fd, API_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &sin_len) != 0) {
        rc = tdei_errorf(errmsg, ERRSZ, errno_code(errno),
                         "api.listen=%s: listen: %s", text, strerror(errno));
        goto err_after_socket;
    }
    api->tcp_port = ntohs(sin.sin_port);
    *fd_out = fd;
    return 0;

err_after_socket:
    (void)close(fd);
    return rc;
}

/* Check @config; parse its TCP address into @addr. */
static int config_check(const struct api_config *config, struct api_addr *addr,
                        int *has_unix, int *has_tcp, char *errmsg)
{
    int rc;

    *has_unix = config->socket_path != NULL && config->socket_path[0] != 0;
    *has_tcp = config->listen != NULL && config->listen[0] != 0;
    if (!*has_unix && !*has_tcp) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "api.socket and api.listen are both empty; set "
                           "at least one");
    }
    if (config->max_connections < 1 ||
        config->max_connections > API_LIMIT_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "api.max_connections=%u is outside 1-%u",
                           config->max_connections, API_LIMIT_MAX);
    }
    if (config->max_pending < 1 || config->max_pending > API_LIMIT_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "api max_pending=%u is outside 1-%u",
                           config->max_pending, API_LIMIT_MAX);
    }
    if (config->max_frame < API_FRAME_MIN ||
        config->max_frame > FRAME_SIZE_LIMIT) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "api.max_frame=%zu is outside %u-%u",
                           config->max_frame, API_FRAME_MIN, FRAME_SIZE_LIMIT);
    }
    if (config->write_queue_max < config->max_frame + FRAME_HEADER_SIZE) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "api write_queue_max=%zu is below api.max_frame "
                           "+ 4 = %zu",
                           config->write_queue_max,
                           config->max_frame + FRAME_HEADER_SIZE);
    }
    if (*has_unix && strlen(config->socket_path) > API_PATH_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "api.socket is %zu bytes long; the limit is %u: "
                           "use a shorter path or home",
                           strlen(config->socket_path), API_PATH_MAX);
    }
    if (!*has_tcp) {
        return 0;
    }
    rc = api_addr_parse(addr, config->listen, errmsg);
    if (rc == 0 && addr->kind != API_ADDR_TCP) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_CONFIG,
                           "api.listen=%.64s is not 127.0.0.1:PORT",
                           config->listen);
    }
    if (rc != 0) {
        return tdei_errwrap(errmsg, ERRSZ, TDEI_CONFIG, "api.listen");
    }
    return 0;
}

/* Hand the listening sockets to libuv; each fd is libuv's once its
 * uv_*_open succeeded, and closed here otherwise. Returns 0 or a libuv
 * error. */
static int listeners_start(struct api *api, int unix_fd, int tcp_fd)
{
    int rc;

    if (unix_fd >= 0) {
        (void)uv_pipe_init(api->loop, &api->pipe, 0);
        api->pipe.data = api;
        api->handles_open++;
        rc = uv_pipe_open(&api->pipe, unix_fd);
        if (rc != 0) {
            (void)close(unix_fd);
            goto err_close_tcp_fd;
        }
        rc = uv_listen((uv_stream_t *)&api->pipe, API_BACKLOG, on_connection);
        if (rc != 0) {
            goto err_close_tcp_fd;
        }
    }
    if (tcp_fd >= 0) {
        (void)uv_tcp_init(api->loop, &api->tcp);
        api->tcp.data = api;
        api->has_tcp = 1;
        api->handles_open++;
        rc = uv_tcp_open(&api->tcp, tcp_fd);
        if (rc != 0) {
            (void)close(tcp_fd);
            return rc;
        }
        return uv_listen((uv_stream_t *)&api->tcp, API_BACKLOG, on_connection);
    }
    return 0;

err_close_tcp_fd:
    if (tcp_fd >= 0) {
        (void)close(tcp_fd);
    }
    return rc;
}

int api_start(struct api **out, struct uv_loop_s *loop,
              const struct api_config *config,
              const struct api_handler *handler, char *errmsg)
{
    struct api_addr addr;
    struct api *api;
    int has_unix;
    int has_tcp;
    int unix_fd = -1;
    int tcp_fd = -1;
    int rc;

    *out = NULL;
    TDEI_ASSERT(handler->request != NULL);
    rc = config_check(config, &addr, &has_unix, &has_tcp, errmsg);
    if (rc != 0) {
        return rc;
    }
    api = tdei_calloc(1, sizeof(*api));
    if (api == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM, "api: out of memory");
    }
    api->loop = loop;
    api->config = *config;
    api->handler = *handler;
    if (has_unix) {
        api->socket_path = tdei_strdup(config->socket_path);
        if (api->socket_path == NULL) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM, "api: out of memory");
            goto err_after_api;
        }
        rc = unix_listen(api, api->socket_path, &unix_fd, errmsg);
        if (rc != 0) {
            goto err_after_api;
        }
    }
    if (has_tcp) {
        rc = tcp_listen(api, &addr, config->listen, &tcp_fd, errmsg);
        if (rc != 0) {
            goto err_after_unix;
        }
    }
    api->config.socket_path = api->socket_path;
    api->config.listen = NULL; /* not kept: parsed above */
    rc = listeners_start(api, unix_fd, tcp_fd);
    if (rc != 0) {
        /* libuv refused a socket we made: close what it holds; the
         * memory goes once the loop runs the close callbacks. */
        (void)tdei_errorf(errmsg, ERRSZ, TDEI_IOERR, "api: listen: %s",
                          uv_strerror(rc));
        api_stop(api, NULL, NULL);
        return TDEI_IOERR;
    }
    *out = api;
    return 0;

err_after_unix:
    if (unix_fd >= 0) {
        (void)close(unix_fd);
        (void)unlink(api->socket_path);
    }
err_after_api:
    tdei_free(api->socket_path);
    tdei_free(api);
    return rc;
}

void api_stop(struct api *api, api_stop_cb cb, void *data)
{
    struct stat st;

    TDEI_ASSERT(!api->stopping);
    TDEI_ASSERT(api->handles_open > 0);
    api->stopping = 1;
    api->stop_cb = cb;
    api->stop_data = data;
    if (api->socket_path != NULL) {
        uv_close((uv_handle_t *)&api->pipe, on_listener_close);
        /* Remove the file only while it is still the one we made. */
        if (lstat(api->socket_path, &st) == 0 && st.st_dev == api->socket_dev &&
            st.st_ino == api->socket_ino) {
            (void)unlink(api->socket_path);
        }
    }
    if (api->has_tcp) {
        uv_close((uv_handle_t *)&api->tcp, on_listener_close);
    }
    /* At most max_connections connections. */
    while (api->conns != NULL) {
        conn_close(api->conns);
    }
}

uint16_t api_tcp_port(const struct api *api)
{
    return api->has_tcp ? api->tcp_port : 0;
}

void api_stats_get(const struct api *api, struct api_stats *out)
{
    *out = api->stats;
}
