// LD_PRELOAD shim for the bench's "dcmtk-durable" receiver: DCMTK storescp made to keep the durability
// docs/storage.md asks of us, for the files it writes under $DURABLE_DIR. Before storescp closes a received file
// (and only then answers the C-STORE), the file's data are synced (fdatasync), and after it, the directory
// (fsync). Writeback is started every 128 KiB written (sync_file_range), as a streaming receiver does.
// It leaves out the temporary name + rename and the outbox record: whatever it measures, a receiver
// keeping all of that order pays at least as much on the same disk.
//
// DCMTK's dcmdata writes files through stdio (fopen64/fwrite/fclose), which is what is wrapped here.
// One received file is open at a time (storescp handles one association at a time without --fork).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *received;
static size_t written, submitted;
static int dir_fd = -1;

static FILE *(*real_fopen64)(const char *, const char *);
static FILE *(*real_fopen)(const char *, const char *);
static size_t (*real_fwrite)(const void *, size_t, size_t, FILE *);
static int (*real_fclose)(FILE *);

static int is_received(const char *path, const char *mode) {
  const char *dir = getenv("DURABLE_DIR");
  return dir && strchr(mode, 'w') && strncmp(path, dir, strlen(dir)) == 0;
}

static FILE *watch(FILE *f, const char *path, const char *mode) {
  if (f && is_received(path, mode)) {
    received = f;
    written = submitted = 0;
    if (dir_fd < 0) dir_fd = open(getenv("DURABLE_DIR"), O_RDONLY | O_DIRECTORY);
  }
  return f;
}

FILE *fopen64(const char *path, const char *mode) {
  if (!real_fopen64) real_fopen64 = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen64");
  return watch(real_fopen64(path, mode), path, mode);
}

FILE *fopen(const char *path, const char *mode) {
  if (!real_fopen) real_fopen = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
  return watch(real_fopen(path, mode), path, mode);
}

size_t fwrite(const void *data, size_t size, size_t n, FILE *f) {
  if (!real_fwrite) real_fwrite = (size_t(*)(const void *, size_t, size_t, FILE *))dlsym(RTLD_NEXT, "fwrite");
  size_t r = real_fwrite(data, size, n, f);
  if (f == received) {
    written += size * r;
    if (written - submitted >= 128 * 1024) {
      fflush(f);
      sync_file_range(fileno(f), (off_t)submitted, (off_t)(written - submitted), SYNC_FILE_RANGE_WRITE);
      submitted = written;
    }
  }
  return r;
}

int fclose(FILE *f) {
  if (!real_fclose) real_fclose = (int (*)(FILE *))dlsym(RTLD_NEXT, "fclose");
  if (f != received) return real_fclose(f);
  received = NULL;
  if (fflush(f) != 0 || fdatasync(fileno(f)) != 0) perror("durable-dcmtk: fdatasync");
  int r = real_fclose(f);
  if (dir_fd >= 0 && fsync(dir_fd) != 0) perror("durable-dcmtk: fsync dir");
  return r;
}
