/* tdei stream: open a stream entry, append batches of records, close it
 * (the stream contract), and show its append state; and the data plane of
 * streams (DESIGN.md section 9): push records into the owner's node,
 * subscribe (request with a prepaid budget, wait for the delivery), follow
 * and read records back, and show a node's stream state. */
#include "cli.h"

#include "api/client.h"
#include "config.h"
#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/hex.h"
#include "home.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* ---- the data plane of streams ------------------------------------------ */

#define PUSH_BATCH_DEFAULT 1000u /* records per IngestRecords */
#define PUSH_BATCH_MAX 10000u    /* the node's limit per request */
/* A record read is sent this long after it was read, at the latest. */
#define PUSH_FLUSH_MS 20u
#define PUSH_BUSY_MS 50u              /* a TDEI_BUSY is retried after */
#define PUSH_BUSY_TRIES 12000u        /* ... at most this often (10 min) */
#define PUSH_LINE_MAX (1024u * 1024u) /* stream.record_max at most */
#define READ_PAGE_MAX 10000u          /* records of one ReadStream */
#define READ_LIMIT_DEFAULT 1000u
#define TAIL_WAIT_MS 1000u /* one ReadStream waits at most */
#define SUBSCRIBE_POLL_MS 200u
#define SUBSCRIBE_TIMEOUT_S 120u
#define TX_NONCE_TRIES 16u

/* Lines of a file or a pipe, with a bound on how long to wait for one. */
struct line_reader
{
    int fd;
    uint8_t *buf;
    size_t cap;   /* bytes of @buf */
    size_t start; /* the next line begins here */
    size_t len;   /* bytes read into @buf */
    int eof;
};

enum line_status {
    LINE_OK = 1,      /* a line */
    LINE_EOF = 0,     /* no more input */
    LINE_WAIT = -1,   /* no whole line within the timeout */
    LINE_ERROR = -2,  /* a read failed (errno) */
    LINE_TOOLONG = -3 /* a line longer than PUSH_LINE_MAX */
};

/* The next line (without its "\n" or "\r\n") in *@line, *@n bytes, valid
 * until the next call; waits at most @timeout_ms for input (-1: as long as
 * it takes). A last line without a newline counts. */
static enum line_status line_next(struct line_reader *lr, int timeout_ms,
                                  uint8_t **line, size_t *n)
{
    for (;;) {
        uint8_t *nl = memchr(lr->buf + lr->start, '\n', lr->len - lr->start);
        struct pollfd pfd = {.fd = lr->fd, .events = POLLIN};
        ssize_t got;
        int ready;

        if (nl != NULL || (lr->eof && lr->len > lr->start)) {
            size_t end = nl != NULL ? (size_t)(nl - lr->buf) : lr->len;
            *line = lr->buf + lr->start;
            *n = end - lr->start;
            lr->start = nl != NULL ? end + 1 : end;
            if (*n > 0 && (*line)[*n - 1] == '\r') {
                (*n)--;
            }
            return *n > PUSH_LINE_MAX ? LINE_TOOLONG : LINE_OK;
        }
        if (lr->eof) {
            return LINE_EOF;
        }
        if (lr->start > 0) {
            memmove(lr->buf, lr->buf + lr->start, lr->len - lr->start);
            lr->len -= lr->start;
            lr->start = 0;
        }
        if (lr->len == lr->cap) {
            return LINE_TOOLONG;
        }
        ready = poll(&pfd, 1, timeout_ms);
        if (ready == 0) {
            return LINE_WAIT;
        }
        if (ready < 0 && errno != EINTR) {
            return LINE_ERROR;
        }
        if (ready < 0) {
            continue;
        }
        got = read(lr->fd, lr->buf + lr->len, lr->cap - lr->len);
        if (got < 0 && errno != EINTR && errno != EAGAIN) {
            return LINE_ERROR;
        }
        if (got == 0) {
            lr->eof = 1;
        } else if (got > 0) {
            lr->len += (size_t)got;
        }
    }
}

/* The records read and not yet sent. */
struct push_batch
{
    Tdei__Api__IngestRecord *recs;  /* PUSH_BATCH_MAX */
    Tdei__Api__IngestRecord **ptrs; /* into @recs */
    uint8_t *bytes;                 /* their data, back to back */
    size_t bytes_cap;
    size_t bytes_len;
    size_t n;
    uint64_t first_line; /* the input line of recs[0] */
    uint64_t first_ms;   /* stream_mono_ms when recs[0] was read */
};

static void push_batch_free(struct push_batch *b)
{
    tdei_free(b->recs);
    tdei_free(b->ptrs);
    tdei_free(b->bytes);
}

/* Keep @line as a record of @ts. */
static int push_batch_add(struct push_batch *b, const uint8_t *line, size_t n,
                          uint64_t ts, uint64_t line_no)
{
    if (b->bytes_len + n > b->bytes_cap) {
        size_t cap = b->bytes_cap * 2;
        uint8_t *bytes;

        while (cap < b->bytes_len + n) {
            cap *= 2;
        }
        bytes = tdei_malloc(cap);
        if (bytes == NULL) {
            return TDEI_NOMEM;
        }
        memcpy(bytes, b->bytes, b->bytes_len);
        tdei_free(b->bytes);
        b->bytes = bytes;
        b->bytes_cap = cap;
    }
    memcpy(b->bytes + b->bytes_len, line, n);
    tdei__api__ingest_record__init(&b->recs[b->n]);
    b->recs[b->n].ts_ms = ts;
    /* An offset for now: the buffer may move until the batch is sent. */
    b->recs[b->n].data.data = (uint8_t *)(uintptr_t)b->bytes_len;
    b->recs[b->n].data.len = n;
    b->bytes_len += n;
    if (b->n == 0) {
        b->first_line = line_no;
        b->first_ms = cli_mono_ms();
    }
    b->n++;
    return 0;
}

/* Send the records of @b to the node (TDEI_BUSY: again after a pause).
 * Returns an exit code; *@sent grows by what the node took. */
static int push_send(struct api_client *client, const char *stream,
                     struct push_batch *b, uint64_t *sent)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__IngestRecords in = TDEI__API__INGEST_RECORDS__INIT;
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc = 0;

    if (b->n == 0) {
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < b->n; i++) {
        b->recs[i].data.data = b->bytes + (uintptr_t)b->recs[i].data.data;
        b->ptrs[i] = &b->recs[i];
    }
    in.stream = (char *)(uintptr_t)stream;
    in.records = b->ptrs;
    in.n_records = b->n;
    req.req_case = TDEI__API__REQUEST__REQ_INGEST;
    req.ingest = &in;
    for (unsigned tries = 0;; tries++) {
        req.id = 0;
        rc = api_client_call(client, &req, &resp, errmsg);
        if (rc != 0) {
            return cli_fail(rc, errmsg);
        }
        if (resp->code != TDEI_BUSY || tries + 1 >= PUSH_BUSY_TRIES) {
            break;
        }
        api_client_response_free(resp);
        resp = NULL;
        cli_sleep_ms(PUSH_BUSY_MS);
    }
    if (resp->code != 0) {
        rc = cli_error("the node refused lines %" PRIu64 "-%" PRIu64
                       " (record i of its message is line %" PRIu64
                       " + i): %s (%s); lines before %" PRIu64 " were sent",
                       b->first_line, b->first_line + b->n - 1, b->first_line,
                       resp->error, tdei_errname((int)resp->code),
                       b->first_line);
        api_client_response_free(resp);
        return rc;
    }
    *sent += resp->ingest->accepted;
    api_client_response_free(resp);
    b->n = 0;
    b->bytes_len = 0;
    return CLI_EXIT_OK;
}

/* The source time of @line: the numeric "ts" member of a JSON object
 * line (not with @raw; *@given 1), else @now (*@given 0). Returns 0, or
 * -1 when the line is a JSON object whose "ts" is not a positive integer
 * (*@why says so). */
static int push_line_ts(const uint8_t *line, size_t n, int raw, uint64_t now,
                        uint64_t *ts, int *given, const char **why)
{
    json_error_t jerr;
    json_t *obj;
    json_t *member;
    size_t i = 0;

    *ts = now;
    *given = 0;
    while (i < n && (line[i] == ' ' || line[i] == '\t')) {
        i++;
    }
    if (raw || i == n || line[i] != '{') {
        return 0;
    }
    obj = json_loadb((const char *)line, n, 0, &jerr);
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        return 0; /* not a JSON object: a raw line */
    }
    member = json_object_get(obj, "ts");
    if (member != NULL) {
        if (!json_is_integer(member) || json_integer_value(member) < 1) {
            *why = "its \"ts\" member is not a positive integer (Unix ms)";
            json_decref(obj);
            return -1;
        }
        *ts = (uint64_t)json_integer_value(member);
        *given = 1;
    }
    json_decref(obj);
    return 0;
}

static int stream_push(struct cli_ctx *ctx, int argc, char **argv)
{
    int raw = 0;
    uint64_t batch_max = PUSH_BATCH_DEFAULT;
    const struct cli_opt opts[] = {
        {.name = "raw",
         .type = CLI_OPT_FLAG,
         .dest = &raw,
         .help = "every line is a raw record timed when read (no \"ts\" "
                 "member is looked for)"},
        {.name = "batch",
         .type = CLI_OPT_U64,
         .dest = &batch_max,
         .meta = "N",
         .help = "records per request to the node, 1-10000 (default 1000)",
         .min = 1,
         .max = PUSH_BATCH_MAX},
    };
    const struct cli_spec spec = {
        .what = "stream push",
        .operands = "STREAM [FILE|-]",
        .operands_min = 1,
        .operands_max = 2,
        .about = "Send records to this member's node for its open stream "
                 "STREAM: one\nrecord per line of FILE (or standard input: "
                 "- or none). A line that is\na JSON object with a numeric "
                 "\"ts\" member (Unix ms) has that source\ntime; other lines "
                 "(every line with --raw) are timed when read. Times\nmust "
                 "not go backwards. Records go out in requests of up to "
                 "--batch\nrecords, each at most 20 ms after it was read; a "
                 "busy node is asked\nagain. A bad line (empty, too long, a "
                 "bad \"ts\", a time going\nbackwards) stops the push: lines "
                 "before it are sent, nothing after\nit. Prints the records "
                 "sent.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct line_reader lr = {.fd = STDIN_FILENO};
    struct push_batch b = {0};
    struct api_client client = {.fd = -1};
    const char *path = "-";
    uint64_t line_no = 0;
    uint64_t sent = 0;
    uint64_t last_ts = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "STREAM", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (first + 1 < argc) {
        path = argv[first + 1];
    }
    if (strcmp(path, "-") != 0) {
        lr.fd = open(path, O_RDONLY | O_CLOEXEC);
        if (lr.fd < 0) {
            return cli_error("cannot open %s: %s; give a readable file or - "
                             "for standard input",
                             path, strerror(errno));
        }
    }
    lr.cap = PUSH_LINE_MAX + 64u * 1024u;
    lr.buf = tdei_malloc(lr.cap);
    b.recs = tdei_calloc(PUSH_BATCH_MAX, sizeof(*b.recs));
    b.ptrs = tdei_calloc(PUSH_BATCH_MAX, sizeof(*b.ptrs));
    b.bytes_cap = 64u * 1024u;
    b.bytes = tdei_malloc(b.bytes_cap);
    if (lr.buf == NULL || b.recs == NULL || b.ptrs == NULL || b.bytes == NULL) {
        rc = cli_fail(TDEI_NOMEM, NULL);
        goto out;
    }
    rc = cli_connect(ctx, &client, API_CLIENT_TIMEOUT_MS);
    while (rc == CLI_EXIT_OK) {
        uint8_t *line = NULL;
        size_t n = 0;
        uint64_t ts = last_ts;
        int given = 0;
        const char *why = NULL;
        int wait = -1;
        enum line_status ls;

        if (b.n > 0) {
            uint64_t age = cli_mono_ms() - b.first_ms;
            if (age >= PUSH_FLUSH_MS) {
                rc = push_send(&client, argv[first], &b, &sent);
                continue;
            }
            wait = (int)(PUSH_FLUSH_MS - age);
        }
        ls = line_next(&lr, wait, &line, &n);
        if (ls == LINE_WAIT) {
            rc = push_send(&client, argv[first], &b, &sent);
            continue;
        }
        if (ls == LINE_EOF) {
            break;
        }
        line_no++;
        if (ls == LINE_ERROR) {
            why = strerror(errno);
        } else if (ls == LINE_TOOLONG) {
            why = "it is longer than 1 MiB, the largest record";
        } else if (n == 0) {
            why = "it is empty; a record has at least one byte";
        } else if (push_line_ts(line, n, raw, cli_wall_ms(), &ts, &given,
                                &why) == 0) {
            if (ts < last_ts && given) {
                why = "its \"ts\" is before the line before it; times must "
                      "not go backwards";
            } else if (ts < last_ts) {
                ts = last_ts; /* a line timed when read never goes back */
            }
        }
        if (why != NULL) {
            int sent_rc = push_send(&client, argv[first], &b, &sent);
            rc = sent_rc != CLI_EXIT_OK
                     ? sent_rc
                     : cli_error("line %" PRIu64 " of %s: %s; %" PRIu64
                                 " records before it were sent, nothing "
                                 "after it",
                                 line_no, path, why, sent);
            break;
        }
        last_ts = ts;
        if (push_batch_add(&b, line, n, ts, line_no) != 0) {
            rc = cli_fail(TDEI_NOMEM, NULL);
            break;
        }
        if (b.n >= batch_max) {
            rc = push_send(&client, argv[first], &b, &sent);
        }
    }
    if (rc == CLI_EXIT_OK) {
        rc = push_send(&client, argv[first], &b, &sent);
    }
    if (rc == CLI_EXIT_OK) {
        if (ctx->json) {
            rc = cli_print_json(
                json_pack("{s:s, s:I, s:I}", "stream", argv[first], "records",
                          (json_int_t)sent, "lines", (json_int_t)line_no));
        } else {
            printf("records sent  %" PRIu64 "\n", sent);
        }
    }
out:
    api_client_close(&client);
    if (lr.fd != STDIN_FILENO && lr.fd >= 0) {
        (void)close(lr.fd);
    }
    tdei_free(lr.buf);
    push_batch_free(&b);
    return rc;
}

/* ---- subscribe --------------------------------------------------------- */

/* Sign @body with the home's operator key, submit it and wait for its
 * commit; a refusal by the ledger is an error naming @what. *@tx_id gets
 * the tx id. Returns an exit code. */
static int stream_tx(const struct cli_ctx *ctx, const char *passphrase_file,
                     Tdei__TxBody *body, const char *what,
                     uint8_t tx_id[CODEC_HASH_SIZE])
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SubmitTx submit = TDEI__API__SUBMIT_TX__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    Tdei__TxResult *result = NULL;
    ProtobufCMessage *opkey = NULL;
    struct tdei_keypair kp;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char chain_id[TDEI_CHAIN_ID_MAX + 1] = "";
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint8_t *tx_bytes = NULL;
    size_t tx_len = 0;
    uint64_t nonce = 0;
    int rc = cli_operator_key(ctx, passphrase_file, &kp);

    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc == CLI_EXIT_OK) {
        (void)snprintf(chain_id, sizeof(chain_id), "%s",
                       resp->status->chain_id);
        api_client_response_free(resp);
        resp = NULL;
        rc = cli_object_get(ctx, key, contract_key_opkey(key, kp.pubkey),
                            "this home's operator key",
                            &tdei__operator_key__descriptor, &opkey, NULL);
    }
    if (rc == CLI_EXIT_OK) {
        nonce = ((const Tdei__OperatorKey *)opkey)->nonce + 1;
    }
    codec_message_free(opkey);
    body->version = CODEC_VERSION;
    body->chain_id = chain_id;
    body->signer.data = kp.pubkey;
    body->signer.len = TDEI_PUBKEY_SIZE;
    submit.wait = 1;
    submit.timeout_ms = 30000;
    req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
    req.submit = &submit;
    /* A nonce another client of this key holds (the node's own appends
     * and deliveries sign with it too) is passed over for the next. */
    for (unsigned tries = 0; rc == CLI_EXIT_OK; tries++) {
        body->nonce = nonce;
        rc = cli_tx_sign(&kp, body, &tx_bytes, &tx_len);
        if (rc != CLI_EXIT_OK) {
            break;
        }
        submit.tx.data = tx_bytes;
        submit.tx.len = tx_len;
        req.id = 0;
        {
            struct api_client client = {.fd = -1};
            rc = cli_connect(ctx, &client, API_CLIENT_TIMEOUT_MS + 30000);
            if (rc == CLI_EXIT_OK) {
                int crc = api_client_call(&client, &req, &resp, errmsg);
                rc = crc == 0 ? CLI_EXIT_OK : cli_fail(crc, errmsg);
            }
            api_client_close(&client);
        }
        tdei_free(tx_bytes);
        tx_bytes = NULL;
        if (rc != CLI_EXIT_OK) {
            break;
        }
        if (resp->code == TDEI_NONCE_TAKEN && tries + 1 < TX_NONCE_TRIES) {
            api_client_response_free(resp);
            resp = NULL;
            nonce++;
            continue;
        }
        if (resp->code != 0) {
            rc = cli_fail((int)resp->code, resp->error);
        }
        break;
    }
    body->chain_id = NULL;
    body->signer.data = NULL;
    body->signer.len = 0;
    tdei_keypair_wipe(&kp);
    if (rc == CLI_EXIT_OK) {
        memcpy(tx_id, resp->submit->tx_id.data, CODEC_HASH_SIZE);
        rc = codec_txresult_decode(&result, resp->submit->result.data,
                                   resp->submit->result.len, errmsg);
        rc = rc == 0 ? CLI_EXIT_OK : cli_fail(rc, errmsg);
    }
    if (rc == CLI_EXIT_OK && result->code != 0) {
        rc = cli_error("the ledger refused the %s: %s (%s)", what, result->log,
                       tdei_errname((int)result->code));
    }
    codec_txresult_free(result);
    api_client_response_free(resp);
    return rc;
}

/* Wait until exchange @xid is delivered or settled; *@status gets where it
 * ended. Says on stderr what it waits for. Returns an exit code. */
static int subscribe_wait(const struct cli_ctx *ctx, const uint8_t *xid,
                          const char *xid_hex, uint64_t timeout_s,
                          uint32_t *status)
{
    uint64_t end = cli_mono_ms() + timeout_s * 1000u;
    uint32_t said = 0;

    for (;;) {
        ProtobufCMessage *msg = NULL;
        const Tdei__Exchange *ex;
        uint64_t escrow;
        int rc = cli_exchange_read(ctx, xid_hex, xid, &msg, &escrow, NULL);

        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        ex = (const Tdei__Exchange *)msg;
        *status = ex->status;
        if (ex->status == CODEC_EXCHANGE_DELIVERED ||
            ex->status == CODEC_EXCHANGE_SETTLED) {
            codec_message_free(msg);
            return CLI_EXIT_OK;
        }
        if (ex->status != CODEC_EXCHANGE_REQUESTED &&
            ex->status != CODEC_EXCHANGE_APPROVED) {
            rc = cli_error("exchange %s is %s%s%s; subscribe again", xid_hex,
                           cli_name(cli_exchange_statuses, ex->status),
                           ex->note[0] != '\0' ? ": " : "", ex->note);
            codec_message_free(msg);
            return rc;
        }
        if (said != ex->status && !ctx->json) {
            if (ex->status == CODEC_EXCHANGE_REQUESTED) {
                fprintf(stderr, "waiting for approval: level %u needs %s%s%s\n",
                        ex->level, ex->need_owner ? "the owner's" : "",
                        ex->need_owner && ex->need_regulator ? " and " : "",
                        ex->need_regulator ? "the regulator's approval"
                                           : " approval");
            } else {
                fprintf(stderr, "approved; waiting for the owner's node to "
                                "deliver the subscription key\n");
            }
            said = ex->status;
        }
        codec_message_free(msg);
        if (cli_mono_ms() >= end) {
            return cli_fail(TDEI_TIMEOUT,
                            *status == CODEC_EXCHANGE_REQUESTED
                                ? "the exchange still waits for approval; "
                                  "wait longer (--timeout) or ask the "
                                  "approvers; `tdei exchange show` follows it"
                                : "the owner's node has not delivered yet; "
                                  "wait longer (--timeout); `tdei exchange "
                                  "show` follows it");
        }
        cli_sleep_ms(SUBSCRIBE_POLL_MS);
    }
}

static int stream_subscribe(struct cli_ctx *ctx, int argc, char **argv)
{
    uint64_t records = 0;
    uint64_t timeout_s = SUBSCRIBE_TIMEOUT_S;
    const char *purpose = "";
    const char *passphrase_file = NULL;
    const struct cli_opt opts[] = {
        {.name = "records",
         .type = CLI_OPT_U64,
         .dest = &records,
         .meta = "N",
         .help = "records to prepay: the budget is N x the price per record",
         .flags = CLI_REQUIRED,
         .min = 1},
        {.name = "timeout",
         .type = CLI_OPT_U64,
         .dest = &timeout_s,
         .meta = "SEC",
         .help = "wait this long for approval and delivery (default 120)",
         .min = 1,
         .max = 86400},
        {.name = "purpose",
         .type = CLI_OPT_TEXT,
         .dest = &purpose,
         .meta = "TEXT",
         .help = "why the data is needed, 0-256 bytes (level 2 and up)"},
        {.name = "passphrase-file",
         .type = CLI_OPT_TEXT,
         .dest = &passphrase_file,
         .meta = "FILE",
         .help = "the operator key's passphrase (else $TDEI_PASSPHRASE)"},
    };
    const struct cli_spec spec = {
        .what = "stream subscribe",
        .operands = "STREAM",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Subscribe to stream STREAM (priced per_record): request it "
                 "with a\nbudget of N x its price (moved into escrow), wait "
                 "for the approvals\nits level needs and for the owner's "
                 "node to deliver the subscription\nkey, and confirm when "
                 "the exchange asks for it (a per_record\nsubscription is "
                 "live at delivery). Each batch appended then charges\nit "
                 "per record, and the owner's node pushes the batch to this "
                 "member's\nnode. Prints the exchange id.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ExchangeRequest req = TDEI__EXCHANGE_REQUEST__INIT;
    Tdei__ExchangeConfirm confirm = TDEI__EXCHANGE_CONFIRM__INIT;
    ProtobufCMessage *msg = NULL;
    const Tdei__Dataset *ds;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    uint8_t xid[CODEC_HASH_SIZE];
    uint8_t confirm_id[CODEC_HASH_SIZE];
    char xid_hex[TDEI_HEX_SIZE(CODEC_HASH_SIZE)];
    char what[96];
    uint64_t price;
    uint32_t status = 0;
    int confirmed = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "STREAM", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    (void)snprintf(what, sizeof(what), "entry %s", argv[first]);
    rc = cli_object_get(ctx, key, contract_key_dataset(key, argv[first]), what,
                        &tdei__dataset__descriptor, &msg, NULL);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    ds = (const Tdei__Dataset *)msg;
    if (ds->kind != CODEC_KIND_STREAM || ds->price == NULL ||
        ds->price->model != CODEC_PRICE_PER_RECORD) {
        rc = cli_error(
            "%s is %s priced %s; subscribe takes a stream priced "
            "per_record (request others with `tdei exchange "
            "request`)",
            argv[first], cli_name(cli_kinds, ds->kind),
            ds->price != NULL ? cli_name(cli_models, ds->price->model) : "-");
        codec_message_free(msg);
        return rc;
    }
    price = ds->price->amount;
    codec_message_free(msg);
    if (price != 0 && records > UINT64_MAX / price) {
        return cli_usage_error(spec.what,
                               "--records %" PRIu64 " x the price %" PRIu64
                               " overflows a budget; give fewer records",
                               records, price);
    }
    req.id = argv[first];
    req.price = price;
    req.budget = records * price;
    req.purpose = (char *)(uintptr_t)purpose;
    body.op_case = TDEI__TX_BODY__OP_EXCHANGE_REQUEST;
    body.exchange_request = &req;
    rc = stream_tx(ctx, passphrase_file, &body, "subscription request", xid);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    (void)tdei_hex_encode(xid_hex, sizeof(xid_hex), xid, sizeof(xid));
    if (!ctx->json) {
        fprintf(stderr, "requested: exchange %s, budget %" PRIu64 "\n", xid_hex,
                req.budget);
    }
    rc = subscribe_wait(ctx, xid, xid_hex, timeout_s, &status);
    if (rc == CLI_EXIT_OK && status == CODEC_EXCHANGE_DELIVERED) {
        Tdei__TxBody cbody = TDEI__TX_BODY__INIT;

        confirm.exchange.data = xid;
        confirm.exchange.len = sizeof(xid);
        cbody.op_case = TDEI__TX_BODY__OP_EXCHANGE_CONFIRM;
        cbody.exchange_confirm = &confirm;
        rc =
            stream_tx(ctx, passphrase_file, &cbody, "confirmation", confirm_id);
        confirmed = rc == CLI_EXIT_OK;
        status = CODEC_EXCHANGE_SETTLED;
    }
    if (rc != CLI_EXIT_OK) {
        fprintf(stderr,
                "tdei: the exchange is %s; follow it with `tdei "
                "exchange show %s`\n",
                xid_hex, xid_hex);
        return rc;
    }
    if (ctx->json) {
        return cli_print_json(json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:s, s:b}", "exchange", xid_hex,
            "stream", argv[first], "records", (json_int_t)records, "price",
            (json_int_t)price, "budget", (json_int_t)req.budget, "status",
            cli_name(cli_exchange_statuses, status), "confirmed", confirmed));
    }
    printf("exchange  %s\nstream    %s\nrecords   %" PRIu64
           "\nbudget    %" PRIu64 "\nstatus    %s%s\n",
           xid_hex, argv[first], records, req.budget,
           cli_name(cli_exchange_statuses, status),
           confirmed ? " (confirmed)" : " (live at delivery)");
    return CLI_EXIT_OK;
}

/* ---- tail, read, state ------------------------------------------------- */

/* Print one record: its data on a line, or with --json one JSON object
 * per line (data as a string when it is UTF-8, else data_hex). */
static int record_print(const struct cli_ctx *ctx,
                        const Tdei__Api__StreamRecord *rec)
{
    json_t *obj;
    json_t *data;
    char *text;

    if (!ctx->json) {
        if (fwrite(rec->data.data, 1, rec->data.len, stdout) != rec->data.len ||
            putchar('\n') == EOF) {
            return cli_error("cannot write to standard output: %s",
                             strerror(errno));
        }
        return CLI_EXIT_OK;
    }
    data = json_stringn((const char *)rec->data.data, rec->data.len);
    obj = json_pack("{s:I, s:I, s:I, s:I}", "seq", (json_int_t)rec->seq, "ts",
                    (json_int_t)rec->ts_ms, "height", (json_int_t)rec->height,
                    "stored_ms", (json_int_t)rec->stored_ms);
    if (obj != NULL) {
        (void)json_object_set_new(
            obj, data != NULL ? "data" : "data_hex",
            data != NULL ? data : cli_json_hex(rec->data.data, rec->data.len));
    }
    text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (text == NULL) {
        return cli_fail(TDEI_NOMEM, NULL);
    }
    if (puts(text) == EOF) {
        free(text);
        return cli_error("cannot write to standard output: %s",
                         strerror(errno));
    }
    free(text);
    return CLI_EXIT_OK;
}

/* One ReadStream on @client. Returns an exit code; *@resp on success. */
static int read_page(struct api_client *client, const char *stream,
                     uint64_t from, uint32_t limit, uint32_t wait_ms,
                     Tdei__Api__Response **resp)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__ReadStream rd = TDEI__API__READ_STREAM__INIT;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    rd.stream = (char *)(uintptr_t)stream;
    rd.from_seq = from;
    rd.limit = limit;
    rd.wait_ms = wait_ms;
    req.req_case = TDEI__API__REQUEST__REQ_READ_STREAM;
    req.read_stream = &rd;
    rc = api_client_call(client, &req, resp, errmsg);
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

static int stream_read(struct cli_ctx *ctx, int argc, char **argv)
{
    uint64_t from = 0;
    uint64_t limit = READ_LIMIT_DEFAULT;
    const struct cli_opt opts[] = {
        {.name = "from",
         .type = CLI_OPT_U64,
         .dest = &from,
         .meta = "SEQ",
         .help = "the first sequence number (default 0: from the first "
                 "held)"},
        {.name = "limit",
         .type = CLI_OPT_U64,
         .dest = &limit,
         .meta = "N",
         .help = "records at most (default 1000)",
         .min = 1},
    };
    const struct cli_spec spec = {
        .what = "stream read",
        .operands = "STREAM",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Read back the records of STREAM this node holds, from "
                 "--from on, in\nsequence order, stopping at the first one "
                 "not held: on the owner's\nnode its appended records, on a "
                 "subscriber's node the records received\nand verified. "
                 "Prints each record's data on a line; with --json one\n"
                 "JSON object per line: seq, ts, height, stored_ms, data.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct api_client client = {.fd = -1};
    uint64_t printed = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "STREAM", argv[first]);
    if (rc == CLI_EXIT_OK) {
        rc = cli_connect(ctx, &client, API_CLIENT_TIMEOUT_MS);
    }
    while (rc == CLI_EXIT_OK && printed < limit) {
        Tdei__Api__Response *resp = NULL;
        uint64_t want = limit - printed;
        const Tdei__Api__StreamRecords *page;

        rc = read_page(&client, argv[first], from,
                       (uint32_t)(want < READ_PAGE_MAX ? want : READ_PAGE_MAX),
                       0, &resp);
        if (rc != CLI_EXIT_OK) {
            break;
        }
        page = resp->stream_records;
        for (size_t i = 0; rc == CLI_EXIT_OK && i < page->n_records; i++) {
            rc = record_print(ctx, page->records[i]);
            printed++;
        }
        from = page->next_seq;
        if (page->n_records == 0) {
            api_client_response_free(resp);
            break;
        }
        api_client_response_free(resp);
    }
    api_client_close(&client);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
        rc = cli_error("cannot write to standard output: %s", strerror(errno));
    }
    return rc;
}

static volatile sig_atomic_t tail_stop;

static void tail_signal(int sig)
{
    (void)sig;
    tail_stop = 1;
}

/* The next seq this node holds for @stream (where `tail` starts). */
static int tail_start(const struct cli_ctx *ctx, const char *stream,
                      uint64_t *from)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStreamState get = TDEI__API__GET_STREAM_STATE__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    get.stream = (char *)(uintptr_t)stream;
    req.req_case = TDEI__API__REQUEST__REQ_GET_STREAM_STATE;
    req.get_stream_state = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc == CLI_EXIT_OK) {
        *from = resp->stream_state->next_seq;
        api_client_response_free(resp);
    }
    return rc;
}

static int stream_tail(struct cli_ctx *ctx, int argc, char **argv)
{
    uint64_t from = UINT64_MAX; /* not given: the next record to come */
    uint64_t count = 0;
    const struct cli_opt opts[] = {
        {.name = "from",
         .type = CLI_OPT_U64,
         .dest = &from,
         .meta = "SEQ",
         .help = "start at this sequence number (default: the next record "
                 "to come)"},
        {.name = "count",
         .type = CLI_OPT_U64,
         .dest = &count,
         .meta = "N",
         .help = "exit after N records (default: run until SIGINT or "
                 "SIGTERM)",
         .min = 1},
    };
    const struct cli_spec spec = {
        .what = "stream tail",
        .operands = "STREAM",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Follow STREAM on this node: print each record as it is "
                 "stored here\n(its data on a line; with --json one JSON "
                 "object per line), in\nsequence order, from --from or from "
                 "the next record to come. Exits\nafter --count records, or "
                 "with status 0 on SIGINT or SIGTERM.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct api_client client = {.fd = -1};
    struct sigaction sa;
    uint64_t printed = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "STREAM", argv[first]);
    if (rc == CLI_EXIT_OK && from == UINT64_MAX) {
        rc = tail_start(ctx, argv[first], &from);
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_connect(ctx, &client, API_CLIENT_TIMEOUT_MS + TAIL_WAIT_MS);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tail_signal;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    while (rc == CLI_EXIT_OK && !tail_stop && (count == 0 || printed < count)) {
        Tdei__Api__Response *resp = NULL;
        uint64_t want = count == 0 ? READ_PAGE_MAX : count - printed;
        const Tdei__Api__StreamRecords *page;

        rc = read_page(&client, argv[first], from,
                       (uint32_t)(want < READ_PAGE_MAX ? want : READ_PAGE_MAX),
                       TAIL_WAIT_MS, &resp);
        if (rc != CLI_EXIT_OK) {
            break;
        }
        page = resp->stream_records;
        for (size_t i = 0; rc == CLI_EXIT_OK && i < page->n_records; i++) {
            rc = record_print(ctx, page->records[i]);
            printed++;
        }
        if (page->n_records > 0) {
            from = page->next_seq;
        }
        api_client_response_free(resp);
        if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
            rc = cli_error("cannot write to standard output: %s",
                           strerror(errno));
        }
    }
    api_client_close(&client);
    return rc;
}

static int stream_state(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_spec spec = {
        .what = "stream state",
        .operands = "STREAM",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Show the data-plane state of STREAM on this node: as its "
                 "owner, the\nrecords queued and in flight, appended and "
                 "refused (with the last\nrefusal); as a subscriber, the "
                 "records received and the batches that\nfailed their "
                 "checks; and the records held.",
    };
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStreamState get = TDEI__API__GET_STREAM_STATE__INIT;
    Tdei__Api__Response *resp = NULL;
    const Tdei__Api__StreamState *st;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    rc = cli_arg_entry(spec.what, "STREAM", argv[first]);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    get.stream = argv[first];
    req.req_case = TDEI__API__REQUEST__REQ_GET_STREAM_STATE;
    req.get_stream_state = &get;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    st = resp->stream_state;
    if (ctx->json) {
        rc = cli_print_json(json_pack(
            "{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:I, "
            "s:I, s:I}",
            "stream", st->stream, "owner", st->owner, "queued",
            (json_int_t)st->queued, "in_flight", (json_int_t)st->in_flight,
            "appended_records", (json_int_t)st->appended_records,
            "appended_batches", (json_int_t)st->appended_batches,
            "refused_records", (json_int_t)st->refused_records,
            "refused_batches", (json_int_t)st->refused_batches, "last_refusal",
            st->last_refusal, "last_refusal_code",
            st->last_refusal_code != 0
                ? tdei_errname((int)st->last_refusal_code)
                : "",
            "held_from", (json_int_t)st->held_from, "next_seq",
            (json_int_t)st->next_seq, "received_records",
            (json_int_t)st->received_records, "bad_batches",
            (json_int_t)st->bad_batches));
    } else {
        printf("stream            %s\nrole              %s\n"
               "queued            %" PRIu64 "\nin flight         %" PRIu64
               "\nappended          %" PRIu64 " records in %" PRIu64
               " batches\nrefused           %" PRIu64 " records in %" PRIu64
               " batches\n",
               st->stream, st->owner ? "owner" : "subscriber", st->queued,
               st->in_flight, st->appended_records, st->appended_batches,
               st->refused_records, st->refused_batches);
        if (st->last_refusal_code != 0) {
            printf("last refusal      %s: %s\n",
                   tdei_errname((int)st->last_refusal_code), st->last_refusal);
        }
        if (st->next_seq > st->held_from) {
            printf("held              seq %" PRIu64 " to %" PRIu64 "\n",
                   st->held_from, st->next_seq - 1);
        } else {
            printf("held              none\n");
        }
        printf("received          %" PRIu64 " records\n"
               "bad batches       %" PRIu64 "\n",
               st->received_records, st->bad_batches);
    }
    api_client_response_free(resp);
    return rc;
}

int cli_cmd_stream(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_command commands[] = {
        {"open", stream_open, "open a stream entry for appends"},
        {"append", stream_append, "append a batch of records"},
        {"close", stream_close, "close a stream"},
        {"show", stream_show, "show a stream's append state"},
        {"push", stream_push, "send records to this node for its stream"},
        {"subscribe", stream_subscribe,
         "request a stream with a prepaid budget of records"},
        {"tail", stream_tail, "follow a stream's records as they arrive"},
        {"read", stream_read, "read back the records this node holds"},
        {"state", stream_state,
         "show this node's data-plane state of a "
         "stream"},
    };

    return cli_dispatch(ctx, "stream", commands,
                        sizeof(commands) / sizeof(commands[0]), argc, argv);
}
