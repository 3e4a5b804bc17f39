/*
 * fsync_count.c - an LD_PRELOAD shim for bench/bench_http.sh: counts the fsync and fdatasync
 * calls of a process, at no measurable cost (one atomic add each), and writes the count to
 * the file named by $FSYNC_COUNT_FILE every 100 ms (written whole, then renamed).
 *
 * Build: cc -O2 -shared -fPIC -o fsync_count.so fsync_count.c -ldl -lpthread
 * (strace would count them too, but slows every system call of the server by 2-3x.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_ulong calls;

int fsync(int fd);
int fdatasync(int fd);

int fsync(int fd)
{
    static int (*real)(int);

    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    atomic_fetch_add(&calls, 1);
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);

    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    atomic_fetch_add(&calls, 1);
    return real(fd);
}

static void *writer(void *arg)
{
    const char *path = arg;
    char tmp[4096];

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    for (;;) {
        FILE *f = fopen(tmp, "w");

        if (f != NULL) {
            fprintf(f, "%lu\n", atomic_load(&calls));
            if (fclose(f) == 0)
                rename(tmp, path);
        }
        usleep(100000);
    }
    return NULL;
}

__attribute__((constructor)) static void start(void)
{
    const char *path = getenv("FSYNC_COUNT_FILE");
    sigset_t all, old;
    pthread_t t;

    if (path == NULL || *path == '\0')
        return;
    /* the thread must not take the signals the server waits for with sigwait */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&t, NULL, writer, (void *)path) == 0)
        pthread_detach(t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}
