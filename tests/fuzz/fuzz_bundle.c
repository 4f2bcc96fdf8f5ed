/* libFuzzer target: proof bundles as `tdei verify` reads them
 * (node/audit/bundle.h): any bytes through bundle_decode, and what it
 * accepts through bundle_verify against the genesis of a small synthetic
 * chain (tests/unit/bundle_fixture.h: one validator, replaced at height
 * 3, two events). Checks beyond "no crash, no sanitizer report": no
 * tdei_malloc block outlives the input, and an input that verifies is
 * the seed itself (any other bytes must fail: the text is canonical and
 * every byte of it is checked).
 *
 * `make check` runs it as tests/fuzz/smoke_bundle (tests/fuzz/smoke.c),
 * mutating the bundle of smoke_target_seed. */
#include "audit/bundle.h"
#include "bundle_fixture.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int smoke_target_seed(size_t i, uint8_t **data, size_t *len);

#define EXPECT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_bundle: %s:%d: %s\n", __FILE__, __LINE__,    \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* The chain, its genesis and its bundle's text, built once. */
static struct
{
    int ready;
    struct bfx fx;
    char *text;
    size_t len;
} fz;

static void fuzz_setup(void)
{
    struct bfx_opts o = {
        .validators = 1,
        .events = 2,
        .events_per_block = 1,
        .change_from = 3,
    };

    if (fz.ready) {
        return;
    }
    EXPECT(tdei_crypto_init() == 0);
    EXPECT(bfx_build(&fz.fx, &o) == 0);
    EXPECT(bundle_encode(&fz.fx.bundle, &fz.text, &fz.len) == 0);
    fz.ready = 1;
}

int smoke_target_seed(size_t i, uint8_t **data, size_t *len)
{
    fuzz_setup();
    if (i > 0) {
        return 1;
    }
    *data = tdei_malloc(fz.len);
    EXPECT(*data != NULL);
    memcpy(*data, fz.text, fz.len);
    *len = fz.len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bundle b;
    struct bundle_report rep;
    char errmsg[TDEI_ERRMSG_SIZE];
    long live;
    int rc;

    fuzz_setup();
    live = tdei_alloc_live();
    rc = bundle_decode(&b, (const char *)data, size, errmsg);
    if (rc == 0) {
        rc = bundle_verify(&b, &fz.fx.genesis, 1, &rep, errmsg);
        bundle_report_free(&rep);
        bundle_free(&b);
        EXPECT(rc != 0 || (size == fz.len && memcmp(data, fz.text, size) == 0));
    }
    EXPECT(errmsg[0] != '\0' || rc == 0);
    EXPECT(tdei_alloc_live() == live);
    return 0;
}
