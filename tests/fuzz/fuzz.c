/* libFuzzer harness: one input is one file, loaded from memory by
 * ldr_open_mem with LDR_NOINIT and closed again. Reaches file validation,
 * mapping, the dynamic section, dependencies and relocation; a refusal is
 * a normal outcome, a crash, a leak or undefined behaviour is a finding.
 * Each input gets a file of its own: a module that stays loaded (NODELETE,
 * or placed in the static TLS pool) keeps its file mapped, which a reused
 * file rewritten under it would turn into a SIGBUS. */
#include <stdint.h>

#include <ldr.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldr_module *m = ldr_open_mem("ldr-fuzz", data, size, LDR_NOINIT);
    if (m)
        ldr_close(m);
    else
        (void)ldr_error();
    return 0;
}
