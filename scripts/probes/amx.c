/* Does this machine really run AMX int8 tile instructions? scripts/setup.sh compiles and runs this
 * before choosing llama.cpp's build flags: some VMs advertise AMX in /proc/cpuinfo but fault on it
 * (SIGILL), so the flag alone is not enough. Prints "amx ok" and exits 0 only when a tile
 * multiply gives the right result. */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

typedef struct {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

int main(void) {
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        puts("amx: the kernel refuses tile data");
        return 1;
    }
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int i = 0; i < 3; i++) {
        cfg.colsb[i] = 64;
        cfg.rows[i] = 16;
    }
    _tile_loadconfig(&cfg);
    int8_t a[16 * 64], b[16 * 64];
    int32_t c[16 * 16];
    memset(a, 2, sizeof a);
    memset(b, 3, sizeof b);
    memset(c, 0, sizeof c);
    _tile_loadd(1, a, 64);
    _tile_loadd(2, b, 64);
    _tile_zero(0);
    _tile_dpbssd(0, 1, 2);
    _tile_stored(0, c, 64);
    _tile_release();
    if (c[0] != 2 * 3 * 64 || c[255] != 2 * 3 * 64) {
        puts("amx: wrong result");
        return 1;
    }
    puts("amx ok");
    return 0;
}
