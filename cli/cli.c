/* Shared plumbing of the `tdei` command (see cli.h). */
#include "cli.h"

#include "core/error.h"
#include "core/hex.h"
#include "api/client.h"
#include "config.h"
#include "core/keyfile.h"
#include "home.h"

#include <sodium.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_dispatch(struct cli_ctx *ctx, const char *group,
                 const struct cli_command *table, size_t count, int argc,
                 char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out, "usage: tdei %s COMMAND [OPTIONS]\n\ncommands:\n",
                group);
        for (size_t i = 0; i < count; i++) {
            fprintf(out, "  %-12s %s\n", table[i].name, table[i].summary);
        }
        fprintf(out, "\nrun `tdei %s COMMAND --help` for the options of "
                     "each command\n",
                group);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(argv[1], table[i].name) == 0) {
            return table[i].fn(ctx, argc - 1, argv + 1);
        }
    }
    return cli_usage_error(group, "unknown command '%s %s'", group, argv[1]);
}

int cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("tdei: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *what, const char *fmt, ...)
{
    va_list ap;

    fputs("tdei: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nrun `tdei %s --help` for usage\n", what);
    return CLI_EXIT_USAGE;
}

int cli_fail(int code, const char *errmsg)
{
    const char *text =
        errmsg != NULL && errmsg[0] != '\0' ? errmsg : tdei_strerror(code);

    fprintf(stderr, "tdei: error: %s (%s)\n", text, tdei_errname(code));
    switch (code) {
    case TDEI_BADSIG:
    case TDEI_BADPROOF:
        return CLI_EXIT_INVALID;
    case TDEI_BADHEX:
    case TDEI_INVAL:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_FAIL;
    }
}

int cli_print_json(json_t *value)
{
    int rc;

    if (value == NULL) {
        return cli_error("out of memory while building the JSON output");
    }
    rc = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(value);
    if (rc != 0) {
        return cli_error("cannot write the JSON output: %s",
                         strerror(errno));
    }
    fputc('\n', stdout);
    return CLI_EXIT_OK;
}

int cli_passphrase(const char *passphrase_file, char *out, size_t size)
{
    const char *env;
    size_t len;

    if (passphrase_file != NULL) {
        FILE *f = fopen(passphrase_file, "r");
        if (f == NULL) {
            cli_error("cannot open the passphrase file %s: %s",
                      passphrase_file, strerror(errno));
            return -1;
        }
        if (fgets(out, (int)size, f) == NULL) {
            fclose(f);
            cli_error("the passphrase file %s is empty", passphrase_file);
            return -1;
        }
        fclose(f);
        len = strlen(out);
        if (len > 0 && out[len - 1] == '\n') {
            out[--len] = '\0';
        } else if (len == size - 1) {
            cli_error("the passphrase in %s is longer than %zu bytes",
                      passphrase_file, size - 2);
            return -1;
        }
        if (len == 0) {
            cli_error("the passphrase file %s holds an empty passphrase",
                      passphrase_file);
            return -1;
        }
        return 1;
    }
    env = getenv("TDEI_PASSPHRASE");
    if (env == NULL || env[0] == '\0') {
        return 0;
    }
    if (strlen(env) >= size) {
        cli_error("TDEI_PASSPHRASE is longer than %zu bytes", size - 1);
        return -1;
    }
    memcpy(out, env, strlen(env) + 1);
    return 1;
}

void cli_getopt_reset(void)
{
    optind = 0;
    opterr = 0;
}

int cli_option_error(const char *what, int opt, char **argv)
{
    const char *arg = argv[optind - 1];

    if (opt == ':') {
        return cli_usage_error(what, "option '%s' needs a value", arg);
    }
    return cli_usage_error(what, "unknown option '%s'", arg);
}

int cli_parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;
    unsigned long long value;

    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }
    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        return -1;
    }
    *out = (uint64_t)value;
    return 0;
}

int cli_identity_print(const struct cli_ctx *ctx,
                       const struct home_identity *id)
{
    char node[TDEI_HEX_SIZE(TDEI_PUBKEY_SIZE)];
    char operator[TDEI_HEX_SIZE(TDEI_PUBKEY_SIZE)];
    char encryption[TDEI_HEX_SIZE(TDEI_X25519_SIZE)];

    (void)tdei_hex_encode(node, sizeof(node), id->node_key,
                          sizeof(id->node_key));
    (void)tdei_hex_encode(operator, sizeof(operator), id->operator_key,
                          sizeof(id->operator_key));
    (void)tdei_hex_encode(encryption, sizeof(encryption),
                          id->encryption_key, sizeof(id->encryption_key));
    if (ctx->json) {
        return cli_print_json(json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s}", "home", ctx->home, "member",
            id->member, "role", tdei_role_name(id->role), "node_key", node,
            "operator_key", operator, "encryption_key", encryption));
    }
    printf("home            %s\n"
           "member          %s\n"
           "role            %s\n"
           "node key        %s\n"
           "operator key    %s\n"
           "encryption key  %s\n",
           ctx->home, id->member, tdei_role_name(id->role), node, operator,
           encryption);
    return CLI_EXIT_OK;
}

int cli_connect(const struct cli_ctx *ctx, struct api_client *client,
                uint32_t timeout_ms)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char path[HOME_PATH_MAX];
    char addr[HOME_PATH_MAX];
    struct tdei_config cfg;
    int rc;

    if (ctx->node != NULL) {
        (void)snprintf(addr, sizeof(addr), "%s", ctx->node);
    } else {
        (void)home_path(path, ctx->home, "config.ini");
        rc = config_load(&cfg, path, errmsg);
        if (rc != 0) {
            return cli_fail(rc, errmsg);
        }
        if (cfg.api_socket[0] == '/') {
            (void)snprintf(addr, sizeof(addr), "%s", cfg.api_socket);
        } else if (cfg.api_socket[0] != '\0') {
            (void)home_path(addr, ctx->home, cfg.api_socket);
        } else if (cfg.api_listen[0] != '\0') {
            (void)snprintf(addr, sizeof(addr), "%s", cfg.api_listen);
        } else {
            return cli_fail(TDEI_CONFIG, "the home's config.ini sets no "
                                         "api.socket and no api.listen; "
                                         "give --node ADDR");
        }
    }
    rc = api_client_connect(client, addr, timeout_ms, TDEI_API_FRAME_MAX,
                            errmsg);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    return CLI_EXIT_OK;
}

int cli_call(const struct cli_ctx *ctx, Tdei__Api__Request *req,
             Tdei__Api__Response **resp)
{
    struct api_client client;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint32_t timeout_ms = API_CLIENT_TIMEOUT_MS;
    int rc;

    *resp = NULL;
    if (req->req_case == TDEI__API__REQUEST__REQ_SUBMIT &&
        req->submit->wait) {
        timeout_ms += req->submit->timeout_ms;
    }
    rc = cli_connect(ctx, &client, timeout_ms);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = api_client_call(&client, req, resp, errmsg);
    api_client_close(&client);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    if ((*resp)->code != 0) {
        rc = cli_fail((int)(*resp)->code, (*resp)->error);
        api_client_response_free(*resp);
        *resp = NULL;
        return rc;
    }
    return CLI_EXIT_OK;
}

int cli_operator_key(const struct cli_ctx *ctx, const char *passphrase_file,
                     struct tdei_keypair *kp)
{
    char passphrase[1024];
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct tdei_keyfile_key key;
    int have;
    int rc;

    have = cli_passphrase(passphrase_file, passphrase, sizeof(passphrase));
    if (have < 0) {
        return CLI_EXIT_FAIL;
    }
    (void)home_key_path(path, ctx->home, HOME_KEY_OPERATOR);
    rc = tdei_keyfile_load(path, &key, have ? passphrase : NULL, errmsg);
    sodium_memzero(passphrase, sizeof(passphrase));
    if (rc == 0) {
        rc = tdei_keypair_from_secret(kp, key.secret);
    }
    tdei_keyfile_key_wipe(&key);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    return CLI_EXIT_OK;
}

void cli_print_hex(FILE *out, const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%02x", data[i]);
    }
}
