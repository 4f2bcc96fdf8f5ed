/* tdei member: the members, their governance proposals and votes, key
 * rotation and the governable params (the membership contract). */
#include "cli.h"

#include "api/client.h"
#include "contracts/contract.h"
#include "contracts/params.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/ids.h"
#include "core/keys.h"
#include "home.h"

#include <stdio.h>
#include <string.h>

static const char *const member_statuses[] = {"active", "suspended", "removed",
                                              NULL};
static const char *const propose_kinds[] = {"add",        "remove", "suspend",
                                            "key_change", "params", NULL};
static const char *const proposal_statuses[] = {"open", "passed", "failed",
                                                NULL};

#define HEX32 TDEI_HEX_SIZE(32)

/* ---- list and show ------------------------------------------------------- */

static json_t *member_json(const Tdei__Member *m)
{
    json_t *keys = json_array();

    for (size_t i = 0; keys != NULL && i < m->n_operator_keys; i++) {
        (void)json_array_append_new(
            keys,
            cli_json_hex(m->operator_keys[i].data, m->operator_keys[i].len));
    }
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:o*, s:o*, s:o*}", "id", m->id, "name",
        m->name, "role", cli_name(cli_roles, m->role), "status",
        cli_name(member_statuses, m->status), "validator", m->validator,
        "node_key", cli_json_hex(m->node_key.data, m->node_key.len),
        "encryption_key",
        cli_json_hex(m->encryption_key.data, m->encryption_key.len),
        "operator_keys", keys);
}

static int member_row(struct cli_rows *rows, const Tdei__Api__KeyValue *kv,
                      const ProtobufCMessage *record)
{
    const Tdei__Member *m = (const Tdei__Member *)record;

    (void)kv;
    if (rows->ctx->json) {
        (void)json_array_append_new(rows->array, member_json(m));
    } else {
        if (rows->count == 0) {
            printf("%-32s  %-14s  %-9s  %-9s  %s\n", "ID", "ROLE", "STATUS",
                   "VALIDATOR", "NAME");
        }
        printf("%-32s  %-14s  %-9s  %-9s  %s\n", m->id,
               cli_name(cli_roles, m->role),
               cli_name(member_statuses, m->status),
               m->validator ? "yes" : "no", m->name);
    }
    rows->count++;
    return CLI_EXIT_OK;
}

static int member_list(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "member list",
        .about = "List every member on the ledger (removed ones included): "
                 "id, role,\nstatus, whether it runs a validator, and its "
                 "name.",
    };
    struct cli_rows rows = {
        .ctx = ctx, .desc = &tdei__member__descriptor, .fn = member_row};
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    return cli_rows_list(&rows, CONTRACT_KEY_MEMBER, "members");
}

static int member_show(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "member show",
        .operands = "MEMBER",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Show MEMBER's record: name, role, status, validator, "
                 "node and\nencryption keys, and its operator keys.",
    };
    ProtobufCMessage *msg = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char what[64];
    char a[HEX32];
    char b[HEX32];
    const Tdei__Member *m;
    uint64_t height = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_member(spec.what, "MEMBER", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    (void)snprintf(what, sizeof(what), "member %s", argv[first]);
    rc = cli_object_get(ctx, key, contract_key_member(key, argv[first]), what,
                        &tdei__member__descriptor, &msg, &height);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    m = (const Tdei__Member *)msg;
    if (ctx->json) {
        json_t *out = member_json(m);
        (void)json_object_set_new(out, "height",
                                  json_integer((json_int_t)height));
        rc = cli_print_json(out);
    } else {
        printf("member          %s\nname            %s\nrole            %s\n"
               "status          %s\nvalidator       %s\nnode key        %s\n"
               "encryption key  %s\n",
               m->id, m->name, cli_name(cli_roles, m->role),
               cli_name(member_statuses, m->status),
               m->validator ? "yes" : "no", cli_hex(a, sizeof(a), &m->node_key),
               cli_hex(b, sizeof(b), &m->encryption_key));
        for (size_t i = 0; i < m->n_operator_keys; i++) {
            printf("operator key    %s\n",
                   cli_hex(a, sizeof(a), &m->operator_keys[i]));
        }
        printf("height          %llu\n", (unsigned long long)height);
    }
    codec_message_free(msg);
    return rc;
}

/* ---- propose ------------------------------------------------------------- */

/* Submit the member_propose @p; the tx id is the proposal id. */
static int propose_submit(const struct cli_ctx *ctx, const struct cli_tx *tx,
                          Tdei__MemberPropose *p)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;

    body.op_case = TDEI__TX_BODY__OP_MEMBER_PROPOSE;
    body.member_propose = p;
    return cli_tx_submit(ctx, tx, &body);
}

/* A secp256k1 key given as --@name: usage error unless it is valid. */
static int key_check(const char *what, const char *name,
                     const struct cli_hash *key)
{
    if (key->set && tdei_pubkey_check(key->bytes) != 0) {
        return cli_usage_error(what,
                               "--%s is not a valid x-only secp256k1 public "
                               "key",
                               name);
    }
    return CLI_EXIT_OK;
}

static void bytes_set(ProtobufCBinaryData *field, struct cli_hash *h)
{
    if (h->set) {
        field->data = h->bytes;
        field->len = sizeof(h->bytes);
    }
}

static int propose_add(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT("proposal");
    const char *member = NULL;
    const char *name = NULL;
    const char *from_home = NULL;
    uint32_t role = 0;
    struct cli_hash node_key = {0};
    struct cli_hash operator_key = {0};
    struct cli_hash encryption_key = {0};
    int validator = 0;
    const struct cli_opt opts[] = {
        {.name = "member",
         .type = CLI_OPT_TEXT,
         .dest = &member,
         .meta = "ID",
         .help = "the new member's id, 3-32 bytes of [a-z0-9-]"},
        {.name = "name",
         .type = CLI_OPT_TEXT,
         .dest = &name,
         .meta = "TEXT",
         .help = "its display name, 1-128 bytes (default: the id)"},
        {.name = "role",
         .type = CLI_OPT_CHOICE,
         .dest = &role,
         .meta = "ROLE",
         .help = "its role",
         .choices = cli_roles},
        {.name = "node-key",
         .type = CLI_OPT_HASH,
         .dest = &node_key,
         .meta = "HEX",
         .help = "its node key (x-only secp256k1, 64 hex digits)"},
        {.name = "operator-key",
         .type = CLI_OPT_HASH,
         .dest = &operator_key,
         .meta = "HEX",
         .help = "its first operator key (x-only secp256k1)"},
        {.name = "encryption-key",
         .type = CLI_OPT_HASH,
         .dest = &encryption_key,
         .meta = "HEX",
         .help = "its X25519 encryption key"},
        {.name = "validator",
         .type = CLI_OPT_FLAG,
         .dest = &validator,
         .help = "it runs a validator (never for an auditor)"},
        {.name = "from-home",
         .type = CLI_OPT_TEXT,
         .dest = &from_home,
         .meta = "DIR",
         .help = "take the id, role and keys not given from the home DIR"},
    };
    const struct cli_spec spec = {
        .what = "member propose add",
        .about = "Propose adding a member. The proposal passes when more "
                 "than 2/3 of\nthe voting members approve (the proposer "
                 "counts as approving);\nthe tx id is the proposal id.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__MemberPropose p = TDEI__MEMBER_PROPOSE__INIT;
    struct home_identity id;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    if (from_home != NULL) {
        rc = home_identity_load(from_home, &id, errmsg);
        if (rc != 0) {
            return cli_fail(rc, errmsg);
        }
        member = member != NULL ? member : id.member;
        role = role != 0 ? role : (uint32_t)id.role;
        if (!node_key.set) {
            memcpy(node_key.bytes, id.node_key, 32);
            node_key.set = 1;
        }
        if (!operator_key.set) {
            memcpy(operator_key.bytes, id.operator_key, 32);
            operator_key.set = 1;
        }
        if (!encryption_key.set) {
            memcpy(encryption_key.bytes, id.encryption_key, 32);
            encryption_key.set = 1;
        }
    }
    if (member == NULL || role == 0 || !node_key.set || !operator_key.set ||
        !encryption_key.set) {
        return cli_usage_error(spec.what,
                               "give --member, --role, --node-key, "
                               "--operator-key and --encryption-key, or "
                               "--from-home DIR");
    }
    rc = cli_arg_member(spec.what, "--member", member);
    if (rc == CLI_EXIT_OK) {
        rc = key_check(spec.what, "node-key", &node_key);
    }
    if (rc == CLI_EXIT_OK) {
        rc = key_check(spec.what, "operator-key", &operator_key);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    p.kind = CODEC_PROPOSE_ADD;
    p.member = (char *)(uintptr_t)member;
    p.name = (char *)(uintptr_t)(name != NULL ? name : member);
    p.role = role;
    bytes_set(&p.node_key, &node_key);
    bytes_set(&p.operator_key, &operator_key);
    bytes_set(&p.encryption_key, &encryption_key);
    p.validator = validator;
    return propose_submit(ctx, &tx, &p);
}

/* remove, suspend and key-change: the member as an operand or --member. */
static int propose_target(struct cli_ctx *ctx, int argc, char **argv,
                          uint32_t kind)
{
    struct cli_tx tx = CLI_TX_INIT("proposal");
    const char *member = NULL;
    struct cli_hash node_key = {0};
    struct cli_hash encryption_key = {0};
    const struct cli_opt opts[] = {
        {.name = "member",
         .type = CLI_OPT_TEXT,
         .dest = &member,
         .meta = "ID",
         .help = "the member concerned (or give it as MEMBER)"},
        {.name = "node-key",
         .type = CLI_OPT_HASH,
         .dest = &node_key,
         .meta = "HEX",
         .help = "its new node key (key-change; a validator's new key "
                 "votes from two blocks after the change passes)"},
        {.name = "encryption-key",
         .type = CLI_OPT_HASH,
         .dest = &encryption_key,
         .meta = "HEX",
         .help = "its new X25519 encryption key (key-change)"},
    };
    struct cli_spec spec = {
        .operands = "[MEMBER]",
        .operands_max = 1,
        .opts = opts,
        .opts_count = kind == CODEC_PROPOSE_KEY_CHANGE ? 3 : 1,
        .tx = &tx,
    };
    Tdei__MemberPropose p = TDEI__MEMBER_PROPOSE__INIT;
    int first;
    int rc;

    switch (kind) {
    case CODEC_PROPOSE_REMOVE:
        spec.what = "member propose remove";
        spec.about = "Propose removing MEMBER: it leaves the network; its "
                     "history stays.\nThe tx id is the proposal id.";
        break;
    case CODEC_PROPOSE_SUSPEND:
        spec.what = "member propose suspend";
        spec.about = "Propose suspending MEMBER: it is kept, but may sign "
                     "nothing.\nThe tx id is the proposal id.";
        break;
    default:
        spec.what = "member propose key-change";
        spec.about = "Propose new node and/or encryption keys for MEMBER "
                     "(give at least\none). The tx id is the proposal id.";
        break;
    }
    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    if (first < argc) {
        if (member != NULL && strcmp(member, argv[first]) != 0) {
            return cli_usage_error(spec.what,
                                   "MEMBER '%s' and --member '%s' differ; "
                                   "give one",
                                   argv[first], member);
        }
        member = argv[first];
    }
    if (member == NULL) {
        return cli_usage_error(spec.what, "give the MEMBER concerned");
    }
    rc = cli_arg_member(spec.what, "MEMBER", member);
    if (rc == CLI_EXIT_OK) {
        rc = key_check(spec.what, "node-key", &node_key);
    }
    if (rc == CLI_EXIT_OK && kind == CODEC_PROPOSE_KEY_CHANGE &&
        !node_key.set && !encryption_key.set) {
        rc = cli_usage_error(spec.what,
                             "give --node-key HEX, --encryption-key HEX or "
                             "both");
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    p.kind = kind;
    p.member = (char *)(uintptr_t)member;
    bytes_set(&p.node_key, &node_key);
    bytes_set(&p.encryption_key, &encryption_key);
    return propose_submit(ctx, &tx, &p);
}

static int propose_remove(struct cli_ctx *ctx, int argc, char **argv)
{
    return propose_target(ctx, argc, argv, CODEC_PROPOSE_REMOVE);
}

static int propose_suspend(struct cli_ctx *ctx, int argc, char **argv)
{
    return propose_target(ctx, argc, argv, CODEC_PROPOSE_SUSPEND);
}

static int propose_key_change(struct cli_ctx *ctx, int argc, char **argv)
{
    return propose_target(ctx, argc, argv, CODEC_PROPOSE_KEY_CHANGE);
}

static int propose_params(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT("proposal");
    const struct cli_spec spec = {
        .what = "member propose params",
        .operands = "NAME VALUE",
        .operands_min = 2,
        .operands_max = 2,
        .about = "Propose setting the governable param NAME to VALUE (a "
                 "whole number;\nbooleans are 0 or 1). `tdei member params` "
                 "lists every param with\nits range. The tx id is the "
                 "proposal id.",
        .tx = &tx,
    };
    Tdei__MemberPropose p = TDEI__MEMBER_PROPOSE__INIT;
    const struct params_def *def;
    uint64_t value;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    def = params_find(argv[first]);
    if (def == NULL) {
        return cli_usage_error(spec.what,
                               "no governable param is named '%s'; `tdei "
                               "member params` lists them",
                               argv[first]);
    }
    if (cli_parse_u64(argv[first + 1], &value) != 0) {
        return cli_usage_error(spec.what, "VALUE '%s' is not a whole number",
                               argv[first + 1]);
    }
    if (params_check_value(def, value) != 0) {
        return cli_usage_error(
            spec.what, "%s %llu is outside %llu-%llu%s (%s)", def->name,
            (unsigned long long)value, (unsigned long long)def->min,
            (unsigned long long)def->max,
            strstr(def->name, ".roles") != NULL ? ", an even mask" : "",
            def->help);
    }
    p.kind = CODEC_PROPOSE_PARAMS;
    p.param = (char *)(uintptr_t)def->name;
    p.value = value;
    return propose_submit(ctx, &tx, &p);
}

static int member_propose(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"add", propose_add, "propose adding a member"},
        {"remove", propose_remove, "propose removing a member"},
        {"suspend", propose_suspend, "propose suspending a member"},
        {"key-change", propose_key_change,
         "propose new node or encryption keys for a member"},
        {"params", propose_params, "propose a new value for a param"},
    };

    return cli_dispatch(ctx, "member propose", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}

/* ---- vote and proposals -------------------------------------------------- */

static int member_vote(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    int approve = 0;
    int reject = 0;
    const struct cli_opt opts[] = {
        {.name = "approve",
         .type = CLI_OPT_FLAG,
         .dest = &approve,
         .help = "approve the proposal"},
        {.name = "reject",
         .type = CLI_OPT_FLAG,
         .dest = &reject,
         .help = "reject the proposal"},
    };
    const struct cli_spec spec = {
        .what = "member vote",
        .operands = "PROPOSAL-ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Vote on the open member proposal PROPOSAL-ID (64 hex "
                 "digits): one vote\nper member. The vote that brings "
                 "approvals above 2/3 of the voting\nmembers applies the "
                 "proposal; at least 1/3 rejecting fails it.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__MemberVote vote = TDEI__MEMBER_VOTE__INIT;
    uint8_t id[CODEC_HASH_SIZE];
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_hash(spec.what, "PROPOSAL-ID", argv[first], id);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (approve == reject) {
        return cli_usage_error(spec.what, "give --approve or --reject");
    }
    vote.proposal.data = id;
    vote.proposal.len = sizeof(id);
    vote.approve = approve;
    body.op_case = TDEI__TX_BODY__OP_MEMBER_VOTE;
    body.member_vote = &vote;
    return cli_tx_submit(ctx, &tx, &body);
}

/* What a proposal asks for, in a few words ("params approve_ttl=100"). */
static const char *proposal_target(char *out, size_t size,
                                   const Tdei__MemberPropose *op)
{
    if (op->kind == CODEC_PROPOSE_PARAMS) {
        (void)snprintf(out, size, "%s=%llu", op->param,
                       (unsigned long long)op->value);
    } else {
        (void)snprintf(out, size, "%s", op->member);
    }
    return out;
}

/* The status name; an open proposal past its last voting height at
 * @height is "expired" (the contract checks expiry lazily, at a vote). */
static const char *proposal_status(const Tdei__MemberProposal *p,
                                   uint64_t height)
{
    if (p->status == CODEC_PROPOSAL_OPEN && height > p->expires_height) {
        return "expired";
    }
    return cli_name(proposal_statuses, p->status);
}

static json_t *strings_json(char **items, size_t n)
{
    json_t *array = json_array();

    for (size_t i = 0; array != NULL && i < n; i++) {
        (void)json_array_append_new(array, json_string(items[i]));
    }
    return array;
}

static json_t *proposal_json(const uint8_t *id, const Tdei__MemberProposal *p,
                             uint64_t height)
{
    const Tdei__MemberPropose *op = p->op;
    json_t *out = json_pack(
        "{s:o*, s:s, s:s, s:I, s:I, s:s, s:o*, s:o*}", "id",
        cli_json_hex(id, CODEC_HASH_SIZE), "kind",
        cli_name(propose_kinds, op->kind), "proposer", p->proposer, "height",
        (json_int_t)p->height, "expires_height", (json_int_t)p->expires_height,
        "status", proposal_status(p, height), "approvals",
        strings_json(p->approvals, p->n_approvals), "rejections",
        strings_json(p->rejections, p->n_rejections));

    if (out == NULL) {
        return NULL;
    }
    if (op->kind == CODEC_PROPOSE_PARAMS) {
        (void)json_object_set_new(out, "param", json_string(op->param));
        (void)json_object_set_new(out, "value",
                                  json_integer((json_int_t)op->value));
    } else {
        (void)json_object_set_new(out, "member", json_string(op->member));
    }
    if (op->kind == CODEC_PROPOSE_ADD) {
        (void)json_object_set_new(out, "name", json_string(op->name));
        (void)json_object_set_new(out, "role",
                                  json_string(cli_name(cli_roles, op->role)));
        (void)json_object_set_new(out, "validator",
                                  json_boolean(op->validator));
        (void)json_object_set_new(
            out, "operator_key",
            cli_json_hex(op->operator_key.data, op->operator_key.len));
    }
    if (op->node_key.len > 0) {
        (void)json_object_set_new(
            out, "node_key", cli_json_hex(op->node_key.data, op->node_key.len));
    }
    if (op->encryption_key.len > 0) {
        (void)json_object_set_new(
            out, "encryption_key",
            cli_json_hex(op->encryption_key.data, op->encryption_key.len));
    }
    return out;
}

static void names_print(const char *label, char **items, size_t n)
{
    printf("%-11s %zu", label, n);
    for (size_t i = 0; i < n; i++) {
        printf("%s%s", i == 0 ? ": " : ", ", items[i]);
    }
    printf("\n");
}

/* The voting members now (the "voters" record). */
static int voters_get(const struct cli_ctx *ctx, uint64_t *count)
{
    ProtobufCMessage *msg = NULL;
    int rc;

    rc = cli_object_get(ctx, (const uint8_t *)CONTRACT_KEY_VOTERS,
                        strlen(CONTRACT_KEY_VOTERS), "the voters record",
                        &tdei__voter_count__descriptor, &msg, NULL);
    if (rc == CLI_EXIT_OK) {
        *count = ((const Tdei__VoterCount *)msg)->count;
    }
    codec_message_free(msg);
    return rc;
}

static size_t proposal_key(uint8_t out[CONTRACT_KEY_SIZE_MAX],
                           const uint8_t id[CODEC_HASH_SIZE])
{
    size_t plen = strlen(CONTRACT_KEY_PROPOSAL);

    memcpy(out, CONTRACT_KEY_PROPOSAL, plen);
    memcpy(out + plen, id, CODEC_HASH_SIZE);
    return plen + CODEC_HASH_SIZE;
}

static int proposal_show(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "member proposal show",
        .operands = "PROPOSAL-ID",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Show the member proposal PROPOSAL-ID (64 hex digits): "
                 "what it asks,\nwho proposed it, its votes, its status and "
                 "its last voting height.",
    };
    ProtobufCMessage *msg = NULL;
    uint8_t id[CODEC_HASH_SIZE];
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char what[96];
    char target[96];
    char hex[HEX32];
    const Tdei__MemberProposal *p;
    uint64_t height = 0;
    uint64_t voters = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_hash(spec.what, "PROPOSAL-ID", argv[first], id);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    (void)snprintf(what, sizeof(what), "member proposal %s", argv[first]);
    rc = cli_object_get(ctx, key, proposal_key(key, id), what,
                        &tdei__member_proposal__descriptor, &msg, &height);
    if (rc == CLI_EXIT_OK) {
        rc = voters_get(ctx, &voters);
    }
    if (rc != CLI_EXIT_OK) {
        codec_message_free(msg);
        return rc;
    }
    p = (const Tdei__MemberProposal *)msg;
    if (ctx->json) {
        json_t *out = proposal_json(id, p, height);
        (void)json_object_set_new(out, "voters",
                                  json_integer((json_int_t)voters));
        (void)json_object_set_new(out, "read_height",
                                  json_integer((json_int_t)height));
        rc = cli_print_json(out);
    } else {
        printf("proposal    %s\nkind        %s\n",
               tdei_hex_encode(hex, sizeof(hex), id, sizeof(id)),
               cli_name(propose_kinds, p->op->kind));
        printf("%-11s %s\n",
               p->op->kind == CODEC_PROPOSE_PARAMS ? "param" : "member",
               proposal_target(target, sizeof(target), p->op));
        if (p->op->kind == CODEC_PROPOSE_ADD) {
            printf("name        %s\nrole        %s\nvalidator   %s\n",
                   p->op->name, cli_name(cli_roles, p->op->role),
                   p->op->validator ? "yes" : "no");
        }
        if (p->op->node_key.len > 0) {
            printf("node key    %s\n",
                   cli_hex(hex, sizeof(hex), &p->op->node_key));
        }
        if (p->op->operator_key.len > 0) {
            printf("op key      %s\n",
                   cli_hex(hex, sizeof(hex), &p->op->operator_key));
        }
        if (p->op->encryption_key.len > 0) {
            printf("enc key     %s\n",
                   cli_hex(hex, sizeof(hex), &p->op->encryption_key));
        }
        printf("proposer    %s\nheight      %llu\nexpires     %llu (last "
               "height a vote counts)\nstatus      %s\n",
               p->proposer, (unsigned long long)p->height,
               (unsigned long long)p->expires_height,
               proposal_status(p, height));
        names_print("approvals", p->approvals, p->n_approvals);
        names_print("rejections", p->rejections, p->n_rejections);
        printf("voters      %llu now: passes at %llu approvals, fails at "
               "%llu rejections\nread at     height %llu\n",
               (unsigned long long)voters,
               (unsigned long long)(voters * 2 / 3 + 1),
               (unsigned long long)((voters + 2) / 3),
               (unsigned long long)height);
    }
    codec_message_free(msg);
    return rc;
}

static int proposal_row(struct cli_rows *rows, const Tdei__Api__KeyValue *kv,
                        const ProtobufCMessage *record)
{
    const Tdei__MemberProposal *p = (const Tdei__MemberProposal *)record;
    const uint64_t *now = rows->arg;
    size_t plen = strlen(CONTRACT_KEY_PROPOSAL);
    char target[96];
    char hex[HEX32];

    if (kv->key.len != plen + CODEC_HASH_SIZE) {
        return CLI_EXIT_OK; /* not a proposal key */
    }
    if (rows->ctx->json) {
        (void)json_array_append_new(
            rows->array, proposal_json(kv->key.data + plen, p, *now));
    } else {
        if (rows->count == 0) {
            printf("%-64s  %-10s  %-24s  %-8s  %3s  %3s  %s\n", "ID", "KIND",
                   "TARGET", "STATUS", "YES", "NO", "EXPIRES");
        }
        printf("%-64s  %-10s  %-24s  %-8s  %3zu  %3zu  %llu\n",
               tdei_hex_encode(hex, sizeof(hex), kv->key.data + plen,
                               CODEC_HASH_SIZE),
               cli_name(propose_kinds, p->op->kind),
               proposal_target(target, sizeof(target), p->op),
               proposal_status(p, *now), p->n_approvals, p->n_rejections,
               (unsigned long long)p->expires_height);
    }
    rows->count++;
    return CLI_EXIT_OK;
}

static int proposal_list(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "member proposal list",
        .about = "List every member proposal, open or decided, in id "
                 "order.",
    };
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    uint64_t now = 0;
    struct cli_rows rows = {.ctx = ctx,
                            .desc = &tdei__member_proposal__descriptor,
                            .fn = proposal_row,
                            .arg = &now};
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    /* The height tells an open proposal from an expired one. */
    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    now = resp->status->height;
    api_client_response_free(resp);
    return cli_rows_list(&rows, CONTRACT_KEY_PROPOSAL, "proposals");
}

static int member_proposal(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"show", proposal_show, "show a proposal: votes, status, expiry"},
        {"list", proposal_list, "list every proposal"},
    };

    return cli_dispatch(ctx, "member proposal", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}

/* ---- keys and params ----------------------------------------------------- */

static int member_rotate_key(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_tx tx = CLI_TX_INIT(NULL);
    struct cli_hash add = {0};
    struct cli_hash remove = {0};
    const struct cli_opt opts[] = {
        {.name = "add",
         .type = CLI_OPT_HASH,
         .dest = &add,
         .meta = "KEYHEX",
         .help = "an operator key to add (x-only secp256k1)"},
        {.name = "remove",
         .type = CLI_OPT_HASH,
         .dest = &remove,
         .meta = "KEYHEX",
         .help = "an operator key to remove (not the one that signs)"},
    };
    const struct cli_spec spec = {
        .what = "member rotate-key",
        .about = "Add and/or remove an operator key of this home's member, "
                 "without a\nvote. The tx is signed with the home's "
                 "operator key, which cannot\nremove itself; a member keeps "
                 "1-8 keys. Create a key with\n`tdei keys new --out FILE`.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
        .tx = &tx,
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__OperatorKeyRotate rotate = TDEI__OPERATOR_KEY_ROTATE__INIT;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    if (!add.set && !remove.set) {
        return cli_usage_error(spec.what,
                               "give --add KEYHEX, --remove KEYHEX or both");
    }
    if (add.set && remove.set && memcmp(add.bytes, remove.bytes, 32) == 0) {
        return cli_usage_error(spec.what,
                               "--add and --remove name the same key");
    }
    rc = key_check(spec.what, "add", &add);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    bytes_set(&rotate.add_key, &add);
    bytes_set(&rotate.remove_key, &remove);
    body.op_case = TDEI__TX_BODY__OP_OPERATOR_KEY_ROTATE;
    body.operator_key_rotate = &rotate;
    return cli_tx_submit(ctx, &tx, &body);
}

static int member_params(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "member params",
        .about = "Show every governable param (contracts/params.h) with "
                 "its current\nvalue on the ledger, its range and what it "
                 "means. Change one with\n`tdei member propose params NAME "
                 "VALUE`.",
    };
    ProtobufCMessage *msg = NULL;
    const Tdei__Params *params;
    json_t *array = NULL;
    uint64_t height = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_object_get(ctx, (const uint8_t *)CONTRACT_KEY_PARAMS,
                        strlen(CONTRACT_KEY_PARAMS), "the params record",
                        &tdei__params__descriptor, &msg, &height);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    params = (const Tdei__Params *)msg;
    if (params->n_levels != PARAMS_LEVELS) {
        codec_message_free(msg);
        return cli_fail(TDEI_CORRUPT, "the params record does not hold "
                                      "three level policies");
    }
    if (ctx->json) {
        array = json_array();
    } else {
        printf("%-20s  %-8s  %-14s  %s\n", "NAME", "VALUE", "RANGE", "HELP");
    }
    for (size_t i = 0; i < params_count(); i++) {
        const struct params_def *def = params_at(i);
        uint64_t value = params_get(params, def);
        if (ctx->json) {
            (void)json_array_append_new(
                array,
                json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "name", def->name,
                          "value", (json_int_t)value, "min",
                          (json_int_t)def->min, "max", (json_int_t)def->max,
                          "default", (json_int_t)def->def, "help", def->help));
        } else {
            char range[48];
            (void)snprintf(range, sizeof(range), "%llu-%llu",
                           (unsigned long long)def->min,
                           (unsigned long long)def->max);
            printf("%-20s  %-8llu  %-14s  %s\n", def->name,
                   (unsigned long long)value, range, def->help);
        }
    }
    codec_message_free(msg);
    if (ctx->json) {
        return cli_print_json(json_pack("{s:I, s:o}", "height",
                                        (json_int_t)height, "params", array));
    }
    printf("read at height %llu\n", (unsigned long long)height);
    return CLI_EXIT_OK;
}

int cli_cmd_member(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"list", member_list, "list every member"},
        {"show", member_show, "show a member's record and keys"},
        {"propose", member_propose,
         "propose add, remove, suspend, key-change or params"},
        {"vote", member_vote, "approve or reject an open proposal"},
        {"proposal", member_proposal, "show or list proposals"},
        {"rotate-key", member_rotate_key,
         "add or remove an operator key of this member"},
        {"params", member_params, "show the governable params"},
    };

    return cli_dispatch(ctx, "member", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
