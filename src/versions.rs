//! librtshm.so's symbol versions (README, "Linking"). Compiled only into the objects the
//! Makefile links librtshm.so from (feature `shared-object`), never into librtshm.a, whose users
//! may link it into a shared library of their own, which could not define these versions.
//!
//! The C API is at rtshm's own version, RTSHM_0.1, its default: a library or program linked
//! with -lrtshm refers to `shm_open@RTSHM_0.1`, which glibc's `shm_open@@GLIBC_2.34` cannot
//! satisfy, so it binds to rtshm wherever libc.so.6 comes in the lookup order. The functions
//! glibc also has get an alias at each of glibc's versions of them (from glibc's abilist files),
//! so that a glibc program's references bind to rtshm when rtshm is preloaded or comes before
//! libc.so.6: `@GLIBC_2.34`, and the first version of the architecture, which binaries built
//! before glibc 2.34 refer to (in librt.so.1 for shm_*, libpthread.so.0 for sem_*). On other
//! architectures only the 2.34 versions are served (README). The version nodes are declared
//! in src/librtshm.map.S.

#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
core::arch::global_asm!(
    ".symver shm_open, shm_open@GLIBC_2.2.5",
    ".symver shm_unlink, shm_unlink@GLIBC_2.2.5",
    ".symver sem_open, sem_open@GLIBC_2.2.5",
    ".symver sem_close, sem_close@GLIBC_2.2.5",
    ".symver sem_unlink, sem_unlink@GLIBC_2.2.5",
    ".symver ftruncate, ftruncate@GLIBC_2.2.5",
    ".symver ftruncate64, ftruncate64@GLIBC_2.2.5",
);

#[cfg(all(target_arch = "aarch64", target_pointer_width = "64"))]
core::arch::global_asm!(
    ".symver shm_open, shm_open@GLIBC_2.17",
    ".symver shm_unlink, shm_unlink@GLIBC_2.17",
    ".symver sem_open, sem_open@GLIBC_2.17",
    ".symver sem_close, sem_close@GLIBC_2.17",
    ".symver sem_unlink, sem_unlink@GLIBC_2.17",
    ".symver ftruncate, ftruncate@GLIBC_2.17",
    ".symver ftruncate64, ftruncate64@GLIBC_2.17",
);

// `@@@` renames the function itself to its default version; it comes after the aliases above,
// which name the function by its plain name.
core::arch::global_asm!(
    ".symver shm_open, shm_open@GLIBC_2.34",
    ".symver shm_unlink, shm_unlink@GLIBC_2.34",
    ".symver sem_open, sem_open@GLIBC_2.34",
    ".symver sem_close, sem_close@GLIBC_2.34",
    ".symver sem_unlink, sem_unlink@GLIBC_2.34",
    ".symver shm_open, shm_open@@@RTSHM_0.1",
    ".symver shm_unlink, shm_unlink@@@RTSHM_0.1",
    ".symver sem_open, sem_open@@@RTSHM_0.1",
    ".symver sem_close, sem_close@@@RTSHM_0.1",
    ".symver sem_unlink, sem_unlink@@@RTSHM_0.1",
    ".symver shm_rename, shm_rename@@@RTSHM_0.1",
    ".symver shm_mkstemp, shm_mkstemp@@@RTSHM_0.1",
    ".symver rtshm_dir, rtshm_dir@@@RTSHM_0.1",
);

// ftruncate came in rtshm 0.2 (RTSHM_RESERVE). glibc has it at the architecture's first
// version only; on other architectures the default version alone serves unversioned
// references.
#[cfg(target_pointer_width = "64")]
core::arch::global_asm!(
    ".symver ftruncate, ftruncate@@@RTSHM_0.2",
    ".symver ftruncate64, ftruncate64@@@RTSHM_0.2",
);
