// Type declarations for the codec packages (they ship none). The WASM files are embedded with
// `with { type: "file" }` (a path that works from source and from a compiled executable).

declare module "dcmjs" {
  const dcmjs: unknown;
  export default dcmjs;
}

declare module "*.wasm" {
  const path: string;
  export default path;
}

type EmscriptenFactory = (moduleArg: {
  wasmBinary?: Uint8Array;
  locateFile?: () => string;
}) => Promise<unknown>;

declare module "@cornerstonejs/codec-charls/wasmjs" {
  const factory: EmscriptenFactory;
  export default factory;
}
declare module "@cornerstonejs/codec-openjpeg/wasmjs" {
  const factory: EmscriptenFactory;
  export default factory;
}
declare module "@cornerstonejs/codec-openjph/wasmjs" {
  const factory: EmscriptenFactory;
  export default factory;
}
declare module "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs" {
  const factory: EmscriptenFactory;
  export default factory;
}
declare module "@cornerstonejs/codec-charls/wasm" {
  const path: string;
  export default path;
}
declare module "@cornerstonejs/codec-openjpeg/wasm" {
  const path: string;
  export default path;
}
declare module "@cornerstonejs/codec-openjph/wasm" {
  const path: string;
  export default path;
}
declare module "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm" {
  const path: string;
  export default path;
}
