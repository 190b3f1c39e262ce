/* One thread_local counter, reached through the module's TLS model:
 * general dynamic (__tls_get_addr) or, built with -mtls-dialect=gnu2, a TLS
 * descriptor. The loop is here so that the call into the plugin is paid
 * once per round, not per access. */
__thread unsigned long tls_counter;

/* One access in a function of its own: a compiler computes a thread_local's
 * address once per function, and a TLS descriptor call would otherwise be
 * hoisted out of the loop (the descriptor dialect's row then measured no
 * access at all). */
__attribute__((noinline)) static void bump_once(void)
{
    tls_counter++;
}

unsigned long tls_bump(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++)
        bump_once();
    return tls_counter;
}
