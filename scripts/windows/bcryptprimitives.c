/*
 * A stand-in for Windows' bcryptprimitives.dll, which Wine 8 does not ship.
 *
 * Rust's std for Windows gets its random bytes (the seeds of HashMap's RandomState, among others) from
 * ProcessPrng, exported by bcryptprimitives.dll since Windows 8. Without that DLL a test binary fails to load
 * under Wine before main runs. Placed next to the test binaries, this one-function DLL is found first (the
 * loader searches the executable's directory before the system one) and serves ProcessPrng from RtlGenRandom
 * (advapi32's SystemFunction036), which Wine does have.
 *
 * Built by scripts/test-windows.sh; exports are named in bcryptprimitives.def.
 */
#include <windows.h>

/* RtlGenRandom's real export name; declared here rather than through <ntsecapi.h>, which hides it behind a macro. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Same signature as the real one; always succeeds on Windows, and so does RtlGenRandom under Wine. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a 32-bit length, ProcessPrng a pointer-sized one: feed it in chunks. */
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
