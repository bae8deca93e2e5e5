import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric hazwatch exports, defined once (names: hazwatch_<subsystem>_<name>_<unit>).
 * Labels stay bounded: result, reason, priority, outcome — never device ids; site ids only on the per-site freshness
 * gauge (sites are few and configured, docs/plant-model.md).
 */
export class HazwatchMetrics {
  readonly registry = new Registry();

  // ingest
  /**
   * Hot-path tallies (once per message at 50k msg/s): plain increments, moved into their counters when the registry is
   * read (prom-client calls `collect` before every read), so a scrape always sees every message counted.
   */
  readonly ingestTally = { accepted: 0, rejected: 0, readings: 0 };
  readonly ingestMessages: Counter<'result'> = new Counter({
    name: 'hazwatch_ingest_messages_total',
    help: 'MQTT messages by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
    collect: () => this.flushIngestTally(),
  });
  readonly ingestRejected = new Counter({
    name: 'hazwatch_ingest_rejected_total',
    help: 'Rejected messages or values by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly ingestReadings: Counter = new Counter({
    name: 'hazwatch_ingest_readings_total',
    help: 'Valid channel readings accepted',
    registers: [this.registry],
    collect: () => this.flushIngestTally(),
  });
  readonly ingestCommitLag = new Histogram({
    name: 'hazwatch_ingest_commit_lag_seconds',
    help: 'Time from message arrival to database commit (one observation per message; spool replays: per row)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly ingestDeviceState = new Counter({
    name: 'hazwatch_ingest_device_state_changes_total',
    help: 'Device online/offline transitions',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly ingestYields = new Counter({
    name: 'hazwatch_ingest_turn_yields_total',
    help: 'Times MQTT intake paused its socket for one event-loop turn to let other sockets (the writer) run',
    registers: [this.registry],
  });
  readonly ingestPaused = new Gauge({
    name: 'hazwatch_ingest_paused',
    help: '1 while MQTT intake is paused by writer backpressure',
    registers: [this.registry],
  });
  /** Read at scrape time from `sources` (set by ingest and the writer; docs/adr/0008-ack-after-commit.md). */
  readonly sources = { unacked: (): number => 0, lagSeconds: (): number => 0 };
  readonly ingestUnacked: Gauge = new Gauge({
    name: 'hazwatch_ingest_unacked_messages',
    help: 'QoS 1 messages received whose PUBACK waits for their readings to be committed or spooled',
    registers: [this.registry],
    collect: (): void => this.ingestUnacked.set(this.sources.unacked()),
  });
  readonly storageLag: Gauge = new Gauge({
    name: 'hazwatch_storage_lag_seconds',
    help: 'Age of the oldest reading not yet committed (memory or spool); 0 when caught up',
    registers: [this.registry],
    collect: (): void => this.storageLag.set(this.sources.lagSeconds()),
  });
  readonly mqttConnected = new Gauge({
    name: 'hazwatch_ingest_mqtt_connected',
    help: '1 while connected to the MQTT broker',
    registers: [this.registry],
  });
  readonly deadLetterWriteErrors = new Counter({
    name: 'hazwatch_ingest_deadletter_write_errors_total',
    help: 'Dead-letter rows that could not be stored',
    registers: [this.registry],
  });
  /**
   * Device clock and sequence totals, kept by ingest's per-device trackers (running totals, never reset; the hot path
   * only increments numbers) and copied into their metrics at scrape time. See docs/ingest-time-and-sequence.md.
   */
  readonly ingestLinkTotals = { seqGaps: 0, seqMissing: 0, seqRestarts: 0, clockRetimed: 0, clockFaulty: 0 };
  readonly ingestSeqGaps: Counter = this.totalCounter(
    'hazwatch_ingest_seq_gaps_total',
    'Forward jumps of a device message seq by more than one (messages lost upstream of hazwatch)',
    'seqGaps',
  );
  readonly ingestSeqMissing: Counter = this.totalCounter(
    'hazwatch_ingest_seq_missing_total',
    'Messages missing in seq gaps (sum of the jump sizes minus one)',
    'seqMissing',
  );
  readonly ingestSeqRestarts: Counter = this.totalCounter(
    'hazwatch_ingest_seq_restarts_total',
    'Big backward seq jumps read as a device restart (not counted as gaps)',
    'seqRestarts',
  );
  readonly ingestClockRetimed: Counter = this.totalCounter(
    'hazwatch_ingest_clock_retimed_total',
    'Messages stored and evaluated at arrival time because the device clock was ahead beyond INGEST_FUTURE_TOLERANCE_S or found behind',
    'clockRetimed',
  );
  readonly ingestClockFaulty: Gauge = new Gauge({
    name: 'hazwatch_ingest_clock_faulty_devices',
    help: 'Devices whose clock is ahead or behind right now (clock_fault)',
    registers: [this.registry],
    collect: () => this.ingestClockFaulty.set(this.ingestLinkTotals.clockFaulty),
  });

  // storage
  readonly rowsWritten = new Counter({
    name: 'hazwatch_storage_rows_written_total',
    help: 'Telemetry rows committed',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'hazwatch_storage_queue_depth',
    help: 'Readings waiting in memory for the writer',
    registers: [this.registry],
  });
  readonly spoolBytes = new Gauge({
    name: 'hazwatch_storage_spool_bytes',
    help: 'Bytes of readings spooled to DATA_DIR awaiting the database',
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'hazwatch_storage_batch_size_rows',
    help: 'Rows per COPY batch',
    buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000],
    registers: [this.registry],
  });
  readonly batchDuration = new Histogram({
    name: 'hazwatch_storage_batch_duration_seconds',
    help: 'Time to write one batch',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly writeErrors = new Counter({
    name: 'hazwatch_storage_write_errors_total',
    help: 'Failed batch writes (retried; nothing dropped)',
    registers: [this.registry],
  });
  readonly rowsRejected = new Counter({
    name: 'hazwatch_storage_rows_rejected_total',
    help: 'Telemetry rows the database refused as data (isolated, kept in the dead letters)',
    registers: [this.registry],
  });
  readonly dbUp = new Gauge({
    name: 'hazwatch_storage_database_up',
    help: '1 while the database answers',
    registers: [this.registry],
  });
  readonly duplicateRows = new Counter({
    name: 'hazwatch_storage_duplicate_rows_total',
    help: 'Telemetry rows not written again because their reading was already stored (redelivery, spool replay); docs/adr/0014-idempotent-telemetry.md',
    registers: [this.registry],
  });
  readonly conflictingRows = new Counter({
    name: 'hazwatch_storage_conflicting_rows_total',
    help: 'Of the duplicate rows, those whose value differed from the stored one (first stored wins; kept in telemetry_conflict)',
    registers: [this.registry],
  });
  // broker (BrokerMonitor: loss at the MQTT broker, outside the server)
  readonly brokerDropped = new Counter({
    name: 'hazwatch_broker_dropped_messages_total',
    help: 'Messages the external MQTT broker dropped, as seen by this server: the increases of Mosquitto $SYS/broker/publish/messages/dropped (each raises the critical ext:broker-loss alarm)',
    registers: [this.registry],
  });
  readonly brokerReportedDropped = new Gauge({
    name: 'hazwatch_broker_reported_dropped_messages',
    help: "The broker's own drop counter as last read (since the broker started; goes down when it restarts)",
    registers: [this.registry],
  });
  readonly brokerMonitorUp = new Gauge({
    name: 'hazwatch_broker_monitor_connected',
    help: '1 while the broker monitor is connected and reading the drop counter',
    registers: [this.registry],
  });
  // TimescaleDB jobs (docs/adr/0017-timescale-path.md): read from timescaledb_information.job_stats every minute
  readonly timescaleJobFailures = new Gauge({
    name: 'hazwatch_timescale_job_failures',
    help: 'Failed runs of a TimescaleDB job as counted by the database (job_stats.total_failures), by job <proc_name>:<table>',
    labelNames: ['timescale_job'] as const,
    registers: [this.registry],
  });
  readonly timescaleJobLastRunFailed = new Gauge({
    name: 'hazwatch_timescale_job_last_run_failed',
    help: "1 while a TimescaleDB job's last run failed (job_stats.last_run_status), by job",
    labelNames: ['timescale_job'] as const,
    registers: [this.registry],
  });
  readonly timescaleJobOverdue = new Gauge({
    name: 'hazwatch_timescale_job_overdue',
    help: '1 while a scheduled TimescaleDB job has not started long after its next start (no free background worker), by job',
    labelNames: ['timescale_job'] as const,
    registers: [this.registry],
  });
  readonly rollupRefreshes = new Counter({
    name: 'hazwatch_storage_rollup_refreshes_total',
    help: 'Refreshes of telemetry_1m for late telemetry (older than its refresh policy window), by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  /** Per site, when its last reading reached the writer (epoch ms); set on the hot path as a plain Map write. */
  readonly siteLastReadingMs = new Map<string, number>();
  readonly siteLastReading: Gauge<'site'> = new Gauge({
    name: 'hazwatch_site_last_reading_timestamp_seconds',
    help: 'Unix time the last valid reading of a site was received (sites seen since start); alert on time() minus this',
    labelNames: ['site'] as const,
    registers: [this.registry],
    collect: (): void => {
      for (const [site, ms] of this.siteLastReadingMs) this.siteLastReading.set({ site }, ms / 1000);
    },
  });
  // journal verification (GET/POST /api/journal/verify): the last result
  readonly journalVerifyOk = new Gauge({
    name: 'hazwatch_journal_verify_ok',
    help: '1 when the last journal verification (chain, and anchors where used) passed, 0 when it found a break or a divergence',
    registers: [this.registry],
  });
  readonly journalVerifyTime = new Gauge({
    name: 'hazwatch_journal_verify_timestamp_seconds',
    help: 'Unix time of the last journal verification',
    registers: [this.registry],
  });
  readonly dbProbeFailures = new Counter({
    name: 'hazwatch_storage_database_probe_failures_total',
    help: 'Liveness probes (SELECT 1) that got no answer in time or failed',
    registers: [this.registry],
  });

  // rules
  readonly ruleConditions = new Counter({
    name: 'hazwatch_rules_condition_changes_total',
    help: 'Condition changes emitted by the rule engine',
    labelNames: ['active', 'priority'] as const,
    registers: [this.registry],
  });
  readonly ruleErrors = new Counter({
    name: 'hazwatch_rules_errors_total',
    help: 'Rule evaluation failures (isolated)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly ruleReloads = new Counter({
    name: 'hazwatch_rules_reloads_total',
    help: 'Rule reloads by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly ruleLateReadings = new Counter({
    name: 'hazwatch_rules_late_readings_total',
    help: 'Readings later than the lateness tolerance, not evaluated by rules (still stored)',
    registers: [this.registry],
  });
  readonly ruleConditionLatency = new Histogram({
    name: 'hazwatch_rules_condition_latency_seconds',
    help: 'Reading received to condition emitted, for conditions raised or cleared by a reading',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  // alarms
  readonly alarmsActive = new Gauge({
    name: 'hazwatch_alarms_active',
    help: 'Active alarms by priority',
    labelNames: ['priority'] as const,
    registers: [this.registry],
  });
  readonly alarmEvents = new Counter({
    name: 'hazwatch_alarm_events_total',
    help: 'Alarm journal events',
    registers: [this.registry],
  });
  readonly alarmPendingWrites = new Gauge({
    name: 'hazwatch_alarms_pending_writes',
    help: 'Alarm events held in memory while the database is unavailable',
    registers: [this.registry],
  });
  /** Cluster node: alarm events of a site it no longer owns, refused by the fence (docs/adr/0025-cluster-alarm-state.md). */
  readonly clusterAlarmEventsRefused: Counter<'reason'> = new Counter({
    name: 'hazwatch_cluster_alarm_events_refused_total',
    help: 'Alarm events not journalled because this node no longer owned their site (never announced; the new owner re-evaluates)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly alarmWalErrors = new Counter({
    name: 'hazwatch_alarms_wal_errors_total',
    help: 'Alarm events that could not be appended to the write-ahead log (announced anyway)',
    registers: [this.registry],
  });

  // realtime
  readonly wsClients = new Gauge({
    name: 'hazwatch_ws_clients',
    help: 'Connected WebSocket clients',
    registers: [this.registry],
  });
  readonly wsDisconnects = new Counter({
    name: 'hazwatch_ws_disconnects_total',
    help: 'WebSocket clients disconnected by the server',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  // notifications
  readonly callouts = new Counter({
    name: 'hazwatch_callouts_total',
    help: 'Call attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly calloutSetup = new Histogram({
    name: 'hazwatch_callouts_setup_seconds',
    help: 'Call placed to answered (or to the final response when never answered)',
    labelNames: ['answered'] as const,
    buckets: [0.1, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120],
    registers: [this.registry],
  });
  readonly calloutAck = new Histogram({
    name: 'hazwatch_callouts_ack_seconds',
    help: 'Alarm event that started a call-out to the acknowledging key press',
    buckets: [5, 10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600],
    registers: [this.registry],
  });
  readonly calloutsActive = new Gauge({
    name: 'hazwatch_callouts_active',
    help: 'Call-outs still escalating',
    registers: [this.registry],
  });
  readonly dutyChecks = new Counter({
    name: 'hazwatch_callouts_duty_checks_total',
    help: 'Completed duty checks by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  // feeds (regulator CAP/Atom feed, webhooks, disposal closed loop)
  readonly feedMessages = new Counter({
    name: 'hazwatch_feeds_messages_total',
    help: 'CAP messages published to the regulator feed',
    labelNames: ['msg_type'] as const,
    registers: [this.registry],
  });
  readonly feedProjectionErrors = new Counter({
    name: 'hazwatch_feeds_projection_errors_total',
    help: 'Failed attempts to publish an alarm event to the feed (retried in order)',
    registers: [this.registry],
  });
  readonly webhookAttempts = new Counter({
    name: 'hazwatch_feeds_webhook_attempts_total',
    help: 'Webhook delivery attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly webhookPending = new Gauge({
    name: 'hazwatch_feeds_webhook_pending',
    help: 'Webhook deliveries not yet acknowledged by their receiver',
    registers: [this.registry],
  });
  readonly webhookLatency = new Histogram({
    name: 'hazwatch_feeds_webhook_delivery_seconds',
    help: 'Alarm event recorded to webhook delivered (2xx)',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
    registers: [this.registry],
  });
  readonly disposalsOverdue = new Gauge({
    name: 'hazwatch_feeds_disposals_overdue',
    help: 'Reportable alarms whose disposal record is overdue',
    registers: [this.registry],
  });

  // streams
  readonly streamErrors = new Counter({
    name: 'hazwatch_streams_subscriber_errors_total',
    help: 'Errors thrown by stream subscribers, isolated by the RxJS safety net',
    registers: [this.registry],
  });

  // auth
  readonly authFailures = new Counter({
    name: 'hazwatch_auth_failures_total',
    help: 'Rejected authentication attempts',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  // MQTT security (docs/adr/0009-mqtt-authentication.md)
  readonly mqttDenied = new Counter({
    name: 'hazwatch_ingest_mqtt_denied_total',
    help: 'MQTT connections, publishes and subscriptions the embedded broker refused',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly mqttOversize = new Counter({
    name: 'hazwatch_ingest_mqtt_oversize_packets_total',
    help: 'MQTT packets over MQTT_MAX_PACKET_BYTES (connection closed, packet not read)',
    registers: [this.registry],
  });
  readonly mqttSessionTakeover = new Gauge({
    name: 'hazwatch_ingest_mqtt_session_takeover',
    help: '1 while another client is suspected of using the server MQTT client id',
    registers: [this.registry],
  });

  // Sparkplug B ingest (docs/sparkplug.md)
  readonly sparkplugRebirths = new Counter({
    name: 'hazwatch_ingest_sparkplug_rebirth_requests_total',
    help: 'Rebirth requests (NCMD Node Control/Rebirth) sent to Sparkplug edge nodes, by cause',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  });
  readonly sparkplugSeqGaps = new Counter({
    name: 'hazwatch_ingest_sparkplug_seq_gaps_total',
    help: 'Sparkplug messages whose seq was not the next of their edge node (or that came before its NBIRTH)',
    registers: [this.registry],
  });
  readonly sparkplugHostOnline = new Gauge({
    name: 'hazwatch_ingest_sparkplug_host_online',
    help: 'Sparkplug primary host STATE: 1 while our retained online STATE is acknowledged by the broker',
    registers: [this.registry],
  });
  readonly sparkplugUnmapped = new Counter({
    name: 'hazwatch_ingest_sparkplug_unmapped_metrics_total',
    help: 'Sparkplug metrics of mapped nodes and devices that no channel is mapped to (not stored)',
    registers: [this.registry],
  });
  readonly mqttSessionTakeovers = new Counter({
    name: 'hazwatch_ingest_mqtt_session_takeovers_total',
    help: 'Suspected takeovers of the server MQTT session',
    registers: [this.registry],
  });

  // cluster (docs/adr/0016-cluster.md): read at scrape time from the lease manager; all 0 on a single node
  readonly clusterSources = {
    nodesAlive: (): number => 0,
    sitesOwned: (): number => 0,
    jobsOwned: (): number => 0,
    renewFailures: (): number => 0,
    selfFences: (): number => 0,
    mqttSessions: (): number => 0,
    wsJournalSeq: (): number => 0,
  };
  readonly clusterNodesAlive: Gauge = new Gauge({
    name: 'hazwatch_cluster_nodes_alive',
    help: 'Cluster nodes alive (heartbeat not expired, not draining) as of the last lease round',
    registers: [this.registry],
    collect: (): void => this.clusterNodesAlive.set(this.clusterSources.nodesAlive()),
  });
  readonly clusterSitesOwned: Gauge = new Gauge({
    name: 'hazwatch_cluster_sites_owned',
    help: 'Sites whose lease this node holds now',
    registers: [this.registry],
    collect: (): void => this.clusterSitesOwned.set(this.clusterSources.sitesOwned()),
  });
  readonly clusterJobsOwned: Gauge = new Gauge({
    name: 'hazwatch_cluster_jobs_owned',
    help: 'Singleton jobs whose lease this node holds now',
    registers: [this.registry],
    collect: (): void => this.clusterJobsOwned.set(this.clusterSources.jobsOwned()),
  });
  readonly clusterRenewFailures: Gauge = new Gauge({
    name: 'hazwatch_cluster_lease_renew_failures',
    help: 'Lease rounds (heartbeat, renew, acquire) that failed since start',
    registers: [this.registry],
    collect: (): void => this.clusterRenewFailures.set(this.clusterSources.renewFailures()),
  });
  readonly clusterSelfFences: Gauge = new Gauge({
    name: 'hazwatch_cluster_self_fence_events',
    help: 'Leases this node gave up since start because it could not renew them before expiry minus the safety margin',
    registers: [this.registry],
    collect: (): void => this.clusterSelfFences.set(this.clusterSources.selfFences()),
  });
  readonly clusterMqttSessions: Gauge = new Gauge({
    name: 'hazwatch_cluster_mqtt_sessions',
    help: 'Per-site persistent MQTT sessions this node holds open (one per owned site)',
    registers: [this.registry],
    collect: (): void => this.clusterMqttSessions.set(this.clusterSources.mqttSessions()),
  });
  readonly clusterWsJournalSeq: Gauge = new Gauge({
    name: 'hazwatch_cluster_ws_journal_seq',
    help: 'Journal seq up to which this node has pushed alarm events to its /ws clients (compare across nodes for lag)',
    registers: [this.registry],
    collect: (): void => this.clusterWsJournalSeq.set(this.clusterSources.wsJournalSeq()),
  });

  /** Moves the hot-path tallies into their counters (idempotent; also called by `collect`). */
  flushIngestTally(): void {
    const t = this.ingestTally;
    if (t.accepted > 0) this.ingestMessages.inc({ result: 'accepted' }, t.accepted);
    if (t.rejected > 0) this.ingestMessages.inc({ result: 'rejected' }, t.rejected);
    if (t.readings > 0) this.ingestReadings.inc(t.readings);
    t.accepted = 0;
    t.rejected = 0;
    t.readings = 0;
  }

  /** A counter that mirrors one of `ingestLinkTotals` at each read. */
  private totalCounter(name: string, help: string, key: keyof HazwatchMetrics['ingestLinkTotals']): Counter {
    const c: Counter = new Counter({
      name,
      help,
      registers: [this.registry],
      collect: () => {
        c.reset();
        c.inc(this.ingestLinkTotals[key]);
      },
    });
    return c;
  }

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'hazwatch_process_' });
  }
}
