import { BadRequestException } from '@nestjs/common';
import { checkRange, parseBucket, parseTime } from './time-range';

describe('time-range', () => {
  it('should parse ISO and epoch ms and fall back when absent', () => {
    expect(parseTime('2026-11-24T10:00:00Z', 'from', 0)).toBe(Date.parse('2026-11-24T10:00:00Z'));
    expect(parseTime('1764000000000', 'from', 0)).toBe(1764000000000);
    expect(parseTime(undefined, 'from', 5)).toBe(5);
  });
  it('should name the parameter when a time is bad', () => {
    expect(() => parseTime('soon', 'to', 0)).toThrow(
      new BadRequestException('to must be an ISO-8601 time or epoch milliseconds'),
    );
  });
  it('should parse bucket sizes', () => {
    expect(parseBucket('1m')).toBe(60);
    expect(parseBucket('90')).toBe(90);
    expect(parseBucket('2h')).toBe(7200);
    expect(parseBucket('raw')).toBeUndefined();
    expect(() => parseBucket('1w')).toThrow(BadRequestException);
    expect(() => parseBucket('0s')).toThrow(BadRequestException);
  });
  it('should refuse an inverted range', () => {
    expect(() => checkRange(10, 5)).toThrow('from must be before to');
  });
});
