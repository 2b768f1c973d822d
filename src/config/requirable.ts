// The Type 2 attributes a site may require (storage.require): without them an instance is refused.

export const REQUIRABLE = ["patient_id", "study_date"] as const;
export type Requirable = (typeof REQUIRABLE)[number];
