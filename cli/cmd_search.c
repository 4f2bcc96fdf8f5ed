/* tdei catalog search: find catalog entries by words and filters
 * (search/search.h has the matching and ranking rules). */
#include "cli.h"

#include "api/client.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/ids.h"
#include "search/search.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define WHAT "catalog search"
#define TITLE_SHOWN_MAX 60u /* bytes of a title in the table */

static void search_help(void)
{
    printf("usage: tdei [--home DIR] [--node ADDR] [--json] catalog search "
           "[WORDS...]\n"
           "         [--level N] [--domain NAME|N] [--owner ID] [--owner-role "
           "ROLE]\n"
           "         [--kind dataset|stream] [--min-price N] [--max-price N]\n"
           "         [--status active|withdrawn|any] [--offset N] [--limit N]\n"
           "\n"
           "Find catalog entries that hold every WORD in their title, a tag "
           "or their\n"
           "description, and pass every filter. Words are runs of %u-%u "
           "letters or digits\n"
           "(ASCII case does not matter; other UTF-8 is kept as it is) and "
           "match whole\n"
           "words only; at most %u words. The best matches come first: 3 "
           "points per\n"
           "word in the title, 2 in a tag, 1 in the description; equal scores "
           "by id.\n"
           "Without words every entry is listed, by id.\n\n"
           "  --level N          MIIT level 1-3\n"
           "  --domain NAME|N    rd, production, operation, management, "
           "external (or 1-5)\n"
           "  --owner ID         the member that owns the entry\n"
           "  --owner-role ROLE  the owner's role: %s\n"
           "  --kind KIND        dataset or stream\n"
           "  --min-price N      price at least N credits\n"
           "  --max-price N      price at most N credits (0: free entries)\n"
           "  --status STATUS    active (default), withdrawn or any\n"
           "  --offset N         skip the first N matches (default 0)\n"
           "  --limit N          show at most N matches, 1-%u (default %u)\n"
           "\n"
           "Put words that start with '-' after `--`.\n",
           SEARCH_TOKEN_MIN, SEARCH_TOKEN_MAX, SEARCH_WORDS_MAX,
           TDEI_ROLE_NAMES, SEARCH_LIMIT_MAX, SEARCH_LIMIT_DEFAULT);
}

/* Parse the value of --@name as a number in @min..@max. */
static int parse_range(const char *name, const char *text, uint64_t min,
                       uint64_t max, uint64_t *out)
{
    if (cli_parse_u64(text, out) != 0 || *out < min || *out > max) {
        return cli_usage_error(WHAT,
                               "--%s '%s' is not a whole number in "
                               "%" PRIu64 "-%" PRIu64,
                               name, text, min, max);
    }
    return 0;
}

static int parse_domain(const char *text, uint32_t *out)
{
    uint64_t n;

    for (uint32_t d = 1; d <= CODEC_DOMAIN_MAX; d++) {
        if (strcmp(text, codec_domain_name(d)) == 0) {
            *out = d;
            return 0;
        }
    }
    if (cli_parse_u64(text, &n) == 0 && n >= 1 && n <= CODEC_DOMAIN_MAX) {
        *out = (uint32_t)n;
        return 0;
    }
    return cli_usage_error(WHAT,
                           "--domain '%s' is not a data domain: rd, "
                           "production, operation, management, external "
                           "(or 1-%u)",
                           text, CODEC_DOMAIN_MAX);
}

static int parse_kind(const char *text, uint32_t *out)
{
    if (strcmp(text, "dataset") == 0) {
        *out = CODEC_KIND_DATASET;
    } else if (strcmp(text, "stream") == 0) {
        *out = CODEC_KIND_STREAM;
    } else {
        return cli_usage_error(WHAT, "--kind '%s' is not dataset or stream",
                               text);
    }
    return 0;
}

static int parse_status(const char *text, uint32_t *out)
{
    if (strcmp(text, "active") == 0) {
        *out = SEARCH_STATUS_ACTIVE;
    } else if (strcmp(text, "withdrawn") == 0) {
        *out = SEARCH_STATUS_WITHDRAWN;
    } else if (strcmp(text, "any") == 0) {
        *out = SEARCH_STATUS_ANY;
    } else {
        return cli_usage_error(WHAT,
                               "--status '%s' is not active, withdrawn or "
                               "any",
                               text);
    }
    return 0;
}

static const char *status_name(uint32_t status)
{
    return status == CODEC_DATASET_ACTIVE      ? "active"
           : status == CODEC_DATASET_WITHDRAWN ? "withdrawn"
                                               : "?";
}

static const char *kind_name(uint32_t kind)
{
    return kind == CODEC_KIND_DATASET  ? "dataset"
           : kind == CODEC_KIND_STREAM ? "stream"
                                       : "?";
}

/* A u64 for JSON: an integer, or a decimal string above INT64_MAX. */
static json_t *json_u64(uint64_t v)
{
    char text[24];

    if (v <= (uint64_t)INT64_MAX) {
        return json_integer((json_int_t)v);
    }
    (void)snprintf(text, sizeof(text), "%" PRIu64, v);
    return json_string(text);
}

/* The options and words of one search. */
struct search_args
{
    struct search_query q;
    const char *words[SEARCH_WORDS_MAX];
};

/* Take WORD @text; more than SEARCH_WORDS_MAX is a usage error. */
static int word_take(struct search_args *a, const char *text)
{
    if (a->q.word_count == SEARCH_WORDS_MAX) {
        return cli_usage_error(WHAT,
                               "more than %u words; search with at "
                               "most %u",
                               SEARCH_WORDS_MAX, SEARCH_WORDS_MAX);
    }
    a->words[a->q.word_count++] = text;
    return 0;
}

/* Apply option @opt with value optarg. */
static int option_take(struct search_args *a, int opt)
{
    enum tdei_role role;
    uint64_t n;
    int rc = 0;

    switch (opt) {
    case 'l':
        rc = parse_range("level", optarg, 1, 3, &n);
        a->q.level = (uint32_t)n;
        break;
    case 'd':
        rc = parse_domain(optarg, &a->q.domain);
        break;
    case 'o':
        if (tdei_member_id_check(optarg) != 0) {
            return cli_usage_error(WHAT,
                                   "--owner '%s' is not a member id (3-32 "
                                   "bytes of [a-z0-9-])",
                                   optarg);
        }
        a->q.owner = optarg;
        break;
    case 'r':
        if (tdei_role_parse(optarg, &role) != 0) {
            return cli_usage_error(WHAT, "--owner-role '%s' is not a role: %s",
                                   optarg, TDEI_ROLE_NAMES);
        }
        a->q.owner_role = (uint32_t)role;
        break;
    case 'k':
        rc = parse_kind(optarg, &a->q.kind);
        break;
    case 'm':
        rc = parse_range("min-price", optarg, 0, UINT64_MAX, &a->q.price_min);
        break;
    case 'M':
        rc = parse_range("max-price", optarg, 0, UINT64_MAX, &a->q.price_max);
        break;
    case 's':
        rc = parse_status(optarg, &a->q.status);
        break;
    case 'O':
        rc = parse_range("offset", optarg, 0, UINT64_MAX, &a->q.offset);
        break;
    case 'L':
        rc = parse_range("limit", optarg, 1, SEARCH_LIMIT_MAX, &n);
        a->q.limit = (uint32_t)n;
        break;
    default:
        TDEI_ASSERT(0 && "option without a case");
    }
    return rc;
}

/* Parse argv: options and words in any order, all words after "--".
 * Returns 0, or an exit code after printing (help is CLI_EXIT_OK with
 * *@done set). */
static int args_parse(struct search_args *a, int argc, char **argv, int *done)
{
    static const struct option options[] = {
        {"level", required_argument, NULL, 'l'},
        {"domain", required_argument, NULL, 'd'},
        {"owner", required_argument, NULL, 'o'},
        {"owner-role", required_argument, NULL, 'r'},
        {"kind", required_argument, NULL, 'k'},
        {"min-price", required_argument, NULL, 'm'},
        {"max-price", required_argument, NULL, 'M'},
        {"status", required_argument, NULL, 's'},
        {"offset", required_argument, NULL, 'O'},
        {"limit", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int rc = 0;

    memset(a, 0, sizeof(*a));
    a->q.words = a->words;
    a->q.price_max = UINT64_MAX;
    a->q.limit = SEARCH_LIMIT_DEFAULT;
    *done = 0;
    cli_getopt_reset();
    /* "+" stops getopt at each word; the word is taken and parsing goes
     * on, so options may come before or after the words. At most argc
     * rounds: each takes one argument or more. */
    for (int round = 0; rc == 0 && round <= argc; round++) {
        int at = optind == 0 ? 1 : optind;
        int opt;
        if (at < argc && strcmp(argv[at], "--") == 0) {
            for (int i = at + 1; rc == 0 && i < argc; i++) {
                rc = word_take(a, argv[i]);
            }
            break;
        }
        opt = getopt_long(argc, argv, "+:h", options, NULL);
        if (opt == -1) {
            if (optind >= argc) {
                break;
            }
            rc = word_take(a, argv[optind++]);
        } else if (opt == 'h') {
            search_help();
            *done = 1;
            return CLI_EXIT_OK;
        } else if (opt == '?' || opt == ':') {
            return cli_option_error(WHAT, opt, argv);
        } else {
            rc = option_take(a, opt);
        }
    }
    return rc;
}

/* Print one hit as a table row. */
static void hit_row(const Tdei__Api__SearchHit *hit, const Tdei__Dataset *d)
{
    char title[TITLE_SHOWN_MAX + 4];
    char labels[24];
    char price[48];
    size_t len = strlen(d->title);
    size_t n = len < TITLE_SHOWN_MAX ? len : TITLE_SHOWN_MAX;

    /* Cut a long title at a UTF-8 boundary. */
    while (n > 0 && n < len && ((uint8_t)d->title[n] & 0xc0u) == 0x80u) {
        n--;
    }
    memcpy(title, d->title, n);
    (void)snprintf(title + n, sizeof(title) - n, "%s", n < len ? "..." : "");
    (void)snprintf(labels, sizeof(labels), "L%" PRIu32 "/%s", d->level,
                   codec_class_name(d->data_class));
    (void)snprintf(
        price, sizeof(price), "%" PRIu64 " %s",
        d->price != NULL ? d->price->amount : 0,
        codec_price_model_name(d->price != NULL ? d->price->model : 0));
    printf("%-24s %5" PRIu32 "  %-7s %-13s %-9s %-16s %-22s %s\n", hit->id,
           hit->score, kind_name(d->kind), labels, status_name(d->status),
           d->owner, price, title);
}

/* One hit as JSON (NULL on out of memory). */
static json_t *hit_json(const Tdei__Api__SearchHit *hit, const Tdei__Dataset *d)
{
    json_t *tags = json_array();
    json_t *price = json_pack(
        "{s:s, s:o, s:o}", "model",
        codec_price_model_name(d->price != NULL ? d->price->model : 0),
        "amount", json_u64(d->price != NULL ? d->price->amount : 0), "period",
        json_u64(d->price != NULL ? d->price->period : 0));

    for (size_t i = 0; tags != NULL && i < d->n_tags; i++) {
        (void)json_array_append_new(tags, json_string(d->tags[i]));
    }
    return json_pack(
        "{s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o*, "
        "s:o*, s:I}",
        "id", hit->id, "score", (json_int_t)hit->score, "title", d->title,
        "kind", kind_name(d->kind), "level", (json_int_t)d->level, "class",
        codec_class_name(d->data_class), "domain", codec_domain_name(d->domain),
        "status", status_name(d->status), "owner", d->owner, "price", price,
        "tags", tags, "version", (json_int_t)d->version);
}

/* Print @res as a table or JSON. */
static int result_print(const struct cli_ctx *ctx,
                        const Tdei__Api__SearchResult *res)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    json_t *hits = ctx->json ? json_array() : NULL;
    json_t *words = ctx->json ? json_array() : NULL;
    int rc = 0;

    if (!ctx->json && res->n_hits > 0) {
        printf("%-24s %5s  %-7s %-13s %-9s %-16s %-22s %s\n", "ID", "SCORE",
               "KIND", "LEVEL/CLASS", "STATUS", "OWNER", "PRICE", "TITLE");
    }
    for (size_t i = 0; rc == 0 && i < res->n_hits; i++) {
        const Tdei__Api__SearchHit *hit = res->hits[i];
        Tdei__Dataset *d = NULL;
        rc = codec_dataset_decode(&d, hit->dataset.data, hit->dataset.len,
                                  errmsg);
        if (rc != 0) {
            break;
        }
        if (ctx->json) {
            (void)json_array_append_new(hits, hit_json(hit, d));
        } else {
            hit_row(hit, d);
        }
        codec_dataset_free(d);
    }
    if (rc != 0) {
        json_decref(hits);
        json_decref(words);
        return cli_fail(rc, errmsg);
    }
    if (!ctx->json) {
        printf("%zu of %" PRIu64 " matches from offset %" PRIu64
               " at height %" PRIu64 "\n",
               res->n_hits, res->total, res->offset, res->height);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; words != NULL && i < res->n_words; i++) {
        (void)json_array_append_new(words, json_string(res->words[i]));
    }
    return cli_print_json(json_pack(
        "{s:o, s:o, s:I, s:I, s:o*, s:o*}", "height", json_u64(res->height),
        "total", json_u64(res->total), "offset", (json_int_t)res->offset,
        "limit", (json_int_t)res->limit, "words", words, "hits", hits));
}

int cli_cmd_catalog_search(struct cli_ctx *ctx, int argc, char **argv)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SearchCatalog search = TDEI__API__SEARCH_CATALOG__INIT;
    Tdei__Api__Response *resp = NULL;
    struct search_args a;
    struct search_words checked;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int done;
    int rc = args_parse(&a, argc, argv, &done);

    if (rc != 0 || done) {
        return rc;
    }
    /* The node checks the same rules; checking here first makes a bad
     * word or range a usage error without a node. */
    if (search_query_check(&a.q, &checked, errmsg) != 0) {
        return cli_usage_error(WHAT, "%s", errmsg);
    }
    search.n_words = a.q.word_count;
    search.words = (char **)(uintptr_t)a.words;
    search.level = a.q.level;
    search.domain = a.q.domain;
    search.owner = (char *)(uintptr_t)(a.q.owner != NULL ? a.q.owner : "");
    search.owner_role = a.q.owner_role;
    search.kind = a.q.kind;
    search.min_price = a.q.price_min;
    search.has_max_price = a.q.price_max != UINT64_MAX;
    search.max_price = search.has_max_price ? a.q.price_max : 0;
    search.status = a.q.status;
    search.offset = a.q.offset;
    search.limit = a.q.limit;
    req.req_case = TDEI__API__REQUEST__REQ_SEARCH_CATALOG;
    req.search_catalog = &search;
    rc = cli_call(ctx, &req, &resp);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = result_print(ctx, resp->search);
    api_client_response_free(resp);
    return rc;
}
