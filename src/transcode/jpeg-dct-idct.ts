// The inverse DCT stage of the sequential DCT decoder: dequantise a block of coefficients and transform
// it to samples exactly as IJG 6b's "islow" integer IDCT (jidctint.c) does, with its overflow and
// range-limit behaviour, so that the output matches DCMTK's dcmdjpeg sample for sample.

/** IJG's post-IDCT range limit (jdmaster.c): clamps to [0, 2^P-1] around the centre, wraps far outside. */
export function idctLimitTable(precision: number): Uint16Array {
  const size = 4 << precision;
  const max = (1 << precision) - 1;
  const center = 1 << (precision - 1);
  const t = new Uint16Array(size);
  for (let x = 0; x < size; x++) {
    const s = x < size >> 1 ? x : x - size;
    const v = s + center;
    t[x] = Math.min(Math.max(v, 0), max);
  }
  return t;
}

/**
 * A block whose AC coefficients are all zero: both IJG shortcuts (all-zero AC column, then all-zero row)
 * give the same value everywhere.
 */
export function idctDcOnly(
  dc: number,
  q0: number,
  out: Uint16Array,
  at: number,
  stride: number,
  limit: Uint16Array,
  pass1: number,
): void {
  const w = (dc * q0) << pass1;
  const n = pass1 + 3;
  const v = limit[((w >> n) + ((w >> (n - 1)) & 1)) & (limit.length - 1)] ?? 0;
  for (let y = 0; y < 8; y++) out.fill(v, at + y * stride, at + y * stride + 8);
}

// IJG jidctint.c ("islow"): 13-bit fixed-point constants.
const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;

/**
 * Dequantise and inverse-DCT one block exactly as IJG's jpeg_idct_islow, with its 64-bit intermediates
 * (doubles here: every product stays below 2^53) and its 32-bit work array (Int32Array wraps alike).
 */
export function idctIslow(
  blk: Int16Array,
  q: Uint16Array,
  out: Uint16Array,
  at: number,
  stride: number,
  ws: Int32Array,
  limit: Uint16Array,
  pass1: number,
): void {
  const s1 = 13 - pass1;
  const half1 = 2 ** (s1 - 1);
  const inv1 = 2 ** -s1;
  const s2 = 13 + pass1 + 3;
  const half2 = 2 ** (s2 - 1);
  const inv2 = 2 ** -s2;
  const mask = limit.length - 1;
  const rowShift = pass1 + 3;
  for (let i = 0; i < 8; i++) {
    const c1 = blk[8 + i]!;
    const c2 = blk[16 + i]!;
    const c3 = blk[24 + i]!;
    const c4 = blk[32 + i]!;
    const c5 = blk[40 + i]!;
    const c6 = blk[48 + i]!;
    const c7 = blk[56 + i]!;
    if ((c1 | c2 | c3 | c4 | c5 | c6 | c7) === 0) {
      const dcval = (blk[i]! * q[i]!) << pass1;
      for (let k = 0; k < 64; k += 8) ws[k + i] = dcval;
      continue;
    }
    let z2 = c2 * q[16 + i]!;
    let z3 = c6 * q[48 + i]!;
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 - z3 * FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    z2 = blk[i]! * q[i]!;
    z3 = c4 * q[32 + i]!;
    let tmp0 = (z2 + z3) * 8192;
    let tmp1 = (z2 - z3) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = c7 * q[56 + i]!;
    tmp1 = c5 * q[40 + i]!;
    tmp2 = c3 * q[24 + i]!;
    tmp3 = c1 * q[8 + i]!;
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    ws[i] = Math.floor((tmp10 + tmp3 + half1) * inv1);
    ws[56 + i] = Math.floor((tmp10 - tmp3 + half1) * inv1);
    ws[8 + i] = Math.floor((tmp11 + tmp2 + half1) * inv1);
    ws[48 + i] = Math.floor((tmp11 - tmp2 + half1) * inv1);
    ws[16 + i] = Math.floor((tmp12 + tmp1 + half1) * inv1);
    ws[40 + i] = Math.floor((tmp12 - tmp1 + half1) * inv1);
    ws[24 + i] = Math.floor((tmp13 + tmp0 + half1) * inv1);
    ws[32 + i] = Math.floor((tmp13 - tmp0 + half1) * inv1);
  }
  for (let r = 0; r < 64; r += 8) {
    const o = at + (r >> 3) * stride;
    const w0 = ws[r]!;
    const w1 = ws[r + 1]!;
    const w2 = ws[r + 2]!;
    const w3 = ws[r + 3]!;
    const w4 = ws[r + 4]!;
    const w5 = ws[r + 5]!;
    const w6 = ws[r + 6]!;
    const w7 = ws[r + 7]!;
    if ((w1 | w2 | w3 | w4 | w5 | w6 | w7) === 0) {
      const v = limit[((w0 >> rowShift) + ((w0 >> (rowShift - 1)) & 1)) & mask]!;
      out.fill(v, o, o + 8);
      continue;
    }
    let z1 = (w2 + w6) * FIX_0_541196100;
    let tmp2 = z1 - w6 * FIX_1_847759065;
    let tmp3 = z1 + w2 * FIX_0_765366865;
    let tmp0 = (w0 + w4) * 8192;
    let tmp1 = (w0 - w4) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = w7;
    tmp1 = w5;
    tmp2 = w3;
    tmp3 = w1;
    z1 = tmp0 + tmp3;
    let z2 = tmp1 + tmp2;
    let z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    out[o] = limit[Math.floor((tmp10 + tmp3 + half2) * inv2) & mask]!;
    out[o + 7] = limit[Math.floor((tmp10 - tmp3 + half2) * inv2) & mask]!;
    out[o + 1] = limit[Math.floor((tmp11 + tmp2 + half2) * inv2) & mask]!;
    out[o + 6] = limit[Math.floor((tmp11 - tmp2 + half2) * inv2) & mask]!;
    out[o + 2] = limit[Math.floor((tmp12 + tmp1 + half2) * inv2) & mask]!;
    out[o + 5] = limit[Math.floor((tmp12 - tmp1 + half2) * inv2) & mask]!;
    out[o + 3] = limit[Math.floor((tmp13 + tmp0 + half2) * inv2) & mask]!;
    out[o + 4] = limit[Math.floor((tmp13 - tmp0 + half2) * inv2) & mask]!;
  }
}
