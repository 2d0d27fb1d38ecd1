/*
 * lore/status.h - status codes and error reporting for every liblore call.
 *
 * Every fallible call returns a lore_status (LORE_OK is 0). lore_strerror()
 * names a code; lore_last_error() gives the detail of the most recent failure
 * on the calling thread ("dim mismatch: index 384, query 768").
 */
#ifndef LORE_STATUS_H
#define LORE_STATUS_H

/* X(name, value, text): the one table of status codes. */
#define LORE_STATUS_LIST(X)                                                                        \
    X(LORE_OK, 0, "ok")                                                                            \
    X(LORE_EINVAL, 1, "invalid argument")                                                          \
    X(LORE_ENOMEM, 2, "out of memory")                                                             \
    X(LORE_EIO, 3, "input/output error")                                                           \
    X(LORE_ECORRUPT, 4, "corrupt or unrecognised data")                                            \
    X(LORE_EUNSUPPORTED, 5, "not supported on this build or machine")                              \
    X(LORE_ESTATE, 6, "call not valid in the object's current state")                              \
    X(LORE_EINTERNAL, 7, "internal error")

typedef enum lore_status {
#define LORE_STATUS_ENUM_(name, value, text) name = value,
    LORE_STATUS_LIST(LORE_STATUS_ENUM_)
#undef LORE_STATUS_ENUM_
} lore_status;

/* Returns a static, human-readable name for s ("invalid argument"); never NULL. */
const char *lore_strerror(lore_status s);

/*
 * Returns the detail message of the last failure on this thread, or "" if none.
 * The buffer is thread-local and is overwritten by the next failing call.
 */
const char *lore_last_error(void);

#endif
