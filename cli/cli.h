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
#include "tdei.pb-c.h"

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

/* ---- declarative options --------------------------------------------------
 *
 * A command describes its options in a table of struct cli_opt and its
 * operands in a struct cli_spec; cli_parse reads argv (options may come
 * before or after the operands), checks every value, prints `--help` from
 * the same table, and reports each mistake as a usage error (exit 2) that
 * names the option, echoes the value and gives the accepted form. */

/* Most options of one command, and most values of a repeatable one (tags
 * and parents: CODEC_TAGS_MAX, CODEC_PARENTS_MAX). */
#define CLI_OPTS_MAX 32u
#define CLI_LIST_MAX 16u

enum cli_opt_type {
    CLI_OPT_FLAG,   /* no value; *(int *)dest = 1 */
    CLI_OPT_TEXT,   /* *(const char **)dest = the value */
    CLI_OPT_U64,    /* decimal in [min, max] (max 0: no bound); uint64_t */
    CLI_OPT_HASH,   /* 64 hex digits; struct cli_hash */
    CLI_OPT_CHOICE, /* a name of `choices` or its number (index + 1);
                       uint32_t */
    CLI_OPT_LIST,   /* repeatable text; struct cli_list */
};

/* CLI_OPT_HASH: 32 bytes (a key, a root or an id) and whether given. */
struct cli_hash
{
    uint8_t bytes[32];
    int set;
};

/* CLI_OPT_LIST: the values in the order given. */
struct cli_list
{
    const char *items[CLI_LIST_MAX];
    size_t count;
};

/* cli_opt.flags */
#define CLI_REQUIRED 1u /* the option must be given */

struct cli_opt
{
    const char *name;           /* long name, without "--" */
    enum cli_opt_type type;     /* how its value is read */
    void *dest;                 /* where the value goes (see the type) */
    const char *meta;           /* value placeholder in the help: "N" */
    const char *help;           /* one line */
    unsigned flags;             /* CLI_REQUIRED */
    uint64_t min;               /* CLI_OPT_U64: smallest value */
    uint64_t max;               /* CLI_OPT_U64: largest, 0 = none */
    const char *const *choices; /* CLI_OPT_CHOICE: NULL-terminated */
};

/* How a tx command signs, submits and waits (the tx options). */
struct cli_tx
{
    const char *what;            /* the command, for messages (cli_parse) */
    uint64_t nonce;              /* --nonce N; 0: the committed one + 1 */
    uint64_t timeout_ms;         /* --timeout-ms MS */
    int no_wait;                 /* --no-wait */
    const char *passphrase_file; /* --passphrase-file FILE */
    const char *id_label;        /* "exchange", "proposal": the tx id is
                                    also that object's id; NULL if not */
};

/* How long a tx command waits for the commit unless told otherwise. */
#define CLI_TX_WAIT_MS_DEFAULT 10000u
#define CLI_TX_INIT(label)                                                     \
    {                                                                          \
        NULL, 0, CLI_TX_WAIT_MS_DEFAULT, 0, NULL, (label)                      \
    }

/* A command: its name, operands, description and options. */
struct cli_spec
{
    const char *what;           /* "exchange request" */
    const char *operands;       /* "ENTRY", "NAME VALUE"; NULL: none */
    size_t operands_min;        /* operands at least */
    size_t operands_max;        /* operands at most */
    const char *about;          /* what the command does (help) */
    const struct cli_opt *opts; /* its own options */
    size_t opts_count;          /* entries of opts, <= CLI_OPTS_MAX */
    struct cli_tx *tx;          /* a tx command: the tx options go here;
                                   NULL for a read */
};

/* Parse @argv (argv[0] the command word) by @spec. On success returns 1
 * with the operands at argv[*first .. argc-1]; otherwise returns 0 with
 * *@exit_code to return: CLI_EXIT_OK after --help, CLI_EXIT_USAGE after a
 * printed usage error (unknown option, missing or malformed value,
 * missing required option, wrong operand count). */
int cli_parse(const struct cli_spec *spec, int argc, char **argv, int *first,
              int *exit_code);

/* Operand checks: each returns CLI_EXIT_OK, or prints a usage error of
 * `tdei @what` and returns CLI_EXIT_USAGE. @name names the operand. */
int cli_arg_entry(const char *what, const char *name, const char *text);
int cli_arg_member(const char *what, const char *name, const char *text);
int cli_arg_hash(const char *what, const char *name, const char *text,
                 uint8_t out[32]);

/* Names of the numbered enums of the ledger, NULL-terminated, index + 1 =
 * number: entry kinds, data domains, classes, price models, roles and
 * exchange statuses. */
extern const char *const cli_kinds[];
extern const char *const cli_domains[];
extern const char *const cli_classes[];
extern const char *const cli_models[];
extern const char *const cli_roles[];
extern const char *const cli_exchange_statuses[];

/* The name of @value in @names (as above), or "?" when out of range. */
const char *cli_name(const char *const *names, uint32_t value);

/* ---- txs, reads and listings ----------------------------------------------
 */

/* Sign @body with the home's operator key and submit it: fill in version,
 * chain id (asked of the node), signer and nonce (tx->nonce, or the
 * signer's committed nonce + 1); check the body locally with the ledger's
 * own field rules first (a body they refuse is a usage error of
 * tx->what); wait for the commit unless tx->no_wait. Prints the tx id,
 * and when waited its height, result, reason and events (a table, or JSON
 * with --json); with tx->id_label the id is also printed as that object's
 * id. Returns CLI_EXIT_OK when applied (or admitted without wait),
 * CLI_EXIT_FAIL when the ledger refused it (with "the ledger refused the
 * tx: <reason> (<CODE>)" on stderr), or the exit code of the failure. */
int cli_tx_submit(const struct cli_ctx *ctx, const struct cli_tx *tx,
                  Tdei__TxBody *body);

/* Encode @body (chain id, signer and nonce filled in), sign it with @kp
 * and encode the Tx into *@tx_bytes (tdei_malloc'd, *@tx_len bytes).
 * Prints the error and returns its exit code on failure. */
int cli_tx_sign(const struct tdei_keypair *kp, const Tdei__TxBody *body,
                uint8_t **tx_bytes, size_t *tx_len);

/* Print the committed tx @tx_id at @height/@index with its serialized
 * TxResult @bytes, as cli_tx_submit does (@id_label may be NULL).
 * Returns CLI_EXIT_OK, or CLI_EXIT_FAIL for a refused tx. */
int cli_tx_result_print(const struct cli_ctx *ctx, const uint8_t *tx_id,
                        uint64_t height, uint32_t index,
                        const ProtobufCBinaryData *bytes, const char *id_label);

/* Read the state record at @key and unpack it as a @desc message into
 * *@out (free with codec_message_free); *@height gets the height it was
 * read at (may be NULL). A missing record is the error "<@what> is not on
 * the ledger" (TDEI_NOTFOUND, exit 1) when @what is not NULL, and
 * CLI_EXIT_OK with *@out NULL when @what is NULL. Returns an exit code. */
int cli_object_get(const struct cli_ctx *ctx, const uint8_t *key, size_t klen,
                   const char *what, const ProtobufCMessageDescriptor *desc,
                   ProtobufCMessage **out, uint64_t *height);

struct cli_rows;

/* Called for each listed record, unpacked as rows->desc (@kv holds its key
 * and bytes). It prints a row (or appends it to rows->array with --json)
 * and counts it in rows->count, or skips it. Returns CLI_EXIT_OK to go
 * on, or an exit code to stop the listing with. */
typedef int (*cli_row_fn)(struct cli_rows *rows, const Tdei__Api__KeyValue *kv,
                          const ProtobufCMessage *record);

/* A listing of state records, printed as a table or as JSON. */
struct cli_rows
{
    const struct cli_ctx *ctx;              /* --json: rows go to array */
    const ProtobufCMessageDescriptor *desc; /* the records' type */
    cli_row_fn fn;                          /* prints one row */
    void *arg;                              /* the command's own */
    json_t *array;   /* --json: the rows (cli_rows_walk creates it) */
    size_t count;    /* rows printed so far (fn counts) */
    uint64_t height; /* height of the last page read */
};

/* Walk every state record whose key begins with @prefix (@plen bytes;
 * ListObjects, page by page), calling rows->fn in key order. Returns an
 * exit code; on failure rows->array is released. */
int cli_rows_walk(struct cli_rows *rows, const uint8_t *prefix, size_t plen);

/* Walk the records under the state prefix @prefix ("member/") and end the
 * listing: with --json print {"height": H, "@name": [rows]}, else the line
 * "N @name at height H". Returns an exit code. */
int cli_rows_list(struct cli_rows *rows, const char *prefix, const char *name);

/* A tx command whose op has only an entry id (catalog withdraw,
 * approve-lowering, accept, cancel-offer; stream open, close): parse
 * `tdei @what ID` with the tx options, described by @about, and submit
 * op @op (a Tdei__TxBody__OpCase of one of those ops). Returns the exit
 * code. Defined in cmd_catalog.c. */
int cli_entry_op(struct cli_ctx *ctx, int argc, char **argv, const char *what,
                 const char *about, int op);

/* Read exchange @id (32 bytes; @id_hex as the operator gave it) into
 * *@exchange (a Tdei__Exchange; free with codec_message_free) and its
 * escrow account's balance into *@escrow (a missing account holds 0);
 * *@height gets the height read at (may be NULL). An unknown exchange is
 * the error "exchange <id> is not on the ledger". Returns an exit code.
 * Defined in cmd_exchange.c. */
int cli_exchange_read(const struct cli_ctx *ctx, const char *id_hex,
                      const uint8_t *id, ProtobufCMessage **exchange,
                      uint64_t *escrow, uint64_t *height);

/* As cli_call, for requests the node holds a while (FetchPayload,
 * DeliverNow, ImportPayload): the answer may take @wait_ms plus a margin.
 * Defined in cmd_exchange.c. */
int cli_call_wait(const struct cli_ctx *ctx, Tdei__Api__Request *req,
                  Tdei__Api__Response **resp, uint32_t wait_ms);

/* Sleep @ms milliseconds; a signal cuts it short (the callers poll and
 * look again). */
void cli_sleep_ms(uint64_t ms);

/* The monotonic clock (for intervals and deadlines) and the wall clock
 * (Unix time), in microseconds or milliseconds. */
uint64_t cli_mono_us(void);
uint64_t cli_wall_us(void);
uint64_t cli_mono_ms(void);
uint64_t cli_wall_ms(void);

/* Make the file path @path (option @name of `tdei @what`) absolute with
 * the working directory into @out: the node works in another directory,
 * so it takes absolute paths only. An empty or too long result is a
 * usage error. Returns an exit code. Defined in cmd_exchange.c. */
#define CLI_PATH_SIZE 8200u
int cli_path_absolute(const char *what, const char *name, const char *path,
                      char out[CLI_PATH_SIZE]);

/* The hex of @data (@n bytes) as a new JSON string; "" when @n is 0. */
json_t *cli_json_hex(const uint8_t *data, size_t n);

/* The hex of @field into @out (@size bytes), or "-" when it is empty or
 * does not fit. Returns @out. */
const char *cli_hex(char *out, size_t size, const ProtobufCBinaryData *field);

/* The group entry points. */
int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_keys(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_proof(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_genesis(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_tx(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_account(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_block(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_status(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_member(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_catalog(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_exchange(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_stream(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_localnet(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_bench(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_verify(struct cli_ctx *ctx, int argc, char **argv);

/* `tdei audit chain [--from H] [--to H] [--genesis FILE] [--blocks-from
 * DIR] [--export DIR] [--work-dir DIR]` (cmd_audit_chain.c): argv[0] is
 * "chain". Re-verifies the chain from genesis.json with no trust in the
 * node: headers, links, txs roots, every commit against the validator set
 * of its height, and, by re-executing every block in a scratch store, app
 * hashes and results roots. Returns CLI_EXIT_OK when all checks out,
 * CLI_EXIT_INVALID after printing the first fault (height, check,
 * expected, found), CLI_EXIT_FAIL when the audit could not run and
 * CLI_EXIT_USAGE on bad usage. */
int cli_audit_chain(struct cli_ctx *ctx, int argc, char **argv);

struct localnet;

/* Create a localnet of @nodes nodes (1..LOCALNET_NODES_MAX) in --dir
 * @dir_text for `tdei @what` (localnet_create: p2p ports from
 * @base_port, 0 = free ones; @sink adds the bench's receiving member).
 * A bad or non-empty directory is a usage error. Prints the error and
 * returns its exit code on failure. Defined in cmd_localnet.c. */
int cli_localnet_create(const char *what, const char *dir_text,
                        uint64_t nodes, uint64_t base_port, int sink,
                        struct localnet *ln);

/* Start every node of @ln and wait up to @wait_ms until each has
 * committed @height (0: until each API answers). On failure prints which node failed and the end of
 * its log, stops every node of @ln and returns CLI_EXIT_FAIL (or the
 * exit code of a missing tdei-node binary). Defined in cmd_localnet.c. */
int cli_localnet_start(struct localnet *ln, uint64_t height,
                       uint64_t wait_ms);

/* `tdei catalog search [WORDS...] [filters]` (cmd_search.c): one command
 * of the catalog group, whose argv[0] is "search". Asks the node's
 * SearchCatalog and prints the page as a table or JSON. A bad option,
 * value or word is a usage error (exit 2) checked before any connection
 * (search_query_check), so it needs no node. */
int cli_cmd_catalog_search(struct cli_ctx *ctx, int argc, char **argv);

#endif
