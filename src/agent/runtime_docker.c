/*
 * runtime_docker.c - the docker workload runtime: `docker run -d --name gpurent-<rental>`.
 *
 * The container gets the rental's GPUs with --gpus "device=0,1" (the NVIDIA container
 * toolkit), the workload's env with -e, and runs IMAGE CMD.... The agent drives the docker
 * CLI: `docker run -d` to start, `docker inspect` to poll, `docker stop -t GRACE` to stop
 * (which blocks the agent's loop up to the grace) and `docker rm -f` to forget. Only the
 * argument construction is unit-tested; the rest needs a Docker engine. Adopting containers
 * after an agent restart is not implemented: adopt finds none.
 */
#include "../common/compat.h"

#include "runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/err.h"

void runtime_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (char **p = argv; *p != NULL; p++)
        free(*p);
    free(argv);
}

int runtime_docker_argv(char ***out, const struct workload_spec *w)
{
    size_t envc = 0, cmdc = 0, n = 0, off = 0;
    char devices[16 + RUNTIME_GPUS_MAX * 4];
    char **argv;

    if (w->image == NULL || *w->image == '\0' || !runtime_id_ok(w->rental_id) ||
        w->gpu_count > RUNTIME_GPUS_MAX)
        return ERR_INVALID;
    while (w->env != NULL && w->env[envc] != NULL)
        envc++;
    while (w->argv != NULL && w->argv[cmdc] != NULL)
        cmdc++;
    argv = calloc(8 + 2 * envc + 1 + cmdc + 1, sizeof(*argv));
    if (argv == NULL)
        return ERR_NOMEM;
    off = (size_t)snprintf(devices, sizeof(devices), "\"device=");
    for (unsigned i = 0; i < w->gpu_count; i++)
        off += (size_t)snprintf(devices + off, sizeof(devices) - off, "%s%u", i ? "," : "",
                                w->gpu_indices[i]);
    snprintf(devices + off, sizeof(devices) - off, "\"");
    if ((argv[n++] = strdup("docker")) == NULL || (argv[n++] = strdup("run")) == NULL ||
        (argv[n++] = strdup("-d")) == NULL || (argv[n++] = strdup("--name")) == NULL ||
        asprintf(&argv[n++], "gpurent-%s", w->rental_id) < 0)
        goto nomem;
    if (w->gpu_count > 0 &&
        ((argv[n++] = strdup("--gpus")) == NULL || (argv[n++] = strdup(devices)) == NULL))
        goto nomem;
    for (size_t i = 0; i < envc; i++) {
        if ((argv[n++] = strdup("-e")) == NULL || (argv[n++] = strdup(w->env[i])) == NULL)
            goto nomem;
    }
    if ((argv[n++] = strdup(w->image)) == NULL)
        goto nomem;
    for (size_t i = 0; i < cmdc; i++) {
        if ((argv[n++] = strdup(w->argv[i])) == NULL)
            goto nomem;
    }
    *out = argv;
    return 0;
nomem:
    if (n > 0 && argv[n - 1] == NULL)
        n--;
    argv[n] = NULL;
    runtime_argv_free(argv);
    return ERR_NOMEM;
}

/* Run a docker command, its stdout into buf (NUL-terminated): its exit status, or -1. */
static int run_docker(char *const argv[], char *buf, size_t len)
{
    int fds[2], status;
    size_t got = 0;
    ssize_t r;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    while (len > 0 && got < len - 1 && (r = read(fds[0], buf + got, len - 1 - got)) != 0) {
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0)
            got += (size_t)r;
    }
    if (len > 0)
        buf[got] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int docker_start(struct runtime *rt, const struct workload_spec *w, char *detail, size_t len)
{
    char **argv = NULL, out[256];
    int rc;

    (void)rt;
    rc = runtime_docker_argv(&argv, w);
    if (rc != 0) {
        snprintf(detail, len, rc == ERR_INVALID ? "the workload has no image" : "out of memory");
        return rc;
    }
    rc = run_docker(argv, out, sizeof(out));
    runtime_argv_free(argv);
    if (rc != 0) {
        snprintf(detail, len, "docker run failed (status %d)", rc);
        return ERR_IO;
    }
    return 0;
}

static enum runtime_state docker_poll(struct runtime *rt, const char *id, int *exit_code)
{
    char name[RUNTIME_ID_MAX + 16], out[128];
    char *argv[] = {"docker", "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}",
                    name,     NULL};
    int code = -1;

    (void)rt;
    snprintf(name, sizeof(name), "gpurent-%s", id);
    if (run_docker(argv, out, sizeof(out)) != 0)
        return RUNTIME_UNKNOWN;
    if (strncmp(out, "true", 4) == 0)
        return RUNTIME_ALIVE;
    sscanf(out, "%*s %d", &code);
    *exit_code = code;
    return RUNTIME_EXITED;
}

static int docker_stop(struct runtime *rt, const char *id)
{
    char name[RUNTIME_ID_MAX + 16], grace[16], out[128];
    char *argv[] = {"docker", "stop", "-t", grace, name, NULL};

    snprintf(name, sizeof(name), "gpurent-%s", id);
    snprintf(grace, sizeof(grace), "%u", (rt->grace_ms + 999) / 1000);
    return run_docker(argv, out, sizeof(out)) == 0 ? 0 : ERR_IO;
}

static int docker_notify(struct runtime *rt, const char *id)
{
    char name[RUNTIME_ID_MAX + 16], out[128];
    char *argv[] = {"docker", "kill", "--signal", "TERM", name, NULL};

    (void)rt;
    snprintf(name, sizeof(name), "gpurent-%s", id);
    return run_docker(argv, out, sizeof(out)) == 0 ? 0 : ERR_IO;
}

static void docker_forget(struct runtime *rt, const char *id)
{
    char name[RUNTIME_ID_MAX + 16], out[128];
    char *argv[] = {"docker", "rm", "-f", name, NULL};

    (void)rt;
    snprintf(name, sizeof(name), "gpurent-%s", id);
    run_docker(argv, out, sizeof(out));
}

static int docker_adopt(struct runtime *rt, struct runtime_adopted *out, unsigned max, unsigned *n)
{
    (void)rt;
    (void)out;
    (void)max;
    *n = 0;
    return 0;
}

static void docker_free(struct runtime *rt)
{
    (void)rt;
}

const struct runtime_ops runtime_docker_ops = {"docker",     docker_start,  docker_poll,
                                               docker_stop,  docker_notify, docker_forget,
                                               docker_adopt, docker_free};
