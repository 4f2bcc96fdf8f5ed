/* tdei tx: sign and submit transactions, show committed ones. */
#include "cli.h"

#include "api/client.h"
#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/ids.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* How long `tx transfer` waits for the commit unless told otherwise. */
#define TX_WAIT_MS_DEFAULT 10000u

/* The next nonce of @signer: its committed nonce + 1. */
static int tx_next_nonce(const struct cli_ctx *ctx, const uint8_t *signer,
                         uint64_t *nonce)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetObject get = TDEI__API__GET_OBJECT__INIT;
    Tdei__Api__Response *resp = NULL;
    Tdei__OperatorKey *opkey = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    get.key.data = key;
    get.key.len = contract_key_opkey(key, signer);
    req.req_case = TDEI__API__REQUEST__REQ_GET_OBJECT;
    req.get_object = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = codec_operator_key_decode(&opkey, resp->object->value.data,
                                   resp->object->value.len, errmsg);
    api_client_response_free(resp);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    *nonce = opkey->nonce + 1;
    codec_operator_key_free(opkey);
    return CLI_EXIT_OK;
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

/* Print a TxResult (serialized) and return the exit code it means. */
static int tx_print_result(const struct cli_ctx *ctx, const uint8_t *tx_id,
                           uint64_t height, uint32_t index,
                           const ProtobufCBinaryData *bytes)
{
    Tdei__TxResult *result = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char id_hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    json_t *events;
    int rc;

    rc = codec_txresult_decode(&result, bytes->data, bytes->len, errmsg);
    if (rc != 0) {
        return cli_fail(rc, errmsg);
    }
    (void)tdei_hex_encode(id_hex, sizeof(id_hex), tx_id, CODEC_HASH_SIZE);
    if (ctx->json) {
        events = json_array();
        for (size_t i = 0; events != NULL && i < result->n_events; i++) {
            json_t *attrs = json_object();
            const Tdei__Event *ev = result->events[i];
            for (size_t j = 0; attrs != NULL && j < ev->n_attrs; j++) {
                (void)json_object_set_new(attrs, ev->attrs[j]->key,
                                          json_string(ev->attrs[j]->value));
            }
            (void)json_array_append_new(
                events, json_pack("{s:s, s:o*}", "type", ev->type, "attrs",
                                  attrs));
        }
        rc = cli_print_json(json_pack(
            "{s:s, s:I, s:I, s:I, s:s, s:s, s:o*}", "tx_id", id_hex,
            "height", (json_int_t)height, "index", (json_int_t)index,
            "code", (json_int_t)result->code, "code_name",
            tdei_errname((int)result->code), "log", result->log, "events",
            events));
    } else {
        printf("tx id    %s\nheight   %llu\nindex    %u\nresult   %s\n",
               id_hex, (unsigned long long)height, index,
               result->code == 0 ? "applied"
                                 : tdei_errname((int)result->code));
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

/* Sign @body with the operator key and submit the Tx; wait for commit
 * unless @no_wait. */
static int tx_submit(const struct cli_ctx *ctx, const struct tdei_keypair *kp,
                     const Tdei__TxBody *body, int no_wait,
                     uint32_t timeout_ms)
{
    Tdei__Tx tx = TDEI__TX__INIT;
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SubmitTx submit = TDEI__API__SUBMIT_TX__INIT;
    Tdei__Api__Response *resp = NULL;
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t *body_bytes = NULL;
    uint8_t *tx_bytes = NULL;
    size_t body_len;
    size_t tx_len;
    char id_hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    int rc;

    rc = codec_txbody_encode(body, &body_bytes, &body_len);
    if (rc == 0) {
        rc = tdei_sign_tagged(sig, kp, TDEI_TAG_TX, body_bytes, body_len);
    }
    if (rc == 0) {
        tx.body.data = body_bytes;
        tx.body.len = body_len;
        tx.sig.data = sig;
        tx.sig.len = TDEI_SIG_SIZE;
        rc = codec_tx_encode(&tx, &tx_bytes, &tx_len);
    }
    tdei_free(body_bytes);
    if (rc != 0) {
        return cli_fail(rc, "cannot build the tx");
    }
    submit.tx.data = tx_bytes;
    submit.tx.len = tx_len;
    submit.wait = !no_wait;
    submit.timeout_ms = timeout_ms;
    req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
    req.submit = &submit;
    rc = cli_call(ctx, &req, &resp);
    tdei_free(tx_bytes);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (no_wait) {
        (void)tdei_hex_encode(id_hex, sizeof(id_hex),
                              resp->submit->tx_id.data, CODEC_HASH_SIZE);
        if (ctx->json) {
            rc = cli_print_json(json_pack("{s:s, s:b}", "tx_id", id_hex,
                                          "committed", 0));
        } else {
            printf("tx id    %s\nstatus   admitted to the mempool\n",
                   id_hex);
        }
    } else {
        rc = tx_print_result(ctx, resp->submit->tx_id.data,
                             resp->submit->height, resp->submit->index,
                             &resp->submit->result);
    }
    api_client_response_free(resp);
    return rc;
}

static void transfer_help(void)
{
    printf("usage: tdei [--home DIR] [--node ADDR] [--json] tx transfer "
           "--to MEMBER --amount N\n"
           "         [--memo TEXT] [--nonce N] [--no-wait] [--timeout-ms "
           "MS]\n"
           "         [--passphrase-file FILE]\n\n"
           "Move N credits from this home's member to MEMBER: sign with "
           "the\n"
           "operator key, submit, and wait until the tx is committed.\n\n"
           "  --memo TEXT     a note kept on the ledger (at most %u bytes; "
           "public)\n"
           "  --nonce N       use this nonce (default: the committed one + "
           "1)\n"
           "  --no-wait       return once the node admitted the tx\n"
           "  --timeout-ms MS how long to wait for the commit (default "
           "%u)\n",
           CODEC_MEMO_MAX, TX_WAIT_MS_DEFAULT);
}

static int tx_transfer(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"to", required_argument, NULL, 't'},
        {"amount", required_argument, NULL, 'a'},
        {"memo", required_argument, NULL, 'm'},
        {"nonce", required_argument, NULL, 'n'},
        {"no-wait", no_argument, NULL, 'W'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Transfer transfer = TDEI__TRANSFER__INIT;
    struct tdei_keypair kp;
    const char *to = NULL;
    const char *memo = "";
    const char *passphrase_file = NULL;
    char chain_id[TDEI_CHAIN_ID_MAX + 1];
    uint64_t amount = 0;
    uint64_t nonce = 0;
    uint64_t timeout_ms = TX_WAIT_MS_DEFAULT;
    int no_wait = 0;
    int opt;
    int rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 't':
            to = optarg;
            break;
        case 'a':
            if (cli_parse_u64(optarg, &amount) != 0 || amount == 0) {
                return cli_usage_error("tx transfer",
                                       "--amount '%s' is not a whole "
                                       "number of credits above 0",
                                       optarg);
            }
            break;
        case 'm':
            memo = optarg;
            break;
        case 'n':
            if (cli_parse_u64(optarg, &nonce) != 0 || nonce == 0) {
                return cli_usage_error("tx transfer",
                                       "--nonce '%s' is not a number above "
                                       "0",
                                       optarg);
            }
            break;
        case 'W':
            no_wait = 1;
            break;
        case 'T':
            if (cli_parse_u64(optarg, &timeout_ms) != 0 || timeout_ms == 0 ||
                timeout_ms > 120000) {
                return cli_usage_error("tx transfer",
                                       "--timeout-ms '%s' is outside "
                                       "1-120000",
                                       optarg);
            }
            break;
        case 'p':
            passphrase_file = optarg;
            break;
        case 'h':
            transfer_help();
            return CLI_EXIT_OK;
        default:
            return cli_option_error("tx transfer", opt, argv);
        }
    }
    if (optind < argc) {
        return cli_usage_error("tx transfer", "unexpected argument '%s'",
                               argv[optind]);
    }
    if (to == NULL || tdei_member_id_check(to) != 0 || amount == 0) {
        return cli_usage_error("tx transfer",
                               "--to MEMBER (3-32 bytes of [a-z0-9-]) and "
                               "--amount N are required");
    }
    if (strlen(memo) > CODEC_MEMO_MAX) {
        return cli_usage_error("tx transfer",
                               "--memo is %zu bytes; at most %u",
                               strlen(memo), CODEC_MEMO_MAX);
    }
    rc = cli_operator_key(ctx, passphrase_file, &kp);
    if (rc == CLI_EXIT_OK) {
        rc = tx_chain_id(ctx, chain_id, sizeof(chain_id));
    }
    if (rc == CLI_EXIT_OK && nonce == 0) {
        rc = tx_next_nonce(ctx, kp.pubkey, &nonce);
    }
    if (rc == CLI_EXIT_OK) {
        transfer.to = (char *)(uintptr_t)to;
        transfer.amount = amount;
        transfer.memo = (char *)(uintptr_t)memo;
        body.version = CODEC_VERSION;
        body.chain_id = chain_id;
        body.signer.data = kp.pubkey;
        body.signer.len = TDEI_PUBKEY_SIZE;
        body.nonce = nonce;
        body.op_case = TDEI__TX_BODY__OP_TRANSFER;
        body.transfer = &transfer;
        rc = tx_submit(ctx, &kp, &body, no_wait, (uint32_t)timeout_ms);
    }
    tdei_keypair_wipe(&kp);
    return rc;
}

static int tx_show(struct cli_ctx *ctx, int argc, char **argv)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetTx get = TDEI__API__GET_TX__INIT;
    Tdei__Api__Response *resp = NULL;
    uint8_t tx_id[CODEC_HASH_SIZE];
    int rc;

    if (argc == 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: tdei [--home DIR] [--node ADDR] [--json] tx show "
               "TX_ID\n\nShow a committed tx: its height, index, result "
               "and events.\n");
        return CLI_EXIT_OK;
    }
    if (argc != 2) {
        return cli_usage_error("tx show", "give one TX_ID (64 hex digits)");
    }
    if (tdei_hex_decode(tx_id, sizeof(tx_id), argv[1]) != 0) {
        return cli_usage_error("tx show",
                               "TX_ID '%s' is not 64 hex digits", argv[1]);
    }
    get.tx_id.data = tx_id;
    get.tx_id.len = sizeof(tx_id);
    req.req_case = TDEI__API__REQUEST__REQ_GET_TX;
    req.get_tx = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = tx_print_result(ctx, tx_id, resp->tx->height, resp->tx->index,
                         &resp->tx->result);
    api_client_response_free(resp);
    return rc;
}

int cli_cmd_tx(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"transfer", tx_transfer, "move credits to another member"},
        {"show", tx_show, "show a committed tx and its result"},
    };

    return cli_dispatch(ctx, "tx", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
