import { Global, Module } from '@nestjs/common';
import { AnchorsFeedController, JournalAnchorController } from './journal-anchor.controller';
import { JournalAnchorService } from './journal-anchor.service';

/** Journal anchors: signing key, periodic publication, feed and verification (docs/adr/0015-journal-anchors.md). */
@Global()
@Module({
  controllers: [JournalAnchorController, AnchorsFeedController],
  providers: [JournalAnchorService],
  exports: [JournalAnchorService],
})
export class JournalAnchorModule {}
