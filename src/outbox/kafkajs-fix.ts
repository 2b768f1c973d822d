// kafkajs 2.2.4 keeps a 1 ms timer loop running on every broker connection once it is connected
// (RequestQueue.scheduleCheckPendingRequests re-arms itself with a negative delay when nothing is pending
// and nothing is throttled: tulios/kafkajs#1704 and #1751, unfixed upstream). It takes CPU from the
// event loop that receives the modality's data, and it prints TimeoutNegativeWarning. The method is
// replaced by the fix proposed in kafkajs#1768: a check is scheduled only when requests are pending or a
// throttle will end; new requests and answers still trigger checks as before (push() and fulfilRequest()
// call it). Imported for its effect, first thing, by kafka-publisher.ts, the one module of src that
// loads kafkajs.

import RequestQueue from "kafkajs/src/network/requestQueue/index.js";

/** kafkajs's default interval while requests are pending (CHECK_PENDING_REQUESTS_INTERVAL). */
const CHECK_PENDING_MS = 10;

RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(
  this: RequestQueue,
) {
  if (this.throttleCheckTimeoutId) return;
  let delay = this.throttledUntil - Date.now();
  if (this.pending.length > 0) delay = delay > 0 ? delay : CHECK_PENDING_MS;
  else if (delay <= 0) return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
};
