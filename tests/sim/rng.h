/* The simulator's one source of randomness: splitmix64 (Steele, Lea and
 * Flood 2014), seeded once per run. Every random choice of a run comes from
 * here, in a fixed order, so a seed replays a run exactly. */
#ifndef TDEI_SIM_RNG_H
#define TDEI_SIM_RNG_H

#include <stdint.h>

struct sim_rng
{
    uint64_t state;
};

static inline void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    r->state = seed ^ 0x5dee7a11d1ce5eedull;
}

static inline uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, @n); 0 when @n is 0. The modulo bias (below 2^-40 for
 * the ranges used here) does not matter for a test's choices. */
static inline uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
    return n == 0 ? 0 : sim_rng_next(r) % n;
}

/* Uniform in [@lo, @hi]. */
static inline uint64_t sim_rng_between(struct sim_rng *r, uint64_t lo,
                                       uint64_t hi)
{
    return lo + sim_rng_below(r, hi - lo + 1);
}

/* 1 with probability @permille / 1000. */
static inline int sim_rng_permille(struct sim_rng *r, uint32_t permille)
{
    return sim_rng_below(r, 1000) < permille;
}

#endif
