# The differential checker (tests/diff/ldrdiff.c): a library loaded by the
# system loader and by ldr, every relocated word compared by meaning.
# make check runs it over the fixtures and two real libraries
# (tests/diff/diff.sh); make check-corpus over every shared library
# installed (tests/diff/corpus.sh). CORPUS_DIRS replaces the directories.

check_PROGRAMS += tests/diff/ldrdiff
tests_diff_ldrdiff_SOURCES = tests/diff/ldrdiff.c
tests_diff_ldrdiff_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_diff_ldrdiff_LDADD = libldr.la -ldl

# Files each refused by ldr once, for a wrong reason; a unique symbol
# bound once to a host dependency's copy rather than the chosen one.
DIFF_FIXTURES = tests/build/diff-interp.so tests/build/diff-unhashed.so \
	tests/build/libdiff-unique-dep.so tests/build/libdiff-unique.so
check_DATA += $(DIFF_FIXTURES)
CLEANFILES += $(DIFF_FIXTURES)

tests/build/diff-interp.so: $(srcdir)/tests/diff/interp.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) -std=gnu11 -O1 -fPIC -shared -Wall -Wextra -Werror -o $@ $(srcdir)/tests/diff/interp.c

tests/build/diff-unhashed.so: $(srcdir)/tests/diff/unhashed.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) -std=gnu11 -O1 -fPIC -shared -Wall -Wextra -Werror -o $@ $(srcdir)/tests/diff/unhashed.c

tests/build/libdiff-unique-dep.so: $(srcdir)/tests/diff/unique.cpp
	@$(MKDIR_P) $(@D)
	$(AM_V_CXX)$(CXX) -std=gnu++17 -O1 -fPIC -shared -Wall -Wextra -Werror -DDEP -o $@ $(srcdir)/tests/diff/unique.cpp

tests/build/libdiff-unique.so: $(srcdir)/tests/diff/unique.cpp tests/build/libdiff-unique-dep.so
	$(AM_V_CXX)$(CXX) -std=gnu++17 -O1 -fPIC -shared -Wall -Wextra -Werror -o $@ $(srcdir)/tests/diff/unique.cpp \
		-Ltests/build -ldiff-unique-dep -Wl,-rpath,'$$ORIGIN'

TESTS += tests/diff/diff.sh

CORPUS_DIRS =
check-corpus: tests/diff/ldrdiff$(EXEEXT)
	$(SHELL) $(srcdir)/tests/diff/corpus.sh tests/diff/ldrdiff$(EXEEXT) $(CORPUS_DIRS)
.PHONY: check-corpus

EXTRA_DIST += tests/diff/diff.sh tests/diff/corpus.sh tests/diff/interp.c tests/diff/unhashed.c tests/diff/unique.cpp
