/* logfmt logger (see log.h). */
#include "core/log.h"

#include "core/assert.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum tdei_log_level tdei_log_threshold = TDEI_LOG_NOTICE;

static const char *const level_names[] = {"debug", "verbose", "notice",
                                          "warning"};

int tdei_log_level_parse(const char *text, enum tdei_log_level *level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
         i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *level = (enum tdei_log_level)i;
            return 0;
        }
    }
    return TDEI_INVAL;
}

const char *tdei_log_level_name(enum tdei_log_level level)
{
    TDEI_ASSERT((unsigned)level < 4);
    return level_names[level];
}

/* Append @text to @out at *@used as a logfmt quoted value. */
static void log_append_quoted(char *out, size_t size, size_t *used,
                              const char *text)
{
    if (*used + 1 < size) {
        out[(*used)++] = '"';
    }
    for (const char *p = text; *p != '\0' && *used + 3 < size; p++) {
        if (*p == '"' || *p == '\\') {
            out[(*used)++] = '\\';
            out[(*used)++] = *p;
        } else if (*p == '\n') {
            out[(*used)++] = '\\';
            out[(*used)++] = 'n';
        } else {
            out[(*used)++] = *p;
        }
    }
    if (*used + 1 < size) {
        out[(*used)++] = '"';
    }
    out[*used] = '\0';
}

void tdei_log_write(enum tdei_log_level level, const char *module,
                    const char *msg, const char *fields)
{
    char line[2048];
    size_t used;
    struct timespec now;
    struct tm tm;
    int n;

    (void)clock_gettime(CLOCK_REALTIME, &now);
    (void)gmtime_r(&now.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s "
                 "module=%s msg=",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000L,
                 tdei_log_level_name(level), module);
    used = n < 0 ? 0 : (size_t)n;
    if (used >= sizeof(line)) {
        used = sizeof(line) - 1;
    }
    log_append_quoted(line, sizeof(line) - 1, &used, msg);
    if (fields != NULL && fields[0] != '\0') {
        n = snprintf(line + used, sizeof(line) - 1 - used, " %s", fields);
        if (n > 0) {
            used += (size_t)n;
            if (used > sizeof(line) - 2) {
                used = sizeof(line) - 2;
            }
        }
    }
    line[used++] = '\n';
    (void)!write(STDERR_FILENO, line, used);
}

void tdei_log_fmt(enum tdei_log_level level, const char *module,
                  const char *msg, const char *fields_fmt, ...)
{
    char fields[1536];
    va_list ap;

    va_start(ap, fields_fmt);
    (void)vsnprintf(fields, sizeof(fields), fields_fmt, ap);
    va_end(ap);
    tdei_log_write(level, module, msg, fields);
}

void tdei_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "tdei: assertion failed at %s:%d: %s\n", file, line,
            expr);
    abort();
}
