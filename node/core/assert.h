/* Assertions that stay on in release builds.
 *
 * TDEI_ASSERT(cond) checks our own invariants and API contracts (a NULL
 * where none is allowed, a call in the wrong state). It is never used for
 * bytes from the network, disk or operators: those get error codes. On
 * failure it prints the file, line and expression to stderr and aborts.
 * TDEI_DEBUG_ASSERT is for checks too costly for production; it is compiled
 * only when TDEI_DEBUG is defined. */
#ifndef TDEI_CORE_ASSERT_H
#define TDEI_CORE_ASSERT_H

/* Report a failed assertion and abort. Does not return. */
void tdei_assert_fail(const char *file, int line, const char *expr)
    __attribute__((noreturn));

#define TDEI_ASSERT(cond)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            tdei_assert_fail(__FILE__, __LINE__, #cond);                      \
        }                                                                     \
    } while (0)

#ifdef TDEI_DEBUG
#define TDEI_DEBUG_ASSERT(cond) TDEI_ASSERT(cond)
#else
#define TDEI_DEBUG_ASSERT(cond) ((void)0)
#endif

#endif
