//! The allocator settings for a process that moves MiB-sized messages.

/// Tells glibc's `malloc` to keep freed memory for reuse: trim the heap only above 64 MiB
/// free at its top, and serve requests up to 32 MiB from the heap rather than fresh
/// `mmap`s. Call it once, early in `main`, before other threads start.
///
/// Why: MSL bulk messages (and later memory-image chunks and disk regions) are around
/// 1 MiB, allocated by one thread and freed by another. With glibc's defaults the memory
/// freed after each message goes back to the kernel, and the next message faults it in
/// again one zeroed page at a time. Measured with `sft3 bench msl --mtu 9000`: 0.19 CPU-s
/// per GiB moved, on a pair that needs 1.5 (docs/benchmarks.md). The cost is that up to
/// 64 MiB per malloc arena stays with the process after a burst.
///
/// Does nothing on other C libraries. Returns whether both settings took.
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets malloc's parameters; these two take any int.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20) == 1
                && libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
