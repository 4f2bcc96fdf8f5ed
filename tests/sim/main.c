/* tests/sim/sim: the consensus cluster simulator's command line.
 *
 *   sim --seed S --nodes N --faults LIST --steps K [--broken B] [--verbose]
 *       one run; on a violation prints it and the command that replays it
 *       and exits 1.
 *   sim --seeds A-B [--mix | --nodes N --faults LIST] [--steps K]
 *       [--broken B] [--expect-caught INVARIANT] [--known NAMES]
 *       runs the seeds A..B (--mix: node count 4-10 and fault mix chosen
 *       by the seed), prints every failure's replay command and one JSON
 *       summary line; exits 1 on any failure. With --expect-caught it
 *       exits 0 only when some seed violated INVARIANT: the self-check
 *       that a --broken variant is caught. --known lists invariants
 *       whose failures are reported (KNOWN) but do not fail the range: a
 *       diagnosed engine bug that is not fixed yet, never a new one.
 *   sim --soak [--seeds A-B]
 *       the long mode: seeds 1-100000 by default, mixed, every 100th seed
 *       with 31 nodes.
 *   --valset (with any of them): the chain adds a validator and removes
 *       one while it commits (sim.h); the summary counts the certificates
 *       that hold the joiner's precommit.
 *
 * Exit: 0 pass, 1 a violation (or nothing caught), 2 usage. */
#include "sim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEPS_DEFAULT 1500u
#define FAILURES_PRINTED 20u

static const struct
{
    const char *name;
    unsigned bit;
} fault_names[] = {
    {"equivocate", SIM_F_EQUIVOCATE},
    {"silent", SIM_F_SILENT},
    {"unknown", SIM_F_UNKNOWN},
    {"invalid", SIM_F_INVALID},
    {"crash", SIM_F_CRASH},
    {"amnesia", SIM_F_AMNESIA},
    {"partition", SIM_F_PARTITION},
    {"loss", SIM_F_LOSS},
    {"dup", SIM_F_DUP},
    {"skew", SIM_F_SKEW},
    {"isolate", SIM_F_ISOLATE},
};
#define FAULT_NAMES (sizeof(fault_names) / sizeof(fault_names[0]))

/* The fault mixes of --mix: each alone, the network ones together, the
 * Byzantine ones with network trouble, and everything at once. */
static const char *const mixes[] = {
    "none",
    "loss",
    "dup,loss",
    "partition",
    "crash",
    "skew",
    "isolate",
    "isolate,loss",
    "isolate,loss",
    "isolate,crash,dup",
    "crash,loss,dup",
    "partition,crash,skew",
    "partition,isolate,loss",
    "equivocate",
    "equivocate,isolate",
    "equivocate,partition,loss",
    "equivocate,crash,dup,isolate",
    "silent",
    "silent,crash,partition",
    "silent,isolate,loss",
    "unknown,invalid,dup",
    "invalid,partition,loss",
    "amnesia,crash,partition",
    "amnesia,equivocate,loss",
    "skew,loss,crash,partition,isolate",
    "equivocate,silent,unknown,invalid,skew",
    "equivocate,silent,unknown,invalid,crash,amnesia,partition,loss,dup,"
    "skew,isolate",
};
#define MIXES (sizeof(mixes) / sizeof(mixes[0]))

int sim_faults_parse(const char *list, unsigned *out)
{
    char buf[256];
    char *save = NULL;

    *out = 0;
    if (strcmp(list, "none") == 0 || list[0] == '\0') {
        return 0;
    }
    if (strlen(list) >= sizeof(buf)) {
        return -1;
    }
    strcpy(buf, list);
    for (char *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < FAULT_NAMES; i++) {
            if (strcmp(t, fault_names[i].name) == 0) {
                *out |= fault_names[i].bit;
                break;
            }
        }
        if (i == FAULT_NAMES) {
            return -1;
        }
    }
    return 0;
}

void sim_faults_format(unsigned faults, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < FAULT_NAMES; i++) {
        if (faults & fault_names[i].bit) {
            int w = snprintf(out + used, size - used, "%s%s", used ? "," : "",
                             fault_names[i].name);
            if (w < 0 || (size_t)w >= size - used) {
                break;
            }
            used += (size_t)w;
        }
    }
    if (used == 0) {
        snprintf(out, size, "none");
    }
}

static const char *const broken_names[] = {"none",  "lock",     "quorum",
                                           "guard", "validity", "evidence",
                                           "valset"};

const char *sim_broken_name(enum sim_broken b) { return broken_names[b]; }

static int broken_parse(const char *s, enum sim_broken *out)
{
    for (unsigned i = 0; i < sizeof(broken_names) / sizeof(broken_names[0]);
         i++) {
        if (strcmp(s, broken_names[i]) == 0) {
            *out = (enum sim_broken)i;
            return 0;
        }
    }
    return -1;
}

static uint64_t mix_hash(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* --mix: the seed picks the node count (4-10; 31 for every 100th seed of
 * the soak) and the fault mix; the steps before GST grow with the node
 * count (a height costs about 3n^2 deliveries), from @steps at 4 nodes. */
static void mix_config(struct sim_config *cfg, uint64_t seed, int soak,
                       uint64_t steps)
{
    uint64_t h = mix_hash(seed ^ 0x6d69786d69786d69ull);

    cfg->seed = seed;
    cfg->nodes = 4u + (unsigned)(h % 7u);
    if (soak && seed % 100u == 0) {
        cfg->nodes = 31;
    }
    cfg->steps = steps * cfg->nodes / 4u;
    (void)sim_faults_parse(mixes[(h >> 16) % MIXES], &cfg->faults);
}

static void print_replay(FILE *out, const struct sim_config *cfg)
{
    char faults[256];

    sim_faults_format(cfg->faults, faults, sizeof(faults));
    fprintf(out,
            "replay: tests/sim/sim --seed %" PRIu64
            " --nodes %u --faults %s --steps %" PRIu64 "%s%s%s%s\n",
            cfg->seed, cfg->nodes, faults, cfg->steps,
            cfg->broken ? " --broken " : "",
            cfg->broken ? sim_broken_name(cfg->broken) : "",
            cfg->skip_certificate ? " --skip-certificate" : "",
            cfg->valset ? " --valset" : "");
}

static double wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

struct opts
{
    struct sim_config cfg;
    uint64_t first, last; /* --seeds */
    int range, mix, soak;
    const char *expect; /* --expect-caught */
    const char *known;  /* --known: invariant names, comma-separated */
};

/* 1 when @name is in the comma-separated @list. */
static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);

    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, name, len) == 0) {
            return 1;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

static int run_one(const struct opts *o)
{
    struct sim_result res;
    char faults[256];
    int rc = sim_run(&o->cfg, &res);

    sim_faults_format(o->cfg.faults, faults, sizeof(faults));
    if (rc == 2) {
        fprintf(stderr, "sim: %s\n", res.reason);
        return 2;
    }
    if (rc != 0) {
        printf("FAIL seed %" PRIu64 ": %s: %s\n", o->cfg.seed, res.invariant,
               res.reason);
        print_replay(stdout, &o->cfg);
        return 1;
    }
    printf("ok seed %" PRIu64 " nodes %u faults %s: %" PRIu64
           " heights, %" PRIu64 " events, %" PRIu64 " restarts, %" PRIu64
           " equivocations, %.3f s simulated",
           o->cfg.seed, o->cfg.nodes, faults, res.heights, res.events,
           res.restarts, res.evidence, (double)res.sim_time_us / 1e6);
    if (o->cfg.valset) {
        printf("; validator added by block %" PRIu64
               ", removed by block %" PRIu64 ", the joiner in %" PRIu64
               " commits",
               res.vset_added, res.vset_removed, res.joiner_signed);
    }
    printf("\n");
    return 0;
}

/* Failures per invariant name, for the summary. */
struct tally
{
    const char *name[16];
    uint64_t count[16];
    unsigned n;
};

static void tally_add(struct tally *t, const char *name)
{
    unsigned i;

    for (i = 0; i < t->n; i++) {
        if (strcmp(t->name[i], name) == 0) {
            break;
        }
    }
    if (i == t->n) {
        if (t->n == 16) {
            return;
        }
        t->name[t->n++] = name;
    }
    t->count[i]++;
}

static void tally_print(const struct tally *t)
{
    printf("{");
    for (unsigned i = 0; i < t->n; i++) {
        printf("%s\"%s\":%" PRIu64, i ? "," : "", t->name[i], t->count[i]);
    }
    printf("}");
}

static int run_range(const struct opts *o)
{
    uint64_t failures = 0, caught = 0, heights = 0, events = 0, seeds = 0;
    uint64_t known = 0, changed = 0, joiner_signed = 0;
    double start = wall_ms();
    struct tally tally = {0};

    for (uint64_t seed = o->first; seed <= o->last; seed++) {
        struct sim_config cfg = o->cfg;
        struct sim_result res;
        int rc;
        if (o->mix) {
            mix_config(&cfg, seed, o->soak, o->cfg.steps);
        }
        cfg.seed = seed;
        rc = sim_run(&cfg, &res);
        seeds++;
        heights += res.heights;
        events += res.events;
        changed += rc == 0 && res.vset_added != 0 && res.vset_removed != 0;
        joiner_signed += res.joiner_signed;
        if (rc == 2) {
            fprintf(stderr, "sim: %s\n", res.reason);
            return 2;
        }
        if (rc != 0) {
            int is_known = o->known != NULL && in_list(o->known, res.invariant);
            tally_add(&tally, res.invariant);
            if (o->expect != NULL && strcmp(res.invariant, o->expect) == 0) {
                caught++;
            }
            if (is_known) {
                known++;
            } else {
                failures++;
            }
            if (known + failures <= FAILURES_PRINTED) {
                printf("%s seed %" PRIu64 ": %s: %s\n",
                       is_known ? "KNOWN" : "FAIL", seed, res.invariant,
                       res.reason);
                print_replay(stdout, &cfg);
            }
        }
    }
    printf("{\"seeds\":%" PRIu64 ",\"failures\":%" PRIu64 ",\"known\":%" PRIu64
           ",\"caught\":%" PRIu64 ",\"heights\":%" PRIu64 ",\"events\":%" PRIu64
           ",\"broken\":\"%s\",\"wall_ms\":%.0f,",
           seeds, failures, known, caught, heights, events,
           sim_broken_name(o->cfg.broken), wall_ms() - start);
    if (o->cfg.valset) {
        printf("\"valset_changed\":%" PRIu64 ",\"joiner_signed\":%" PRIu64
               ",",
               changed, joiner_signed);
    }
    printf("\"by_invariant\":");
    tally_print(&tally);
    printf("}\n");
    if (o->expect != NULL) {
        return caught > 0 ? 0 : 1;
    }
    return failures > 0 ? 1 : 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: sim --seed S --nodes N --faults LIST --steps K "
            "[--broken B] [--verbose]\n"
            "       sim --seeds A-B [--mix | --nodes N --faults LIST] "
            "[--steps K] [--broken B] [--expect-caught INVARIANT]\n"
            "       sim --soak [--seeds A-B]\n"
            "--known NAMES: failures of these invariants are reported as "
            "KNOWN and do not fail a range\n"
            "faults: equivocate,silent,unknown,invalid,crash,amnesia,"
            "partition,loss,dup,skew,isolate (or none)\n"
            "broken: lock, quorum, guard, validity, evidence, valset\n"
            "--skip-certificate: leave the certificate invariant out (to "
            "see the others catch --broken quorum)\n"
            "--valset: a validator joins and one leaves while the chain "
            "commits\n");
    return 2;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    *out = strtoull(s, &end, 10);
    return *end == '\0' ? 0 : -1;
}

static int parse_range(const char *s, uint64_t *first, uint64_t *last)
{
    char buf[64];
    char *dash;

    if (s == NULL || strlen(s) >= sizeof(buf)) {
        return -1;
    }
    strcpy(buf, s);
    dash = strchr(buf, '-');
    if (dash == NULL) {
        return parse_u64(buf, first) == 0 ? (*last = *first, 0) : -1;
    }
    *dash = '\0';
    if (parse_u64(buf, first) != 0 || parse_u64(dash + 1, last) != 0 ||
        *last < *first) {
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    uint64_t v;

    o->cfg.nodes = 4;
    o->cfg.steps = STEPS_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--seed") == 0 && parse_u64(val, &o->cfg.seed) == 0) {
            i++;
        } else if (strcmp(a, "--nodes") == 0 && parse_u64(val, &v) == 0 &&
                   v <= SIM_NODES_MAX) {
            o->cfg.nodes = (unsigned)v;
            i++;
        } else if (strcmp(a, "--faults") == 0 && val != NULL &&
                   sim_faults_parse(val, &o->cfg.faults) == 0) {
            i++;
        } else if (strcmp(a, "--steps") == 0 &&
                   parse_u64(val, &o->cfg.steps) == 0) {
            i++;
        } else if (strcmp(a, "--broken") == 0 && val != NULL &&
                   broken_parse(val, &o->cfg.broken) == 0) {
            i++;
        } else if (strcmp(a, "--seeds") == 0 &&
                   parse_range(val, &o->first, &o->last) == 0) {
            o->range = 1;
            i++;
        } else if (strcmp(a, "--expect-caught") == 0 && val != NULL) {
            o->expect = val;
            i++;
        } else if (strcmp(a, "--known") == 0 && val != NULL) {
            o->known = val;
            i++;
        } else if (strcmp(a, "--mix") == 0) {
            o->mix = 1;
        } else if (strcmp(a, "--soak") == 0) {
            o->soak = 1;
        } else if (strcmp(a, "--valset") == 0) {
            o->cfg.valset = 1;
        } else if (strcmp(a, "--skip-certificate") == 0) {
            o->cfg.skip_certificate = 1;
        } else if (strcmp(a, "--verbose") == 0) {
            o->cfg.verbose = 1;
        } else {
            fprintf(stderr, "sim: bad argument %s%s%s\n", a,
                    val != NULL ? " " : "", val != NULL ? val : "");
            return -1;
        }
    }
    if (o->soak) {
        o->mix = 1;
        if (!o->range) {
            o->range = 1;
            o->first = 1;
            o->last = 100000;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {0};

    if (parse_args(argc, argv, &o) != 0) {
        return usage();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    return o.range ? run_range(&o) : run_one(&o);
}
