/* tdei stream: open a stream entry, append batches of records, close it
 * (the stream contract), and show its append state. */
#include "cli.h"

#include "contracts/contract.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hex.h"

#include <stdio.h>
#include <string.h>

static const char *const stream_statuses[] = {"open", "closed", NULL};

static int stream_open(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_entry_op(ctx, argc, argv, "stream open",
                        "Open stream entry ID for appends (its owner, "
                        "once; a closed stream\nnever reopens).",
                        TDEI__TX_BODY__OP_STREAM_OPEN);
}

static int stream_close(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_entry_op(ctx, argc, argv, "stream close",
                        "Close stream ID (its owner): no more appends; "
                        "every live\nsubscription ends and its remaining "
                        "escrow returns to its consumer.",
                        TDEI__TX_BODY__OP_STREAM_CLOSE);
}

static int stream_append(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    uint64_t seq = 0;
    uint64_t count = 0;
    uint64_t first_ts = 0;
    uint64_t last_ts = 0;
    struct cli_hash root = {0};
    const struct cli_opt opts[] = {
        {.name = "seq",
         .type = CLI_OPT_U64,
         .dest = &seq,
         .meta = "N",
         .help = "sequence number of the first record: the stream's next",
         .flags = CLI_REQUIRED},
        {.name = "count",
         .type = CLI_OPT_U64,
         .dest = &count,
         .meta = "N",
         .help = "records in the batch, at most params.stream_batch_max",
         .flags = CLI_REQUIRED,
         .min = 1},
        {.name = "first-ts",
         .type = CLI_OPT_U64,
         .dest = &first_ts,
         .meta = "MS",
         .help = "time of the first record, Unix ms (not before the "
                 "stream's last)",
         .flags = CLI_REQUIRED},
        {.name = "last-ts",
         .type = CLI_OPT_U64,
         .dest = &last_ts,
         .meta = "MS",
         .help = "time of the last record, Unix ms (near block time)",
         .flags = CLI_REQUIRED},
        {.name = "root",
         .type = CLI_OPT_HASH,
         .dest = &root,
         .meta = "HEX",
         .help = "RFC 6962 root over the batch's encrypted records",
         .flags = CLI_REQUIRED},
    };
    const struct cli_spec spec = {
        .what = "stream append",
        .operands = "ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Append a batch of records to open stream ID (its owner). "
                 "Each live\nper_record subscription is charged for the "
                 "records from its escrow.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__StreamAppend append = TDEI__STREAM_APPEND__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ID", argv[first]);
    if (rc == CLI_EXIT_OK && first_ts > last_ts) {
        rc = cli_usage_error(
            spec.what, "--first-ts %llu is after --last-ts %llu",
            (unsigned long long)first_ts, (unsigned long long)last_ts);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    append.id = argv[first];
    append.seq_first = seq;
    append.count = count;
    append.first_ts = first_ts;
    append.last_ts = last_ts;
    append.batch_root.data = root.bytes;
    append.batch_root.len = sizeof(root.bytes);
    body.op_case = TDEI__TX_BODY__OP_STREAM_APPEND;
    body.stream_append = &append;
    return cli_tx_submit(ctx, &tx, &body);
}

static int stream_show(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "stream show",
        .operands = "ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Show the append state of stream ID: status, next "
                 "sequence number,\nlast record time, batches, last batch "
                 "root and live subscriptions.\n`tdei catalog show ID` "
                 "shows its catalog entry.",
    };
    ProtobufCMessage *msg = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char what[96];
    char hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    const Tdei__Stream *s;
    uint64_t height = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "ID", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    (void)snprintf(what, sizeof(what), "stream %s", argv[first]);
    rc = cli_object_get(ctx, key, contract_key_stream(key, argv[first]), what,
                        &tdei__stream__descriptor, &msg, &height);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    s = (const Tdei__Stream *)msg;
    if (ctx->json) {
        json_t *subs = json_array();
        for (size_t i = 0; subs != NULL && i < s->n_subscriptions; i++) {
            (void)json_array_append_new(subs,
                                        cli_json_hex(s->subscriptions[i].data,
                                                     s->subscriptions[i].len));
        }
        rc = cli_print_json(json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:o*, s:o*, s:I}", "id", s->id, "status",
            cli_name(stream_statuses, s->status), "next_seq",
            (json_int_t)s->next_seq, "last_ts", (json_int_t)s->last_ts,
            "batches", (json_int_t)s->batches, "last_batch_root",
            cli_json_hex(s->last_batch_root.data, s->last_batch_root.len),
            "subscriptions", subs, "height", (json_int_t)height));
    } else {
        printf("stream           %s\nstatus           %s\n"
               "next seq         %llu\nlast ts          %llu\n"
               "batches          %llu\nlast batch root  %s\n"
               "subscriptions    %zu\n",
               s->id, cli_name(stream_statuses, s->status),
               (unsigned long long)s->next_seq, (unsigned long long)s->last_ts,
               (unsigned long long)s->batches,
               cli_hex(hex, sizeof(hex), &s->last_batch_root),
               s->n_subscriptions);
        for (size_t i = 0; i < s->n_subscriptions; i++) {
            printf("  exchange       %s\n",
                   cli_hex(hex, sizeof(hex), &s->subscriptions[i]));
        }
        printf("read at          height %llu\n", (unsigned long long)height);
    }
    codec_message_free(msg);
    return rc;
}

int cli_cmd_stream(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"open", stream_open, "open a stream entry for appends"},
        {"append", stream_append, "append a batch of records"},
        {"close", stream_close, "close a stream"},
        {"show", stream_show, "show a stream's append state"},
    };

    return cli_dispatch(ctx, "stream", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
