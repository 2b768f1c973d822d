// What the C probes of bench/ (durability-floor.c, wal-floor.c) share: a clock, a sort order, a check.
#ifndef STORESCP_BENCH_PROBE_H
#define STORESCP_BENCH_PROBE_H
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* For qsort over doubles. */
static inline int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static inline void must(int ok, const char *what) {
  if (!ok) {
    perror(what);
    exit(1);
  }
}
#endif
