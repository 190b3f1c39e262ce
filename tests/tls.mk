# Thread-local storage, unwinding and the runtimes of real plugins: C
# fixtures in every TLS dialect and model (gcc and clang), a C++ plugin in
# two libraries, a Rust cdylib, an OpenMP plugin, and Debian's libLLVM-15.
#
# Fixtures are built by plain rules into tests/build/ of the build tree;
# tests/tls_elf.sh checks with readelf that each one has the relocations
# and flags its test relies on. Each check program tests the system
# loader's copy (the oracle) and ldr's alike: see tests/fixtures/tls_util.h.

TLS_SRC = $(srcdir)/tests/fixtures
TLS_B = tests/build
TLS_MK = @$(MKDIR_P) $(@D)
TLS_FLAGS = -O1 -g -fPIC -shared -Wall -Wextra -Werror -I$(TLS_SRC)
TLS_GCC = $(CC) -std=gnu11 $(TLS_FLAGS)
CLANG = clang
TLS_CLANG = $(CLANG) -std=gnu11 $(TLS_FLAGS)
TLS_CXX = $(CXX) -std=gnu++17 $(TLS_FLAGS)
TLS_DYN = $(TLS_SRC)/tls_dyn.c $(TLS_SRC)/tls_dyn.h

TLS_FIXTURES = \
	$(TLS_B)/libtls_gd.so $(TLS_B)/libtls_gd_clang.so \
	$(TLS_B)/libtls_ld.so $(TLS_B)/libtls_ld_clang.so $(TLS_B)/libtls_desc.so \
	$(TLS_B)/libtls_ie.so $(TLS_B)/libtls_ie_clang.so $(TLS_B)/libtls_desc_zero.so \
	$(TLS_B)/libtls_gd_zero.so \
	$(TLS_B)/libtls_hostlib.so $(TLS_B)/libtls_hostref_gd.so \
	$(TLS_B)/libtls_hostref_desc.so $(TLS_B)/libtls_hostref_ie.so \
	$(TLS_B)/libtls_life.so $(TLS_B)/libtls_round.so \
	$(TLS_B)/libcxx_b.so $(TLS_B)/libcxx_a.so $(TLS_B)/libc_call.so \
	$(TLS_B)/libomp_reduce.so

check_DATA += $(TLS_FIXTURES)
CLEANFILES += $(TLS_FIXTURES)

# tls_dyn.c: global-dynamic (exported variables), local-dynamic (static
# variables), TLSDESC.
$(TLS_B)/libtls_gd.so: $(TLS_DYN)
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -ftls-model=global-dynamic -o $@ $(TLS_SRC)/tls_dyn.c

$(TLS_B)/libtls_gd_clang.so: $(TLS_DYN)
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_CLANG) -ftls-model=global-dynamic -o $@ $(TLS_SRC)/tls_dyn.c

$(TLS_B)/libtls_ld.so: $(TLS_DYN)
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -DTLS_STATIC -ftls-model=local-dynamic -o $@ $(TLS_SRC)/tls_dyn.c

$(TLS_B)/libtls_ld_clang.so: $(TLS_DYN)
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_CLANG) -DTLS_STATIC -ftls-model=local-dynamic -o $@ $(TLS_SRC)/tls_dyn.c

$(TLS_B)/libtls_desc.so: $(TLS_DYN)
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -DTLS_DESC -mtls-dialect=gnu2 -o $@ $(TLS_SRC)/tls_dyn.c

# Initial-exec with a zero image.
$(TLS_B)/libtls_ie.so: $(TLS_SRC)/tls_ie.c
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -o $@ $(TLS_SRC)/tls_ie.c

$(TLS_B)/libtls_desc_zero.so: $(TLS_SRC)/tls_ie.c
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -DTLS_DYNAMIC -mtls-dialect=gnu2 -o $@ $(TLS_SRC)/tls_ie.c

$(TLS_B)/libtls_gd_zero.so: $(TLS_SRC)/tls_ie.c
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -DTLS_DYNAMIC -o $@ $(TLS_SRC)/tls_ie.c

$(TLS_B)/libtls_ie_clang.so: $(TLS_SRC)/tls_ie.c
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_CLANG) -o $@ $(TLS_SRC)/tls_ie.c

# The host's TLS: libtls_hostlib.so is linked by tests/check_tls, whose
# executable defines tls_host_exe_var; the hostref modules refer to both.
$(TLS_B)/libtls_hostlib.so: $(TLS_SRC)/tls_hostlib.c
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -Wl,-soname,libtls_hostlib.so -o $@ $(TLS_SRC)/tls_hostlib.c

$(TLS_B)/libtls_hostref_gd.so: $(TLS_SRC)/tls_hostref.c $(TLS_B)/libtls_hostlib.so
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -Wl,-rpath,'$$ORIGIN' -o $@ $(TLS_SRC)/tls_hostref.c $(TLS_B)/libtls_hostlib.so

$(TLS_B)/libtls_hostref_desc.so: $(TLS_SRC)/tls_hostref.c $(TLS_B)/libtls_hostlib.so
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -mtls-dialect=gnu2 -Wl,-rpath,'$$ORIGIN' -o $@ $(TLS_SRC)/tls_hostref.c $(TLS_B)/libtls_hostlib.so

$(TLS_B)/libtls_hostref_ie.so: $(TLS_SRC)/tls_hostref.c $(TLS_B)/libtls_hostlib.so
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -DTLS_IE -Wl,-rpath,'$$ORIGIN' -o $@ $(TLS_SRC)/tls_hostref.c $(TLS_B)/libtls_hostlib.so

$(TLS_B)/libtls_life.so: $(TLS_SRC)/tls_life.c $(TLS_SRC)/host.h
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -o $@ $(TLS_SRC)/tls_life.c

$(TLS_B)/libtls_round.so: $(TLS_SRC)/tls_round.c
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -o $@ $(TLS_SRC)/tls_round.c

# C++: libcxx_a.so needs libcxx_b.so, whose exception type it catches.
# Each exports its API only (see the .map files).
TLS_CXX_H = $(TLS_SRC)/cxx_shared.h $(TLS_SRC)/host.h

$(TLS_B)/libcxx_b.so: $(TLS_SRC)/cxx_b.cpp $(TLS_SRC)/cxx_b.map $(TLS_CXX_H)
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_CXX) -Wl,-soname,libcxx_b.so -Wl,--version-script=$(TLS_SRC)/cxx_b.map \
		-o $@ $(TLS_SRC)/cxx_b.cpp

$(TLS_B)/libcxx_a.so: $(TLS_SRC)/cxx_a.cpp $(TLS_SRC)/cxx_a.map $(TLS_CXX_H) $(TLS_B)/libcxx_b.so
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_CXX) -Wl,-rpath,'$$ORIGIN' -Wl,--version-script=$(TLS_SRC)/cxx_a.map \
		-o $@ $(TLS_SRC)/cxx_a.cpp $(TLS_B)/libcxx_b.so

# C, unwound through by libcxx_a.so's exceptions.
$(TLS_B)/libc_call.so: $(TLS_SRC)/c_call.c
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -o $@ $(TLS_SRC)/c_call.c

# OpenMP: needs libgomp.so.1, which no test host links.
$(TLS_B)/libomp_reduce.so: $(TLS_SRC)/omp_reduce.c
	$(TLS_MK)
	$(AM_V_GEN)$(TLS_GCC) -fopenmp -o $@ $(TLS_SRC)/omp_reduce.c

# Rust: a std-only cdylib, built offline (it has no dependencies).
TLS_RUST = $(srcdir)/tests/rust/plugin
TLS_RUST_SRC = $(TLS_RUST)/Cargo.toml $(TLS_RUST)/Cargo.lock $(TLS_RUST)/src/lib.rs
if HAVE_CARGO
check_DATA += $(TLS_B)/librust_plugin.so
CLEANFILES += $(TLS_B)/librust_plugin.so
TLS_RUST_CFLAGS = -DLDR_HAVE_CARGO
endif

$(TLS_B)/librust_plugin.so: $(TLS_RUST_SRC)
	$(TLS_MK)
	$(AM_V_GEN)CARGO_NET_OFFLINE=true $(CARGO) build --offline --locked --release --quiet \
		--manifest-path $(TLS_RUST)/Cargo.toml --target-dir $(abs_top_builddir)/$(TLS_B)/cargo && \
	cp $(abs_top_builddir)/$(TLS_B)/cargo/release/libldr_rust_plugin.so $@

clean-local: clean-tls-fixtures
clean-tls-fixtures:
	-rm -rf $(TLS_B)/cargo
.PHONY: clean-tls-fixtures

# Test programs. They export their symbols for the fixtures (-rdynamic),
# and none links libstdc++, libgomp or LLVM: the plugins bring them.
TLS_CK_CC = $(AM_CFLAGS) $(CHECK_CFLAGS)
TLS_CK_LD = $(AM_LDFLAGS) -no-install -rdynamic
TLS_CK_LIBS = libldr.la $(CHECK_LIBS) -ldl -lpthread

check_PROGRAMS += tests/check_tls tests/check_cxx tests/check_rust tests/check_omp tests/check_llvm

tests_check_tls_SOURCES = tests/check_tls.c $(LOADER_HOST) tests/fixtures/tls_util.h tests/fixtures/tls_dyn.h
tests_check_tls_CFLAGS = $(TLS_CK_CC)
tests_check_tls_LDFLAGS = $(TLS_CK_LD) -Wl,-rpath,$(abs_top_builddir)/$(TLS_B)
tests_check_tls_LDADD = $(TLS_CK_LIBS) $(TLS_B)/libtls_hostlib.so
EXTRA_tests_check_tls_DEPENDENCIES = $(TLS_B)/libtls_hostlib.so

tests_check_cxx_SOURCES = tests/check_cxx.c $(LOADER_HOST) tests/fixtures/tls_util.h tests/fixtures/cxx_shared.h
tests_check_cxx_CFLAGS = $(TLS_CK_CC)
tests_check_cxx_LDFLAGS = $(TLS_CK_LD)
tests_check_cxx_LDADD = $(TLS_CK_LIBS)

tests_check_rust_SOURCES = tests/check_rust.c tests/fixtures/tls_util.h
tests_check_rust_CFLAGS = $(TLS_CK_CC) $(TLS_RUST_CFLAGS)
tests_check_rust_LDFLAGS = $(TLS_CK_LD)
tests_check_rust_LDADD = $(TLS_CK_LIBS)

tests_check_omp_SOURCES = tests/check_omp.c tests/fixtures/tls_util.h
tests_check_omp_CFLAGS = $(TLS_CK_CC)
tests_check_omp_LDFLAGS = $(TLS_CK_LD)
tests_check_omp_LDADD = $(TLS_CK_LIBS)

tests_check_llvm_SOURCES = tests/check_llvm.c tests/fixtures/tls_util.h
tests_check_llvm_CFLAGS = $(TLS_CK_CC)
tests_check_llvm_LDFLAGS = $(TLS_CK_LD)
tests_check_llvm_LDADD = $(TLS_CK_LIBS)

# libldr dlopen'ed late by a host not linked with it.
check_PROGRAMS += tests/check_late
tests_check_late_SOURCES = tests/check_late.c $(LOADER_HOST)
tests_check_late_CFLAGS = $(TLS_CK_CC)
tests_check_late_LDFLAGS = $(AM_LDFLAGS) -no-install -rdynamic
tests_check_late_LDADD = $(CHECK_LIBS) -ldl -lpthread
EXTRA_tests_check_late_DEPENDENCIES = libldr.la

TESTS += tests/tls_elf.sh tests/check_tls tests/check_cxx tests/check_rust \
	tests/check_omp tests/check_llvm tests/check_late

EXTRA_DIST += tests/tls_elf.sh \
	tests/fixtures/tls_dyn.c tests/fixtures/tls_ie.c tests/fixtures/tls_hostlib.c \
	tests/fixtures/tls_hostref.c tests/fixtures/tls_life.c tests/fixtures/tls_round.c \
	tests/fixtures/cxx_a.cpp tests/fixtures/cxx_b.cpp tests/fixtures/c_call.c \
	tests/fixtures/cxx_a.map tests/fixtures/cxx_b.map \
	tests/fixtures/omp_reduce.c \
	tests/rust/plugin/Cargo.toml tests/rust/plugin/Cargo.lock tests/rust/plugin/src/lib.rs
