/**
 * Module signatures: byte-identical to what OpenSSL's CMS writes with sign-file's flags
 * (`openssl cms -sign -binary -noattr -nocerts -md sha256`), verified by `openssl cms -verify`
 * against a throwaway key and certificate made here, with the trailer sign-file appends.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/btf-extra.js';
import { ElfFile } from '../../src/elf/index.js';
import { issuerAndSerial, oid, readElement } from '../../src/kmod/der.js';
import { KmodError } from '../../src/kmod/errors.js';
import { loadSigningIdentity, MODULE_SIG_MAGIC, pkcs7Signature, signModule, splitSignature } from '../../src/kmod/sign.js';
import { captureIo } from '../support/cli-io.js';
import { fixture } from '../support/paths.js';
import { loopInputs, need, tmp, tmpFile } from './support.js';

describe('kmod module signing', () => {
  let key: string, cert: string, certDer: string, ecKey: string, otherCert: string;
  before(function () {
    this.timeout(60_000);
    key = join(tmp, 'sign-key.pem');
    cert = join(tmp, 'sign-cert.pem');
    certDer = join(tmp, 'sign-cert.der');
    need(this, 'openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=btf-extra test signing key', '-batch']);
    need(this, 'openssl', ['x509', '-in', cert, '-outform', 'DER', '-out', certDer]);
    ecKey = join(tmp, 'ec-key.pem');
    need(this, 'openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', ecKey]);
    otherCert = join(tmp, 'other-cert.pem');
    need(this, 'openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tmp, 'other-key.pem'), '-out', otherCert, '-days', '1', '-subj', '/CN=other', '-batch']);
  });

  it('writes the PKCS#7 OpenSSL writes with sign-file\'s flags, byte for byte', function () {
    const content = Buffer.from('a module, or any bytes\n'.repeat(40));
    const contentPath = tmpFile('content', content);
    const theirs = join(tmp, 'openssl.p7');
    need(this, 'openssl', ['cms', '-sign', '-binary', '-noattr', '-nocerts', '-outform', 'DER', '-md', 'sha256', '-signer', cert, '-inkey', key, '-in', contentPath, '-out', theirs]);
    const ours = pkcs7Signature(content, loadSigningIdentity(key, certDer));
    assert.deepEqual(ours, readFileSync(theirs));
  });

  it('signs a companion: sign-file\'s trailer, and openssl cms -verify accepts the signature over the module bytes', async function () {
    const i = loopInputs();
    const out = join(tmp, 'signed.ko');
    const io = captureIo();
    const code = await main(['companion', 'loop', '--btf', i.vm, '--btf', i.mod, '--extras', i.extras, '--ko', fixture('kernel/debug/loop.ko'),
      '-o', out, '--sign-key', key, '--sign-cert', cert], io);
    assert.equal(code, 0, io.stderr());
    assert.match(io.stdout(), /signed by CN=btf-extra test signing key/);
    const file = readFileSync(out);
    assert.ok(file.subarray(file.length - MODULE_SIG_MAGIC.length).equals(Buffer.from(MODULE_SIG_MAGIC)));
    const parts = splitSignature(file)!;
    assert.equal(parts.idType, 2, 'PKEY_ID_PKCS7');
    const info = file.subarray(file.length - MODULE_SIG_MAGIC.length - 12, file.length - MODULE_SIG_MAGIC.length);
    assert.deepEqual([...info.subarray(0, 8)], [0, 0, 2, 0, 0, 0, 0, 0], 'algo, hash, id_type, signer_len, key_id_len, pad as sign-file');
    assert.equal(info.readUInt32BE(8), parts.pkcs7.length);
    assert.equal(ElfFile.fromBytes(parts.module).requireSection('.gnu.linkonce.this_module').size, 896, 'the module before the signature is intact');
    const modPath = tmpFile('unsigned.ko', parts.module);
    const p7Path = tmpFile('sig.p7', parts.pkcs7);
    need(this, 'openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7Path, '-content', modPath, '-certfile', cert, '-CAfile', cert, '-purpose', 'any', '-out', '/dev/null']);
    const printed = need(this, 'openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', p7Path]);
    assert.match(printed, /certificates:\s*<ABSENT>/);
    assert.match(printed, /signedAttrs:\s*<ABSENT>/);
    // kmod's modinfo reads the trailer and the PKCS#7 as the kernel does: signer, key id (serial), hash.
    const info2 = need(this, 'modinfo', [out]);
    assert.match(info2, /^sig_id:\s+PKCS#7$/m);
    assert.match(info2, /^signer:\s+btf-extra test signing key$/m);
    assert.match(info2, /^sig_hashalgo:\s+sha256$/m);
    const serial = /serial=([0-9A-F]+)/.exec(need(this, 'openssl', ['x509', '-in', cert, '-noout', '-serial']))![1]!;
    const hex = (h: string): string => h.replace(/:/g, '').toUpperCase().replace(/^0+/, '');
    assert.equal(hex(/^sig_key:\s+(\S+)$/m.exec(info2)![1]!), hex(serial), 'key id = the certificate\'s serial');
    // A changed module no longer verifies.
    const tampered = Buffer.from(parts.module);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 1, tampered.length - 1);
    const r = need.bind(null, this);
    assert.throws(() => r('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7Path, '-content', tmpFile('tampered.ko', tampered),
      '-certfile', cert, '-CAfile', cert, '-purpose', 'any', '-out', '/dev/null']), /failed/);
    assert.deepEqual(signModule(parts.module, loadSigningIdentity(key, cert)), file, 'deterministic (PKCS#1 v1.5)');
  });

  it('bad-signing-key / bad-certificate: unreadable, non-RSA, or a certificate of another key', () => {
    const code = (fn: () => unknown): string => { try { fn(); } catch (e) { assert.ok(e instanceof KmodError); return e.code; } return 'none'; };
    assert.equal(code(() => loadSigningIdentity(tmpFile('junk.pem', 'junk'), cert)), 'bad-signing-key');
    assert.equal(code(() => loadSigningIdentity(ecKey, cert)), 'bad-signing-key');
    assert.equal(code(() => loadSigningIdentity(key, tmpFile('junk.crt', 'junk'))), 'bad-certificate');
    assert.equal(code(() => loadSigningIdentity(key, otherCert)), 'bad-certificate');
  });

  it('DER helpers: OIDs, long lengths, issuer and serial of a certificate; truncated input is refused', () => {
    assert.deepEqual([...oid('1.2.840.113549.1.7.2')], [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]);
    const der = readFileSync(certDer);
    const { issuer, serial } = issuerAndSerial(der);
    assert.equal(readElement(issuer, 0).tag, 0x30);
    assert.equal(readElement(serial, 0).tag, 0x02);
    assert.throws(() => issuerAndSerial(der.subarray(0, 100)), /runs past the end/);
    assert.throws(() => issuerAndSerial(Buffer.from([0x30, 0x00])), /not an X.509/);
  });
});
