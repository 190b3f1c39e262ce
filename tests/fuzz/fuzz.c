/* libFuzzer harness: one input is one file, loaded from memory by
 * ldr_open_mem with LDR_NOINIT and closed again. Reaches file validation,
 * mapping, the dynamic section, dependencies and relocation; a refusal is
 * a normal outcome, a crash or undefined behaviour in ldr is a finding.
 *
 * Each input gets a file of its own: a module that stays loaded (NODELETE,
 * or placed in the static TLS pool) keeps its file mapped, which a reused
 * file rewritten under it would turn into a SIGBUS.
 *
 * Relocation calls a module's IFUNC resolvers, and a mutated file's
 * resolver is garbage code: a fault whose instruction lies in the module
 * being loaded, or in no object at all (where that code jumped or
 * returned to), is that code's, not ldr's, and the input is abandoned (the
 * half-made load with it; hence no leak checking in make fuzz). So is a
 * breakpoint it hits: an int3 byte (0xcc, the padding of lld's text)
 * raises SIGTRAP, which no sanitizer catches, and the process died with
 * no input saved. The handler runs on a stack of its own: such code may
 * have wrecked the stack pointer before it faulted. A fault in the
 * harness, ldr or a library is left to the sanitizers as a finding.
 * make check-fuzz runs the harness once over such inputs. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#include <ldr.h>

static sigjmp_buf module_fault;
static volatile sig_atomic_t loading;
static struct sigaction before[NSIG]; /* the sanitizers' handlers */

static void on_fault(int sig, siginfo_t *info, void *context)
{
    const ucontext_t *uc = context;
    Dl_info where;
    (void)info;
    const void *pc = (const void *)uc->uc_mcontext.gregs[REG_RIP];
    if (loading && (ldr_addr(pc, &where) || !dladdr(pc, &where)))
        siglongjmp(module_fault, 1);
    /* Not module code: the sanitizers' handler takes the fault when the
     * instruction runs again; a trap does not run again, it is raised. */
    sigaction(sig, &before[sig], NULL);
    if (sig == SIGTRAP)
        raise(sig);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char alt[1 << 16];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    static const int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigaction(faults[i], &sa, &before[faults[i]]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sigsetjmp(module_fault, 1)) {
        loading = 0;
        return 0;
    }
    loading = 1;
    ldr_module *m = ldr_open_mem("ldr-fuzz", data, size, LDR_NOINIT);
    loading = 0;
    if (m)
        ldr_close(m);
    else
        (void)ldr_error();
    return 0;
}
