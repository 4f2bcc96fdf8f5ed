/* tdei catalog: publish and manage catalog entries (the catalog,
 * classify and ownership contracts) and show them; import a payload file
 * for publishing and set how the node delivers an entry (data plane). */
#include "cli.h"

#include "api/client.h"
#include "contracts/contract.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dataset_statuses[] = {"active", "withdrawn", NULL};

#define HEX32 TDEI_HEX_SIZE(32)

/* Option entries shared by several commands. OPT_LABELS: --level and
 * --class (publish, classify). OPT_PRICE: the price terms and license
 * (publish, reprice) into a struct price_args; @price_flags makes --price
 * required or not. */
#define OPT_LABELS(level, data_class)                                          \
    {.name = "level",                                                          \
     .type = CLI_OPT_U64,                                                      \
     .dest = &(level),                                                         \
     .meta = "N",                                                              \
     .help = "MIIT level",                                                     \
     .flags = CLI_REQUIRED,                                                    \
     .min = 1,                                                                 \
     .max = 3},                                                                \
    {                                                                          \
        .name = "class", .type = CLI_OPT_CHOICE, .dest = &(data_class),        \
        .meta = "CLASS",                                                       \
        .help = "Data Security Law class (L1 general; L2 general or "          \
                "important; L3 important or core)",                            \
        .flags = CLI_REQUIRED, .choices = cli_classes                          \
    }
#define OPT_PRICE(terms, price_flags)                                          \
    {.name = "price-model",                                                    \
     .type = CLI_OPT_CHOICE,                                                   \
     .dest = &(terms).model,                                                   \
     .meta = "MODEL",                                                          \
     .help = "one_time for a dataset, per_record for a stream, "               \
             "subscription for both",                                          \
     .flags = CLI_REQUIRED,                                                    \
     .choices = cli_models},                                                   \
        {.name = "price",                                                      \
         .type = CLI_OPT_U64,                                                  \
         .dest = &(terms).price,                                               \
         .meta = "N",                                                          \
         .help = "credits per grant, record or period; 0 is free",             \
         .flags = (price_flags)},                                              \
        {.name = "period",                                                     \
         .type = CLI_OPT_U64,                                                  \
         .dest = &(terms).period,                                              \
         .meta = "N",                                                          \
         .help = "subscription: blocks per grant (only for that model)",       \
         .min = 1},                                                            \
        {.name = "may-derive",                                                 \
         .type = CLI_OPT_FLAG,                                                 \
         .dest = &(terms).may_derive,                                          \
         .help = "receivers may publish entries derived from it"},             \
    {                                                                          \
        .name = "may-resell", .type = CLI_OPT_FLAG,                            \
        .dest = &(terms).may_resell, .help = "receivers may pass it on"        \
    }

/* The price terms and license options, and the messages built from them. */
struct price_args
{
    uint32_t model;
    uint64_t price;
    uint64_t period;
    int may_derive;
    int may_resell;
    Tdei__PriceTerms terms;
    Tdei__License license;
};

/* Fill @p's messages; return the license to send (NULL: all false). */
static Tdei__License *price_build(struct price_args *p)
{
    tdei__price_terms__init(&p->terms);
    tdei__license__init(&p->license);
    p->terms.model = p->model;
    p->terms.amount = p->price;
    p->terms.period = p->period;
    p->license.may_derive = p->may_derive;
    p->license.may_resell = p->may_resell;
    return p->may_derive || p->may_resell ? &p->license : NULL;
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort the values of --@name (the ledger wants them strictly ascending);
 * a repeat is a usage error. */
static int list_sort(const char *what, const char *name, struct cli_list *l)
{
    qsort(l->items, l->count, sizeof(l->items[0]), strcmp_ptr);
    for (size_t i = 1; i < l->count; i++) {
        if (strcmp(l->items[i - 1], l->items[i]) == 0) {
            return cli_usage_error(what, "--%s '%s' is given twice", name,
                                   l->items[i]);
        }
    }
    return CLI_EXIT_OK;
}

/* ---- payload files ------------------------------------------------------- */

/* The node seals a file at about the speed of the disk; an hour bounds a
 * healthy import of the largest payload. */
#define IMPORT_WAIT_MS 3600000u

/* Have the node import @file (made absolute here) as version @version of
 * @id; print what it stored unless --json. Fills @root and @size.
 * Returns an exit code. */
static int payload_import(const struct cli_ctx *ctx, const char *what,
                          const char *file, const char *id, uint32_t version,
                          struct cli_hash *root, uint64_t *size)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__ImportPayload imp = TDEI__API__IMPORT_PAYLOAD__INIT;
    Tdei__Api__Response *resp = NULL;
    const Tdei__Api__PayloadInfo *info;
    char path[CLI_PATH_SIZE];
    char hex[HEX32];
    int rc = cli_path_absolute(what, "--file", file, path);

    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    imp.path = path;
    imp.dataset = (char *)(uintptr_t)id;
    imp.version = version;
    req.req_case = TDEI__API__REQUEST__REQ_IMPORT_PAYLOAD;
    req.import_payload = &imp;
    rc = cli_call_wait(ctx, &req, &resp, IMPORT_WAIT_MS);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    info = resp->payload;
    if (info->content_root.len != sizeof(root->bytes)) {
        api_client_response_free(resp);
        return cli_fail(TDEI_MALFORMED, "the node answered the import "
                                        "without a 32-byte content root");
    }
    memcpy(root->bytes, info->content_root.data, sizeof(root->bytes));
    root->set = 1;
    *size = info->size;
    if (!ctx->json) {
        (void)tdei_hex_encode(hex, sizeof(hex), root->bytes,
                              sizeof(root->bytes));
        printf("imported %s: %llu bytes, %llu chunks, root %s\n", path,
               (unsigned long long)info->size,
               (unsigned long long)info->chunk_count, hex);
    }
    api_client_response_free(resp);
    return CLI_EXIT_OK;
}

/* ---- publish, version, reprice ------------------------------------------- */

static int catalog_publish(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    const char *id = NULL;
    const char *title = NULL;
    const char *description = "";
    const char *schema = "";
    uint32_t kind = 0;
    uint32_t domain = 0;
    uint32_t data_class = 0;
    uint64_t level = 0;
    uint64_t size = 0;
    struct price_args price = {0};
    struct cli_list tags = {0};
    struct cli_list parents = {0};
    struct cli_hash root = {0};
    const char *file = NULL;
    const struct cli_opt opts[] = {
        {.name = "id",
         .type = CLI_OPT_TEXT,
         .dest = &id,
         .meta = "ID",
         .help = "the new entry's id, 3-64 bytes of [a-z0-9-], never reused",
         .flags = CLI_REQUIRED},
        {.name = "kind",
         .type = CLI_OPT_CHOICE,
         .dest = &kind,
         .meta = "KIND",
         .help = "content published as versions, or records as batches",
         .flags = CLI_REQUIRED,
         .choices = cli_kinds},
        {.name = "title",
         .type = CLI_OPT_TEXT,
         .dest = &title,
         .meta = "TEXT",
         .help = "1-200 bytes",
         .flags = CLI_REQUIRED},
        {.name = "description",
         .type = CLI_OPT_TEXT,
         .dest = &description,
         .meta = "TEXT",
         .help = "0-4096 bytes"},
        {.name = "tag",
         .type = CLI_OPT_LIST,
         .dest = &tags,
         .meta = "TAG",
         .help = "a tag, 1-32 bytes of [a-z0-9._-]"},
        {.name = "domain",
         .type = CLI_OPT_CHOICE,
         .dest = &domain,
         .meta = "DOMAIN",
         .help = "data domain, by name or number 1-5",
         .flags = CLI_REQUIRED,
         .choices = cli_domains},
        OPT_LABELS(level, data_class),
        {.name = "schema",
         .type = CLI_OPT_TEXT,
         .dest = &schema,
         .meta = "TEXT",
         .help = "schema of the content: a name, a URI or a definition"},
        OPT_PRICE(price, 0),
        {.name = "parent",
         .type = CLI_OPT_LIST,
         .dest = &parents,
         .meta = "ID",
         .help = "an entry this one derives from (owned, or granted with "
                 "may-derive)"},
        {.name = "content-root",
         .type = CLI_OPT_HASH,
         .dest = &root,
         .meta = "HEX",
         .help = "dataset: RFC 6962 root over the encrypted chunks"},
        {.name = "size",
         .type = CLI_OPT_U64,
         .dest = &size,
         .meta = "N",
         .help = "dataset: payload bytes before encryption"},
        {.name = "file",
         .type = CLI_OPT_TEXT,
         .dest = &file,
         .meta = "PATH",
         .help = "dataset: the payload; the node imports it and publishes "
                 "its root and size"},
    };
    const struct cli_spec spec = {
        .what = "catalog publish",
        .about = "Publish a new catalog entry at version 1; this home's "
                 "member becomes\nits owner and publisher. A dataset needs "
                 "--file or --content-root; a\nstream has no content root or "
                 "size (open it with `tdei stream open`).\nWith --file PATH "
                 "the node cuts the file into encrypted chunks, keeps\nthe "
                 "key, and delivers it to approved consumers on its own "
                 "(see\n`tdei catalog delivery`). Tags and parents are "
                 "sorted here.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogPublish pub = TDEI__CATALOG_PUBLISH__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "--id", id);
    if (rc == CLI_EXIT_OK) {
        rc = list_sort(spec.what, "tag", &tags);
    }
    if (rc == CLI_EXIT_OK) {
        rc = list_sort(spec.what, "parent", &parents);
    }
    if (rc == CLI_EXIT_OK && file != NULL &&
        (root.set || size != 0 || kind != CODEC_KIND_DATASET)) {
        rc = cli_usage_error(spec.what,
                             "--file goes with a dataset and without "
                             "--content-root and --size (the node finds "
                             "both)");
    }
    if (rc == CLI_EXIT_OK && kind == CODEC_KIND_DATASET && !root.set &&
        file == NULL) {
        rc = cli_usage_error(spec.what, "a dataset needs --file PATH or "
                                        "--content-root HEX (its root over "
                                        "the encrypted chunks)");
    }
    if (rc == CLI_EXIT_OK && file != NULL) {
        rc = payload_import(ctx, spec.what, file, id, 1, &root, &size);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    pub.license = price_build(&price);
    pub.price = &price.terms;
    pub.id = (char *)(uintptr_t)id;
    pub.kind = kind;
    pub.title = (char *)(uintptr_t)title;
    pub.description = (char *)(uintptr_t)description;
    pub.tags = (char **)(uintptr_t)tags.items;
    pub.n_tags = tags.count;
    pub.domain = domain;
    pub.level = (uint32_t)level;
    pub.data_class = data_class;
    pub.schema = (char *)(uintptr_t)schema;
    pub.parents = (char **)(uintptr_t)parents.items;
    pub.n_parents = parents.count;
    if (root.set) {
        pub.content_root.data = root.bytes;
        pub.content_root.len = sizeof(root.bytes);
    }
    pub.size = size;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_PUBLISH;
    body.catalog_publish = &pub;
    return cli_tx_submit(ctx, &tx, &body);
}

/* The version entry @id is at on the ledger. Returns an exit code. */
static int entry_version(const struct cli_ctx *ctx, const char *id,
                         uint64_t *version)
{
    ProtobufCMessage *msg = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char what[128];
    int rc;

    (void)snprintf(what, sizeof(what), "entry %s", id);
    rc = cli_object_get(ctx, key, contract_key_dataset(key, id), what,
                        &tdei__dataset__descriptor, &msg, NULL);
    if (rc == CLI_EXIT_OK) {
        *version = ((const Tdei__Dataset *)msg)->version;
    }
    codec_message_free(msg);
    return rc;
}

static int catalog_version(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    struct cli_hash root = {0};
    const char *schema = "";
    const char *file = NULL;
    uint64_t size = 0;
    uint64_t current = 0;
    const struct cli_opt opts[] = {
        {.name = "file",
         .type = CLI_OPT_TEXT,
         .dest = &file,
         .meta = "PATH",
         .help = "the new version's payload; the node imports it and "
                 "publishes its root and size"},
        {.name = "content-root",
         .type = CLI_OPT_HASH,
         .dest = &root,
         .meta = "HEX",
         .help = "the new version's root; differs from the current one"},
        {.name = "size",
         .type = CLI_OPT_U64,
         .dest = &size,
         .meta = "N",
         .help = "payload bytes before encryption"},
        {.name = "schema",
         .type = CLI_OPT_TEXT,
         .dest = &schema,
         .meta = "TEXT",
         .help = "a new schema (default: keep the current one)"},
    };
    const struct cli_spec spec = {
        .what = "catalog version",
        .operands = "ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Publish the next version of dataset ID (owner only), "
                 "linked to the\nprevious version's root. Give the payload "
                 "as --file PATH (the node\nimports it as the next "
                 "version) or its root as --content-root HEX.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogVersion ver = TDEI__CATALOG_VERSION__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ID", argv[first]);
    if (rc == CLI_EXIT_OK && (file != NULL) == root.set) {
        rc = cli_usage_error(spec.what, "give the new version as --file PATH "
                                        "or --content-root HEX (one of "
                                        "them)");
    }
    if (rc == CLI_EXIT_OK && file != NULL && size != 0) {
        rc = cli_usage_error(spec.what, "--size goes with --content-root; "
                                        "with --file the node finds it");
    }
    if (rc == CLI_EXIT_OK && file != NULL) {
        rc = entry_version(ctx, argv[first], &current);
    }
    if (rc == CLI_EXIT_OK && file != NULL && current >= UINT32_MAX) {
        rc = cli_fail(TDEI_OVERFLOW, "the entry is at its last version");
    }
    if (rc == CLI_EXIT_OK && file != NULL) {
        rc = payload_import(ctx, spec.what, file, argv[first],
                            (uint32_t)current + 1, &root, &size);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    ver.id = argv[first];
    ver.content_root.data = root.bytes;
    ver.content_root.len = sizeof(root.bytes);
    ver.size = size;
    ver.schema = (char *)(uintptr_t)schema;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_VERSION;
    body.catalog_version = &ver;
    return cli_tx_submit(ctx, &tx, &body);
}

static int catalog_reprice(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    struct price_args price = {0};
    const struct cli_opt opts[] = {
        OPT_PRICE(price, CLI_REQUIRED),
    };
    const struct cli_spec spec = {
        .what = "catalog reprice",
        .operands = "ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Set new price terms and license for entry ID (owner "
                 "only). The license\nis replaced: give --may-derive and "
                 "--may-resell again to keep them.\nRequests made earlier "
                 "keep the price they escrowed.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogReprice rep = TDEI__CATALOG_REPRICE__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ID", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rep.id = argv[first];
    rep.license = price_build(&price);
    rep.price = &price.terms;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_REPRICE;
    body.catalog_reprice = &rep;
    return cli_tx_submit(ctx, &tx, &body);
}

/* ---- labels and ownership ------------------------------------------------ */

static int catalog_classify(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    uint64_t level = 0;
    uint32_t data_class = 0;
    uint32_t domain = 0;
    const struct cli_opt opts[] = {
        OPT_LABELS(level, data_class),
        {.name = "domain",
         .type = CLI_OPT_CHOICE,
         .dest = &domain,
         .meta = "DOMAIN",
         .help = "a new data domain (default: keep it)",
         .choices = cli_domains},
    };
    const struct cli_spec spec = {
        .what = "catalog classify",
        .operands = "ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Set the labels of entry ID (owner only). Raising or "
                 "keeping both\nlabels applies at once; lowering either "
                 "waits for a public_service\nmember's `tdei catalog "
                 "approve-lowering ID`.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ClassifySet set = TDEI__CLASSIFY_SET__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ID", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    set.id = argv[first];
    set.level = (uint32_t)level;
    set.data_class = data_class;
    set.domain = domain;
    body.op_case = TDEI__TX_BODY__OP_CLASSIFY_SET;
    body.classify_set = &set;
    return cli_tx_submit(ctx, &tx, &body);
}

static int catalog_offer(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    const char *to = NULL;
    const struct cli_opt opts[] = {
        {.name = "to",
         .type = CLI_OPT_TEXT,
         .dest = &to,
         .meta = "MEMBER",
         .help = "the active member offered the entry (not an auditor)",
         .flags = CLI_REQUIRED},
    };
    const struct cli_spec spec = {
        .what = "catalog offer",
        .operands = "ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Offer entry ID to MEMBER (owner only); it becomes the "
                 "owner when it\nruns `tdei catalog accept ID`. A new offer "
                 "replaces an open one.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__OwnershipOffer offer = TDEI__OWNERSHIP_OFFER__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ID", argv[first]);
    if (rc == CLI_EXIT_OK) {
        rc = cli_arg_member(spec.what, "--to", to);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    offer.id = argv[first];
    offer.to = (char *)(uintptr_t)to;
    body.op_case = TDEI__TX_BODY__OP_OWNERSHIP_OFFER;
    body.ownership_offer = &offer;
    return cli_tx_submit(ctx, &tx, &body);
}

int cli_entry_op(struct cli_ctx *ctx, int argc, char **argv, const char *what,
                 const char *about, int op)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    const struct cli_spec spec = {
        .what = what,
        .operands = "ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = about,
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogWithdraw withdraw = TDEI__CATALOG_WITHDRAW__INIT;
    Tdei__ClassifyApprove approve = TDEI__CLASSIFY_APPROVE__INIT;
    Tdei__OwnershipAccept accept = TDEI__OWNERSHIP_ACCEPT__INIT;
    Tdei__OwnershipCancel cancel = TDEI__OWNERSHIP_CANCEL__INIT;
    Tdei__StreamOpen open = TDEI__STREAM_OPEN__INIT;
    Tdei__StreamClose close = TDEI__STREAM_CLOSE__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ID", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    body.op_case = (Tdei__TxBody__OpCase)op;
    withdraw.id = approve.id = accept.id = cancel.id = argv[first];
    open.id = close.id = argv[first];
    switch (op) {
    case TDEI__TX_BODY__OP_CATALOG_WITHDRAW:
        body.catalog_withdraw = &withdraw;
        break;
    case TDEI__TX_BODY__OP_CLASSIFY_APPROVE:
        body.classify_approve = &approve;
        break;
    case TDEI__TX_BODY__OP_OWNERSHIP_ACCEPT:
        body.ownership_accept = &accept;
        break;
    case TDEI__TX_BODY__OP_OWNERSHIP_CANCEL:
        body.ownership_cancel = &cancel;
        break;
    case TDEI__TX_BODY__OP_STREAM_OPEN:
        body.stream_open = &open;
        break;
    case TDEI__TX_BODY__OP_STREAM_CLOSE:
        body.stream_close = &close;
        break;
    default:
        TDEI_ASSERT(!"cli_entry_op: an op with more than an id");
    }
    return cli_tx_submit(ctx, &tx, &body);
}

static int catalog_withdraw(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_entry_op(ctx, argc, argv, "catalog withdraw",
                        "Withdraw entry ID (owner only): no new requests; "
                        "open exchanges run\nto their end; the id is never "
                        "reused and the entry stays in history.",
                        TDEI__TX_BODY__OP_CATALOG_WITHDRAW);
}

static int catalog_approve_lowering(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_entry_op(ctx, argc, argv, "catalog approve-lowering",
                        "Approve the pending lowering of entry ID's labels "
                        "(a public_service\nmember that is not the owner).",
                        TDEI__TX_BODY__OP_CLASSIFY_APPROVE);
}

static int catalog_accept(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_entry_op(ctx, argc, argv, "catalog accept",
                        "Accept the open offer of entry ID: this home's member "
                        "becomes its\nowner (and receives its future revenue).",
                        TDEI__TX_BODY__OP_OWNERSHIP_ACCEPT);
}

static int catalog_cancel_offer(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_entry_op(ctx, argc, argv, "catalog cancel-offer",
                        "Withdraw the open ownership offer of entry ID (owner "
                        "only).",
                        TDEI__TX_BODY__OP_OWNERSHIP_CANCEL);
}

/* ---- show ---------------------------------------------------------------- */

static int version_row(struct cli_rows *rows, const Tdei__Api__KeyValue *kv,
                       const ProtobufCMessage *record)
{
    const Tdei__DatasetVersion *dv = (const Tdei__DatasetVersion *)record;
    char root[HEX32];
    char prev[HEX32];

    (void)kv;
    if (rows->ctx->json) {
        (void)json_array_append_new(
            rows->array,
            json_pack("{s:I, s:o*, s:I, s:s, s:I, s:o*}", "version",
                      (json_int_t)dv->version, "content_root",
                      cli_json_hex(dv->content_root.data, dv->content_root.len),
                      "size", (json_int_t)dv->size, "schema", dv->schema,
                      "height", (json_int_t)dv->height, "prev_root",
                      cli_json_hex(dv->prev_root.data, dv->prev_root.len)));
    } else {
        if (rows->count == 0) {
            printf("\n%-7s  %-8s  %-12s  %-64s  %s\n", "VERSION", "HEIGHT",
                   "SIZE", "CONTENT ROOT", "PREVIOUS ROOT");
        }
        printf("%-7llu  %-8llu  %-12llu  %-64s  %s\n",
               (unsigned long long)dv->version, (unsigned long long)dv->height,
               (unsigned long long)dv->size,
               cli_hex(root, sizeof(root), &dv->content_root),
               cli_hex(prev, sizeof(prev), &dv->prev_root));
    }
    rows->count++;
    return CLI_EXIT_OK;
}

static json_t *strings_json(char **items, size_t n)
{
    json_t *array = json_array();

    for (size_t i = 0; array != NULL && i < n; i++) {
        (void)json_array_append_new(array, json_string(items[i]));
    }
    return array;
}

static void strings_print(const char *label, char **items, size_t n)
{
    printf("%-13s", label);
    for (size_t i = 0; i < n; i++) {
        printf("%s%s", i == 0 ? "" : ", ", items[i]);
    }
    printf("%s\n", n == 0 ? "-" : "");
}

static json_t *dataset_json(const Tdei__Dataset *d, uint64_t height)
{
    const Tdei__PriceTerms *p = d->price;
    json_t *out = json_pack(
        "{s:s, s:s, s:s, s:s, s:o*, s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "id",
        d->id, "kind", cli_name(cli_kinds, d->kind), "title", d->title,
        "description", d->description, "tags", strings_json(d->tags, d->n_tags),
        "domain", cli_name(cli_domains, d->domain), "level",
        (json_int_t)d->level, "class", cli_name(cli_classes, d->data_class),
        "schema", d->schema, "price_model",
        cli_name(cli_models, p != NULL ? p->model : 0), "price",
        (json_int_t)(p != NULL ? p->amount : 0), "period",
        (json_int_t)(p != NULL ? p->period : 0));

    if (out == NULL) {
        return NULL;
    }
    (void)json_object_set_new(
        out, "may_derive",
        json_boolean(d->license != NULL && d->license->may_derive));
    (void)json_object_set_new(
        out, "may_resell",
        json_boolean(d->license != NULL && d->license->may_resell));
    (void)json_object_set_new(out, "parents",
                              strings_json(d->parents, d->n_parents));
    (void)json_object_set_new(
        out, "content_root",
        cli_json_hex(d->content_root.data, d->content_root.len));
    (void)json_object_set_new(out, "size", json_integer((json_int_t)d->size));
    (void)json_object_set_new(out, "owner", json_string(d->owner));
    (void)json_object_set_new(out, "publisher", json_string(d->publisher));
    (void)json_object_set_new(out, "version",
                              json_integer((json_int_t)d->version));
    (void)json_object_set_new(
        out, "status", json_string(cli_name(dataset_statuses, d->status)));
    (void)json_object_set_new(out, "created_height",
                              json_integer((json_int_t)d->created_height));
    (void)json_object_set_new(out, "updated_height",
                              json_integer((json_int_t)d->updated_height));
    (void)json_object_set_new(out, "offer_to", json_string(d->offer_to));
    (void)json_object_set_new(out, "pending_level",
                              json_integer((json_int_t)d->pending_level));
    (void)json_object_set_new(
        out, "pending_class",
        json_string(d->pending_class != 0
                        ? cli_name(cli_classes, d->pending_class)
                        : ""));
    (void)json_object_set_new(
        out, "pending_domain",
        json_string(d->pending_domain != 0
                        ? cli_name(cli_domains, d->pending_domain)
                        : ""));
    (void)json_object_set_new(out, "height", json_integer((json_int_t)height));
    return out;
}

static void dataset_print(const Tdei__Dataset *d, uint64_t height)
{
    const Tdei__PriceTerms *p = d->price;
    char root[HEX32];

    printf("entry        %s\nkind         %s\ntitle        %s\n"
           "description  %s\n",
           d->id, cli_name(cli_kinds, d->kind), d->title,
           d->description[0] != '\0' ? d->description : "-");
    strings_print("tags", d->tags, d->n_tags);
    printf("domain       %s\nlevel        %u\nclass        %s\n"
           "schema       %s\n",
           cli_name(cli_domains, d->domain), d->level,
           cli_name(cli_classes, d->data_class),
           d->schema[0] != '\0' ? d->schema : "-");
    printf("price        %s %llu",
           cli_name(cli_models, p != NULL ? p->model : 0),
           (unsigned long long)(p != NULL ? p->amount : 0));
    if (p != NULL && p->period != 0) {
        printf(" per %llu blocks", (unsigned long long)p->period);
    }
    printf("\nlicense      may derive: %s, may resell: %s\n",
           d->license != NULL && d->license->may_derive ? "yes" : "no",
           d->license != NULL && d->license->may_resell ? "yes" : "no");
    strings_print("parents", d->parents, d->n_parents);
    printf("owner        %s\npublisher    %s\nstatus       %s\n"
           "version      %llu\ncontent root %s\nsize         %llu\n"
           "created      height %llu\nupdated      height %llu\n"
           "offer to     %s\n",
           d->owner, d->publisher, cli_name(dataset_statuses, d->status),
           (unsigned long long)d->version,
           cli_hex(root, sizeof(root), &d->content_root),
           (unsigned long long)d->size, (unsigned long long)d->created_height,
           (unsigned long long)d->updated_height,
           d->offer_to[0] != '\0' ? d->offer_to : "-");
    if (d->pending_level != 0) {
        printf("pending      level %u %s, domain %s (awaits a public_service "
               "approval)\n",
               d->pending_level, cli_name(cli_classes, d->pending_class),
               d->pending_domain != 0 ? cli_name(cli_domains, d->pending_domain)
                                      : "kept");
    } else {
        printf("pending      -\n");
    }
    printf("read at      height %llu\n", (unsigned long long)height);
}

static int catalog_show(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "catalog show",
        .operands = "ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Show catalog entry ID: every field of its record (labels, "
                 "price,\nlicense, owner, status, pending offer and "
                 "lowering) and, for a\ndataset, each version with its "
                 "content root.",
    };
    struct cli_rows versions = {.ctx = ctx,
                                .desc = &tdei__dataset_version__descriptor,
                                .fn = version_row};
    ProtobufCMessage *msg = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char what[96];
    const Tdei__Dataset *d;
    uint64_t height = 0;
    size_t klen;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ID", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    (void)snprintf(what, sizeof(what), "catalog entry %s", argv[first]);
    rc = cli_object_get(ctx, key, contract_key_dataset(key, argv[first]), what,
                        &tdei__dataset__descriptor, &msg, &height);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    d = (const Tdei__Dataset *)msg;
    if (!ctx->json) {
        dataset_print(d, height);
    }
    /* "dsver/<id>/" and then the big-endian version number. */
    klen = contract_key_dsver(key, argv[first], 1) - 8;
    rc = cli_rows_walk(&versions, key, klen);
    if (ctx->json && rc == CLI_EXIT_OK) {
        json_t *out = dataset_json(d, height);
        (void)json_object_set_new(out, "versions", versions.array);
        versions.array = NULL;
        rc = cli_print_json(out);
    }
    json_decref(versions.array);
    codec_message_free(msg);
    return rc;
}

/* ---- delivery ------------------------------------------------------------ */

static int catalog_delivery(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char *const modes[] = {"auto", "manual", NULL};
    const struct cli_spec spec = {
        .what = "catalog delivery",
        .operands = "ID auto|manual",
        .operands_min = 2,
        .operands_max = 2,
        .about = "Set how this node delivers the approved exchanges of its "
                 "member's\nentry ID: auto (the default: it delivers on its "
                 "own once approved)\nor manual (the operator runs `tdei "
                 "exchange deliver EXCHANGE-ID`).\nThe node keeps the "
                 "setting across restarts.",
    };
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SetDelivery set = TDEI__API__SET_DELIVERY__INIT;
    Tdei__Api__Response *resp = NULL;
    const char *mode;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ID", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    mode = argv[first + 1];
    if (strcmp(mode, modes[0]) != 0 && strcmp(mode, modes[1]) != 0) {
        return cli_usage_error(spec.what, "'%s' is neither auto nor manual",
                               mode);
    }
    set.dataset = argv[first];
    set.manual = strcmp(mode, modes[1]) == 0;
    req.req_case = TDEI__API__REQUEST__REQ_SET_DELIVERY;
    req.set_delivery = &set;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    mode = resp->delivery->manual ? modes[1] : modes[0];
    if (ctx->json) {
        rc = cli_print_json(json_pack(
            "{s:s, s:s}", "entry", resp->delivery->dataset, "delivery", mode));
    } else {
        printf("entry     %s\ndelivery  %s\n", resp->delivery->dataset, mode);
    }
    api_client_response_free(resp);
    return rc;
}

int cli_cmd_catalog(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"publish", catalog_publish, "publish a new dataset or stream entry"},
        {"version", catalog_version, "publish a dataset's next version"},
        {"withdraw", catalog_withdraw, "withdraw an entry"},
        {"reprice", catalog_reprice, "set new price terms and license"},
        {"show", catalog_show, "show an entry and its versions"},
        {"classify", catalog_classify, "set an entry's level and class"},
        {"approve-lowering", catalog_approve_lowering,
         "approve a pending lowering (public_service)"},
        {"offer", catalog_offer, "offer an entry to another member"},
        {"accept", catalog_accept, "accept an ownership offer"},
        {"cancel-offer", catalog_cancel_offer, "withdraw an open offer"},
        {"delivery", catalog_delivery, "deliver automatically or by hand"},
        {"search", cli_cmd_catalog_search,
         "find entries by words and filters"},
    };

    return cli_dispatch(ctx, "catalog", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
