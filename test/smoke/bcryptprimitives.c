/* Test-only stand-in for Windows' bcryptprimitives.dll, which Wine 8 lacks: Bun's Windows runtime
   imports ProcessPrng from it (Windows 10 and later have it). Built with mingw by test/smoke/windows.sh and
   placed beside the executable under Wine only; never shipped. */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (!RtlGenRandom(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
