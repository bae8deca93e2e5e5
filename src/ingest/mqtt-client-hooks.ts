import type { MqttClient } from 'mqtt';
import { AckLedger } from './ack-ledger';

/**
 * The only place that reaches into mqtt.js internals (5.16; docs/adr/0008-ack-after-commit.md). Both hooks check the
 * layout they rely on and THROW when it is not there: a silent fallback would acknowledge before commit (data loss on a
 * crash) or bring back the keep-alive disconnects. `mqtt-client-hooks.spec.ts` fails when mqtt.js changes that layout.
 *
 * 1. Deferred PUBACK. For a QoS 1 PUBLISH mqtt.js calls `client.handleMessage(packet, cb)`; `cb` sends the PUBACK via
 *    `client._sendPacket({ cmd: 'puback', messageId }, done)` and only `done` lets the client parse the next packet.
 *    We call `cb` at once (intake goes on) but `_sendPacket` swallows that one PUBACK (calling `done`) and the
 *    `AckLedger` writes it later, through the original `_sendPacket`, once the message's readings are durable.
 *
 * 2. Keep-alive. mqtt.js's KeepaliveManager sends PINGREQ after `keepalive` s without a reschedule and gives up
 *    (`onKeepaliveTimeout`) half a period later unless a PINGRESP rescheduled it. We leave the schedule alone (PINGREQs
 *    go out on time: keep-alive is about what the CLIENT sends, MQTT 3.1.1 §3.1.2.10) and only veto the client's own
 *    timeout while the broker demonstrably talks (bytes arrived since the last PINGREQ: a PINGRESP can sit behind a
 *    flood of PUBLISH frames) or while we deliberately stopped reading the socket (back-pressure); then the vetoed
 *    timeout sends the next PINGREQ and restarts the countdown.
 */

/** What we touch on the client (private members of mqtt.js 5). */
type ClientInternals = {
  _sendPacket: (
    packet: { cmd: string; messageId?: number },
    cb?: (err?: Error) => void,
    ...rest: unknown[]
  ) => void;
  handleMessage: (packet: { qos: number; messageId?: number }, cb: (err?: Error) => void) => void;
  sendPing: () => void;
  onKeepaliveTimeout: () => void;
  keepaliveManager: { reschedule(): void } | null;
};

export class MqttHookError extends Error {
  constructor(what: string) {
    super(
      `mqtt.js layout changed, cannot install ${what} (see docs/adr/0008-ack-after-commit.md); refusing to run`,
    );
    this.name = 'MqttHookError';
  }
}

function internals(client: MqttClient): ClientInternals {
  return client as unknown as ClientInternals;
}

export type DeferredAcks = {
  readonly ledger: AckLedger;
  /** Forget every held PUBACK (call on connection close). */
  reset(): void;
};

/**
 * Installs deferred PUBACKs. `onQos1(packet)` runs inside handleMessage (after the 'message' event, so the readings of the
 * message are already with the writer) and returns the message's durability mark.
 */
export function installDeferredAcks(
  client: MqttClient,
  markOf: () => number,
  onHeld?: () => void,
): DeferredAcks {
  const c = internals(client);
  if (typeof c._sendPacket !== 'function' || typeof c.handleMessage !== 'function') {
    throw new MqttHookError('deferred PUBACKs (_sendPacket / handleMessage)');
  }
  const send = c._sendPacket.bind(client);
  // The id whose PUBACK mqtt.js is about to send from inside our handleMessage callback.
  let swallow = -1;
  // Never queued for a later connection (mqtt.js stores packets sent while offline): an id of the old session may name
  // another message on the new one. The close handler resets the ledger; this covers the moment before it runs.
  const ledger = new AckLedger((messageId) => {
    if (client.connected) send({ cmd: 'puback', messageId });
  });
  c._sendPacket = (packet, cb, ...rest) => {
    if (packet.cmd === 'puback' && packet.messageId === swallow) {
      swallow = -1;
      cb?.();
      return;
    }
    send(packet, cb, ...rest);
  };
  c.handleMessage = (packet, cb) => {
    if (packet.qos !== 1 || packet.messageId === undefined) return cb();
    const id = packet.messageId;
    swallow = id;
    cb();
    if (swallow === id) {
      // mqtt.js did not send the PUBACK through _sendPacket synchronously: its layout is not what we hold it to be.
      swallow = -1;
      throw new MqttHookError('deferred PUBACKs (PUBACK not sent from the handleMessage callback)');
    }
    ledger.hold(id, markOf());
    onHeld?.();
  };
  return { ledger, reset: () => ledger.reset() };
}

export type KeepaliveGuard = {
  /** Bytes arrived from the broker (call once per turn). */
  onData(): void;
};

/** Installs the keep-alive veto described above. `now` and `deliberatelyPaused` are injectable for tests. */
export function installKeepaliveGuard(
  client: MqttClient,
  opts: { now: () => number; deliberatelyPaused: () => boolean },
): KeepaliveGuard {
  const c = internals(client);
  if (
    typeof c.sendPing !== 'function' ||
    typeof c.onKeepaliveTimeout !== 'function' ||
    !('keepaliveManager' in client)
  ) {
    throw new MqttHookError('the keep-alive guard (sendPing / onKeepaliveTimeout / keepaliveManager)');
  }
  const sendPing = c.sendPing.bind(client);
  const timeout = c.onKeepaliveTimeout.bind(client);
  let lastPingAt = Number.NEGATIVE_INFINITY;
  let lastDataAt = Number.NEGATIVE_INFINITY;
  c.sendPing = () => {
    lastPingAt = opts.now();
    sendPing();
  };
  c.onKeepaliveTimeout = () => {
    if (lastDataAt >= lastPingAt || opts.deliberatelyPaused()) {
      c.sendPing();
      c.keepaliveManager?.reschedule();
      return;
    }
    timeout();
  };
  return {
    onData: () => {
      lastDataAt = opts.now();
    },
  };
}
