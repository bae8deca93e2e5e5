import { quietFactory } from './quiet-mqtt-debug';

type Logger = ((...args: unknown[]) => void) & { namespace?: string; enabled?: boolean };

function fakeFactory(enabled: Set<string>) {
  const made: string[] = [];
  const factory = Object.assign(
    (ns: string): Logger => {
      made.push(ns);
      return Object.assign((..._args: unknown[]) => undefined, { namespace: ns, enabled: enabled.has(ns) });
    },
    { enabled: (ns: string) => enabled.has(ns), enable: () => 'enable called', made },
  );
  return factory;
}

describe('quietFactory', () => {
  it('should give a disabled mqtt-packet namespace a silent logger without asking the factory', () => {
    const f = fakeFactory(new Set());
    const q = quietFactory(f, ['mqtt-packet:']);
    const log: Logger = q('mqtt-packet:parser');
    expect(f.made).toEqual([]);
    expect(log.length).toBe(0);
    expect(log.enabled).toBe(false);
    expect(log.namespace).toBe('mqtt-packet:parser');
    expect(() => log('parse: %s', 'x')).not.toThrow();
  });

  it('should give an enabled mqtt-packet namespace and every other namespace the real logger', () => {
    const f = fakeFactory(new Set(['mqtt-packet:parser']));
    const q = quietFactory(f, ['mqtt-packet:']);
    expect(q('mqtt-packet:parser').enabled).toBe(true);
    expect(q('express:router').namespace).toBe('express:router');
    expect(f.made).toEqual(['mqtt-packet:parser', 'express:router']);
  });

  it("should keep the factory's own properties reachable through the wrapper", () => {
    const f = fakeFactory(new Set());
    const q = quietFactory(f, ['mqtt-packet:']);
    expect(q.enable()).toBe('enable called');
    expect(q.enabled('x')).toBe(false);
  });
});
