/* Run this tdei binary as a child process (selfrun.h). */
#include "selfrun.h"

#include "cli.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SELFRUN_POLL_MS 10u   /* how often a wait looks again */
#define SELFRUN_KILL_MS 2000u /* SIGTERM, then SIGKILL after this */

static const volatile sig_atomic_t *selfrun_cancel;

void selfrun_cancel_on(const volatile sig_atomic_t *flag)
{
    selfrun_cancel = flag;
}

/* In the child: files in place, then exec; the errno goes up @report. */
static void child_exec(const char *exe, char *const *args, int out_fd,
                       int err_fd, int report)
{
    int null_fd = open("/dev/null", O_RDONLY);
    int err;

    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
        dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0) {
        err = errno;
    } else {
        (void)execv(exe, args);
        err = errno;
    }
    (void)write(report, &err, sizeof(err));
    _exit(127);
}

int selfrun_start(struct selfrun *run, const char *const *argv, size_t argc,
                  const char *out_path, const char *err_path,
                  uint64_t timeout_ms, char *errmsg)
{
    char exe[HOME_PATH_MAX];
    char *args[SELFRUN_ARGS_MAX + 2];
    int out_fd, err_fd;
    int report[2] = {-1, -1};
    int err = 0;
    ssize_t n;
    pid_t pid;

    TDEI_ASSERT(argc >= 1 && argc <= SELFRUN_ARGS_MAX);
    memset(run, 0, sizeof(*run));
    (void)snprintf(run->out_path, sizeof(run->out_path), "%s", out_path);
    (void)snprintf(run->err_path, sizeof(run->err_path), "%s", err_path);
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "cannot find this program (/proc/self/exe): %s",
                       strerror(errno));
        return TDEI_IOERR;
    }
    exe[n] = '\0';
    args[0] = (char *)(uintptr_t) "tdei";
    for (size_t i = 0; i < argc; i++) {
        args[i + 1] = (char *)(uintptr_t)argv[i];
    }
    args[argc + 1] = NULL;
    out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out_fd < 0 || err_fd < 0 || pipe(report) != 0 ||
        fcntl(report[1], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(report[0], F_SETFD, FD_CLOEXEC) != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "cannot open %.100s or %.100s: %s", out_path, err_path,
                       strerror(errno));
        err = -1;
    }
    pid = err == 0 ? fork() : -1;
    if (pid == 0) {
        child_exec(exe, args, out_fd, err_fd, report[1]);
    }
    if (err == 0 && pid < 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "cannot fork: %s",
                       strerror(errno));
        err = -1;
    }
    if (report[1] >= 0) {
        (void)close(report[1]);
    }
    /* EOF on the pipe: the exec succeeded (the pipe closed on exec). */
    if (pid > 0 && read(report[0], &err, sizeof(err)) == (ssize_t)sizeof(err)) {
        (void)waitpid(pid, NULL, 0);
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "cannot run %.200s: %s", exe,
                       strerror(err));
        err = -1;
    }
    if (report[0] >= 0) {
        (void)close(report[0]);
    }
    if (out_fd >= 0) {
        (void)close(out_fd);
    }
    if (err_fd >= 0) {
        (void)close(err_fd);
    }
    if (err != 0) {
        return TDEI_IOERR;
    }
    run->pid = pid;
    run->deadline_ms = cli_mono_ms() + timeout_ms;
    return 0;
}

/* The exit code of wait status @status. */
static int exit_code_of(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}

int selfrun_done(struct selfrun *run, int *exit_code)
{
    int status = 0;
    pid_t got;

    if (run->pid <= 0) {
        return 1;
    }
    got = waitpid(run->pid, &status, WNOHANG);
    if (got == run->pid) {
        *exit_code = exit_code_of(status);
        run->pid = 0;
        return 1;
    }
    if (got < 0) { /* not our child any more (reaped elsewhere) */
        *exit_code = 255;
        run->pid = 0;
        return 1;
    }
    return 0;
}

void selfrun_kill(struct selfrun *run)
{
    uint64_t deadline;
    int code;

    if (run->pid <= 0) {
        return;
    }
    (void)kill(run->pid, SIGTERM);
    deadline = cli_mono_ms() + SELFRUN_KILL_MS;
    while (!selfrun_done(run, &code) && cli_mono_ms() < deadline) {
        cli_sleep_ms(SELFRUN_POLL_MS);
    }
    if (run->pid > 0) {
        (void)kill(run->pid, SIGKILL);
        (void)waitpid(run->pid, NULL, 0);
        run->pid = 0;
    }
}

int selfrun_wait(struct selfrun *run, int *exit_code, char *errmsg)
{
    *exit_code = 255;
    while (!selfrun_done(run, exit_code)) {
        if (selfrun_cancel != NULL && *selfrun_cancel) {
            (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                           "interrupted; the command was stopped (pid %d)",
                           (int)run->pid);
            selfrun_kill(run);
            return TDEI_CANCELED;
        }
        if (cli_mono_ms() >= run->deadline_ms) {
            (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                           "the command was still running at its time "
                           "limit and was stopped (pid %d)",
                           (int)run->pid);
            selfrun_kill(run);
            return TDEI_TIMEOUT;
        }
        cli_sleep_ms(SELFRUN_POLL_MS);
    }
    return 0;
}

int selfrun_read(const char *path, size_t max, char **out, size_t *len,
                 char *errmsg)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    *out = NULL;
    *len = 0;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "cannot read %.200s: %s", path,
                       strerror(errno));
        if (f != NULL) {
            (void)fclose(f);
        }
        return TDEI_IOERR;
    }
    if ((uint64_t)st.st_size > max) {
        (void)fclose(f);
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "%.200s holds %lld bytes; at most %zu are read", path,
                       (long long)st.st_size, max);
        return TDEI_TOOBIG;
    }
    buf = tdei_malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        (void)fclose(f);
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "%s",
                       tdei_strerror(TDEI_NOMEM));
        return TDEI_NOMEM;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    (void)fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int selfrun_run(const char *const *argv, size_t argc, const char *out_path,
                const char *err_path, uint64_t timeout_ms, int *exit_code,
                char *errmsg)
{
    struct selfrun run;
    int rc;

    *exit_code = 255;
    rc =
        selfrun_start(&run, argv, argc, out_path, err_path, timeout_ms, errmsg);
    return rc != 0 ? rc : selfrun_wait(&run, exit_code, errmsg);
}

#define SELFRUN_JSON_MAX (64u * 1024u * 1024u)

int selfrun_json(const char *path, json_t **out, char *errmsg)
{
    json_error_t jerr;
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = selfrun_read(path, SELFRUN_JSON_MAX, &text, &len, errmsg);
    if (rc != 0) {
        return rc;
    }
    *out = json_loadb(text, len, 0, &jerr);
    tdei_free(text);
    if (*out == NULL) {
        (void)snprintf(errmsg, TDEI_ERRMSG_SIZE,
                       "%.150s is not JSON: %.40s at line %d", path, jerr.text,
                       jerr.line);
        return TDEI_MALFORMED;
    }
    return 0;
}
