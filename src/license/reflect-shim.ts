// The three Reflect metadata functions tsyringe (a dependency of @peculiar/x509) insists on, so that no
// full reflect-metadata polyfill is needed. Must be imported before @peculiar/x509 (see x509.ts).

type Key = string | symbol;
const store = new WeakMap<object, Map<Key, unknown>>();

interface ReflectMetadata {
  getMetadata?(key: Key, target: object): unknown;
  getOwnMetadata?(key: Key, target: object): unknown;
  defineMetadata?(key: Key, value: unknown, target: object): void;
}

const R = Reflect as unknown as ReflectMetadata;
if (typeof R.getMetadata !== "function") {
  R.getOwnMetadata = (key, target) => store.get(target)?.get(key);
  R.getMetadata = (key, target) => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
      const m = store.get(t);
      if (m?.has(key)) return m.get(key);
    }
    return undefined;
  };
  R.defineMetadata = (key, value, target) => {
    let m = store.get(target);
    if (!m) {
      m = new Map();
      store.set(target, m);
    }
    m.set(key, value);
  };
}
