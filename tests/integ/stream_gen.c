/* stream_gen COUNT RATE [START]: a data collector for the stream tests.
 * Writes COUNT lines to standard output at a steady RATE lines per second,
 * each a JSON object with the source time (Unix ms, when the line is
 * written), its number and a payload:
 *
 *   {"ts":1795571002811,"n":17,"v":"press 17 at 4.25 bar"}
 *
 * Numbers start at START (default 0). Lines are flushed as they are
 * written, so a reader sees each one at its time; when the reader falls
 * behind, the generator does not speed up to catch up later (it keeps
 * one line per 1/RATE s from when it could write again). Exit status 0,
 * 2 on bad arguments, 1 when standard output fails. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t mono_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || text[0] == '-' || v < min || v > max) {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t count;
    uint64_t rate;
    uint64_t start = 0;
    uint64_t period_ns;
    uint64_t next;

    if (argc < 3 || argc > 4 || parse(argv[1], 1, 100000000, &count) != 0 ||
        parse(argv[2], 1, 1000000, &rate) != 0 ||
        (argc == 4 && parse(argv[3], 0, UINT64_MAX / 2, &start) != 0)) {
        fprintf(stderr, "usage: stream_gen COUNT RATE [START]: COUNT "
                        "1-100000000 lines at RATE 1-1000000 per second, "
                        "numbered from START\n");
        return 2;
    }
    period_ns = 1000000000u / rate;
    next = mono_ns();
    for (uint64_t i = 0; i < count; i++) {
        uint64_t now = mono_ns();
        uint64_t n = start + i;

        if (now < next) {
            uint64_t wait = next - now;
            struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u),
                                  .tv_nsec = (long)(wait % 1000000000u)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        } else if (now - next > 100000000u) {
            next = now; /* more than 100 ms behind: do not burst */
        }
        next += period_ns;
        if (printf("{\"ts\":%" PRIu64 ",\"n\":%" PRIu64
                   ",\"v\":\"press %" PRIu64 " at %" PRIu64 ".%02" PRIu64
                   " bar\"}\n",
                   wall_ms(), n, n, n % 7, n % 100) < 0 ||
            fflush(stdout) != 0) {
            return 1;
        }
    }
    return 0;
}
