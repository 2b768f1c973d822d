// The part of kafkajs's internal RequestQueue that src/outbox/kafkajs-fix.ts replaces.
declare module "kafkajs/src/network/requestQueue/index.js" {
  export default class RequestQueue {
    throttledUntil: number;
    throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
    pending: unknown[];
    checkPendingRequests(): void;
    scheduleCheckPendingRequests(): void;
  }
}
