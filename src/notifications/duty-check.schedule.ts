import { CronExpressionParser } from 'cron-parser';

/** Next time strictly after `after` (epoch ms) that the cron expression fires in `timeZone`. */
export function nextCronTime(cron: string, timeZone: string, after: number): number {
  return CronExpressionParser.parse(cron, { tz: timeZone, currentDate: new Date(after) })
    .next()
    .getTime();
}
