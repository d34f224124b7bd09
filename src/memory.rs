//! The C allocator's settings for a long-running server.
//!
//! glibc gives each thread its own malloc arena and, after a large block is
//! freed, raises its mmap threshold to that block's size. A long article's
//! buffers (its text, word pieces, the ONNX Runtime inputs and outputs) then
//! come from the arenas instead of fresh mappings, spread over one arena per
//! worker thread, and freed memory stays behind in them: resident memory
//! climbed in steps for as long as a soak ran. Two arenas and a fixed mmap
//! threshold send large blocks back to the kernel when they are freed (the
//! soak figures are in RELIABILITY.md).
//!
//! `MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_` in the environment still
//! win: a setting the operator chose is left alone.

/// Arenas for the whole process.
pub const ARENA_MAX: i32 = 2;
/// Blocks of at least this many bytes are mapped and unmapped on their own.
pub const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Applies [`ARENA_MAX`] and [`MMAP_THRESHOLD`] unless the environment sets
/// them. Call it first thing in `main`, before any thread starts. A no-op
/// off glibc.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let unset = |name: &str| std::env::var_os(name).is_none();
        // SAFETY: mallopt only changes allocator parameters; it is called
        // before the process starts other threads.
        unsafe {
            if unset("MALLOC_ARENA_MAX") {
                libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
            }
            if unset("MALLOC_MMAP_THRESHOLD_") {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            }
        }
    }
}
