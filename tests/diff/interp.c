/* A library that also names a program interpreter, as libcap.so does so
 * that it can be run: still a library (no DF_1_PIE), which the system
 * loader opens and ldr must too. */
const char interp_path[] __attribute__((section(".interp"))) = "/lib64/ld-linux-x86-64.so.2";

int interp_answer(void)
{
    return 42;
}
