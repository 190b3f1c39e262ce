/* Errors: one message per thread, "FILE: reason", delivered once, like
 * dlerror(). Everything that fails inside ldr goes through fail().
 *
 * The message lives on the heap, one per thread that ever failed, not in
 * thread-local storage: libldr's TLS block is static (it holds the pool
 * for modules' initial-exec TLS), and a host that loads libldr late with
 * dlopen has only a small surplus of static TLS to give. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

#define ERROR_MAX 4096

struct error_state {
    bool pending;
    char message[ERROR_MAX];
};

static __attribute__((tls_model("initial-exec"))) __thread struct error_state *state;
static pthread_key_t key;
static int once;
/* When a thread's own cannot be had: shared, but never missing. */
static struct error_state no_memory = {.message = "ldr: out of memory for an error message"};

static void release(void *p)
{
    state = NULL;
    free(p);
}

static void make_key(void)
{
    pthread_key_create(&key, release);
}

static struct error_state *thread_state(void)
{
    if (!state) {
        run_once(&once, make_key);
        state = calloc(1, sizeof *state);
        if (!state)
            return &no_memory;
        pthread_setspecific(key, state);
    }
    return state;
}

int fail(const char *file, const char *fmt, ...)
{
    struct error_state *s = thread_state();
    if (s == &no_memory) {
        s->pending = true;
        return -1;
    }
    int n = snprintf(s->message, sizeof s->message, "%s: ", file ? file : "ldr");
    if (n < 0 || (size_t)n >= sizeof s->message)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->message + n, sizeof s->message - n, fmt, ap);
    va_end(ap);
    s->pending = true;
    return -1;
}

const char *take_error(void)
{
    struct error_state *s = state ? state : &no_memory;
    if (!s->pending)
        return NULL;
    s->pending = false;
    return s->message;
}
