//! Temporary names: random letters and digits, for sem_open's temporary files and
//! shm_mkstemp's names.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys;

/// The alphabet of glibc's and OpenBSD's mktemp.
const LETTERS: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// How many random bytes one call asks the kernel for (the letters cycle through them).
const RANDOM_BYTES: usize = 16;
/// The fallback's step: 2^32 / the golden ratio, which spreads successive values.
const GOLDEN: usize = 0x9e37_79b9;
/// The fallback's state: a counter, mixed with a stack address.
static FALLBACK: AtomicUsize = AtomicUsize::new(GOLDEN);

/// Fills `out` with random letters and digits, from getrandom(2) without blocking; where it
/// gives nothing, from a counter and a stack address mixed (xorshift): good enough to avoid
/// collisions, and O_EXCL keeps every use safe.
pub fn letters(out: &mut [u8]) {
    let mut random = [0u8; RANDOM_BYTES];
    if sys::random_bytes(&mut random) != Ok(RANDOM_BYTES) {
        let mut x = FALLBACK.fetch_add(GOLDEN, Ordering::Relaxed) ^ (random.as_ptr() as usize);
        for b in &mut random {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    for (o, r) in out.iter_mut().zip(random.iter().cycle()) {
        *o = LETTERS[usize::from(*r) % LETTERS.len()];
    }
}
