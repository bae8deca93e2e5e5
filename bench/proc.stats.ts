/** CPU and memory of a process (and of the machine) from /proc: parsing is pure, reading is one small function each. */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export type ProcCpu = { pid: number; ppid: number; utime: number; stime: number };
export type MachineCpu = { busy: number; total: number };

/** /proc/<pid>/stat: fields after the command name (which may hold spaces and parentheses). */
export function parseProcStat(text: string): ProcCpu {
  const close = text.lastIndexOf(')');
  const pid = Number(text.slice(0, text.indexOf('(')).trim());
  const f = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // f[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
  const ppid = Number(f[1]);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (![pid, ppid, utime, stime].every(Number.isFinite))
    throw new Error(`unparseable /proc stat line: ${text.slice(0, 120)}`);
  return { pid, ppid, utime, stime };
}

/** VmRSS from /proc/<pid>/status, in bytes. */
export function parseVmRss(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error('no VmRSS line in /proc status');
  return Number(m[1]) * 1024;
}

/** The aggregate `cpu` line of /proc/stat: busy = total − idle − iowait (in clock ticks). */
export function parseMachineStat(text: string): MachineCpu {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no cpu line in /proc/stat');
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

let clkTck: number | undefined;
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export function readProcCpu(pid: number): ProcCpu {
  return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

export function readRss(pid: number): number {
  return parseVmRss(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

export function readMachineCpu(): MachineCpu {
  return parseMachineStat(readFileSync('/proc/stat', 'utf8'));
}

export function cpuCount(): number {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l)).length;
}

/** CPU ticks of pid and all its descendants (e.g. the server and its embedded PostgreSQL), and their RSS. */
export function readTree(rootPid: number): { ticks: number; rss: number; pids: number[] } {
  const all: ProcCpu[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      all.push(readProcCpu(Number(name)));
    } catch {
      // the process ended while we looked
    }
  }
  const children = new Map<number, number[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const byPid = new Map(all.map((p) => [p.pid, p]));
  const pids: number[] = [];
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop()!;
    if (!byPid.has(pid)) continue;
    pids.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  let ticks = 0;
  let rss = 0;
  for (const pid of pids) {
    const p = byPid.get(pid)!;
    ticks += p.utime + p.stime;
    try {
      rss += readRss(pid);
    } catch {
      // ended
    }
  }
  return { ticks, rss, pids };
}
