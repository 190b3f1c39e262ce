# gdb support for ldr: gives gdb the symbols of the modules ldr loads, at
# the addresses ldr loaded them, and takes them away when ldr unloads them,
# so that pending breakpoints in plugins resolve and backtraces through
# plugin frames have names.
#
# Installed as <datadir>/gdb/auto-load<libdir>/libldr.so.0.0.0-gdb.py, gdb
# loads it by itself with libldr; from a source tree: gdb -x ldr/gdb/ldr-gdb.py.
#
# libldr calls ldr_debug_state_changed(loaded, path, base) after mapping
# and relocating each module (before its initializers) and before
# unmapping one. A breakpoint there reads the arguments from registers
# (no debug information needed), adds or removes the module's symbol
# file, and lets the program go on.
import gdb

HOOK = "ldr_debug_state_changed"


class LdrModules(gdb.Breakpoint):
    def __init__(self):
        super().__init__(HOOK, internal=True)
        self.silent = True
        self.loaded = {}  # path -> load bias

    def stop(self):
        try:
            loaded = int(gdb.parse_and_eval("$rdi")) & 0xFFFFFFFF
            path = gdb.parse_and_eval("(const char *)$rsi").string()
            base = int(gdb.parse_and_eval("$rdx"))
        except gdb.error:
            return False
        try:
            if loaded:
                gdb.execute("add-symbol-file %s -o %#x" % (quote(path), base), to_string=True)
                self.loaded[path] = base
            elif path in self.loaded:
                del self.loaded[path]
                gdb.execute("remove-symbol-file %s" % quote(path), to_string=True)
            # New symbols: let pending breakpoints try again.
            gdb.execute("sharedlibrary", to_string=True)
        except gdb.error as e:
            gdb.write("ldr: %s: %s\n" % (path, e), gdb.STDERR)
        return False


def quote(path):
    return '"%s"' % path.replace("\\", "\\\\").replace('"', '\\"')


if not any(isinstance(b, LdrModules) for b in (gdb.breakpoints() or ())):
    # Pending until libldr is loaded: the breakpoint resolves with it.
    gdb.execute("set breakpoint pending on", to_string=True)
    LdrModules()
