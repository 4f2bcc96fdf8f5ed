/* Logging in logfmt: one line per event on stderr,
 *   ts=2026-11-24T16:18:33.123Z level=notice module=p2p msg="peer dropped" peer=7f3a
 * Levels are debug < verbose < notice < warning; lines below the configured
 * level are filtered inside the macro, before any argument is formatted.
 * Never log keys, nonces, passphrases or contract payloads.
 * The pure cores (consensus, contracts) do not call this: they emit through
 * an injected tracer, and the shell logs what they emit. */
#ifndef TDEI_CORE_LOG_H
#define TDEI_CORE_LOG_H

enum tdei_log_level {
    TDEI_LOG_DEBUG = 0,
    TDEI_LOG_VERBOSE = 1,
    TDEI_LOG_NOTICE = 2,
    TDEI_LOG_WARNING = 3,
};

/* The current threshold; lines below it are dropped. Default notice. */
extern enum tdei_log_level tdei_log_threshold;

/* Parse "debug" / "verbose" / "notice" / "warning" into @level.
 * Returns: 0, or TDEI_INVAL for any other text (level untouched). */
int tdei_log_level_parse(const char *text, enum tdei_log_level *level);

/* Return the name of @level ("notice"). Static string. */
const char *tdei_log_level_name(enum tdei_log_level level);

/* Write one line: ts, level, module and msg, then @fields (already in
 * key=value form, may be NULL or empty). Values in msg are quoted and
 * escaped. Thread-safe: each line is written with one write call. */
void tdei_log_write(enum tdei_log_level level, const char *module,
                    const char *msg, const char *fields);

/* Log with printf-style fields: TDEI_LOG(TDEI_LOG_NOTICE, "p2p",
 * "peer dropped", "peer=%s reason=%s", id, why). */
void tdei_log_fmt(enum tdei_log_level level, const char *module,
                  const char *msg, const char *fields_fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define TDEI_LOG(level, module, msg, ...)                                     \
    do {                                                                      \
        if ((level) >= tdei_log_threshold) {                                  \
            tdei_log_fmt((level), (module), (msg), __VA_ARGS__);              \
        }                                                                     \
    } while (0)

#endif
