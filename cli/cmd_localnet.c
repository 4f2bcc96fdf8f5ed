/* tdei localnet: run a network of tdei-node processes on loopback
 * (localnet.h): up, status, down, logs, and the demo (demo.h). */
#include "cli.h"

#include "core/error.h"
#include "demo.h"
#include "localnet.h"

#include <stdio.h>
#include <string.h>

#define LOCALNET_DIR_DEFAULT ".tdei/localnet"
#define LOCALNET_WAIT_S_DEFAULT 30u
#define LOCALNET_STOP_MS 10000u /* SIGTERM, then SIGKILL after this */
#define LOCALNET_LINES_DEFAULT 20u
#define LOCALNET_FAIL_LINES 20u /* log lines shown when a node fails */

/* Resolve and open the localnet in --dir @dir_text for `tdei @what`: a
 * directory that holds none is a usage error. Returns an exit code. */
static int localnet_arg_open(const char *what, const char *dir_text,
                             struct localnet *ln)
{
    char dir[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc = localnet_dir_resolve(dir, dir_text, errmsg);

    if (rc == 0) {
        rc = localnet_open(ln, dir, errmsg);
    }
    if (rc == TDEI_INVAL || rc == TDEI_NOTFOUND) {
        return cli_usage_error(what, "%s", errmsg);
    }
    return rc != 0 ? cli_fail(rc, errmsg) : CLI_EXIT_OK;
}

/* Print the nodes of @ln (member, pid, state, height, addresses) as a
 * table, or as JSON when @json. Returns an exit code. */
static int localnet_print(const struct localnet *ln, int json)
{
    json_t *nodes = json ? json_array() : NULL;

    if (!json) {
        printf("localnet %s: %zu node%s\n%-6s %-8s %-8s %-7s %-7s %-21s %s\n",
               ln->dir, ln->count, ln->count == 1 ? "" : "s", "NODE", "MEMBER",
               "PID", "STATE", "HEIGHT", "P2P", "API");
    }
    for (size_t i = 0; i < ln->count; i++) {
        const struct localnet_node *n = &ln->nodes[i];
        int alive = localnet_pid_alive(n->pid);
        uint64_t height = 0;
        int answered = alive && localnet_height(n, 1000u, &height) == 0;
        char h[24] = "-";
        char pid[24] = "-";

        if (n->pid != 0) {
            (void)snprintf(pid, sizeof(pid), "%d", (int)n->pid);
        }
        if (answered) {
            (void)snprintf(h, sizeof(h), "%llu", (unsigned long long)height);
        }
        if (json) {
            (void)json_array_append_new(
                nodes, json_pack("{s:I, s:s, s:I, s:b, s:o, s:s, s:s}", "node",
                                 (json_int_t)i, "member", n->member, "pid",
                                 (json_int_t)n->pid, "running", alive, "height",
                                 answered ? json_integer((json_int_t)height)
                                          : json_null(),
                                 "p2p", n->p2p, "api", n->api));
        } else {
            printf("node%-2zu %-8s %-8s %-7s %-7s %-21s %s\n", i, n->member,
                   pid, alive ? "running" : "stopped", h, n->p2p, n->api);
        }
    }
    if (json) {
        return cli_print_json(json_pack("{s:s, s:I, s:o}", "dir", ln->dir,
                                        "count", (json_int_t)ln->count, "nodes",
                                        nodes));
    }
    return CLI_EXIT_OK;
}

/* A node of @ln failed to start or to reach its height: say which, show the
 * end of its log, stop every node. Returns CLI_EXIT_FAIL. */
static int localnet_up_failed(struct localnet *ln, size_t failed, int code,
                              const char *errmsg)
{
    (void)cli_fail(code, errmsg);
    fprintf(stderr, "last lines of %s/node.log:\n", ln->nodes[failed].home);
    (void)localnet_log_tail(&ln->nodes[failed], LOCALNET_FAIL_LINES, stderr);
    fprintf(stderr, "stopping the nodes started\n");
    localnet_stop(ln, LOCALNET_STOP_MS, NULL);
    return CLI_EXIT_FAIL;
}

int cli_localnet_start(struct localnet *ln, uint64_t height, uint64_t wait_ms)
{
    char node_bin[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    size_t failed = 0;
    int rc;

    rc = localnet_node_bin(node_bin, errmsg);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    rc = localnet_start(ln, node_bin, &failed, errmsg);
    if (rc == 0) {
        rc = localnet_wait(ln, height, wait_ms, &failed, errmsg);
    }
    if (rc != 0) {
        return localnet_up_failed(ln, failed, rc, errmsg);
    }
    return CLI_EXIT_OK;
}

/* Reuse the stopped localnet @ln for `up`: refuse a running one, a
 * different --nodes or a --base-port. Returns an exit code. */
static int localnet_up_reuse(const struct localnet *ln, uint64_t nodes,
                             uint64_t base_port)
{
    size_t running = localnet_running(ln);

    if (running < ln->count) {
        char errmsg[TDEI_ERRMSG_SIZE];
        (void)snprintf(errmsg, sizeof(errmsg),
                       "%.100s already runs a localnet (node%zu is pid %d); "
                       "stop it with `tdei localnet down --dir DIR`",
                       ln->dir, running, (int)ln->nodes[running].pid);
        return cli_fail(TDEI_EXISTS, errmsg);
    }
    if (nodes != 0 && nodes != ln->count) {
        return cli_usage_error("localnet up",
                               "%s holds a %zu-node localnet; give --nodes "
                               "%zu or another --dir",
                               ln->dir, ln->count, ln->count);
    }
    if (base_port != 0) {
        return cli_usage_error("localnet up",
                               "%s holds a localnet whose ports are in its "
                               "config.ini files; drop --base-port",
                               ln->dir);
    }
    return CLI_EXIT_OK;
}

int cli_localnet_create(const char *what, const char *dir_text, uint64_t nodes,
                        uint64_t base_port, int sink, struct localnet *ln)
{
    char dir[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    if (base_port != 0 && base_port + nodes - 1 > 65535u) {
        return cli_usage_error(what,
                               "--base-port %llu leaves no room for %llu "
                               "nodes; ports go up to 65535",
                               (unsigned long long)base_port,
                               (unsigned long long)nodes);
    }
    rc = localnet_dir_resolve(dir, dir_text, errmsg);
    if (rc == 0) {
        rc = localnet_create(ln, dir, (size_t)nodes, (uint16_t)base_port, sink,
                             errmsg);
    }
    if (rc == TDEI_INVAL) {
        return cli_usage_error(what, "%s", errmsg);
    }
    return rc != 0 ? cli_fail(rc, errmsg) : CLI_EXIT_OK;
}

static int localnet_up(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *dir_text = LOCALNET_DIR_DEFAULT;
    uint64_t nodes = 0, base_port = 0, wait_s = LOCALNET_WAIT_S_DEFAULT;
    uint64_t wait_height = 1;
    const struct cli_opt opts[] = {
        {.name = "nodes",
         .type = CLI_OPT_U64,
         .dest = &nodes,
         .meta = "N",
         .help = "how many validator nodes, default 4 (or the number "
                 "already in DIR)",
         .min = 1,
         .max = LOCALNET_NODES_MAX},
        {.name = "dir",
         .type = CLI_OPT_TEXT,
         .dest = &dir_text,
         .meta = "DIR",
         .help = "where the homes go, default " LOCALNET_DIR_DEFAULT},
        {.name = "base-port",
         .type = CLI_OPT_U64,
         .dest = &base_port,
         .meta = "P",
         .help = "p2p port of node0; node I gets P+I "
                 "(default: free ports)",
         .min = 1024,
         .max = 65535},
        {.name = "wait-timeout",
         .type = CLI_OPT_U64,
         .dest = &wait_s,
         .meta = "SECONDS",
         .help = "how long to wait for every node to "
                 "reach height H, default 30",
         .min = 1,
         .max = 3600},
        {.name = "wait-height",
         .type = CLI_OPT_U64,
         .dest = &wait_height,
         .meta = "H",
         .help = "the height every node must reach, default "
                 "1; 0: wait only until each node's API "
                 "answers",
         .min = 0,
         .max = 1000000},
    };
    const struct cli_spec spec = {
        .what = "localnet up",
        .about =
            "Create a network of N validators in DIR (homes DIR/node0.., "
            "one genesis,\np2p on 127.0.0.1), or reuse the stopped one "
            "there, start a tdei-node\nfor each in the background and "
            "wait until every node has committed\nheight H (1). Exit 1 when "
            "a node fails (its log is shown and every node\nstarted is "
            "stopped); 2 on bad usage.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct localnet ln;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char dir[HOME_PATH_MAX];
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = localnet_dir_resolve(dir, dir_text, errmsg);
    if (rc != 0) {
        return cli_usage_error(spec.what, "%s", errmsg);
    }
    rc = localnet_open(&ln, dir, errmsg);
    if (rc == 0) {
        rc = localnet_up_reuse(&ln, nodes, base_port);
        if (rc == CLI_EXIT_OK) {
            printf("restarting the %zu-node localnet in %s\n", ln.count, dir);
        }
    } else if (rc == TDEI_NOTFOUND) {
        rc = cli_localnet_create(spec.what, dir,
                                 nodes != 0 ? nodes : LOCALNET_NODES_DEFAULT,
                                 base_port, 0, &ln);
    } else {
        rc = cli_fail(rc, errmsg);
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_localnet_start(&ln, wait_height, wait_s * 1000u);
    }
    if (rc == CLI_EXIT_OK) {
        rc = localnet_print(&ln, ctx->json);
    }
    if (rc == CLI_EXIT_OK && !ctx->json) {
        printf("stop it with: tdei localnet down --dir %s\n", ln.dir);
    }
    return rc;
}

static int localnet_status(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *dir_text = LOCALNET_DIR_DEFAULT;
    int json = 0;
    const struct cli_opt opts[] = {
        {.name = "dir",
         .type = CLI_OPT_TEXT,
         .dest = &dir_text,
         .meta = "DIR",
         .help = "the localnet, default " LOCALNET_DIR_DEFAULT},
        {.name = "json",
         .type = CLI_OPT_FLAG,
         .dest = &json,
         .help = "print JSON (like tdei --json)"},
    };
    const struct cli_spec spec = {
        .what = "localnet status",
        .about = "Show each node of the localnet in DIR: member, pid, "
                 "running or\nstopped, height (asked of the node), p2p "
                 "address and API socket.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct localnet ln;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = localnet_arg_open(spec.what, dir_text, &ln);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    return localnet_print(&ln, json || ctx->json);
}

static int localnet_down(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *dir_text = LOCALNET_DIR_DEFAULT;
    const struct cli_opt opts[] = {
        {.name = "dir",
         .type = CLI_OPT_TEXT,
         .dest = &dir_text,
         .meta = "DIR",
         .help = "the localnet, default " LOCALNET_DIR_DEFAULT},
    };
    const struct cli_spec spec = {
        .what = "localnet down",
        .about = "Stop the nodes of the localnet in DIR: SIGTERM to each pid "
                 "of its\nnode.pid files that is a running tdei-node, SIGKILL "
                 "after 10 s, then\nremove the pid files. The data stays: "
                 "`localnet up` restarts it.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct localnet ln;
    size_t running = 0, killed = 0;
    int first;
    int rc;

    (void)ctx;
    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = localnet_arg_open(spec.what, dir_text, &ln);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    for (size_t i = 0; i < ln.count; i++) {
        running += (size_t)localnet_pid_alive(ln.nodes[i].pid);
    }
    localnet_stop(&ln, LOCALNET_STOP_MS, &killed);
    printf("stopped %zu of %zu nodes in %s%s\n", running, ln.count, ln.dir,
           killed > 0 ? " (some needed SIGKILL)" : "");
    return CLI_EXIT_OK;
}

static int localnet_logs(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *dir_text = LOCALNET_DIR_DEFAULT;
    uint64_t node = LOCALNET_NODES_MAX, lines = LOCALNET_LINES_DEFAULT;
    const struct cli_opt opts[] = {
        {.name = "dir",
         .type = CLI_OPT_TEXT,
         .dest = &dir_text,
         .meta = "DIR",
         .help = "the localnet, default " LOCALNET_DIR_DEFAULT},
        {.name = "node",
         .type = CLI_OPT_U64,
         .dest = &node,
         .meta = "I",
         .help = "only node I (default: every node)",
         .min = 0,
         .max = LOCALNET_NODES_MAX - 1},
        {.name = "lines",
         .type = CLI_OPT_U64,
         .dest = &lines,
         .meta = "N",
         .help = "lines from the end of each log, default 20",
         .min = 1,
         .max = 100000},
    };
    const struct cli_spec spec = {
        .what = "localnet logs",
        .about = "Print the end of each node's log (DIR/nodeI/node.log), or "
                 "of one node's.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct localnet ln;
    int first;
    int rc;

    (void)ctx;
    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = localnet_arg_open(spec.what, dir_text, &ln);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (node != LOCALNET_NODES_MAX && node >= ln.count) {
        return cli_usage_error(spec.what,
                               "--node %llu is outside 0-%zu (the localnet "
                               "has %zu nodes)",
                               (unsigned long long)node, ln.count - 1,
                               ln.count);
    }
    for (size_t i = 0; i < ln.count; i++) {
        if (node != LOCALNET_NODES_MAX && node != i) {
            continue;
        }
        printf("==> node%zu (%s): %s/node.log <==\n", i, ln.nodes[i].member,
               ln.nodes[i].home);
        if (localnet_log_tail(&ln.nodes[i], (size_t)lines, stdout) != 0) {
            printf("(no log yet)\n");
        }
    }
    return CLI_EXIT_OK;
}

int cli_cmd_localnet(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"up", localnet_up, "create or restart a localnet and start it"},
        {"status", localnet_status, "show each node: pid, height, addresses"},
        {"down", localnet_down, "stop the nodes of a localnet"},
        {"logs", localnet_logs, "print the end of the nodes' logs"},
        {"demo", cli_localnet_demo,
         "the data plane end to end: publish, fetch, stream, pay"},
    };

    return cli_dispatch(ctx, "localnet", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
