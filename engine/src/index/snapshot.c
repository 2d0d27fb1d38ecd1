/*
 * snapshot.c - the byte-level primitives of index snapshots.
 *
 * Fields are fixed-width little-endian; arrays are raw little-endian
 * elements. Every byte written or read also goes through a running XXH3-64,
 * which index.c writes (and checks) as the trailer. The format's layout is
 * in index.c, next to the code that writes it.
 */
#include "core/lore_int.h"
#include "index/index_int.h"

#include <string.h>

lore_status lore__snap_put(lore__snap_writer *w, const void *buf, size_t n)
{
    if (n == 0)
        return LORE_OK;
    XXH3_64bits_update(w->hash, buf, n);
    return w->w->write(w->w->ctx, buf, n);
}

lore_status lore__snap_put_u32(lore__snap_writer *w, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return lore__snap_put(w, b, sizeof b);
}

lore_status lore__snap_put_u64(lore__snap_writer *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return lore__snap_put(w, b, sizeof b);
}

lore_status lore__snap_get(lore__snap_reader *r, void *buf, size_t n)
{
    if (n == 0)
        return LORE_OK;
    lore_status s = r->r->read(r->r->ctx, buf, n);
    if (s == LORE_OK)
        XXH3_64bits_update(r->hash, buf, n);
    return s;
}

lore_status lore__snap_get_u32(lore__snap_reader *r, uint32_t *v)
{
    unsigned char b[4];
    lore_status s = lore__snap_get(r, b, sizeof b);
    if (s != LORE_OK)
        return s;
    *v = 0;
    for (int i = 0; i < 4; i++)
        *v |= (uint32_t)b[i] << (8 * i);
    return LORE_OK;
}

lore_status lore__snap_get_u64(lore__snap_reader *r, uint64_t *v)
{
    unsigned char b[8];
    lore_status s = lore__snap_get(r, b, sizeof b);
    if (s != LORE_OK)
        return s;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)b[i] << (8 * i);
    return LORE_OK;
}

lore_status lore__snap_get_count(lore__snap_reader *r, uint64_t max, const char *what,
                                 uint64_t *count)
{
    lore_status s = lore__snap_get_u64(r, count);
    if (s != LORE_OK)
        return s;
    if (*count > max)
        return lore__fail(LORE_ECORRUPT, "snapshot: %s is %llu, at most %llu possible", what,
                          (unsigned long long)*count, (unsigned long long)max);
    return LORE_OK;
}
