/* Run this very `tdei` binary (/proc/self/exe) as a child process, the
 * way an operator would type a command, for `tdei localnet demo` and
 * `tdei bench --data`: the child's stdout and stderr go to files, its
 * run time is bounded, and only its own pid is ever signalled.
 *
 * Pointers are non-NULL unless stated; errmsg buffers are
 * TDEI_ERRMSG_SIZE bytes. */
#ifndef TDEI_CLI_SELFRUN_H
#define TDEI_CLI_SELFRUN_H

#include "home.h"

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SELFRUN_ARGS_MAX 40u /* words of one command at most */

/* One child: started by selfrun_start, reaped by selfrun_wait or
 * selfrun_kill. */
struct selfrun
{
    pid_t pid;                    /* the child; 0 when none runs */
    uint64_t deadline_ms;         /* monotonic ms it is killed at */
    char out_path[HOME_PATH_MAX]; /* its stdout */
    char err_path[HOME_PATH_MAX]; /* its stderr */
};

/* From now on, a wait of this module returns early once *@flag is not 0
 * (set by a signal handler, say): the child is then stopped as at its
 * deadline. NULL turns that off. */
void selfrun_cancel_on(const volatile sig_atomic_t *flag);

/* Start `tdei ARGV...` (@argc words, without the program name) with
 * stdout into @out_path and stderr into @err_path (both created or
 * truncated, mode 0600), stdin from /dev/null, to be killed after
 * @timeout_ms.
 * Returns: 0 with run->pid set; TDEI_IOERR (a file cannot be opened, no
 * fork, or the binary cannot be run: errmsg says which).
 * In: argc 1..SELFRUN_ARGS_MAX (asserted); argv borrowed for the call. */
int selfrun_start(struct selfrun *run, const char *const *argv, size_t argc,
                  const char *out_path, const char *err_path,
                  uint64_t timeout_ms, char *errmsg);

/* Wait until the child of @run exits, or its deadline passes (or the
 * cancel flag is set): then it gets SIGTERM, SIGKILL 2 s later, and is
 * reaped.
 * Returns: 0 with *@exit_code its exit status (128 + N when killed by
 * signal N); TDEI_TIMEOUT (it ran past its deadline and was killed:
 * errmsg says so); TDEI_CANCELED (the cancel flag was set). Either way
 * run->pid is 0 afterwards. */
int selfrun_wait(struct selfrun *run, int *exit_code, char *errmsg);

/* Whether the child of @run has exited (it is then reaped, *@exit_code
 * set and run->pid 0): 1, else 0. */
int selfrun_done(struct selfrun *run, int *exit_code);

/* Stop the child of @run now, if one runs: SIGTERM, SIGKILL after 2 s,
 * reaped. */
void selfrun_kill(struct selfrun *run);

/* Start `tdei ARGV...` as selfrun_start does and wait for it as
 * selfrun_wait does. Returns: 0 with *@exit_code; TDEI_IOERR (it did not
 * start) or TDEI_TIMEOUT (killed at its time limit), errmsg saying so. */
int selfrun_run(const char *const *argv, size_t argc, const char *out_path,
                const char *err_path, uint64_t timeout_ms, int *exit_code,
                char *errmsg);

/* Parse the file @path (a command's stdout, at most 64 MiB) as one JSON
 * value into *@out (json_decref it).
 * Returns: 0, TDEI_MALFORMED (not JSON) or a selfrun_read code. */
int selfrun_json(const char *path, json_t **out, char *errmsg);

/* Read the file @path (at most @max bytes; more is TDEI_TOOBIG) into a
 * NUL-terminated buffer *@out of *@len bytes (free with tdei_free).
 * Returns: 0, TDEI_IOERR, TDEI_TOOBIG or TDEI_NOMEM (errmsg says which). */
int selfrun_read(const char *path, size_t max, char **out, size_t *len,
                 char *errmsg);

#endif
