/* libFuzzer harness: one input is one file, opened by ldr_open with
 * LDR_NOINIT and closed again. Reaches file validation, mapping, the
 * dynamic section, dependencies and relocation; a refusal is a normal
 * outcome, a crash, a leak or undefined behaviour is a finding. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ldr.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("ldr-fuzz", MFD_CLOEXEC);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    ldr_module *m = ldr_open(path, LDR_NOINIT);
    if (m)
        ldr_close(m);
    else
        (void)ldr_error();
    return 0;
}
