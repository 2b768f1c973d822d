// VRs of Implicit VR data sets, for writing them as explicit VR: PS3.6 via dcmjs's data dictionary.

import dcmjs from "dcmjs";

interface DictEntry {
  vr?: string;
}

const dictionary = (
  dcmjs as unknown as { data: { DicomMetaDictionary: { dictionary: Record<string, DictEntry> } } }
).data.DicomMetaDictionary.dictionary;

const cache = new Map<number, string>();

/** The VR PS3.6 gives a tag ("UN" for private and unknown tags; one choice where PS3.6 allows two). */
export function vrOf(tag: number): string {
  const hit = cache.get(tag);
  if (hit) return hit;
  const group = tag >>> 16;
  const elem = tag & 0xffff;
  let vr = "UN";
  if (elem === 0) vr = "UL";
  else if ((group & 1) === 0) {
    const h = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
    const repeating = group >= 0x5000 && group <= 0x60ff ? `${h(group).slice(0, 2)}xx` : h(group);
    const e = dictionary[`(${h(group)},${h(elem)})`] ?? dictionary[`(${repeating},${h(elem)})`];
    const raw = e?.vr ?? "UN";
    vr = raw === "ox" ? "OW" : raw === "xs" ? "US" : /^[A-Z]{2}$/.test(raw) ? raw : "UN";
  }
  cache.set(tag, vr);
  return vr;
}
