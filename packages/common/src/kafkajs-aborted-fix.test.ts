import { describe, expect, it } from 'vitest';
import { hideAbortedRecords, type FetchedMessage } from './kafkajs-aborted-fix.js';

const data = (offset: number, pid: string): FetchedMessage => ({ offset: String(offset), key: Buffer.from('k'), batchContext: { producerId: pid, inTransaction: true } });
const abort = (offset: number, pid: string): FetchedMessage => ({ offset: String(offset), key: Buffer.from([0, 0, 0, 0]), isControlRecord: true, batchContext: { producerId: pid, inTransaction: true } });
const commit = (offset: number, pid: string): FetchedMessage => ({ offset: String(offset), key: Buffer.from([0, 0, 0, 1]), isControlRecord: true, batchContext: { producerId: pid, inTransaction: true } });
const visible = (ms: FetchedMessage[]) => ms.filter((m) => !m.isControlRecord).map((m) => `${m.batchContext!.producerId}@${m.offset}`);

describe('aborted transaction filter (kafkajs fix)', () => {
  it('hides interleaved aborted transactions listed in abort-marker order (the kafkajs bug)', () => {
    // P1 writes 0-1, P2 writes 2-3, P3 commits 4; P2 is aborted first (marker 5), P1 later (marker 6).
    const ms = [data(0, 'P1'), data(1, 'P1'), data(2, 'P2'), data(3, 'P2'), data(4, 'P3'), commit(5, 'P3'), abort(6, 'P2'), abort(7, 'P1')];
    const hidden = hideAbortedRecords(ms, [
      { producerId: 'P2', firstOffset: '2' },
      { producerId: 'P1', firstOffset: '0' },
    ]);
    expect(hidden).toBe(4);
    expect(visible(ms)).toEqual(['P3@4']);
  });

  it('activates several aborted transactions that started before the fetch position', () => {
    const ms = [data(10, 'P2'), data(11, 'P1'), abort(12, 'P1'), abort(13, 'P2'), data(14, 'P1')];
    hideAbortedRecords(ms, [
      { producerId: 'P1', firstOffset: '3' },
      { producerId: 'P2', firstOffset: '5' },
    ]);
    // P1's record at 14 belongs to a later (committed) transaction.
    expect(visible(ms)).toEqual(['P1@14']);
  });

  it('leaves committed and non-transactional records alone', () => {
    const ms: FetchedMessage[] = [{ offset: '0', key: null, batchContext: { producerId: '-1', inTransaction: false } }, data(1, 'P1'), commit(2, 'P1')];
    expect(hideAbortedRecords(ms, [])).toBe(0);
    expect(visible(ms)).toEqual(['-1@0', 'P1@1']);
  });
});
