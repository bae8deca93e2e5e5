/**
 * Who receives what. `@nestjs/platform-ws` has no rooms, so clients are indexed here:
 *  - by site: every authenticated client that may see the site (hazard and status pushes);
 *  - by site for alarm subscribers;
 *  - by site and device for telemetry subscribers.
 * Lookups on the hot path (one per reading) are two Map gets, no string building.
 * Generic in the client handle so it is testable without sockets.
 */
export class SubscriptionIndex<C> {
  private readonly sitesOf = new Map<C, ReadonlySet<string>>();
  private readonly bySite = new Map<string, Set<C>>();
  private readonly alarmsBySite = new Map<string, Set<C>>();
  private readonly byDevice = new Map<string, Map<string, Set<C>>>();
  private readonly devicesOf = new Map<C, Set<string>>();
  private readonly alarmClients = new Set<C>();

  /** Registers an authenticated client with the sites it may see. */
  addClient(client: C, visibleSites: Iterable<string>): void {
    this.removeClient(client);
    const sites = new Set(visibleSites);
    this.sitesOf.set(client, sites);
    for (const s of sites) addTo(this.bySite, s, client);
  }

  /** Removes the client from every index. */
  removeClient(client: C): void {
    const sites = this.sitesOf.get(client);
    if (sites === undefined) return;
    this.setAlarms(client, false);
    this.setTelemetry(client, []);
    for (const s of sites) removeFrom(this.bySite, s, client);
    this.sitesOf.delete(client);
    this.devicesOf.delete(client);
  }

  has(client: C): boolean {
    return this.sitesOf.has(client);
  }

  canSee(client: C, siteId: string): boolean {
    return this.sitesOf.get(client)?.has(siteId) ?? false;
  }

  /** Turns the alarm subscription on or off for every site the client may see. */
  setAlarms(client: C, on: boolean): void {
    const sites = this.sitesOf.get(client);
    if (sites === undefined) throw new Error('setAlarms: client is not registered');
    if (on === this.alarmClients.has(client)) return;
    if (on) this.alarmClients.add(client);
    else this.alarmClients.delete(client);
    for (const s of sites) (on ? addTo : removeFrom)(this.alarmsBySite, s, client);
  }

  hasAlarms(client: C): boolean {
    return this.alarmClients.has(client);
  }

  /**
   * Replaces the client's telemetry subscription. Entries must already be validated and scoped
   * (see planTelemetrySubscription); this method indexes whatever it is given that lies in a visible site.
   */
  setTelemetry(client: C, devices: ReadonlyArray<{ siteId: string; deviceId: string }>): void {
    const sites = this.sitesOf.get(client);
    if (sites === undefined) throw new Error('setTelemetry: client is not registered');
    const old = this.devicesOf.get(client) ?? new Set<string>();
    const next = new Set<string>();
    for (const d of devices) {
      if (!sites.has(d.siteId))
        throw new Error(`setTelemetry: site ${d.siteId} is not visible to this client`);
      next.add(`${d.siteId}/${d.deviceId}`);
    }
    for (const key of old) if (!next.has(key)) this.unindexDevice(key, client);
    for (const key of next) if (!old.has(key)) this.indexDevice(key, client);
    this.devicesOf.set(client, next);
  }

  telemetryOf(client: C): readonly string[] {
    return [...(this.devicesOf.get(client) ?? [])];
  }

  /** Clients that may see the site (hazard pushes). */
  siteClients(siteId: string): ReadonlySet<C> | undefined {
    return this.bySite.get(siteId);
  }

  /** Alarm subscribers that may see the site. */
  alarmSubscribers(siteId: string): ReadonlySet<C> | undefined {
    return this.alarmsBySite.get(siteId);
  }

  /** Telemetry subscribers of one device (hot path). */
  deviceSubscribers(siteId: string, deviceId: string): ReadonlySet<C> | undefined {
    return this.byDevice.get(siteId)?.get(deviceId);
  }

  clients(): IterableIterator<C> {
    return this.sitesOf.keys();
  }

  get size(): number {
    return this.sitesOf.size;
  }

  /** Number of (client, device) telemetry subscriptions; for tests and diagnostics. */
  get telemetrySubscriptionCount(): number {
    let n = 0;
    for (const s of this.devicesOf.values()) n += s.size;
    return n;
  }

  private indexDevice(key: string, client: C): void {
    const [siteId, deviceId] = splitKey(key);
    let devices = this.byDevice.get(siteId);
    if (devices === undefined) this.byDevice.set(siteId, (devices = new Map<string, Set<C>>()));
    addTo(devices, deviceId, client);
  }

  private unindexDevice(key: string, client: C): void {
    const [siteId, deviceId] = splitKey(key);
    const devices = this.byDevice.get(siteId);
    if (devices === undefined) return;
    removeFrom(devices, deviceId, client);
    if (devices.size === 0) this.byDevice.delete(siteId);
  }
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

function addTo<C>(map: Map<string, Set<C>>, key: string, client: C): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(client);
}

function removeFrom<C>(map: Map<string, Set<C>>, key: string, client: C): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(client);
  if (set.size === 0) map.delete(key);
}
