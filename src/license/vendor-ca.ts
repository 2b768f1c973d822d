// The vendor CA certificate (PEM) that license certificates must chain to. The release build writes this
// file from the CA file it is given (`build --vendor-ca FILE`); in the source tree it is null, and such a
// build says so in a warning and runs unlicensed.

export const VENDOR_CA_PEM: string | null = null;
