/* One STB_GNU_UNIQUE object (an inline variable of a class template) in
 * two libraries: the dependency, built with -DDEP, only defines it (no
 * relocation of its own names it), the other defines it and refers to it.
 * With both loaded by the system loader first, the one its table of
 * unique symbols holds is the referring library's copy; ldr, loading the
 * referring library again beside them, must bind to the copy the system
 * loader chose, not to the dependency's own definition. */
template <class T> struct tag {
    static inline int id = 1;
};
#ifdef DEP
template int tag<int>::id;
extern "C" int dep_value() { return 2; }
#else
extern "C" int dep_value();
extern "C" int *user_tag() { return &tag<int>::id + dep_value() * 0; }
#endif
