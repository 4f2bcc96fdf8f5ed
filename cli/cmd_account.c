/* tdei account: a member's balance and standing. */
#include "cli.h"

#include "api/client.h"
#include "config.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/ids.h"
#include "home.h"

#include <stdio.h>
#include <string.h>

static const char *account_status_name(uint32_t status)
{
    switch (status) {
    case CODEC_MEMBER_ACTIVE:
        return "active";
    case CODEC_MEMBER_SUSPENDED:
        return "suspended";
    case CODEC_MEMBER_REMOVED:
        return "removed";
    default:
        return "unknown";
    }
}

static int account_show(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "account show",
        .operands = "[MEMBER]",
        .operands_max = 1,
        .about = "Show MEMBER's balance, role and status (default: this "
                 "home's member).",
    };
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetAccount get = TDEI__API__GET_ACCOUNT__INIT;
    Tdei__Api__Response *resp = NULL;
    const Tdei__Api__AccountInfo *info;
    struct tdei_config cfg;
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    const char *role;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    if (first < argc) {
        rc = cli_arg_member(spec.what, "MEMBER", argv[first]);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        get.member = argv[first];
    } else {
        (void)home_path(path, ctx->home, "config.ini");
        rc = config_load(&cfg, path, errmsg);
        if (rc != 0) {
            return cli_fail(rc, errmsg);
        }
        get.member = cfg.member;
    }
    req.req_case = TDEI__API__REQUEST__REQ_GET_ACCOUNT;
    req.get_account = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    info = resp->account;
    role = tdei_role_name((enum tdei_role)info->role);
    if (ctx->json) {
        rc = cli_print_json(json_pack(
            "{s:s, s:I, s:s, s:s, s:I}", "member", info->member, "balance",
            (json_int_t)info->balance, "role", role != NULL ? role : "?",
            "status", account_status_name(info->status), "height",
            (json_int_t)info->height));
    } else {
        printf("member   %s\nbalance  %llu\nrole     %s\nstatus   %s\n"
               "height   %llu\n",
               info->member, (unsigned long long)info->balance,
               role != NULL ? role : "?", account_status_name(info->status),
               (unsigned long long)info->height);
    }
    api_client_response_free(resp);
    return rc;
}

static int account_escrow(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "account escrow",
        .operands = "EXCHANGE-ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Show the credits held in escrow for exchange EXCHANGE-ID "
                 "(64 hex\ndigits): the consumer's price or budget, until "
                 "the exchange settles,\nis refunded or ends.",
    };
    ProtobufCMessage *msg = NULL;
    const Tdei__Exchange *x;
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
    x = (const Tdei__Exchange *)msg;
    if (ctx->json) {
        rc = cli_print_json(json_pack(
            "{s:s, s:I, s:s, s:s, s:I}", "exchange", argv[first], "escrow",
            (json_int_t)escrow, "consumer", x->consumer, "status",
            cli_name(cli_exchange_statuses, x->status), "height",
            (json_int_t)height));
    } else {
        printf("exchange  %s\nescrow    %llu\nconsumer  %s\nstatus    %s\n"
               "height    %llu\n",
               argv[first], (unsigned long long)escrow, x->consumer,
               cli_name(cli_exchange_statuses, x->status),
               (unsigned long long)height);
    }
    codec_message_free(msg);
    return rc;
}

int cli_cmd_account(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"show", account_show, "show a member's balance and status"},
        {"escrow", account_escrow, "show the escrow of an exchange"},
    };

    return cli_dispatch(ctx, "account", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
