import { randomBytes } from 'node:crypto';
import { CredentialsCipher } from '../src/auth/credentials.cipher';

describe('the credentials cipher (AES-256-GCM with key ids)', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);

  it('decrypts what it encrypted, and the ciphertext does not contain the password', () => {
    const cipher = new CredentialsCipher([newKey]);
    const sealed = cipher.encrypt('abcd-efgh-ijkl-mnop', 'integration-1');
    expect(sealed).not.toContain('abcd');
    expect(sealed).toMatch(/^v1:[0-9a-f]{8}:/);
    expect(cipher.decrypt(sealed, 'integration-1')).toBe('abcd-efgh-ijkl-mnop');
  });

  it('uses a fresh IV each time, so equal passwords give different ciphertexts', () => {
    const cipher = new CredentialsCipher([newKey]);
    expect(cipher.encrypt('abcd-efgh-ijkl-mnop', 'x')).not.toBe(cipher.encrypt('abcd-efgh-ijkl-mnop', 'x'));
  });

  it('refuses a ciphertext moved to another integration or tampered with', () => {
    const cipher = new CredentialsCipher([newKey]);
    const sealed = cipher.encrypt('abcd-efgh-ijkl-mnop', 'integration-1');
    expect(() => cipher.decrypt(sealed, 'integration-2')).toThrow();
    const parts = sealed.split(':');
    const data = Buffer.from(parts[4], 'base64');
    data[0] ^= 0x01;
    parts[4] = data.toString('base64');
    expect(() => cipher.decrypt(parts.join(':'), 'integration-1')).toThrow();
  });

  it('rotates keys: old ciphertexts still decrypt with the old key listed after the new one', () => {
    const sealedWithOld = new CredentialsCipher([oldKey]).encrypt('abcd-efgh-ijkl-mnop', 'i');
    const rotated = new CredentialsCipher([newKey, oldKey]);
    expect(rotated.decrypt(sealedWithOld, 'i')).toBe('abcd-efgh-ijkl-mnop');
    expect(rotated.needsRotation(sealedWithOld)).toBe(true);
    expect(rotated.needsRotation(rotated.encrypt('abcd-efgh-ijkl-mnop', 'i'))).toBe(false);
    expect(() => new CredentialsCipher([newKey]).decrypt(sealedWithOld, 'i')).toThrow(/key/);
  });
});
