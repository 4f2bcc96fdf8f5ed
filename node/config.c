/* config.ini loading and writing from one table of keys (see config.h). */
#include "config.h"

#include "core/assert.h"
#include "core/error.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum config_type {
    CONFIG_MEMBER,    /* a member id */
    CONFIG_ROLE,      /* a role name */
    CONFIG_LOG_LEVEL, /* debug / verbose / notice / warning */
    CONFIG_BOOL,      /* true / false; an int field, 1 or 0 */
    CONFIG_U64,       /* an unsigned integer in [min, max] */
    CONFIG_TEXT,      /* text of at most CONFIG_TEXT_MAX - 1 bytes */
    CONFIG_LIST,      /* comma-separated text of at most CONFIG_LIST_MAX - 1
                         bytes; continuation lines append to it */
};

struct config_key {
    const char *section;
    const char *name;
    enum config_type type;
    size_t offset;          /* of the field in struct tdei_config */
    int required;           /* must appear in the file */
    uint64_t min;           /* CONFIG_U64: smallest accepted value */
    uint64_t max;           /* CONFIG_U64: largest accepted value */
    const char *default_text; /* as written by config_write */
    const char *doc;        /* one line for the comment and README */
};

#define CONFIG_KEYS_MAX 64

#define CONFIG_FIELD(name) offsetof(struct tdei_config, name)
#define CONFIG_MIB (1024ull * 1024ull)

static const struct config_key config_keys[] = {
    {"node", "member", CONFIG_MEMBER, CONFIG_FIELD(member), 1, 0, 0, "",
     "this member's id on the ledger ([a-z0-9-], 3-32 bytes)"},
    {"node", "role", CONFIG_ROLE, CONFIG_FIELD(role), 1, 0, 0, "",
     "this member's role: " TDEI_ROLE_NAMES},
    {"node", "log_level", CONFIG_LOG_LEVEL, CONFIG_FIELD(log_level), 0, 0, 0,
     "notice", "lowest level logged: debug, verbose, notice, warning"},
    {"node", "observer", CONFIG_BOOL, CONFIG_FIELD(observer), 0, 0, 0, "false",
     "true: follow and verify every block but never sign a proposal or "
     "vote, even with a key in the validator set (as tdei-node --observer)"},
    {"chain", "block_interval_ms", CONFIG_U64,
     CONFIG_FIELD(block_interval_ms), 0, 10, 60000, "200",
     "shortest time between two blocks (a block is made when txs wait)"},
    {"chain", "empty_block_interval_ms", CONFIG_U64,
     CONFIG_FIELD(empty_block_interval_ms), 0, 0, 3600000, "1000",
     "a proposer with no txs proposes an empty block this long after the "
     "last commit; 0: blocks only when txs wait (idle rounds then time out)"},
    {"consensus", "timeout_propose_ms", CONFIG_U64,
     CONFIG_FIELD(timeout_propose_ms), 0, 10, 600000, "3000",
     "how long a validator waits for the round's proposal, ms"},
    {"consensus", "timeout_propose_delta_ms", CONFIG_U64,
     CONFIG_FIELD(timeout_propose_delta_ms), 0, 0, 60000, "500",
     "added to timeout_propose_ms per round of a height, ms"},
    {"consensus", "timeout_prevote_ms", CONFIG_U64,
     CONFIG_FIELD(timeout_prevote_ms), 0, 10, 600000, "1000",
     "how long a validator waits for more prevotes once 2/3 arrived, ms"},
    {"consensus", "timeout_prevote_delta_ms", CONFIG_U64,
     CONFIG_FIELD(timeout_prevote_delta_ms), 0, 0, 60000, "500",
     "added to timeout_prevote_ms per round of a height, ms"},
    {"consensus", "timeout_precommit_ms", CONFIG_U64,
     CONFIG_FIELD(timeout_precommit_ms), 0, 10, 600000, "1000",
     "how long a validator waits for more precommits before the next "
     "round, ms"},
    {"consensus", "timeout_precommit_delta_ms", CONFIG_U64,
     CONFIG_FIELD(timeout_precommit_delta_ms), 0, 0, 60000, "500",
     "added to timeout_precommit_ms per round of a height, ms"},
    {"consensus", "gossip_interval_ms", CONFIG_U64,
     CONFIG_FIELD(gossip_interval_ms), 0, 50, 60000, "1000",
     "how often a validator sends its messages of the current height "
     "again, for peers that missed them, ms"},
    {"api", "socket", CONFIG_TEXT, CONFIG_FIELD(api_socket), 0, 0, 0,
     "api.sock",
     "client API Unix socket (mode 0600), relative to the home; empty: "
     "none"},
    {"api", "listen", CONFIG_TEXT, CONFIG_FIELD(api_listen), 0, 0, 0, "",
     "client API on TCP, 127.0.0.1:PORT only; empty: none"},
    {"api", "max_connections", CONFIG_U64,
     CONFIG_FIELD(api_max_connections), 0, 1, 4096, "64",
     "client API connections at once"},
    {"api", "max_frame", CONFIG_U64, CONFIG_FIELD(api_max_frame), 0, 1024,
     64 * CONFIG_MIB, "16777216", "largest client API frame, bytes"},
    {"store", "map_size_initial_mib", CONFIG_U64,
     CONFIG_FIELD(store_map_size_initial_mib), 0, 1, 16ull << 20, "256",
     "initial LMDB map size of the ledger, MiB"},
    {"store", "map_size_growth_mib", CONFIG_U64,
     CONFIG_FIELD(store_map_size_growth_mib), 0, 1, 16ull << 20, "256",
     "how much the map grows when it is full, MiB"},
    {"store", "map_size_max_mib", CONFIG_U64,
     CONFIG_FIELD(store_map_size_max_mib), 0, 1, 16ull << 20, "65536",
     "largest map size (the ledger's disk budget), MiB"},
    {"mempool", "max_txs", CONFIG_U64, CONFIG_FIELD(mempool_max_txs), 0, 1,
     10000000, "50000", "pending transactions at most"},
    {"mempool", "max_bytes", CONFIG_U64, CONFIG_FIELD(mempool_max_bytes), 0,
     64 * 1024, 64ull << 30, "67108864", "pending transaction bytes at most"},
    {"mempool", "max_per_signer", CONFIG_U64,
     CONFIG_FIELD(mempool_max_per_signer), 0, 1, 1000000, "1000",
     "pending transactions of one signer at most"},
    {"mempool", "nonce_window", CONFIG_U64,
     CONFIG_FIELD(mempool_nonce_window), 0, 1, 1000000, "1000",
     "how far a nonce may run ahead of the committed one"},
    {"mempool", "verify_inflight_max", CONFIG_U64,
     CONFIG_FIELD(mempool_verify_inflight_max), 0, 1, 65536, "1024",
     "signature verifications queued on worker threads at most"},
    {"mempool", "sig_cache_max", CONFIG_U64,
     CONFIG_FIELD(mempool_sig_cache_max), 0, 0, 1ull << 26, "0",
     "verified signatures remembered for block execution; 0: twice "
     "mempool.max_txs"},
    {"p2p", "listen", CONFIG_TEXT, CONFIG_FIELD(p2p_listen), 0, 0, 0, "",
     "peer-to-peer address HOST:PORT (IPv4); empty: accept no peers"},
    {"p2p", "peers", CONFIG_LIST, CONFIG_FIELD(p2p_peers), 0, 0, 0, "",
     "peers to dial, HOST:PORT separated by commas (continuation lines "
     "start with a space)"},
    {"p2p", "max_peers", CONFIG_U64, CONFIG_FIELD(p2p_max_peers), 0, 1, 1024,
     "128", "peer connections at once, handshakes included"},
    {"p2p", "max_frame", CONFIG_U64, CONFIG_FIELD(p2p_max_frame), 0, 1024,
     64 * CONFIG_MIB, "16777216", "largest peer frame, bytes"},
    {"p2p", "queue_bytes", CONFIG_U64, CONFIG_FIELD(p2p_queue_bytes), 0,
     64 * 1024, 1024 * CONFIG_MIB, "16777216",
     "send queue of one peer and channel at most, bytes; more is dropped"},
    {"p2p", "handshake_timeout_ms", CONFIG_U64,
     CONFIG_FIELD(p2p_handshake_timeout_ms), 0, 100, 600000, "5000",
     "a connection not authenticated by then is closed, ms"},
    {"p2p", "backoff_min_ms", CONFIG_U64, CONFIG_FIELD(p2p_backoff_min_ms), 0,
     10, 600000, "200", "first redial delay after a failure, ms"},
    {"p2p", "backoff_max_ms", CONFIG_U64, CONFIG_FIELD(p2p_backoff_max_ms), 0,
     10, 3600000, "10000", "longest redial delay, ms"},
    {"p2p", "ban_ms", CONFIG_U64, CONFIG_FIELD(p2p_ban_ms), 0, 0, 86400000,
     "60000", "how long a peer that sent invalid frames is refused, ms"},
    {"blobs", "map_size_max_mib", CONFIG_U64,
     CONFIG_FIELD(blobs_map_size_max_mib), 0, 1, 16ull << 20, "1048576",
     "largest map size of data/blobs (payload chunks), MiB"},
    {"payload", "parallel", CONFIG_U64, CONFIG_FIELD(payload_parallel), 0, 1,
     256, "16", "chunks one transfer has asked for and not received, at "
     "most"},
    {"payload", "request_timeout_ms", CONFIG_U64,
     CONFIG_FIELD(payload_request_timeout_ms), 0, 100, 600000, "5000",
     "a chunk asked for and not received by then is asked for again, ms"},
    {"stream", "batch_records", CONFIG_U64,
     CONFIG_FIELD(stream_batch_records), 0, 1, 10000, "1000",
     "records per stream batch at most (and at most params.stream_batch_max)"},
    {"stream", "batch_ms", CONFIG_U64, CONFIG_FIELD(stream_batch_ms), 0, 1,
     60000, "200", "a batch is cut when its first record has waited this "
     "long, ms"},
    {"stream", "record_max", CONFIG_U64, CONFIG_FIELD(stream_record_max), 0,
     1, 1024 * 1024, "16384", "largest stream record, bytes"},
    {"stream", "queue_records", CONFIG_U64,
     CONFIG_FIELD(stream_queue_records), 0, 1, 10000000, "200000",
     "records waiting to be batched at most, over all streams; more is "
     "refused with TDEI_BUSY"},
};

#define CONFIG_KEY_COUNT (sizeof(config_keys) / sizeof(config_keys[0]))
_Static_assert(CONFIG_KEY_COUNT <= CONFIG_KEYS_MAX, "raise CONFIG_KEYS_MAX");

static int config_set(struct tdei_config *cfg, const struct config_key *key,
                      const char *value, char *why, size_t why_size);

struct config_parse {
    struct tdei_config *cfg;
    char *errmsg;
    int seen[CONFIG_KEYS_MAX]; /* 1 once the key was set */
    int failed;
};

void config_defaults(struct tdei_config *cfg)
{
    char why[160];

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        if (!config_keys[i].required) {
            TDEI_ASSERT(config_set(cfg, &config_keys[i],
                                   config_keys[i].default_text, why,
                                   sizeof(why)) == 0);
        }
    }
}

static int config_set(struct tdei_config *cfg, const struct config_key *key,
                      const char *value, char *why, size_t why_size)
{
    char *field = (char *)cfg + key->offset;

    switch (key->type) {
    case CONFIG_MEMBER:
        if (tdei_member_id_check(value) != 0) {
            (void)snprintf(why, why_size,
                           "is not a member id ([a-z0-9-], 3-32 bytes)");
            return TDEI_CONFIG;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case CONFIG_ROLE:
        if (tdei_role_parse(value, (enum tdei_role *)(void *)field) != 0) {
            (void)snprintf(why, why_size, "is not one of %s",
                           TDEI_ROLE_NAMES);
            return TDEI_CONFIG;
        }
        return 0;
    case CONFIG_LOG_LEVEL:
        if (tdei_log_level_parse(value,
                                 (enum tdei_log_level *)(void *)field) != 0) {
            (void)snprintf(why, why_size,
                           "is not one of debug, verbose, notice, warning");
            return TDEI_CONFIG;
        }
        return 0;
    case CONFIG_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            (void)snprintf(why, why_size, "is not one of true, false");
            return TDEI_CONFIG;
        }
        memcpy(field, &(int){value[0] == 't'}, sizeof(int));
        return 0;
    case CONFIG_U64: {
        char *end = NULL;
        unsigned long long n;
        errno = 0;
        n = strtoull(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || errno != 0 ||
            *end != '\0' || n < key->min || n > key->max) {
            (void)snprintf(why, why_size, "is outside %llu-%llu",
                           (unsigned long long)key->min,
                           (unsigned long long)key->max);
            return TDEI_CONFIG;
        }
        memcpy(field, &(uint64_t){n}, sizeof(uint64_t));
        return 0;
    }
    case CONFIG_LIST: {
        /* A later line of the key (a continuation) appends. */
        size_t have = strlen(field);
        size_t add = strlen(value);
        if (have + (have > 0 && add > 0) + add >= CONFIG_LIST_MAX) {
            (void)snprintf(why, why_size, "makes the list longer than %d bytes",
                           CONFIG_LIST_MAX - 1);
            return TDEI_CONFIG;
        }
        if (have > 0 && add > 0) {
            field[have++] = ',';
        }
        memcpy(field + have, value, add + 1);
        return 0;
    }
    case CONFIG_TEXT:
        if (strlen(value) >= CONFIG_TEXT_MAX) {
            (void)snprintf(why, why_size, "is longer than %d bytes",
                           CONFIG_TEXT_MAX - 1);
            return TDEI_CONFIG;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    }
    TDEI_ASSERT(0);
    return TDEI_CONFIG;
}

/* inih handler: returns 1 to go on, 0 to stop at the first error. */
static int config_handler(void *user, const char *section, const char *name,
                          const char *value)
{
    struct config_parse *parse = user;
    char why[160];

    if (parse->failed != 0) {
        return 0; /* keep the first error */
    }
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        const struct config_key *key = &config_keys[i];
        if (strcmp(section, key->section) != 0 ||
            strcmp(name, key->name) != 0) {
            continue;
        }
        if (parse->seen[i] != 0 && key->type != CONFIG_LIST) {
            parse->failed =
                tdei_errorf(parse->errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                            "%s.%s is set twice; keep one", section, name);
            return 0;
        }
        parse->seen[i] = 1;
        if (config_set(parse->cfg, key, value, why, sizeof(why)) != 0) {
            parse->failed = tdei_errorf(parse->errmsg, TDEI_ERRMSG_SIZE,
                                        TDEI_CONFIG, "%s.%s=%.64s %s",
                                        section, name, value, why);
            return 0;
        }
        return 1;
    }
    parse->failed = tdei_errorf(parse->errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                                "unknown key [%s] %s; see `tdei-node "
                                "--config-help` for the keys",
                                section, name);
    return 0;
}

int config_load(struct tdei_config *cfg, const char *path, char *errmsg)
{
    struct config_parse parse = {.cfg = cfg, .errmsg = errmsg};
    FILE *f;
    int rc;

    config_defaults(cfg);
    f = fopen(path, "r");
    if (f == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "cannot open %s; create the home with `tdei "
                           "init`",
                           path);
    }
    rc = ini_parse_file(f, config_handler, &parse);
    fclose(f);
    if (parse.failed != 0) {
        /* inih returns the line of the first error, the handler's too. */
        config_defaults(cfg);
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, parse.failed, "%s:%d",
                            path, rc);
    }
    if (rc != 0) {
        config_defaults(cfg);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                           "%s:%d: not a key = value line or a [section]",
                           path, rc);
    }
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        if (config_keys[i].required && parse.seen[i] == 0) {
            config_defaults(cfg);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                               "%s: [%s] %s is required (%s)", path,
                               config_keys[i].section, config_keys[i].name,
                               config_keys[i].doc);
        }
    }
    return 0;
}

static const char *config_value_text(const struct tdei_config *cfg,
                                     const struct config_key *key,
                                     char *buf, size_t size)
{
    const char *field = (const char *)cfg + key->offset;

    switch (key->type) {
    case CONFIG_MEMBER:
        return field;
    case CONFIG_ROLE:
        return tdei_role_name(*(const enum tdei_role *)(const void *)field);
    case CONFIG_LOG_LEVEL:
        return tdei_log_level_name(
            *(const enum tdei_log_level *)(const void *)field);
    case CONFIG_BOOL:
        return *(const int *)(const void *)field ? "true" : "false";
    case CONFIG_U64: {
        uint64_t n;
        memcpy(&n, field, sizeof(n));
        (void)snprintf(buf, size, "%llu", (unsigned long long)n);
        return buf;
    }
    case CONFIG_TEXT:
    case CONFIG_LIST:
        return field;
    }
    TDEI_ASSERT(0);
    return "";
}

int config_write(const struct tdei_config *cfg, FILE *stream)
{
    const char *section = "";
    char buf[32];

    fprintf(stream, "# tdei node configuration. Every key is listed with "
                    "its default;\n# `tdei-node --config-help` describes "
                    "them.\n");
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        const struct config_key *key = &config_keys[i];
        const char *value = config_value_text(cfg, key, buf, sizeof(buf));
        if (strcmp(section, key->section) != 0) {
            section = key->section;
            fprintf(stream, "\n[%s]\n", section);
        }
        fprintf(stream, "# %s\n%s = %s\n", key->doc, key->name,
                value != NULL ? value : "");
    }
    return ferror(stream) ? TDEI_IOERR : 0;
}

void config_describe(FILE *stream)
{
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        const struct config_key *key = &config_keys[i];
        fprintf(stream, "%s.%s\t%s\t%s\n", key->section, key->name,
                key->required ? "(required)" : key->default_text, key->doc);
    }
}
