/* tdei error codes: names and messages from the one X-macro list. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *tdei_strerror(int code)
{
    switch (code) {
    case TDEI_OK:
        return "success";
#define TDEI_ERROR_CASE(name, number, message)                                \
    case name:                                                                \
        return message;
        TDEI_ERRORS(TDEI_ERROR_CASE)
#undef TDEI_ERROR_CASE
    default:
        return "unknown error code";
    }
}

const char *tdei_errname(int code)
{
    switch (code) {
    case TDEI_OK:
        return "TDEI_OK";
#define TDEI_ERROR_NAME(name, number, message)                                \
    case name:                                                                \
        return #name;
        TDEI_ERRORS(TDEI_ERROR_NAME)
#undef TDEI_ERROR_NAME
    default:
        return "TDEI_UNKNOWN";
    }
}

int tdei_errorf(char *errmsg, size_t size, int code, const char *fmt, ...)
{
    va_list ap;

    if (size == 0) {
        return code;
    }
    va_start(ap, fmt);
    (void)vsnprintf(errmsg, size, fmt, ap);
    va_end(ap);
    return code;
}

int tdei_errwrap(char *errmsg, size_t size, int code, const char *fmt, ...)
{
    char old[TDEI_ERRMSG_SIZE];
    char prefix[TDEI_ERRMSG_SIZE];
    va_list ap;

    if (size == 0) {
        return code;
    }
    (void)snprintf(old, sizeof(old), "%s", errmsg);
    va_start(ap, fmt);
    (void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (old[0] == '\0') {
        (void)snprintf(errmsg, size, "%s", prefix);
    } else {
        (void)snprintf(errmsg, size, "%s: %s", prefix, old);
    }
    return code;
}
