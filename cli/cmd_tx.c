/* tdei tx: sign and submit transactions, show committed ones. */
#include "cli.h"

#include "api/client.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hex.h"

#include <stdio.h>
#include <string.h>

static int tx_transfer(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    const char *to = NULL;
    const char *memo = "";
    uint64_t amount = 0;
    const struct cli_opt opts[] = {
        {.name = "to",
         .type = CLI_OPT_TEXT,
         .dest = &to,
         .meta = "MEMBER",
         .help = "the receiving member",
         .flags = CLI_REQUIRED},
        {.name = "amount",
         .type = CLI_OPT_U64,
         .dest = &amount,
         .meta = "N",
         .help = "credits to move, at least 1",
         .flags = CLI_REQUIRED,
         .min = 1},
        {.name = "memo",
         .type = CLI_OPT_TEXT,
         .dest = &memo,
         .meta = "TEXT",
         .help = "a note kept on the ledger (at most 256 bytes; public)"},
    };
    const struct cli_spec spec = {
        .what = "tx transfer",
        .about = "Move N credits from this home's member to MEMBER: sign "
                 "with the\noperator key, submit, and wait until the tx is "
                 "committed.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Transfer transfer = TDEI__TRANSFER__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_member(spec.what, "--to", to);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    transfer.to = (char *)(uintptr_t)to;
    transfer.amount = amount;
    transfer.memo = (char *)(uintptr_t)memo;
    body.op_case = TDEI__TX_BODY__OP_TRANSFER;
    body.transfer = &transfer;
    return cli_tx_submit(ctx, &tx, &body);
}

static int tx_show(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "tx show",
        .operands = "TX-ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Show a committed tx: its height, index, result and "
                 "events.\nTX-ID is 64 hex digits.",
    };
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetTx get = TDEI__API__GET_TX__INIT;
    Tdei__Api__Response *resp = NULL;
    uint8_t tx_id[CODEC_HASH_SIZE];
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_hash(spec.what, "TX-ID", argv[first], tx_id);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    get.tx_id.data = tx_id;
    get.tx_id.len = sizeof(tx_id);
    req.req_case = TDEI__API__REQUEST__REQ_GET_TX;
    req.get_tx = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = cli_tx_result_print(ctx, tx_id, resp->tx->height, resp->tx->index,
                             &resp->tx->result, NULL);
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
