/* Blocking API client and address syntax (see client.h). */
#include "api/client.h"

#include "api/frame.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ERRSZ TDEI_ERRMSG_SIZE

/* Fields per Response message on the wire; generous, since the node is
 * not hostile, but bounded so a broken peer cannot make us allocate per
 * byte. StreamRecords carries up to 10,000 records (api.proto
 * ReadStream.limit). */
#define CLIENT_FIELDS_MAX 10016u

_Static_assert(API_PATH_MAX < sizeof(((struct sockaddr_un *)0)->sun_path),
               "API_PATH_MAX fits sun_path");

/* ------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------ */

/* Parse "HOST:PORT" of @text (HOST an IPv4 literal or localhost). */
static int addr_parse_tcp(struct api_addr *out, const char *text, char *errmsg)
{
    const char *colon = strrchr(text, ':');
    char host[INET_ADDRSTRLEN];
    struct in_addr in;
    char *end = NULL;
    unsigned long port;
    size_t host_len;

    if (colon == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "API address '%.64s' has no port; write "
                           "127.0.0.1:PORT",
                           text);
    }
    host_len = (size_t)(colon - text);
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535 ||
        colon[1] == '-' || colon[1] == '+' || colon[1] == ' ') {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "API address '%.64s': port '%.16s' is not a "
                           "number in 0-65535",
                           text, colon + 1);
    }
    if (host_len == strlen("localhost") &&
        memcmp(text, "localhost", host_len) == 0) {
        memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
    } else if (host_len == 0 || host_len >= sizeof(host)) {
        goto err_host;
    } else {
        memcpy(host, text, host_len);
        host[host_len] = '\0';
    }
    if (inet_pton(AF_INET, host, &in) != 1) {
        goto err_host;
    }
    memcpy(out->ip, &in.s_addr, 4);
    if (out->ip[0] != 127) {
        memset(out, 0, sizeof(*out));
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "API address '%.64s' is not a loopback address; "
                           "the API has no authentication, so it listens "
                           "only on 127.0.0.1 (use an SSH tunnel to reach "
                           "another host)",
                           text);
    }
    out->kind = API_ADDR_TCP;
    out->port = (uint16_t)port;
    return 0;

err_host:
    memset(out, 0, sizeof(*out));
    return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                       "API address '%.64s': host is not an IPv4 address; "
                       "write 127.0.0.1:PORT",
                       text);
}

/* Whether @text looks like HOST:PORT rather than a path: no '/', and
 * digits after its last ':'. */
static int addr_looks_tcp(const char *text)
{
    const char *colon = strrchr(text, ':');
    const char *p;

    if (strchr(text, '/') != NULL || colon == NULL || colon[1] == '\0') {
        return 0;
    }
    for (p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
    }
    return 1;
}

int api_addr_parse(struct api_addr *out, const char *text, char *errmsg)
{
    static const char unix_prefix[] = "unix:";
    static const char tcp_prefix[] = "tcp://";
    const char *path = text;
    size_t len;

    memset(out, 0, sizeof(*out));
    if (strncmp(text, tcp_prefix, sizeof(tcp_prefix) - 1) == 0) {
        return addr_parse_tcp(out, text + sizeof(tcp_prefix) - 1, errmsg);
    }
    if (strncmp(text, unix_prefix, sizeof(unix_prefix) - 1) == 0) {
        path = text + sizeof(unix_prefix) - 1;
    } else if (addr_looks_tcp(text)) {
        return addr_parse_tcp(out, text, errmsg);
    }
    len = strlen(path);
    if (len == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "API address is empty; give a socket path or "
                           "127.0.0.1:PORT");
    }
    if (len > API_PATH_MAX) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_INVAL,
                           "socket path '%.40s...' is %zu bytes; the limit "
                           "is %u, so use a shorter path (or --home)",
                           path, len, API_PATH_MAX);
    }
    out->kind = API_ADDR_UNIX;
    memcpy(out->path, path, len + 1);
    return 0;
}

/* ------------------------------------------------------------------------
 * Connection
 * ------------------------------------------------------------------------ */

static uint64_t monotonic_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait until @fd is ready for @events or @deadline_ms (monotonic) passes.
 * Returns 0 when ready, TDEI_TIMEOUT, or TDEI_IOERR (errno set). */
static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    uint64_t now;
    int rc;

    for (;;) {
        now = monotonic_ms();
        if (now >= deadline_ms) {
            return TDEI_TIMEOUT;
        }
        rc = poll(&pfd, 1, (int)(deadline_ms - now));
        if (rc > 0) {
            return 0;
        }
        if (rc < 0 && errno != EINTR) {
            return TDEI_IOERR;
        }
    }
}

/* Add the hint for a failed connect to @errmsg. */
static int connect_error(struct api_client *client, const struct api_addr *addr,
                         int err, char *errmsg)
{
    const char *base;

    if (addr->kind == API_ADDR_TCP) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOCONN,
                           "cannot connect to %s: %s; is tdei-node running "
                           "with api.listen = %s?",
                           client->addr, strerror(err), client->addr);
    }
    base = strrchr(addr->path, '/');
    if (base != NULL && strcmp(base, "/api.sock") == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOCONN,
                           "cannot connect to %s: %s; is tdei-node running "
                           "with --home %.*s?",
                           client->addr, strerror(err),
                           base == addr->path ? 1 : (int)(base - addr->path),
                           addr->path);
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_NOCONN,
                       "cannot connect to %s: %s; is tdei-node running with "
                       "api.socket = %s?",
                       client->addr, strerror(err), client->addr);
}

int api_client_connect(struct api_client *client, const char *addr,
                       uint32_t timeout_ms, size_t max_frame, char *errmsg)
{
    struct api_addr parsed;
    struct sockaddr_un sun = {0};
    struct sockaddr_in sin = {0};
    const struct sockaddr *sa;
    socklen_t sa_len;
    int err = 0;
    socklen_t err_len = sizeof(err);
    int rc;

    TDEI_ASSERT(timeout_ms >= 1);
    TDEI_ASSERT(max_frame >= 1 && max_frame <= FRAME_SIZE_LIMIT);
    memset(client, 0, sizeof(*client));
    client->fd = -1;
    client->max_frame = max_frame;
    client->timeout_ms = timeout_ms;
    client->next_id = 1;
    rc = api_addr_parse(&parsed, addr, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (parsed.kind == API_ADDR_UNIX) {
        (void)snprintf(client->addr, sizeof(client->addr), "%s", parsed.path);
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, parsed.path, strlen(parsed.path) + 1);
        sa = (const struct sockaddr *)&sun;
        sa_len = sizeof(sun);
    } else {
        (void)snprintf(client->addr, sizeof(client->addr), "%u.%u.%u.%u:%u",
                       parsed.ip[0], parsed.ip[1], parsed.ip[2], parsed.ip[3],
                       parsed.port);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(parsed.port);
        memcpy(&sin.sin_addr.s_addr, parsed.ip, 4);
        sa = (const struct sockaddr *)&sin;
        sa_len = sizeof(sin);
    }
    client->fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (client->fd < 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_IOERR,
                           "cannot make a socket for %s: %s", client->addr,
                           strerror(errno));
    }
    if (connect(client->fd, sa, sa_len) == 0) {
        return 0;
    }
    if (errno != EINPROGRESS) {
        rc = connect_error(client, &parsed, errno, errmsg);
        goto err_after_socket;
    }
    rc = wait_fd(client->fd, POLLOUT, monotonic_ms() + timeout_ms);
    if (rc == TDEI_TIMEOUT) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_TIMEOUT,
                         "cannot connect to %s within %u ms; the node may "
                         "be overloaded: retry or raise the timeout",
                         client->addr, timeout_ms);
        goto err_after_socket;
    }
    if (rc != 0 ||
        getsockopt(client->fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) {
        err = errno;
    }
    if (err != 0) {
        rc = connect_error(client, &parsed, err, errmsg);
        goto err_after_socket;
    }
    return 0;

err_after_socket:
    (void)close(client->fd);
    client->fd = -1;
    return rc;
}

void api_client_close(struct api_client *client)
{
    if (client->fd >= 0) {
        (void)close(client->fd);
        client->fd = -1;
    }
}

/* ------------------------------------------------------------------------
 * Send and receive
 * ------------------------------------------------------------------------ */

int api_client_send_raw(struct api_client *client, const uint8_t *buf,
                        size_t len, char *errmsg)
{
    uint64_t deadline = monotonic_ms() + client->timeout_ms;
    size_t done = 0;
    ssize_t n;

    TDEI_ASSERT(client->fd >= 0);
    while (done < len) {
        n = send(client->fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(client->fd, POLLOUT, deadline) == TDEI_TIMEOUT) {
                return tdei_errorf(errmsg, ERRSZ, TDEI_TIMEOUT,
                                   "%s did not take the request within %u "
                                   "ms; the node may be busy: retry or "
                                   "raise the timeout",
                                   client->addr, client->timeout_ms);
            }
            continue;
        }
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOCONN,
                           "sending to %s: %s; the node closed the "
                           "connection (see its log)",
                           client->addr,
                           n < 0 ? strerror(errno) : "nothing sent");
    }
    return 0;
}

int api_client_send(struct api_client *client, Tdei__Api__Request *req,
                    char *errmsg)
{
    uint8_t *frame = NULL;
    size_t size = 0;
    int rc;

    if (req->id == 0) {
        req->id = client->next_id++;
    }
    rc = frame_encode_message(&req->base, client->max_frame, "api.max_frame",
                              &frame, &size, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = api_client_send_raw(client, frame, size, errmsg);
    tdei_free(frame);
    return rc;
}

/* Read exactly @len bytes by @deadline_ms. */
static int recv_full(struct api_client *client, uint8_t *buf, size_t len,
                     uint64_t deadline_ms, char *errmsg)
{
    size_t done = 0;
    ssize_t n;

    while (done < len) {
        n = recv(client->fd, buf + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(client->fd, POLLIN, deadline_ms) == TDEI_TIMEOUT) {
                return tdei_errorf(errmsg, ERRSZ, TDEI_TIMEOUT,
                                   "no answer from %s within %u ms; the "
                                   "node may be busy: retry or raise the "
                                   "timeout",
                                   client->addr, client->timeout_ms);
            }
            continue;
        }
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOCONN,
                           "the connection to %s was closed before the "
                           "answer was complete (%s); see the node's log",
                           client->addr,
                           n == 0 ? "end of stream" : strerror(errno));
    }
    return 0;
}

int api_client_recv(struct api_client *client, Tdei__Api__Response **resp,
                    char *errmsg)
{
    uint64_t deadline = monotonic_ms() + client->timeout_ms;
    uint8_t header[FRAME_HEADER_SIZE];
    uint8_t *body;
    uint32_t size;
    ProtobufCMessage *msg = NULL;
    int rc;

    *resp = NULL;
    TDEI_ASSERT(client->fd >= 0);
    rc = recv_full(client, header, sizeof(header), deadline, errmsg);
    if (rc != 0) {
        return rc;
    }
    size = frame_header_read(header);
    if (size == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s sent a frame of length 0; it is not a tdei "
                           "node API",
                           client->addr);
    }
    if (size > client->max_frame) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "%s sent a frame of %u bytes; the limit is %zu "
                           "(api.max_frame)",
                           client->addr, size, client->max_frame);
    }
    body = tdei_malloc(size);
    if (body == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_NOMEM,
                           "answer of %u bytes: out of memory", size);
    }
    rc = recv_full(client, body, size, deadline, errmsg);
    if (rc == 0) {
        rc = frame_message_decode(&tdei__api__response__descriptor, body, size,
                                  CLIENT_FIELDS_MAX, "api response", &msg,
                                  errmsg);
    }
    tdei_free(body);
    if (rc == 0) {
        *resp = (Tdei__Api__Response *)msg;
    }
    return rc;
}

int api_client_call(struct api_client *client, Tdei__Api__Request *req,
                    Tdei__Api__Response **resp, char *errmsg)
{
    int rc;

    *resp = NULL;
    rc = api_client_send(client, req, errmsg);
    if (rc != 0) {
        return rc;
    }
    for (;;) {
        rc = api_client_recv(client, resp, errmsg);
        if (rc != 0) {
            return rc;
        }
        if ((*resp)->id == req->id || (*resp)->id == 0) {
            return 0;
        }
        api_client_response_free(*resp);
        *resp = NULL;
    }
}

void api_client_response_free(Tdei__Api__Response *resp)
{
    frame_message_free(resp != NULL ? &resp->base : NULL);
}
