/* bench_signer: the cost of one double-sign guard write (signer.h), which
 * the node makes synchronously on its loop thread before every proposal
 * and vote it signs (three per block with one validator).
 *
 * Persists --records records for successive (height, step) positions,
 * each with real sign bytes (the codec's vote and proposal layouts for a
 * 10-byte chain id) and a real BIP-340 signature, into a fresh store.
 * Prints JSON: signer_persist latency p50/p95/p99/max/mean in
 * microseconds, and the signing time for comparison.
 *
 *   bench_signer [--dir DIR] [--records N]
 *
 * Without --dir it uses a fresh directory under $TMPDIR (or /tmp) and
 * removes it afterwards. Exit status: 0, 1 on a store error, 2 on bad
 * arguments. */
#define _XOPEN_SOURCE 700
#include "bench_util.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/keys.h"
#include "signer.h"
#include "store/store.h"
#include "votes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_RECORDS_MAX 1000000u
#define BENCH_CHAIN "bench-sign"

/* Fill @rec with position @i: height i / 3 + 1, step i % 3 + 1, round 0,
 * signed by @crypto. */
static void bench_record(struct cons_signed *rec, const struct cons_crypto *c,
                         uint64_t i)
{
    uint8_t id[CONS_ID_SIZE];

    memset(rec, 0, sizeof(*rec));
    memset(id, (int)(i & 0xffu), sizeof(id));
    rec->height = i / 3u + 1u;
    rec->step = (enum cons_step)(i % 3u + 1u);
    rec->id.nil = 0;
    memcpy(rec->id.bytes, id, CONS_ID_SIZE);
    rec->pol_round = -1;
    if (rec->step == CONS_STEP_PROPOSE) {
        struct cons_proposal p = {.height = rec->height, .pol_round = -1};
        memcpy(p.id, id, CONS_ID_SIZE);
        rec->len = c->proposal_bytes(c->impl, &p, rec->bytes);
    } else {
        struct cons_vote v = {.height = rec->height};
        v.type = rec->step == CONS_STEP_PREVOTE ? CONS_PREVOTE : CONS_PRECOMMIT;
        v.id = rec->id;
        rec->len = c->vote_bytes(c->impl, &v, rec->bytes);
    }
}

static int bench_run(const char *dir, unsigned records)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint8_t secret[TDEI_SECKEY_SIZE];
    struct tdei_keypair key;
    struct votes_crypto vc;
    struct cons_crypto crypto;
    struct store *s = NULL;
    uint64_t *lat = tdei_calloc(records, sizeof(*lat));
    uint64_t total_us = 0;
    uint64_t sign_us = 0;
    int rc = TDEI_NOMEM;

    memset(secret, 0x5a, sizeof(secret));
    memset(&key, 0, sizeof(key));
    if (lat == NULL || tdei_crypto_init() != 0 ||
        tdei_keypair_from_secret(&key, secret) != 0) {
        goto out;
    }
    votes_crypto_init(&vc, &crypto, BENCH_CHAIN, &key);
    rc = store_open(&s, dir, NULL, errmsg);
    for (uint64_t i = 0; i < records && rc == 0; i++) {
        struct cons_signed rec;
        uint64_t t0 = bench_now_us();
        bench_record(&rec, &crypto, i);
        rc = crypto.sign(crypto.impl, rec.bytes, rec.len, rec.sig);
        sign_us += bench_now_us() - t0;
        if (rc != 0) {
            (void)snprintf(errmsg, sizeof(errmsg), "signing failed");
            break;
        }
        t0 = bench_now_us();
        rc = signer_persist(s, &rec, errmsg);
        lat[i] = bench_now_us() - t0;
        total_us += lat[i];
    }
    if (rc != 0) {
        fprintf(stderr, "bench_signer: %s: %s\n", tdei_errname(rc), errmsg);
        goto out;
    }
    qsort(lat, records, sizeof(*lat), bench_cmp_u64);
    printf("{\"records\": %u, \"persist_us\": {\"p50\": %" PRIu64
           ", \"p95\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64
           ", \"mean\": %" PRIu64 "}, \"sign_us_mean\": %" PRIu64 "}\n",
           records, lat[records / 2], lat[(size_t)records * 95 / 100],
           lat[(size_t)records * 99 / 100], lat[records - 1],
           total_us / records, sign_us / records);
out:
    store_close(s);
    tdei_keypair_wipe(&key);
    tdei_free(lat);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *dir_arg = NULL;
    unsigned records = 600;
    const char *base = getenv("TMPDIR");
    char tmp[4096];
    char dir[4200];
    int rc;

    for (int i = 1; i < argc; i += 2) {
        char *end = NULL;
        unsigned long v;
        if (i + 1 >= argc) {
            goto usage;
        }
        if (strcmp(argv[i], "--dir") == 0) {
            dir_arg = argv[i + 1];
            continue;
        }
        if (strcmp(argv[i], "--records") != 0) {
            goto usage;
        }
        v = strtoul(argv[i + 1], &end, 10);
        if (end == argv[i + 1] || *end != '\0' || v < 1 ||
            v > BENCH_RECORDS_MAX) {
            goto usage;
        }
        records = (unsigned)v;
    }
    if (dir_arg != NULL) {
        return bench_run(dir_arg, records);
    }
    (void)snprintf(tmp, sizeof(tmp), "%s/tdei-bench-XXXXXX",
                   base != NULL ? base : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        perror("bench_signer: mkdtemp");
        return 1;
    }
    (void)snprintf(dir, sizeof(dir), "%s/ledger", tmp);
    rc = bench_run(dir, records);
    bench_rmtree(tmp);
    return rc;
usage:
    fprintf(stderr,
            "usage: bench_signer [--dir DIR] [--records N "
            "(1-%u)]\n",
            BENCH_RECORDS_MAX);
    return 2;
}
