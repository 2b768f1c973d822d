// Test and bench helpers, one entry for the modules beside it: run DCMTK's command-line tools against a
// server (run.ts, dcmtk-tools.ts, dcmtk-log.ts), start DCMTK's own storescp (dcmtk-storescp.ts), start
// our server from source (our-server.ts, over serve.ts), find the repository (repo.ts) and read a
// process's peak RSS (memory.ts).

export { parseStoreResponses, type StoreResponse } from "./dcmtk-log.ts";
export {
  type DcmtkStorescpHandle,
  type DcmtkStorescpOptions,
  startDcmtkStorescp,
} from "./dcmtk-storescp.ts";
export {
  type DcmsendOptions,
  dcmdump,
  dcmsend,
  type EchoResult,
  echoscu,
  type ScuOptions,
  type StoreResult,
  type StorescuOptions,
  storescu,
  tagValue,
} from "./dcmtk-tools.ts";
export { currentRss, peakRss } from "./memory.ts";
export {
  type ConfigTree,
  type ConfigValue,
  type OurServerHandle,
  readyLine,
  type StartServerOptions,
  startServer,
} from "./our-server.ts";
export { makeWorkDir, repoRoot } from "./repo.ts";
export { dcmtkEnv, type ProcResult, type RunOptions, run } from "./run.ts";
export { freePort, isListening, type ServerHandle, spawnServer } from "./serve.ts";
