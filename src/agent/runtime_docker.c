/*
 * runtime_docker.c - the docker workload runtime: a rental's workload as a container.
 *
 * start: `docker run -d --name gpurent-<rental> --label gpurent.rental=<rental> --label
 * gpurent.epoch=<epoch> --label gpurent.agent=<agent id> ... IMAGE CMD...` through the docker
 * CLI, which honours DOCKER_HOST from the agent's environment. With NVML GPUs the container
 * gets the rental's GPUs with --gpus "device=0,1" (the NVIDIA container toolkit). With
 * SIMULATED GPUs there is no GPU to map: no --gpus, and NVIDIA_VISIBLE_DEVICES and
 * CUDA_VISIBLE_DEVICES hold the rental's list, as exec sets them (the start's log line says
 * so). A start that docker refuses (unknown image, docker unreachable) fails with docker's
 * message; `docker run` pulls an image it lacks, and that pull blocks the agent's loop (up to
 * RUN_TIMEOUT_MS).
 *
 * poll: `docker inspect` (running, exit code; a container gone: unknown; docker unreachable:
 * alive, asked again next round). stop: `docker stop -t GRACE` runs in the background (a
 * child the next polls reap), so a stop never stalls heartbeats; a stop that failed is sent
 * again. notify: `docker kill --signal TERM`. forget: `docker logs` appended to
 * DATA/logs/<rental>.log (stdout, then stderr: their interleaving is lost), then `docker rm
 * -f`. The other CLI calls (inspect, run, logs, rm) wait for docker: a fraction of a second
 * each on a healthy engine, at most 30 s (`docker run`, which may pull: 300 s), after which
 * the call is killed and counts as failed, so a hung engine stalls the loop for a bounded
 * time.
 *
 * The agent id (DATA/docker-agent-id, 16 random hex digits made at the first start) labels
 * every container this data directory's agent starts; adopt, after an agent restart, lists
 * the containers with that label (`docker ps -a --filter label=gpurent.agent=ID`) and hands
 * back the running ones (the same containers: nothing is started again) and the ended ones
 * with their exit codes. A container labelled as ours whose labels name no rental is removed;
 * one that names a rental the control plane no longer runs is stopped by the agent's
 * reconcile like any unwanted workload. The CLI's children are waited for with SIGCHLD
 * blocked and the signal consumed: the agent's SIGCHLD wake-up is for workloads that exit.
 */
#include "../common/compat.h"

#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/err.h"

#define DOCKER_MAX     64 /* stops in flight */
#define AGENT_ID_CHARS 16
/* The longest the loop waits for one CLI call: `docker run` (which may pull the image), and
 * the others. Past them the call is killed and counts as failed. */
#define RUN_TIMEOUT_MS 300000
#define CLI_TIMEOUT_MS 30000

struct docker_stop {
    char id[RUNTIME_ID_MAX];
    pid_t pid; /* the `docker stop` child; 0 when none runs */
    bool used;
};

struct docker_state {
    char agent_id[AGENT_ID_CHARS + 1];
    struct docker_stop stops[DOCKER_MAX];
};

extern char **environ;

void runtime_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (char **p = argv; *p != NULL; p++)
        free(*p);
    free(argv);
}

/* argv[*n] = a copy of s; false when out of memory. */
static bool push(char **argv, size_t *n, const char *s)
{
    argv[*n] = strdup(s);
    return argv[(*n)++] != NULL;
}

__attribute__((format(printf, 3, 4))) static bool pushf(char **argv, size_t *n, const char *fmt,
                                                        ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vasprintf(&argv[*n], fmt, ap);
    va_end(ap);
    if (rc < 0)
        argv[*n] = NULL;
    return argv[(*n)++] != NULL;
}

int runtime_docker_argv(char ***out, const struct workload_spec *w)
{
    size_t envc = 0, cmdc = 0, n = 0, off = 0;
    char list[RUNTIME_GPUS_MAX * 4] = "";
    char **argv;
    bool ok;

    if (w->image == NULL || *w->image == '\0' || !runtime_id_ok(w->rental_id) ||
        w->gpu_count > RUNTIME_GPUS_MAX || w->epoch < 0)
        return ERR_INVALID;
    while (w->env != NULL && w->env[envc] != NULL)
        envc++;
    while (w->argv != NULL && w->argv[cmdc] != NULL)
        cmdc++;
    argv = calloc(16 + 2 * envc + 1 + cmdc + 1, sizeof(*argv));
    if (argv == NULL)
        return ERR_NOMEM;
    for (unsigned i = 0; i < w->gpu_count; i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u", i ? "," : "",
                                w->gpu_indices[i]);
    ok = push(argv, &n, "docker") && push(argv, &n, "run") && push(argv, &n, "-d") &&
         push(argv, &n, "--name") && pushf(argv, &n, "gpurent-%s", w->rental_id) &&
         push(argv, &n, "--label") && pushf(argv, &n, "gpurent.rental=%s", w->rental_id) &&
         push(argv, &n, "--label") && pushf(argv, &n, "gpurent.epoch=%lld", (long long)w->epoch);
    if (ok && w->agent_label != NULL)
        ok = push(argv, &n, "--label") && pushf(argv, &n, "gpurent.agent=%s", w->agent_label);
    if (ok && !w->gpus_simulated && w->gpu_count > 0)
        ok = push(argv, &n, "--gpus") && pushf(argv, &n, "\"device=%s\"", list);
    for (size_t i = 0; ok && i < envc; i++)
        ok = push(argv, &n, "-e") && push(argv, &n, w->env[i]);
    if (ok && w->gpus_simulated)
        ok = push(argv, &n, "-e") && pushf(argv, &n, "NVIDIA_VISIBLE_DEVICES=%s", list) &&
             push(argv, &n, "-e") && pushf(argv, &n, "CUDA_VISIBLE_DEVICES=%s", list);
    ok = ok && push(argv, &n, w->image);
    for (size_t i = 0; ok && i < cmdc; i++)
        ok = push(argv, &n, w->argv[i]);
    if (!ok) {
        argv[n - 1] = NULL; /* the copy that failed */
        runtime_argv_free(argv);
        return ERR_NOMEM;
    }
    *out = argv;
    return 0;
}

/*
 * Spawn argv with stdin from /dev/null and stdout/stderr to out_fd (-1: /dev/null): 0 and
 * *pid, or an errno.
 */
static int spawn_cli(char *const argv[], int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    int rc;

    if (posix_spawn_file_actions_init(&fa) != 0)
        return ENOMEM;
    rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0 && out_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    else if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (rc == 0)
        rc = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for pid (SIGCHLD blocked by the caller) until deadline_ms (mono_ms), then SIGKILL it:
 * its exit status, -1 when it did not exit by itself. */
static int wait_cli(pid_t pid, int64_t deadline_ms)
{
    struct timespec tick = {0, 2 * 1000 * 1000};
    int status = 0;
    pid_t r;

    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && mono_ms() < deadline_ms)
        nanosleep(&tick, NULL);
    if (r == 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return -1;
    }
    return r == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Block SIGCHLD (old: the mask to restore). */
static void block_chld(sigset_t *old)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

/* Consume the SIGCHLD our CLI children raised, then restore the mask. */
static void unblock_chld(const sigset_t *old)
{
    struct timespec zero = {0, 0};
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (!sigismember(old, SIGCHLD)) {
        while (sigtimedwait(&set, NULL, &zero) == SIGCHLD) {
        }
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/*
 * Run a docker command, its stdout and stderr into buf (NUL-terminated, cut at len - 1; the
 * rest is read and dropped), for at most timeout_ms (then it is killed: "timed out" in buf):
 * its exit status, 127 when docker cannot be run, or -1.
 */
static int run_docker_for(char *const argv[], char *buf, size_t len, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    int fds[2], rc;
    bool timed_out = false;
    size_t got = 0;
    sigset_t old;
    pid_t pid;

    buf[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    block_chld(&old);
    rc = spawn_cli(argv, fds[1], &pid);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        unblock_chld(&old);
        snprintf(buf, len, "cannot run %s: %s", argv[0], strerror(rc));
        return 127;
    }
    for (;;) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int64_t left = deadline - mono_ms();
        char junk[512];
        bool room = got < len - 1;
        ssize_t r;

        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (poll(&pfd, 1, (int)left) <= 0)
            continue; /* EINTR, or the deadline (seen above) */
        r = read(fds[0], room ? buf + got : junk, room ? len - 1 - got : sizeof(junk));
        if (r == 0 || (r < 0 && errno != EINTR))
            break;
        if (r > 0 && room)
            got += (size_t)r;
    }
    buf[got] = '\0';
    close(fds[0]);
    rc = wait_cli(pid, timed_out ? 0 : deadline);
    unblock_chld(&old);
    if (timed_out || (rc < 0 && mono_ms() >= deadline)) {
        snprintf(buf, len, "%s %s timed out after %d s", argv[0], argv[1], timeout_ms / 1000);
        return -1;
    }
    return rc;
}

static int run_docker(char *const argv[], char *buf, size_t len)
{
    return run_docker_for(argv, buf, len, CLI_TIMEOUT_MS);
}

/* The line of docker's output that says what went wrong, into detail. */
static void docker_error(char *detail, size_t len, const char *what, int status, const char *out)
{
    const char *line = strstr(out, "Error");
    size_t n;

    if (line == NULL)
        line = out;
    while (*line == ' ' || *line == '\n')
        line++;
    n = strcspn(line, "\n");
    if (n == 0)
        snprintf(detail, len, "%s failed (status %d)", what, status);
    else
        snprintf(detail, len, "%s: %.*s", what, (int)n, line);
}

static struct docker_state *state_of(struct runtime *rt)
{
    return rt->priv;
}

static void container_name(char *buf, size_t len, const char *id)
{
    snprintf(buf, len, "gpurent-%s", id);
}

static int docker_start(struct runtime *rt, const struct workload_spec *w, char *detail, size_t len)
{
    struct workload_spec spec = *w;
    char **argv = NULL, out[2048];
    int rc;

    spec.agent_label = state_of(rt)->agent_id;
    rc = runtime_docker_argv(&argv, &spec);
    if (rc != 0) {
        snprintf(detail, len, rc == ERR_INVALID ? "the workload has no image" : "out of memory");
        return rc;
    }
    rc = run_docker_for(argv, out, sizeof(out), RUN_TIMEOUT_MS);
    runtime_argv_free(argv);
    if (rc != 0) {
        docker_error(detail, len, "docker run", rc, out);
        return ERR_IO;
    }
    if (w->gpus_simulated)
        fprintf(stderr,
                "gpurent: agent: docker: %s runs without --gpus: the GPUs are SIMULATED (their "
                "list is in NVIDIA_VISIBLE_DEVICES and CUDA_VISIBLE_DEVICES)\n",
                w->rental_id);
    return 0;
}

static struct docker_stop *find_stop(struct docker_state *s, const char *id)
{
    for (size_t i = 0; i < DOCKER_MAX; i++) {
        if (s->stops[i].used && strcmp(s->stops[i].id, id) == 0)
            return &s->stops[i];
    }
    return NULL;
}

/* Start `docker stop -t GRACE NAME` in the background into st (st->pid). */
static int spawn_stop(struct runtime *rt, struct docker_stop *st)
{
    char name[RUNTIME_ID_MAX + 16], grace[16];
    char *argv[] = {"docker", "stop", "-t", grace, name, NULL};

    container_name(name, sizeof(name), st->id);
    snprintf(grace, sizeof(grace), "%u", (rt->grace_ms + 999) / 1000);
    return spawn_cli(argv, -1, &st->pid) == 0 ? 0 : ERR_IO;
}

/* Reap st's `docker stop` when it has ended: true when none runs now. */
static bool reap_stop(struct docker_stop *st)
{
    int status;

    if (st->pid > 0 && waitpid(st->pid, &status, WNOHANG) != 0)
        st->pid = 0;
    return st->pid == 0;
}

static enum runtime_state docker_poll(struct runtime *rt, const char *id, int *exit_code)
{
    char name[RUNTIME_ID_MAX + 16], out[512];
    char *argv[] = {"docker", "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}",
                    name,     NULL};
    struct docker_stop *st = find_stop(state_of(rt), id);
    int code = -1, rc;

    container_name(name, sizeof(name), id);
    rc = run_docker(argv, out, sizeof(out));
    if (rc != 0)
        /* gone, or docker cannot say now: alive until it can (a lost engine is not an exit) */
        return strstr(out, "No such") != NULL ? RUNTIME_UNKNOWN : RUNTIME_ALIVE;
    if (strncmp(out, "true", 4) == 0) {
        if (st != NULL && reap_stop(st))
            spawn_stop(rt, st); /* the stop failed (or raced the start): again */
        return RUNTIME_ALIVE;
    }
    if (st != NULL)
        reap_stop(st);
    if (sscanf(out, "%*s %d", &code) != 1)
        code = -1;
    *exit_code = code;
    return RUNTIME_EXITED;
}

static int docker_stop(struct runtime *rt, const char *id)
{
    struct docker_state *s = state_of(rt);
    struct docker_stop *st = find_stop(s, id);

    if (st != NULL)
        return 0; /* already stopping */
    for (size_t i = 0; i < DOCKER_MAX && st == NULL; i++) {
        if (!s->stops[i].used)
            st = &s->stops[i];
    }
    if (st == NULL)
        return ERR_NOCAPACITY;
    memset(st, 0, sizeof(*st));
    st->used = true;
    snprintf(st->id, sizeof(st->id), "%s", id);
    return spawn_stop(rt, st);
}

static int docker_notify(struct runtime *rt, const char *id)
{
    char name[RUNTIME_ID_MAX + 16], out[256];
    char *argv[] = {"docker", "kill", "--signal", "TERM", name, NULL};

    (void)rt;
    container_name(name, sizeof(name), id);
    return run_docker(argv, out, sizeof(out)) == 0 ? 0 : ERR_IO;
}

/* Append `docker logs NAME` (stdout, then stderr) to DATA/logs/<rental>.log. */
static void save_logs(struct runtime *rt, const char *name, const char *id)
{
    char *argv[] = {"docker", "logs", (char *)name, NULL};
    char path[4096];
    sigset_t old;
    pid_t pid;
    int fd;

    snprintf(path, sizeof(path), "%s/logs/%s.log", rt->data_dir, id);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return;
    block_chld(&old);
    if (spawn_cli(argv, fd, &pid) == 0)
        wait_cli(pid, mono_ms() + CLI_TIMEOUT_MS);
    unblock_chld(&old);
    close(fd);
}

static void docker_forget(struct runtime *rt, const char *id)
{
    char name[RUNTIME_ID_MAX + 16], out[256];
    char *argv[] = {"docker", "rm", "-f", name, NULL};
    struct docker_stop *st;

    if (!runtime_id_ok(id))
        return;
    st = find_stop(state_of(rt), id);
    if (st != NULL) {
        sigset_t old;

        block_chld(&old);
        if (st->pid > 0)
            wait_cli(st->pid, mono_ms() + CLI_TIMEOUT_MS); /* its container is down */
        unblock_chld(&old);
        memset(st, 0, sizeof(*st));
    }
    container_name(name, sizeof(name), id);
    save_logs(rt, name, id);
    run_docker(argv, out, sizeof(out));
}

/* Remove a container that no rental owns. */
static void remove_container(const char *cid)
{
    char *argv[] = {"docker", "rm", "-f", (char *)cid, NULL}, out[256];

    fprintf(stderr, "gpurent: agent: docker: removing container %.12s (no rental owns it)\n", cid);
    run_docker(argv, out, sizeof(out));
}

static int docker_adopt(struct runtime *rt, struct runtime_adopted *out, unsigned max, unsigned *n)
{
    struct docker_state *s = state_of(rt);
    char filter[64], list[RUNTIME_ADOPT_MAX * 4 * 66], *save = NULL;
    char *ps[] = {"docker", "ps", "-a", "-q", "--no-trunc", "--filter", filter, NULL};
    int rc;

    *n = 0;
    snprintf(filter, sizeof(filter), "label=gpurent.agent=%s", s->agent_id);
    rc = run_docker(ps, list, sizeof(list));
    if (rc != 0) {
        char detail[RUNTIME_DETAIL_MAX];

        docker_error(detail, sizeof(detail), "docker ps", rc, list);
        fprintf(stderr, "gpurent: agent: docker: cannot list this agent's containers: %s\n",
                detail);
        return ERR_IO;
    }
    for (char *cid = strtok_r(list, "\n", &save); cid != NULL; cid = strtok_r(NULL, "\n", &save)) {
        char info[512], rental[RUNTIME_ID_MAX] = "", cname[RUNTIME_ID_MAX + 24] = "";
        char want[RUNTIME_ID_MAX + 24], running[8] = "";
        char *inspect[] = {"docker",
                           "inspect",
                           "--format",
                           "{{index .Config.Labels \"gpurent.rental\"}} {{index .Config.Labels "
                           "\"gpurent.epoch\"}} {{.State.Running}} {{.State.ExitCode}} {{.Name}}",
                           cid,
                           NULL};
        long long epoch = -1;
        int code = -1;

        if (strspn(cid, "0123456789abcdef") != strlen(cid) || strlen(cid) != 64)
            continue;
        if (run_docker(inspect, info, sizeof(info)) != 0)
            continue; /* gone meanwhile */
        if (sscanf(info, "%47s %lld %7s %d %55s", rental, &epoch, running, &code, cname) != 5)
            rental[0] = '\0';
        snprintf(want, sizeof(want), "/gpurent-%s", rental);
        if (!runtime_id_ok(rental) || epoch < 0 || strcmp(cname, want) != 0 || *n >= max) {
            remove_container(cid);
            continue;
        }
        memset(&out[*n], 0, sizeof(out[*n]));
        snprintf(out[*n].rental_id, sizeof(out[*n].rental_id), "%s", rental);
        out[*n].epoch = epoch;
        out[*n].alive = strcmp(running, "true") == 0;
        out[*n].exit_code = out[*n].alive ? -1 : code;
        (*n)++;
    }
    return 0;
}

static void docker_free(struct runtime *rt)
{
    struct docker_state *s = state_of(rt);

    for (size_t i = 0; s != NULL && i < DOCKER_MAX; i++) {
        if (s->stops[i].used && s->stops[i].pid > 0)
            waitpid(s->stops[i].pid, NULL, WNOHANG); /* a stop still running ends on its own */
    }
}

/* DATA/docker-agent-id: read it, or make it (16 random hex digits). 0, or -1 with err. */
static int load_agent_id(struct runtime *rt, char *id, char *err, size_t errlen)
{
    char path[4096], raw[AGENT_ID_CHARS / 2];
    ssize_t r;
    int fd;

    snprintf(path, sizeof(path), "%s/docker-agent-id", rt->data_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        r = read(fd, id, AGENT_ID_CHARS);
        close(fd);
        id[r > 0 ? r : 0] = '\0';
        if (r == AGENT_ID_CHARS && strspn(id, "0123456789abcdef") == AGENT_ID_CHARS)
            return 0;
        snprintf(err, errlen, "%s: not an agent id (16 hex digits)", path);
        return -1;
    }
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "cannot read /dev/urandom");
        return -1;
    }
    close(fd);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(id + 2 * i, 3, "%02x", (unsigned char)raw[i]);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, id, AGENT_ID_CHARS) != AGENT_ID_CHARS || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int runtime_docker_init(struct runtime *rt, char *err, size_t errlen)
{
    struct docker_state *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    if (load_agent_id(rt, s->agent_id, err, errlen) != 0) {
        free(s);
        return ERR_IO;
    }
    rt->priv = s;
    return 0;
}

const struct runtime_ops runtime_docker_ops = {"docker",     docker_start,  docker_poll,
                                               docker_stop,  docker_notify, docker_forget,
                                               docker_adopt, docker_free};
