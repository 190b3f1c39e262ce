/* A host that never stops: it calls its plugin's process() every second
 * and reloads the plugin whenever its file has changed, e.g. because
 * `cargo build --release` was run in another terminal.
 *
 *     ./host [PLUGIN [SECONDS]]
 *
 * PLUGIN defaults to plugin/target/release/libdemo_plugin.so; without
 * SECONDS it runs until interrupted. */
#include <ldr.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef uint64_t process_fn(uint64_t);
typedef const char *describe_fn(void);

/* Kept current by ldr across reloads (ldr_bind): no ldr_sym in the loop. */
static void *process_slot, *describe_slot;

static const char *stamp(void)
{
    static char buf[16];
    time_t t = time(NULL);
    strftime(buf, sizeof buf, "%H:%M:%S", localtime(&t));
    return buf;
}

/* Called by ldr after each successful reload. */
static void reloaded(ldr_module *m, void *arg)
{
    unsigned *generation = arg;
    struct ldr_info info;
    ldr_info(m, &info);
    ++*generation;
    printf("%s  reloaded %s: generation %u, now at %#" PRIxPTR "\n", stamp(), info.path, *generation,
           info.base);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "plugin/target/release/libdemo_plugin.so";
    long seconds = argc > 2 ? atol(argv[2]) : -1;
    unsigned generation = 1;
    char last_error[1024] = "";

    /* A private copy: a build that rewrites the file in place cannot
     * change or crash the code that runs. */
    ldr_module *m = ldr_open(path, LDR_SNAPSHOT);
    if (!m) {
        fprintf(stderr, "host: %s\n", ldr_error());
        return 1;
    }
    if (ldr_bind(m, "process", &process_slot) < 0 || ldr_bind(m, "describe", &describe_slot) < 0 ||
        ldr_on_reload(m, reloaded, &generation) < 0) {
        fprintf(stderr, "host: %s\n", ldr_error());
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("%s  loaded %s\n", stamp(), path);

    for (uint64_t i = 1; seconds < 0 || (long)i <= seconds; i++) {
        process_fn *process = (process_fn *)process_slot;
        describe_fn *describe = (describe_fn *)describe_slot;
        if (process)
            printf("%s  process(%" PRIu64 ") = %" PRIu64 "   [generation %u: %s]\n", stamp(), i, process(i),
                   generation, describe ? describe() : "?");
        else
            printf("%s  the plugin exports no process()\n", stamp());
        sleep(1);
        /* One stat() when nothing changed; the old plugin keeps running
         * when the new file cannot be loaded. The same failure is told
         * once. */
        int r = ldr_reload(m, 0);
        const char *why = r < 0 ? ldr_error() : NULL;
        if (why && strcmp(why, last_error) != 0)
            printf("%s  not reloaded, the old plugin keeps running: %s\n", stamp(), why);
        snprintf(last_error, sizeof last_error, "%s", why ? why : "");
    }
    ldr_close(m);
    return 0;
}
