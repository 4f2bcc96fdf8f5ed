/* bundle_tamper: change a proof bundle the ways an attacker could, for
 * tests/integ/test_audit.sh. Built by `make check`, run only by tests.
 *
 *   bundle_tamper flips BUNDLE GENESIS [--per-section N] [--seed S]
 *       Flip single bytes (XOR with a non-zero byte from a seeded PRNG)
 *       at sampled positions of every top-level section of BUNDLE (all
 *       of a section shorter than N, else N spread over it), and check
 *       each changed text with the code of `tdei verify` (bundle_decode,
 *       bundle_verify) in this process. Prints one JSON object: positions
 *       tried per section, how many still verified (they should not) and
 *       the first such position. Exit 0 when the original verifies and
 *       no flip does, 1 otherwise.
 *   bundle_tamper flip BUNDLE OUT SECTION
 *       Write BUNDLE with one byte flipped in the middle of SECTION.
 *   bundle_tamper remove-event BUNDLE OUT I
 *   bundle_tamper swap-events BUNDLE OUT I J
 *       Write BUNDLE without event I, or with events I and J swapped,
 *       in canonical form (so only the verifier's checks can catch it).
 *   bundle_tamper drop-signatures BUNDLE OUT HEIGHT K
 *       Write BUNDLE with the commit of header HEIGHT cut to its first K
 *       signatures, re-encoded canonically.
 * Exit 2 on bad usage or an unreadable file. */
#include "audit/bundle.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/keys.h"
#include "genesis.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sections[] = {
    "tdei_bundle",       "chain_id", "object", "as_of",
    "validator_changes", "headers",  "events"};
#define SECTIONS 7

static int usage(void)
{
    fprintf(stderr,
            "usage: bundle_tamper flips BUNDLE GENESIS [--per-section N] "
            "[--seed S]\n"
            "       bundle_tamper flip BUNDLE OUT SECTION\n"
            "       bundle_tamper remove-event BUNDLE OUT I\n"
            "       bundle_tamper swap-events BUNDLE OUT I J\n"
            "       bundle_tamper drop-signatures BUNDLE OUT HEIGHT K\n");
    return 2;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        if (f != NULL) {
            (void)fclose(f);
        }
        fprintf(stderr, "bundle_tamper: cannot read %s\n", path);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    (void)fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "bundle_tamper: cannot read %s\n", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static int spill(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "bundle_tamper: cannot write %s\n", path);
        return 2;
    }
    return 0;
}

/* Where each section starts: its line (" \"name\": ...") or, for the
 * first, the opening brace. starts[SECTIONS] = len. */
static int section_starts(const char *text, size_t len,
                          size_t starts[SECTIONS + 1])
{
    for (int s = 0; s < SECTIONS; s++) {
        char key[48];
        const char *at;
        (void)snprintf(key, sizeof(key), "\n \"%s\": ", sections[s]);
        at = strstr(text, key);
        if (at == NULL) {
            fprintf(stderr, "bundle_tamper: no section %s\n", sections[s]);
            return -1;
        }
        starts[s] = s == 0 ? 0 : (size_t)(at - text) + 1;
    }
    starts[SECTIONS] = len;
    return 0;
}

/* 1 when @text decodes and verifies against @g. */
static int verifies(const char *text, size_t len, const struct genesis *g,
                    char *errmsg)
{
    struct bundle b;
    struct bundle_report rep;
    int rc = bundle_decode(&b, text, len, errmsg);

    if (rc == 0) {
        rc = bundle_verify(&b, g, 2, &rep, errmsg);
        bundle_report_free(&rep);
        bundle_free(&b);
    }
    return rc == 0;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmd_flips(int argc, char **argv)
{
    struct genesis g;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    size_t starts[SECTIONS + 1];
    size_t tried[SECTIONS] = {0};
    size_t still = 0;
    size_t first_still = 0;
    size_t total = 0;
    uint64_t per = 320;
    uint64_t seed = 1;
    size_t len;
    char *text;

    for (int i = 4; i < argc; i += 2) {
        if (i + 1 >= argc) {
            return usage();
        }
        if (strcmp(argv[i], "--per-section") == 0) {
            per = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0) {
            seed = strtoull(argv[i + 1], NULL, 10);
        } else {
            return usage();
        }
    }
    if (argc < 4 || per == 0) {
        return usage();
    }
    text = slurp(argv[2], &len);
    if (text == NULL) {
        return 2;
    }
    if (genesis_load(&g, argv[3], 0, errmsg) != 0) {
        fprintf(stderr, "bundle_tamper: %s\n", errmsg);
        free(text);
        return 2;
    }
    if (section_starts(text, len, starts) != 0 ||
        !verifies(text, len, &g, errmsg)) {
        fprintf(stderr, "bundle_tamper: the original does not verify: %s\n",
                errmsg);
        genesis_free(&g);
        free(text);
        return 1;
    }
    for (int s = 0; s < SECTIONS; s++) {
        size_t span = starts[s + 1] - starts[s];
        size_t n = span < per ? span : (size_t)per;
        for (size_t k = 0; k < n; k++) {
            /* Spread over the section, with a random offset within each
             * stride. */
            size_t stride = span / n;
            size_t pos = starts[s] + k * stride +
                         (stride > 1 ? (size_t)(rng_next(&seed) % stride) : 0);
            uint8_t mask = (uint8_t)(rng_next(&seed) % 255u + 1u);
            text[pos] = (char)((uint8_t)text[pos] ^ mask);
            if (verifies(text, len, &g, errmsg)) {
                if (still == 0) {
                    first_still = pos;
                }
                still++;
            }
            text[pos] = (char)((uint8_t)text[pos] ^ mask);
            tried[s]++;
            total++;
        }
    }
    printf("{\"positions\": %zu, \"bytes\": %zu, \"per_section\": {", total,
           len);
    for (int s = 0; s < SECTIONS; s++) {
        printf("%s\"%s\": %zu", s > 0 ? ", " : "", sections[s], tried[s]);
    }
    printf("}, \"still_verified\": %zu", still);
    if (still > 0) {
        printf(", \"first_still_verified_at\": %zu", first_still);
    }
    printf("}\n");
    genesis_free(&g);
    free(text);
    return still == 0 ? 0 : 1;
}

static int cmd_flip(int argc, char **argv)
{
    size_t starts[SECTIONS + 1];
    size_t len;
    char *text;
    int s = 0;
    int rc;

    if (argc != 5) {
        return usage();
    }
    while (s < SECTIONS && strcmp(sections[s], argv[4]) != 0) {
        s++;
    }
    if (s == SECTIONS) {
        return usage();
    }
    text = slurp(argv[2], &len);
    if (text == NULL) {
        return 2;
    }
    if (section_starts(text, len, starts) != 0) {
        free(text);
        return 2;
    }
    text[(starts[s] + starts[s + 1]) / 2] ^= 0x01;
    rc = spill(argv[3], text, len);
    free(text);
    return rc;
}

/* Decode BUNDLE, let @edit change it, write it canonically to OUT. */
static int rewrite(const char *in, const char *out,
                   int (*edit)(struct bundle *b, char **argv), char **argv)
{
    struct bundle b;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char *text;
    char *again = NULL;
    size_t len;
    int rc;

    text = slurp(in, &len);
    if (text == NULL) {
        return 2;
    }
    rc = bundle_decode(&b, text, len, errmsg);
    free(text);
    if (rc != 0) {
        fprintf(stderr, "bundle_tamper: %s\n", errmsg);
        return 2;
    }
    rc = edit(&b, argv);
    if (rc == 0 && bundle_encode(&b, &again, &len) != 0) {
        rc = 2;
    }
    if (rc == 0) {
        rc = spill(out, again, len);
    }
    tdei_free(again);
    bundle_free(&b);
    return rc;
}

static int edit_remove(struct bundle *b, char **argv)
{
    size_t i = strtoull(argv[4], NULL, 10);
    struct bundle_event *e;

    if (i >= b->event_count) {
        fprintf(stderr, "bundle_tamper: no event %zu\n", i);
        return 2;
    }
    e = &b->events[i];
    tdei_free(e->tx);
    tdei_free(e->result);
    tdei_free(e->tx_proof.path);
    tdei_free(e->result_proof.path);
    memmove(e, e + 1, (b->event_count - i - 1) * sizeof(*e));
    b->event_count--;
    return 0;
}

static int edit_swap(struct bundle *b, char **argv)
{
    size_t i = strtoull(argv[4], NULL, 10);
    size_t j = strtoull(argv[5], NULL, 10);
    struct bundle_event t;

    if (i >= b->event_count || j >= b->event_count) {
        fprintf(stderr, "bundle_tamper: no such events\n");
        return 2;
    }
    t = b->events[i];
    b->events[i] = b->events[j];
    b->events[j] = t;
    return 0;
}

static int edit_drop(struct bundle *b, char **argv)
{
    uint64_t height = strtoull(argv[4], NULL, 10);
    size_t keep = strtoull(argv[5], NULL, 10);
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    limits.validators_max = BUNDLE_VALIDATORS_MAX;
    for (size_t j = 0; j < b->header_count; j++) {
        struct bundle_header *h = &b->headers[j];
        Tdei__Commit *c = NULL;
        uint8_t *bytes = NULL;
        size_t len = 0;
        size_t had;
        if (h->height != height) {
            continue;
        }
        if (codec_commit_decode(&c, h->commit, h->commit_len, &limits,
                                errmsg) != 0) {
            fprintf(stderr, "bundle_tamper: %s\n", errmsg);
            return 2;
        }
        had = c->n_signatures;
        if (keep >= had) {
            fprintf(stderr, "bundle_tamper: the commit has %zu signatures\n",
                    had);
            codec_commit_free(c);
            return 2;
        }
        c->n_signatures = keep;
        if (codec_commit_encode(c, &bytes, &len) != 0) {
            c->n_signatures = had;
            codec_commit_free(c);
            return 2;
        }
        c->n_signatures = had; /* so that every signature is freed */
        codec_commit_free(c);
        tdei_free(h->commit);
        h->commit = bytes;
        h->commit_len = len;
        fprintf(stderr,
                "bundle_tamper: commit of height %" PRIu64
                " cut from %zu to %zu signatures\n",
                height, had, keep);
        return 0;
    }
    fprintf(stderr, "bundle_tamper: no header of height %" PRIu64 "\n", height);
    return 2;
}

int main(int argc, char **argv)
{
    if (tdei_crypto_init() != 0) {
        return 2;
    }
    if (argc < 2) {
        return usage();
    }
    if (strcmp(argv[1], "flips") == 0) {
        return cmd_flips(argc, argv);
    }
    if (strcmp(argv[1], "flip") == 0) {
        return cmd_flip(argc, argv);
    }
    if (strcmp(argv[1], "remove-event") == 0 && argc == 5) {
        return rewrite(argv[2], argv[3], edit_remove, argv);
    }
    if (strcmp(argv[1], "swap-events") == 0 && argc == 6) {
        return rewrite(argv[2], argv[3], edit_swap, argv);
    }
    if (strcmp(argv[1], "drop-signatures") == 0 && argc == 6) {
        return rewrite(argv[2], argv[3], edit_drop, argv);
    }
    return usage();
}
