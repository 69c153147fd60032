/**
 * Just enough DER for module signatures: a writer for the PKCS#7 SignedData that `sign-file`
 * produces, and a reader that finds a certificate's issuer and serial number (the signer's id).
 */

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));
export const octetString = (b: Uint8Array): Buffer => tlv(0x04, b);
export const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
/** [n] EXPLICIT. */
export const explicit = (n: number, inner: Uint8Array): Buffer => tlv(0xa0 | n, inner);

export function smallInteger(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 127) throw new RangeError(`smallInteger: ${n}`);
  return tlv(0x02, Buffer.from([n]));
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const groups: number[] = [];
    for (let v = p; ; v = Math.floor(v / 128)) { groups.unshift(v & 0x7f); if (v < 128) break; }
    for (let i = 0; i < groups.length - 1; i++) groups[i]! |= 0x80;
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

/** One element: its tag, where its content starts and ends, and where the whole element ends. */
export interface DerElement { readonly tag: number; readonly start: number; readonly contentStart: number; readonly end: number }

/** The element at `at` of `buf`, bounds-checked (throws a RangeError naming the offset). */
export function readElement(buf: Uint8Array, at: number): DerElement {
  if (at + 2 > buf.length) throw new RangeError(`DER: element at ${at} runs past the end (${buf.length} bytes)`);
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) throw new RangeError(`DER: bad length at ${at + 1}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw new RangeError(`DER: element at ${at} (${len} bytes) runs past the end (${buf.length} bytes)`);
  return { tag, start: at, contentStart: p, end: p + len };
}

/** The children of a constructed element. */
export function children(buf: Uint8Array, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let at = parent.contentStart; at < parent.end;) {
    const e = readElement(buf, at);
    if (e.end > parent.end) throw new RangeError(`DER: element at ${at} runs past its parent`);
    out.push(e);
    at = e.end;
  }
  return out;
}

/** The raw DER of an X.509 certificate's issuer Name and serialNumber INTEGER (for IssuerAndSerialNumber). */
export function issuerAndSerial(certDer: Uint8Array): { issuer: Uint8Array; serial: Uint8Array } {
  const cert = readElement(certDer, 0);
  const tbs = children(certDer, cert)[0];
  if (cert.tag !== 0x30 || tbs === undefined || tbs.tag !== 0x30) throw new RangeError('DER: not an X.509 certificate');
  const fields = children(certDer, tbs);
  const i = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version is optional
  const serial = fields[i];
  const issuer = fields[i + 2];
  if (serial?.tag !== 0x02 || issuer?.tag !== 0x30) throw new RangeError('DER: certificate has no serialNumber/issuer where expected');
  return { issuer: certDer.subarray(issuer.start, issuer.end), serial: certDer.subarray(serial.start, serial.end) };
}
