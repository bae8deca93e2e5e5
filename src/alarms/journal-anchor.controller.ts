import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ArrayMaxSize, IsArray } from 'class-validator';
import type { Request } from 'express';
import { Public, Requires } from '../auth/auth.decorators';
import { escapeXml } from '../common/domain/xml.util';
import { formatAnchor, parseAnchor, type JournalAnchor } from './domain/journal-anchor';
import { JournalAnchorService, type AnchoredVerification } from './journal-anchor.service';

export const MAX_SUPPLIED_ANCHORS = 4_000;

export class VerifyWithAnchorsBody {
  /** Anchors as published: objects {seq, hash, at, keyId, signature} or the one-line form of the CAP parameter. */
  @IsArray()
  @ArrayMaxSize(MAX_SUPPLIED_ANCHORS)
  anchors!: unknown[];
}

function toAnchor(v: unknown, i: number): JournalAnchor {
  if (typeof v === 'string') {
    const a = parseAnchor(v);
    if (a) return a;
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (
      typeof o.seq === 'number' &&
      Number.isSafeInteger(o.seq) &&
      o.seq >= 0 &&
      typeof o.hash === 'string' &&
      /^[0-9a-f]{64}$/.test(o.hash) &&
      typeof o.at === 'string' &&
      typeof o.keyId === 'string' &&
      typeof o.signature === 'string'
    )
      return { seq: o.seq, hash: o.hash, at: o.at, keyId: o.keyId, signature: o.signature };
  }
  throw new BadRequestException(
    `anchors[${i}] is not an anchor ({seq, hash, at, keyId, signature} or "seq hash at keyId signature")`,
  );
}

/**
 * Journal anchors (docs/adr/0015-journal-anchors.md): the public key, the published anchors and a verification against
 * anchors the caller holds.
 */
@ApiTags('alarms')
@ApiBearerAuth()
@Controller('api/journal')
export class JournalAnchorController {
  constructor(private readonly anchors: JournalAnchorService) {}

  @Get('anchor-key')
  @Public()
  @ApiOperation({ summary: 'The Ed25519 public key that checks journal anchors (PEM, key id); public' })
  anchorKey(): { algorithm: 'Ed25519'; keyId: string; publicKey: string } {
    return { algorithm: 'Ed25519', keyId: this.anchors.key.keyId, publicKey: this.anchors.key.publicPem };
  }

  @Get('anchors')
  @Requires('plant.read')
  @ApiOperation({ summary: 'Recently published journal anchors (signed chain heads), newest first' })
  @ApiQuery({ name: 'limit', required: false, description: 'default 100, at most 1000' })
  async list(@Query('limit') limitQ?: string): Promise<Array<JournalAnchor & { line: string }>> {
    const limit = limitQ === undefined ? 100 : /^\d{1,4}$/.test(limitQ) ? Number(limitQ) : NaN;
    if (!(limit >= 1 && limit <= 1000))
      throw new BadRequestException('limit must be an integer from 1 to 1000');
    return (await this.anchors.recent(limit)).map((a) => ({ ...a, line: formatAnchor(a) }));
  }

  @Post('verify')
  @HttpCode(200)
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Walks the hash chain and compares it with the anchors you supply (your own copies from the feeds/webhooks); reports the first seq where the journal diverges from them',
  })
  @ApiBody({ type: VerifyWithAnchorsBody })
  @ApiOkResponse({ description: 'chain check plus anchor comparison' })
  verify(@Body() body: VerifyWithAnchorsBody): Promise<AnchoredVerification> {
    return this.anchors.verify(body.anchors.map(toAnchor));
  }
}

/** Anchors as an Atom feed, for regulators' feed readers to archive (every entry carries one signed anchor). */
@ApiTags('feeds')
@ApiBearerAuth()
@Controller('feeds')
export class AnchorsFeedController {
  constructor(private readonly anchors: JournalAnchorService) {}

  @Get('journal-anchors.atom')
  @Requires('plant.read')
  @Header('Content-Type', 'application/atom+xml; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @ApiProduces('application/atom+xml')
  @ApiOperation({ summary: 'Atom feed of signed alarm-journal anchors (chain heads), newest first' })
  async atom(@Req() req: Request): Promise<string> {
    const rows = await this.anchors.recent(200);
    const base = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    const updated = rows[0]?.at ?? new Date(0).toISOString();
    const entries = rows
      .map(
        (a) =>
          '  <entry>\n' +
          `    <id>urn:hazwatch:journal-anchor:${escapeXml(a.keyId)}:${a.seq}:${escapeXml(a.at)}</id>\n` +
          `    <title>journal anchor seq ${a.seq}</title>\n` +
          `    <updated>${escapeXml(a.at)}</updated>\n` +
          `    <summary>${escapeXml(formatAnchor(a))}</summary>\n` +
          '  </entry>\n',
      )
      .join('');
    return (
      '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n' +
      `  <id>urn:hazwatch:feeds:journal-anchors:${escapeXml(this.anchors.key.keyId)}</id>\n` +
      '  <title>hazwatch alarm journal anchors</title>\n' +
      `  <updated>${escapeXml(updated)}</updated>\n` +
      '  <author><name>hazwatch</name></author>\n' +
      `  <link rel="self" href="${escapeXml(base)}/feeds/journal-anchors.atom"/>\n` +
      `  <link rel="related" href="${escapeXml(base)}/api/journal/anchor-key"/>\n` +
      entries +
      '</feed>\n'
    );
  }
}
