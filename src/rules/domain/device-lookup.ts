/**
 * A site → device map lookup that remembers the last device asked for. The readings of one message arrive together
 * and share their device, so the second and later readings of a message cost two string compares, not two Map gets.
 */
export function lastDeviceLookup<T>(
  bySite: ReadonlyMap<string, ReadonlyMap<string, T>>,
): (siteId: string, deviceId: string) => T | undefined {
  let lastSite = '';
  let lastDevice = '';
  let last: T | undefined;
  return (siteId, deviceId) => {
    if (deviceId !== lastDevice || siteId !== lastSite) {
      lastSite = siteId;
      lastDevice = deviceId;
      last = bySite.get(siteId)?.get(deviceId);
    }
    return last;
  };
}
