# Old-glibc hosts: the fallback table (one test per row), the shims, a
# plugin linked against a newer libc than this machine's, and ldr's own
# GLIBC_2.17 floor. `make check-compat` runs the real scenario with
# Debian bullseye and trixie trees (tests/compat/run.sh).

CF_SRC = $(srcdir)/tests/compat
CF = $(LF)/compat
COMPAT_FIXTURES = $(CF)/libc.so.6 $(LF)/libnewlibc.so $(LF)/libnewlibc_missing.so

check_DATA += $(COMPAT_FIXTURES)
CLEANFILES += $(COMPAT_FIXTURES)

# A stand-in libc with versions newer than this machine's, for linking only.
$(CF)/libc.so.6: $(CF_SRC)/stub.c $(CF_SRC)/stub.map
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -nostdlib -Wl,-soname,libc.so.6 -Wl,--version-script=$(CF_SRC)/stub.map -o $@ $(CF_SRC)/stub.c

$(LF)/libnewlibc.so: $(CF_SRC)/newlibc.c $(CF)/libc.so.6
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(CF_SRC)/newlibc.c $(CF)/libc.so.6

$(LF)/libnewlibc_missing.so: $(CF_SRC)/newlibc.c $(CF)/libc.so.6
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -DSTRONG_MISSING -o $@ $(CF_SRC)/newlibc.c $(CF)/libc.so.6

# The table is internal: this test links the static libldr.
check_PROGRAMS += tests/check_compat
tests_check_compat_SOURCES = tests/check_compat.c
tests_check_compat_CPPFLAGS = $(AM_CPPFLAGS) $(XXHASH_CFLAGS)
tests_check_compat_CFLAGS = $(LOADER_CK_CC)
tests_check_compat_LDFLAGS = $(LOADER_CK_LD) -static
tests_check_compat_LDADD = libldr.la $(CHECK_LIBS) -ldl -lpthread -lm

TESTS += tests/glibc217.sh tests/check_compat
EXTRA_DIST += tests/glibc217.sh tests/compat/stub.c tests/compat/stub.map tests/compat/newlibc.c \
	tests/compat/tree.sh tests/compat/run.sh tests/compat/plugin.c tests/compat/host.c \
	tests/compat/rust/Cargo.toml tests/compat/rust/src/lib.rs

# The real scenario: minutes, network on the first run. Trees are cached
# in COMPAT_CACHE between runs.
COMPAT_CACHE = /var/cache/ldr-compat
check-compat: all
	LDR_BUILD='$(abs_top_builddir)' LDR_SRC='$(abs_top_srcdir)' COMPAT_CACHE='$(COMPAT_CACHE)' \
	CARGO='$(CARGO)' $(SHELL) $(srcdir)/tests/compat/run.sh
.PHONY: check-compat
