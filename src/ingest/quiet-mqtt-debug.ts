/**
 * mqtt-packet (mqtt.js's parser and writer) calls `debug()` about 15 times per packet. debug@4's logger takes
 * `...args`, so every call allocates an array even when its namespace is disabled: ~750k arrays/s at 50k msg/s,
 * about 2 % of server CPU in a profile plus their share of garbage collection.
 *
 * `quietMqttPacketDebug` hands mqtt-packet a no-op logger for each of its namespaces that is disabled when mqtt-packet
 * loads. `DEBUG=mqtt-packet*` at start-up still gives the real loggers; enabling them later at run time does not.
 * Other packages' loggers are untouched. It must run before mqtt-packet is loaded, so `main.ts` imports this module
 * first; when mqtt-packet is already loaded (or laid out differently) it does nothing and says so.
 */
import { createRequire } from 'node:module';

type DebugFactory = ((namespace: string) => (...args: unknown[]) => void) & {
  enabled(namespace: string): boolean;
};

/** What mqtt-packet gets for a disabled namespace: same shape as a debug logger, no rest parameter, no allocation. */
function silentLogger(namespace: string): (...args: unknown[]) => void {
  const log = function silent(): void {};
  return Object.assign(log, {
    namespace,
    enabled: false,
    extend: (sub: string) => silentLogger(`${namespace}:${sub}`),
  });
}

/**
 * Wraps a debug factory: namespaces starting with one of `prefixes` get a silent logger when disabled now, every other
 * namespace the factory's own. The wrapper inherits the factory's properties (`enable`, `disable`, `default`, …).
 */
export function quietFactory<F extends DebugFactory>(factory: F, prefixes: readonly string[]): F {
  const wrapper = function (namespace: string) {
    if (prefixes.some((p) => namespace.startsWith(p)) && !factory.enabled(namespace))
      return silentLogger(namespace);
    return factory(namespace);
  };
  Object.setPrototypeOf(wrapper, factory);
  return wrapper as unknown as F;
}

/** Installs the wrapper as the `debug` module mqtt-packet will load. Returns why not when it could not. */
export function quietMqttPacketDebug(): { installed: boolean; reason?: string } {
  try {
    const fromMqtt = createRequire(require.resolve('mqtt'));
    const packetEntry = fromMqtt.resolve('mqtt-packet');
    const fromPacket = createRequire(packetEntry);
    if (require.cache[fromPacket.resolve('./parser.js')])
      return { installed: false, reason: 'mqtt-packet already loaded' };
    const debugPath = fromPacket.resolve('debug');
    const factory = fromPacket('debug') as DebugFactory;
    const cached = require.cache[debugPath];
    if (!cached) return { installed: false, reason: 'debug module not in the require cache' };
    cached.exports = quietFactory(factory, ['mqtt-packet:']);
    return { installed: true };
  } catch (err) {
    return { installed: false, reason: (err as Error).message };
  }
}

export const quietDebugResult = quietMqttPacketDebug();
