/* bench_bundle: how long `tdei verify` takes on a large proof bundle
 * (issue 8: a bundle of 10,000 events in under 2 s).
 *
 * Builds a synthetic chain (tests/unit/bundle_fixture.h: 4 validators,
 * one replaced halfway, real BIP-340 signatures and RFC 6962 roots) whose
 * dataset has --events events (default 10,000), --per-block of them in
 * each block (default 10) among --others other txs (default 5), every 7th
 * refused; writes its bundle and genesis.json to a fresh directory under
 * $TMPDIR (or /tmp), then times:
 *   - in this process, bundle_decode and bundle_verify (the code of tdei
 *     verify) on --threads threads (default: the online cores, at most
 *     8, as tdei verify), --rounds times (default 3);
 *   - with --tdei PATH, the command `PATH verify BUNDLE --genesis FILE`
 *     as a child process, output to /dev/null, --rounds times, checking
 *     that it exits 0.
 * Prints one JSON object: sizes, the best and worst of each timing in
 * ms, and "under_2s" for the worst run of the command (or of the
 * in-process check without --tdei). Exit 0, 1 on an error or a failed
 * verification, 2 on bad arguments. */
#define _XOPEN_SOURCE 700
#include "bench_util.h"
#include "bundle_fixture.h"

#include "audit/bundle.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/keys.h"
#include "genesis.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT_MS 2000u

static int usage(void)
{
    fprintf(stderr, "usage: bench_bundle [--events N] [--per-block N] "
                    "[--others N] [--rounds N] [--threads N] [--tdei PATH] "
                    "[--out DIR]\n");
    return 2;
}

static int write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "bench_bundle: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* Run `tdei verify` once; its wall time in *us. */
static int run_cli(const char *tdei, const char *bundle, const char *genesis,
                   uint64_t *us)
{
    uint64_t t0 = bench_now_us();
    pid_t pid = fork();
    int status = 0;

    if (pid < 0) {
        perror("bench_bundle: fork");
        return 1;
    }
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL) {
            _exit(126);
        }
        execl(tdei, tdei, "verify", bundle, "--genesis", genesis, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("bench_bundle: waitpid");
        return 1;
    }
    *us = bench_now_us() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_bundle: %s verify exited %d\n", tdei,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bfx_opts o = {
        .validators = 4,
        .events = 10000,
        .events_per_block = 10,
        .others_per_block = 5,
        .refuse_every = 7,
        .other_signs_every = 13,
    };
    unsigned events = 10000;
    unsigned per_block = 10;
    unsigned others = 5;
    unsigned rounds = 3;
    unsigned threads = 1;
    unsigned threads_opt = 0;
    const char *tdei = NULL;
    const char *out_dir = NULL; /* --out: keep the files there */
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    char bundle_path[600];
    char genesis_path[600];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct bfx fx;
    char *text = NULL;
    size_t len = 0;
    uint64_t t0;
    uint64_t build_us;
    uint64_t dec_min = UINT64_MAX, dec_max = 0;
    uint64_t ver_min = UINT64_MAX, ver_max = 0;
    uint64_t in_min = UINT64_MAX, in_max = 0;
    uint64_t cli_min = UINT64_MAX, cli_max = 0;
    size_t headers = 0;
    size_t commit_sigs = 0;
    int rc = 0;

    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) {
            return usage();
        }
        if (strcmp(argv[i], "--events") == 0) {
            rc = bench_parse_uint(argv[i + 1], 1, BUNDLE_EVENTS_MAX, &events);
        } else if (strcmp(argv[i], "--per-block") == 0) {
            rc = bench_parse_uint(argv[i + 1], 1, 10000, &per_block);
        } else if (strcmp(argv[i], "--others") == 0) {
            rc = bench_parse_uint(argv[i + 1], 0, 10000, &others);
        } else if (strcmp(argv[i], "--rounds") == 0) {
            rc = bench_parse_uint(argv[i + 1], 1, 100, &rounds);
        } else if (strcmp(argv[i], "--threads") == 0) {
            rc = bench_parse_uint(argv[i + 1], 1, BUNDLE_VERIFY_THREADS,
                                  &threads_opt);
        } else if (strcmp(argv[i], "--out") == 0) {
            out_dir = argv[i + 1];
        } else if (strcmp(argv[i], "--tdei") == 0) {
            tdei = argv[i + 1];
        } else {
            return usage();
        }
        if (rc != 0) {
            return usage();
        }
    }
    if (tdei_crypto_init() != 0) {
        return 1;
    }
    {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1u : n > 8 ? 8u : (unsigned)n;
        if (threads_opt != 0) {
            threads = threads_opt;
        }
    }
    o.events = events;
    o.events_per_block = per_block;
    o.others_per_block = others;
    o.change_from = (events / per_block) / 2 + 3;
    if (out_dir != NULL) {
        (void)snprintf(dir, sizeof(dir), "%s", out_dir);
    } else {
        (void)snprintf(dir, sizeof(dir), "%s/tdei-bench-bundle-XXXXXX",
                       tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL) {
            perror("bench_bundle: mkdtemp");
            return 1;
        }
    }
    (void)snprintf(bundle_path, sizeof(bundle_path), "%s/bundle.json", dir);
    (void)snprintf(genesis_path, sizeof(genesis_path), "%s/genesis.json", dir);
    t0 = bench_now_us();
    if (bfx_build(&fx, &o) != 0) {
        fprintf(stderr, "bench_bundle: cannot build the chain\n");
        if (out_dir == NULL) {
            bench_rmtree(dir);
        }
        return 1;
    }
    build_us = bench_now_us() - t0;
    headers = fx.bundle.header_count;
    if (bundle_encode(&fx.bundle, &text, &len) != 0 ||
        write_text(bundle_path, text, len) != 0 ||
        genesis_save(&fx.genesis, genesis_path, errmsg) != 0) {
        fprintf(stderr, "bench_bundle: cannot write the files %s\n", errmsg);
        rc = 1;
    }
    for (unsigned r = 0; rc == 0 && r < rounds; r++) {
        struct bundle b;
        struct bundle_report rep;
        uint64_t t1 = bench_now_us();
        uint64_t t2;
        uint64_t t3;
        rc = bundle_decode(&b, text, len, errmsg);
        t2 = bench_now_us();
        if (rc == 0) {
            rc = bundle_verify(&b, &fx.genesis, threads, &rep, errmsg);
            commit_sigs = rep.commit_signatures;
            bundle_report_free(&rep);
            bundle_free(&b);
        }
        t3 = bench_now_us();
        if (rc != 0) {
            fprintf(stderr, "bench_bundle: the bundle does not verify: %s\n",
                    errmsg);
            rc = 1;
            break;
        }
        dec_min = t2 - t1 < dec_min ? t2 - t1 : dec_min;
        dec_max = t2 - t1 > dec_max ? t2 - t1 : dec_max;
        ver_min = t3 - t2 < ver_min ? t3 - t2 : ver_min;
        ver_max = t3 - t2 > ver_max ? t3 - t2 : ver_max;
        in_min = t3 - t1 < in_min ? t3 - t1 : in_min;
        in_max = t3 - t1 > in_max ? t3 - t1 : in_max;
    }
    for (unsigned r = 0; rc == 0 && tdei != NULL && r < rounds; r++) {
        uint64_t us = 0;
        rc = run_cli(tdei, bundle_path, genesis_path, &us);
        cli_min = us < cli_min ? us : cli_min;
        cli_max = us > cli_max ? us : cli_max;
    }
    if (rc == 0) {
        uint64_t worst = tdei != NULL ? cli_max : in_max;
        printf("{\"events\": %u, \"events_per_block\": %u, "
               "\"other_txs_per_block\": %u, \"blocks\": %" PRIu64
               ", \"headers\": %zu, \"validator_changes\": %zu, "
               "\"commit_signatures\": %zu, \"bundle_bytes\": %zu, "
               "\"build_ms\": %" PRIu64 ", \"rounds\": %u, \"threads\": %u, "
               "\"decode_ms\": {\"min\": %" PRIu64 ", \"max\": %" PRIu64
               "}, \"verify_ms\": {\"min\": %" PRIu64 ", \"max\": %" PRIu64
               "}, \"in_process_ms\": {\"min\": %" PRIu64 ", \"max\": %" PRIu64
               "}",
               events, per_block, others, fx.height, headers,
               fx.bundle.change_count, commit_sigs, len, build_us / 1000,
               rounds, threads, dec_min / 1000, dec_max / 1000, ver_min / 1000,
               ver_max / 1000, in_min / 1000, in_max / 1000);
        if (tdei != NULL) {
            printf(", \"tdei_verify_ms\": {\"min\": %" PRIu64
                   ", \"max\": %" PRIu64 "}",
                   cli_min / 1000, cli_max / 1000);
        }
        printf(", \"limit_ms\": %u, \"under_2s\": %s}\n", LIMIT_MS,
               worst / 1000 < LIMIT_MS ? "true" : "false");
    }
    tdei_free(text);
    bfx_free(&fx);
    if (out_dir == NULL) {
        bench_rmtree(dir);
    }
    return rc;
}
