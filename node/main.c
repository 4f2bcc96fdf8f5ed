/* tdei-node: the node daemon (node.h). `--check` only loads config.ini
 * strictly and every key (secrets included, so an encrypted home is tested
 * against its passphrase) and logs the identity. */
#include "build-config.h"
#include "config.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/keyfile.h"
#include "core/keys.h"
#include "core/log.h"
#include "home.h"
#include "node.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void node_help(void)
{
    printf("usage: tdei-node --home DIR [--observer] [--check] "
           "[--passphrase-file FILE]\n"
           "       tdei-node --config-help | --version | --help\n\n"
           "Run the node of the home DIR until SIGINT or SIGTERM.\n\n"
           "  --home DIR             the node home (see `tdei init`): "
           "config.ini,\n"
           "                         genesis.json, keys/, data/\n"
           "  --observer             follow and verify every block, never "
           "sign a proposal\n"
           "                         or vote, even with a key in the "
           "validator set\n"
           "                         (as config.ini node.observer = true)\n"
           "  --check                only load config.ini and every key, "
           "log the identity\n"
           "  --passphrase-file F    passphrase of encrypted keys (else "
           "$TDEI_PASSPHRASE)\n"
           "  --config-help          describe every config.ini key\n\n"
           "exit codes: 0 ok, 1 the home is unusable (the message says "
           "why), 2 bad usage\n");
}

/* Read the passphrase from @file or $TDEI_PASSPHRASE into @out.
 * Returns 1 found, 0 none, -1 error (printed). */
static int node_passphrase(const char *file, char *out, size_t size)
{
    const char *env = getenv("TDEI_PASSPHRASE");
    FILE *f;
    size_t len;

    if (file == NULL) {
        if (env == NULL || env[0] == '\0' || strlen(env) >= size) {
            return env != NULL && strlen(env) >= size ? -1 : 0;
        }
        memcpy(out, env, strlen(env) + 1);
        return 1;
    }
    f = fopen(file, "r");
    if (f == NULL || fgets(out, (int)size, f) == NULL) {
        fprintf(stderr, "tdei-node: cannot read the passphrase file %s\n",
                file);
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    fclose(f);
    len = strlen(out);
    if (len > 0 && out[len - 1] == '\n') {
        out[len - 1] = '\0';
    }
    return out[0] != '\0' ? 1 : -1;
}

/* Load every secret key of @home to prove the home is usable. */
static int node_check_keys(const char *home, const char *passphrase,
                           char *errmsg)
{
    char path[HOME_PATH_MAX];
    struct tdei_keyfile_key key;

    for (int i = 0; i < HOME_KEY_COUNT; i++) {
        int rc;
        (void)home_key_path(path, home, (enum home_key)i);
        rc = tdei_keyfile_load(path, &key, passphrase, errmsg);
        tdei_keyfile_key_wipe(&key);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"home", required_argument, NULL, 'H'},
        {"check", no_argument, NULL, 'c'},
        {"observer", no_argument, NULL, 'o'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"config-help", no_argument, NULL, 'C'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *home = NULL;
    const char *passphrase_file = NULL;
    char passphrase[1024] = "";
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char node_hex[TDEI_HEX_SIZE(TDEI_PUBKEY_SIZE)];
    struct home_identity id;
    int check = 0;
    int observer = 0;
    int have_passphrase;
    int opt;
    int rc;

    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'H':
            home = optarg;
            break;
        case 'c':
            check = 1;
            break;
        case 'o':
            observer = 1;
            break;
        case 'p':
            passphrase_file = optarg;
            break;
        case 'C':
            config_describe(stdout);
            return 0;
        case 'V':
            printf("tdei-node %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            node_help();
            return 0;
        default:
            fprintf(stderr, "run `tdei-node --help` for usage\n");
            return 2;
        }
    }
    if (optind < argc || home == NULL) {
        fprintf(stderr, "tdei-node: %s\nrun `tdei-node --help` for usage\n",
                optind < argc ? "unexpected argument"
                              : "--home DIR is required");
        return 2;
    }
    if (tdei_crypto_init() != 0) {
        fprintf(stderr, "tdei-node: cannot start libsodium/libsecp256k1\n");
        return 1;
    }
    have_passphrase =
        node_passphrase(passphrase_file, passphrase, sizeof(passphrase));
    if (have_passphrase < 0) {
        return 1;
    }
    if (!check) {
        struct node_options opts = {
            .home = home,
            .passphrase = have_passphrase ? passphrase : NULL,
            .observer = observer};
        rc = node_run(&opts);
        sodium_memzero(passphrase, sizeof(passphrase));
        return rc;
    }
    rc = home_identity_load(home, &id, errmsg);
    if (rc == 0) {
        rc = node_check_keys(home, have_passphrase ? passphrase : NULL,
                             errmsg);
    }
    sodium_memzero(passphrase, sizeof(passphrase));
    if (rc != 0) {
        TDEI_LOG(TDEI_LOG_WARNING, "node", "home unusable",
                 "home=%s code=%s error=\"%s\"", home, tdei_errname(rc),
                 errmsg);
        return 1;
    }
    TDEI_LOG(TDEI_LOG_NOTICE, "node", "home ok",
             "home=%s member=%s role=%s node_key=%s", home, id.member,
             tdei_role_name(id.role),
             tdei_hex_encode(node_hex, sizeof(node_hex), id.node_key,
                             sizeof(id.node_key)));
    return 0;
}
