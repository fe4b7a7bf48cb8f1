/* status.c — the thread's last error message. */
#include "weft/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Like errno: one message per thread, so worker threads never race on it. */
static _Thread_local char msg[1024];

weft_status weft_fail(weft_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return s;
}

weft_status weft_fail_wrap(weft_status s, const char *fmt, ...)
{
    char prefix[512], old[sizeof msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof msg - 3) n = sizeof msg - 3;
    memcpy(msg, prefix, n);
    msg[n] = ':'; msg[n + 1] = ' ';
    size_t room = sizeof msg - n - 3, m = strlen(old);
    if (m > room) m = room;
    memcpy(msg + n + 2, old, m);
    msg[n + 2 + m] = 0;
    return s;
}

const char *weft_errmsg(void) { return msg[0] ? msg : "no error"; }

const char *weft_status_name(weft_status s)
{
    switch (s) {
    case WEFT_OK: return "ok";
    case WEFT_ERR_ARG: return "bad argument";
    case WEFT_ERR_IO: return "i/o error";
    case WEFT_ERR_FORMAT: return "malformed input";
    case WEFT_ERR_SHAPE: return "shape mismatch";
    case WEFT_ERR_NOMEM: return "out of memory";
    case WEFT_ERR_NUMERIC: return "non-finite value";
    case WEFT_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
