# Behaviour tests of the core loader.
#
# Fixture libraries are built by plain rules into tests/build/ of the build
# tree, one property each; see tests/fixtures/*.c for what each one holds.
# tests/fixture_elf.sh checks with readelf that every fixture really has the
# property its test relies on.

LF_SRC = $(srcdir)/tests/fixtures
LF = tests/build
# Fixtures are not part of the product: their own flags, and -O1 so that
# calls stay calls (through the PLT) rather than being folded away.
LF_CC = $(CC) -std=gnu11 -O1 -g -fPIC -shared -Wall -Wextra -Werror -I$(LF_SRC)
LF_MK = @$(MKDIR_P) $(@D)

LOADER_FIXTURES = \
	$(LF)/libreloc.so $(LF)/librelr.so \
	$(LF)/libifunc_local.so $(LF)/libifunc_export.so $(LF)/libifunc_user.so \
	$(LF)/libgnuhash.so $(LF)/libsysvhash.so \
	$(LF)/libver.so $(LF)/old/libver.so $(LF)/libver_user.so \
	$(LF)/libweak.so $(LF)/libpacked.so $(LF)/libsymbolic.so $(LF)/libplain.so \
	$(LF)/add-dyntag $(LF)/libsymtag.so \
	$(LF)/libinit.so $(LF)/libinitdep.so $(LF)/libinitmain.so \
	$(LF)/libnosoname.so $(LF)/libnosoname_user.so $(LF)/libinterpose.so \
	$(LF)/librtlocal.so $(LF)/librtglobal.so $(LF)/librtuser.so $(LF)/liblld.so \
	$(LF)/sub/liborigindep.so $(LF)/liborigin_runpath.so $(LF)/liborigin_rpath.so \
	$(LF)/libcallback.so $(LF)/libzuse.so \
	$(LF)/stub/libcyca.so $(LF)/libcycb.so $(LF)/libcyca.so \
	$(LF)/stub/libmissing.so $(LF)/libmissing.so $(LF)/libunres.so \
	$(LF)/libldrun.so $(LF)/libthr_a.so $(LF)/libthr_b.so $(LF)/libsparse.so \
	$(LF)/libgap.so $(LF)/libpointers.so $(LF)/libpointers_relr.so $(LF)/libthreeruns.so $(LF)/libsysdeps.so \
	$(LF)/loader-env.sh

check_DATA += $(LOADER_FIXTURES)
CLEANFILES += $(LOADER_FIXTURES)
clean-local: clean-loader-fixtures
clean-loader-fixtures:
	-rmdir $(LF)/old $(LF)/sub $(LF)/stub 2>/dev/null
.PHONY: clean-loader-fixtures

# What the shell tests need to know about the build.
$(LF)/loader-env.sh: Makefile
	$(LF_MK)
	$(AM_V_GEN)echo "PACKAGE_VERSION='$(PACKAGE_VERSION)'" > $@

$(LF)/libsparse.so: $(LF_SRC)/sparse.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/sparse.c

$(LF)/libpointers.so: $(LF_SRC)/pointers.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-z,nopack-relative-relocs -o $@ $(LF_SRC)/pointers.c

$(LF)/libpointers_relr.so: $(LF_SRC)/pointers.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-z,pack-relative-relocs -o $@ $(LF_SRC)/pointers.c

$(LF)/libthreeruns.so: $(LF_SRC)/threeruns.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-z,nopack-relative-relocs -o $@ $(LF_SRC)/threeruns.c

$(LF)/libsysdeps.so: $(LF_SRC)/sysdeps.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,--no-as-needed -o $@ $(LF_SRC)/sysdeps.c -lm -lgcc_s

$(LF)/libgap.so: $(LF_SRC)/gap.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,--section-start=.data=0x80000 -o $@ $(LF_SRC)/gap.c

$(LF)/libreloc.so: $(LF_SRC)/reloc.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/reloc.c

$(LF)/librelr.so: $(LF_SRC)/relr.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-z,pack-relative-relocs -o $@ $(LF_SRC)/relr.c

$(LF)/libifunc_local.so: $(LF_SRC)/ifunc_local.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/ifunc_local.c

$(LF)/libifunc_export.so: $(LF_SRC)/ifunc_export.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libifunc_export.so -o $@ $(LF_SRC)/ifunc_export.c

$(LF)/libifunc_user.so: $(LF_SRC)/ifunc_user.c $(LF)/libifunc_export.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-rpath,'$$ORIGIN' -o $@ $(LF_SRC)/ifunc_user.c $(LF)/libifunc_export.so

$(LF)/libgnuhash.so: $(LF_SRC)/hash.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,--hash-style=gnu -o $@ $(LF_SRC)/hash.c

$(LF)/libsysvhash.so: $(LF_SRC)/hash.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,--hash-style=sysv -o $@ $(LF_SRC)/hash.c

$(LF)/libver.so: $(LF_SRC)/ver.c $(LF_SRC)/ver.map
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libver.so -Wl,--version-script=$(LF_SRC)/ver.map -o $@ $(LF_SRC)/ver.c

# The old libver.so (same soname) that libver_user.so is linked against.
$(LF)/old/libver.so: $(LF_SRC)/ver_old.c $(LF_SRC)/ver_old.map
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libver.so -Wl,--version-script=$(LF_SRC)/ver_old.map -o $@ $(LF_SRC)/ver_old.c

$(LF)/libver_user.so: $(LF_SRC)/ver_user.c $(LF)/old/libver.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-rpath,'$$ORIGIN' -o $@ $(LF_SRC)/ver_user.c $(LF)/old/libver.so

$(LF)/libpacked.so: $(LF_SRC)/packed.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/packed.c

$(LF)/libweak.so: $(LF_SRC)/weak.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/weak.c

$(LF)/libsymbolic.so: $(LF_SRC)/symbolic.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-Bsymbolic -o $@ $(LF_SRC)/symbolic.c

$(LF)/libplain.so: $(LF_SRC)/symbolic.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/symbolic.c

# libplain.so plus a DT_SYMBOLIC tag: its self-references are still
# relocations, so only the loader can make the module's definition win.
$(LF)/add-dyntag: $(LF_SRC)/add_dyntag.c
	$(LF_MK)
	$(AM_V_GEN)$(CC) -std=gnu11 -O1 -Wall -Wextra -Werror -o $@ $(LF_SRC)/add_dyntag.c

$(LF)/libsymtag.so: $(LF)/libplain.so $(LF)/add-dyntag
	$(AM_V_GEN)cp $(LF)/libplain.so $@.tmp && $(LF)/add-dyntag $@.tmp 16 && mv $@.tmp $@

$(LF)/libinit.so: $(LF_SRC)/init.c $(LF_SRC)/host.h
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-init,init_dt -Wl,-fini,fini_dt -o $@ $(LF_SRC)/init.c

$(LF)/libinitdep.so: $(LF_SRC)/initdep.c $(LF_SRC)/host.h
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libinitdep.so -o $@ $(LF_SRC)/initdep.c

$(LF)/libinitmain.so: $(LF_SRC)/initmain.c $(LF_SRC)/host.h $(LF)/libinitdep.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-rpath,'$$ORIGIN' -o $@ $(LF_SRC)/initmain.c $(LF)/libinitdep.so

# libinitdep's and libinitmain's code again, the dependency without a
# soname: only its file tells a copy of it already loaded under another
# name.
$(LF)/libnosoname.so: $(LF_SRC)/initdep.c $(LF_SRC)/host.h
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/initdep.c

$(LF)/libnosoname_user.so: $(LF_SRC)/initmain.c $(LF_SRC)/host.h $(LF)/libnosoname.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-rpath,'$$ORIGIN' -o $@ $(LF_SRC)/initmain.c -L$(LF) -lnosoname

$(LF)/liblld.so: $(LF_SRC)/lld.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -fuse-ld=lld -Wl,-z,relro,-z,now -o $@ $(LF_SRC)/lld.c

$(LF)/librtlocal.so: $(LF_SRC)/rtdef.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -DRT_VALUE=1 -Wl,-soname,librtlocal.so -o $@ $(LF_SRC)/rtdef.c

$(LF)/librtglobal.so: $(LF_SRC)/rtdef.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -DRT_VALUE=2 -Wl,-soname,librtglobal.so -o $@ $(LF_SRC)/rtdef.c

$(LF)/librtuser.so: $(LF_SRC)/rtuser.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/rtuser.c

$(LF)/libinterpose.so: $(LF_SRC)/interpose.c $(LF_SRC)/interpose.h
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/interpose.c

$(LF)/sub/liborigindep.so: $(LF_SRC)/origindep.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,liborigindep.so -o $@ $(LF_SRC)/origindep.c

$(LF)/liborigin_runpath.so: $(LF_SRC)/origin.c $(LF)/sub/liborigindep.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,--enable-new-dtags -Wl,-rpath,'$$ORIGIN/sub' -o $@ $(LF_SRC)/origin.c $(LF)/sub/liborigindep.so

$(LF)/liborigin_rpath.so: $(LF_SRC)/origin.c $(LF)/sub/liborigindep.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,--disable-new-dtags -Wl,-rpath,'$$ORIGIN/sub' -o $@ $(LF_SRC)/origin.c $(LF)/sub/liborigindep.so

$(LF)/libcallback.so: $(LF_SRC)/callback.c $(LF_SRC)/host.h
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/callback.c

$(LF)/libzuse.so: $(LF_SRC)/zuse.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,--no-as-needed -o $@ $(LF_SRC)/zuse.c -lz

# A cycle: libcycb.so is linked against a stand-in with libcyca.so's
# soname, then the real libcyca.so against libcycb.so.
$(LF)/stub/libcyca.so: $(LF_SRC)/empty.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libcyca.so -o $@ $(LF_SRC)/empty.c

$(LF)/libcycb.so: $(LF_SRC)/cycb.c $(LF)/stub/libcyca.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libcycb.so -Wl,-rpath,'$$ORIGIN' -Wl,--no-as-needed -o $@ $(LF_SRC)/cycb.c $(LF)/stub/libcyca.so

$(LF)/libcyca.so: $(LF_SRC)/cyca.c $(LF)/libcycb.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libcyca.so -Wl,-rpath,'$$ORIGIN' -o $@ $(LF_SRC)/cyca.c $(LF)/libcycb.so

# libunres.so is linked against a libmissing.so that has its symbols, and
# ships next to one that has the version but not the symbols.
$(LF)/stub/libmissing.so: $(LF_SRC)/missing_link.c $(LF_SRC)/missing_link.map
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libmissing.so -Wl,--version-script=$(LF_SRC)/missing_link.map -o $@ $(LF_SRC)/missing_link.c

$(LF)/libmissing.so: $(LF_SRC)/missing_run.c $(LF_SRC)/missing_run.map
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-soname,libmissing.so -Wl,--version-script=$(LF_SRC)/missing_run.map -o $@ $(LF_SRC)/missing_run.c

$(LF)/libunres.so: $(LF_SRC)/unres.c $(LF)/stub/libmissing.so
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -Wl,-rpath,'$$ORIGIN' -o $@ $(LF_SRC)/unres.c $(LF)/stub/libmissing.so

$(LF)/libldrun.so: $(LF_SRC)/ldrun.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -o $@ $(LF_SRC)/ldrun.c

$(LF)/libthr_a.so: $(LF_SRC)/thr.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -DTHR_VALUE=3 -o $@ $(LF_SRC)/thr.c

$(LF)/libthr_b.so: $(LF_SRC)/thr.c
	$(LF_MK)
	$(AM_V_GEN)$(LF_CC) -DTHR_VALUE=5 -o $@ $(LF_SRC)/thr.c

# Test programs. The hosts that fixtures call back into export their
# symbols (-rdynamic); -no-install gives real binaries, not wrappers.
LOADER_HOST = tests/fixtures/host.c tests/fixtures/host.h
LOADER_CK_CC = $(AM_CFLAGS) $(CHECK_CFLAGS)
LOADER_CK_LD = $(AM_LDFLAGS) -no-install

check_PROGRAMS += tests/check_reloc tests/check_load tests/check_threads tests/check_real

tests_check_reloc_SOURCES = tests/check_reloc.c $(LOADER_HOST)
tests_check_reloc_CFLAGS = $(LOADER_CK_CC)
tests_check_reloc_LDFLAGS = $(LOADER_CK_LD) -rdynamic
tests_check_reloc_LDADD = libldr.la $(CHECK_LIBS) -ldl

# Links zlib on purpose: libzuse.so must reuse the host's copy.
tests_check_load_SOURCES = tests/check_load.c $(LOADER_HOST)
tests_check_load_CFLAGS = $(LOADER_CK_CC)
tests_check_load_LDFLAGS = $(LOADER_CK_LD) -rdynamic
tests_check_load_LDADD = libldr.la $(CHECK_LIBS) -lz -ldl

tests_check_threads_SOURCES = tests/check_threads.c
tests_check_threads_CFLAGS = $(LOADER_CK_CC)
tests_check_threads_LDFLAGS = $(LOADER_CK_LD)
tests_check_threads_LDADD = libldr.la $(CHECK_LIBS) -lpthread

# Must not link zlib, SQLite, OpenSSL or Python: ldr has to bring them.
tests_check_real_SOURCES = tests/check_real.c
tests_check_real_CFLAGS = $(LOADER_CK_CC)
tests_check_real_LDFLAGS = $(LOADER_CK_LD)
tests_check_real_LDADD = libldr.la $(CHECK_LIBS) -ldl

TESTS += tests/fixture_elf.sh tests/check_reloc tests/check_load \
	tests/check_threads tests/check_real tests/ldrun.sh tests/system_libs.sh

EXTRA_DIST += tests/fixture_elf.sh tests/elf_checks.sh tests/ldrun.sh tests/system_libs.sh \
	tests/fixtures/callback.c tests/fixtures/cyca.c tests/fixtures/cycb.c \
	tests/fixtures/empty.c tests/fixtures/hash.c tests/fixtures/ifunc_export.c \
	tests/fixtures/ifunc_local.c tests/fixtures/ifunc_user.c \
	tests/fixtures/init.c tests/fixtures/initdep.c tests/fixtures/initmain.c \
	tests/fixtures/interpose.c tests/fixtures/interpose.h \
	tests/fixtures/rtdef.c tests/fixtures/rtuser.c tests/fixtures/lld.c \
	tests/fixtures/ldrun.c tests/fixtures/missing_link.c \
	tests/fixtures/missing_link.map tests/fixtures/missing_run.c \
	tests/fixtures/missing_run.map tests/fixtures/origin.c \
	tests/fixtures/origindep.c tests/fixtures/reloc.c tests/fixtures/relr.c tests/fixtures/sparse.c tests/fixtures/pointers.c tests/fixtures/threeruns.c tests/fixtures/sysdeps.c tests/fixtures/gap.c \
	tests/fixtures/symbolic.c tests/fixtures/thr.c tests/fixtures/unres.c \
	tests/fixtures/ver.c tests/fixtures/ver.map tests/fixtures/ver_old.c \
	tests/fixtures/ver_old.map tests/fixtures/ver_user.c tests/fixtures/weak.c tests/fixtures/packed.c \
	tests/fixtures/add_dyntag.c tests/fixtures/host.h tests/fixtures/testutil.h \
	tests/fixtures/zuse.c
