// A thread that does CPU-heavy work nobody waits for (transcoding behind the answer) yields the CPU to
// the ones that receive: on a 2-core edge PC the codec must not slow the modality down. Linux keeps a
// nice value per thread, so lowering the calling thread's leaves the event loop and the other threads
// as they are. Elsewhere (Windows, or a runtime without bun:ffi) nothing happens.

/** Lower the calling thread's CPU priority by `nice` (Linux); whether it was done. */
export async function yieldCpuToOthers(nice = 19): Promise<boolean> {
  if (process.platform !== "linux") return false;
  try {
    const ffi = await import("bun:ffi");
    const libc = ffi.dlopen("libc.so.6", {
      setpriority: { args: [ffi.FFIType.i32, ffi.FFIType.u32, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
    });
    // PRIO_PROCESS (0) for "who" 0: on Linux, the calling thread only.
    const r = libc.symbols.setpriority(0, 0, nice);
    libc.close();
    return r === 0;
  } catch {
    // No FFI here (another runtime): the thread keeps its priority.
    return false;
  }
}
