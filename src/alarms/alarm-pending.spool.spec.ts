import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeAlarm, raisedEntry } from '../../test/factories/alarm.factory';
import { FilePendingSpool } from './alarm-pending.spool';
import type { AlarmWrite } from './alarm.store';
import { GENESIS_HASH } from './domain/journal-chain';

const write = (seq: number, prev = GENESIS_HASH): AlarmWrite => {
  const alarm = makeAlarm({ seq, value: 'ünï\tcode\n"quoted"', message: '氯气' });
  const entry = raisedEntry(alarm, seq, prev);
  return { entry, alarm };
};

describe('FilePendingSpool', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'hazwatch-alarm-spool-'));

  it('should round-trip events exactly, in order', () => {
    const spool = new FilePendingSpool(join(dir(), 'alarms', 'pending.jsonl'));
    const a = write(1);
    const b = write(2, a.entry.hash);
    spool.save([a, b]);
    expect(spool.load()).toEqual([a, b]);
    spool.clear();
    expect(spool.load()).toEqual([]);
    expect(existsSync(spool.location)).toBe(false);
  });

  it('should name the file and line of a corrupt entry', () => {
    const d = dir();
    const spool = new FilePendingSpool(join(d, 'pending.jsonl'));
    spool.save([write(1)]);
    writeFileSync(spool.location, '{"entry": {"seq": 1, "event": "exploded"}, "alarm": {}}\n', { flag: 'a' });
    expect(() => spool.load()).toThrow(/pending\.jsonl line 2/);
  });

  it('should move a file aside with the reason when quarantined', () => {
    const d = dir();
    const spool = new FilePendingSpool(join(d, 'pending.jsonl'));
    spool.save([write(1)]);
    const to = spool.quarantine('does not continue the journal');
    expect(existsSync(spool.location)).toBe(false);
    expect(readdirSync(d).sort()).toEqual([to.split('/').pop(), `${to.split('/').pop()}.why`].sort());
  });
});
