import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { ClusterController } from './cluster.controller';
import { ClusterService } from './cluster.service';
import { JobGates } from '../common/job-gate';
import { SiteOwnership } from './site-ownership';

/**
 * Cluster groundwork (docs/adr/0016-cluster.md): node heartbeats and site/job leases in PostgreSQL, the singleton job
 * gates, the SiteOwnership port, GET /api/cluster. Global so that the storage, feeds and notifications jobs can consult `JobGates`.
 */
@Global()
@Module({
  controllers: [ClusterController],
  providers: [
    {
      provide: JobGates,
      useFactory: (config: AppConfig) => new JobGates(Boolean(config.env.HAZWATCH_NODE_ID)),
      inject: [APP_CONFIG],
    },
    ClusterService,
    // the port ingest, rules, alarms and call-outs consult (docs/adr/0016-cluster.md)
    { provide: SiteOwnership, useFactory: (c: ClusterService) => c.siteOwnership, inject: [ClusterService] },
  ],
  exports: [JobGates, ClusterService, SiteOwnership],
})
export class ClusterModule {}
