import { generate } from 'selfsigned';

/** A throwaway certificate for localhost and 127.0.0.1, named `label`, as a renewal would bring. */
export async function makeCertificate(label: string): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: label }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
