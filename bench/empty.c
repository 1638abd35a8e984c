/* The least any preload costs: a shared library with nothing in it, linked as librtshm.so is
 * (no start files, one segment for code and read-only data). The benchmark compares rtshm's
 * start-up cost with this one's. */
typedef int bench_empty_translation_unit;
