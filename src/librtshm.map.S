/* librtshm.so's version script: the version nodes that src/versions.rs puts the exports in.
 * The Makefile runs it through the C preprocessor for the architecture's macros (the same
 * choice as versions.rs makes with cfg). Everything else in the library is local. */
#if defined(__x86_64__) && defined(__LP64__)
GLIBC_2.2.5 { };
#elif defined(__aarch64__) && defined(__LP64__)
GLIBC_2.17 { };
#endif
GLIBC_2.34 { };
RTSHM_0.1 {
    global:
        shm_open; shm_unlink; sem_open; sem_close; sem_unlink; shm_rename; shm_mkstemp; rtshm_dir;
    local:
        *;
};
RTSHM_0.2 {
    global:
        ftruncate; ftruncate64;
} RTSHM_0.1;
