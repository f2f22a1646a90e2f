import { describe, expect, it } from 'vitest';
import { LagProbes } from '../src/lag-probes.js';

describe('LagProbes', () => {
  it('closes a probe when the acknowledged position passes it (LSNs compared as numbers), and reports nearest-rank quantiles', () => {
    const probes = new LagProbes();
    probes.open('0/9FFFFFF', 0);
    probes.open('0/A000000', 100); // "0/A000000" > "0/9FFFFFF" numerically, not as text
    probes.open('1/0', 200);
    probes.settle('0/9FFFFFF', 50);
    expect(probes.count).toBe(1);
    probes.settle('0/A000000', 400);
    expect(probes.count).toBe(2);
    probes.settle('0/FFFFFFFF', 500); // below 1/0: stays open
    expect(probes.count).toBe(2);
    probes.settle('1/0', 1200);
    expect(probes.count).toBe(3);
    // lags 50, 300, 1000 ms
    expect(probes.quantile(0.5)).toBe(300);
    expect(probes.quantile(0.99)).toBe(1000);
    expect(new LagProbes().quantile(0.5)).toBeUndefined();
  });
});
