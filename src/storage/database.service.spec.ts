import { isConnectionError } from './database.service';

describe('isConnectionError', () => {
  it('should treat socket errors and SQLSTATE classes 08, 57P and 53 as the database being unreachable', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'ENOTFOUND',
      '08006',
      '08001',
      '57P01',
      '57P03',
      '53300',
    ]) {
      expect(isConnectionError(Object.assign(new Error('x'), { code }))).toBe(true);
    }
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(
      isConnectionError(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })])),
    ).toBe(true);
  });

  it('should treat SQL errors, auth failures and a missing database as not a connection problem', () => {
    for (const code of ['42601', '42P01', '28P01', '3D000', '23505']) {
      expect(isConnectionError(Object.assign(new Error('x'), { code }))).toBe(false);
    }
    expect(isConnectionError(new Error('migrations/ directory not found above /x'))).toBe(false);
  });
});
