/*
 * test_agent.c - the host agent's back-ends: docker arguments, the SIMULATED GPU spec, the
 * exec runtime (environment, stop, failure, adopt after a restart) and NVML's absence.
 */
#include "../../src/common/compat.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/agent/gpu.h"
#include "../../src/agent/runtime.h"
#include "../../src/common/err.h"

static const unsigned two_three[] = {2, 3};

static void assert_argv(char **argv, const char *const *want)
{
    size_t i;

    for (i = 0; want[i] != NULL; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
}

static void test_docker_argv(void **state)
{
    const char *cmd[] = {"python", "train.py", NULL};
    const char *env[] = {"A=1", "B=two words", "CUDA_VISIBLE_DEVICES=7", NULL};
    /* NVML GPUs: --gpus maps them (the toolkit sets NVIDIA_VISIBLE_DEVICES inside) */
    const char *want[] = {"docker",
                          "run",
                          "-d",
                          "--name",
                          "gpurent-rnt_x1",
                          "--label",
                          "gpurent.rental=rnt_x1",
                          "--label",
                          "gpurent.epoch=12",
                          "--label",
                          "gpurent.agent=0123456789abcdef",
                          "--gpus",
                          "\"device=2,3\"",
                          "-e",
                          "A=1",
                          "-e",
                          "B=two words",
                          "-e",
                          "CUDA_VISIBLE_DEVICES=7",
                          "nvcr.io/pt:24",
                          "python",
                          "train.py",
                          NULL};
    /* SIMULATED GPUs: no --gpus; the list in the env, after the workload's (which loses) */
    const char *want_sim[] = {"docker",
                              "run",
                              "-d",
                              "--name",
                              "gpurent-rnt_x1",
                              "--label",
                              "gpurent.rental=rnt_x1",
                              "--label",
                              "gpurent.epoch=12",
                              "-e",
                              "A=1",
                              "-e",
                              "B=two words",
                              "-e",
                              "CUDA_VISIBLE_DEVICES=7",
                              "-e",
                              "NVIDIA_VISIBLE_DEVICES=2,3",
                              "-e",
                              "CUDA_VISIBLE_DEVICES=2,3",
                              "nvcr.io/pt:24",
                              "python",
                              "train.py",
                              NULL};
    /* no GPUs, no env, no command: the image's own */
    const char *want_bare[] = {"docker",
                               "run",
                               "-d",
                               "--name",
                               "gpurent-rnt_x1",
                               "--label",
                               "gpurent.rental=rnt_x1",
                               "--label",
                               "gpurent.epoch=12",
                               "--label",
                               "gpurent.agent=0123456789abcdef",
                               "img",
                               NULL};
    struct workload_spec w = {.rental_id = "rnt_x1",
                              .epoch = 12,
                              .gpu_indices = two_three,
                              .gpu_count = 2,
                              .argv = cmd,
                              .env = env,
                              .image = "nvcr.io/pt:24",
                              .agent_label = "0123456789abcdef"};
    char **argv = NULL;

    (void)state;
    assert_int_equal(runtime_docker_argv(&argv, &w), 0);
    assert_argv(argv, want);
    runtime_argv_free(argv);
    w.gpus_simulated = true;
    w.agent_label = NULL;
    assert_int_equal(runtime_docker_argv(&argv, &w), 0);
    assert_argv(argv, want_sim);
    runtime_argv_free(argv);
    w.gpus_simulated = false;
    w.agent_label = "0123456789abcdef";
    w.gpu_count = 0;
    w.argv = NULL;
    w.env = NULL;
    w.image = "img";
    assert_int_equal(runtime_docker_argv(&argv, &w), 0);
    assert_argv(argv, want_bare);
    runtime_argv_free(argv);
    w.image = NULL;
    assert_int_equal(runtime_docker_argv(&argv, &w), ERR_INVALID);
    w.image = "";
    assert_int_equal(runtime_docker_argv(&argv, &w), ERR_INVALID);
    w.image = "img";
    w.rental_id = "../etc";
    assert_int_equal(runtime_docker_argv(&argv, &w), ERR_INVALID);
    w.rental_id = "rnt_x1";
    w.epoch = -1;
    assert_int_equal(runtime_docker_argv(&argv, &w), ERR_INVALID);
}

/* The docker runtime without an engine (DOCKER_HOST at a socket that does not exist): its
 * agent id is made once and kept; a start fails with docker's error; a poll says alive (a
 * lost engine is no exit); adopt fails and finds nothing. */
static void test_docker_unreachable(void **state)
{
    const char *cmd[] = {"true", NULL};
    struct workload_spec w = {.rental_id = "rnt_d1", .epoch = 1, .argv = cmd, .image = "img"};
    char dir[] = "/tmp/gpurent-test-docker-XXXXXX", path[200], id1[32] = "", id2[32] = "";
    char err[256], detail[RUNTIME_DETAIL_MAX] = "", *saved = getenv("DOCKER_HOST");
    struct runtime_adopted found[4];
    struct runtime *rt = NULL;
    unsigned n = 99;
    int code = 7;
    FILE *f;

    (void)state;
    saved = saved != NULL ? strdup(saved) : NULL;
    assert_non_null(mkdtemp(dir));
    setenv("DOCKER_HOST", "unix:///nonexistent/gpurent-test-docker.sock", 1);
    assert_int_equal(runtime_new(&rt, "docker", dir, 1000, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/docker-agent-id", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(id1, sizeof(id1), f));
    fclose(f);
    assert_int_equal(strlen(id1), 16);
    assert_int_equal(strspn(id1, "0123456789abcdef"), 16);
    assert_int_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), ERR_IO);
    assert_int_equal(strncmp(detail, "docker run: ", 12), 0);
    assert_int_equal(rt->ops->poll(rt, "rnt_d1", &code), RUNTIME_ALIVE);
    assert_int_equal(code, 7);
    assert_int_equal(rt->ops->adopt(rt, found, 4, &n), ERR_IO);
    assert_int_equal(n, 0);
    runtime_free(rt);
    /* a second start of the agent keeps its id */
    assert_int_equal(runtime_new(&rt, "docker", dir, 1000, err, sizeof(err)), 0);
    runtime_free(rt);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(id2, sizeof(id2), f));
    fclose(f);
    assert_string_equal(id1, id2);
    /* a damaged id is an error, not a new id (that would orphan the containers) */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not-hex", f);
    fclose(f);
    assert_int_equal(runtime_new(&rt, "docker", dir, 1000, err, sizeof(err)), ERR_IO);
    assert_non_null(strstr(err, "not an agent id"));
    if (saved != NULL)
        setenv("DOCKER_HOST", saved, 1);
    else
        unsetenv("DOCKER_HOST");
    free(saved);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

static void test_sim_spec(void **state)
{
    struct gpu_info gpus[GPU_MAX];
    struct gpu_sample s[GPU_MAX];
    bool busy[GPU_MAX] = {true};
    struct gpu_backend b;
    unsigned n = 0;
    char err[256];

    (void)state;
    assert_int_equal(gpu_open(&b, "sim:8xA100-80G", "h1", err, sizeof(err)), 0);
    assert_string_equal(b.ops->name, "simulated");
    assert_int_equal(b.ops->discover(&b, gpus, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 8);
    assert_string_equal(gpus[7].uuid, "GPU-SIM-h1-7");
    assert_string_equal(gpus[0].model, "A100-80G");
    assert_int_equal(gpus[0].memory_mib, 81920);
    assert_int_equal(b.ops->telemetry(&b, busy, s, n, 5), 0);
    assert_true(s[0].util_pct >= 85 && s[0].util_pct <= 99);
    assert_true(s[1].util_pct == 0);
    gpu_close(&b);

    assert_int_equal(gpu_open(&b, "sim:0xA100-80G", "h", err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, "--gpus sim:0xA100-80G: N in sim:NxMODEL must be 1..32");
    assert_int_equal(gpu_open(&b, "sim:33xA100", "h", err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, "--gpus sim:33xA100: N in sim:NxMODEL must be 1..32");
    assert_int_equal(gpu_open(&b, "sim:8x", "h", err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err,
                        "--gpus sim:8x: MODEL in sim:NxMODEL must be a model name (e.g. A100-80G)");
    assert_int_equal(gpu_open(&b, "cuda", "h", err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, "--gpus cuda: must be nvml or sim:NxMODEL (e.g. sim:8xA100-80G)");
}

static void test_nvml_absent(void **state)
{
    struct gpu_backend b = {0};
    char err[256];

    (void)state;
    assert_int_equal(gpu_nvml_open(&b, "/nonexistent/libnvidia-ml.so.1", err, sizeof(err)),
                     ERR_NOTFOUND);
    assert_string_equal(err, "--gpus nvml: libnvidia-ml.so.1 not found (no NVIDIA driver?); use "
                             "--gpus sim:8xA100-80G for a simulated host");
    assert_null(b.priv);
}

/*
 * NVML against tests/unit/fake_nvml.c loaded by path (FAKE_NVML_PATH): its five GPUs'
 * identity, memory, PCI bus ids, NVLink islands (a direct link, an NVSwitch, a disabled
 * link) and telemetry, parsed exactly; then init, identity and power failures and no GPU.
 */
static void test_nvml_fake(void **state)
{
    static const char *const models[] = {"A100-SXM4-80GB", "A100-SXM4-80GB", "H100-80GB-HBM3",
                                         "H100-80GB-HBM3", "L4"};
    static const unsigned memory[] = {81920, 81920, 81559, 81559, 23034};
    static const unsigned islands[] = {0, 0, 1, 1, 2};
    static const char *const buses[] = {"00000000:07:00.0", "00000000:0F:00.0", "00000000:47:00.0",
                                        "00000000:4E:00.0", "00000000:87:00.0"};
    void (*set)(unsigned, int, int, int);
    void (*calls)(int *, int *);
    struct gpu_info gpus[GPU_MAX];
    struct gpu_sample s[GPU_MAX];
    bool busy[GPU_MAX] = {false};
    struct gpu_backend b = {0};
    int inits = 0, shutdowns = 0;
    unsigned n = 0;
    char err[256], uuid[64];
    void *lib;

    (void)state;
    lib = dlopen(FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL); /* the same copy gpu_nvml_open gets */
    assert_non_null(lib);
    *(void **)&set = dlsym(lib, "fake_nvml_set");
    *(void **)&calls = dlsym(lib, "fake_nvml_calls");
    assert_non_null(set);
    assert_non_null(calls);

    assert_int_equal(gpu_nvml_open(&b, FAKE_NVML_PATH, err, sizeof(err)), 0);
    assert_string_equal(b.ops->name, "nvml");
    assert_int_equal(b.ops->discover(&b, gpus, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 5);
    for (unsigned i = 0; i < n; i++) {
        snprintf(uuid, sizeof(uuid), "GPU-11111111-2222-3333-4444-55555555555%u", i);
        assert_int_equal(gpus[i].index, i);
        assert_string_equal(gpus[i].uuid, uuid);
        assert_string_equal(gpus[i].model, models[i]);
        assert_int_equal(gpus[i].memory_mib, memory[i]);
        assert_int_equal(gpus[i].nvlink_island, islands[i]);
        assert_string_equal(gpus[i].pci_bus_id, buses[i]);
    }
    assert_int_equal(b.ops->telemetry(&b, busy, s, n, 5), 0);
    assert_true(s[0].util_pct == 37 && s[0].mem_used_mib == 1024 && s[0].temp_c == 61);
    assert_true(s[0].power_w > 251.233 && s[0].power_w < 251.235); /* 251234 mW */
    assert_true(s[2].util_pct == 99 && s[2].mem_used_mib == 40000 && s[2].temp_c == 80);
    assert_true(s[2].power_w > 699.89 && s[2].power_w < 699.91);
    assert_true(s[1].util_pct == 0 && s[1].mem_used_mib == 0 && s[1].power_w == 60.5);
    /* a failing reading: ERR_IO, the others still filled */
    set(5, 0, 0, 1);
    assert_int_equal(b.ops->telemetry(&b, busy, s, n, 5), ERR_IO);
    assert_true(s[4].util_pct == 5 && s[4].temp_c == 40);
    gpu_close(&b);
    calls(&inits, &shutdowns);
    assert_int_equal(inits, 1);
    assert_int_equal(shutdowns, 1);

    /* two GPUs: GPU 0's link to GPU 1 still makes one island */
    set(2, 0, 0, 0);
    assert_int_equal(gpu_nvml_open(&b, FAKE_NVML_PATH, err, sizeof(err)), 0);
    assert_int_equal(b.ops->discover(&b, gpus, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(gpus[1].nvlink_island, 0);
    gpu_close(&b);

    set(5, 0, 1, 0);
    assert_int_equal(gpu_nvml_open(&b, FAKE_NVML_PATH, err, sizeof(err)), 0);
    assert_int_equal(b.ops->discover(&b, gpus, &n, err, sizeof(err)), ERR_IO);
    assert_string_equal(err, "--gpus nvml: cannot read GPU 1's identity");
    gpu_close(&b);

    set(0, 0, 0, 0);
    assert_int_equal(gpu_nvml_open(&b, FAKE_NVML_PATH, err, sizeof(err)), ERR_IO);
    assert_string_equal(err, "--gpus nvml: no GPU found");
    assert_null(b.priv);

    set(5, 1, 0, 0);
    assert_int_equal(gpu_nvml_open(&b, FAKE_NVML_PATH, err, sizeof(err)), ERR_IO);
    assert_string_equal(err, "--gpus nvml: nvmlInit failed (is the NVIDIA driver loaded?)");
    assert_null(b.priv);
    calls(&inits, &shutdowns);
    assert_int_equal(inits, 5);
    assert_int_equal(shutdowns, 4); /* every init that succeeded was shut down */
    set(5, 0, 0, 0);
    dlclose(lib);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* CLOCK_MONOTONIC in milliseconds (the clock the SIMULATED runtime measures lifetimes on) */
static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for a workload to do what is asked of it (not a bound under test) get this long:
   generous, for a sanitizer build on a loaded machine. */
#define SLOW_MS 30000

/* A process of group pgid lives; zombies (orphans waiting for a reaper) do not count. */
static bool group_alive(pid_t pgid)
{
    char cmd[160];

    snprintf(cmd, sizeof(cmd),
             "ps -e -o pgid=,stat= | awk '$1 == %d && $2 !~ /^Z/ { found = 1 } END { exit "
             "!found }'",
             (int)pgid);
    return system(cmd) == 0;
}

/* The pgid a rental's state file holds. */
static pid_t state_pgid(const char *dir, const char *id)
{
    char path[512];
    int pgid = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/rentals/%s.json", dir, id);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "{\"pid\":%*d,\"pgid\":%d", &pgid) != 1)
        pgid = 0;
    fclose(f);
    return pgid;
}

static void test_exec_runtime(void **state)
{
    char dir[] = "/tmp/gpurent-test-agent-XXXXXX", script[1400], file[400], buf[64] = "";
    const char *argv[] = {"sh", "-c", script, NULL};
    const char *missing[] = {"/nonexistent/no-such-command", NULL};
    const char *env[] = {"GPURENT_TEST=1", NULL};
    struct workload_spec w = {.rental_id = "rnt_a",
                              .epoch = 3,
                              .gpu_indices = two_three,
                              .gpu_count = 2,
                              .argv = argv,
                              .env = env};
    struct runtime_adopted found[8];
    struct runtime *rt = NULL, *rt2 = NULL;
    char err[256], detail[RUNTIME_DETAIL_MAX];
    unsigned n = 0;
    int code = 0, waited;
    pid_t pgid;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/cvd", dir);
    snprintf(script, sizeof(script), "echo $CUDA_VISIBLE_DEVICES > %s.tmp; mv %s.tmp %s; sleep 30",
             file, file, file);
    assert_int_equal(runtime_new(&rt, "exec", dir, 1000, err, sizeof(err)), 0);
    assert_int_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), 0);
    for (waited = 0; access(file, F_OK) != 0 && waited < SLOW_MS; waited += 20)
        sleep_ms(20);
    f = fopen(file, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "2,3\n");
    assert_int_equal(rt->ops->poll(rt, "rnt_a", &code), RUNTIME_ALIVE);
    pgid = state_pgid(dir, "rnt_a");
    assert_true(pgid > 1);

    /* a restart: a new runtime over the same directory adopts the live workload */
    assert_int_equal(runtime_new(&rt2, "exec", dir, 1000, err, sizeof(err)), 0);
    assert_int_equal(rt2->ops->adopt(rt2, found, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(found[0].rental_id, "rnt_a");
    assert_int_equal(found[0].epoch, 3);
    assert_true(found[0].alive);
    assert_int_equal(rt2->ops->poll(rt2, "rnt_a", &code), RUNTIME_ALIVE);
    runtime_free(rt2);

    /* stop: the process group is gone within the grace */
    assert_int_equal(rt->ops->stop(rt, "rnt_a"), 0);
    for (waited = 0; rt->ops->poll(rt, "rnt_a", &code) == RUNTIME_ALIVE && waited < 1500;
         waited += 20)
        sleep_ms(20);
    assert_true(waited < 1500);
    assert_false(group_alive(pgid));
    rt->ops->forget(rt, "rnt_a");
    assert_int_equal(state_pgid(dir, "rnt_a"), 0);

    /* a command that does not exist fails the start with a detail */
    w.rental_id = "rnt_b";
    w.argv = missing;
    assert_int_not_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), 0);
    assert_string_equal(detail,
                        "cannot run /nonexistent/no-such-command: No such file or directory");
    assert_int_equal(rt->ops->poll(rt, "rnt_b", &code), RUNTIME_UNKNOWN);

    /* a workload that exits: its code */
    argv[2] = "exit 7";
    w.rental_id = "rnt_c";
    w.argv = argv;
    assert_int_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), 0);
    for (waited = 0; rt->ops->poll(rt, "rnt_c", &code) == RUNTIME_ALIVE && waited < SLOW_MS;
         waited += 20)
        sleep_ms(20);
    assert_int_equal(rt->ops->poll(rt, "rnt_c", &code), RUNTIME_EXITED);
    assert_int_equal(code, 7);
    rt->ops->forget(rt, "rnt_c");
    runtime_free(rt);

    snprintf(script, sizeof(script), "rm -rf '%s'", dir);
    assert_int_equal(system(script), 0);
}

/* The SIMULATED runtime: lifetimes from the command, stop, forget, nothing to adopt. */
static void test_sim_runtime(void **state)
{
    const char *sleep1[] = {"sleep", "1", NULL}, *t[] = {"true", NULL}, *f[] = {"false", NULL};
    const char *train[] = {"python", "train.py", NULL};
    struct workload_spec w = {
        .rental_id = "rnt_s", .epoch = 1, .gpu_indices = two_three, .gpu_count = 2, .argv = t};
    struct runtime_adopted found[4];
    struct runtime *rt = NULL;
    char err[256], detail[RUNTIME_DETAIL_MAX];
    unsigned n = 9;
    int code = -5;
    long long t0;
    enum runtime_state st;

    (void)state;
    assert_int_equal(runtime_new(&rt, "sim:x", NULL, 0, err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, "--runtime sim:x: sim:SECONDS must be 0..86400 seconds");
    assert_int_equal(runtime_new(&rt, "sim", NULL, 0, err, sizeof(err)), 0);
    assert_string_equal(rt->ops->name, "simulated");
    assert_int_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), 0);
    assert_int_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), ERR_CONFLICT);
    assert_int_equal(rt->ops->poll(rt, "rnt_s", &code), RUNTIME_EXITED);
    assert_int_equal(code, 0);
    rt->ops->forget(rt, "rnt_s");
    assert_int_equal(rt->ops->poll(rt, "rnt_s", &code), RUNTIME_UNKNOWN);
    w.argv = f;
    assert_int_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), 0);
    assert_int_equal(rt->ops->poll(rt, "rnt_s", &code), RUNTIME_EXITED);
    assert_int_equal(code, 1);
    rt->ops->forget(rt, "rnt_s");
    w.argv = sleep1;
    t0 = mono_ms();
    assert_int_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), 0);
    st = rt->ops->poll(rt, "rnt_s", &code);
    /* alive for its second (a loaded machine may stall this thread past it: then it ended) */
    if (mono_ms() - t0 < 1000)
        assert_int_equal(st, RUNTIME_ALIVE);
    sleep_ms(1100);
    assert_int_equal(rt->ops->poll(rt, "rnt_s", &code), RUNTIME_EXITED);
    assert_int_equal(code, 0);
    rt->ops->forget(rt, "rnt_s");
    /* anything else runs until stopped, then exits 143 (SIGTERM) */
    w.argv = train;
    assert_int_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), 0);
    assert_int_equal(rt->ops->notify(rt, "rnt_s"), 0);
    assert_int_equal(rt->ops->poll(rt, "rnt_s", &code), RUNTIME_ALIVE);
    assert_int_equal(rt->ops->stop(rt, "rnt_s"), 0);
    assert_int_equal(rt->ops->poll(rt, "rnt_s", &code), RUNTIME_EXITED);
    assert_int_equal(code, 143);
    assert_int_equal(rt->ops->adopt(rt, found, 4, &n), 0);
    assert_int_equal(n, 0);
    runtime_free(rt);

    /* sim:SECONDS: other commands live that long */
    assert_int_equal(runtime_new(&rt, "sim:0", NULL, 0, err, sizeof(err)), 0);
    assert_int_equal(rt->ops->start(rt, &w, detail, sizeof(detail)), 0);
    assert_int_equal(rt->ops->poll(rt, "rnt_s", &code), RUNTIME_EXITED);
    assert_int_equal(code, 0);
    runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker_argv), cmocka_unit_test(test_docker_unreachable),
        cmocka_unit_test(test_sim_spec),    cmocka_unit_test(test_nvml_absent),
        cmocka_unit_test(test_nvml_fake),   cmocka_unit_test(test_exec_runtime),
        cmocka_unit_test(test_sim_runtime),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
