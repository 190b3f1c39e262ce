/* One thread_local counter, reached through the module's TLS model:
 * general dynamic (__tls_get_addr) or, built with -mtls-dialect=gnu2, a TLS
 * descriptor. The loop is here so that the call into the plugin is paid
 * once per round, not per access. */
__thread unsigned long tls_counter;

unsigned long tls_bump(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++) {
        tls_counter++;
        __asm__ volatile("" ::: "memory"); /* one TLS access per iteration */
    }
    return tls_counter;
}
