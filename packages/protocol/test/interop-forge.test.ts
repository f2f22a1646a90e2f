import { describe, expect, it } from 'vitest';
import { openSeedV1, openV2, sealSeedV1, sealV2 } from '../src/index.js';
import { rsaFixture } from './fixtures.js';
import { forgeOpenJwe, forgeOpenSeed, forgeSealJwe, forgeSealSeed } from './forge-reference.js';

const receiver = rsaFixture();
// Non-ASCII and NUL bytes, and more than one AES block, to catch encoding slips.
const plaintext = Buffer.from(`{"data":{"name":"ünïcødé 𝄞 \\u0000","blob":"${'x'.repeat(100)}"}}`);

describe('interop with node-forge, an independent implementation', () => {
  it('seed format: sealed by us, opened by forge', () => {
    expect(forgeOpenSeed(sealSeedV1(plaintext, receiver.publicKey), receiver.privateKeyPem)).toEqual(plaintext);
  });

  it('seed format: sealed by forge, opened by us', () => {
    expect(openSeedV1(forgeSealSeed(plaintext, receiver.publicKeyPem), [receiver.privateKey])).toEqual(plaintext);
  });

  it('v2 JWE: sealed by us, opened by forge', async () => {
    const opened = forgeOpenJwe(await sealV2(plaintext, { key: receiver.publicKey, kid: receiver.kid }), receiver.privateKeyPem);
    expect(opened.plaintext).toEqual(plaintext);
    expect(opened.header).toMatchObject({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: receiver.kid });
  });

  it('v2 JWE: sealed by forge, opened by us', async () => {
    const jwe = forgeSealJwe(plaintext, receiver.publicKeyPem, receiver.kid);
    expect(Buffer.from(await openV2(jwe, [{ key: receiver.privateKey, kid: receiver.kid }]))).toEqual(plaintext);
  });

  it('forge notices tampering too (the reference is not vacuous)', async () => {
    const parts = (await sealV2(plaintext, { key: receiver.publicKey, kid: receiver.kid })).split('.');
    const tag = Buffer.from(parts[4]!, 'base64url');
    tag[0]! ^= 1;
    parts[4] = tag.toString('base64url');
    expect(() => forgeOpenJwe(parts.join('.'), receiver.privateKeyPem)).toThrow('tag mismatch');
  });
});
