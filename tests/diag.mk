# Diagnostics: ldrun --check and --json, the LDR_DEBUG categories, crash
# reports, gdb through ldr/gdb/ldr-gdb.py, valgrind's reports.

DIAG_FIXTURES = $(LF)/stub/libdiagdep.so $(LF)/libdiagdep.so $(LF)/libdiag_missing.so \
	$(LF)/libdiag_crash.so $(LF)/libdiag_ctor.so $(LF)/libdiag_gdb.so $(LF)/libdiag_memcheck.so

check_DATA += $(DIAG_FIXTURES)
CLEANFILES += $(DIAG_FIXTURES)

# libdiag_missing.so is linked against a libdiagdep.so with DIAG_2.0 and
# ships next to one with DIAG_1.0 only.
$(LF)/stub/libdiagdep.so: $(LF_SRC)/diag_dep_link.c $(LF_SRC)/diag_dep_link.map
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libdiagdep.so -Wl,--version-script=$(LF_SRC)/diag_dep_link.map -o $@ $(LF_SRC)/diag_dep_link.c

$(LF)/libdiagdep.so: $(LF_SRC)/diag_dep_run.c $(LF_SRC)/diag_dep_run.map
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libdiagdep.so -Wl,--version-script=$(LF_SRC)/diag_dep_run.map -o $@ $(LF_SRC)/diag_dep_run.c

$(LF)/libdiag_missing.so: $(LF_SRC)/diag_missing.c $(LF)/stub/libdiagdep.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-rpath,'$$ORIGIN' -o $@ $(LF_SRC)/diag_missing.c $(LF)/stub/libdiagdep.so

$(LF)/libdiag_crash.so: $(LF_SRC)/diag_crash.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/diag_crash.c

$(LF)/libdiag_ctor.so: $(LF_SRC)/diag_ctor.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/diag_ctor.c

$(LF)/libdiag_gdb.so: $(LF_SRC)/diag_gdb.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/diag_gdb.c

$(LF)/libdiag_memcheck.so: $(LF_SRC)/diag_memcheck.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -O0 -o $@ $(LF_SRC)/diag_memcheck.c

TESTS += tests/diag.sh tests/gdb.sh tests/memcheck.sh
EXTRA_DIST += tests/diag.sh tests/gdb.sh tests/memcheck.sh tests/fixtures/diag_memcheck.c \
	tests/fixtures/diag_dep_link.c tests/fixtures/diag_dep_link.map \
	tests/fixtures/diag_dep_run.c tests/fixtures/diag_dep_run.map tests/fixtures/diag_missing.c \
	tests/fixtures/diag_crash.c tests/fixtures/diag_ctor.c tests/fixtures/diag_gdb.c
