// The reconstruction stage of the lossless JPEG decoder (ITU T.81 H.2.1, Table H.1): a line of
// differences undone by its predictor, in 32-bit arithmetic and modulo 2^16 as IJG's lossless patch does.
// One loop per predictor, so the predictor is not chosen per sample.

/**
 * Undifference `n` samples of a line that starts a scan or restart interval (or its rest from a restart
 * inside the line): the first predicted by `initial` = 2^(P-Pt-1), the others by Ra.
 */
export function firstLine(
  out: Uint16Array,
  o: number,
  stride: number,
  d: Int32Array,
  di: number,
  dStride: number,
  n: number,
  initial: number,
): void {
  let ra = initial;
  for (let j = 0; j < n; j++, o += stride, di += dStride) {
    ra = (ra + d[di]!) & 0xffff;
    out[o] = ra;
  }
}

/**
 * Undifference the first `n` samples of a line below another (`up` is the line above): the first sample
 * predicted by Rb, the others by predictor `psv` (T.81 Table H.1, in 32-bit arithmetic as IJG).
 */
export function nextLine(
  out: Uint16Array,
  o: number,
  up: number,
  stride: number,
  d: Int32Array,
  di: number,
  dStride: number,
  n: number,
  psv: number,
): void {
  if (n <= 0) return;
  let rb = out[up]!;
  let ra = (rb + d[di]!) & 0xffff;
  out[o] = ra;
  const end = o + n * stride;
  o += stride;
  up += stride;
  di += dStride;
  switch (psv) {
    case 1:
      for (; o < end; o += stride, di += dStride) {
        ra = (ra + d[di]!) & 0xffff;
        out[o] = ra;
      }
      break;
    case 2:
      for (; o < end; o += stride, up += stride, di += dStride) out[o] = (out[up]! + d[di]!) & 0xffff;
      break;
    case 3:
      for (; o < end; o += stride, up += stride, di += dStride) {
        const rc = rb;
        rb = out[up]!;
        out[o] = (rc + d[di]!) & 0xffff;
      }
      break;
    case 4:
      for (; o < end; o += stride, up += stride, di += dStride) {
        const rc = rb;
        rb = out[up]!;
        ra = (ra + rb - rc + d[di]!) & 0xffff;
        out[o] = ra;
      }
      break;
    case 5:
      for (; o < end; o += stride, up += stride, di += dStride) {
        const rc = rb;
        rb = out[up]!;
        ra = (ra + ((rb - rc) >> 1) + d[di]!) & 0xffff;
        out[o] = ra;
      }
      break;
    case 6:
      for (; o < end; o += stride, up += stride, di += dStride) {
        const rc = rb;
        rb = out[up]!;
        ra = (rb + ((ra - rc) >> 1) + d[di]!) & 0xffff;
        out[o] = ra;
      }
      break;
    default:
      for (; o < end; o += stride, up += stride, di += dStride) {
        rb = out[up]!;
        ra = (((ra + rb) >> 1) + d[di]!) & 0xffff;
        out[o] = ra;
      }
  }
}
