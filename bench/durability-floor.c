// What the durability order of docs/storage.md costs on this disk by itself, in C: no network, no runtime, no parsing.
// Per instance: 0.5 MiB written to a temporary name in 128 KiB pieces, writeback started as each piece
// lands (as a streaming receiver does), then the commit a receiver must finish before it may answer 0000:
//   fdatasync(file) -> rename -> fsync(directory) in parallel with append record + fdatasync(outbox).
// Prints the median, p10 and p90 of the commit (last byte written -> durable) in ms, and the whole cycle.
// The sender of W1 waits for each answer, so no receiver can hide this time: it adds to each instance.
//
// usage: durability-floor DIR N [SIZE]
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static int dir_fd;

static void *sync_dir(void *unused) {
  (void)unused;
  if (fsync(dir_fd) != 0) perror("fsync dir");
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: durability-floor DIR N [SIZE]\n");
    return 2;
  }
  const char *dir = argv[1];
  int n = atoi(argv[2]);
  size_t size = argc > 3 ? (size_t)atol(argv[3]) : 525220, piece = 128 * 1024;
  char *data = malloc(size), record[900], tmp[4096], final[4096];
  double *commit = malloc(sizeof(double) * (size_t)n);
  must(data && commit && n > 0, "setup");
  memset(data, 0x5a, size);
  memset(record, 'r', sizeof record);
  record[sizeof record - 1] = '\n';
  dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
  must(dir_fd >= 0, dir);
  snprintf(tmp, sizeof tmp, "%s/outbox.log", dir);
  int outbox = open(tmp, O_WRONLY | O_CREAT | O_APPEND, 0644);
  must(outbox >= 0, tmp);
  double start = now_ms();
  for (int i = 0; i < n; i++) {
    snprintf(tmp, sizeof tmp, "%s/.%d.tmp", dir, i);
    snprintf(final, sizeof final, "%s/%d.dcm", dir, i);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    must(fd >= 0, tmp);
    for (size_t at = 0; at < size; at += piece) {
      size_t k = size - at < piece ? size - at : piece;
      must(write(fd, data + at, k) == (ssize_t)k, "write");
      sync_file_range(fd, (off_t)at, (off_t)k, SYNC_FILE_RANGE_WRITE);
    }
    double t = now_ms();
    must(fdatasync(fd) == 0, "fdatasync");
    must(close(fd) == 0, "close");
    must(rename(tmp, final) == 0, "rename");
    pthread_t th;
    must(pthread_create(&th, NULL, sync_dir, NULL) == 0, "pthread_create");
    must(write(outbox, record, sizeof record) == (ssize_t)sizeof record, "write record");
    must(fdatasync(outbox) == 0, "fdatasync outbox");
    pthread_join(th, NULL);
    commit[i] = now_ms() - t;
  }
  double cycle = (now_ms() - start) / n;
  qsort(commit, (size_t)n, sizeof(double), by_value);
  printf("commit_ms %.3f p10 %.3f p90 %.3f cycle_ms %.3f\n", commit[n / 2], commit[n / 10], commit[n * 9 / 10], cycle);
  return 0;
}
