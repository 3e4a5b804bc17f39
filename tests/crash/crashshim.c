/*
 * crashshim.c - an LD_PRELOAD library for the crash-safety tests: it sits between the real
 * `gpurent serve` (and its real libsqlite3) and the kernel, counts the durable writes to the
 * database files, kills the process at a chosen one, and injects storage faults.
 *
 * A "durable write" is a call of write, pwrite, pwrite64, writev, pwritev, ftruncate,
 * ftruncate64, fsync or fdatasync on a file of the database: a regular file under
 * CRASHSHIM_DIR (the data directory) other than SQLite's shared-memory index ("-shm", which
 * is mapped memory, rebuilt after a crash). Every other descriptor (sockets, logs, stdio)
 * passes straight through. The descriptor's path is read from /proc/self/fd at each call, so
 * a reused descriptor number is never mistaken for another file.
 *
 * Environment:
 *   CRASHSHIM_DIR          the data directory (required; without it the shim does nothing)
 *   CRASHSHIM_AT=k         SIGKILL the process at its k-th durable write (0 or unset: never)
 *   CRASHSHIM_TORN=1       at the k-th, if it is a write, perform the first half, then die
 *                          (a torn write); otherwise the k-th call is not performed at all
 *   CRASHSHIM_POWERLOSS=1  when dying, first undo every write not yet made durable by an
 *                          fsync/fdatasync of its file (what a power cut loses from the page
 *                          cache); directory entries are not modelled
 *   CRASHSHIM_COUNT_FILE   at a normal exit, write the number of durable writes there
 *   CRASHSHIM_FAULT_FILE   while this file exists, fail durable writes as its first word says:
 *                          "enospc": writes fail with ENOSPC (fsync succeeds);
 *                          "eio": writes and fsyncs fail with EIO;
 *                          "fsync": fsync/fdatasync fail with EIO, writes succeed
 *                          (the "fsyncgate" case: the data may or may not be on disk)
 *
 * Test-only code: it never ships in the server. It is built without sanitizers (it only
 * forwards calls); see docs/crash-safety.md for how the tests use it under ASan.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* The real functions, found once (RTLD_NEXT: the next definition after this library). */
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

/* Settings, read once. */
static char shim_dir[4096];
static size_t shim_dir_len;
static long shim_at;
static bool shim_torn, shim_powerloss;
static const char *shim_count_file, *shim_fault_file;
static atomic_long shim_count;
static pthread_once_t shim_once = PTHREAD_ONCE_INIT;

/* Power loss: what each write not yet synced overwrote, to put back when dying. */
struct undo {
    char *path;
    off64_t offset;   /* where the write went */
    char *old;        /* the bytes it overwrote (those inside the old size) */
    size_t old_len;   /* bytes in old */
    off64_t old_size; /* the file's size before it */
    bool synced;      /* an fsync of the file made it durable: nothing to undo */
};
static struct undo *undo_log;
static size_t undo_count, undo_cap;
static pthread_mutex_t undo_lock = PTHREAD_MUTEX_INITIALIZER;

#define RESOLVE(name) real_##name = dlsym(RTLD_NEXT, #name)

static void shim_init(void)
{
    const char *v;

    RESOLVE(write);
    RESOLVE(pwrite);
    RESOLVE(pwrite64);
    RESOLVE(writev);
    RESOLVE(pwritev);
    RESOLVE(ftruncate);
    RESOLVE(ftruncate64);
    RESOLVE(fsync);
    RESOLVE(fdatasync);
    v = getenv("CRASHSHIM_DIR");
    if (v != NULL && *v != '\0' && realpath(v, shim_dir) != NULL)
        shim_dir_len = strlen(shim_dir);
    v = getenv("CRASHSHIM_AT");
    shim_at = v != NULL ? strtol(v, NULL, 10) : 0;
    v = getenv("CRASHSHIM_TORN");
    shim_torn = v != NULL && strcmp(v, "1") == 0;
    v = getenv("CRASHSHIM_POWERLOSS");
    shim_powerloss = v != NULL && strcmp(v, "1") == 0;
    shim_count_file = getenv("CRASHSHIM_COUNT_FILE");
    shim_fault_file = getenv("CRASHSHIM_FAULT_FILE");
}

static void init(void)
{
    pthread_once(&shim_once, shim_init);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        real_write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Is fd a database file? Its path into path (size cap). */
static bool tracked(int fd, char *path, size_t cap)
{
    char link[64];
    ssize_t n;

    if (shim_dir_len == 0 || fd < 0)
        return false;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, cap - 1);
    if (n <= 0 || (size_t)n >= cap - 1)
        return false;
    path[n] = '\0';
    if (strncmp(path, shim_dir, shim_dir_len) != 0 || path[shim_dir_len] != '/')
        return false;
    return n < 4 || strcmp(path + n - 4, "-shm") != 0;
}

/* The injected fault for this kind of call, or 0. */
static int fault(bool is_sync)
{
    char word[16] = {0};
    int fd;

    if (shim_fault_file == NULL || (fd = open(shim_fault_file, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    if (read(fd, word, sizeof(word) - 1) < 0)
        word[0] = '\0';
    close(fd);
    if (strncmp(word, "enospc", 6) == 0)
        return is_sync ? 0 : ENOSPC;
    if (strncmp(word, "eio", 3) == 0)
        return EIO;
    if (strncmp(word, "fsync", 5) == 0)
        return is_sync ? EIO : 0;
    return 0;
}

/* Remember what a write to [offset, offset+len) of fd will overwrite (power-loss mode). */
static void remember(int fd, const char *path, off64_t offset, size_t len)
{
    struct stat stt;
    struct undo u = {0};
    ssize_t got;

    if (fstat(fd, &stt) < 0)
        return;
    u.offset = offset;
    u.old_size = stt.st_size;
    if (offset < stt.st_size) {
        u.old_len = (size_t)(stt.st_size - offset) < len ? (size_t)(stt.st_size - offset) : len;
        u.old = malloc(u.old_len ? u.old_len : 1);
        if (u.old == NULL)
            return;
        got = pread64(fd, u.old, u.old_len, offset);
        u.old_len = got > 0 ? (size_t)got : 0;
    }
    u.path = strdup(path);
    pthread_mutex_lock(&undo_lock);
    if (undo_count == undo_cap) {
        size_t cap = undo_cap ? undo_cap * 2 : 256;
        struct undo *p = realloc(undo_log, cap * sizeof(*p));
        if (p == NULL) {
            pthread_mutex_unlock(&undo_lock);
            return;
        }
        undo_log = p;
        undo_cap = cap;
    }
    undo_log[undo_count++] = u;
    pthread_mutex_unlock(&undo_lock);
}

/* An fsync of path succeeded: its writes so far are durable. */
static void synced(const char *path)
{
    pthread_mutex_lock(&undo_lock);
    for (size_t i = 0; i < undo_count; i++) {
        if (!undo_log[i].synced && strcmp(undo_log[i].path, path) == 0)
            undo_log[i].synced = true;
    }
    pthread_mutex_unlock(&undo_lock);
}

/* Power loss: put back, newest first, what every unsynced write overwrote. */
static void lose_unsynced(void)
{
    size_t lost = 0;

    pthread_mutex_lock(&undo_lock);
    for (size_t i = undo_count; i-- > 0;) {
        struct undo *u = &undo_log[i];
        int fd;
        if (u->synced)
            continue;
        fd = open(u->path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (u->old_len > 0)
            real_pwrite64(fd, u->old, u->old_len, u->offset);
        real_ftruncate64(fd, u->old_size);
        close(fd);
        lost++;
    }
    say("crashshim: power loss: %zu unsynced writes undone\n", lost);
}

static void die(long n, const char *what, const char *path)
{
    say("crashshim: SIGKILL at durable write %ld (%s %s)%s\n", n, what, path,
        shim_torn ? " torn" : "");
    if (shim_powerloss)
        lose_unsynced();
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

/*
 * The common path of every intercepted call: count it, maybe die, maybe fail. Returns true
 * when the call must fail with *err (or, at the crash point in torn mode, after half).
 */
static bool intercept(int fd, const char *what, bool is_sync, char *path, size_t cap, long *n,
                      int *err)
{
    init();
    *err = 0;
    if (!tracked(fd, path, cap))
        return false;
    *n = atomic_fetch_add(&shim_count, 1) + 1;
    if (shim_at > 0 && *n == shim_at && !(shim_torn && !is_sync))
        die(*n, what, path);
    *err = fault(is_sync);
    return *err != 0;
}

#define FAIL(e) (errno = (e), -1)

ssize_t write(int fd, const void *buf, size_t len)
{
    char path[4096];
    long n = 0;
    int e;
    off64_t off;

    if (intercept(fd, "write", false, path, sizeof(path), &n, &e))
        return FAIL(e);
    if (n == 0)
        return real_write(fd, buf, len);
    off = lseek64(fd, 0, SEEK_CUR);
    if (shim_powerloss && off >= 0)
        remember(fd, path, off, len);
    if (shim_torn && n == shim_at) {
        real_write(fd, buf, len / 2);
        die(n, "write", path);
    }
    return real_write(fd, buf, len);
}

static ssize_t positional(int fd, const void *buf, size_t len, off64_t off, const char *what,
                          bool is64)
{
    char path[4096];
    long n = 0;
    int e;

    if (intercept(fd, what, false, path, sizeof(path), &n, &e))
        return FAIL(e);
    if (n != 0 && shim_powerloss)
        remember(fd, path, off, len);
    if (n != 0 && shim_torn && n == shim_at) {
        real_pwrite64(fd, buf, len / 2, off);
        die(n, what, path);
    }
    return is64 ? real_pwrite64(fd, buf, len, off) : real_pwrite(fd, buf, len, (off_t)off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    return positional(fd, buf, len, off, "pwrite", false);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
    return positional(fd, buf, len, off, "pwrite64", true);
}

static size_t iov_len(const struct iovec *iov, int cnt)
{
    size_t len = 0;

    for (int i = 0; i < cnt; i++)
        len += iov[i].iov_len;
    return len;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    char path[4096];
    long n = 0;
    int e;
    off64_t off;

    if (intercept(fd, "writev", false, path, sizeof(path), &n, &e))
        return FAIL(e);
    if (n != 0 && shim_powerloss && (off = lseek64(fd, 0, SEEK_CUR)) >= 0)
        remember(fd, path, off, iov_len(iov, cnt));
    if (n != 0 && shim_torn && n == shim_at)
        die(n, "writev", path); /* not performed: SQLite does not use writev */
    return real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    char path[4096];
    long n = 0;
    int e;

    if (intercept(fd, "pwritev", false, path, sizeof(path), &n, &e))
        return FAIL(e);
    if (n != 0 && shim_powerloss)
        remember(fd, path, off, iov_len(iov, cnt));
    if (n != 0 && shim_torn && n == shim_at)
        die(n, "pwritev", path);
    return real_pwritev(fd, iov, cnt, off);
}

static int truncate_common(int fd, off64_t len, const char *what, bool is64)
{
    char path[4096];
    struct stat stt;
    long n = 0;
    int e;

    if (intercept(fd, what, false, path, sizeof(path), &n, &e))
        return FAIL(e);
    if (n != 0 && shim_powerloss && fstat(fd, &stt) == 0 && len < stt.st_size)
        remember(fd, path, len, (size_t)(stt.st_size - len));
    if (n != 0 && shim_torn && n == shim_at)
        die(n, what, path);
    return is64 ? real_ftruncate64(fd, len) : real_ftruncate(fd, (off_t)len);
}

int ftruncate(int fd, off_t len)
{
    return truncate_common(fd, len, "ftruncate", false);
}

int ftruncate64(int fd, off64_t len)
{
    return truncate_common(fd, len, "ftruncate64", true);
}

static int sync_common(int fd, const char *what, int (*real)(int))
{
    char path[4096];
    long n = 0;
    int e, rc;

    if (intercept(fd, what, true, path, sizeof(path), &n, &e))
        return FAIL(e);
    rc = real(fd);
    if (n != 0 && rc == 0 && shim_powerloss)
        synced(path);
    return rc;
}

int fsync(int fd)
{
    return sync_common(fd, "fsync", real_fsync);
}

int fdatasync(int fd)
{
    return sync_common(fd, "fdatasync", real_fdatasync);
}

__attribute__((destructor)) static void report_count(void)
{
    FILE *f;

    init();
    if (shim_count_file == NULL || shim_dir_len == 0)
        return;
    f = fopen(shim_count_file, "w");
    if (f == NULL)
        return;
    fprintf(f, "%ld\n", atomic_load(&shim_count));
    fclose(f);
}
