/* tdei: the operator's command line. Group dispatch from one table. */
#include "cli.h"

#include "build-config.h"
#include "core/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_version(struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command groups[] = {
    {"init", cli_cmd_init, "create a node home: keys and config.ini"},
    {"keys", cli_cmd_keys, "create, show and use keys; sign and verify"},
    {"genesis", cli_cmd_genesis, "assemble and show genesis.json"},
    {"tx", cli_cmd_tx, "sign and submit transactions; show them"},
    {"member", cli_cmd_member, "members, governance votes, keys, params"},
    {"catalog", cli_cmd_catalog, "publish and manage catalog entries"},
    {"exchange", cli_cmd_exchange, "request, deliver and settle data"},
    {"stream", cli_cmd_stream, "open, append to and close streams"},
    {"account", cli_cmd_account, "show balances and exchange escrows"},
    {"block", cli_cmd_block, "show a committed block"},
    {"status", cli_cmd_status, "show the node's chain and height"},
    {"localnet", cli_cmd_localnet, "run a network of nodes on loopback"},
    {"bench", cli_cmd_bench, "measure a localnet's tx/s and latency"},
    {"proof", cli_cmd_proof, "build and verify RFC 6962 Merkle proofs"},
    {"audit", cli_cmd_audit, "proof bundles of ledger objects; re-verify "
                             "the chain"},
    {"verify", cli_cmd_verify, "check a proof bundle offline"},
    {"version", cmd_version, "print the version of tdei"},
};

#define GROUP_COUNT (sizeof(groups) / sizeof(groups[0]))

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: tdei [--home DIR] [--node ADDR] [--json] GROUP "
            "[COMMAND] [ARGS]\n\n"
            "tdei is the operator's tool for a tdei node: keys, the "
            "ledger,\nthe data catalog, exchanges, audit.\n\n"
            "global options:\n"
            "  --home DIR   node home (default $TDEI_HOME, else ~/.tdei)\n"
            "  --node ADDR  node API address (default: the home's "
            "socket)\n"
            "  --json       machine-readable output\n"
            "  --help       this text\n\ngroups:\n");
    for (size_t i = 0; i < GROUP_COUNT; i++) {
        fprintf(out, "  %-10s %s\n", groups[i].name, groups[i].summary);
    }
    fprintf(out, "\nrun `tdei GROUP --help` for the commands of a group.\n"
                 "exit codes: 0 ok, 1 failed, 2 bad usage, 3 verification "
                 "failed\n");
}

static int cmd_version(struct cli_ctx *ctx, int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        printf("usage: tdei [--json] version\n\nprint the version of "
               "tdei and of the libraries it uses\n");
        return CLI_EXIT_OK;
    }
    if (argc > 1) {
        return cli_usage_error("version", "unexpected argument '%s'",
                               argv[1]);
    }
    if (ctx->json) {
        return cli_print_json(json_pack("{s:s, s:s}", "version",
                                        PACKAGE_VERSION, "name",
                                        PACKAGE_NAME));
    }
    printf("tdei %s\n", PACKAGE_VERSION);
    return CLI_EXIT_OK;
}

/* Take the value of a global option that needs one. */
static int take_value(int argc, char **argv, int *i, const char **out)
{
    if (*i + 1 >= argc) {
        return cli_usage_error("--help", "option %s needs a value",
                               argv[*i]);
    }
    *out = argv[++*i];
    return 0;
}

int main(int argc, char **argv)
{
    static char default_home[4096];
    struct cli_ctx ctx = {0};
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        int rc = 0;
        if (strcmp(argv[i], "--home") == 0) {
            rc = take_value(argc, argv, &i, &ctx.home);
        } else if (strcmp(argv[i], "--node") == 0) {
            rc = take_value(argc, argv, &i, &ctx.node);
        } else if (strcmp(argv[i], "--json") == 0) {
            ctx.json = 1;
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("tdei %s\n", PACKAGE_VERSION);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error("--help", "unknown option '%s'", argv[i]);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (i >= argc) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (ctx.home == NULL) {
        const char *env = getenv("TDEI_HOME");
        const char *user_home = getenv("HOME");
        if (env != NULL && env[0] != '\0') {
            ctx.home = env;
        } else {
            (void)snprintf(default_home, sizeof(default_home), "%s/.tdei",
                           user_home != NULL ? user_home : ".");
            ctx.home = default_home;
        }
    }
    if (tdei_crypto_init() != 0) {
        return cli_error("cannot start libsodium/libsecp256k1; check that "
                         "they are installed correctly");
    }
    for (size_t g = 0; g < GROUP_COUNT; g++) {
        if (strcmp(argv[i], groups[g].name) == 0) {
            return groups[g].fn(&ctx, argc - i, argv + i);
        }
    }
    return cli_usage_error("--help", "unknown group '%s'", argv[i]);
}
