/** A page query value: encoded on the mini-program, already decoded on H5. */
export function queryValue(raw: unknown): string {
  const value = raw === undefined || raw === null ? '' : String(raw);
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
