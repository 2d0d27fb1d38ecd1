/*
 * rss.h - resident set size of this process, now and at its high-water mark.
 *
 * The peak is per point: the runner resets the kernel's high-water mark
 * (VmHWM) between points by writing "5" to /proc/self/clear_refs. Where that
 * is refused (old kernels, some containers) the peak is the process's peak
 * so far, and the result says so.
 */
#ifndef BENCH_RSS_H
#define BENCH_RSS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct bench_rss {
    int64_t current_bytes; /* VmRSS */
    int64_t peak_bytes;    /* VmHWM */
} bench_rss;

/* Parses the text of /proc/<pid>/status. Returns 0, or -1 if VmRSS or VmHWM is missing. */
int bench_rss_parse_status(const char *text, bench_rss *out);

/* Reads this process's RSS. Returns 0, or -1 if /proc is unreadable. */
int bench_rss_read(bench_rss *out);

/* Resets this process's peak RSS to its current RSS. Returns true if the kernel allowed it. */
bool bench_rss_reset_peak(void);

#endif
