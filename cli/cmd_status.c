/* tdei status: the node's chain, height, mempool, peers and data-plane
 * counters. */
#include "cli.h"

#include "api/client.h"
#include "core/error.h"
#include "core/hex.h"

#include <stdio.h>
#include <string.h>

/* The peers as a JSON array. */
static json_t *status_peers_json(const Tdei__Api__Status *st)
{
    json_t *arr = json_array();
    char key[TDEI_HEX_SIZE(32)];

    for (size_t i = 0; arr != NULL && i < st->n_peer_info; i++) {
        const Tdei__Api__PeerInfo *p = st->peer_info[i];
        (void)tdei_hex_encode(key, sizeof(key), p->node_key.data,
                              p->node_key.len == 32 ? 32 : 0);
        (void)json_array_append_new(
            arr, json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, "
                           "s:I, s:I}",
                           "node_key", key, "address", p->address,
                           "outbound", p->outbound, "connected_for_ms",
                           (json_int_t)p->connected_for_ms, "height",
                           (json_int_t)p->height, "frames_in",
                           (json_int_t)p->frames_in, "frames_out",
                           (json_int_t)p->frames_out, "bytes_in",
                           (json_int_t)p->bytes_in, "bytes_out",
                           (json_int_t)p->bytes_out, "dropped",
                           (json_int_t)p->dropped, "queued_bytes",
                           (json_int_t)p->queued_bytes));
    }
    return arr;
}

/* The peer manager's counters as JSON (zeros without a network). */
static json_t *status_counters_json(const Tdei__Api__PeerCounters *c)
{
    Tdei__Api__PeerCounters zero = TDEI__API__PEER_COUNTERS__INIT;

    if (c == NULL) {
        c = &zero;
    }
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "accepted", (json_int_t)c->accepted, "dialled",
                     (json_int_t)c->dialled, "handshakes_ok",
                     (json_int_t)c->handshakes_ok, "handshakes_failed",
                     (json_int_t)c->handshakes_failed, "frames_bad",
                     (json_int_t)c->frames_bad, "messages_refused",
                     (json_int_t)c->messages_refused, "dropped",
                     (json_int_t)c->dropped, "banned_now",
                     (json_int_t)c->banned_now, "connecting_now",
                     (json_int_t)c->connecting_now);
}

/* The data-plane counters (Status.data_plane; zeros when the node sent
 * none), in field order. */
struct status_counter
{
    const char *name;
    uint64_t value;
};

#define STATUS_DP_FIELDS 15u

static void status_dp_fields(const Tdei__Api__DataPlaneCounters *counters,
                             struct status_counter out[STATUS_DP_FIELDS])
{
    Tdei__Api__DataPlaneCounters zero = TDEI__API__DATA_PLANE_COUNTERS__INIT;
    const Tdei__Api__DataPlaneCounters *c =
        counters != NULL ? counters : &zero;
    const struct status_counter fields[STATUS_DP_FIELDS] = {
        {"chunks_served", c->chunks_served},
        {"chunks_refused", c->chunks_refused},
        {"chunks_fetched", c->chunks_fetched},
        {"chunks_bad", c->chunks_bad},
        {"bytes_served", c->bytes_served},
        {"bytes_fetched", c->bytes_fetched},
        {"deliveries", c->deliveries},
        {"records_ingested", c->records_ingested},
        {"records_appended", c->records_appended},
        {"records_refused", c->records_refused},
        {"batches_appended", c->batches_appended},
        {"batches_refused", c->batches_refused},
        {"batches_pushed", c->batches_pushed},
        {"records_received", c->records_received},
        {"batches_bad", c->batches_bad},
    };

    memcpy(out, fields, sizeof(fields));
}

static json_t *status_dp_json(const Tdei__Api__DataPlaneCounters *c)
{
    struct status_counter f[STATUS_DP_FIELDS];
    json_t *obj = json_object();

    status_dp_fields(c, f);
    for (size_t i = 0; obj != NULL && i < STATUS_DP_FIELDS; i++) {
        (void)json_object_set_new(obj, f[i].name,
                                  json_integer((json_int_t)f[i].value));
    }
    return obj;
}

static void status_dp_print(const Tdei__Api__DataPlaneCounters *c)
{
    struct status_counter f[STATUS_DP_FIELDS];

    status_dp_fields(c, f);
    printf("data plane     chunks served %llu (%llu bytes), refused %llu; fetched "
           "%llu (%llu bytes), bad %llu; deliveries %llu\n",
           (unsigned long long)f[0].value, (unsigned long long)f[4].value,
           (unsigned long long)f[1].value, (unsigned long long)f[2].value,
           (unsigned long long)f[5].value, (unsigned long long)f[3].value,
           (unsigned long long)f[6].value);
    printf("streams        records ingested %llu, appended %llu, refused %llu; "
           "batches appended %llu, refused %llu, pushed %llu; received %llu "
           "records, %llu bad batches\n",
           (unsigned long long)f[7].value, (unsigned long long)f[8].value,
           (unsigned long long)f[9].value, (unsigned long long)f[10].value,
           (unsigned long long)f[11].value, (unsigned long long)f[12].value,
           (unsigned long long)f[13].value, (unsigned long long)f[14].value);
}

static void status_peers_print(const Tdei__Api__Status *st)
{
    char key[TDEI_HEX_SIZE(32)];

    for (size_t i = 0; i < st->n_peer_info; i++) {
        const Tdei__Api__PeerInfo *p = st->peer_info[i];
        (void)tdei_hex_encode(key, sizeof(key), p->node_key.data,
                              p->node_key.len == 32 ? 16 : 0);
        printf("peer           %s %s %s height %llu, %llu s, "
               "%llu/%llu frames in/out, %llu dropped\n",
               key, p->address, p->outbound ? "out" : "in",
               (unsigned long long)p->height,
               (unsigned long long)(p->connected_for_ms / 1000u),
               (unsigned long long)p->frames_in,
               (unsigned long long)p->frames_out,
               (unsigned long long)p->dropped);
    }
}

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
               "Show the node's chain id, height, app hash, mempool, peers "
               "and\ndata-plane counters (payload chunks, deliveries, "
               "stream records and\nbatches, since the node started).\n");
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
            "{s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:b, s:b, s:I, "
            "s:s, s:o, s:o, s:o}",
            "chain_id", st->chain_id, "height", (json_int_t)st->height,
            "app_hash", app, "last_block_id", last, "time_ms",
            (json_int_t)st->time_ms, "member", st->member, "node_key", node,
            "mempool_txs", (json_int_t)st->mempool_txs, "mempool_bytes",
            (json_int_t)st->mempool_bytes, "validator", st->validator,
            "observer", st->observer, "peers", (json_int_t)st->peers,
            "version", st->version,
            "peer_info", status_peers_json(st), "peer_counters",
            status_counters_json(st->peer_counters), "data_plane",
            status_dp_json(st->data_plane)));
    } else {
        printf("chain id       %s\nheight         %llu\napp hash       %s\n"
               "last block id  %s\ntime ms        %llu\nmember         %s\n"
               "node key       %s\nmempool        %llu txs, %llu bytes\n"
               "validator      %s\nobserver       %s\npeers          %u\n"
               "version        %s\n",
               st->chain_id, (unsigned long long)st->height, app, last,
               (unsigned long long)st->time_ms, st->member, node,
               (unsigned long long)st->mempool_txs,
               (unsigned long long)st->mempool_bytes,
               st->validator ? "yes" : "no", st->observer ? "yes" : "no",
               st->peers, st->version);
        status_peers_print(st);
        status_dp_print(st->data_plane);
    }
    api_client_response_free(resp);
    return rc;
}
