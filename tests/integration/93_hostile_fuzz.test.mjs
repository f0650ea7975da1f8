// The event-level fuzzer (lib/event_fuzz.mjs) replayed with fixed seeds against a cluster
// configured as deploy/cluster.sh configures it: generated names, rooms, ids, texts and tokens
// for the chat app's events, and generated paths, queries and bodies for adminnode's routes.
// Every ack must be {ok} or {error}, no delivery may reach a socket outside its room or user,
// no REST answer may be a 500 or a non-JSON error, and every node must keep serving and exit
// clean. Longer runs: `node tests/integration/lib/event_fuzz.mjs --minutes 30`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fuzz } from "./lib/event_fuzz.mjs";

describe("the event-level fuzzer, replayed", { timeout: 600_000 }, () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 1500 steps, no invariant broken`, async () => {
      const stats = await fuzz({ seed, steps: 1500 });
      assert.deepEqual(stats.failures, [], JSON.stringify(stats));
      assert.ok(stats.events > 800 && stats.requests > 200 && stats.deliveries > 50, JSON.stringify(stats));
    });
  }
});
