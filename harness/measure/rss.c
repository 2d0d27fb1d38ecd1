/*
 * rss.c - reading VmRSS / VmHWM and resetting the high-water mark.
 */
#include "measure/rss.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Finds "Key:   1234 kB" at a line start; returns bytes or -1. */
static int64_t status_field_bytes(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ':')
            continue;
        char *end;
        long long kb = strtoll(line + klen + 1, &end, 10);
        if (end == line + klen + 1 || kb < 0)
            return -1;
        return (int64_t)kb * 1024;
    }
    return -1;
}

int bench_rss_parse_status(const char *text, bench_rss *out)
{
    out->current_bytes = status_field_bytes(text, "VmRSS");
    out->peak_bytes = status_field_bytes(text, "VmHWM");
    return out->current_bytes < 0 || out->peak_bytes < 0 ? -1 : 0;
}

int bench_rss_read(bench_rss *out)
{
    /* Read with one read(2) into a stack buffer: no allocation, so reading
     * the RSS does not itself move it. */
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return bench_rss_parse_status(buf, out);
}

bool bench_rss_reset_peak(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}
