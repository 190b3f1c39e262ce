# Unloading and reloading: ldr_reload, slots and hooks, LDR_SNAPSHOT,
# ldr_open_mem, thread_local destructors that keep a module mapped, many
# threads at once (tests/check_reload.c), and the soak of open/call/close
# cycles (tests/check_soak.c).
#
# make check runs the 10,000-cycle soak (about 10 s); make check-soak runs
# only the soak (SOAK_CYCLES=N for another count); make check-valgrind-cycle
# runs it under valgrind memcheck (VALGRIND_CYCLES cycles);
# make demo builds demo/host and the demo's Rust plugin (see demo/README.md).

RL_SRC = $(srcdir)/tests/fixtures
RL = tests/build
RL_MK = @$(MKDIR_P) $(@D)
RL_CC = $(CC) -std=gnu11 -O1 -g -fPIC -shared -Wall -Wextra -Werror -I$(RL_SRC)
RL_CXX = $(CXX) -std=gnu++17 -O1 -g -fPIC -shared -Wall -Wextra -Werror -I$(RL_SRC)
RL_PLUGIN = $(RL_SRC)/rl_plugin.c $(RL_SRC)/rl_host.h

RELOAD_FIXTURES = \
	$(RL)/librl_v1.so $(RL)/librl_v2.so $(RL)/librl_q1.so $(RL)/librl_q2.so \
	$(RL)/librl_broken.so $(RL)/librl_opener.so $(RL)/librl_tls.so \
	$(RL)/librl_nodelete.so

check_DATA += $(RELOAD_FIXTURES)
CLEANFILES += $(RELOAD_FIXTURES)

$(RL)/librl_v1.so: $(RL_PLUGIN)
	$(RL_MK)
	$(AM_V_GEN)$(RL_CC) -DRL_VERSION=1 -o $@ $(RL_SRC)/rl_plugin.c

$(RL)/librl_v2.so: $(RL_PLUGIN)
	$(RL_MK)
	$(AM_V_GEN)$(RL_CC) -DRL_VERSION=2 -o $@ $(RL_SRC)/rl_plugin.c

$(RL)/librl_q1.so: $(RL_PLUGIN)
	$(RL_MK)
	$(AM_V_GEN)$(RL_CC) -DRL_VERSION=11 -o $@ $(RL_SRC)/rl_plugin.c

$(RL)/librl_q2.so: $(RL_PLUGIN)
	$(RL_MK)
	$(AM_V_GEN)$(RL_CC) -DRL_VERSION=12 -o $@ $(RL_SRC)/rl_plugin.c

# Needs rl_missing_function, which nothing defines.
$(RL)/librl_broken.so: $(RL_PLUGIN)
	$(RL_MK)
	$(AM_V_GEN)$(RL_CC) -DRL_VERSION=3 -DRL_BROKEN -o $@ $(RL_SRC)/rl_plugin.c

$(RL)/librl_opener.so: $(RL_SRC)/rl_opener.c $(RL_SRC)/rl_host.h $(top_srcdir)/include/ldr.h
	$(RL_MK)
	$(AM_V_GEN)$(RL_CC) -I$(top_srcdir)/include -o $@ $(RL_SRC)/rl_opener.c

$(RL)/librl_tls.so: $(RL_SRC)/rl_tls.cpp $(RL_SRC)/rl_host.h
	$(RL_MK)
	$(AM_V_GEN)$(RL_CXX) -o $@ $(RL_SRC)/rl_tls.cpp

$(RL)/librl_nodelete.so: $(RL_SRC)/rl_nodelete.c
	$(RL_MK)
	$(AM_V_GEN)$(RL_CC) -Wl,-z,nodelete -o $@ $(RL_SRC)/rl_nodelete.c

# The soak's Rust plugin: std only, built offline.
RL_RUST = $(srcdir)/tests/rust/soak
RL_RUST_SRC = $(RL_RUST)/Cargo.toml $(RL_RUST)/Cargo.lock $(RL_RUST)/src/lib.rs
if HAVE_CARGO
check_DATA += $(RL)/librl_soak.so
CLEANFILES += $(RL)/librl_soak.so
RL_RUST_CFLAGS = -DLDR_HAVE_CARGO
endif

$(RL)/librl_soak.so: $(RL_RUST_SRC)
	$(RL_MK)
	$(AM_V_GEN)CARGO_NET_OFFLINE=true $(CARGO) build --offline --locked --release --quiet \
		--manifest-path $(RL_RUST)/Cargo.toml --target-dir $(abs_top_builddir)/$(RL)/cargo-soak && \
	cp $(abs_top_builddir)/$(RL)/cargo-soak/release/libldr_soak_plugin.so $@

clean-local: clean-reload-fixtures
clean-reload-fixtures:
	-rm -rf $(RL)/cargo-soak $(RL)/rl-scratch-* demo/cargo
.PHONY: clean-reload-fixtures

# The programs export what the fixtures call back (-rdynamic), ldr's API
# included (librl_opener.so's initializer calls ldr_open).
RL_CK_CC = $(AM_CFLAGS) $(CHECK_CFLAGS)
RL_CK_LD = $(AM_LDFLAGS) -no-install -rdynamic

check_PROGRAMS += tests/check_reload tests/check_soak

tests_check_reload_SOURCES = tests/check_reload.c tests/fixtures/rl_host.h
tests_check_reload_CFLAGS = $(RL_CK_CC)
tests_check_reload_LDFLAGS = $(RL_CK_LD)
tests_check_reload_LDADD = libldr.la $(CHECK_LIBS) -ldl -lpthread

tests_check_soak_SOURCES = tests/check_soak.c tests/fixtures/rl_host.h
tests_check_soak_CFLAGS = $(RL_CK_CC) $(RL_RUST_CFLAGS)
tests_check_soak_LDFLAGS = $(RL_CK_LD)
tests_check_soak_LDADD = libldr.la $(CHECK_LIBS) -ldl -lpthread

TESTS += tests/check_reload tests/check_soak

SOAK_CYCLES = 10000
VALGRIND_CYCLES = 200
check-soak:
	LDR_SOAK_CYCLES=$(SOAK_CYCLES) $(MAKE) $(AM_MAKEFLAGS) check TESTS='tests/check_soak'

check-valgrind-cycle:
	LDR_SOAK_CYCLES=$(VALGRIND_CYCLES) CK_DEFAULT_TIMEOUT=3600 $(MAKE) $(AM_MAKEFLAGS) check \
		TESTS='tests/check_soak' LOG_COMPILER='$(SHELL) $(abs_srcdir)/tests/valgrind.sh'

.PHONY: check-soak check-valgrind-cycle

# The demo: a host that reloads a Rust plugin whenever it is rebuilt.
EXTRA_PROGRAMS += demo/host
demo_host_SOURCES = demo/host.c
demo_host_LDFLAGS = $(AM_LDFLAGS) -no-install
demo_host_LDADD = libldr.la
CLEANFILES += demo/host$(EXEEXT) demo/libdemo_plugin.so

DEMO_RUST = $(srcdir)/demo/plugin
DEMO_RUST_SRC = $(DEMO_RUST)/Cargo.toml $(DEMO_RUST)/Cargo.lock $(DEMO_RUST)/src/lib.rs
demo/libdemo_plugin.so: $(DEMO_RUST_SRC)
	@$(MKDIR_P) demo
	$(AM_V_GEN)CARGO_NET_OFFLINE=true $(CARGO) build --offline --locked --release --quiet \
		--manifest-path $(DEMO_RUST)/Cargo.toml --target-dir $(abs_top_builddir)/demo/cargo && \
	cp $(abs_top_builddir)/demo/cargo/release/libdemo_plugin.so $@

demo: demo/host$(EXEEXT) demo/libdemo_plugin.so
.PHONY: demo

EXTRA_DIST += \
	tests/fixtures/rl_host.h tests/fixtures/rl_plugin.c tests/fixtures/rl_opener.c \
	tests/fixtures/rl_tls.cpp tests/fixtures/rl_nodelete.c \
	tests/rust/soak/Cargo.toml tests/rust/soak/Cargo.lock tests/rust/soak/src/lib.rs \
	demo/host.c demo/Makefile demo/plugin/Cargo.toml demo/plugin/Cargo.lock \
	demo/plugin/src/lib.rs
