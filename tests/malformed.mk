# Malformed objects: tests/check_malformed derives its broken files at run
# time from one good fixture (and a PIE of the same source), built here by
# plain rules into tests/build/ of the build tree.

MAL_SRC = $(srcdir)/tests/malformed/good.c
# -z now gives the fixture DT_FLAGS and DT_FLAGS_1, which the text
# relocation case rewrites; -O1 keeps the libc calls as PLT imports.
MAL_CC = $(CC) -std=gnu11 -O1 -Wall -Wextra -Werror -Wl,-z,now -Wl,-z,noexecstack
MAL_FIXTURES = tests/build/malformed-good.so tests/build/malformed-pie

tests/build/malformed-good.so: $(MAL_SRC)
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(MAL_CC) -fPIC -shared -o $@ $(MAL_SRC)

tests/build/malformed-pie: $(MAL_SRC)
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(MAL_CC) -DMAL_PIE -fPIE -pie -o $@ $(MAL_SRC)

check_DATA += $(MAL_FIXTURES)
CLEANFILES += $(MAL_FIXTURES)

check_PROGRAMS += tests/check_malformed
TESTS += tests/check_malformed
tests_check_malformed_SOURCES = tests/malformed/check_malformed.c
tests_check_malformed_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_malformed_LDADD = libldr.la $(CHECK_LIBS)

EXTRA_DIST += tests/malformed/good.c
