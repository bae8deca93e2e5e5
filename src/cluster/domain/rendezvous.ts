import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest-random-weight) hashing: every node scores every lease key; the highest score owns it. All nodes
 * that see the same live set compute the same owner without talking to each other, shares are even, and when a node
 * joins or leaves only the keys it wins or held move (about 1/N of them). Ties (practically impossible) go to the
 * smaller node id so the result is a function of the inputs alone.
 */
export function rendezvousScore(nodeId: string, key: string): bigint {
  return createHash('sha256').update(nodeId).update('\n').update(key).digest().readBigUInt64BE(0);
}

/** The winner of `key` among `nodes`, or undefined when there is no node. */
export function rendezvousOwner(key: string, nodes: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const n of nodes) {
    const s = rendezvousScore(n, key);
    if (s > bestScore || (s === bestScore && best !== undefined && n < best)) {
      best = n;
      bestScore = s;
    }
  }
  return best;
}

/** The keys `nodeId` wins among `nodes` (the node's fair share). */
export function fairShare(nodeId: string, keys: readonly string[], nodes: readonly string[]): string[] {
  return keys.filter((k) => rendezvousOwner(k, nodes) === nodeId);
}
