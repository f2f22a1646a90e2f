import { describe, expect, it } from 'vitest';
import { peerOf, ReceiveBudget } from '../src/http/receive-budget.js';

describe('ReceiveBudget', () => {
  it('holds bytes as they arrive, one peer at most its share, and gives them back once', () => {
    const budget = new ReceiveBudget(100, ReceiveBudget.peerShare(100, 40));
    expect(budget.peerLimitBytes).toBe(50);
    const a = budget.open('a', 1_000) ?? 'refused';
    expect(a).toBe('refused');
    const first = budget.open('a', 30)!;
    expect(budget.inUse).toBe(0);
    expect(first.grow(30)).toBe(true);
    const second = budget.open('a', 10)!;
    expect(second.grow(20)).toBe(true);
    // Peer a holds 50 (its share): one byte more does not fit, for a new request either.
    expect(second.grow(1)).toBe(false);
    expect(budget.open('a', 1)).toBeUndefined();
    const other = budget.open('b', 50)!;
    expect(other.grow(50)).toBe(true);
    expect(budget.open('c', 1)).toBeUndefined();
    first.release();
    first.release();
    expect(budget.inUse).toBe(70);
    expect(budget.heldBy('a')).toBe(20);
    // Released (authenticated): grows no more, counts nothing.
    expect(first.grow(1_000)).toBe(true);
    expect(budget.inUse).toBe(70);
  });

  it('gives one peer at least the body limit and at most the budget', () => {
    expect(ReceiveBudget.peerShare(128, 64)).toBe(64);
    expect(ReceiveBudget.peerShare(100, 80)).toBe(80);
    expect(ReceiveBudget.peerShare(64, 64)).toBe(64);
  });
});

describe('peerOf', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:DB8:0001::', '2001:db8:1:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('%s is peer %s', (address, peer) => {
    expect(peerOf(address)).toBe(peer);
  });
});
