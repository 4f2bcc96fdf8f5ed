/* tdei block: show a committed block, its header and its commit. */
#include "cli.h"

#include "api/client.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hex.h"

#include <stdio.h>
#include <string.h>

/* The hex of a hash field, or "-" when it is empty. */
static const char *block_hex(char *out, size_t size,
                             const ProtobufCBinaryData *field)
{
    if (field->len == 0) {
        return "-";
    }
    return tdei_hex_encode(out, size, field->data, field->len);
}

static int block_print(const struct cli_ctx *ctx,
                       const Tdei__Api__BlockInfo *info)
{
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    Tdei__Block *block = NULL;
    Tdei__Header *h = NULL;
    Tdei__Commit *commit = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char a[TDEI_HEX_SIZE(32)];
    char b[TDEI_HEX_SIZE(32)];
    char c[TDEI_HEX_SIZE(32)];
    char d[TDEI_HEX_SIZE(32)];
    char e[TDEI_HEX_SIZE(32)];
    char f[TDEI_HEX_SIZE(32)];
    char g[TDEI_HEX_SIZE(32)];
    char k[TDEI_HEX_SIZE(32)];
    int rc;

    rc = codec_block_decode(&block, &h, info->block.data, info->block.len,
                            &limits, errmsg);
    if (rc == 0 && info->commit.len > 0) {
        rc = codec_commit_decode(&commit, info->commit.data, info->commit.len,
                                 &limits, errmsg);
    }
    if (rc != 0) {
        codec_block_free(block);
        codec_header_free(h);
        return cli_fail(rc, errmsg);
    }
    if (ctx->json) {
        json_t *signers = json_array();
        for (size_t i = 0; signers != NULL && commit != NULL &&
                           i < commit->n_signatures;
             i++) {
            (void)json_array_append_new(
                signers, json_string(block_hex(a, sizeof(a),
                                               &commit->signatures[i]
                                                    ->validator)));
        }
        rc = cli_print_json(json_pack(
            "{s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, "
            "s:I, s:o*}",
            "height", (json_int_t)h->height, "block_id",
            block_hex(a, sizeof(a), &info->block_id), "chain_id",
            h->chain_id, "time_ms", (json_int_t)h->time_ms, "last_block_id",
            block_hex(b, sizeof(b), &h->last_block_id), "txs_root",
            block_hex(c, sizeof(c), &h->txs_root), "app_hash",
            block_hex(d, sizeof(d), &h->app_hash), "last_results_root",
            block_hex(e, sizeof(e), &h->last_results_root),
            "validators_hash", block_hex(g, sizeof(g), &h->validators_hash),
            "next_validators_hash",
            block_hex(k, sizeof(k), &h->next_validators_hash), "proposer",
            block_hex(f, sizeof(f), &h->proposer), "txs",
            (json_int_t)block->n_txs, "commit_signatures",
            (json_int_t)(commit != NULL ? commit->n_signatures : 0),
            "commit_signers", signers));
    } else {
        printf("height             %llu\n"
               "block id           %s\n"
               "chain id           %s\n"
               "time ms            %llu\n"
               "last block id      %s\n"
               "txs                %zu\n"
               "txs root           %s\n"
               "app hash           %s\n"
               "last results root  %s\n"
               "validators hash    %s\n"
               "next validators    %s\n"
               "proposer           %s\n"
               "commit signatures  %zu\n",
               (unsigned long long)h->height,
               block_hex(a, sizeof(a), &info->block_id), h->chain_id,
               (unsigned long long)h->time_ms,
               block_hex(b, sizeof(b), &h->last_block_id), block->n_txs,
               block_hex(c, sizeof(c), &h->txs_root),
               block_hex(d, sizeof(d), &h->app_hash),
               block_hex(e, sizeof(e), &h->last_results_root),
               block_hex(g, sizeof(g), &h->validators_hash),
               block_hex(k, sizeof(k), &h->next_validators_hash),
               block_hex(f, sizeof(f), &h->proposer),
               commit != NULL ? commit->n_signatures : 0);
        rc = CLI_EXIT_OK;
    }
    codec_commit_free(commit);
    codec_block_free(block);
    codec_header_free(h);
    return rc;
}

static int block_show(struct cli_ctx *ctx, int argc, char **argv)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetBlock get = TDEI__API__GET_BLOCK__INIT;
    Tdei__Api__Response *resp = NULL;
    uint64_t height;
    int rc;

    if (argc == 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: tdei [--home DIR] [--node ADDR] [--json] block show "
               "HEIGHT\n\nShow the header of block HEIGHT (1 is the first; "
               "0 the latest),\nits tx count and its commit.\n");
        return CLI_EXIT_OK;
    }
    if (argc != 2 || cli_parse_u64(argv[1], &height) != 0) {
        return cli_usage_error("block show", "give one HEIGHT (a number)");
    }
    get.height = height;
    req.req_case = TDEI__API__REQUEST__REQ_GET_BLOCK;
    req.get_block = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = block_print(ctx, resp->block);
    api_client_response_free(resp);
    return rc;
}

int cli_cmd_block(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"show", block_show, "show a committed block"},
    };

    return cli_dispatch(ctx, "block", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
