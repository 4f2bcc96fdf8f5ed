/* tdei verify: check a proof bundle offline, from the genesis file alone
 * (node/audit/bundle.h, doc/bundle.md): no node, no network.
 *
 *   tdei verify BUNDLE --genesis genesis.json [--json]
 *
 * Prints the object's timeline (height, time, member, action, price,
 * result) and a verdict. Exit 0 when every check holds, 3 when one does
 * not (the verdict names it), 1 when a file cannot be read, 2 on bad
 * usage. */
#include "cli.h"

#include "audit/bundle.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hex.h"
#include "genesis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Read the whole file @path into new memory (at most BUNDLE_TEXT_MAX
 * bytes). Prints the error and returns its exit code on failure. */
static int read_file(const char *path, char **out, size_t *len)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    size_t got;

    *out = NULL;
    *len = 0;
    if (f == NULL) {
        return cli_error("cannot open bundle %s: %s", path, strerror(errno));
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)fclose(f);
        return cli_error("bundle %s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > BUNDLE_TEXT_MAX) {
        (void)fclose(f);
        return cli_error("bundle %s is %lld bytes; at most %u are read", path,
                         (long long)st.st_size, BUNDLE_TEXT_MAX);
    }
    *out = tdei_malloc((size_t)st.st_size + 1);
    if (*out == NULL) {
        (void)fclose(f);
        return cli_error("out of memory for a bundle of %lld bytes",
                         (long long)st.st_size);
    }
    got = fread(*out, 1, (size_t)st.st_size, f);
    (void)fclose(f);
    if (got != (size_t)st.st_size) {
        tdei_free(*out);
        *out = NULL;
        return cli_error("cannot read bundle %s: it changed or shrank while "
                         "read",
                         path);
    }
    (*out)[got] = '\0';
    *len = got;
    return CLI_EXIT_OK;
}

/* The threads to check signatures on: the online cores. */
static unsigned verify_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1                       ? 1u
           : n > BUNDLE_VERIFY_THREADS ? BUNDLE_VERIFY_THREADS
                                       : (unsigned)n;
}

/* "2025-11-25T03:08:11.123Z" */
static const char *utc(char out[32], uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000u);
    struct tm tm;

    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        (void)snprintf(out, 32, "%" PRIu64 " ms", ms);
        return out;
    }
    (void)snprintf(out + strlen(out), 32 - strlen(out), ".%03uZ",
                   (unsigned)(ms % 1000u));
    return out;
}

static const char *const member_sources[] = {"unknown", "event", "genesis",
                                             "same_key"};

static const char *result_name(const struct bundle_row *row)
{
    return row->code == 0 ? "applied" : tdei_errname((int)row->code);
}

static json_t *row_json(const struct bundle_row *row)
{
    char time[32];
    char tx[TDEI_HEX_SIZE(32)];
    char key[TDEI_HEX_SIZE(32)];

    (void)tdei_hex_encode(tx, sizeof(tx), row->tx_id, sizeof(row->tx_id));
    (void)tdei_hex_encode(key, sizeof(key), row->signer, sizeof(row->signer));
    return json_pack(
        "{s:I, s:I, s:I, s:s, s:s, s:s, s:s*, s:s, s:s, s:o, "
        "s:s, s:I, s:s, s:s}",
        "height", (json_int_t)row->height, "index", (json_int_t)row->index,
        "time_ms", (json_int_t)row->time_ms, "time", utc(time, row->time_ms),
        "tx_id", tx, "signer", key, "member",
        row->member[0] != '\0' ? row->member : NULL, "member_source",
        member_sources[row->member_source], "action", row->action, "price",
        row->has_price ? json_integer((json_int_t)row->price) : json_null(),
        "result", result_name(row), "code", (json_int_t)row->code, "log",
        row->log != NULL ? row->log : "", "detail", row->detail);
}

/* The note about one open deadline. */
static const char *deadline_text(const struct bundle_deadline *d, char *out,
                                 size_t size)
{
    (void)snprintf(out, size,
                   "exchange %.16s.. was left %s at height %" PRIu64
                   " with a deadline at height %" PRIu64
                   ": deadlines are processed at the start of a block and "
                   "make no tx result, so a bundle cannot show whether it "
                   "then expired or settled (doc/bundle.md)",
                   d->exchange, d->status, d->height, d->deadline);
    return out;
}

static int print_json(const char *path, const struct bundle *b, int decoded,
                      const struct bundle_report *rep, int rc,
                      const char *errmsg)
{
    json_t *timeline = json_array();
    json_t *changes = json_array();
    json_t *doc;
    char note[400];

    for (size_t i = 0; timeline != NULL && i < rep->row_count; i++) {
        (void)json_array_append_new(timeline, row_json(&rep->rows[i]));
    }
    for (size_t i = 0; decoded && changes != NULL && i < b->change_count; i++) {
        (void)json_array_append_new(
            changes, json_pack("{s:I, s:I}", "from_height",
                               (json_int_t)b->changes[i].from_height,
                               "validators", (json_int_t)b->changes[i].count));
    }
    doc = json_pack("{s:s, s:s, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
                    "verdict", rc == 0 ? "verified" : "failed", "bundle", path,
                    "timeline", timeline, "validator_changes", changes,
                    "checked", "events", (json_int_t)rep->row_count,
                    "inclusion_proofs", (json_int_t)rep->proofs,
                    "tx_signatures", (json_int_t)rep->tx_signatures, "headers",
                    (json_int_t)rep->headers_verified, "commit_signatures",
                    (json_int_t)rep->commit_signatures, "validator_changes",
                    (json_int_t)rep->changes);
    if (doc != NULL && decoded) {
        (void)json_object_set_new(doc, "chain_id", json_string(b->chain_id));
        (void)json_object_set_new(doc, "object",
                                  json_pack("{s:s, s:s}", "kind",
                                            bundle_kind_name(b->kind), "id",
                                            b->id));
        (void)json_object_set_new(doc, "as_of",
                                  json_integer((json_int_t)b->as_of));
    }
    if (doc != NULL && rc != 0) {
        (void)json_object_set_new(doc, "error",
                                  json_pack("{s:s, s:s}", "code",
                                            tdei_errname(rc), "message",
                                            errmsg));
    }
    for (size_t i = 0; doc != NULL && i < rep->deadline_count; i++) {
        const struct bundle_deadline *d = &rep->deadlines[i];
        json_t *open = json_object_get(doc, "open_deadlines");
        if (open == NULL) {
            open = json_array();
            (void)json_object_set_new(doc, "open_deadlines", open);
        }
        (void)json_array_append_new(
            open,
            json_pack("{s:s, s:s, s:I, s:I, s:s}", "exchange", d->exchange,
                      "status", d->status, "height", (json_int_t)d->height,
                      "deadline", (json_int_t)d->deadline, "note",
                      deadline_text(d, note, sizeof(note))));
    }
    if (cli_print_json(doc) != CLI_EXIT_OK) {
        return CLI_EXIT_FAIL;
    }
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_INVALID;
}

static void print_row(const struct bundle_row *row)
{
    char time[32];
    char member[40];
    char price[24] = "-";
    char key[TDEI_HEX_SIZE(32)];

    if (row->member[0] != '\0') {
        (void)snprintf(member, sizeof(member), "%s", row->member);
    } else {
        (void)tdei_hex_encode(key, sizeof(key), row->signer, 32);
        (void)snprintf(member, sizeof(member), "key %.12s..", key);
    }
    if (row->has_price) {
        (void)snprintf(price, sizeof(price), "%" PRIu64, row->price);
    }
    printf("%8" PRIu64 "  %-24s  %-20s  %-20s  %10s  %-22s  %s\n", row->height,
           utc(time, row->time_ms), member, row->action, price,
           result_name(row), row->detail);
    if (row->log != NULL) {
        printf("%10s%s\n", "", row->log);
    }
}

static void print_text(const char *path, const struct bundle *b, int decoded,
                       const struct bundle_report *rep, int rc,
                       const char *errmsg)
{
    char note[400];

    printf("bundle   %s\n", path);
    if (decoded) {
        printf("object   %s %s\nchain    %s\nas of    height %" PRIu64 "\n",
               bundle_kind_name(b->kind), b->id, b->chain_id, b->as_of);
    }
    if (rep->row_count > 0) {
        printf("\n%8s  %-24s  %-20s  %-20s  %10s  %-22s  %s\n", "HEIGHT",
               "TIME (UTC)", "MEMBER", "ACTION", "PRICE", "RESULT", "DETAIL");
        for (size_t i = 0; i < rep->row_count; i++) {
            print_row(&rep->rows[i]);
        }
        printf("\n");
    }
    if (decoded) {
        printf("validator sets: the genesis set");
        for (size_t i = 0; i < b->change_count; i++) {
            printf("; from height %" PRIu64 ", %zu validators",
                   b->changes[i].from_height, b->changes[i].count);
        }
        printf("\n");
    }
    printf("checked: %zu events (%zu inclusion proofs, %zu tx signatures), "
           "%zu headers (%zu commit signatures), %zu validator-set "
           "changes\n",
           rep->row_count, rep->proofs, rep->tx_signatures,
           rep->headers_verified, rep->commit_signatures, rep->changes);
    for (size_t i = 0; i < rep->deadline_count; i++) {
        printf("note: %s\n",
               deadline_text(&rep->deadlines[i], note, sizeof(note)));
    }
    if (rc == 0) {
        printf("VERIFIED: the history of %s %s holds from its creation at "
               "height %" PRIu64 " to height %" PRIu64
               ": every commit by more than 2/3 of the validators of its "
               "height, every signature and every proof\n",
               bundle_kind_name(b->kind), b->id, rep->rows[0].height,
               rep->rows[rep->row_count - 1].height);
    } else {
        printf("FAILED: %s (%s)\n", errmsg, tdei_errname(rc));
    }
}

int cli_cmd_verify(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *genesis_path = NULL;
    int json = 0;
    const struct cli_opt opts[] = {
        {.name = "genesis",
         .type = CLI_OPT_TEXT,
         .dest = &genesis_path,
         .meta = "FILE",
         .help = "the chain's genesis.json: its chain id and first "
                 "validator set are the root of trust",
         .flags = CLI_REQUIRED},
        {.name = "json",
         .type = CLI_OPT_FLAG,
         .dest = &json,
         .help = "print the timeline and the verdict as JSON"},
    };
    const struct cli_spec spec = {
        .what = "verify",
        .operands = "BUNDLE",
        .operands_min = 1,
        .operands_max = 1,
        .about = "Check the proof bundle BUNDLE (from `tdei audit`) "
                 "offline, from the\ngenesis file alone: every commit holds "
                 "more than 2/3 of the validator set\nof its height "
                 "(following each change from genesis), every signature,\n"
                 "every RFC 6962 inclusion proof, and the object's history "
                 "chain from\nits creation to its last event. Prints the "
                 "timeline and a verdict.\nExit 0 verified, 3 a check "
                 "failed, 1 a file cannot be read.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    struct genesis g;
    struct bundle b;
    struct bundle_report rep;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    const char *path;
    char *text = NULL;
    size_t len = 0;
    int decoded = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    path = argv[first];
    memset(&g, 0, sizeof(g));
    memset(&b, 0, sizeof(b));
    memset(&rep, 0, sizeof(rep));
    rc = genesis_load(&g, genesis_path, 0, errmsg);
    if (rc != 0) {
        return cli_fail(rc == TDEI_INVAL ? TDEI_CONFIG : rc, errmsg);
    }
    rc = read_file(path, &text, &len);
    if (rc != CLI_EXIT_OK) {
        genesis_free(&g);
        return rc;
    }
    rc = bundle_decode(&b, text, len, errmsg);
    tdei_free(text);
    if (rc == 0) {
        decoded = 1;
        rc = bundle_verify(&b, &g, verify_threads(), &rep, errmsg);
    }
    if (ctx->json || json) {
        int out = print_json(path, &b, decoded, &rep, rc, errmsg);
        rc = rc == 0            ? out
             : rc == TDEI_NOMEM ? CLI_EXIT_FAIL
                                : CLI_EXIT_INVALID;
    } else {
        print_text(path, &b, decoded, &rep, rc, errmsg);
        if (rc != 0) {
            fprintf(stderr,
                    "tdei: error: the bundle does not verify: %s (%s)\n",
                    errmsg, tdei_errname(rc));
        }
        rc = rc == 0            ? CLI_EXIT_OK
             : rc == TDEI_NOMEM ? CLI_EXIT_FAIL
                                : CLI_EXIT_INVALID;
    }
    bundle_report_free(&rep);
    bundle_free(&b);
    genesis_free(&g);
    return rc;
}
