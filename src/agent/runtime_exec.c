/*
 * runtime_exec.c - the exec workload runtime: the rental's command as a process group.
 *
 * A workload runs in a session of its own (setsid: its process group id is its pid), with
 * CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES set to the rental's GPU indices and the
 * workload's env added, stdin from /dev/null and stdout/stderr appended to
 * DATA/logs/<rental>.log. DATA/rentals/<rental>.json keeps {pid, pgid, start_time, epoch}:
 * start_time (field 22 of /proc/PID/stat) tells a live workload from a new process that
 * reuses its pid after an agent restart. The workload is spawned with posix_spawnp (no copy
 * of the agent's memory), so a command that does not exist fails the start with its errno.
 *
 * While the agent runs, workloads are its children and their exit codes are known
 * (waitpid). An adopted workload is not its child: when it ends, its code is unknown (-1).
 * When a workload's leader exits, what is left of its process group is killed.
 */
#include "../common/compat.h"

#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/err.h"

#define EXEC_MAX 64 /* workloads held at once */

struct exec_proc {
    bool used;
    char id[RUNTIME_ID_MAX];
    pid_t pid; /* the leader; the process group is the same number */
    unsigned long long start_time;
    int64_t epoch;
    bool child;         /* ours to waitpid (started by this agent) */
    bool leader_gone;   /* the leader has exited (and was reaped when ours) */
    int exit_code;      /* when leader_gone: -1 unknown */
    bool stopping;      /* SIGTERM sent */
    int64_t kill_at_ms; /* SIGKILL the group from then on */
};

struct exec_state {
    struct exec_proc procs[EXEC_MAX];
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* /proc/PID/stat: the start time (field 22) and the state (field 3). 0 when none. */
static unsigned long long proc_start_time(pid_t pid, char *state)
{
    char path[64], buf[1024], *p;
    unsigned long long t = 0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL || sscanf(p + 2,
                            "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
                            "%*d %*d %*d %*d %llu",
                            state, &t) != 2)
        return 0;
    return t;
}

/* The leader is the process we started (not a zombie, not a reused pid). */
static bool leader_alive(const struct exec_proc *p)
{
    char state = '?';
    unsigned long long t = proc_start_time(p->pid, &state);

    return t != 0 && t == p->start_time && state != 'Z' && state != 'X';
}

/* A live (not zombie) process of process group pgid exists. Zombies count as gone: an
 * orphan's zombie waits for a reaper that may never come (pid 1 in a container). */
static bool group_exists(pid_t pgid)
{
    struct dirent *de;
    bool found = false;
    DIR *d;

    if (kill(-pgid, 0) != 0 && errno != EPERM)
        return false;
    d = opendir("/proc");
    if (d == NULL)
        return true;
    while (!found && (de = readdir(d)) != NULL) {
        char path[300], buf[512], *p, state;
        int group = 0;
        ssize_t n;
        int fd;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (p != NULL && sscanf(p + 2, "%c %*d %d", &state, &group) == 2 && group == pgid &&
            state != 'Z' && state != 'X')
            found = true;
    }
    closedir(d);
    return found;
}

static void state_path(char *buf, size_t len, const struct runtime *rt, const char *id)
{
    snprintf(buf, len, "%s/rentals/%s.json", rt->data_dir, id);
}

static int save_state(const struct runtime *rt, const struct exec_proc *p)
{
    char path[4096], tmp[4200];
    json_t *j;
    int rc;

    state_path(path, sizeof(path), rt, p->id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    j = json_pack("{s:i,s:i,s:I,s:I}", "pid", (int)p->pid, "pgid", (int)p->pid, "start_time",
                  (json_int_t)p->start_time, "epoch", (json_int_t)p->epoch);
    if (j == NULL)
        return ERR_NOMEM;
    rc = json_dump_file(j, tmp, JSON_COMPACT);
    json_decref(j);
    if (rc != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return ERR_IO;
    }
    return 0;
}

static struct exec_proc *find_proc(struct runtime *rt, const char *id)
{
    struct exec_state *s = rt->priv;

    for (size_t i = 0; i < EXEC_MAX; i++) {
        if (s->procs[i].used && strcmp(s->procs[i].id, id) == 0)
            return &s->procs[i];
    }
    return NULL;
}

static struct exec_proc *free_proc(struct runtime *rt)
{
    struct exec_state *s = rt->priv;

    for (size_t i = 0; i < EXEC_MAX; i++) {
        if (!s->procs[i].used)
            return &s->procs[i];
    }
    return NULL;
}

/*
 * Spawn the workload: posix_spawnp (a vfork-like clone: the agent's page tables are not
 * copied, which fork did for every workload) in a session of its own (POSIX_SPAWN_SETSID),
 * stdin from /dev/null, stdout and stderr to log_fd, SIGPIPE at its default. An exec
 * failure comes back as the call's error. 0 and *pid, or an errno.
 */
static int spawn_workload(const struct workload_spec *w, int log_fd, char **envp, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t def;
    int rc;

    if (posix_spawn_file_actions_init(&fa) != 0)
        return ENOMEM;
    if (posix_spawnattr_init(&attr) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return ENOMEM;
    }
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&attr, &def);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0)
        rc = posix_spawnp(pid, w->argv[0], &fa, &attr, (char *const *)w->argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

extern char **environ;

/* environ + CUDA_VISIBLE_DEVICES + NVIDIA_VISIBLE_DEVICES + the workload's env (owned). */
static char **build_env(const struct workload_spec *w, char *devices)
{
    size_t n = 0, m = 0, k = 0;
    char **envp;

    while (environ[n] != NULL)
        n++;
    while (w->env != NULL && w->env[m] != NULL)
        m++;
    envp = calloc(n + m + 3, sizeof(*envp));
    if (envp == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "CUDA_VISIBLE_DEVICES=", 21) != 0 &&
            strncmp(environ[i], "NVIDIA_VISIBLE_DEVICES=", 23) != 0)
            envp[k++] = environ[i];
    }
    for (size_t i = 0; i < m; i++)
        envp[k++] = (char *)w->env[i];
    /* last, so that the workload's env cannot move the rental off its GPUs */
    envp[k++] = devices;
    envp[k++] = devices + strlen(devices) + 1;
    return envp;
}

static int exec_start(struct runtime *rt, const struct workload_spec *w, char *detail, size_t len)
{
    char path[4096], devices[2 * (sizeof("NVIDIA_VISIBLE_DEVICES=") + RUNTIME_GPUS_MAX * 4)];
    char list[RUNTIME_GPUS_MAX * 4] = "";
    int log_fd = -1, spawn_errno, rc = ERR_IO;
    char **envp = NULL, state;
    struct exec_proc *p;
    size_t off = 0;
    pid_t pid = 0;

    if (!runtime_id_ok(w->rental_id) || w->argv == NULL || w->argv[0] == NULL ||
        w->gpu_count > RUNTIME_GPUS_MAX) {
        snprintf(detail, len, "the workload has no command");
        return ERR_INVALID;
    }
    if (find_proc(rt, w->rental_id) != NULL) {
        snprintf(detail, len, "already running");
        return ERR_EXISTS;
    }
    p = free_proc(rt);
    if (p == NULL) {
        snprintf(detail, len, "too many workloads on this host");
        return ERR_NOCAPACITY;
    }
    for (unsigned i = 0; i < w->gpu_count; i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u", i ? "," : "",
                                w->gpu_indices[i]);
    off = (size_t)snprintf(devices, sizeof(devices), "CUDA_VISIBLE_DEVICES=%s", list);
    snprintf(devices + off + 1, sizeof(devices) - off - 1, "NVIDIA_VISIBLE_DEVICES=%s", list);
    envp = build_env(w, devices);
    if (envp == NULL) {
        snprintf(detail, len, "out of memory");
        return ERR_NOMEM;
    }
    snprintf(path, sizeof(path), "%s/logs/%s.log", rt->data_dir, w->rental_id);
    log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) {
        snprintf(detail, len, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    spawn_errno = spawn_workload(w, log_fd, envp, &pid);
    if (spawn_errno != 0) {
        snprintf(detail, len, "cannot run %s: %s", w->argv[0], strerror(spawn_errno));
        rc = ERR_INVALID;
        goto out;
    }
    memset(p, 0, sizeof(*p));
    p->used = true;
    snprintf(p->id, sizeof(p->id), "%s", w->rental_id);
    p->pid = pid;
    p->epoch = w->epoch;
    p->child = true;
    p->start_time = proc_start_time(pid, &state);
    if (save_state(rt, p) != 0)
        fprintf(stderr,
                "gpurent: agent: cannot write the state of %s: a restart will not "
                "adopt it\n",
                p->id);
    rc = 0;
out:
    if (log_fd >= 0)
        close(log_fd);
    free(envp);
    return rc;
}

/* Reap the leader when it is ours; note when it is gone. */
static void check_leader(struct exec_proc *p)
{
    int status;

    if (p->leader_gone)
        return;
    if (p->child) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);

        if (r == p->pid) {
            p->leader_gone = true;
            p->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        } else if (r < 0 && errno == ECHILD) {
            p->leader_gone = true;
            p->exit_code = -1;
        }
        return;
    }
    if (!leader_alive(p)) {
        p->leader_gone = true;
        p->exit_code = -1;
    }
}

static enum runtime_state exec_poll(struct runtime *rt, const char *id, int *exit_code)
{
    struct exec_proc *p = find_proc(rt, id);

    if (p == NULL)
        return RUNTIME_UNKNOWN;
    check_leader(p);
    if (p->stopping && mono_ms() >= p->kill_at_ms && group_exists(p->pid))
        kill(-p->pid, SIGKILL);
    if (!p->leader_gone)
        return RUNTIME_ALIVE;
    if (group_exists(p->pid)) {
        if (!p->stopping) /* the leader is done: what it left behind goes too */
            kill(-p->pid, SIGKILL);
        if (p->stopping)
            return RUNTIME_ALIVE; /* still stopping */
    }
    *exit_code = p->exit_code;
    return RUNTIME_EXITED;
}

static int exec_stop(struct runtime *rt, const char *id)
{
    struct exec_proc *p = find_proc(rt, id);

    if (p == NULL)
        return ERR_NOTFOUND;
    if (!p->stopping) {
        p->stopping = true;
        p->kill_at_ms = mono_ms() + rt->grace_ms;
        check_leader(p);
        if (!p->leader_gone || group_exists(p->pid))
            kill(-p->pid, SIGTERM);
    }
    return 0;
}

static int exec_notify(struct runtime *rt, const char *id)
{
    struct exec_proc *p = find_proc(rt, id);

    if (p == NULL)
        return ERR_NOTFOUND;
    check_leader(p);
    if (!p->stopping && (!p->leader_gone || group_exists(p->pid)))
        kill(-p->pid, SIGTERM);
    return 0;
}

static void exec_forget(struct runtime *rt, const char *id)
{
    struct exec_proc *p = find_proc(rt, id);
    char path[4096];

    if (!runtime_id_ok(id))
        return;
    state_path(path, sizeof(path), rt, id);
    unlink(path);
    if (p != NULL)
        memset(p, 0, sizeof(*p));
}

/* Read one state file: 0 and *p filled (not used yet), or -1 (unreadable: *pgid if known). */
static int load_state(const char *path, struct exec_proc *p, pid_t *pgid)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    json_int_t pid, group, start, epoch;
    int rc = -1;

    *pgid = 0;
    if (j == NULL)
        return -1;
    group = json_integer_value(json_object_get(j, "pgid"));
    if (group > 1 && group < INT32_MAX)
        *pgid = (pid_t)group;
    pid = json_integer_value(json_object_get(j, "pid"));
    start = json_integer_value(json_object_get(j, "start_time"));
    epoch = json_integer_value(json_object_get(j, "epoch"));
    if (pid > 1 && pid < INT32_MAX && group == pid && start > 0 && epoch >= 0) {
        p->pid = (pid_t)pid;
        p->start_time = (unsigned long long)start;
        p->epoch = epoch;
        rc = 0;
    }
    json_decref(j);
    return rc;
}

static int exec_adopt(struct runtime *rt, struct runtime_adopted *out, unsigned max, unsigned *n)
{
    char dirpath[4096], path[4400];
    struct dirent *de;
    DIR *d;

    *n = 0;
    snprintf(dirpath, sizeof(dirpath), "%s/rentals", rt->data_dir);
    d = opendir(dirpath);
    if (d == NULL)
        return ERR_IO;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char id[RUNTIME_ID_MAX];
        struct exec_proc tmp = {0}, *p;
        pid_t pgid = 0; /* a bad id skips load_state */

        if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 || len - 5 >= sizeof(id))
            continue;
        memcpy(id, de->d_name, len - 5);
        id[len - 5] = '\0';
        snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
        if (!runtime_id_ok(id) || load_state(path, &tmp, &pgid) != 0) {
            /* a process group that no rental owns: kill it */
            if (pgid > 1 && group_exists(pgid))
                kill(-pgid, SIGKILL);
            unlink(path);
            continue;
        }
        if (*n >= max || find_proc(rt, id) != NULL || (p = free_proc(rt)) == NULL) {
            if (group_exists(tmp.pid))
                kill(-tmp.pid, SIGKILL); /* more than we can hold: no rental owns it here */
            unlink(path);
            continue;
        }
        memset(&out[*n], 0, sizeof(out[*n]));
        snprintf(out[*n].rental_id, sizeof(out[*n].rental_id), "%s", id);
        out[*n].epoch = tmp.epoch;
        if (leader_alive(&tmp)) {
            *p = tmp;
            p->used = true;
            snprintf(p->id, sizeof(p->id), "%s", id);
            out[*n].alive = true;
        } else {
            out[*n].exit_code = -1; /* it died while the agent was away */
            unlink(path);
        }
        (*n)++;
    }
    closedir(d);
    return 0;
}

static void exec_free(struct runtime *rt)
{
    free(rt->priv);
    rt->priv = NULL;
}

const struct runtime_ops runtime_exec_ops = {"exec",      exec_start,  exec_poll,  exec_stop,
                                             exec_notify, exec_forget, exec_adopt, exec_free};

bool runtime_id_ok(const char *id)
{
    size_t n = 0;

    if (id == NULL)
        return false;
    for (; id[n] != '\0'; n++) {
        char c = id[n];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return n > 0 && n < RUNTIME_ID_MAX;
}

static int mkdir_p(const char *path)
{
    char buf[4096];

    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int runtime_new(struct runtime **out, const char *kind, const char *data_dir, unsigned grace_ms,
                char *err, size_t errlen)
{
    const struct runtime_ops *ops;
    struct runtime *rt;
    char sub[4096];

    if (strncmp(kind, "sim", 3) == 0)
        return runtime_sim_new(out, kind, err, errlen); /* keeps no files */
    if (strcmp(kind, "exec") == 0) {
        ops = &runtime_exec_ops;
    } else if (strcmp(kind, "docker") == 0) {
        ops = &runtime_docker_ops;
    } else {
        snprintf(err, errlen, "--runtime %s: must be exec, docker or sim", kind);
        return ERR_INVALID;
    }
    if (strlen(data_dir) > 3000) {
        snprintf(err, errlen, "--data-dir: too long");
        return ERR_INVALID;
    }
    snprintf(sub, sizeof(sub), "%s/logs", data_dir);
    if (mkdir_p(sub) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", sub, strerror(errno));
        return ERR_IO;
    }
    snprintf(sub, sizeof(sub), "%s/rentals", data_dir);
    if (mkdir_p(sub) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", sub, strerror(errno));
        return ERR_IO;
    }
    rt = calloc(1, sizeof(*rt));
    if (rt == NULL || (rt->data_dir = strdup(data_dir)) == NULL ||
        (ops == &runtime_exec_ops && (rt->priv = calloc(1, sizeof(struct exec_state))) == NULL)) {
        if (rt != NULL)
            free(rt->data_dir);
        free(rt);
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    rt->ops = ops;
    rt->grace_ms = grace_ms;
    if (ops == &runtime_docker_ops) {
        int rc = runtime_docker_init(rt, err, errlen);

        if (rc != 0) {
            free(rt->data_dir);
            free(rt);
            return rc;
        }
    }
    *out = rt;
    return 0;
}

void runtime_free(struct runtime *rt)
{
    if (rt == NULL)
        return;
    if (rt->ops != NULL && rt->ops->free != NULL)
        rt->ops->free(rt);
    free(rt->priv);
    free(rt->data_dir);
    free(rt);
}
