/* log.c — log lines on stderr, and the clock. */
#include "weft/base.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* Set once by the command line before work starts; atomic so that worker
 * threads may read it. */
static _Atomic int level = WEFT_LOG_INFO;

void weft_log_set_level(weft_log_level l) { atomic_store(&level, (int)l); }

void weft_log(weft_log_level l, const char *fmt, ...)
{
    if ((int)l > atomic_load(&level)) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double weft_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double weft_thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
