/* tdei exchange: request, approve, deliver, confirm, dispute, resolve and
 * revoke data exchanges (the exchange contract), and show them; fetch a
 * delivered payload and follow its transfer (the node's data plane).
 * Exchange ids are the request tx ids, printed and taken as 64 hex
 * digits. */
#include "cli.h"

#include "api/client.h"
#include "contracts/contract.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hex.h"

#include <sodium.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEX32 TDEI_HEX_SIZE(32)
#define CONTENT_KEY_SIZE 32u /* the raw content key sealed for delivery */
#define KEY_FILE_MAX 512u    /* bytes read from --key-file at most */
#define PATH_MAX_BYTES 4096u /* an absolute path the node accepts */
/* The node holds a fetch until the payload is here or its wait ends
 * (FetchPayload.timeout_ms); the answer may take that long plus this. */
#define ANSWER_MARGIN_MS 15000u
#define FETCH_WAIT_S_DEFAULT 300u
#define FETCH_WAIT_S_MAX 3600u
/* A DeliverNow is answered once its tx commits: the node gives up on an
 * own tx after 60 s (node_plane.h NODE_OWN_TIMEOUT_MS). */
#define DELIVER_WAIT_MS 60000u

int cli_call_wait(const struct cli_ctx *ctx, Tdei__Api__Request *req,
                  Tdei__Api__Response **resp, uint32_t wait_ms)
{
    struct api_client client;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    *resp = NULL;
    rc = cli_connect(ctx, &client, wait_ms + ANSWER_MARGIN_MS);
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

int cli_path_absolute(const char *what, const char *name, const char *path,
                      char out[CLI_PATH_SIZE])
{
    char cwd[PATH_MAX];
    int n;

    if (path[0] == '\0') {
        return cli_usage_error(what, "%s is empty; give a file path", name);
    }
    if (path[0] == '/') {
        n = snprintf(out, CLI_PATH_SIZE, "%s", path);
    } else if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return cli_error("cannot read the working directory to make %s "
                         "'%s' absolute: %s; give an absolute path",
                         name, path, strerror(errno));
    } else {
        n = snprintf(out, CLI_PATH_SIZE, "%s/%s", cwd, path);
    }
    if (n < 0 || (size_t)n > PATH_MAX_BYTES) {
        return cli_usage_error(what,
                               "%s '%.60s...' makes an absolute path of more "
                               "than %u bytes",
                               name, path, PATH_MAX_BYTES);
    }
    return CLI_EXIT_OK;
}

static int exchange_request(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT("exchange");
    const char *purpose = "";
    uint64_t price = 0;
    uint64_t grant_ttl = 0;
    uint64_t budget = 0;
    const struct cli_opt opts[] = {
        {.name = "price",
         .type = CLI_OPT_U64,
         .dest = &price,
         .meta = "N",
         .help = "the price the catalog names now (it must match)",
         .flags = CLI_REQUIRED},
        {.name = "purpose",
         .type = CLI_OPT_TEXT,
         .dest = &purpose,
         .meta = "TEXT",
         .help = "why the data is needed, 0-256 bytes (level 2 and up)"},
        {.name = "grant-ttl",
         .type = CLI_OPT_U64,
         .dest = &grant_ttl,
         .meta = "N",
         .help = "grant length in blocks (default: the longest allowed)"},
        {.name = "budget",
         .type = CLI_OPT_U64,
         .dest = &budget,
         .meta = "N",
         .help = "per_record streams: credits prepaid into escrow, at "
                 "least --price"},
    };
    const struct cli_spec spec = {
        .what = "exchange request",
        .operands = "ENTRY",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Ask for catalog entry ENTRY. The price (or the budget) "
                 "moves from\nthis member's balance into the exchange's "
                 "escrow until the exchange\nsettles or ends. The tx id is "
                 "the exchange id.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeRequest req = TDEI__EXCHANGE_REQUEST__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ENTRY", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    req.id = argv[first];
    req.price = price;
    req.purpose = (char *)(uintptr_t)purpose;
    req.grant_ttl = grant_ttl;
    req.budget = budget;
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_REQUEST;
    body.exchange_request = &req;
    return cli_tx_submit(ctx, &tx, &body);
}

/* The ops on one exchange with at most a reason: approve, reject,
 * confirm, dispute, resolve and revoke. */
struct xop
{
    const char *what;  /* "exchange reject" */
    const char *about; /* help text */
    int op;            /* Tdei__TxBody__OpCase */
    int reason;        /* 0 none, 1 optional, 2 required --reason */
    int resolve;       /* --refund|--pay-owner */
};

static int exchange_op(struct cli_ctx *ctx, int argc, char **argv,
                       const struct xop *x)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    const char *reason = "";
    int refund = 0;
    int pay_owner = 0;
    const struct cli_opt opts[] = {
        {.name = "reason",
         .type = CLI_OPT_TEXT,
         .dest = &reason,
         .meta = "TEXT",
         .help = "why, kept on the ledger (public), at most 256 bytes",
         .flags = x->reason == 2 ? CLI_REQUIRED : 0},
        {.name = "refund",
         .type = CLI_OPT_FLAG,
         .dest = &refund,
         .help = "the escrow returns to the consumer; no grant"},
        {.name = "pay-owner",
         .type = CLI_OPT_FLAG,
         .dest = &pay_owner,
         .help = "the escrow goes to the owner; the grant becomes live"},
    };
    const struct cli_spec spec = {
        .what = x->what,
        .operands = "EXCHANGE-ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = x->about,
        .opts = opts,
        .opts_count = x->resolve       ? 3
                      : x->reason != 0 ? 1
                                       : 0,
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeApprove approve = TDEI__EXCHANGE_APPROVE__INIT;
    Tdei__ExchangeReject reject = TDEI__EXCHANGE_REJECT__INIT;
    Tdei__ExchangeConfirm confirm = TDEI__EXCHANGE_CONFIRM__INIT;
    Tdei__ExchangeDispute dispute = TDEI__EXCHANGE_DISPUTE__INIT;
    Tdei__ExchangeResolve resolve = TDEI__EXCHANGE_RESOLVE__INIT;
    Tdei__GrantRevoke revoke = TDEI__GRANT_REVOKE__INIT;
    ProtobufCBinaryData xid;
    uint8_t id[CODEC_HASH_SIZE];
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_hash(spec.what, "EXCHANGE-ID", argv[first], id);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (x->resolve && refund == pay_owner) {
        return cli_usage_error(spec.what, "give --refund or --pay-owner");
    }
    xid.data = id;
    xid.len = sizeof(id);
    body.op_case = (Tdei__TxBody__OpCase)x->op;
    switch (x->op) {
    case TDEI__TX_BODY__OP_EXCHANGE_APPROVE:
        approve.exchange = xid;
        body.exchange_approve = &approve;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_REJECT:
        reject.exchange = xid;
        reject.reason = (char *)(uintptr_t)reason;
        body.exchange_reject = &reject;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_CONFIRM:
        confirm.exchange = xid;
        body.exchange_confirm = &confirm;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_DISPUTE:
        dispute.exchange = xid;
        dispute.reason = (char *)(uintptr_t)reason;
        body.exchange_dispute = &dispute;
        break;
    case TDEI__TX_BODY__OP_EXCHANGE_RESOLVE:
        resolve.exchange = xid;
        resolve.refund = refund;
        resolve.reason = (char *)(uintptr_t)reason;
        body.exchange_resolve = &resolve;
        break;
    case TDEI__TX_BODY__OP_GRANT_REVOKE:
        revoke.exchange = xid;
        revoke.reason = (char *)(uintptr_t)reason;
        body.grant_revoke = &revoke;
        break;
    default:
        TDEI_ASSERT(!"exchange_op: not an exchange op");
    }
    return cli_tx_submit(ctx, &tx, &body);
}

static int exchange_approve(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct xop x = {
        "exchange approve",
        "Approve a requested exchange: as the entry's current owner, or as "
        "a\npublic_service member when the level or class needs the "
        "regulator.",
        TDEI__TX_BODY__OP_EXCHANGE_APPROVE, 0, 0};
    return exchange_op(ctx, argc, argv, &x);
}

static int exchange_reject(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct xop x = {
        "exchange reject",
        "Reject a requested or approved exchange (the owner, or the "
        "regulator\nwhen it must approve); the escrow returns to the "
        "consumer.",
        TDEI__TX_BODY__OP_EXCHANGE_REJECT, 1, 0};
    return exchange_op(ctx, argc, argv, &x);
}

static int exchange_confirm(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct xop x = {
        "exchange confirm",
        "Confirm a delivery (the consumer): the escrow goes to the entry's "
        "owner\nand the grant becomes live. Silence until the confirm "
        "deadline does\nthe same.",
        TDEI__TX_BODY__OP_EXCHANGE_CONFIRM, 0, 0};
    return exchange_op(ctx, argc, argv, &x);
}

static int exchange_dispute(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct xop x = {
        "exchange dispute",
        "Dispute a delivery before its confirm deadline (the consumer); a\n"
        "public_service member resolves it.",
        TDEI__TX_BODY__OP_EXCHANGE_DISPUTE, 2, 0};
    return exchange_op(ctx, argc, argv, &x);
}

static int exchange_resolve(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct xop x = {
        "exchange resolve",
        "Resolve a disputed exchange (a public_service member): refund the\n"
        "consumer, or pay the owner and make the grant live.",
        TDEI__TX_BODY__OP_EXCHANGE_RESOLVE, 1, 1};
    return exchange_op(ctx, argc, argv, &x);
}

static int exchange_revoke(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct xop x = {
        "exchange revoke",
        "Revoke the grant of a settled exchange: a public_service member "
        "alone,\nor the owner and the consumer, each sending one.",
        TDEI__TX_BODY__OP_GRANT_REVOKE, 1, 0};
    return exchange_op(ctx, argc, argv, &x);
}

/* ---- deliver ------------------------------------------------------------- */

/* Parse the content key from @hex: 32 bytes (a raw key to seal here) or
 * CODEC_SEALED_KEY_SIZE bytes (already sealed). Returns its length or 0. */
static size_t key_parse(uint8_t out[CODEC_SEALED_KEY_SIZE], const char *hex)
{
    size_t len = 0;

    if (tdei_hex_decode_var(out, CODEC_SEALED_KEY_SIZE, &len, hex) != 0 ||
        (len != CONTENT_KEY_SIZE && len != CODEC_SEALED_KEY_SIZE)) {
        return 0;
    }
    return len;
}

/* Read the content key from @path: hex text (64 or 160 digits, spaces
 * around allowed) or the raw 32 or 80 bytes. */
static int key_file_read(const char *what, const char *path,
                         uint8_t out[CODEC_SEALED_KEY_SIZE], size_t *len)
{
    char buf[KEY_FILE_MAX + 1];
    char *text = buf;
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        return cli_error("cannot open the key file %s: %s", path,
                         strerror(errno));
    }
    n = fread(buf, 1, KEY_FILE_MAX, f);
    fclose(f);
    buf[n] = '\0';
    *len = 0;
    if (n == CONTENT_KEY_SIZE || n == CODEC_SEALED_KEY_SIZE) {
        memcpy(out, buf, n); /* raw bytes, unless it reads as hex below */
        *len = n;
    }
    while (*text == ' ' || *text == '\n' || *text == '\r' || *text == '\t') {
        text++;
    }
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\n' ||
                     buf[n - 1] == '\r' || buf[n - 1] == '\t')) {
        buf[--n] = '\0';
    }
    if (strlen(text) == 2 * CONTENT_KEY_SIZE ||
        strlen(text) == 2 * CODEC_SEALED_KEY_SIZE) {
        size_t got = key_parse(out, text);
        *len = got != 0 ? got : *len;
    }
    sodium_memzero(buf, sizeof(buf));
    if (*len == 0) {
        return cli_usage_error(what,
                               "the key file %s holds neither a 32-byte "
                               "content key nor an 80-byte sealed key (raw, "
                               "or as 64 or 160 hex digits)",
                               path);
    }
    return CLI_EXIT_OK;
}

int cli_exchange_read(const struct cli_ctx *ctx, const char *id_hex,
                      const uint8_t *id, ProtobufCMessage **exchange,
                      uint64_t *escrow, uint64_t *height)
{
    ProtobufCMessage *acct = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char what[128];
    int rc;

    *escrow = 0;
    (void)snprintf(what, sizeof(what), "exchange %s", id_hex);
    rc = cli_object_get(ctx, key, contract_key_exchange(key, id), what,
                        &tdei__exchange__descriptor, exchange, height);
    if (rc == CLI_EXIT_OK) {
        rc = cli_object_get(ctx, key, contract_key_escrow(key, id), NULL,
                            &tdei__account__descriptor, &acct, NULL);
    }
    if (rc == CLI_EXIT_OK && acct != NULL) {
        *escrow = ((const Tdei__Account *)acct)->balance;
    }
    if (rc != CLI_EXIT_OK) {
        codec_message_free(*exchange);
        *exchange = NULL;
    }
    codec_message_free(acct);
    return rc;
}

/* Seal the raw content key @key to the consumer of exchange @xid: read the
 * exchange and the consumer's encryption key from the ledger. */
static int key_seal(const struct cli_ctx *ctx, const char *xid_hex,
                    const uint8_t *xid, const uint8_t *key,
                    uint8_t sealed[CODEC_SEALED_KEY_SIZE])
{
    ProtobufCMessage *xmsg = NULL;
    ProtobufCMessage *mmsg = NULL;
    uint8_t k[CONTRACT_KEY_SIZE_MAX];
    char what[128];
    const Tdei__Member *m;
    uint64_t escrow;
    int rc;

    rc = cli_exchange_read(ctx, xid_hex, xid, &xmsg, &escrow, NULL);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    (void)snprintf(what, sizeof(what), "the consumer %s",
                   ((const Tdei__Exchange *)xmsg)->consumer);
    rc = cli_object_get(
        ctx, k,
        contract_key_member(k, ((const Tdei__Exchange *)xmsg)->consumer), what,
        &tdei__member__descriptor, &mmsg, NULL);
    codec_message_free(xmsg);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    m = (const Tdei__Member *)mmsg;
    if (m->encryption_key.len != crypto_box_PUBLICKEYBYTES ||
        crypto_box_seal(sealed, key, CONTENT_KEY_SIZE,
                        m->encryption_key.data) != 0) {
        rc = cli_fail(TDEI_CRYPTO, "cannot seal the content key to the "
                                   "consumer's encryption key");
    }
    codec_message_free(mmsg);
    return rc;
}

/* `exchange deliver ID` without a key: the owner's node delivers. */
static int deliver_now(const struct cli_ctx *ctx, const uint8_t *id)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__DeliverNow now = TDEI__API__DELIVER_NOW__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    now.exchange.data = (uint8_t *)(uintptr_t)id;
    now.exchange.len = CODEC_HASH_SIZE;
    req.req_case = TDEI__API__REQUEST__REQ_DELIVER_NOW;
    req.deliver_now = &now;
    rc = cli_call_wait(ctx, &req, &resp, DELIVER_WAIT_MS);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = cli_tx_result_print(
        ctx, resp->deliver_now->tx_id.data, resp->deliver_now->height,
        resp->deliver_now->index, &resp->deliver_now->result, NULL);
    api_client_response_free(resp);
    return rc;
}

static int exchange_deliver(struct cli_ctx *ctx, int argc, char **argv)
{
    _Static_assert(CODEC_SEALED_KEY_SIZE ==
                       CONTENT_KEY_SIZE + crypto_box_SEALBYTES,
                   "a sealed content key is crypto_box_seal of 32 bytes");
    struct cli_tx tx = CLI_TX_INIT(NULL);
    const char *sealed_hex = NULL;
    const char *key_file = NULL;
    struct cli_hash root = {0};
    const struct cli_opt opts[] = {
        {.name = "sealed-key",
         .type = CLI_OPT_TEXT,
         .dest = &sealed_hex,
         .meta = "HEX",
         .help = "the content key: 64 hex digits (sealed here to the "
                 "consumer's key) or 160 (already sealed)"},
        {.name = "key-file",
         .type = CLI_OPT_TEXT,
         .dest = &key_file,
         .meta = "FILE",
         .help = "read that key from FILE (hex or raw bytes)"},
        {.name = "content-root",
         .type = CLI_OPT_HASH,
         .dest = &root,
         .meta = "HEX",
         .help = "dataset: the root of the requested version (omit it for "
                 "a stream)"},
    };
    const struct cli_spec spec = {
        .what = "exchange deliver",
        .operands = "EXCHANGE-ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Deliver an approved exchange (the entry's current owner): "
                 "put the\ncontent key, sealed to the consumer's encryption "
                 "key with\ncrypto_box_seal, and the content root on the "
                 "ledger. A raw 32-byte\nkey is sealed here with the "
                 "consumer's key read from the ledger.\nWithout "
                 "--sealed-key and --key-file the owner's node delivers "
                 "now with\nthe key it kept at `catalog publish --file` "
                 "(or, for a stream, the\nsubscription key), signed with "
                 "the node's operator key; use this when\nthe entry is "
                 "set to manual delivery (`tdei catalog delivery`).",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeDeliver deliver = TDEI__EXCHANGE_DELIVER__INIT;
    uint8_t id[CODEC_HASH_SIZE];
    uint8_t key[CODEC_SEALED_KEY_SIZE];
    uint8_t sealed[CODEC_SEALED_KEY_SIZE];
    size_t key_len = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_hash(spec.what, "EXCHANGE-ID", argv[first], id);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (sealed_hex != NULL && key_file != NULL) {
        return cli_usage_error(spec.what,
                               "give the content key as --sealed-key HEX or "
                               "--key-file FILE, not both");
    }
    if (sealed_hex == NULL && key_file == NULL) {
        if (root.set || tx.nonce != 0 || tx.no_wait ||
            tx.passphrase_file != NULL) {
            return cli_usage_error(
                spec.what, "--content-root, --nonce, --no-wait and "
                           "--passphrase-file go with --sealed-key or "
                           "--key-file; without a key the node delivers "
                           "with what it holds");
        }
        return deliver_now(ctx, id);
    }
    if (sealed_hex != NULL) {
        key_len = key_parse(key, sealed_hex);
        if (key_len == 0) {
            return cli_usage_error(spec.what,
                                   "--sealed-key is neither 64 hex digits "
                                   "(a content key) nor 160 (a sealed key)");
        }
    } else {
        rc = key_file_read(spec.what, key_file, key, &key_len);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }
    if (key_len == CONTENT_KEY_SIZE) {
        rc = key_seal(ctx, argv[first], id, key, sealed);
    } else {
        memcpy(sealed, key, sizeof(sealed));
    }
    sodium_memzero(key, sizeof(key));
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    deliver.exchange.data = id;
    deliver.exchange.len = sizeof(id);
    deliver.sealed_key.data = sealed;
    deliver.sealed_key.len = sizeof(sealed);
    if (root.set) {
        deliver.content_root.data = root.bytes;
        deliver.content_root.len = sizeof(root.bytes);
    }
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_DELIVER;
    body.exchange_deliver = &deliver;
    return cli_tx_submit(ctx, &tx, &body);
}

/* ---- fetch and transfer -------------------------------------------------- */

/* `-o FILE` is `--output FILE`: copy @argv into @out with that spelled
 * out (cli_parse reads long options only). */
static void output_short_option(int argc, char **argv, char **out)
{
    for (int i = 0; i < argc; i++) {
        out[i] = strcmp(argv[i], "-o") == 0 ? "--output" : argv[i];
    }
    out[argc] = NULL;
}

static int exchange_fetch(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *output = NULL;
    uint64_t wait_s = FETCH_WAIT_S_DEFAULT;
    const struct cli_opt opts[] = {
        {.name = "output",
         .type = CLI_OPT_TEXT,
         .dest = &output,
         .meta = "FILE",
         .help = "write the payload to FILE (also -o FILE); its directory "
                 "must exist",
         .flags = CLI_REQUIRED},
        {.name = "timeout",
         .type = CLI_OPT_U64,
         .dest = &wait_s,
         .meta = "SEC",
         .help = "wait at most SEC seconds for the chunks (default 300)",
         .min = 1,
         .max = FETCH_WAIT_S_MAX},
    };
    const struct cli_spec spec = {
        .what = "exchange fetch",
        .operands = "EXCHANGE-ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Fetch the payload of a delivered exchange of this home's "
                 "member: the\nnode pulls the chunks from the owner's node "
                 "(each checked against the\ncontent root on the ledger), "
                 "opens the content key sealed to this\nmember, decrypts "
                 "and writes FILE at once or not at all. When the wait\n"
                 "ends first the transfer goes on: run the command again.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__FetchPayload fetch = TDEI__API__FETCH_PAYLOAD__INIT;
    Tdei__Api__Response *resp = NULL;
    const Tdei__Api__FetchResult *res;
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    char path[CLI_PATH_SIZE];
    char hex[HEX32];
    uint8_t id[CODEC_HASH_SIZE];
    int first;
    int rc;

    if (args == NULL) {
        return cli_error("out of memory");
    }
    output_short_option(argc, argv, args);
    if (!cli_parse(&spec, argc, args, &first, &rc)) {
        free(args);
        return rc;
    }
    rc = cli_arg_hash(spec.what, "EXCHANGE-ID", args[first], id);
    if (rc == CLI_EXIT_OK) {
        rc = cli_path_absolute(spec.what, "--output", output, path);
    }
    free(args);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    fetch.exchange.data = id;
    fetch.exchange.len = sizeof(id);
    fetch.out_path = path;
    fetch.timeout_ms = (uint32_t)(wait_s * 1000u);
    req.req_case = TDEI__API__REQUEST__REQ_FETCH_PAYLOAD;
    req.fetch_payload = &fetch;
    rc = cli_call_wait(ctx, &req, &resp, fetch.timeout_ms);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    res = resp->fetch;
    (void)tdei_hex_encode(hex, sizeof(hex), res->content_root.data,
                          res->content_root.len == 32 ? 32 : 0);
    if (ctx->json) {
        rc = cli_print_json(json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:s}", "content_root", hex, "size",
            (json_int_t)res->size, "chunks", (json_int_t)res->chunk_count,
            "chunks_fetched", (json_int_t)res->chunks_fetched,
            "chunks_refetched", (json_int_t)res->chunks_refetched, "file",
            res->out_path));
    } else {
        printf("content root    %s\nsize            %llu bytes\n"
               "chunks          %llu\nfetched         %llu chunks (this "
               "node's run)\nrefetched       %llu (failed their proof)\n"
               "file            %s\n",
               hex, (unsigned long long)res->size,
               (unsigned long long)res->chunk_count,
               (unsigned long long)res->chunks_fetched,
               (unsigned long long)res->chunks_refetched, res->out_path);
    }
    api_client_response_free(resp);
    return rc;
}

static const char *const payload_states[] = {"partial", "complete", NULL};

static int exchange_transfer(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "exchange transfer",
        .operands = "EXCHANGE-ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Show the payload of an exchange as this node holds it: "
                 "chunks present\nof the count, whether it is being pulled, "
                 "chunks fetched and refetched\nsince the node started, and "
                 "the last refusal or failure.",
    };
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetPayloadState get = TDEI__API__GET_PAYLOAD_STATE__INIT;
    Tdei__Api__Response *resp = NULL;
    const Tdei__Api__PayloadState *st;
    const char *state;
    char hex[HEX32];
    uint8_t id[CODEC_HASH_SIZE];
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_hash(spec.what, "EXCHANGE-ID", argv[first], id);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    get.exchange.data = id;
    get.exchange.len = sizeof(id);
    req.req_case = TDEI__API__REQUEST__REQ_GET_PAYLOAD_STATE;
    req.get_payload_state = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    st = resp->payload_state;
    state = st->state == 0 ? "absent" : cli_name(payload_states, st->state);
    (void)tdei_hex_encode(hex, sizeof(hex), st->content_root.data,
                          st->content_root.len == 32 ? 32 : 0);
    if (ctx->json) {
        rc = cli_print_json(json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:b, s:I, s:I, s:s, s:s}",
            "content_root", hex, "state", state, "size", (json_int_t)st->size,
            "chunks", (json_int_t)st->chunk_count, "chunks_present",
            (json_int_t)st->chunks_present, "fetching", st->fetching,
            "chunks_fetched", (json_int_t)st->chunks_fetched,
            "chunks_refetched", (json_int_t)st->chunks_refetched, "last_error",
            st->last_error, "last_error_code",
            st->last_error_code != 0 ? tdei_errname((int)st->last_error_code)
                                     : ""));
    } else {
        printf("content root    %s\nstate           %s\nsize            "
               "%llu bytes\nchunks          %llu of %llu here\n"
               "fetching        %s\nfetched         %llu\nrefetched       "
               "%llu\nlast error      %s%s%s%s\n",
               hex, state, (unsigned long long)st->size,
               (unsigned long long)st->chunks_present,
               (unsigned long long)st->chunk_count, st->fetching ? "yes" : "no",
               (unsigned long long)st->chunks_fetched,
               (unsigned long long)st->chunks_refetched,
               st->last_error[0] != '\0' ? st->last_error : "-",
               st->last_error_code != 0 ? " (" : "",
               st->last_error_code != 0 ? tdei_errname((int)st->last_error_code)
                                        : "",
               st->last_error_code != 0 ? ")" : "");
    }
    api_client_response_free(resp);
    return rc;
}

/* ---- show and list ------------------------------------------------------- */

/* What the deadline of an exchange in @status waits for, or NULL. */
static const char *deadline_step(uint32_t status)
{
    switch (status) {
    case CODEC_EXCHANGE_REQUESTED:
        return "approval";
    case CODEC_EXCHANGE_APPROVED:
        return "delivery";
    case CODEC_EXCHANGE_DELIVERED:
        return "confirmation (then the owner is paid)";
    default:
        return NULL;
    }
}

static json_t *exchange_json(const Tdei__Exchange *x)
{
    json_t *out = json_pack(
        "{s:o*, s:s, s:s, s:I, s:o*, s:s, s:s, s:s, s:I, s:I, s:s}", "id",
        cli_json_hex(x->id.data, x->id.len), "entry", x->dataset, "kind",
        cli_name(cli_kinds, x->kind), "version", (json_int_t)x->version,
        "content_root", cli_json_hex(x->content_root.data, x->content_root.len),
        "consumer", x->consumer, "owner", x->owner, "price_model",
        cli_name(cli_models, x->model), "price", (json_int_t)x->price, "escrow",
        (json_int_t)x->escrow, "purpose", x->purpose);
    const struct
    {
        const char *key;
        uint64_t value;
    } numbers[] = {
        {"level", x->level},
        {"requested_height", x->requested_height},
        {"deadline", x->deadline},
        {"grant_ttl", x->grant_ttl},
        {"grant_expires", x->grant_expires},
        {"delivered_height", x->delivered_height},
        {"settled_height", x->settled_height},
        {"closed_height", x->closed_height},
        {"records", x->records},
    };

    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        (void)json_object_set_new(out, numbers[i].key,
                                  json_integer((json_int_t)numbers[i].value));
    }
    (void)json_object_set_new(
        out, "class", json_string(cli_name(cli_classes, x->data_class)));
    (void)json_object_set_new(
        out, "status", json_string(cli_name(cli_exchange_statuses, x->status)));
    (void)json_object_set_new(out, "need_owner", json_boolean(x->need_owner));
    (void)json_object_set_new(out, "need_regulator",
                              json_boolean(x->need_regulator));
    (void)json_object_set_new(out, "owner_approval",
                              json_string(x->owner_approval));
    (void)json_object_set_new(out, "regulator_approval",
                              json_string(x->regulator_approval));
    (void)json_object_set_new(
        out, "sealed_key", cli_json_hex(x->sealed_key.data, x->sealed_key.len));
    (void)json_object_set_new(
        out, "delivered_root",
        cli_json_hex(x->delivered_root.data, x->delivered_root.len));
    (void)json_object_set_new(out, "note", json_string(x->note));
    (void)json_object_set_new(out, "owner_revoke",
                              json_boolean(x->owner_revoke));
    (void)json_object_set_new(out, "consumer_revoke",
                              json_boolean(x->consumer_revoke));
    return out;
}

static const char *text_or_dash(const char *s)
{
    return s[0] != '\0' ? s : "-";
}

/* One approval of an exchange for `show`: "not needed", "missing" or
 * "given by MEMBER". */
static const char *approval_text(char *buf, size_t cap, int needed,
                                 const char *by)
{
    if (!needed) {
        return "not needed";
    }
    if (by[0] == '\0') {
        return "missing";
    }
    (void)snprintf(buf, cap, "given by %s", by);
    return buf;
}

static void exchange_print(const Tdei__Exchange *x, uint64_t escrow,
                           uint64_t height)
{
    char a[TDEI_HEX_SIZE(CODEC_SEALED_KEY_SIZE)];
    const char *step = deadline_step(x->status);

    printf("exchange        %s\n", cli_hex(a, sizeof(a), &x->id));
    /* The ledger records the version a dataset was requested at; a stream
     * has no versions (its exchanges keep 0). */
    if (x->kind == CODEC_KIND_STREAM) {
        printf("entry           %s (stream)\n", x->dataset);
    } else {
        printf("entry           %s (%s, version %llu)\n", x->dataset,
               cli_name(cli_kinds, x->kind), (unsigned long long)x->version);
    }
    printf("content root    %s\n", cli_hex(a, sizeof(a), &x->content_root));
    printf("consumer        %s\nowner           %s (at request)\n", x->consumer,
           x->owner);
    printf("status          %s\n", cli_name(cli_exchange_statuses, x->status));
    printf("price           %s %llu\n", cli_name(cli_models, x->model),
           (unsigned long long)x->price);
    printf("escrow          %llu (escrow account %llu)\n",
           (unsigned long long)x->escrow, (unsigned long long)escrow);
    printf("purpose         %s\n", text_or_dash(x->purpose));
    printf("labels          level %u, %s\n", x->level,
           cli_name(cli_classes, x->data_class));
    printf("approvals       owner %s, ",
           approval_text(a, sizeof(a), x->need_owner, x->owner_approval));
    printf("regulator %s\n", approval_text(a, sizeof(a), x->need_regulator,
                                           x->regulator_approval));
    printf("requested       height %llu\n",
           (unsigned long long)x->requested_height);
    if (step != NULL && x->deadline != 0) {
        printf("deadline        height %llu for the %s; %s\n",
               (unsigned long long)x->deadline, step,
               x->deadline >= height ? "open" : "past, processed next block");
    } else {
        printf("deadline        -\n");
    }
    printf("grant           %llu blocks", (unsigned long long)x->grant_ttl);
    if (x->grant_expires != 0) {
        printf(", live through height %llu%s",
               (unsigned long long)x->grant_expires,
               x->status == CODEC_EXCHANGE_SETTLED && height <= x->grant_expires
                   ? " (live now)"
                   : "");
    }
    printf("\nsealed key      %s\n", cli_hex(a, sizeof(a), &x->sealed_key));
    printf("delivered root  %s\n", cli_hex(a, sizeof(a), &x->delivered_root));
    printf("delivered       height %llu\nsettled         height %llu\n"
           "closed          height %llu\n",
           (unsigned long long)x->delivered_height,
           (unsigned long long)x->settled_height,
           (unsigned long long)x->closed_height);
    printf("revoke consent  owner %s, consumer %s\n",
           x->owner_revoke ? "yes" : "no", x->consumer_revoke ? "yes" : "no");
    printf("records         %llu\nnote            %s\nread at         "
           "height %llu\n",
           (unsigned long long)x->records, text_or_dash(x->note),
           (unsigned long long)height);
}

static int exchange_show(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "exchange show",
        .operands = "EXCHANGE-ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Show every field of exchange EXCHANGE-ID (64 hex digits): "
                 "parties,\nstatus, price, escrow (and its escrow account), "
                 "approvals, the\ndeadline and what it waits for, the grant, "
                 "the delivery.",
    };
    ProtobufCMessage *msg = NULL;
    uint8_t id[CODEC_HASH_SIZE];
    uint64_t height = 0;
    uint64_t escrow = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_hash(spec.what, "EXCHANGE-ID", argv[first], id);
    if (rc == CLI_EXIT_OK) {
        rc = cli_exchange_read(ctx, argv[first], id, &msg, &escrow, &height);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (ctx->json) {
        json_t *out = exchange_json((const Tdei__Exchange *)msg);
        (void)json_object_set_new(out, "escrow_account",
                                  json_integer((json_int_t)escrow));
        (void)json_object_set_new(out, "height",
                                  json_integer((json_int_t)height));
        rc = cli_print_json(out);
    } else {
        exchange_print((const Tdei__Exchange *)msg, escrow, height);
    }
    codec_message_free(msg);
    return rc;
}

/* exchange list filters: --member (consumer or owner) and --status. */
struct exchange_filter
{
    const char *member; /* NULL: all */
    uint32_t status;    /* 0: all */
};

static int exchange_row(struct cli_rows *rows, const Tdei__Api__KeyValue *kv,
                        const ProtobufCMessage *record)
{
    const Tdei__Exchange *x = (const Tdei__Exchange *)record;
    const struct exchange_filter *f = rows->arg;
    char hex[HEX32];

    (void)kv;
    if ((f->member != NULL && strcmp(x->consumer, f->member) != 0 &&
         strcmp(x->owner, f->member) != 0) ||
        (f->status != 0 && x->status != f->status)) {
        return CLI_EXIT_OK;
    }
    if (rows->ctx->json) {
        (void)json_array_append_new(rows->array, exchange_json(x));
    } else {
        if (rows->count == 0) {
            printf("%-64s  %-20s  %-16s  %-16s  %-9s  %8s  %8s  %s\n", "ID",
                   "ENTRY", "CONSUMER", "OWNER", "STATUS", "PRICE", "ESCROW",
                   "DEADLINE");
        }
        printf("%-64s  %-20s  %-16s  %-16s  %-9s  %8llu  %8llu  %llu\n",
               cli_hex(hex, sizeof(hex), &x->id), x->dataset, x->consumer,
               x->owner, cli_name(cli_exchange_statuses, x->status),
               (unsigned long long)x->price, (unsigned long long)x->escrow,
               (unsigned long long)x->deadline);
    }
    rows->count++;
    return CLI_EXIT_OK;
}

static int exchange_list(struct cli_ctx *ctx, int argc, char **argv)
{
    struct exchange_filter filter = {0};
    const struct cli_opt opts[] = {
        {.name = "member",
         .type = CLI_OPT_TEXT,
         .dest = &filter.member,
         .meta = "MEMBER",
         .help = "only exchanges where MEMBER is the consumer or the owner"},
        {.name = "status",
         .type = CLI_OPT_CHOICE,
         .dest = &filter.status,
         .meta = "STATUS",
         .help = "only exchanges in this status",
         .choices = cli_exchange_statuses},
    };
    const struct cli_spec spec = {
        .what = "exchange list",
        .about = "List the exchanges on the ledger in id order: entry, "
                 "consumer, owner\n(at request), status, price, escrow and "
                 "deadline height.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct cli_rows rows = {.ctx = ctx,
                            .desc = &tdei__exchange__descriptor,
                            .fn = exchange_row,
                            .arg = &filter};
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    if (filter.member != NULL) {
        rc = cli_arg_member(spec.what, "--member", filter.member);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }
    return cli_rows_list(&rows, CONTRACT_KEY_EXCHANGE, "exchanges");
}

int cli_cmd_exchange(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"request", exchange_request, "ask for an entry; escrow the price"},
        {"approve", exchange_approve, "approve a request (owner, regulator)"},
        {"reject", exchange_reject, "reject a request; refund the consumer"},
        {"deliver", exchange_deliver, "deliver the sealed key (owner)"},
        {"fetch", exchange_fetch, "fetch and decrypt a delivered payload"},
        {"transfer", exchange_transfer, "show a payload's transfer here"},
        {"confirm", exchange_confirm, "confirm a delivery; pay the owner"},
        {"dispute", exchange_dispute, "dispute a delivery (consumer)"},
        {"resolve", exchange_resolve, "resolve a dispute (public_service)"},
        {"revoke", exchange_revoke, "revoke a grant"},
        {"show", exchange_show, "show every field of an exchange"},
        {"list", exchange_list, "list exchanges, by member or status"},
    };

    return cli_dispatch(ctx, "exchange", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
