/*
 * status.c - the status table's text and the thread-local last-error buffer.
 */
#include "core/lore_int.h"

#include <stdio.h>

#define LORE_ERROR_MAX 512

static _Thread_local char last_error[LORE_ERROR_MAX];

const char *lore_strerror(lore_status s)
{
    switch (s) {
#define LORE_STATUS_TEXT_(name, value, text)                                                       \
    case name:                                                                                     \
        return text;
        LORE_STATUS_LIST(LORE_STATUS_TEXT_)
#undef LORE_STATUS_TEXT_
    }
    return "unknown status";
}

const char *lore_last_error(void)
{
    return last_error;
}

lore_status lore__fail(lore_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

const char *lore_version(void)
{
    return LORE_VERSION;
}
