/*
 * util.h - small helpers the harness modules share: error messages, exit
 * codes, whole-file reads, atomic writes, hashing.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#if defined(__GNUC__)
#define BENCH_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define BENCH_PRINTF(fmt_idx, arg_idx)
#endif

/* Exit codes of lore-bench (README "Exit codes"). */
enum {
    BENCH_EXIT_OK = 0,
    BENCH_EXIT_GATE = 1,
    BENCH_EXIT_USAGE = 2,
    BENCH_EXIT_RUNTIME = 3,
    BENCH_EXIT_INTERRUPTED = 130,
};

/* A failure's message, filled by the function that failed ("file: $.path: ..."). */
typedef struct bench_err {
    char msg[1024];
} bench_err;

/* Formats into e->msg (e may be NULL) and returns -1, for `return bench_err_set(...)`. */
int bench_err_set(bench_err *e, const char *fmt, ...) BENCH_PRINTF(2, 3);

/*
 * Reads a whole file into a NUL-terminated heap buffer (caller frees); *len
 * (may be NULL) gets its size. NULL on failure with e naming the path and errno.
 */
char *bench_read_file(const char *path, size_t *len, bench_err *e);

/*
 * Writes len bytes to path atomically: a temporary file beside it, fsync,
 * rename. Readers see the old file or the new one, never half of one.
 * Returns 0, or -1 with e naming the path.
 */
int bench_write_file_atomic(const char *path, const void *data, size_t len, bench_err *e);

/* mkdir -p. Returns 0, or -1 with e naming the path and errno. */
int bench_mkdir_p(const char *path, bench_err *e);

/* 64-bit FNV-1a of len bytes. */
uint64_t bench_fnv1a64(const void *data, size_t len);

/* strdup that returns NULL for NULL. */
char *bench_strdup(const char *s);

/* Member key of object o, or NULL (o NULL or not an object, no such key). */
const cJSON *bench_json_get(const cJSON *o, const char *key);
/* Member key of o as a string, or NULL when absent or not a string. */
const char *bench_json_str(const cJSON *o, const char *key);
/* Member key of o as a number, or NAN when absent or not a number. */
double bench_json_num(const cJSON *o, const char *key);

/* Whether path names a folder / a regular file (following links). */
bool bench_is_dir(const char *path);
bool bench_is_file(const char *path);

/* Writes s to f as XML text or attribute content: & < > " ' escaped, control
 * characters XML 1.0 forbids (all but tab and line breaks) written as spaces. */
void bench_xml_text(FILE *f, const char *s);

/* A growable NUL-terminated string; zero-initialise, free(s) when done. */
typedef struct bench_strbuf {
    char *s;
    size_t len, cap;
} bench_strbuf;

/* Appends n bytes of s (and keeps a NUL after them). Returns 0, or -1 on OOM. */
int bench_strbuf_append(bench_strbuf *b, const char *s, size_t n);

/* The splitmix64 generator: advances *state and returns the next value. The
 * harness's seeded streams (corpora, vectors, text, bootstrap seeding) use it,
 * and scripts/peers/make_vectors.py reproduces it bit for bit. */
uint64_t bench_splitmix64(uint64_t *state);

#endif
