/* Malformed objects. Each case derives one broken file from a good fixture
 * (tests/malformed/good.c), writes it to a temporary directory and checks
 * that ldr_open refuses it: NULL, a message "PATH: reason" whose reason
 * names the defect, no crash (Check runs every case in its own process),
 * and nothing of the file left mapped. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ldr.h"

struct image {
    unsigned char *buf;
    size_t len;
};

enum source { FROM_GOOD, FROM_PIE, FROM_TEXT };

typedef void (*mutator)(struct image *);

struct mcase {
    const char *name;
    enum source src;
    mutator fn;
    const char *keyword; /* in the reason, case-insensitive; '|' separates alternatives */
};

static char tmpdir[PATH_MAX / 2]; /* leaves room for the case names */
static char good_path[PATH_MAX];
static char pie_path[PATH_MAX];

/* ---- finding things in the good file ---------------------------------- */

static Elf64_Ehdr *ehdr(struct image *im)
{
    return (Elf64_Ehdr *)im->buf;
}

static Elf64_Phdr *phdr(struct image *im, size_t i)
{
    return (Elf64_Phdr *)(im->buf + ehdr(im)->e_phoff) + i;
}

/* The Nth program header of TYPE. */
static Elf64_Phdr *nth_phdr(struct image *im, uint32_t type, int n)
{
    for (size_t i = 0; i < ehdr(im)->e_phnum; i++)
        if (phdr(im, i)->p_type == type && n-- == 0)
            return phdr(im, i);
    ck_abort_msg("good fixture: no program header %u number %d", type, n);
    return NULL;
}

static Elf64_Phdr *last_load(struct image *im)
{
    Elf64_Phdr *last = NULL;
    for (size_t i = 0; i < ehdr(im)->e_phnum; i++)
        if (phdr(im, i)->p_type == PT_LOAD)
            last = phdr(im, i);
    ck_assert_ptr_nonnull(last);
    return last;
}

/* One past the highest address of the image (file vaddrs). */
static uint64_t image_end(struct image *im)
{
    uint64_t end = 0;
    for (size_t i = 0; i < ehdr(im)->e_phnum; i++) {
        Elf64_Phdr *p = phdr(im, i);
        if (p->p_type == PT_LOAD && p->p_vaddr + p->p_memsz > end)
            end = p->p_vaddr + p->p_memsz;
    }
    return end;
}

/* What lies at VADDR in the file. */
static void *at_vaddr(struct image *im, uint64_t vaddr)
{
    for (size_t i = 0; i < ehdr(im)->e_phnum; i++) {
        Elf64_Phdr *p = phdr(im, i);
        if (p->p_type == PT_LOAD && vaddr >= p->p_vaddr && vaddr < p->p_vaddr + p->p_filesz)
            return im->buf + p->p_offset + (vaddr - p->p_vaddr);
    }
    ck_abort_msg("good fixture: address %#llx is in no segment", (unsigned long long)vaddr);
    return NULL;
}

static Elf64_Dyn *dyn_entry(struct image *im, int64_t tag)
{
    Elf64_Dyn *d = (Elf64_Dyn *)(im->buf + nth_phdr(im, PT_DYNAMIC, 0)->p_offset);
    for (; d->d_tag != DT_NULL; d++)
        if (d->d_tag == tag)
            return d;
    ck_abort_msg("good fixture: no dynamic entry %lld", (long long)tag);
    return NULL;
}

/* The first PLT relocation: it names an imported symbol (getenv or strlen). */
static Elf64_Rela *first_plt_reloc(struct image *im)
{
    return at_vaddr(im, dyn_entry(im, DT_JMPREL)->d_un.d_ptr);
}

static Elf64_Rela *first_relative(struct image *im)
{
    Elf64_Rela *r = at_vaddr(im, dyn_entry(im, DT_RELA)->d_un.d_ptr);
    size_t n = dyn_entry(im, DT_RELASZ)->d_un.d_val / sizeof *r;
    for (size_t i = 0; i < n; i++)
        if (ELF64_R_TYPE(r[i].r_info) == R_X86_64_RELATIVE)
            return &r[i];
    ck_abort_msg("good fixture: no RELATIVE relocation");
    return NULL;
}

/* ---- the defects ------------------------------------------------------- */

static void empty(struct image *im) { im->len = 0; }
static void trunc_ehdr(struct image *im) { im->len = 32; }

static void trunc_phdr(struct image *im)
{
    im->len = ehdr(im)->e_phoff + 2 * sizeof(Elf64_Phdr) + 20;
}

/* In the middle of the code segment: the headers are intact. */
static void trunc_segment(struct image *im)
{
    Elf64_Phdr *text = nth_phdr(im, PT_LOAD, 1);
    im->len = text->p_offset + text->p_filesz / 2;
}

static void class32(struct image *im) { ehdr(im)->e_ident[EI_CLASS] = ELFCLASS32; }
static void machine(struct image *im) { ehdr(im)->e_machine = EM_AARCH64; }
static void et_exec(struct image *im) { ehdr(im)->e_type = ET_EXEC; }
static void pie(struct image *im) { (void)im; }
static void phentsize0(struct image *im) { ehdr(im)->e_phentsize = 0; }
/* Not PN_XNUM (0xffff), which means "the count is elsewhere". */
static void phnum_huge(struct image *im) { ehdr(im)->e_phnum = 0xfff0; }

/* The first segment grows over the second: still in ascending order. */
static void overlap(struct image *im)
{
    Elf64_Phdr *a = nth_phdr(im, PT_LOAD, 0), *b = nth_phdr(im, PT_LOAD, 1);
    a->p_memsz = b->p_vaddr + b->p_memsz - a->p_vaddr;
}

static void unordered(struct image *im)
{
    Elf64_Phdr *a = nth_phdr(im, PT_LOAD, 1), *b = nth_phdr(im, PT_LOAD, 2);
    Elf64_Phdr t = *a;
    *a = *b;
    *b = t;
}

static void memsz_huge(struct image *im) { last_load(im)->p_memsz = (uint64_t)1 << 46; }

/* Wraps around when added to p_vaddr: catches unchecked additions. */
static void memsz_wrap(struct image *im) { last_load(im)->p_memsz = UINT64_MAX & ~(uint64_t)0xfff; }

/* Past the end, still congruent with p_vaddr modulo the page size. */
static void offset_past_end(struct image *im)
{
    Elf64_Phdr *p = nth_phdr(im, PT_LOAD, 2);
    p->p_offset += ((im->len + 0xfff) & ~(size_t)0xfff) + 0x10000;
}

/* Keeps the file range valid so that only the size relation is wrong. */
static void filesz_gt_memsz(struct image *im)
{
    Elf64_Phdr *p = nth_phdr(im, PT_LOAD, 1);
    p->p_memsz = p->p_filesz - 8;
}

static void dyn_outside(struct image *im)
{
    Elf64_Phdr *d = nth_phdr(im, PT_DYNAMIC, 0);
    d->p_vaddr = d->p_paddr = ((image_end(im) + 0xfff) & ~(uint64_t)0xfff) + 0x10000;
}

static void st_name(struct image *im)
{
    Elf64_Sym *syms = at_vaddr(im, dyn_entry(im, DT_SYMTAB)->d_un.d_ptr);
    syms[ELF64_R_SYM(first_plt_reloc(im)->r_info)].st_name = 0x7fffff00;
}

static void reloc_sym(struct image *im)
{
    Elf64_Rela *r = first_plt_reloc(im);
    r->r_info = ELF64_R_INFO(0xfffff0, ELF64_R_TYPE(r->r_info));
}

static void reloc_offset(struct image *im)
{
    first_relative(im)->r_offset = image_end(im) + 0x10000000;
}

static void strtab_outside(struct image *im)
{
    dyn_entry(im, DT_STRTAB)->d_un.d_ptr = image_end(im) + 0x10000000;
}

static void needed_name(struct image *im)
{
    dyn_entry(im, DT_NEEDED)->d_un.d_val = 0x7fffff00;
}

static void phoff_past_end(struct image *im)
{
    ehdr(im)->e_phoff = im->len + 0x1000;
}

/* The initializer's address, as relocated, points at data: calling it
 * would crash the host. */
static void init_outside(struct image *im)
{
    uint64_t slot = dyn_entry(im, DT_INIT_ARRAY)->d_un.d_ptr;
    Elf64_Rela *r = at_vaddr(im, dyn_entry(im, DT_RELA)->d_un.d_ptr);
    size_t n = dyn_entry(im, DT_RELASZ)->d_un.d_val / sizeof *r;
    for (size_t i = 0; i < n; i++)
        if (r[i].r_offset == slot) {
            r[i].r_addend = dyn_entry(im, DT_SYMTAB)->d_un.d_ptr;
            return;
        }
    ck_abort_msg("good fixture: no relocation of DT_INIT_ARRAY[0]");
}

static void wx(struct image *im) { last_load(im)->p_flags |= PF_W | PF_X; }
/* Read-only past its segment by more than that segment's last page (lld
 * ends RELRO on that page's boundary, which is allowed). */
static void relro_past(struct image *im) { nth_phdr(im, PT_GNU_RELRO, 0)->p_memsz += 0x10000; }
static void xstack(struct image *im) { nth_phdr(im, PT_GNU_STACK, 0)->p_flags |= PF_X; }

/* What a linker writes for text relocations: DT_TEXTREL (here in place of
 * DT_FLAGS_1, which the fixture has from -z now) and DF_TEXTREL. */
static void textrel(struct image *im)
{
    Elf64_Dyn *d = dyn_entry(im, DT_FLAGS_1);
    d->d_tag = DT_TEXTREL;
    d->d_un.d_val = 0;
    dyn_entry(im, DT_FLAGS)->d_un.d_val |= DF_TEXTREL;
}

static void text(struct image *im)
{
    static const char line[] = "This is a text file that merely ends in .so; no loader should map it.\n";
    im->len = 0;
    for (int i = 0; i < 8; i++) {
        memcpy(im->buf + im->len, line, sizeof line - 1);
        im->len += sizeof line - 1;
    }
}

/* The one table to align with the loader's wording. */
static const struct mcase cases[] = {
    { "empty",           FROM_GOOD, empty,           "empty" },
    { "text",            FROM_TEXT, text,            "not an ELF" },
    { "trunc_ehdr",      FROM_GOOD, trunc_ehdr,      "truncated" },
    { "trunc_phdr",      FROM_GOOD, trunc_phdr,      "truncated" },
    { "trunc_segment",   FROM_GOOD, trunc_segment,   "truncated" },
    { "class32",         FROM_GOOD, class32,         "32-bit" },
    { "machine",         FROM_GOOD, machine,         "machine" },
    { "et_exec",         FROM_GOOD, et_exec,         "ET_EXEC" },
    { "pie",             FROM_PIE,  pie,             "executable" },
    { "phentsize0",      FROM_GOOD, phentsize0,      "entry size" },
    { "phnum_huge",      FROM_GOOD, phnum_huge,      "program headers" },
    { "overlap",         FROM_GOOD, overlap,         "overlap" },
    { "unordered",       FROM_GOOD, unordered,       "order" },
    { "memsz_huge",      FROM_GOOD, memsz_huge,      "large" },
    { "memsz_wrap",      FROM_GOOD, memsz_wrap,      "large" },
    { "offset_past_end", FROM_GOOD, offset_past_end, "outside the file" },
    { "filesz_gt_memsz", FROM_GOOD, filesz_gt_memsz, "file size" },
    { "dyn_outside",     FROM_GOOD, dyn_outside,     "dynamic" },
    { "st_name",         FROM_GOOD, st_name,         "string table" },
    { "reloc_sym",       FROM_GOOD, reloc_sym,       "symbol" },
    { "reloc_offset",    FROM_GOOD, reloc_offset,    "outside" },
    { "strtab_outside",  FROM_GOOD, strtab_outside,  "string table" },
    { "needed_name",     FROM_GOOD, needed_name,     "string table" },
    { "phoff_past_end",  FROM_GOOD, phoff_past_end,  "truncated" },
    { "init_outside",    FROM_GOOD, init_outside,    "outside" },
    { "wx",              FROM_GOOD, wx,              "writable and executable" },
    { "relro_past",      FROM_GOOD, relro_past,      "RELRO" },
    { "xstack",          FROM_GOOD, xstack,          "stack" },
    { "textrel",         FROM_GOOD, textrel,         "text relocation" },
};

/* ---- files and mappings ------------------------------------------------ */

static void fixture_path(char *out, const char *name)
{
    const char *build = getenv("LDR_BUILD");
    snprintf(out, PATH_MAX, "%s/tests/build/%s", build ? build : ".", name);
}

static struct image read_image(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    struct image im = { malloc(1 << 20), 0 };
    ck_assert_ptr_nonnull(im.buf);
    im.len = fread(im.buf, 1, 1 << 20, f);
    fclose(f);
    ck_assert_msg(im.len > sizeof(Elf64_Ehdr) && im.len < (1 << 20), "%s: unexpected size", path);
    return im;
}

static void write_image(const char *path, const struct image *im)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert(fwrite(im->buf, 1, im->len, f) == im->len);
    ck_assert(fclose(f) == 0);
}

static void case_path(char *out, const struct mcase *c)
{
    snprintf(out, PATH_MAX, "%s/%s.so", tmpdir, c->name);
}

/* /proc/self/maps read with read(2) into static memory, so that reading
 * it neither maps nor allocates anything itself. */
static char maps[1 << 20];

struct maps_count {
    size_t lines;
    /* Adjacent mappings alike merge into one line: a leaked reservation
     * next to another may add no line, but it adds bytes. The heap and
     * the stack grow and shrink on their own and are left out. */
    size_t bytes;
};

static struct maps_count read_maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY);
    ck_assert(fd >= 0);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
        len += n;
    close(fd);
    maps[len] = '\0';
    struct maps_count c = { 0, 0 };
    for (char *line = maps; *line;) {
        char *end = strchr(line, '\n');
        if (!end)
            break;
        unsigned long lo, hi;
        c.lines++;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && !memmem(line, end - line, "[heap]", 6) &&
            !memmem(line, end - line, "[stack]", 7))
            c.bytes += hi - lo;
        line = end + 1;
    }
    return c;
}

/* Whether the last read_maps() saw a mapping of PATH. */
static int mapped(const char *path)
{
    return strstr(maps, path) != NULL;
}

/* Whatever ldr or the allocator sets up once per process (tables of the
 * host, thread-local buffers, a sanitizer's size classes) is set up here,
 * so that it does not count as a leftover: the good fixture, then one
 * unmeasured failure on PATH itself. A mapping left behind by a failure
 * is left behind by the measured one too, and its file stays mapped. */
static void warm_up(const char *path)
{
    ldr_module *m = ldr_open(good_path, 0);
    if (m)
        ldr_close(m);
    m = ldr_open(path, 0);
    ck_assert_msg(m == NULL, "%s: ldr_open accepted the broken file", path);
    ldr_error();
}

static int has_keyword(const char *reason, const char *keywords)
{
    char alt[128];
    for (const char *k = keywords; *k;) {
        size_t n = strcspn(k, "|");
        snprintf(alt, sizeof alt, "%.*s", (int)n, k);
        if (strcasestr(reason, alt))
            return 1;
        k += n + (k[n] == '|');
    }
    return 0;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(refused)
{
    const struct mcase *c = &cases[_i];
    char path[PATH_MAX];
    case_path(path, c);

    struct image im = read_image(c->src == FROM_PIE ? pie_path : good_path);
    c->fn(&im);
    write_image(path, &im);
    free(im.buf);

    warm_up(path);
    struct maps_count before = read_maps();
    ldr_module *m = ldr_open(path, 0);
    const char *err = ldr_error();
    char msg[4096];
    snprintf(msg, sizeof msg, "%s", err ? err : "(none)");
    struct maps_count after = read_maps();
    /* The log then shows every message, for aligning the keywords. */
    printf("%-16s %s\n", c->name, msg);
    fflush(stdout);

    ck_assert_msg(m == NULL, "%s: ldr_open accepted the broken file", c->name);
    ck_assert_msg(err != NULL, "%s: refused without a message", c->name);
    size_t plen = strlen(path);
    ck_assert_msg(strncmp(msg, path, plen) == 0 && msg[plen] == ':' && msg[plen + 1] == ' ',
                  "%s: message does not start with \"PATH: \": %s", c->name, msg);
    ck_assert_msg(has_keyword(msg + plen + 2, c->keyword),
                  "%s: message lacks \"%s\": %s", c->name, c->keyword, msg);
    ck_assert_msg(!mapped(path), "%s: file still mapped after the failure:\n%s", c->name, maps);
    ck_assert_msg(before.lines == after.lines && before.bytes == after.bytes,
                  "%s: /proc/self/maps had %zu lines, %zu bytes before; %zu lines, %zu bytes after (%s)",
                  c->name, before.lines, before.bytes, after.lines, after.bytes, msg);
}
END_TEST

/* The control: the good fixture itself loads, runs its initializer,
 * binds its imports and goes away completely. */
START_TEST(good_loads)
{
    ldr_module *m = ldr_open(good_path, 0);
    ck_assert_msg(m != NULL, "%s", ldr_error());
    int (*answer)(void) = (int (*)(void))ldr_sym(m, "mal_answer");
    size_t (*len)(const char *) = (size_t (*)(const char *))ldr_sym(m, "mal_len");
    const char ***greet = ldr_sym(m, "greet_ptr");
    ck_assert_ptr_nonnull(answer);
    ck_assert_ptr_nonnull(len);
    ck_assert_ptr_nonnull(greet);
    ck_assert_int_eq(answer(), 42);
    ck_assert_uint_eq(len("hello"), 5);
    ck_assert_str_eq(**greet, "hello");
    ck_assert_int_eq(ldr_close(m), 0);
    read_maps();
    ck_assert_msg(!mapped(good_path), "still mapped after ldr_close:\n%s", maps);
}
END_TEST

int main(void)
{
    fixture_path(good_path, "malformed-good.so");
    fixture_path(pie_path, "malformed-pie");
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/ldr-malformed-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror(tmpdir);
        return 99;
    }
    /* /proc/self/maps shows resolved paths: so must the messages we match. */
    char real[PATH_MAX];
    if (realpath(tmpdir, real) && strlen(real) < sizeof tmpdir)
        strcpy(tmpdir, real);

    Suite *s = suite_create("malformed");
    TCase *tc = tcase_create("good");
    tcase_add_test(tc, good_loads);
    suite_add_tcase(s, tc);
    /* One test case per defect, so that Check's report names it. */
    size_t ncases = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < ncases; i++) {
        tc = tcase_create(cases[i].name);
        tcase_add_loop_test(tc, refused, (int)i, (int)i + 1);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    for (size_t i = 0; i < ncases; i++) {
        char path[PATH_MAX];
        case_path(path, &cases[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
