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
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetAccount get = TDEI__API__GET_ACCOUNT__INIT;
    Tdei__Api__Response *resp = NULL;
    const Tdei__Api__AccountInfo *info;
    struct tdei_config cfg;
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    const char *role;
    int rc;

    if (argc == 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: tdei [--home DIR] [--node ADDR] [--json] account "
               "show [MEMBER]\n\nShow MEMBER's balance, role and status "
               "(default: this home's member).\n");
        return CLI_EXIT_OK;
    }
    if (argc > 2) {
        return cli_usage_error("account show", "give at most one MEMBER");
    }
    if (argc == 2) {
        if (tdei_member_id_check(argv[1]) != 0) {
            return cli_usage_error("account show",
                                   "MEMBER '%s' is not 3-32 bytes of "
                                   "[a-z0-9-]",
                                   argv[1]);
        }
        get.member = argv[1];
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

int cli_cmd_account(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"show", account_show, "show a member's balance and status"},
    };

    return cli_dispatch(ctx, "account", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
