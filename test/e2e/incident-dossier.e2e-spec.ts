/**
 * The incident dossier on the real server (`node dist/src/main.js`: embedded PostgreSQL, in-process broker, real
 * rules, alarms, call-outs with the demo fake voice provider): a chlorine reading over the level-2 set point raises
 * an alarm and a call-out; the dossier of bohai-chem then carries the journal rows, the call-out with its attempts,
 * the on-duty roster, the detector's telemetry, the disposal record and the hidden danger converted into a finding, as JSON, printable HTML and PDF, for the operator and the Binhai
 * regulator, and not for a site outside the regulator's jurisdiction.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

type Dossier = {
  site: { id: string; name: string };
  journal: Array<{
    seq: number;
    event: string;
    alarmId: string;
    deviceId?: string;
    condition: string;
    hash: string;
  }>;
  callouts: Array<{ alarmId: string; attempts: Array<{ calleeRole: string; outcome?: string }> }>;
  onDuty: Array<{ role: string; name: string }>;
  disposals: Array<{
    alarmId: string;
    obligation?: { status: string };
    records: Array<{ id: string; cause: string; status: string }>;
  }>;
  findings: Array<{
    id: string;
    kind: string;
    grade?: string;
    hiddenDangerId?: string;
    findingId?: string;
    history: Array<{ to?: string; event?: string }>;
  }>;
  telemetry: Array<{
    deviceId: string;
    channel: string;
    points: Array<{ max: number }>;
    limits: Array<{ value: number }>;
  }>;
};

describe('incident dossier end to end (real server)', () => {
  let server: ServerProcess;
  let mqtt: MqttClient;
  let tokens: Record<string, string>;
  const start = Date.now() - 60_000;

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false' } });
    tokens = server.tokens();
    mqtt = await connectAsync(server.mqttUrl() as string, {
      ...server.mqttAuth(),
      clientId: 'incident-e2e',
      clean: true,
    });
  });
  afterAll(async () => {
    await mqtt?.endAsync();
    await server?.stop();
  });

  const get = (path: string, token: string | undefined): Promise<Response> =>
    fetch(`${server.url}${path}`, {
      headers: token !== undefined ? { authorization: `Bearer ${token}` } : {},
    });
  const query = (format?: string): string =>
    `?from=${new Date(start).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}${format ? `&format=${format}` : ''}`;

  it('should bundle the alarm, its call-out and the detector telemetry, and export HTML and PDF', async () => {
    const publish = (conc: number): Promise<unknown> =>
      mqtt.publishAsync(
        telemetryTopic('bohai-chem', 'cl-gd-1'),
        JSON.stringify({ ts: Date.now(), values: { conc, fault: false } }),
        { qos: 1 },
      );
    await publish(0.2);
    let last = '';
    const dossier = await pollUntil(
      async () => {
        await publish(3);
        const res = await get(`/api/sites/bohai-chem/incident${query()}`, tokens.regulator);
        if (res.status !== 200) throw new Error(`dossier answered ${res.status}: ${await res.text()}`);
        const d = (await res.json()) as Dossier;
        const raised = d.journal.find(
          (e) => e.event === 'raised' && e.deviceId === 'cl-gd-1' && e.condition === 'gas_l2',
        );
        // the level-2 alarm's call-out is recorded (high priority may wait its start delay); the 2oo3 vote's
        // critical call-out rings the control room at once
        const called =
          d.callouts.some((c) => c.alarmId === raised?.alarmId) &&
          d.callouts.some((c) => c.attempts.length > 0);
        const charted = d.telemetry.some((s) => s.deviceId === 'cl-gd-1' && s.points.some((p) => p.max >= 3));
        last = `journal ${JSON.stringify(d.journal.filter((e) => e.deviceId === 'cl-gd-1').map((e) => [e.event, e.alarmId, e.condition]))}, callouts ${JSON.stringify(d.callouts.map((c) => [c.alarmId, c.attempts.length]))}, charted ${charted}`;
        return raised && called && charted ? d : undefined;
      },
      {
        timeoutMs: 45_000,
        intervalMs: 500,
        what: 'a dossier with the chlorine alarm, its call-out and the telemetry',
      },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last dossier: ${last}`);
    });
    expect(dossier.site).toMatchObject({ id: 'bohai-chem' });
    const seqs = dossier.journal.map((e) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(dossier.journal.every((e) => /^[0-9a-f]{64}$/.test(e.hash))).toBe(true);
    const alarmId = dossier.journal.find(
      (e) => e.event === 'raised' && e.deviceId === 'cl-gd-1' && e.condition === 'gas_l2',
    )!.alarmId;
    expect(dossier.callouts.map((c) => c.alarmId)).toContain(alarmId);
    expect(dossier.callouts.find((c) => c.attempts.length > 0)?.attempts[0]).toMatchObject({
      calleeRole: 'control_room',
    });
    expect(dossier.onDuty.map((p) => p.role)).toEqual(expect.arrayContaining(['control_room', 'main']));
    const conc = dossier.telemetry.find((s) => s.deviceId === 'cl-gd-1' && s.channel === 'conc')!;
    expect(conc.limits.length).toBeGreaterThan(0);

    // the enterprise files its disposal record and raises a hidden danger that the regulator converts into a finding:
    // all three appear in the dossier
    const send = async (
      path: string,
      token: string | undefined,
      body: unknown,
    ): Promise<Record<string, unknown>> => {
      const r = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token ?? ''}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const b = (await r.json()) as Record<string, unknown>;
      if (r.status !== 201) throw new Error(`${path} answered ${r.status}: ${JSON.stringify(b)}`);
      return b;
    };
    const filed = (await send(`/api/alarms/${alarmId}/disposition`, tokens.operator, {
      cause: '氯气管线法兰垫片老化泄漏',
      actions: '关闭进料阀，更换垫片，现场检测合格',
      closedBy: '王强',
    })) as { disposition: { id: string } };
    const hd = (await send(`/api/alarms/${alarmId}/hidden-dangers`, tokens.operator, {
      title: '液氯管线法兰垫片未按期更换',
    })) as { id: string };
    const fd = (await send(`/api/hidden-dangers/${hd.id}/convert`, tokens.regulator, {
      grade: 'major',
      deadline: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    })) as { id: string };
    const after = (await (
      await get(`/api/sites/bohai-chem/incident${query()}`, tokens.regulator)
    ).json()) as Dossier;
    expect(after.disposals.find((x) => x.alarmId === alarmId)).toMatchObject({
      records: [{ id: filed.disposition.id, cause: '氯气管线法兰垫片老化泄漏', status: 'filed' }],
    });
    expect(after.findings.find((f) => f.id === hd.id)).toMatchObject({
      kind: 'hidden_danger',
      findingId: fd.id,
    });
    expect(after.findings.find((f) => f.id === fd.id)).toMatchObject({
      kind: 'finding',
      grade: 'major',
      hiddenDangerId: hd.id,
    });

    const html = await get(`/api/sites/bohai-chem/incident${query('html')}`, tokens.operator);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const page = await html.text();
    expect(page).toContain(dossier.site.name);
    expect(page).toContain(alarmId);
    expect(page).toContain('原因：氯气管线法兰垫片老化泄漏');
    expect(page).toContain(`由 ${hd.id} 转入`);
    expect(page).toContain('<svg ');

    const pdf = await get(`/api/sites/bohai-chem/incident${query('pdf')}`, tokens.regulator);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    const bytes = Buffer.from(await pdf.arrayBuffer());
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(bytes.toString('latin1')).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansHans-Regular/);
  });

  it('should name the jurisdiction officially in /api/sites (GB/T 2260 code and Chinese names)', async () => {
    const res = await get('/api/sites/bohai-chem', tokens.regulator);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      jurisdiction: 'tianjin/binhai/lingang',
      jurisdictionName: '天津市滨海新区临港经济区',
      adminCode: '120116',
    });
  });

  it('should keep the dossier inside the caller’s jurisdiction', async () => {
    expect((await get(`/api/sites/wuqing-fine/incident${query()}`, tokens.regulator)).status).toBe(404);
    expect((await get(`/api/sites/wuqing-fine/incident${query()}`, tokens.operator)).status).toBe(200);
    expect((await get(`/api/sites/bohai-chem/incident${query()}`, undefined)).status).toBe(401);
  });
});
