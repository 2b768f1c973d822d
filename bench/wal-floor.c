// What the write-ahead order of docs/storage.md (storage.durability: wal) costs on this disk by itself,
// in C: no network, no runtime, no parsing. The counterpart of durability-floor.c, printed the same way.
// Per instance: 0.5 MiB appended to a preallocated, zero-filled log in 32 KiB pieces, the whole pages of
// each handed to the disk as it lands (sync_file_range), then the commit a receiver must finish before it
// may answer 0000: an end record with the outbox record appended, one data-only fdatasync of the log.
//
// With --copy, a second thread does meanwhile what the server does behind each answer: the instance
// written to a file of its own (O_DIRECT, from an aligned buffer), and in batches of 8 those files'
// data synced, renamed, their directory synced. Every byte then reaches the disk twice, and the copies'
// writes and journal commits share the disk with the log's syncs: the commit timed with --copy is what
// the log's order can give on this disk while it keeps up with a serial sender.
//
// With --tail, each instance's bytes are synced before its end record is appended (what a sync started
// while the instance arrives would do at best, with nothing else on the disk): the commit timed is then
// one sync of the end record alone, the least a receiver that answers only once the instance and its
// record are durable can add after the last byte on this disk.
//
// usage: wal-floor DIR N [--copy | --tail]
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#define SIZE 525220
#define PIECE (32 * 1024)
#define LOG_BYTES (256L * 1024 * 1024)
#define BATCH 8

static int dir_fd, log_fd, n;
static const char *dir;
static char *data;
static long head;
/* Instances committed (written by the main thread) and copied (by the copier). */
static volatile int committed, copied;

/* Append to the ring; the pages filled so far are handed to the disk. */
static void append(const char *bytes, size_t k) {
  long at = head % LOG_BYTES;
  if (at + (long)k > LOG_BYTES) {
    head += LOG_BYTES - at;
    at = 0;
  }
  must(pwrite(log_fd, bytes, k, at) == (ssize_t)k, "pwrite log");
  long from = at & ~4095L, to = (at + (long)k) & ~4095L;
  if (to > from) sync_file_range(log_fd, from, to - from, SYNC_FILE_RANGE_WRITE);
  head += (long)k;
}

static void *copier(void *unused) {
  (void)unused;
  char *buf, tmp[4096], final[4096];
  size_t aligned = (SIZE + 4095) & ~(size_t)4095;
  must(posix_memalign((void **)&buf, 4096, aligned) == 0, "posix_memalign");
  memset(buf, 0, aligned);
  int fds[BATCH], batch = 0;
  for (int i = 0; i < n; i++) {
    while (committed <= i) usleep(50);
    memcpy(buf, data, SIZE);
    snprintf(tmp, sizeof tmp, "%s/.%d.tmp", dir, i);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
    must(fd >= 0, tmp);
    must(pwrite(fd, buf, aligned, 0) == (ssize_t)aligned, "pwrite copy");
    must(ftruncate(fd, SIZE) == 0, "ftruncate");
    fds[batch++] = fd;
    if (batch < BATCH && i < n - 1) continue;
    for (int b = 0; b < batch; b++) {
      int j = i - batch + 1 + b;
      must(fdatasync(fds[b]) == 0, "fdatasync copy");
      must(close(fds[b]) == 0, "close");
      snprintf(tmp, sizeof tmp, "%s/.%d.tmp", dir, j);
      snprintf(final, sizeof final, "%s/%d.dcm", dir, j);
      must(rename(tmp, final) == 0, "rename");
    }
    must(fsync(dir_fd) == 0, "fsync dir");
    batch = 0;
    copied = i + 1;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: wal-floor DIR N [--copy | --tail]\n");
    return 2;
  }
  dir = argv[1];
  n = atoi(argv[2]);
  int copy = argc > 3 && strcmp(argv[3], "--copy") == 0;
  int tail = argc > 3 && strcmp(argv[3], "--tail") == 0;
  char record[900], path[4096];
  double *commit = malloc(sizeof(double) * (size_t)n);
  data = malloc(SIZE);
  must(data && commit && n > 0, "setup");
  memset(data, 0x5a, SIZE);
  memset(record, 'r', sizeof record);
  dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
  must(dir_fd >= 0, dir);
  snprintf(path, sizeof path, "%s/log", dir);
  log_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  must(log_fd >= 0, path);
  /* Made once, as the server does at its first start: zeros, synced with the directory. */
  char *zeros = calloc(1, 1 << 20);
  must(zeros != NULL, "calloc");
  for (long at = 0; at < LOG_BYTES; at += 1 << 20)
    must(pwrite(log_fd, zeros, 1 << 20, at) == 1 << 20, "preallocate log");
  must(fdatasync(log_fd) == 0 && fsync(dir_fd) == 0, "sync log");
  pthread_t th;
  if (copy) must(pthread_create(&th, NULL, copier, NULL) == 0, "pthread_create");
  double start = now_ms();
  for (int i = 0; i < n; i++) {
    /* The log has room only for what is not yet copied (as the server's checkpoint allows). */
    while (copy && (long)(i - copied) * SIZE > LOG_BYTES / 2) usleep(50);
    for (size_t at = 0; at < SIZE; at += PIECE) append(data + at, SIZE - at < PIECE ? SIZE - at : PIECE);
    if (tail) must(fdatasync(log_fd) == 0, "fdatasync log (tail)");
    double t = now_ms();
    append(record, sizeof record);
    must(fdatasync(log_fd) == 0, "fdatasync log");
    commit[i] = now_ms() - t;
    committed = i + 1;
  }
  double cycle = (now_ms() - start) / n;
  if (copy) pthread_join(th, NULL);
  qsort(commit, (size_t)n, sizeof(double), by_value);
  printf("commit_ms %.3f p10 %.3f p90 %.3f cycle_ms %.3f\n", commit[n / 2], commit[n / 10], commit[n * 9 / 10], cycle);
  return 0;
}
