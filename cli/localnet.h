/* A local network of tdei-node processes on loopback (DESIGN.md section
 * 11), as `tdei localnet` and `tdei bench` run it:
 *
 *   DIR/nodeI/              the home of node I (tdei init), I = 0..N-1
 *   DIR/nodeI/genesis.json  the same file in every home
 *   DIR/nodeI/config.ini    [p2p] listen = 127.0.0.1:PORT_I, peers = the
 *                           others; the API on DIR/nodeI/api.sock
 *   DIR/nodeI/node.pid      the pid of the running tdei-node
 *   DIR/nodeI/node.log      its stdout and stderr
 *   DIR/sink/               (bench only) a home with no node: a member
 *                           that only receives transfers
 *
 * Members are svc-0 (public_service), then mfg-1 (manufacturer), plat-2
 * (platform), mfg-3 and so on, every one a validator holding
 * LOCALNET_BALANCE credits. Everything the files say is read back from
 * them, so a stopped localnet restarts with its data.
 *
 * Processes: only a pid read from a node.pid file whose /proc/PID/exe is
 * a tdei-node binary is ever signalled. Pointers are non-NULL unless
 * stated; errmsg buffers are TDEI_ERRMSG_SIZE bytes. */
#ifndef TDEI_CLI_LOCALNET_H
#define TDEI_CLI_LOCALNET_H

#include "config.h"
#include "home.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define LOCALNET_NODES_MAX 16u
#define LOCALNET_NODES_DEFAULT 4u
#define LOCALNET_CHAIN_ID "tdei-localnet"
#define LOCALNET_BALANCE 1000000000u  /* credits of each member */
#define LOCALNET_SINK_ID "bench-sink" /* the member of DIR/sink */
/* DIR is at most this long, so that DIR/node15/api.sock fits a Unix
 * socket address (API_PATH_MAX). */
#define LOCALNET_DIR_MAX 88u

/* One node of a localnet, as its files describe it. */
struct localnet_node
{
    char home[HOME_PATH_MAX];            /* DIR/nodeI, absolute */
    char member[TDEI_MEMBER_ID_MAX + 1]; /* node.member */
    char p2p[CONFIG_TEXT_MAX];           /* p2p.listen, 127.0.0.1:PORT */
    char api[HOME_PATH_MAX];             /* the API socket path */
    pid_t pid;                           /* from node.pid; 0: none */
};

struct localnet
{
    char dir[HOME_PATH_MAX]; /* DIR, absolute */
    size_t count;            /* nodes, 1..LOCALNET_NODES_MAX */
    struct localnet_node nodes[LOCALNET_NODES_MAX];
};

/* Make @dir absolute (relative to the working directory) into @out
 * (HOME_PATH_MAX bytes) and check it: not empty, at most
 * LOCALNET_DIR_MAX bytes, not an existing non-directory.
 * Returns: 0 or TDEI_INVAL (errmsg says why). Changes nothing. */
int localnet_dir_resolve(char *out, const char *dir, char *errmsg);

/* Read the localnet in the absolute @dir into @ln: node0, node1... while
 * their config.ini exists, and their pid files.
 * Returns: 0; TDEI_NOTFOUND (no DIR/node0/config.ini); TDEI_INVAL (an
 * incomplete localnet: a home without genesis.json); TDEI_CONFIG or
 * TDEI_IOERR from a config.ini (errmsg names it). */
int localnet_open(struct localnet *ln, const char *dir, char *errmsg);

/* Create a localnet of @count nodes in the absolute @dir (created when
 * missing; it must hold nothing else): homes, keys, one genesis with
 * every member, config.ini of each with its p2p ports: @base_port + I, or
 * free loopback ports when @base_port is 0. With @sink, also the home
 * DIR/sink of member LOCALNET_SINK_ID (not a validator, no node).
 * Returns: 0; TDEI_INVAL (@dir is not empty: errmsg says so); TDEI_IOERR,
 * TDEI_NOMEM, TDEI_CRYPTO. On error what this call created is removed.
 * In: count 1..LOCALNET_NODES_MAX (asserted). */
int localnet_create(struct localnet *ln, const char *dir, size_t count,
                    uint16_t base_port, int sink, char *errmsg);

/* Whether @pid is a running tdei-node (by /proc/PID/exe); a child of this
 * process that has exited is reaped. */
int localnet_pid_alive(pid_t pid);

/* The index of the first node of @ln whose pid is alive, or ln->count. */
size_t localnet_running(const struct localnet *ln);

/* Start a tdei-node (@node_bin) on each home of @ln, detached (its own
 * session), output appended to node.log, pid into node.pid.
 * Returns: 0; TDEI_IOERR (*@failed is the node that did not start;
 * errmsg says why). Nodes started before it keep running: stop them
 * with localnet_stop. */
int localnet_start(struct localnet *ln, const char *node_bin, size_t *failed,
                   char *errmsg);

/* Wait until every node answers a status with height >= @height (0:
 * until it answers at all), for at most @timeout_ms.
 * Returns: 0; TDEI_TIMEOUT or TDEI_NOCONN (a node exited) with *@failed
 * its index and errmsg saying what happened. */
int localnet_wait(const struct localnet *ln, uint64_t height,
                  uint64_t timeout_ms, size_t *failed, char *errmsg);

/* Ask node @node for its height (a status call bounded by @timeout_ms).
 * Returns: 0 or the client's error code. */
int localnet_height(const struct localnet_node *node, uint32_t timeout_ms,
                    uint64_t *height);

/* Stop every node of @ln: SIGTERM to each live pid, wait up to
 * @timeout_ms for them to exit, then SIGKILL what is left; remove the
 * pid files. *@killed (may be NULL) gets how many needed SIGKILL. */
void localnet_stop(struct localnet *ln, uint64_t timeout_ms, size_t *killed);

/* Print the last @lines lines of node @node's log on @out.
 * Returns: 0 or TDEI_NOTFOUND (no log yet) / TDEI_IOERR. */
int localnet_log_tail(const struct localnet_node *node, size_t lines,
                      FILE *out);

/* Remove @dir and everything under it, without following links (the
 * scratch directory of `tdei bench`). */
void localnet_remove_dir(const char *dir);

/* Find the tdei-node binary: $TDEI_NODE_BIN, else tdei-node next to the
 * running program. Writes its path into @out (HOME_PATH_MAX bytes).
 * Returns: 0 or TDEI_NOTFOUND (errmsg names the path tried). */
int localnet_node_bin(char *out, char *errmsg);

#endif
