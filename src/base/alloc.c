/* alloc.c — 64-byte aligned allocation (cache line, and AVX-512 friendly). */
#include "weft/base.h"

#include <stdlib.h>
#include <string.h>

void *weft_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
}

void *weft_calloc(size_t bytes)
{
    void *p = weft_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void weft_free(void *p) { free(p); }
