import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators';
import { ClusterService, type ClusterStatus } from './cluster.service';

/** Cluster status (admin, docs/contract.md §7). */
@ApiTags('cluster')
@ApiBearerAuth()
@Controller('api/cluster')
export class ClusterController {
  constructor(private readonly cluster: ClusterService) {}

  @Get()
  @Roles('admin')
  @ApiOperation({
    summary:
      'Cluster nodes (alive, draining, heartbeat), the sites and singleton jobs each owns, since when, with lease epochs; mode "single" without HAZWATCH_NODE_ID',
  })
  async status(): Promise<ClusterStatus> {
    return this.cluster.status();
  }
}
