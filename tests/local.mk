# Tests. Fixture libraries are built from source by plain rules into
# tests/build/ of the build tree; programs find them through LDR_BUILD.
AM_TESTS_ENVIRONMENT = \
	LDR_BUILD='$(abs_top_builddir)'; LDR_SRC='$(abs_top_srcdir)'; \
	CC='$(CC)'; CXX='$(CXX)'; export LDR_BUILD LDR_SRC CC CXX;
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)

include tests/loader.mk
include tests/malformed.mk
include tests/bench/bench.mk
include tests/diff/diff.mk
include tests/fuzz/fuzz.mk
include tests/scale/scale.mk
include tests/checks.mk
include tests/tls.mk
include tests/compat.mk
include tests/reload.mk
include tests/diag.mk
