/* alloc.c — 64-byte aligned allocation (cache line, and AVX-512 friendly).
 * A large block (weights, an arena, an imported model's numbers) is also
 * aligned to 2 MiB and offered transparent huge pages: touching it first
 * then takes one page fault per 2 MiB instead of one per 4 KiB, which on a
 * virtual machine is most of the cost of filling it. */
#include "weft/base.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { HUGE = 2 << 20, HUGE_FROM = 8 << 20 };

void *weft_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
    if (bytes >= HUGE_FROM) {
        bytes = (bytes + HUGE - 1) & ~(size_t)(HUGE - 1);
        if (posix_memalign(&p, HUGE, bytes) != 0) return NULL;
        (void)madvise(p, bytes, MADV_HUGEPAGE);   /* advice only: without it, small pages */
        return p;
    }
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
