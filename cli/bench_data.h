/* `tdei bench --data` (cli/bench_data.c): the data plane of a fresh
 * localnet measured from the outside, printed as one JSON object:
 *   (a) a payload published by one member and fetched by another over
 *       loopback: the time from its delivery on the ledger until every
 *       chunk is checked and stored at the consumer, and until the fetch
 *       answers (decrypted and written), as MiB/s;
 *   (b) stream records pushed at a steady rate into the owner's node:
 *       latency = when the subscriber's node stored each record
 *       (StreamRecord.stored_ms) minus when it was sent to the owner's
 *       node, p50 and p99 (one machine, one clock).
 * Pointers are non-NULL unless stated. */
#ifndef TDEI_CLI_BENCH_DATA_H
#define TDEI_CLI_BENCH_DATA_H

#include "home.h"

#include <stdint.h>

#define BENCH_DATA_NODES_DEFAULT 2u
#define BENCH_DATA_MIB_DEFAULT 64u
#define BENCH_DATA_RATE_DEFAULT 500u    /* records per second */
#define BENCH_DATA_SECONDS_DEFAULT 10u  /* of pushing */
#define BENCH_DATA_RECORDS_MAX 1000000u /* rate x seconds at most */

struct bench_data_args
{
    uint64_t nodes;          /* validators of the localnet, >= 2 */
    uint64_t payload_mib;    /* --payload-mib */
    uint64_t stream_rate;    /* --stream-rate, records/s */
    uint64_t stream_seconds; /* --stream-seconds */
    int keep;                /* --keep: leave the localnet running */
    const char *dir;         /* --dir, or NULL: a new .tdei/bench-XXXXXX */
};

/* Run the measurement of @a in a new localnet and print its JSON object
 * on stdout. Returns the exit code: 0; 1 when the localnet or a step
 * fails (stderr says which); every node started is stopped unless
 * a->keep. */
int bench_data_run(const struct bench_data_args *a);

/* The directory a bench runs in: @dir when not NULL, else a new
 * .tdei/bench-XXXXXX (*@made set: removed afterwards unless kept).
 * Writes it into @out (HOME_PATH_MAX bytes). Returns an exit code (the
 * error printed). Defined in cmd_bench.c. */
int cli_bench_dir(const char *dir, char *out, int *made);

#endif
