/* Shared plumbing of the `tdei` command (see cli.h). */
#include "cli.h"

#include "api/client.h"
#include "config.h"
#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/ids.h"
#include "core/keyfile.h"
#include "home.h"
#include "store/store.h"

#include <sodium.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
            fprintf(out, "  %-16s %s\n", table[i].name, table[i].summary);
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

/* Send @req and read its answer into *@resp, whatever its code; a
 * transport failure is printed and returned as an exit code. */
static int call_answer(const struct cli_ctx *ctx, Tdei__Api__Request *req,
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
    return CLI_EXIT_OK;
}

int cli_call(const struct cli_ctx *ctx, Tdei__Api__Request *req,
             Tdei__Api__Response **resp)
{
    int rc = call_answer(ctx, req, resp);

    if (rc == CLI_EXIT_OK && (*resp)->code != 0) {
        rc = cli_fail((int)(*resp)->code, (*resp)->error);
        api_client_response_free(*resp);
        *resp = NULL;
    }
    return rc;
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

/* ---- declarative options ------------------------------------------------- */

const char *const cli_kinds[] = {"dataset", "stream", NULL};
const char *const cli_domains[] = {"rd",         "production", "operation",
                                   "management", "external",   NULL};
const char *const cli_classes[] = {"general", "important", "core", NULL};
const char *const cli_models[] = {"one_time", "per_record", "subscription",
                                  NULL};
const char *const cli_roles[] = {"public_service", "platform", "manufacturer",
                                 "auditor", NULL};
const char *const cli_exchange_statuses[] = {
    "requested", "approved", "delivered", "settled", "rejected", "expired",
    "disputed",  "refunded", "revoked",   "ended",   NULL};

const char *cli_name(const char *const *names, uint32_t value)
{
    for (uint32_t i = 0; names[i] != NULL; i++) {
        if (i + 1 == value) {
            return names[i];
        }
    }
    return "?";
}

/* getopt_long values: spec options from OPT_BASE, tx options from
 * TX_BASE. */
enum { OPT_BASE = 0x100, TX_BASE = 0x200 };
enum { TX_NONCE, TX_NO_WAIT, TX_TIMEOUT, TX_PASSPHRASE, TX_COUNT };

static const struct cli_opt tx_opts[TX_COUNT] = {
    {.name = "nonce",
     .type = CLI_OPT_U64,
     .meta = "N",
     .help = "use this nonce (default: the signer's committed nonce + 1)",
     .min = 1},
    {.name = "no-wait",
     .type = CLI_OPT_FLAG,
     .help = "return once the node admitted the tx; do not wait for it"},
    {.name = "timeout-ms",
     .type = CLI_OPT_U64,
     .meta = "MS",
     .help = "how long to wait for the commit, default 10000",
     .min = 1,
     .max = 120000},
    {.name = "passphrase-file",
     .type = CLI_OPT_TEXT,
     .meta = "FILE",
     .help = "passphrase of an encrypted operator key (else "
             "$TDEI_PASSPHRASE)"},
};

/* Help text is wrapped at this column; WRAP_SPACE prints as a space
 * that never breaks ("--kind KIND" stays on one line). */
#define HELP_WIDTH 79u
#define WRAP_SPACE '\x01'

/* Print the words of @text from column @col (the cursor is there, no
 * space needed before the first word), wrapping at HELP_WIDTH onto lines
 * indented by @indent; end with a newline. */
static void wrap_print(const char *text, size_t col, size_t indent)
{
    int first = 1;

    text += strspn(text, " ");
    while (*text != '\0') {
        size_t word = strcspn(text, " ");
        if (!first && col + 1 + word > HELP_WIDTH) {
            printf("\n%*s", (int)indent, "");
            col = indent;
        } else if (!first) {
            putchar(' ');
            col++;
        }
        for (size_t i = 0; i < word; i++) {
            putchar(text[i] == WRAP_SPACE ? ' ' : text[i]);
        }
        col += word;
        first = 0;
        text += word;
        text += strspn(text, " ");
    }
    putchar('\n');
}

static void choices_cat(char *out, size_t size, const char *const *choices)
{
    for (size_t i = 0; choices[i] != NULL; i++) {
        size_t used = strlen(out);
        (void)snprintf(out + used, size - used, "%s%s",
                       i == 0                   ? ""
                       : choices[i + 1] == NULL ? " or "
                                                : ", ",
                       choices[i]);
    }
}

static void opt_help_line(const struct cli_opt *o)
{
    char left[64];
    char text[512];
    size_t used;

    (void)snprintf(left, sizeof(left), "--%s%s%s", o->name,
                   o->meta != NULL ? " " : "", o->meta != NULL ? o->meta : "");
    (void)snprintf(text, sizeof(text), "%s", o->help);
    if (o->type == CLI_OPT_CHOICE) {
        used = strlen(text);
        (void)snprintf(text + used, sizeof(text) - used, ": ");
        choices_cat(text, sizeof(text), o->choices);
    }
    used = strlen(text);
    if (o->type == CLI_OPT_U64 && o->max != 0) {
        (void)snprintf(text + used, sizeof(text) - used, " (%llu-%llu%s)",
                       (unsigned long long)o->min, (unsigned long long)o->max,
                       o->flags & CLI_REQUIRED ? ", required" : "");
    } else if (o->type == CLI_OPT_LIST) {
        (void)snprintf(text + used, sizeof(text) - used,
                       " (repeat it, at most %u)", CLI_LIST_MAX);
    } else if (o->flags & CLI_REQUIRED) {
        (void)snprintf(text + used, sizeof(text) - used, " (required)");
    }
    printf("  %-24s ", left);
    wrap_print(text, 27 + (strlen(left) > 24 ? strlen(left) - 24 : 0), 27);
}

static void spec_help(const struct cli_spec *spec)
{
    char line[1024];
    size_t used;

    (void)snprintf(line, sizeof(line), "%s", spec->what);
    if (spec->operands != NULL) {
        used = strlen(line);
        (void)snprintf(line + used, sizeof(line) - used, " %s", spec->operands);
    }
    for (size_t i = 0; i < spec->opts_count; i++) {
        const struct cli_opt *o = &spec->opts[i];
        if (o->flags & CLI_REQUIRED) {
            used = strlen(line);
            (void)snprintf(line + used, sizeof(line) - used, " --%s%s%s",
                           o->name, o->meta != NULL ? "\x01" : "",
                           o->meta != NULL ? o->meta : "");
        }
    }
    used = strlen(line);
    (void)snprintf(line + used, sizeof(line) - used, " [OPTIONS]");
    /* The first words stay together so tests and people can grep them. */
    printf("usage: tdei [--home DIR] [--node ADDR] [--json] %s ", spec->what);
    wrap_print(line + strlen(spec->what),
               strlen("usage: tdei [--home DIR] [--node ADDR] [--json]  ") +
                   strlen(spec->what),
               9);
    printf("\n%s\n\noptions:\n", spec->about);
    for (size_t i = 0; i < spec->opts_count; i++) {
        opt_help_line(&spec->opts[i]);
    }
    printf("  %-24s %s\n", "--help", "this text");
    if (spec->tx != NULL) {
        printf("\ntx options:\n");
        for (size_t i = 0; i < TX_COUNT; i++) {
            opt_help_line(&tx_opts[i]);
        }
    }
}

/* Read the value of option @o into @dest. */
static int opt_value(const char *what, const struct cli_opt *o, void *dest,
                     const char *arg)
{
    char choices[256];
    uint64_t v;

    switch (o->type) {
    case CLI_OPT_FLAG:
        *(int *)dest = 1;
        return CLI_EXIT_OK;
    case CLI_OPT_TEXT:
        *(const char **)dest = arg;
        return CLI_EXIT_OK;
    case CLI_OPT_U64:
        if (cli_parse_u64(arg, &v) != 0) {
            return cli_usage_error(what, "--%s '%s' is not a whole number",
                                   o->name, arg);
        }
        if (v < o->min || (o->max != 0 && v > o->max)) {
            if (o->max == 0) {
                return cli_usage_error(what, "--%s %s is below %llu", o->name,
                                       arg, (unsigned long long)o->min);
            }
            return cli_usage_error(what, "--%s %s is outside %llu-%llu",
                                   o->name, arg, (unsigned long long)o->min,
                                   (unsigned long long)o->max);
        }
        *(uint64_t *)dest = v;
        return CLI_EXIT_OK;
    case CLI_OPT_HASH: {
        struct cli_hash *h = dest;
        if (tdei_hex_decode(h->bytes, sizeof(h->bytes), arg) != 0) {
            return cli_usage_error(what, "--%s '%s' is not 64 hex digits",
                                   o->name, arg);
        }
        h->set = 1;
        return CLI_EXIT_OK;
    }
    case CLI_OPT_CHOICE:
        for (uint32_t i = 0; o->choices[i] != NULL; i++) {
            char number[16];
            (void)snprintf(number, sizeof(number), "%u", i + 1);
            if (strcmp(arg, o->choices[i]) == 0 || strcmp(arg, number) == 0) {
                *(uint32_t *)dest = i + 1;
                return CLI_EXIT_OK;
            }
        }
        choices[0] = '\0';
        choices_cat(choices, sizeof(choices), o->choices);
        return cli_usage_error(what,
                               "--%s '%s' is not one of %s (or their numbers "
                               "from 1)",
                               o->name, arg, choices);
    case CLI_OPT_LIST: {
        struct cli_list *l = dest;
        if (l->count == CLI_LIST_MAX) {
            return cli_usage_error(what, "--%s is given more than %u times",
                                   o->name, CLI_LIST_MAX);
        }
        l->items[l->count++] = arg;
        return CLI_EXIT_OK;
    }
    }
    return CLI_EXIT_USAGE;
}

/* The destination of tx option @i in @tx. */
static void *tx_dest(struct cli_tx *tx, int i)
{
    switch (i) {
    case TX_NONCE:
        return &tx->nonce;
    case TX_NO_WAIT:
        return &tx->no_wait;
    case TX_TIMEOUT:
        return &tx->timeout_ms;
    default:
        return &tx->passphrase_file;
    }
}

int cli_parse(const struct cli_spec *spec, int argc, char **argv, int *first,
              int *exit_code)
{
    struct option longopts[CLI_OPTS_MAX + TX_COUNT + 2];
    int given[CLI_OPTS_MAX] = {0};
    size_t n = 0;
    size_t operands;
    int opt;

    TDEI_ASSERT(spec->opts_count <= CLI_OPTS_MAX);
    for (size_t i = 0; i < spec->opts_count; i++, n++) {
        longopts[n].name = spec->opts[i].name;
        longopts[n].has_arg = spec->opts[i].type == CLI_OPT_FLAG
                                  ? no_argument
                                  : required_argument;
        longopts[n].flag = NULL;
        longopts[n].val = OPT_BASE + (int)i;
    }
    for (size_t i = 0; spec->tx != NULL && i < TX_COUNT; i++, n++) {
        longopts[n].name = tx_opts[i].name;
        longopts[n].has_arg =
            tx_opts[i].type == CLI_OPT_FLAG ? no_argument : required_argument;
        longopts[n].flag = NULL;
        longopts[n].val = TX_BASE + (int)i;
    }
    longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    if (spec->tx != NULL) {
        spec->tx->what = spec->what;
    }
    /* No '+': options may follow the operands ("approve ID --nonce 7"). */
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int rc;
        if (opt == 'h') {
            spec_help(spec);
            *exit_code = CLI_EXIT_OK;
            return 0;
        }
        if (opt >= TX_BASE && opt < TX_BASE + TX_COUNT) {
            rc = opt_value(spec->what, &tx_opts[opt - TX_BASE],
                           tx_dest(spec->tx, opt - TX_BASE), optarg);
        } else if (opt >= OPT_BASE && opt < OPT_BASE + (int)spec->opts_count) {
            given[opt - OPT_BASE] = 1;
            rc = opt_value(spec->what, &spec->opts[opt - OPT_BASE],
                           spec->opts[opt - OPT_BASE].dest, optarg);
        } else {
            rc = cli_option_error(spec->what, opt, argv);
        }
        if (rc != CLI_EXIT_OK) {
            *exit_code = rc;
            return 0;
        }
    }
    for (size_t i = 0; i < spec->opts_count; i++) {
        const struct cli_opt *o = &spec->opts[i];
        if ((o->flags & CLI_REQUIRED) && !given[i]) {
            *exit_code = cli_usage_error(spec->what, "--%s%s%s is required",
                                         o->name, o->meta != NULL ? " " : "",
                                         o->meta != NULL ? o->meta : "");
            return 0;
        }
    }
    operands = (size_t)(argc - optind);
    if (operands > spec->operands_max) {
        *exit_code = cli_usage_error(spec->what, "unexpected argument '%s'",
                                     argv[optind + (int)spec->operands_max]);
        return 0;
    }
    if (operands < spec->operands_min) {
        *exit_code = cli_usage_error(spec->what, "missing operand: give %s",
                                     spec->operands);
        return 0;
    }
    *first = optind;
    return 1;
}

int cli_arg_entry(const char *what, const char *name, const char *text)
{
    if (!codec_dataset_id_valid(text)) {
        return cli_usage_error(what,
                               "%s '%s' is not an entry id: %u-%u bytes of "
                               "[a-z0-9-]",
                               name, text, CODEC_DATASET_ID_MIN,
                               CODEC_DATASET_ID_MAX);
    }
    return CLI_EXIT_OK;
}

int cli_arg_member(const char *what, const char *name, const char *text)
{
    if (tdei_member_id_check(text) != 0) {
        return cli_usage_error(what,
                               "%s '%s' is not a member id: 3-32 bytes of "
                               "[a-z0-9-]",
                               name, text);
    }
    return CLI_EXIT_OK;
}

int cli_arg_hash(const char *what, const char *name, const char *text,
                 uint8_t out[32])
{
    if (tdei_hex_decode(out, 32, text) != 0) {
        return cli_usage_error(what, "%s '%s' is not 64 hex digits", name,
                               text);
    }
    return CLI_EXIT_OK;
}

/* ---- txs ----------------------------------------------------------------- */

/* Nonces tried by one submit when the chosen one is taken in the mempool
 * (TDEI_NONCE_TAKEN). */
#define CLI_NONCE_TRIES 16u

/* The next nonce of @signer: its committed nonce + 1. */
static int tx_next_nonce(const struct cli_ctx *ctx, const uint8_t *signer,
                         uint64_t *nonce)
{
    ProtobufCMessage *msg = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    int rc;

    rc = cli_object_get(ctx, key, contract_key_opkey(key, signer),
                        "this home's operator key (ask the network to add "
                        "the member, or rotate the key in)",
                        &tdei__operator_key__descriptor, &msg, NULL);
    if (rc == CLI_EXIT_OK) {
        *nonce = ((Tdei__OperatorKey *)msg)->nonce + 1;
    }
    codec_message_free(msg);
    return rc;
}

/* The chain id of the node. */
static int tx_chain_id(const struct cli_ctx *ctx, char *out, size_t size)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    (void)snprintf(out, size, "%s", resp->status->chain_id);
    api_client_response_free(resp);
    return CLI_EXIT_OK;
}

static json_t *events_json(const Tdei__TxResult *result)
{
    json_t *events = json_array();

    for (size_t i = 0; events != NULL && i < result->n_events; i++) {
        json_t *attrs = json_object();
        const Tdei__Event *ev = result->events[i];
        for (size_t j = 0; attrs != NULL && j < ev->n_attrs; j++) {
            (void)json_object_set_new(attrs, ev->attrs[j]->key,
                                      json_string(ev->attrs[j]->value));
        }
        (void)json_array_append_new(
            events, json_pack("{s:s, s:o*}", "type", ev->type, "attrs", attrs));
    }
    return events;
}

int cli_tx_result_print(const struct cli_ctx *ctx, const uint8_t *tx_id,
                        uint64_t height, uint32_t index,
                        const ProtobufCBinaryData *bytes, const char *id_label)
{
    Tdei__TxResult *result = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char id_hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    int rc;

    rc = codec_txresult_decode(&result, bytes->data, bytes->len, errmsg);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    (void)tdei_hex_encode(id_hex, sizeof(id_hex), tx_id, CODEC_HASH_SIZE);
    if (ctx->json) {
        json_t *out =
            json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:o*}", "tx_id", id_hex,
                      "height", (json_int_t)height, "index", (json_int_t)index,
                      "code", (json_int_t)result->code, "code_name",
                      tdei_errname((int)result->code), "log", result->log,
                      "events", events_json(result));
        if (out != NULL && id_label != NULL && result->code == 0) {
            char key[64];
            (void)snprintf(key, sizeof(key), "%s_id", id_label);
            (void)json_object_set_new(out, key, json_string(id_hex));
        }
        rc = cli_print_json(out);
    } else {
        printf("tx id    %s\n", id_hex);
        if (id_label != NULL && result->code == 0) {
            printf("%-8s %s\n", id_label, id_hex);
        }
        printf("height   %llu\nindex    %u\nresult   %s\n",
               (unsigned long long)height, index,
               result->code == 0 ? "applied" : tdei_errname((int)result->code));
        if (result->code != 0) {
            printf("reason   %s\n", result->log);
        }
        for (size_t i = 0; i < result->n_events; i++) {
            const Tdei__Event *ev = result->events[i];
            printf("event    %s", ev->type);
            for (size_t j = 0; j < ev->n_attrs; j++) {
                printf(" %s=%s", ev->attrs[j]->key, ev->attrs[j]->value);
            }
            printf("\n");
        }
        rc = CLI_EXIT_OK;
    }
    if (result->code != 0) {
        fprintf(stderr, "tdei: error: the ledger refused the tx: %s (%s)\n",
                result->log, tdei_errname((int)result->code));
        rc = CLI_EXIT_FAIL;
    }
    codec_txresult_free(result);
    return rc;
}

/* Check @body (its op set, the signer's key in place) with the ledger's
 * own decoder before asking the node anything, with placeholders for the
 * chain id and nonce: a body it refuses is a usage error of @tx. */
static int tx_check(const struct cli_tx *tx, Tdei__TxBody *body)
{
    Tdei__TxBody *check = NULL;
    uint8_t *bytes = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    size_t len;
    int rc;

    body->version = CODEC_VERSION;
    body->chain_id = (char *)(uintptr_t) "check";
    body->nonce = tx->nonce != 0 ? tx->nonce : 1;
    rc = codec_txbody_encode(body, &bytes, &len);
    if (rc == 0) {
        rc = codec_txbody_decode(&check, bytes, len, errmsg);
        codec_txbody_free(check);
    }
    tdei_free(bytes);
    body->chain_id = NULL;
    if (rc == TDEI_NOMEM) {
        return cli_fail(rc, NULL);
    }
    if (rc != 0) {
        return cli_usage_error(tx->what, "%s (%s)",
                               errmsg[0] != '\0' ? errmsg : tdei_strerror(rc),
                               tdei_errname(rc));
    }
    return CLI_EXIT_OK;
}

int cli_tx_sign(const struct tdei_keypair *kp, const Tdei__TxBody *body,
                uint8_t **tx_bytes, size_t *tx_len)
{
    Tdei__Tx msg = TDEI__TX__INIT;
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t *body_bytes = NULL;
    size_t body_len;
    int rc;

    rc = codec_txbody_encode(body, &body_bytes, &body_len);
    if (rc == 0) {
        rc = tdei_sign_tagged(sig, kp, TDEI_TAG_TX, body_bytes, body_len);
    }
    if (rc == 0) {
        msg.body.data = body_bytes;
        msg.body.len = body_len;
        msg.sig.data = sig;
        msg.sig.len = TDEI_SIG_SIZE;
        rc = codec_tx_encode(&msg, tx_bytes, tx_len);
    }
    tdei_free(body_bytes);
    if (rc != 0) {
        return cli_fail(rc, "cannot sign the tx");
    }
    return CLI_EXIT_OK;
}

int cli_tx_submit(const struct cli_ctx *ctx, const struct cli_tx *tx,
                  Tdei__TxBody *body)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SubmitTx submit = TDEI__API__SUBMIT_TX__INIT;
    Tdei__Api__Response *resp = NULL;
    struct tdei_keypair kp;
    char chain_id[TDEI_CHAIN_ID_MAX + 1];
    char id_hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    uint8_t *tx_bytes = NULL;
    size_t tx_len = 0;
    uint64_t nonce = tx->nonce;
    int rc;

    rc = cli_operator_key(ctx, tx->passphrase_file, &kp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    body->signer.data = kp.pubkey;
    body->signer.len = TDEI_PUBKEY_SIZE;
    rc = tx_check(tx, body);
    if (rc == CLI_EXIT_OK) {
        rc = tx_chain_id(ctx, chain_id, sizeof(chain_id));
    }
    if (rc == CLI_EXIT_OK && nonce == 0) {
        rc = tx_next_nonce(ctx, kp.pubkey, &nonce);
    }
    submit.wait = !tx->no_wait;
    submit.timeout_ms = (uint32_t)tx->timeout_ms;
    req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
    req.submit = &submit;
    /* With a nonce chosen here, one that another client of this operator
     * key holds in the mempool (the node's own deliveries and stream
     * appends sign with it too) is passed over for the next. */
    for (unsigned tries = 0; rc == CLI_EXIT_OK; tries++) {
        body->chain_id = chain_id;
        body->nonce = nonce;
        rc = cli_tx_sign(&kp, body, &tx_bytes, &tx_len);
        if (rc != CLI_EXIT_OK) {
            break;
        }
        submit.tx.data = tx_bytes;
        submit.tx.len = tx_len;
        rc = call_answer(ctx, &req, &resp);
        tdei_free(tx_bytes);
        tx_bytes = NULL;
        if (rc != CLI_EXIT_OK) {
            break;
        }
        if (resp->code == TDEI_NONCE_TAKEN && tx->nonce == 0 &&
            tries + 1 < CLI_NONCE_TRIES) {
            api_client_response_free(resp);
            resp = NULL;
            nonce++;
            continue;
        }
        if (resp->code != 0) {
            rc = cli_fail((int)resp->code, resp->error);
            api_client_response_free(resp);
            resp = NULL;
        }
        break;
    }
    body->chain_id = NULL;
    body->signer.data = NULL;
    body->signer.len = 0;
    tdei_keypair_wipe(&kp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (tx->no_wait) {
        (void)tdei_hex_encode(id_hex, sizeof(id_hex), resp->submit->tx_id.data,
                              CODEC_HASH_SIZE);
        if (ctx->json) {
            rc = cli_print_json(json_pack("{s:s, s:I, s:b}", "tx_id", id_hex,
                                          "nonce", (json_int_t)nonce,
                                          "committed", 0));
        } else {
            printf("tx id    %s\nnonce    %llu\nstatus   admitted to the "
                   "mempool\n",
                   id_hex, (unsigned long long)nonce);
        }
    } else {
        rc = cli_tx_result_print(ctx, resp->submit->tx_id.data,
                                 resp->submit->height, resp->submit->index,
                                 &resp->submit->result, tx->id_label);
    }
    api_client_response_free(resp);
    return rc;
}

/* ---- reads --------------------------------------------------------------- */

int cli_object_get(const struct cli_ctx *ctx, const uint8_t *key, size_t klen,
                   const char *what, const ProtobufCMessageDescriptor *desc,
                   ProtobufCMessage **out, uint64_t *height)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetObject get = TDEI__API__GET_OBJECT__INIT;
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    *out = NULL;
    get.key.data = (uint8_t *)(uintptr_t)key;
    get.key.len = klen;
    req.req_case = TDEI__API__REQUEST__REQ_GET_OBJECT;
    req.get_object = &get;
    rc = call_answer(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (resp->code == TDEI_NOTFOUND) {
        api_client_response_free(resp);
        if (what == NULL) {
            return CLI_EXIT_OK;
        }
        fprintf(stderr, "tdei: error: %s is not on the ledger (%s)\n", what,
                tdei_errname(TDEI_NOTFOUND));
        return CLI_EXIT_FAIL;
    }
    if (resp->code != 0) {
        rc = cli_fail((int)resp->code, resp->error);
        api_client_response_free(resp);
        return rc;
    }
    rc = codec_message_unpack(out, desc, resp->object->value.data,
                              resp->object->value.len, "state record", errmsg);
    if (height != NULL) {
        *height = resp->object->height;
    }
    api_client_response_free(resp);
    return rc != 0 ? cli_fail(rc, errmsg) : CLI_EXIT_OK;
}

/* Bound of a listing: pages of CLI_LIST_PAGE entries. */
#define CLI_LIST_PAGE 1000u
#define CLI_LIST_PAGES_MAX 10000u

/* Call rows->fn on each entry of @page. */
static int rows_page(struct cli_rows *rows, const Tdei__Api__ObjectList *page)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc = CLI_EXIT_OK;

    for (size_t i = 0; rc == CLI_EXIT_OK && i < page->n_entries; i++) {
        const Tdei__Api__KeyValue *kv = page->entries[i];
        ProtobufCMessage *record = NULL;
        int code = codec_message_unpack(&record, rows->desc, kv->value.data,
                                        kv->value.len, "state record", errmsg);
        if (code != 0) {
            return cli_fail(code, errmsg);
        }
        rc = rows->fn(rows, kv, record);
        codec_message_free(record);
    }
    return rc;
}

int cli_rows_walk(struct cli_rows *rows, const uint8_t *prefix, size_t plen)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__ListObjects list = TDEI__API__LIST_OBJECTS__INIT;
    Tdei__Api__Response *resp = NULL;
    uint8_t last[STORE_KEY_SIZE_MAX];
    int more = 1;
    int rc = CLI_EXIT_OK;

    if (rows->ctx->json && rows->array == NULL) {
        rows->array = json_array();
    }
    list.prefix.data = (uint8_t *)(uintptr_t)prefix;
    list.prefix.len = plen;
    list.limit = CLI_LIST_PAGE;
    req.req_case = TDEI__API__REQUEST__REQ_LIST_OBJECTS;
    req.list_objects = &list;
    for (unsigned page = 0; more && rc == CLI_EXIT_OK; page++) {
        const Tdei__Api__ObjectList *got;
        const ProtobufCBinaryData *key;
        if (page == CLI_LIST_PAGES_MAX) {
            rc = cli_error("the listing has more than %u pages of %u; "
                           "stopped",
                           CLI_LIST_PAGES_MAX, CLI_LIST_PAGE);
            break;
        }
        rc = cli_call(rows->ctx, &req, &resp);
        if (rc != CLI_EXIT_OK) {
            break;
        }
        got = resp->object_list;
        rows->height = got->height;
        rc = rows_page(rows, got);
        more = got->more && got->n_entries > 0;
        key = more ? &got->entries[got->n_entries - 1]->key : NULL;
        if (key != NULL && key->len <= sizeof(last)) {
            memcpy(last, key->data, key->len);
            list.start_after.data = last;
            list.start_after.len = key->len;
        } else if (key != NULL) {
            rc = cli_error("the node answered a key of %zu bytes", key->len);
        }
        api_client_response_free(resp);
    }
    if (rc != CLI_EXIT_OK) {
        json_decref(rows->array);
        rows->array = NULL;
    }
    return rc;
}

int cli_rows_list(struct cli_rows *rows, const char *prefix, const char *name)
{
    int rc = cli_rows_walk(rows, (const uint8_t *)prefix, strlen(prefix));

    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (rows->ctx->json) {
        rc = cli_print_json(json_pack("{s:I, s:o}", "height",
                                      (json_int_t)rows->height, name,
                                      rows->array));
        rows->array = NULL;
        return rc;
    }
    printf("%zu %s at height %llu\n", rows->count, name,
           (unsigned long long)rows->height);
    return CLI_EXIT_OK;
}

json_t *cli_json_hex(const uint8_t *data, size_t n)
{
    json_t *s;
    char *hex = tdei_malloc(TDEI_HEX_SIZE(n));

    if (hex == NULL) {
        return NULL;
    }
    (void)tdei_hex_encode(hex, TDEI_HEX_SIZE(n), data, n);
    s = json_string(hex);
    tdei_free(hex);
    return s;
}

const char *cli_hex(char *out, size_t size, const ProtobufCBinaryData *field)
{
    if (field->len == 0 || TDEI_HEX_SIZE(field->len) > size) {
        (void)snprintf(out, size, "-");
        return out;
    }
    return tdei_hex_encode(out, size, field->data, field->len);
}

void cli_sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u),
                          .tv_nsec = (long)(ms % 1000u) * 1000000L};

    (void)nanosleep(&ts, NULL);
}

static uint64_t clock_us(clockid_t clock)
{
    struct timespec ts;

    (void)clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t cli_mono_us(void) { return clock_us(CLOCK_MONOTONIC); }

uint64_t cli_wall_us(void) { return clock_us(CLOCK_REALTIME); }

uint64_t cli_mono_ms(void) { return cli_mono_us() / 1000u; }

uint64_t cli_wall_ms(void) { return cli_wall_us() / 1000u; }
