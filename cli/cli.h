/* The `tdei` command: shared plumbing for the command groups.
 *
 *   tdei [--home DIR] [--node ADDR] [--json] GROUP [COMMAND] [ARGS]
 *
 * Each group lives in its own file (cmd_<group>.c) and exposes one entry
 * point `int cli_cmd_<group>(struct cli_ctx *ctx, int argc, char **argv)`
 * whose argv[0] is the group name. Groups with sub-commands dispatch from a
 * {name, fn, summary} table through cli_dispatch.
 *
 * Exit codes (README "Exit codes"):
 *   0 success; 1 the operation failed (the message says why and what to
 *   do); 2 bad usage (unknown command or option, missing or malformed
 *   argument); 3 a verification said no (bad signature, bad proof).
 * Errors go to stderr as "tdei: error: <what> (<TDEI_NAME>)". */
#ifndef TDEI_CLI_CLI_H
#define TDEI_CLI_CLI_H

#include "api.pb-c.h"
#include "core/keys.h"

#include <jansson.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_INVALID = 3,
};

/* Options that stand before the group. */
struct cli_ctx {
    const char *home; /* --home DIR or $TDEI_HOME or ~/.tdei */
    const char *node; /* --node ADDR, or NULL for the home's socket */
    int json;         /* --json: machine-readable output */
};

typedef int (*cli_fn)(struct cli_ctx *ctx, int argc, char **argv);

struct cli_command {
    const char *name;    /* sub-command word */
    cli_fn fn;           /* handler; its argv[0] is the sub-command */
    const char *summary; /* one line for the group's --help */
};

/* Run the sub-command argv[1] of @group from @table (@count entries);
 * "--help", "-h" or no sub-command print the table. Returns the exit code. */
int cli_dispatch(struct cli_ctx *ctx, const char *group,
                 const struct cli_command *table, size_t count, int argc,
                 char **argv);

/* Print "tdei: error: <fmt...>" on stderr. Returns CLI_EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a usage error and the hint "run `tdei <what> --help`" on stderr.
 * Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report the tdei error @code with @errmsg (may be NULL or empty: the
 * code's own message is used) and return its exit code: CLI_EXIT_INVALID
 * for TDEI_BADSIG and TDEI_BADPROOF, CLI_EXIT_USAGE for TDEI_BADHEX and
 * TDEI_INVAL, otherwise CLI_EXIT_FAIL. */
int cli_fail(int code, const char *errmsg);

/* Print @value as indented JSON on stdout and release it (steals the
 * reference). Returns CLI_EXIT_OK, or CLI_EXIT_FAIL if it cannot print. */
int cli_print_json(json_t *value);

/* Read a passphrase for an encrypted key: from the file named by
 * @passphrase_file when not NULL (first line, without the newline), else
 * from $TDEI_PASSPHRASE. Writes it NUL-terminated into @out (@size bytes).
 * Returns: 1 when a passphrase was found, 0 when none was given, or
 * -1 after printing an error (unreadable file, too long). */
int cli_passphrase(const char *passphrase_file, char *out, size_t size);

/* Start getopt_long parsing of a command's own argv: reset getopt's state
 * and silence its messages (cli_option_error reports instead). Option
 * strings start with "+:" so that parsing stops at the first operand and
 * a missing value is reported as ':'. */
void cli_getopt_reset(void);

/* Report the getopt_long failure @opt ('?' unknown option, ':' missing
 * value) of `tdei @what` (e.g. "keys show"), naming the option from
 * @argv. Returns CLI_EXIT_USAGE. */
int cli_option_error(const char *what, int opt, char **argv);

/* Parse a decimal unsigned 64-bit @text into @out; no sign, no spaces,
 * no trailing characters. Returns 0 or -1. */
int cli_parse_u64(const char *text, uint64_t *out);

struct home_identity;
struct api_client;

/* Connect to the node: ctx->node when given, else the home's api.socket
 * (config.ini; default DIR/api.sock), with @timeout_ms bounding each
 * connect, send and receive. Prints the error and returns its exit code
 * on failure; 0 with @client connected. */
int cli_connect(const struct cli_ctx *ctx, struct api_client *client,
                uint32_t timeout_ms);

/* Send @req to the node and read its answer into *@resp (a submit that
 * waits for its commit gets its timeout plus a margin to answer). A transport
 * failure or an answer with a non-zero code is printed (code name and
 * the node's message) and returned as an exit code, with *@resp NULL.
 * Returns: CLI_EXIT_OK with *@resp to free with api_client_response_free. */
int cli_call(const struct cli_ctx *ctx, Tdei__Api__Request *req,
             Tdei__Api__Response **resp);

/* Load the secret operator key of the home (passphrase from
 * @passphrase_file or $TDEI_PASSPHRASE). Prints the error and returns its
 * exit code on failure. */
int cli_operator_key(const struct cli_ctx *ctx, const char *passphrase_file,
                     struct tdei_keypair *kp);

/* Print @n bytes of @data as hex on @out. */
void cli_print_hex(FILE *out, const uint8_t *data, size_t n);

/* Print the identity of the home ctx->home (member, role, node, operator
 * and encryption public keys), as a table or as JSON with --json.
 * Returns CLI_EXIT_OK. */
int cli_identity_print(const struct cli_ctx *ctx,
                       const struct home_identity *id);

/* The group entry points. */
int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_keys(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_proof(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_genesis(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_tx(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_account(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_block(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_status(struct cli_ctx *ctx, int argc, char **argv);

/* `tdei catalog search [WORDS...] [filters]` (cmd_search.c): one command
 * of the catalog group, whose argv[0] is "search". Asks the node's
 * SearchCatalog and prints the page as a table or JSON. A bad option,
 * value or word is a usage error (exit 2) checked before any connection
 * (search_query_check), so it needs no node. */
int cli_cmd_catalog_search(struct cli_ctx *ctx, int argc, char **argv);

#endif
