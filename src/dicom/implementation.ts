// Identity this implementation puts into association negotiation and Part-10 file meta information.

/** Implementation Class UID (0002,0012) / PS3.7 D.3.3.2: a fixed 2.25 UUID-derived UID for storescp. */
export const IMPLEMENTATION_CLASS_UID = "2.25.41031759622275302415446071030176248853";

/** Implementation Version Name (0002,0013): SH, at most 16 characters. */
export const IMPLEMENTATION_VERSION_NAME = "STORESCP_0_1_0";
