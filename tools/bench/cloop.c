/*
 * cloop: the syscalls of a Simple queue add and consume pass in a tight C loop,
 * the floor that bench_queue.py compares the Python implementations with.
 *
 *   cloop TOP COUNT SIZE
 *
 * Add (COUNT times): open(D/N.tmp, O_CREAT|O_EXCL), write SIZE bytes, close,
 * link(D/N.tmp, D/N2), unlink(D/N.tmp); D from time(NULL) with granularity 60,
 * created when missing. Consume: list and sort the intermediate directories and
 * then each one's element names (as iteration does), and for each element:
 * link(E, E.lck), utime(E), open/read/close E.lck, unlink(E), unlink(E.lck).
 *
 * Prints "ADD_SECONDS CONSUME_SECONDS" (monotonic clock); exit 1 on any error.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#define GRANULARITY 60
#define RNDHEX 9
#define NAME_ROOM 32   /* 14 hex digits; room for seconds past 2106 */
#define PATH_ROOM 4200 /* top (< 4096) + "/DDDDDDDD/EEEEEEEEEEEEEE.tmp" */

static char top[4096];
static unsigned long long last_us;

static void die(const char *what, const char *path)
{
    fprintf(stderr, "cloop: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Element name: wall-clock seconds and microseconds, strictly increasing, then rndhex. */
static void new_name(char name[NAME_ROOM])
{
    struct timespec ts;
    unsigned long long us;
    clock_gettime(CLOCK_REALTIME, &ts);
    us = (unsigned long long)ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
    if (us <= last_us)
        us = last_us + 1;
    last_us = us;
    snprintf(name, NAME_ROOM, "%08llx%05llx%01x", us / 1000000ULL, us % 1000000ULL, RNDHEX);
}

static void add(const char *data, size_t size)
{
    char dir[NAME_ROOM], name[NAME_ROOM], tmp[PATH_ROOM], path[PATH_ROOM];
    time_t now = time(NULL);
    int fd;

    snprintf(dir, sizeof dir, "%08lx", (unsigned long)(now - now % GRANULARITY));
    for (;;) {
        new_name(name);
        snprintf(tmp, sizeof tmp, "%s/%s/%s.tmp", top, dir, name);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0)
            break;
        if (errno == ENOENT) {
            snprintf(path, sizeof path, "%s/%s", top, dir);
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                die("mkdir", path);
        } else if (errno != EEXIST) {
            die("open", tmp);
        }
    }
    if (write(fd, data, size) != (ssize_t)size)
        die("write", tmp);
    if (close(fd) != 0)
        die("close", tmp);
    for (;;) {
        new_name(name);
        snprintf(path, sizeof path, "%s/%s/%s", top, dir, name);
        if (link(tmp, path) == 0)
            break;
        if (errno != EEXIST)
            die("link", tmp);
    }
    if (unlink(tmp) != 0)
        die("unlink", tmp);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_hex_name(const char *name, size_t length)
{
    if (strlen(name) != length)
        return 0;
    for (; *name; name++)
        if (!((*name >= '0' && *name <= '9') || (*name >= 'a' && *name <= 'f')))
            return 0;
    return 1;
}

/* Sorted names of length LENGTH in PATH; *count receives their number. */
static char **list_sorted(const char *path, size_t length, size_t *count)
{
    DIR *dir = opendir(path);
    struct dirent *entry;
    size_t used = 0, room = 1024;
    char **names = malloc(room * sizeof *names);

    if (!dir || !names)
        die("opendir", path);
    while ((entry = readdir(dir)) != NULL) {
        if (!is_hex_name(entry->d_name, length))
            continue;
        if (used == room && !(names = realloc(names, (room *= 2) * sizeof *names)))
            die("realloc", path);
        if (!(names[used++] = strdup(entry->d_name)))
            die("strdup", path);
    }
    closedir(dir);
    qsort(names, used, sizeof *names, compare_names);
    *count = used;
    return names;
}

static size_t consume_element(const char *path, char *buffer, size_t room)
{
    char lock[PATH_ROOM + 8];
    size_t total = 0;
    ssize_t got;
    int fd;

    snprintf(lock, sizeof lock, "%s.lck", path);
    if (link(path, lock) != 0)
        die("link", path);
    if (utime(path, NULL) != 0)
        die("utime", path);
    if ((fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        die("open", lock);
    while ((got = read(fd, buffer, room)) > 0)
        total += got;
    if (got < 0)
        die("read", lock);
    if (close(fd) != 0)
        die("close", lock);
    if (unlink(path) != 0)
        die("unlink", path);
    if (unlink(lock) != 0)
        die("unlink", lock);
    return total;
}

static size_t consume(char *buffer, size_t room)
{
    size_t ndirs, nelts, consumed = 0;
    char **dirs = list_sorted(top, 8, &ndirs), path[PATH_ROOM];

    for (size_t d = 0; d < ndirs; d++) {
        snprintf(path, sizeof path, "%s/%s", top, dirs[d]);
        char **elts = list_sorted(path, 14, &nelts);
        for (size_t e = 0; e < nelts; e++) {
            snprintf(path, sizeof path, "%s/%s/%s", top, dirs[d], elts[e]);
            consume_element(path, buffer, room);
            consumed++;
            free(elts[e]);
        }
        free(elts);
        free(dirs[d]);
    }
    free(dirs);
    return consumed;
}

int main(int argc, char **argv)
{
    long count, size;
    char *data, *buffer;
    double start, added, consumed_at;

    if (argc != 4 || (count = atol(argv[2])) <= 0 || (size = atol(argv[3])) < 0) {
        fprintf(stderr, "usage: cloop TOP COUNT SIZE\n");
        return 2;
    }
    snprintf(top, sizeof top, "%s", argv[1]);
    if (mkdir(top, 0777) != 0 && errno != EEXIST)
        die("mkdir", top);
    data = malloc(size + 1);
    buffer = malloc(65536);
    if (!data || !buffer)
        die("malloc", "buffers");
    for (long i = 0; i < size; i++)
        data[i] = (char)(i * 7);

    start = now_seconds();
    for (long i = 0; i < count; i++)
        add(data, size);
    added = now_seconds();
    if (consume(buffer, 65536) != (size_t)count) {
        fprintf(stderr, "cloop: consumed a different number of elements than added\n");
        return 1;
    }
    consumed_at = now_seconds();
    printf("%.6f %.6f\n", added - start, consumed_at - added);
    free(data);
    free(buffer);
    return 0;
}
