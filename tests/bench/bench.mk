# make bench: ldr against the system loader, then a summary of the targets.
#  - load + close times, each run in a fresh process (tests/bench/run.c
#    drives tests/bench/load.c), and in separate fresh processes the memory
#    an open leaves: heap retained, resident pages of the image;
#  - ldr_sym against dlsym in one process, every exported function of
#    libLLVM-15 and of libsqlite3 (tests/bench/sym.c);
#  - a thread_local access, both TLS dialects (tests/bench/tls.c);
#  - open + close of a small plugin in a loop, and ldr_reload of an
#    unchanged file (tests/bench/loop.c);
#  - one line per target: measured, target, met or not (tests/bench/summary.c,
#    from what the others record in $(BENCH_RESULTS)).
# Built only here. BENCH_RUNS=N (make variable or environment) sets the runs
# per library; BENCH_LIBS replaces the list of libraries.

BENCH_PROGS = tests/bench/bench-load$(EXEEXT) tests/bench/bench-run$(EXEEXT) \
	tests/bench/bench-sym$(EXEEXT) tests/bench/bench-tls$(EXEEXT) \
	tests/bench/bench-loop$(EXEEXT) tests/bench/bench-summary$(EXEEXT)
EXTRA_PROGRAMS += tests/bench/bench-load tests/bench/bench-run tests/bench/bench-sym tests/bench/bench-tls \
	tests/bench/bench-loop tests/bench/bench-summary

# The helpers link libldr.so, as a host does; -no-install makes each a
# plain executable (no libtool wrapper script), so that each measured run
# is one exec. Not libldr.a: with it in the executable, ldr's code lies
# gigabytes from the libraries it loads, a layout no host using libldr.so
# has, and the far indirect branches between them (a plugin's PLT call of
# ldr's __tls_get_addr, for one) are predicted worse: the thread_local
# access measured 1.2 to 1.4 times the system loader's that way.
tests_bench_bench_load_SOURCES = tests/bench/load.c tests/bench/bench.h
tests_bench_bench_load_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_bench_bench_load_LDADD = libldr.la -ldl

tests_bench_bench_run_SOURCES = tests/bench/run.c tests/bench/bench.h

tests_bench_bench_sym_SOURCES = tests/bench/sym.c tests/bench/bench.h
tests_bench_bench_sym_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS)
tests_bench_bench_sym_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_bench_bench_sym_LDADD = libldr.la $(LIBELF_LIBS) -ldl

tests_bench_bench_tls_SOURCES = tests/bench/tls.c tests/bench/bench.h
tests_bench_bench_tls_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_bench_bench_tls_LDADD = libldr.la -ldl

tests_bench_bench_loop_SOURCES = tests/bench/loop.c tests/bench/bench.h
tests_bench_bench_loop_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_bench_bench_loop_LDADD = libldr.la -ldl

tests_bench_bench_summary_SOURCES = tests/bench/summary.c

BENCH_PLUGIN = tests/build/bench-plugin.so
# The same thread_local plugin in both TLS dialects a module can use.
BENCH_TLS = tests/build/bench-tls-gd.so tests/build/bench-tls-desc.so
BENCH_SYSLIB = /usr/lib/x86_64-linux-gnu
# The Rust cdylib of the test suite (tests/tls.mk), when there is cargo.
if HAVE_CARGO
BENCH_RUST = tests/build/librust_plugin.so
endif
BENCH_LIBS = $(BENCH_PLUGIN) $(BENCH_RUST) $(BENCH_SYSLIB)/libz.so.1 $(BENCH_SYSLIB)/libsqlite3.so.0 \
	$(BENCH_SYSLIB)/libcrypto.so.3 $(BENCH_SYSLIB)/libpython3.11.so.1.0 \
	$(BENCH_SYSLIB)/libLLVM-15.so.1
# What the programs record for bench-summary; written afresh by every run.
BENCH_RESULTS = tests/bench/bench-results

$(BENCH_PLUGIN): $(srcdir)/tests/bench/plugin.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) -std=gnu11 -O1 -fPIC -shared -Wall -Wextra -Werror -o $@ $(srcdir)/tests/bench/plugin.c

tests/build/bench-tls-gd.so: $(srcdir)/tests/bench/tls_plugin.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) -std=gnu11 -O2 -fPIC -shared -Wall -Wextra -Werror -o $@ $(srcdir)/tests/bench/tls_plugin.c

tests/build/bench-tls-desc.so: $(srcdir)/tests/bench/tls_plugin.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) -std=gnu11 -O2 -fPIC -shared -mtls-dialect=gnu2 -Wall -Wextra -Werror -o $@ $(srcdir)/tests/bench/tls_plugin.c

bench: $(BENCH_PROGS) $(BENCH_PLUGIN) $(BENCH_TLS) $(BENCH_RUST)
	@rm -f $(BENCH_RESULTS)
	@test -n '$(BENCH_RUST)' || echo "No cargo (configure): the Rust cdylib is not built, and not measured."
	@BENCH_RESULTS=$(BENCH_RESULTS) tests/bench/bench-run -n '$(BENCH_RUNS)' \
		tests/bench/bench-load$(EXEEXT) $(BENCH_LIBS)
	@BENCH_RESULTS=$(BENCH_RESULTS) tests/bench/bench-sym$(EXEEXT) $(BENCH_SYSLIB)/libLLVM-15.so.1
	@BENCH_RESULTS=$(BENCH_RESULTS) tests/bench/bench-sym$(EXEEXT) $(BENCH_SYSLIB)/libsqlite3.so.0
	@BENCH_RESULTS=$(BENCH_RESULTS) tests/bench/bench-tls$(EXEEXT) $(BENCH_TLS)
	@BENCH_RESULTS=$(BENCH_RESULTS) tests/bench/bench-loop$(EXEEXT) $(BENCH_PLUGIN)
	@tests/bench/bench-summary$(EXEEXT) $(BENCH_RESULTS)

CLEANFILES += $(BENCH_PROGS) $(BENCH_PLUGIN) $(BENCH_TLS) $(BENCH_RESULTS)
EXTRA_DIST += tests/bench/plugin.c tests/bench/tls_plugin.c
