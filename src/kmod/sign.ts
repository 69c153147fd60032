/**
 * Module signatures in the format `scripts/sign-file` writes (and the kernel's module_sig_check reads):
 *   module bytes | PKCS#7 DER | struct module_signature (12 bytes) | "~Module signature appended~\n"
 * The PKCS#7 is a detached SignedData over the module bytes, SHA-256, one SignerInfo identified by
 * the certificate's issuer and serial number, no signed attributes and no certificates (sign-file's
 * CMS_NOATTR | CMS_NOCERTS; the kernel refuses module signatures with authenticated attributes and
 * finds the key in its keyrings by issuer + serial). RSA keys only (PKCS#1 v1.5, as sign-file).
 */
import { createPrivateKey, sign as rsaSign, X509Certificate, type KeyObject } from 'node:crypto';
import { FILE_LIMITS, readRegularFileSync } from '../util/safe-file.js';
import { explicit, issuerAndSerial, nullValue, octetString, oid, sequence, set, smallInteger } from './der.js';
import { KmodError } from './errors.js';

export const MODULE_SIG_MAGIC = '~Module signature appended~\n';
/** struct module_signature: algo, hash, id_type, signer_len, key_id_len, __pad[3], __be32 sig_len. */
export const MODULE_SIGNATURE_SIZE = 12;
const PKEY_ID_PKCS7 = 2;

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
} as const;

export interface SigningIdentity { readonly key: KeyObject; readonly cert: X509Certificate }

export function loadSigningIdentity(keyPath: string, certPath: string): SigningIdentity {
  let key: KeyObject;
  try {
    key = createPrivateKey(readRegularFileSync(keyPath, { maxBytes: FILE_LIMITS.config }));
  } catch (e) {
    throw new KmodError('bad-signing-key', `not a private key: ${(e as Error).message}`, { file: keyPath });
  }
  if (key.asymmetricKeyType !== 'rsa') throw new KmodError('bad-signing-key', `${key.asymmetricKeyType ?? 'unknown'} key: only RSA keys are supported (as sign-file)`, { file: keyPath });
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readRegularFileSync(certPath, { maxBytes: FILE_LIMITS.config }));
  } catch (e) {
    throw new KmodError('bad-certificate', `not an X.509 certificate (PEM or DER): ${(e as Error).message}`, { file: certPath });
  }
  if (!cert.checkPrivateKey(key)) throw new KmodError('bad-certificate', `certificate does not belong to the key ${keyPath}`, { file: certPath });
  return { key, cert };
}

/** The detached PKCS#7 SignedData over `content`, as `sign-file` (OpenSSL CMS) encodes it. */
export function pkcs7Signature(content: Uint8Array, id: SigningIdentity): Buffer {
  const { issuer, serial } = issuerAndSerial(id.cert.raw);
  const signature = rsaSign('sha256', content, id.key);
  const sha256 = sequence(oid(OID.sha256));
  const signerInfo = sequence(
    smallInteger(1),
    sequence(issuer, serial),
    sha256,
    sequence(oid(OID.rsaEncryption), nullValue()),
    octetString(signature),
  );
  const signedData = sequence(smallInteger(1), set(sha256), sequence(oid(OID.data)), set(signerInfo));
  return sequence(oid(OID.signedData), explicit(0, signedData));
}

/** `module` with the signature appended (the input is not changed). */
export function signModule(module: Uint8Array, id: SigningIdentity): Uint8Array {
  const p7 = pkcs7Signature(module, id);
  const info = Buffer.alloc(MODULE_SIGNATURE_SIZE);
  info[2] = PKEY_ID_PKCS7;
  info.writeUInt32BE(p7.length, 8);
  return Buffer.concat([module, p7, info, Buffer.from(MODULE_SIG_MAGIC, 'latin1')]);
}

/** Splits a signed module into its parts (undefined when there is no signature trailer). */
export function splitSignature(file: Uint8Array): { module: Uint8Array; pkcs7: Uint8Array; idType: number } | undefined {
  const magic = Buffer.from(MODULE_SIG_MAGIC, 'latin1');
  const tail = file.length - magic.length;
  if (tail < MODULE_SIGNATURE_SIZE || !Buffer.from(file.subarray(tail)).equals(magic)) return undefined;
  const info = Buffer.from(file.subarray(tail - MODULE_SIGNATURE_SIZE, tail));
  const sigLen = info.readUInt32BE(8);
  const sigStart = tail - MODULE_SIGNATURE_SIZE - sigLen;
  if (sigStart < 0) return undefined;
  return { module: file.subarray(0, sigStart), pkcs7: file.subarray(sigStart, sigStart + sigLen), idType: info[2]! };
}
