/* tdei genesis: assemble and show genesis.json (node/genesis.h). */
#include "cli.h"

#include "core/error.h"
#include "core/hex.h"
#include "genesis.h"
#include "home.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GENESIS_PATH_MAX 4096

/* The genesis file: --file FILE, else HOME/genesis.json. */
static int genesis_path(const struct cli_ctx *ctx, const char *file,
                        char out[GENESIS_PATH_MAX])
{
    if (file != NULL) {
        if (strlen(file) >= GENESIS_PATH_MAX) {
            return cli_usage_error("genesis", "--file path is too long");
        }
        memcpy(out, file, strlen(file) + 1);
        return 0;
    }
    if (home_path(out, ctx->home, "genesis.json") != 0) {
        return cli_usage_error("genesis", "--home path is too long");
    }
    return 0;
}

static int genesis_new(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"chain-id", required_argument, NULL, 'c'},
        {"time-ms", required_argument, NULL, 't'},
        {"file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *chain_id = NULL;
    const char *file = NULL;
    char path[GENESIS_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct genesis g;
    struct timespec now;
    uint64_t time_ms = 0;
    int have_time = 0;
    int opt;
    int rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            chain_id = optarg;
            break;
        case 't':
            if (cli_parse_u64(optarg, &time_ms) != 0) {
                return cli_usage_error("genesis new",
                                       "--time-ms '%s' is not a number of "
                                       "milliseconds since 1970",
                                       optarg);
            }
            have_time = 1;
            break;
        case 'f':
            file = optarg;
            break;
        case 'h':
            printf("usage: tdei [--home DIR] genesis new --chain-id ID "
                   "[--time-ms MS] [--file FILE]\n\n"
                   "Start a genesis file with no members yet (default "
                   "DIR/genesis.json).\nAdd members with `tdei genesis "
                   "add-member`.\n\n"
                   "  --chain-id ID  the network's id ([a-z0-9-], 1-64 "
                   "bytes)\n"
                   "  --time-ms MS   genesis time (default: now)\n"
                   "  --file FILE    the file to create\n");
            return CLI_EXIT_OK;
        default:
            return cli_option_error("genesis new", opt, argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("genesis new", "unexpected argument '%s'",
                               argv[optind]);
    }
    if (chain_id == NULL || tdei_chain_id_check(chain_id) != 0) {
        return cli_usage_error("genesis new",
                               "--chain-id must be 1-64 bytes of [a-z0-9-]");
    }
    rc = genesis_path(ctx, file, path);
    if (rc != 0) {
        return rc;
    }
    if (access(path, F_OK) == 0) {
        return cli_fail(TDEI_EXISTS, "the genesis file already exists; "
                                     "remove it first or use --file");
    }
    if (!have_time) {
        (void)clock_gettime(CLOCK_REALTIME, &now);
        time_ms = (uint64_t)now.tv_sec * 1000u +
                  (uint64_t)now.tv_nsec / 1000000u;
    }
    memset(&g, 0, sizeof(g));
    memcpy(g.chain_id, chain_id, strlen(chain_id) + 1);
    g.time_ms = time_ms;
    genesis_params_default(&g.params);
    rc = genesis_save(&g, path, errmsg);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    printf("created %s for chain %s\n", path, chain_id);
    return CLI_EXIT_OK;
}

struct add_member_args {
    const char *from_home;
    const char *id;
    const char *role;
    const char *node_key;
    const char *operator_key;
    const char *encryption_key;
    const char *name;
    const char *file;
    uint64_t balance;
    int validator;
};

/* Fill @m from --from-home or from the explicit key options. */
static int add_member_fill(struct genesis_member *m,
                           const struct add_member_args *a)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct home_identity id;
    int rc;

    memset(m, 0, sizeof(*m));
    if (a->from_home != NULL) {
        if (a->id != NULL || a->node_key != NULL ||
            a->operator_key != NULL || a->encryption_key != NULL) {
            return cli_usage_error("genesis add-member",
                                   "--from-home takes the id and keys from "
                                   "the home; drop --id and the --*-key "
                                   "options");
        }
        rc = home_identity_load(a->from_home, &id, errmsg);
        if (rc != 0) {
            return cli_fail(rc, errmsg);
        }
        memcpy(m->id, id.member, sizeof(m->id));
        m->role = id.role;
        memcpy(m->node_key, id.node_key, sizeof(m->node_key));
        memcpy(m->operator_keys[0], id.operator_key, TDEI_PUBKEY_SIZE);
        memcpy(m->encryption_key, id.encryption_key,
               sizeof(m->encryption_key));
    } else {
        if (a->id == NULL || a->role == NULL || a->node_key == NULL ||
            a->operator_key == NULL || a->encryption_key == NULL) {
            return cli_usage_error("genesis add-member",
                                   "give --from-home DIR, or --id, --role, "
                                   "--node-key, --operator-key and "
                                   "--encryption-key");
        }
        if (tdei_member_id_check(a->id) != 0) {
            return cli_usage_error("genesis add-member",
                                   "--id '%s' is not 3-32 bytes of "
                                   "[a-z0-9-]",
                                   a->id);
        }
        memcpy(m->id, a->id, strlen(a->id) + 1);
        if (tdei_hex_decode(m->node_key, 32, a->node_key) != 0 ||
            tdei_hex_decode(m->operator_keys[0], 32, a->operator_key) != 0 ||
            tdei_hex_decode(m->encryption_key, 32, a->encryption_key) != 0) {
            return cli_usage_error("genesis add-member",
                                   "--node-key, --operator-key and "
                                   "--encryption-key take 64 hex digits");
        }
        if (tdei_pubkey_check(m->node_key) != 0 ||
            tdei_pubkey_check(m->operator_keys[0]) != 0) {
            return cli_fail(TDEI_BADKEY, "--node-key or --operator-key is "
                                         "not a valid x-only secp256k1 "
                                         "key");
        }
    }
    if (a->role != NULL && tdei_role_parse(a->role, &m->role) != 0) {
        return cli_usage_error("genesis add-member",
                               "--role '%s' is not one of %s", a->role,
                               TDEI_ROLE_NAMES);
    }
    m->operator_key_count = 1;
    if (a->name != NULL) {
        if (strlen(a->name) > GENESIS_NAME_MAX) {
            return cli_usage_error("genesis add-member",
                                   "--name is longer than %u bytes",
                                   GENESIS_NAME_MAX);
        }
        memcpy(m->name, a->name, strlen(a->name) + 1);
    }
    m->validator = a->validator;
    m->balance = a->balance;
    return 0;
}

static int genesis_add_member(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"from-home", required_argument, NULL, 'H'},
        {"id", required_argument, NULL, 'i'},
        {"role", required_argument, NULL, 'r'},
        {"node-key", required_argument, NULL, 'n'},
        {"operator-key", required_argument, NULL, 'o'},
        {"encryption-key", required_argument, NULL, 'e'},
        {"name", required_argument, NULL, 'N'},
        {"balance", required_argument, NULL, 'b'},
        {"validator", no_argument, NULL, 'v'},
        {"file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct add_member_args a = {0};
    struct genesis_member m;
    struct genesis g;
    char path[GENESIS_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int opt;
    int rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'H':
            a.from_home = optarg;
            break;
        case 'i':
            a.id = optarg;
            break;
        case 'r':
            a.role = optarg;
            break;
        case 'n':
            a.node_key = optarg;
            break;
        case 'o':
            a.operator_key = optarg;
            break;
        case 'e':
            a.encryption_key = optarg;
            break;
        case 'N':
            a.name = optarg;
            break;
        case 'b':
            if (cli_parse_u64(optarg, &a.balance) != 0 ||
                a.balance > (uint64_t)INT64_MAX) {
                return cli_usage_error("genesis add-member",
                                       "--balance '%s' is not a whole "
                                       "number of credits (0-%lld)",
                                       optarg, (long long)INT64_MAX);
            }
            break;
        case 'v':
            a.validator = 1;
            break;
        case 'f':
            a.file = optarg;
            break;
        case 'h':
            printf("usage: tdei [--home DIR] genesis add-member "
                   "(--from-home HOME | --id ID --role ROLE\n"
                   "         --node-key HEX --operator-key HEX "
                   "--encryption-key HEX)\n"
                   "         [--name NAME] [--balance N] [--validator] "
                   "[--file FILE]\n\n"
                   "Add a member to the genesis file (default "
                   "DIR/genesis.json).\n\n"
                   "  --from-home HOME  take id, role and keys from a node "
                   "home\n"
                   "  --role ROLE       %s\n"
                   "  --balance N       initial credits (default 0)\n"
                   "  --validator       the member's node votes in "
                   "consensus\n",
                   TDEI_ROLE_NAMES);
            return CLI_EXIT_OK;
        default:
            return cli_option_error("genesis add-member", opt, argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("genesis add-member",
                               "unexpected argument '%s'", argv[optind]);
    }
    rc = add_member_fill(&m, &a);
    if (rc != 0) {
        return rc;
    }
    rc = genesis_path(ctx, a.file, path);
    if (rc != 0) {
        return rc;
    }
    rc = genesis_load(&g, path, GENESIS_DRAFT, errmsg);
    if (rc == 0) {
        rc = genesis_member_add(&g, &m, errmsg);
    }
    if (rc == 0) {
        rc = genesis_save(&g, path, errmsg);
    }
    genesis_free(&g);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    printf("added %s (%s%s) to %s\n", m.id, tdei_role_name(m.role),
           m.validator ? ", validator" : "", path);
    return CLI_EXIT_OK;
}

static int genesis_show(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    char path[GENESIS_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char hex[TDEI_HEX_SIZE(32)];
    struct genesis g;
    int opt;
    int rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            file = optarg;
            break;
        case 'h':
            printf("usage: tdei [--home DIR] [--json] genesis show "
                   "[--file FILE]\n\n"
                   "Check a genesis file as a node would and print it: "
                   "chain id,\ntime, hash and members. A file still "
                   "missing members or a\nvalidator is refused.\n");
            return CLI_EXIT_OK;
        default:
            return cli_option_error("genesis show", opt, argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("genesis show", "unexpected argument '%s'",
                               argv[optind]);
    }
    rc = genesis_path(ctx, file, path);
    if (rc != 0) {
        return rc;
    }
    rc = genesis_load(&g, path, 0, errmsg);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    (void)tdei_hex_encode(hex, sizeof(hex), g.hash, sizeof(g.hash));
    if (ctx->json) {
        json_t *doc = genesis_to_json(&g);
        json_t *out = json_pack("{s:s, s:o*}", "hash", hex, "genesis", doc);
        genesis_free(&g);
        return cli_print_json(out);
    }
    printf("chain id   %s\ntime ms    %llu\nhash       %s\nmembers    "
           "%zu (%zu validators)\n\n",
           g.chain_id, (unsigned long long)g.time_ms, hex, g.member_count,
           genesis_validator_count(&g));
    printf("%-32s %-15s %-9s %20s  %s\n", "MEMBER", "ROLE", "VALIDATOR",
           "BALANCE", "NODE KEY");
    for (size_t i = 0; i < g.member_count; i++) {
        const struct genesis_member *m = &g.members[i];
        printf("%-32s %-15s %-9s %20llu  %s\n", m->id,
               tdei_role_name(m->role), m->validator ? "yes" : "no",
               (unsigned long long)m->balance,
               tdei_hex_encode(hex, sizeof(hex), m->node_key, 32));
    }
    genesis_free(&g);
    return CLI_EXIT_OK;
}

int cli_cmd_genesis(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"new", genesis_new, "start a genesis file for a new chain"},
        {"add-member", genesis_add_member, "add a member to the genesis"},
        {"show", genesis_show, "check and print a genesis file"},
    };

    return cli_dispatch(ctx, "genesis", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
