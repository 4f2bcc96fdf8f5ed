/* tdei status: the node's chain, height and mempool. */
#include "cli.h"

#include "api/client.h"
#include "core/error.h"
#include "core/hex.h"

#include <stdio.h>
#include <string.h>

int cli_cmd_status(struct cli_ctx *ctx, int argc, char **argv)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    const Tdei__Api__Status *st;
    char app[TDEI_HEX_SIZE(32)] = "-";
    char last[TDEI_HEX_SIZE(32)] = "-";
    char node[TDEI_HEX_SIZE(32)] = "-";
    int rc;

    if (argc == 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: tdei [--home DIR] [--node ADDR] [--json] status\n\n"
               "Show the node's chain id, height, app hash and mempool.\n");
        return CLI_EXIT_OK;
    }
    if (argc != 1) {
        return cli_usage_error("status", "unexpected argument '%s'",
                               argv[1]);
    }
    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    st = resp->status;
    if (st->app_hash.len == 32) {
        (void)tdei_hex_encode(app, sizeof(app), st->app_hash.data, 32);
    }
    if (st->last_block_id.len == 32) {
        (void)tdei_hex_encode(last, sizeof(last), st->last_block_id.data, 32);
    }
    if (st->node_key.len == 32) {
        (void)tdei_hex_encode(node, sizeof(node), st->node_key.data, 32);
    }
    if (ctx->json) {
        rc = cli_print_json(json_pack(
            "{s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:b, s:s}",
            "chain_id", st->chain_id, "height", (json_int_t)st->height,
            "app_hash", app, "last_block_id", last, "time_ms",
            (json_int_t)st->time_ms, "member", st->member, "node_key", node,
            "mempool_txs", (json_int_t)st->mempool_txs, "mempool_bytes",
            (json_int_t)st->mempool_bytes, "validator", st->validator,
            "version", st->version));
    } else {
        printf("chain id       %s\nheight         %llu\napp hash       %s\n"
               "last block id  %s\ntime ms        %llu\nmember         %s\n"
               "node key       %s\nmempool        %llu txs, %llu bytes\n"
               "version        %s\n",
               st->chain_id, (unsigned long long)st->height, app, last,
               (unsigned long long)st->time_ms, st->member, node,
               (unsigned long long)st->mempool_txs,
               (unsigned long long)st->mempool_bytes, st->version);
    }
    api_client_response_free(resp);
    return rc;
}
