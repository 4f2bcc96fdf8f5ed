/* Shared plumbing of the `tdei` command (see cli.h). */
#include "cli.h"

#include "core/error.h"
#include "core/hex.h"
#include "home.h"

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
