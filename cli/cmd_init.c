/* tdei init: create a node home (keys and config.ini). */
#include "cli.h"

#include "core/error.h"
#include "core/ids.h"
#include "home.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void init_help(void)
{
    printf("usage: tdei [--home DIR] [--json] init --member ID --role ROLE\n"
           "                 [--encrypt [--passphrase-file FILE]]\n\n"
           "Create a node home at DIR: keys/node.key, keys/operator.key,\n"
           "keys/encryption.key (mode 0600) and config.ini, then print the\n"
           "node identity. Refuses a DIR that already holds a home.\n\n"
           "  --member ID             this member's id ([a-z0-9-], 3-32 "
           "bytes)\n"
           "  --role ROLE             %s\n"
           "  --encrypt               encrypt the keys with a passphrase\n"
           "  --passphrase-file FILE  read it from FILE (else "
           "$TDEI_PASSPHRASE)\n"
           "  --home DIR              the home to create (also before "
           "`init`)\n",
           TDEI_ROLE_NAMES);
}

int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"member", required_argument, NULL, 'm'},
        {"role", required_argument, NULL, 'r'},
        {"home", required_argument, NULL, 'H'},
        {"encrypt", no_argument, NULL, 'e'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *member = NULL;
    const char *role_text = NULL;
    const char *passphrase_file = NULL;
    char passphrase[1024];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct home_identity id;
    enum tdei_role role;
    int encrypt = 0;
    int have_passphrase;
    int opt;
    int rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'm':
            member = optarg;
            break;
        case 'r':
            role_text = optarg;
            break;
        case 'H':
            ctx->home = optarg;
            break;
        case 'e':
            encrypt = 1;
            break;
        case 'p':
            passphrase_file = optarg;
            break;
        case 'h':
            init_help();
            return CLI_EXIT_OK;
        default:
            return cli_option_error("init", opt, argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("init", "unexpected argument '%s'",
                               argv[optind]);
    }
    if (member == NULL || role_text == NULL) {
        return cli_usage_error("init", "--member and --role are required");
    }
    if (tdei_member_id_check(member) != 0) {
        return cli_usage_error("init",
                               "--member '%s' is not 3-32 bytes of "
                               "[a-z0-9-]",
                               member);
    }
    if (tdei_role_parse(role_text, &role) != 0) {
        return cli_usage_error("init", "--role '%s' is not one of %s",
                               role_text, TDEI_ROLE_NAMES);
    }
    if (passphrase_file != NULL && !encrypt) {
        return cli_usage_error("init",
                               "--passphrase-file needs --encrypt");
    }
    have_passphrase = 0;
    if (encrypt) {
        have_passphrase =
            cli_passphrase(passphrase_file, passphrase, sizeof(passphrase));
        if (have_passphrase < 0) {
            return CLI_EXIT_FAIL;
        }
        if (have_passphrase == 0) {
            return cli_usage_error("init",
                                   "--encrypt needs a passphrase: "
                                   "--passphrase-file FILE or "
                                   "TDEI_PASSPHRASE");
        }
    }
    rc = home_create(ctx->home, member, role,
                     have_passphrase ? passphrase : NULL, &id, errmsg);
    sodium_memzero(passphrase, sizeof(passphrase));
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    return cli_identity_print(ctx, &id);
}
