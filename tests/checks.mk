# The whole suite under memory checkers.
#
# make check-valgrind: every check program under valgrind memcheck
# (tests/valgrind.sh); Check's forked cases are followed. The shell tests
# run as usual.
# make check-sanitizers: a second build with ./configure
# --enable-sanitizers (ASan and UBSan) in SANITIZE_DIR, then its make check
# (tests/sanitize.sh; an in-tree configured source is copied first).

check-valgrind:
	$(MAKE) $(AM_MAKEFLAGS) check LOG_COMPILER='$(SHELL) $(abs_srcdir)/tests/valgrind.sh'

SANITIZE_DIR = $(abs_builddir)/build-sanitizers
check-sanitizers:
	$(SHELL) $(srcdir)/tests/sanitize.sh '$(abs_srcdir)' '$(SANITIZE_DIR)'

.PHONY: check-valgrind check-sanitizers
EXTRA_DIST += tests/valgrind.sh tests/valgrind.supp tests/sanitize.sh
