/* Reload support: telling whether a module's file changed, and keeping the
 * host's view current when it does (slots ldr rewrites, hooks it calls).
 * The reload itself is a load like any other: see ldr_reload in api.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xxhash.h>

#include "ldr_internal.h"

static int64_t ns(const struct timespec *t)
{
    return t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* The xxHash of the content of the file open as FD; -1 (errno set) if it
 * cannot be read. */
int hash_fd(int fd, uint64_t *hash)
{
    struct stat st;
    if (ldr_fstat(fd, &st) < 0)
        return -1;
    if (st.st_size == 0) {
        *hash = XXH3_64bits("", 0);
        return 0;
    }
    void *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    *hash = XXH3_64bits(p, st.st_size);
    munmap(p, st.st_size);
    return 0;
}

/* The content's xxHash; -1 if the file cannot be read. */
static int hash_file(const char *path, uint64_t *hash)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(path, "ldr_reload: cannot open: %s", strerror(errno));
    int r = hash_fd(fd, hash);
    int err = errno;
    close(fd);
    return r < 0 ? fail(path, "ldr_reload: cannot read: %s", strerror(err)) : 0;
}

/* 1: the file's content differs from what M was loaded from (*CONTENT
 * is its hash); 0: the same; -1: error. Metadata that has not moved means the same content (a stat
 * is all an unchanged reload costs); when it has moved, the content hash
 * decides, so a touch or a rewrite with the same bytes reloads nothing.
 * ldr_open takes the hash of what it loads (open_locked in api.c); for
 * a module without one, it is taken the first time it is needed, while
 * the metadata still vouches for it. */
int file_changed(struct module *m, uint64_t *content)
{
    struct stat st;
    if (syscall(SYS_stat, m->path, &st) < 0)
        return fail(m->path, "ldr_reload: cannot stat: %s", strerror(errno));
    struct file_id *id = &m->file;
    bool same_meta = st.st_dev == id->dev && st.st_ino == id->ino && st.st_size == id->size &&
                     ns(&st.st_mtim) == id->mtime_ns && ns(&st.st_ctim) == id->ctime_ns;
    if (same_meta && id->hashed)
        return 0;
    uint64_t hash = 0;
    if (hash_file(m->path, &hash) < 0)
        return -1;
    if (same_meta || (id->hashed && hash == id->hash)) {
        *id = (struct file_id){.dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
                               .mtime_ns = ns(&st.st_mtim), .ctime_ns = ns(&st.st_ctim),
                               .hash = hash, .hashed = true};
        return 0;
    }
    *content = hash;
    return 1;
}

int reload_add_slot(struct ldr_module *h, const char *name, void **slot)
{
    struct reload_slot *s = realloc(h->slots, (h->nslots + 1) * sizeof *s);
    char *copy = strdup(name);
    if (!s || !copy) {
        free(copy);
        if (s)
            h->slots = s;
        return fail(h->mod->path, "out of memory");
    }
    h->slots = s;
    h->slots[h->nslots++] = (struct reload_slot){copy, slot};
    __atomic_store_n(slot, module_symbol(h->mod, name, NULL), __ATOMIC_RELEASE);
    return 0;
}

int reload_add_hook(struct ldr_module *h, void (*fn)(struct ldr_module *, void *), void *arg)
{
    struct reload_hook *k = realloc(h->hooks, (h->nhooks + 1) * sizeof *k);
    if (!k)
        return fail(h->mod->path, "out of memory");
    h->hooks = k;
    h->hooks[h->nhooks++] = (struct reload_hook){fn, arg};
    return 0;
}

/* After a reload: every slot gets the new module's address (NULL when it
 * no longer exports the name), then every hook is called. */
void reload_notify(struct ldr_module *h)
{
    for (size_t i = 0; i < h->nslots; i++)
        __atomic_store_n(h->slots[i].where, module_symbol(h->mod, h->slots[i].name, NULL), __ATOMIC_RELEASE);
    for (size_t i = 0; i < h->nhooks; i++)
        h->hooks[i].fn(h, h->hooks[i].arg);
}
