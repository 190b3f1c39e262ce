/* Errors: one message per thread, "FILE: reason", delivered once, like
 * dlerror(). Everything that fails inside ldr goes through fail(). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ldr_internal.h"

#define ERROR_MAX 4096

static __thread char message[ERROR_MAX];
static __thread bool pending;

int fail(const char *file, const char *fmt, ...)
{
    int n = snprintf(message, sizeof message, "%s: ", file ? file : "ldr");
    if (n < 0 || (size_t)n >= sizeof message)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message + n, sizeof message - n, fmt, ap);
    va_end(ap);
    pending = true;
    return -1;
}

const char *take_error(void)
{
    if (!pending)
        return NULL;
    pending = false;
    return message;
}
