import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/** Short, stable id of a key: the first 8 hex digits of its SHA-256. Stored with each ciphertext. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * AES-256-GCM encryption of app-specific passwords at rest. Ciphertexts carry the id of the key that
 * made them, so keys rotate: the first key encrypts, every key listed may decrypt.
 */
export class CredentialsCipher {
  private readonly keys: Map<string, Buffer>;
  private readonly current: string;

  /** Throws when `keys` is empty or a key is not 32 bytes. */
  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new Error('at least one credentials key is required');
    for (const k of keys) if (k.length !== 32) throw new Error('credentials keys must be 32 bytes');
    this.keys = new Map(keys.map((k) => [keyId(k), k]));
    this.current = keyId(keys[0]);
  }

  /**
   * Returns `v1:<keyId>:<iv>:<tag>:<ciphertext>` (base64 parts). `context` (for example the integration id)
   * is bound as additional data, so a ciphertext copied to another row does not decrypt.
   */
  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.current)!, iv);
    cipher.setAAD(Buffer.from(context));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, this.current, iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
  }

  /** Returns the plaintext. Throws when the key is unknown or the data or context was tampered with. */
  decrypt(sealed: string, context: string): string {
    const [version, kid, iv, tag, data] = sealed.split(':');
    const key = this.keys.get(kid);
    if (version !== VERSION || !key) throw new Error(`cannot decrypt credentials sealed with key ${kid}`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
  }

  /** True when `sealed` was made with a key other than the current one (worth re-encrypting). */
  needsRotation(sealed: string): boolean {
    return sealed.split(':')[1] !== this.current;
  }
}
