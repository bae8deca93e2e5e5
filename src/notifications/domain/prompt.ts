/** Spoken prompts (Chinese by default). The version is recorded on each attempt: a record says what was heard. */
import { createHash } from 'node:crypto';
import type { Priority } from '../../common/types';

const LEVEL_ZH: Record<Priority, string> = {
  critical: '一级红色',
  high: '二级橙色',
  medium: '三级黄色',
  low: '四级蓝色',
};
const PROMPT_VERSION = 'zh-1';

const version = (text: string): string =>
  `${PROMPT_VERSION}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;

/** Keeps what a speech synthesiser reads well: no control characters, bounded length. */
const clean = (s: string): string =>
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  s.replace(/[\u0000-\u001f]/g, ' ').slice(0, 200);

export function alarmPrompt(input: {
  siteName: string;
  sourceName?: string;
  priority: Priority;
  message: string;
  confirmKey: string;
}): { text: string; version: string } {
  const text = clean(
    `危险化学品重大危险源报警。${input.siteName}${input.sourceName ? `，${input.sourceName}` : ''}，${LEVEL_ZH[input.priority]}报警：${input.message}。确认收到请按${input.confirmKey}键。`,
  );
  return { text, version: version(text) };
}

/** A notice to the enterprise's 主要负责人 about a finding (隐患): recorded, or overdue. */
export function findingPrompt(input: {
  siteName: string;
  kind: 'recorded' | 'overdue';
  grade: string;
  title: string;
  deadline: string;
  confirmKey: string;
}): { text: string; version: string } {
  const what =
    input.kind === 'recorded'
      ? `新登记${input.grade}：${input.title}，整改期限${input.deadline}`
      : `${input.grade}逾期未整改：${input.title}，整改期限${input.deadline}已过`;
  const text = clean(
    `隐患排查治理通知。${input.siteName}主要负责人：${what}。请组织落实整改。确认收到请按${input.confirmKey}键。`,
  );
  return { text, version: version(text) };
}

export function dutyCheckPrompt(input: { siteName: string; confirmKey: string }): {
  text: string;
  version: string;
} {
  const text = clean(`值班值守抽查。${input.siteName}中控室，如您正在值班，请按${input.confirmKey}键确认。`);
  return { text, version: version(text) };
}
