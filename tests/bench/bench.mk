# make bench: ldr against the system loader. Load + close times, each run
# in a fresh process (tests/bench/run.c drives tests/bench/load.c), then
# ldr_sym against dlsym in one process (tests/bench/sym.c). Built only here.
# BENCH_RUNS=N (make variable or environment) sets the runs per library;
# BENCH_LIBS replaces the list of libraries.

BENCH_PROGS = tests/bench/bench-load$(EXEEXT) tests/bench/bench-run$(EXEEXT) \
	tests/bench/bench-sym$(EXEEXT) tests/bench/bench-tls$(EXEEXT)
EXTRA_PROGRAMS += tests/bench/bench-load tests/bench/bench-run tests/bench/bench-sym tests/bench/bench-tls

# -static links libldr.a rather than libldr.so: the helpers are then plain
# executables, not libtool wrapper scripts, so each measured run is one exec.
# -z now binds the helper at start-up as libldr.so is bound (Makefile.am):
# otherwise ldr's first call of each libc function would pay for a lazy
# binding inside the timed ldr_open, which no program using libldr.so pays.
tests_bench_bench_load_SOURCES = tests/bench/load.c
tests_bench_bench_load_LDFLAGS = $(AM_LDFLAGS) -static -Wl,-z,now
tests_bench_bench_load_LDADD = libldr.la -ldl

tests_bench_bench_run_SOURCES = tests/bench/run.c

tests_bench_bench_sym_SOURCES = tests/bench/sym.c
tests_bench_bench_sym_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS)
tests_bench_bench_sym_LDFLAGS = $(AM_LDFLAGS) -static
tests_bench_bench_sym_LDADD = libldr.la $(LIBELF_LIBS) -ldl

tests_bench_bench_tls_SOURCES = tests/bench/tls.c
tests_bench_bench_tls_LDFLAGS = $(AM_LDFLAGS) -static
tests_bench_bench_tls_LDADD = libldr.la -ldl

BENCH_PLUGIN = tests/build/bench-plugin.so
# The same thread_local plugin in both TLS dialects a module can use.
BENCH_TLS = tests/build/bench-tls-gd.so tests/build/bench-tls-desc.so
BENCH_SYSLIB = /usr/lib/x86_64-linux-gnu
BENCH_LIBS = $(BENCH_PLUGIN) $(BENCH_SYSLIB)/libz.so.1 $(BENCH_SYSLIB)/libsqlite3.so.0 \
	$(BENCH_SYSLIB)/libcrypto.so.3 $(BENCH_SYSLIB)/libpython3.11.so.1.0 \
	$(BENCH_SYSLIB)/libLLVM-15.so.1

$(BENCH_PLUGIN): $(srcdir)/tests/bench/plugin.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) -std=gnu11 -O1 -fPIC -shared -Wall -Wextra -Werror -o $@ $(srcdir)/tests/bench/plugin.c

tests/build/bench-tls-gd.so: $(srcdir)/tests/bench/tls_plugin.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) -std=gnu11 -O2 -fPIC -shared -Wall -Wextra -Werror -o $@ $(srcdir)/tests/bench/tls_plugin.c

tests/build/bench-tls-desc.so: $(srcdir)/tests/bench/tls_plugin.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) -std=gnu11 -O2 -fPIC -shared -mtls-dialect=gnu2 -Wall -Wextra -Werror -o $@ $(srcdir)/tests/bench/tls_plugin.c

bench: $(BENCH_PROGS) $(BENCH_PLUGIN) $(BENCH_TLS)
	@tests/bench/bench-run -n '$(BENCH_RUNS)' tests/bench/bench-load$(EXEEXT) $(BENCH_LIBS)
	@tests/bench/bench-sym$(EXEEXT) $(BENCH_SYSLIB)/libsqlite3.so.0
	@tests/bench/bench-tls$(EXEEXT) $(BENCH_TLS)

CLEANFILES += $(BENCH_PROGS) $(BENCH_PLUGIN) $(BENCH_TLS)
EXTRA_DIST += tests/bench/plugin.c tests/bench/tls_plugin.c
