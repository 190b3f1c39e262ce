# make fuzz: the libFuzzer harness (tests/fuzz/fuzz.c) built with clang
# straight from the loader's sources, ASan and UBSan on, run for
# FUZZ_SECONDS over a corpus seeded with the fixtures, the malformed
# test's good library and PIE, and zlib. Findings land in tests/fuzz/found/;
# each one that was a real crash becomes tests/fuzz/crashes/NAME.bin with
# NAME.expect (the reason ldr must now give), which make check replays.

FUZZ_SECONDS = 120
FUZZ_CC = clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SEEDS = tests/build/*.so tests/build/*/*.so tests/build/malformed-pie \
	/usr/lib/x86_64-linux-gnu/libz.so.1

# The library's own sources (headers left out), compiled by clang.
tests/fuzz/fuzz-ldr: $(libldr_la_SOURCES) tests/fuzz/fuzz.c include/ldr.h
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)srcs=; for f in $(libldr_la_SOURCES) tests/fuzz/fuzz.c; do \
		case $$f in *.c|*.S) srcs="$$srcs $(srcdir)/$$f" ;; esac; done; \
	$(FUZZ_CC) $(FUZZ_FLAGS) $(AM_CPPFLAGS) $(libldr_la_CPPFLAGS) $(XXHASH_CFLAGS) -o $@ $$srcs $(XXHASH_LIBS) -ldl -lpthread

fuzz: tests/fuzz/fuzz-ldr $(LOADER_FIXTURES) $(MAL_FIXTURES)
	@$(MKDIR_P) tests/fuzz/corpus tests/fuzz/seeds tests/fuzz/found
	@for f in $(FUZZ_SEEDS); do [ -f "$$f" ] && cp "$$f" tests/fuzz/seeds/ || :; done
	UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=0 \
		tests/fuzz/fuzz-ldr -max_total_time=$(FUZZ_SECONDS) \
		-max_len=262144 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=tests/fuzz/found/ tests/fuzz/corpus tests/fuzz/seeds
.PHONY: fuzz

# make check-fuzz: the harness, once over each input it must come back
# from: every crash input make check replays, and a library whose IFUNC
# resolver begins with a breakpoint (tests/fuzz/trap-input.sh). Run by CI.
FUZZ_TRAP = tests/fuzz/trap.so
$(FUZZ_TRAP): $(LF)/libifunc_local.so $(srcdir)/tests/fuzz/trap-input.sh
	$(AM_V_GEN)sh $(srcdir)/tests/fuzz/trap-input.sh $(LF)/libifunc_local.so $@

check-fuzz: tests/fuzz/fuzz-ldr $(FUZZ_TRAP)
	UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=0 \
		tests/fuzz/fuzz-ldr $(FUZZ_TRAP) $(srcdir)/tests/fuzz/crashes/*.bin
.PHONY: check-fuzz

clean-local: clean-fuzz
clean-fuzz:
	-rm -rf tests/fuzz/fuzz-ldr tests/fuzz/corpus tests/fuzz/seeds $(FUZZ_TRAP)
.PHONY: clean-fuzz

TESTS += tests/fuzz/replay.sh
EXTRA_DIST += tests/fuzz/fuzz.c tests/fuzz/replay.sh tests/fuzz/trap-input.sh \
	tests/fuzz/crashes/misaligned-symtab.bin tests/fuzz/crashes/misaligned-symtab.expect \
	tests/fuzz/crashes/misaligned-dynamic.bin tests/fuzz/crashes/misaligned-dynamic.expect \
	tests/fuzz/crashes/unreadable-dynamic.bin tests/fuzz/crashes/unreadable-dynamic.expect \
	tests/fuzz/crashes/empty-symbol-name.bin tests/fuzz/crashes/empty-symbol-name.expect \
	tests/fuzz/crashes/misaligned-eh-frame-hdr.bin tests/fuzz/crashes/misaligned-eh-frame-hdr.expect \
	tests/fuzz/crashes/unaligned-relocation.bin tests/fuzz/crashes/unaligned-relocation.expect \
	tests/fuzz/crashes/hash-no-buckets.bin tests/fuzz/crashes/hash-no-buckets.expect \
	tests/fuzz/crashes/bloom-shift.bin tests/fuzz/crashes/bloom-shift.expect \
	tests/fuzz/crashes/bss-unmappable.bin tests/fuzz/crashes/bss-unmappable.expect
