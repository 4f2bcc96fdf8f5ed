/* A local network of tdei-node processes (localnet.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "localnet.h"

#include "api/client.h"
#include "cli.h"
#include "core/assert.h"
#include "core/error.h"
#include "genesis.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOCALNET_TAIL_BYTES_MAX (1024u * 1024u) /* a log tail reads this */
#define LOCALNET_POLL_MS 100u                   /* how often waits look again */
#define LOCALNET_STATUS_MS 1000u                /* bound of one status call */
#define LOCALNET_KILL_WAIT_MS 2000u /* after SIGKILL, wait this long */

static int path_join(char *out, const char *dir, const char *name, char *errmsg)
{
    int n = snprintf(out, HOME_PATH_MAX, "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= HOME_PATH_MAX) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "a path under %.100s is too long", dir);
        return TDEI_INVAL;
    }
    return 0;
}

static int file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int localnet_dir_resolve(char *out, const char *dir, char *errmsg)
{
    char cwd[HOME_PATH_MAX];
    struct stat st;
    size_t len;

    if (dir[0] == '\0') {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "--dir is empty; name a "
                       "directory");
        return TDEI_INVAL;
    }
    if (dir[0] == '/') {
        (void)snprintf(out, HOME_PATH_MAX, "%s", dir);
    } else if (getcwd(cwd, sizeof(cwd)) == NULL ||
               path_join(out, cwd, dir, errmsg) != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "--dir %.200s: cannot make it an absolute path", dir);
        return TDEI_INVAL;
    }
    len = strlen(out);
    while (len > 1 && out[len - 1] == '/') {
        out[--len] = '\0';
    }
    if (len > LOCALNET_DIR_MAX) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "--dir %.100s is %zu bytes as an absolute path; at "
                       "most %u fit the nodes' API socket paths",
                       dir, len, LOCALNET_DIR_MAX);
        return TDEI_INVAL;
    }
    if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "--dir %.200s exists and is not a directory", dir);
        return TDEI_INVAL;
    }
    return 0;
}

/* ---- reading a localnet -------------------------------------------------- */

static pid_t pid_file_read(const char *home)
{
    char path[HOME_PATH_MAX];
    char text[32] = "";
    FILE *f;
    long v;
    char *end = NULL;

    if (home_path(path, home, "node.pid") != 0) {
        return 0;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fgets(text, sizeof(text), f) == NULL) {
        text[0] = '\0';
    }
    (void)fclose(f);
    v = strtol(text, &end, 10);
    if (end == text || (*end != '\n' && *end != '\0') || v <= 1 ||
        v > 0x3fffffffL) {
        return 0;
    }
    return (pid_t)v;
}

/* Fill @node from the home @home (config.ini read). */
static int node_read(struct localnet_node *node, const char *home, char *errmsg)
{
    struct tdei_config cfg;
    char path[HOME_PATH_MAX];
    int rc;

    memset(node, 0, sizeof(*node));
    (void)snprintf(node->home, sizeof(node->home), "%s", home);
    if (home_path(path, home, "genesis.json") != 0 || !file_exists(path)) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "%.100s has no genesis.json: an incomplete "
                       "localnet; remove the directory and run `tdei "
                       "localnet up` again",
                       home);
        return TDEI_INVAL;
    }
    (void)home_path(path, home, "config.ini");
    rc = config_load(&cfg, path, errmsg);
    if (rc != 0) {
        return rc;
    }
    memcpy(node->member, cfg.member, sizeof(node->member));
    memcpy(node->p2p, cfg.p2p_listen, sizeof(node->p2p));
    if (cfg.api_socket[0] == '/') {
        (void)snprintf(node->api, sizeof(node->api), "%s", cfg.api_socket);
    } else if (cfg.api_socket[0] != '\0') {
        (void)home_path(node->api, home, cfg.api_socket);
    } else {
        (void)snprintf(node->api, sizeof(node->api), "%s", cfg.api_listen);
    }
    node->pid = pid_file_read(home);
    return 0;
}

int localnet_open(struct localnet *ln, const char *dir, char *errmsg)
{
    char home[HOME_PATH_MAX];
    char name[16];
    char path[HOME_PATH_MAX];

    memset(ln, 0, sizeof(*ln));
    (void)snprintf(ln->dir, sizeof(ln->dir), "%s", dir);
    for (size_t i = 0; i < LOCALNET_NODES_MAX; i++) {
        int rc;

        (void)snprintf(name, sizeof(name), "node%zu", i);
        if (path_join(home, dir, name, errmsg) != 0 ||
            home_path(path, home, "config.ini") != 0 || !file_exists(path)) {
            break;
        }
        rc = node_read(&ln->nodes[i], home, errmsg);
        if (rc != 0) {
            return rc;
        }
        ln->count = i + 1;
    }
    if (ln->count == 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "%.90s holds no localnet (no node0/config.ini); "
                       "run `tdei localnet up --dir %.90s`",
                       dir, dir);
        return TDEI_NOTFOUND;
    }
    return 0;
}

/* ---- creating one -------------------------------------------------------- */

static int mkdir_p(const char *dir, char *errmsg)
{
    char path[HOME_PATH_MAX];

    (void)snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                               "cannot create %.200s: %s", path,
                               strerror(errno));
                return TDEI_IOERR;
            }
            *p = saved;
            if (saved == '\0') {
                return 0;
            }
        }
    }
}

/* 1 when @dir has no entries (or cannot be listed), else 0. */
static int dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;

    if (d == NULL) {
        return 1;
    }
    while (empty && (e = readdir(d)) != NULL) {
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    }
    (void)closedir(d);
    return empty;
}

static int rmtree_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

/* Remove @path and everything under it, without following links. */
static void rmtree(const char *path)
{
    (void)nftw(path, rmtree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void localnet_remove_dir(const char *dir) { rmtree(dir); }

/* Remove the homes of @ln (after a failed create). */
static void localnet_remove(const struct localnet *ln)
{
    char path[HOME_PATH_MAX];
    char scratch[TDEI_ERRMSG_SIZE];

    for (size_t i = 0; i < ln->count; i++) {
        rmtree(ln->nodes[i].home);
    }
    if (path_join(path, ln->dir, "sink", scratch) == 0) {
        rmtree(path);
    }
}

/* Ports are picked below the kernel's ephemeral range (its low end from
 * /proc/sys/net/ipv4/ip_local_port_range, 32768 by default): a port from
 * that range, free when picked, could be taken by any outgoing
 * connection (the nodes' own dials included) before its node binds it. */
#define LOCALNET_PORT_LOW 20000u
#define LOCALNET_EPHEMERAL_LOW_DEFAULT 32768u

static unsigned ports_ephemeral_low(void)
{
    unsigned low = LOCALNET_EPHEMERAL_LOW_DEFAULT;
    unsigned high = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

    if (f != NULL) {
        if (fscanf(f, "%u %u", &low, &high) != 2 || low > 65535u) {
            low = LOCALNET_EPHEMERAL_LOW_DEFAULT;
        }
        (void)fclose(f);
    }
    return low;
}

/* Bind 127.0.0.1:@port to see that it is free; the socket stays open in
 * *fd so that the ports picked are distinct. */
static int port_try(unsigned port, int *fd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    if (*fd < 0) {
        return -1;
    }
    if (bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        (void)close(*fd);
        *fd = -1;
        return -1;
    }
    return 0;
}

/* Free loopback ports for @count nodes, from a random place in
 * [LOCALNET_PORT_LOW, ephemeral low), all held at once, so distinct. */
static int ports_pick(uint16_t *ports, size_t count, char *errmsg)
{
    int fds[LOCALNET_NODES_MAX];
    unsigned high = ports_ephemeral_low();
    unsigned span = high > LOCALNET_PORT_LOW ? high - LOCALNET_PORT_LOW : 0;
    unsigned start = span > 0 ? randombytes_uniform(span) : 0;
    size_t open_count = 0;

    for (unsigned i = 0; i < span && open_count < count; i++) {
        unsigned port = LOCALNET_PORT_LOW + (start + i) % span;
        if (port_try(port, &fds[open_count]) == 0) {
            ports[open_count++] = (uint16_t)port;
        }
    }
    for (size_t i = 0; i < open_count; i++) {
        (void)close(fds[i]);
    }
    if (open_count < count) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "cannot find %zu free ports on 127.0.0.1 in "
                       "%u-%u; give --base-port",
                       count, LOCALNET_PORT_LOW, high - 1);
        return TDEI_IOERR;
    }
    return 0;
}

static const char *member_role_name(size_t index)
{
    if (index == 0) {
        return "public_service";
    }
    return index % 2 == 1 ? "manufacturer" : "platform";
}

static void member_id(char *out, size_t size, size_t index)
{
    static const char *const prefixes[] = {"svc", "mfg", "plat"};
    size_t kind = index == 0 ? 0 : (index % 2 == 1 ? 1 : 2);

    (void)snprintf(out, size, "%s-%zu", prefixes[kind], index);
}

/* Create the home @home of @member_text and add it to @g. */
static int member_home_create(struct genesis *g, const char *home,
                              const char *member_text, const char *role_text,
                              int validator, char *errmsg)
{
    struct genesis_member m;
    struct home_identity id;
    enum tdei_role role;
    int rc;

    TDEI_ASSERT(tdei_role_parse(role_text, &role) == 0);
    rc = home_create(home, member_text, role, NULL, &id, errmsg);
    if (rc != 0) {
        return rc;
    }
    memset(&m, 0, sizeof(m));
    memcpy(m.id, id.member, sizeof(m.id));
    m.role = id.role;
    memcpy(m.node_key, id.node_key, sizeof(m.node_key));
    memcpy(m.operator_keys[0], id.operator_key, TDEI_PUBKEY_SIZE);
    m.operator_key_count = 1;
    memcpy(m.encryption_key, id.encryption_key, sizeof(m.encryption_key));
    m.validator = validator;
    m.balance = LOCALNET_BALANCE;
    return genesis_member_add(g, &m, errmsg);
}

/* Copy the file @from to @to (mode 0644), byte for byte. */
static int file_copy(const char *from, const char *to, char *errmsg)
{
    char buf[65536];
    FILE *in = fopen(from, "rb");
    FILE *out = in != NULL ? fopen(to, "wb") : NULL;
    size_t n;
    int rc = 0;

    while (out != NULL && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (fwrite(buf, 1, n, out) != n) {
            rc = TDEI_IOERR;
        }
    }
    if (in == NULL || out == NULL || ferror(in) || fclose(out) != 0) {
        rc = TDEI_IOERR;
    }
    if (in != NULL) {
        (void)fclose(in);
    }
    if (rc != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "cannot copy %.90s to "
                       "%.90s",
                       from, to);
    }
    return rc;
}

/* Write the p2p keys of node @index into its config.ini. */
static int node_config_write(const struct localnet *ln, size_t index,
                             const uint16_t *ports, char *errmsg)
{
    struct tdei_config cfg;
    char path[HOME_PATH_MAX];
    char tmp[HOME_PATH_MAX + 8];
    size_t used = 0;
    FILE *f;
    int rc;

    (void)home_path(path, ln->nodes[index].home, "config.ini");
    rc = config_load(&cfg, path, errmsg);
    if (rc != 0) {
        return rc;
    }
    (void)snprintf(cfg.p2p_listen, sizeof(cfg.p2p_listen), "127.0.0.1:%u",
                   (unsigned)ports[index]);
    cfg.p2p_peers[0] = '\0';
    for (size_t i = 0; i < ln->count; i++) {
        if (i != index) {
            used += (size_t)snprintf(
                cfg.p2p_peers + used, sizeof(cfg.p2p_peers) - used,
                "%s127.0.0.1:%u", used > 0 ? "," : "", (unsigned)ports[i]);
        }
    }
    cfg.log_level = TDEI_LOG_NOTICE;
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL || config_write(&cfg, f) != 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "cannot write %.200s: %s",
                       path, strerror(errno));
        (void)remove(tmp);
        return TDEI_IOERR;
    }
    return 0;
}

/* The homes and the genesis (saved to node0, copied to the others). */
static int homes_create(struct localnet *ln, int sink, char *errmsg)
{
    struct genesis g;
    char home[HOME_PATH_MAX];
    char first[HOME_PATH_MAX];
    char path[HOME_PATH_MAX];
    char member[TDEI_MEMBER_ID_MAX + 1];
    struct timespec now;
    int rc = 0;

    memset(&g, 0, sizeof(g));
    (void)snprintf(g.chain_id, sizeof(g.chain_id), "%s", LOCALNET_CHAIN_ID);
    (void)clock_gettime(CLOCK_REALTIME, &now);
    g.time_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    genesis_params_default(&g.params);
    for (size_t i = 0; rc == 0 && i < ln->count; i++) {
        member_id(member, sizeof(member), i);
        rc = member_home_create(&g, ln->nodes[i].home, member,
                                member_role_name(i), 1, errmsg);
    }
    if (rc == 0 && sink) {
        (void)path_join(home, ln->dir, "sink", errmsg);
        rc = member_home_create(&g, home, LOCALNET_SINK_ID, "platform", 0,
                                errmsg);
    }
    (void)home_path(first, ln->nodes[0].home, "genesis.json");
    if (rc == 0) {
        rc = genesis_save(&g, first, errmsg);
    }
    genesis_free(&g);
    for (size_t i = 1; rc == 0 && i < ln->count; i++) {
        (void)home_path(path, ln->nodes[i].home, "genesis.json");
        rc = file_copy(first, path, errmsg);
    }
    return rc;
}

int localnet_create(struct localnet *ln, const char *dir, size_t count,
                    uint16_t base_port, int sink, char *errmsg)
{
    uint16_t ports[LOCALNET_NODES_MAX];
    char name[16];
    int rc;

    TDEI_ASSERT(count >= 1 && count <= LOCALNET_NODES_MAX);
    TDEI_ASSERT(base_port == 0 || base_port + count - 1 <= 65535u);
    memset(ln, 0, sizeof(*ln));
    (void)snprintf(ln->dir, sizeof(ln->dir), "%s", dir);
    ln->count = count;
    if (!dir_empty(dir)) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "--dir %.100s is not empty and holds no localnet; "
                       "name a new or empty directory",
                       dir);
        return TDEI_INVAL;
    }
    for (size_t i = 0; i < count; i++) {
        ports[i] = (uint16_t)(base_port + i);
        (void)snprintf(name, sizeof(name), "node%zu", i);
        (void)path_join(ln->nodes[i].home, dir, name, errmsg);
    }
    rc = mkdir_p(dir, errmsg);
    if (rc == 0 && base_port == 0) {
        rc = ports_pick(ports, count, errmsg);
    }
    if (rc == 0) {
        rc = homes_create(ln, sink, errmsg);
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = node_config_write(ln, i, ports, errmsg);
    }
    if (rc != 0) {
        localnet_remove(ln);
        return rc;
    }
    return localnet_open(ln, dir, errmsg);
}

/* ---- processes ----------------------------------------------------------- */

int localnet_pid_alive(pid_t pid)
{
    char link[64];
    char exe[HOME_PATH_MAX];
    const char *base;
    ssize_t n;

    if (pid <= 1) {
        return 0;
    }
    (void)waitpid(pid, NULL, WNOHANG); /* reap our own exited child */
    (void)snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
    n = readlink(link, exe, sizeof(exe) - 1);
    if (n <= 0) {
        return 0;
    }
    exe[n] = '\0';
    /* A binary replaced since it started reads "... (deleted)". */
    if ((size_t)n > strlen(" (deleted)") &&
        strcmp(exe + n - strlen(" (deleted)"), " (deleted)") == 0) {
        exe[n - (ssize_t)strlen(" (deleted)")] = '\0';
    }
    base = strrchr(exe, '/');
    return strcmp(base != NULL ? base + 1 : exe, "tdei-node") == 0;
}

size_t localnet_running(const struct localnet *ln)
{
    for (size_t i = 0; i < ln->count; i++) {
        if (localnet_pid_alive(ln->nodes[i].pid)) {
            return i;
        }
    }
    return ln->count;
}

int localnet_node_bin(char *out, char *errmsg)
{
    const char *env = getenv("TDEI_NODE_BIN");
    char self[HOME_PATH_MAX];
    char *slash;
    ssize_t n;

    if (env != NULL && env[0] != '\0') {
        (void)snprintf(out, HOME_PATH_MAX, "%s", env);
    } else {
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[n > 0 ? n : 0] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
        (void)snprintf(out, HOME_PATH_MAX, "%.4000s/tdei-node", self);
    }
    if (access(out, X_OK) != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "cannot run tdei-node at %.120s: %s; install it next "
                       "to tdei or set TDEI_NODE_BIN",
                       out, strerror(errno));
        return TDEI_NOTFOUND;
    }
    return 0;
}

static int pid_file_write(const char *home, pid_t pid, char *errmsg)
{
    char path[HOME_PATH_MAX];
    char tmp[HOME_PATH_MAX + 8];
    FILE *f;

    (void)home_path(path, home, "node.pid");
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "cannot write %.200s: %s",
                       path, strerror(errno));
        (void)remove(tmp);
        return TDEI_IOERR;
    }
    return 0;
}

/* In the child: a session of its own, stdin from /dev/null, output to
 * @log_fd, then exec. On failure the errno goes up @report. */
static void child_exec(const char *node_bin, const char *home, int log_fd,
                       int report)
{
    char *const args[] = {(char *)(uintptr_t)node_bin, "--home",
                          (char *)(uintptr_t)home, NULL};
    int null_fd = open("/dev/null", O_RDONLY);
    int err;

    (void)setsid();
    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
        dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0) {
        err = errno;
    } else {
        (void)execv(node_bin, args);
        err = errno;
    }
    (void)write(report, &err, sizeof(err));
    _exit(127);
}

/* Start one node; its pid into node->pid and node.pid. */
static int node_start(struct localnet_node *node, const char *node_bin,
                      char *errmsg)
{
    char log_path[HOME_PATH_MAX];
    int report[2];
    int log_fd;
    int err = 0;
    pid_t pid;

    (void)home_path(log_path, node->home, "node.log");
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0 || pipe(report) != 0 ||
        fcntl(report[1], F_SETFD, FD_CLOEXEC) != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "cannot open %.200s: %s",
                       log_path, strerror(errno));
        if (log_fd >= 0) {
            (void)close(log_fd);
        }
        return TDEI_IOERR;
    }
    pid = fork();
    if (pid == 0) {
        child_exec(node_bin, node->home, log_fd, report[1]);
    }
    (void)close(report[1]);
    (void)close(log_fd);
    /* EOF: the exec succeeded (the pipe closed on exec). */
    if (pid > 0 && read(report[0], &err, sizeof(err)) == (ssize_t)sizeof(err)) {
        (void)waitpid(pid, NULL, 0);
        pid = -1;
    } else if (pid < 0) {
        err = errno;
    }
    (void)close(report[0]);
    if (pid < 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "cannot start %.200s: %s",
                       node_bin, strerror(err));
        return TDEI_IOERR;
    }
    node->pid = pid;
    return pid_file_write(node->home, pid, errmsg);
}

int localnet_start(struct localnet *ln, const char *node_bin, size_t *failed,
                   char *errmsg)
{
    for (size_t i = 0; i < ln->count; i++) {
        int rc = node_start(&ln->nodes[i], node_bin, errmsg);
        if (rc != 0) {
            *failed = i;
            return rc;
        }
    }
    return 0;
}

int localnet_height(const struct localnet_node *node, uint32_t timeout_ms,
                    uint64_t *height)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    struct api_client client;
    char errmsg[TDEI_ERRMSG_SIZE];
    int rc;

    *height = 0;
    rc = api_client_connect(&client, node->api, timeout_ms, TDEI_API_FRAME_MAX,
                            errmsg);
    if (rc != 0) {
        return rc;
    }
    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = api_client_call(&client, &req, &resp, errmsg);
    api_client_close(&client);
    if (rc == 0 && (resp->code != 0 || resp->status == NULL)) {
        rc = resp->code != 0 ? (int)resp->code : TDEI_MALFORMED;
    }
    if (rc == 0) {
        *height = resp->status->height;
    }
    api_client_response_free(resp);
    return rc;
}

int localnet_wait(const struct localnet *ln, uint64_t height,
                  uint64_t timeout_ms, size_t *failed, char *errmsg)
{
    uint64_t deadline = cli_mono_ms() + timeout_ms;
    int ready[LOCALNET_NODES_MAX] = {0};
    size_t ready_count = 0;

    while (ready_count < ln->count) {
        for (size_t i = 0; i < ln->count; i++) {
            const struct localnet_node *node = &ln->nodes[i];
            uint64_t at;

            if (ready[i]) {
                continue;
            }
            if (!localnet_pid_alive(node->pid)) {
                *failed = i;
                (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                               "node%zu (%s, pid %d) exited before it "
                               "reached height %llu",
                               i, node->member, (int)node->pid,
                               (unsigned long long)height);
                return TDEI_NOCONN;
            }
            if (localnet_height(node, LOCALNET_STATUS_MS, &at) == 0 &&
                at >= height) {
                ready[i] = 1;
                ready_count++;
            } else if (cli_mono_ms() >= deadline) {
                *failed = i;
                (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                               "node%zu (%s, pid %d) did not reach height "
                               "%llu within %llu ms; raise --wait-timeout or "
                               "see its log",
                               i, node->member, (int)node->pid,
                               (unsigned long long)height,
                               (unsigned long long)timeout_ms);
                return TDEI_TIMEOUT;
            }
        }
        if (ready_count < ln->count) {
            cli_sleep_ms(LOCALNET_POLL_MS);
        }
    }
    return 0;
}

/* Wait until no node of @ln is alive or @timeout_ms passed. Returns the
 * number still alive. */
static size_t stop_wait(const struct localnet *ln, uint64_t timeout_ms)
{
    uint64_t deadline = cli_mono_ms() + timeout_ms;
    size_t alive;

    for (;;) {
        alive = 0;
        for (size_t i = 0; i < ln->count; i++) {
            alive += (size_t)localnet_pid_alive(ln->nodes[i].pid);
        }
        if (alive == 0 || cli_mono_ms() >= deadline) {
            return alive;
        }
        cli_sleep_ms(LOCALNET_POLL_MS / 2);
    }
}

/* Send @sig to every node of @ln that is alive. Returns how many. */
static size_t signal_alive(const struct localnet *ln, int sig)
{
    size_t sent = 0;

    for (size_t i = 0; i < ln->count; i++) {
        if (localnet_pid_alive(ln->nodes[i].pid) &&
            kill(ln->nodes[i].pid, sig) == 0) {
            sent++;
        }
    }
    return sent;
}

void localnet_stop(struct localnet *ln, uint64_t timeout_ms, size_t *killed)
{
    char path[HOME_PATH_MAX];
    size_t left;

    (void)signal_alive(ln, SIGTERM);
    left = stop_wait(ln, timeout_ms);
    if (left > 0) {
        left = signal_alive(ln, SIGKILL);
        (void)stop_wait(ln, LOCALNET_KILL_WAIT_MS);
    }
    if (killed != NULL) {
        *killed = left;
    }
    for (size_t i = 0; i < ln->count; i++) {
        if (!localnet_pid_alive(ln->nodes[i].pid) &&
            home_path(path, ln->nodes[i].home, "node.pid") == 0) {
            (void)remove(path);
            ln->nodes[i].pid = 0;
        }
    }
}

int localnet_log_tail(const struct localnet_node *node, size_t lines, FILE *out)
{
    char path[HOME_PATH_MAX];
    struct stat st;
    char *buf;
    size_t size;
    size_t start;
    size_t seen = 0;
    FILE *f;

    (void)home_path(path, node->home, "node.log");
    f = fopen(path, "rb");
    if (f == NULL) {
        return errno == ENOENT ? TDEI_NOTFOUND : TDEI_IOERR;
    }
    if (fstat(fileno(f), &st) != 0) {
        (void)fclose(f);
        return TDEI_IOERR;
    }
    size = (size_t)st.st_size;
    if (size > LOCALNET_TAIL_BYTES_MAX) {
        (void)fseek(f, (long)(size - LOCALNET_TAIL_BYTES_MAX), SEEK_SET);
        size = LOCALNET_TAIL_BYTES_MAX;
    }
    buf = malloc(size + 1);
    if (buf == NULL) {
        (void)fclose(f);
        return TDEI_NOMEM;
    }
    size = fread(buf, 1, size, f);
    (void)fclose(f);
    start = size;
    /* Step back over @lines newlines; a last line without one counts. */
    if (start > 0 && buf[start - 1] == '\n') {
        start--;
    }
    while (start > 0 && seen < lines) {
        if (buf[start - 1] == '\n') {
            seen++;
            if (seen == lines) {
                break;
            }
        }
        start--;
    }
    (void)fwrite(buf + start, 1, size - start, out);
    if (size > 0 && buf[size - 1] != '\n') {
        (void)fputc('\n', out);
    }
    free(buf);
    return 0;
}
