/* tdei keys: create and show key files; sign and verify operator
 * messages.
 *
 * A message signature is the BIP-340 signature of the tagged hash
 * SHA256(SHA256("tdei/message") || SHA256("tdei/message") || bytes) over
 * the exact bytes of --message or --file: the tag makes it useless as a
 * transaction, vote or handshake signature (DESIGN.md section 3). */
#include "cli.h"

#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keyfile.h"
#include "core/keys.h"
#include "core/limits.h"
#include "home.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Largest --file accepted by sign and verify. */
#define KEYS_MESSAGE_SIZE_MAX (16u * TDEI_MIB)
#define KEYS_PATH_MAX 4096
#define KEYS_PASSPHRASE_MAX 1024

/* Report a getopt failure (@opt is '?' or ':') of `tdei keys @cmd`. */
static int keys_option_error(const char *cmd, int opt, char **argv)
{
    char what[32];

    (void)snprintf(what, sizeof(what), "keys %s", cmd);
    return cli_option_error(what, opt, argv);
}

/* Resolve --key: node, operator and encryption name the keys of the home
 * (home.h layout); anything else is a path. */
static int keys_resolve(const struct cli_ctx *ctx, const char *cmd,
                        const char *name, char out[KEYS_PATH_MAX])
{
    char what[32];
    int n;

    (void)snprintf(what, sizeof(what), "keys %s", cmd);
    if (name[0] == '\0') {
        return cli_usage_error(what, "--key needs a name or a path");
    }
    if (strcmp(name, "node") == 0 || strcmp(name, "operator") == 0 ||
        strcmp(name, "encryption") == 0) {
        n = snprintf(out, KEYS_PATH_MAX, "%s/keys/%s.key", ctx->home, name);
    } else {
        n = snprintf(out, KEYS_PATH_MAX, "%s", name);
    }
    if (n < 0 || n >= KEYS_PATH_MAX) {
        return cli_usage_error(what, "the key path is longer than %d bytes",
                               KEYS_PATH_MAX - 1);
    }
    return 0;
}

/* Feed the file @path ("-" for stdin) into @hash, at most
 * KEYS_MESSAGE_SIZE_MAX bytes. Returns 0 or an exit code. */
static int keys_hash_file(struct tdei_sha256 *hash, const char *path)
{
    static uint8_t chunk[64 * 1024];
    int from_stdin = strcmp(path, "-") == 0;
    const char *name = from_stdin ? "standard input" : path;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    size_t total = 0;
    size_t n;
    int rc = 0;

    if (f == NULL) {
        int err = errno;
        char msg[TDEI_ERRMSG_SIZE];
        (void)snprintf(msg, sizeof(msg), "cannot open the message file %s: %s",
                       path, strerror(err));
        return cli_fail(err == ENOENT ? TDEI_NOTFOUND : TDEI_IOERR, msg);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        total += n;
        if (total > KEYS_MESSAGE_SIZE_MAX) {
            char msg[TDEI_ERRMSG_SIZE];
            (void)snprintf(msg, sizeof(msg),
                           "the message in %s is larger than 16 MiB, the "
                           "limit of keys sign and verify; sign a hash of "
                           "it instead",
                           name);
            rc = cli_fail(TDEI_TOOBIG, msg);
            break;
        }
        tdei_sha256_update(hash, chunk, n);
    }
    if (rc == 0 && ferror(f)) {
        rc = cli_error("cannot read the message from %s: %s", name,
                       strerror(errno));
    }
    if (!from_stdin) {
        (void)fclose(f);
    }
    return rc;
}

/* Compute the tdei/message tagged hash of --message @text or --file @path
 * (exactly one is given, else a usage error of `keys @cmd`). */
static int keys_message_digest(const char *cmd, const char *text,
                               const char *path, uint8_t digest[TDEI_HASH_SIZE])
{
    struct tdei_sha256 hash;
    char what[32];
    int rc;

    (void)snprintf(what, sizeof(what), "keys %s", cmd);
    if ((text == NULL) == (path == NULL)) {
        return cli_usage_error(what, "give exactly one of --message TEXT "
                                     "and --file PATH");
    }
    tdei_tagged_init(&hash, TDEI_TAG_MESSAGE);
    if (text != NULL) {
        if (strlen(text) > KEYS_MESSAGE_SIZE_MAX) {
            return cli_usage_error(what, "--message is larger than 16 MiB");
        }
        tdei_sha256_update(&hash, (const uint8_t *)text, strlen(text));
    } else {
        rc = keys_hash_file(&hash, path);
        if (rc != 0) {
            sodium_memzero(&hash, sizeof(hash));
            return rc;
        }
    }
    tdei_sha256_final(&hash, digest);
    return 0;
}

/* Report a failed key file load; a missing home key gets a hint. */
static int keys_fail_load(int code, const char *errmsg, const char *name)
{
    char msg[TDEI_ERRMSG_SIZE + 128];

    if (code == TDEI_NOTFOUND &&
        (strcmp(name, "node") == 0 || strcmp(name, "operator") == 0 ||
         strcmp(name, "encryption") == 0)) {
        (void)snprintf(msg, sizeof(msg),
                       "%s; create the home with `tdei init` (or pass "
                       "--home DIR or --key FILE)",
                       errmsg);
        return cli_fail(code, msg);
    }
    return cli_fail(code, errmsg);
}

/* Print what is known of a key: a table, or JSON with --json. */
static int keys_print_info(const struct cli_ctx *ctx, const char *path,
                           const struct tdei_keyfile_info *info)
{
    char pub[TDEI_HEX_SIZE(32)];
    const char *kind = tdei_key_kind_name(info->kind);

    (void)tdei_hex_encode(pub, sizeof(pub), info->pubkey, sizeof(info->pubkey));
    if (ctx->json) {
        return cli_print_json(json_pack("{s:s, s:s, s:s, s:b}", "kind", kind,
                                        "public", pub, "path", path,
                                        "encrypted", info->encrypted));
    }
    printf("kind       %s\n"
           "public     %s\n"
           "path       %s\n"
           "encrypted  %s\n",
           kind, pub, path, info->encrypted ? "yes" : "no");
    return CLI_EXIT_OK;
}

/* ---- keys new ---------------------------------------------------------- */

static void keys_new_help(void)
{
    printf("usage: tdei [--json] keys new --out FILE "
           "[--kind secp256k1|x25519]\n"
           "                 [--encrypt [--passphrase-file FILE]]\n\n"
           "Create a key file (mode 0600; never overwrites) and print its\n"
           "kind, public key and path.\n\n"
           "  --out FILE              the key file to create\n"
           "  --kind KIND             secp256k1 (node or operator key, the "
           "default)\n"
           "                          or x25519 (encryption key)\n"
           "  --encrypt               encrypt the secret with a passphrase\n"
           "                          (Argon2id + XSalsa20-Poly1305)\n"
           "  --passphrase-file FILE  read it from FILE's first line (else\n"
           "                          $TDEI_PASSPHRASE)\n");
}

static int keys_new(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"kind", required_argument, NULL, 'k'},
        {"encrypt", no_argument, NULL, 'e'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    const char *passphrase_file = NULL;
    enum tdei_key_kind kind = TDEI_KEY_SECP256K1;
    char passphrase[KEYS_PASSPHRASE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct tdei_keyfile_key key;
    struct tdei_keyfile_info info;
    int encrypt = 0;
    int have = 0;
    int opt;
    int rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case 'k':
            if (strcmp(optarg, "secp256k1") == 0) {
                kind = TDEI_KEY_SECP256K1;
            } else if (strcmp(optarg, "x25519") == 0) {
                kind = TDEI_KEY_X25519;
            } else {
                return cli_usage_error("keys new",
                                       "--kind '%s' is not secp256k1 or "
                                       "x25519",
                                       optarg);
            }
            break;
        case 'e':
            encrypt = 1;
            break;
        case 'p':
            passphrase_file = optarg;
            break;
        case 'h':
            keys_new_help();
            return CLI_EXIT_OK;
        default:
            return keys_option_error("new", opt, argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("keys new", "unexpected argument '%s'",
                               argv[optind]);
    }
    if (out == NULL || out[0] == '\0') {
        return cli_usage_error("keys new", "--out FILE is required");
    }
    if (passphrase_file != NULL && !encrypt) {
        return cli_usage_error("keys new", "--passphrase-file needs --encrypt");
    }
    if (encrypt) {
        have = cli_passphrase(passphrase_file, passphrase, sizeof(passphrase));
        if (have < 0) {
            sodium_memzero(passphrase, sizeof(passphrase));
            return CLI_EXIT_FAIL;
        }
        if (have == 0) {
            return cli_usage_error("keys new", "--encrypt needs a passphrase: "
                                               "--passphrase-file FILE or "
                                               "TDEI_PASSPHRASE");
        }
    }
    rc = tdei_keyfile_key_generate(&key, kind);
    if (rc == 0) {
        rc = tdei_keyfile_save(out, &key, have ? passphrase : NULL, errmsg);
    }
    sodium_memzero(passphrase, sizeof(passphrase));
    info.kind = key.kind;
    memcpy(info.pubkey, key.pubkey, sizeof(info.pubkey));
    info.encrypted = have;
    tdei_keyfile_key_wipe(&key);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    return keys_print_info(ctx, out, &info);
}

/* ---- keys show --------------------------------------------------------- */

static void keys_show_help(void)
{
    printf("usage: tdei [--home DIR] [--json] keys show "
           "[--key node|operator|encryption|FILE]\n\n"
           "Without --key, print the identity of the home: member, role "
           "and\n"
           "the node, operator and encryption public keys. With --key, "
           "print\n"
           "the kind, public key, path and encryption of one key file.\n"
           "No passphrase is needed.\n\n"
           "  --key NAME  node, operator or encryption: that key of the "
           "home\n"
           "              (DIR/keys/NAME.key); anything else is a path.\n");
}

static int keys_show(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL;
    char path[KEYS_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct tdei_keyfile_info info;
    struct home_identity id;
    int opt;
    int rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'k':
            name = optarg;
            break;
        case 'h':
            keys_show_help();
            return CLI_EXIT_OK;
        default:
            return keys_option_error("show", opt, argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("keys show", "unexpected argument '%s'",
                               argv[optind]);
    }
    if (name == NULL) {
        rc = home_identity_load(ctx->home, &id, errmsg);
        if (rc != 0) {
            return cli_fail(rc, errmsg);
        }
        return cli_identity_print(ctx, &id);
    }
    rc = keys_resolve(ctx, "show", name, path);
    if (rc != 0) {
        return rc;
    }
    rc = tdei_keyfile_inspect(path, &info, errmsg);
    if (rc != 0) {
        return keys_fail_load(rc, errmsg, name);
    }
    return keys_print_info(ctx, path, &info);
}

/* ---- keys sign --------------------------------------------------------- */

static void keys_sign_help(void)
{
    printf("usage: tdei [--home DIR] [--json] keys sign "
           "[--key node|operator|FILE]\n"
           "                 [--passphrase-file FILE] "
           "(--message TEXT | --file PATH|-)\n\n"
           "Sign the exact bytes of a message (tag tdei/message) and print "
           "the\n"
           "128-hex-digit signature.\n\n"
           "  --key NAME              node or operator key of the home, or "
           "a\n"
           "                          key file (default: operator)\n"
           "  --passphrase-file FILE  passphrase of an encrypted key (else\n"
           "                          $TDEI_PASSPHRASE)\n"
           "  --message TEXT          sign TEXT (no newline is added)\n"
           "  --file PATH             sign the bytes of PATH, - for "
           "standard\n"
           "                          input (at most 16 MiB)\n");
}

/* Load the secp256k1 key at @path into @kp. Returns 0 or an exit code. */
static int keys_load_signing(const char *name, const char *path,
                             const char *passphrase_file,
                             struct tdei_keypair *kp)
{
    char passphrase[KEYS_PASSPHRASE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct tdei_keyfile_key key;
    int have;
    int rc;

    have = cli_passphrase(passphrase_file, passphrase, sizeof(passphrase));
    if (have < 0) {
        sodium_memzero(passphrase, sizeof(passphrase));
        return CLI_EXIT_FAIL;
    }
    rc = tdei_keyfile_load(path, &key, have ? passphrase : NULL, errmsg);
    sodium_memzero(passphrase, sizeof(passphrase));
    if (rc != 0) {
        return keys_fail_load(rc, errmsg, name);
    }
    if (key.kind != TDEI_KEY_SECP256K1) {
        tdei_keyfile_key_wipe(&key);
        return cli_fail(tdei_errorf(errmsg, sizeof(errmsg), TDEI_BADKEY,
                                    "key file %s holds an x25519 "
                                    "encryption key; sign with a secp256k1 "
                                    "key (--key node, operator or FILE)",
                                    path),
                        errmsg);
    }
    rc = tdei_keypair_from_secret(kp, key.secret);
    tdei_keyfile_key_wipe(&key);
    if (rc != 0) {
        return cli_fail(rc, NULL);
    }
    return 0;
}

static int keys_sign(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"message", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = "operator";
    const char *passphrase_file = NULL;
    const char *text = NULL;
    const char *file = NULL;
    char path[KEYS_PATH_MAX];
    uint8_t digest[TDEI_HASH_SIZE];
    uint8_t sig[TDEI_SIG_SIZE];
    char sig_hex[TDEI_HEX_SIZE(TDEI_SIG_SIZE)];
    char pub_hex[TDEI_HEX_SIZE(TDEI_PUBKEY_SIZE)];
    struct tdei_keypair kp;
    int opt;
    int rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'k':
            name = optarg;
            break;
        case 'p':
            passphrase_file = optarg;
            break;
        case 'm':
            text = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'h':
            keys_sign_help();
            return CLI_EXIT_OK;
        default:
            return keys_option_error("sign", opt, argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("keys sign", "unexpected argument '%s'",
                               argv[optind]);
    }
    rc = keys_resolve(ctx, "sign", name, path);
    if (rc != 0) {
        return rc;
    }
    /* Read the message first: no passphrase prompt for a missing file. */
    rc = keys_message_digest("sign", text, file, digest);
    if (rc != 0) {
        return rc;
    }
    rc = keys_load_signing(name, path, passphrase_file, &kp);
    if (rc != 0) {
        return rc;
    }
    rc = tdei_sign_raw(sig, &kp, digest, sizeof(digest), NULL);
    (void)tdei_hex_encode(pub_hex, sizeof(pub_hex), kp.pubkey,
                          sizeof(kp.pubkey));
    tdei_keypair_wipe(&kp);
    if (rc != 0) {
        return cli_fail(rc, NULL);
    }
    (void)tdei_hex_encode(sig_hex, sizeof(sig_hex), sig, sizeof(sig));
    if (ctx->json) {
        return cli_print_json(json_pack("{s:s, s:s, s:s}", "public", pub_hex,
                                        "signature", sig_hex, "tag",
                                        TDEI_TAG_MESSAGE));
    }
    printf("%s\n", sig_hex);
    return CLI_EXIT_OK;
}

/* ---- keys verify ------------------------------------------------------- */

static void keys_verify_help(void)
{
    printf("usage: tdei [--json] keys verify --public HEX --signature HEX\n"
           "                 (--message TEXT | --file PATH|-)\n\n"
           "Check a signature made by `tdei keys sign` (tag tdei/message).\n"
           "Exit 0 when it is valid, 3 when it is not (or the public key is\n"
           "not a secp256k1 key), 2 for malformed arguments.\n\n"
           "  --public HEX     the signer's x-only public key, 64 hex "
           "digits\n"
           "  --signature HEX  the signature, 128 hex digits\n"
           "  --message TEXT   the signed text\n"
           "  --file PATH      the signed file, - for standard input\n");
}

/* Decode the hex value of option @option into @len bytes at @out. */
static int keys_hex_arg(const char *option, const char *text, uint8_t *out,
                        size_t len, const char *meaning)
{
    if (tdei_hex_decode(out, len, text) != 0) {
        return cli_usage_error("keys verify",
                               "%s must be %zu hex digits (%s); got %zu "
                               "characters",
                               option, 2 * len, meaning, strlen(text));
    }
    return 0;
}

static int keys_verify(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"public", required_argument, NULL, 'P'},
        {"signature", required_argument, NULL, 's'},
        {"message", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *pub_text = NULL;
    const char *sig_text = NULL;
    const char *text = NULL;
    const char *file = NULL;
    uint8_t pubkey[TDEI_PUBKEY_SIZE];
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t digest[TDEI_HASH_SIZE];
    char pub_hex[TDEI_HEX_SIZE(TDEI_PUBKEY_SIZE)];
    char msg[TDEI_ERRMSG_SIZE];
    int opt;
    int rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'P':
            pub_text = optarg;
            break;
        case 's':
            sig_text = optarg;
            break;
        case 'm':
            text = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'h':
            keys_verify_help();
            return CLI_EXIT_OK;
        default:
            return keys_option_error("verify", opt, argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("keys verify", "unexpected argument '%s'",
                               argv[optind]);
    }
    if (pub_text == NULL || sig_text == NULL) {
        return cli_usage_error("keys verify",
                               "--public HEX and --signature HEX are "
                               "required");
    }
    rc = keys_hex_arg("--public", pub_text, pubkey, sizeof(pubkey),
                      "a 32-byte x-only public key");
    if (rc == 0) {
        rc = keys_hex_arg("--signature", sig_text, sig, sizeof(sig),
                          "a 64-byte BIP-340 signature");
    }
    if (rc != 0) {
        return rc;
    }
    rc = keys_message_digest("verify", text, file, digest);
    if (rc != 0) {
        return rc;
    }
    (void)tdei_hex_encode(pub_hex, sizeof(pub_hex), pubkey, sizeof(pubkey));
    rc = tdei_verify_raw(sig, digest, sizeof(digest), pubkey);
    if (rc == TDEI_BADKEY) {
        (void)snprintf(msg, sizeof(msg),
                       "--public %s is not a secp256k1 x-only public key, "
                       "so no signature can verify under it",
                       pub_hex);
        (void)cli_fail(rc, msg);
        return CLI_EXIT_INVALID;
    }
    if (rc != 0) {
        (void)snprintf(msg, sizeof(msg),
                       "signature verification failed: the signature is "
                       "not by %s over this message (tag %s)",
                       pub_hex, TDEI_TAG_MESSAGE);
        return cli_fail(rc, msg);
    }
    if (ctx->json) {
        return cli_print_json(json_pack("{s:b, s:s, s:s}", "valid", 1, "public",
                                        pub_hex, "tag", TDEI_TAG_MESSAGE));
    }
    printf("valid signature by %s\n", pub_hex);
    return CLI_EXIT_OK;
}

static const struct cli_command keys_commands[] = {
    {"new", keys_new, "create a key file (secp256k1 or x25519)"},
    {"show", keys_show, "print the kind and public key of a key file"},
    {"sign", keys_sign, "sign a message with a node or operator key"},
    {"verify", keys_verify, "check a message signature"},
};

int cli_cmd_keys(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_dispatch(ctx, "keys", keys_commands,
                        sizeof(keys_commands) / sizeof(keys_commands[0]), argc,
                        argv);
}
