/* tdei proof: build and verify RFC 6962 Merkle proofs (CONSENSUS.md
 * section 3) from plain files, without a node.
 *
 * Leaf input is one leaf per line, each line the hex of the leaf's DATA
 * (hashed here as SHA256(0x00 || data)); an empty line is a leaf with empty
 * data, and the last line's newline is optional. Proofs are JSON documents
 * that `tdei proof verify` checks. Every input is bounded: PROOF_LEAVES_MAX
 * lines of at most PROOF_LEAF_SIZE_MAX bytes each, PROOF_DOC_SIZE_MAX bytes
 * of proof document. */
#include "cli.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/limits.h"
#include "core/merkle.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* Leaves per input (32 MiB of leaf hashes at the limit). */
#define PROOF_LEAVES_MAX 1000000u
/* Bytes of data in one leaf: a leaf is at most one transaction. */
#define PROOF_LEAF_SIZE_MAX TDEI_TX_SIZE_MAX
/* Hex digits in one input line. */
#define PROOF_LINE_MAX (2u * PROOF_LEAF_SIZE_MAX)
/* Bytes of a proof document: a 65-entry path is ~5 KiB, so 1 MiB leaves
 * room for any formatting and still refuses garbage early. */
#define PROOF_DOC_SIZE_MAX TDEI_MIB

#define PROOF_HASH_HEX TDEI_HEX_SIZE(MERKLE_HASH_SIZE)

_Static_assert(PROOF_LEAVES_MAX <= (1u << 30),
               "leaf hashes must fit comfortably in memory");
_Static_assert(PROOF_DOC_SIZE_MAX >= 16u * TDEI_KIB,
               "the document limit must fit a maximal proof");

/* The leaf hashes read from one input. */
struct proof_leaves
{
    uint8_t (*hashes)[MERKLE_HASH_SIZE]; /* tdei_malloc'ed, @cap entries */
    uint64_t count;                      /* leaves read */
    size_t cap;                          /* entries allocated */
};

/* ---- shared helpers --------------------------------------------------- */

static const char *proof_input_name(const char *path)
{
    return path == NULL || strcmp(path, "-") == 0 ? "stdin" : path;
}

/* Open @path for reading ("-" or NULL: stdin). Returns NULL after
 * printing an error. */
static FILE *proof_open(const char *path)
{
    FILE *f;

    if (path == NULL || strcmp(path, "-") == 0) {
        return stdin;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        (void)cli_error("cannot open %s: %s", path, strerror(errno));
    }
    return f;
}

static void proof_close(FILE *f)
{
    if (f != NULL && f != stdin) {
        (void)fclose(f);
    }
}

/* Report a getopt failure (@opt is '?' or ':') of `tdei proof @cmd`. */
static int proof_option_error(const char *cmd, int opt, char **argv)
{
    char what[32];
    const char *arg = argv[optind - 1];

    (void)snprintf(what, sizeof(what), "proof %s", cmd);
    if (opt == ':') {
        return cli_usage_error(what, "option '%s' needs a value", arg);
    }
    return cli_usage_error(what, "unknown option '%s'", arg);
}

/* Reset getopt for a sub-command (glibc: optind 0 re-initialises). */
static void proof_getopt_reset(void)
{
    optind = 0;
    opterr = 0;
}

/* Take at most one positional argument after the options into @path
 * (NULL when there is none). Returns 0 or the usage exit code. */
static int proof_one_input(const char *cmd, int argc, char **argv,
                           const char **path)
{
    char what[32];

    (void)snprintf(what, sizeof(what), "proof %s", cmd);
    *path = NULL;
    if (optind < argc) {
        *path = argv[optind];
    }
    if (optind + 1 < argc) {
        return cli_usage_error(what, "unexpected argument '%s'",
                               argv[optind + 1]);
    }
    return 0;
}

static void proof_hex(char out[PROOF_HASH_HEX],
                      const uint8_t hash[MERKLE_HASH_SIZE])
{
    (void)tdei_hex_encode(out, PROOF_HASH_HEX, hash, MERKLE_HASH_SIZE);
}

/* ---- leaf input ------------------------------------------------------- */

/* Append @hash to @leaves, growing the array. Returns 0 or TDEI_NOMEM. */
static int proof_leaves_push(struct proof_leaves *leaves,
                             const uint8_t hash[MERKLE_HASH_SIZE])
{
    if (leaves->count == leaves->cap) {
        size_t cap = leaves->cap == 0 ? 1024 : 2 * leaves->cap;
        void *grown;
        if (cap > PROOF_LEAVES_MAX) {
            cap = PROOF_LEAVES_MAX;
        }
        grown = tdei_realloc(leaves->hashes, cap * MERKLE_HASH_SIZE);
        if (grown == NULL) {
            return TDEI_NOMEM;
        }
        leaves->hashes = grown;
        leaves->cap = cap;
    }
    memcpy(leaves->hashes[leaves->count], hash, MERKLE_HASH_SIZE);
    leaves->count++;
    return 0;
}

/* Read one line of @f into @line (PROOF_LINE_MAX + 1 bytes), without its
 * "\n" or "\r\n". Returns 1 for a line, 0 at end of input, -1 when the line
 * is too long, -2 on a read error. */
static int proof_read_line(FILE *f, char *line, size_t *len)
{
    int c = EOF;
    size_t n = 0;

    /* At most PROOF_LINE_MAX + 2 characters (digits, "\r", "\n"). */
    for (size_t i = 0; i < PROOF_LINE_MAX + 2; i++) {
        c = getc(f);
        if (c == EOF || c == '\n') {
            break;
        }
        if (n == PROOF_LINE_MAX + 1) {
            return -1;
        }
        line[n++] = (char)c;
    }
    if (c != EOF && c != '\n') {
        return -1;
    }
    if (c == EOF && ferror(f)) {
        return -2;
    }
    if (c == EOF && n == 0) {
        return 0;
    }
    if (n > 0 && line[n - 1] == '\r') {
        n--;
    }
    if (n > PROOF_LINE_MAX) {
        return -1;
    }
    line[n] = '\0';
    *len = n;
    return 1;
}

/* Hash one line of hex leaf data and append it. Returns the exit code. */
static int proof_leaf_add(struct proof_leaves *leaves, const char *name,
                          uint64_t line_no, const char *line, size_t len,
                          uint8_t *data)
{
    uint8_t hash[MERKLE_HASH_SIZE];
    char msg[TDEI_ERRMSG_SIZE];
    size_t size = 0;
    int rc;

    if (memchr(line, '\0', len) != NULL ||
        tdei_hex_decode_var(data, PROOF_LEAF_SIZE_MAX, &size, line) != 0) {
        (void)snprintf(msg, sizeof(msg),
                       "%s line %llu: leaf data is not hex; write each "
                       "leaf's data as an even number of 0-9a-f digits",
                       name, (unsigned long long)line_no);
        return cli_fail(TDEI_BADHEX, msg);
    }
    if (leaves->count >= PROOF_LEAVES_MAX) {
        (void)snprintf(msg, sizeof(msg),
                       "%s has more than %u leaves; split the input", name,
                       PROOF_LEAVES_MAX);
        return cli_fail(TDEI_TOOBIG, msg);
    }
    merkle_leaf_hash(hash, data, size);
    rc = proof_leaves_push(leaves, hash);
    if (rc != 0) {
        return cli_fail(rc, NULL);
    }
    return CLI_EXIT_OK;
}

/* Read and hash the leaves of @path ("-" or NULL: stdin) into @leaves,
 * which the caller frees with tdei_free(leaves->hashes) in any case.
 * Returns the exit code (CLI_EXIT_OK or an error already printed). */
static int proof_leaves_read(const char *path, struct proof_leaves *leaves)
{
    const char *name = proof_input_name(path);
    char msg[TDEI_ERRMSG_SIZE];
    char *line = NULL;
    uint8_t *data = NULL;
    FILE *f;
    int rc = CLI_EXIT_OK;

    memset(leaves, 0, sizeof(*leaves));
    f = proof_open(path);
    if (f == NULL) {
        return CLI_EXIT_FAIL;
    }
    line = tdei_malloc(PROOF_LINE_MAX + 2);
    data = tdei_malloc(PROOF_LEAF_SIZE_MAX);
    if (line == NULL || data == NULL) {
        rc = cli_fail(TDEI_NOMEM, NULL);
        goto err_after_open;
    }
    /* One pass per line; proof_leaf_add stops at PROOF_LEAVES_MAX. */
    for (uint64_t line_no = 1; line_no <= PROOF_LEAVES_MAX + 1; line_no++) {
        size_t len = 0;
        int got = proof_read_line(f, line, &len);
        if (got == 0) {
            break;
        }
        if (got == -1) {
            (void)snprintf(msg, sizeof(msg),
                           "%s line %llu is longer than %u hex digits "
                           "(%u bytes of leaf data)",
                           name, (unsigned long long)line_no, PROOF_LINE_MAX,
                           PROOF_LEAF_SIZE_MAX);
            rc = cli_fail(TDEI_TOOBIG, msg);
            break;
        }
        if (got == -2) {
            rc = cli_error("cannot read %s: %s", name, strerror(errno));
            break;
        }
        rc = proof_leaf_add(leaves, name, line_no, line, len, data);
        if (rc != CLI_EXIT_OK) {
            break;
        }
    }
err_after_open:
    tdei_free(line);
    tdei_free(data);
    proof_close(f);
    return rc;
}

/* ---- tdei proof root -------------------------------------------------- */

static void proof_root_help(void)
{
    printf("usage: tdei [--json] proof root [FILE|-]\n\n"
           "Print the RFC 6962 Merkle root of the leaves in FILE (default "
           "stdin).\nEach line is the hex of one leaf's data; an empty "
           "line is an empty leaf.\nAn input without leaves gives "
           "SHA256(\"\").\n\n"
           "options:\n"
           "  --help  this text\n");
}

static int proof_root(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct proof_leaves leaves;
    uint8_t root[MERKLE_HASH_SIZE];
    char root_hex[PROOF_HASH_HEX];
    const char *path;
    int opt;
    int rc;

    proof_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (opt == 'h') {
            proof_root_help();
            return CLI_EXIT_OK;
        }
        return proof_option_error("root", opt, argv);
    }
    rc = proof_one_input("root", argc, argv, &path);
    if (rc != 0) {
        return rc;
    }
    rc = proof_leaves_read(path, &leaves);
    if (rc == CLI_EXIT_OK) {
        merkle_root(root, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves.hashes,
                    leaves.count);
        proof_hex(root_hex, root);
        if (ctx->json) {
            rc = cli_print_json(json_pack("{s:I, s:s}", "tree_size",
                                          (json_int_t)leaves.count, "root",
                                          root_hex));
        } else {
            printf("%s\n", root_hex);
        }
    }
    tdei_free(leaves.hashes);
    return rc;
}

/* ---- tdei proof inclusion --------------------------------------------- */

static void proof_inclusion_help(void)
{
    printf("usage: tdei proof inclusion --index I [FILE|-]\n\n"
           "Print, as JSON, the RFC 6962 inclusion proof of leaf I "
           "(0-based) among\nthe leaves in FILE (default stdin; one hex "
           "leaf per line):\n"
           "  {\"type\": \"inclusion\", \"leaf_hash\", \"leaf_index\", "
           "\"tree_size\",\n   \"root\", \"path\": [hashes from the leaf "
           "to the root]}\n"
           "Check it with `tdei proof verify`.\n\n"
           "options:\n"
           "  --index I  the leaf to prove, 0 to the number of leaves - 1\n"
           "  --help     this text\n");
}

static json_t *proof_path_json(const uint8_t (*path)[MERKLE_HASH_SIZE],
                               size_t count)
{
    json_t *array = json_array();
    char hex[PROOF_HASH_HEX];

    for (size_t i = 0; array != NULL && i < count; i++) {
        proof_hex(hex, path[i]);
        if (json_array_append_new(array, json_string(hex)) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

/* Print the inclusion proof of leaf @index of @leaves. */
static int proof_inclusion_print(const struct proof_leaves *leaves,
                                 uint64_t index)
{
    const uint8_t(*hashes)[MERKLE_HASH_SIZE] =
        (const uint8_t(*)[MERKLE_HASH_SIZE])leaves->hashes;
    struct merkle_inclusion proof;
    uint8_t root[MERKLE_HASH_SIZE];
    char leaf_hex[PROOF_HASH_HEX];
    char root_hex[PROOF_HASH_HEX];
    json_t *path;

    if (merkle_inclusion_prove(&proof, hashes, leaves->count, index) != 0) {
        return cli_fail(TDEI_INVAL, NULL);
    }
    merkle_root(root, hashes, leaves->count);
    proof_hex(leaf_hex, hashes[index]);
    proof_hex(root_hex, root);
    path = proof_path_json((const uint8_t(*)[MERKLE_HASH_SIZE])proof.path,
                           proof.count);
    if (path == NULL) {
        return cli_fail(TDEI_NOMEM, NULL);
    }
    return cli_print_json(json_pack(
        "{s:s, s:s, s:I, s:I, s:s, s:o}", "type", "inclusion", "leaf_hash",
        leaf_hex, "leaf_index", (json_int_t)index, "tree_size",
        (json_int_t)leaves->count, "root", root_hex, "path", path));
}

static int proof_inclusion(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"index", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct proof_leaves leaves;
    const char *path;
    uint64_t index = 0;
    int have_index = 0;
    int opt;
    int rc;

    (void)ctx;
    proof_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (opt == 'h') {
            proof_inclusion_help();
            return CLI_EXIT_OK;
        }
        if (opt != 'i') {
            return proof_option_error("inclusion", opt, argv);
        }
        if (cli_parse_u64(optarg, &index) != 0) {
            return cli_usage_error("proof inclusion",
                                   "--index '%s' is not a non-negative "
                                   "integer",
                                   optarg);
        }
        have_index = 1;
    }
    if (!have_index) {
        return cli_usage_error("proof inclusion", "--index I is required");
    }
    rc = proof_one_input("inclusion", argc, argv, &path);
    if (rc != 0) {
        return rc;
    }
    rc = proof_leaves_read(path, &leaves);
    if (rc == CLI_EXIT_OK && index >= leaves.count) {
        rc = leaves.count == 0
                 ? cli_usage_error("proof inclusion",
                                   "%s has no leaves to prove",
                                   proof_input_name(path))
                 : cli_usage_error("proof inclusion",
                                   "--index %llu is outside 0-%llu (%s has "
                                   "%llu leaves)",
                                   (unsigned long long)index,
                                   (unsigned long long)(leaves.count - 1),
                                   proof_input_name(path),
                                   (unsigned long long)leaves.count);
    }
    if (rc == CLI_EXIT_OK) {
        rc = proof_inclusion_print(&leaves, index);
    }
    tdei_free(leaves.hashes);
    return rc;
}

/* ---- tdei proof consistency ------------------------------------------- */

static void proof_consistency_help(void)
{
    printf("usage: tdei proof consistency --old-size M [FILE|-]\n\n"
           "Print, as JSON, the RFC 6962 consistency proof that the tree "
           "of the first\nM leaves of FILE (default stdin; one hex leaf "
           "per line) is a prefix of\nthe tree of all N of them:\n"
           "  {\"type\": \"consistency\", \"old_size\", \"new_size\", "
           "\"old_root\",\n   \"new_root\", \"path\": [hashes]}\n"
           "Check it with `tdei proof verify`.\n\n"
           "options:\n"
           "  --old-size M  size of the older tree, 1 to N\n"
           "  --help        this text\n");
}

/* Print the consistency proof from @old_size to all of @leaves. */
static int proof_consistency_print(const struct proof_leaves *leaves,
                                   uint64_t old_size)
{
    const uint8_t(*hashes)[MERKLE_HASH_SIZE] =
        (const uint8_t(*)[MERKLE_HASH_SIZE])leaves->hashes;
    struct merkle_consistency proof;
    uint8_t old_root[MERKLE_HASH_SIZE];
    uint8_t new_root[MERKLE_HASH_SIZE];
    char old_hex[PROOF_HASH_HEX];
    char new_hex[PROOF_HASH_HEX];
    json_t *path;

    if (merkle_consistency_prove(&proof, hashes, old_size, leaves->count) !=
        0) {
        return cli_fail(TDEI_INVAL, NULL);
    }
    merkle_root(old_root, hashes, old_size);
    merkle_root(new_root, hashes, leaves->count);
    proof_hex(old_hex, old_root);
    proof_hex(new_hex, new_root);
    path = proof_path_json((const uint8_t(*)[MERKLE_HASH_SIZE])proof.path,
                           proof.count);
    if (path == NULL) {
        return cli_fail(TDEI_NOMEM, NULL);
    }
    return cli_print_json(json_pack(
        "{s:s, s:I, s:I, s:s, s:s, s:o}", "type", "consistency", "old_size",
        (json_int_t)old_size, "new_size", (json_int_t)leaves->count, "old_root",
        old_hex, "new_root", new_hex, "path", path));
}

static int proof_consistency(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"old-size", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct proof_leaves leaves;
    const char *path;
    uint64_t old_size = 0;
    int have_old = 0;
    int opt;
    int rc;

    (void)ctx;
    proof_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (opt == 'h') {
            proof_consistency_help();
            return CLI_EXIT_OK;
        }
        if (opt != 'm') {
            return proof_option_error("consistency", opt, argv);
        }
        if (cli_parse_u64(optarg, &old_size) != 0 || old_size == 0) {
            return cli_usage_error("proof consistency",
                                   "--old-size '%s' is not a positive "
                                   "integer",
                                   optarg);
        }
        have_old = 1;
    }
    if (!have_old) {
        return cli_usage_error("proof consistency", "--old-size M is required");
    }
    rc = proof_one_input("consistency", argc, argv, &path);
    if (rc != 0) {
        return rc;
    }
    rc = proof_leaves_read(path, &leaves);
    if (rc == CLI_EXIT_OK && old_size > leaves.count) {
        rc = cli_usage_error(
            "proof consistency",
            "--old-size %llu is outside 1-%llu (%s has %llu "
            "leaves)",
            (unsigned long long)old_size, (unsigned long long)leaves.count,
            proof_input_name(path), (unsigned long long)leaves.count);
    }
    if (rc == CLI_EXIT_OK) {
        rc = proof_consistency_print(&leaves, old_size);
    }
    tdei_free(leaves.hashes);
    return rc;
}

/* ---- tdei proof verify: document parsing ------------------------------ */

/* A parsed proof document of either type. */
struct proof_doc
{
    int consistency;                  /* 0: inclusion, 1: consistency */
    uint64_t first;                   /* leaf_index, or old_size */
    uint64_t second;                  /* tree_size, or new_size */
    uint8_t hash_a[MERKLE_HASH_SIZE]; /* leaf_hash, or old_root */
    uint8_t hash_b[MERKLE_HASH_SIZE]; /* root, or new_root */
    size_t count;                     /* path entries */
    uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_SIZE];
};

/* The field names of each type, in the order above. */
static const char *const proof_fields[2][5] = {
    {"leaf_index", "tree_size", "leaf_hash", "root", "path"},
    {"old_size", "new_size", "old_root", "new_root", "path"},
};

/* Parse field @name of @obj as a non-negative integer. Returns 0, or
 * TDEI_MALFORMED with @msg set. */
static int proof_doc_u64(json_t *obj, const char *name, uint64_t *out,
                         char *msg, size_t size)
{
    json_t *value = json_object_get(obj, name);

    if (value == NULL) {
        return tdei_errorf(msg, size, TDEI_MALFORMED, "missing field '%s'",
                           name);
    }
    if (!json_is_integer(value) || json_integer_value(value) < 0) {
        return tdei_errorf(msg, size, TDEI_MALFORMED,
                           "field '%s' must be a non-negative integer "
                           "below 2^63",
                           name);
    }
    *out = (uint64_t)json_integer_value(value);
    return 0;
}

/* Parse @value (named @name, for messages) as 64 hex digits. */
static int proof_doc_hash_value(json_t *value, const char *name,
                                uint8_t out[MERKLE_HASH_SIZE], char *msg,
                                size_t size)
{
    const char *text;

    if (!json_is_string(value)) {
        return tdei_errorf(msg, size, TDEI_MALFORMED,
                           "field '%s' must be a string of 64 hex digits",
                           name);
    }
    text = json_string_value(value);
    if (tdei_hex_decode(out, MERKLE_HASH_SIZE, text) != 0) {
        return tdei_errorf(msg, size, TDEI_MALFORMED,
                           "field '%s' must be 64 hex digits (a 32-byte "
                           "SHA-256 hash); got %zu characters",
                           name, json_string_length(value));
    }
    return 0;
}

static int proof_doc_hash(json_t *obj, const char *name,
                          uint8_t out[MERKLE_HASH_SIZE], char *msg, size_t size)
{
    json_t *value = json_object_get(obj, name);

    if (value == NULL) {
        return tdei_errorf(msg, size, TDEI_MALFORMED, "missing field '%s'",
                           name);
    }
    return proof_doc_hash_value(value, name, out, msg, size);
}

static int proof_doc_path(json_t *obj, struct proof_doc *doc, char *msg,
                          size_t size)
{
    json_t *array = json_object_get(obj, "path");
    size_t max =
        doc->consistency ? MERKLE_CONSISTENCY_MAX : MERKLE_INCLUSION_MAX;
    char name[32];

    if (array == NULL) {
        return tdei_errorf(msg, size, TDEI_MALFORMED, "missing field 'path'");
    }
    if (!json_is_array(array)) {
        return tdei_errorf(msg, size, TDEI_MALFORMED,
                           "field 'path' must be an array of hashes");
    }
    doc->count = json_array_size(array);
    if (doc->count > max) {
        return tdei_errorf(msg, size, TDEI_MALFORMED,
                           "field 'path' has %zu entries; no %s proof has "
                           "more than %zu",
                           doc->count,
                           doc->consistency ? "consistency" : "inclusion", max);
    }
    for (size_t i = 0; i < doc->count; i++) {
        int rc;
        (void)snprintf(name, sizeof(name), "path[%zu]", i);
        rc = proof_doc_hash_value(json_array_get(array, i), name, doc->path[i],
                                  msg, size);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Check @obj's type and that it has no field outside its type's list. */
static int proof_doc_type(json_t *obj, struct proof_doc *doc, char *msg,
                          size_t size)
{
    json_t *type = json_object_get(obj, "type");
    const char *key;
    json_t *value;

    if (type == NULL) {
        return tdei_errorf(msg, size, TDEI_MALFORMED, "missing field 'type'");
    }
    if (json_is_string(type) &&
        strcmp(json_string_value(type), "inclusion") == 0) {
        doc->consistency = 0;
    } else if (json_is_string(type) &&
               strcmp(json_string_value(type), "consistency") == 0) {
        doc->consistency = 1;
    } else {
        return tdei_errorf(msg, size, TDEI_MALFORMED,
                           "field 'type' must be \"inclusion\" or "
                           "\"consistency\"");
    }
    json_object_foreach(obj, key, value)
    {
        int known = strcmp(key, "type") == 0;
        for (size_t i = 0; i < 5 && !known; i++) {
            known = strcmp(key, proof_fields[doc->consistency][i]) == 0;
        }
        if (!known) {
            return tdei_errorf(msg, size, TDEI_MALFORMED,
                               "unknown field '%.64s' in a %s proof", key,
                               doc->consistency ? "consistency" : "inclusion");
        }
    }
    return 0;
}

/* Parse the document @obj into @doc. Returns 0 or TDEI_MALFORMED. */
static int proof_doc_parse(json_t *obj, struct proof_doc *doc, char *msg,
                           size_t size)
{
    const char *const *f;
    int rc;

    if (!json_is_object(obj)) {
        return tdei_errorf(msg, size, TDEI_MALFORMED,
                           "the document must be a JSON object");
    }
    rc = proof_doc_type(obj, doc, msg, size);
    if (rc != 0) {
        return rc;
    }
    f = proof_fields[doc->consistency];
    rc = proof_doc_u64(obj, f[0], &doc->first, msg, size);
    if (rc == 0) {
        rc = proof_doc_u64(obj, f[1], &doc->second, msg, size);
    }
    if (rc == 0) {
        rc = proof_doc_hash(obj, f[2], doc->hash_a, msg, size);
    }
    if (rc == 0) {
        rc = proof_doc_hash(obj, f[3], doc->hash_b, msg, size);
    }
    if (rc == 0) {
        rc = proof_doc_path(obj, doc, msg, size);
    }
    return rc;
}

/* Read all of @path (at most PROOF_DOC_SIZE_MAX bytes) and parse it as
 * JSON. Returns the document or NULL after printing an error (exit code
 * in @rc). */
static json_t *proof_doc_load(const char *path, int *rc)
{
    const char *name = proof_input_name(path);
    char msg[TDEI_ERRMSG_SIZE];
    json_error_t error;
    json_t *obj = NULL;
    size_t len = 0;
    char *buf;
    FILE *f;

    *rc = CLI_EXIT_FAIL;
    f = proof_open(path);
    if (f == NULL) {
        return NULL;
    }
    buf = tdei_malloc(PROOF_DOC_SIZE_MAX + 1);
    if (buf == NULL) {
        *rc = cli_fail(TDEI_NOMEM, NULL);
        proof_close(f);
        return NULL;
    }
    /* fread returns short only at end of input or on error: bounded by
     * PROOF_DOC_SIZE_MAX + 1 bytes and one extra call. */
    for (int i = 0; i < 2 && len <= PROOF_DOC_SIZE_MAX; i++) {
        len += fread(buf + len, 1, PROOF_DOC_SIZE_MAX + 1 - len, f);
        if (feof(f) || ferror(f)) {
            break;
        }
    }
    if (ferror(f)) {
        *rc = cli_error("cannot read %s: %s", name, strerror(errno));
    } else if (len > PROOF_DOC_SIZE_MAX) {
        (void)snprintf(msg, sizeof(msg),
                       "%s is larger than %u bytes, the limit for a proof "
                       "document",
                       name, PROOF_DOC_SIZE_MAX);
        *rc = cli_fail(TDEI_TOOBIG, msg);
    } else {
        obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &error);
        if (obj == NULL) {
            (void)snprintf(msg, sizeof(msg),
                           "%s is not a JSON proof document: line %d "
                           "column %d: %s",
                           name, error.line, error.column, error.text);
            *rc = cli_fail(TDEI_MALFORMED, msg);
        }
    }
    tdei_free(buf);
    proof_close(f);
    return obj;
}

/* ---- tdei proof verify: checking -------------------------------------- */

/* Verify an inclusion document. Returns 0 or TDEI_BADPROOF with @msg
 * naming what failed. */
static int proof_check_inclusion(const struct proof_doc *doc, char *msg,
                                 size_t size)
{
    size_t want;

    if (doc->first >= doc->second) {
        return tdei_errorf(msg, size, TDEI_BADPROOF,
                           "inclusion proof: leaf_index %llu is not below "
                           "tree_size %llu",
                           (unsigned long long)doc->first,
                           (unsigned long long)doc->second);
    }
    want = merkle_inclusion_path_count(doc->first, doc->second);
    if (doc->count != want) {
        return tdei_errorf(msg, size, TDEI_BADPROOF,
                           "inclusion proof: path has %zu entries, but "
                           "leaf %llu of a tree of size %llu needs %zu",
                           doc->count, (unsigned long long)doc->first,
                           (unsigned long long)doc->second, want);
    }
    if (merkle_inclusion_verify(doc->hash_a, doc->first, doc->second,
                                (const uint8_t(*)[MERKLE_HASH_SIZE])doc->path,
                                doc->count, doc->hash_b) != 0) {
        return tdei_errorf(msg, size, TDEI_BADPROOF,
                           "inclusion proof: leaf_hash and path do not "
                           "lead to root; leaf %llu is not proven in the "
                           "tree of size %llu",
                           (unsigned long long)doc->first,
                           (unsigned long long)doc->second);
    }
    return 0;
}

/* Verify a consistency document. Returns 0 or TDEI_BADPROOF. */
static int proof_check_consistency(const struct proof_doc *doc, char *msg,
                                   size_t size)
{
    unsigned long long m = doc->first;
    unsigned long long n = doc->second;
    size_t want = merkle_consistency_path_count(doc->first, doc->second);

    if (m > n) {
        return tdei_errorf(msg, size, TDEI_BADPROOF,
                           "consistency proof: old_size %llu is larger "
                           "than new_size %llu",
                           m, n);
    }
    if (m != n && m == 0) {
        return tdei_errorf(msg, size, TDEI_BADPROOF,
                           "consistency proof: old_size 0 proves nothing; "
                           "the empty tree is a prefix of every tree");
    }
    if (doc->count != want) {
        return tdei_errorf(msg, size, TDEI_BADPROOF,
                           "consistency proof: path has %zu entries, but "
                           "sizes %llu -> %llu need %zu",
                           doc->count, m, n, want);
    }
    if (merkle_consistency_verify(
            doc->first, doc->second, doc->hash_a, doc->hash_b,
            (const uint8_t(*)[MERKLE_HASH_SIZE])doc->path, doc->count) != 0) {
        if (m == n) {
            return tdei_errorf(msg, size, TDEI_BADPROOF,
                               "consistency proof: sizes are equal (%llu) "
                               "but old_root and new_root differ",
                               m);
        }
        return tdei_errorf(msg, size, TDEI_BADPROOF,
                           "consistency proof: path does not connect "
                           "old_root (size %llu) to new_root (size %llu)",
                           m, n);
    }
    return 0;
}

static int proof_verify_print(const struct cli_ctx *ctx,
                              const struct proof_doc *doc)
{
    char a[PROOF_HASH_HEX];
    char b[PROOF_HASH_HEX];

    proof_hex(a, doc->hash_a);
    proof_hex(b, doc->hash_b);
    if (ctx->json) {
        const char *const *f = proof_fields[doc->consistency];
        return cli_print_json(
            json_pack("{s:b, s:s, s:I, s:I, s:s, s:s}", "valid", 1, "type",
                      doc->consistency ? "consistency" : "inclusion", f[0],
                      (json_int_t)doc->first, f[1], (json_int_t)doc->second,
                      f[2], a, f[3], b));
    }
    if (doc->consistency) {
        printf("valid: tree of size %llu (root %s) is a prefix of tree of "
               "size %llu under root %s\n",
               (unsigned long long)doc->first, a,
               (unsigned long long)doc->second, b);
    } else {
        printf("valid: inclusion of leaf %llu in tree of size %llu under "
               "root %s\n",
               (unsigned long long)doc->first, (unsigned long long)doc->second,
               b);
    }
    return CLI_EXIT_OK;
}

static void proof_verify_help(void)
{
    printf("usage: tdei [--json] proof verify FILE|-\n\n"
           "Check a proof document written by `tdei proof inclusion` or "
           "`tdei proof\nconsistency` (at most %u bytes; - reads stdin).\n"
           "Exit 0 when it holds, 3 when it does not, 1 or 2 when the "
           "document is\nmalformed; the message names the field or the "
           "check that failed.\n\n"
           "options:\n"
           "  --help  this text\n",
           PROOF_DOC_SIZE_MAX);
}

static int proof_verify(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char msg[TDEI_ERRMSG_SIZE] = "";
    char full[TDEI_ERRMSG_SIZE + 64];
    struct proof_doc *doc;
    const char *path;
    json_t *obj;
    int opt;
    int rc;

    proof_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (opt == 'h') {
            proof_verify_help();
            return CLI_EXIT_OK;
        }
        return proof_option_error("verify", opt, argv);
    }
    rc = proof_one_input("verify", argc, argv, &path);
    if (rc != 0) {
        return rc;
    }
    if (path == NULL) {
        return cli_usage_error("proof verify",
                               "give the proof document: FILE, or - for "
                               "stdin");
    }
    obj = proof_doc_load(path, &rc);
    if (obj == NULL) {
        return rc;
    }
    doc = tdei_calloc(1, sizeof(*doc));
    if (doc == NULL) {
        json_decref(obj);
        return cli_fail(TDEI_NOMEM, NULL);
    }
    rc = proof_doc_parse(obj, doc, msg, sizeof(msg));
    json_decref(obj);
    if (rc == 0) {
        rc = doc->consistency ? proof_check_consistency(doc, msg, sizeof(msg))
                              : proof_check_inclusion(doc, msg, sizeof(msg));
    }
    if (rc == 0) {
        rc = proof_verify_print(ctx, doc);
    } else {
        (void)snprintf(full, sizeof(full), "%s: %s", proof_input_name(path),
                       msg);
        rc = cli_fail(rc, full);
    }
    tdei_free(doc);
    return rc;
}

/* ---- the group -------------------------------------------------------- */

static const struct cli_command proof_commands[] = {
    {"root", proof_root, "print the Merkle root of hex leaves, one a line"},
    {"inclusion", proof_inclusion, "prove that leaf I is in the tree"},
    {"consistency", proof_consistency,
     "prove that the first M leaves' tree is a prefix"},
    {"verify", proof_verify, "check an inclusion or consistency proof"},
};

int cli_cmd_proof(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_dispatch(ctx, "proof", proof_commands,
                        sizeof(proof_commands) / sizeof(proof_commands[0]),
                        argc, argv);
}
